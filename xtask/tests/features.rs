//! `cargo xtask` builds xtask alone; `cargo test --workspace` builds every member. Cargo picks
//! dependency features per build, so unless both resolve every dependency with the same
//! features, CI compiles the AWS SDK twice. The `unify-*` entries in the workspace
//! `Cargo.toml` keep them equal; this test says which to add when they drift.

use std::collections::BTreeMap;
use std::process::Command;

/// `name version` → features, for every registry package in the tree.
fn features(args: &[&str]) -> BTreeMap<String, String> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(testkit::repo_root())
        .args(["tree", "--locked", "--prefix", "none", "--format", "{p} {f}"])
        .args(args)
        .output()
        .expect("running cargo tree");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains("(/"))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let id = format!("{} {}", parts.next()?, parts.next()?);
            let features = parts.next().filter(|f| !f.starts_with('(')).unwrap_or_default();
            Some((id, features.to_string()))
        })
        .collect()
}

#[test]
fn xtask_alone_and_the_workspace_share_one_build() {
    let alone = features(&["--package", "xtask", "--edges", "normal,build"]);
    let workspace = features(&["--workspace"]);
    let drift: Vec<String> = alone
        .iter()
        .filter_map(|(id, f)| {
            let all = workspace.get(id)?;
            (all != f).then(|| format!("{id}: xtask alone [{f}], workspace [{all}]"))
        })
        .collect();
    assert!(drift.is_empty(), "add the missing features to the unify-* entries in Cargo.toml:\n{}", drift.join("\n"));
}
