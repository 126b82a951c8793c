//! The corpus (`tests/corpus`): every file gives its MANIFEST's expected outcome,
//! and the tricky variants come out looking right.

use std::path::PathBuf;

use imaging::{Fit, Limits, OutputFormat, Rejection, Rendition, Spec, render};

fn corpus() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("../../../tests/corpus")
}

fn read(rel: &str) -> Vec<u8> {
    let path = corpus().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn thumb(rel: &str) -> Result<Rendition, Rejection> {
    render(&read(rel), &Spec::default(), &Limits::default())
}

struct Row {
    file: String,
    width: Option<u32>,
    height: Option<u32>,
    ok: bool,
    reason: String,
}

fn manifest(folder: &str) -> Vec<Row> {
    let text = String::from_utf8(read(&format!("{folder}/MANIFEST.tsv"))).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() >= 10, "short MANIFEST row: {l}");
            Row {
                file: format!("{folder}/{}", f[0]),
                width: f[3].parse().ok(),
                height: f[4].parse().ok(),
                ok: match f[8] {
                    "ok" => true,
                    "reject" => false,
                    other => panic!("unknown expectation {other}"),
                },
                reason: f[9].to_string(),
            }
        })
        .collect()
}

#[test]
fn every_manifest_row_gives_its_expected_outcome() {
    let mut checked = 0;
    for folder in ["photos", "variants", "hostile"] {
        for row in manifest(folder) {
            let got = thumb(&row.file);
            match (&got, row.ok) {
                (Ok(r), true) => {
                    assert!(r.width.max(r.height) <= 256 && r.width > 0 && r.height > 0, "{}", row.file);
                    if let (Some(w), Some(h)) = (row.width, row.height) {
                        // Source dimensions are reported as displayed (orientation applied).
                        let displayed =
                            if row.file.contains("orient_6") || row.file.contains("orient_8") { (h, w) } else { (w, h) };
                        assert_eq!((r.source.width, r.source.height), displayed, "{}", row.file);
                    }
                }
                (Err(e), false) => {
                    let reason = e.to_string();
                    assert!(!reason.is_empty());
                    for named in ["HEIC", "AVIF"] {
                        if row.reason.contains(named) {
                            assert!(reason.contains(named), "{}: reason {reason:?} must name {named}", row.file);
                        }
                    }
                }
                _ => panic!(
                    "{}: expected {} ({}), got {:?}",
                    row.file,
                    if row.ok { "ok" } else { "reject" },
                    row.reason,
                    got.map(|r| (r.width, r.height))
                ),
            }
            checked += 1;
        }
    }
    assert!(checked >= 39, "only {checked} corpus files checked");
}

#[test]
fn hostile_files_are_rejected_for_the_right_reason() {
    let cases = [
        ("hostile/empty.jpg", "empty"),
        ("hostile/text.jpg", "not_an_image"),
        ("hostile/truncated_half.jpg", "truncated"),
        ("hostile/bomb_20000x20000.png", "too_many_pixels"),
        ("hostile/bomb_100000x100000_rgb_partial.png", "too_many_pixels"),
        ("hostile/vector.svg", "unsupported_format"),
        ("hostile/icc_bomb.png", "metadata_too_large"),
        ("hostile/text_bomb.png", "metadata_too_large"),
        ("hostile/exif_oversized.png", "metadata_too_large"),
        ("hostile/deep_100mp_rgba16.png", "over_memory_budget"),
        ("hostile/scan_bomb.jpg", "too_many_scans"),
        ("variants/heic_photo.heic", "unsupported_format"),
        ("variants/avif_photo.avif", "unsupported_format"),
    ];
    for (file, code) in cases {
        let err = thumb(file).expect_err(file);
        assert_eq!(err.code(), code, "{file}: {err}");
    }
}

/// Decodes an output JPEG (or PNG) back to RGB8 for comparisons.
fn pixels(r: &Rendition) -> Vec<u8> {
    match r.format {
        OutputFormat::Jpeg => {
            let mut d = jpeg_decoder::Decoder::new(&r.data[..]);
            let px = d.decode().unwrap();
            let info = d.info().unwrap();
            assert_eq!((u32::from(info.width), u32::from(info.height)), (r.width, r.height));
            px
        }
        OutputFormat::Png => image::load_from_memory(&r.data).unwrap().into_rgb8().into_raw(),
    }
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| f64::from(x.abs_diff(*y))).sum::<f64>() / a.len() as f64
}

#[test]
fn every_orientation_comes_out_upright() {
    let upright = thumb("variants/orient_1.jpg").unwrap();
    assert_eq!((upright.width, upright.height), (256, 171));
    let reference = pixels(&upright);
    for n in [2, 3, 4, 6, 8] {
        let r = thumb(&format!("variants/orient_{n}.jpg")).unwrap();
        assert_eq!((r.width, r.height), (upright.width, upright.height), "orient_{n}");
        let diff = mean_abs_diff(&pixels(&r), &reference);
        assert!(diff < 4.0, "orient_{n}: mean difference {diff:.2} from orient_1");
    }
    // The check can fail: an image flipped upside down is far from upright.
    let mut flipped = reference.chunks_exact(upright.width as usize * 3).rev().flatten().copied().collect::<Vec<_>>();
    flipped.reverse();
    assert!(mean_abs_diff(&flipped, &reference) > 10.0);
}

/// The variants were derived from photos in the corpus; once colour-managed they must match them.
#[test]
fn icc_and_cmyk_match_their_srgb_originals() {
    for (variant, original, limit) in [
        // Naive CMYK (no profile) measures ~35 here; sharp ~4.7 on full-size pixels.
        ("variants/jpeg_cmyk.jpg", "photos/s2_greenmeadow_1280x1024.jpg", 9.0),
        ("variants/jpeg_adobergb.jpg", "photos/m1_eveningglow_2560x1600.jpg", 4.0),
    ] {
        let v = thumb(variant).unwrap();
        let o = thumb(original).unwrap();
        assert_eq!((v.width, v.height), (o.width, o.height));
        let diff = mean_abs_diff(&pixels(&v), &pixels(&o));
        eprintln!("{variant}: mean abs difference {diff:.2} against {original}");
        assert!(diff < limit, "{variant}: mean difference {diff:.2} from {original} (limit {limit})");
    }
}

#[test]
fn alpha_is_kept_as_png_or_flattened_onto_white() {
    let kept = thumb("variants/png_alpha.png").unwrap();
    assert_eq!(kept.format, OutputFormat::Png);
    let rgba = image::load_from_memory(&kept.data).unwrap().into_rgba8();
    assert_eq!(rgba.get_pixel(0, 0).0[3], 0, "corner outside the ellipse stays transparent");

    let spec = Spec { keep_alpha: false, ..Spec::default() };
    let flat = render(&read("variants/png_alpha.png"), &spec, &Limits::default()).unwrap();
    assert_eq!(flat.format, OutputFormat::Jpeg);
    let px = pixels(&flat);
    assert!(px[..3].iter().all(|&c| c > 245), "corner must be white, got {:?}", &px[..3]);
}

fn avatar(rel: &str) -> Result<Rendition, Rejection> {
    let spec = Spec { fit: Fit::Cover { width: 512, height: 512 }, keep_alpha: false, ..Spec::default() };
    render(&read(rel), &spec, &Limits::default())
}

/// The avatar function's output for every photo and variant the corpus expects to work.
#[test]
fn every_good_photo_becomes_a_512_square_avatar() {
    let mut checked = 0;
    for row in manifest("photos").into_iter().chain(manifest("variants")).filter(|r| r.ok) {
        let r = avatar(&row.file).unwrap_or_else(|e| panic!("{}: {e}", row.file));
        assert_eq!((r.width, r.height, r.format), (512, 512, OutputFormat::Jpeg), "{}", row.file);
        // Decodes the JPEG and checks its header says 512×512 too.
        assert_eq!(pixels(&r).len(), 512 * 512 * 3, "{}", row.file);
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} photos checked");
}

#[test]
fn avatars_of_every_orientation_come_out_upright() {
    let reference = pixels(&avatar("variants/orient_1.jpg").unwrap());
    for n in [2, 3, 4, 6, 8] {
        let diff = mean_abs_diff(&pixels(&avatar(&format!("variants/orient_{n}.jpg")).unwrap()), &reference);
        assert!(diff < 4.0, "orient_{n}: mean difference {diff:.2} from orient_1");
    }
}

#[test]
fn limits_from_config_are_honoured() {
    let bytes = read("photos/s2_greenmeadow_1280x1024.jpg");
    let tight = Limits { max_pixels: 1280 * 1024 - 1, ..Limits::default() };
    assert_eq!(render(&bytes, &Spec::default(), &tight).unwrap_err().code(), "too_many_pixels");
    let small = Limits { max_bytes: 1000, ..Limits::default() };
    assert_eq!(render(&bytes, &Spec::default(), &small).unwrap_err().code(), "too_many_bytes");
    let big_edge = Spec { fit: Fit::Inside { max_edge: 1000 }, ..Spec::default() };
    let r = render(&bytes, &big_edge, &Limits::default()).unwrap();
    assert_eq!((r.width, r.height), (1000, 800));
}

/// Every prefix of a real JPEG and PNG is refused cleanly, never a panic. (A GIF cut after its
/// first frame still holds a whole first frame, which is all we use, so it only must not panic.)
#[test]
fn truncations_are_refused_without_panic() {
    for file in ["variants/orient_6.jpg", "variants/png_alpha.png", "variants/gif_animated.gif"] {
        let bytes = read(file);
        for cut in (0..bytes.len()).step_by(bytes.len() / 97 + 1) {
            let got = render(&bytes[..cut], &Spec::default(), &Limits::default());
            if !file.ends_with(".gif") {
                assert!(got.is_err(), "{file} cut at {cut} was accepted");
            }
        }
    }
}
