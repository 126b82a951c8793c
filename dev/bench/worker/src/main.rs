//! The Rust side of `cargo xtask bench`: the functions' own `imaging::render`, on photos already in
//! memory. Every bench worker (this one, `dev/bench/peers/sharp_worker.mjs`, `dev/bench/peers/pillow_worker.py`)
//! speaks the same protocol, described in `xtask/src/verbs/bench/tools.rs`:
//!
//! `bench-worker <thumbnail|avatar> <out_dir> <budget_ms> <min_runs> <file>...`
//! prints one JSON line per file, then `{"peak_rss_kib": N, "jpeg_simd": bool}` (the bench refuses
//! to time a libjpeg-turbo built without its SIMD).

use std::time::Instant;

use imaging::{Fit, Limits, Spec, render};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [op, out_dir, budget_ms, min_runs, files @ ..] = args.as_slice() else {
        eprintln!("usage: bench-worker <thumbnail|avatar> <out_dir> <budget_ms> <min_runs> <file>...");
        std::process::exit(2);
    };
    // The functions' settings (shared::config): thumbnails keep real alpha, avatars are JPEG.
    let spec = match op.as_str() {
        "thumbnail" => Spec { fit: Fit::Inside { max_edge: 256 }, jpeg_quality: 80, keep_alpha: true },
        "avatar" => Spec { fit: Fit::Cover { width: 512, height: 512 }, jpeg_quality: 80, keep_alpha: false },
        other => {
            eprintln!("bench-worker: unknown operation {other}");
            std::process::exit(2);
        }
    };
    let budget = budget_ms.parse::<f64>().expect("budget_ms");
    let min_runs = min_runs.parse::<usize>().expect("min_runs");
    let limits = Limits::default();
    for file in files {
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("reading {file}: {e}"));
        let name = std::path::Path::new(file).file_stem().and_then(|s| s.to_str()).unwrap_or("out");
        let mut times = Vec::new();
        let started = Instant::now();
        let mut last = render(&bytes, &spec, &limits); // warm-up, not timed
        while !done(&times, min_runs, started.elapsed().as_secs_f64() * 1e3, budget) {
            let t = Instant::now();
            last = render(&bytes, &spec, &limits);
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        match last {
            Ok(out) => {
                let path = format!("{out_dir}/{name}.{}", out.format.extension());
                std::fs::write(&path, &out.data).unwrap_or_else(|e| panic!("writing {path}: {e}"));
                println!(
                    r#"{{"file":{file:?},"runs":{},"median_ms":{:.4},"out_bytes":{},"width":{},"height":{},"output":{path:?}}}"#,
                    times.len(),
                    median(&times),
                    out.data.len(),
                    out.width,
                    out.height
                );
            }
            Err(rejection) => {
                let reason = rejection.to_string();
                println!(r#"{{"file":{file:?},"runs":{},"median_ms":{:.4},"rejected":{reason:?}}}"#, times.len(), median(&times));
            }
        }
    }
    println!(r#"{{"peak_rss_kib":{},"jpeg_simd":{}}}"#, peak_rss_kib(), imaging::jpeg_simd());
}

/// Enough runs, and the median no longer moves by more than 1 % (or the time budget is spent).
fn done(times: &[f64], min_runs: usize, elapsed_ms: f64, budget_ms: f64) -> bool {
    if times.len() < min_runs.max(3) {
        return false;
    }
    let now = median(times);
    let before = median(&times[..times.len() - 2]);
    (now - before).abs() <= 0.01 * now || elapsed_ms > budget_ms || times.len() >= 500
}

fn median(times: &[f64]) -> f64 {
    if times.is_empty() {
        return 0.0;
    }
    let mut sorted = times.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// The kernel's high-water mark of this process's resident set.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
