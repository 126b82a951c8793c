//! Every corpus file in a process of its own (`thumbstack-local thumbnail`), its cost measured by
//! that process (`VmHWM`, wall time): each gives its MANIFEST's outcome, no file's peak exceeds
//! the figure the memory budget was held to (`imaging::memory_needed`), and every hostile file
//! is done within 2 s and 256 MiB.

use std::process::Command;

const HOSTILE_MS: f64 = 2000.0;
const HOSTILE_MIB: f64 = 256.0;

#[test]
fn every_corpus_file_stays_within_its_budgets() {
    let corpus = testkit::corpus();
    let out = std::env::temp_dir().join(format!("thumbstack-budgets-{}", std::process::id()));
    let mut rows = Vec::new();
    for folder in ["photos", "variants", "hostile"] {
        let manifest = std::fs::read_to_string(corpus.join(folder).join("MANIFEST.tsv")).unwrap();
        for line in manifest.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split('\t').collect();
            rows.push((folder, corpus.join(folder).join(f[0]), f[8] == "ok"));
        }
    }
    let mut run = Command::new(env!("CARGO_BIN_EXE_thumbstack-local"));
    run.args(["thumbnail", "--json", "--out"]).arg(&out);
    run.args(rows.iter().map(|(_, path, _)| path));
    let output = run.output().unwrap();
    let lines: Vec<serde_json::Value> =
        String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), rows.len(), "one line per file; stderr: {}", String::from_utf8_lossy(&output.stderr));
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for ((folder, path, ok), line) in rows.iter().zip(&lines) {
        let name = path.file_name().unwrap().to_string_lossy();
        let (ms, peak) = (line["ms"].as_f64().unwrap_or(f64::NAN), line["peak_mib"].as_f64().unwrap_or(f64::NAN));
        let outcome = line["outcome"].as_str().unwrap_or("?");
        report.push(format!(
            "{folder}/{name}\t{outcome}\t{}\t{ms:.0} ms\t{peak:.0} MiB\tneeded {}",
            line["code"], line["needed_mib"]
        ));
        if (outcome == "ok") != *ok {
            failures.push(format!("{name}: {outcome}, expected {}", if *ok { "ok" } else { "reject" }));
        }
        if let Some(needed) = line["needed_mib"].as_f64()
            && peak > needed
        {
            failures.push(format!("{name}: peak {peak} MiB over the {needed} MiB it was budgeted"));
        }
        if *folder == "hostile" && !(ms <= HOSTILE_MS && peak <= HOSTILE_MIB) {
            failures.push(format!("{name}: {ms} ms and {peak} MiB, over {HOSTILE_MS} ms or {HOSTILE_MIB} MiB"));
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    eprintln!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{failures:#?}");
}
