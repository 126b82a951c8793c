//! `cargo xtask policy <stage>`: the IAM policy a deploy role needs for this stage, derived from
//! the rendered templates' resource types plus what xtask itself calls. No action is a wildcard;
//! resources are the stage's names wherever the service can scope them.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use serde_norway::Value as Yaml;

use crate::flags::{Exit, PolicyArgs};
use crate::template::Rendered;
use crate::stage::Stage;

/// Where a group of actions may act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    StackBuckets,
    Queues,
    Tables,
    Keys,
    KeyAlias,
    Roles,
    Functions,
    EventSourceMappings,
    LogGroups,
    Topics,
    Alarms,
    CloudFront,
    HostedZone,
    ApiGateway,
    Certificates,
    /// Actions IAM cannot scope to a resource (creating keys and certificates, validation).
    Unscoped,
}

/// What CloudFormation does, with the deploy role's rights, for each resource type we use.
/// A template type missing here fails `policy`, `render --check`'s tests and `pipeline`.
const PERMISSIONS: &[(&str, Scope, &[&str])] = &[
    (
        "AWS::S3::Bucket",
        Scope::StackBuckets,
        &[
            "s3:CreateBucket",
            "s3:DeleteBucket",
            "s3:ListBucket",
            "s3:PutEncryptionConfiguration",
            "s3:GetEncryptionConfiguration",
            "s3:PutBucketPublicAccessBlock",
            "s3:GetBucketPublicAccessBlock",
            "s3:PutBucketOwnershipControls",
            "s3:GetBucketOwnershipControls",
            "s3:PutBucketVersioning",
            "s3:GetBucketVersioning",
            "s3:PutBucketLogging",
            "s3:GetBucketLogging",
            "s3:PutLifecycleConfiguration",
            "s3:GetLifecycleConfiguration",
            "s3:PutBucketCORS",
            "s3:GetBucketCORS",
            "s3:PutBucketNotification",
            "s3:GetBucketNotification",
            "s3:PutBucketTagging",
            "s3:GetBucketTagging",
            "s3:PutBucketAcl",
            "s3:GetBucketAcl",
        ],
    ),
    ("AWS::S3::BucketPolicy", Scope::StackBuckets, &["s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:DeleteBucketPolicy"]),
    (
        "AWS::SQS::Queue",
        Scope::Queues,
        &[
            "sqs:CreateQueue",
            "sqs:DeleteQueue",
            "sqs:GetQueueAttributes",
            "sqs:SetQueueAttributes",
            "sqs:TagQueue",
            "sqs:UntagQueue",
            "sqs:ListQueueTags",
        ],
    ),
    ("AWS::SQS::QueuePolicy", Scope::Queues, &["sqs:SetQueueAttributes", "sqs:GetQueueAttributes"]),
    (
        "AWS::DynamoDB::Table",
        Scope::Tables,
        &[
            "dynamodb:CreateTable",
            "dynamodb:DeleteTable",
            "dynamodb:DescribeTable",
            "dynamodb:UpdateTable",
            "dynamodb:TagResource",
            "dynamodb:UntagResource",
            "dynamodb:ListTagsOfResource",
            "dynamodb:UpdateContinuousBackups",
            "dynamodb:DescribeContinuousBackups",
            "dynamodb:DescribeTimeToLive",
        ],
    ),
    (
        "AWS::KMS::Key",
        Scope::Keys,
        &[
            "kms:DescribeKey",
            "kms:EnableKeyRotation",
            "kms:GetKeyRotationStatus",
            "kms:GetKeyPolicy",
            "kms:PutKeyPolicy",
            "kms:ScheduleKeyDeletion",
            "kms:TagResource",
            "kms:UntagResource",
            "kms:ListResourceTags",
            "kms:UpdateKeyDescription",
            "kms:CreateGrant",
            "kms:Decrypt",
            "kms:GenerateDataKey",
        ],
    ),
    ("AWS::KMS::Key", Scope::Unscoped, &["kms:CreateKey"]),
    ("AWS::KMS::Alias", Scope::KeyAlias, &["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]),
    (
        "AWS::IAM::Role",
        Scope::Roles,
        &[
            "iam:CreateRole",
            "iam:DeleteRole",
            "iam:GetRole",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:GetRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:UpdateAssumeRolePolicy",
        ],
    ),
    (
        "AWS::Lambda::Function",
        Scope::Functions,
        &[
            "lambda:CreateFunction",
            "lambda:DeleteFunction",
            "lambda:GetFunction",
            "lambda:GetFunctionConfiguration",
            "lambda:UpdateFunctionCode",
            "lambda:UpdateFunctionConfiguration",
            "lambda:TagResource",
            "lambda:UntagResource",
            "lambda:ListTags",
        ],
    ),
    ("AWS::Lambda::Permission", Scope::Functions, &["lambda:AddPermission", "lambda:RemovePermission"]),
    (
        "AWS::Lambda::EventSourceMapping",
        Scope::EventSourceMappings,
        &["lambda:DeleteEventSourceMapping", "lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"],
    ),
    ("AWS::Lambda::EventSourceMapping", Scope::Unscoped, &["lambda:CreateEventSourceMapping"]),
    (
        "AWS::Logs::LogGroup",
        Scope::LogGroups,
        &[
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:PutRetentionPolicy",
            "logs:DeleteRetentionPolicy",
            "logs:AssociateKmsKey",
            "logs:DisassociateKmsKey",
            "logs:TagResource",
            "logs:UntagResource",
            "logs:ListTagsForResource",
        ],
    ),
    ("AWS::Logs::LogGroup", Scope::Unscoped, &["logs:DescribeLogGroups"]),
    ("AWS::Logs::MetricFilter", Scope::LogGroups, &["logs:PutMetricFilter", "logs:DeleteMetricFilter"]),
    ("AWS::Logs::MetricFilter", Scope::Unscoped, &["logs:DescribeMetricFilters"]),
    (
        "AWS::SNS::Topic",
        Scope::Topics,
        &[
            "sns:CreateTopic",
            "sns:DeleteTopic",
            "sns:GetTopicAttributes",
            "sns:SetTopicAttributes",
            "sns:TagResource",
            "sns:UntagResource",
            "sns:ListTagsForResource",
        ],
    ),
    ("AWS::SNS::Subscription", Scope::Topics, &["sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes"]),
    (
        "AWS::CloudWatch::Alarm",
        Scope::Alarms,
        &[
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DeleteAlarms",
            "cloudwatch:DescribeAlarms",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
            "cloudwatch:ListTagsForResource",
        ],
    ),
    (
        "AWS::CloudFront::OriginAccessControl",
        Scope::CloudFront,
        &[
            "cloudfront:CreateOriginAccessControl",
            "cloudfront:DeleteOriginAccessControl",
            "cloudfront:GetOriginAccessControl",
            "cloudfront:UpdateOriginAccessControl",
        ],
    ),
    (
        "AWS::CloudFront::ResponseHeadersPolicy",
        Scope::CloudFront,
        &[
            "cloudfront:CreateResponseHeadersPolicy",
            "cloudfront:DeleteResponseHeadersPolicy",
            "cloudfront:GetResponseHeadersPolicy",
            "cloudfront:UpdateResponseHeadersPolicy",
        ],
    ),
    (
        "AWS::CloudFront::Distribution",
        Scope::CloudFront,
        &[
            "cloudfront:CreateDistribution",
            "cloudfront:DeleteDistribution",
            "cloudfront:GetDistribution",
            "cloudfront:GetDistributionConfig",
            "cloudfront:UpdateDistribution",
            "cloudfront:TagResource",
            "cloudfront:UntagResource",
            "cloudfront:ListTagsForResource",
        ],
    ),
    (
        "AWS::Route53::RecordSet",
        Scope::HostedZone,
        &["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets", "route53:GetHostedZone", "route53:GetChange"],
    ),
    (
        "AWS::ApiGatewayV2::Api",
        Scope::ApiGateway,
        &["apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:PUT", "apigateway:DELETE"],
    ),
    (
        "AWS::ApiGatewayV2::Stage",
        Scope::ApiGateway,
        &["apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"],
    ),
    (
        "AWS::ApiGatewayV2::Authorizer",
        Scope::ApiGateway,
        &["apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"],
    ),
    (
        "AWS::ApiGatewayV2::Integration",
        Scope::ApiGateway,
        &["apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"],
    ),
    (
        "AWS::ApiGatewayV2::Route",
        Scope::ApiGateway,
        &["apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"],
    ),
    (
        "AWS::CertificateManager::Certificate",
        Scope::Certificates,
        &[
            "acm:DescribeCertificate",
            "acm:DeleteCertificate",
            "acm:AddTagsToCertificate",
            "acm:RemoveTagsFromCertificate",
            "acm:ListTagsForCertificate",
        ],
    ),
    ("AWS::CertificateManager::Certificate", Scope::Unscoped, &["acm:RequestCertificate"]),
];

/// Names the policy's ARNs are built from. `account` may be `${AWS::AccountId}` (the pipeline
/// template substitutes it).
pub struct Names<'a> {
    pub stack: &'a str,
    pub region: &'a str,
    pub account: &'a str,
}

pub fn run(args: &PolicyArgs) -> Result<Exit> {
    let name = &args.target.stage;
    let stage = args.target.load()?;
    let rendered = crate::template::render_stack(&args.target.infra_dir(), name, &stage)?;
    let account = match &args.account {
        Some(account) => account.clone(),
        None => crate::aws::block_on(async { crate::aws::Aws::connect(&stage).await?.account().await })?,
    };
    let names = Names { stack: &rendered.stack_name, region: &stage.region.0, account: &account };
    let document = policy(&rendered, &stage, &names)?;
    println!("{}", serde_json::to_string_pretty(&document)?);
    if !args.json {
        eprintln!(
            "policy: {} statements, {} actions, {} bytes minified (IAM allows 10,240 per role's inline policies)",
            document["Statement"].as_array().map_or(0, Vec::len),
            action_count(&document),
            serde_json::to_string(&document)?.len()
        );
    }
    Ok(Exit::Success)
}

/// The deploy role's policy for this stage.
pub fn policy(rendered: &Rendered, stage: &Stage, names: &Names) -> Result<Value> {
    let mut types = BTreeSet::new();
    for (file, text) in rendered.files.iter().filter(|(n, _)| *n == "template.yaml" || *n == "certificate.yaml") {
        let template: Yaml = serde_norway::from_str(text).with_context(|| format!("parsing rendered {file}"))?;
        let resources =
            template.get("Resources").and_then(Yaml::as_mapping).with_context(|| format!("{file} has no Resources"))?;
        types.extend(resources.values().filter_map(|r| r.get("Type")?.as_str().map(str::to_string)));
    }
    let mut by_scope: BTreeMap<Scope, BTreeSet<&str>> = BTreeMap::new();
    for t in &types {
        let rows: Vec<_> = PERMISSIONS.iter().filter(|(pt, _, _)| pt == t).collect();
        if rows.is_empty() {
            bail!("xtask/src/policy.rs has no permissions for {t}, which the template uses: add them to PERMISSIONS");
        }
        for (_, scope, actions) in rows {
            by_scope.entry(*scope).or_default().extend(actions.iter().copied());
        }
    }
    let mut statements = own_calls(rendered, names);
    for (scope, actions) in by_scope {
        statements.push(statement(&format!("Stack{scope:?}"), actions, arns(scope, stage, names)));
    }
    // CloudFormation hands the functions their roles: only the stack's roles, only to Lambda.
    if types.contains("AWS::IAM::Role") {
        let mut pass = statement("PassStackRolesToLambda", ["iam:PassRole"].into(), arns(Scope::Roles, stage, names));
        pass["Condition"] = json!({ "StringEquals": { "iam:PassedToService": "lambda.amazonaws.com" } });
        statements.push(pass);
    }
    Ok(json!({ "Version": "2012-10-17", "Statement": statements }))
}

/// What xtask calls itself: change sets on the stage's stacks, the artifacts bucket, the site
/// sync and teardown on the stage's buckets, the invalidation.
fn own_calls(rendered: &Rendered, n: &Names) -> Vec<Value> {
    let (stack, region, account) = (n.stack, n.region, n.account);
    let mut stacks = vec![format!("arn:aws:cloudformation:{region}:{account}:stack/{stack}/*")];
    if rendered.file("certificate.yaml").is_some() {
        stacks.push(format!("arn:aws:cloudformation:us-east-1:{account}:stack/{stack}-certificate/*"));
    }
    let artifacts = format!("arn:aws:s3:::{}", crate::stage::artifacts_bucket(account, region));
    vec![
        statement(
            "ChangeSetsOnTheStageStacks",
            [
                "cloudformation:CreateChangeSet",
                "cloudformation:DescribeChangeSet",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:DeleteChangeSet",
                "cloudformation:DescribeStacks",
                "cloudformation:DescribeStackEvents",
                "cloudformation:DescribeStackResources",
                "cloudformation:ListStackResources",
                "cloudformation:GetTemplate",
                "cloudformation:DeleteStack",
            ]
            .into(),
            stacks,
        ),
        statement(
            "ValidateTemplatesAndWhoAmI",
            ["cloudformation:ValidateTemplate", "sts:GetCallerIdentity"].into(),
            vec!["*".into()],
        ),
        statement(
            "ArtifactsBucket",
            [
                "s3:CreateBucket",
                "s3:ListBucket",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketVersioning",
                "s3:PutBucketPolicy",
                "s3:PutLifecycleConfiguration",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutObject",
                "s3:GetObject",
            ]
            .into(),
            vec![artifacts.clone(), format!("{artifacts}/*")],
        ),
        statement(
            "SiteSyncAndTeardown",
            [
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:GetBucketObjectLockConfiguration",
            ]
            .into(),
            vec![format!("arn:aws:s3:::{stack}-*"), format!("arn:aws:s3:::{stack}-*/*")],
        ),
        statement(
            "InvalidateAfterDeploy",
            ["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"].into(),
            vec![format!("arn:aws:cloudfront::{account}:distribution/*")],
        ),
    ]
}

fn arns(scope: Scope, stage: &Stage, n: &Names) -> Vec<String> {
    let (stack, region, account) = (n.stack, n.region, n.account);
    match scope {
        Scope::StackBuckets => vec![format!("arn:aws:s3:::{stack}-*"), format!("arn:aws:s3:::{stack}-*/*")],
        Scope::Queues => vec![format!("arn:aws:sqs:{region}:{account}:{stack}-*")],
        Scope::Tables => vec![format!("arn:aws:dynamodb:{region}:{account}:table/{stack}-*")],
        // Keys have no names to scope by; the key policy (in the template) is what guards each one.
        Scope::Keys => vec![format!("arn:aws:kms:{region}:{account}:key/*")],
        Scope::KeyAlias => {
            vec![format!("arn:aws:kms:{region}:{account}:alias/{stack}"), format!("arn:aws:kms:{region}:{account}:key/*")]
        }
        Scope::Roles => vec![format!("arn:aws:iam::{account}:role/{stack}-*")],
        Scope::Functions => vec![format!("arn:aws:lambda:{region}:{account}:function:{stack}-*")],
        Scope::EventSourceMappings => vec![format!("arn:aws:lambda:{region}:{account}:event-source-mapping:*")],
        Scope::LogGroups => vec![
            format!("arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{stack}-*"),
            format!("arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{stack}-*:*"),
        ],
        Scope::Topics => vec![format!("arn:aws:sns:{region}:{account}:{stack}-*")],
        Scope::Alarms => vec![format!("arn:aws:cloudwatch:{region}:{account}:alarm:{stack}-*")],
        Scope::CloudFront => vec![
            format!("arn:aws:cloudfront::{account}:distribution/*"),
            format!("arn:aws:cloudfront::{account}:origin-access-control/*"),
            format!("arn:aws:cloudfront::{account}:response-headers-policy/*"),
        ],
        Scope::HostedZone => {
            let zone = stage.domain.as_ref().map_or_else(|| "*".to_string(), |d| d.hosted_zone_id.to_string());
            vec![format!("arn:aws:route53:::hostedzone/{zone}"), "arn:aws:route53:::change/*".into()]
        }
        Scope::ApiGateway => vec![
            format!("arn:aws:apigateway:{region}::/apis"),
            format!("arn:aws:apigateway:{region}::/apis/*"),
            format!("arn:aws:apigateway:{region}::/tags/*"),
        ],
        Scope::Certificates => vec![format!("arn:aws:acm:us-east-1:{account}:certificate/*")],
        Scope::Unscoped => vec!["*".into()],
    }
}

fn statement(sid: &str, actions: BTreeSet<&str>, resources: Vec<String>) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources })
}

fn action_count(document: &Value) -> usize {
    document["Statement"].as_array().into_iter().flatten().filter_map(|s| s["Action"].as_array()).map(Vec::len).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy_for(stage_name: &str) -> Value {
        let infra = crate::paths::infra();
        let stage = Stage::load(&infra, stage_name).unwrap();
        let rendered = crate::template::render_stack(&infra, stage_name, &stage).unwrap();
        let names = Names { stack: &rendered.stack_name, region: &stage.region.0, account: "123456789012" };
        policy(&rendered, &stage, &names).unwrap()
    }

    #[test]
    fn every_stage_gets_valid_iam_json_without_wildcard_actions() {
        for stage in ["dev", "prod", "local"] {
            let p = policy_for(stage);
            assert_eq!(p["Version"], "2012-10-17");
            let statements = p["Statement"].as_array().unwrap();
            let mut sids = BTreeSet::new();
            for s in statements {
                assert_eq!(s["Effect"], "Allow");
                let sid = s["Sid"].as_str().unwrap();
                assert!(sid.bytes().all(|b| b.is_ascii_alphanumeric()) && sids.insert(sid), "{stage}: bad or repeated Sid {sid}");
                let actions = s["Action"].as_array().unwrap();
                assert!(!actions.is_empty());
                for a in actions {
                    let a = a.as_str().unwrap();
                    let (service, name) = a.split_once(':').unwrap_or_else(|| panic!("{a}: not service:Action"));
                    assert!(
                        !service.is_empty() && !name.is_empty() && !a.contains('*'),
                        "{stage}: wildcard or malformed action {a}"
                    );
                }
                for r in s["Resource"].as_array().unwrap() {
                    let r = r.as_str().unwrap();
                    assert!(r == "*" || r.starts_with("arn:aws:"), "{stage}: {r}");
                }
            }
            let size = serde_json::to_string(&p).unwrap().len();
            assert!(size <= 10_240, "{stage}: {size} bytes is over IAM's inline policy limit");
        }
    }

    #[test]
    fn pass_role_is_limited_to_the_stack_roles_and_lambda() {
        let p = policy_for("prod");
        let pass = p["Statement"].as_array().unwrap().iter().find(|s| s["Action"] == json!(["iam:PassRole"])).unwrap();
        assert_eq!(pass["Resource"], json!(["arn:aws:iam::123456789012:role/thumbstack-prod-*"]));
        assert_eq!(pass["Condition"]["StringEquals"]["iam:PassedToService"], "lambda.amazonaws.com");
        // prod has a domain: its certificate stack and hosted zone are covered, and only those.
        let text = p.to_string();
        assert!(text.contains("stack/thumbstack-prod-certificate/*") && text.contains("hostedzone/Z0123456789EXAMPLE"), "{text}");
        assert!(text.contains("acm:RequestCertificate"));
        assert!(!policy_for("dev").to_string().contains("acm:"), "dev has no certificate");
    }

    #[test]
    fn a_resource_type_without_permissions_is_refused() {
        let infra = crate::paths::infra();
        let stage = Stage::load(&infra, "dev").unwrap();
        let mut rendered = crate::template::render_stack(&infra, "dev", &stage).unwrap();
        rendered.files[0].1 =
            rendered.files[0].1.replacen("Resources:\n", "Resources:\n  Extra:\n    Type: AWS::EC2::Instance\n", 1);
        let names = Names { stack: "s", region: "eu-west-1", account: "1" };
        let e = policy(&rendered, &stage, &names).unwrap_err().to_string();
        assert!(e.contains("AWS::EC2::Instance"), "{e}");
    }
}
