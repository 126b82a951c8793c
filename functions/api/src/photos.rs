//! `DELETE /api/photos?id=<upload id>`: one of the caller's own photos, gone: the original, its
//! thumbnail and its catalog row. Whose it is comes from the row, never from the request.

use aws_sdk_dynamodb::types::AttributeValue;
use shared::record::CatalogRow;
use shared::visibility::Visibility;

use crate::Api;
use crate::http::{ApiError, Request, Response};

pub async fn delete(api: &Api, user: &str, request: &Request) -> Result<Response, ApiError> {
    let id = request.query("id").ok_or_else(|| ApiError::field("id", "is required: the upload id of the photo"))?;
    if !shared::key::valid_id(id) {
        return Err(ApiError::field("id", format!("{id:?} is not an upload id")));
    }
    let pk = shared::table::image_pk(id);
    let table = &api.config.catalog_table;
    let got = api
        .dynamodb
        .get_item()
        .table_name(table)
        .key(shared::table::PK, AttributeValue::S(pk.clone()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| ApiError::internal("reading the catalog row", e))?;
    // Someone else's photo answers exactly as a missing one does.
    let not_found = || ApiError::NoSuch(format!("you have no photo {id}"));
    let row = match got.item() {
        Some(item) => shared::catalog::from_item(item).map_err(|e| ApiError::internal("reading the catalog row", e))?,
        None => return Err(not_found()),
    };
    if row.owner.as_deref() != Some(user) {
        return Err(not_found());
    }
    // Files first, the row last: a failure half-way leaves the row, so the photo still shows in
    // "my photos" and the owner can delete it again; never an orphaned original nobody can list.
    let edge_path = remove_files(api, &row).await?;
    // Thumbnails are cached `immutable` for a year at the edge: without this, the deleted photo
    // would stay at its URL there.
    if let (Some(distribution), Some(path)) = (&api.config.distribution_id, edge_path) {
        crate::edge::invalidate(api, distribution, &[path], &format!("delete-{id}")).await?;
    }
    remove_row(api, user, &row).await?;
    tracing::info!(event = "photo_deleted", upload_id = id);
    Ok(Response { status: 204, content_type: "application/json", body: String::new() })
}

/// The photo's original and thumbnail; the path the edge must forget, for a public one (a private
/// thumbnail was never at the edge).
pub async fn remove_files(api: &Api, row: &CatalogRow) -> Result<Option<String>, ApiError> {
    crate::objects::delete(api, &api.config.uploads_bucket, &row.source_key, "deleting the original").await?;
    crate::objects::delete(api, &api.config.assets_bucket, &row.thumbnail_key, "deleting the thumbnail").await?;
    Ok((row.visibility == Visibility::Public).then(|| format!("/{}", row.thumbnail_key)))
}

/// The catalog row, only while it is still `user`'s. One already gone (a delete asked twice, or
/// an index that still lists a row deleted a moment ago) is done, not an error.
pub async fn remove_row(api: &Api, user: &str, row: &CatalogRow) -> Result<(), ApiError> {
    let deleted = api
        .dynamodb
        .delete_item()
        .table_name(&api.config.catalog_table)
        .key(shared::table::PK, AttributeValue::S(row.pk()))
        .condition_expression("#o = :o")
        .expression_attribute_names("#o", shared::table::OWNER)
        .expression_attribute_values(":o", AttributeValue::S(user.to_string()))
        .send()
        .await;
    match deleted {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
        Err(e) => Err(ApiError::internal("deleting the catalog row", e)),
    }
}
