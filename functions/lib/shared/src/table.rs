//! The catalog table's layout, written once: the key attribute and every item kind's key prefix,
//! the write shards, the indexes, the expiry attribute and the conditional-write shapes. Every
//! function, testkit and the bench build keys and the table from here; `infra/template.yaml`'s
//! `CatalogTable` and its IAM `dynamodb:LeadingKeys` conditions are held equal to it by
//! `xtask`'s `the_catalog_table_is_the_shared_layout`.

/// The table's only key attribute (a string).
pub const PK: &str = "pk";
/// The write shard a row's `by-size` and `by-time` index entries are partitioned by.
pub const SHARD: &str = "shard";
/// The uploader, the `by-owner` index's partition; absent on a file put in by hand.
pub const OWNER: &str = "owner";
/// DynamoDB's time-to-live attribute (seconds since the epoch). Only the bookkeeping items carry
/// it; rows and profiles never expire.
pub const EXPIRES_AT: &str = "expires_at";

/// Write shards of the `by-size` and `by-time` indexes: each index partition takes ~1,000
/// writes/s, so eight keep a burst of uploads off one hot partition. A query for the N smallest
/// or newest reads N from every shard and merges.
pub const SHARDS: u64 = 8;

/// What an item is, told by its key's prefix. Each function's role may touch only its kinds
/// (the template's `dynamodb:LeadingKeys` conditions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A catalog row, one per processed upload (`IMG#<id>`), in every index.
    Image,
    /// A user's profile (`USER#<user>`), in no index.
    Profile,
    /// Which file a granted upload id belongs to (`CLAIM#<id>`).
    Claim,
    /// A rejection's one e-mail (`NOTICE#<record key>`), expiring.
    Notice,
    /// The e-mail rate of one function in one window (`MAILRATE#<function>#<window>`), expiring.
    MailRate,
    /// One user's uploads granted on one UTC day (`QUOTA#<user>#<yyyy-mm-dd>`), expiring.
    Quota,
}

impl Kind {
    pub const ALL: [Kind; 6] = [Kind::Image, Kind::Profile, Kind::Claim, Kind::Notice, Kind::MailRate, Kind::Quota];

    pub const fn prefix(self) -> &'static str {
        match self {
            Kind::Image => "IMG#",
            Kind::Profile => "USER#",
            Kind::Claim => "CLAIM#",
            Kind::Notice => "NOTICE#",
            Kind::MailRate => "MAILRATE#",
            Kind::Quota => "QUOTA#",
        }
    }

    /// The item's partition key: the prefix, then `parts` joined by `#`.
    pub fn key(self, parts: &[&str]) -> String {
        format!("{}{}", self.prefix(), parts.join("#"))
    }
}

/// A catalog row's key.
pub fn image_pk(id: &str) -> String {
    Kind::Image.key(&[id])
}

/// A profile's key.
pub fn profile_pk(user: &str) -> String {
    Kind::Profile.key(&[user])
}

/// An upload id's claim.
pub fn claim_pk(id: &str) -> String {
    Kind::Claim.key(&[id])
}

/// The claim on a rejection's one e-mail.
pub fn notice_pk(record_key: &str) -> String {
    Kind::Notice.key(&[record_key])
}

/// The e-mail counter of `function` in the window that starts at `window_start`.
pub fn mail_rate_pk(function: &str, window_start: u64) -> String {
    Kind::MailRate.key(&[function, &window_start.to_string()])
}

/// `user`'s grants on the UTC day `day` (`yyyy-mm-dd`).
pub fn quota_pk(user: &str, day: &str) -> String {
    Kind::Quota.key(&[user, day])
}

/// `S0`..`S7`, stable for an id, so a rewrite of the same row stays on its shard.
pub fn shard_of(id: &str) -> String {
    format!("S{}", crate::hash::fnv1a(id.as_bytes()) % SHARDS)
}

/// Every shard, in order.
pub fn shards() -> impl Iterator<Item = String> {
    (0..SHARDS).map(|s| format!("S{s}"))
}

/// An attribute's DynamoDB scalar type, as the table declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar {
    S,
    N,
}

/// Every attribute a key or an index names, and its type.
pub const ATTRIBUTES: [(&str, Scalar); 5] =
    [(PK, Scalar::S), (SHARD, Scalar::S), ("thumbnail_size", Scalar::N), ("uploaded_at", Scalar::S), (OWNER, Scalar::S)];

/// A global secondary index: its partition and sort attributes; every index projects all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub partition: &'static str,
    pub sort: &'static str,
}

/// Rows by thumbnail size, per shard: "the N smallest".
pub const BY_SIZE: Index = Index { name: "by-size", partition: SHARD, sort: "thumbnail_size" };
/// Rows by upload time, per shard: "the N newest".
pub const BY_TIME: Index = Index { name: "by-time", partition: SHARD, sort: "uploaded_at" };
/// Rows by owner, newest first: "my photos". Sparse: a row put in by hand has no owner.
pub const BY_OWNER: Index = Index { name: "by-owner", partition: OWNER, sort: "uploaded_at" };
pub const INDEXES: [Index; 3] = [BY_SIZE, BY_TIME, BY_OWNER];

/// The conditional write that makes an item once: a redelivered message meets the first write's
/// item and changes nothing.
pub const IF_NEW: &str = "attribute_not_exists(pk)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_their_kinds_prefix_and_parts() {
        assert_eq!(image_pk("a1"), "IMG#a1");
        assert_eq!(profile_pk("u"), "USER#u");
        assert_eq!(claim_pk("a1"), "CLAIM#a1");
        assert_eq!(notice_pk("failures/x.json"), "NOTICE#failures/x.json");
        assert_eq!(mail_rate_pk("thumbnail", 600), "MAILRATE#thumbnail#600");
        assert!(IF_NEW.contains(PK));
    }

    #[test]
    fn no_prefix_is_a_prefix_of_another() {
        for a in Kind::ALL {
            for b in Kind::ALL.into_iter().filter(|b| *b != a) {
                assert!(!a.prefix().starts_with(b.prefix()), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn ids_spread_over_every_shard() {
        let mut seen = std::collections::BTreeMap::new();
        for i in 0..800 {
            *seen.entry(shard_of(&format!("{i:032x}"))).or_insert(0) += 1;
        }
        assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), shards().collect::<Vec<_>>());
        assert!(seen.values().all(|&n| (50..=150).contains(&n)), "uneven: {seen:?}");
    }
}
