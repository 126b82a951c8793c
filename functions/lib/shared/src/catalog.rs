//! The catalog table as DynamoDB sees it: a row ⇄ item, and the two questions every reader
//! asks (the N smallest thumbnails, the N newest uploads), answered from the sharded indexes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use crate::record::CatalogRow;
use crate::table::{self, BY_OWNER, BY_SIZE, BY_TIME, Index};
use crate::visibility::Visibility;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Ascending thumbnail size (`by-size`).
    Smallest,
    /// Newest upload first (`by-time`).
    Recent,
    /// One owner's rows, newest first (`by-owner`, [`owned_page`]).
    Mine,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("querying {index} shard {shard}: {source}")]
    Query {
        index: &'static str,
        shard: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("the `mine` listing is one owner's: ask owned_page")]
    NotSharded,
    #[error("catalog item {pk} is not a catalog row: {source}")]
    Malformed { pk: String, source: serde_json::Error },
}

/// A `CreateTable` request for a table laid out as `crate::table` says (and as
/// infra/template.yaml's `CatalogTable` is held to): for testkit and the bench, which run on an
/// emulator without the stack. On-demand; TTL and encryption are the stack's business.
pub fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
) -> aws_sdk_dynamodb::operation::create_table::builders::CreateTableFluentBuilder {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType,
    };
    let key = |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
    let mut request = client.create_table().table_name(name).billing_mode(BillingMode::PayPerRequest);
    for (attribute, scalar) in table::ATTRIBUTES {
        let kind = match scalar {
            table::Scalar::S => ScalarAttributeType::S,
            table::Scalar::N => ScalarAttributeType::N,
        };
        request = request.attribute_definitions(
            AttributeDefinition::builder().attribute_name(attribute).attribute_type(kind).build().expect("name and type set"),
        );
    }
    request = request.key_schema(key(table::PK, KeyType::Hash).expect("name and type set"));
    for index in table::INDEXES {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.partition, KeyType::Hash).expect("name and type set"))
                .key_schema(key(index.sort, KeyType::Range).expect("name and type set"))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .expect("name and key schema set"),
        );
    }
    request
}

/// The row's serde fields become attributes, numbers as `N` and text as `S`, plus the key and,
/// for a public row, the write shard the gallery's indexes are partitioned by.
pub fn to_item(row: &CatalogRow) -> HashMap<String, AttributeValue> {
    let serde_json::Value::Object(fields) = serde_json::to_value(row).unwrap_or_default() else { return HashMap::new() };
    let mut item: HashMap<String, AttributeValue> = fields
        .into_iter()
        .filter_map(|(k, v)| match v {
            serde_json::Value::Number(n) => Some((k, AttributeValue::N(n.to_string()))),
            serde_json::Value::String(s) => Some((k, AttributeValue::S(s))),
            _ => None,
        })
        .collect();
    item.insert(table::PK.into(), AttributeValue::S(row.pk()));
    // The gallery's indexes are partitioned by the shard: a row without one is in none of them.
    if row.visibility == Visibility::Public {
        item.insert(table::SHARD.into(), AttributeValue::S(row.shard()));
    }
    item
}

/// The inverse of [`to_item`]; key attributes are ignored.
pub fn from_item(item: &HashMap<String, AttributeValue>) -> Result<CatalogRow, CatalogError> {
    let fields = item
        .iter()
        .filter_map(|(k, v)| {
            let value = match v {
                AttributeValue::S(s) => serde_json::Value::String(s.clone()),
                AttributeValue::N(n) => serde_json::Value::Number(n.parse().ok()?),
                _ => return None,
            };
            Some((k.clone(), value))
        })
        .collect();
    serde_json::from_value(serde_json::Value::Object(fields)).map_err(|source| CatalogError::Malformed {
        pk: item.get(table::PK).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default(),
        source,
    })
}

/// The first `n` rows in `order`: each shard's first `n` from its index, merged.
pub async fn query(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    order: Order,
    n: usize,
) -> Result<Vec<CatalogRow>, CatalogError> {
    Ok(page(client, table, order, n, None).await?.rows)
}

/// Where a page ended: the last row's sort value and id. Clients get it opaque ([`Cursor::encode`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// `smallest` or `recent`: a cursor only continues the listing it came from.
    pub order: String,
    /// The thumbnail size, or the upload time.
    pub value: String,
    pub id: String,
}

impl Cursor {
    fn of(row: &CatalogRow, order: Order) -> Cursor {
        let value = match order {
            Order::Smallest => row.thumbnail_size.to_string(),
            Order::Recent | Order::Mine => row.uploaded_at.clone(),
        };
        Cursor { order: order.name().into(), value, id: row.id.clone() }
    }

    pub fn encode(&self) -> String {
        hex::encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// `None` for anything [`Cursor::encode`] did not produce for `order`.
    pub fn decode(text: &str, order: Order) -> Option<Cursor> {
        let cursor: Cursor = serde_json::from_slice(&hex::decode(text).ok()?).ok()?;
        let valid = match order {
            Order::Smallest => cursor.value.parse::<u64>().is_ok(),
            Order::Recent | Order::Mine => !cursor.value.is_empty(),
        };
        (cursor.order == order.name() && valid).then_some(cursor)
    }

    /// Whether `row` comes after the cursor in `order`.
    fn precedes(&self, row: &CatalogRow, order: Order) -> bool {
        match order {
            Order::Smallest => {
                let size = self.value.parse::<u64>().unwrap_or(0);
                (row.thumbnail_size, row.id.as_str()) > (size, self.id.as_str())
            }
            Order::Recent | Order::Mine => (row.uploaded_at.as_str(), row.id.as_str()) < (self.value.as_str(), self.id.as_str()),
        }
    }
}

impl Order {
    pub fn name(self) -> &'static str {
        match self {
            Order::Smallest => "smallest",
            Order::Recent => "recent",
            Order::Mine => "mine",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub rows: Vec<CatalogRow>,
    /// Set when more rows follow.
    pub next: Option<Cursor>,
}

/// Up to `n` rows in `order` after `after`. Each shard gives its first `n + 1` past the cursor
/// (an index range from the cursor's value, ties skipped by id), so the merge knows whether
/// another page exists.
pub async fn page(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    order: Order,
    n: usize,
    after: Option<&Cursor>,
) -> Result<Page, CatalogError> {
    if order == Order::Mine {
        return Err(CatalogError::NotSharded);
    }
    if n == 0 {
        return Ok(Page { rows: Vec::new(), next: None });
    }
    let mut rows = Vec::new();
    for shard in table::shards() {
        rows.extend(partition(client, table, order, &shard, n + 1, after).await?);
    }
    Ok(finish(rows, n, order))
}

/// `order`'s index, whether it reads forward, and the comparison that starts at a cursor's value.
fn index_of(order: Order) -> (Index, bool, &'static str) {
    match order {
        Order::Smallest => (BY_SIZE, true, ">="),
        Order::Recent => (BY_TIME, false, "<="),
        Order::Mine => (BY_OWNER, false, "<="),
    }
}

/// The first `wanted` rows of one index partition past `after`: read from the cursor's value on,
/// ties up to the cursor's id skipped.
async fn partition(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    order: Order,
    key: &str,
    wanted: usize,
    after: Option<&Cursor>,
) -> Result<Vec<CatalogRow>, CatalogError> {
    let (index, forward, from) = index_of(order);
    // A name placeholder for the partition key: `owner` is one of DynamoDB's reserved words.
    let mut request = client
        .query()
        .table_name(table)
        .index_name(index.name)
        .expression_attribute_names("#k", index.partition)
        .expression_attribute_values(":k", AttributeValue::S(key.to_string()))
        .scan_index_forward(forward)
        .limit(i32::try_from(wanted).unwrap_or(i32::MAX));
    request = match after {
        None => request.key_condition_expression("#k = :k"),
        Some(cursor) => {
            let value = match order {
                Order::Smallest => AttributeValue::N(cursor.value.clone()),
                Order::Recent | Order::Mine => AttributeValue::S(cursor.value.clone()),
            };
            request
                .key_condition_expression(format!("#k = :k AND {} {from} :v", index.sort))
                .expression_attribute_values(":v", value)
        }
    };
    let mut pages = request.into_paginator().items().send();
    let mut rows = Vec::new();
    while rows.len() < wanted {
        let Some(item) = pages.next().await else { break };
        let item = item.map_err(|e| CatalogError::Query { index: index.name, shard: key.to_string(), source: Box::new(e) })?;
        let row = from_item(&item)?;
        if after.is_none_or(|c| c.precedes(&row, order)) {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// The first `n` of `rows` in `order`, and a cursor when more follow.
fn finish(mut rows: Vec<CatalogRow>, n: usize, order: Order) -> Page {
    sort(&mut rows, order);
    let next = (rows.len() > n).then(|| Cursor::of(&rows[n - 1], order));
    rows.truncate(n);
    Page { rows, next }
}

/// Ties break on the id, so the same table always gives the same answer.
pub fn sort(rows: &mut [CatalogRow], order: Order) {
    match order {
        Order::Smallest => rows.sort_by(|a, b| (a.thumbnail_size, &a.id).cmp(&(b.thumbnail_size, &b.id))),
        Order::Recent | Order::Mine => rows.sort_by(|a, b| (&b.uploaded_at, &b.id).cmp(&(&a.uploaded_at, &a.id))),
    }
}

/// Up to `n` of `owner`'s rows, newest first, after `after` (a cursor of this listing): one
/// partition of `by-owner`, `n + 1` to know whether another page exists.
pub async fn owned_page(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    owner: &str,
    n: usize,
    after: Option<&Cursor>,
) -> Result<Page, CatalogError> {
    if n == 0 {
        return Ok(Page { rows: Vec::new(), next: None });
    }
    let rows = partition(client, table, Order::Mine, owner, n + 1, after).await?;
    Ok(finish(rows, n, Order::Mine))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, size: u64, at: &str) -> CatalogRow {
        CatalogRow {
            id: id.into(),
            owner: Some("u-1".into()),
            upload_date: "2026-11-23".into(),
            upload_time: "10:00:00".into(),
            uploaded_at: at.into(),
            file_name: format!("{id}.jpg"),
            source_key: format!("images/{id}/{id}.jpg"),
            original_size: size * 10,
            original_width: 4000,
            original_height: 3000,
            original_format: "jpeg".into(),
            thumbnail_key: format!("thumbnails/{id}.jpg"),
            thumbnail_size: size,
            thumbnail_width: 256,
            thumbnail_height: 192,
            thumbnail_format: "jpeg".into(),
            visibility: Visibility::Public,
        }
    }

    #[test]
    fn an_item_reads_back_as_its_row() {
        let original = row("a1", 1234, "2026-11-23T10:00:00Z");
        let item = to_item(&original);
        assert_eq!(item.get("pk").and_then(|v| v.as_s().ok()).map(String::as_str), Some(crate::table::image_pk("a1").as_str()));
        assert_eq!(item.get("thumbnail_size"), Some(&AttributeValue::N("1234".into())));
        assert_eq!(from_item(&item).unwrap(), original);
        assert!(item.contains_key(crate::table::SHARD));
        let private = CatalogRow { visibility: Visibility::Private, ..original };
        let item_of_private = to_item(&private);
        assert!(!item_of_private.contains_key(crate::table::SHARD), "a private row is in no gallery index");
        assert_eq!(from_item(&item_of_private).unwrap(), private);
        let mut broken = item.clone();
        broken.remove("file_name");
        let e = from_item(&broken).unwrap_err().to_string();
        assert!(e.contains(&crate::table::image_pk("a1")) && e.contains("file_name"), "{e}");
    }

    #[test]
    fn cursors_round_trip_and_continue_only_their_order() {
        let c = Cursor::of(&row("a", 5, "2026-01-02T00:00:00Z"), Order::Smallest);
        assert_eq!(Cursor::decode(&c.encode(), Order::Smallest), Some(c.clone()));
        assert_eq!(Cursor::decode(&c.encode(), Order::Recent), None);
        for junk in ["", "zz", "7b7d", &hex::encode(br#"{"order":"smallest","value":"x","id":"a"}"#)] {
            assert_eq!(Cursor::decode(junk, Order::Smallest), None, "{junk}");
        }
        assert!(c.precedes(&row("b", 5, ""), Order::Smallest) && !c.precedes(&row("a", 5, ""), Order::Smallest));
        assert!(c.precedes(&row("0", 6, ""), Order::Smallest) && !c.precedes(&row("z", 4, ""), Order::Smallest));
        let r = Cursor::of(&row("m", 1, "2026-01-02"), Order::Recent);
        assert!(r.precedes(&row("a", 1, "2026-01-02"), Order::Recent) && !r.precedes(&row("z", 1, "2026-01-02"), Order::Recent));
        assert!(r.precedes(&row("z", 1, "2026-01-01"), Order::Recent));
    }

    #[test]
    fn order_is_total() {
        let mut rows = vec![row("b", 5, "2026-01-02"), row("a", 5, "2026-01-02"), row("c", 1, "2026-01-01")];
        sort(&mut rows, Order::Smallest);
        assert_eq!(rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["c", "a", "b"]);
        sort(&mut rows, Order::Recent);
        assert_eq!(rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["b", "a", "c"]);
    }
}
