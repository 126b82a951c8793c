//! The bad-input path every function takes: a failure record in the log bucket, one structured
//! log line for the metric filter, and an SNS e-mail within the stage's rate (`mail_rate`). Then
//! the caller acknowledges the message.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{SecondsFormat, Utc};

use shared::Failure;
use shared::event::ObjectCreated;
use shared::record::FailureRecord;

use crate::mail_rate::{Mail, MailRate};

/// What a rejection is filed under: the upload's id, its file name and its owner, when known.
pub trait Upload {
    fn id(&self) -> &str;
    fn file_name(&self) -> Option<&str>;
    fn owner(&self) -> Option<&str>;
}

pub struct Reporter {
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    /// Holds the e-mail counter (`mail_rate`).
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub log_bucket: String,
    pub topic_arn: String,
    pub function: &'static str,
    /// The function version this instance runs (`Config::version`).
    pub version: String,
    pub mail_rate: MailRate,
}

impl Reporter {
    /// Records a rejection. Errors here are transient: the message is retried rather than the
    /// rejection lost. A record that already exists means a redelivery: nothing is sent twice.
    pub async fn reject<U: Upload>(
        &self,
        obj: &ObjectCreated,
        upload: Option<&U>,
        code: &str,
        reason: &str,
    ) -> Result<(), Failure> {
        let file_name = upload.and_then(Upload::file_name);
        let owner = upload.and_then(Upload::owner);
        let key = FailureRecord::object_key(obj, upload.map(Upload::id), owner);
        tracing::warn!(event = "image_rejected", function = self.function, version = %self.version, key = %obj.key, code, reason, "upload rejected");
        match self.s3.head_object().bucket(&self.log_bucket).key(&key).send().await {
            Ok(_) => return Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {}
            Err(e) => return Err(Failure::transient("checking for an earlier failure record", e)),
        }
        let record = FailureRecord {
            function: self.function.to_string(),
            owner: owner.map(str::to_string),
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
        // Exactly one e-mail per rejection, even when two deliveries of its message run at once
        // or an earlier attempt failed half-way: whoever claims the rejection's notice sends it.
        // Every rejection has its record and log line; e-mails are rationed (`mail_rate`), so a
        // script that uploads junk cannot flood the inbox.
        if self.claim_notice(&key).await?
            && let Err(failure) = self.notify(obj, shown, reason, &key).await
        {
            self.release_notice(&key).await;
            return Err(failure);
        }
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

impl Reporter {
    /// `true` for the one attempt that is to send this rejection's e-mail (a conditional write
    /// of `shared::table::notice_pk`), `false` when another already has.
    async fn claim_notice(&self, record_key: &str) -> Result<bool, Failure> {
        let expires = chrono::Utc::now().timestamp() + 14 * 86_400;
        let claimed = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .key(shared::table::PK, AttributeValue::S(shared::table::notice_pk(record_key)))
            .update_expression(format!("SET {} = :expires", shared::table::EXPIRES_AT))
            .condition_expression(shared::table::IF_NEW)
            .expression_attribute_values(":expires", AttributeValue::N(expires.to_string()))
            .send()
            .await;
        match claimed {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(Failure::transient("claiming the rejection's e-mail", e)),
        }
    }

    /// After a failed send, so the retry sends it; if this fails too, the e-mail is lost but the
    /// record and the log line are not.
    async fn release_notice(&self, record_key: &str) {
        let released = self
            .dynamodb
            .delete_item()
            .table_name(&self.table)
            .key(shared::table::PK, AttributeValue::S(shared::table::notice_pk(record_key)))
            .send()
            .await;
        if let Err(e) = released {
            tracing::error!(event = "notice_not_released", key = record_key, error = %e, "the retry will not e-mail this rejection");
        }
    }

    async fn notify(&self, obj: &ObjectCreated, shown: &str, reason: &str, key: &str) -> Result<(), Failure> {
        let mail =
            crate::mail_rate::count(&self.dynamodb, &self.table, self.function, self.mail_rate, shown, Utc::now().into()).await?;
        let (title, text) = match mail {
            Mail::None => return Ok(()),
            Mail::One => (
                format!("thumbstack: upload rejected: {shown}"),
                format!(
                    "The upload {shown:?} (s3://{}/{}) was rejected by the {} function.\n\nReason: {reason}\n\nRecord: s3://{}/{key}\n",
                    obj.bucket, obj.key, self.function, self.log_bucket
                ),
            ),
            Mail::Summary { count, resumes_at, names } => (
                format!("thumbstack: {} rejections in {} s; e-mails paused", count, self.mail_rate.window.as_secs()),
                format!(
                    "The {} function has rejected {count} uploads in this {}-second window, more than the {} e-mails it sends per window.\n\
                     Further rejections until {} are recorded (s3://{}/failures/) and logged, without e-mail.\n\nThe first: {}\n",
                    self.function,
                    self.mail_rate.window.as_secs(),
                    self.mail_rate.per_window,
                    chrono::DateTime::<Utc>::from(resumes_at).to_rfc3339_opts(SecondsFormat::Secs, true),
                    self.log_bucket,
                    names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
                ),
            ),
        };
        self.sns
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject(&title))
            .message(text)
            .send()
            .await
            .map_err(|e| Failure::transient("publishing the rejection", e))?;
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
