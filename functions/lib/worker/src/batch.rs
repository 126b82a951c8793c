//! The SQS batch loop every image function runs: decode each message's S3 notification, keep
//! only keys the function owns, process each object, record bad input, and hand transient
//! failures back to SQS in `batchItemFailures`. A function supplies only [`Process`]. The
//! messages of a batch run concurrently (`concurrency`): each keeps its own deadline and its own
//! outcome, exactly as one at a time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use imaging::{Deadline, Limits, Rejection};

use shared::Failure;
use shared::event::{Notification, ObjectCreated, parse_body};
use shared::key::{AvatarKey, UploadKey};

use crate::context::Context;
use crate::report::Reporter;

/// A key the function accepted, as the failure record names it.
pub use crate::report::Upload;

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

/// One invocation as Lambda delivers it to an image function: the pre-traffic hook's self-check
/// (`crate::self_check`), or a batch from the queue ([`handle`]).
pub async fn invoke<P: Process>(
    function: &P,
    event: serde_json::Value,
    invocation: Invocation,
) -> Result<serde_json::Value, serde_json::Error> {
    if let Some(check) = crate::self_check::Request::of(&event) {
        return serde_json::to_value(crate::self_check::run(function.context(), &check).await);
    }
    let batch: SqsEvent = serde_json::from_value(event)?;
    serde_json::to_value(handle(function, batch, invocation).await)
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
