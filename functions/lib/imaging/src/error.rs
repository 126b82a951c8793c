use thiserror::Error;

/// Why an input was refused. Every variant is permanent ("bad input"):
/// retrying the same bytes gives the same answer, so callers record and acknowledge.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Rejection {
    #[error("empty file (0 bytes)")]
    Empty,
    #[error("file is {bytes} bytes, over the limit of {limit} bytes")]
    TooManyBytes { bytes: u64, limit: u64 },
    #[error("image is {width}x{height} ({} megapixels), over the limit of {} megapixels", mp(*width, *height), *limit as f64 / 1e6)]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("image has a zero dimension ({width}x{height})")]
    ZeroSized { width: u32, height: u32 },
    #[error("{0} is not an accepted format (accepted: JPEG, PNG, WebP, GIF)")]
    Unsupported(&'static str),
    #[error("not an image: {0}")]
    NotAnImage(&'static str),
    #[error("truncated {0}: the file ends before the image data does")]
    Truncated(&'static str),
    #[error("corrupt {format}: {detail}")]
    Corrupt { format: &'static str, detail: String },
    #[error("decoding would need {} MiB, over the memory budget of {} MiB", mib(*needed), mib(*budget))]
    OverMemoryBudget { needed: u64, budget: u64 },
    #[error("{what} is {bytes} bytes or more, over the limit of {limit} bytes")]
    MetadataTooLarge { what: &'static str, bytes: u64, limit: u64 },
    #[error("JPEG has {scans} or more scans, over the limit of {limit}")]
    TooManyScans { scans: u32, limit: u32 },
    #[error("took longer than {0} ms to decode")]
    TooSlow(u64),
    #[error("could not encode the output: {0}")]
    Encode(String),
}

fn mib(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

fn mp(w: u32, h: u32) -> String {
    format!("{:.1}", u64::from(w) as f64 * u64::from(h) as f64 / 1e6)
}

impl Rejection {
    /// A short machine-readable class, stable for metrics and failure records.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Empty => "empty",
            Rejection::TooManyBytes { .. } => "too_many_bytes",
            Rejection::TooManyPixels { .. } => "too_many_pixels",
            Rejection::ZeroSized { .. } => "zero_sized",
            Rejection::Unsupported(_) => "unsupported_format",
            Rejection::NotAnImage(_) => "not_an_image",
            Rejection::Truncated(_) => "truncated",
            Rejection::Corrupt { .. } => "corrupt",
            Rejection::OverMemoryBudget { .. } => "over_memory_budget",
            Rejection::MetadataTooLarge { .. } => "metadata_too_large",
            Rejection::TooManyScans { .. } => "too_many_scans",
            Rejection::TooSlow(_) => "too_slow",
            Rejection::Encode(_) => "encode_failed",
        }
    }
}
