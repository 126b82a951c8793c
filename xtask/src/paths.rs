//! Where things are: the repository, the cargo target folder, the pinned tools.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Result, bail};

pub use local_spec::repo_root as root;

/// `infra/`: the template and the stage files.
pub fn infra() -> PathBuf {
    root().join("infra")
}

/// `CARGO_TARGET_DIR` when set (CI keeps it outside the clone), else `<repo>/target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

/// The repository's image corpus (`tests/corpus`).
pub fn corpus() -> PathBuf {
    root().join("tests/corpus")
}

/// The cargo that runs us (`CARGO`), so nested builds use the same toolchain.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Installs a pinned tool set (`dev/scripts/requirements/<set>.txt`) on first use and returns its
/// `bin` folder.
pub fn tools(set: &str) -> Result<PathBuf> {
    let status = Command::new("bash").arg(root().join("dev/scripts/install-tools.sh")).arg(set).status()?;
    if !status.success() {
        bail!("dev/scripts/install-tools.sh {set} failed ({status})");
    }
    Ok(target_dir().join("tools").join(set).join("bin"))
}
