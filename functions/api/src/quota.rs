//! Per-user upload quotas, counted when an upload is granted: one conditional `UpdateItem` on the
//! user's item for the UTC day (`shared::table::quota_pk`) adds the grant, or fails if it would
//! pass either limit, so concurrent grants can never overshoot. A grant's bytes are the size the
//! browser declared, which the presigned POST then holds the file to.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

use crate::http::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub uploads_per_day: u64,
    pub bytes_per_day: u64,
}

/// Counts one grant of `size` bytes for `user` on `now`'s day, or refuses it, naming the limit
/// and when it resets.
pub async fn take(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    user: &str,
    size: u64,
    quota: Quota,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let day = now.format("%Y-%m-%d").to_string();
    let resets = (now.date_naive() + Duration::days(1)).and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
    let exceeded = |what: String| ApiError::QuotaExceeded(format!("{what}; the count starts again at {}", resets.to_rfc3339()));
    if size > quota.bytes_per_day {
        return Err(exceeded(format!("{size} bytes is over the {} bytes a day one account may upload", quota.bytes_per_day)));
    }
    let n = |v: u64| AttributeValue::N(v.to_string());
    let counted = dynamodb
        .update_item()
        .table_name(table)
        .key(shared::table::PK, AttributeValue::S(shared::table::quota_pk(user, &day)))
        .update_expression("ADD uploads :one, #bytes :size SET #expires = :expires")
        .condition_expression(
            "attribute_not_exists(closed) AND (attribute_not_exists(uploads) OR uploads < :uploads) \
             AND (attribute_not_exists(#bytes) OR #bytes <= :room)",
        )
        .expression_attribute_names("#bytes", "bytes")
        .expression_attribute_names("#expires", shared::table::EXPIRES_AT)
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":size", n(size))
        .expression_attribute_values(":uploads", n(quota.uploads_per_day))
        .expression_attribute_values(":room", n(quota.bytes_per_day - size))
        // Kept a day past its own, then DynamoDB's TTL removes it.
        .expression_attribute_values(":expires", n((resets + Duration::days(1)).timestamp().unsigned_abs()))
        .send()
        .await;
    match counted {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Err(exceeded(format!(
            "this account has used today's uploads ({} files or {} bytes a day), or was deleted",
            quota.uploads_per_day, quota.bytes_per_day
        ))),
        Err(e) => Err(ApiError::internal("counting the upload against the quota", e)),
    }
}

/// No grant for `user` today or tomorrow: an account being deleted. Its access tokens outlive the
/// deletion by up to their lifetime (15 minutes, the template's `AccessTokenValidity`), and a grant
/// in that window would put a photo back. The two items hold nothing but the user id, and DynamoDB's
/// TTL removes them a day after their own.
pub async fn close(dynamodb: &aws_sdk_dynamodb::Client, table: &str, user: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    for day in [now.date_naive(), now.date_naive() + Duration::days(1)] {
        let expires = (day + Duration::days(2)).and_hms_opt(0, 0, 0).expect("midnight exists").and_utc();
        dynamodb
            .update_item()
            .table_name(table)
            .key(shared::table::PK, AttributeValue::S(shared::table::quota_pk(user, &day.format("%Y-%m-%d").to_string())))
            .update_expression("SET closed = :yes, #expires = :expires")
            .expression_attribute_names("#expires", shared::table::EXPIRES_AT)
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .expression_attribute_values(":expires", AttributeValue::N(expires.timestamp().unsigned_abs().to_string()))
            .send()
            .await
            .map_err(|e| ApiError::internal("closing the account to new uploads", e))?;
    }
    Ok(())
}
