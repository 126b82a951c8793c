//! `cargo xtask teardown <stage>`: empty every bucket the stack owns (all versions and delete
//! markers), delete the stack and wait. What the stage retains by policy stays, untouched and
//! named. A stage that does not exist is already torn down.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use aws_sdk_s3::Client;
use aws_sdk_s3::types::ObjectIdentifier;
use serde::Serialize;
use serde_norway::Value;

use crate::aws::{Aws, AwsContext, code};
use crate::flags::{Exit, Stop, TeardownArgs};
use crate::stack::{self, Events, Watch};

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub stack: String,
    pub existed: bool,
    pub status: Option<String>,
    /// Bucket → object versions and delete markers removed.
    pub emptied: BTreeMap<String, u64>,
    /// Resources left in place by their `DeletionPolicy`: (logical id, type, physical id).
    pub retained: Vec<(String, String, String)>,
    pub seconds: f64,
}

pub fn run(args: &TeardownArgs) -> Result<Exit> {
    let name = &args.target.stage;
    let stage = args.target.load()?;
    let started = Instant::now();
    crate::aws::block_on(async {
        let aws = Aws::connect(&stage).await?;
        let mut report = Report { stack: stage.stack_name(name), ..Report::default() };
        teardown(&aws, &mut report, args.yes).await?;
        // The certificate stack goes after the stack that uses its certificate.
        if stage.domain.as_ref().is_some_and(|d| d.certificate_arn.is_none()) {
            let mut cert = Report { stack: format!("{}-certificate", report.stack), ..Report::default() };
            teardown(&aws.in_region("us-east-1"), &mut cert, true).await?;
        }
        report.seconds = started.elapsed().as_secs_f64();
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Ok(Exit::Success)
    })
}

pub async fn teardown(aws: &Aws, report: &mut Report, yes: bool) -> Result<()> {
    let cfn = aws.cloudformation();
    let Some(found) = stack::describe(&cfn, &report.stack).await? else {
        eprintln!("teardown: there is no stack {}; nothing to do", report.stack);
        return Ok(());
    };
    report.existed = true;
    let stack_id = found.stack_id().unwrap_or(&report.stack).to_string();
    let policies = deletion_policies(&cfn, &stack_id).await?;
    let mut buckets = Vec::new();
    let mut pages = cfn.list_stack_resources().stack_name(&stack_id).into_paginator().items().send();
    while let Some(resource) = pages.next().await {
        let resource = resource.aws("listing the stack's resources")?;
        let (Some(id), Some(ty), Some(physical)) =
            (resource.logical_resource_id(), resource.resource_type(), resource.physical_resource_id())
        else {
            continue;
        };
        if policies.get(id).is_some_and(|p| p != "Delete") {
            report.retained.push((id.to_string(), ty.to_string(), physical.to_string()));
        } else if ty == "AWS::S3::Bucket" {
            buckets.push(physical.to_string());
        }
    }
    if !yes {
        let question =
            format!("Delete stack {} and every object in {} bucket(s) ({})?", report.stack, buckets.len(), buckets.join(", "));
        if !crate::ui::interactive() {
            return Err(Stop::new(
                Exit::Usage,
                format!("{question} No one is here to confirm (CI is set or there is no terminal). Re-run with --yes."),
            )
            .into());
        }
        if !crate::ui::confirm(&question) {
            return Err(Stop::new(Exit::Declined, "declined; nothing was deleted").into());
        }
    }
    let s3 = aws.s3();
    for bucket in &buckets {
        let removed = empty(&s3, bucket).await?;
        eprintln!("teardown: emptied {bucket} ({removed} object versions and delete markers)");
        report.emptied.insert(bucket.clone(), removed);
    }
    let mut events = Events::after_now(&cfn, &stack_id).await?;
    cfn.delete_stack().stack_name(&stack_id).send().await.aws("deleting the stack")?;
    let deleted = stack::wait(&cfn, &stack_id, &mut events, stack::poll_interval(aws), |watch| {
        if let Watch::Event(event) = watch {
            eprintln!("teardown: {}", stack::event_line(event));
        }
    })
    .await?;
    let status = stack::status(&deleted).to_string();
    report.status = Some(status.clone());
    if status != "DELETE_COMPLETE" {
        bail!(
            "deleting {} ended in {status}; `cargo xtask status <stage>` shows which resource failed and why. \
             Fix that, then run teardown again",
            report.stack
        );
    }
    eprintln!("teardown: {} deleted", report.stack);
    for (id, ty, physical) in &report.retained {
        eprintln!("teardown: retained by policy: {id} ({ty}) {physical}");
    }
    Ok(())
}

/// Logical id → `DeletionPolicy` in the template the stack was deployed with.
async fn deletion_policies(cfn: &aws_sdk_cloudformation::Client, stack_id: &str) -> Result<BTreeMap<String, String>> {
    let template = cfn.get_template().stack_name(stack_id).send().await.aws("reading the deployed template")?;
    let template: Value =
        serde_norway::from_str(template.template_body().unwrap_or_default()).context("parsing the deployed template")?;
    let Some(resources) = template.get("Resources").and_then(Value::as_mapping) else { return Ok(BTreeMap::new()) };
    Ok(resources
        .iter()
        .filter_map(|(id, body)| Some((id.as_str()?.to_string(), body.get("DeletionPolicy")?.as_str()?.to_string())))
        .collect())
}

/// Deletes every object version and delete marker, 1,000 per request; returns how many.
pub async fn empty(s3: &Client, bucket: &str) -> Result<u64> {
    let mut removed = 0;
    loop {
        let page = match s3.list_object_versions().bucket(bucket).max_keys(1000).send().await {
            Ok(page) => page,
            Err(e) if code(&e) == Some("NoSuchBucket") => return Ok(removed),
            Err(e) => return Err(e).aws(&format!("listing versions in {bucket}")),
        };
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
        let objects = versions
            .chain(markers)
            .filter_map(|(key, version)| {
                ObjectIdentifier::builder().key(key?).set_version_id(version.map(str::to_string)).build().ok()
            })
            .collect::<Vec<_>>();
        if objects.is_empty() {
            return Ok(removed);
        }
        let count = objects.len() as u64;
        let refused = crate::aws::delete_objects(s3, bucket, objects).await?;
        if !refused.is_empty() {
            return Err(refuse_locked(s3, bucket, &refused).await);
        }
        removed += count;
    }
}

/// Objects that would not go: explain object lock when that is the reason.
async fn refuse_locked(s3: &Client, bucket: &str, errors: &[aws_sdk_s3::types::Error]) -> anyhow::Error {
    let locked = s3
        .get_object_lock_configuration()
        .bucket(bucket)
        .send()
        .await
        .ok()
        .and_then(|c| c.object_lock_configuration().and_then(|c| c.object_lock_enabled()).map(|e| e.as_str() == "Enabled"))
        .unwrap_or(false);
    let first = &errors[0];
    let sample = format!("{} ({}: {})", first.key().unwrap_or("?"), first.code().unwrap_or("?"), first.message().unwrap_or("?"));
    if locked {
        anyhow::anyhow!(
            "object lock holds {} object version(s) in {bucket}, e.g. {sample}; the stack was left in place. \
             Wait until their retention ends (or remove legal holds), then run teardown again",
            errors.len()
        )
    } else {
        anyhow::anyhow!(
            "{} object version(s) in {bucket} could not be deleted, e.g. {sample}; the stack was left in place",
            errors.len()
        )
    }
}
