//! What the functions write: catalog rows (DynamoDB) and failure records (JSON in the log bucket).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::event::ObjectCreated;

/// One catalog row per successfully processed upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogRow {
    pub id: String,
    /// Who uploaded it (the key's owner); `None` for a file put in the bucket by hand. Only the
    /// `by-owner` index holds it, so only its owner's listing finds the row by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// UTC, from the S3 event: when the upload happened, not when we processed it.
    pub upload_date: String,
    pub upload_time: String,
    pub uploaded_at: String,
    pub file_name: String,
    pub source_key: String,
    pub original_size: u64,
    pub original_width: u32,
    pub original_height: u32,
    pub original_format: String,
    pub thumbnail_key: String,
    pub thumbnail_size: u64,
    pub thumbnail_width: u32,
    pub thumbnail_height: u32,
    pub thumbnail_format: String,
    /// Rows from before photos could be private are public.
    #[serde(default)]
    pub visibility: crate::visibility::Visibility,
}

impl CatalogRow {
    /// Partition key: one item per upload id, so a redelivered message meets its own row.
    pub fn pk(&self) -> String {
        crate::table::image_pk(&self.id)
    }

    /// Its write shard (`table::shard_of`).
    pub fn shard(&self) -> String {
        crate::table::shard_of(&self.id)
    }
}

pub fn upload_date_time(t: &DateTime<Utc>) -> (String, String) {
    (t.format("%Y-%m-%d").to_string(), t.format("%H:%M:%S").to_string())
}

/// Why an upload was refused, kept in the log bucket for the failures page and for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    pub function: String,
    /// The uploader, when the key names one: only they (and the on-call) see the record.
    #[serde(default)]
    pub owner: Option<String>,
    pub bucket: String,
    pub key: String,
    pub file_name: Option<String>,
    pub size: Option<u64>,
    pub code: String,
    pub reason: String,
    pub uploaded_at: String,
    pub recorded_at: String,
}

impl FailureRecord {
    /// `failures/users/<owner>/<yyyy>/<mm>/<dd>/<id>.json` (or `failures/unowned/…` for a key
    /// that names no owner), dated by the upload so redelivery rewrites the same key. Filed by
    /// owner first, so "my failures" lists one prefix and never reads anyone else's.
    pub fn object_key(obj: &ObjectCreated, upload_id: Option<&str>, owner: Option<&str>) -> String {
        let id = upload_id.map_or_else(|| format!("key-{:016x}", crate::hash::fnv1a(obj.key.as_bytes())), str::to_string);
        let folder = owner.map_or_else(|| format!("{FAILURES_PREFIX}unowned/"), failures_of);
        format!("{folder}{}/{id}.json", obj.time.format("%Y/%m/%d"))
    }
}

/// Every failure record is under it (the on-call's `cargo xtask failures` lists it whole).
pub const FAILURES_PREFIX: &str = "failures/";

/// The folder of one user's failure records.
pub fn failures_of(owner: &str) -> String {
    format!("{FAILURES_PREFIX}users/{owner}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_keys_are_dated_by_the_upload() {
        let obj = ObjectCreated {
            bucket: "b".into(),
            key: "images/zz/../x".into(),
            size: None,
            etag: None,
            version_id: None,
            sequencer: None,
            time: "2026-01-02T03:04:05Z".parse().unwrap(),
        };
        assert_eq!(FailureRecord::object_key(&obj, Some("a1"), Some("u-1")), "failures/users/u-1/2026/01/02/a1.json");
        assert_eq!(FailureRecord::object_key(&obj, Some("a1"), None), "failures/unowned/2026/01/02/a1.json");
        let k = FailureRecord::object_key(&obj, None, None);
        assert!(k.starts_with("failures/unowned/2026/01/02/key-") && k.ends_with(".json") && !k.contains(".."), "{k}");
        assert_eq!(upload_date_time(&obj.time), ("2026-01-02".into(), "03:04:05".into()));
    }
}
