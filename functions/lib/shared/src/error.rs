use thiserror::Error;

/// Every failure is one of these kinds, and the kind decides what happens to the SQS message.
#[derive(Debug, Error)]
pub enum Failure {
    /// Permanent: the input itself is wrong. Record + notify + acknowledge; never retried.
    #[error("bad input ({code}): {reason}")]
    BadInput { code: &'static str, reason: String },
    /// Anything else (throttling, 5xx, timeouts, missing infrastructure): the message goes back
    /// in `batchItemFailures`, SQS retries it, and after `maxReceiveCount` it lands in the DLQ.
    #[error("transient: {0}")]
    Transient(String),
    /// Retried like `Transient`, except on the message's last delivery: another would meet the
    /// same deadline, so it is recorded as rejected instead of dropped into the DLQ.
    #[error("out of time: {0}")]
    OutOfTime(&'static str),
}

impl Failure {
    pub fn bad_input(code: &'static str, reason: impl Into<String>) -> Self {
        Failure::BadInput { code, reason: reason.into() }
    }

    /// For SDK and I/O errors: whatever went wrong talking to AWS is worth a retry.
    pub fn transient(context: &str, err: impl std::error::Error) -> Self {
        // The SDK's Display is terse ("service error"); the source chain says what happened.
        let mut text = format!("{context}: {err}");
        let mut source = err.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        Failure::Transient(text)
    }
}
