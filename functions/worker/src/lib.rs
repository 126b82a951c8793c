//! What the two image functions (thumbnail, avatar) share on top of `shared`: the SQS batch loop,
//! their settings, and the bad-input path (failure record + SNS). The api links none of it.

pub mod batch;
pub mod config;
pub mod report;

pub use imaging::Limits;
use shared::Failure;

/// The imaging core's refusal as the failure class that decides the message's fate.
pub fn rejected(r: imaging::Rejection) -> Failure {
    Failure::BadInput { code: r.code(), reason: r.to_string() }
}
