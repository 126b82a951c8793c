//! `POST /api/uploads`: checks what the browser says it will send, picks the key, and answers
//! with a presigned POST that lets S3 hold the browser to it.

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde_json::{Map, Value};
use shared::visibility::Visibility;

use crate::http::ApiError;
use crate::presign::PresignedPost;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadKind {
    /// `images/<owner>/<upload-id>/<file name>` → the thumbnail function.
    Image,
    /// `avatars/<user>/<upload-id>` → the avatar function.
    Avatar,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRequest {
    pub kind: UploadKind,
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    /// Photos only; `None` takes the stage's default (`DEFAULT_VISIBILITY`).
    pub visibility: Option<Visibility>,
}

#[derive(Debug, Serialize)]
pub struct UploadGrant {
    pub upload_id: String,
    pub kind: UploadKind,
    /// Photos only: who will see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
    pub key: String,
    pub max_bytes: u64,
    #[serde(flatten)]
    pub post: PresignedPost,
}

const FIELDS: [&str; 5] = ["kind", "file_name", "content_type", "size", "visibility"];
const MAX_FILE_NAME_BYTES: usize = 255;

/// Every field is checked, and the first problem is named with its field.
pub fn parse(body: &Map<String, Value>, max_bytes: u64) -> Result<UploadRequest, ApiError> {
    if let Some(unknown) = body.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::field(unknown, format!("unknown field; expected {}", FIELDS.join(", "))));
    }
    let text = |name: &str| match body.get(name) {
        None | Some(Value::Null) => Err(ApiError::field(name, "is required")),
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(_) => Err(ApiError::field(name, "must be a string")),
    };
    let kind = match text("kind")? {
        "image" => UploadKind::Image,
        "avatar" => UploadKind::Avatar,
        other => return Err(ApiError::field("kind", format!("{other:?} is not \"image\" or \"avatar\""))),
    };
    let file_name = text("file_name")?;
    check_file_name(file_name).map_err(|why| ApiError::field("file_name", why))?;
    let content_type = text("content_type")?;
    if !shared::media::is_accepted(content_type) {
        return Err(ApiError::field(
            "content_type",
            format!("{content_type:?} is not an accepted image type ({})", shared::media::accepted_list()),
        ));
    }
    let size = match body.get("size") {
        None | Some(Value::Null) => return Err(ApiError::field("size", "is required")),
        Some(v) => v.as_u64().ok_or_else(|| ApiError::field("size", "must be a whole number of bytes"))?,
    };
    if size == 0 {
        return Err(ApiError::field("size", "the file is empty"));
    }
    if size > max_bytes {
        return Err(ApiError::field("size", format!("{size} bytes is over this site's limit of {max_bytes} bytes")));
    }
    let visibility = match body.get("visibility") {
        None | Some(Value::Null) => None,
        Some(_) if kind == UploadKind::Avatar => {
            return Err(ApiError::field("visibility", "is for photos; an avatar is shown beside its owner's name"));
        }
        Some(Value::String(v)) => Some(
            Visibility::parse(v)
                .ok_or_else(|| ApiError::field("visibility", format!("{v:?} is not \"public\" or \"private\"")))?,
        ),
        Some(_) => return Err(ApiError::field("visibility", "must be a string")),
    };
    Ok(UploadRequest { kind, file_name: file_name.into(), content_type: content_type.into(), size, visibility })
}

/// Writes the photo's visibility on its upload id's claim before the grant is answered, so the
/// thumbnail function reads it from there (`worker::context::claim_upload_id`), never from the
/// file. The id is new, so the item is too.
pub async fn record_visibility(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    upload_id: &str,
    visibility: Visibility,
) -> Result<(), ApiError> {
    dynamodb
        .put_item()
        .table_name(table)
        .item(shared::table::PK, AttributeValue::S(shared::table::claim_pk(upload_id)))
        .item(shared::visibility::ATTRIBUTE, AttributeValue::S(visibility.name().into()))
        .condition_expression(shared::table::IF_NEW)
        .send()
        .await
        .map_err(|e| ApiError::internal("recording the photo's visibility", e))?;
    Ok(())
}

/// The name is kept for people (catalog, failures page) and is one key segment, so it may not
/// contain a separator; together with the policy's exact key nothing can leave its folder.
fn check_file_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("is empty".into());
    }
    if name.len() > MAX_FILE_NAME_BYTES {
        return Err(format!("is {} bytes long; at most {MAX_FILE_NAME_BYTES}", name.len()));
    }
    if name.contains(['/', '\\']) {
        return Err("must be a plain file name, without / or \\".into());
    }
    if name == "." || name == ".." {
        return Err("must be a file name".into());
    }
    if name.chars().any(char::is_control) {
        return Err("contains control characters".into());
    }
    // Shown to people (gallery, e-mail subjects): characters that reorder or hide text would let
    // `photo\u{202E}gpj.exe` read as `photoexe.jpg`.
    if let Some(c) = name.chars().find(|&c| is_invisible_or_bidi(c)) {
        return Err(format!("contains the invisible or text-direction character U+{:04X}", u32::from(c)));
    }
    Ok(())
}

/// Bidi embeddings, overrides and isolates, and the zero-width and invisible formatting marks.
fn is_invisible_or_bidi(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// The key this upload may write, and nothing else.
pub fn key_for(request: &UploadRequest, user: &str, upload_id: &str) -> String {
    match request.kind {
        UploadKind::Image => shared::key::image_key(shared::key::IMAGES, user, upload_id, &request.file_name),
        UploadKind::Avatar => shared::key::avatar_key(user, upload_id),
    }
}

/// Time-ordered (UUIDv7), so keys and avatar versions sort by when the upload was granted.
pub fn new_upload_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use shared::key::{parse_avatar_key, parse_upload_key};

    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn ok() -> Value {
        json!({ "kind": "image", "file_name": "holiday photo.jpg", "content_type": "image/jpeg", "size": 1234 })
    }

    fn field_error(v: Value) -> (String, String) {
        match parse(&body(v), 10_000).unwrap_err() {
            ApiError::BadRequest { field: Some(f), message } => (f, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_good_request_parses() {
        let r = parse(&body(ok()), 10_000).unwrap();
        assert_eq!(
            r,
            UploadRequest {
                kind: UploadKind::Image,
                file_name: "holiday photo.jpg".into(),
                content_type: "image/jpeg".into(),
                size: 1234,
                visibility: None
            }
        );
    }

    #[test]
    fn each_bad_field_is_named_with_why() {
        let with = |k: &str, v: Value| {
            let mut b = ok();
            b[k] = v;
            b
        };
        let cases = [
            (with("kind", json!("video")), "kind", "is not \"image\""),
            (with("kind", json!(1)), "kind", "must be a string"),
            (with("file_name", json!("../../avatars/victim/x")), "file_name", "without /"),
            (with("file_name", json!("a\\b.jpg")), "file_name", "without /"),
            (with("file_name", json!("..")), "file_name", "must be a file name"),
            (with("file_name", json!("  ")), "file_name", "is empty"),
            (with("file_name", json!("a\u{0}.jpg")), "file_name", "control"),
            (with("file_name", json!("a".repeat(300))), "file_name", "at most 255"),
            (with("content_type", json!("text/plain")), "content_type", "not an accepted image type"),
            (with("content_type", json!("image/")), "content_type", "not an accepted image type"),
            (with("content_type", json!("image/jpeg; x=\"y\"")), "content_type", "not an accepted image type"),
            (with("content_type", json!("image/svg+xml")), "content_type", "not an accepted image type"),
            (with("file_name", json!("photo\u{202E}gpj.exe")), "file_name", "U+202E"),
            (with("file_name", json!("photo\u{200B}.jpg")), "file_name", "U+200B"),
            (with("size", json!(0)), "size", "empty"),
            (with("size", json!(-5)), "size", "whole number"),
            (with("size", json!(1.5)), "size", "whole number"),
            (with("size", json!("12")), "size", "whole number"),
            (with("size", json!(10_001)), "size", "over this site's limit of 10000"),
            (with("extra", json!(true)), "extra", "unknown field"),
            (with("visibility", json!("secret")), "visibility", "is not \"public\" or \"private\""),
            (with("visibility", json!(true)), "visibility", "must be a string"),
        ];
        for (input, field, why) in cases {
            let (f, message) = field_error(input.clone());
            assert_eq!(f, field, "{input}");
            assert!(message.contains(why), "{input}: {message}");
        }
        let private = parse(&body(with("visibility", json!("private"))), 10_000).unwrap();
        assert_eq!(private.visibility, Some(Visibility::Private));
        let mut avatar = with("visibility", json!("private"));
        avatar["kind"] = json!("avatar");
        assert_eq!(field_error(avatar).0, "visibility");
        let mut missing = ok();
        missing.as_object_mut().unwrap().remove("size");
        assert_eq!(field_error(missing), ("size".into(), "is required".into()));
    }

    #[test]
    fn keys_are_the_ones_the_functions_accept() {
        let id = new_upload_id();
        assert!(shared::key::valid_id(&id) && id.len() == 32, "{id}");
        let image = parse(&body(ok()), 10_000).unwrap();
        let key = key_for(&image, "u-1", &id);
        let parsed = parse_upload_key(&key, "images/").unwrap().unwrap();
        assert_eq!(
            (parsed.owner.as_deref(), parsed.id.as_str(), parsed.file_name.as_str()),
            (Some("u-1"), id.as_str(), "holiday photo.jpg")
        );
        let avatar = UploadRequest { kind: UploadKind::Avatar, ..image };
        let key = key_for(&avatar, "u-1", &id);
        let parsed = parse_avatar_key(&key, "avatars/").unwrap().unwrap();
        assert_eq!((parsed.user.as_str(), parsed.upload_id.as_str()), ("u-1", id.as_str()));
        // Later grants sort after earlier ones.
        let later = new_upload_id();
        assert!(later > id, "{later} <= {id}");
    }
}
