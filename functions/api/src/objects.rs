//! The S3 calls the deleting routes share: every key under a prefix, page by page, and one delete
//! whose failure says what was being deleted.

use crate::Api;
use crate::http::ApiError;

/// Every key under `prefix` in `bucket`; `what` names them in the error.
pub async fn keys_under(api: &Api, bucket: &str, prefix: &str, what: &'static str) -> Result<Vec<String>, ApiError> {
    let mut keys = Vec::new();
    let mut pages = api.s3.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| ApiError::internal(what, e))?;
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
    }
    Ok(keys)
}

/// Deletes `key` (S3 answers the same whether or not it was there); `what` names it in the error.
pub async fn delete(api: &Api, bucket: &str, key: &str, what: &'static str) -> Result<(), ApiError> {
    api.s3.delete_object().bucket(bucket).key(key).send().await.map_err(|e| ApiError::internal(what, e))?;
    Ok(())
}
