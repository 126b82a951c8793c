//! Upload keys: `<prefix><owner>/<upload-id>/<file name>`, e.g. `images/8d3f…/01J9…/holiday photo.jpg`.
//! The owner is the signed-in user the api granted the upload to: the presigned POST pins the
//! whole key, so it is as trustworthy as the grant, and every function knows it from the event alone.

use crate::Failure;
use crate::event::ObjectCreated;

/// Where the api grants photo uploads in the uploads bucket (`<IMAGES><owner>/<id>/<name>`); the
/// template's notification and the thumbnail function's `INPUT_PREFIX` say the same.
pub const IMAGES: &str = "images/";
/// Where it grants avatar uploads (`<AVATARS><owner>/<id>`), read by the avatar function.
pub const AVATARS: &str = "avatars/";

/// S3 caps keys at 1024 bytes; anything near that is not from our presigned uploads.
pub const MAX_KEY_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadKey {
    /// `None` for a file put in the bucket by hand: it belongs to nobody's "my photos".
    pub owner: Option<String>,
    pub id: String,
    pub file_name: String,
    /// What the grant said (`worker::context::claim_upload_id` reads it); public until then.
    pub visibility: crate::visibility::Visibility,
}

/// The rejection code of a second file under one grant.
pub const GRANT_REUSED: &str = "grant_reused";

impl UploadKey {
    /// A granted key (it has an owner) whose id was derived: the claim on the granted id is
    /// another file's, so this is the grant used a second time (`worker::context::claim_upload_id`).
    pub fn is_reused_grant(&self) -> bool {
        self.owner.is_some() && self.id.starts_with(DERIVED_ID_PREFIX)
    }
}

/// The key a granted avatar upload may write, and nothing else.
pub fn avatar_key(owner: &str, upload_id: &str) -> String {
    format!("{AVATARS}{owner}/{upload_id}")
}

/// The key a granted image upload may write, and nothing else.
pub fn image_key(prefix: &str, owner: &str, upload_id: &str, file_name: &str) -> String {
    format!("{prefix}{owner}/{upload_id}/{file_name}")
}

/// `avatars/<user-id>/<upload-id>`: whose picture, and which upload of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarKey {
    pub user: String,
    pub upload_id: String,
}

/// `avatars/<user>.jpg` in the assets bucket: the stable URL of a user's picture.
pub fn avatar_output_key(user: &str) -> String {
    format!("avatars/{user}.jpg")
}

/// The query parameter that carries the avatar's version in its URL (`?v=<upload id>`). The
/// CDN's `avatars/*` cache key includes it (infra/template.yaml `AvatarCache`), so a new avatar
/// is a new URL at the edge at once.
pub const AVATAR_VERSION_PARAM: &str = "v";

/// Like [`parse_upload_key`], with both parts held to the id alphabet (they name outputs).
pub fn parse_avatar_key(key: &str, prefix: &str) -> Option<Result<AvatarKey, Failure>> {
    let rest = key.strip_prefix(prefix)?;
    Some(parse_rest(key, rest).and_then(|u| {
        if valid_id(&u.file_name) {
            Ok(AvatarKey { user: u.id, upload_id: u.file_name })
        } else {
            Err(Failure::bad_input("bad_key", format!("object key {key:?} has an invalid upload id")))
        }
    }))
}

/// Upload ids and user ids: they name keys and outputs, so only `[A-Za-z0-9_-]`, 64 at most.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Splits a decoded key under `prefix` into owner, upload id and file name. `None` when the key
/// is outside the prefix: the caller refuses it, so an output can never re-enter as an input.
pub fn parse_upload_key(key: &str, prefix: &str) -> Option<Result<UploadKey, Failure>> {
    let rest = key.strip_prefix(prefix)?;
    Some(parse_owned(key, rest))
}

fn parse_owned(key: &str, rest: &str) -> Result<UploadKey, Failure> {
    let bad = |why: &str| Failure::bad_input("bad_key", format!("object key {key:?} {why}"));
    let (owner, rest) = rest.split_once('/').ok_or_else(|| bad("has no owner folder"))?;
    if !valid_id(owner) {
        return Err(bad("has an invalid owner"));
    }
    let upload = parse_rest(key, rest)?;
    Ok(UploadKey { owner: Some(owner.to_string()), ..upload })
}

/// Like [`parse_upload_key`] for the object an event names, and also for a file put in the
/// bucket by hand (`aws s3 cp photo.jpg s3://<uploads>/images/`, the console, a script): a key
/// without an upload id folder gets an id derived from the bucket, the key and the version (or,
/// unversioned, the event's sequencer, or its ETag). The same event delivered again finds the same id, and so
/// its row; a new upload to the key is a new version, so a new id and an outcome of its own.
pub fn parse_object_key(object: &ObjectCreated, prefix: &str) -> Option<Result<UploadKey, Failure>> {
    let rest = object.key.strip_prefix(prefix)?;
    if let Ok(key) = parse_owned(&object.key, rest) {
        return Some(Ok(key));
    }
    let bad = |why: &str| Failure::bad_input("bad_key", format!("object key {:?} {why}", object.key));
    if object.key.len() > MAX_KEY_BYTES {
        return Some(Err(bad("is too long")));
    }
    let file_name = rest.rsplit('/').next().unwrap_or_default();
    if file_name.is_empty() {
        return Some(Err(bad("has no file name")));
    }
    // The version when the bucket keeps them; else S3's sequencer; else the content's ETag (all
    // moto sends): each tells this upload from another to the key, and is the same on redelivery.
    let Some(version) = object.version_id.as_deref().or(object.sequencer.as_deref()).or(object.etag.as_deref()) else {
        return Some(Err(bad("names no version, sequencer or ETag to tell this upload from another")));
    };
    Some(Ok(UploadKey {
        owner: None,
        id: derived_id(&object.bucket, &object.key, version),
        file_name: file_name.to_string(),
        visibility: Default::default(),
    }))
}

/// What every derived id starts with; granted ids are plain hex.
pub const DERIVED_ID_PREFIX: &str = "s3-";

/// `s3-` and 29 hex digits of SHA-256 over bucket, key and version: in the id alphabet, 32 long
/// like a granted id, and never equal to one (those are plain hex).
pub fn derived_id(bucket: &str, key: &str, version: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest =
        Sha256::new().chain_update(bucket).chain_update([0]).chain_update(key).chain_update([0]).chain_update(version).finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{DERIVED_ID_PREFIX}{}", &hex[..29])
}

fn parse_rest(key: &str, rest: &str) -> Result<UploadKey, Failure> {
    let bad = |why: &str| Failure::bad_input("bad_key", format!("object key {key:?} {why}"));
    if key.len() > MAX_KEY_BYTES {
        return Err(bad("is too long"));
    }
    let (id, file_name) = rest.split_once('/').ok_or_else(|| bad("has no upload id folder"))?;
    if !valid_id(id) {
        return Err(bad("has an invalid upload id"));
    }
    if file_name.is_empty() || file_name.contains('/') {
        return Err(bad("has no plain file name"));
    }
    Ok(UploadKey { owner: None, id: id.to_string(), file_name: file_name.to_string(), visibility: Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatar_keys_name_a_user_and_an_upload() {
        let k = parse_avatar_key("avatars/u-1/01J9ABC", "avatars/").unwrap().unwrap();
        assert_eq!(k, AvatarKey { user: "u-1".into(), upload_id: "01J9ABC".into() });
        assert!(parse_avatar_key("images/u-1/x", "avatars/").is_none());
        for bad in ["avatars/u-1/../x", "avatars/u 1/x", "avatars/u/x.jpg", "avatars/u/", "avatars/u"] {
            assert!(parse_avatar_key(bad, "avatars/").unwrap().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_file_put_by_hand_gets_an_id_from_its_version() {
        let object = |key: &str, version: Option<&str>| ObjectCreated {
            bucket: "uploads".into(),
            key: key.into(),
            size: Some(10),
            etag: None,
            version_id: version.map(String::from),
            sequencer: Some("0055AED6DCD90281E5".into()),
            time: "2026-12-02T10:00:00Z".parse().unwrap(),
        };
        let granted = parse_object_key(&object("images/u-1/01J9ABC/holiday.jpg", Some("v1")), "images/").unwrap().unwrap();
        assert_eq!(
            granted,
            UploadKey {
                owner: Some("u-1".into()),
                id: "01J9ABC".into(),
                file_name: "holiday.jpg".into(),
                visibility: Default::default()
            }
        );
        let by_hand = parse_object_key(&object("images/photo.jpg", Some("v1")), "images/").unwrap().unwrap();
        assert_eq!((by_hand.file_name.as_str(), by_hand.owner.as_deref()), ("photo.jpg", None));
        assert!(by_hand.id.starts_with("s3-") && by_hand.id.len() == 32 && valid_id(&by_hand.id), "{}", by_hand.id);
        assert_eq!(parse_object_key(&object("images/photo.jpg", Some("v1")), "images/").unwrap().unwrap(), by_hand);
        let again = parse_object_key(&object("images/photo.jpg", Some("v2")), "images/").unwrap().unwrap();
        assert_ne!(again.id, by_hand.id, "a new version is a new upload");
        let nested = parse_object_key(&object("images/2026/trip/day one/photo.jpg", Some("v1")), "images/").unwrap().unwrap();
        assert_eq!((nested.file_name.as_str(), nested.owner.as_deref()), ("photo.jpg", None));
        assert!(parse_object_key(&object("images/dir/", Some("v1")), "images/").unwrap().is_err());
        assert!(parse_object_key(&object("thumbnails/x.jpg", Some("v1")), "images/").is_none());
    }

    #[test]
    fn parses_upload_keys() {
        let k = parse_upload_key("images/u_1/abc-1_2/photo one.jpg", "images/").unwrap().unwrap();
        assert_eq!(
            k,
            UploadKey {
                owner: Some("u_1".into()),
                id: "abc-1_2".into(),
                file_name: "photo one.jpg".into(),
                visibility: Default::default()
            }
        );
        assert_eq!(image_key("images/", "u_1", "abc-1_2", "photo one.jpg"), "images/u_1/abc-1_2/photo one.jpg");
        assert!(parse_upload_key("thumbnails/abc.jpg", "images/").is_none());
        assert!(parse_upload_key("imagesX/u/abc/x.jpg", "images/").is_none());
        for bad in [
            "images/x.jpg",
            "images/u/x.jpg",
            "images/u//x.jpg",
            "images/u/a b/x.jpg",
            "images/a b/abc/x.jpg",
            "images/u/abc/",
            "images/u/abc/d/e.jpg",
            "images/../abc/x.jpg",
        ] {
            assert!(matches!(parse_upload_key(bad, "images/"), Some(Err(Failure::BadInput { .. }))), "{bad}");
        }
        let long = format!("images/u/abc/{}.jpg", "a".repeat(MAX_KEY_BYTES));
        assert!(parse_upload_key(&long, "images/").unwrap().is_err());
    }
}
