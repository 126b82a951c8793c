//! The three IAM documents of a stage's deploy path (the CDK
//! bootstrap pattern), derived from the rendered templates' resource types, the functions' own
//! role policies and what xtask itself calls:
//!
//! - **deploy**: what the CI role or user holds. No IAM write at all: it passes one role, the
//!   stage's execution role, to CloudFormation, and every change set runs under it.
//! - **execution**: what CloudFormation may do for the stage. It creates or changes a role only
//!   with the stage's boundary, only under the stack's role path, and never touches the boundary,
//!   the deploy policy or itself.
//! - **boundary**: the most any role the stack creates can do: the functions' actions on the
//!   stage's own resources, and no IAM.
//!
//! No allowed action is a wildcard; every resource pattern is the stage's own (its names cannot
//! overlap another stage's: `stage::name_part`), or a tag or ARN condition scopes it.

mod dns;
mod permissions;
mod roles;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use serde_norway::Value as Yaml;

use crate::stage::Stage;
use crate::stage::{Names, STACK_TAG};
use crate::template::Rendered;
use dns::Dns;
use permissions::{PERMISSIONS, Scope};
pub use roles::function_roles;

/// The stage's ARN patterns the documents grant on; every one is the stage's own (`StageId::resources`).
impl Names<'_> {
    /// The stack's buckets and their objects, each named whole.
    fn buckets(&self) -> Vec<String> {
        let buckets = crate::stage::STACK_BUCKETS.map(|kind| self.bucket(kind));
        let objects = buckets.iter().map(|b| format!("arn:aws:s3:::{b}/*"));
        buckets.iter().map(|b| format!("arn:aws:s3:::{b}")).chain(objects).collect()
    }
    fn tables(&self) -> String {
        format!("arn:aws:dynamodb:{}:{}:table/{}", self.region, self.account, self.id.resources())
    }
    fn queues(&self) -> String {
        format!("arn:aws:sqs:{}:{}:{}", self.region, self.account, self.id.resources())
    }
    fn topics(&self) -> String {
        format!("arn:aws:sns:{}:{}:{}", self.region, self.account, self.id.resources())
    }
    /// Any key id: a key has no name to scope by, so [`Names::tagged`] goes with it.
    fn keys(&self) -> String {
        format!("arn:aws:kms:{}:{}:key/*", self.region, self.account)
    }
    /// The functions' log groups (`/aws/lambda/<stack>-*`), and with `:*` their streams.
    fn log_groups(&self) -> [String; 2] {
        let group = format!("arn:aws:logs:{}:{}:log-group:/aws/lambda/{}", self.region, self.account, self.id.resources());
        [group.clone(), format!("{group}:*")]
    }
    /// `aws:ResourceTag/…` or `aws:RequestTag/…` ([`STACK_TAG`]) equal to the stack's name.
    fn tagged(&self, key: &str) -> Value {
        json!({ "StringEquals": { format!("aws:{key}/{STACK_TAG}"): self.id.stack() } })
    }
}

/// The three documents of one stage.
pub struct Documents {
    pub deploy: Value,
    pub execution: Value,
    pub boundary: Value,
}

/// What IAM holds, in characters without whitespace: a managed policy (so a boundary), and all of
/// a role's inline policies together.
pub const MANAGED_LIMIT: usize = 6_144;
pub const INLINE_LIMIT: usize = 10_240;

/// The execution document as IAM can hold it: the allows that fit in the role's inline policy, and
/// a managed policy with the guards (so it is never empty) and every allow after the first that
/// did not fit. Over both limits, the caller's size check fails.
pub fn split_execution(execution: &Value) -> (Value, Value) {
    let document = |statements: Vec<Value>| json!({ "Version": "2012-10-17", "Statement": statements });
    let all = execution["Statement"].as_array().cloned().unwrap_or_default();
    let (denies, allows): (Vec<Value>, Vec<Value>) = all.into_iter().partition(|s| s["Effect"] == "Deny");
    let mut inline = Vec::new();
    let mut more = denies;
    let mut full = false;
    for s in allows {
        let mut with = inline.clone();
        with.push(s.clone());
        if !full && minified_len(&document(with.clone())) <= INLINE_LIMIT {
            inline = with;
        } else {
            full = true;
            more.push(s);
        }
    }
    (document(inline), document(more))
}

/// IAM counts a policy's characters without whitespace.
pub fn minified_len(document: &Value) -> usize {
    serde_json::to_string(document).map_or(0, |s| s.len())
}

pub fn documents(rendered: &Rendered, stage: &Stage, names: &Names) -> Result<Documents> {
    let types = resource_types(rendered)?;
    let domain = stage.domain.as_ref().map(|d| d.name.to_string()).unwrap_or_default();
    let dns = Dns::of(&stack_templates(rendered)?, &domain);
    Ok(Documents {
        deploy: deploy(rendered, stage, names),
        execution: execution(&types, stage, &dns, names)?,
        boundary: boundary(rendered, names)?,
    })
}

/// The resource types of the stage's stacks that the execution role deploys.
fn resource_types(rendered: &Rendered) -> Result<BTreeSet<String>> {
    let mut types = BTreeSet::new();
    for (file, template) in stack_templates(rendered)? {
        let resources =
            template.get("Resources").and_then(Yaml::as_mapping).with_context(|| format!("{file} has no Resources"))?;
        types.extend(resources.values().filter_map(|r| r.get("Type")?.as_str().map(str::to_string)));
    }
    Ok(types)
}

fn stack_templates(rendered: &Rendered) -> Result<Vec<(&'static str, Yaml)>> {
    rendered
        .files
        .iter()
        .filter(|(n, _)| *n == "template.yaml" || rendered.us_east_1.iter().any(|c| c.file == *n))
        .map(|(file, text)| Ok((*file, serde_norway::from_str(text).with_context(|| format!("parsing rendered {file}"))?)))
        .collect()
}

/// CloudFormation's rights for the stage: each resource type's actions where they may act.
fn execution(types: &BTreeSet<String>, stage: &Stage, dns: &Dns, names: &Names) -> Result<Value> {
    let mut by_scope: BTreeMap<Scope, BTreeSet<&str>> = BTreeMap::new();
    for t in types {
        let rows: Vec<_> = PERMISSIONS.iter().filter(|(pt, _, _)| pt == t).collect();
        if rows.is_empty() {
            bail!("xtask/src/iam/permissions.rs has no permissions for {t}, which the template uses: add them to PERMISSIONS");
        }
        for (_, scope, actions) in rows {
            let kept = actions.iter().copied().filter(|a| !(stage.keeps_data() && DATA_DELETES.contains(a)));
            by_scope.entry(*scope).or_default().extend(kept);
        }
    }
    let mut statements = Vec::new();
    for (scope, actions) in by_scope {
        for (suffix, resources, condition) in grants(scope, stage, dns, names) {
            let mut s = statement(&format!("{scope:?}{suffix}"), actions.clone(), resources);
            if let Some(condition) = condition {
                s["Condition"] = condition;
            }
            statements.push(s);
        }
    }
    // Lambda reads each function's zip with the caller's rights: the stage's part of the bucket.
    statements.push(statement(
        "ReadTheStageArtifacts",
        ["s3:GetObject", "s3:GetObjectVersion"].into(),
        vec![artifacts_objects(names)],
    ));
    if types.contains("AWS::IAM::Role") {
        // The functions' roles to Lambda, and the deployment groups' to CodeDeploy.
        let mut services = vec!["lambda.amazonaws.com"];
        if types.contains("AWS::CodeDeploy::DeploymentGroup") {
            services.push("codedeploy.amazonaws.com");
        }
        let mut pass = statement("PassStackRoles", ["iam:PassRole"].into(), vec![names.stack_roles()]);
        pass["Condition"] = json!({ "StringEquals": { "iam:PassedToService": services } });
        statements.push(pass);
    }
    statements.extend(guards(names));
    statements.extend(data_guard(stage, names));
    Ok(json!({ "Version": "2012-10-17", "Statement": statements }))
}

/// Explicit denies, so no later allow (an administrator's, a new statement) can open these.
fn guards(names: &Names) -> Vec<Value> {
    let deny = |sid: &str, actions: &[&str], resources: Vec<String>| json!({ "Sid": sid, "Effect": "Deny", "Action": actions, "Resource": resources });
    vec![
        deny(
            "NeverTheBoundaryOrTheDeployPolicy",
            &[
                "iam:CreatePolicyVersion",
                "iam:DeletePolicy",
                "iam:DeletePolicyVersion",
                "iam:SetDefaultPolicyVersion",
                "iam:TagPolicy",
                "iam:UntagPolicy",
            ],
            vec![names.boundary(), names.deploy_policy()],
        ),
        deny(
            "NeverItself",
            &[
                "iam:AttachRolePolicy",
                "iam:DeleteRole",
                "iam:DeleteRolePermissionsBoundary",
                "iam:DeleteRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PassRole",
                "iam:PutRolePermissionsBoundary",
                "iam:PutRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
            ],
            vec![names.execution_role()],
        ),
        deny("NeverRemoveABoundary", &["iam:DeleteRolePermissionsBoundary"], vec![names.stack_roles()]),
        never_another_stacks_tagged(names),
    ]
}

/// Tagging a distribution or a certificate as it is created is allowed with the stack's tag in
/// the request alone: IAM cannot tell that call from tagging one that already exists. What it can
/// refuse is re-tagging a resource another stack's tag already names, so no stage's deploy takes
/// another stage's distribution or certificate into its own scope.
pub const TAG_ON_CREATE: [&str; 2] = ["cloudfront:TagResource", "acm:AddTagsToCertificate"];

fn never_another_stacks_tagged(n: &Names) -> Value {
    let tag = format!("aws:ResourceTag/{STACK_TAG}");
    json!({
        "Sid": "NeverAnotherStacksResources", "Effect": "Deny", "Action": TAG_ON_CREATE, "Resource": "*",
        "Condition": { "StringNotEquals": { &tag: n.id.stack() }, "Null": { &tag: "false" } },
    })
}

/// What no identity of a stage that keeps its data (`retention.on_delete: retain`, or
/// `protected`) may do to it: delete an object's versions, a bucket, the table, the key or the user
/// pool. Its stacks retain all of them, so CloudFormation never needs to; a leaked deploy key or a
/// hostile template then cannot wipe what the stage keeps.
const DATA_DELETES: [&str; 7] = [
    "s3:DeleteObjectVersion",
    "s3:DeleteBucket",
    "dynamodb:DeleteTable",
    "dynamodb:DeleteBackup",
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "cognito-idp:DeleteUserPool",
];

fn data_guard(stage: &Stage, n: &Names) -> Option<Value> {
    let mut resources = n.buckets();
    resources.extend([n.tables(), n.keys(), format!("arn:aws:cognito-idp:{}:{}:userpool/*", n.region, n.account)]);
    stage
        .keeps_data()
        .then(|| json!({ "Sid": "NeverDeleteTheStageData", "Effect": "Deny", "Action": DATA_DELETES, "Resource": resources }))
}

/// Where one scope's actions act: `(Sid suffix, resources, condition)`, one statement each.
fn grants(scope: Scope, stage: &Stage, dns: &Dns, n: &Names) -> Vec<(&'static str, Vec<String>, Option<Value>)> {
    let (stack, region, account) = (n.id.stack(), n.region, n.account);
    let tagged = |key: &str| Some(n.tagged(key));
    let one = |resources: Vec<String>| vec![("", resources, None)];
    match scope {
        Scope::StackBuckets => one(n.buckets()),
        Scope::Queues => one(vec![n.queues()]),
        Scope::Tables => one(vec![n.tables()]),
        Scope::Keys => vec![("", vec![n.keys()], tagged("ResourceTag"))],
        Scope::NewTagged => vec![("", vec!["*".into()], tagged("RequestTag"))],
        // An alias names its key: both are checked, the key by its tag.
        Scope::KeyAlias => vec![
            ("", vec![format!("arn:aws:kms:{region}:{account}:alias/{stack}")], None),
            ("OfTheStackKey", vec![n.keys()], tagged("ResourceTag")),
        ],
        Scope::RolesWithBoundary => {
            vec![("", vec![n.stack_roles()], Some(json!({ "ArnEquals": { "iam:PermissionsBoundary": n.boundary() } })))]
        }
        Scope::BoundedRoles | Scope::RolesRead => one(vec![n.stack_roles()]),
        Scope::Functions => one(vec![format!("arn:aws:lambda:{region}:{account}:function:{stack}-*")]),
        Scope::EventSourceMappings => vec![(
            "",
            vec![format!("arn:aws:lambda:{region}:{account}:event-source-mapping:*")],
            Some(json!({ "ArnLike": { "lambda:FunctionArn": format!("arn:aws:lambda:{region}:{account}:function:{stack}-*") } })),
        )],
        // Creating a mapping names no resource IAM knows yet: only the function condition holds.
        Scope::NewEventSourceMappings => vec![(
            "",
            vec!["*".into()],
            Some(json!({ "ArnLike": { "lambda:FunctionArn": format!("arn:aws:lambda:{region}:{account}:function:{stack}-*") } })),
        )],
        Scope::LogGroups => one(n.log_groups().into()),
        Scope::Topics => one(vec![n.topics()]),
        Scope::Releases => one(vec![
            format!("arn:aws:codedeploy:{region}:{account}:application:{stack}"),
            format!("arn:aws:codedeploy:{region}:{account}:deploymentgroup:{stack}/{stack}-*"),
        ]),
        Scope::RolloutConfig => {
            one(vec![format!("arn:aws:codedeploy:{region}:{account}:deploymentconfig:{}", stage.rollout().config_name())])
        }
        Scope::Alarms => one(vec![format!("arn:aws:cloudwatch:{region}:{account}:alarm:{stack}-*")]),
        Scope::Distributions => {
            vec![("", vec![format!("arn:aws:cloudfront::{account}:distribution/*")], tagged("ResourceTag"))]
        }
        Scope::NewDistributions => {
            vec![("", vec![format!("arn:aws:cloudfront::{account}:distribution/*")], tagged("RequestTag"))]
        }
        Scope::CloudFrontPolicies => one(vec![
            format!("arn:aws:cloudfront::{account}:origin-access-control/*"),
            format!("arn:aws:cloudfront::{account}:response-headers-policy/*"),
            format!("arn:aws:cloudfront::{account}:cache-policy/*"),
        ]),
        // Only the stage's own zone, and nothing at all for a stage without a domain.
        Scope::HostedZone => match &stage.domain {
            Some(d) => {
                one(vec![format!("arn:aws:route53:::hostedzone/{}", d.hosted_zone_id), "arn:aws:route53:::change/*".into()])
            }
            None => vec![],
        },
        // Each statement's names and types must all be the stage's (`ForAllValues`), and a write
        // must name some (`Null`): the aliases CloudFront answers on, and ACM's validation records.
        Scope::RecordSets => {
            let Some(d) = &stage.domain else { return vec![] };
            let zone = vec![format!("arn:aws:route53:::hostedzone/{}", d.hosted_zone_id)];
            let only = |names: Vec<&str>, types: Vec<&str>| {
                Some(json!({
                    "ForAllValues:StringLike": { "route53:ChangeResourceRecordSetsNormalizedRecordNames": names },
                    "ForAllValues:StringEquals": { "route53:ChangeResourceRecordSetsRecordTypes": types },
                    "Null": { "route53:ChangeResourceRecordSetsNormalizedRecordNames": "false" },
                }))
            };
            let mut grants = vec![("Aliases", zone.clone(), only(dns.record_names(), dns.record_types()))];
            if !dns.validation.is_empty() {
                grants.push(("Validation", zone, only(dns.validation.iter().map(String::as_str).collect(), vec!["CNAME"])));
            }
            grants
        }
        Scope::NewCertificates => {
            let mut condition = n.tagged("RequestTag");
            condition["ForAllValues:StringEquals"] = json!({ "acm:DomainNames": dns.certified });
            condition["Null"] = json!({ "acm:DomainNames": "false" });
            vec![("", vec!["*".into()], Some(condition))]
        }
        Scope::Apis => vec![(
            "",
            vec![format!("arn:aws:apigateway:{region}::/apis/*"), format!("arn:aws:apigateway:{region}::/tags/*")],
            tagged("ResourceTag"),
        )],
        Scope::NewApis => vec![("", vec![format!("arn:aws:apigateway:{region}::/apis")], tagged("RequestTag"))],
        Scope::Certificates => {
            vec![("", vec![format!("arn:aws:acm:us-east-1:{account}:certificate/*")], tagged("ResourceTag"))]
        }
        Scope::TagNewCertificates => {
            vec![("", vec![format!("arn:aws:acm:us-east-1:{account}:certificate/*")], tagged("RequestTag"))]
        }
        Scope::Secrets => one(vec![format!("arn:aws:secretsmanager:{region}:{account}:secret:{}", n.id.resources())]),
        Scope::WebAcls => one(vec![format!("arn:aws:wafv2:us-east-1:{account}:global/webacl/{}/*", n.id.resources())]),
        Scope::UserPools => {
            vec![("", vec![format!("arn:aws:cognito-idp:{region}:{account}:userpool/*")], tagged("ResourceTag"))]
        }
        Scope::Unscoped | Scope::UnscopedWrites => one(vec!["*".into()]),
    }
}

fn artifacts_objects(n: &Names) -> String {
    format!("arn:aws:s3:::{}/{}*", n.artifacts_bucket(), n.id.artifacts_prefix())
}

/// What the deploy identity calls itself: change sets on the stage's stacks under the execution
/// role, the stage's part of the artifacts bucket, the site sync and teardown on the stage's
/// buckets, the invalidation. No IAM write.
fn deploy(rendered: &Rendered, stage: &Stage, n: &Names) -> Value {
    let (stack, region, account) = (n.id.stack(), n.region, n.account);
    let mut stacks = vec![n.stack_arn(region, stack)];
    stacks.extend(rendered.us_east_1.iter().map(|c| n.stack_arn("us-east-1", &c.stack)));
    let bucket = format!("arn:aws:s3:::{}", n.artifacts_bucket());
    // A protected stage's stacks get their stack policy and termination protection after each
    // change set, and lose the protection only in a teardown its operator confirmed by name.
    let protected = rendered.file(crate::template::STACK_POLICY).is_some();
    let mut through_role = statement(
        "ChangesRunAsTheExecutionRole",
        ["cloudformation:CreateChangeSet", "cloudformation:DeleteStack"].into(),
        stacks.clone(),
    );
    through_role["Condition"] = json!({ "ArnEquals": { "cloudformation:RoleArn": n.execution_role() } });
    // An import would put a resource of any stage (prod's headers policy, say) under this stack.
    let no_import = json!({
        "Sid": "NoResourceImport", "Effect": "Deny", "Action": "cloudformation:CreateChangeSet", "Resource": "*",
        "Condition": { "Null": { "cloudformation:ImportResourceTypes": "false" } },
    });
    let mut pass = statement("PassTheExecutionRole", ["iam:PassRole"].into(), vec![n.execution_role()]);
    pass["Condition"] = json!({ "StringEquals": { "iam:PassedToService": "cloudformation.amazonaws.com" } });
    // Read only: teardown looks for them; an administrator made them and only one may remove them.
    let mut readable = stacks.clone();
    readable.push(n.stack_arn(region, &n.id.bootstrap_stack()));
    readable.push(n.stack_arn(region, &n.id.pipeline_stack()));
    let mut invalidate = statement(
        "InvalidateAfterDeploy",
        ["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"].into(),
        vec![format!("arn:aws:cloudfront::{account}:distribution/*")],
    );
    invalidate["Condition"] = n.tagged("ResourceTag");
    let mut statements = vec![
        through_role,
        pass,
        statement(
            "ChangeSetsOnTheStageStacks",
            [
                "cloudformation:DescribeChangeSet",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:DeleteChangeSet",
                "cloudformation:DescribeStackEvents",
                "cloudformation:DescribeStackResources",
                "cloudformation:ListStackResources",
                "cloudformation:GetTemplate",
            ]
            .into_iter()
            .chain(
                protected
                    .then_some(["cloudformation:SetStackPolicy", "cloudformation:UpdateTerminationProtection"])
                    .into_iter()
                    .flatten(),
            )
            .collect(),
            stacks,
        ),
        statement("ReadTheStageStacks", ["cloudformation:DescribeStacks"].into(), readable),
        statement(
            "ValidateTemplatesAndWhoAmI",
            ["cloudformation:ValidateTemplate", "sts:GetCallerIdentity"].into(),
            vec!["*".into()],
        ),
        statement("FindTheArtifactsBucket", ["s3:ListBucket"].into(), vec![bucket]),
        statement(
            "TheStageArtifacts",
            ["s3:PutObject", "s3:GetObject", "s3:GetObjectVersion"].into(),
            vec![artifacts_objects(n)],
        ),
        statement(
            "SiteSync",
            ["s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"].into(),
            vec![format!("arn:aws:s3:::{stack}-assets-*"), format!("arn:aws:s3:::{stack}-assets-*/*")],
        ),
        invalidate,
        no_import,
    ];
    // Only a stage whose buckets go with its stack is emptied by teardown; one that keeps its data
    // gives no identity of its deploy path a way to delete it.
    match data_guard(stage, n) {
        Some(guard) => statements.push(guard),
        None => statements.push(statement(
            "EmptyTheStageBucketsOnTeardown",
            ["s3:ListBucketVersions", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:GetBucketObjectLockConfiguration"].into(),
            n.buckets(),
        )),
    }
    // `deploy` follows the functions' rollouts in the stack's own CodeDeploy application (reads only).
    if rendered.file("template.yaml").is_some_and(|t| t.contains("Type: AWS::CodeDeploy::Application")) {
        statements.push(statement(
            "FollowTheRollouts",
            [
                "codedeploy:ListDeploymentGroups",
                "codedeploy:GetDeploymentGroup",
                "codedeploy:ListDeployments",
                "codedeploy:GetDeployment",
            ]
            .into(),
            vec![
                format!("arn:aws:codedeploy:{region}:{account}:application:{stack}"),
                format!("arn:aws:codedeploy:{region}:{account}:deploymentgroup:{stack}/{stack}-*"),
            ],
        ));
    }
    // `deploy --hotswap`, refused on a protected stage, so its deploy policy has no Lambda write.
    let has_functions = rendered.file("template.yaml").is_some_and(|t| t.contains("Type: AWS::Lambda::Function"));
    if has_functions && !protected {
        statements.push(statement(
            "HotswapFunctionCode",
            ["lambda:UpdateFunctionCode", "lambda:GetFunctionConfiguration", "lambda:PublishVersion", "lambda:UpdateAlias"]
                .into(),
            vec![format!("arn:aws:lambda:{region}:{account}:function:{stack}-*")],
        ));
    }
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// The boundary: every action the template's roles allow themselves (`roles::function_roles`),
/// on the stage's own resources of that service. A function role can never exceed it, whatever its
/// policy says.
/// What the roles call that IAM scopes to no resource: X-Ray's two telemetry writes, and the
/// hook's report to CodeDeploy (SECURITY.md, "What IAM cannot scope").
const WITHOUT_RESOURCE: [&str; 3] =
    ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "codedeploy:PutLifecycleEventHookExecutionStatus"];

fn boundary(rendered: &Rendered, n: &Names) -> Result<Value> {
    let template = rendered.file("template.yaml").context("render wrote no template.yaml")?;
    let mut by_service: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (_, document) in function_roles(template, n)? {
        for s in document["Statement"].as_array().into_iter().flatten() {
            let actions = match &s["Action"] {
                Value::String(a) => vec![a.as_str()],
                Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            for action in actions {
                let service = action.split_once(':').map(|(s, _)| s.to_string()).unwrap_or_default();
                let service = if WITHOUT_RESOURCE.contains(&action) { "unscoped".to_string() } else { service };
                by_service.entry(service).or_default().insert(action.to_string());
            }
        }
    }
    let mut statements = Vec::new();
    for (service, actions) in by_service {
        let (resources, condition) = match service.as_str() {
            "s3" => (n.buckets(), None),
            // The table and the indexes the api queries.
            "dynamodb" => (vec![n.tables(), format!("{}/index/*", n.tables())], None),
            "sqs" => (vec![n.queues()], None),
            "sns" => (vec![n.topics()], None),
            "logs" => (vec![n.log_groups()[1].clone()], None),
            "kms" => (vec![n.keys()], Some(n.tagged("ResourceTag"))),
            // CodeDeploy's role moves the stack's aliases and reads its alarms.
            "lambda" => (vec![format!("arn:aws:lambda:{}:{}:function:{}", n.region, n.account, n.id.resources())], None),
            "cloudwatch" => (vec![format!("arn:aws:cloudwatch:{}:{}:alarm:{}", n.region, n.account, n.id.resources())], None),
            // The pre-traffic hook reads its deployment and reports on it.
            "codedeploy" => (
                vec![format!(
                    "arn:aws:codedeploy:{}:{}:deploymentgroup:{}/{}-*",
                    n.region,
                    n.account,
                    n.id.stack(),
                    n.id.stack()
                )],
                None,
            ),
            // The api tells the stage's distribution to forget a deleted photo's thumbnail.
            "cloudfront" => (vec![format!("arn:aws:cloudfront::{}:distribution/*", n.account)], Some(n.tagged("ResourceTag"))),
            // The api deletes a deleted account's user from the stage's pool.
            "cognito-idp" => {
                (vec![format!("arn:aws:cognito-idp:{}:{}:userpool/*", n.region, n.account)], Some(n.tagged("ResourceTag")))
            }
            "unscoped" => (vec!["*".into()], None),
            other => bail!("a function role uses {other}:…, which the boundary has no stage scope for: add it in policy.rs"),
        };
        let mut s =
            statement(&format!("Functions{}", capitalised(&service)), actions.iter().map(String::as_str).collect(), resources);
        if let Some(condition) = condition {
            s["Condition"] = condition;
        }
        statements.push(s);
    }
    Ok(json!({ "Version": "2012-10-17", "Statement": statements }))
}

/// `cognito-idp` → `CognitoIdp`: a Sid takes letters and digits only.
fn capitalised(s: &str) -> String {
    s.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

fn statement(sid: &str, actions: BTreeSet<&str>, resources: Vec<String>) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources })
}

pub fn action_count(document: &Value) -> usize {
    document["Statement"].as_array().into_iter().flatten().filter_map(|s| s["Action"].as_array()).map(Vec::len).sum()
}

#[cfg(test)]
mod tests;
