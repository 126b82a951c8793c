//! Nothing lost: 500 uploads through the real path (S3 notification → SQS → poller → thumbnail
//! handler → S3 + DynamoDB + SNS on moto) with transient faults injected between the handler and
//! moto by `testkit::faults::Proxy`, then every upload accounted for exactly once; then every
//! processed message replayed, which must change nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::QueueAttributeName;
use testkit::faults::{Plan, Proxy};
use testkit::queue::{ASSETS, LOGS, Pipeline, TABLE, UPLOADS};
use worker::batch::Invocation;
use worker::config::Config;

use thumbstack_local::workers::{Function, Lambda, poll};

const UPLOADS_N: usize = 500;
const MAX_RECEIVE: u32 = 3;
/// As the dev stage's thumbnail function: 30 s an invocation.
const LAMBDA: Lambda = Lambda { timeout: Some(Duration::from_secs(30)), max_receive_count: Some(MAX_RECEIVE) };

/// The handler, plus the first body of every message it was handed (for the replay).
struct Recording {
    handler: thumbnail::handler::Handler,
    bodies: Mutex<HashMap<String, String>>,
}

impl Function for Recording {
    fn handle(&self, event: SqsEvent, invocation: Invocation) -> impl Future<Output = SqsBatchResponse> + Send {
        let mut bodies = self.bodies.lock().unwrap();
        for r in &event.records {
            bodies.entry(r.message_id.clone().unwrap_or_default()).or_insert_with(|| r.body.clone().unwrap_or_default());
        }
        drop(bodies);
        self.handler.handle(event, invocation)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Expect {
    Thumbnail,
    Failure,
    DeadLetter,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_upload_is_accounted_for_exactly_once_under_injected_faults() {
    let pipeline = Pipeline::start("thumbnail", "images/").await;
    let dynamodb = testkit::queue::create_catalog(&pipeline.sdk).await;
    let sqs = pipeline.sqs.clone();
    let dlq = testkit::queue::create_queue(&sqs, "thumbnail-dlq").await;
    let dlq_arn = testkit::queue::queue_arn(&sqs, &dlq).await;
    sqs.set_queue_attributes()
        .queue_url(&pipeline.queue_url)
        // Short, so the DLQ path ends within the test, yet longer than one delivery takes on a
        // loaded 2-core machine: a message that becomes visible again while its first delivery is
        // still being handled is a concurrent duplicate (two e-mails for one record), which the
        // template rules out with a visibility timeout of 6x the function's timeout. At 2 s a
        // cold CI run saw it once.
        .attributes(QueueAttributeName::VisibilityTimeout, "5")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{MAX_RECEIVE}"}}"#),
        )
        .send()
        .await
        .unwrap();

    // Real photos of several sizes, 10 % hostile files, and 1 % whose download always fails.
    let photos: Vec<(String, Vec<u8>)> = [
        "s1_paintbrushes_1365x1074.jpg",
        "s2_greenmeadow_1280x1024.jpg",
        "s3_dune_1680x1050.jpg",
        "s4_storm_1920x1280.jpg",
        "s5_raindrops_1920x1200.png",
        "m1_eveningglow_2560x1600.jpg",
        "m9_onestandsout_2560x1600.webp",
    ]
    .iter()
    .map(|n| (n.to_string(), testkit::corpus_file(&format!("photos/{n}"))))
    .collect();
    let hostile: Vec<(String, Vec<u8>)> = [
        "empty.jpg",
        "text.jpg",
        "truncated_half.jpg",
        "bomb_20000x20000.png",
        "bomb_100000x100000_rgb_partial.png",
        "vector.svg",
        // Poison: each would have exhausted a function's memory or time before the budgets.
        "deep_100mp_rgba16.png",
        "icc_bomb.png",
        "scan_bomb.jpg",
    ]
    .iter()
    .map(|n| (n.to_string(), testkit::corpus_file(&format!("hostile/{n}"))))
    .collect();
    let mut expected: BTreeMap<String, Expect> = BTreeMap::new();
    let mut sticky = Vec::new();
    for i in 0..UPLOADS_N {
        let (kind, (name, bytes)) = if i % 10 == 5 {
            (Expect::Failure, &hostile[i / 10 % hostile.len()])
        } else if i % 100 == 7 {
            (Expect::DeadLetter, &photos[i % photos.len()])
        } else {
            (Expect::Thumbnail, &photos[i % photos.len()])
        };
        let id = format!("acct{i:04}");
        let key = shared::key::image_key("images/", "u1", &id, name);
        if kind == Expect::DeadLetter {
            sticky.push(format!("/{id}/"));
        }
        pipeline.s3.put_object().bucket(UPLOADS).key(&key).body(bytes.clone().into()).send().await.unwrap();
        expected.insert(key, kind);
    }

    let proxy = Proxy::start(
        &pipeline.moto.endpoint,
        Plan { rate: 0.05, always_fail: sticky, seed: 0x7468_756d_6273, s3_latency: Duration::ZERO },
    );
    // The SDK's standard retries, with a short backoff so the test does not sleep for minutes.
    let retry = aws_config::retry::RetryConfig::standard().with_initial_backoff(Duration::from_millis(20));
    let faulty = pipeline.sdk.to_builder().endpoint_url(&proxy.endpoint).retry_config(retry).build();
    // Every rejection is to be accounted for by its e-mail too, so no rate holds them back here
    // (the rate has its own test: thumbnail's `a_burst_of_rejections_...`).
    let env = pipeline.env("thumbnail");
    let config =
        Config::from_lookup(
            &thumbnail::DEFAULTS,
            |name| if name == "REJECTION_EMAILS" { Some("100000".into()) } else { env(name) },
        )
        .unwrap();
    let function = Arc::new(Recording { handler: thumbnail::handler::Handler::new(config, &faulty), bodies: Mutex::default() });

    let started = Instant::now();
    drain(&sqs, &pipeline.queue_url, &function, 2).await;
    let mut notified = BTreeMap::new();
    let first = account(&pipeline, &dynamodb, &dlq, &mut notified).await;
    let took = started.elapsed();
    let injected = proxy.injected();
    print_table(&expected, &first, &injected, proxy.forwarded(), took);
    check(&expected, &first);
    assert!(injected.values().sum::<u64>() > 50, "faults were injected: {injected:?}");

    // Replay every message that was processed (not those in the DLQ) once more, faults still on.
    let bodies: Vec<String> = function.bodies.lock().unwrap().values().cloned().collect();
    let dead: BTreeSet<&String> = first.dead.iter().collect();
    let replay: Vec<&String> = bodies.iter().filter(|b| !dead.iter().any(|k| b.contains(k.as_str()))).collect();
    for body in &replay {
        sqs.send_message().queue_url(&pipeline.queue_url).message_body(body.as_str()).send().await.unwrap();
    }
    drain(&sqs, &pipeline.queue_url, &function, 2).await;
    let second = account(&pipeline, &dynamodb, &dlq, &mut notified).await;
    eprintln!(
        "replayed {} messages: {} catalog rows, {} assets, {} failure records, {} notifications before and after",
        replay.len(),
        second.rows.len(),
        second.assets.len(),
        second.records.len(),
        second.notified.values().sum::<usize>()
    );
    assert_eq!(second.assets, first.assets, "the replay changed an asset (key or content)");
    assert_eq!(second.rows, first.rows, "the replay changed the catalog");
    assert_eq!(second.records, first.records, "the replay changed a failure record");
    assert_eq!(second.notified, first.notified, "the replay sent a notification again");
}

/// Runs `workers` pollers until the queue has been empty (nothing visible, nothing in flight)
/// for two checks in a row.
async fn drain(sqs: &aws_sdk_sqs::Client, queue: &str, function: &Arc<Recording>, workers: usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let pollers: Vec<_> = (0..workers)
        .map(|_| {
            tokio::spawn(poll("thumbnail", sqs.clone(), queue.to_string(), 10, LAMBDA, Arc::clone(function), Arc::clone(&stop)))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut empty_checks = 0;
    while empty_checks < 2 {
        assert!(Instant::now() < deadline, "the queue did not drain in 10 minutes");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(queue)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let left: u64 = attrs.attributes().unwrap().values().map(|v| v.parse::<u64>().unwrap_or(0)).sum();
        empty_checks = if left == 0 { empty_checks + 1 } else { 0 };
    }
    stop.store(true, Ordering::Relaxed);
    for p in pollers {
        p.await.unwrap();
    }
}

#[derive(Debug, PartialEq)]
struct Accounts {
    /// Source key → catalog rows naming it.
    rows: BTreeMap<String, usize>,
    /// Asset key → ETag (the content's MD5 on moto).
    assets: BTreeMap<String, String>,
    /// Source key → failure records naming it, and record key → ETag.
    failures: BTreeMap<String, usize>,
    records: BTreeMap<String, String>,
    /// Source key → notifications naming it.
    notified: BTreeMap<String, usize>,
    /// Source keys of the notifications in the dead-letter queue.
    dead: Vec<String>,
}

/// `notified` carries the notifications read so far (reading an SQS message removes it).
async fn account(
    pipeline: &Pipeline,
    dynamodb: &aws_sdk_dynamodb::Client,
    dlq: &str,
    notified: &mut BTreeMap<String, usize>,
) -> Accounts {
    let mut rows = BTreeMap::new();
    let mut pages = dynamodb.scan().table_name(TABLE).into_paginator().items().send();
    while let Some(item) = pages.next().await {
        let item = item.unwrap();
        if let Some(key) = item.get("source_key").and_then(|v| v.as_s().ok()) {
            *rows.entry(key.clone()).or_default() += 1;
        }
    }
    let assets = list(&pipeline.s3, ASSETS).await;
    let records = list(&pipeline.s3, LOGS).await;
    let mut failures = BTreeMap::new();
    for key in records.keys() {
        let body =
            pipeline.s3.get_object().bucket(LOGS).key(key).send().await.unwrap().body.collect().await.unwrap().into_bytes();
        let record: serde_json::Value = serde_json::from_slice(&body).unwrap();
        *failures.entry(record["key"].as_str().unwrap().to_string()).or_default() += 1;
    }
    for body in drain_messages(&pipeline.sqs, &pipeline.inbox_url).await {
        let envelope: serde_json::Value = serde_json::from_str(&body).unwrap();
        let text = envelope["Message"].as_str().unwrap_or_default();
        let key = text.split("(s3://uploads/").nth(1).and_then(|r| r.split(')').next()).unwrap_or_default();
        *notified.entry(key.to_string()).or_default() += 1;
    }
    let dead_bodies = drain_messages(&pipeline.sqs, dlq).await;
    let dead = dead_bodies
        .iter()
        .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .filter_map(|v| v["Records"][0]["s3"]["object"]["key"].as_str().map(String::from))
        // S3 event keys are URL-encoded, spaces as `+`.
        .map(|k| percent_encoding::percent_decode_str(&k.replace('+', " ")).decode_utf8_lossy().into_owned())
        .collect();
    Accounts { rows, assets, failures, records, notified: notified.clone(), dead }
}

async fn list(s3: &aws_sdk_s3::Client, bucket: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        for o in page.unwrap().contents() {
            out.insert(o.key().unwrap().to_string(), o.e_tag().unwrap_or_default().to_string());
        }
    }
    out
}

/// Every message in the queue, deleted as read.
async fn drain_messages(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let got = sqs.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(1).send().await.unwrap();
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        for m in messages {
            bodies.push(m.body().unwrap_or_default().to_string());
            sqs.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
        }
    }
}

fn outcome(a: &Accounts, key: &str) -> Vec<Expect> {
    let count = |m: &BTreeMap<String, usize>| m.get(key).copied().unwrap_or(0);
    let id = shared::key::parse_upload_key(key, "images/").and_then(Result::ok).map(|k| k.id).unwrap_or_default();
    let thumbs = a.assets.keys().filter(|k| k.starts_with(&format!("thumbnails/{id}."))).count();
    let mut got = Vec::new();
    for _ in 0..count(&a.rows).max(thumbs) {
        got.push(Expect::Thumbnail);
    }
    for _ in 0..count(&a.failures).max(count(&a.notified)) {
        got.push(Expect::Failure);
    }
    for _ in a.dead.iter().filter(|k| *k == key) {
        got.push(Expect::DeadLetter);
    }
    // A thumbnail without its row (or a record without its notification) is not an outcome.
    if count(&a.rows) != thumbs || count(&a.failures) != count(&a.notified) {
        got.push(Expect::Thumbnail);
        got.push(Expect::Failure);
    }
    got
}

fn check(expected: &BTreeMap<String, Expect>, a: &Accounts) {
    let wrong: Vec<String> = expected
        .iter()
        .filter_map(|(key, want)| {
            let got = outcome(a, key);
            (got != [*want]).then(|| format!("{key}: expected {want:?}, got {got:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{} upload(s) with no outcome, two, or the wrong one:\n{}", wrong.len(), wrong.join("\n"));
}

fn print_table(
    expected: &BTreeMap<String, Expect>,
    a: &Accounts,
    injected: &BTreeMap<String, u64>,
    forwarded: u64,
    took: Duration,
) {
    let mut table: BTreeMap<(Expect, String), usize> = BTreeMap::new();
    for (key, want) in expected {
        let got = outcome(a, key);
        let label = match got.as_slice() {
            [] => "none".to_string(),
            [one] => format!("{one:?}"),
            more => format!("{more:?}"),
        };
        *table.entry((*want, label)).or_default() += 1;
    }
    eprintln!("accounting: {} uploads in {:.0} s; {forwarded} requests forwarded to moto", expected.len(), took.as_secs_f64());
    eprintln!("  {:<12} {:<28} {:>6}", "expected", "outcome", "uploads");
    for ((want, got), n) in &table {
        eprintln!("  {:<12} {:<28} {n:>6}", format!("{want:?}"), got);
    }
    eprintln!("  faults injected:");
    for (kind, n) in injected {
        eprintln!("    {kind:<36} {n:>5}");
    }
}
