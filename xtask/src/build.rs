//! Release builds of every function crate for Lambda x86_64 or arm64 (cross
//! built on the other with Debian's linker, or by cargo-zigbuild), each zipped with only
//! `bootstrap` (0755, fixed timestamp) into `target/lambda/<architecture>/<function>/<sha256>.zip`.
//! Unchanged code gives byte-identical zips, so deploy uploads nothing new. Every binary is
//! checked before it is zipped: its ELF (architecture, GLIBC) and what it says of its own build
//! (`bootstrap --build-info`: libjpeg-turbo's SIMD).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use shared::build_info::BuildInfo;

use crate::elf::{self, LAMBDA_GLIBC};
use crate::paths::cargo;
use crate::stage::Architecture;

/// The target of the bench's own release builds (its worker, the cold-start proxy), made on this
/// machine and run here.
pub const TARGET: &str = Architecture::X86_64.rust_target();

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Artifact {
    pub function: String,
    pub zip: PathBuf,
    pub sha256: String,
    pub zip_bytes: u64,
    pub bootstrap_bytes: u64,
    pub architecture: String,
    /// Highest GLIBC symbol version the binary needs; `null` when it needs none.
    pub max_glibc: Option<String>,
}

/// What `package` built, also kept as `target/lambda/<architecture>/manifest.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Report {
    pub architecture: Architecture,
    pub target: String,
    pub builder: String,
    pub build_seconds: f64,
    /// The commit the zips were built from, and whether tracked files differed from it.
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub dirty: bool,
    pub functions: Vec<Artifact>,
}

pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// A binary Lambda could not run; its own exit code, since no retry will help.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Incompatible(String);

pub fn package(arch: Architecture) -> Result<Report> {
    let root = crate::paths::root();
    let functions = function_crates(&root)?;
    install_build_deps(arch)?;
    let started = Instant::now();
    let mut builder = build(&root, &functions, arch)?;
    // mozjpeg-sys looks for nasm once and its build script never reruns for it, so a build made
    // before nasm was installed stays without SIMD until that one crate is rebuilt.
    if arch == Architecture::X86_64
        && !functions.iter().all(|f| probe(&binary(arch, f), arch).is_ok_and(|i| i.jpeg_simd != Some(false)))
        && nasm_runs()
    {
        eprintln!("package: libjpeg-turbo was built before nasm was installed; rebuilding mozjpeg-sys with SIMD");
        clean_mozjpeg_sys(&root, arch)?;
        builder = build(&root, &functions, arch)?;
    }
    let build_seconds = started.elapsed().as_secs_f64();
    let out = crate::paths::target_dir().join("lambda").join(arch.name());
    let mut artifacts = Vec::new();
    for function in &functions {
        let binary = binary(arch, function);
        let bootstrap = std::fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
        let info = elf::inspect(&bootstrap).with_context(|| format!("inspecting {}", binary.display()))?;
        check(function, &info, arch)?;
        check_build(function, &probe(&binary, arch)?)?;
        let dir = out.join(function);
        let bootstrap_sha256 = hex::encode(Sha256::digest(&bootstrap));
        let (path, sha256) = match zipped(&dir, &bootstrap_sha256) {
            Some(done) => done,
            None => {
                let zip = zip_bootstrap(&bootstrap)?;
                let sha256 = hex::encode(Sha256::digest(&zip));
                let path = store(&dir, &sha256, &zip)?;
                std::fs::write(dir.join(ZIPPED_FROM), format!("{bootstrap_sha256} {sha256}\n"))?;
                (path, sha256)
            }
        };
        artifacts.push(Artifact {
            function: function.clone(),
            zip_bytes: std::fs::metadata(&path)?.len(),
            zip: path,
            sha256,
            bootstrap_bytes: bootstrap.len() as u64,
            architecture: info.architecture.to_string(),
            max_glibc: info.max_glibc.map(|v| v.to_string()),
        });
    }
    let (commit, dirty) = source();
    let report = Report {
        architecture: arch,
        target: arch.rust_target().into(),
        builder: builder.into(),
        build_seconds,
        commit,
        dirty,
        functions: artifacts,
    };
    std::fs::write(manifest(arch), serde_json::to_string_pretty(&report)? + "\n").context("writing the manifest")?;
    Ok(report)
}

/// The commit being built or deployed and whether the tree differs from it: git's answer in a checkout,
/// else what the CI system says (CodeBuild, GitHub Actions, Jenkins), else none.
pub fn source() -> (Option<String>, bool) {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(crate::paths::root())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    if let Some(commit) = git(&["rev-parse", "HEAD"]) {
        let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        return (Some(commit), dirty);
    }
    let ci = ["CODEBUILD_RESOLVED_SOURCE_VERSION", "GITHUB_SHA", "GIT_COMMIT"];
    (ci.iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty())), false)
}

fn manifest(arch: Architecture) -> PathBuf {
    crate::paths::target_dir().join("lambda").join(arch.name()).join("manifest.json")
}

/// What the last `package` for `arch` built, for `deploy --no-build` (CI builds before it holds
/// any credential): refused unless it was built from this very commit with no edits, has every
/// function crate, and each zip is still what was built.
pub fn packaged(arch: Architecture) -> Result<Report> {
    let path = manifest(arch);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("no {}: run `cargo xtask package` first (--no-build deploys what it built)", path.display()))?;
    let report: Report = serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    still_current(&report, &path, source(), &function_crates(&crate::paths::root())?)?;
    Ok(report)
}

/// Whether `report` (read from `path`) is what a build of this tree, `(commit, dirty)` with these
/// `functions`, would deploy now.
fn still_current(report: &Report, path: &Path, (commit, dirty): (Option<String>, bool), functions: &[String]) -> Result<()> {
    if report.commit.is_none() || report.commit != commit || report.dirty || dirty {
        let said = |c: &Option<String>, d: bool| {
            format!("{}{}", c.as_deref().unwrap_or("no commit"), if d { " with edits" } else { "" })
        };
        bail!(
            "the zips in {} were built from {}, and this is {}: run `cargo xtask package` again",
            path.display(),
            said(&report.commit, report.dirty),
            said(&commit, dirty)
        );
    }
    let built: Vec<&str> = report.functions.iter().map(|a| a.function.as_str()).collect();
    if functions.iter().any(|f| !built.contains(&f.as_str())) {
        bail!(
            "{} has {} but the functions are {}: run `cargo xtask package` again",
            path.display(),
            built.join(", "),
            functions.join(", ")
        );
    }
    for a in &report.functions {
        let zip = std::fs::read(&a.zip).with_context(|| format!("reading {}", a.zip.display()))?;
        if hex::encode(Sha256::digest(&zip)) != a.sha256 {
            bail!("{} is not the zip `package` built (its sha256 differs): run `cargo xtask package` again", a.zip.display());
        }
    }
    Ok(())
}

/// Where the release build leaves `function`'s binary for `arch`: what its zip holds.
pub fn binary(arch: Architecture, function: &str) -> PathBuf {
    crate::paths::target_dir().join(arch.rust_target()).join("release").join(function)
}

fn check(function: &str, info: &elf::Binary, arch: Architecture) -> Result<()> {
    if info.architecture != arch.name() {
        return Err(Incompatible(format!(
            "{function}: built for {}, but the stage runs it on {}",
            info.architecture,
            arch.name()
        ))
        .into());
    }
    match info.max_glibc {
        Some(v) if v > LAMBDA_GLIBC => Err(Incompatible(format!(
            "{function}: needs GLIBC {v}, but Lambda's provided.al2023 has {LAMBDA_GLIBC}; install cargo-zigbuild \
             (package then links against {LAMBDA_GLIBC}) or build on a machine with glibc {LAMBDA_GLIBC}"
        ))
        .into()),
        _ => Ok(()),
    }
}

/// What the binary says of its own build: only the linked code knows whether libjpeg-turbo has
/// its SIMD, and without it JPEG decoding is several times slower.
fn check_build(function: &str, info: &BuildInfo) -> Result<()> {
    if info.jpeg_simd == Some(false) {
        return Err(Incompatible(format!(
            "{function}: its libjpeg-turbo was built without SIMD (nasm was missing when mozjpeg-sys compiled), so \
             JPEG decoding would be several times slower; install nasm (`bash dev/scripts/install-build-deps.sh`) and \
             package again"
        ))
        .into());
    }
    Ok(())
}

/// Runs `binary --build-info` and reads its one JSON line; another architecture's binary runs
/// under qemu-user.
fn probe(binary: &Path, arch: Architecture) -> Result<BuildInfo> {
    let out = launcher(binary, arch)
        .arg(shared::build_info::FLAG)
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} {}", binary.display(), shared::build_info::FLAG))?;
    if !out.status.success() {
        bail!(
            "{} {} failed ({}): {}",
            binary.display(),
            shared::build_info::FLAG,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!("{} {} printed {:?}", binary.display(), shared::build_info::FLAG, String::from_utf8_lossy(&out.stdout))
    })
}

/// A command that runs `binary`, built for `arch`, on this machine: itself, or under qemu-user
/// (Debian's `qemu-user`, with the cross sysroot's loader and libraries) on another architecture.
pub fn launcher(binary: &Path, arch: Architecture) -> Command {
    if Architecture::host() == Some(arch) {
        return Command::new(binary);
    }
    let cross = cross(arch);
    let mut cmd = Command::new(cross.qemu);
    cmd.args(["-L", cross.sysroot]).arg(binary);
    cmd
}

/// What building for and running `arch` on another machine takes (Debian's packages).
struct Cross {
    linker: &'static str,
    qemu: &'static str,
    sysroot: &'static str,
}

fn cross(arch: Architecture) -> Cross {
    match arch {
        Architecture::Arm64 => Cross { linker: "aarch64-linux-gnu-gcc", qemu: "qemu-aarch64", sysroot: "/usr/aarch64-linux-gnu" },
        Architecture::X86_64 => Cross { linker: "x86_64-linux-gnu-gcc", qemu: "qemu-x86_64", sysroot: "/usr/x86_64-linux-gnu" },
    }
}

/// nasm (libjpeg-turbo's x86 SIMD is assembled with it), and for another architecture its Rust
/// target, cross linker and qemu-user, from the machine's package manager.
pub fn install_build_deps(arch: Architecture) -> Result<()> {
    let mut cmd = Command::new("bash");
    cmd.arg(crate::paths::root().join("dev/scripts/install-build-deps.sh"));
    if Architecture::host() != Some(arch) {
        cmd.arg(arch.name());
    }
    let status = cmd.stdout(std::io::stderr()).status().context("running dev/scripts/install-build-deps.sh")?;
    if !status.success() {
        bail!("dev/scripts/install-build-deps.sh failed ({status}): the functions need nasm for libjpeg-turbo's SIMD");
    }
    Ok(())
}

fn nasm_runs() -> bool {
    Command::new("nasm").arg("-v").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

fn clean_mozjpeg_sys(root: &Path, arch: Architecture) -> Result<()> {
    let status = Command::new(cargo())
        .current_dir(root)
        .args(["clean", "--release", "--target", arch.rust_target(), "--package", "mozjpeg-sys"])
        .status()
        .context("running cargo clean")?;
    if !status.success() {
        bail!("cargo clean --package mozjpeg-sys failed ({status})");
    }
    Ok(())
}

/// The Lambda functions: the workspace members directly under `functions/` (the libraries they
/// are built from sit in `functions/lib/`). Each must have a binary target of its own name.
fn function_crates(root: &Path) -> Result<Vec<String>> {
    let out = Command::new(cargo())
        .current_dir(root)
        .args(["metadata", "--no-deps", "--format-version", "1", "--locked"])
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).context("reading cargo metadata")?;
    let functions_dir = root.join("functions");
    let mut names: Vec<String> = metadata["packages"]
        .as_array()
        .context("cargo metadata lists no packages")?
        .iter()
        .filter(|p| {
            p["manifest_path"].as_str().is_some_and(|m| Path::new(m).parent().and_then(Path::parent) == Some(&*functions_dir))
        })
        .map(|p| {
            let name = p["name"].as_str().context("a package without a name")?;
            let bin = p["targets"].as_array().is_some_and(|ts| {
                ts.iter().any(|t| {
                    t["name"].as_str() == Some(name) && t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin"))
                })
            });
            if !bin {
                bail!(
                    "functions/{name} has no binary target named {name}: only deployed functions live directly under functions/"
                );
            }
            Ok(name.to_string())
        })
        .collect::<Result<_>>()?;
    names.sort();
    if names.is_empty() {
        bail!("no function crates (binaries under functions/) found");
    }
    Ok(names)
}

/// `cargo zigbuild` when installed (links against glibc 2.34 on any host), else `cargo build`,
/// with Debian's cross linker for another architecture (cc-rs finds the matching C compiler).
fn build(root: &Path, functions: &[String], arch: Architecture) -> Result<&'static str> {
    let zig = Command::new(cargo()).args(["zigbuild", "--version"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    let rust_target = arch.rust_target();
    let (builder, subcommand, target) = if zig.is_ok_and(|s| s.success()) {
        ("cargo-zigbuild", "zigbuild", format!("{rust_target}.{LAMBDA_GLIBC}"))
    } else {
        ("cargo", "build", rust_target.to_string())
    };
    eprintln!("package: building {} with {builder} (release, {target})", functions.join(", "));
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root).args([subcommand, "--release", "--locked", "--target", &target]);
    if builder == "cargo" && Architecture::host() != Some(arch) {
        let variable = format!("CARGO_TARGET_{}_LINKER", rust_target.to_ascii_uppercase().replace('-', "_"));
        cmd.env(variable, cross(arch).linker);
    }
    for f in functions {
        cmd.args(["--package", f]);
    }
    // Cargo's own output goes to stderr, keeping stdout for the JSON report.
    let status = cmd.stdout(std::io::stderr()).status().context("running cargo")?;
    if !status.success() {
        bail!("the release build failed ({status})");
    }
    Ok(builder)
}

/// `<bootstrap sha256> <zip sha256>` of the last zip written beside it.
const ZIPPED_FROM: &str = "zipped-from";

/// The zip already made from this exact binary, if it is still there: deflating 10 MB at
/// level 9 is most of a no-change package's time.
fn zipped(dir: &Path, bootstrap_sha256: &str) -> Option<(PathBuf, String)> {
    let record = std::fs::read_to_string(dir.join(ZIPPED_FROM)).ok()?;
    let (from, zip_sha256) = record.trim().split_once(' ')?;
    let path = dir.join(format!("{zip_sha256}.zip"));
    (from == bootstrap_sha256 && path.is_file()).then(|| (path, zip_sha256.to_string()))
}

/// One entry, `bootstrap`, mode 0755, dated 1980-01-01: the bytes depend on the binary alone.
pub fn zip_bootstrap(bootstrap: &[u8]) -> Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(9))
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer.start_file("bootstrap", options)?;
    writer.write_all(bootstrap)?;
    Ok(writer.finish()?.into_inner())
}

/// Writes `<dir>/<sha256>.zip` unless it is already there, and removes older zips beside it.
fn store(dir: &Path, sha256: &str, zip: &[u8]) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{sha256}.zip"));
    if !path.exists() {
        let partial = dir.join(format!(".{sha256}.partial"));
        std::fs::write(&partial, zip).with_context(|| format!("writing {}", partial.display()))?;
        std::fs::rename(&partial, &path)?;
    }
    for entry in std::fs::read_dir(dir)? {
        let old = entry?.path();
        if old != path && old.extension().is_some_and(|e| e == "zip") {
            std::fs::remove_file(&old).with_context(|| format!("removing {}", old.display()))?;
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `deploy --no-build` takes only zips built from this very commit, unedited, for every
    /// function, and still the bytes that were built.
    #[test]
    fn no_build_deploys_only_what_package_built_from_this_commit() {
        let dir = std::env::temp_dir().join(format!("thumbstack-packaged-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let zip = dir.join("api.zip");
        std::fs::write(&zip, b"zip bytes").unwrap();
        let artifact = Artifact {
            function: "api".into(),
            zip: zip.clone(),
            sha256: hex::encode(Sha256::digest(b"zip bytes")),
            zip_bytes: 9,
            bootstrap_bytes: 9,
            architecture: "x86_64".into(),
            max_glibc: None,
        };
        let report = |commit: &str, dirty: bool| Report {
            architecture: Architecture::X86_64,
            target: TARGET.into(),
            builder: "cargo".into(),
            build_seconds: 1.0,
            commit: Some(commit.into()),
            dirty,
            functions: vec![artifact.clone()],
        };
        let now = |commit: &str, dirty: bool| (Some(commit.to_string()), dirty);
        let api = ["api".to_string()];
        let path = dir.join("manifest.json");
        still_current(&report("abc", false), &path, now("abc", false), &api).unwrap();
        let e = still_current(&report("abc", false), &path, now("def", false), &api).unwrap_err().to_string();
        assert!(e.contains("built from abc, and this is def"), "{e}");
        let e = still_current(&report("abc", true), &path, now("abc", false), &api).unwrap_err().to_string();
        assert!(e.contains("built from abc with edits"), "{e}");
        let e = still_current(&report("abc", false), &path, now("abc", true), &api).unwrap_err().to_string();
        assert!(e.contains("this is abc with edits"), "{e}");
        let e = still_current(&report("abc", false), &path, now("abc", false), &["api".into(), "hook".into()]).unwrap_err();
        assert!(e.to_string().contains("the functions are api, hook"), "{e}");
        std::fs::write(&zip, b"other bytes").unwrap();
        let e = still_current(&report("abc", false), &path, now("abc", false), &api).unwrap_err().to_string();
        assert!(e.contains("its sha256 differs"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn zips_are_deterministic_with_one_executable_entry() {
        let binary: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let a = zip_bootstrap(&binary).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let b = zip_bootstrap(&binary).unwrap();
        assert_eq!(a, b, "same input, different bytes");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&a)).unwrap();
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
        assert_eq!(entry.last_modified(), Some(zip::DateTime::default()));
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut back).unwrap();
        assert_eq!(back, binary);
        assert_ne!(zip_bootstrap(b"other").unwrap(), a);
    }

    #[test]
    fn newer_glibc_and_other_architectures_are_refused() {
        let x86 = Architecture::X86_64;
        let ok = elf::Binary { architecture: "x86_64", max_glibc: Some(LAMBDA_GLIBC) };
        assert!(check("f", &ok, x86).is_ok());
        assert!(check("f", &elf::Binary { max_glibc: None, ..ok.clone() }, x86).is_ok());
        let e = check("f", &elf::Binary { max_glibc: Some(elf::GlibcVersion(2, 39, 0)), ..ok.clone() }, x86).unwrap_err();
        assert!(e.is::<Incompatible>() && e.to_string().contains("needs GLIBC 2.39"), "{e}");
        let arm = elf::Binary { architecture: "arm64", ..ok.clone() };
        assert!(check("f", &arm, x86).unwrap_err().is::<Incompatible>());
        assert!(check("f", &arm, Architecture::Arm64).is_ok());
        let e = check("f", &ok, Architecture::Arm64).unwrap_err();
        assert!(e.is::<Incompatible>() && e.to_string().contains("the stage runs it on arm64"), "{e}");
    }

    #[test]
    fn a_jpeg_decoder_without_simd_is_refused() {
        let info = |jpeg_simd| BuildInfo { arch: "x86_64".into(), jpeg_simd };
        assert!(check_build("f", &info(Some(true))).is_ok());
        assert!(check_build("api", &info(None)).is_ok(), "no JPEG decoder, nothing to check");
        let e = check_build("thumbnail", &info(Some(false))).unwrap_err();
        assert!(e.is::<Incompatible>() && e.to_string().contains("install nasm"), "{e}");
    }

    #[test]
    fn finds_the_function_crates() {
        let names = function_crates(&crate::paths::root()).unwrap();
        assert!(names.contains(&"thumbnail".to_string()), "{names:?}");
        assert!(!names.iter().any(|n| n == "imaging" || n == "shared" || n == "testkit"), "{names:?}");
    }

    #[test]
    fn store_keeps_only_the_current_zip() {
        let dir = crate::paths::target_dir().join("tmp/package-store");
        let _ = std::fs::remove_dir_all(&dir);
        let first = store(&dir, "aa", b"one").unwrap();
        let second = store(&dir, "bb", b"two").unwrap();
        assert!(!first.exists() && second.exists());
        assert_eq!(std::fs::read(store(&dir, "bb", b"two").unwrap()).unwrap(), b"two");
    }
}
