//! The functions' CodeDeploy rollouts, followed while CloudFormation waits for them: each one's
//! progress as it changes, and at its end whether the new version took all the traffic or was
//! rolled back, and by which alarm or hook. CloudFormation reports only that the alias's update
//! failed; this says why.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use aws_sdk_codedeploy::Client;
use aws_sdk_codedeploy::types::{DeploymentInfo, DeploymentStatus, ErrorCode, TimeRange};
use serde::Serialize;

use crate::aws::AwsContext;

/// How long a rollout is followed after the change set has ended (CloudFormation waits for its
/// rollouts, so one still running then is one it gave up on).
pub const GRACE: Duration = Duration::from_secs(120);

/// How one rollout ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    /// CodeDeploy moved the alias back: `why` names the alarm or the hook, or quotes CodeDeploy.
    RolledBack {
        why: String,
    },
    /// Still running when the wait ran out (`GRACE` after the change set ended).
    TimedOut {
        status: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Followed {
    pub group: String,
    pub deployment_id: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

async fn deployment(codedeploy: &Client, id: &str) -> Result<DeploymentInfo> {
    let got = codedeploy.get_deployment().deployment_id(id).send().await.aws(&format!("reading CodeDeploy deployment {id}"))?;
    got.deployment_info.ok_or_else(|| anyhow::anyhow!("CodeDeploy has no deployment {id}"))
}

/// The outcome of a deployment that has ended; `None` while it runs.
fn ended(info: &DeploymentInfo, alarms: &[String]) -> Option<Outcome> {
    match info.status()? {
        DeploymentStatus::Succeeded => Some(Outcome::Succeeded),
        DeploymentStatus::Failed | DeploymentStatus::Stopped => Some(Outcome::RolledBack { why: why(info, alarms) }),
        _ => None,
    }
}

/// What stopped a deployment, in the on-call's words: the alarms of the group that CodeDeploy's
/// message names (it lists the activated ones), the hook, or CodeDeploy's own message.
fn why(info: &DeploymentInfo, alarms: &[String]) -> String {
    let error = info.error_information();
    let message = error.and_then(|e| e.message()).unwrap_or("CodeDeploy gave no reason");
    match error.and_then(|e| e.code()) {
        Some(ErrorCode::AlarmActive) => {
            let fired: Vec<&str> = alarms.iter().map(String::as_str).filter(|a| message.contains(a)).collect();
            if fired.is_empty() {
                format!("an alarm of the deployment group fired: {message}")
            } else {
                format!("the alarm {} fired", fired.join(" and "))
            }
        }
        Some(ErrorCode::HookExecutionFailure) => format!("the pre-traffic hook failed: {message}"),
        _ => message.to_string(),
    }
}

/// Every deployment of `application` that began after `since`, followed to its end while `apply`
/// runs; the rollouts seen, each with how it ended.
pub async fn watch(
    codedeploy: &Client,
    application: &str,
    since: aws_sdk_codedeploy::primitives::DateTime,
    poll: Duration,
    grace: Duration,
    mut done: tokio::sync::watch::Receiver<bool>,
) -> Result<Vec<Followed>> {
    let groups = codedeploy
        .list_deployment_groups()
        .application_name(application)
        .send()
        .await
        .aws(&format!("listing the deployment groups of {application}"))?
        .deployment_groups
        .unwrap_or_default();
    let mut alarms = BTreeMap::new();
    for group in &groups {
        let info = codedeploy
            .get_deployment_group()
            .application_name(application)
            .deployment_group_name(group)
            .send()
            .await
            .aws(&format!("reading the deployment group {group}"))?;
        let names = info
            .deployment_group_info()
            .and_then(|g| g.alarm_configuration())
            .map(|a| a.alarms().iter().filter_map(|a| a.name().map(str::to_string)).collect())
            .unwrap_or_default();
        alarms.insert(group.clone(), names);
    }
    let mut seen: BTreeMap<String, (String, Option<DeploymentStatus>, Option<Outcome>)> = BTreeMap::new();
    // Once the change set has ended, a rollout still running is waited for this long, no more.
    let mut grace_ends: Option<Instant> = None;
    loop {
        let finishing = *done.borrow();
        if finishing && grace_ends.is_none() {
            grace_ends = Some(Instant::now() + grace);
        }
        for group in &groups {
            let listed = codedeploy
                .list_deployments()
                .application_name(application)
                .deployment_group_name(group)
                .create_time_range(TimeRange::builder().start(since).build())
                .send()
                .await
                .aws(&format!("listing the deployments of {group}"))?;
            for id in listed.deployments() {
                seen.entry(id.clone()).or_insert_with(|| {
                    eprintln!("rollout: {group} {id} started");
                    (group.clone(), None, None)
                });
            }
        }
        for (id, (group, status, outcome)) in seen.iter_mut().filter(|(_, (_, _, o))| o.is_none()) {
            let info = deployment(codedeploy, id).await?;
            if info.status() != status.as_ref() {
                *status = info.status().cloned();
                eprintln!("rollout: {group} {id} {}", status.as_ref().map_or("unknown", DeploymentStatus::as_str));
            }
            *outcome = ended(&info, alarms.get(group).map_or(&[][..], Vec::as_slice));
            if let Some(Outcome::RolledBack { why }) = outcome {
                eprintln!("rollout: {group} rolled back: {why}");
            }
        }
        let running = seen.values().any(|(_, _, o)| o.is_none());
        if finishing && (!running || grace_ends.is_some_and(|g| Instant::now() >= g)) {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = done.changed(), if !finishing => {}
        }
    }
    Ok(seen
        .into_iter()
        .map(|(deployment_id, (group, status, outcome))| Followed {
            group,
            deployment_id,
            outcome: outcome.unwrap_or(Outcome::TimedOut { status: status.map_or("unknown".into(), |s| s.as_str().to_string()) }),
        })
        .collect())
}

#[cfg(test)]
mod tests;
