//! `cargo xtask teardown <stage>`: empty every bucket the stack owns (all versions and delete
//! markers), delete the stack as the stage's execution role and wait, then the same for its
//! certificate stack and its pipeline stack; with `--all` also the stage's zips in the artifacts
//! bucket and its bootstrap stack (the bucket itself once no stage has anything in it). What the
//! stage retains by policy stays, untouched and named, and the run ends with what remains and the
//! command that removes it. A stage that does not exist is already torn down.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use aws_sdk_s3::Client;
use aws_sdk_s3::types::ObjectIdentifier;
use serde::Serialize;
use serde_norway::Value;

use crate::aws::{Aws, AwsContext, code};
use crate::cfn::Opened;
use crate::cfn::stack::{self, Events, Watch};
use crate::exit::{Exit, Stop};
use crate::flags::TeardownArgs;

/// How many times a stack's deletion is tried again when a bucket got new objects meanwhile
/// (S3 delivers server access logs minutes late, into a log bucket the stack is deleting).
const ATTEMPTS: usize = 5;

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
    /// The stage's other stacks, in the order they went: certificate, pipeline, bootstrap.
    pub also: Vec<Report>,
    /// What is left of the stage, each with the command that removes it.
    pub remains: Vec<String>,
}

pub fn run(args: &TeardownArgs) -> Result<Exit> {
    let name = &args.target.stage;
    let stage = args.target.load()?;
    if args.ephemeral {
        only_ephemeral(&stage, "torn down")?;
    }
    // Before any call: a protected stage goes only when the operator names it.
    crate::cfn::protection::confirm_teardown(&stage, args.confirm_protected.as_deref())?;
    // Naming the stage says more than --yes; its stacks' termination protection comes off.
    let (yes, unprotect) = (args.yes || stage.protected, stage.protected);
    let started = Instant::now();
    crate::aws::block_on(async {
        let opened = Opened::open(stage).await?;
        let (stage, aws, account) = (&opened.stage, &opened.aws, &opened.account);
        let stack_name = stage.id.stack().to_string();
        // The stacks deploy made run as the execution role; so does their deletion, which the
        // deploy policy allows only that way. Without bootstrap they were made some other way.
        let bootstrapped = opened.deploy_path(None).await.ok();
        let role = bootstrapped.as_ref().map(|p| p.execution_role.clone());
        let mut report = Report { stack: stack_name.clone(), ..Report::default() };
        teardown(aws, &mut report, yes, role.as_deref(), unprotect).await?;
        // The us-east-1 stacks go after the distribution that uses their certificate and web ACL.
        for companion in crate::template::us_east_1(stage) {
            let mut edge = Report { stack: companion.stack, ..Report::default() };
            teardown(&aws.in_region("us-east-1"), &mut edge, yes || report.existed, role.as_deref(), unprotect).await?;
            report.also.push(edge);
        }
        // An administrator made the pipeline and bootstrap stacks, with their own rights.
        let mut pipeline = Report { stack: stage.id.pipeline_stack(), ..Report::default() };
        teardown(aws, &mut pipeline, yes, None, unprotect).await?;
        report.also.push(pipeline);
        let bucket = opened.names().artifacts_bucket();
        if args.all {
            let removed = empty_prefix(&aws.s3(), &bucket, &stage.id.artifacts_prefix()).await?;
            eprintln!("teardown: removed {removed} object versions under s3://{bucket}/{}", stage.id.artifacts_prefix());
            let mut bootstrap = Report { stack: stage.id.bootstrap_stack(), ..Report::default() };
            teardown(aws, &mut bootstrap, yes, None, unprotect).await?;
            report.also.push(bootstrap);
        } else if bootstrapped.is_some() {
            report.remains.push(format!(
                "the stack {} (the stage's execution role, boundary and deploy policy): `cargo xtask teardown {name} --all`",
                stage.id.bootstrap_stack()
            ));
        }
        report.remains.extend(artifacts_remain(&aws.s3(), &bucket, account, args.all, name).await?);
        let retained: Vec<String> = std::iter::once(&report)
            .chain(&report.also)
            .flat_map(|r| &r.retained)
            .map(|(id, ty, physical)| {
                format!(
                    "{physical} ({ty} {id}), retained by the stage's `retention.on_delete: retain`: {}",
                    removal(ty, physical)
                )
            })
            .collect();
        report.remains.extend(retained);
        if report.remains.is_empty() {
            eprintln!("teardown: nothing of {stack_name} remains");
        }
        for what in &report.remains {
            eprintln!("teardown: remains: {what}");
        }
        report.seconds = started.elapsed().as_secs_f64();
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Ok(Exit::Success)
    })
}

/// Whether a failed deletion is tried again: only when what failed is buckets the stack owns and
/// teardown empties (new objects arrived), and attempts are left. moto deletes a stack whose bucket
/// is not empty (and keeps the bucket), so this is held by a unit test, not the emulator.
fn again(attempt: usize, failed_buckets: &[String], emptied: &[String]) -> bool {
    attempt < ATTEMPTS && !failed_buckets.is_empty() && failed_buckets.iter().all(|b| emptied.contains(b))
}

/// The command that removes a retained resource of the types the stage retains.
fn removal(ty: &str, physical: &str) -> String {
    match ty {
        "AWS::S3::Bucket" => format!("empty it (every version), then `aws s3api delete-bucket --bucket {physical}`"),
        "AWS::DynamoDB::Table" => format!("`aws dynamodb delete-table --table-name {physical}`"),
        "AWS::Logs::LogGroup" => format!("`aws logs delete-log-group --log-group-name {physical}`"),
        "AWS::KMS::Key" => format!("`aws kms schedule-key-deletion --key-id {physical}`"),
        _ => "delete it in the console".into(),
    }
}

/// The account's artifacts bucket, when it is still there: shared by every stage of the account
/// and region, so it goes only once it is empty (`--all` of the last stage deletes it).
async fn artifacts_remain(s3: &Client, bucket: &str, account: &str, all: bool, stage: &str) -> Result<Vec<String>> {
    match crate::cfn::artifacts::exists(s3, bucket, account).await {
        Ok(true) => {}
        Ok(false) => return Ok(vec![]),
        // Someone else's bucket is not the stage's to report or remove.
        Err(_) => return Ok(vec![]),
    }
    // The stages that still have zips there: the first key segment of every object.
    let listed = s3.list_objects_v2().bucket(bucket).expected_bucket_owner(account).delimiter("/").send().await;
    let listed = listed.aws(&format!("listing {bucket}"))?;
    let mut stacks: Vec<String> =
        listed.common_prefixes().iter().filter_map(|p| p.prefix()).map(|p| p.trim_end_matches('/').to_string()).collect();
    if stacks.is_empty() && all {
        // Old versions count too; only an administrator (`--all`) may list them.
        let versions = s3.list_object_versions().bucket(bucket).expected_bucket_owner(account).max_keys(1).send().await;
        let versions = versions.aws(&format!("listing versions in {bucket}"))?;
        if !versions.versions().is_empty() || !versions.delete_markers().is_empty() {
            stacks.push("(old versions only)".into());
        }
    }
    if stacks.is_empty() && all {
        s3.delete_bucket().bucket(bucket).expected_bucket_owner(account).send().await.aws(&format!("deleting {bucket}"))?;
        eprintln!("teardown: deleted the artifacts bucket {bucket}: no stage has anything in it");
        return Ok(vec![]);
    }
    Ok(vec![if stacks.is_empty() {
        format!("the account's artifacts bucket {bucket}, empty: `cargo xtask teardown {stage} --all` deletes it")
    } else {
        format!(
            "the account's artifacts bucket {bucket}, shared: it holds the zips of {}; `cargo xtask teardown <stage> --all` \
             of each removes them, and the last one the bucket",
            stacks.join(", ")
        )
    }])
}

/// `--ephemeral` (deploy's and teardown's): only a stage named `pr<number>`, which keeps nothing
/// (`Stage::load`), whatever value a CI recipe was handed.
pub fn only_ephemeral(stage: &crate::stage::Stage, what: &str) -> Result<()> {
    if stage.id.is_ephemeral() {
        return Ok(());
    }
    Err(Stop::new(
        Exit::Usage,
        format!(
            "--ephemeral takes only a stage named {}<number> (a pull request's), and {} is not one: nothing was {what}",
            crate::stage::EPHEMERAL_PREFIX,
            stage.id.stage()
        ),
    )
    .into())
}

/// `unprotect`: the stage is protected and its operator named it, so termination protection
/// comes off before the deletion.
pub async fn teardown(aws: &Aws, report: &mut Report, yes: bool, role: Option<&str>, unprotect: bool) -> Result<()> {
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
        if stays(ty, policies.get(id).map(String::as_str)) {
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
    if unprotect && found.enable_termination_protection() == Some(true) {
        crate::cfn::protection::unprotect(&cfn, &stack_id).await?;
        eprintln!("teardown: switched off termination protection of {}", report.stack);
    }
    let s3 = aws.s3();
    for attempt in 1..=ATTEMPTS {
        for bucket in &buckets {
            let removed = empty(&s3, bucket).await?;
            if attempt == 1 || removed > 0 {
                eprintln!("teardown: emptied {bucket} ({removed} object versions and delete markers)");
            }
            *report.emptied.entry(bucket.clone()).or_default() += removed;
        }
        let mut events = Events::after_now(&cfn, &stack_id).await?;
        match cfn.delete_stack().stack_name(&stack_id).set_role_arn(role.map(str::to_string)).send().await {
            Ok(_) => {}
            Err(e) if role.is_none() && code(&e).is_some_and(|c| c.contains("AccessDenied")) => bail!(
                "{} was made with administrator rights (bootstrap or pipeline), and these credentials may not delete it: \
                 run the same teardown with an administrator's",
                report.stack
            ),
            Err(e) => return Err(e).aws("deleting the stack"),
        }
        let mut full_buckets = Vec::new();
        let deleted = stack::wait(&cfn, &stack_id, &mut events, stack::poll_interval(aws), |watch| {
            if let Watch::Event(event) = watch {
                eprintln!("teardown: {}", stack::event_line(event));
                let failed = event.resource_status().is_some_and(|s| s.as_str() == "DELETE_FAILED");
                if failed && event.resource_type() == Some("AWS::S3::Bucket") {
                    full_buckets.extend(event.physical_resource_id().map(str::to_string));
                }
            }
        })
        .await?;
        let status = stack::status(&deleted).to_string();
        report.status = Some(status.clone());
        if status == "DELETE_COMPLETE" {
            break;
        }
        if again(attempt, &full_buckets, &buckets) {
            eprintln!(
                "teardown: {} got objects while the stack was being deleted (S3 delivers access logs late); \
                 emptying again (attempt {} of {ATTEMPTS})",
                full_buckets.join(", "),
                attempt + 1
            );
            continue;
        }
        bail!(
            "deleting {} ended in {status}; `cargo xtask status <stage>` shows which resource failed and why. \
             Fix that, then run teardown again",
            report.stack
        );
    }
    eprintln!("teardown: {} deleted", report.stack);
    Ok(())
}

/// Logical id → `DeletionPolicy` in the template the stack was deployed with.
/// Whether a resource outlives the stack's deletion: its `DeletionPolicy` says so, except for a
/// Lambda version, which is retained only so that an update never deletes one a rollback may need,
/// and goes with its function.
fn stays(ty: &str, policy: Option<&str>) -> bool {
    ty != "AWS::Lambda::Version" && policy.is_some_and(|p| p != "Delete")
}

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
    empty_prefix(s3, bucket, "").await
}

/// Deletes every version and delete marker under `prefix` (all of them for `""`; the stage's part
/// of the shared artifacts bucket for `<stack>/`); returns how many. A missing bucket holds nothing.
async fn empty_prefix(s3: &Client, bucket: &str, prefix: &str) -> Result<u64> {
    let mut removed = 0;
    loop {
        let prefix = Some(prefix.to_string()).filter(|p| !p.is_empty());
        let page = match s3.list_object_versions().bucket(bucket).set_prefix(prefix.clone()).max_keys(1000).send().await {
            Ok(page) => page,
            Err(e) if code(&e) == Some("NoSuchBucket") => return Ok(removed),
            Err(e) => return Err(e).aws(&format!("listing versions in {bucket}/{}", prefix.unwrap_or_default())),
        };
        let objects = identifiers(&page);
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

fn identifiers(page: &aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput) -> Vec<ObjectIdentifier> {
    let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
    let markers = page.delete_markers().iter().map(|m| (m.key(), m.version_id()));
    versions
        .chain(markers)
        .filter_map(|(key, version)| {
            ObjectIdentifier::builder().key(key?).set_version_id(version.map(str::to_string)).build().ok()
        })
        .collect()
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_retained_version_goes_with_its_function() {
        assert!(!super::stays("AWS::Lambda::Version", Some("Retain")));
        assert!(super::stays("AWS::S3::Bucket", Some("Retain")));
        assert!(!super::stays("AWS::S3::Bucket", Some("Delete")) && !super::stays("AWS::S3::Bucket", None));
    }

    use super::*;

    #[test]
    fn a_bucket_that_got_late_objects_is_emptied_and_deleted_again() {
        let logs = vec!["s-logs-1".to_string()];
        assert!(again(1, &logs, &logs), "late access logs: once more");
        assert!(again(ATTEMPTS - 1, &logs, &logs));
        assert!(!again(ATTEMPTS, &logs, &logs), "at most {ATTEMPTS} attempts");
        assert!(!again(1, &[], &logs), "something other than a bucket failed: no retry can help");
        assert!(!again(1, &["retained-or-foreign".to_string()], &logs), "a bucket teardown does not empty");
    }
}
