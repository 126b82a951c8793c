//! The artifacts bucket: one per account and region, created by `bootstrap` (private, encrypted,
//! versioned, TLS only). Each stage writes only under `<stack>/` (its deploy policy says so), zips
//! are stored under their sha256, so an unchanged function is never uploaded twice, and the
//! template pins each zip's S3 version, so no later write to a key changes what runs. Every
//! request names the account that must own the bucket (`ExpectedBucketOwner`): a bucket someone
//! else created under the predictable name is refused, never written to or read from.

use anyhow::{Context, Result, bail};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, ExpirationStatus, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule, VersioningConfiguration,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::aws::{AwsContext, code};
use crate::build::Artifact;
use crate::cfn::release::{Stored, Zip};
use crate::stage::StageId;

/// CloudFormation takes a template body up to this size; larger ones go through the bucket.
pub const TEMPLATE_BODY_LIMIT: usize = 51_200;

#[derive(Debug, Clone, Serialize)]
pub struct Uploaded {
    pub function: String,
    pub key: String,
    /// The S3 version the template pins.
    pub version_id: String,
    pub sha256: String,
    pub bytes: u64,
    /// False when the bucket already held this exact zip.
    pub uploaded: bool,
}

/// Whether `account`'s bucket exists: `false` when there is none; an error, saying so, when the
/// name is another account's (S3 answers 403 to a request whose expected owner is wrong).
pub async fn exists(s3: &Client, bucket: &str, account: &str) -> Result<bool> {
    match s3.head_bucket().bucket(bucket).expected_bucket_owner(account).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => bail!(
            "the artifacts bucket {bucket} exists but is not this account's ({account}), or these credentials may not \
             list it. Someone else may own the name: nothing was uploaded. Delete or rename that bucket, or deploy \
             from another region"
        ),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
        Err(e) => Err(e).aws(&format!("checking the artifacts bucket {bucket}")),
    }
}

/// Creates the bucket unless it exists; returns whether it was created. `tls_only` adds the
/// policy that denies plain HTTP (off for the emulator, which only speaks plain HTTP and
/// enforces bucket policies).
pub async fn ensure_bucket(s3: &Client, bucket: &str, account: &str, region: &str, tls_only: bool) -> Result<bool> {
    if exists(s3, bucket, account).await? {
        return Ok(false);
    }
    let mut create = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        let constraint = BucketLocationConstraint::from(region);
        create = create.create_bucket_configuration(CreateBucketConfiguration::builder().location_constraint(constraint).build());
    }
    match create.send().await {
        Ok(_) => {}
        Err(e) if code(&e) == Some("BucketAlreadyOwnedByYou") => return Ok(false),
        Err(e) => return Err(e).aws(&format!("creating the artifacts bucket {bucket}")),
    }
    let block_all = PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build();
    s3.put_public_access_block()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .public_access_block_configuration(block_all)
        .send()
        .await
        .aws("blocking public access")?;
    let sse = ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256).build()?;
    let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(sse).bucket_key_enabled(true).build();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .server_side_encryption_configuration(ServerSideEncryptionConfiguration::builder().rules(rule).build()?)
        .send()
        .await
        .aws("enabling encryption")?;
    s3.put_bucket_versioning()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .aws("enabling versioning")?;
    let tidy = LifecycleRule::builder()
        .id("tidy")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(30).build())
        .abort_incomplete_multipart_upload(AbortIncompleteMultipartUpload::builder().days_after_initiation(1).build())
        .build()?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .lifecycle_configuration(BucketLifecycleConfiguration::builder().rules(tidy).build()?)
        .send()
        .await
        .aws("setting the lifecycle")?;
    if !tls_only {
        return Ok(true);
    }
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    });
    s3.put_bucket_policy()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .policy(policy.to_string())
        .send()
        .await
        .aws("setting the TLS-only policy")?;
    Ok(true)
}

/// Uploads each zip as `<stack>/<function>/<sha256>.zip` unless the bucket has it already;
/// either way the result names the version the template pins.
pub async fn upload(s3: &Client, bucket: &str, account: &str, id: &StageId, artifacts: &[Artifact]) -> Result<Vec<Uploaded>> {
    let mut done = Vec::new();
    for a in artifacts {
        let key = format!("{}{}/{}.zip", id.artifacts_prefix(), a.function, a.sha256);
        let body = ByteStream::from_path(&a.zip).await?;
        let (version, uploaded) = put_once(s3, bucket, account, &key, body, "application/zip")
            .await
            .with_context(|| format!("uploading {}", a.zip.display()))?;
        done.push(Uploaded {
            function: a.function.clone(),
            key,
            version_id: version,
            sha256: a.sha256.clone(),
            bytes: a.zip_bytes,
            uploaded,
        });
    }
    Ok(done)
}

/// Puts `key` unless it exists; returns its version id and whether it was written now. A bucket
/// without versioning (not one `ensure_bucket` made) is refused: nothing could be pinned.
async fn put_once(
    s3: &Client,
    bucket: &str,
    account: &str,
    key: &str,
    body: ByteStream,
    content_type: &str,
) -> Result<(String, bool)> {
    let found = s3.head_object().bucket(bucket).key(key).expected_bucket_owner(account).send().await;
    let (version, uploaded) = match found {
        Ok(head) => (head.version_id().map(str::to_string), false),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
            let put = s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .expected_bucket_owner(account)
                .content_type(content_type)
                .body(body)
                .send()
                .await
                .aws(&format!("writing s3://{bucket}/{key}"))?;
            (put.version_id().map(str::to_string), true)
        }
        Err(e) => return Err(e).aws(&format!("checking s3://{bucket}/{key}")),
    };
    match version {
        Some(v) if v != "null" => Ok((v, uploaded)),
        _ => bail!("s3://{bucket}/{key} has no version: the bucket's versioning is off, so the template could not pin the zip"),
    }
}

/// Puts the stage's template in the bucket, under the stage's prefix and named by its sha256, so
/// a release record can name it (and a template too big for a request body can be read from it).
pub async fn upload_template(s3: &Client, bucket: &str, account: &str, id: &StageId, body: &str) -> Result<Stored> {
    let sha256 = hex::encode(Sha256::digest(body.as_bytes()));
    let key = format!("{}templates/{sha256}.yaml", id.artifacts_prefix());
    let bytes = ByteStream::from(body.as_bytes().to_vec());
    let (version_id, _) = put_once(s3, bucket, account, &key, bytes, "text/yaml").await.context("uploading the template")?;
    Ok(Stored { key, version_id, sha256 })
}

/// The URL CloudFormation reads a stored template from, at its version.
pub fn template_url(bucket: &str, region: &str, template: &Stored) -> String {
    format!("https://{bucket}.s3.{region}.amazonaws.com/{}?versionId={}", template.key, template.version_id)
}

impl From<&Uploaded> for Zip {
    /// What a release record keeps of an uploaded zip.
    fn from(u: &Uploaded) -> Zip {
        Zip { function: u.function.clone(), key: u.key.clone(), version_id: u.version_id.clone(), sha256: u.sha256.clone() }
    }
}

/// `thumbnail` → `ThumbnailCodeKey`, the template parameter that carries the zip's key.
pub fn code_key_parameter(function: &str) -> String {
    local_spec::logical_id(function, "CodeKey")
}

/// `thumbnail` → `ThumbnailCodeSha256`: the zip's digest as Lambda reports it, which the
/// function's `AWS::Lambda::Version` requires of the code it publishes.
pub fn code_sha256_parameter(function: &str) -> String {
    local_spec::logical_id(function, "CodeSha256")
}

impl Uploaded {
    /// The zip's SHA-256 as Lambda writes it (`CodeSha256`): base64 of the digest, not hex.
    pub fn lambda_sha256(&self) -> Result<String> {
        use base64::Engine;
        let digest = hex::decode(&self.sha256).with_context(|| format!("{}'s sha256 is not hex", self.function))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(digest))
    }
}

/// `thumbnail` → `ThumbnailCodeVersion`, the one that pins its version.
pub fn code_version_parameter(function: &str) -> String {
    local_spec::logical_id(function, "CodeVersion")
}

#[cfg(test)]
mod emulator_tests {
    use super::*;

    /// What a stage on AWS goes through (the emulator stages skip it): the bucket is made once,
    /// a zip is uploaded once under its hash, and an unchanged zip is not uploaded again.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_zip_is_uploaded_once_under_its_hash() {
        let moto = testkit::Moto::start();
        let s3 = shared::aws::s3_client(&moto.sdk_config().await);
        let account = "123456789012";
        let bucket = crate::stage::artifacts_bucket(account, "us-east-1");
        assert!(ensure_bucket(&s3, &bucket, account, "us-east-1", false).await.unwrap(), "created");
        assert!(!ensure_bucket(&s3, &bucket, account, "us-east-1", false).await.unwrap(), "found the second time");
        let zip = std::env::temp_dir().join(format!("thumbstack-artifact-{}.zip", std::process::id()));
        std::fs::write(&zip, b"PK\x05\x06not really a zip").unwrap();
        let artifact = Artifact {
            function: "thumbnail".into(),
            zip: zip.clone(),
            sha256: "abc123".into(),
            zip_bytes: 22,
            bootstrap_bytes: 0,
            architecture: "x86_64".into(),
            max_glibc: None,
        };
        let dev = StageId::new("dev", None).unwrap();
        let first = upload(&s3, &bucket, account, &dev, std::slice::from_ref(&artifact)).await.unwrap();
        assert_eq!((first[0].key.as_str(), first[0].uploaded), ("thumbstack-dev/thumbnail/abc123.zip", true));
        let again = upload(&s3, &bucket, account, &dev, std::slice::from_ref(&artifact)).await.unwrap();
        assert!(!again[0].uploaded, "uploaded twice");
        assert_eq!(again[0].version_id, first[0].version_id, "the version the template pins");
        let versions = s3.list_object_versions().bucket(&bucket).send().await.unwrap();
        assert_eq!(versions.versions().len(), 1, "{:?}", versions.versions());
        let _ = std::fs::remove_file(zip);
    }

    /// A bucket of that name that another account owns: S3 answers 403 to a request whose
    /// `ExpectedBucketOwner` is wrong (moto ignores the header, so a stand-in answers as S3 does,
    /// and only when the request names the owner: without the header it finds the bucket fine).
    #[tokio::test(flavor = "multi_thread")]
    async fn a_bucket_someone_else_owns_stops_the_deploy_with_a_message() {
        let endpoint = testkit::stand_in::serve(|request| {
            let wrong_owner = request.header("x-amz-expected-bucket-owner") == Some("123456789012");
            let status = if wrong_owner { "403 Forbidden" } else { "200 OK" };
            testkit::stand_in::Answer { status, content_type: "application/xml", ..Default::default() }
        });
        let s3 = shared::aws::s3_client(&shared::aws::emulator_config("us-east-1", &endpoint).await);
        let e = exists(&s3, "thumbstack-artifacts-123456789012-us-east-1", "123456789012").await.unwrap_err().to_string();
        assert!(e.contains("is not this account's (123456789012)") && e.contains("nothing was uploaded"), "{e}");
    }
}
