//! Who sees a photo. A `public` one is in the gallery, and CloudFront serves its thumbnail under
//! [`THUMBNAILS`]. A `private` one is only in its owner's "my photos": its thumbnail is under
//! [`PRIVATE`], a prefix the distribution may not read (the assets bucket's policy), linked by a
//! short presigned GET; and its catalog row has no write shard, so the gallery's indexes never
//! hold it. The api decides it at grant time and writes it on the upload id's claim, where the
//! thumbnail function reads it: never from anything the uploader sends to S3.

use serde::{Deserialize, Serialize};

/// Public thumbnails, in the assets bucket.
pub const THUMBNAILS: &str = "thumbnails/";
/// Private thumbnails, in the assets bucket.
pub const PRIVATE: &str = "private/";
/// The claim item's attribute that carries it (`crate::table::claim_pk`).
pub const ATTRIBUTE: &str = "visibility";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// A file put in the bucket by hand has no owner to see it privately, so it is public.
    #[default]
    Public,
    Private,
}

impl Visibility {
    pub const ALL: [Visibility; 2] = [Visibility::Public, Visibility::Private];

    pub const fn name(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }

    pub fn parse(name: &str) -> Option<Visibility> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }

    /// Where its thumbnails go in the assets bucket.
    pub const fn thumbnail_prefix(self) -> &'static str {
        match self {
            Visibility::Public => THUMBNAILS,
            Visibility::Private => PRIVATE,
        }
    }

    /// The key of upload `id`'s thumbnail in format `extension`.
    pub fn thumbnail_key(self, id: &str, extension: &str) -> String {
        format!("{}{id}.{extension}", self.thumbnail_prefix())
    }

    /// Where a thumbnail under this key may be cached: public ones are immutable (the id is
    /// unique); private ones only by the owner's browser, for no longer than their link lives.
    pub const fn cache_control(self) -> &'static str {
        match self {
            Visibility::Public => "public, max-age=31536000, immutable",
            Visibility::Private => "private, max-age=900",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_prefixes_differ() {
        for v in Visibility::ALL {
            assert_eq!(Visibility::parse(v.name()), Some(v));
            assert_eq!(serde_json::to_value(v).unwrap(), v.name());
        }
        assert_eq!(Visibility::parse("secret"), None);
        assert_eq!(Visibility::Private.thumbnail_key("abc", "jpg"), "private/abc.jpg");
        assert!(!Visibility::Private.thumbnail_key("abc", "jpg").starts_with(THUMBNAILS));
    }
}
