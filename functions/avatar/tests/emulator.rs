//! The avatar handler against moto: real S3 notifications through a real SQS queue, the square
//! written at the user's stable key, the profile's version, stale redelivery, bad input.

use std::collections::HashMap;

use avatar::handler::Handler;
use avatar::process::AVATAR_CACHE_CONTROL;
use aws_sdk_dynamodb::types::AttributeValue;
use testkit::queue::{ASSETS, LOGS, Pipeline, TABLE, UPLOADS, failed_ids, receive, sqs_event};
use testkit::{Moto, corpus_file};
use worker::batch::Process;
use worker::config::Config;

struct World {
    _moto: Moto,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    queue_url: String,
    inbox_url: String,
    handler: Handler,
}

async fn world() -> World {
    let p = Pipeline::start("avatars", "avatars/").await;
    let config = Config::from_lookup(&avatar::DEFAULTS, p.env("avatar")).unwrap();
    let Pipeline { moto, sdk, s3, sqs, queue_url, inbox_url, .. } = p;
    let dynamodb = testkit::queue::create_catalog(&sdk).await;
    let handler = Handler::new(config, &sdk);
    World { _moto: moto, s3, sqs, dynamodb, queue_url, inbox_url, handler }
}

async fn upload(w: &World, key: &str, body: Vec<u8>) -> aws_lambda_events::sqs::SqsEvent {
    w.s3.put_object().bucket(UPLOADS).key(key).body(body.into()).send().await.unwrap();
    let messages = receive(&w.sqs, &w.queue_url, 1).await;
    let real: Vec<_> = messages.into_iter().filter(|m| !m.body().unwrap_or_default().contains("s3:TestEvent")).collect();
    for m in &real {
        w.sqs.delete_message().queue_url(&w.queue_url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
    }
    sqs_event(&real)
}

async fn profile(w: &World, user: &str) -> HashMap<String, AttributeValue> {
    let got = w
        .dynamodb
        .get_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(shared::table::profile_pk(user)))
        .send()
        .await
        .unwrap();
    got.item().cloned().unwrap_or_default()
}

fn s(item: &HashMap<String, AttributeValue>, k: &str) -> String {
    item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_else(|| panic!("no {k} in {item:?}"))
}

async fn avatar(w: &World, user: &str) -> (Vec<u8>, aws_sdk_s3::operation::get_object::GetObjectOutput) {
    let mut got = w.s3.get_object().bucket(ASSETS).key(format!("avatars/{user}.jpg")).send().await.unwrap();
    let body = std::mem::replace(&mut got.body, Vec::new().into()).collect().await.unwrap().into_bytes().to_vec();
    (body, got)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_photo_becomes_the_users_square_avatar_and_a_late_older_upload_changes_nothing() {
    let w = world().await;
    let first = upload(&w, "avatars/user-1/up1", corpus_file("photos/m4_friends_2056x3088.jpg")).await;
    assert!(failed_ids(&w.handler.handle(first.clone(), worker::batch::Invocation::default()).await).is_empty());
    let (body, head) = avatar(&w, "user-1").await;
    assert_eq!(head.content_type(), Some("image/jpeg"));
    assert_eq!(head.cache_control(), Some(AVATAR_CACHE_CONTROL));
    let mut decoder = jpeg_decoder::Decoder::new(&body[..]);
    decoder.decode().unwrap();
    let info = decoder.info().unwrap();
    assert_eq!((info.width, info.height), (512, 512));
    let p = profile(&w, "user-1").await;
    assert_eq!((s(&p, "avatar_version"), s(&p, "avatar_key")), ("up1".into(), "avatars/user-1.jpg".into()));

    // A newer upload replaces it; the first message delivered again afterwards does not.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let second = upload(&w, "avatars/user-1/up2", corpus_file("photos/s2_greenmeadow_1280x1024.jpg")).await;
    assert!(failed_ids(&w.handler.handle(second, worker::batch::Invocation::default()).await).is_empty());
    assert_eq!(s(&profile(&w, "user-1").await, "avatar_version"), "up2");
    let (newer, _) = avatar(&w, "user-1").await;
    assert!(failed_ids(&w.handler.handle(first, worker::batch::Invocation::default()).await).is_empty());
    assert_eq!(s(&profile(&w, "user-1").await, "avatar_version"), "up2");
    let (after, head) = avatar(&w, "user-1").await;
    assert_eq!(after, newer, "a stale redelivery overwrote the newer avatar");
    assert_eq!(head.metadata().and_then(|m| m.get("upload-id")).map(String::as_str), Some("up2"));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_uploads_of_one_user_in_one_batch_leave_the_newer_picture_under_the_newer_version() {
    let w = world().await;
    assert!(
        w.handler.context().config.concurrency.messages > 1,
        "the batch must run concurrently for this test to mean anything"
    );
    // The older upload is the slow one: rendered side by side, it would be written last.
    let older = upload(&w, "avatars/user-2/up1", corpus_file("photos/l5_kleiber_6028x3391.jpg")).await;
    std::thread::sleep(std::time::Duration::from_millis(20));
    let newer = upload(&w, "avatars/user-2/up2", corpus_file("photos/s2_greenmeadow_1280x1024.jpg")).await;
    let mut batch = older.clone();
    batch.records.extend(newer.records);
    assert!(failed_ids(&w.handler.handle(batch, worker::batch::Invocation::default()).await).is_empty());
    assert_eq!(s(&profile(&w, "user-2").await, "avatar_version"), "up2");
    let (_, head) = avatar(&w, "user-2").await;
    assert_eq!(
        head.metadata().and_then(|m| m.get("upload-id")).map(String::as_str),
        Some("up2"),
        "the older picture was written last"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_recorded_notified_and_acknowledged() {
    let w = world().await;
    let text = upload(&w, "avatars/user-2/up9", corpus_file("hostile/text.jpg")).await;
    let bad_key = upload(&w, "avatars/user-2/not.an.id", corpus_file("photos/s2_greenmeadow_1280x1024.jpg")).await;
    for event in [text, bad_key] {
        assert!(
            failed_ids(&w.handler.handle(event, worker::batch::Invocation::default()).await).is_empty(),
            "bad input is acknowledged, not retried"
        );
    }
    let records = w.s3.list_objects_v2().bucket(LOGS).prefix("failures/").send().await.unwrap();
    assert_eq!(records.contents().len(), 2, "{:?}", records.contents());
    let mut codes = Vec::new();
    for object in records.contents() {
        let got = w.s3.get_object().bucket(LOGS).key(object.key().unwrap()).send().await.unwrap();
        let record: serde_json::Value = serde_json::from_slice(&got.body.collect().await.unwrap().into_bytes()).unwrap();
        assert_eq!(record["function"], "avatar");
        codes.push(record["code"].as_str().unwrap().to_string());
    }
    codes.sort();
    assert_eq!(codes, ["bad_key", "not_an_image"]);
    assert_eq!(receive(&w.sqs, &w.inbox_url, 2).await.len(), 2, "one notification per rejection");
    assert!(profile(&w, "user-2").await.is_empty(), "no profile change for a rejected upload");
    assert!(w.s3.head_object().bucket(ASSETS).key("avatars/user-2.jpg").send().await.is_err());
}
