//! `GET/PUT /api/profile`: display name and bio, which people edit here, and the avatar, which
//! the avatar function records (`avatar_version` busts caches of the stable avatar URL).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use shared::key::avatar_output_key;
use shared::table::{PK, profile_pk};

use crate::http::{ApiError, Response};
use crate::{Api, objects};

pub const MAX_DISPLAY_NAME_CHARS: usize = 64;
pub const MAX_BIO_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub user: String,
    pub display_name: String,
    pub bio: String,
    pub avatar_url: Option<String>,
    pub avatar_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileUpdate {
    pub display_name: String,
    pub bio: String,
}

pub fn parse_update(body: &Map<String, Value>) -> Result<ProfileUpdate, ApiError> {
    if let Some(unknown) = body.keys().find(|k| !["display_name", "bio"].contains(&k.as_str())) {
        return Err(ApiError::field(unknown, "unknown field; expected display_name, bio (the avatar is uploaded, not set)"));
    }
    let text = |name: &str, max: usize, newlines: bool| -> Result<String, ApiError> {
        let value = match body.get(name) {
            None | Some(Value::Null) => return Err(ApiError::field(name, "is required")),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(_) => return Err(ApiError::field(name, "must be a string")),
        };
        let chars = value.chars().count();
        if chars > max {
            return Err(ApiError::field(name, format!("is {chars} characters; at most {max}")));
        }
        if value.chars().any(|c| c.is_control() && !(newlines && c == '\n')) {
            return Err(ApiError::field(name, "contains control characters"));
        }
        Ok(value)
    };
    Ok(ProfileUpdate {
        display_name: text("display_name", MAX_DISPLAY_NAME_CHARS, false)?,
        bio: text("bio", MAX_BIO_CHARS, true)?,
    })
}

pub fn from_item(api: &Api, user: &str, item: Option<&HashMap<String, AttributeValue>>) -> Profile {
    let s = |name: &str| item.and_then(|i| i.get(name)).and_then(|v| v.as_s().ok()).cloned();
    let avatar_version = s("avatar_version");
    let avatar_url = avatar_version
        .as_ref()
        .map(|v| format!("{}?{}={v}", api.asset_url(&avatar_output_key(user)), shared::key::AVATAR_VERSION_PARAM));
    Profile {
        user: user.to_string(),
        display_name: s("display_name").unwrap_or_default(),
        bio: s("bio").unwrap_or_default(),
        avatar_url,
        avatar_version,
    }
}

pub async fn get(api: &Api, user: &str) -> Result<Response, ApiError> {
    let got = api
        .dynamodb
        .get_item()
        .table_name(&api.config.catalog_table)
        .key(PK, AttributeValue::S(profile_pk(user)))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| ApiError::internal("reading the profile", e))?;
    Ok(Response::json(200, &from_item(api, user, got.item())))
}

/// Leaves the avatar attributes alone: those belong to the avatar function.
pub async fn put(api: &Api, user: &str, update: ProfileUpdate) -> Result<Response, ApiError> {
    let updated = api
        .dynamodb
        .update_item()
        .table_name(&api.config.catalog_table)
        .key(PK, AttributeValue::S(profile_pk(user)))
        .update_expression("SET display_name = :n, bio = :b, profile_updated_at = :t")
        .expression_attribute_values(":n", AttributeValue::S(update.display_name))
        .expression_attribute_values(":b", AttributeValue::S(update.bio))
        .expression_attribute_values(":t", AttributeValue::S(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .map_err(|e| ApiError::internal("saving the profile", e))?;
    Ok(Response::json(200, &from_item(api, user, updated.attributes())))
}

/// `DELETE /api/avatar`: the caller's avatar, gone: every original they uploaded for it, the
/// square, CloudFront's copy, and the profile's avatar. The profile keeps `avatar_uploaded_at` as
/// the time of the deletion, so an upload older than that, delivered late, is stale to the avatar
/// function and puts nothing back.
pub async fn delete_avatar(api: &Api, user: &str) -> Result<Response, ApiError> {
    let now = Utc::now();
    remove_avatar_files(api, user, now).await?;
    api.dynamodb
        .update_item()
        .table_name(&api.config.catalog_table)
        .key(PK, AttributeValue::S(profile_pk(user)))
        .update_expression("SET avatar_uploaded_at = :t REMOVE avatar_key, avatar_version")
        .expression_attribute_values(":t", AttributeValue::S(now.to_rfc3339_opts(SecondsFormat::Millis, true)))
        .send()
        .await
        .map_err(|e| ApiError::internal("removing the avatar from the profile", e))?;
    tracing::info!(event = "avatar_deleted");
    Ok(Response { status: 204, content_type: "application/json", body: String::new() })
}

/// Every original `user` uploaded for an avatar, the square, and CloudFront's copy of it.
pub async fn remove_avatar_files(api: &Api, user: &str, now: chrono::DateTime<Utc>) -> Result<(), ApiError> {
    let uploads = &api.config.uploads_bucket;
    for key in
        objects::keys_under(api, uploads, &format!("{}{user}/", shared::key::AVATARS), "listing the avatar's originals").await?
    {
        objects::delete(api, uploads, &key, "deleting an avatar original").await?;
    }
    let square = avatar_output_key(user);
    objects::delete(api, &api.config.assets_bucket, &square, "deleting the avatar").await?;
    if let Some(distribution) = &api.config.distribution_id {
        let reference = format!("avatar-{user}-{}", now.timestamp_millis());
        crate::edge::invalidate(api, distribution, &[format!("/{square}")], &reference).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(v: Value) -> Result<ProfileUpdate, ApiError> {
        parse_update(v.as_object().unwrap())
    }

    #[test]
    fn updates_are_checked_field_by_field() {
        assert_eq!(
            parse(json!({ "display_name": "  Ada ", "bio": "line one\nline two" })).unwrap(),
            ProfileUpdate { display_name: "Ada".into(), bio: "line one\nline two".into() }
        );
        let field = |v: Value| match parse(v) {
            Err(ApiError::BadRequest { field: Some(f), message }) => format!("{f}: {message}"),
            other => panic!("{other:?}"),
        };
        assert_eq!(field(json!({ "bio": "" })), "display_name: is required");
        assert!(field(json!({ "display_name": "x".repeat(65), "bio": "" })).starts_with("display_name: is 65 characters"));
        assert!(field(json!({ "display_name": "a\nb", "bio": "" })).contains("control"));
        assert!(field(json!({ "display_name": "a", "bio": 3 })).contains("bio: must be a string"));
        assert!(field(json!({ "display_name": "a", "bio": "", "avatar_url": "x" })).starts_with("avatar_url: unknown field"));
    }
}
