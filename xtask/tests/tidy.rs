//! Repository hygiene: the corpus lives in the repository and matches its MANIFESTs byte for
//! byte, and no tracked file reaches outside the clone for it (a CI service or a laptop has no
//! sibling folder).

use std::path::Path;
use std::process::Command;

use sha2::{Digest, Sha256};

fn tracked_files(root: &Path) -> Vec<String> {
    let out = Command::new("git").current_dir(root).args(["ls-files", "-z"]).output().expect("running git ls-files");
    assert!(out.status.success(), "git ls-files failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 paths").split('\0').filter(|p| !p.is_empty()).map(String::from).collect()
}

/// The tracked files that `pick` selects and whose text contains `needle`.
fn containing(root: &Path, pick: impl Fn(&str) -> bool, needle: &str) -> Vec<String> {
    tracked_files(root)
        .into_iter()
        .filter(|path| pick(path))
        .filter(|path| std::fs::read(root.join(path)).is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(needle)))
        .collect()
}

#[test]
fn no_tracked_file_refers_to_the_folder_beside_the_clone() {
    let root = testkit::repo_root();
    // Spelled in two halves so this file does not find itself.
    let outside = format!("{}/{}", "..", "shared");
    let offenders = containing(&root, |path| path != "Cargo.lock", &outside);
    assert!(offenders.is_empty(), "these tracked files refer to {outside}: {offenders:?}");
}

/// `.ci/run` reuses built crates across clones in other folders (see `scripts/ci-mtimes.py`), and
/// cargo does not rebuild a crate when only its folder moved: a path baked in at compile time
/// would name an old clone. So the code finds the repository at run time (`local_spec::repo_root`).
#[test]
fn no_code_bakes_in_the_folder_it_was_compiled_in() {
    let root = testkit::repo_root();
    let baked = format!("{}!(\"CARGO_MANIFEST_DIR\")", "env");
    let offenders = containing(&root, |path| path.ends_with(".rs"), &baked);
    assert!(offenders.is_empty(), "these files use {baked}; read CARGO_MANIFEST_DIR at run time instead: {offenders:?}");
}

/// The workspace denies unsafe code. The exceptions are the two C codecs' FFI: libjpeg's error
/// manager (how a decode gets a deadline) and SIMD query, and libwebp's scaled decode (into a
/// buffer Rust owns). Any other `allow` must be argued for here first.
#[test]
fn unsafe_code_is_allowed_in_one_place_only() {
    let root = testkit::repo_root();
    let allow = format!("allow({})", "unsafe_code");
    let allowed = containing(&root, |path| path.ends_with(".rs"), &allow);
    assert_eq!(allowed, ["functions/imaging/src/jpeg.rs", "functions/imaging/src/webp.rs"], "files that allow unsafe code");
}

#[test]
fn the_corpus_matches_its_manifests() {
    let corpus = testkit::corpus();
    let mut rows = 0;
    for folder in ["photos", "variants", "hostile"] {
        let manifest = std::fs::read_to_string(corpus.join(folder).join("MANIFEST.tsv")).expect("a MANIFEST per folder");
        let mut lines = manifest.lines();
        let header: Vec<&str> = lines.next().expect("a header row").split('\t').collect();
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("{folder}: no {name} column"));
        let (file, bytes, sha) = (col("file"), col("bytes"), col("sha256"));
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let cells: Vec<&str> = line.split('\t').collect();
            let path = corpus.join(folder).join(cells[file]);
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(data.len().to_string(), cells[bytes], "{}: size", path.display());
            assert_eq!(hex::encode(Sha256::digest(&data)), cells[sha], "{}: sha256", path.display());
            rows += 1;
        }
    }
    assert!(rows >= 30, "the MANIFESTs list only {rows} files");
}

/// xtask's modules (`src/<module>.rs` with its `src/<module>/` files) and the modules each names
/// through `crate::<module>`.
fn xtask_imports() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out)
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path)
            }
        }
    }
    let src = testkit::repo_root().join("xtask/src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut graph = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for path in all {
        let rel = path.strip_prefix(&src).unwrap();
        let first = rel.components().next().unwrap().as_os_str().to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let used = graph.entry(module.clone()).or_default();
        for part in text.split("crate::").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
            if !name.is_empty() && name != module {
                used.insert(name);
            }
        }
    }
    graph
}

#[test]
fn xtask_modules_do_not_import_each_other_in_circles() {
    let graph = xtask_imports();
    assert!(graph.len() > 10 && graph["deploy"].contains("stack"), "the scan found too little: {graph:?}");
    // Depth-first search; a module met again on the current path closes a circle.
    fn visit<'a>(
        graph: &'a std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        module: &'a str,
        path: &mut Vec<&'a str>,
        done: &mut std::collections::BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(at) = path.iter().position(|m| *m == module) {
            let mut circle = path[at..].to_vec();
            circle.push(module);
            return Some(circle);
        }
        if !done.insert(module) {
            return None;
        }
        path.push(module);
        for next in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(graph, next, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = std::collections::BTreeSet::new();
    for module in graph.keys() {
        if let Some(circle) = visit(&graph, module, &mut Vec::new(), &mut done) {
            panic!("xtask's modules import each other in a circle: {}", circle.join(" -> "));
        }
    }
}
