//! The S3 → SQS → function path as Lambda drives it: queues, bucket notifications, and the
//! `SqsEvent` Lambda's poller would hand a function.

use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration,
    S3KeyFilter,
};
use aws_sdk_sqs::types::{Message, QueueAttributeName};

pub const UPLOADS: &str = "uploads";
pub const ASSETS: &str = "assets";
pub const LOGS: &str = "logs";
pub const TABLE: &str = "catalog";

/// One function's surroundings on a fresh moto: the three buckets, its queue fed by S3
/// notifications under its prefix, and the alarm topic with a queue subscribed to read what
/// it publishes. The catalog table is the test's own (its indexes differ per function).
pub struct Pipeline {
    pub moto: crate::Moto,
    pub sdk: aws_config::SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub inbox_url: String,
    pub topic_arn: String,
}

impl Pipeline {
    pub async fn start(queue: &str, prefix: &str) -> Pipeline {
        let moto = crate::Moto::start();
        let sdk = moto.sdk_config().await;
        // Path-style, as the functions' own client (`bucket.127.0.0.1` does not resolve).
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let sns = aws_sdk_sns::Client::new(&sdk);
        for bucket in [UPLOADS, ASSETS, LOGS] {
            s3.create_bucket().bucket(bucket).send().await.unwrap();
        }
        let queue_url = create_queue(&sqs, queue).await;
        let inbox_url = create_queue(&sqs, "alarm-inbox").await;
        let topic_arn = sns.create_topic().name("alarms").send().await.unwrap().topic_arn.unwrap();
        sns.subscribe().topic_arn(&topic_arn).protocol("sqs").endpoint(queue_arn(&sqs, &inbox_url).await).send().await.unwrap();
        notify(&s3, &sqs, UPLOADS, prefix, &queue_url).await;
        Pipeline { moto, sdk, s3, sqs, queue_url, inbox_url, topic_arn }
    }

    /// The environment the template gives `function` (`thumbnail`, `avatar`, `api`), for
    /// `Config::from_lookup`: read from the rendered `dev` template by `local_spec::function_env`
    /// (the same code `cargo xtask local` uses), its resources resolved to this fixture's.
    pub fn env(&self, function: &str) -> impl Fn(&str) -> Option<String> + use<> {
        let env = self.env_vars(function);
        move |name| env.get(name).cloned()
    }

    /// The same environment as a map, for a process of its own (the bench's release bootstrap).
    pub fn env_vars(&self, function: &str) -> std::collections::BTreeMap<String, String> {
        crate::function_env(function, |resource| match resource {
            "UploadsBucket" => Some(UPLOADS.into()),
            "AssetsBucket" => Some(ASSETS.into()),
            "LogBucket" => Some(LOGS.into()),
            "CatalogTable" => Some(TABLE.into()),
            "AlarmTopic" => Some(self.topic_arn.clone()),
            // No edge caches here; a test that wants one sets DISTRIBUTION_ID itself.
            "Distribution" => Some(String::new()),
            _ => None,
        })
    }
}

/// Sends `s3:ObjectCreated:*` under `prefix` in `bucket` to the queue.
pub async fn notify(s3: &aws_sdk_s3::Client, sqs: &aws_sdk_sqs::Client, bucket: &str, prefix: &str, queue_url: &str) {
    let notify = QueueConfiguration::builder()
        .queue_arn(queue_arn(sqs, queue_url).await)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(
            NotificationConfigurationFilter::builder()
                .key(
                    S3KeyFilter::builder()
                        .filter_rules(FilterRule::builder().name(FilterRuleName::Prefix).value(prefix).build())
                        .build(),
                )
                .build(),
        )
        .build()
        .unwrap();
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(NotificationConfiguration::builder().queue_configurations(notify).build())
        .send()
        .await
        .unwrap();
}

pub async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap()
}

pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    let attrs = sqs.get_queue_attributes().queue_url(url).attribute_names(QueueAttributeName::QueueArn).send().await.unwrap();
    attrs.attributes.unwrap()[&QueueAttributeName::QueueArn].clone()
}

/// Receives until `want` messages other than S3's test event have arrived (test events are kept too).
pub async fn receive(sqs: &aws_sdk_sqs::Client, url: &str, want: usize) -> Vec<Message> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got: Vec<Message> = Vec::new();
    while got.iter().filter(|m| !m.body().unwrap_or_default().contains("s3:TestEvent")).count() < want {
        assert!(Instant::now() < deadline, "only {} of {want} messages arrived", got.len());
        let out = sqs.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(1).send().await.unwrap();
        got.extend(out.messages.unwrap_or_default());
    }
    got
}

/// What Lambda's SQS poller would hand the function.
pub fn sqs_event(messages: &[Message]) -> SqsEvent {
    let records: Vec<_> = messages
        .iter()
        .map(|m| serde_json::json!({ "messageId": m.message_id(), "receiptHandle": m.receipt_handle(), "body": m.body(), "eventSource": "aws:sqs" }))
        .collect();
    serde_json::from_value(serde_json::json!({ "Records": records })).unwrap()
}

pub fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

/// The catalog table as `shared::table` lays it out (infra/template.yaml's `CatalogTable` is held
/// to the same layout).
pub async fn create_catalog(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    shared::catalog::create_table(&dynamodb, TABLE).send().await.unwrap();
    dynamodb
}
