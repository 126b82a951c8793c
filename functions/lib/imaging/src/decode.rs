use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageReader};

use crate::pixels::{Decoded, Pixels};
use crate::{Format, Limits, Rejection, color, jpeg, webp};

/// Decodes after checking the declared size against `limits`; `want` lets a scaling decoder
/// (JPEG) stop at the smallest size that still serves the output.
pub(crate) fn decode(
    bytes: &[u8],
    format: Format,
    limits: &Limits,
    want: impl Fn(u32, u32, Orientation) -> (u32, u32),
) -> Result<Decoded, Rejection> {
    let image_format = match format {
        Format::Jpeg => return jpeg::decode(bytes, limits, want),
        Format::Png => image::ImageFormat::Png,
        Format::Gif => image::ImageFormat::Gif,
        Format::Webp => image::ImageFormat::WebP,
    };
    let name = format.name();
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut image_limits = image::Limits::default();
    image_limits.max_alloc = Some(limits.max_alloc());
    reader.limits(image_limits);
    let mut dec = reader.into_decoder().map_err(|e| map_err(name, e))?;
    // The header's claim is checked before anything is allocated for it; image's own limit is
    // not enforced on the from_decoder path.
    let (w, h) = dec.dimensions();
    limits.check_dimensions(w, h)?;
    let orientation = dec.orientation().unwrap_or(Orientation::NoTransforms);
    let icc = dec.icc_profile().ok().flatten();
    if format == Format::Webp {
        let features = webp::features(bytes)?;
        if !features.animated && (features.width, features.height) == (w, h) {
            // image read the metadata (orientation, ICC); libwebp decodes the pixels, scaled.
            let (dw, dh) = want(w, h, orientation);
            let out = (dw.saturating_mul(webp::COVER).clamp(1, w), dh.saturating_mul(webp::COVER).clamp(1, h));
            let mut px = webp::decode_scaled(bytes, &features, out, limits)?;
            let pixels = if features.alpha {
                color::to_srgb_in_place(&mut px, 4, icc.as_deref());
                Pixels::Rgba8(px)
            } else {
                color::to_srgb_in_place(&mut px, 3, icc.as_deref());
                Pixels::Rgb8(px)
            };
            return Ok(Decoded { pixels, width: out.0, height: out.1, full_width: w, full_height: h, orientation });
        }
    }
    let img = DynamicImage::from_decoder(dec).map_err(|e| map_err(name, e))?;
    let pixels = if img.color().has_alpha() {
        let mut rgba = img.into_rgba8().into_raw();
        color::to_srgb_in_place(&mut rgba, 4, icc.as_deref());
        Pixels::Rgba8(rgba)
    } else {
        let mut rgb = img.into_rgb8().into_raw();
        color::to_srgb_in_place(&mut rgb, 3, icc.as_deref());
        Pixels::Rgb8(rgb)
    };
    Ok(Decoded { pixels, width: w, height: h, full_width: w, full_height: h, orientation })
}

fn map_err(format: &'static str, e: ImageError) -> Rejection {
    match e {
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => Rejection::Truncated(format),
        ImageError::Limits(l) => Rejection::Corrupt { format, detail: format!("decoder limit reached: {l}") },
        other => {
            let detail = other.to_string();
            if detail.to_ascii_lowercase().contains("eof") || detail.contains("end of file") {
                Rejection::Truncated(format)
            } else {
                Rejection::Corrupt { format, detail }
            }
        }
    }
}
