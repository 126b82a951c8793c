//! The tools under test and how each is run. Every worker — `dev/bench/worker/src/main.rs`,
//! `dev/bench/peers/sharp_worker.mjs`, `dev/bench/peers/pillow_worker.py`, `dev/bench/peers/vips_worker.py` — takes
//! `<thumbnail|avatar> <out_dir> <budget_ms> <min_runs> <file>...`, reads each file into memory,
//! renders it once untimed, then repeats until the median moves < 1 % (or the budget is spent),
//! writes the last output, prints `{"file","runs","median_ms","out_bytes","width","height","output"}`
//! (or `"rejected"`) per file and finally `{"peak_rss_kib"}` (the kernel's VmHWM of the process).
//! Here each (tool, operation, photo) gets its own process, so the peak RSS is that photo's.
//! vipsthumbnail is a program, so its worker starts one per run: its times include process start
//! and file I/O (the report says so).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::Effort;
use super::photos::{Class, Group, Photo};
use super::stdout_of as output;
use crate::paths::{cargo, root, target_dir};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Fit inside 256, EXIF orientation applied, JPEG q80: the thumbnail function's work.
    Thumbnail,
    /// Cover 512×512, JPEG q80: the avatar function's work.
    Avatar,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Thumbnail => "thumbnail",
            Op::Avatar => "avatar",
        }
    }
}

pub const VIPSTHUMBNAIL: &str = "vipsthumbnail";

pub struct Tool {
    pub name: &'static str,
    pub version: String,
    program: PathBuf,
    /// Arguments before the protocol's own (the script, for node and python).
    prefix: Vec<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub tool: &'static str,
    pub op: Op,
    pub photo: String,
    pub group: Group,
    pub class: Class,
    pub megapixels: f64,
    pub runs: u32,
    pub median_ms: f64,
    pub peak_rss_kib: u64,
    pub out_bytes: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub rejected: Option<String>,
    #[serde(skip)]
    pub output: Option<PathBuf>,
    pub ssim: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub tool: &'static str,
    pub why: String,
}

/// Builds the Rust worker (release, the functions' profile) and installs the peers (pinned,
/// first use only). The Rust worker comes first: the report's ratios are against it.
pub fn prepare() -> Result<(Vec<Tool>, Vec<Skipped>)> {
    eprintln!("bench: building the imaging core's worker (release, as the functions are built)");
    let status = Command::new(cargo())
        .current_dir(root())
        .args(["build", "--release", "--locked", "--target", crate::build::TARGET, "-p", "bench-worker"])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the bench worker failed ({status})");
    }
    let worker = target_dir().join(crate::build::TARGET).join("release/bench-worker");
    let rust = Tool { name: "thumbstack", version: rust_versions()?, program: worker, prefix: vec![] };

    let status = Command::new("bash").arg(root().join("dev/scripts/install-bench.sh")).status()?;
    if !status.success() {
        bail!("dev/scripts/install-bench.sh failed ({status})");
    }
    // ES modules resolve `sharp` next to the script, so the worker runs from the install folder.
    let sharp_dir = target_dir().join("tools/sharp");
    let script = sharp_dir.join("sharp_worker.mjs");
    std::fs::copy(root().join("dev/bench/peers/sharp_worker.mjs"), &script)?;
    let versions = output(Command::new("node").current_dir(&sharp_dir).args([
        "-e",
        "const s=require('sharp');console.log(`sharp ${s.versions.sharp}, libvips ${s.versions.vips}, node ${process.versions.node}`)",
    ]))?;
    let sharp = Tool { name: "sharp", version: versions, program: "node".into(), prefix: vec![script] };

    let python = target_dir().join("tools/bench/bin/python");
    let version = output(
        Command::new(&python)
            .args(["-c", "import PIL,platform;print(f'Pillow {PIL.__version__}, Python {platform.python_version()}')"]),
    )?;
    let pillow = Tool { name: "pillow", version, program: python, prefix: vec![root().join("dev/bench/peers/pillow_worker.py")] };

    let mut tools = vec![rust, sharp, pillow];
    let mut skipped = Vec::new();
    match which("vipsthumbnail") {
        None => skipped.push(Skipped {
            tool: VIPSTHUMBNAIL,
            why: "not installed (Debian's libvips-tools; dev/scripts/install-bench.sh)".to_string(),
        }),
        Some(_) => {
            let version = output(Command::new("vipsthumbnail").arg("--vips-version"))?;
            tools.push(Tool {
                name: VIPSTHUMBNAIL,
                version: format!("{version}, a process per image (times include its start and file I/O)"),
                program: target_dir().join("tools/bench/bin/python"),
                prefix: vec![root().join("dev/bench/peers/vips_worker.py")],
            });
        }
    }
    Ok((tools, skipped))
}

/// The last core: the machine's other work (and this process) tends to land on core 0.
pub fn bench_core() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) - 1
}

impl Tool {
    pub fn measure(&self, op: Op, photo: &Photo, out: &Path, effort: &Effort, core: usize) -> Result<Sample> {
        let dir = out.join(self.name).join(op.name());
        std::fs::create_dir_all(&dir)?;
        let run = Command::new("taskset")
            .arg("-c")
            .arg(core.to_string())
            .arg(&self.program)
            .args(&self.prefix)
            .arg(op.name())
            .arg(&dir)
            .arg(effort.budget_ms.to_string())
            .arg(effort.min_runs.to_string())
            .arg(&photo.path)
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running {}", self.name))?;
        if !run.status.success() {
            bail!("{} on {} failed ({}): {}", self.name, photo.name, run.status, String::from_utf8_lossy(&run.stdout));
        }
        parse(self.name, op, photo, &String::from_utf8_lossy(&run.stdout))
    }
}

fn parse(tool: &'static str, op: Op, photo: &Photo, stdout: &str) -> Result<Sample> {
    let lines: Vec<serde_json::Value> =
        stdout.lines().filter(|l| l.starts_with('{')).map(serde_json::from_str).collect::<Result<_, _>>()?;
    let [result, rss] = lines.as_slice() else { bail!("{tool}: expected two JSON lines, got:\n{stdout}") };
    if rss.get("jpeg_simd").and_then(serde_json::Value::as_bool) == Some(false) {
        bail!(
            "{tool}: its libjpeg-turbo was built without SIMD (nasm was missing); run dev/scripts/install-build-deps.sh, then `cargo xtask package`, which rebuilds it"
        );
    }
    let u64_of = |v: &serde_json::Value, k: &str| v.get(k).and_then(serde_json::Value::as_u64);
    Ok(Sample {
        tool,
        op,
        photo: photo.name.clone(),
        group: photo.group,
        class: photo.class,
        megapixels: photo.megapixels,
        runs: u64_of(result, "runs").unwrap_or(0) as u32,
        median_ms: result.get("median_ms").and_then(serde_json::Value::as_f64).context("median_ms")?,
        peak_rss_kib: u64_of(rss, "peak_rss_kib").context("peak_rss_kib")?,
        out_bytes: u64_of(result, "out_bytes"),
        width: u64_of(result, "width").map(|v| v as u32),
        height: u64_of(result, "height").map(|v| v as u32),
        rejected: result.get("rejected").and_then(|v| v.as_str()).map(String::from),
        output: result.get("output").and_then(|v| v.as_str()).map(PathBuf::from),
        ssim: None,
    })
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(program)).find(|p| p.is_file()))
}

/// The codec crates' versions, from Cargo.lock (what the functions link).
fn rust_versions() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock"))?;
    let version = |name: &str| {
        lock.split("[[package]]")
            .find(|p| p.contains(&format!("name = \"{name}\"\n")))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
            .map_or("?".to_string(), |v| v.trim_matches('"').to_string())
    };
    let rustc = output(Command::new("rustc").arg("--version"))?;
    Ok(format!(
        "mozjpeg-sys {} (libjpeg-turbo), jpeg-decoder {}, fast_image_resize {}, jpeg-encoder {}, image {}, {}",
        version("mozjpeg-sys"),
        version("jpeg-decoder"),
        version("fast_image_resize"),
        version("jpeg-encoder"),
        version("image"),
        rustc.split(" (").next().unwrap_or(&rustc)
    ))
}
