use serde::{Deserialize, Serialize};

use crate::Rejection;

/// What a user-controlled input may cost us. Checked before any buffer sized by the input exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest accepted file, in bytes.
    pub max_bytes: u64,
    /// Largest accepted declared width × height.
    pub max_pixels: u64,
    /// Most bytes the decode path may allocate for this image, computed from its header before
    /// decoding (`budget::bytes_needed`). The functions derive it from their memory size.
    pub max_memory: u64,
    /// Largest ICC profile, EXIF, XMP or text block, inflated or not: real ones are kilobytes
    /// (a CMYK press profile, the largest in the corpus, is 0.9 MiB); a bomb is hundreds of MiB.
    pub max_metadata: u64,
    /// Most scans a JPEG may have. Every scan of a progressive JPEG walks every block again, so
    /// scans, not bytes, set its decode time; the corpus's have 1 or 10. libjpeg-turbo advises
    /// a limit well under 1,000.
    pub max_scans: u32,
    /// When decoding must give up: a rejection ("took longer than N s"), never a timeout.
    #[serde(skip)]
    pub deadline: Option<Deadline>,
}

/// A point in time to stop at, and the span it was set from (for the rejection's wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    pub at: std::time::Instant,
    pub millis: u64,
}

impl Deadline {
    pub fn after(span: std::time::Duration) -> Deadline {
        Deadline { at: std::time::Instant::now() + span, millis: u64::try_from(span.as_millis()).unwrap_or(u64::MAX) }
    }
}

/// 40 % of a 1 GiB function: the rest is the runtime, the SDK, the download and the output.
pub const DEFAULT_MAX_MEMORY: u64 = 400 << 20;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 50 * 1024 * 1024,
            max_pixels: 100_000_000,
            max_memory: DEFAULT_MAX_MEMORY,
            max_metadata: 4 << 20,
            max_scans: 100,
            deadline: None,
        }
    }
}

impl Limits {
    pub fn check_bytes(&self, bytes: u64) -> Result<(), Rejection> {
        match bytes {
            0 => Err(Rejection::Empty),
            b if b > self.max_bytes => Err(Rejection::TooManyBytes { bytes: b, limit: self.max_bytes }),
            _ => Ok(()),
        }
    }

    pub fn check_dimensions(&self, width: u32, height: u32) -> Result<(), Rejection> {
        if width == 0 || height == 0 {
            return Err(Rejection::ZeroSized { width, height });
        }
        if u64::from(width) * u64::from(height) > self.max_pixels {
            return Err(Rejection::TooManyPixels { width, height, limit: self.max_pixels });
        }
        Ok(())
    }

    /// A rejection once the deadline has passed.
    pub fn check_deadline(&self) -> Result<(), Rejection> {
        match self.deadline {
            Some(d) if std::time::Instant::now() >= d.at => Err(Rejection::TooSlow(d.millis)),
            _ => Ok(()),
        }
    }

    /// Ceiling for any single decoder allocation: RGBA at 16 bits per channel for the largest
    /// accepted image, so a decoder that believes a lying header fails instead of allocating.
    pub fn max_alloc(&self) -> u64 {
        self.max_pixels.saturating_mul(8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_pixels() {
        let l = Limits { max_bytes: 10, max_pixels: 100, ..Limits::default() };
        assert_eq!(l.check_bytes(0), Err(Rejection::Empty));
        assert!(l.check_bytes(10).is_ok());
        assert!(matches!(l.check_bytes(11), Err(Rejection::TooManyBytes { .. })));
        assert!(l.check_dimensions(10, 10).is_ok());
        assert!(matches!(l.check_dimensions(10, 11), Err(Rejection::TooManyPixels { .. })));
        assert!(matches!(l.check_dimensions(0, 5), Err(Rejection::ZeroSized { .. })));
        // No overflow on hostile u32 dimensions.
        assert!(matches!(l.check_dimensions(u32::MAX, u32::MAX), Err(Rejection::TooManyPixels { .. })));
    }
}
