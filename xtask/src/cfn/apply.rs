//! One stack through its change set, and one verb of the change-set family from start to its
//! exit code. Every stack verb (deploy, diff, bootstrap, pipeline) goes through [`apply`] and
//! [`finish`]; nothing else in xtask creates or executes a change set.

use std::time::Instant;

use anyhow::Result;

use super::changeset::{self, StackSpec};
use super::execute;
use super::report::{self, Report, failed_message, summary};
use super::stack::Settled;
use crate::exit::{Exit, Stop, exit_of};

/// How far a change set goes: shown only (a diff), or executed, asking first when it replaces or
/// removes something unless `yes`.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    pub execute: bool,
    pub yes: bool,
}

impl Mode {
    /// Create, show and execute; `yes` answers the question a destructive change set asks.
    pub fn execute(yes: bool) -> Mode {
        Mode { execute: true, yes }
    }
    /// Create and show, then delete: nothing changes.
    pub fn plan() -> Mode {
        Mode { execute: false, yes: false }
    }
}

/// Runs one verb of the change-set family and ends it the same way: the report on stderr (and
/// as JSON on stdout), errors counted in it, the exit code from `exit::Exit`.
pub fn finish(stage: &str, verb: &str, json: bool, run: impl AsyncFnOnce(&mut Report) -> Result<Exit>) -> Result<Exit> {
    let started = Instant::now();
    let mut report = Report { stage: stage.to_string(), ..Report::default() };
    let exit = match crate::aws::block_on(run(&mut report)) {
        Ok(exit) => exit,
        Err(e) => {
            let exit = exit_of(&e);
            if report.outcome.is_empty() {
                report.outcome = if exit == Exit::DeployFailed { "refused" } else { "error" };
            }
            eprintln!("error: {e:#}");
            report.error = Some(format!("{e:#}"));
            exit
        }
    };
    report.exit_code = exit as u8;
    report.timings.insert("total", started.elapsed().as_secs_f64());
    eprint!("{}", summary(verb, &report));
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(exit)
}

/// A change set's type (`CREATE`/`UPDATE`) and changes.
pub struct Plan(String, Vec<changeset::Change>);

impl Plan {
    pub fn record(self, report: &mut Report) {
        report.change_set_type = Some(self.0);
        report.changes = self.1;
    }
}

impl Applied {
    /// Puts how a stack's change set ended in the report (and says "no changes" for an empty one);
    /// true when it was executed.
    pub fn record(self, verb: &str, stack: &str, report: &mut Report) -> bool {
        match self {
            Applied::Unchanged => {
                eprintln!("{verb}: no changes: {stack} is already what the templates and the stage say");
                report.outcome = "no_changes";
                false
            }
            Applied::Planned(plan) => {
                plan.record(report);
                report.outcome = "planned";
                false
            }
            Applied::Deployed(plan, status) => {
                plan.record(report);
                report.status = Some(status);
                report.outcome = "deployed";
                true
            }
        }
    }
}

/// How one stack's change set ended, when the run goes on.
pub enum Applied {
    Unchanged,
    /// A diff: the change set was shown and deleted.
    Planned(Plan),
    /// Executed; the stack's final status.
    Deployed(Plan, String),
}

/// One stack through its change set: create, show, then delete it (diff) or confirm and
/// execute it. A decline or a failed execution ends the run as a [`Stop`]; `phases` name the
/// report's timings.
pub async fn apply(
    cfn: &aws_sdk_cloudformation::Client,
    spec: &StackSpec,
    mode: Mode,
    poll: std::time::Duration,
    phases: (&'static str, &'static str),
    report: &mut Report,
) -> Result<Applied> {
    let phase = Instant::now();
    let planned = changeset::create(cfn, spec, poll).await?;
    report.timings.insert(phases.0, phase.elapsed().as_secs_f64());
    let Some(set) = planned else {
        if mode.execute
            && let Some(protection) = &spec.protection
        {
            super::protection::protect(cfn, &spec.name, protection).await?;
        }
        return Ok(Applied::Unchanged);
    };
    eprint!("{}", changeset::render(&spec.name, &set.changes));
    if !mode.execute {
        changeset::delete(cfn, &set.stack_id, &set.name).await?;
        return Ok(Applied::Planned(Plan(set.kind.as_str().to_string(), set.changes)));
    }
    confirm(cfn, &set, mode, report).await?;
    let phase = Instant::now();
    let done = execute::execute(cfn, &set, poll).await?;
    report.timings.insert(phases.1, phase.elapsed().as_secs_f64());
    let status = super::stack::status(&done.stack).to_string();
    let plan = Plan(set.kind.as_str().to_string(), set.changes);
    let (exit, outcome) = match done.settled {
        Settled::Done | Settled::Running => {
            if let Some(protection) = &spec.protection {
                super::protection::protect(cfn, &spec.name, protection).await?;
            }
            return Ok(Applied::Deployed(plan, status));
        }
        Settled::RolledBack => (Exit::RolledBack, "rolled_back"),
        Settled::Failed => (Exit::DeployFailed, "failed"),
    };
    // The failing stack's plan, so the report shows what was being attempted.
    plan.record(report);
    report.status = Some(status);
    report.failures = report::failures(&done.failures);
    report.outcome = outcome;
    Err(Stop::new(exit, failed_message(&spec.name, report, exit == Exit::RolledBack)).into())
}

/// Asks before a destructive change set; a "no", or no one to ask, ends the run as a [`Stop`].
async fn confirm(
    cfn: &aws_sdk_cloudformation::Client,
    set: &changeset::ChangeSet,
    mode: Mode,
    report: &mut Report,
) -> Result<()> {
    let destructive = set.changes.iter().filter(|c| c.destructive()).count();
    if destructive == 0 || mode.yes {
        return Ok(());
    }
    if crate::ui::interactive() {
        if crate::ui::confirm(&format!("{destructive} resource(s) would be replaced or removed. Execute?")) {
            return Ok(());
        }
        changeset::delete(cfn, &set.stack_id, &set.name).await?;
        report.outcome = "declined";
        return Err(Stop::new(Exit::Declined, "declined; the change set was deleted and nothing changed").into());
    }
    changeset::delete(cfn, &set.stack_id, &set.name).await?;
    report.outcome = "needs_confirmation";
    Err(Stop::new(
        Exit::Usage,
        format!(
            "{destructive} resource(s) would be replaced or removed (see the table above), and no one is here to confirm \
             (CI is set or there is no terminal). Nothing changed. Re-run with --yes to accept."
        ),
    )
    .into())
}
