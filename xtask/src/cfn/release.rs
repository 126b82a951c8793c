//! Release records: what each deploy, rollback or hotswap put on a stage, kept beside the zips in
//! the artifacts bucket as `<stack>/releases/<n>.json`. A record names the exact template (its S3
//! version), every parameter the change set got (so every zip's key and version) and who did it
//! from which commit; `rollback` replays one, with no build.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};

use crate::aws::AwsContext;
use crate::stage::StageId;

/// How a release came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Deploy,
    /// A replay of an earlier release's template, parameters and zips (`rolled_back_to`).
    Rollback,
    /// Function code put in place directly, without a change set; the next deploy brings the
    /// stack's own record of the code in line.
    Hotswap,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub number: u32,
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_to: Option<u32>,
    pub stack: String,
    /// RFC 3339, UTC.
    pub at: String,
    /// The caller's ARN, as STS said.
    pub by: String,
    pub commit: Option<String>,
    /// Whether the working tree had changes the commit does not hold.
    pub dirty: bool,
    /// SHA-256 of the stage file, hex.
    pub stage_file_sha256: String,
    pub template: Stored,
    /// Every parameter of the stack's change set, deploy-time ones included.
    pub parameters: BTreeMap<String, String>,
    pub zips: Vec<Zip>,
}

/// An object in the artifacts bucket, at one version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    pub key: String,
    pub version_id: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Zip {
    pub function: String,
    pub key: String,
    pub version_id: String,
    pub sha256: String,
}

/// A record's time: now, RFC 3339 in UTC to the second.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Where a stage's records live in the artifacts bucket: under its own prefix, which its deploy
/// policy may write and `teardown --all` removes.
pub fn prefix(id: &StageId) -> String {
    format!("{}releases/", id.artifacts_prefix())
}

/// Zero-padded, so the bucket lists them in order.
fn key(id: &StageId, number: u32) -> String {
    format!("{}{number:06}.json", prefix(id))
}

/// The keys of the stage's records.
async fn keys(s3: &Client, bucket: &str, account: &str, id: &StageId) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).expected_bucket_owner(account).prefix(prefix(id)).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws(&format!("listing s3://{bucket}/{}", prefix(id)))?;
        keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_string)));
    }
    Ok(keys)
}

/// A record's number, from its key.
fn number_of(id: &StageId, key: &str) -> Option<u32> {
    key.strip_prefix(&prefix(id))?.strip_suffix(".json")?.parse().ok()
}

/// Every record of the stage, newest first. An object there that is not a record is named and
/// skipped.
pub async fn list(s3: &Client, bucket: &str, account: &str, id: &StageId) -> Result<Vec<Release>> {
    let keys = keys(s3, bucket, account, id).await?;
    let mut releases = Vec::new();
    for key in keys {
        let object = s3.get_object().bucket(bucket).key(&key).expected_bucket_owner(account).send().await;
        let body = object.aws(&format!("reading s3://{bucket}/{key}"))?.body.collect().await?.into_bytes();
        match serde_json::from_slice::<Release>(&body) {
            Ok(release) => releases.push(release),
            Err(e) => eprintln!("releases: s3://{bucket}/{key} is not a release record ({e}); skipped"),
        }
    }
    releases.sort_by_key(|r| std::cmp::Reverse(r.number));
    Ok(releases)
}

/// Writes `release` as the next number after the newest record, and returns it. The write is
/// conditional on the key being new (`If-None-Match: *`), so a hotswap and a deploy that finish at
/// once cannot overwrite each other's record: the later one takes the next number.
pub async fn write(s3: &Client, bucket: &str, account: &str, id: &StageId, mut release: Release) -> Result<Release> {
    let body = |r: &Release| serde_json::to_vec_pretty(r);
    for _ in 0..5 {
        // From the keys alone: a stage with many releases is not read whole to write one more.
        let newest = keys(s3, bucket, account, id).await?.iter().filter_map(|k| number_of(id, k)).max().unwrap_or(0);
        release.number = newest + 1;
        let key = key(id, release.number);
        let put = s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .expected_bucket_owner(account)
            .if_none_match("*")
            .content_type("application/json")
            .body(ByteStream::from(body(&release)?))
            .send()
            .await;
        match put {
            Ok(_) => return Ok(release),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => continue,
            Err(e) => return Err(e).aws(&format!("writing s3://{bucket}/{key}")),
        }
    }
    anyhow::bail!("another deploy of {} kept taking the next release number; no record was written", id.stack())
}

/// The stage file's SHA-256, hex.
pub fn stage_file_sha256(infra: &std::path::Path, stage: &str) -> Result<String> {
    use sha2::{Digest, Sha256};
    let path = infra.join("stages").join(format!("{stage}.yaml"));
    let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex::encode(Sha256::digest(&text)))
}

/// The table `releases` prints, newest first.
pub fn table(releases: &[Release]) -> String {
    let rows: Vec<Vec<String>> = releases
        .iter()
        .map(|r| {
            let kind = match (r.kind, r.rolled_back_to) {
                (Kind::Rollback, Some(to)) => format!("rollback to {to}"),
                (kind, _) => serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
            };
            let commit = match &r.commit {
                Some(c) => format!("{}{}", &c[..c.len().min(12)], if r.dirty { "+dirty" } else { "" }),
                None => "-".into(),
            };
            let zips =
                r.zips.iter().map(|z| format!("{} {}", z.function, &z.sha256[..z.sha256.len().min(8)])).collect::<Vec<_>>();
            let zips = if zips.is_empty() { "-".to_string() } else { zips.join(", ") };
            vec![r.number.to_string(), r.at.clone(), kind, commit, r.by.clone(), zips]
        })
        .collect();
    crate::ui::table(&["N", "AT", "KIND", "COMMIT", "BY", "ZIPS"], &rows)
}
