//! The log line a rejection writes is what the template's metric filters read: every `$.field`
//! their patterns and dimensions name is a top-level field of the line, with the value the rollback
//! alarm needs (`version`, the function version that refused the upload).

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use shared::event::ObjectCreated;
use worker::mail_rate::MailRate;
use worker::report::{Reporter, Upload};

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Photo;

impl Upload for Photo {
    fn id(&self) -> &str {
        "0123456789abcdef0123456789abcdef"
    }
    fn file_name(&self) -> Option<&str> {
        Some("photo.jpg")
    }
    fn owner(&self) -> Option<&str> {
        Some("u1")
    }
}

/// `$.name` references in the template's metric filters: patterns and dimension values.
fn fields_the_filters_read() -> Vec<String> {
    let text = std::fs::read_to_string(testkit::repo_root().join("infra/template.yaml")).unwrap();
    let mut fields: Vec<String> = text
        .match_indices("$.")
        .map(|(at, _)| text[at + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
        .collect();
    fields.sort();
    fields.dedup();
    fields
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejection_line_carries_every_field_the_metric_filters_read() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = worker::logging::json_lines(move || writer.clone());
    // Nothing answers here: the line is written before any call, which then fails.
    let sdk = shared::aws::emulator_config("us-east-1", "http://127.0.0.1:9").await;
    let reporter = Reporter {
        s3: shared::aws::s3_client(&sdk),
        sns: aws_sdk_sns::Client::new(&sdk),
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        table: "t".into(),
        log_bucket: "logs".into(),
        topic_arn: "arn:aws:sns:us-east-1:123456789012:alarms".into(),
        function: "thumbnail",
        version: "7".into(),
        mail_rate: MailRate::default(),
    };
    let object = ObjectCreated {
        bucket: "uploads".into(),
        key: "images/u1/0123456789abcdef0123456789abcdef/photo.jpg".into(),
        size: Some(10),
        etag: None,
        version_id: None,
        sequencer: None,
        time: Utc::now(),
    };
    let dispatch = tracing::Dispatch::new(subscriber);
    let _guard = tracing::dispatcher::set_default(&dispatch);
    let outcome = reporter.reject(&object, Some(&Photo), "not_an_image", "not an image").await;
    assert!(outcome.is_err(), "nothing answered, so the record was not written");
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let line: serde_json::Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["event"] == "image_rejected")
        .unwrap_or_else(|| panic!("no image_rejected line in:\n{text}"));
    let fields = fields_the_filters_read();
    assert!(fields.contains(&"event".to_string()) && fields.contains(&"version".to_string()), "{fields:?}");
    for field in &fields {
        assert!(line.get(field).is_some_and(|v| !v.is_null()), "the metric filters read $.{field}, which the line lacks: {line}");
    }
    assert_eq!(line["version"], "7");
}
