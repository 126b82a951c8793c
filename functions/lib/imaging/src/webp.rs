//! Still WebP through libwebp, scaled while decoding: `use_scaling` hands each decoded row to
//! libwebp's rescaler, and when shrinking the loop filter and fancy chroma upsampling are
//! skipped, as libvips and sharp do; the full-size picture is never held. image-webp decodes
//! every pixel first. Animated files keep image's decoder (their first frame).

use crate::{Limits, Rejection};

/// libwebp's rescaler averages boxes of pixels; the Lanczos pass after it needs room to work,
/// so it is left this many times the output. Measured on the corpus WebPs (bench worker,
/// thumbnail): 2× took 51 and 45 ms at SSIM 0.940 and 0.957, 1× 51 and 46 ms at 0.933 and 0.943.
pub(crate) const COVER: u32 = 2;

pub(crate) struct Features {
    pub width: u32,
    pub height: u32,
    pub alpha: bool,
    pub animated: bool,
}

pub(crate) fn features(bytes: &[u8]) -> Result<Features, Rejection> {
    let mut f = std::mem::MaybeUninit::<libwebp_sys::WebPBitstreamFeatures>::zeroed();
    // SAFETY: libwebp reads at most `bytes.len()` bytes and fills the struct it is given.
    #[allow(unsafe_code)]
    let status = unsafe { libwebp_sys::WebPGetFeatures(bytes.as_ptr(), bytes.len(), f.as_mut_ptr()) };
    status_ok(status)?;
    // SAFETY: WebPGetFeatures succeeded, so it wrote every field.
    #[allow(unsafe_code)]
    let f = unsafe { f.assume_init() };
    Ok(Features {
        width: u32::try_from(f.width).unwrap_or(0),
        height: u32::try_from(f.height).unwrap_or(0),
        alpha: f.has_alpha != 0,
        animated: f.has_animation != 0,
    })
}

/// Decodes to `out` (1 ≤ `out` ≤ the stored size) in RGB, or RGBA when the file has alpha.
pub(crate) fn decode_scaled(bytes: &[u8], f: &Features, out: (u32, u32), limits: &Limits) -> Result<Vec<u8>, Rejection> {
    use libwebp_sys::{WEBP_CSP_MODE, WebPDecoderConfig};
    let channels = if f.alpha { 4 } else { 3 };
    let (w, h) = out;
    let stride = w as usize * channels;
    let mut pixels = vec![0u8; stride * h as usize];
    let mut config = WebPDecoderConfig::new().map_err(|()| corrupt("libwebp refused its own configuration"))?;
    let shrinking = (w, h) != (f.width, f.height);
    config.options.use_scaling = i32::from(shrinking);
    config.options.scaled_width = w as i32;
    config.options.scaled_height = h as i32;
    config.options.bypass_filtering = i32::from(shrinking);
    config.options.no_fancy_upsampling = i32::from(shrinking);
    config.output.colorspace = if f.alpha { WEBP_CSP_MODE::MODE_RGBA } else { WEBP_CSP_MODE::MODE_RGB };
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = pixels.as_mut_ptr();
    config.output.u.RGBA.stride = stride as i32;
    config.output.u.RGBA.size = pixels.len();
    limits.check_deadline()?;
    // SAFETY: the output buffer is ours, `stride * h` bytes as declared, and outlives the call;
    // libwebp checks the declared size against the scaled dimensions before writing.
    #[allow(unsafe_code)]
    let status = unsafe { libwebp_sys::WebPDecode(bytes.as_ptr(), bytes.len(), &mut config) };
    status_ok(status)?;
    Ok(pixels)
}

fn status_ok(status: libwebp_sys::VP8StatusCode) -> Result<(), Rejection> {
    use libwebp_sys::VP8StatusCode::*;
    match status {
        VP8_STATUS_OK => Ok(()),
        VP8_STATUS_NOT_ENOUGH_DATA => Err(Rejection::Truncated("WebP")),
        VP8_STATUS_OUT_OF_MEMORY => Err(corrupt("libwebp ran out of memory")),
        other => Err(corrupt(&format!("libwebp: {other:?}"))),
    }
}

fn corrupt(detail: &str) -> Rejection {
    Rejection::Corrupt { format: "WebP", detail: detail.to_string() }
}

#[cfg(test)]
mod tests {
    /// The scaled decode against image-webp's full decode shrunk by the same Lanczos, on every
    /// WebP of the corpus: skipping the loop filter and fancy upsampling must not show.
    #[test]
    fn scaled_decode_matches_a_full_decode_shrunk() {
        let dir = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
            .join("../../../tests/corpus/photos");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "webp") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let f = super::features(&bytes).unwrap();
            let out = (f.width / 5, f.height / 5);
            let ours = super::decode_scaled(&bytes, &f, out, &crate::Limits::default()).unwrap();
            let full = image::load_from_memory_with_format(&bytes, image::ImageFormat::WebP).unwrap().into_rgb8();
            let theirs = crate::resize::resize(full.as_raw(), 3, (f.width, f.height), out, false).unwrap();
            let luma = |px: &[u8]| {
                px.chunks_exact(3)
                    .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
                    .collect::<Vec<f32>>()
            };
            let s = crate::ssim(&luma(&ours), &luma(&theirs), out.0 as usize, out.1 as usize);
            assert!(s >= 0.97, "{}: SSIM {s}", path.display());
            checked += 1;
        }
        assert!(checked >= 2, "only {checked} WebP photos");
    }
}
