//! The image types an upload may declare: what the imaging core decodes (a worker test holds
//! the two lists equal), each with the format name the catalog records.

/// `(content type, format name)`; the POST policy pins the declared type exactly.
pub const ACCEPTED: [(&str, &str); 4] =
    [("image/jpeg", "jpeg"), ("image/png", "png"), ("image/webp", "webp"), ("image/gif", "gif")];

pub fn is_accepted(content_type: &str) -> bool {
    ACCEPTED.iter().any(|(t, _)| *t == content_type)
}

/// The content type to serve an original with, from the format the catalog recorded for it
/// (sniffed from its bytes, never the type the browser declared).
pub fn content_type_of(format: &str) -> Option<&'static str> {
    ACCEPTED.iter().find(|(_, f)| *f == format).map(|(t, _)| *t)
}

/// `"image/jpeg, image/png, ..."`, for error messages.
pub fn accepted_list() -> String {
    ACCEPTED.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", ")
}
