//! What the two image functions (thumbnail, avatar) share on top of `shared`: the SQS batch loop,
//! their settings, and the bad-input path (failure record + SNS). The api links none of it.

pub mod batch;
pub mod concurrency;
pub mod config;
pub mod context;
pub mod logging;
pub mod mail_rate;
pub mod report;
pub mod self_check;

pub use imaging::Limits;
use shared::Failure;

/// The imaging core's refusal as the failure class that decides the message's fate.
pub fn rejected(r: imaging::Rejection) -> Failure {
    Failure::BadInput { code: r.code(), reason: r.to_string() }
}

#[cfg(test)]
mod tests {
    /// The api accepts exactly the types the core decodes (it links neither imaging nor this).
    #[test]
    fn accepted_upload_types_are_the_decoded_formats() {
        let decoded: Vec<String> = imaging::Format::ALL.iter().map(|f| f.name().to_ascii_lowercase()).collect();
        let accepted: Vec<String> = shared::media::ACCEPTED.iter().map(|(_, f)| f.to_string()).collect();
        assert_eq!(decoded, accepted);
    }
}
