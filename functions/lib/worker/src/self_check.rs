//! What a new version answers before CodeDeploy sends it any traffic (the pre-traffic hook's
//! question, `shared::self_check`): both files through the same render an upload takes (the
//! stage's configuration, the gate, the limits, the deadline), with no I/O, so nothing reaches a
//! bucket, the catalog or anyone's inbox.

use base64::Engine;
use shared::Failure;
pub use shared::self_check::{Answer, Request, Verdict};

use crate::context::Context;

/// Runs both files through `cx`'s render.
pub async fn run(cx: &Context, request: &Request) -> Answer {
    let verdict = async |sample: &str| {
        let bytes = match base64::engine::general_purpose::STANDARD.decode(sample) {
            Ok(b) => b,
            Err(e) => return Verdict::Failed { reason: format!("the sample is not base64: {e}") },
        };
        match cx.render(bytes::Bytes::from(bytes), cx.config.limits).await {
            Ok(r) => Verdict::Rendered { width: r.width, height: r.height, bytes: r.data.len() },
            Err(Failure::BadInput { code, .. }) => Verdict::Refused { code: code.to_string() },
            Err(other) => Verdict::Failed { reason: other.to_string() },
        }
    };
    let max_edge = match cx.config.spec.fit {
        imaging::Fit::Inside { max_edge } => max_edge,
        imaging::Fit::Cover { width, height } => width.max(height),
    };
    Answer { photo: verdict(&request.self_check.photo).await, hostile: verdict(&request.self_check.hostile).await, max_edge }
}
