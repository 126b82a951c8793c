//! `cargo xtask` builds xtask alone, `cargo xtask local` builds `thumbstack-local` with xtask, and
//! `cargo test --workspace` builds every member. Cargo picks dependency features per build, so
//! unless each resolves every dependency with the same features, CI compiles the AWS SDK more
//! than once. The `unify-*` entries (workspace `Cargo.toml`, asked for by `functions/unify`)
//! keep them equal; this test says which to add when they drift.

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

fn drift(packages: &[&str]) -> Vec<String> {
    let mut args = vec!["--edges", "normal,build"];
    for p in packages {
        args.extend(["--package", p]);
    }
    let alone = features(&args);
    let workspace = features(&["--workspace"]);
    let drift: Vec<String> = alone
        .iter()
        .filter_map(|(id, f)| {
            let all = workspace.get(id)?;
            (all != f).then(|| format!("{id}: {packages:?} alone [{f}], workspace [{all}]"))
        })
        .collect();
    drift
}

#[test]
fn each_separately_built_package_and_the_workspace_share_one_build() {
    for packages in [&["xtask"][..], &["xtask", "thumbstack-local"]] {
        let drift = drift(packages);
        assert!(drift.is_empty(), "add the missing features to the unify-* entries in Cargo.toml:\n{}", drift.join("\n"));
    }
}
