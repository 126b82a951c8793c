//! The batch loop against the invocation's deadline, on moto: what cannot finish in time comes
//! back in `batchItemFailures` (only it), and on its last delivery it is recorded as rejected
//! instead of going silently to the dead-letter queue.

use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use shared::Failure;
use shared::event::ObjectCreated;
use shared::key::{UploadKey, parse_upload_key};
use testkit::queue::{LOGS, Pipeline, failed_ids};
use worker::Limits;
use worker::batch::{self, Context, Invocation, Process, RESERVE};
use worker::config::{Config, Kind};

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

#[tokio::test(flavor = "multi_thread")]
async fn what_cannot_finish_before_the_deadline_is_handed_back_and_only_that() {
    let pipeline = Pipeline::start("thumbnail-queue", "images/").await;
    testkit::queue::create_catalog(&pipeline.sdk).await; // the rejection e-mails' bookkeeping
    let config = Config::from_lookup(Kind::Thumbnail, pipeline.env("thumbnail")).unwrap();
    let slow = Slow { cx: Context::new(config, &pipeline.sdk, "thumbnail"), work: Duration::from_millis(1000) };
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
