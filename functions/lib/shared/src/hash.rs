//! A small stable hash for names that must not change between runs or releases.

/// FNV-1a: stable across Rust versions (unlike `DefaultHasher`), for write shards and for naming
/// the records of unparsable keys.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
