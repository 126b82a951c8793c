//! The bad-input path every function takes: a failure record in the log bucket, one SNS message,
//! one structured log line for the metric filter. Then the caller acknowledges the message.

use aws_sdk_s3::primitives::ByteStream;
use chrono::{SecondsFormat, Utc};

use shared::Failure;
use shared::event::ObjectCreated;
use shared::record::FailureRecord;

pub struct Reporter {
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub log_bucket: String,
    pub topic_arn: String,
    pub function: &'static str,
}

impl Reporter {
    /// Records a rejection. Errors here are transient: the message is retried rather than the
    /// rejection lost. A record that already exists means a redelivery: nothing is sent twice.
    pub async fn reject(
        &self,
        obj: &ObjectCreated,
        upload_id: Option<&str>,
        file_name: Option<&str>,
        code: &str,
        reason: &str,
    ) -> Result<(), Failure> {
        let key = FailureRecord::object_key(obj, upload_id);
        tracing::warn!(event = "image_rejected", function = self.function, key = %obj.key, code, reason, "upload rejected");
        match self.s3.head_object().bucket(&self.log_bucket).key(&key).send().await {
            Ok(_) => return Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
            Err(e) => return Err(Failure::transient("checking for an earlier failure record", e)),
        }
        let record = FailureRecord {
            function: self.function.to_string(),
            bucket: obj.bucket.clone(),
            key: obj.key.clone(),
            file_name: file_name.map(str::to_string),
            size: obj.size,
            code: code.to_string(),
            reason: reason.to_string(),
            uploaded_at: obj.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            recorded_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        };
        let body = serde_json::to_vec_pretty(&record).map_err(|e| Failure::transient("encoding failure record", e))?;
        let shown = file_name.unwrap_or(&obj.key);
        // Publish first: if it fails, no record exists yet and the retry publishes again.
        self.sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject(&format!("thumbstack: upload rejected: {shown}")))
            .message(format!(
                "The upload {shown:?} (s3://{}/{}) was rejected by the {} function.\n\nReason: {reason}\n\nRecord: s3://{}/{key}\n",
                obj.bucket, obj.key, self.function, self.log_bucket
            ))
            .send()
            .await
            .map_err(|e| Failure::transient("publishing the rejection", e))?;
        self.s3
            .put_object()
            .bucket(&self.log_bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| Failure::transient("writing the failure record", e))?;
        Ok(())
    }
}

/// SNS refuses subjects that are not printable ASCII or are 100 characters or longer, and that
/// refusal would turn a rejection into an endless retry: user-chosen names are made safe here.
fn subject(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).take(99).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn subjects_are_safe_for_sns() {
        let s = super::subject(&format!("thumbstack: upload rejected: été\n{}", "x".repeat(200)));
        assert_eq!(s.chars().count(), 99);
        assert!(s.starts_with("thumbstack: upload rejected: ?t??xx"), "{s}");
        assert!(s.chars().all(|c| c.is_ascii_graphic() || c == ' '));
    }
}
