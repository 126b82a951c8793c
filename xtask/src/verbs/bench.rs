//! `cargo xtask bench`: the functions' imaging core against the tools a user would pick instead
//! (sharp/libvips, Pillow, vipsthumbnail), on the corpus photos and their baseline or progressive
//! twins, one tool at a time in its own process pinned to one core; then the function's
//! cold-start proxy, the end-to-end figure (uploads through the pipeline, sequential against
//! concurrent batches, and what they cost) and the deploy figures. Writes
//! `<out>/report.json` and `<out>/report.md`; docs/bench.md reproduces the table.

pub(crate) mod coldstart;
mod deploy;
mod e2e;
mod photos;
mod report;
mod ssim;
mod tools;

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::exit::Exit;
use crate::flags::BenchArgs;
use tools::Op;

/// Per photo and tool: warm-up, then repeats until the median moves < 1 % or the budget is spent.
struct Effort {
    budget_ms: u32,
    min_runs: u32,
    cold_starts: usize,
    deploys: usize,
    /// Uploads per mode through the pipeline.
    uploads: usize,
}

pub fn run(args: &BenchArgs) -> Result<Exit> {
    let out = args.out.clone().unwrap_or_else(|| crate::paths::target_dir().join("bench"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let effort = if args.quick {
        Effort { budget_ms: 400, min_runs: 3, cold_starts: 3, deploys: 1, uploads: 10 }
    } else {
        Effort { budget_ms: 1500, min_runs: 5, cold_starts: 10, deploys: 3, uploads: 60 }
    };
    let photos = photos::with_twins(photos::select(args.quick)?, &out.join("twins"))?;
    let hostile = photos::hostile()?;
    let (tools, skipped) = tools::prepare()?;
    let core = tools::bench_core();
    let mut samples = Vec::new();
    for op in [Op::Thumbnail, Op::Avatar] {
        for tool in &tools {
            eprintln!("bench: {} {} on {} photo(s), core {core}", tool.name, op.name(), photos.len());
            for photo in &photos {
                samples.push(tool.measure(op, photo, &out, &effort, core)?);
            }
        }
    }
    eprintln!("bench: the functions' core on {} hostile file(s)", hostile.len());
    let mut hostile_samples = Vec::new();
    for file in &hostile {
        hostile_samples.push(tools[0].measure(Op::Thumbnail, file, &out, &effort, core)?);
    }
    eprintln!("bench: SSIM of every 256 px thumbnail against a reference downscale");
    ssim::score_all(&mut samples, &photos)?;
    let cold = coldstart::measure(effort.cold_starts)?;
    let e2e = e2e::measure(&photos, effort.uploads, core)?;
    let deploy = deploy::measure(effort.deploys)?;
    let report = report::Report::new(args.quick, &tools, skipped, &photos, samples, hostile_samples, cold, e2e, deploy);
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(out.join("report.json"), format!("{json}\n"))?;
    let markdown = report.markdown();
    std::fs::write(out.join("report.md"), &markdown)?;
    if args.json {
        println!("{json}");
    } else {
        println!("{markdown}");
    }
    eprintln!("bench: wrote {} and report.md", out.join("report.json").display());
    Ok(Exit::Success)
}

/// Runs a helper command (a peer's version, the awscli) and returns its trimmed stdout; a
/// failure carries everything it printed.
fn stdout_of(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
