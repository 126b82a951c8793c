//! What every function shares, so the thumbnail and avatar paths cannot drift apart:
//! decoding S3 notifications from SQS, the upload key layout, the failure classes,
//! the record types written to S3/DynamoDB, and the AWS side of reporting a rejection.

pub mod aws;
pub mod batch;
pub mod catalog;
pub mod config;
pub mod error;
pub mod event;
pub mod key;
pub mod record;
pub mod report;

pub use error::Failure;
