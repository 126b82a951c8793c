//! The pure image core shared by every function and by `cargo xtask thumbnail`.
//!
//! Pipeline: [`sniff`] the real format → check [`Limits`] against the header →
//! decode (DCT-scaled for JPEG) → colour to sRGB → resize → EXIF orientation →
//! encode. Nothing here does I/O, so it is unit-tested and fuzzed directly.

mod budget;
mod color;
mod dc_decode;
mod decode;
mod encode;
mod error;
mod geometry;
mod inspect;
mod jpeg;
mod limits;
mod markers;
mod pixels;
mod quality;
mod render;
mod resize;
mod sniff;
mod webp;

pub use error::Rejection;
pub use geometry::Fit;
pub use jpeg::jpeg_simd;
pub use limits::{DEFAULT_MAX_MEMORY, Deadline, Limits};
pub use quality::ssim;
pub use render::{OutputFormat, Rendition, SourceInfo, Spec, memory_needed, render};
pub use sniff::{Format, sniff};
