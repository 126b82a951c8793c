//! `cargo xtask render <stage>`: the stage's stack (`template::render_stack`) plus, for a stage with
//! a `pipeline`, its CI stack with the deploy policy computed from that stack (`policy`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_norway::Value;
use sha2::Digest;

use crate::flags::{Exit, RenderArgs};
use crate::stage::Stage;
use crate::template::{Rendered, header, render_stack, template_configuration, write, yaml};

pub fn run(args: &RenderArgs) -> Result<Exit> {
    let name = &args.target.stage;
    let stage = args.target.load()?;
    let rendered = render(&args.target.infra_dir(), name, &stage)?;
    let out = args.out.clone().unwrap_or_else(|| default_dir(name));
    let written = write(&rendered, &out)?;
    let target = match stage.emulator.as_ref().map(|e| e.endpoint.as_ref()) {
        None => format!("AWS {}", stage.region),
        Some(None) => "the emulator `cargo xtask local` starts".into(),
        Some(Some(endpoint)) => format!("the emulator at {endpoint}"),
    };
    eprintln!("render: stack {} for {target}", rendered.stack_name);
    for path in &written {
        eprintln!("render: wrote {}", path.display());
    }
    let exit = if args.check { crate::lint::check(&out, &rendered, &stage)? } else { Exit::Success };
    if args.json {
        let doc = serde_json::json!({
            "stack": rendered.stack_name,
            "files": written,
            "parameters": rendered.parameters,
            "checked": args.check,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    Ok(exit)
}

pub fn default_dir(stage: &str) -> PathBuf {
    crate::paths::target_dir().join("infra").join(stage)
}

/// Every file of the stage: its stack, its bootstrap stack (the deploy path's IAM documents), and
/// its pipeline stack when it has one.
pub fn render(infra: &Path, name: &str, stage: &Stage) -> Result<Rendered> {
    let mut rendered = render_stack(infra, name, stage)?;
    // `${AWS::AccountId}` in the ARNs, substituted by CloudFormation in the stage's account.
    let stack = rendered.stack_name.clone();
    let names = crate::policy::Names { stack: &stack, region: &stage.region.0, account: "${AWS::AccountId}" };
    let documents = crate::policy::documents(&rendered, stage, &names)?;

    let mut bootstrap = read(infra, "bootstrap.yaml")?;
    for (resource, document) in [("Boundary", &documents.boundary), ("DeployPolicy", &documents.deploy)] {
        *slot(&mut bootstrap, resource, "infra/bootstrap.yaml")? = with_sub(document);
    }
    *execution_slot(&mut bootstrap)? = with_sub(&documents.execution);
    // Deploy compares it with the bootstrap stack's, to say when bootstrap must run again.
    let hashed = serde_json::to_string(&[&documents.boundary, &documents.deploy, &documents.execution])?;
    let hash = hex::encode(&sha2::Sha256::digest(hashed.as_bytes())[..8]);
    let params = BTreeMap::from([
        (crate::bootstrapped::DOCUMENTS_HASH, hash),
        ("StackName", stack.clone()),
        ("ExecutionRoleName", names.execution_role_name()),
        ("BootstrapRolePath", crate::policy::BOOTSTRAP_ROLE_PATH.to_string()),
        ("BoundaryName", names.boundary_name()),
        ("DeployPolicyName", names.deploy_policy_name()),
    ]);
    let tags = rendered.tags_for(&names.bootstrap_stack());
    rendered.files.push(("bootstrap.yaml", header(name, "infra/bootstrap.yaml") + &yaml(&bootstrap)?));
    rendered.files.push(("bootstrap-parameters.json", template_configuration(&params, &tags)?));
    rendered.bootstrap_parameters = Some(params);

    if let Some(pipeline) = &stage.pipeline {
        let mut template = read(infra, "pipeline.yaml")?;
        let statements = slot(&mut template, "CiBoundary", "infra/pipeline.yaml")?
            .get_mut("Statement")
            .and_then(Value::as_sequence_mut)
            .context("infra/pipeline.yaml's CiBoundary has no Statement list")?;
        statements.extend(documents.deploy["Statement"].as_array().into_iter().flatten().map(with_sub));
        let params = pipeline_parameters(name, &stack, pipeline);
        let tags = rendered.tags_for(&names.pipeline_stack());
        rendered.files.push(("pipeline.yaml", header(name, "infra/pipeline.yaml") + &yaml(&template)?));
        rendered.files.push(("pipeline-parameters.json", template_configuration(&params, &tags)?));
        rendered.pipeline_parameters = Some(params);
    }
    Ok(rendered)
}

fn read(infra: &Path, file: &str) -> Result<Value> {
    let text = std::fs::read_to_string(infra.join(file)).with_context(|| format!("reading infra/{file}"))?;
    serde_norway::from_str(&text).with_context(|| format!("parsing infra/{file}"))
}

/// The execution role's inline `execution` policy document.
fn execution_slot(template: &mut Value) -> Result<&mut Value> {
    template
        .get_mut("Resources")
        .and_then(|r| r.get_mut("ExecutionRole"))
        .and_then(|r| r.get_mut("Properties"))
        .and_then(|p| p.get_mut("Policies"))
        .and_then(Value::as_sequence_mut)
        .and_then(|p| p.iter_mut().find(|p| p.get("PolicyName").and_then(Value::as_str) == Some("execution")))
        .and_then(|p| p.get_mut("PolicyDocument"))
        .context("infra/bootstrap.yaml's ExecutionRole has no `execution` policy")
}

/// A managed policy's `PolicyDocument` in a template.
fn slot<'a>(template: &'a mut Value, resource: &str, file: &str) -> Result<&'a mut Value> {
    template
        .get_mut("Resources")
        .and_then(|r| r.get_mut(resource))
        .and_then(|r| r.get_mut("Properties"))
        .and_then(|p| p.get_mut("PolicyDocument"))
        .with_context(|| format!("{file} has no {resource} with a PolicyDocument"))
}

fn pipeline_parameters(name: &str, stack: &str, pipeline: &crate::stage::Pipeline) -> BTreeMap<&'static str, String> {
    let mut p = BTreeMap::from([("Stage", name.to_string()), ("StackName", stack.to_string())]);
    if let Some(c) = &pipeline.connection {
        p.insert("ConnectionArn", c.arn.to_string());
        p.insert("RepositoryId", c.repository.to_string());
        p.insert("BranchName", c.branch.to_string());
    }
    if let Some(s3) = &pipeline.s3 {
        p.insert("SourceBucket", s3.bucket.to_string());
        p.insert("SourceKey", s3.key.clone());
    }
    p
}

/// JSON → YAML, with strings that name `${AWS::...}` under `!Sub`.
fn with_sub(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::String(s) if s.contains("${AWS::") => Value::Tagged(Box::new(serde_norway::value::TaggedValue {
            tag: serde_norway::value::Tag::new("Sub"),
            value: Value::String(s.clone()),
        })),
        serde_json::Value::Array(items) => Value::Sequence(items.iter().map(with_sub).collect()),
        serde_json::Value::Object(map) => {
            Value::Mapping(map.iter().map(|(k, v)| (Value::String(k.clone()), with_sub(v))).collect())
        }
        other => serde_norway::to_value(other).unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(name: &str) -> Rendered {
        let infra = crate::paths::infra();
        let stage = Stage::load(&infra, name).unwrap();
        render(&infra, name, &stage).unwrap()
    }

    fn file<'a>(r: &'a Rendered, name: &str) -> &'a str {
        &r.files.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no {name}")).1
    }

    /// Golden files: `UPDATE_EXPECT=1 cargo test -p xtask golden` rewrites them; review the diff.
    #[test]
    fn golden_dev_and_prod() {
        let dev = rendered("dev");
        expect_test::expect_file!["../tests/golden/dev/template.yaml"].assert_eq(file(&dev, "template.yaml"));
        expect_test::expect_file!["../tests/golden/dev/parameters.json"].assert_eq(file(&dev, "parameters.json"));
        expect_test::expect_file!["../tests/golden/dev/pipeline.yaml"].assert_eq(file(&dev, "pipeline.yaml"));
        expect_test::expect_file!["../tests/golden/dev/pipeline-parameters.json"]
            .assert_eq(file(&dev, "pipeline-parameters.json"));
        expect_test::expect_file!["../tests/golden/dev/bootstrap.yaml"].assert_eq(file(&dev, "bootstrap.yaml"));
        let prod = rendered("prod");
        expect_test::expect_file!["../tests/golden/prod/parameters.json"].assert_eq(file(&prod, "parameters.json"));
        expect_test::expect_file!["../tests/golden/prod/certificate.yaml"].assert_eq(file(&prod, "certificate.yaml"));
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
            let r = render(&infra, "dev", &stage).unwrap();
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
        let out = render_stack(&crate::paths::infra(), "dev", &stage).unwrap();
        let params: serde_json::Value = serde_json::from_str(file(&out, "parameters.json")).unwrap();
        assert_eq!(
            params["Parameters"]["JwtIssuer"], "https://login.example.com/",
            "an external issuer leaves OwnUserPool false"
        );
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

    /// Every role carries the stage's boundary, the bootstrap's execution role excepted (it
    /// enforces the boundary); the stack's roles live under its role path.
    #[test]
    fn every_role_carries_the_boundary() {
        let infra = crate::paths::infra();
        for name in ["dev", "prod", "local"] {
            let stage = Stage::load(&infra, name).unwrap();
            let rendered = render(&infra, name, &stage).unwrap();
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
}

/// The rendered `local` stage against moto: its bootstrap stack, then its stack through a change
/// set as deploy will use it.
#[cfg(test)]
mod emulator_tests;
