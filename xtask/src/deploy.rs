//! `cargo xtask deploy <stage>` and `cargo xtask diff <stage>`: render, package, upload the
//! zips, a change set shown as a table, then (deploy only) execute it with live events, upload
//! `site/` and invalidate CloudFront. Every run ends with one report; its exit code says how
//! far it got (see `flags::Exit`).

pub(crate) mod artifacts;
mod changeset;
mod execute;
mod report;

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_norway::Value;

use crate::aws::Aws;
use crate::flags::{DeployArgs, DiffArgs, Exit, StageArgs, Stop, exit_of};
use crate::invalidate::AVATARS;
use crate::site::Synced;
use crate::stack::Settled;
pub(crate) use artifacts::TEMPLATE_BODY_LIMIT;
pub(crate) use changeset::{StackSpec, Template};
pub(crate) use report::Report;
use report::{failed_message, summary};

/// Options that decide how far a run goes.
pub(crate) struct Mode {
    pub execute: bool,
    pub yes: bool,
    pub invalidate: bool,
    pub invalidation_wait: std::time::Duration,
}

pub fn run(args: &DeployArgs) -> Result<Exit> {
    let mode = Mode {
        execute: true,
        yes: args.yes,
        invalidate: !args.no_invalidate,
        invalidation_wait: std::time::Duration::from_secs(args.invalidation_wait),
    };
    finish(&args.target.stage, "deploy", args.json, async |report| deploy(&args.target, &mode, report).await)
}

pub fn diff(args: &DiffArgs) -> Result<Exit> {
    let mode = Mode { execute: false, yes: false, invalidate: false, invalidation_wait: std::time::Duration::ZERO };
    finish(&args.target.stage, "diff", args.json, async |report| deploy(&args.target, &mode, report).await)
}

/// Runs one verb of the change-set family and ends it the same way: the report on stderr (and
/// as JSON on stdout), errors counted in it, the exit code from `flags::Exit`.
pub(crate) fn finish(stage: &str, verb: &str, json: bool, run: impl AsyncFnOnce(&mut Report) -> Result<Exit>) -> Result<Exit> {
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

async fn deploy(target: &StageArgs, mode: &Mode, report: &mut Report) -> Result<Exit> {
    let name = &target.stage;
    let stage = target.load()?;
    let rendered = timed(report, "render", || crate::render::render(&target.infra_dir(), name, &stage))?;
    let aws = Aws::connect(&stage).await?;
    report.stack = rendered.stack_name.clone();
    report.region = aws.region();
    report.endpoint = aws.endpoint.clone();
    let poll = crate::stack::poll_interval(&aws);
    let template = rendered.file("template.yaml").context("render wrote no template.yaml")?;
    // A template small enough to send inline is checked at once; a larger one once it is in the
    // artifacts bucket, still before any build.
    if template.len() <= artifacts::TEMPLATE_BODY_LIMIT {
        validate_once(&aws, &Template::Body(template.to_string()), template, report).await?;
    }

    // Every change set runs as the stage's execution role; without bootstrap there is none.
    let account = aws.account().await?;
    let names = crate::policy::Names { stack: &rendered.stack_name, region: &stage.region.0, account: &account };
    let documents = rendered.bootstrap_parameters.as_ref().and_then(|p| p.get(crate::bootstrapped::DOCUMENTS_HASH));
    let path = crate::bootstrapped::read(&aws, &names, documents.map(String::as_str)).await?;
    let s3 = aws.s3();
    let bucket = artifacts::bucket_name(&account, &aws.region());
    if !artifacts::exists(&s3, &bucket, &account).await? {
        return Err(Stop::new(
            Exit::Usage,
            format!("the artifacts bucket {bucket} does not exist; `cargo xtask bootstrap {name}` creates it (README, \"Deploying from CI\")"),
        )
        .into());
    }
    let body = if template.len() > artifacts::TEMPLATE_BODY_LIMIT {
        let url = artifacts::upload_template(&s3, &bucket, &account, &aws.region(), &rendered.stack_name, template).await?;
        let body = Template::Url(url);
        validate_once(&aws, &body, template, report).await?;
        body
    } else {
        Template::Body(template.to_string())
    };
    // An emulator stage's template leaves the functions out (`OnAws=false`): `local` runs the
    // handlers in-process, so there is nothing to build, zip or upload.
    let in_process = stage.emulator.is_some();
    if in_process {
        eprintln!("deploy: {name} runs the functions in-process: no release build, no zips (code keys marked {LOCAL_CODE})");
    } else {
        let packaged = timed(report, "package", || crate::package::package(stage.functions.architecture)).map_err(|e| {
            if e.is::<crate::package::Incompatible>() { Stop::new(Exit::Incompatible, format!("{e:#}")).into() } else { e }
        })?;
        let phase = Instant::now();
        report.artifacts = artifacts::upload(&s3, &bucket, &account, &rendered.stack_name, &packaged.functions).await?;
        for a in &report.artifacts {
            let what = if a.uploaded { "uploaded" } else { "already there" };
            eprintln!("deploy: {:<10} s3://{bucket}/{} version {} ({what})", a.function, a.key, a.version_id);
        }
        report.artifacts_bucket = Some(bucket.clone());
        report.timings.insert("artifacts", phase.elapsed().as_secs_f64());
    }

    let mut parameters: Vec<(String, String)> = rendered.parameters.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
    if let (Some(cert_template), Some(cert_parameters)) = (rendered.file("certificate.yaml"), &rendered.certificate_parameters) {
        let us_east_1 = aws.in_region("us-east-1");
        let spec = StackSpec {
            name: format!("{}-certificate", rendered.stack_name),
            template: Template::Body(cert_template.to_string()),
            parameters: cert_parameters.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect(),
            tags: rendered.tags.clone().into_iter().collect(),
            role_arn: Some(path.execution_role.clone()),
        };
        report.certificate_stack = Some(spec.name.clone());
        let cfn = us_east_1.cloudformation();
        let phases = ("certificate_changeset", "certificate_execute");
        apply(&cfn, &spec, mode, crate::stack::poll_interval(&us_east_1), phases, report).await?;
        let arn = match crate::stack::describe(&cfn, &spec.name).await? {
            Some(stack) => crate::stack::outputs(&us_east_1, &stack)
                .await?
                .get("CertificateArn")
                .cloned()
                .with_context(|| format!("{} has no CertificateArn output", spec.name))?,
            // A diff of a stage whose certificate stack does not exist yet: the main stack's
            // diff then shows the certificate as to-be-set.
            None => String::new(),
        };
        parameters.push(("CertificateArn".into(), arn));
    }
    let code_bucket = if in_process { LOCAL_CODE } else { bucket.as_str() };
    parameters.extend(deploy_time_parameters(template, code_bucket, in_process, &report.artifacts)?);
    parameters.push(("PermissionsBoundary".into(), path.boundary.clone()));
    let spec = StackSpec {
        name: rendered.stack_name.clone(),
        template: body,
        parameters,
        tags: rendered.tags.clone().into_iter().collect(),
        role_arn: Some(path.execution_role.clone()),
    };

    let cfn = aws.cloudformation();
    let stack_changed = match apply(&cfn, &spec, mode, poll, ("changeset", "execute"), report).await? {
        Applied::Unchanged => {
            eprintln!("deploy: no changes: {} is already what the template and stage say", spec.name);
            report.outcome = "no_changes";
            false
        }
        Applied::Planned(plan) => {
            plan.record(report);
            report.outcome = "planned";
            return Ok(Exit::Success);
        }
        Applied::Deployed(plan, status) => {
            plan.record(report);
            report.status = Some(status);
            report.outcome = "deployed";
            true
        }
    };
    if !mode.execute {
        return Ok(Exit::Success);
    }
    after_deploy(&aws, &spec.name, stack_changed, mode, report).await
}

/// A change set's type (`CREATE`/`UPDATE`) and changes.
pub(crate) struct Plan(String, Vec<changeset::Change>);

impl Plan {
    pub(crate) fn record(self, report: &mut Report) {
        report.change_set_type = Some(self.0);
        report.changes = self.1;
    }
}

impl Applied {
    /// Puts how a stack's change set ended in the report (and says "no changes" for an empty one);
    /// true when it was executed.
    pub(crate) fn record(self, verb: &str, stack: &str, report: &mut Report) -> bool {
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
pub(crate) enum Applied {
    Unchanged,
    /// A diff: the change set was shown and deleted.
    Planned(Plan),
    /// Executed; the stack's final status.
    Deployed(Plan, String),
}

/// One stack through its change set: create, show, then delete it (diff) or confirm and
/// execute it. A decline or a failed execution ends the run as a [`Stop`]; `phases` name the
/// report's timings.
pub(crate) async fn apply(
    cfn: &aws_sdk_cloudformation::Client,
    spec: &StackSpec,
    mode: &Mode,
    poll: std::time::Duration,
    phases: (&'static str, &'static str),
    report: &mut Report,
) -> Result<Applied> {
    let phase = Instant::now();
    let planned = changeset::create(cfn, spec, poll).await?;
    report.timings.insert(phases.0, phase.elapsed().as_secs_f64());
    let Some(set) = planned else { return Ok(Applied::Unchanged) };
    eprint!("{}", changeset::render(&spec.name, &set.changes));
    if !mode.execute {
        changeset::delete(cfn, &set.stack_id, &set.name).await?;
        return Ok(Applied::Planned(Plan(set.kind.as_str().to_string(), set.changes)));
    }
    confirm(cfn, &set, mode, report).await?;
    let phase = Instant::now();
    let done = execute::execute(cfn, &set, poll).await?;
    report.timings.insert(phases.1, phase.elapsed().as_secs_f64());
    let status = crate::stack::status(&done.stack).to_string();
    let plan = Plan(set.kind.as_str().to_string(), set.changes);
    let (exit, outcome) = match done.settled {
        Settled::Done | Settled::Running => return Ok(Applied::Deployed(plan, status)),
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
    mode: &Mode,
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

/// After the stack: outputs, the site, the invalidation. Their failures do not undo the deploy.
async fn after_deploy(aws: &Aws, stack_name: &str, stack_changed: bool, mode: &Mode, report: &mut Report) -> Result<Exit> {
    let cfn = aws.cloudformation();
    let stack = crate::stack::describe(&cfn, stack_name).await?.context("the stack is gone after deploying")?;
    report.status = Some(crate::stack::status(&stack).to_string());
    report.outputs = crate::stack::outputs(aws, &stack).await?;
    let post = |e: anyhow::Error, what: &str| -> anyhow::Error {
        Stop::new(
            Exit::PostDeployFailed,
            format!("the stack is deployed, but {what} failed: {e:#}\n  next: fix the cause and deploy again (the stack part will be a no-op)"),
        )
        .into()
    };
    let phase = Instant::now();
    let site_dir = crate::paths::root().join("site");
    let synced = match report.outputs.get("AssetsBucketName") {
        Some(bucket) if site_dir.is_dir() => {
            let generated: BTreeMap<String, Vec<u8>> =
                crate::site::auth_file(&report.outputs).map(|f| (crate::site::AUTH_FILE.to_string(), f)).into_iter().collect();
            let synced =
                crate::site::sync(&aws.s3(), bucket, &site_dir, &generated).await.map_err(|e| post(e, "uploading site/"))?;
            eprintln!(
                "deploy: site/ → s3://{bucket}/{}: {} uploaded, {} deleted, {} unchanged",
                crate::site::PREFIX,
                synced.uploaded.len(),
                synced.deleted.len(),
                synced.unchanged
            );
            Some(synced)
        }
        Some(_) => {
            eprintln!("deploy: no site/ folder; nothing to upload");
            None
        }
        None => return Err(post(anyhow::anyhow!("no AssetsBucketName output"), "finding the assets bucket")),
    };
    report.timings.insert("site", phase.elapsed().as_secs_f64());
    let stale = synced.as_ref().map(Synced::stale_paths).unwrap_or_default();
    report.site = synced;

    let distribution = report.outputs.get("DistributionId").cloned();
    let wanted = stack_changed || !stale.is_empty();
    match distribution {
        _ if !mode.invalidate => eprintln!("deploy: invalidation skipped (--no-invalidate)"),
        None => eprintln!("deploy: this stage has no CloudFront distribution; nothing to invalidate"),
        Some(_) if !wanted => eprintln!("deploy: nothing changed, so no invalidation"),
        Some(id) => {
            let phase = Instant::now();
            let paths = std::iter::once(AVATARS.to_string()).chain(stale).collect();
            let poll = crate::invalidate::poll(aws);
            let done = crate::invalidate::invalidate(&aws.cloudfront(), &id, paths, mode.invalidation_wait, poll)
                .await
                .map_err(|e| post(e, "the CloudFront invalidation"))?;
            report.timings.insert("invalidate", phase.elapsed().as_secs_f64());
            let exit = crate::invalidate::exit(&done);
            report.invalidation = Some(done);
            return Ok(exit);
        }
    }
    Ok(Exit::Success)
}

/// `ValidateTemplate`, unless this endpoint and region already accepted this exact template.
async fn validate_once(aws: &Aws, body: &Template, template: &str, report: &mut Report) -> Result<()> {
    let phase = Instant::now();
    let marker = validated_marker(aws, template);
    if !marker.exists() {
        changeset::validate(&aws.cloudformation(), body).await?;
        // Best effort: without the marker the next run validates again.
        let _ = std::fs::create_dir_all(marker.parent().unwrap_or(&marker)).and_then(|()| std::fs::write(&marker, ""));
    }
    report.timings.insert("validate", phase.elapsed().as_secs_f64());
    Ok(())
}

/// Remembers that this endpoint and region accepted this exact template, so an unchanged
/// template is not sent to `ValidateTemplate` again (the change set still checks everything).
/// Keyed by template and region, and by AWS or "an emulator": every `local` run starts moto on a
/// new port, and the pinned moto judges a template the same on any of them.
fn validated_marker(aws: &Aws, template: &str) -> std::path::PathBuf {
    use sha2::{Digest, Sha256};
    let target = if aws.endpoint.is_some() { "emulator" } else { "aws" };
    let key = format!("{target}\n{}\n{template}", aws.region());
    crate::paths::target_dir().join("infra/validated").join(hex::encode(Sha256::digest(key.as_bytes())))
}

/// What an in-process stage passes for the artifacts bucket and every code key and version: no
/// zip exists.
pub(crate) const LOCAL_CODE: &str = "local-in-process";

/// `ArtifactsBucket` and each function's `<Function>CodeKey` and `<Function>CodeVersion`, for the
/// parameters the template declares.
fn deploy_time_parameters(
    template: &str,
    bucket: &str,
    in_process: bool,
    uploaded: &[artifacts::Uploaded],
) -> Result<Vec<(String, String)>> {
    let template: Value = serde_norway::from_str(template).context("parsing the rendered template")?;
    let declared: Vec<&str> = template
        .get("Parameters")
        .and_then(Value::as_mapping)
        .map(|m| m.keys().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = vec![("ArtifactsBucket".to_string(), bucket.to_string())];
    for key in declared.iter().filter(|k| k.ends_with("CodeKey") || k.ends_with("CodeVersion")) {
        if in_process {
            out.push(((*key).to_string(), LOCAL_CODE.to_string()));
            continue;
        }
        let zip = uploaded.iter().find_map(|u| {
            if artifacts::code_key_parameter(&u.function) == *key {
                Some(&u.key)
            } else if artifacts::code_version_parameter(&u.function) == *key {
                Some(&u.version_id)
            } else {
                None
            }
        });
        let Some(value) = zip else {
            anyhow::bail!("the template wants {key}, but no function crate under functions/ was packaged for it");
        };
        out.push(((*key).to_string(), value.clone()));
    }
    Ok(out)
}

fn timed<T>(report: &mut Report, phase: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let started = Instant::now();
    let out = f();
    report.timings.insert(phase, started.elapsed().as_secs_f64());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deploy_time_parameters_follow_the_template() {
        let template = "Parameters:\n  ArtifactsBucket: {Type: String}\n  ThumbnailCodeKey: {Type: String}\n  ThumbnailCodeVersion: {Type: String}\n";
        let zip = |f: &str| artifacts::Uploaded {
            function: f.into(),
            key: format!("{f}/abc.zip"),
            version_id: format!("v-{f}"),
            sha256: "abc".into(),
            bytes: 1,
            uploaded: true,
        };
        let got = deploy_time_parameters(template, "b", false, &[zip("thumbnail"), zip("avatar")]).unwrap();
        assert_eq!(
            got,
            [
                ("ArtifactsBucket".into(), "b".into()),
                ("ThumbnailCodeKey".into(), "thumbnail/abc.zip".into()),
                ("ThumbnailCodeVersion".into(), "v-thumbnail".into())
            ]
        );
        let e = deploy_time_parameters(template, "b", false, &[zip("avatar")]).unwrap_err().to_string();
        assert!(e.contains("ThumbnailCodeKey"), "{e}");
        let local = deploy_time_parameters(template, LOCAL_CODE, true, &[]).unwrap();
        assert_eq!(
            local,
            [
                ("ArtifactsBucket".into(), LOCAL_CODE.into()),
                ("ThumbnailCodeKey".into(), LOCAL_CODE.into()),
                ("ThumbnailCodeVersion".into(), LOCAL_CODE.into())
            ]
        );
    }
}
