//! The one report every deploy or diff ends with: JSON on stdout with `--json`, a summary on stderr.

use std::collections::BTreeMap;

use serde::Serialize;

use super::artifacts::Uploaded;
use super::changeset::Change;
use crate::cdn::Invalidation;
use crate::site::Synced;

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub stage: String,
    pub stack: String,
    pub region: String,
    pub endpoint: Option<String>,
    pub outcome: &'static str,
    /// The stack's status at the end, as CloudFormation reports it.
    pub status: Option<String>,
    pub exit_code: u8,
    /// `CREATE` for a new stack, `UPDATE` otherwise; `null` when nothing changed.
    pub change_set_type: Option<String>,
    pub changes: Vec<Change>,
    /// The stage's us-east-1 stacks this run applied: its certificate (a domain and no given
    /// certificate), its web ACL (`waf`).
    pub us_east_1_stacks: Vec<String>,
    pub artifacts_bucket: Option<String>,
    pub artifacts: Vec<Uploaded>,
    /// The functions' CodeDeploy rollouts this run started, and how each ended.
    pub rollouts: Vec<crate::rollout::Followed>,
    /// The release record this run wrote (`<stack>/releases/<n>.json`), when it changed the stack.
    pub release: Option<u32>,
    pub outputs: BTreeMap<String, String>,
    pub site: Option<Synced>,
    pub invalidation: Option<Invalidation>,
    /// The first resources that failed and why.
    pub failures: Vec<Failure>,
    /// Seconds per phase.
    pub timings: BTreeMap<&'static str, f64>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Failure {
    pub resource: String,
    pub reason: String,
}

pub fn failed_message(stack: &str, report: &Report, rolled_back: bool) -> String {
    let mut msg = format!("deploying {stack} failed; the stack is {}", report.status.as_deref().unwrap_or("in an unknown state"));
    for f in &report.failures {
        msg += &format!("\n  {}: {}", f.resource, f.reason);
    }
    msg += if rolled_back {
        "\n  CloudFormation rolled back: the stack is as it was before. next: fix the cause above and deploy again"
    } else {
        "\n  no rollback happened: the stack needs attention. next: `cargo xtask status <stage>`, fix the cause, then deploy again \
         (or `cargo xtask teardown <stage>` for a stage that never worked)"
    };
    msg
}

pub fn failures(pairs: &[(String, String)]) -> Vec<Failure> {
    pairs.iter().map(|(resource, reason)| Failure { resource: resource.clone(), reason: reason.clone() }).collect()
}

/// The human report on stderr.
pub fn summary(verb: &str, r: &Report) -> String {
    let mut out = format!("{verb}: {} {} → {} (exit {})\n", r.stack, r.status.as_deref().unwrap_or("-"), r.outcome, r.exit_code);
    const PHASES: [&str; 11] = [
        "render",
        "validate",
        "package",
        "artifacts",
        "certificate_changeset",
        "certificate_execute",
        "changeset",
        "execute",
        "site",
        "invalidate",
        "total",
    ];
    let timings: Vec<String> = PHASES.iter().filter_map(|p| r.timings.get(p).map(|v| format!("{p} {v:.1} s"))).collect();
    out += &format!("  timings: {}\n", timings.join(", "));
    for (k, v) in &r.outputs {
        out += &format!("  {k} = {v}\n");
    }
    if let Some(inv) = &r.invalidation {
        out += &format!("  invalidation {} {} ({})\n", inv.id, inv.status, inv.paths.join(" "));
    }
    out
}
