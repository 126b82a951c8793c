//! `cargo xtask ci`: the README's test command and what `.ci/run` calls. Installs the pinned
//! test tools, checks formatting, runs every test in the workspace (unit, corpus, emulator, fault
//! accounting), holds the workspace to clippy with warnings denied,
//! lints the rendered `dev` and `prod` templates, checks the zips are reproducible, then a short
//! fuzz run and a `bench --quick` smoke run.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::exit::Exit;
use crate::flags::{RenderArgs, StageArgs};
use crate::paths::cargo;
use crate::stage::Architecture;

pub fn run() -> Result<Exit> {
    let root = crate::paths::root();
    step("install build tools (nasm)", Command::new("bash").arg(root.join("dev/scripts/install-build-deps.sh")))?;
    // First run only, and mostly downloads: done while cargo compiles. Each installer takes a lock,
    // so a test that needs a tool before it is ready waits for it instead of installing it twice.
    let installs = Background::start(&[
        ("pinned test tools", vec!["dev/scripts/install-tools.sh"]),
        ("the bench's peers", vec!["dev/scripts/install-bench.sh"]),
        ("the browser test's tools", vec!["dev/scripts/install-browser.sh"]),
        ("cargo-fuzz", vec!["dev/scripts/fuzz.sh", "--install"]),
    ])?;
    // Seconds, and the cheapest way to fail: before anything compiles.
    step("cargo fmt --check", Command::new(cargo()).current_dir(&root).args(["fmt", "--all", "--check"]))?;
    let mut test = Command::new(cargo());
    test.current_dir(&root).args(["test", "--workspace", "--locked"]);
    let totals = tests("cargo test", &mut test)?;
    // Every target of every member, as the tests built them; any warning fails the run.
    let clippy = ["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"];
    step("cargo clippy", Command::new(cargo()).current_dir(&root).args(clippy))?;
    installs.wait()?;
    for stage in ["dev", "prod"] {
        check_template(stage)?;
    }
    check_package_is_reproducible()?;
    check_arm64()?;
    // libFuzzer on the decode path and the S3 event/key decoder: seconds here, longer by hand.
    step("fuzz (10 s per target)", Command::new("bash").arg(root.join("dev/scripts/fuzz.sh")).arg("10"))?;
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
    crate::verbs::render::run(&args).with_context(|| format!("render {stage} --check"))?;
    Ok(())
}

/// The function whose crate the check rebuilds. One, not three: each rebuild is a fat-LTO link of
/// the whole binary (about 150 s on 2 cores), and this one links every library of ours but the
/// api's handler.
const REBUILT: &str = "thumbnail";

/// Packages, rebuilds a function crate from scratch (its dependencies stay built), packages again:
/// unchanged code must give byte-identical zips, or every deploy would upload new code. On a warm
/// cache the first zip was usually built by an earlier run, in another clone's folder, so this
/// also shows that the folder does not leak into the binary.
fn check_package_is_reproducible() -> Result<()> {
    eprintln!("==> package, rebuild {REBUILT}, package again");
    let started = std::time::Instant::now();
    let first = crate::build::package(Architecture::X86_64)?;
    let first_bytes = first.functions.iter().map(|a| std::fs::read(&a.zip)).collect::<Result<Vec<_>, _>>()?;
    // Without this the second run would find the first zip under its name and compare it to itself.
    for a in &first.functions {
        std::fs::remove_file(&a.zip).with_context(|| format!("removing {}", a.zip.display()))?;
    }
    let mut clean = Command::new(cargo());
    clean.current_dir(crate::paths::root()).args(["clean", "--release", "--target", crate::build::TARGET, "--package", REBUILT]);
    step(&format!("cargo clean -p {REBUILT}"), &mut clean)?;
    let second = crate::build::package(Architecture::X86_64)?;
    for ((a, bytes), b) in first.functions.iter().zip(&first_bytes).zip(&second.functions) {
        if a.sha256 != b.sha256 || *bytes != std::fs::read(&b.zip)? {
            bail!("{}: rebuilding unchanged code changed the zip ({} -> {})", a.function, a.sha256, b.sha256);
        }
        let glibc = b.max_glibc.as_deref().unwrap_or("none");
        let how = if a.function == REBUILT { "rebuilt, same sha256" } else { "zipped twice, same sha256" };
        println!("package: {} {} bytes, sha256 {}, {how}, GLIBC {glibc}", b.function, b.zip_bytes, b.sha256);
    }
    if !first.functions.iter().any(|a| a.function == REBUILT) {
        bail!("package built no {REBUILT}: the reproducibility check would rebuild nothing");
    }
    eprintln!("==> package twice: ok in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A stage may run its functions on arm64, so every run cross-builds them (Debian's linker),
/// holds them to what `package` holds x86_64 to (ELF machine, GLIBC, libjpeg-turbo's SIMD asked
/// of the binary itself under qemu-user), and starts the thumbnail `bootstrap` under qemu-user
/// against the bench's stub of the Lambda runtime API, to its first `next`. Its speed is not
/// measured: qemu emulates, and no arm64 machine is at hand.
fn check_arm64() -> Result<()> {
    eprintln!("==> package arm64, start its thumbnail bootstrap under qemu-user");
    let started = std::time::Instant::now();
    let report = crate::build::package(Architecture::Arm64)?;
    for a in &report.functions {
        let glibc = a.max_glibc.as_deref().unwrap_or("none");
        println!("package: {} ({}) {} bytes, GLIBC {glibc}", a.function, a.architecture, a.zip_bytes);
    }
    let bootstrap = crate::build::binary(Architecture::Arm64, REBUILT);
    let (ms, _) = crate::verbs::bench::coldstart::start_once(crate::build::launcher(&bootstrap, Architecture::Arm64))?;
    println!("arm64: {REBUILT} asked the runtime API for its first event after {ms:.0} ms under qemu-user");
    eprintln!("==> arm64: ok in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Installers running beside the build; `wait` reports how long each took and fails if any did.
struct Background(Vec<(&'static str, std::thread::JoinHandle<std::io::Result<Finished>>)>);

/// How an installer ended, and after how many seconds.
type Finished = (std::process::ExitStatus, f64);

impl Background {
    fn start(jobs: &[(&'static str, Vec<&str>)]) -> Result<Background> {
        let root = crate::paths::root();
        let mut running = Vec::new();
        for (name, script) in jobs {
            eprintln!("==> {name} (in the background)");
            let started = std::time::Instant::now();
            let mut child = Command::new("bash")
                .current_dir(&root)
                .args(script)
                .stdout(std::process::Stdio::null())
                .spawn()
                .with_context(|| format!("starting {}", script.join(" ")))?;
            running.push((*name, std::thread::spawn(move || Ok((child.wait()?, started.elapsed().as_secs_f64())))));
        }
        Ok(Background(running))
    }

    fn wait(self) -> Result<()> {
        let mut failed = Vec::new();
        for (name, thread) in self.0 {
            let (status, secs) = thread.join().map_err(|_| anyhow::anyhow!("waiting for {name}"))??;
            eprintln!("==> {name}: {} in {secs:.0} s", if status.success() { "ok" } else { "FAILED" });
            if !status.success() {
                failed.push(name);
            }
        }
        if !failed.is_empty() {
            bail!("installing {} failed", failed.join(", "));
        }
        Ok(())
    }
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
    for class in ["baseline", "progressive"] {
        let ratio = report["ratios"]["by_class"][class]["sharp"].as_f64().unwrap_or(f64::NAN);
        if !(ratio.is_finite() && ratio > 0.0) {
            bail!("bench --quick: ratios.by_class.{class}.sharp is {ratio}");
        }
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
