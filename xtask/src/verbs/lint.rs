//! `render --check`: cfn-lint and checkov (pinned, offline) over the rendered templates, and
//! parliament and cloudsplaining over the stage's IAM documents (`lint/iam.rs`). Passes with zero
//! cfn-lint errors or warnings, zero failed checkov checks and zero IAM findings but the accepted
//! ones; checkov suppressions live in the template's Metadata with their reasons, the IAM ones in
//! `iam::ACCEPTED` with theirs.

mod iam;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::exit::Exit;
use crate::stage::Stage;
use crate::template::Rendered;

pub fn check(dir: &Path, rendered: &Rendered, stage: &Stage) -> Result<Exit> {
    let linters = Linters::install()?;
    let mut problems = 0;
    for (name, _) in rendered.files.iter().filter(|(n, _)| n.ends_with(".yaml")) {
        let path = dir.join(name);
        // CloudFront's certificate and web ACL stacks always live in us-east-1.
        let region = if rendered.us_east_1.iter().any(|c| c.file == *name) { "us-east-1" } else { &stage.region.0 };
        problems += linters.cfn_lint(&path, region)?;
        problems += linters.checkov(&path)?;
    }
    problems += iam::check(&linters.bin, dir, rendered, stage)?;
    if problems > 0 {
        bail!("{problems} template problem(s) in {}", dir.display());
    }
    Ok(Exit::Success)
}

/// The pinned linters and their versions, asked once per check rather than once per template.
struct Linters {
    bin: PathBuf,
    cfn_lint_version: String,
    checkov_version: String,
}

impl Linters {
    fn install() -> Result<Linters> {
        let bin = crate::paths::tools("lint")?;
        Ok(Linters { cfn_lint_version: version(&bin, "cfn-lint")?, checkov_version: version(&bin, "checkov")?, bin })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CfnLintMatch {
    level: String,
    message: String,
    rule: CfnLintRule,
    location: CfnLintLocation,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CfnLintRule {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CfnLintLocation {
    start: CfnLintPosition,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CfnLintPosition {
    line_number: u64,
}

impl Linters {
    /// Returns the number of errors and warnings (informational matches are shown, not counted).
    fn cfn_lint(&self, template: &Path, region: &str) -> Result<usize> {
        let out = Command::new(self.bin.join("cfn-lint"))
            .args(["--format", "json", "--regions", region, "--"])
            .arg(template)
            .output()
            .context("running cfn-lint")?;
        // Exit codes are a bit mask of the levels found; the JSON says the same, and more.
        let matches: Vec<CfnLintMatch> = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("cfn-lint printed no JSON report: {}", String::from_utf8_lossy(&out.stderr)))?;
        let count = |level: &str| matches.iter().filter(|m| m.level == level).count();
        let (errors, warnings, infos) = (count("Error"), count("Warning"), count("Informational"));
        for m in &matches {
            eprintln!("  {}:{}: {} {}: {}", template.display(), m.location.start.line_number, m.level, m.rule.id, m.message);
        }
        println!(
            "cfn-lint {} ({region}): {errors} errors, {warnings} warnings, {infos} informational in {}",
            self.cfn_lint_version,
            file_name(template)
        );
        Ok(errors + warnings)
    }
}

#[derive(Deserialize)]
struct CheckovReport {
    summary: CheckovSummary,
    results: CheckovResults,
}

#[derive(Deserialize)]
struct CheckovSummary {
    passed: u64,
    failed: u64,
    skipped: u64,
    parsing_errors: u64,
}

#[derive(Deserialize)]
struct CheckovResults {
    failed_checks: Vec<CheckovCheck>,
}

#[derive(Deserialize)]
struct CheckovCheck {
    check_id: String,
    check_name: String,
    resource: String,
    file_line_range: Vec<u64>,
}

impl Linters {
    /// Returns the number of failed checks and parsing errors.
    fn checkov(&self, template: &Path) -> Result<usize> {
        let out = Command::new(self.bin.join("checkov"))
            .args(["--framework", "cloudformation", "--skip-download", "--output", "json", "--quiet", "--file"])
            .arg(template)
            // Offline and quiet: no version check, no telemetry, no platform calls.
            .env("CHECKOV_SKIP_VERSION_CHECK", "1")
            .env("BC_SKIP_MAPPING", "TRUE")
            .output()
            .context("running checkov")?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: CheckovReport = parse_checkov(&stdout).with_context(|| {
            format!("checkov printed no JSON report (exit {}): {}{}", out.status, stdout, String::from_utf8_lossy(&out.stderr))
        })?;
        for c in &report.results.failed_checks {
            let line = c.file_line_range.first().copied().unwrap_or(0);
            eprintln!("  {}:{line}: FAILED {} on {}: {}", template.display(), c.check_id, c.resource, c.check_name);
        }
        let s = &report.summary;
        println!(
            "checkov {}: {} passed, {} failed, {} skipped (suppressed in Metadata), {} parsing errors in {}",
            self.checkov_version,
            s.passed,
            s.failed,
            s.skipped,
            s.parsing_errors,
            file_name(template)
        );
        Ok(usize::try_from(s.failed + s.parsing_errors)?)
    }
}

/// A clean `--quiet` run prints `[]` or one report object; a report with findings, one object.
fn parse_checkov(stdout: &str) -> Result<CheckovReport> {
    let value: serde_json::Value = serde_json::from_str(stdout.trim())?;
    let value = match value {
        serde_json::Value::Array(mut reports) if reports.len() == 1 => reports.remove(0),
        other => other,
    };
    Ok(serde_json::from_value(value)?)
}

fn version(bin: &Path, tool: &str) -> Result<String> {
    let out = Command::new(bin.join(tool)).arg("--version").output().with_context(|| format!("running {tool} --version"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.split_whitespace().last().unwrap_or("?").to_string())
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The linters must be able to fail: a wrong runtime and a public bucket are both caught.
    #[test]
    fn a_broken_template_fails_both_linters() {
        let infra = crate::paths::infra();
        let stage = Stage::load(&infra, "dev").unwrap();
        let mut rendered = crate::template::render_stack(&infra, &stage).unwrap();
        let (_, template) = rendered.files.iter_mut().find(|(n, _)| *n == "template.yaml").unwrap();
        *template = template.replacen("Runtime: provided.al2023", "Runtime: provided.al1999", 1).replacen(
            "BlockPublicPolicy: true",
            "BlockPublicPolicy: false",
            1,
        );
        let dir = crate::paths::target_dir().join("tmp/lint-broken");
        crate::template::write(&rendered, &dir).unwrap();
        let linters = Linters::install().unwrap();
        assert!(linters.cfn_lint(&dir.join("template.yaml"), "eu-west-1").unwrap() >= 1);
        assert!(linters.checkov(&dir.join("template.yaml")).unwrap() >= 1);
    }
}
