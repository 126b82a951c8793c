//! Inputs made in the test: lying headers that must be refused before allocation, and pixel
//! formats the corpus does not hold (16-bit, grey + alpha).

use image::{ExtendedColorType, ImageEncoder, codecs::png::PngEncoder};
use imaging::{Limits, OutputFormat, Spec, render};

fn corpus(rel: &str) -> Vec<u8> {
    std::fs::read(
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"))
            .join("../../../tests/corpus")
            .join(rel),
    )
    .unwrap()
}

fn png(data: &[u8], w: u32, h: u32, color: ExtendedColorType) -> Vec<u8> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out).write_image(data, w, h, color).unwrap();
    out
}

#[test]
fn jpeg_header_claiming_65500_squared_is_refused_from_the_header() {
    let mut bytes = corpus("variants/orient_1.jpg");
    // SOF0/SOF2: FF C0|C2, length(2), precision(1), height(2), width(2)
    let sof = bytes.windows(2).position(|w| w[0] == 0xFF && (w[1] == 0xC0 || w[1] == 0xC2)).unwrap();
    bytes[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xDC, 0xFF, 0xDC]);
    let err = render(&bytes, &Spec::default(), &Limits::default()).unwrap_err();
    assert_eq!(err.code(), "too_many_pixels", "{err}");
}

#[test]
fn gif_with_a_huge_logical_screen_is_refused() {
    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00]); // 65535x65535 screen, no palette
    gif.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0x80]); // 1x1 frame with a 2-colour local palette
    gif.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    gif.extend_from_slice(&[0x02, 0x02, 0x44, 0x01, 0x00, 0x3B]);
    let err = render(&gif, &Spec::default(), &Limits::default()).unwrap_err();
    assert_eq!(err.code(), "too_many_pixels", "{err}");
}

#[test]
fn sixteen_bit_and_grey_alpha_pngs_are_handled() {
    let (w, h) = (300u32, 200u32);
    // 16-bit RGB gradient, native-endian samples, as `image` expects.
    let rgb16: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let v = ((i % w) * 65535 / w) as u16;
            [v.to_ne_bytes(), v.to_ne_bytes(), 0u16.to_ne_bytes()].concat()
        })
        .collect();
    let r = render(&png(&rgb16, w, h, ExtendedColorType::Rgb16), &Spec::default(), &Limits::default()).unwrap();
    assert_eq!((r.width, r.height, r.format), (256, 171, OutputFormat::Jpeg));
    let mut d = jpeg_decoder::Decoder::new(&r.data[..]);
    let px = d.decode().unwrap();
    let right_edge = &px[(255 * 3)..(256 * 3)];
    assert!(right_edge[0] > 240 && right_edge[2] < 15, "16-bit scaled to 8-bit, not truncated: {right_edge:?}");

    // Grey + alpha, half transparent: kept as PNG, or flattened onto white.
    let la: Vec<u8> = (0..w * h).flat_map(|i| [40u8, if i % w < w / 2 { 0 } else { 255 }]).collect();
    let bytes = png(&la, w, h, ExtendedColorType::La8);
    let kept = render(&bytes, &Spec::default(), &Limits::default()).unwrap();
    assert_eq!(kept.format, OutputFormat::Png);
    let flat = render(&bytes, &Spec { keep_alpha: false, ..Spec::default() }, &Limits::default()).unwrap();
    let px = jpeg_decoder::Decoder::new(&flat.data[..]).decode().unwrap();
    assert!(px[0] > 245 && px[(255) * 3] < 60, "left white, right dark grey: {} {}", px[0], px[255 * 3]);
}
