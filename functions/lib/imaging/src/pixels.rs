//! What every decoder hands the render: 8-bit sRGB pixels, their size, and the file's own size and
//! orientation.

use image::metadata::Orientation;

/// 8-bit sRGB pixels, interleaved.
pub(crate) enum Pixels {
    Rgb8(Vec<u8>),
    Rgba8(Vec<u8>),
}

pub(crate) struct Decoded {
    pub pixels: Pixels,
    /// Size of `pixels` (smaller than the file's when the decoder scaled).
    pub width: u32,
    pub height: u32,
    /// Size the file declares, as stored (before orientation).
    pub full_width: u32,
    pub full_height: u32,
    pub orientation: Orientation,
}
