//! `site/` → the assets bucket under `site/` (CloudFront's default origin path): only files
//! whose content changed are uploaded, files gone from `site/` are deleted, each with its
//! content type. A file's sha256 rides along as metadata, because S3's ETag is not an MD5
//! for KMS-encrypted objects. Beside them, `auth.json`, made from the stack's outputs: where the
//! site signs people in (the stage's own pool), so no stage's ids are ever written into `site/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ObjectIdentifier;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::aws::AwsContext;

pub const PREFIX: &str = "site/";
const HASH_METADATA: &str = "sha256";

#[derive(Debug, Default, Clone, Serialize)]
pub struct Synced {
    /// Paths relative to `site/`, `/`-separated.
    pub uploaded: Vec<String>,
    pub deleted: Vec<String>,
    pub unchanged: usize,
}

impl Synced {
    /// The viewer paths whose cached copies are now stale (`index.html` is also `/`).
    pub fn stale_paths(&self) -> Vec<String> {
        let mut paths = Vec::new();
        for file in self.uploaded.iter().chain(&self.deleted) {
            paths.push(format!("/{file}"));
            if let Some(dir) = file.strip_suffix("index.html") {
                paths.push(format!("/{dir}"));
            }
        }
        paths
    }
}

/// The file the site reads at start (`site/auth.js`): the sign-in's authority and client.
pub const AUTH_FILE: &str = "auth.json";

/// `auth.json` from the stack's outputs; `None` for a stage without its own pool.
pub fn auth_file(outputs: &BTreeMap<String, String>) -> Option<Vec<u8>> {
    let (authority, client_id) = (outputs.get("AuthUrl")?, outputs.get("UserPoolClientId")?);
    serde_json::to_vec(&serde_json::json!({ "authority": authority, "client_id": client_id })).ok()
}

pub async fn sync(s3: &Client, bucket: &str, dir: &Path, generated: &BTreeMap<String, Vec<u8>>) -> Result<Synced> {
    let mut local: BTreeMap<String, Option<PathBuf>> = files(dir)?.into_iter().map(|(rel, path)| (rel, Some(path))).collect();
    local.extend(generated.keys().map(|rel| (rel.clone(), None)));
    let mut synced = Synced::default();
    for (rel, path) in &local {
        let body = match path {
            Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
            None => generated[rel].clone(),
        };
        let shown = path.as_ref().map_or_else(|| rel.clone(), |p| p.display().to_string());
        let sha = hex::encode(Sha256::digest(&body));
        let key = format!("{PREFIX}{rel}");
        if remote_hash(s3, bucket, &key).await?.as_deref() == Some(sha.as_str()) {
            synced.unchanged += 1;
            continue;
        }
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(ByteStream::from(body))
            .content_type(content_type(rel))
            .cache_control(cache_control(rel))
            .metadata(HASH_METADATA, sha)
            .send()
            .await
            .aws(&format!("uploading {shown}"))?;
        synced.uploaded.push(rel.clone());
    }
    let mut gone = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).prefix(PREFIX).into_paginator().send();
    while let Some(page) = pages.next().await {
        for object in page.aws("listing the site in the bucket")?.contents() {
            let Some(key) = object.key() else { continue };
            let rel = key.trim_start_matches(PREFIX);
            if !local.contains_key(rel) {
                gone.push(key.to_string());
                synced.deleted.push(rel.to_string());
            }
        }
    }
    for batch in gone.chunks(1000) {
        let objects = batch.iter().map(|k| ObjectIdentifier::builder().key(k).build()).collect::<Result<Vec<_>, _>>()?;
        if let Some(e) = crate::aws::delete_objects(s3, bucket, objects).await?.first() {
            anyhow::bail!("deleting {} from the bucket: {}", e.key().unwrap_or("?"), e.message().unwrap_or("?"));
        }
    }
    Ok(synced)
}

async fn remote_hash(s3: &Client, bucket: &str, key: &str) -> Result<Option<String>> {
    let head = crate::aws::head_object(s3, bucket, key).await?;
    Ok(head.and_then(|h| h.metadata().and_then(|m| m.get(HASH_METADATA)).cloned()))
}

/// Every file under `dir` by its `/`-separated relative path, skipping dot files.
fn files(dir: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).with_context(|| format!("reading {}", current.display()))? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir)?.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>();
                out.insert(rel.join("/"), path);
            }
        }
    }
    Ok(out)
}

fn content_type(rel: &str) -> String {
    let mime = mime_guess::from_path(rel).first_or_octet_stream();
    let text = mime.type_() == mime_guess::mime::TEXT
        || matches!(mime.subtype().as_str(), "javascript" | "json" | "manifest+json" | "svg");
    if text { format!("{mime}; charset=utf-8") } else { mime.to_string() }
}

/// Pages (and the sign-in settings) change with a deploy and must be revalidated; other files
/// may be cached briefly.
fn cache_control(rel: &str) -> &'static str {
    if rel.ends_with(".html") || rel == AUTH_FILE { "no-cache" } else { "public, max-age=300" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("icon.svg"), "image/svg+xml; charset=utf-8");
        assert_eq!(content_type("logo.png"), "image/png");
        assert_eq!(content_type("openapi.json"), "application/json; charset=utf-8");
        assert_eq!(content_type("blob"), "application/octet-stream");
    }

    #[test]
    fn an_index_page_is_also_its_folder() {
        let s =
            Synced { uploaded: vec!["index.html".into(), "a/index.html".into()], deleted: vec!["old.js".into()], unchanged: 0 };
        assert_eq!(s.stale_paths(), ["/index.html", "/", "/a/index.html", "/a/", "/old.js"]);
    }
}

#[cfg(test)]
#[path = "site/emulator_tests.rs"]
mod emulator_tests;
