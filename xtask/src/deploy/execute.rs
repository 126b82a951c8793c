//! Executing a change set: stack events streamed as they happen, a progress line, and the
//! end state read from CloudFormation, not guessed.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Stack, StackEvent};

use super::changeset::ChangeSet;
use crate::aws::AwsContext;
use crate::stack::{self, Events, Settled};
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
    loop {
        for event in events.next(cfn).await? {
            let resource = event.logical_resource_id().unwrap_or_default().to_string();
            let status = event.resource_status().map_or("", |s| s.as_str());
            if resource != set_stack_name(&event) && (status.ends_with("_COMPLETE") || status.ends_with("_FAILED")) {
                finished.insert(resource);
            }
            progress.line(&format!("{:>7.1} s  {}", progress.elapsed(), stack::event_line(&event)));
            seen.push(event);
        }
        let current = cfn.describe_stacks().stack_name(&set.stack_id).send().await.aws("reading the stack's status")?;
        let Some(current) = current.stacks().first().cloned() else {
            anyhow::bail!("the stack disappeared while deploying");
        };
        let settled = stack::settled(stack::status(&current));
        if settled != Settled::Running {
            // Events written between the last read and the final status.
            seen.extend(events.next(cfn).await?);
            progress.clear();
            eprintln!(
                "deploy: {} after {:.1} s ({}/{} resources reported)",
                stack::status(&current),
                progress.elapsed(),
                finished.len().min(total),
                total
            );
            return Ok(Executed { failures: stack::failures(&seen), stack: current, settled });
        }
        progress.status(finished.len().min(total), total, stack::status(&current));
        tokio::time::sleep(poll).await;
    }
}

fn set_stack_name(event: &StackEvent) -> &str {
    event.stack_name().unwrap_or_default()
}
