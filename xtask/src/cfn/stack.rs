//! What every verb asks CloudFormation about a stack: does it exist, in which state, its
//! outputs, and its events as they happen.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Stack, StackEvent};
use serde_norway::Value;

use crate::aws::{Aws, AwsContext, code};

/// The stack, or `None` when there is none by that name (deleted stacks are not found by name).
pub async fn describe(cfn: &Client, name: &str) -> Result<Option<Stack>> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out.stacks().first().cloned()),
        Err(e) if code(&e) == Some("ValidationError") && format!("{e:?}").contains("does not exist") => Ok(None),
        Err(e) => Err(e).aws(&format!("describing stack {name}")),
    }
}

pub fn status(stack: &Stack) -> &str {
    stack.stack_status().map_or("UNKNOWN", |s| s.as_str())
}

/// How a stack operation ended, read from the stack's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Running,
    Done,
    /// The operation failed and CloudFormation put the stack back as it was.
    RolledBack,
    /// The operation failed and nothing was put back (or putting it back failed too).
    Failed,
}

pub fn settled(status: &str) -> Settled {
    if status.ends_with("_IN_PROGRESS") {
        return Settled::Running;
    }
    match status {
        "ROLLBACK_COMPLETE" | "UPDATE_ROLLBACK_COMPLETE" | "IMPORT_ROLLBACK_COMPLETE" => Settled::RolledBack,
        s if s.ends_with("_FAILED") => Settled::Failed,
        _ => Settled::Done,
    }
}

/// The outputs of a stage's deployed stack; no stack is an error that says to deploy first.
pub async fn deployed_outputs(aws: &Aws, stage: &crate::stage::Stage) -> Result<BTreeMap<String, String>> {
    let (stack_name, name) = (stage.id.stack(), stage.id.stage());
    let Some(stack) = describe(&aws.cloudformation(), stack_name).await? else {
        anyhow::bail!("there is no stack {stack_name}; deploy it first (`cargo xtask deploy {name}`)");
    };
    outputs(aws, &stack).await
}

/// The stack's resources: logical id → physical id (what `!Ref` gives for buckets, tables, topics).
pub async fn physical_ids(aws: &Aws, stack: &str) -> Result<BTreeMap<String, String>> {
    let resources =
        aws.cloudformation().describe_stack_resources().stack_name(stack).send().await.aws("listing the stack's resources")?;
    Ok(resources
        .stack_resources()
        .iter()
        .filter_map(|r| Some((r.logical_resource_id()?.to_string(), r.physical_resource_id()?.to_string())))
        .collect())
}

/// The stack's outputs. A stack the emulator created through a change set reports none, so there
/// each `!Ref` output of the deployed template is resolved from the stack's resources instead.
pub async fn outputs(aws: &Aws, stack: &Stack) -> Result<BTreeMap<String, String>> {
    let reported: BTreeMap<String, String> =
        stack.outputs().iter().filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string()))).collect();
    if !reported.is_empty() || aws.endpoint.is_none() {
        return Ok(reported);
    }
    let name = stack.stack_id().or(stack.stack_name()).unwrap_or_default();
    let cfn = aws.cloudformation();
    let template = cfn.get_template().stack_name(name).send().await.aws("reading the deployed template")?;
    let physical = physical_ids(aws, name).await?;
    let parameters: BTreeMap<&str, &str> =
        stack.parameters().iter().filter_map(|p| Some((p.parameter_key()?, p.parameter_value()?))).collect();
    let template: Value = serde_norway::from_str(template.template_body().unwrap_or_default())?;
    Ok(ref_outputs(&template, |id| physical.get(id).cloned().or_else(|| parameters.get(id).map(|v| v.to_string()))))
}

/// Outputs whose value is a plain `!Ref` (or `{"Ref": ..}`), resolved by `lookup`.
fn ref_outputs(template: &Value, lookup: impl Fn(&str) -> Option<String>) -> BTreeMap<String, String> {
    let Some(outputs) = template.get("Outputs").and_then(Value::as_mapping) else { return BTreeMap::new() };
    outputs
        .iter()
        .filter_map(|(key, output)| {
            let value = output.get("Value")?;
            let target = match value {
                Value::Tagged(t) if t.tag == "Ref" => t.value.as_str()?,
                Value::Mapping(m) => m.get("Ref")?.as_str()?,
                _ => return None,
            };
            Some((key.as_str()?.to_string(), lookup(target)?))
        })
        .collect()
}

/// Reads a stack's new events as they come, oldest first.
pub struct Events {
    stack_id: String,
    /// The newest event already seen; `None` before the first read.
    last: Option<String>,
}

impl Events {
    /// Starts after the newest event the stack has now, so only what follows is reported.
    pub async fn after_now(cfn: &Client, stack_id: &str) -> Result<Events> {
        let mut events = Events { stack_id: stack_id.to_string(), last: None };
        let page = cfn.describe_stack_events().stack_name(stack_id).send().await.aws("reading stack events")?;
        events.last = page.stack_events().first().and_then(|e| e.event_id()).map(str::to_string);
        Ok(events)
    }

    pub async fn next(&mut self, cfn: &Client) -> Result<Vec<StackEvent>> {
        let mut fresh = Vec::new();
        let mut pages = cfn.describe_stack_events().stack_name(&self.stack_id).into_paginator().items().send();
        while let Some(event) = pages.next().await {
            let event = event.aws("reading stack events")?;
            if event.event_id().is_some() && event.event_id() == self.last.as_deref() {
                break;
            }
            fresh.push(event);
        }
        if let Some(newest) = fresh.first().and_then(|e| e.event_id()) {
            self.last = Some(newest.to_string());
        }
        fresh.reverse();
        Ok(fresh)
    }
}

/// What a wait reports as it goes.
pub enum Watch<'a> {
    Event(&'a StackEvent),
    /// The stack's status at a poll that found it still running.
    Running(&'a str),
}

/// Polls the stack until its operation settles, passing each new event and each running status
/// to `on`; returns the settled stack.
pub async fn wait(
    cfn: &Client,
    stack_id: &str,
    events: &mut Events,
    poll: Duration,
    mut on: impl FnMut(Watch<'_>),
) -> Result<Stack> {
    loop {
        for event in events.next(cfn).await? {
            on(Watch::Event(&event));
        }
        let current = cfn.describe_stacks().stack_name(stack_id).send().await.aws("reading the stack's status")?;
        let Some(current) = current.stacks().first().cloned() else {
            anyhow::bail!("the stack {stack_id} disappeared while waiting for it");
        };
        if settled(status(&current)) != Settled::Running {
            // Events written between the last read and the final status.
            for event in events.next(cfn).await? {
                on(Watch::Event(&event));
            }
            return Ok(current);
        }
        on(Watch::Running(status(&current)));
        tokio::time::sleep(poll).await;
    }
}

/// How often to ask: the emulator answers at once, CloudFormation takes seconds per step.
pub fn poll_interval(aws: &Aws) -> Duration {
    aws.poll(Duration::from_secs(3))
}

/// `BucketLogical  AWS::S3::Bucket  CREATE_FAILED  reason`
pub fn event_line(e: &StackEvent) -> String {
    format!(
        "{:<28} {:<34} {:<22} {}",
        e.logical_resource_id().unwrap_or("?"),
        e.resource_type().unwrap_or(""),
        e.resource_status().map_or("", |s| s.as_str()),
        e.resource_status_reason().unwrap_or("")
    )
}

/// The first resources that failed, with CloudFormation's reasons; the cancellations that
/// follow a failure are noise.
pub fn failures(events: &[StackEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|e| e.resource_status().is_some_and(|s| s.as_str().ends_with("_FAILED")))
        .filter(|e| e.logical_resource_id() != e.stack_name())
        .filter_map(|e| Some((e.logical_resource_id()?.to_string(), e.resource_status_reason()?.to_string())))
        .filter(|(_, reason)| !reason.contains("Resource creation cancelled") && !reason.contains("Resource update cancelled"))
        .take(5)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_settle_as_cloudformation_means_them() {
        for (status, want) in [
            ("CREATE_IN_PROGRESS", Settled::Running),
            ("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", Settled::Running),
            ("CREATE_COMPLETE", Settled::Done),
            ("UPDATE_COMPLETE", Settled::Done),
            ("DELETE_COMPLETE", Settled::Done),
            ("ROLLBACK_COMPLETE", Settled::RolledBack),
            ("UPDATE_ROLLBACK_COMPLETE", Settled::RolledBack),
            ("CREATE_FAILED", Settled::Failed),
            ("ROLLBACK_FAILED", Settled::Failed),
            ("UPDATE_ROLLBACK_FAILED", Settled::Failed),
            ("DELETE_FAILED", Settled::Failed),
        ] {
            assert_eq!(settled(status), want, "{status}");
        }
    }

    #[test]
    fn ref_outputs_resolve_and_others_are_left_out() {
        let template: Value = serde_norway::from_str(
            "Outputs:\n  A: {Value: !Ref Bucket}\n  B: {Value: {Ref: Stage}}\n  C: {Value: !GetAtt Dist.DomainName}\n  D: {Value: !Ref Missing}\n",
        )
        .unwrap();
        let got = ref_outputs(&template, |id| match id {
            "Bucket" => Some("bucket-1".into()),
            "Stage" => Some("local".into()),
            _ => None,
        });
        assert_eq!(got, BTreeMap::from([("A".into(), "bucket-1".into()), ("B".into(), "local".into())]));
    }

    #[test]
    fn failures_skip_cancellations_and_the_stack_itself() {
        use aws_sdk_cloudformation::types::ResourceStatus;
        let event = |id: &str, status: ResourceStatus, reason: &str| {
            StackEvent::builder()
                .stack_name("s")
                .logical_resource_id(id)
                .resource_status(status)
                .resource_status_reason(reason)
                .build()
        };
        let events = [
            event("Table", ResourceStatus::CreateFailed, "Table already exists"),
            event("Queue", ResourceStatus::CreateFailed, "Resource creation cancelled"),
            event("Queue", ResourceStatus::CreateComplete, ""),
            event("s", ResourceStatus::RollbackInProgress, "The following resource(s) failed to create: [Table]."),
        ];
        assert_eq!(failures(&events), [("Table".to_string(), "Table already exists".to_string())]);
    }
}
