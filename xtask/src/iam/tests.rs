//! The documents as data, for every stage. Each check is a function of one document, so
//! `each_check_fails_on_the_policy_before_bootstrap` can show it rejects the old deploy policy
//! (`xtask/tests/golden/policy-before-bootstrap.json`, what `policy dev` printed before).

use super::*;
use crate::stage::StageId;

const ACCOUNT: &str = "123456789012";

fn stage_text(name: &str, owner: Option<&str>) -> (String, Stage) {
    let infra = crate::paths::infra();
    let path = infra.join(format!("stages/{name}.yaml"));
    let mut text = std::fs::read_to_string(&path).unwrap();
    if let Some(owner) = owner {
        assert!(text.contains("owner: null"), "{name}.yaml no longer says owner: null");
        text = text.replacen("owner: null", &format!("owner: {owner}"), 1);
    }
    let stage = Stage::parse(&path, &text).unwrap();
    (name.to_string(), stage)
}

fn documents_for(name: &str, owner: Option<&str>) -> (StageId, Documents) {
    let (_, stage) = stage_text(name, owner);
    let rendered = crate::template::render_stack(&crate::paths::infra(), &stage).unwrap();
    let names = stage.names(ACCOUNT);
    (stage.id.clone(), documents(&rendered, &stage, &names).unwrap())
}

/// Every stage in the repo, and `dev` as two owners would deploy it: `(stage, owner)`.
const CASES: [(&str, Option<&str>); 5] =
    [("dev", None), ("prod", None), ("local", None), ("dev", Some("alice")), ("dev", Some("dev"))];

fn all() -> Vec<(StageId, Documents)> {
    CASES.iter().map(|(stage, owner)| documents_for(stage, *owner)).collect()
}

fn statements(doc: &Value) -> impl Iterator<Item = &Value> {
    doc["Statement"].as_array().unwrap().iter()
}

fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    }
}

fn allows(doc: &Value) -> impl Iterator<Item = &Value> {
    statements(doc).filter(|s| s["Effect"] == "Allow")
}

/// Reads are `Get*` and `List*`; everything else IAM does changes who may do what.
fn iam_write(action: &str) -> bool {
    action.strip_prefix("iam:").is_some_and(|a| !a.starts_with("Get") && !a.starts_with("List"))
}

/// The deploy identity's only IAM action: passing the one execution role to CloudFormation.
fn no_iam_write_but_passing_the_execution_role(doc: &Value, execution_role: &str) -> Result<(), String> {
    for s in allows(doc) {
        for a in strings(&s["Action"]).into_iter().filter(|a| iam_write(a)) {
            let passes_only_it = a == "iam:PassRole"
                && strings(&s["Resource"]) == [execution_role]
                && s["Condition"]["StringEquals"]["iam:PassedToService"] == "cloudformation.amazonaws.com";
            if !passes_only_it {
                return Err(format!("{}: {a} on {}", s["Sid"], s["Resource"]));
            }
        }
    }
    Ok(())
}

/// Each IAM write is either conditioned on the boundary, or acts only on the stack's role path
/// (`role/<stack>/…`), where roles come into being only with the boundary and never lose it.
fn every_iam_write_held_by_the_boundary(doc: &Value, n: &Names) -> Result<(), String> {
    let denies_removal = statements(doc).any(|s| {
        s["Effect"] == "Deny"
            && strings(&s["Action"]).contains(&"iam:DeleteRolePermissionsBoundary")
            && strings(&s["Resource"]) == [n.stack_roles().as_str()]
    });
    if !denies_removal {
        return Err("no Deny of iam:DeleteRolePermissionsBoundary on the stack's roles".into());
    }
    for s in allows(doc) {
        for a in strings(&s["Action"]).into_iter().filter(|a| iam_write(a)) {
            let bounded = s["Condition"]["ArnEquals"]["iam:PermissionsBoundary"] == n.boundary().as_str();
            let on_the_path = strings(&s["Resource"]).iter().all(|r| *r == n.stack_roles());
            let to = strings(&s["Condition"]["StringEquals"]["iam:PassedToService"]);
            let pass_to_lambda = a != "iam:PassRole"
                || (!to.is_empty() && to.iter().all(|s| ["lambda.amazonaws.com", "codedeploy.amazonaws.com"].contains(s)));
            let creates = ["iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary", "iam:AttachRolePolicy"];
            let ok = on_the_path && pass_to_lambda && (bounded || !creates.contains(&a));
            if !ok {
                return Err(format!("{}: {a} on {} without the boundary", s["Sid"], s["Resource"]));
            }
        }
    }
    Ok(())
}

/// Calls IAM cannot scope to a resource or condition at all: reads, and three writes of little
/// reach (SECURITY.md, "What IAM cannot scope").
const UNSCOPABLE: [&str; 11] = [
    "cloudformation:ValidateTemplate",
    "secretsmanager:GetRandomPassword",
    "sts:GetCallerIdentity",
    "logs:DescribeLogGroups",
    "cognito-idp:DescribeUserPoolDomain",
    "sns:GetSubscriptionAttributes",
    "sns:Unsubscribe",
    "cloudfront:CreateOriginAccessControl",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "codedeploy:PutLifecycleEventHookExecutionStatus",
];

/// No allow on an account-wide pattern without a tag or ARN condition.
fn no_account_wide_grant_without_a_condition(doc: &Value) -> Result<(), String> {
    let broad = |r: &str| {
        r == "*"
            || [":key/*", ":hostedzone/*", ":distribution/*", ":certificate/*", ":event-source-mapping:*", "::/apis", "::/apis/*"]
                .iter()
                .any(|p| r.ends_with(p))
    };
    for s in allows(doc) {
        let unscopable = strings(&s["Action"]).iter().all(|a| UNSCOPABLE.contains(a));
        if strings(&s["Resource"]).into_iter().any(broad) && s.get("Condition").is_none() && !unscopable {
            return Err(format!("{}: {} on {}", s["Sid"], s["Action"], s["Resource"]));
        }
    }
    Ok(())
}

/// IAM's wildcard match: `*` any run, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// What IAM cannot keep apart between stages: CloudFront's origin access controls, cache and
/// response-headers policies take neither tags nor names in their ARNs (SECURITY.md says so).
const SHARED_BY_EVERY_STAGE: [&str; 3] = [":origin-access-control/*", ":response-headers-policy/*", ":cache-policy/*"];

/// The unconditioned resource patterns of a stage's documents (a condition scopes the others).
fn name_patterns(d: &Documents) -> Vec<String> {
    [&d.deploy, &d.execution, &d.boundary]
        .into_iter()
        .flat_map(allows)
        .filter(|s| s.get("Condition").is_none())
        .flat_map(|s| strings(&s["Resource"]).into_iter().map(str::to_string).collect::<Vec<_>>())
        // The shared artifacts bucket itself (only listed, `the_deploy_identity_…`); its objects
        // are per stage.
        .filter(|r| r != "*" && (r.contains('/') || !r.starts_with("arn:aws:s3:::thumbstack-artifacts-")))
        .filter(|r| !SHARED_BY_EVERY_STAGE.iter().any(|p| r.ends_with(p)))
        // AWS's predefined rollout configurations: the same for everyone, and only read.
        .filter(|r| !r.contains(":deploymentconfig:CodeDeployDefault."))
        .collect()
}

#[test]
fn every_document_is_valid_iam_json_without_wildcard_actions() {
    for (stack, d) in all() {
        // The execution role's document as bootstrap attaches it: inline, and the managed rest.
        let (inline, more) = split_execution(&d.execution);
        assert_eq!(statements(&inline).count() + statements(&more).count(), statements(&d.execution).count(), "{stack}");
        for (which, doc, limit) in [
            ("deploy", &d.deploy, MANAGED_LIMIT),
            ("boundary", &d.boundary, MANAGED_LIMIT),
            ("execution", &inline, INLINE_LIMIT),
            ("execution's managed rest", &more, MANAGED_LIMIT),
        ] {
            assert_eq!(doc["Version"], "2012-10-17");
            let mut sids = BTreeSet::new();
            for s in statements(doc) {
                let sid = s["Sid"].as_str().unwrap();
                assert!(
                    sid.bytes().all(|b| b.is_ascii_alphanumeric()) && sids.insert(sid),
                    "{stack} {which}: bad or repeated Sid {sid}"
                );
                let actions = strings(&s["Action"]);
                assert!(!actions.is_empty());
                for a in actions {
                    let (service, name) = a.split_once(':').unwrap_or_else(|| panic!("{a}: not service:Action"));
                    assert!(!service.is_empty() && !name.is_empty() && !a.contains('*'), "{stack} {which}: wildcard {a}");
                }
                for r in strings(&s["Resource"]) {
                    assert!(r == "*" || r.starts_with("arn:aws:"), "{stack} {which}: {r}");
                }
            }
            // A managed policy (deploy, boundary) holds 6,144 characters; a role's inline ones 10,240.
            let size = minified_len(doc);
            assert!(size <= limit, "{stack} {which}: {size} characters is over IAM's {limit}");
        }
    }
}

#[test]
fn the_deploy_identity_writes_no_iam_and_passes_only_the_execution_role() {
    for (stack, d) in all() {
        let n = stack.at("", ACCOUNT);
        no_iam_write_but_passing_the_execution_role(&d.deploy, &n.execution_role()).unwrap_or_else(|e| panic!("{stack}: {e}"));
        let through = allows(&d.deploy).find(|s| strings(&s["Action"]).contains(&"cloudformation:CreateChangeSet")).unwrap();
        assert_eq!(through["Condition"]["ArnEquals"]["cloudformation:RoleArn"], n.execution_role().as_str());
        // It may see its pipeline and bootstrap stacks (teardown looks for them), never change them.
        for s in allows(&d.deploy) {
            let theirs = strings(&s["Resource"]).iter().any(|r| r.contains("-pipeline/") || r.contains("-bootstrap/"));
            assert!(!theirs || strings(&s["Action"]) == ["cloudformation:DescribeStacks"], "{stack}: {s}");
        }
        for s in allows(&d.deploy).chain(allows(&d.execution)) {
            let shared_bucket =
                strings(&s["Resource"]).iter().any(|r| r.starts_with("arn:aws:s3:::thumbstack-artifacts-") && !r.contains('/'));
            assert!(!shared_bucket || strings(&s["Action"]) == ["s3:ListBucket"], "{stack}: {s}");
        }
    }
}

#[test]
fn every_iam_write_of_the_execution_role_is_held_by_the_boundary() {
    for (stack, d) in all() {
        let n = stack.at("", ACCOUNT);
        every_iam_write_held_by_the_boundary(&d.execution, &n).unwrap_or_else(|e| panic!("{stack}: {e}"));
        let denied: Vec<&str> =
            statements(&d.execution).filter(|s| s["Effect"] == "Deny").flat_map(|s| strings(&s["Resource"])).collect();
        for guarded in [n.execution_role(), n.boundary(), n.deploy_policy()] {
            assert!(denied.contains(&guarded.as_str()), "{stack}: nothing denies changes to {guarded}");
        }
        // The boundary allows no IAM at all.
        assert!(allows(&d.boundary).flat_map(|s| strings(&s["Action"])).all(|a| !a.starts_with("iam:")), "{stack}");
    }
}

#[test]
fn no_account_wide_grant_lacks_a_tag_or_arn_condition() {
    for (stack, d) in all() {
        for (which, doc) in [("deploy", &d.deploy), ("execution", &d.execution), ("boundary", &d.boundary)] {
            no_account_wide_grant_without_a_condition(doc).unwrap_or_else(|e| panic!("{stack} {which}: {e}"));
        }
    }
    let (_, dev) = documents_for("dev", None);
    assert!(!dev.execution.to_string().contains("route53"), "dev has no domain, so no Route 53 at all");
    let (_, prod) = documents_for("prod", None);
    let zones: BTreeSet<&str> =
        allows(&prod.execution).flat_map(|s| strings(&s["Resource"])).filter(|r| r.contains("hostedzone")).collect();
    assert_eq!(zones, BTreeSet::from(["arn:aws:route53:::hostedzone/Z0123456789EXAMPLE"]));
}

#[test]
fn no_stage_pattern_matches_another_stages_names() {
    let all = all();
    for (a, da) in &all {
        for (b, db) in all.iter().filter(|(b, _)| b != a) {
            // A name of stage b: each of its patterns with the wildcards filled in.
            for sample in name_patterns(db).iter().map(|p| p.replace('*', "x1").replace('?', "y")) {
                for pattern in name_patterns(da) {
                    assert!(!glob(&pattern, &sample), "{a}'s {pattern} matches {b}'s {sample}");
                }
            }
        }
    }
    // Nor another bucket of the account that starts with the stack's name: the pipeline's
    // artifacts (`infra/pipeline.yaml`), which an S3 grant on `<stack>-*` reached.
    for (id, d) in &all {
        let artifacts = format!("arn:aws:s3:::{}", id.at("eu-west-1", ACCOUNT).pipeline_bucket());
        for pattern in name_patterns(d) {
            for name in [artifacts.clone(), format!("{artifacts}/build.zip")] {
                assert!(!glob(&pattern, &name), "{id}'s {pattern} matches the pipeline's bucket {name}");
            }
        }
    }
    // Tag conditions hold the stack name, which differs as much.
    let (_, alice) = documents_for("dev", Some("alice"));
    assert!(alice.execution.to_string().contains(r#""aws:ResourceTag/thumbstack:stack":"alice-thumbstack-dev""#));
}

/// Hotswap writes Lambda directly, so only a stage that allows it (not protected) may: prod's
/// deploy identity can change function code only through a change set.
#[test]
fn only_an_unprotected_stage_may_hotswap() {
    let lambda_writes =
        |d: &Documents| allows(&d.deploy).flat_map(|s| strings(&s["Action"])).filter(|a| a.starts_with("lambda:")).count();
    let (_, prod) = documents_for("prod", None);
    assert_eq!(lambda_writes(&prod), 0);
    let (_, dev) = documents_for("dev", None);
    let hotswap = allows(&dev.deploy).find(|s| s["Sid"] == "HotswapFunctionCode").expect("dev may hotswap");
    assert_eq!(strings(&hotswap["Resource"]), ["arn:aws:lambda:eu-west-1:123456789012:function:thumbstack-dev-*"]);
}

#[test]
fn the_glob_is_iams() {
    assert!(glob("arn:aws:s3:::thumbstack-dev-*", "arn:aws:s3:::thumbstack-dev-alice-uploads"));
    assert!(!glob("arn:aws:s3:::thumbstack-dev-*", "arn:aws:s3:::alice-thumbstack-dev-uploads"));
    assert!(glob("a?c*", "abcdef") && !glob("a?c", "ac") && glob("*", ""));
}

/// Each check above, fed the deploy policy as it was before the bootstrap pattern, fails.
#[test]
fn each_check_fails_on_the_policy_before_bootstrap() {
    let old: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::paths::root().join("xtask/tests/golden/policy-before-bootstrap.json")).unwrap(),
    )
    .unwrap();
    let dev = StageId::new("dev", None).unwrap();
    let n = dev.at("eu-west-1", ACCOUNT);
    let e = no_iam_write_but_passing_the_execution_role(&old, &n.execution_role()).unwrap_err();
    assert!(e.contains("iam:CreateRole"), "{e}");
    let e = every_iam_write_held_by_the_boundary(&old, &n).unwrap_err();
    assert!(e.contains("DeleteRolePermissionsBoundary"), "{e}");
    let e = no_account_wide_grant_without_a_condition(&old).unwrap_err();
    assert!(e.contains("*"), "{e}");
    // The old names: `thumbstack-dev-*` covered the owner alice's `thumbstack-dev-alice-*`.
    assert!(glob("arn:aws:s3:::thumbstack-dev-*", "arn:aws:s3:::thumbstack-dev-alice-uploads-123456789012"));
}

#[test]
fn a_resource_type_without_permissions_is_refused() {
    let infra = crate::paths::infra();
    let stage = Stage::load(&infra, "dev").unwrap();
    let mut rendered = crate::template::render_stack(&infra, &stage).unwrap();
    rendered.files[0].1 = rendered.files[0].1.replacen("Resources:\n", "Resources:\n  Extra:\n    Type: AWS::EC2::Instance\n", 1);
    let names = stage.id.at("eu-west-1", "1");
    let e = documents(&rendered, &stage, &names).err().unwrap().to_string();
    assert!(e.contains("AWS::EC2::Instance"), "{e}");
}

/// On AWS a role can do only what its policy and its boundary both allow: every statement of
/// every function role must fall inside the boundary, or the function would fail there while
/// passing on moto (which ignores boundaries). Tag conditions hold by construction (the stack
/// tags its key), so a conditioned boundary statement counts as matching.
#[test]
fn the_boundary_allows_everything_the_functions_do() {
    for (stage_name, owner) in CASES {
        let (stack, d) = documents_for(stage_name, owner);
        let (_, stage) = stage_text(stage_name, owner);
        let rendered = crate::template::render_stack(&crate::paths::infra(), &stage).unwrap();
        let n = stage.names(ACCOUNT);
        let roles = function_roles(rendered.file("template.yaml").unwrap(), &n).unwrap();
        // The three functions', CodeDeploy's and the pre-traffic hook's.
        assert_eq!(roles.len(), 5, "{stack}");
        for (role, doc) in roles {
            for s in allows(&doc) {
                for action in strings(&s["Action"]) {
                    for resource in strings(&s["Resource"]) {
                        let inside = allows(&d.boundary).any(|b| {
                            strings(&b["Action"]).contains(&action) && strings(&b["Resource"]).iter().any(|p| glob(p, resource))
                        });
                        assert!(inside, "{stack} {role}: {action} on {resource} is outside the boundary");
                    }
                }
            }
        }
    }
}

fn sid(s: &Value) -> &str {
    s["Sid"].as_str().unwrap_or_default()
}

/// Every record write names only `names` and `types`, all of them (`ForAllValues`), and some
/// (`Null`: false); otherwise a leaked prod key could repoint the apex or the MX records.
fn record_writes_are_the_stages_own(doc: &Value, names: &[&str], types: &[&str]) -> Result<(), String> {
    for s in allows(doc).filter(|s| strings(&s["Action"]).contains(&"route53:ChangeResourceRecordSets")) {
        let c = &s["Condition"];
        let written = strings(&c["ForAllValues:StringLike"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"]);
        let kinds = strings(&c["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsRecordTypes"]);
        let some = c["Null"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"] == "false";
        if written.is_empty() || kinds.is_empty() || !some {
            return Err(format!("{}: record writes without a name and type condition: {c}", sid(s)));
        }
        if let Some(other) = written.iter().find(|n| !names.contains(n)).or(kinds.iter().find(|t| !types.contains(t))) {
            return Err(format!("{}: {other} is not the stage's", sid(s)));
        }
    }
    Ok(())
}

/// A certificate may be requested only for `names`.
fn certificates_only_for(doc: &Value, names: &[&str]) -> Result<(), String> {
    for s in allows(doc).filter(|s| strings(&s["Action"]).contains(&"acm:RequestCertificate")) {
        let c = &s["Condition"];
        let asked = strings(&c["ForAllValues:StringEquals"]["acm:DomainNames"]);
        if asked.is_empty() || c["Null"]["acm:DomainNames"] != "false" || asked.iter().any(|n| !names.contains(n)) {
            return Err(format!("{}: certificates for any name: {c}", sid(s)));
        }
    }
    Ok(())
}

/// No allow of an object-version, bucket, table, key or pool delete on a stage that keeps its
/// data, and an explicit deny of each, so no policy added later can open one.
fn no_identity_can_delete_the_kept_data(doc: &Value) -> Result<(), String> {
    for s in allows(doc) {
        if let Some(a) = strings(&s["Action"]).into_iter().find(|a| DATA_DELETES.contains(a)) {
            return Err(format!("{} allows {a}", sid(s)));
        }
    }
    let denied: BTreeSet<&str> = statements(doc).filter(|s| s["Effect"] == "Deny").flat_map(|s| strings(&s["Action"])).collect();
    match DATA_DELETES.iter().find(|a| !denied.contains(*a)) {
        Some(a) => Err(format!("nothing denies {a}")),
        None => Ok(()),
    }
}

/// No change set may import a resource: an import puts another stage's resource under this stack.
fn no_resource_import(doc: &Value) -> Result<(), String> {
    let denies_import = statements(doc).any(|s| {
        s["Effect"] == "Deny"
            && strings(&s["Action"]).contains(&"cloudformation:CreateChangeSet")
            && s["Condition"]["Null"]["cloudformation:ImportResourceTypes"] == "false"
    });
    if denies_import { Ok(()) } else { Err("CreateChangeSet may import resources".into()) }
}

/// prod's documents hold each check above; the same documents as they were before these scopes
/// (`xtask/tests/golden/prod-documents-before-record-scopes.json`) fail each one.
#[test]
fn prod_writes_only_its_records_and_no_identity_can_wipe_its_data() {
    let (_, prod) = documents_for("prod", None);
    let records = ["assets.example.com", "_*.assets.example.com"];
    let types = ["A", "AAAA", "CNAME"];
    record_writes_are_the_stages_own(&prod.execution, &records, &types).unwrap();
    certificates_only_for(&prod.execution, &["assets.example.com"]).unwrap();
    no_identity_can_delete_the_kept_data(&prod.execution).unwrap();
    no_identity_can_delete_the_kept_data(&prod.deploy).unwrap();
    no_resource_import(&prod.deploy).unwrap();
    // The aliases are A and AAAA only; CNAME only for ACM's validation names.
    let aliases = allows(&prod.execution).find(|s| sid(s) == "RecordSetsAliases").unwrap();
    assert_eq!(
        strings(&aliases["Condition"]["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsRecordTypes"]),
        ["A", "AAAA"]
    );

    let path = crate::paths::root().join("xtask/tests/golden/prod-documents-before-record-scopes.json");
    let old: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let e = record_writes_are_the_stages_own(&old["execution"], &records, &types).unwrap_err();
    assert!(e.contains("without a name and type condition"), "{e}");
    let e = certificates_only_for(&old["execution"], &["assets.example.com"]).unwrap_err();
    assert!(e.contains("certificates for any name"), "{e}");
    let e = no_identity_can_delete_the_kept_data(&old["deploy"]).unwrap_err();
    assert!(e.contains("EmptyTheStageBucketsOnTeardown allows s3:DeleteObjectVersion"), "{e}");
    let e = no_identity_can_delete_the_kept_data(&old["execution"]).unwrap_err();
    assert!(e.contains("allows s3:DeleteBucket"), "{e}");
    assert!(no_resource_import(&old["deploy"]).is_err());
}

/// A stage whose data goes with its stack (dev) keeps teardown's right to empty its buckets.
#[test]
fn only_a_stage_that_deletes_its_data_may_empty_its_buckets() {
    let (_, dev) = documents_for("dev", None);
    assert!(allows(&dev.deploy).any(|s| sid(s) == "EmptyTheStageBucketsOnTeardown"));
    assert!(no_identity_can_delete_the_kept_data(&dev.deploy).is_err());
    no_resource_import(&dev.deploy).unwrap();
}

/// Only this account's CloudFormation may act as the execution role (`aws:SourceAccount`).
#[test]
fn the_execution_role_trusts_only_this_accounts_cloudformation() {
    let text = std::fs::read_to_string(crate::paths::root().join("xtask/tests/golden/dev/bootstrap.yaml")).unwrap();
    let bootstrap: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let trust = &bootstrap["Resources"]["ExecutionRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(trust["Principal"]["Service"].as_str(), Some("cloudformation.amazonaws.com"));
    let account = &trust["Condition"]["StringEquals"]["aws:SourceAccount"];
    assert!(matches!(account, serde_norway::Value::Tagged(t) if t.value.as_str() == Some("AWS::AccountId")), "{account:?}");
}

/// Every tag-on-create right (an allow whose only condition is the stack's tag in the request) is
/// fenced by a deny on resources another stack's tag already names.
fn no_tag_on_create_takes_another_stacks(doc: &Value, stack: &str) -> Result<(), String> {
    let tag = format!("aws:ResourceTag/{}", crate::stage::STACK_TAG);
    let fenced: Vec<&str> = statements(doc)
        .filter(|s| s["Effect"] == "Deny" && s["Resource"] == "*")
        .filter(|s| s["Condition"]["StringNotEquals"][&tag] == stack && s["Condition"]["Null"][&tag] == "false")
        .flat_map(|s| strings(&s["Action"]))
        .collect();
    for s in allows(doc) {
        let request_only =
            s["Condition"]["StringEquals"].as_object().is_some_and(|c| c.keys().all(|k| k.starts_with("aws:RequestTag/")));
        for action in
            strings(&s["Action"]).into_iter().filter(|a| a.contains("Tag") && !a.contains("Untag") && !a.contains("ListTags"))
        {
            if request_only && !fenced.contains(&action) {
                return Err(format!("{}: {action} may re-tag another stack's resource into this one", sid(s)));
            }
        }
    }
    Ok(())
}

#[test]
fn no_stage_can_tag_another_stacks_distribution_or_certificate() {
    for (id, d) in all() {
        no_tag_on_create_takes_another_stacks(&d.execution, id.stack()).unwrap_or_else(|e| panic!("{id}: {e}"));
    }
    let (id, prod) = documents_for("prod", None);
    let mut unfenced = prod.execution.clone();
    unfenced["Statement"].as_array_mut().unwrap().retain(|s| s["Sid"] != "NeverAnotherStacksResources");
    let e = no_tag_on_create_takes_another_stacks(&unfenced, id.stack()).unwrap_err();
    assert!(e.contains("cloudfront:TagResource") || e.contains("acm:AddTagsToCertificate"), "{e}");
}
