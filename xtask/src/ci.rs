//! `cargo xtask ci`: the README's test command and what `.ci/run` calls. Installs the pinned
//! test tools, runs every test in the workspace (unit, corpus, emulator, fault accounting),
//! lints the rendered `dev` and `prod` templates, checks the zips are reproducible, then a short
//! fuzz run and a `bench --quick` smoke run.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::flags::{Exit, RenderArgs, StageArgs};
use crate::paths::cargo;

pub fn run() -> Result<Exit> {
    let root = crate::paths::root();
    step("install build tools (nasm)", Command::new("bash").arg(root.join("scripts/install-build-deps.sh")))?;
    step("install pinned test tools", Command::new("bash").arg(root.join("scripts/install-tools.sh")))?;
    let mut test = Command::new(cargo());
    test.current_dir(&root).args(["test", "--workspace", "--locked"]);
    let totals = tests("cargo test", &mut test)?;
    for stage in ["dev", "prod"] {
        check_template(stage)?;
    }
    check_package_is_reproducible()?;
    // libFuzzer on the decode path and the S3 event/key decoder: seconds here, longer by hand.
    step("fuzz (10 s per target)", Command::new("bash").arg(root.join("scripts/fuzz.sh")).arg("10"))?;
    bench_smoke()?;
    // One closing line for the whole run: the last of cargo's own lines is a doc-test binary's "0 passed".
    println!("ci: {} passed, {} failed", totals.passed, totals.failed);
    if totals.passed == 0 {
        bail!("no test ran");
    }
    Ok(Exit::Success)
}

#[derive(Default, Debug, PartialEq, Eq)]
struct Totals {
    passed: u64,
    failed: u64,
}

/// Runs a libtest-based command, passing its output through while adding up its result lines.
fn tests(name: &str, cmd: &mut Command) -> Result<Totals> {
    use std::io::{BufRead, BufReader};
    eprintln!("==> {name}");
    let started = std::time::Instant::now();
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().with_context(|| format!("starting {name}"))?;
    let mut totals = Totals::default();
    for line in BufReader::new(child.stdout.take().context("no stdout")?).lines() {
        let line = line?;
        println!("{line}");
        totals.add(&line);
    }
    let status = child.wait()?;
    eprintln!("==> {name}: {} in {:.0} s", if status.success() { "ok" } else { "FAILED" }, started.elapsed().as_secs_f64());
    if !status.success() {
        println!("ci: {} passed, {} failed", totals.passed, totals.failed.max(1));
        bail!("{name} failed ({status})");
    }
    Ok(totals)
}

impl Totals {
    /// `test result: ok. 8 passed; 0 failed; 0 ignored; ...`
    fn add(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else { return };
        let count = |word: &str| {
            rest.split(';').find_map(|part| {
                part.trim()
                    .trim_start_matches("ok. ")
                    .trim_start_matches("FAILED. ")
                    .strip_suffix(word)?
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
        };
        self.passed += count(" passed").unwrap_or(0);
        self.failed += count(" failed").unwrap_or(0);
    }
}

/// `render <stage> --check`: cfn-lint and checkov over what CloudFormation would get.
fn check_template(stage: &str) -> Result<()> {
    eprintln!("==> render {stage} --check");
    let args = RenderArgs { target: StageArgs { stage: stage.into(), infra: None }, out: None, check: true, json: false };
    crate::render::run(&args).with_context(|| format!("render {stage} --check"))?;
    Ok(())
}

/// Packages, rebuilds the function crates from scratch (their dependencies stay built), packages
/// again: unchanged code must give byte-identical zips, or every deploy would upload new code.
fn check_package_is_reproducible() -> Result<()> {
    eprintln!("==> package, rebuild, package again");
    let started = std::time::Instant::now();
    let first = crate::package::package()?;
    let first_bytes = first.functions.iter().map(|a| std::fs::read(&a.zip)).collect::<Result<Vec<_>, _>>()?;
    // Without this the second run would find the first zip under its name and compare it to itself.
    for a in &first.functions {
        std::fs::remove_file(&a.zip).with_context(|| format!("removing {}", a.zip.display()))?;
    }
    let mut clean = Command::new(cargo());
    clean.current_dir(crate::paths::root()).args(["clean", "--release", "--target", crate::package::TARGET]);
    for a in &first.functions {
        clean.args(["--package", &a.function]);
    }
    step("cargo clean the function crates", &mut clean)?;
    let second = crate::package::package()?;
    for ((a, bytes), b) in first.functions.iter().zip(&first_bytes).zip(&second.functions) {
        if a.sha256 != b.sha256 || *bytes != std::fs::read(&b.zip)? {
            bail!("{}: rebuilding unchanged code changed the zip ({} -> {})", a.function, a.sha256, b.sha256);
        }
        let glibc = b.max_glibc.as_deref().unwrap_or("none");
        println!("package: {} {} bytes, sha256 {} twice, GLIBC {glibc}", b.function, b.zip_bytes, b.sha256);
    }
    eprintln!("==> package twice: ok in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `bench --quick`: not a measurement (CI machines vary), but it keeps the bench from rotting:
/// every tool, the SSIM, the cold start and the deploy figures must still produce numbers.
fn bench_smoke() -> Result<()> {
    let out = crate::paths::target_dir().join("bench-smoke");
    let exe = std::env::current_exe().context("finding xtask's own binary")?;
    let mut bench = Command::new(exe);
    bench.args(["bench", "--quick", "--out"]).arg(&out).stdout(std::process::Stdio::null());
    step("bench --quick (smoke run)", &mut bench)?;
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json"))?)?;
    for key in ["thumbnail_vs_sharp", "thumbnail_vs_pillow", "avatar_vs_sharp"] {
        let ratio = report["ratios"][key].as_f64().unwrap_or(f64::NAN);
        if !(ratio.is_finite() && ratio > 0.0) {
            bail!("bench --quick: ratios.{key} is {ratio}");
        }
        println!("bench: {key} {ratio:.2} (smoke run, not a measurement)");
    }
    Ok(())
}

fn step(name: &str, cmd: &mut Command) -> Result<()> {
    eprintln!("==> {name}");
    let started = std::time::Instant::now();
    let status = cmd.status().with_context(|| format!("starting {name}"))?;
    eprintln!("==> {name}: {} in {:.0} s", if status.success() { "ok" } else { "FAILED" }, started.elapsed().as_secs_f64());
    if !status.success() {
        bail!("{name} failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn adds_up_result_lines() {
        let mut t = super::Totals::default();
        t.add("test result: ok. 8 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 2.59s");
        t.add("test result: FAILED. 1 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 3.42s");
        t.add("running 3 tests");
        assert_eq!(t, super::Totals { passed: 9, failed: 2 });
    }
}
