//! `thumbstack-local` (crate `dev/local/runtime`): the process that links the handlers, the codecs
//! and the api's router, so xtask does not. Built on demand, in the same target folder and
//! profile as xtask, so an unchanged runtime costs cargo a look at its fingerprints.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};

/// The local runtime and the bench's own binary: each links what xtask must not.
pub const RUNTIME: &str = "thumbstack-local";
pub const BENCH: &str = "thumbstack-bench";

/// Builds the runtime (first run: the handlers and codecs; later: nothing) and returns its path.
pub fn build() -> Result<PathBuf> {
    build_package(RUNTIME)
}

/// Builds one of the developer binaries that link the handlers ([`RUNTIME`], [`BENCH`]).
pub fn build_package(package: &str) -> Result<PathBuf> {
    // It links the same libjpeg-turbo as the functions, whose build never looks for nasm again.
    crate::build::install_build_deps(crate::stage::Architecture::host().unwrap_or_default())?;
    let status = Command::new(crate::paths::cargo())
        .current_dir(crate::paths::root())
        // With xtask, so both resolve features as the workspace does (`xtask/tests/features.rs`)
        // and reuse its build of the SDK; xtask itself is fresh, so only the runtime is built.
        .args(["build", "--quiet", "--package", package, "--package", "xtask", "--bins"])
        .status()?;
    if !status.success() {
        bail!("building {package} failed ({status})");
    }
    Ok(crate::paths::target_dir().join("debug").join(package))
}

/// `cargo xtask thumbnail ARGS`: the runtime's `thumbnail` verb, exit code passed through.
pub fn thumbnail(args: &[std::ffi::OsString]) -> Result<std::process::ExitCode> {
    let status = Command::new(build()?).arg("thumbnail").args(args).status()?;
    Ok(std::process::ExitCode::from(status.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1)))
}
