//! The batch loop against the invocation's deadline, on moto: what cannot finish in time comes
//! back in `batchItemFailures` (only it), and on its last delivery it is recorded as rejected
//! instead of going silently to the dead-letter queue. The same holds one message at a time and
//! with several in flight: each message keeps its own deadline and its own outcome.

use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use shared::Failure;
use shared::event::ObjectCreated;
use shared::key::{UploadKey, parse_upload_key};
use testkit::queue::{LOGS, Pipeline, failed_ids};
use worker::Limits;
use worker::batch::{self, Invocation, Process, RESERVE};
use worker::config::{Config, Defaults};
use worker::context::Context;

/// A thumbnail function's defaults (the worker cannot link the function crate that gives them).
const THUMBNAIL: Defaults =
    Defaults { input_prefix: "images/", max_edge: 256, output: |edge| (imaging::Fit::Inside { max_edge: edge }, true) };

/// Takes `work` for every object, as a slow decode would, and does nothing else.
struct Slow {
    cx: Context,
    work: Duration,
}

impl Process for Slow {
    type Upload = UploadKey;

    fn context(&self) -> &Context {
        &self.cx
    }

    fn parse_key(&self, object: &ObjectCreated) -> Option<Result<UploadKey, Failure>> {
        parse_upload_key(&object.key, "images/")
    }

    async fn process(&self, _: &ObjectCreated, _: &UploadKey, _: &Limits) -> Result<(), Failure> {
        tokio::time::sleep(self.work).await;
        Ok(())
    }
}

fn message(id: &str, receive_count: u32) -> SqsMessage {
    let body = serde_json::json!({ "Records": [{
        "eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "eventTime": "2026-12-02T10:00:00.000Z",
        "s3": { "bucket": { "name": "uploads" }, "object": { "key": format!("images/u1/{id}/{id}.jpg"), "size": 1000 } }
    }]});
    serde_json::from_value(serde_json::json!({
        "messageId": id, "body": body.to_string(), "attributes": { "ApproximateReceiveCount": receive_count.to_string() }
    }))
    .unwrap()
}

fn event(messages: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = messages;
    event
}

/// The function's config with `BATCH_CONCURRENCY` set: messages in flight at once.
fn slow(pipeline: &Pipeline, at_once: usize) -> Slow {
    let env = pipeline.env("thumbnail");
    let config = Config::from_lookup(&THUMBNAIL, move |name| match name {
        "BATCH_CONCURRENCY" => Some(at_once.to_string()),
        _ => env(name),
    })
    .unwrap();
    assert_eq!(config.concurrency.messages, at_once);
    Slow { cx: Context::new(config, &pipeline.sdk, "thumbnail"), work: Duration::from_millis(1000) }
}

#[tokio::test(flavor = "multi_thread")]
async fn what_cannot_finish_before_the_deadline_is_handed_back_and_only_that() {
    let pipeline = Pipeline::start("thumbnail-queue", "images/").await;
    testkit::queue::create_catalog(&pipeline.sdk).await; // the rejection e-mails' bookkeeping
    let slow = slow(&pipeline, 1);
    // 1.5 s to work: the first message finishes, the second is cut off, the third never starts.
    let deadline = Instant::now() + RESERVE + Duration::from_millis(1500);
    let invocation = Invocation { deadline: Some(deadline), max_receive_count: Some(5) };
    let response = batch::handle(&slow, event(vec![message("a1", 1), message("a2", 1), message("a3", 1)]), invocation).await;
    assert_eq!(failed_ids(&response), ["a2", "a3"]);
    assert!(Instant::now() < deadline, "the batch must end before the invocation's deadline");

    // The same batch on its last delivery: nothing is handed back, each late one is recorded.
    let deadline = Instant::now() + RESERVE + Duration::from_millis(1500);
    let invocation = Invocation { deadline: Some(deadline), max_receive_count: Some(5) };
    let response = batch::handle(&slow, event(vec![message("b1", 5), message("b2", 5), message("b3", 5)]), invocation).await;
    assert!(failed_ids(&response).is_empty(), "{:?}", failed_ids(&response));
    let listed = pipeline.s3.list_objects_v2().bucket(LOGS).send().await.unwrap();
    let mut recorded: Vec<String> = Vec::new();
    for object in listed.contents() {
        let got = pipeline.s3.get_object().bucket(LOGS).key(object.key().unwrap()).send().await.unwrap();
        let record: serde_json::Value = serde_json::from_slice(&got.body.collect().await.unwrap().into_bytes()).unwrap();
        assert_eq!(record["code"], "out_of_time", "{record}");
        assert!(record["reason"].as_str().unwrap().contains("within the function's limits in 5 attempts"), "{record}");
        recorded.push(record["key"].as_str().unwrap().to_string());
    }
    recorded.sort();
    assert_eq!(recorded, ["images/u1/b2/b2.jpg", "images/u1/b3/b3.jpg"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_in_flight_together_keep_their_own_deadlines_and_order() {
    let pipeline = Pipeline::start("thumbnail-queue", "images/").await;
    testkit::queue::create_catalog(&pipeline.sdk).await;
    let slow = slow(&pipeline, 2);
    // 1.5 s to work, two at a time: the first two finish together at 1 s, the last two start
    // then and are cut off at 1.5 s. One at a time, only the first would have finished.
    let deadline = Instant::now() + RESERVE + Duration::from_millis(1500);
    let invocation = Invocation { deadline: Some(deadline), max_receive_count: Some(5) };
    let started = Instant::now();
    let batch = vec![message("c1", 1), message("c2", 1), message("c3", 1), message("c4", 1)];
    let response = batch::handle(&slow, event(batch), invocation).await;
    assert_eq!(failed_ids(&response), ["c3", "c4"]);
    assert!(Instant::now() < deadline, "the batch must end before the invocation's deadline");
    assert!(started.elapsed() < Duration::from_millis(1900), "took {:?}", started.elapsed());

    // Without a deadline every message finishes, four in 2 s: two at a time, never more.
    let started = Instant::now();
    let batch = vec![message("d1", 1), message("d2", 1), message("d3", 1), message("d4", 1)];
    let response = batch::handle(&slow, event(batch), Invocation::default()).await;
    assert!(failed_ids(&response).is_empty(), "{:?}", failed_ids(&response));
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(2000) && took < Duration::from_millis(2900), "took {took:?}");
}
