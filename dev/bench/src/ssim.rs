//! `cargo xtask bench`'s quality figure, computed the same way for every tool: SSIM (luma, 8×8 windows, stride 4, the usual
//! C1/C2) of each 256 px thumbnail against a reference made independently of all three tools —
//! a full-size decode (no DCT scaling), EXIF orientation applied, then an `image` crate Lanczos3
//! resample in 32-bit float to the output's own size.

use std::collections::HashMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, RgbImage};

use imaging::ssim;

/// `thumbstack-bench ssim PHOTO OUTPUT...`: one JSON line per output, `{"output", "ssim"}`; the
/// reference is made once per photo and output size.
pub fn run(photo: &Path, outputs: &[PathBuf]) -> Result<()> {
    let mut references: HashMap<(u32, u32), Vec<f32>> = HashMap::new();
    // The full-size float image, made once and resampled to each output size seen.
    let mut full = None;
    for output in outputs {
        let produced = decode(&std::fs::read(output)?, false).with_context(|| format!("decoding {}", output.display()))?;
        let size = (produced.width(), produced.height());
        let reference = match references.entry(size) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                if full.is_none() {
                    let source = decode(&std::fs::read(photo)?, true).with_context(|| photo.display().to_string())?;
                    full = Some(DynamicImage::ImageRgb8(source).into_rgb32f());
                }
                let small = image::imageops::resize(full.as_ref().context("source")?, size.0, size.1, FilterType::Lanczos3);
                e.insert(small.pixels().map(|p| luma(p.0[0] * 255.0, p.0[1] * 255.0, p.0[2] * 255.0)).collect())
            }
        };
        let got: Vec<f32> = produced.pixels().map(|p| luma(p.0[0].into(), p.0[1].into(), p.0[2].into())).collect();
        let score = ssim(reference, &got, size.0 as usize, size.1 as usize);
        println!("{}", serde_json::json!({ "output": output, "ssim": score }));
    }
    Ok(())
}

fn luma(r: f32, g: f32, b: f32) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

/// Full-size RGB; with `orient`, EXIF orientation applied.
fn decode(bytes: &[u8], orient: bool) -> Result<RgbImage> {
    let mut image = if bytes.starts_with(&[0xFF, 0xD8]) {
        let mut dec = jpeg_decoder::Decoder::new(Cursor::new(bytes));
        let pixels = dec.decode()?;
        let info = dec.info().context("no JPEG header")?;
        let (w, h) = (u32::from(info.width), u32::from(info.height));
        let rgb = match info.pixel_format {
            jpeg_decoder::PixelFormat::RGB24 => pixels,
            jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&g| [g, g, g]).collect(),
            other => bail!("the reference decoder takes RGB or grey JPEGs, not {other:?}"),
        };
        let orientation = dec
            .exif_data()
            .and_then(|exif| Orientation::from_exif_chunk(exif.strip_prefix(b"Exif\0\0").unwrap_or(exif)))
            .unwrap_or(Orientation::NoTransforms);
        let mut image = DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, rgb).context("JPEG size")?);
        if orient {
            image.apply_orientation(orientation);
        }
        image
    } else {
        let mut dec = image::ImageReader::new(Cursor::new(bytes)).with_guessed_format()?.into_decoder()?;
        let orientation = dec.orientation().unwrap_or(Orientation::NoTransforms);
        let mut image = DynamicImage::from_decoder(dec)?;
        if orient {
            image.apply_orientation(orientation);
        }
        image
    };
    Ok(std::mem::take(&mut image).into_rgb8())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reference_decode_applies_orientation() {
        // orient_6 is stored landscape and displayed portrait.
        let bytes = testkit::corpus_file("variants/orient_6.jpg");
        let stored = super::decode(&bytes, false).unwrap();
        let shown = super::decode(&bytes, true).unwrap();
        assert_eq!((shown.width(), shown.height()), (stored.height(), stored.width()));
    }
}
