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
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 50 * 1024 * 1024, max_pixels: 100_000_000 }
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
        let l = Limits { max_bytes: 10, max_pixels: 100 };
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
