//! `GET /api/images` (the public catalog: thumbnails only, paginated, newest or smallest first),
//! `GET /api/photos` (the caller's own, with their originals) and `GET /api/failures` (the
//! caller's own failure records, newest first).

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use chrono::Utc;
use serde::Serialize;
use shared::catalog::{self, Cursor, Order};
use shared::record::{CatalogRow, FailureRecord};
use shared::visibility::Visibility;

use crate::Api;
use crate::http::{ApiError, Request, Response};

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;
/// How far back the failures listing looks (records expire after the stage's
/// `failure_record_days`; 30 by default).
pub const FAILURE_DAYS: i64 = 31;
/// Originals live in the private uploads bucket; a page links them through short-lived URLs.
const ORIGINAL_URL_TTL: Duration = Duration::from_secs(15 * 60);

/// What the public gallery shows of a row: never who uploaded it (the owner, and the source
/// key that names them) and never a way to the original.
pub const PRIVATE_FIELDS: [&str; 2] = ["owner", "source_key"];

#[derive(Debug, Serialize)]
pub struct PublicImage {
    #[serde(flatten)]
    pub row: serde_json::Map<String, serde_json::Value>,
    pub thumbnail_url: String,
}

impl PublicImage {
    pub fn of(api: &Api, row: &CatalogRow) -> PublicImage {
        let mut fields = match serde_json::to_value(row) {
            Ok(serde_json::Value::Object(fields)) => fields,
            _ => serde_json::Map::new(),
        };
        for private in PRIVATE_FIELDS {
            fields.remove(private);
        }
        PublicImage { row: fields, thumbnail_url: api.asset_url(&row.thumbnail_key) }
    }
}

/// One of the caller's own photos: the whole row, and a short-lived link to the original (and,
/// for a private photo, to its thumbnail, which CloudFront does not serve).
#[derive(Debug, Serialize)]
pub struct OwnImage {
    #[serde(flatten)]
    pub row: CatalogRow,
    pub thumbnail_url: String,
    pub original_url: String,
}

#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FailurePage {
    pub items: Vec<FailureRecord>,
}

pub fn limit_of(request: &Request) -> Result<usize, ApiError> {
    match request.query("limit") {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| ApiError::field("limit", format!("{v:?} is not a number from 1 to {MAX_LIMIT}"))),
    }
}

pub fn order_of(request: &Request) -> Result<Order, ApiError> {
    match request.query("sort").unwrap_or("recent") {
        "recent" => Ok(Order::Recent),
        "smallest" => Ok(Order::Smallest),
        other => Err(ApiError::field("sort", format!("{other:?} is not \"recent\" or \"smallest\""))),
    }
}

fn cursor_of(request: &Request, order: Order) -> Result<Option<Cursor>, ApiError> {
    match request.query("cursor") {
        None => Ok(None),
        Some(text) => Cursor::decode(text, order).map(Some).ok_or_else(|| {
            ApiError::field("cursor", format!("is not a cursor of the {} listing; start again without it", order.name()))
        }),
    }
}

pub async fn images(api: &Api, request: &Request) -> Result<Response, ApiError> {
    let order = order_of(request)?;
    let limit = limit_of(request)?;
    let after = cursor_of(request, order)?;
    let page = catalog::page(&api.dynamodb, &api.config.catalog_table, order, limit, after.as_ref())
        .await
        .map_err(|e| ApiError::internal("querying the catalog", e))?;
    let items = page.rows.iter().map(|row| PublicImage::of(api, row)).collect();
    Ok(Response::json(200, &Page { items, next_cursor: page.next.map(|c| c.encode()) }))
}

/// The caller's photos, newest first: the `by-owner` index, keyed by the verified user alone.
pub async fn photos(api: &Api, user: &str, request: &Request) -> Result<Response, ApiError> {
    let limit = limit_of(request)?;
    let after = cursor_of(request, Order::Mine)?;
    let page = catalog::owned_page(&api.dynamodb, &api.config.catalog_table, user, limit, after.as_ref())
        .await
        .map_err(|e| ApiError::internal("querying the catalog", e))?;
    let mut items = Vec::with_capacity(page.rows.len());
    for row in page.rows {
        let original_url = api.presigned_original(&row.source_key, &row.original_format, ORIGINAL_URL_TTL).await?;
        let thumbnail_url = match row.visibility {
            Visibility::Public => api.asset_url(&row.thumbnail_key),
            Visibility::Private => api.presigned_private_thumbnail(&row.thumbnail_key, ORIGINAL_URL_TTL).await?,
        };
        items.push(OwnImage { thumbnail_url, original_url, row });
    }
    Ok(Response::json(200, &Page { items, next_cursor: page.next.map(|c| c.encode()) }))
}

/// The caller's failure records: one prefix (`failures/users/<user>/`), so nobody else's is read.
pub async fn failures(api: &Api, user: &str, request: &Request) -> Result<Response, ApiError> {
    let limit = limit_of(request)?;
    let keys = recent_failure_keys(api, &shared::record::failures_of(user), limit).await?;
    let mut reads = tokio::task::JoinSet::new();
    for (i, key) in keys.into_iter().enumerate() {
        let (s3, bucket) = (api.s3.clone(), api.config.log_bucket.clone());
        reads.spawn(async move { (i, s3.get_object().bucket(bucket).key(&key).send().await.map(|o| (key, o))) });
    }
    let mut found = Vec::new();
    while let Some(joined) = reads.join_next().await {
        let (i, got) = joined.map_err(|e| ApiError::internal("reading failure records", e))?;
        let (key, object) = match got {
            Ok(found) => found,
            // Expired between the listing and the read.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => continue,
            Err(e) => return Err(ApiError::internal("reading a failure record", e)),
        };
        let bytes = object.body.collect().await.map_err(|e| ApiError::internal("reading a failure record", e))?.into_bytes();
        match serde_json::from_slice::<FailureRecord>(&bytes) {
            Ok(record) => found.push((i, record)),
            Err(e) => tracing::warn!(event = "failure_record_unreadable", key, error = %e, "skipped"),
        }
    }
    found.sort_by_key(|(i, _)| *i);
    Ok(Response::json(200, &FailurePage { items: found.into_iter().map(|(_, r)| r).collect() }))
}

/// Newest first: records are filed under their upload's day, so walk back day by day.
async fn recent_failure_keys(api: &Api, folder: &str, limit: usize) -> Result<Vec<String>, ApiError> {
    let today = Utc::now().date_naive();
    let mut keys = Vec::new();
    for back in 0..FAILURE_DAYS {
        if keys.len() >= limit {
            break;
        }
        let prefix = format!("{folder}{}/", (today - chrono::Days::new(back as u64)).format("%Y/%m/%d"));
        let mut day = Vec::new();
        let mut pages = api.s3.list_objects_v2().bucket(&api.config.log_bucket).prefix(&prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ApiError::internal("listing failure records", e))?;
            day.extend(page.contents().iter().filter_map(|o| Some((o.last_modified().copied()?, o.key()?.to_string()))));
        }
        day.sort_by(|a, b| b.cmp(a));
        keys.extend(day.into_iter().map(|(_, key)| key));
    }
    keys.truncate(limit);
    Ok(keys)
}

impl Api {
    /// An original, as a download: S3 answers with `Content-Disposition: attachment` and the type
    /// of the format the core sniffed, whatever the uploader declared, so no original (an SVG, an
    /// HTML file named .jpg) can render as a page on the bucket's origin.
    pub async fn presigned_original(&self, key: &str, format: &str, ttl: Duration) -> Result<String, ApiError> {
        let get = self
            .s3
            .get_object()
            .bucket(&self.config.uploads_bucket)
            .key(key)
            .response_content_disposition("attachment")
            .response_content_type(shared::media::content_type_of(format).unwrap_or("application/octet-stream"));
        presigned(get, ttl, "presigning an original").await
    }

    /// A private photo's thumbnail, from the assets bucket's `private/` prefix.
    pub async fn presigned_private_thumbnail(&self, key: &str, ttl: Duration) -> Result<String, ApiError> {
        let get = self.s3.get_object().bucket(&self.config.assets_bucket).key(key);
        presigned(get, ttl, "presigning a private thumbnail").await
    }
}

async fn presigned(
    get: aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder,
    ttl: Duration,
    what: &'static str,
) -> Result<String, ApiError> {
    let config = PresigningConfig::expires_in(ttl).map_err(|e| ApiError::internal(what, e))?;
    let presigned = get.presigned(config).await.map_err(|e| ApiError::internal(what, e))?;
    Ok(presigned.uri().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_query(pairs: &[(&str, &str)]) -> Request {
        Request { query: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), ..Request::default() }
    }

    #[test]
    fn limit_and_sort_are_checked() {
        assert_eq!(limit_of(&with_query(&[])).unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit_of(&with_query(&[("limit", "5")])).unwrap(), 5);
        for bad in ["0", "101", "-1", "x"] {
            assert!(
                matches!(limit_of(&with_query(&[("limit", bad)])), Err(ApiError::BadRequest { field: Some(f), .. }) if f == "limit")
            );
        }
        assert_eq!(order_of(&with_query(&[])).unwrap(), Order::Recent);
        assert_eq!(order_of(&with_query(&[("sort", "smallest")])).unwrap(), Order::Smallest);
        assert!(order_of(&with_query(&[("sort", "largest")])).is_err());
    }
}
