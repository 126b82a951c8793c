//! Deploy figures on the emulator: a no-change `deploy local` (this binary, as users run it)
//! against `aws cloudformation deploy` (the awscli, pinned) on the same deployed template,
//! parameters and emulator. Both do the same work: create a change set, find it empty, clean up.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::stdout_of as run;
use serde::Serialize;

use crate::aws::ENDPOINT_ENV;
use crate::emulator::Emulator;

const STACK: &str = "thumbstack-local";

#[derive(Debug, Serialize)]
pub struct DeployFigures {
    pub runs: usize,
    pub xtask_no_change_s: f64,
    pub awscli_no_change_s: f64,
    pub awscli_version: String,
}

pub fn measure(runs: usize) -> Result<DeployFigures> {
    let emulator = Emulator::ensure()?;
    let xtask = std::env::current_exe().context("finding xtask's own binary")?;
    let deploy = || -> Result<f64> {
        let started = Instant::now();
        let out = Command::new(&xtask)
            .args(["deploy", "local", "--yes", "--no-invalidate"])
            .env(ENDPOINT_ENV, &emulator.endpoint)
            .env("CI", "true")
            .stdout(Stdio::null())
            .output()?;
        if !out.status.success() {
            bail!("deploy local failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
        }
        Ok(started.elapsed().as_secs_f64())
    };
    eprintln!("bench: bootstrap and deploy local (first, to have something to compare), then {runs} no-change run(s)");
    let bootstrap = Command::new(&xtask)
        .args(["bootstrap", "local", "--yes"])
        .env(ENDPOINT_ENV, &emulator.endpoint)
        .env("CI", "true")
        .stdout(Stdio::null())
        .output()?;
    if !bootstrap.status.success() {
        bail!(
            "bootstrap local failed ({}):
{}",
            bootstrap.status,
            String::from_utf8_lossy(&bootstrap.stderr)
        );
    }
    deploy()?;
    let xtask_no_change_s = median((0..runs).map(|_| deploy()).collect::<Result<_>>()?);

    let bin = crate::paths::target_dir().join("tools/bench/bin");
    // The awscli's own S3 client (the template upload of `cloudformation deploy`) takes the
    // emulator from AWS_ENDPOINT_URL, not --endpoint-url, and path-style addressing from a config.
    let dir = crate::paths::target_dir().join("bench/awscli");
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("config");
    std::fs::write(&config, "[default]\ns3 =\n    addressing_style = path\n")?;
    // `localhost`, not 127.0.0.1: moto reads a path-style template URL only from a localhost one.
    let endpoint = emulator.endpoint.replace("127.0.0.1", "localhost");
    let aws = |args: &[&str]| -> Command {
        let mut cmd = Command::new(bin.join("aws"));
        cmd.args(args)
            .args(["--endpoint-url", &endpoint, "--region", "us-east-1"])
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "bench-fake")
            .env("AWS_SECRET_ACCESS_KEY", "bench-fake")
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .stdin(Stdio::null());
        cmd
    };
    let awscli_version = run(&mut aws(&["--version"]))?;
    // The very template and tags `deploy` sent: the same renderer, written to a folder.
    run(Command::new(&xtask).args(["render", "local", "--out"]).arg(&dir))?;
    let template_path = dir.join("template.yaml");
    let configuration: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("parameters.json"))?)?;
    let tags: Vec<String> = configuration["Tags"]
        .as_object()
        .map(|t| t.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect())
        .unwrap_or_default();
    let params = run(&mut aws(&[
        "cloudformation",
        "describe-stacks",
        "--stack-name",
        STACK,
        "--query",
        "Stacks[0].Parameters[].[ParameterKey,ParameterValue]",
        "--output",
        "text",
    ]))?;
    // The parameters `deploy` passed: the rendered ones plus the deploy-time ones (artifacts).
    // Passing the stack's empty defaults too would count as a change on the emulator.
    let rendered = configuration["Parameters"].as_object().cloned().unwrap_or_default();
    let mut overrides: Vec<String> = rendered.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    overrides.extend(
        params
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .filter(|(k, v)| !rendered.contains_key(*k) && !v.is_empty())
            .map(|(k, v)| format!("{k}={v}")),
    );
    // A template over CloudFormation's 51,200-byte inline limit goes by S3, for both: `deploy`
    // puts it in the artifacts bucket, and so does the awscli here.
    let account = run(&mut aws(&["sts", "get-caller-identity", "--query", "Account", "--output", "text"]))?;
    let bucket = crate::stage::artifacts_bucket(account.trim(), "us-east-1");
    let awscli_deploy = || -> Result<f64> {
        // `--no-execute-changeset`: awscli sends every template parameter (unset ones as
        // UsePreviousValue) and moto compares the raw lists, so it sees a change where AWS
        // sees none; stopping after the change set keeps the work the same as ours.
        let mut cmd =
            aws(&["cloudformation", "deploy", "--stack-name", STACK, "--no-fail-on-empty-changeset", "--no-execute-changeset"]);
        cmd.arg("--template-file").arg(&template_path);
        cmd.args(["--s3-bucket", &bucket, "--s3-prefix", &format!("{STACK}/awscli")]);
        cmd.args(["--capabilities", "CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]);
        cmd.arg("--parameter-overrides").args(&overrides);
        if !tags.is_empty() {
            cmd.arg("--tags").args(&tags);
        }
        let started = Instant::now();
        let out = run(&mut cmd)?;
        let took = started.elapsed().as_secs_f64();
        if !out.contains("No changes to deploy") && !out.contains("Changeset created successfully") {
            bail!("aws cloudformation deploy did not plan a change set:\n{out}");
        }
        Ok(took)
    };
    eprintln!("bench: aws cloudformation deploy, {runs} no-change run(s) on the same template and parameters");
    let awscli_no_change_s = median((0..runs).map(|_| awscli_deploy()).collect::<Result<_>>()?);
    Ok(DeployFigures { runs, xtask_no_change_s, awscli_no_change_s, awscli_version })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
