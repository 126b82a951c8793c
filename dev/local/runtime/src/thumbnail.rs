//! `cargo xtask thumbnail` (`thumbstack-local thumbnail`): the Lambda's imaging core on local
//! files, for trying it by hand. Each file runs in a process of its own, which reports its time
//! and its peak resident memory (`VmHWM`): what a hostile file costs, measured, not assumed.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use imaging::{Deadline, Limits, Rendition, Spec};
use serde_json::{Value, json};

use crate::{Exit, ImageKind, ThumbnailArgs};

pub fn run(args: &ThumbnailArgs) -> Result<Exit> {
    fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    if args.in_process {
        let [file] = &args.files[..] else { bail!("--in-process takes one file") };
        emit(&one(args, file)?)?;
        return Ok(Exit::Success);
    }
    let mut exit = Exit::Success;
    for file in &args.files {
        let line = isolated(args, file)?;
        if line["outcome"] != "ok" {
            exit = Exit::Rejected;
        }
        if args.json {
            emit(&line)?;
        } else {
            eprintln!("{}", human(&line));
        }
    }
    Ok(exit)
}

/// Runs `file` in a child of this binary and returns the JSON line it printed.
fn isolated(args: &ThumbnailArgs, file: &Path) -> Result<Value> {
    let mut child = Command::new(std::env::current_exe().context("finding this binary")?);
    child.args(["thumbnail", "--in-process", "--out"]).arg(&args.out);
    child.args(["--kind", if args.kind == ImageKind::Avatar { "avatar" } else { "thumbnail" }]);
    child.args(["--quality", &args.quality.to_string(), "--seconds", &args.seconds.to_string()]);
    if let Some(edge) = args.max_edge {
        child.args(["--max-edge", &edge.to_string()]);
    }
    if let Some(mib) = args.memory_mib {
        child.args(["--memory-mib", &mib.to_string()]);
    }
    let out = child.arg(file).stderr(Stdio::inherit()).output().with_context(|| format!("running {}", file.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(line) if out.status.success() => Ok(line),
        // A crash or an out-of-memory kill is an outcome too, and the one this verb exists to show.
        _ => Ok(json!({ "file": file, "outcome": "crashed", "status": out.status.to_string() })),
    }
}

fn one(args: &ThumbnailArgs, file: &Path) -> Result<Value> {
    // The functions' own defaults, so this verb shows what they would make.
    let function = match args.kind {
        ImageKind::Thumbnail => &thumbnail::DEFAULTS,
        ImageKind::Avatar => &avatar::DEFAULTS,
    };
    let (fit, keep_alpha) = (function.output)(args.max_edge.unwrap_or(function.max_edge));
    let spec = Spec { fit, jpeg_quality: args.quality, keep_alpha };
    let defaults = Limits::default();
    let span = Duration::try_from_secs_f64(args.seconds).context("--seconds")?;
    let limits = Limits {
        max_memory: args.memory_mib.map_or(defaults.max_memory, |mib| mib << 20),
        deadline: Some(Deadline::after(span)),
        ..defaults
    };
    let started = Instant::now();
    let outcome = process(file, &args.out, args.kind, &spec, &limits)?;
    let ms = round1(started.elapsed().as_secs_f64() * 1000.0);
    let peak_mib = peak_mib().map(round1);
    // The header's own figure, for holding the measured peak to it (`tests/budgets.rs`): read
    // after the peak and the time, so this second look at the file counts in neither.
    let needed_mib = fs::read(file)
        .ok()
        .and_then(|b| imaging::memory_needed(&b, &spec, &limits).ok())
        .map(|n| round1(n as f64 / f64::from(1 << 20)));
    Ok(match outcome {
        Ok((r, out)) => json!({
            "file": file, "outcome": "ok", "output": out, "ms": ms, "peak_mib": peak_mib, "needed_mib": needed_mib,
            "source": { "format": r.source.format, "bytes": r.source.bytes, "width": r.source.width, "height": r.source.height },
            "thumbnail": { "format": r.format, "bytes": r.data.len(), "width": r.width, "height": r.height },
        }),
        Err(rejection) => json!({
            "file": file, "outcome": "rejected", "code": rejection.code(), "reason": rejection.to_string(), "ms": ms, "peak_mib": peak_mib, "needed_mib": needed_mib,
        }),
    })
}

fn human(line: &Value) -> String {
    let name = line["file"].as_str().unwrap_or("?");
    let cost = format!("({} ms, peak {} MiB)", line["ms"], line["peak_mib"]);
    match line["outcome"].as_str() {
        Some("ok") => {
            let (s, t) = (&line["source"], &line["thumbnail"]);
            format!(
                "ok        {name}: {} {}x{} {} B -> {} {}x{} {} B {cost}",
                s["format"].as_str().unwrap_or("?"),
                s["width"],
                s["height"],
                s["bytes"],
                t["format"].as_str().unwrap_or("?"),
                t["width"],
                t["height"],
                t["bytes"]
            )
        }
        Some("rejected") => format!("rejected  {name}: {} {cost}", line["reason"].as_str().unwrap_or("?")),
        _ => format!("crashed   {name}: {}", line["status"].as_str().unwrap_or("?")),
    }
}

/// This process's peak resident set so far (Linux `VmHWM`), in MiB.
fn peak_mib() -> Option<f64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib / 1024.0)
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
fn emit(line: &Value) -> Result<()> {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{line}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other.context("writing to stdout"),
    }
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
