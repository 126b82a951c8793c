//! The imaging core's whole decode path on arbitrary bytes: sniff, header limits, decode (every
//! format), colour, resize, encode. It must return a rendition or a rejection: no panic, no hang,
//! and (with the small limits below) no allocation beyond what the limits allow.
#![no_main]

use imaging::{Fit, Limits, Spec, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A budget well under libFuzzer's -rss_limit_mb=512 (dev/scripts/fuzz.sh), ASan's own overhead included.
    let limits = Limits { max_bytes: 4 << 20, max_pixels: 4_000_000, max_memory: 160 << 20, ..Limits::default() };
    let spec = Spec { fit: Fit::Inside { max_edge: 64 }, jpeg_quality: 80, keep_alpha: true };
    if let Ok(out) = render(data, &spec, &limits) {
        assert!(out.width <= 64 && out.height <= 64 && !out.data.is_empty());
    }
    let avatar = Spec { fit: Fit::Cover { width: 32, height: 32 }, jpeg_quality: 80, keep_alpha: false };
    if let Ok(out) = render(data, &avatar, &limits) {
        assert_eq!((out.width, out.height), (32, 32));
    }
});
