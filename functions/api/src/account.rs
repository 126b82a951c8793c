//! `DELETE /api/account`: everything of the caller's, then the caller. In order:
//! 1. new grants closed (`quota::close`), so nothing is added while this runs;
//! 2. every photo: original and thumbnail, the edge told to forget the public ones, then the rows;
//! 3. every other upload under the caller's folders (rejected, reused grants, avatars' originals),
//!    the avatar, the failure records and their e-mail notices, the upload ids' claims, the profile;
//! 4. the user in the stage's Cognito pool (`AdminDeleteUser`, through `shared::signed`).
//!
//! Each step is idempotent, and the user goes last: a failure half-way leaves an account that can
//! sign in and ask again, never data whose owner is gone.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use shared::catalog::{self, Cursor};

use crate::http::{ApiError, Response, SignIn};
use crate::{Api, objects};

/// Paths per CloudFront invalidation (it takes up to 3,000 in progress).
const EDGE_BATCH: usize = 1000;

pub async fn delete(api: &Api, user: &str, sign_in: Option<&SignIn>) -> Result<Response, ApiError> {
    // Refused before anything is deleted: an account whose pool user cannot be named stays whole.
    let Some(sign_in) = sign_in else {
        return Err(ApiError::Forbidden("this sign-in names no account to delete; sign in again".into()));
    };
    let now = Utc::now();
    let table = &api.config.catalog_table;
    crate::quota::close(&api.dynamodb, table, user, now).await?;

    let mut upload_ids = BTreeSet::new();
    let mut rows = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let page = catalog::owned_page(&api.dynamodb, table, user, crate::listings::MAX_LIMIT, after.as_ref())
            .await
            .map_err(|e| ApiError::internal("listing the account's photos", e))?;
        rows.extend(page.rows);
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let mut edge_paths = Vec::new();
    for row in &rows {
        edge_paths.extend(crate::photos::remove_files(api, row).await?);
        upload_ids.insert(row.id.clone());
    }
    if let Some(distribution) = &api.config.distribution_id {
        for (i, batch) in edge_paths.chunks(EDGE_BATCH).enumerate() {
            let reference = format!("account-{user}-{}-{i}", now.timestamp_millis());
            crate::edge::invalidate(api, distribution, batch, &reference).await?;
        }
    }
    for row in &rows {
        crate::photos::remove_row(api, user, row).await?;
    }

    // What has no row: rejected uploads, a grant's second file, files still in flight.
    let uploads = &api.config.uploads_bucket;
    for key in
        objects::keys_under(api, uploads, &format!("{}{user}/", shared::key::IMAGES), "listing the account's uploads").await?
    {
        if let Some(id) = key.split('/').nth(2).filter(|id| shared::key::valid_id(id)) {
            upload_ids.insert(id.to_string());
        }
        objects::delete(api, uploads, &key, "deleting an upload").await?;
    }
    crate::profile::remove_avatar_files(api, user, now).await?;
    let logs = &api.config.log_bucket;
    for key in objects::keys_under(api, logs, &shared::record::failures_of(user), "listing the account's failure records").await?
    {
        delete_item(api, shared::table::notice_pk(&key)).await?;
        objects::delete(api, logs, &key, "deleting a failure record").await?;
    }
    for id in &upload_ids {
        delete_item(api, shared::table::claim_pk(id)).await?;
    }
    delete_item(api, shared::table::profile_pk(user)).await?;

    if let Some(pool) = cognito_pool(&sign_in.issuer) {
        delete_pool_user(api, pool, &sign_in.username).await?;
    }
    tracing::info!(event = "account_deleted", photos = rows.len(), uploads = upload_ids.len());
    Ok(Response { status: 204, content_type: "application/json", body: String::new() })
}

/// The user pool id of a Cognito issuer (`https://cognito-idp.<region>.amazonaws.com/<pool id>`);
/// `None` for another provider, whose accounts are its own to delete.
pub fn cognito_pool(issuer: &str) -> Option<&str> {
    let rest = issuer.strip_prefix("https://cognito-idp.")?;
    let (_, pool) = rest.split_once(".amazonaws.com/")?;
    let (region, id) = pool.split_once('_')?;
    let ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    (ok(region) && ok(id)).then_some(pool)
}

async fn delete_pool_user(api: &Api, pool: &str, username: &str) -> Result<(), ApiError> {
    let caller = api.signed.as_ref().ok_or_else(|| ApiError::internal("deleting the user", "no credentials"))?;
    let body = serde_json::json!({ "UserPoolId": pool, "Username": username }).to_string();
    let answer = caller
        .send(
            shared::signed::Service::regional("cognito-idp"),
            "/",
            &[
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", "AWSCognitoIdentityProviderService.AdminDeleteUser"),
            ],
            body.into_bytes(),
        )
        .await
        .map_err(|e| ApiError::internal("deleting the user", e))?;
    let text = String::from_utf8_lossy(&answer.body);
    match answer.status {
        200 => Ok(()),
        // Asked twice (the first answer lost): already gone is done.
        400 if text.contains("UserNotFoundException") => Ok(()),
        status => Err(ApiError::internal("deleting the user", format!("Cognito answered {status}: {text}"))),
    }
}

async fn delete_item(api: &Api, pk: String) -> Result<(), ApiError> {
    api.dynamodb
        .delete_item()
        .table_name(&api.config.catalog_table)
        .key(shared::table::PK, AttributeValue::S(pk))
        .send()
        .await
        .map_err(|e| ApiError::internal("deleting an item", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_cognito_issuer_names_a_pool() {
        assert_eq!(cognito_pool("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"), Some("eu-west-1_AbC123"));
        for other in [
            "https://login.example.com/",
            "https://cognito-idp.eu-west-1.amazonaws.com/",
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_",
            "https://cognito-idp.eu-west-1.amazonaws.com/a/../b_c",
            "http://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x",
        ] {
            assert_eq!(cognito_pool(other), None, "{other}");
        }
    }
}
