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

#[test]
fn no_tracked_file_refers_to_the_folder_beside_the_clone() {
    let root = testkit::repo_root();
    // Spelled in two halves so this file does not find itself.
    let outside = format!("{}/{}", "..", "shared");
    let offenders: Vec<String> = tracked_files(&root)
        .into_iter()
        .filter(|path| path != "Cargo.lock")
        .filter(|path| {
            let Ok(text) = std::fs::read(root.join(path)) else { return false };
            String::from_utf8_lossy(&text).contains(&outside)
        })
        .collect();
    assert!(offenders.is_empty(), "these tracked files refer to {outside}: {offenders:?}");
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
