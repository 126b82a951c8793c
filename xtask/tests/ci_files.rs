//! The CI files (CodeBuild buildspec, GitHub workflow, Jenkinsfile) run only verbs and flags
//! xtask has, and `policy` / `pipeline` behave as docs/pipeline.md says, run as CI runs them.

use std::process::{Command, Stdio};

use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn xtask(args: &[&str], endpoint: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command.args(args).env("CI", "true").stdin(Stdio::null());
    if let Some(endpoint) = endpoint {
        command.env("THUMBSTACK_ENDPOINT", endpoint);
    }
    let out = command.output().expect("running xtask");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stdout.contains('\x1b') && !run.stderr.contains('\x1b'), "escape codes in CI output");
    run
}

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every `cargo xtask <verb> [--flag]...` in `text`, as words.
fn xtask_commands(text: &str) -> Vec<Vec<String>> {
    text.match_indices("cargo xtask ")
        .map(|(at, _)| {
            let rest = &text[at + "cargo xtask ".len()..];
            let end = rest.find(['\n', '\'', '>', '&', '|', ';']).unwrap_or(rest.len());
            rest[..end].split_whitespace().map(|w| w.trim_matches('"').to_string()).collect()
        })
        .collect()
}

#[test]
fn the_ci_files_parse_and_run_only_real_verbs_and_flags() {
    let buildspec: serde_norway::Value = serde_norway::from_str(&read("dev/ci/buildspec.yml")).unwrap();
    assert_eq!(buildspec["version"].as_f64(), Some(0.2));
    assert_eq!(buildspec["artifacts"]["files"][0].as_str(), Some("deploy-report.json"));
    let workflow: serde_norway::Value = serde_norway::from_str(&read(".github/workflows/deploy.yml")).unwrap();
    assert!(workflow["jobs"]["test"]["steps"].as_sequence().unwrap().iter().any(|s| s["run"].as_str() == Some("bash .ci/run")));
    let mut seen = 0;
    for file in ["dev/ci/buildspec.yml", ".github/workflows/deploy.yml", "Jenkinsfile"] {
        let text = read(file);
        assert!(text.contains("bash .ci/run"), "{file} does not run the tests");
        for words in xtask_commands(&text) {
            let verb = &words[0];
            let help = xtask(&[verb, "--help"], None);
            assert_eq!(help.code, 0, "{file}: `cargo xtask {verb}` is not a verb:\n{}", help.stderr);
            for flag in words.iter().filter(|w| w.starts_with("--")) {
                assert!(help.stdout.contains(flag.as_str()), "{file}: `cargo xtask {verb}` has no {flag}");
            }
            seen += 1;
        }
    }
    assert!(seen >= 8, "only {seen} xtask commands found");
    assert!(root().join(".ci/run").exists());
}

/// No CI recipe can tear down or ephemerally deploy a protected stage: none passes
/// `--confirm-protected`, every deploy of a stage it tears down says `--ephemeral`, and xtask
/// refuses both for prod, before any call (the endpoint answers nothing).
#[test]
fn no_ci_recipe_can_tear_down_or_ephemerally_deploy_a_protected_stage() {
    for file in ["dev/ci/buildspec.yml", ".github/workflows/deploy.yml", "Jenkinsfile"] {
        let commands = xtask_commands(&read(file));
        assert!(!commands.iter().flatten().any(|w| w == "--confirm-protected"), "{file} confirms a protected teardown");
        let torn_down: Vec<&String> = commands.iter().filter(|w| w[0] == "teardown").map(|w| &w[1]).collect();
        for stage in torn_down {
            let deploys = commands.iter().filter(|w| w[0] == "deploy" && &w[1] == stage);
            for deploy in deploys {
                assert!(deploy.contains(&"--ephemeral".to_string()), "{file}: {deploy:?} deploys a stage it tears down");
            }
        }
    }
    let endpoint = Some("http://127.0.0.1:9");
    for stage in ["prod", "dev"] {
        let deploy = xtask(&["deploy", stage, "--ephemeral", "--yes"], endpoint);
        assert_eq!(deploy.code, 2, "{}", deploy.stderr);
        let refused = format!("--ephemeral takes only a stage named pr<number> (a pull request's), and {stage} is not one");
        assert!(deploy.stderr.contains(&refused) && deploy.stderr.contains("nothing was deployed"), "{}", deploy.stderr);
        let teardown = xtask(&["teardown", stage, "--ephemeral", "--yes"], endpoint);
        assert_eq!(teardown.code, 2, "{}", teardown.stderr);
        assert!(teardown.stderr.contains(&refused) && teardown.stderr.contains("nothing was torn down"), "{}", teardown.stderr);
    }
    let teardown = xtask(&["teardown", "prod", "--yes"], endpoint);
    assert_eq!(teardown.code, 2, "{}", teardown.stderr);
}

/// Each stage's deploys hold only that stage's credential (a Jenkins entry per stage, a GitHub
/// environment per stage); every teardown a recipe runs is `--ephemeral`; no recipe builds while
/// it holds a credential (GitHub and Jenkins package first, then deploy `--no-build`); and every
/// action is pinned to a commit, not a tag someone can move.
#[test]
fn each_stage_has_its_own_credential_and_nothing_builds_holding_one() {
    let jenkins = read("Jenkinsfile");
    let lines: Vec<&str> = jenkins.lines().collect();
    let mut bound = 0;
    for (at, line) in lines.iter().enumerate().filter(|(_, l)| l.contains("credentialsId:")) {
        let id = line.split("credentialsId:").nth(1).unwrap().trim().trim_start_matches(['\'', '"']);
        let id = id.split(['\'', '"']).next().unwrap();
        let stage = id.strip_prefix("thumbstack-deploy-").unwrap_or_else(|| panic!("credential {id} is no stage's"));
        let block: String = lines[at + 1..].iter().take_while(|l| l.trim() != "}").map(|l| format!("{l}\n")).collect();
        for words in xtask_commands(&block) {
            let named = if words[1] == "$EPHEMERAL_STAGE" { "${params.EPHEMERAL_STAGE}" } else { words[1].as_str() };
            assert_eq!(named, stage, "Jenkinsfile: {words:?} runs with {id}");
            bound += 1;
        }
    }
    assert!(bound >= 6, "only {bound} commands hold a credential");
    assert!(jenkins.contains("==~ /pr[0-9]{1,6}/"), "Jenkinsfile takes any EPHEMERAL_STAGE");
    for file in ["dev/ci/buildspec.yml", ".github/workflows/deploy.yml", "Jenkinsfile"] {
        for words in xtask_commands(&read(file)).iter().filter(|w| w[0] == "teardown") {
            assert!(words.contains(&"--ephemeral".to_string()), "{file}: {words:?}");
        }
    }
    for file in [".github/workflows/deploy.yml", "Jenkinsfile"] {
        for words in xtask_commands(&read(file)).iter().filter(|w| w[0] == "deploy" || w[0] == "diff") {
            assert!(words.contains(&"--no-build".to_string()), "{file}: {words:?} builds holding a credential");
        }
    }
    let workflow: serde_norway::Value = serde_norway::from_str(&read(".github/workflows/deploy.yml")).unwrap();
    let advisories = workflow["jobs"]["advisories"]["steps"].as_sequence().unwrap();
    let deny = advisories.iter().find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("EmbarkStudios/cargo-deny-action@")));
    let checks = deny.and_then(|s| s["with"]["command-arguments"].as_str()).unwrap_or_default();
    assert!(checks.contains("advisories"), "the workflow checks no RustSec advisories: {checks:?}");
    for (name, job) in workflow["jobs"].as_mapping().unwrap() {
        let steps = job["steps"].as_sequence().unwrap();
        for uses in steps.iter().filter_map(|s| s["uses"].as_str()) {
            let pin = uses.split_once('@').map(|(_, p)| p).unwrap_or_default();
            assert!(
                pin.len() == 40 && pin.bytes().all(|b| b.is_ascii_hexdigit()),
                "job {name:?}: {uses} is not pinned to a commit"
            );
        }
        let at = |f: &dyn Fn(&serde_norway::Value) -> bool| steps.iter().position(f);
        let credentials = at(&|s| s["uses"].as_str().is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@")));
        let package = at(&|s| s["run"].as_str() == Some("cargo xtask package"));
        if let Some(credentials) = credentials {
            assert!(package.is_some_and(|p| p < credentials), "job {name:?} builds after it takes credentials");
        }
    }
}

/// `package` refuses a JPEG decoder built without nasm, so every recipe installs it before its
/// first build: in each GitHub job (a fresh runner each), and once in the others (one machine).
#[test]
fn every_ci_recipe_installs_nasm_before_it_builds() {
    const INSTALL: &str = "bash dev/scripts/install-build-deps.sh";
    // The first line that is not a comment and runs the tests or a verb.
    let builds = |text: &str| {
        let mut at = 0;
        text.split_inclusive('\n').find_map(|line| {
            let here = at;
            at += line.len();
            let code = !line.trim_start().starts_with(['#', '/']);
            (code && (line.contains("bash .ci/run") || line.contains("cargo xtask "))).then_some(here)
        })
    };
    for file in ["dev/ci/buildspec.yml", "Jenkinsfile"] {
        let text = read(file);
        let (install, build) = (text.find(INSTALL), builds(&text).unwrap());
        assert!(install.is_some_and(|i| i < build), "{file}: no `{INSTALL}` before its first build");
    }
    let workflow: serde_norway::Value = serde_norway::from_str(&read(".github/workflows/deploy.yml")).unwrap();
    for (name, job) in workflow["jobs"].as_mapping().unwrap() {
        let runs: Vec<&str> = job["steps"].as_sequence().unwrap().iter().filter_map(|s| s["run"].as_str()).collect();
        let install = runs.iter().position(|r| *r == INSTALL);
        // A job that builds nothing (the advisories check runs a container action) needs no nasm.
        let Some(build) = runs.iter().position(|r| builds(r).is_some()) else { continue };
        assert!(install.is_some_and(|i| i < build), "job {name:?}: no `{INSTALL}` before its first build");
    }
}

#[test]
fn deploys_from_ci_use_short_lived_credentials() {
    let workflow = read(".github/workflows/deploy.yml");
    assert!(
        !workflow.contains("aws-access-key-id") && !workflow.contains("AWS_SECRET_ACCESS_KEY"),
        "long-lived keys in the workflow"
    );
    let parsed: serde_norway::Value = serde_norway::from_str(&workflow).unwrap();
    for job in ["deploy-dev", "deploy-prod"] {
        let job = &parsed["jobs"][job];
        assert_eq!(job["permissions"]["id-token"].as_str(), Some("write"), "OIDC needs id-token: write");
        let assume = job["steps"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@")));
        assert!(assume.is_some_and(|s| s["with"]["role-to-assume"].is_string()), "{job:?}");
    }
    assert_eq!(parsed["jobs"]["deploy-prod"]["environment"].as_str(), Some("prod"), "prod waits for the environment's reviewers");
    let jenkins = read("Jenkinsfile");
    for needed in ["AmazonWebServicesCredentialsBinding", "input message:", "archiveArtifacts", "teardown"] {
        assert!(jenkins.contains(needed), "Jenkinsfile lacks {needed}");
    }
}

#[test]
fn policy_prints_iam_json_for_a_given_account() {
    let run = xtask(&["policy", "prod", "--account", "111122223333", "--json"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let policy: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(policy["Version"], "2012-10-17");
    let text = run.stdout;
    // The deploy identity passes only the execution role, and writes zips under its own prefix.
    assert!(text.contains("arn:aws:iam::111122223333:role/thumbstack/thumbstack-prod-cfn-exec"), "{text}");
    assert!(text.contains("thumbstack-artifacts-111122223333-eu-west-1/thumbstack-prod/*"), "{text}");
    assert!(run.stderr.is_empty(), "--json prints nothing else: {}", run.stderr);
    let run = xtask(&["policy", "prod", "--account", "111122223333", "--document", "execution", "--json"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("arn:aws:iam::111122223333:role/thumbstack-prod/*"), "{}", run.stdout);
    assert!(run.stdout.contains("arn:aws:iam::111122223333:policy/thumbstack-prod-boundary"), "{}", run.stdout);
}

#[test]
fn every_verb_that_reports_can_report_json() {
    for verb in [
        "thumbnail",
        "render",
        "package",
        "deploy",
        "diff",
        "teardown",
        "invalidate",
        "catalog",
        "outputs",
        "status",
        "policy",
        "bootstrap",
        "failures",
        "pipeline",
    ] {
        let help = xtask(&[verb, "--help"], None);
        assert!(help.stdout.contains("--json"), "`cargo xtask {verb}` has no --json");
    }
    let run =
        xtask(&["render", "dev", "--json", "--out", std::env::temp_dir().join("thumbstack-render-json").to_str().unwrap()], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["stack"], "thumbstack-dev");
    assert_eq!(doc["files"].as_array().unwrap().len(), 6, "template, bootstrap and pipeline, each with its parameters: {doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_asks_sts_for_the_account_and_pipeline_needs_a_source() {
    let moto = testkit::Moto::start();
    let run = xtask(&["policy", "local"], Some(&moto.endpoint));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let policy: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(policy.to_string().contains(":123456789012:"), "moto's account: {policy}");
    assert!(run.stderr.contains("statements") && run.stderr.contains("characters minified"), "{}", run.stderr);
    let run = xtask(&["pipeline", "local", "--yes", "--json"], Some(&moto.endpoint));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("has no `pipeline` section"), "{}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["exit_code"], 2);
    let run = xtask(&["status", "local", "--json"], Some(&moto.endpoint));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let status: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((status["stack"].as_str(), &status["status"]), (Some("thumbstack-local"), &Value::Null));
}

/// `.ci/run`'s `dev/scripts/ci-mtimes.py`, on a clone of its own: a second clone's unchanged files get
/// the time their content was first seen (so cargo reuses the earlier build), a changed file gets
/// the current time (so what depends on it is rebuilt).
#[test]
fn ci_mtimes_keep_the_first_seen_time_of_unchanged_content_only() {
    use std::time::{Duration, SystemTime};
    let work = std::env::temp_dir().join(format!("thumbstack-ci-mtimes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let (repo, target) = (work.join("repo"), work.join("target"));
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        assert!(Command::new("git").current_dir(&repo).args(args).output().unwrap().status.success(), "git {args:?}")
    };
    git(&["init", "-q"]);
    std::fs::write(repo.join("same.rs"), "fn same() {}").unwrap();
    std::fs::write(repo.join("edited.rs"), "fn before() {}").unwrap();
    git(&["add", "."]);
    let script = root().join("dev/scripts/ci-mtimes.py");
    let run = || {
        let out = Command::new("python3").current_dir(&repo).arg(&script).arg(&target).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let mtime = |name: &str| std::fs::metadata(repo.join(name)).unwrap().modified().unwrap();
    assert!(run().contains("0 files as before, 2 new or changed"));
    let first_seen = mtime("same.rs");
    // A later clone: every file is new on disk, one of them with new content.
    std::thread::sleep(Duration::from_millis(50));
    std::fs::write(repo.join("same.rs"), "fn same() {}").unwrap();
    std::fs::write(repo.join("edited.rs"), "fn after() {}").unwrap();
    let before_second = SystemTime::now();
    assert!(run().contains("1 files as before, 1 new or changed"));
    assert_eq!(mtime("same.rs"), first_seen, "unchanged content keeps its first-seen time");
    assert!(mtime("edited.rs") >= before_second - Duration::from_millis(5), "changed content is newer than any build");
    let _ = std::fs::remove_dir_all(&work);
}

/// Every Python tool CI installs is pinned to its version and its file's sha256, and installed in
/// pip's hash-checking mode (`dev/scripts/pin-hashes.py` writes the hashes).
#[test]
fn every_python_pin_carries_its_hash() {
    let install = read("dev/scripts/install-tools.sh");
    assert!(install.contains("--require-hashes"), "install-tools.sh installs without --require-hashes");
    let dir = root().join("dev/scripts/requirements");
    let mut pins = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        for line in std::fs::read_to_string(&path).unwrap().lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let (pin, hash) =
                line.split_once(" --hash=sha256:").unwrap_or_else(|| panic!("{}: {line} has no hash", path.display()));
            assert!(pin.contains("==") && hash.len() == 64, "{}: {line}", path.display());
            pins += 1;
        }
    }
    assert!(pins > 100, "only {pins} pins");
}

/// Nothing a CI recipe or install script downloads runs before it is checked: no `curl … | sh`,
/// and every executable fetched with curl or wget is held to a pinned SHA-256 before it runs.
#[test]
fn no_ci_recipe_runs_a_download_it_did_not_check() {
    let mut files = vec!["dev/ci/buildspec.yml".to_string(), "Jenkinsfile".to_string(), ".ci/run".to_string()];
    for dir in [".github/workflows", "dev/scripts"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            files.push(format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy()));
        }
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(root().join(&file)) else { continue };
        for (n, line) in text.lines().enumerate() {
            let fetches = line.contains("curl ") || line.contains("wget ");
            let piped = line.split('|').skip(1).any(|after| {
                let command = after.split_whitespace().next().unwrap_or_default();
                ["sh", "bash", "zsh", "python", "python3", "sudo"].contains(&command)
            });
            assert!(!(fetches && piped), "{file}:{}: a download piped into a shell: {line}", n + 1);
        }
        if text.contains("rustup-init") {
            assert!(text.contains("sha256sum --check"), "{file}: rustup-init runs unchecked");
        }
    }
}
