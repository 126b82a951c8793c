//! The image functions, run in-process and fed from their SQS queues as Lambda's poller feeds
//! them: batches up to the stage's batch size, the queue's visibility timeout, only the
//! messages the handler did not list in `batchItemFailures` deleted, and the queue's redrive
//! policy (`maxReceiveCount` → dead-letter queue) left to SQS.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};

/// One function's handler, as the poller calls it.
pub trait Function: Send + Sync + 'static {
    fn handle(&self, event: SqsEvent) -> impl Future<Output = SqsBatchResponse> + Send;
}

impl Function for thumbnail::handler::Handler {
    fn handle(&self, event: SqsEvent) -> impl Future<Output = SqsBatchResponse> + Send {
        thumbnail::handler::Handler::handle(self, event)
    }
}

impl Function for avatar::handler::Handler {
    fn handle(&self, event: SqsEvent) -> impl Future<Output = SqsBatchResponse> + Send {
        avatar::handler::Handler::handle(self, event)
    }
}

pub async fn poll<F: Function>(
    name: &'static str,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    batch: i32,
    function: Arc<F>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let received =
            sqs.receive_message().queue_url(&queue_url).max_number_of_messages(batch).wait_time_seconds(1).send().await;
        let messages = match received {
            Ok(out) => out.messages.unwrap_or_default(),
            Err(e) => {
                eprintln!("local: {name}: receiving from its queue failed: {e}");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        let records: Vec<_> = messages
            .iter()
            .map(|m| serde_json::json!({ "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(), "eventSource": "aws:sqs" }))
            .collect();
        let event: SqsEvent = match serde_json::from_value(serde_json::json!({ "Records": records })) {
            Ok(event) => event,
            Err(e) => {
                eprintln!("local: {name}: could not build the SQS event: {e}");
                continue;
            }
        };
        let response = function.handle(event).await;
        let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        for m in &messages {
            if failed.contains(&m.message_id().unwrap_or_default()) {
                continue; // back after the visibility timeout, until maxReceiveCount sends it to the DLQ
            }
            let Some(handle) = m.receipt_handle() else { continue };
            if let Err(e) = sqs.delete_message().queue_url(&queue_url).receipt_handle(handle).send().await {
                eprintln!("local: {name}: deleting a processed message failed (it will be redelivered): {e}");
            }
        }
        eprintln!("local: {name}: batch of {}, {} to retry", messages.len(), failed.len());
    }
}
