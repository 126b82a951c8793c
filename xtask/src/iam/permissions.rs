//! What CloudFormation does, under the stage's execution role, for each resource type the
//! templates use, and where each group of actions may act.

/// Where a group of actions may act, and on what condition ([`super::grants`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Scope {
    StackBuckets,
    Queues,
    Tables,
    /// Existing keys: any key id, but only one tagged with the stack (`aws:ResourceTag`).
    Keys,
    /// Creating a key, a certificate, a user pool: they have random ids, so only with the stack's
    /// tag in the request (`aws:RequestTag`). One statement for all.
    NewTagged,
    KeyAlias,
    /// Role writes IAM conditions on `iam:PermissionsBoundary`: only with the stage's boundary,
    /// only under the stack's role path `/<stack>/`.
    RolesWithBoundary,
    /// Role writes IAM cannot condition on the boundary: only under the stack's role path, where
    /// a role comes into being only with the boundary and never loses it.
    BoundedRoles,
    RolesRead,
    Functions,
    /// Mappings have random ids; `lambda:FunctionArn` names the stack's functions.
    EventSourceMappings,
    NewEventSourceMappings,
    LogGroups,
    /// The stack's CodeDeploy application and its deployment groups.
    Releases,
    /// The predefined configuration the stage rolls out with: AWS's, the same for every stage, read only.
    RolloutConfig,
    Topics,
    Alarms,
    Distributions,
    NewDistributions,
    /// Origin access controls, cache and response-headers policies take no tags and have random
    /// ids: IAM cannot scope them (SECURITY.md says so).
    CloudFrontPolicies,
    /// Reads of the stage's hosted zone.
    HostedZone,
    /// Record writes: only the names and types the stacks' templates write (`iam::Dns`), so no
    /// deploy can touch the apex, MX or any other name in the zone.
    RecordSets,
    Apis,
    NewApis,
    Certificates,
    /// Tagging a certificate while it is requested: only with the stack's tag.
    TagNewCertificates,
    /// Requesting a certificate: with the stack's tag, and only for the names the templates ask for.
    NewCertificates,
    /// The stage's web ACL (`<stack>-web`, in us-east-1 for CloudFront), by its name.
    WebAcls,
    /// The stage's secrets (`<stack>-*`), by their names.
    Secrets,
    /// User pools (and their clients, domains and login styles, which IAM names by their pool):
    /// random ids, so only one tagged with the stack.
    UserPools,
    /// Read-only calls IAM cannot scope to a resource.
    Unscoped,
    /// Writes IAM cannot scope to a resource or condition at all (SECURITY.md lists them).
    UnscopedWrites,
}

/// What CloudFormation does, with the deploy role's rights, for each resource type we use.
/// A template type missing here fails `policy`, `render --check`'s tests and `pipeline`.
pub(super) const PERMISSIONS: &[(&str, Scope, &[&str])] = &[
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
            "s3:PutBucketObjectLockConfiguration",
            "s3:GetBucketObjectLockConfiguration",
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
    ("AWS::KMS::Key", Scope::NewTagged, &["kms:CreateKey"]),
    ("AWS::KMS::Alias", Scope::KeyAlias, &["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"]),
    (
        "AWS::IAM::Role",
        Scope::RolesWithBoundary,
        &["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary"],
    ),
    ("AWS::IAM::Role", Scope::BoundedRoles, &["iam:DeleteRole", "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy"]),
    ("AWS::IAM::Role", Scope::RolesRead, &["iam:GetRole", "iam:GetRolePolicy"]),
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
    ("AWS::Lambda::Version", Scope::Functions, &["lambda:PublishVersion", "lambda:ListVersionsByFunction"]),
    // CloudFormation hands an alias with `CodeDeployLambdaAliasUpdate` to CodeDeploy.
    (
        "AWS::Lambda::Alias",
        Scope::Functions,
        &["lambda:CreateAlias", "lambda:UpdateAlias", "lambda:DeleteAlias", "lambda:GetAlias"],
    ),
    (
        "AWS::Lambda::Alias",
        Scope::Releases,
        &["codedeploy:CreateDeployment", "codedeploy:GetDeployment", "codedeploy:RegisterApplicationRevision"],
    ),
    ("AWS::Lambda::Alias", Scope::RolloutConfig, &["codedeploy:GetDeploymentConfig"]),
    (
        "AWS::CodeDeploy::Application",
        Scope::Releases,
        &["codedeploy:CreateApplication", "codedeploy:DeleteApplication", "codedeploy:GetApplication"],
    ),
    (
        "AWS::CodeDeploy::DeploymentGroup",
        Scope::Releases,
        &[
            "codedeploy:CreateDeploymentGroup",
            "codedeploy:DeleteDeploymentGroup",
            "codedeploy:GetDeploymentGroup",
            "codedeploy:UpdateDeploymentGroup",
        ],
    ),
    (
        "AWS::Lambda::EventSourceMapping",
        Scope::EventSourceMappings,
        &["lambda:DeleteEventSourceMapping", "lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"],
    ),
    ("AWS::Lambda::EventSourceMapping", Scope::NewEventSourceMappings, &["lambda:CreateEventSourceMapping"]),
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
    ("AWS::Logs::MetricFilter", Scope::LogGroups, &["logs:DescribeMetricFilters"]),
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
    ("AWS::SNS::Subscription", Scope::Topics, &["sns:Subscribe"]),
    // A subscription's ARN is not a resource IAM scopes: removing or reading one takes `*`.
    ("AWS::SNS::Subscription", Scope::UnscopedWrites, &["sns:Unsubscribe", "sns:GetSubscriptionAttributes"]),
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
        "AWS::CloudFront::CachePolicy",
        Scope::CloudFrontPolicies,
        &[
            "cloudfront:CreateCachePolicy",
            "cloudfront:DeleteCachePolicy",
            "cloudfront:GetCachePolicy",
            "cloudfront:UpdateCachePolicy",
        ],
    ),
    ("AWS::CloudFront::OriginAccessControl", Scope::UnscopedWrites, &["cloudfront:CreateOriginAccessControl"]),
    (
        "AWS::CloudFront::OriginAccessControl",
        Scope::CloudFrontPolicies,
        &["cloudfront:DeleteOriginAccessControl", "cloudfront:GetOriginAccessControl", "cloudfront:UpdateOriginAccessControl"],
    ),
    (
        "AWS::CloudFront::ResponseHeadersPolicy",
        Scope::CloudFrontPolicies,
        &[
            "cloudfront:CreateResponseHeadersPolicy",
            "cloudfront:DeleteResponseHeadersPolicy",
            "cloudfront:GetResponseHeadersPolicy",
            "cloudfront:UpdateResponseHeadersPolicy",
        ],
    ),
    ("AWS::CloudFront::Distribution", Scope::NewDistributions, &["cloudfront:CreateDistribution", "cloudfront:TagResource"]),
    (
        "AWS::CloudFront::Distribution",
        Scope::Distributions,
        &[
            "cloudfront:DeleteDistribution",
            "cloudfront:GetDistribution",
            "cloudfront:GetDistributionConfig",
            "cloudfront:UpdateDistribution",
            "cloudfront:UntagResource",
            "cloudfront:ListTagsForResource",
        ],
    ),
    (
        "AWS::Route53::RecordSet",
        Scope::HostedZone,
        &["route53:ListResourceRecordSets", "route53:GetHostedZone", "route53:GetChange"],
    ),
    ("AWS::Route53::RecordSet", Scope::RecordSets, &["route53:ChangeResourceRecordSets"]),
    (
        "AWS::ApiGatewayV2::Api",
        Scope::Apis,
        &["apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:PUT", "apigateway:DELETE"],
    ),
    ("AWS::ApiGatewayV2::Api", Scope::NewApis, &["apigateway:POST"]),
    ("AWS::ApiGatewayV2::Stage", Scope::Apis, &["apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"]),
    (
        "AWS::ApiGatewayV2::Authorizer",
        Scope::Apis,
        &["apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"],
    ),
    (
        "AWS::ApiGatewayV2::Integration",
        Scope::Apis,
        &["apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"],
    ),
    ("AWS::ApiGatewayV2::Route", Scope::Apis, &["apigateway:POST", "apigateway:GET", "apigateway:PATCH", "apigateway:DELETE"]),
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
    ("AWS::CertificateManager::Certificate", Scope::NewCertificates, &["acm:RequestCertificate"]),
    // Its tags ride on CreateUserPool; TagResource stays with pools already the stack's, so no
    // template can tag another pool into the stage.
    ("AWS::Cognito::UserPool", Scope::NewTagged, &["cognito-idp:CreateUserPool"]),
    (
        "AWS::Cognito::UserPool",
        Scope::UserPools,
        &[
            "cognito-idp:DescribeUserPool",
            "cognito-idp:UpdateUserPool",
            "cognito-idp:DeleteUserPool",
            "cognito-idp:GetUserPoolMfaConfig",
            "cognito-idp:SetUserPoolMfaConfig",
            "cognito-idp:TagResource",
            "cognito-idp:UntagResource",
            "cognito-idp:ListTagsForResource",
        ],
    ),
    (
        "AWS::Cognito::UserPoolClient",
        Scope::UserPools,
        &[
            "cognito-idp:CreateUserPoolClient",
            "cognito-idp:DescribeUserPoolClient",
            "cognito-idp:UpdateUserPoolClient",
            "cognito-idp:DeleteUserPoolClient",
        ],
    ),
    (
        "AWS::Cognito::UserPoolDomain",
        Scope::UserPools,
        &["cognito-idp:CreateUserPoolDomain", "cognito-idp:UpdateUserPoolDomain", "cognito-idp:DeleteUserPoolDomain"],
    ),
    ("AWS::Cognito::UserPoolDomain", Scope::Unscoped, &["cognito-idp:DescribeUserPoolDomain"]),
    ("AWS::CertificateManager::Certificate", Scope::TagNewCertificates, &["acm:AddTagsToCertificate"]),
    (
        "AWS::WAFv2::WebACL",
        Scope::WebAcls,
        &[
            "wafv2:CreateWebACL",
            "wafv2:GetWebACL",
            "wafv2:UpdateWebACL",
            "wafv2:DeleteWebACL",
            "wafv2:TagResource",
            "wafv2:UntagResource",
            "wafv2:ListTagsForResource",
        ],
    ),
    // A distribution names its web ACL (`WebACLId`): CloudFront reads it with the caller's rights.
    ("AWS::CloudFront::Distribution", Scope::WebAcls, &["wafv2:GetWebACL"]),
    // CloudFormation also reads it, to resolve the `{{resolve:secretsmanager:…}}` that uses it.
    (
        "AWS::SecretsManager::Secret",
        Scope::Secrets,
        &[
            "secretsmanager:CreateSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
            "secretsmanager:UpdateSecret",
            "secretsmanager:TagResource",
            "secretsmanager:UntagResource",
        ],
    ),
    // `GenerateSecretString` draws the value; IAM names no resource for it.
    ("AWS::SecretsManager::Secret", Scope::Unscoped, &["secretsmanager:GetRandomPassword"]),
];
