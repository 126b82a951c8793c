//! `docs/<verb>.md`: a page per verb, its prose written by people and its flags generated from
//! this crate's own definitions, so the two never drift. `UPDATE_EXPECT=1 cargo test -p xtask docs`
//! rewrites the generated part (and starts a page for a new verb); review the diff.

use std::path::Path;

use clap::CommandFactory;

/// Everything after this line in a page is generated.
const MARKER: &str =
    "<!-- Generated from xtask/src/flags.rs; `UPDATE_EXPECT=1 cargo test -p xtask docs` rewrites what follows. -->";

/// Each verb and its `--help`, as a person running `cargo xtask <verb> --help` reads it.
fn helps() -> Vec<(String, String)> {
    let mut cmd = super::Xtask::command();
    cmd.build();
    // clap's own `help` subcommand documents itself.
    cmd.get_subcommands_mut()
        .filter(|sub| sub.get_name() != "help")
        .map(|sub| {
            let help = sub.render_long_help().to_string();
            let help: Vec<&str> = help.lines().map(str::trim_end).collect();
            (sub.get_name().to_string(), help.join("\n").trim().to_string())
        })
        .collect()
}

/// The page `dir/<verb>.md` should be: its prose as it is, then the flags.
fn wanted(dir: &Path, verb: &str, help: &str) -> (String, String) {
    let page = std::fs::read_to_string(dir.join(format!("{verb}.md"))).unwrap_or_default();
    let prose = match page.split_once(MARKER) {
        Some((prose, _)) => prose.to_string(),
        None if page.is_empty() => format!("# `cargo xtask {verb}`\n\n"),
        None => page.clone() + "\n",
    };
    let want = format!("{prose}{MARKER}\n\n## Flags\n\n```text\n{help}\n```\n");
    (page, want)
}

/// The pages in `dir` that differ from the flags (rewritten when `update`), and the generated
/// pages of verbs that no longer exist.
fn stale_pages(dir: &Path, helps: &[(String, String)], update: bool) -> (Vec<String>, Vec<String>) {
    let mut stale = Vec::new();
    for (verb, help) in helps {
        let (page, want) = wanted(dir, verb, help);
        if page != want {
            if update {
                std::fs::write(dir.join(format!("{verb}.md")), &want).unwrap();
            } else {
                stale.push(format!("{verb}.md"));
            }
        }
    }
    let verbs: Vec<String> = helps.iter().map(|(v, _)| format!("{v}.md")).collect();
    let orphans = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|name| std::fs::read_to_string(dir.join(name)).is_ok_and(|t| t.contains(MARKER)) && !verbs.contains(name))
        .collect();
    (stale, orphans)
}

#[test]
fn every_verb_has_its_page_and_it_matches_the_flags() {
    let helps = helps();
    assert!(helps.len() >= 15 && helps.iter().any(|(v, h)| v == "deploy" && h.contains("--yes")), "{helps:?}");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let (stale, orphans) = stale_pages(&crate::paths::root().join("docs"), &helps, update);
    assert!(
        stale.is_empty(),
        "docs/: these pages' flags differ from xtask's (UPDATE_EXPECT=1 cargo test -p xtask docs): {stale:?}"
    );
    assert!(orphans.is_empty(), "docs/: pages of verbs xtask no longer has: {orphans:?}");
}

/// The check finds a page whose flags were edited by hand, one missing, and one of a gone verb.
#[test]
fn a_page_that_drifted_is_caught() {
    let dir = std::env::temp_dir().join(format!("thumbstack-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let helps: Vec<(String, String)> = helps().into_iter().filter(|(v, _)| v == "teardown" || v == "diff").collect();
    let (_, page) = wanted(&dir, "teardown", &helps.iter().find(|(v, _)| v == "teardown").unwrap().1);
    std::fs::write(dir.join("teardown.md"), page.replace("--all", "--everything")).unwrap();
    std::fs::write(dir.join("nuke.md"), format!("# nuke\n\n{MARKER}\n")).unwrap();
    let (mut stale, orphans) = stale_pages(&dir, &helps, false);
    std::fs::remove_dir_all(&dir).unwrap();
    stale.sort();
    assert_eq!((stale, orphans), (vec!["diff.md".to_string(), "teardown.md".to_string()], vec!["nuke.md".to_string()]));
}
