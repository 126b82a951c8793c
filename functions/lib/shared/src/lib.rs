//! What every function shares, so the thumbnail, avatar and api paths cannot drift apart:
//! decoding S3 notifications from SQS, the upload key layout, the catalog table's layout, the
//! failure classes and the record types. With the default `aws` feature also the SDK clients and the DynamoDB catalog;
//! without it (the fuzz targets) it is pure and builds no AWS SDK.

#[cfg(feature = "aws")]
pub mod aws;
pub mod build_info;
#[cfg(feature = "aws")]
pub mod catalog;
pub mod config;
pub mod error;
pub mod event;
mod hash;
pub mod key;
pub mod lambda;
pub mod media;
pub mod record;
pub mod self_check;
#[cfg(feature = "aws")]
pub mod signed;
pub mod table;
pub mod visibility;

pub use error::Failure;
