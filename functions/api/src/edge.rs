//! The stage's CloudFront distribution, told to forget what the api deleted: thumbnails are
//! cached `immutable` for a year, avatars briefly, and neither may outlive its deletion at the edge.

use crate::Api;
use crate::http::ApiError;

/// CloudFront's `CreateInvalidation` of `paths`, which are our own keys with nothing to escape
/// (`shared::signed`: no CloudFront SDK crate in the functions' build). `reference` is CloudFront's caller reference: the same one again asks for
/// the same invalidation, not a second.
pub async fn invalidate(api: &Api, distribution: &str, paths: &[String], reference: &str) -> Result<(), ApiError> {
    let caller = api.signed.as_ref().ok_or_else(|| ApiError::internal("invalidating at the edge", "no credentials"))?;
    let items: String = paths.iter().map(|p| format!("<Path>{p}</Path>")).collect();
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InvalidationBatch xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\">\
         <Paths><Quantity>{}</Quantity><Items>{items}</Items></Paths>\
         <CallerReference>{reference}</CallerReference></InvalidationBatch>",
        paths.len()
    );
    let distribution = shared::signed::label(distribution);
    let answer = caller
        .send(
            shared::signed::CLOUDFRONT,
            &format!("/2020-05-31/distribution/{distribution}/invalidation"),
            &[("content-type", "application/xml")],
            body.into_bytes(),
        )
        .await
        .map_err(|e| ApiError::internal("invalidating at the edge", e))?;
    match answer.status {
        200 | 201 => {
            tracing::info!(event = "edge_invalidated", paths = paths.len());
            Ok(())
        }
        status => Err(ApiError::internal(
            "invalidating at the edge",
            format!("CloudFront answered {status}: {}", String::from_utf8_lossy(&answer.body)),
        )),
    }
}
