//! The bytes a decode path will hold at its peak, from the header alone, so an image that would
//! not fit the function's memory is refused before anything is allocated for it. Each formula
//! follows the buffers the path really makes (listed beside it); `tests/budget.rs` runs every
//! corpus file in its own process and holds the measured peak under this figure.

use crate::geometry::{Fit, decode_size, output_size};
use crate::inspect::{Header, Layout};

/// Decoder tables, row buffers, the encoder and the allocator's slack: measured under 20 MiB for
/// the smallest files of the corpus, whose pixels cost nothing.
const FIXED: u64 = 24 << 20;

pub(crate) fn bytes_needed(header: &Header, fit: Fit) -> u64 {
    let (w, h) = (u64::from(header.width), u64::from(header.height));
    let full = w * h;
    // Either orientation may be the stored one; the larger decode is the one to budget.
    let decoded = |scaled: &dyn Fn(u32, u32, u32, u32) -> (u32, u32)| {
        let area = |(a, b): (u32, u32)| u64::from(a) * u64::from(b);
        let (dw, dh) = decode_size(fit, header.width, header.height);
        let (tw, th) = decode_size(fit, header.height, header.width);
        area(scaled(header.width, header.height, dw, dh)).max(area(scaled(header.width, header.height, th, tw)))
    };
    let pixels = match &header.layout {
        Layout::Jpeg { sampling, progressive } => {
            // libjpeg keeps every DCT coefficient of a progressive file (64 × 2 bytes a block,
            // per component at its own sampling) until the last scan; a baseline one streams.
            let coefficients = if *progressive { coefficient_bytes(header.width, header.height, sampling) } else { 0 };
            let turbo = sampling.len() == 3;
            let px = decoded(&|w, h, dw, dh| {
                if turbo { crate::jpeg::turbo_scaled_size(w, h, dw, dh) } else { crate::jpeg::decoder_scaled_size(w, h, dw, dh) }
            });
            // Decoded samples (CMYK: 4 a pixel), then the sRGB copy the colour transform writes.
            coefficients + px * if turbo { 3 + 3 } else { 4 + 3 + 3 }
        }
        Layout::Png { channels, sixteen_bit } => {
            // The whole image at its own depth, then 8-bit RGB(A), then the colour transform's copy.
            let native = full * u64::from(*channels) * if *sixteen_bit { 2 } else { 1 };
            let eight = full * if *channels % 2 == 0 { 4 } else { 3 };
            native + 2 * eight
        }
        // The canvas, the frame's palette indices, and the RGBA image handed on.
        Layout::Gif => full * (4 + 1 + 4),
        // VP8's planes or VP8L's ARGB words, the RGBA image, the colour transform's copy.
        Layout::Webp => full * (4 + 4 + 4),
    };
    // The resampler's first pass: output width × source height, 4 bytes a pixel at most.
    let (ow, _) = output_size(fit, header.width, header.height);
    let (_, oh) = output_size(fit, header.height, header.width);
    let resample = u64::from(ow.max(oh)) * w.max(h) * 4;
    FIXED + pixels + resample
}

/// Σ over components of blocks × 64 coefficients × 2 bytes, each component's blocks counted at
/// its own sampling (libjpeg's `jdiv_round_up(width * h, max_h * 8)`).
fn coefficient_bytes(width: u32, height: u32, sampling: &[(u8, u8)]) -> u64 {
    let max_h = u64::from(sampling.iter().map(|s| s.0).max().unwrap_or(1).max(1));
    let max_v = u64::from(sampling.iter().map(|s| s.1).max().unwrap_or(1).max(1));
    sampling
        .iter()
        .map(|&(sh, sv)| {
            let bw = (u64::from(width) * u64::from(sh)).div_ceil(max_h * 8);
            let bh = (u64::from(height) * u64::from(sv)).div_ceil(max_v * 8);
            // libjpeg pads each component to whole MCUs.
            bw.div_ceil(u64::from(sh.max(1)))
                * u64::from(sh.max(1))
                * bh.div_ceil(u64::from(sv.max(1)))
                * u64::from(sv.max(1))
                * 128
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deep_100_megapixel_png_is_over_any_sane_budget_and_a_photo_is_not() {
        let fit = Fit::Inside { max_edge: 256 };
        let deep = Header { width: 10_000, height: 10_000, layout: Layout::Png { channels: 4, sixteen_bit: true } };
        assert!(bytes_needed(&deep, fit) > 1_600_000_000);
        // 12 MP progressive 4:2:0 at 256 px: 3 bytes a pixel of coefficients dominate.
        let photo = Header {
            width: 4032,
            height: 3024,
            layout: Layout::Jpeg { sampling: vec![(2, 2), (1, 1), (1, 1)], progressive: true },
        };
        let needed = bytes_needed(&photo, fit);
        assert!((60 << 20..100 << 20).contains(&needed), "{}", needed >> 20);
    }
}
