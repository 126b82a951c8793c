//! The rendered files of every stage in the repo: golden files, determinism, and the claims
//! the templates make (encryption, boundaries, sign-in, architecture).

use super::*;
use crate::companions::render;

fn rendered(name: &str) -> Rendered {
    let infra = crate::paths::infra();
    let stage = Stage::load(&infra, name).unwrap();
    render(&infra, &stage).unwrap()
}

fn file<'a>(r: &'a Rendered, name: &str) -> &'a str {
    &r.files.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no {name}")).1
}

/// Golden files: `UPDATE_EXPECT=1 cargo test -p xtask golden` rewrites them; review the diff.
#[test]
fn golden_dev_and_prod() {
    let dev = rendered("dev");
    expect_test::expect_file!["../../tests/golden/dev/template.yaml"].assert_eq(file(&dev, "template.yaml"));
    expect_test::expect_file!["../../tests/golden/dev/parameters.json"].assert_eq(file(&dev, "parameters.json"));
    expect_test::expect_file!["../../tests/golden/dev/pipeline.yaml"].assert_eq(file(&dev, "pipeline.yaml"));
    expect_test::expect_file!["../../tests/golden/dev/pipeline-parameters.json"]
        .assert_eq(file(&dev, "pipeline-parameters.json"));
    expect_test::expect_file!["../../tests/golden/dev/bootstrap.yaml"].assert_eq(file(&dev, "bootstrap.yaml"));
    let prod = rendered("prod");
    expect_test::expect_file!["../../tests/golden/prod/parameters.json"].assert_eq(file(&prod, "parameters.json"));
    expect_test::expect_file!["../../tests/golden/prod/certificate.yaml"].assert_eq(file(&prod, "certificate.yaml"));
    expect_test::expect_file!["../../tests/golden/prod/stack-policy.json"].assert_eq(file(&prod, STACK_POLICY));
    expect_test::expect_file!["../../tests/golden/prod/waf.yaml"].assert_eq(file(&prod, "waf.yaml"));
    expect_test::expect_file!["../../tests/golden/prod/waf-parameters.json"].assert_eq(file(&prod, "waf-parameters.json"));
}

/// prod limits each client IP at the edge: its WAF stack (us-east-1) holds a rate-based rule keyed
/// on the IP at the stage's limit, deploy applies it before the main stack and hands its web ACL to
/// the distribution; a stage without `waf` has neither, and an emulator stage may not ask for one.
#[test]
fn prod_limits_each_client_ip_at_the_edge() {
    let prod = rendered("prod");
    let stacks: Vec<&str> = prod.us_east_1.iter().map(|c| c.stack.as_str()).collect();
    assert_eq!(stacks, ["thumbstack-prod-certificate", "thumbstack-prod-waf"]);
    let stage = crate::stage::Stage::load(&crate::paths::infra(), "prod").unwrap();
    let torn_down: Vec<String> = crate::template::us_east_1(&stage).into_iter().map(|c| c.stack).collect();
    assert_eq!(torn_down, stacks, "teardown deletes what deploy applies");
    let waf: Value = serde_norway::from_str(file(&prod, "waf.yaml")).unwrap();
    let acl = &waf["Resources"]["WebAcl"]["Properties"];
    assert_eq!(acl["Scope"], "CLOUDFRONT");
    let rule = &acl["Rules"][0];
    assert_eq!(rule["Statement"]["RateBasedStatement"]["AggregateKeyType"], "IP");
    assert_eq!(rule["Action"]["Block"]["CustomResponse"]["ResponseCode"], 429);
    let params: serde_json::Value = serde_json::from_str(file(&prod, "waf-parameters.json")).unwrap();
    assert_eq!(params["Parameters"]["RequestsPerIp"], "2000");
    let companion = prod.us_east_1.iter().find(|c| c.file == "waf.yaml").unwrap();
    assert_eq!(companion.output, "WebAclArn");
    assert!(waf["Outputs"].get(companion.output).is_some());
    let t: Value = serde_norway::from_str(file(&prod, "template.yaml")).unwrap();
    assert!(t["Parameters"].get(companion.output).is_some(), "the main stack takes the output");
    let acl_id =
        serde_norway::to_string(&t["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["WebACLId"]).unwrap();
    assert!(acl_id.contains("HasWebAcl") && acl_id.contains("WebAclArn"), "{acl_id}");

    let dev = rendered("dev");
    assert!(dev.us_east_1.is_empty() && dev.file("waf.yaml").is_none());
    let infra = crate::paths::infra();
    let text = std::fs::read_to_string(infra.join("stages/local.yaml")).unwrap();
    let asked = text.replacen("\nlimits:", "\nwaf:\n  requests_per_ip_per_5_minutes: 100\nlimits:", 1);
    let e = crate::stage::Stage::parse(&infra.join("stages/local.yaml"), &asked).unwrap().check().unwrap_err();
    assert!(e.contains("`waf` is for AWS stages"), "{e}");
}

/// Every function publishes versions and is called only through its `live` alias, which CodeDeploy
/// moves at the stage's pace and rolls back on the group's alarms; nothing invokes `$LATEST`.
#[test]
fn every_caller_invokes_the_live_alias_that_codedeploy_moves() {
    let prod = rendered("prod");
    let t: Value = serde_norway::from_str(file(&prod, "template.yaml")).unwrap();
    let r = t["Resources"].as_mapping().unwrap();
    let of_type = |ty: &'static str| r.iter().filter(move |(_, v)| v["Type"] == ty).map(|(k, v)| (k.as_str().unwrap(), v));
    let tagged = |v: &Value| match v {
        Value::Tagged(t) => {
            (t.tag.to_string().trim_start_matches('!').to_string(), t.value.as_str().unwrap_or_default().to_string())
        }
        other => panic!("not an intrinsic: {other:?}"),
    };
    // Every function but the hook, which CodeDeploy runs and nothing releases.
    let functions: Vec<&str> = of_type("AWS::Lambda::Function").map(|(id, _)| id).filter(|id| *id != "HookFunction").collect();
    assert_eq!(functions, ["ThumbnailFunction", "AvatarFunction", "ApiFunction"]);
    let hook_env = &r["HookFunction"]["Properties"]["Environment"]["Variables"];
    for function in &functions {
        let name = function.strip_suffix("Function").unwrap();
        let version = &r[format!("{name}Version").as_str()];
        assert_eq!(version["DeletionPolicy"], Value::from("Retain"), "{name}: a rollback needs the old version");
        assert_eq!(tagged(&version["Properties"]["FunctionName"]), ("Ref".into(), function.to_string()));
        assert_eq!(tagged(&version["Properties"]["CodeSha256"]), ("Ref".into(), format!("{name}CodeSha256")));
        let described = version["Properties"]["Description"].as_str().unwrap();
        assert!(described.starts_with("configuration ") && described.len() == "configuration ".len() + 16, "{described}");
        let alias = &r[format!("{name}Live").as_str()];
        assert_eq!(alias["Properties"]["Name"], Value::from(crate::template::LIVE_ALIAS));
        assert_eq!(tagged(&alias["Properties"]["FunctionVersion"]), ("GetAtt".into(), format!("{name}Version.Version")));
        let update = &alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"];
        assert_eq!(tagged(&update["DeploymentGroupName"]), ("Ref".into(), format!("{name}Releases")));
        // The hook asks the version being rolled out; the Ref makes it known before the alias moves.
        assert_eq!(tagged(&update["BeforeAllowTrafficHook"]), ("Ref".into(), "HookFunction".into()));
        let release = &hook_env[format!("{}_RELEASE", name.to_ascii_uppercase()).as_str()];
        assert_eq!(tagged(release), ("Sub".into(), format!("${{{name}Releases}}|${{{name}Version}}")));
        let group = &r[format!("{name}Releases").as_str()]["Properties"];
        assert_eq!(tagged(&group["DeploymentConfigName"]), ("Ref".into(), "Rollout".into()));
        assert_eq!(
            group["AutoRollbackConfiguration"]["Events"],
            serde_norway::from_str::<Value>("[DEPLOYMENT_FAILURE, DEPLOYMENT_STOP_ON_ALARM]").unwrap()
        );
        let alarms: Vec<String> =
            group["AlarmConfiguration"]["Alarms"].as_sequence().unwrap().iter().map(|a| tagged(&a["Name"]).1).collect();
        // Only the new version's doings: a standing alarm would stop every deploy, the fix's too.
        let mut wanted = vec![format!("{name}NewVersionErrorsAlarm")];
        if name != "Api" {
            wanted.extend([format!("{name}DeadLettersGrowingAlarm"), format!("{name}NewVersionRejectionsAlarm")]);
        }
        assert_eq!(alarms, wanted, "{name}");
        let errors = &r[format!("{name}NewVersionErrorsAlarm").as_str()]["Properties"]["Dimensions"];
        let executed =
            errors.as_sequence().unwrap().iter().find(|d| d["Name"] == "ExecutedVersion").expect("the version's own errors");
        assert_eq!(tagged(&executed["Value"]), ("GetAtt".into(), format!("{name}Version.Version")));
    }
    // Every caller names an alias, never the function (which is `$LATEST`).
    let aliases: Vec<String> = of_type("AWS::Lambda::Alias").map(|(id, _)| id.to_string()).collect();
    for (id, mapping) in of_type("AWS::Lambda::EventSourceMapping") {
        let (_, target) = tagged(&mapping["Properties"]["FunctionName"]);
        assert!(aliases.contains(&target), "{id} invokes {target}");
    }
    for (id, permission) in of_type("AWS::Lambda::Permission") {
        let (_, target) = tagged(&permission["Properties"]["FunctionName"]);
        assert!(aliases.contains(&target), "{id} allows {target}");
    }
    for (id, integration) in of_type("AWS::ApiGatewayV2::Integration") {
        assert_eq!(tagged(&integration["Properties"]["IntegrationUri"]), ("Ref".into(), "ApiLive".into()), "{id}");
    }
    assert_eq!(prod.parameters["Rollout"], "CodeDeployDefault.LambdaCanary10Percent5Minutes", "prod defaults to a canary");
    assert_eq!(rendered("dev").parameters["Rollout"], "CodeDeployDefault.LambdaAllAtOnce");
    assert_eq!(prod.parameters["Tracing"], "Active");
}

/// A changed setting of one function (its memory) publishes a new version of it alone; a setting
/// no function reads publishes none.
#[test]
fn a_version_is_published_when_its_functions_configuration_changes() {
    let description = |stage: &Stage, id: &str| {
        let rendered = crate::template::render_stack(&crate::paths::infra(), stage).unwrap();
        let t: Value = serde_norway::from_str(file(&rendered, "template.yaml")).unwrap();
        t["Resources"][id]["Properties"]["Description"].as_str().unwrap().to_string()
    };
    let infra = crate::paths::infra();
    let dev = Stage::load(&infra, "dev").unwrap();
    let text = std::fs::read_to_string(infra.join("stages/dev.yaml")).unwrap();
    let more_memory = Stage::parse(Path::new("dev.yaml"), &text.replacen("memory_mb: 1024", "memory_mb: 2048", 1)).unwrap();
    assert_ne!(description(&dev, "ThumbnailVersion"), description(&more_memory, "ThumbnailVersion"));
    assert_eq!(description(&dev, "AvatarVersion"), description(&more_memory, "AvatarVersion"));
    let alarm = Stage::parse(Path::new("dev.yaml"), &text.replacen("dlq_messages: 1", "dlq_messages: 2", 1)).unwrap();
    for id in ["ThumbnailVersion", "AvatarVersion", "ApiVersion"] {
        assert_eq!(description(&dev, id), description(&alarm, id), "{id}");
    }
}

#[test]
fn rendering_is_deterministic() {
    let (a, b) = (rendered("prod"), rendered("prod"));
    assert_eq!(a.files, b.files);
}

#[test]
fn stage_values_reach_the_template() {
    let dev = rendered("dev");
    let t: Value = serde_norway::from_str(file(&dev, "template.yaml")).unwrap();
    let r = &t["Resources"];
    assert_eq!(r["CatalogTable"]["DeletionPolicy"], Value::from("Delete"));
    assert_eq!(r["AlarmEmail1"]["Properties"]["Endpoint"], Value::from("thumbstack-dev-alarms@example.com"));
    assert!(r.get("AlarmEmail2").is_none());
    let prod = rendered("prod");
    let t: Value = serde_norway::from_str(file(&prod, "template.yaml")).unwrap();
    for id in ["UploadsBucket", "AssetsBucket", "LogBucket", "CatalogTable", "ThumbnailLogGroup", "DataKey"] {
        assert_eq!(t["Resources"][id]["DeletionPolicy"], Value::from("Retain"), "{id}");
        assert_eq!(t["Resources"][id]["UpdateReplacePolicy"], Value::from("Retain"), "{id}");
    }
    assert!(t["Resources"]["ThumbnailQueue"].get("DeletionPolicy").is_none());
    assert!(t["Resources"]["AlarmEmail2"].is_mapping());
    let params: serde_json::Value = serde_json::from_str(file(&prod, "parameters.json")).unwrap();
    assert_eq!(params["Parameters"]["ThumbnailVisibilityTimeout"], "180");
    assert_eq!(params["Parameters"]["DomainName"], "example.com");
    assert_eq!(params["Tags"]["thumbstack:stage"], "prod");
}

/// The stage's `functions.architecture` is what every function runs on; unset, x86_64.
#[test]
fn every_function_runs_on_the_stages_architecture() {
    let infra = crate::paths::infra();
    let mut stage = Stage::load(&infra, "dev").unwrap();
    for (arch, name) in [(crate::stage::Architecture::X86_64, "x86_64"), (crate::stage::Architecture::Arm64, "arm64")] {
        stage.functions.architecture = arch;
        let r = render(&infra, &stage).unwrap();
        let params: serde_json::Value = serde_json::from_str(file(&r, "parameters.json")).unwrap();
        assert_eq!(params["Parameters"]["Architecture"], name);
        let t: Value = serde_norway::from_str(file(&r, "template.yaml")).unwrap();
        let allowed = t["Parameters"]["Architecture"]["AllowedValues"].as_sequence().unwrap();
        assert!(allowed.contains(&Value::from(name)), "{allowed:?}");
        for function in ["ThumbnailFunction", "AvatarFunction", "ApiFunction"] {
            let set = serde_norway::to_string(&t["Resources"][function]["Properties"]["Architectures"]).unwrap();
            assert_eq!(set.trim(), "- !Ref Architecture", "{function}");
        }
    }
    let yaml = std::fs::read_to_string(infra.join("stages/local.yaml")).unwrap();
    assert!(!yaml.contains("architecture"), "local leaves it unset");
    assert_eq!(Stage::load(&infra, "local").unwrap().functions.architecture, crate::stage::Architecture::X86_64);
}

#[test]
fn intrinsic_tags_survive() {
    let dev = rendered("dev");
    let t = file(&dev, "template.yaml");
    assert!(t.contains("!Ref AlarmTopic") && t.contains("!GetAtt ThumbnailQueue.Arn") && t.contains("!Sub "), "{t}");
    assert!(!t.contains("Fn::"), "long-form intrinsics crept in");
}

/// CloudFront keys `avatars/*` on the version the api puts in the avatar's URL, so a new avatar
/// is never served stale from the edge (the managed CachingOptimized policy dropped the query).
#[test]
fn the_avatar_cache_key_holds_the_version_the_api_puts_in_its_url() {
    let dev = rendered("dev");
    let t: Value = serde_norway::from_str(file(&dev, "template.yaml")).unwrap();
    let r = &t["Resources"];
    let behaviors = r["Distribution"]["Properties"]["DistributionConfig"]["CacheBehaviors"].as_sequence().unwrap();
    let avatars = behaviors.iter().find(|b| b["PathPattern"] == "avatars/*").unwrap();
    let policy = serde_norway::to_string(&avatars["CachePolicyId"]).unwrap();
    assert_eq!(policy.trim(), "!Ref AvatarCache");
    let key = &r["AvatarCache"]["Properties"]["CachePolicyConfig"]["ParametersInCacheKeyAndForwardedToOrigin"];
    assert_eq!(key["QueryStringsConfig"]["QueryStringBehavior"], Value::from("whitelist"));
    assert_eq!(key["QueryStringsConfig"]["QueryStrings"], Value::from(vec![shared::key::AVATAR_VERSION_PARAM]));
    // Old avatar uploads (inputs only) expire; the replaced picture's versions with the rest.
    let rules = r["UploadsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"].as_sequence().unwrap();
    let avatars = rules.iter().find(|r| r["Id"] == "avatar-uploads").expect("an avatar-uploads rule");
    assert_eq!((&avatars["Prefix"], &avatars["ExpirationInDays"]), (&Value::from("avatars/"), &Value::from(7)));
}

/// Each AWS stage signs its users in with a pool of its own, and API Gateway's authorizer
/// takes issuer and audience from it: e-mail sign-up, the code grant with PKCE only, a public
/// client whose only callback is the site; an external issuer replaces the pool.
#[test]
fn aws_stages_sign_in_through_their_own_user_pool() {
    for stage in ["dev", "prod"] {
        let out = rendered(stage);
        let t: Value = serde_norway::from_str(file(&out, "template.yaml")).unwrap();
        let r = &t["Resources"];
        let yaml = |v: &Value| serde_norway::to_string(v).unwrap();
        for (id, kind) in [
            ("UserPool", "AWS::Cognito::UserPool"),
            ("UserPoolClient", "AWS::Cognito::UserPoolClient"),
            ("UserPoolDomain", "AWS::Cognito::UserPoolDomain"),
        ] {
            assert_eq!(r[id]["Type"], Value::from(kind), "{stage} {id}");
            assert_eq!(r[id]["Condition"], Value::from("OwnUserPool"), "{stage} {id}");
        }
        let pool = &r["UserPool"]["Properties"];
        assert_eq!(pool["UsernameAttributes"], Value::from(vec!["email"]));
        assert_eq!(pool["AutoVerifiedAttributes"], Value::from(vec!["email"]));
        assert_eq!(pool["MfaConfiguration"], Value::from("OPTIONAL"));
        assert_eq!(pool["EnabledMfas"], Value::from(vec!["SOFTWARE_TOKEN_MFA"]));
        assert_eq!(pool["Policies"]["PasswordPolicy"]["MinimumLength"], Value::from(12));
        assert_eq!(pool["AccountRecoverySetting"]["RecoveryMechanisms"][0]["Name"], Value::from("verified_email"));
        let client = &r["UserPoolClient"]["Properties"];
        assert_eq!(client["GenerateSecret"], Value::from(false));
        assert_eq!(client["AllowedOAuthFlows"], Value::from(vec!["code"]), "{stage}: no implicit flow");
        assert_eq!(
            client["ExplicitAuthFlows"],
            Value::from(vec!["ALLOW_REFRESH_TOKEN_AUTH"]),
            "{stage}: no password through our code"
        );
        assert!(yaml(&client["CallbackURLs"]).contains("Distribution.DomainName"), "{stage}");
        let lifetimes =
            (&client["AccessTokenValidity"], &client["RefreshTokenValidity"], &client["TokenValidityUnits"]["RefreshToken"]);
        assert_eq!(lifetimes, (&Value::from(15), &Value::from(12), &Value::from("hours")), "{stage}");
        let jwt = yaml(&r["ApiAuthorizer"]["Properties"]["JwtConfiguration"]);
        assert!(jwt.contains("UserPool.ProviderURL") && jwt.contains("!Ref UserPoolClient"), "{stage}: {jwt}");
        let params: serde_json::Value = serde_json::from_str(file(&out, "parameters.json")).unwrap();
        assert!(params["Parameters"].get("JwtIssuer").is_none(), "{stage}: the own pool is the default");
        let csp = yaml(&r["SecurityHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]);
        assert!(csp.contains(".auth.${AWS::Region}.amazoncognito.com"), "{stage}: the site may reach the token endpoint");
        assert!(t["Outputs"]["SignInUrl"].is_mapping() && t["Outputs"]["UserPoolClientId"].is_mapping(), "{stage}");
    }
    let text = std::fs::read_to_string(crate::paths::infra().join("stages/dev.yaml")).unwrap();
    let external = text.replace("queues:", "  jwt:\n    issuer: https://login.example.com/\n    audience: [site]\nqueues:");
    let stage = Stage::parse(Path::new("dev.yaml"), &external).unwrap();
    let out = render_stack(&crate::paths::infra(), &stage).unwrap();
    let params: serde_json::Value = serde_json::from_str(file(&out, "parameters.json")).unwrap();
    assert_eq!(params["Parameters"]["JwtIssuer"], "https://login.example.com/", "an external issuer leaves OwnUserPool false");
}

/// SECURITY.md's encryption claims, read from the rendered template.
#[test]
fn the_security_claims_about_encryption_hold() {
    let dev = rendered("dev");
    let t: Value = serde_norway::from_str(file(&dev, "template.yaml")).unwrap();
    let r = &t["Resources"];
    let data_key = |v: &Value| serde_norway::to_string(v).unwrap().contains("DataKey");
    assert!(data_key(&r["CatalogTable"]["Properties"]["SSESpecification"]["KMSMasterKeyId"]));
    assert!(data_key(&r["AlarmTopic"]["Properties"]["KmsMasterKeyId"]));
    for (id, body) in r.as_mapping().unwrap() {
        match body["Type"].as_str() {
            Some("AWS::Logs::LogGroup") => assert!(data_key(&body["Properties"]["KmsKeyId"]), "{id:?}"),
            Some("AWS::SQS::Queue") => assert_eq!(body["Properties"]["SqsManagedSseEnabled"], Value::from(true), "{id:?}"),
            _ => {}
        }
    }
}

/// The catalog table the template makes is the one `shared::table` lays out (the functions, testkit
/// and the bench build keys and tables from it): attributes, key, indexes, expiry, and every
/// `dynamodb:LeadingKeys` grant is one item kind's prefix.
#[test]
fn the_catalog_table_is_the_shared_layout() {
    use shared::table::{self, Kind, Scalar};
    let dev = rendered("dev");
    let t: Value = serde_norway::from_str(file(&dev, "template.yaml")).unwrap();
    let p = &t["Resources"]["CatalogTable"]["Properties"];
    let pairs = |list: &Value, a: &str, b: &str| -> Vec<(String, String)> {
        list.as_sequence()
            .unwrap()
            .iter()
            .map(|e| (e[a].as_str().unwrap().to_string(), e[b].as_str().unwrap().to_string()))
            .collect()
    };
    let attributes: Vec<(String, String)> = table::ATTRIBUTES
        .iter()
        .map(|(name, scalar)| (name.to_string(), if *scalar == Scalar::N { "N" } else { "S" }.to_string()))
        .collect();
    assert_eq!(pairs(&p["AttributeDefinitions"], "AttributeName", "AttributeType"), attributes);
    assert_eq!(pairs(&p["KeySchema"], "AttributeName", "KeyType"), [(table::PK.to_string(), "HASH".to_string())]);
    type IndexShape = (String, Vec<(String, String)>, String);
    let indexes: Vec<IndexShape> = p["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|i| {
            let name = i["IndexName"].as_str().unwrap().to_string();
            (name, pairs(&i["KeySchema"], "AttributeName", "KeyType"), i["Projection"]["ProjectionType"].as_str().unwrap().into())
        })
        .collect();
    let expected: Vec<IndexShape> = table::INDEXES
        .iter()
        .map(|i| {
            let keys = vec![(i.partition.to_string(), "HASH".to_string()), (i.sort.to_string(), "RANGE".to_string())];
            (i.name.to_string(), keys, "ALL".to_string())
        })
        .collect();
    assert_eq!(indexes, expected);
    assert_eq!(p["TimeToLiveSpecification"]["AttributeName"].as_str(), Some(table::EXPIRES_AT));
    fn leading_keys(v: &Value, out: &mut std::collections::BTreeSet<String>) {
        match v {
            Value::Mapping(m) => {
                for (k, v) in m {
                    if k.as_str() == Some("dynamodb:LeadingKeys") {
                        out.extend(v.as_sequence().unwrap().iter().map(|p| p.as_str().unwrap().to_string()));
                    } else {
                        leading_keys(v, out);
                    }
                }
            }
            Value::Sequence(items) => items.iter().for_each(|v| leading_keys(v, out)),
            Value::Tagged(t) => leading_keys(&t.value, out),
            _ => {}
        }
    }
    let mut granted = std::collections::BTreeSet::new();
    leading_keys(&t, &mut granted);
    let prefixes: std::collections::BTreeSet<String> = Kind::ALL.iter().map(|k| format!("{}*", k.prefix())).collect();
    assert_eq!(granted, prefixes, "LeadingKeys");
}

/// Every role carries the stage's boundary, the bootstrap's execution role excepted (it
/// enforces the boundary); the stack's roles live under its role path.
#[test]
fn every_role_carries_the_boundary() {
    let infra = crate::paths::infra();
    for name in ["dev", "prod", "local"] {
        let stage = Stage::load(&infra, name).unwrap();
        let rendered = render(&infra, &stage).unwrap();
        for (file, text) in rendered.files.iter().filter(|(f, _)| f.ends_with(".yaml")) {
            let template: Value = serde_norway::from_str(text).unwrap();
            for (id, r) in template["Resources"].as_mapping().unwrap() {
                if r["Type"].as_str() != Some("AWS::IAM::Role") {
                    continue;
                }
                let id = id.as_str().unwrap();
                let boundary = r["Properties"].get("PermissionsBoundary");
                if (*file, id) == ("bootstrap.yaml", "ExecutionRole") {
                    // The one exemption, with its reason in the template: it enforces the boundary.
                    assert!(boundary.is_none());
                    let source = std::fs::read_to_string(infra.join("bootstrap.yaml")).unwrap();
                    assert!(source.contains("The one role here without a permissions boundary"));
                    continue;
                }
                assert!(boundary.is_some(), "{name} {file}: {id} has no PermissionsBoundary");
                if *file == "template.yaml" {
                    assert_eq!(
                        serde_norway::to_string(&r["Properties"]["Path"]).unwrap().trim(),
                        r#"!Sub /${AWS::StackName}/"#,
                        "{id}"
                    );
                }
            }
        }
    }
}

#[test]
fn a_parameter_typo_is_caught() {
    let template: Value = serde_norway::from_str("Parameters:\n  Stage: {Type: String}\n").unwrap();
    let values = BTreeMap::from([("Stag", "dev".to_string())]);
    let e = check_parameters(&template, &values).unwrap_err().to_string();
    assert!(e.contains("Stag,"), "{e}");
    let e = check_parameters(&template, &BTreeMap::new()).unwrap_err().to_string();
    assert!(e.contains("parameter Stage, which neither"), "{e}");
}

/// API Gateway's JWT authorizer passes any token whose `aud` or `client_id` is the site's client,
/// and the pool's ID tokens have that `aud`; Cognito puts a `scope` claim only in access tokens. So
/// every signed-in route asks for a scope the client grants and the site requests (`openid`), and
/// an ID token is refused on AWS as the local server refuses it.
#[test]
fn every_signed_in_route_takes_access_tokens_only() {
    let site = std::fs::read_to_string(crate::paths::root().join("site/auth.js")).unwrap();
    assert!(site.contains(r#"scope: "openid"#), "the site no longer asks for openid");
    for stage in ["dev", "prod"] {
        let out = rendered(stage);
        let t: Value = serde_norway::from_str(file(&out, "template.yaml")).unwrap();
        let granted = &t["Resources"]["UserPoolClient"]["Properties"]["AllowedOAuthScopes"];
        assert!(granted.as_sequence().unwrap().contains(&Value::from("openid")), "{stage}");
        let mut routes = 0;
        for (id, r) in t["Resources"].as_mapping().unwrap() {
            if r["Type"] != "AWS::ApiGatewayV2::Route" || r["Properties"]["AuthorizationType"] != "JWT" {
                continue;
            }
            let scopes = serde_norway::to_string(&r["Properties"]["AuthorizationScopes"]).unwrap();
            assert!(scopes.contains("OwnUserPool") && scopes.contains("- openid"), "{stage} {id:?}: {scopes}");
            routes += 1;
        }
        assert!(routes >= 6, "{stage}: {routes} signed-in routes");
        let log = t["Resources"]["HttpApiStage"]["Properties"]["AccessLogSettings"]["Format"].as_str().unwrap();
        assert!(log.contains("$context.identity.sourceIp") && log.contains("$context.authorizer.claims.sub"), "{log}");
    }
}

/// prod's pool sends its codes from SES, not Cognito's default sender (about 50 e-mails a day, which
/// a script signing up fake addresses can use up); `api.invite_only` closes sign-up.
#[test]
fn prod_sends_the_pools_email_through_ses_and_sign_up_can_be_closed() {
    let prod = rendered("prod");
    let params: serde_json::Value = serde_json::from_str(file(&prod, "parameters.json")).unwrap();
    let p = &params["Parameters"];
    assert_eq!(p["EmailSenderIdentity"], "arn:aws:ses:eu-west-1:123456789012:identity/example.com");
    assert_eq!((p["EmailSenderAddress"].as_str(), p["InviteOnly"].as_str()), (Some("no-reply@example.com"), Some("false")));
    let t: Value = serde_norway::from_str(file(&prod, "template.yaml")).unwrap();
    let pool = serde_norway::to_string(&t["Resources"]["UserPool"]["Properties"]).unwrap();
    for needed in [
        "HasEmailSender",
        "EmailSendingAccount: DEVELOPER",
        "SourceArn: !Ref EmailSenderIdentity",
        "AllowAdminCreateUserOnly: !Ref InviteOnly",
    ] {
        assert!(pool.contains(needed), "{needed}: {pool}");
    }
    let dev = rendered("dev");
    let params: serde_json::Value = serde_json::from_str(file(&dev, "parameters.json")).unwrap();
    assert!(params["Parameters"].get("EmailSenderIdentity").is_none() && params["Parameters"]["InviteOnly"] == "false");
    let infra = crate::paths::infra();
    let text = std::fs::read_to_string(infra.join("stages/dev.yaml")).unwrap();
    let closed = text.replacen("upload_expiry_s:", "invite_only: true\n  upload_expiry_s:", 1);
    let stage = Stage::parse(&infra.join("stages/dev.yaml"), &closed).unwrap();
    assert_eq!(super::parameters(&stage).get("InviteOnly").map(String::as_str), Some("true"));
    let bad = text.replacen("upload_expiry_s:", "email_sender: { identity: arn:aws:s3:::x, from: a@b.c }\n  upload_expiry_s:", 1);
    let e = Stage::parse(&infra.join("stages/dev.yaml"), &bad).unwrap_err().to_string();
    assert!(e.contains("expected arn:aws:ses:"), "{e}");
}

/// Every write a function role may make to the catalog table is limited to item kinds by
/// `dynamodb:LeadingKeys` (whose prefixes `the_catalog_table_is_the_shared_layout` holds to
/// `shared::table`), so no function can overwrite another kind's items.
#[test]
fn every_catalog_write_names_its_item_kinds() {
    let t: Value = serde_norway::from_str(file(&rendered("dev"), "template.yaml")).unwrap();
    let writes = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"];
    let mut checked = 0;
    for (id, r) in t["Resources"].as_mapping().unwrap() {
        if r["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for policy in r["Properties"]["Policies"].as_sequence().into_iter().flatten() {
            for s in policy["PolicyDocument"]["Statement"].as_sequence().into_iter().flatten() {
                let actions: Vec<&str> = match &s["Action"] {
                    Value::String(a) => vec![a.as_str()],
                    Value::Sequence(list) => list.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                if actions.iter().any(|a| writes.contains(a)) {
                    let keys = &s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"];
                    assert!(keys.is_sequence(), "{id:?} {:?}: a table write without LeadingKeys", s["Sid"]);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 6, "only {checked} write statements");
}

/// The templates scope some grants by the stack's tag, written there as a literal key; it must be
/// the key every stack and resource carries (`STACK_TAG`), or those grants match nothing on AWS.
#[test]
fn every_tag_condition_in_the_templates_names_the_stack_tag() {
    let mut seen = 0;
    for file in ["template.yaml", "pipeline.yaml", "bootstrap.yaml", "certificate.yaml"] {
        let text = std::fs::read_to_string(crate::paths::infra().join(file)).unwrap();
        for (at, _) in text.match_indices("Tag/") {
            let key: String = text[at + 4..].chars().take_while(|c| !c.is_whitespace()).collect();
            let key = key.trim_end_matches(':');
            assert_eq!(key, crate::stage::STACK_TAG, "{file}: a tag condition on {key}");
            seen += 1;
        }
    }
    assert!(seen >= 2, "only {seen} tag conditions");
}

/// A private photo's thumbnail is never where the distribution can read it: the assets bucket's
/// policy lets CloudFront read the site and the public prefixes alone (not the whole bucket, as
/// it did), no cache behaviour names `private/`, the thumbnail function may write there, and the
/// site's CSP lets the owner's presigned link load from the bucket.
#[test]
fn the_distribution_reads_no_private_thumbnail() {
    use shared::visibility::{PRIVATE, THUMBNAILS};
    for stage in ["dev", "prod"] {
        let out = rendered(stage);
        let t: Value = serde_norway::from_str(file(&out, "template.yaml")).unwrap();
        let statements = serde_norway::to_string(&t["Resources"]["AssetsBucketPolicy"]["Properties"]["PolicyDocument"]).unwrap();
        let reads = statements.split("Sid: CloudFrontReads").nth(1).and_then(|s| s.split("Sid:").next()).unwrap();
        let readable: Vec<&str> =
            reads.split("${AssetsBucket.Arn}/").skip(1).map(|r| r.split(['"', '\'', '\n']).next().unwrap()).collect();
        assert_eq!(readable, ["site/*", &format!("{THUMBNAILS}*"), "avatars/*"], "{stage}: {reads}");
        let behaviours =
            serde_norway::to_string(&t["Resources"]["Distribution"]["Properties"]["DistributionConfig"]["CacheBehaviors"])
                .unwrap();
        assert!(behaviours.contains(&format!("PathPattern: {THUMBNAILS}*")) && !behaviours.contains(PRIVATE), "{stage}");
        let writes = serde_norway::to_string(&t["Resources"]["ThumbnailRole"]["Properties"]["Policies"]).unwrap();
        assert!(
            writes.contains(&format!("${{AssetsBucket.Arn}}/{PRIVATE}*")),
            "{stage}: the function cannot write private thumbnails"
        );
        let headers = serde_norway::to_string(&t["Resources"]["SecurityHeaders"]).unwrap();
        let img = headers.split("img-src").nth(1).and_then(|s| s.split(';').next()).unwrap();
        assert!(img.contains("${AWS::StackName}-assets-${AWS::AccountId}.s3."), "{stage}: img-src {img}");
    }
}

/// The stack's buckets are exactly `STACK_BUCKETS`, each named `<stack>-<kind>-<account>`, the
/// names the IAM documents grant on one by one.
#[test]
fn the_stacks_buckets_are_the_ones_iam_names() {
    let out = rendered("dev");
    let t: Value = serde_norway::from_str(file(&out, "template.yaml")).unwrap();
    let mut kinds = Vec::new();
    for (id, r) in t["Resources"].as_mapping().unwrap() {
        if r["Type"] != "AWS::S3::Bucket" {
            continue;
        }
        let name = serde_norway::to_string(&r["Properties"]["BucketName"]).unwrap();
        let kind = name.split("${AWS::StackName}-").nth(1).and_then(|k| k.strip_suffix("-${AWS::AccountId}\n"));
        kinds.push(kind.unwrap_or_else(|| panic!("{id:?}: {name}")).to_string());
    }
    kinds.sort();
    let mut expected = crate::stage::STACK_BUCKETS.map(String::from).to_vec();
    expected.sort();
    assert_eq!(kinds, expected);
}

/// prod's originals are under S3 Object Lock in compliance mode for `retention.originals_lock_days`,
/// so no identity, with any key, deletes a version before then; a stage that deletes its data
/// cannot ask for it (its teardown could not empty the bucket), and dev has none.
#[test]
fn prods_originals_outlive_any_key_for_their_lock_days() {
    let prod = rendered("prod");
    let params: serde_json::Value = serde_json::from_str(file(&prod, "parameters.json")).unwrap();
    assert_eq!(params["Parameters"]["OriginalsLockDays"], "30");
    let t: Value = serde_norway::from_str(file(&prod, "template.yaml")).unwrap();
    let bucket = serde_norway::to_string(&t["Resources"]["UploadsBucket"]["Properties"]).unwrap();
    for needed in ["ObjectLockEnabled", "LocksOriginals", "Mode: COMPLIANCE", "Days: !Ref OriginalsLockDays"] {
        assert!(bucket.contains(needed), "{needed}: {bucket}");
    }
    let dev = rendered("dev");
    let params: serde_json::Value = serde_json::from_str(file(&dev, "parameters.json")).unwrap();
    assert!(params["Parameters"].get("OriginalsLockDays").is_none(), "dev locks nothing (the template's default, 0)");
    let infra = crate::paths::infra();
    let text = std::fs::read_to_string(infra.join("stages/dev.yaml")).unwrap();
    let asked = text.replacen("  on_delete: delete", "  on_delete: delete\n  originals_lock_days: 7", 1);
    assert_ne!(asked, text);
    let e = crate::stage::Stage::parse(&infra.join("stages/dev.yaml"), &asked).unwrap().check().unwrap_err();
    assert!(e.contains("originals_lock_days is for a stage that keeps its data"), "{e}");
}
