//! The SQS batch loop every image function runs: decode each message's S3 notification, keep
//! only keys the function owns, process each object, record bad input, and hand transient
//! failures back to SQS in `batchItemFailures`. A function supplies only [`Process`].

use aws_config::SdkConfig;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use imaging::{Limits, Rendition, Spec};

use shared::Failure;
use shared::event::{Notification, ObjectCreated, parse_body};
use shared::key::{AvatarKey, UploadKey};

use crate::config::Config;
use crate::rejected;
use crate::report::Reporter;

/// A key the function accepted, as the failure record names it.
pub trait Upload {
    fn id(&self) -> &str;
    fn file_name(&self) -> Option<&str>;
}

/// What every image function holds: its config, and clients built once for all invocations.
pub struct Context {
    pub config: Config,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub reporter: Reporter,
}

impl Context {
    pub fn new(config: Config, sdk: &SdkConfig, function: &'static str) -> Context {
        let s3 = shared::aws::s3_client(sdk);
        let reporter = Reporter {
            s3: s3.clone(),
            sns: aws_sdk_sns::Client::new(sdk),
            log_bucket: config.log_bucket.clone(),
            topic_arn: config.alarm_topic_arn.clone(),
            function,
        };
        Context { s3, dynamodb: aws_sdk_dynamodb::Client::new(sdk), reporter, config }
    }
}

impl Upload for UploadKey {
    fn id(&self) -> &str {
        &self.id
    }
    fn file_name(&self) -> Option<&str> {
        Some(&self.file_name)
    }
}

impl Upload for AvatarKey {
    fn id(&self) -> &str {
        &self.upload_id
    }
    fn file_name(&self) -> Option<&str> {
        None
    }
}

pub trait Process: Sync {
    type Upload: Upload + Send + Sync;

    fn context(&self) -> &Context;

    /// `None` for a key outside the function's prefix: refused and acknowledged, so an output
    /// can never re-enter as an input. `Some(Err)` for a key under it that is malformed.
    fn parse_key(&self, key: &str) -> Option<Result<Self::Upload, Failure>>;

    fn process(&self, object: &ObjectCreated, upload: &Self::Upload) -> impl Future<Output = Result<(), Failure>> + Send;
}

/// Every message ends processed, recorded as rejected, or listed for retry.
pub async fn handle<P: Process>(function: &P, event: SqsEvent) -> SqsBatchResponse {
    let reporter = &function.context().reporter;
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        if let Err(failure) = on_message(function, reporter, message).await {
            let id = message.message_id.clone().unwrap_or_default();
            tracing::error!(event = "retry", message_id = %id, error = %failure, "will be retried");
            let mut item = BatchItemFailure::default();
            item.item_identifier = id;
            response.batch_item_failures.push(item);
        }
    }
    response
}

async fn on_message<P: Process>(function: &P, reporter: &Reporter, message: &SqsMessage) -> Result<(), Failure> {
    match parse_body(message.body.as_deref().unwrap_or_default()) {
        Ok(Notification::Test) => Ok(()),
        Ok(Notification::Objects(objects)) => {
            for object in &objects {
                on_object(function, reporter, object).await?;
            }
            Ok(())
        }
        // Not an S3 notification: there is no upload to attribute it to, so log and drop it.
        Err(Failure::BadInput { code, reason }) => {
            tracing::warn!(event = "message_refused", code, reason, "not an S3 notification");
            Ok(())
        }
        Err(transient) => Err(transient),
    }
}

async fn on_object<P: Process>(function: &P, reporter: &Reporter, object: &ObjectCreated) -> Result<(), Failure> {
    let Some(parsed) = function.parse_key(&object.key) else {
        tracing::warn!(event = "key_refused", key = %object.key, "outside the input prefix");
        return Ok(());
    };
    let (upload, outcome) = match parsed {
        Ok(upload) => {
            let outcome = function.process(object, &upload).await;
            (Some(upload), outcome)
        }
        Err(failure) => (None, Err(failure)),
    };
    match outcome {
        Err(Failure::BadInput { code, reason }) => {
            let id = upload.as_ref().map(Upload::id);
            let name = upload.as_ref().and_then(Upload::file_name);
            reporter.reject(object, id, name, code, &reason).await
        }
        other => other,
    }
}

/// The upload's bytes, refused by size before a byte is downloaded and again by what S3 says.
pub async fn download(s3: &aws_sdk_s3::Client, object: &ObjectCreated, limits: &Limits) -> Result<bytes::Bytes, Failure> {
    if let Some(size) = object.size {
        limits.check_bytes(size).map_err(rejected)?;
    }
    let got = match s3.get_object().bucket(&object.bucket).key(&object.key).send().await {
        Ok(got) => got,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
            return Err(Failure::bad_input("gone", "the upload was deleted before it could be processed"));
        }
        Err(e) => return Err(Failure::transient("downloading the upload", e)),
    };
    limits.check_bytes(got.content_length().and_then(|l| u64::try_from(l).ok()).unwrap_or(0).max(1)).map_err(rejected)?;
    Ok(got.body.collect().await.map_err(|e| Failure::transient("reading the upload", e))?.into_bytes())
}

/// The imaging core on a blocking thread, so a large decode does not stall the runtime.
pub async fn render(bytes: bytes::Bytes, spec: Spec, limits: Limits) -> Result<Rendition, Failure> {
    tokio::task::spawn_blocking(move || imaging::render(&bytes, &spec, &limits))
        .await
        .map_err(|e| Failure::transient("imaging task", e))?
        .map_err(rejected)
}
