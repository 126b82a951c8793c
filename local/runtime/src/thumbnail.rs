//! `cargo xtask thumbnail` (`thumbstack-local thumbnail`): the Lambda's imaging core on local
//! files, for trying it by hand.

use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use imaging::{Fit, Limits, Rendition, Spec};
use serde_json::json;

use crate::{Exit, ImageKind, ThumbnailArgs};

pub fn run(args: &ThumbnailArgs) -> Result<Exit> {
    fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let (fit, keep_alpha) = match args.kind {
        ImageKind::Thumbnail => (Fit::Inside { max_edge: args.max_edge.unwrap_or(256) }, true),
        ImageKind::Avatar => {
            let edge = args.max_edge.unwrap_or(512);
            (Fit::Cover { width: edge, height: edge }, false)
        }
    };
    let spec = Spec { fit, jpeg_quality: args.quality, keep_alpha };
    let limits = Limits::default();
    let mut exit = Exit::Success;
    for file in &args.files {
        let started = Instant::now();
        let outcome = process(file, &args.out, args.kind, &spec, &limits)?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let name = file.display();
        match outcome {
            Ok((r, out)) => {
                if args.json {
                    let line = json!({
                        "file": file, "outcome": "ok", "output": out, "ms": round1(ms),
                        "source": { "format": r.source.format, "bytes": r.source.bytes, "width": r.source.width, "height": r.source.height },
                        "thumbnail": { "format": r.format, "bytes": r.data.len(), "width": r.width, "height": r.height },
                    });
                    emit(&line)?;
                } else {
                    let s = &r.source;
                    eprintln!(
                        "ok        {name}: {} {}x{} {} B -> {} {}x{} {} B ({ms:.0} ms)",
                        s.format.name(),
                        s.width,
                        s.height,
                        s.bytes,
                        r.format.extension(),
                        r.width,
                        r.height,
                        r.data.len()
                    );
                }
            }
            Err(rejection) => {
                exit = Exit::Rejected;
                if args.json {
                    let line = json!({ "file": file, "outcome": "rejected", "code": rejection.code(), "reason": rejection.to_string(), "ms": round1(ms) });
                    emit(&line)?;
                } else {
                    eprintln!("rejected  {name}: {rejection} ({ms:.0} ms)");
                }
            }
        }
    }
    Ok(exit)
}

type Outcome = std::result::Result<(Rendition, std::path::PathBuf), imaging::Rejection>;

/// Outer `Err` is our failure (unreadable file, unwritable output); inner `Err` is bad input.
fn process(file: &Path, out_dir: &Path, kind: ImageKind, spec: &Spec, limits: &Limits) -> Result<Outcome> {
    // Like the Lambda, refuse by size before reading the bytes.
    let size = fs::metadata(file).with_context(|| format!("reading {}", file.display()))?.len();
    if let Err(rejection) = limits.check_bytes(size) {
        return Ok(Err(rejection));
    }
    let bytes = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let rendition = match imaging::render(&bytes, spec, limits) {
        Ok(r) => r,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let stem = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    let suffix = if kind == ImageKind::Avatar { "avatar" } else { "thumb" };
    let out = out_dir.join(format!("{stem}.{suffix}.{}", rendition.format.extension()));
    fs::write(&out, &rendition.data).with_context(|| format!("writing {}", out.display()))?;
    Ok(Ok((rendition, out)))
}

/// One JSON line on stdout; a closed pipe (`| head`) ends the run quietly instead of panicking.
fn emit(line: &serde_json::Value) -> Result<()> {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other.context("writing to stdout"),
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
