//! Per avatar upload: a centre-cropped square at the user's stable key, and the profile item's
//! avatar version, so pages can bust caches. An older upload delivered late never replaces a
//! newer picture.

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use chrono::SecondsFormat;
use shared::Failure;
use shared::event::ObjectCreated;
use shared::key::{AvatarKey, avatar_output_key as avatar_key, parse_avatar_key};
use shared::table::{PK, profile_pk};
use worker::Limits;
use worker::batch::Process;
use worker::context::{self, Context};

use crate::handler::Handler;

/// The URL is stable, so CloudFront may hold it only briefly; deploys also invalidate `/avatars/*`.
pub const AVATAR_CACHE_CONTROL: &str = "public, max-age=60";

impl Handler {
    /// When the profile's current avatar was uploaded, if it has one.
    async fn current_upload_time(&self, user: &str) -> Result<Option<String>, Failure> {
        let got = self
            .cx
            .dynamodb
            .get_item()
            .table_name(&self.cx.config.catalog_table)
            .key(PK, AttributeValue::S(profile_pk(user)))
            .consistent_read(true)
            .projection_expression("avatar_uploaded_at")
            .send()
            .await
            .map_err(|e| Failure::transient("reading the profile", e))?;
        Ok(got.item().and_then(|i| i.get("avatar_uploaded_at")).and_then(|v| v.as_s().ok()).cloned())
    }

    /// Records the new version unless a newer upload got there first; returns whether it did.
    async fn record_version(&self, upload: &AvatarKey, uploaded_at: &str) -> Result<bool, Failure> {
        let result = self
            .cx
            .dynamodb
            .update_item()
            .table_name(&self.cx.config.catalog_table)
            .key(PK, AttributeValue::S(profile_pk(&upload.user)))
            .update_expression("SET avatar_key = :k, avatar_version = :v, avatar_uploaded_at = :t")
            .condition_expression("attribute_not_exists(avatar_uploaded_at) OR avatar_uploaded_at <= :t")
            .expression_attribute_values(":k", AttributeValue::S(avatar_key(&upload.user)))
            .expression_attribute_values(":v", AttributeValue::S(upload.upload_id.clone()))
            .expression_attribute_values(":t", AttributeValue::S(uploaded_at.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(Failure::transient("recording the avatar version", e)),
        }
    }
}

impl Process for Handler {
    fn context(&self) -> &Context {
        &self.cx
    }

    type Upload = AvatarKey;

    fn parse_key(&self, object: &ObjectCreated) -> Option<Result<AvatarKey, Failure>> {
        parse_avatar_key(&object.key, &self.cx.config.input_prefix)
    }

    /// One picture per user: two of a user's uploads rendered side by side could write the older
    /// picture last, under the newer version.
    fn one_at_a_time(&self, upload: &AvatarKey) -> Option<String> {
        Some(upload.user.clone())
    }

    async fn process(&self, object: &ObjectCreated, upload: &AvatarKey, limits: &Limits) -> Result<(), Failure> {
        let uploaded_at = object.time.to_rfc3339_opts(SecondsFormat::Millis, true);
        // Cheap check first: a stale upload is not even decoded.
        if self.current_upload_time(&upload.user).await?.is_some_and(|current| current > uploaded_at) {
            tracing::info!(event = "avatar_stale", key = %object.key, "a newer avatar is already in place");
            return Ok(());
        }
        let bytes = context::download(&self.cx.s3, object, limits).await?;
        let rendition = self.cx.render(bytes, *limits).await?;
        let key = avatar_key(&upload.user);
        let size = rendition.data.len();
        self.cx
            .s3
            .put_object()
            .bucket(&self.cx.config.assets_bucket)
            .key(&key)
            .content_type(rendition.format.content_type())
            .cache_control(AVATAR_CACHE_CONTROL)
            .metadata("upload-id", &upload.upload_id)
            .body(ByteStream::from(rendition.data))
            .send()
            .await
            .map_err(|e| Failure::transient("writing the avatar", e))?;
        // The picture is written before the version, so a page never asks for a version that is not there yet.
        if self.record_version(upload, &uploaded_at).await? {
            tracing::info!(event = "avatar_written", version = %self.cx.config.version, key = %object.key, avatar = %key, bytes = size);
        } else {
            tracing::info!(event = "avatar_stale", key = %object.key, "a newer avatar arrived meanwhile");
        }
        Ok(())
    }
}
