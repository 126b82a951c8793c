//! Everything leaves here as 8-bit sRGB: browsers assume sRGB for untagged JPEGs, so an Adobe RGB
//! or Display P3 photo would look washed out, and CMYK would look neon, if passed through as-is.

use moxcms::{ColorProfile, DataColorSpace, Layout, TransformOptions};

/// Converts interleaved RGB (or RGBA when `channels == 4`) in place from its ICC profile to sRGB.
/// An unreadable profile is ignored: the pixels are then treated as sRGB, as a browser would.
pub(crate) fn to_srgb_in_place(pixels: &mut [u8], channels: usize, icc: Option<&[u8]>) {
    let Some(profile) = icc.and_then(|icc| ColorProfile::new_from_slice(icc).ok()) else { return };
    if profile.color_space != DataColorSpace::Rgb {
        return;
    }
    let layout = if channels == 4 { Layout::Rgba } else { Layout::Rgb };
    let Ok(transform) = profile.create_transform_8bit(layout, &ColorProfile::new_srgb(), layout, TransformOptions::default())
    else {
        return;
    };
    let mut out = vec![0u8; pixels.len()];
    if transform.transform(pixels, &mut out).is_ok() {
        pixels.copy_from_slice(&out);
    }
}

pub(crate) fn rgb_to_srgb(mut rgb: Vec<u8>, icc: Option<&[u8]>) -> Vec<u8> {
    to_srgb_in_place(&mut rgb, 3, icc);
    rgb
}

pub(crate) fn gray_to_rgb(gray: &[u8]) -> Vec<u8> {
    gray.iter().flat_map(|&g| [g, g, g]).collect()
}

/// `cmyk` holds ink amounts with 0 = no ink (jpeg-decoder undoes Adobe's inverted storage).
/// With a CMYK profile the conversion is colour-managed; without one, the naive composite
/// that browsers use for untagged CMYK.
pub(crate) fn cmyk_to_srgb(cmyk: &[u8], icc: Option<&[u8]>) -> Vec<u8> {
    let profile = icc.and_then(|icc| ColorProfile::new_from_slice(icc).ok()).filter(|p| p.color_space == DataColorSpace::Cmyk);
    if let Some(profile) = profile {
        let options =
            TransformOptions { rendering_intent: moxcms::RenderingIntent::RelativeColorimetric, ..TransformOptions::default() };
        if let Ok(t) = profile.create_transform_8bit(Layout::Rgba, &ColorProfile::new_srgb(), Layout::Rgb, options) {
            let mut out = vec![0u8; cmyk.len() / 4 * 3];
            if t.transform(cmyk, &mut out).is_ok() {
                return out;
            }
        }
    }
    cmyk.chunks_exact(4)
        .flat_map(|p| {
            let k = 255 - u32::from(p[3]);
            let ch = |c: u8| ((255 - u32::from(c)) * k / 255) as u8;
            [ch(p[0]), ch(p[1]), ch(p[2])]
        })
        .collect()
}
