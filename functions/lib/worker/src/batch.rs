//! The SQS batch loop every image function runs: decode each message's S3 notification, keep
//! only keys the function owns, process each object, record bad input, and hand transient
//! failures back to SQS in `batchItemFailures`. A function supplies only [`Process`]. The
//! messages of a batch run concurrently (`concurrency`): each keeps its own deadline and its own
//! outcome, exactly as one at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use aws_config::SdkConfig;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use imaging::{Deadline, Limits, Rejection, Rendition};

use shared::Failure;
use shared::event::{Notification, ObjectCreated, parse_body};
use shared::key::{AvatarKey, UploadKey};

use crate::concurrency::Gate;
use crate::config::Config;
use crate::rejected;
use crate::report::Reporter;

/// A key the function accepted, as the failure record names it.
pub use crate::report::Upload;

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

impl Upload for UploadKey {
    fn id(&self) -> &str {
        &self.id
    }
    fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }
    fn file_name(&self) -> Option<&str> {
        Some(&self.file_name)
    }
}

impl Upload for AvatarKey {
    fn id(&self) -> &str {
        &self.upload_id
    }
    fn owner(&self) -> Option<&str> {
        Some(&self.user)
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
    fn parse_key(&self, object: &ObjectCreated) -> Option<Result<Self::Upload, Failure>>;

    /// Uploads of a batch that share this key are processed one after another, in the batch's
    /// order (the avatar: one user's uploads, which replace one picture). `None`: no order.
    fn one_at_a_time(&self, _upload: &Self::Upload) -> Option<String> {
        None
    }

    /// The upload this object's outcome belongs to, once the catalog has been asked (the
    /// default: the one its key names).
    fn resolve(
        &self,
        _object: &ObjectCreated,
        upload: Self::Upload,
    ) -> impl Future<Output = Result<Self::Upload, Failure>> + Send {
        std::future::ready(Ok(upload))
    }

    /// `limits` are the function's, with this object's decode deadline set.
    fn process(
        &self,
        object: &ObjectCreated,
        upload: &Self::Upload,
        limits: &Limits,
    ) -> impl Future<Output = Result<(), Failure>> + Send;
}

/// Time kept back from the invocation's deadline: enough to record a rejection and answer.
pub const RESERVE: Duration = Duration::from_secs(3);

/// What one invocation may spend: Lambda's deadline (`Context::deadline`), and the queue's
/// `maxReceiveCount`, past which a message is not delivered again.
/// `Default`: no deadline and no last delivery, as in a test that calls a handler directly.
#[derive(Debug, Clone, Copy, Default)]
pub struct Invocation {
    pub deadline: Option<Instant>,
    pub max_receive_count: Option<u32>,
}

impl Invocation {
    /// Lambda gives the deadline as wall-clock time; the loop measures on the monotonic clock.
    pub fn from_lambda(deadline: std::time::SystemTime, max_receive_count: Option<u32>) -> Invocation {
        let left = deadline.duration_since(std::time::SystemTime::now()).unwrap_or_default();
        Invocation { deadline: Some(Instant::now() + left), max_receive_count }
    }
}

/// Every message ends processed, recorded as rejected, or listed for retry. Messages not started
/// or not finished when the deadline nears come back in `batchItemFailures`, so only they are
/// retried, and the invocation never times out with the batch in it. Up to
/// `config.concurrency.messages` are in flight at once; the answer lists them in the batch's order.
pub async fn handle<P: Process>(function: &P, event: SqsEvent, invocation: Invocation) -> SqsBatchResponse {
    let at_once = function.context().config.concurrency.messages.max(1);
    let turns = Turns::default();
    // Futures do nothing until polled, so each message starts (and reads the clock) when a place
    // frees. Built up front rather than in a `map` closure, whose borrow the compiler cannot
    // prove `Send` for every lifetime.
    let deliveries: Vec<_> = event.records.iter().map(|message| on_delivery(function, message, invocation, &turns)).collect();
    let retried: Vec<Option<String>> = futures_util::stream::iter(deliveries).buffered(at_once).collect().await;
    let mut response = SqsBatchResponse::default();
    for id in retried.into_iter().flatten() {
        let mut item = BatchItemFailure::default();
        item.item_identifier = id;
        response.batch_item_failures.push(item);
    }
    response
}

/// One message's fate: `Some(id)` when SQS must deliver it again. The deadline is read when the
/// message starts, not when the batch does.
async fn on_delivery<P: Process>(function: &P, message: &SqsMessage, invocation: Invocation, turns: &Turns) -> Option<String> {
    let reporter = &function.context().reporter;
    let id = message.message_id.clone().unwrap_or_default();
    let work_until = invocation.deadline.map(|d| d.checked_sub(RESERVE).unwrap_or(d));
    let outcome = match work_until {
        Some(until) if Instant::now() >= until => Err(Failure::OutOfTime("not started before the invocation's deadline")),
        Some(until) => tokio::time::timeout_at(until.into(), on_message(function, reporter, message, Some(until), turns))
            .await
            .unwrap_or(Err(Failure::OutOfTime("not finished before the invocation's deadline"))),
        None => on_message(function, reporter, message, None, turns).await,
    };
    let Err(failure) = outcome else { return None };
    if let Some(last) = last_delivery(message, invocation)
        && matches!(failure, Failure::OutOfTime(_))
    {
        // Another delivery would meet the same limits: record it, so it ends with an outcome
        // and an e-mail, not silently in the dead-letter queue.
        let reason = format!("could not be processed within the function's limits in {last} attempts ({failure})");
        if on_out_of_time(function, reporter, message, &reason).await.is_ok() {
            return None;
        }
    }
    tracing::error!(event = "retry", message_id = %id, error = %failure, "will be retried");
    Some(id)
}

/// One lock per [`Process::one_at_a_time`] key within a batch. Tokio's mutex is fair and the
/// messages start in the batch's order, so they take their turns in that order.
#[derive(Default)]
struct Turns(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl Turns {
    async fn take(&self, key: Option<String>) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let lock = Arc::clone(self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(key?).or_default());
        Some(lock.lock_owned().await)
    }
}

/// `Some(count)` when this is the message's last delivery (`ApproximateReceiveCount` has reached
/// the queue's `maxReceiveCount`).
fn last_delivery(message: &SqsMessage, invocation: Invocation) -> Option<u32> {
    let max = invocation.max_receive_count?;
    let count: u32 = message.attributes.get("ApproximateReceiveCount")?.parse().ok()?;
    (count >= max).then_some(count)
}

async fn on_message<P: Process>(
    function: &P,
    reporter: &Reporter,
    message: &SqsMessage,
    work_until: Option<Instant>,
    turns: &Turns,
) -> Result<(), Failure> {
    match parse_body(message.body.as_deref().unwrap_or_default()) {
        Ok(Notification::Test) => Ok(()),
        Ok(Notification::Objects(objects)) => {
            for object in &objects {
                on_object(function, reporter, object, work_until, turns).await?;
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

/// Records every upload of a message that ran out of time on its last delivery as rejected.
async fn on_out_of_time<P: Process>(
    function: &P,
    reporter: &Reporter,
    message: &SqsMessage,
    reason: &str,
) -> Result<(), Failure> {
    let Ok(Notification::Objects(objects)) = parse_body(message.body.as_deref().unwrap_or_default()) else { return Ok(()) };
    for object in &objects {
        let upload = function.parse_key(object).and_then(Result::ok);
        reporter.reject(object, upload.as_ref(), "out_of_time", reason).await?;
    }
    Ok(())
}

async fn on_object<P: Process>(
    function: &P,
    reporter: &Reporter,
    object: &ObjectCreated,
    work_until: Option<Instant>,
    turns: &Turns,
) -> Result<(), Failure> {
    let Some(parsed) = function.parse_key(object) else {
        tracing::warn!(event = "key_refused", key = %object.key, "outside the input prefix");
        return Ok(());
    };
    let _turn = turns.take(parsed.as_ref().ok().and_then(|upload| function.one_at_a_time(upload))).await;
    let config = &function.context().config;
    // Only the invocation's bound here: the file's own time budget starts when its render gets
    // its turn (`Context::render`), so waiting behind the rest of the batch never counts against it.
    let decode =
        Limits { deadline: work_until.map(|at| Deadline { at, ..Deadline::after(config.decode_time) }), ..config.limits };
    let (upload, outcome) = match parsed {
        Ok(upload) => {
            let upload = function.resolve(object, upload).await?;
            let outcome = function.process(object, &upload, &decode).await;
            (Some(upload), outcome)
        }
        Err(failure) => (None, Err(failure)),
    };
    match outcome {
        // Stopped at the invocation's bound, not its own: the invocation's doing, so retried.
        Err(Failure::BadInput { code, .. })
            if code == Rejection::TooSlow(0).code() && work_until.is_some_and(|until| Instant::now() >= until) =>
        {
            Err(Failure::OutOfTime("decode stopped at the invocation's deadline"))
        }
        Err(Failure::BadInput { code, reason }) => reporter.reject(object, upload.as_ref(), code, &reason).await,
        other => other,
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
/// the same key (the presigned grant used again before it expired) is a new upload, with an id of
/// its own derived from its version ([`shared::key::derived_id`]): it never alters the first one's
/// outcome and never overwrites its thumbnail. The claim is one atomic update (`shared::table::claim_pk` set to
/// the version, or the ETag where the event names no version, as moto's never do, only if unset),
/// so every delivery of either event finds the same answer.
pub async fn claim_upload_id(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    object: &ObjectCreated,
    upload: UploadKey,
) -> Result<UploadKey, Failure> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let Some(token) = object.version_id.as_deref().or(object.etag.as_deref()) else { return Ok(upload) };
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
    let owner = claimed.attributes().and_then(|a| a.get("claimed_by")).and_then(|v| v.as_s().ok());
    if owner.is_none_or(|owner| owner == token) {
        return Ok(upload);
    }
    Ok(UploadKey { id: shared::key::derived_id(&object.bucket, &object.key, token), ..upload })
}
