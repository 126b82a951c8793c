use image::metadata::Orientation;
use image::{DynamicImage, RgbImage, RgbaImage};
use serde::{Deserialize, Serialize};

use crate::decode;
use crate::geometry::{Fit, decode_size, output_size};
use crate::pixels::Pixels;
use crate::{Format, Limits, Rejection, budget, encode, inspect, resize, sniff};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub fit: Fit,
    pub jpeg_quality: u8,
    /// Keep real transparency as PNG; otherwise flatten onto white and write JPEG.
    pub keep_alpha: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Spec { fit: Fit::Inside { max_edge: 256 }, jpeg_quality: 80, keep_alpha: true }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Jpeg,
    Png,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Png => "png",
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Png => "image/png",
        }
    }
}

/// The source as a viewer sees it: dimensions after EXIF orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SourceInfo {
    pub format: Format,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
}

/// What the catalog needs about both sides, plus the encoded output.
#[derive(Debug, Clone)]
pub struct Rendition {
    pub source: SourceInfo,
    pub format: OutputFormat,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// Bytes in, encoded rendition out. Every failure is a [`Rejection`] (bad input); nothing panics
/// and nothing is allocated from a header before [`Limits`] has accepted it.
pub fn render(bytes: &[u8], spec: &Spec, limits: &Limits) -> Result<Rendition, Rejection> {
    limits.check_bytes(bytes.len() as u64)?;
    let format = sniff(bytes)?;
    let fit = spec.fit;
    let needed = needed(bytes, format, spec, limits)?;
    if needed > limits.max_memory {
        return Err(Rejection::OverMemoryBudget { needed, budget: limits.max_memory });
    }
    let decoded = decode::decode(bytes, format, limits, |w, h, o| {
        let (dw, dh) = transpose_if(o, (w, h));
        transpose_if(o, decode_size(fit, dw, dh))
    })?;
    limits.check_deadline()?;
    let o = decoded.orientation;
    let (src_w, src_h) = transpose_if(o, (decoded.full_width, decoded.full_height));
    let (out_w, out_h) = output_size(fit, src_w, src_h);
    // Resample in stored orientation, then rotate the small result.
    let stored_out = transpose_if(o, (out_w, out_h));
    let cover = matches!(fit, Fit::Cover { .. });
    let from = (decoded.width, decoded.height);
    let image = match decoded.pixels {
        Pixels::Rgb8(px) => {
            let px = resize::resize(&px, 3, from, stored_out, cover)?;
            DynamicImage::ImageRgb8(RgbImage::from_raw(stored_out.0, stored_out.1, px).ok_or_else(size_bug)?)
        }
        Pixels::Rgba8(px) => {
            let px = resize::resize(&px, 4, from, stored_out, cover)?;
            DynamicImage::ImageRgba8(RgbaImage::from_raw(stored_out.0, stored_out.1, px).ok_or_else(size_bug)?)
        }
    };
    limits.check_deadline()?;
    let mut image = image;
    image.apply_orientation(o);
    let (width, height) = (image.width(), image.height());
    let (format_out, data) = match image {
        DynamicImage::ImageRgba8(rgba) if spec.keep_alpha && rgba.pixels().any(|p| p.0[3] < 255) => {
            (OutputFormat::Png, encode::png_rgba(rgba.as_raw(), width, height)?)
        }
        DynamicImage::ImageRgba8(rgba) => {
            let rgb = encode::flatten_on_white(rgba.as_raw());
            (OutputFormat::Jpeg, encode::jpeg(&rgb, width, height, spec.jpeg_quality)?)
        }
        other => {
            let rgb = other.into_rgb8();
            (OutputFormat::Jpeg, encode::jpeg(rgb.as_raw(), width, height, spec.jpeg_quality)?)
        }
    };
    let source = SourceInfo { format, bytes: bytes.len() as u64, width: src_w, height: src_h };
    Ok(Rendition { source, format: format_out, width, height, data })
}

/// The bytes [`render`] will hold at its peak for this file, from its header: what the memory
/// budget is held against. Also refuses what the structure limits refuse (metadata, scans, size).
pub fn memory_needed(bytes: &[u8], spec: &Spec, limits: &Limits) -> Result<u64, Rejection> {
    needed(bytes, sniff(bytes)?, spec, limits)
}

fn needed(bytes: &[u8], format: Format, spec: &Spec, limits: &Limits) -> Result<u64, Rejection> {
    let header = inspect::inspect(bytes, format, limits)?;
    Ok(budget::bytes_needed(&header, spec.fit))
}

fn size_bug() -> Rejection {
    Rejection::Encode("internal: resized buffer has the wrong size".into())
}

fn transpose_if(o: Orientation, (w, h): (u32, u32)) -> (u32, u32) {
    match o {
        Orientation::Rotate90 | Orientation::Rotate270 | Orientation::Rotate90FlipH | Orientation::Rotate270FlipH => (h, w),
        _ => (w, h),
    }
}
