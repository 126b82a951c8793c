//! The stage's IAM documents through the two linters made for them, pinned with cfn-lint and
//! checkov: **parliament** (action names, resource formats, condition keys and types, as IAM
//! defines them) and **cloudsplaining** (actions that expose resources, exfiltrate data, modify
//! infrastructure or escalate privileges without a resource constraint). The documents: the deploy
//! policy, the execution role's, the boundary, and each function role's own policy.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::Value;

use crate::stage::Stage;
use crate::template::Rendered;

/// The documents do not depend on the account but need one to be valid ARNs.
const EXAMPLE_ACCOUNT: &str = "111122223333";

/// A finding this design accepts: `(tool, document, issue, text the finding contains, why)`.
pub const ACCEPTED: &[(&str, &str, &str, &str, &str)] = &[
    (
        "parliament",
        "execution",
        "RESOURCE_POLICY_PRIVILEGE_ESCALATION",
        "s3:::thumbstack-",
        "CloudFormation writes the stage's bucket policies and ACLs (TLS only, CloudFront's read, S3 log \
         delivery), and whoever writes a bucket's policy can grant object access in it. The execution role \
         may do so on the stage's own buckets only; the deploy identity holds no bucket-policy action and \
         reaches one only through a change set, which `deploy` shows as a diff first (and CI's prod step \
         only after a person approves it); and no change set of a stage that keeps its data may delete an \
         object version or a bucket (`the_bucket_policy_finding_is_what_its_reason_says`)",
    ),
    (
        "parliament",
        "execution",
        "RESOURCE_MISMATCH",
        "Alias",
        "IAM authorizes an alias action against the alias and against its key separately. The alias \
         statement names the stack's alias; the key statement the keys that carry the stack's tag. An alias \
         has no tags, so one statement with both resources would need the tag condition to hold for the \
         alias too, which it cannot",
    ),
];

#[derive(Debug, Deserialize)]
struct ParliamentFinding {
    issue: String,
    severity: String,
    #[serde(default)]
    detail: Value,
    #[serde(default)]
    location: Value,
}

/// `(name, document)` for every IAM document of the stage.
pub fn documents(rendered: &Rendered, stage: &Stage) -> Result<Vec<(String, Value)>> {
    let names = stage.names(EXAMPLE_ACCOUNT);
    let d = crate::iam::documents(rendered, stage, &names)?;
    let mut all = vec![("deploy".to_string(), d.deploy), ("execution".into(), d.execution), ("boundary".into(), d.boundary)];
    let template = rendered.file("template.yaml").context("no template.yaml")?;
    all.extend(crate::iam::function_roles(template, &names)?.into_iter().map(|(role, doc)| (format!("role-{role}"), doc)));
    Ok(all)
}

/// Lints each document; returns the number of findings not in [`ACCEPTED`].
pub fn check(bin: &Path, dir: &Path, rendered: &Rendered, stage: &Stage) -> Result<usize> {
    let dir = dir.join("iam");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut problems = 0;
    for (name, document) in documents(rendered, stage)? {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&document)?)?;
        let (found, accepted) = parliament(bin, &name, &document)?;
        for f in &found {
            eprintln!("  {}: parliament {} {}: {} at {}", path.display(), f.severity, f.issue, f.detail, f.location);
        }
        println!("parliament: {} finding(s), {accepted} accepted, in {name}", found.len());
        problems += found.len();
        let (count, report) = cloudsplaining(bin, &path)?;
        if count > 0 {
            eprintln!("  {}: cloudsplaining:\n{report}", path.display());
        }
        println!("cloudsplaining: {count} finding(s) in {name}");
        problems += count;
    }
    Ok(problems)
}

/// The findings not accepted, and how many were.
fn parliament(bin: &Path, name: &str, document: &Value) -> Result<(Vec<ParliamentFinding>, usize)> {
    let out = Command::new(bin.join("parliament"))
        .args(["--json", "--string"])
        .arg(document.to_string())
        // parliament reads a policy from stdin unless stdin is a terminal: give it none.
        .stdin(Stdio::null())
        .output()
        .context("running parliament")?;
    if !out.status.success() && out.stdout.is_empty() {
        anyhow::bail!("parliament failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    let mut found = Vec::new();
    let mut accepted = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with('{')) {
        let finding: ParliamentFinding = serde_json::from_str(line).with_context(|| format!("parliament printed {line}"))?;
        if is_accepted("parliament", name, &finding.issue, line) {
            accepted += 1;
        } else {
            found.push(finding);
        }
    }
    Ok((found, accepted))
}

fn is_accepted(tool: &str, document: &str, issue: &str, text: &str) -> bool {
    ACCEPTED.iter().any(|(t, d, i, contains, _)| *t == tool && *d == document && *i == issue && text.contains(contains))
}

/// cloudsplaining's count of issues, and its report.
fn cloudsplaining(bin: &Path, policy: &Path) -> Result<(usize, String)> {
    let out = Command::new(bin.join("cloudsplaining"))
        .args(["scan-policy-file", "--input-file"])
        .arg(policy)
        .env("NO_COLOR", "1")
        .output()
        .context("running cloudsplaining")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        anyhow::bail!("cloudsplaining failed ({}): {text}{}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    if text.contains("There were no results found") {
        return Ok((0, text));
    }
    Ok((text.matches("Potential Issue found").count().max(1), text))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// parliament finds what was wrong with the deploy policy before bootstrap (actions on
    /// resources IAM cannot scope them to, a needless `*`), and none of it is accepted.
    #[test]
    fn parliament_fails_the_policy_before_bootstrap() {
        let bin = crate::paths::tools("lint").unwrap();
        let old: Value = serde_json::from_str(
            &std::fs::read_to_string(crate::paths::root().join("xtask/tests/golden/policy-before-bootstrap.json")).unwrap(),
        )
        .unwrap();
        let (found, _) = parliament(&bin, "deploy", &old).unwrap();
        let issues: Vec<&str> = found.iter().map(|f| f.issue.as_str()).collect();
        assert!(issues.contains(&"RESOURCE_MISMATCH") && issues.contains(&"RESOURCE_STAR"), "{found:?}");
    }

    /// The reason accepted for the bucket-policy finding, read against prod's documents.
    #[test]
    fn the_bucket_policy_finding_is_what_its_reason_says() {
        let stage = Stage::load(&crate::paths::infra(), "prod").unwrap();
        let rendered = crate::template::render_stack(&crate::paths::infra(), &stage).unwrap();
        let d = crate::iam::documents(&rendered, &stage, &stage.names(EXAMPLE_ACCOUNT)).unwrap();
        let writes = ["s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketAcl"];
        let grants = |doc: &Value| -> Vec<String> {
            doc["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["Effect"] == "Allow")
                .filter(|s| s["Action"].as_array().unwrap().iter().any(|a| writes.contains(&a.as_str().unwrap())))
                .flat_map(|s| s["Resource"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()))
                .collect()
        };
        assert!(grants(&d.deploy).is_empty(), "the deploy identity writes bucket policies");
        let own = format!("arn:aws:s3:::{}", stage.id.resources());
        let resources = grants(&d.execution);
        assert!(!resources.is_empty() && resources.iter().all(|r| r.starts_with(own.trim_end_matches('*'))), "{resources:?}");
        let denied = d.execution["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "NeverDeleteTheStageData");
        let denied: Vec<&str> = denied.unwrap()["Action"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(denied.contains(&"s3:DeleteObjectVersion") && denied.contains(&"s3:DeleteBucket"), "{denied:?}");
    }

    #[test]
    fn every_accepted_finding_says_why() {
        for (tool, document, issue, contains, why) in ACCEPTED {
            assert!(["parliament", "cloudsplaining"].contains(tool) && !document.is_empty() && !issue.is_empty());
            assert!(!contains.is_empty() && why.len() > 80, "{issue}: a reason, not a label");
        }
    }
}
