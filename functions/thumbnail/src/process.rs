//! Per object the batch loop keeps: the upload downloaded at its version, the thumbnail rendered
//! and written, then the catalog row, written once; bad input recorded, transient failures retried.

use aws_sdk_s3::primitives::ByteStream;
use chrono::SecondsFormat;
use shared::Failure;
use shared::event::ObjectCreated;
use shared::key::{GRANT_REUSED, UploadKey, parse_object_key};
use shared::record::{CatalogRow, upload_date_time};
use worker::Limits;
use worker::batch::Process;
use worker::context::{self, Context};

use crate::handler::Handler;

impl Handler {
    /// Conditional on the row not existing: a redelivered message finds its row and stops there.
    async fn put_row(&self, row: &CatalogRow) -> Result<(), Failure> {
        let result = self
            .cx
            .dynamodb
            .put_item()
            .table_name(&self.cx.config.catalog_table)
            .set_item(Some(shared::catalog::to_item(row)))
            .condition_expression(shared::table::IF_NEW)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                tracing::info!(event = "duplicate", key = %row.source_key, "already in the catalog");
                Ok(())
            }
            Err(e) => Err(Failure::transient("writing the catalog row", e)),
        }
    }
}

impl Process for Handler {
    fn context(&self) -> &Context {
        &self.cx
    }

    type Upload = UploadKey;

    /// Granted keys (`images/<owner>/<id>/<name>`) and files put in the bucket by hand alike.
    fn parse_key(&self, object: &ObjectCreated) -> Option<Result<UploadKey, Failure>> {
        parse_object_key(object, &self.cx.config.input_prefix)
    }

    async fn resolve(&self, object: &ObjectCreated, upload: UploadKey) -> Result<UploadKey, Failure> {
        context::claim_upload_id(&self.cx.dynamodb, &self.cx.config.catalog_table, object, upload).await
    }

    async fn process(&self, object: &ObjectCreated, upload: &UploadKey, limits: &Limits) -> Result<(), Failure> {
        if upload.is_reused_grant() {
            return Err(Failure::bad_input(
                GRANT_REUSED,
                format!("{:?} is a second file under one upload grant; each grant takes one file", upload.file_name),
            ));
        }
        let bytes = context::download(&self.cx.s3, object, limits).await?;
        let rendition = self.cx.render(bytes, *limits).await?;

        let thumbnail_key = upload.visibility.thumbnail_key(&upload.id, rendition.format.extension());
        let thumbnail_size = rendition.data.len() as u64;
        self.cx
            .s3
            .put_object()
            .bucket(&self.cx.config.assets_bucket)
            .key(&thumbnail_key)
            .content_type(rendition.format.content_type())
            .cache_control(upload.visibility.cache_control())
            .body(ByteStream::from(rendition.data))
            .send()
            .await
            .map_err(|e| Failure::transient("writing the thumbnail", e))?;

        let (upload_date, upload_time) = upload_date_time(&object.time);
        let row = CatalogRow {
            id: upload.id.clone(),
            owner: upload.owner.clone(),
            upload_date,
            upload_time,
            uploaded_at: object.time.to_rfc3339_opts(SecondsFormat::Millis, true),
            file_name: upload.file_name.clone(),
            source_key: object.key.clone(),
            original_size: rendition.source.bytes,
            original_width: rendition.source.width,
            original_height: rendition.source.height,
            original_format: rendition.source.format.name().to_ascii_lowercase(),
            thumbnail_key,
            thumbnail_size,
            thumbnail_width: rendition.width,
            thumbnail_height: rendition.height,
            thumbnail_format: rendition.format.extension().to_string(),
            visibility: upload.visibility,
        };
        self.put_row(&row).await?;
        tracing::info!(event = "thumbnail_written", version = %self.cx.config.version, key = %object.key, thumbnail = %row.thumbnail_key, bytes = thumbnail_size);
        Ok(())
    }
}
