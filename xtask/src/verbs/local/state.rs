//! What `local` keeps across restarts (moto holds everything in memory): every object of the
//! stack's buckets and every item of its catalog table, saved under `target/local/state/` when
//! `local` stops the moto it started, and put back into the new stack's resources (by logical
//! id; moto names them anew) before the uploads bucket is wired to its queues, so nothing is
//! processed twice. `local --fresh` starts empty.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::aws::{Aws, AwsContext};

const BUCKETS: [&str; 3] = ["UploadsBucket", "AssetsBucket", "LogBucket"];
const TABLE: &str = "CatalogTable";

pub fn dir() -> PathBuf {
    crate::paths::target_dir().join("local/state")
}

/// One object as saved: its bytes are `<file>` beside the index.
#[derive(Serialize, Deserialize)]
struct Object {
    key: String,
    file: String,
    content_type: Option<String>,
    cache_control: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub objects: usize,
    pub items: usize,
}

/// Saves the stack's data; the previous save is replaced only once this one is complete.
pub async fn save(aws: &Aws, resources: &BTreeMap<String, String>) -> Result<Counts> {
    let dir = dir();
    let partial = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    let s3 = aws.s3();
    let mut counts = Counts::default();
    for logical in BUCKETS {
        let Some(bucket) = resources.get(logical) else { continue };
        let folder = partial.join(logical);
        std::fs::create_dir_all(&folder)?;
        let mut index = Vec::new();
        let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
        while let Some(page) = pages.next().await {
            for listed in page.aws(&format!("listing s3://{bucket}"))?.contents() {
                let Some(key) = listed.key() else { continue };
                let got = s3.get_object().bucket(bucket).key(key).send().await.aws(&format!("reading s3://{bucket}/{key}"))?;
                let file = hex::encode(Sha256::digest(key.as_bytes()));
                index.push(Object {
                    key: key.to_string(),
                    file: file.clone(),
                    content_type: got.content_type().map(String::from),
                    cache_control: got.cache_control().map(String::from),
                    metadata: got.metadata().cloned().unwrap_or_default().into_iter().collect(),
                });
                let bytes = got.body.collect().await.with_context(|| format!("reading s3://{bucket}/{key}"))?.into_bytes();
                std::fs::write(folder.join(file), bytes)?;
            }
        }
        counts.objects += index.len();
        std::fs::write(folder.join("index.json"), serde_json::to_vec(&index)?)?;
    }
    if let Some(table) = resources.get(TABLE) {
        let dynamodb = aws.dynamodb();
        let mut items = Vec::new();
        let mut pages = dynamodb.scan().table_name(table).into_paginator().items().send();
        while let Some(item) = pages.next().await {
            items.push(item_to_json(&item.aws(&format!("reading the table {table}"))?));
        }
        counts.items = items.len();
        std::fs::write(partial.join(format!("{TABLE}.json")), serde_json::to_vec(&items)?)?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&partial, &dir).with_context(|| format!("moving the saved state to {}", dir.display()))?;
    Ok(counts)
}

/// Puts a saved state into the stack's resources; `None` when nothing was saved.
pub async fn restore(aws: &Aws, resources: &BTreeMap<String, String>) -> Result<Option<Counts>> {
    let dir = dir();
    if !dir.is_dir() {
        return Ok(None);
    }
    let s3 = aws.s3();
    let mut counts = Counts::default();
    for logical in BUCKETS {
        let (Some(bucket), Some(index)) = (resources.get(logical), read_index(&dir.join(logical))?) else { continue };
        for object in index {
            let body = ByteStream::from_path(dir.join(logical).join(&object.file)).await.context("reading a saved object")?;
            s3.put_object()
                .bucket(bucket)
                .key(&object.key)
                .set_content_type(object.content_type)
                .set_cache_control(object.cache_control)
                .set_metadata(Some(object.metadata.into_iter().collect()))
                .body(body)
                .send()
                .await
                .aws(&format!("restoring s3://{bucket}/{}", object.key))?;
            counts.objects += 1;
        }
    }
    let saved = dir.join(format!("{TABLE}.json"));
    if let (Some(table), true) = (resources.get(TABLE), saved.is_file()) {
        let items: Vec<Value> = serde_json::from_slice(&std::fs::read(&saved)?).context("the saved catalog")?;
        let dynamodb = aws.dynamodb();
        for item in &items {
            let item = json_to_item(item).with_context(|| format!("a saved catalog item is malformed: {item}"))?;
            dynamodb.put_item().table_name(table).set_item(Some(item)).send().await.aws("restoring a catalog item")?;
            counts.items += 1;
        }
    }
    Ok(Some(counts))
}

fn read_index(folder: &Path) -> Result<Option<Vec<Object>>> {
    let path = folder.join("index.json");
    if !path.is_file() {
        return Ok(None);
    }
    Ok(Some(serde_json::from_slice(&std::fs::read(&path)?).with_context(|| format!("{} is malformed", path.display()))?))
}

/// DynamoDB's own JSON shape (`{"S": ..}`, `{"N": ..}`, ...), as the CLI and exports write it.
fn item_to_json(item: &std::collections::HashMap<String, AttributeValue>) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), value_to_json(v))).collect())
}

fn value_to_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(ss) => json!({ "SS": ss }),
        AttributeValue::Ns(ns) => json!({ "NS": ns }),
        AttributeValue::L(list) => json!({ "L": list.iter().map(value_to_json).collect::<Vec<_>>() }),
        AttributeValue::M(map) => json!({ "M": item_to_json(map) }),
        AttributeValue::B(b) => json!({ "B": hex::encode(b.as_ref()) }),
        AttributeValue::Bs(bs) => json!({ "BS": bs.iter().map(|b| hex::encode(b.as_ref())).collect::<Vec<_>>() }),
        _ => Value::Null,
    }
}

fn json_to_item(v: &Value) -> Option<std::collections::HashMap<String, AttributeValue>> {
    v.as_object()?.iter().map(|(k, v)| Some((k.clone(), json_to_value(v)?))).collect()
}

fn json_to_value(v: &Value) -> Option<AttributeValue> {
    let (tag, inner) = v.as_object()?.iter().next()?;
    let strings = |v: &Value| v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect::<Vec<_>>());
    let blob = |v: &Value| v.as_str().and_then(|s| hex::decode(s).ok()).map(aws_sdk_dynamodb::primitives::Blob::new);
    Some(match tag.as_str() {
        "S" => AttributeValue::S(inner.as_str()?.to_string()),
        "N" => AttributeValue::N(inner.as_str()?.to_string()),
        "BOOL" => AttributeValue::Bool(inner.as_bool()?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "L" => AttributeValue::L(inner.as_array()?.iter().map(json_to_value).collect::<Option<_>>()?),
        "M" => AttributeValue::M(json_to_item(inner)?),
        "B" => AttributeValue::B(blob(inner)?),
        "BS" => AttributeValue::Bs(inner.as_array()?.iter().map(blob).collect::<Option<_>>()?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_survive_the_round_trip_through_json() {
        let item: std::collections::HashMap<String, AttributeValue> = [
            ("pk".to_string(), AttributeValue::S(shared::table::image_pk("a"))),
            ("size".to_string(), AttributeValue::N("42".into())),
            ("ok".to_string(), AttributeValue::Bool(true)),
            ("tags".to_string(), AttributeValue::Ss(vec!["x".into()])),
            (
                "nested".to_string(),
                AttributeValue::M([("l".to_string(), AttributeValue::L(vec![AttributeValue::Null(true)]))].into()),
            ),
            ("raw".to_string(), AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![0, 255]))),
        ]
        .into();
        let text = serde_json::to_string(&item_to_json(&item)).unwrap();
        assert_eq!(json_to_item(&serde_json::from_str(&text).unwrap()).unwrap(), item);
        assert!(json_to_item(&json!({ "pk": { "Q": 1 } })).is_none());
    }
}
