//! Executing a change set: stack events streamed as they happen, a progress line, and the
//! end state read from CloudFormation, not guessed.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Stack, StackEvent};

use super::changeset::ChangeSet;
use super::stack::{self, Events, Settled, Watch};
use crate::aws::AwsContext;
use crate::ui::Progress;

pub struct Executed {
    pub stack: Stack,
    pub settled: Settled,
    /// The first failing resources and CloudFormation's reasons.
    pub failures: Vec<(String, String)>,
}

pub async fn execute(cfn: &Client, set: &ChangeSet, poll: Duration) -> Result<Executed> {
    let mut events = Events::after_now(cfn, &set.stack_id).await?;
    cfn.execute_change_set().stack_name(&set.stack_id).change_set_name(&set.name).send().await.aws("executing the change set")?;
    let total = set.changes.len();
    let mut progress = Progress::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut seen: Vec<StackEvent> = Vec::new();
    let current = stack::wait(cfn, &set.stack_id, &mut events, poll, |watch| match watch {
        Watch::Event(event) => {
            let resource = event.logical_resource_id().unwrap_or_default();
            let status = event.resource_status().map_or("", |s| s.as_str());
            if resource != set_stack_name(event) && (status.ends_with("_COMPLETE") || status.ends_with("_FAILED")) {
                finished.insert(resource.to_string());
            }
            progress.line(&format!("{:>7.1} s  {}", progress.elapsed(), stack::event_line(event)));
            seen.push(event.clone());
        }
        Watch::Running(status) => progress.status(finished.len().min(total), total, status),
    })
    .await?;
    progress.clear();
    eprintln!(
        "deploy: {} after {:.1} s ({}/{} resources reported)",
        stack::status(&current),
        progress.elapsed(),
        finished.len().min(total),
        total
    );
    let settled = stack::settled(stack::status(&current));
    Ok(Executed { failures: stack::failures(&seen), stack: current, settled })
}

fn set_stack_name(event: &StackEvent) -> &str {
    event.stack_name().unwrap_or_default()
}
