//! Repository hygiene: the corpus lives in the repository and matches its MANIFESTs byte for
//! byte, and no tracked file reaches outside the clone for it (a CI service or a laptop has no
//! sibling folder).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
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

/// `.ci/run` reuses built crates across clones in other folders (see `dev/scripts/ci-mtimes.py`), and
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
    assert_eq!(
        allowed,
        ["functions/lib/imaging/src/jpeg.rs", "functions/lib/imaging/src/webp.rs"],
        "files that allow unsafe code"
    );
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

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The Rust files under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out)
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path)
        }
    }
}

/// A file's module path in its crate: `src/cfn/apply.rs` is `cfn::apply`; `main.rs`, `lib.rs`
/// and `mod.rs` name their folder's module.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).filter(|p| !["main", "lib", "mod"].contains(p)).collect();
    parts.join("::")
}

/// The paths a `use` tree or a path expression names, from just after `crate::` or `super::`:
/// `a::{b, c::d}` gives `a::b` and `a::c::d`.
fn paths_in(text: &str) -> Vec<String> {
    fn tree(chars: &[char], at: &mut usize, prefix: &str, out: &mut Vec<String>) {
        let mut path = prefix.to_string();
        loop {
            if chars.get(*at) == Some(&'{') {
                *at += 1;
                loop {
                    while chars.get(*at).is_some_and(|c| c.is_whitespace() || *c == ',') {
                        *at += 1;
                    }
                    if chars.get(*at).is_none_or(|c| *c == '}') {
                        *at += 1;
                        return;
                    }
                    tree(chars, at, &path, out);
                    // Past anything the tree did not read (`as x`).
                    while chars.get(*at).is_some_and(|c| *c != ',' && *c != '}') {
                        *at += 1;
                    }
                }
            }
            let start = *at;
            while chars.get(*at).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
                *at += 1;
            }
            let ident: String = chars[start..*at].iter().collect();
            if !ident.is_empty() {
                path = if path.is_empty() { ident } else { format!("{path}::{ident}") };
            }
            if chars[*at..].starts_with(&[':', ':']) {
                *at += 2;
                continue;
            }
            if !path.is_empty() {
                out.push(path);
            }
            return;
        }
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    tree(&chars, &mut 0, "", &mut out);
    out
}

/// `a::b::c`, `a::b` and `a`.
fn ancestors_or_self(module: &str) -> Vec<String> {
    let parts: Vec<&str> = module.split("::").collect();
    (1..=parts.len()).map(|n| parts[..n].join("::")).collect()
}

/// Every module of the crate whose sources are in `src`, and the modules of the same crate it
/// names (`crate::…`, `super::…`), test code left out. A module naming its own ancestor or
/// descendant is containment, not an import.
fn module_graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph = Graph::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        if name == "tests.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        let module = module_of(src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]\nmod ").next().unwrap_or_default();
        // Comments name modules without importing them.
        let code: String = code.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
        let parent = module.rsplit_once("::").map_or("", |(p, _)| p).to_string();
        let mut named = Vec::new();
        for (marker, base) in [("crate::", String::new()), ("super::", parent)] {
            for part in code.split(marker).skip(1) {
                for path in paths_in(part) {
                    named.push(if base.is_empty() { path } else { format!("{base}::{path}") });
                }
            }
        }
        let related = |a: &str, b: &str| a == b || a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::"));
        for path in named {
            // The longest module the path starts with.
            let mut target = path.as_str();
            while !modules.contains(target) {
                match target.rsplit_once("::") {
                    Some((up, _)) => target = up,
                    None => break,
                }
            }
            if !modules.contains(target) || target.is_empty() || module.is_empty() || related(target, &module) {
                continue;
            }
            // `a::x` naming `b::y` also makes `a` depend on `b`: circles between folders count.
            for from in ancestors_or_self(&module) {
                for to in ancestors_or_self(target).into_iter().filter(|to| !related(to, &from)) {
                    graph.entry(from.clone()).or_default().insert(to);
                }
            }
        }
    }
    graph
}

/// A circle in `graph`, if there is one.
fn circle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(graph: &Graph, module: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut circle = path[at..].to_vec();
            circle.push(module.to_string());
            return Some(circle);
        }
        if !done.insert(module.to_string()) {
            return None;
        }
        path.push(module.to_string());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(graph, next, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|module| visit(graph, module, &mut Vec::new(), &mut done))
}

/// Every crate's `src/` in the workspace.
fn crate_sources(root: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = tracked_files(root)
        .into_iter()
        .filter_map(|f| f.strip_suffix("/Cargo.toml").map(|dir| root.join(dir).join("src")))
        .filter(|src| src.is_dir())
        .collect();
    found.sort();
    found
}

/// Flow goes one way inside every crate: no module reaches, through others, back to itself.
#[test]
fn no_crate_has_an_import_circle() {
    let root = testkit::repo_root();
    let sources = crate_sources(&root);
    assert!(sources.len() >= 10, "found only {sources:?}");
    for src in sources {
        let graph = module_graph(&src);
        if let Some(circle) = circle(&graph) {
            panic!("{}: {} import each other in a circle", src.display(), circle.join(" -> "));
        }
    }
    let xtask = module_graph(&root.join("xtask/src"));
    assert!(
        xtask["verbs::deploy"].contains("cfn") && xtask["cfn::apply"].contains("cfn::changeset"),
        "the scan found too little: {xtask:?}"
    );
}

/// The check finds the circles it is for: two modules naming each other.
#[test]
fn the_circle_check_finds_a_circle() {
    let dir = std::env::temp_dir().join(format!("thumbstack-circle-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(dir.join("a.rs"), "mod inner;\nuse crate::{b::{self, B}};\n").unwrap();
    std::fs::write(dir.join("a/inner.rs"), "use super::super::a;\n").unwrap();
    std::fs::write(dir.join("b.rs"), "pub struct B;\nfn f() { crate::a::inner::g(); }\n").unwrap();
    let graph = module_graph(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(circle(&graph), Some(vec!["a".to_string(), "b".to_string(), "a".to_string()]), "{graph:?}");
}

/// The CloudFormation core (`xtask/src/cfn/`) is the one place a change set is made or run.
#[test]
fn only_the_cloudformation_core_makes_change_sets() {
    let root = testkit::repo_root();
    let mut offenders = Vec::new();
    for call in [".create_change_set()", ".execute_change_set()"] {
        offenders.extend(containing(&root, |p| p.starts_with("xtask/src/") && !p.starts_with("xtask/src/cfn/"), call));
    }
    assert!(offenders.is_empty(), "change sets made outside xtask/src/cfn/: {offenders:?}");
    assert!(
        !containing(&root, |p| p.starts_with("xtask/src/cfn/"), ".create_change_set()").is_empty(),
        "the check looks for nothing"
    );
}

/// A stage's stack, role, policy and bucket names are derived in `xtask/src/stage/id.rs` alone;
/// the tests may spell the names they expect.
#[test]
fn stage_names_are_derived_in_one_place() {
    let root = testkit::repo_root();
    let suffixes = [
        "bootstrap",
        "pipeline",
        "certificate",
        "waf",
        "cfn-exec",
        "boundary",
        "deploy",
        "users",
        "site",
        "artifacts",
        "catalog",
    ];
    let mut offenders = Vec::new();
    for path in tracked_files(&root).into_iter().filter(|p| p.starts_with("xtask/src/") && p.ends_with(".rs")) {
        if path == "xtask/src/stage/id.rs" {
            continue;
        }
        let text = std::fs::read_to_string(root.join(&path)).unwrap();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| l.contains("format!(")) {
            let derived = suffixes.iter().any(|s| line.contains(&format!("}}-{s}"))) || line.contains("\"thumbstack-{");
            if derived {
                offenders.push(format!("{path}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "derive these from StageId (xtask/src/stage/id.rs):\n{}", offenders.join("\n"));
}

/// The repository paths a Markdown file names (in backticks, or as a link), each with the folder it
/// is relative to: backticked paths start at a top-level folder of the repository, links at the
/// file's own folder. Paths in generated places (`target/`) and S3 keys are not repository paths.
fn named_paths(root: &Path, file: &str) -> Vec<(String, PathBuf)> {
    let text = std::fs::read_to_string(root.join(file)).unwrap();
    let top: BTreeSet<String> =
        tracked_files(root).iter().filter_map(|p| p.split_once('/').map(|(top, _)| top.to_string())).collect();
    let mut out = Vec::new();
    for quoted in text.split('`').skip(1).step_by(2) {
        let plain = quoted.chars().all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c));
        if plain && quoted.split('/').next().is_some_and(|first| top.contains(first)) {
            out.push((quoted.to_string(), root.to_path_buf()));
        }
    }
    let here = root.join(file).parent().unwrap().to_path_buf();
    for link in text.split("](").skip(1) {
        let target = link.split([')', '#']).next().unwrap_or_default();
        if !target.is_empty() && !target.contains("://") {
            out.push((target.to_string(), here.clone()));
        }
    }
    out
}

/// What `page` names that does not exist.
fn missing_paths(root: &Path, page: &str) -> Vec<String> {
    named_paths(root, page)
        .into_iter()
        .filter(|(path, base)| !base.join(path).exists())
        .map(|(path, _)| format!("{page}: {path}"))
        .collect()
}

/// Every path README.md, ARCHITECTURE.md, SECURITY.md and docs/ name exists: the map is the
/// territory's, and a moved file cannot leave a page pointing at nothing.
#[test]
fn every_path_the_architecture_names_exists() {
    let root = testkit::repo_root();
    let pages: Vec<String> = tracked_files(&root)
        .into_iter()
        .filter(|p| {
            ["README.md", "ARCHITECTURE.md", "SECURITY.md"].contains(&p.as_str())
                || (p.starts_with("docs/") && p.ends_with(".md"))
        })
        .collect();
    assert!(pages.len() > 10, "{pages:?}");
    let named = named_paths(&root, "ARCHITECTURE.md");
    assert!(named.len() > 20 && named.iter().any(|(p, _)| p == "xtask/src/cfn/apply.rs"), "ARCHITECTURE.md names only {named:?}");
    let missing: Vec<String> = pages.iter().flat_map(|page| missing_paths(&root, page)).collect();
    assert!(missing.is_empty(), "paths that do not exist:\n{}", missing.join("\n"));
}

/// The check finds a moved file and a broken link, and leaves generated places and keys alone.
#[test]
fn a_path_that_does_not_exist_is_found() {
    let root = testkit::repo_root();
    let dir = format!("target/tidy-paths-{}", std::process::id());
    std::fs::create_dir_all(root.join(&dir)).unwrap();
    let page = format!("{dir}/page.md");
    let text =
        "`xtask/src/main.rs`, `xtask/src/deploy.rs`, `target/local/moto.json`, `images/<owner>`, [a](gone.md), [b](page.md)";
    std::fs::write(root.join(&page), text).unwrap();
    let missing = missing_paths(&root, &page);
    std::fs::remove_dir_all(root.join(&dir)).unwrap();
    assert_eq!(missing, [format!("{page}: xtask/src/deploy.rs"), format!("{page}: gone.md")]);
}

/// The repository's licence is `MIT OR Apache-2.0`: both texts are at its root, the workspace says
/// so, and every member takes the workspace's word (`license.workspace = true`).
#[test]
fn every_crate_is_licensed_as_the_repository_is() {
    let root = testkit::repo_root();
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(workspace.contains("license = \"MIT OR Apache-2.0\""), "the workspace's licence");
    let text = |file: &str| std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(text("LICENSE-MIT").contains("Permission is hereby granted, free of charge"));
    assert!(text("LICENSE-APACHE").contains("Apache License") && text("LICENSE-APACHE").contains("Version 2.0, January 2004"));
    let members: Vec<String> = tracked_files(&root).into_iter().filter(|p| p.ends_with("/Cargo.toml")).collect();
    assert!(members.len() >= 10, "{members:?}");
    for manifest in members {
        let toml = text(&manifest);
        assert!(toml.contains("license.workspace = true"), "{manifest} does not take the workspace's licence");
    }
}
