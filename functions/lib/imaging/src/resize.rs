use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::Rejection;

/// Lanczos3 resample (SIMD where the CPU has it). `cover` crops the centre of the source to the
/// destination's aspect ratio instead of distorting it. Alpha is premultiplied during the resample
/// so transparent pixels' hidden colour cannot bleed into the edges.
pub(crate) fn resize(
    src: &[u8],
    channels: usize,
    (w, h): (u32, u32),
    (dw, dh): (u32, u32),
    cover: bool,
) -> Result<Vec<u8>, Rejection> {
    let pixel_type = if channels == 4 { PixelType::U8x4 } else { PixelType::U8x3 };
    if (w, h) == (dw, dh) {
        return Ok(src.to_vec());
    }
    let fail = |e: &dyn std::fmt::Display| Rejection::Encode(format!("resize: {e}"));
    let src = ImageRef::new(w, h, src, pixel_type).map_err(|e| fail(&e))?;
    let mut dst = Image::new(dw, dh, pixel_type);
    let mut options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    if cover {
        options = options.fit_into_destination(Some((0.5, 0.5)));
    }
    Resizer::new().resize(&src, &mut dst, &options).map_err(|e| fail(&e))?;
    Ok(dst.into_vec())
}
