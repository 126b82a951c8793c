//! `cargo xtask ci`: the README's test command and what `.ci/run` calls. Installs the pinned
//! test tools, then runs every test in the workspace (unit, corpus, emulator).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::flags::Exit;

pub fn run() -> Result<Exit> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().context("xtask has no parent folder")?;
    step("install pinned test tools", Command::new("bash").arg(root.join("scripts/install-tools.sh")))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    step("cargo test", Command::new(&cargo).current_dir(root).args(["test", "--workspace", "--locked"]))?;
    Ok(Exit::Success)
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
