//! The image functions, run in-process and fed from their SQS queues as Lambda's poller feeds
//! them: batches up to the stage's batch size, the queue's visibility timeout, only the
//! messages the handler did not list in `batchItemFailures` deleted, and the queue's redrive
//! policy (`maxReceiveCount` → dead-letter queue) left to SQS.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use tracing::Instrument;
use worker::batch::Invocation;

/// One function's handler, as the poller calls it.
pub trait Function: Send + Sync + 'static {
    fn handle(&self, event: SqsEvent, invocation: Invocation) -> impl Future<Output = SqsBatchResponse> + Send;
}

impl Function for thumbnail::handler::Handler {
    fn handle(&self, event: SqsEvent, invocation: Invocation) -> impl Future<Output = SqsBatchResponse> + Send {
        thumbnail::handler::Handler::handle(self, event, invocation)
    }
}

impl Function for avatar::handler::Handler {
    fn handle(&self, event: SqsEvent, invocation: Invocation) -> impl Future<Output = SqsBatchResponse> + Send {
        avatar::handler::Handler::handle(self, event, invocation)
    }
}

/// What Lambda gives every invocation of a function on its queue.
#[derive(Debug, Clone, Copy)]
pub struct Lambda {
    /// The function's timeout: each invocation's deadline is this far from its start.
    pub timeout: Option<Duration>,
    /// The queue's `maxReceiveCount`.
    pub max_receive_count: Option<u32>,
}

pub async fn poll<F: Function>(
    name: &'static str,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    batch: i32,
    lambda: Lambda,
    function: Arc<F>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(batch)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await;
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
        let event: SqsEvent = match serde_json::from_value(lambda_event(&messages)) {
            Ok(event) => event,
            Err(e) => {
                eprintln!("local: {name}: could not build the SQS event: {e}");
                continue;
            }
        };
        let invocation =
            Invocation { deadline: lambda.timeout.map(|t| Instant::now() + t), max_receive_count: lambda.max_receive_count };
        let response =
            function.handle(event, invocation).instrument(tracing::info_span!(crate::logs::SPAN, function = name)).await;
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

/// The event Lambda's SQS poller hands a function for these messages.
pub fn lambda_event(messages: &[aws_sdk_sqs::types::Message]) -> serde_json::Value {
    let records: Vec<_> = messages
        .iter()
        .map(|m| {
            let attributes: std::collections::BTreeMap<&str, &str> =
                m.attributes().into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            serde_json::json!({ "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(), "attributes": attributes, "eventSource": "aws:sqs" })
        })
        .collect();
    serde_json::json!({ "Records": records })
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::sqs::BatchItemFailure;
    use aws_sdk_sqs::types::QueueAttributeName;

    use super::*;

    const NO_LIMITS: Lambda = Lambda { timeout: None, max_receive_count: None };

    /// Fails every message whose body says "poison"; counts what it saw.
    struct Picky(std::sync::Mutex<Vec<String>>);

    impl Function for Picky {
        fn handle(&self, event: SqsEvent, _: Invocation) -> impl Future<Output = SqsBatchResponse> + Send {
            let mut response = SqsBatchResponse::default();
            for m in event.records {
                let body = m.body.unwrap_or_default();
                if body.contains("poison") {
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = m.message_id.unwrap_or_default();
                    response.batch_item_failures.push(failure);
                }
                self.0.lock().unwrap().push(body);
            }
            std::future::ready(response)
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn partial_failures_are_retried_until_the_dead_letter_queue_and_the_rest_deleted() {
        let moto = testkit::Moto::start();
        let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config().await);
        let dlq = sqs.create_queue().queue_name("dlq").send().await.unwrap().queue_url.unwrap();
        let dlq_arn =
            sqs.get_queue_attributes().queue_url(&dlq).attribute_names(QueueAttributeName::QueueArn).send().await.unwrap();
        let dlq_arn = dlq_arn.attributes().unwrap()[&QueueAttributeName::QueueArn].clone();
        let queue = sqs
            .create_queue()
            .queue_name("work")
            .attributes(QueueAttributeName::VisibilityTimeout, "1")
            .attributes(
                QueueAttributeName::RedrivePolicy,
                format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#),
            )
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        for body in ["good 1", "poison", "good 2"] {
            sqs.send_message().queue_url(&queue).message_body(body).send().await.unwrap();
        }
        let seen = Arc::new(Picky(std::sync::Mutex::new(Vec::new())));
        let stop = Arc::new(AtomicBool::new(false));
        let poller = tokio::spawn(poll("test", sqs.clone(), queue.clone(), 10, NO_LIMITS, Arc::clone(&seen), Arc::clone(&stop)));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let in_dlq = loop {
            let got = sqs.receive_message().queue_url(&dlq).wait_time_seconds(1).send().await.unwrap();
            if let Some(m) = got.messages.unwrap_or_default().into_iter().next() {
                break m.body.unwrap_or_default();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the failing message never reached the DLQ: {:?}",
                seen.0.lock().unwrap()
            );
        };
        stop.store(true, Ordering::Relaxed);
        poller.await.unwrap();
        assert_eq!(in_dlq, "poison");
        let seen = seen.0.lock().unwrap().clone();
        assert_eq!(seen.iter().filter(|b| b.starts_with("good")).count(), 2, "processed once each, then deleted: {seen:?}");
        assert_eq!(seen.iter().filter(|b| *b == "poison").count(), 2, "delivered maxReceiveCount times: {seen:?}");
        let left = sqs.receive_message().queue_url(&queue).wait_time_seconds(1).send().await.unwrap();
        assert!(left.messages.unwrap_or_default().is_empty());
    }
}
