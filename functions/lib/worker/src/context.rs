//! What a function's processing of one object stands on, built once per instance: its config and
//! clients, the render behind the gate of vCPUs and decode memory, the download at the event's
//! version, and the claim of an upload id. The batch loop (`batch`) calls the function; the
//! function calls these.

use aws_config::SdkConfig;
use imaging::{Deadline, Limits, Rendition};
use shared::Failure;
use shared::event::ObjectCreated;
use shared::key::UploadKey;
use shared::visibility::Visibility;

use crate::concurrency::Gate;
use crate::config::Config;
use crate::rejected;
use crate::report::Reporter;

/// What every image function holds: its config, and clients built once for all invocations.
pub struct Context {
    pub config: Config,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub reporter: Reporter,
    /// Shared by every render of this instance: vCPUs and the decode memory budget.
    pub gate: Gate,
}

impl Context {
    pub fn new(config: Config, sdk: &SdkConfig, function: &'static str) -> Context {
        let s3 = shared::aws::s3_client(sdk);
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let reporter = Reporter {
            s3: s3.clone(),
            sns: aws_sdk_sns::Client::new(sdk),
            dynamodb: dynamodb.clone(),
            table: config.catalog_table.clone(),
            log_bucket: config.log_bucket.clone(),
            topic_arn: config.alarm_topic_arn.clone(),
            function,
            version: config.version.clone(),
            mail_rate: config.mail_rate,
        };
        let gate = Gate::new(config.concurrency, config.limits.max_memory);
        Context { s3, dynamodb, reporter, gate, config }
    }

    /// The imaging core on a blocking thread, so a large decode does not stall the runtime, once
    /// a vCPU and the memory its header says it needs are free.
    /// Its deadline is the file's own time budget from then on, or `limits.deadline` if sooner.
    pub async fn render(&self, bytes: bytes::Bytes, limits: Limits) -> Result<Rendition, Failure> {
        let spec = self.config.spec;
        // What the render would refuse from the header alone, it refuses without waiting.
        let turn = match imaging::memory_needed(&bytes, &spec, &limits) {
            Ok(needed) if needed <= limits.max_memory => Some(self.gate.turn(needed).await),
            _ => None,
        };
        let own = Deadline::after(self.config.decode_time);
        let deadline = limits.deadline.filter(|bound| bound.at < own.at).unwrap_or(own);
        let limits = Limits { deadline: Some(deadline), ..limits };
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            imaging::render(&bytes, &spec, &limits)
        })
        .await
        .map_err(|e| Failure::transient("imaging task", e))?
        .map_err(rejected)
    }
}

/// The upload's bytes, refused by size before a byte is downloaded and again by what S3 says.
pub async fn download(s3: &aws_sdk_s3::Client, object: &ObjectCreated, limits: &Limits) -> Result<bytes::Bytes, Failure> {
    if let Some(size) = object.size {
        limits.check_bytes(size).map_err(rejected)?;
    }
    // The version the event names: what a later upload to the key puts there is another upload.
    // Where the event names no version (an unversioned bucket; moto), its ETag must still match.
    let request = s3.get_object().bucket(&object.bucket).key(&object.key);
    let request = match (&object.version_id, &object.etag) {
        (Some(version), _) => request.version_id(version),
        (None, Some(etag)) => request.if_match(format!("\"{}\"", etag.trim_matches('"'))),
        (None, None) => request,
    };
    let got = match request.send().await {
        Ok(got) => got,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
            return Err(Failure::bad_input("gone", "the upload was deleted before it could be processed"));
        }
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => {
            return Err(Failure::bad_input("superseded", "another file replaced this upload before it could be read"));
        }
        Err(e) => return Err(Failure::transient("downloading the upload", e)),
    };
    limits.check_bytes(got.content_length().and_then(|l| u64::try_from(l).ok()).unwrap_or(0).max(1)).map_err(rejected)?;
    Ok(got.body.collect().await.map_err(|e| Failure::transient("reading the upload", e))?.into_bytes())
}

/// A granted upload id belongs to the first file processed under its key. Another file put under
/// the same key (the presigned grant used again before it expired) gets an id of its own derived
/// from its version ([`shared::key::derived_id`]), under which it is refused as `grant_reused`
/// ([`UploadKey::is_reused_grant`]): a grant is good for one file, so one grant cannot start a
/// render per upload for five minutes, and the first file's outcome and thumbnail never change. The claim is one atomic update (`shared::table::claim_pk` set to
/// the version, or the ETag where the event names no version, as moto's never do, only if unset),
/// so every delivery of either event finds the same answer. The same item carries the grant's
/// [`Visibility`], which the update's answer returns.
pub async fn claim_upload_id(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    object: &ObjectCreated,
    upload: UploadKey,
) -> Result<UploadKey, Failure> {
    use aws_sdk_dynamodb::types::AttributeValue;
    // Without a version or an ETag (no S3 sends neither) the key stands in: the claim is still
    // read for what the grant said about who may see the photo.
    let token = object.version_id.as_deref().or(object.etag.as_deref()).unwrap_or(&object.key);
    if upload.id.starts_with(shared::key::DERIVED_ID_PREFIX) {
        return Ok(upload);
    }
    let claimed = dynamodb
        .update_item()
        .table_name(table)
        .key(shared::table::PK, AttributeValue::S(shared::table::claim_pk(&upload.id)))
        .update_expression("SET claimed_by = if_not_exists(claimed_by, :token)")
        .expression_attribute_values(":token", AttributeValue::S(token.to_string()))
        .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
        .send()
        .await
        .map_err(|e| Failure::transient("claiming the upload id", e))?;
    let attribute = |name: &str| claimed.attributes().and_then(|a| a.get(name)).and_then(|v| v.as_s().ok());
    // Written by the api at grant time; a value this build does not know keeps the photo private.
    let visibility = attribute(shared::visibility::ATTRIBUTE)
        .map_or(Visibility::Public, |v| Visibility::parse(v).unwrap_or(Visibility::Private));
    let upload = UploadKey { visibility, ..upload };
    if attribute("claimed_by").is_none_or(|owner| owner == token) {
        return Ok(upload);
    }
    Ok(UploadKey { id: shared::key::derived_id(&object.bucket, &object.key, token), ..upload })
}
