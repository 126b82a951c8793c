//! The thumbnail handler against moto: real S3 notifications through a real SQS queue, real
//! objects, rows, records and SNS messages. Each test starts its own emulator.

use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::Message;
use testkit::queue::{ASSETS, LOGS, Pipeline, TABLE, UPLOADS, failed_ids, receive, sqs_event};
use testkit::{Moto, corpus_file};
use thumbnail::handler::Handler;
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
    world_with(None).await
}

/// `batch_concurrency`: `BATCH_CONCURRENCY`, else the function's default.
async fn world_with(batch_concurrency: Option<usize>) -> World {
    // The handler's log lines, shown when a test fails.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let p = Pipeline::start("thumbnails", "images/").await;
    let env = p.env("thumbnail");
    let config = Config::from_lookup(&thumbnail::DEFAULTS, move |name| match name {
        "BATCH_CONCURRENCY" => batch_concurrency.map(|n| n.to_string()),
        _ => env(name),
    })
    .unwrap();
    let Pipeline { moto, sdk, s3, sqs, queue_url, inbox_url, .. } = p;
    let dynamodb = testkit::queue::create_catalog(&sdk).await;
    let handler = Handler::new(config, &sdk);
    World { _moto: moto, s3, sqs, dynamodb, queue_url, inbox_url, handler }
}

async fn put(w: &World, key: &str, body: Vec<u8>) {
    w.s3.put_object().bucket(UPLOADS).key(key).body(ByteStream::from(body)).send().await.unwrap();
}

/// Catalog rows only: the table also holds the rejection e-mails' bookkeeping.
async fn row_count(w: &World) -> usize {
    rows(w).await.len()
}

fn s(item: &std::collections::HashMap<String, AttributeValue>, k: &str) -> String {
    match &item[k] {
        AttributeValue::S(v) | AttributeValue::N(v) => v.clone(),
        other => panic!("{k}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn photo_becomes_thumbnail_and_row_text_file_becomes_a_recorded_rejection() {
    let w = world().await;
    let photo = corpus_file("photos/s2_greenmeadow_1280x1024.jpg");
    let text = corpus_file("hostile/text.jpg");
    put(&w, "images/u1/photo1/green meadow+1.jpg", photo.clone()).await;
    put(&w, "images/u1/text1/notes.jpg", text.clone()).await;
    let messages = receive(&w.sqs, &w.queue_url, 2).await;
    let event = sqs_event(&messages);

    let response = w.handler.handle(event.clone(), worker::batch::Invocation::default()).await;
    assert_eq!(failed_ids(&response), Vec::<String>::new());

    // The thumbnail, with the headers a browser and CloudFront need.
    let head = w.s3.head_object().bucket(ASSETS).key("thumbnails/photo1.jpg").send().await.unwrap();
    assert_eq!(head.content_type(), Some("image/jpeg"));
    assert_eq!(head.cache_control(), Some(shared::visibility::Visibility::Public.cache_control()));
    let thumb_size = head.content_length().unwrap() as u64;
    assert!(thumb_size > 1000);

    // The catalog row: every field from the event and the rendition.
    let item = w
        .dynamodb
        .get_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(shared::table::image_pk("photo1")))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let body = messages.iter().find_map(|m| m.body().filter(|b| b.contains("photo1"))).unwrap();
    let event_time: chrono::DateTime<chrono::Utc> =
        serde_json::from_str::<serde_json::Value>(body).unwrap()["Records"][0]["eventTime"].as_str().unwrap().parse().unwrap();
    assert_eq!(s(&item, "file_name"), "green meadow+1.jpg");
    assert_eq!(s(&item, "owner"), "u1", "the key's owner is the row's");
    assert_eq!(s(&item, "source_key"), "images/u1/photo1/green meadow+1.jpg");
    assert_eq!(s(&item, "upload_date"), event_time.format("%Y-%m-%d").to_string());
    assert_eq!(s(&item, "upload_time"), event_time.format("%H:%M:%S").to_string());
    assert_eq!(s(&item, "original_size"), photo.len().to_string());
    assert_eq!(s(&item, "thumbnail_size"), thumb_size.to_string());
    assert_eq!((s(&item, "original_width"), s(&item, "original_height")), ("1280".into(), "1024".into()));
    assert_eq!((s(&item, "thumbnail_width"), s(&item, "thumbnail_height")), ("256".into(), "205".into()));
    assert_eq!((s(&item, "original_format"), s(&item, "thumbnail_format")), ("jpeg".into(), "jpg".into()));
    assert_eq!(s(&item, "thumbnail_key"), "thumbnails/photo1.jpg");
    // ...and on its shard of the "N smallest" index.
    let smallest = w
        .dynamodb
        .query()
        .table_name(TABLE)
        .index_name("by-size")
        .key_condition_expression("shard = :s")
        .expression_attribute_values(":s", AttributeValue::S(s(&item, "shard")))
        .send()
        .await
        .unwrap();
    assert_eq!(smallest.items().iter().filter(|i| s(i, "pk") == shared::table::image_pk("photo1")).count(), 1);

    // The rejection: a failure record, an SNS message, no thumbnail, no row.
    let date = event_time.format("%Y/%m/%d");
    let record = w.s3.get_object().bucket(LOGS).key(format!("failures/users/u1/{date}/text1.json")).send().await.unwrap();
    let record: serde_json::Value = serde_json::from_slice(&record.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(record["key"], "images/u1/text1/notes.jpg");
    assert_eq!((&record["code"], &record["owner"]), (&serde_json::json!("not_an_image"), &serde_json::json!("u1")));
    assert_eq!(record["size"], text.len());
    assert!(record["reason"].as_str().unwrap().contains("not an image"));
    let alarms = receive(&w.sqs, &w.inbox_url, 1).await;
    assert_eq!(alarms.len(), 1);
    let envelope: serde_json::Value = serde_json::from_str(alarms[0].body().unwrap()).unwrap();
    let text_msg = envelope["Message"].as_str().unwrap();
    assert!(text_msg.contains("notes.jpg") && text_msg.contains("not an image"), "{text_msg}");
    assert!(w.s3.head_object().bucket(ASSETS).key("thumbnails/text1.jpg").send().await.is_err());
    assert_eq!(row_count(&w).await, 1);

    // Redelivery of the whole batch changes nothing: one row, no second notification.
    let again = w.handler.handle(event, worker::batch::Invocation::default()).await;
    assert_eq!(failed_ids(&again), Vec::<String>::new());
    assert_eq!(row_count(&w).await, 1);
    let extra = w.sqs.receive_message().queue_url(&w.inbox_url).wait_time_seconds(1).send().await.unwrap();
    assert!(extra.messages.unwrap_or_default().is_empty(), "a redelivered rejection notified twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn unavailable_assets_bucket_is_a_transient_failure_returned_for_retry() {
    let w = world().await;
    w.s3.delete_bucket().bucket(ASSETS).send().await.unwrap();
    put(&w, "images/u1/photo2/storm.jpg", corpus_file("photos/s4_storm_1920x1280.jpg")).await;
    let messages: Vec<Message> = receive(&w.sqs, &w.queue_url, 1)
        .await
        .into_iter()
        .filter(|m| !m.body().unwrap_or_default().contains("s3:TestEvent"))
        .collect();
    let response = w.handler.handle(sqs_event(&messages), worker::batch::Invocation::default()).await;
    assert_eq!(failed_ids(&response), vec![messages[0].message_id().unwrap().to_string()]);
    assert_eq!(row_count(&w).await, 0, "no row for a thumbnail that was not written");
    let records = w.s3.list_objects_v2().bucket(LOGS).send().await.unwrap();
    assert_eq!(records.key_count(), Some(0), "a transient failure is not a rejection");
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_outside_the_input_prefix_and_test_events_are_acknowledged_untouched() {
    let w = world().await;
    // An object written where outputs live, notified as if it were an upload.
    w.s3.put_object()
        .bucket(UPLOADS)
        .key("thumbnails/x.jpg")
        .body(ByteStream::from(corpus_file("variants/orient_1.jpg")))
        .send()
        .await
        .unwrap();
    let forged = serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-11-23T10:00:00.000Z",
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "x"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
            "bucket": {"name": UPLOADS, "ownerIdentity": {"principalId": "x"}, "arn": "arn:aws:s3:::uploads"},
            "object": {"key": "thumbnails/x.jpg", "size": 100, "eTag": "e", "sequencer": "1"}}}]});
    let test_event = serde_json::json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-23T10:00:00.000Z", "Bucket": UPLOADS});
    let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [
        {"messageId": "m1", "body": forged.to_string()},
        {"messageId": "m2", "body": test_event.to_string()},
        {"messageId": "m3", "body": "not json at all"},
    ]}))
    .unwrap();
    let response = w.handler.handle(event, worker::batch::Invocation::default()).await;
    assert_eq!(failed_ids(&response), Vec::<String>::new());
    assert_eq!(w.s3.list_objects_v2().bucket(ASSETS).send().await.unwrap().key_count(), Some(0));
    assert_eq!(w.s3.list_objects_v2().bucket(LOGS).send().await.unwrap().key_count(), Some(0));
    assert_eq!(row_count(&w).await, 0);
}

async fn rows(w: &World) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let items = w.dynamodb.scan().table_name(TABLE).send().await.unwrap().items.unwrap_or_default();
    items.into_iter().filter(|i| s(i, "pk").starts_with(shared::table::Kind::Image.prefix())).collect()
}

async fn versioned(w: &World) {
    let on =
        aws_sdk_s3::types::VersioningConfiguration::builder().status(aws_sdk_s3::types::BucketVersioningStatus::Enabled).build();
    w.s3.put_bucket_versioning().bucket(UPLOADS).versioning_configuration(on).send().await.unwrap();
}

async fn handle_all(w: &World, n: usize) {
    let messages = receive(&w.sqs, &w.queue_url, n).await;
    let response = w.handler.handle(sqs_event(&messages), worker::batch::Invocation::default()).await;
    assert_eq!(failed_ids(&response), Vec::<String>::new());
}

/// `aws s3 cp photo.jpg s3://<uploads>/images/photo.jpg`: no upload id folder, still a thumbnail
/// and a row; the same key again is a second upload with its own outcome, the first untouched.
#[tokio::test(flavor = "multi_thread")]
async fn a_photo_put_straight_into_the_bucket_gets_a_thumbnail_and_a_second_upload_its_own() {
    let w = world().await;
    versioned(&w).await;
    put(&w, "images/photo.jpg", corpus_file("photos/s2_greenmeadow_1280x1024.jpg")).await;
    handle_all(&w, 1).await;
    let first = rows(&w).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(s(&first[0], "file_name"), "photo.jpg");
    assert!(s(&first[0], "id").starts_with("s3-"), "{first:?}");
    assert!(!first[0].contains_key("owner"), "a file put in by hand is nobody's: {first:?}");
    let first_thumbnail = s(&first[0], "thumbnail_key");

    put(&w, "images/photo.jpg", corpus_file("photos/s3_dune_1680x1050.jpg")).await;
    handle_all(&w, 1).await;
    let both = rows(&w).await;
    assert_eq!(both.len(), 2, "{both:?}");
    let kept = both.iter().find(|r| s(r, "id") == s(&first[0], "id")).expect("the first row is still there");
    assert_eq!(kept, &first[0], "the first outcome is unchanged");
    let widths: std::collections::BTreeSet<String> = both.iter().map(|r| s(r, "original_width")).collect();
    assert_eq!(widths, ["1280".to_string(), "1680".to_string()].into(), "each row describes its own file");
    let thumbnail = w.s3.get_object().bucket(ASSETS).key(&first_thumbnail).send().await.unwrap();
    let bytes = thumbnail.body.collect().await.unwrap().into_bytes();
    let mut decoder = jpeg_decoder::Decoder::new(&bytes[..]);
    decoder.read_info().unwrap();
    let info = decoder.info().unwrap();
    assert_eq!((info.width, info.height), (256, 205), "the first thumbnail is still the meadow's (1280x1024), not the dune's");
}

/// A presigned grant used twice before it expires: the second file, even a good photo, is refused
/// as `grant_reused` under an id of its own and never rendered; the granted id keeps the first
/// file's row and thumbnail.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_upload_under_a_granted_key_is_refused_and_never_alters_the_first() {
    let w = world().await;
    versioned(&w).await;
    put(&w, "images/u1/01J9GRANTED/holiday.jpg", corpus_file("photos/s2_greenmeadow_1280x1024.jpg")).await;
    handle_all(&w, 1).await;
    let thumbnails = |w: &World| {
        let s3 = w.s3.clone();
        async move { s3.list_objects_v2().bucket(ASSETS).prefix("thumbnails/").send().await.unwrap().key_count() }
    };
    let before = thumbnails(&w).await;
    put(&w, "images/u1/01J9GRANTED/holiday.jpg", corpus_file("photos/s3_dune_1680x1050.jpg")).await;
    handle_all(&w, 1).await;
    let rows = rows(&w).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(s(&rows[0], "id"), "01J9GRANTED");
    assert_eq!(s(&rows[0], "original_width"), "1280");
    assert_eq!(thumbnails(&w).await, before, "the second file was rendered");
    // The second file's refusal is recorded under its own id, not dropped as a redelivery.
    let records = w.s3.list_objects_v2().bucket(LOGS).prefix("failures/").send().await.unwrap();
    let keys: Vec<&str> = records.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].contains("/s3-"), "{keys:?}");
    let record = w.s3.get_object().bucket(LOGS).key(keys[0]).send().await.unwrap().body.collect().await.unwrap().into_bytes();
    let record: serde_json::Value = serde_json::from_slice(&record).unwrap();
    assert_eq!(record["code"], shared::key::GRANT_REUSED, "{record}");
}

/// 50 rejections in one burst: 50 records, the stage's 10 e-mails and one summary.
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_rejections_sends_the_rate_of_e_mails_and_one_summary() {
    // One message at a time: moto applies concurrent UpdateItems to one item without a lock (its
    // DynamoDB backend has none), so two `ADD sent :one` can return the same count and an 11th
    // e-mail goes out (seen with the batch's default concurrency). DynamoDB's ADD is atomic
    // ("atomic counters" in its developer guide): each concurrent rejection gets a count of its own.
    let w = world_with(Some(1)).await;
    // The rate's windows are aligned to the clock (every 300 s): a burst that straddles a window's
    // end rightly starts e-mailing again in the next one (seen once in CI). Start well inside one.
    let window = w.handler.context().config.mail_rate.window.as_secs();
    let into = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() % window;
    if window - into < 60 {
        tokio::time::sleep(std::time::Duration::from_secs(window - into + 1)).await;
    }
    let junk = corpus_file("hostile/text.jpg");
    for i in 0..50 {
        put(&w, &format!("images/u1/junk{i:02}/junk {i}.jpg"), junk.clone()).await;
    }
    let mut handled = 0;
    while handled < 50 {
        let messages = receive(&w.sqs, &w.queue_url, 10.min(50 - handled)).await;
        let response = w.handler.handle(sqs_event(&messages), worker::batch::Invocation::default()).await;
        assert_eq!(failed_ids(&response), Vec::<String>::new());
        for m in &messages {
            w.sqs.delete_message().queue_url(&w.queue_url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
        }
        handled += messages.iter().filter(|m| !m.body().unwrap_or_default().contains("s3:TestEvent")).count();
    }
    let records = w.s3.list_objects_v2().bucket(LOGS).prefix("failures/").send().await.unwrap();
    assert_eq!(records.key_count(), Some(50));
    let mut subjects = Vec::new();
    loop {
        let got =
            w.sqs.receive_message().queue_url(&w.inbox_url).max_number_of_messages(10).wait_time_seconds(1).send().await.unwrap();
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            let body: serde_json::Value = serde_json::from_str(m.body().unwrap()).unwrap();
            subjects.push(body["Subject"].as_str().unwrap_or_default().to_string());
            w.sqs.delete_message().queue_url(&w.inbox_url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
        }
    }
    let summaries: Vec<&String> = subjects.iter().filter(|s| s.contains("e-mails paused")).collect();
    assert_eq!(subjects.len(), 11, "{subjects:#?}");
    assert_eq!(summaries.len(), 1, "{subjects:#?}");
    assert!(summaries[0].contains("11 rejections in 300 s"), "{summaries:?}");
}
