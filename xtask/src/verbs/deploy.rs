//! `cargo xtask deploy <stage>` and `cargo xtask diff <stage>`: render, package, upload the
//! zips, a change set shown as a table, then (deploy only) execute it with live events, upload
//! `site/` and invalidate CloudFront. Every run ends with one report; its exit code says how
//! far it got (see `exit::Exit`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_norway::Value;

use crate::aws::Aws;
use crate::cdn::AVATARS;
use crate::cfn::artifacts::{self, TEMPLATE_BODY_LIMIT};
use crate::cfn::protection::Protection;
use crate::cfn::release::{self, Kind, Release, Zip};
use crate::cfn::{Mode, Opened, Report, StackSpec, Template, apply, finish, stack};
use crate::exit::{Exit, Stop};
use crate::flags::{DeployArgs, DiffArgs, StageArgs};
use crate::site::Synced;
use crate::template::STACK_POLICY;

pub fn run(args: &DeployArgs) -> Result<Exit> {
    let mode = Mode::execute(args.yes);
    let invalidation = (!args.no_invalidate).then(|| Duration::from_secs(args.invalidation_wait));
    finish(&args.target.stage, "deploy", args.json, async |report| {
        if args.ephemeral {
            crate::verbs::teardown::only_ephemeral(&args.target.load()?, "deployed")?;
        }
        if args.hotswap {
            return hotswap(&args.target, args.no_build, report).await;
        }
        deploy(&args.target, mode, args.no_build, invalidation, report).await
    })
}

/// `deploy --hotswap`: the changed functions' zips straight into Lambda, when nothing but their
/// code differs from the stage's last release (`crate::hotswap`).
async fn hotswap(target: &StageArgs, no_build: bool, report: &mut Report) -> Result<Exit> {
    let name = &target.stage;
    let stage = target.load()?;
    if stage.protected {
        return Err(Stop::new(
            Exit::Usage,
            format!("{name} is a protected stage: hotswap is refused there. Deploy it without --hotswap"),
        )
        .into());
    }
    if stage.emulator.is_some() {
        return Err(Stop::new(
            Exit::Usage,
            format!(
                "{name} runs its functions in-process (`cargo xtask local` runs the code you build): there is nothing to hotswap"
            ),
        )
        .into());
    }
    let rendered = crate::companions::render(&target.infra_dir(), &stage)?;
    let opened = Opened::open(stage).await?;
    let stack_name = rendered.stack_name.clone();
    opened.start(report, &stack_name);
    let (stage, aws, account) = (&opened.stage, &opened.aws, &opened.account);
    let (s3, bucket) = (aws.s3(), opened.names().artifacts_bucket());
    let releases = if artifacts::exists(&s3, &bucket, account).await? {
        release::list(&s3, &bucket, account, &stage.id).await?
    } else {
        Vec::new()
    };
    let Some(last) = releases.first() else {
        return Err(Stop::new(
            Exit::Usage,
            format!("{stack_name} has no release record to compare with: deploy it once without --hotswap"),
        )
        .into());
    };
    let template = rendered.file("template.yaml").context("render wrote no template.yaml")?;
    let template_sha256 = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(template.as_bytes()))
    };
    let stage_file_sha256 = release::stage_file_sha256(&target.infra_dir(), name)?;
    let now = crate::hotswap::Now {
        template_sha256: &template_sha256,
        stage_file_sha256: &stage_file_sha256,
        parameters: &rendered.parameters,
    };
    let changed = crate::hotswap::what_changed(last, &now);
    if !changed.is_empty() {
        report.outcome = "needs_deploy";
        return Err(Stop::new(
            Exit::Usage,
            format!(
                "hotswap puts only function code in place, and since release {} of {stack_name} these changed too: {}. Nothing \
                 was changed. Deploy without --hotswap",
                last.number,
                changed.join(", ")
            ),
        )
        .into());
    }
    let packaged = timed(report, "package", || zips(stage.functions.architecture, no_build))?;
    let uploaded = artifacts::upload(&s3, &bucket, account, &stage.id, &packaged.functions).await?;
    let before = |function: &str| last.zips.iter().find(|z| z.function == function).map(|z| z.sha256.as_str());
    let new: Vec<&artifacts::Uploaded> = uploaded.iter().filter(|u| before(&u.function) != Some(u.sha256.as_str())).collect();
    if new.is_empty() {
        eprintln!("deploy: no function's code changed since release {}: nothing to hotswap", last.number);
        report.outcome = "no_changes";
        return Ok(Exit::Success);
    }
    let cfn = aws.cloudformation();
    let described = stack::describe(&cfn, &stack_name).await?.with_context(|| format!("{stack_name} is not deployed"))?;
    let outputs = stack::outputs(aws, &described).await?;
    let phase = Instant::now();
    let lambda = aws.lambda();
    for zip in &new {
        let output = local_spec::logical_id(&zip.function, "FunctionName");
        let function_name = outputs.get(&output).with_context(|| format!("{stack_name} has no output {output}"))?;
        let released = template.contains(&format!("\n  {}:\n", local_spec::logical_id(&zip.function, "Live")));
        let swapped = crate::hotswap::swap(&lambda, &bucket, function_name, zip, released, stack::poll_interval(aws)).await?;
        eprintln!(
            "deploy: hotswapped {} → version {} ({}:{})",
            swapped.function,
            swapped.version,
            swapped.function_name,
            crate::template::LIVE_ALIAS
        );
    }
    report.timings.insert("hotswap", phase.elapsed().as_secs_f64());
    let (commit, dirty) = crate::build::source();
    let mut zips = last.zips.clone();
    for zip in &new {
        zips.retain(|z| z.function != zip.function);
        zips.push(Zip::from(*zip));
    }
    zips.sort_by(|a, b| a.function.cmp(&b.function));
    let record = Release {
        number: 0,
        kind: Kind::Hotswap,
        rolled_back_to: None,
        at: release::now(),
        by: opened.caller.clone(),
        commit,
        dirty,
        parameters: crate::hotswap::parameters_after(last, &new)?,
        zips,
        ..last.clone()
    };
    let written = release::write(&s3, &bucket, account, &stage.id, record).await?;
    eprintln!("deploy: release {} of {stack_name} (hotswap; the next deploy brings the stack in line)", written.number);
    report.release = Some(written.number);
    report.artifacts = uploaded;
    report.outcome = "hotswapped";
    Ok(Exit::Success)
}

/// The functions' zips: built now, or with `--no-build` what the last `package` built from this
/// commit (`build::packaged` says why not when it cannot).
fn zips(arch: crate::stage::Architecture, no_build: bool) -> Result<crate::build::Report> {
    if no_build { crate::build::packaged(arch) } else { crate::build::package(arch) }
}

pub fn diff(args: &DiffArgs) -> Result<Exit> {
    finish(&args.target.stage, "diff", args.json, async |report| {
        deploy(&args.target, Mode::plan(), args.no_build, None, report).await
    })
}

/// `invalidation`: how long to wait for CloudFront after the deploy; `None` skips it.
async fn deploy(
    target: &StageArgs,
    mode: Mode,
    no_build: bool,
    invalidation: Option<Duration>,
    report: &mut Report,
) -> Result<Exit> {
    let name = &target.stage;
    let stage = target.load()?;
    let rendered = timed(report, "render", || crate::companions::render(&target.infra_dir(), &stage))?;
    let opened = Opened::open(stage).await?;
    opened.start(report, &rendered.stack_name);
    let (stage, aws, account) = (&opened.stage, &opened.aws, &opened.account);
    let poll = stack::poll_interval(aws);
    let template = rendered.file("template.yaml").context("render wrote no template.yaml")?;
    // A template small enough to send inline is checked at once; a larger one once it is in the
    // artifacts bucket, still before any build.
    if template.len() <= TEMPLATE_BODY_LIMIT {
        validate_once(aws, &Template::Body(template.to_string()), template, report).await?;
    }

    // Every change set runs as the stage's execution role; without bootstrap there is none.
    let path = opened.deploy_path(Some(&rendered)).await?;
    let s3 = aws.s3();
    let bucket = opened.names().artifacts_bucket();
    if !artifacts::exists(&s3, &bucket, account).await? {
        return Err(Stop::new(
            Exit::Usage,
            format!("the artifacts bucket {bucket} does not exist; `cargo xtask bootstrap {name}` creates it (docs/pipeline.md)"),
        )
        .into());
    }
    // Stored either way: the release record names it, and `rollback` replays it.
    let stored = artifacts::upload_template(&s3, &bucket, account, &stage.id, template).await?;
    let body = if template.len() > TEMPLATE_BODY_LIMIT {
        let body = Template::Url(artifacts::template_url(&bucket, &aws.region(), &stored));
        validate_once(aws, &body, template, report).await?;
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
        let packaged = timed(report, "package", || zips(stage.functions.architecture, no_build)).map_err(|e| {
            if e.is::<crate::build::Incompatible>() { Stop::new(Exit::Incompatible, format!("{e:#}")).into() } else { e }
        })?;
        let phase = Instant::now();
        report.artifacts = artifacts::upload(&s3, &bucket, account, &stage.id, &packaged.functions).await?;
        for a in &report.artifacts {
            let what = if a.uploaded { "uploaded" } else { "already there" };
            eprintln!("deploy: {:<10} s3://{bucket}/{} version {} ({what})", a.function, a.key, a.version_id);
        }
        report.artifacts_bucket = Some(bucket.clone());
        report.timings.insert("artifacts", phase.elapsed().as_secs_f64());
    }

    let mut parameters: Vec<(String, String)> = rendered.parameters.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect();
    // CloudFront's certificate and web ACL live in us-east-1, in stacks of their own.
    for companion in &rendered.us_east_1 {
        let us_east_1 = aws.in_region("us-east-1");
        let template = rendered.file(companion.file).with_context(|| format!("render wrote no {}", companion.file))?;
        let spec = StackSpec {
            name: companion.stack.clone(),
            template: Template::Body(template.to_string()),
            parameters: companion.parameters.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect(),
            tags: rendered.tags.clone().into_iter().collect(),
            role_arn: Some(path.execution_role.clone()),
            protection: Protection::of(stage, None),
        };
        report.us_east_1_stacks.push(spec.name.clone());
        let cfn = us_east_1.cloudformation();
        apply(&cfn, &spec, mode, stack::poll_interval(&us_east_1), companion.phases, report).await?;
        let value = match stack::describe(&cfn, &spec.name).await? {
            Some(stack) => stack::outputs(&us_east_1, &stack)
                .await?
                .get(companion.output)
                .cloned()
                .with_context(|| format!("{} has no {} output", spec.name, companion.output))?,
            // A diff of a stage whose companion does not exist yet: the main stack's diff then
            // shows the value as to-be-set.
            None => String::new(),
        };
        parameters.push((companion.output.into(), value));
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
        protection: Protection::of(stage, rendered.file(STACK_POLICY)),
    };

    let cfn = aws.cloudformation();
    // A stack that has its CodeDeploy application already moves its aliases through it: follow
    // those rollouts while the change set runs (a new stack's aliases are created, not shifted).
    let application = match stack::describe(&cfn, &spec.name).await? {
        Some(existing) if mode.execute => stack::outputs(aws, &existing).await?.remove("ReleasesApplication"),
        _ => None,
    };
    let since = aws_sdk_codedeploy::primitives::DateTime::from(std::time::SystemTime::now());
    let (applied, done) = tokio::sync::watch::channel(false);
    let watching = async {
        let app = application.as_deref()?;
        let followed = crate::rollout::watch(&aws.codedeploy(), app, since, poll, crate::rollout::GRACE, done).await;
        // Following is a courtesy: CloudFormation already waits for the rollouts and fails the
        // alias when one rolls back.
        Some(followed.unwrap_or_else(|e| {
            eprintln!("rollout: could not follow the rollouts ({e:#}); CloudFormation still waits for them");
            Vec::new()
        }))
    };
    let applying = async {
        let result = apply(&cfn, &spec, mode, poll, ("changeset", "execute"), report).await;
        let _ = applied.send(true);
        result
    };
    let (result, followed) = tokio::join!(applying, watching);
    let followed = followed.unwrap_or_default();
    let result = result.map_err(|e| rolled_back_because(e, &followed));
    report.rollouts = followed;
    let stack_changed = result?.record("deploy", &spec.name, report);
    if !mode.execute {
        return Ok(Exit::Success);
    }
    if stack_changed {
        let (commit, dirty) = crate::build::source();
        let record = Release {
            number: 0,
            kind: Kind::Deploy,
            rolled_back_to: None,
            stack: spec.name.clone(),
            at: release::now(),
            by: opened.caller.clone(),
            commit,
            dirty,
            stage_file_sha256: release::stage_file_sha256(&target.infra_dir(), name)?,
            template: stored,
            parameters: spec.parameters.iter().cloned().collect(),
            zips: report.artifacts.iter().map(Zip::from).collect(),
        };
        let written = release::write(&s3, &bucket, account, &stage.id, record).await?;
        eprintln!("deploy: release {} of {} (`cargo xtask releases {name}`)", written.number, spec.name);
        report.release = Some(written.number);
    }
    after_deploy(aws, &spec.name, stack_changed, invalidation, report).await
}

/// A stack that rolled back because a rollout did: the message names the function's group and the
/// alarm or hook that stopped it.
fn rolled_back_because(e: anyhow::Error, followed: &[crate::rollout::Followed]) -> anyhow::Error {
    let rolled_back: Vec<String> = followed
        .iter()
        .filter_map(|f| match &f.outcome {
            crate::rollout::Outcome::RolledBack { why } => {
                Some(format!("\n  CodeDeploy rolled {} back ({}): {why}", f.group, f.deployment_id))
            }
            _ => None,
        })
        .collect();
    match e.downcast::<Stop>() {
        Ok(stop) if !rolled_back.is_empty() => Stop::new(stop.exit, stop.message + &rolled_back.concat()).into(),
        Ok(stop) => stop.into(),
        Err(e) => e,
    }
}

/// After the stack: outputs, the site, the invalidation. Their failures do not undo the deploy.
async fn after_deploy(
    aws: &Aws,
    stack_name: &str,
    stack_changed: bool,
    invalidation: Option<Duration>,
    report: &mut Report,
) -> Result<Exit> {
    let cfn = aws.cloudformation();
    let stack = stack::describe(&cfn, stack_name).await?.context("the stack is gone after deploying")?;
    report.status = Some(stack::status(&stack).to_string());
    report.outputs = stack::outputs(aws, &stack).await?;
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
    match (distribution, invalidation) {
        (_, None) => eprintln!("deploy: invalidation skipped (--no-invalidate)"),
        (None, _) => eprintln!("deploy: this stage has no CloudFront distribution; nothing to invalidate"),
        (Some(_), _) if !wanted => eprintln!("deploy: nothing changed, so no invalidation"),
        (Some(id), Some(wait)) => {
            let phase = Instant::now();
            let paths = std::iter::once(AVATARS.to_string()).chain(stale).collect();
            let poll = crate::cdn::poll(aws);
            let done = crate::cdn::invalidate(&aws.cloudfront(), &id, paths, wait, poll)
                .await
                .map_err(|e| post(e, "the CloudFront invalidation"))?;
            report.timings.insert("invalidate", phase.elapsed().as_secs_f64());
            let exit = crate::cdn::exit(&done);
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
        crate::cfn::changeset::validate(&aws.cloudformation(), body).await?;
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
    for key in declared.iter().filter(|k| k.ends_with("CodeKey") || k.ends_with("CodeVersion") || k.ends_with("CodeSha256")) {
        if in_process {
            out.push(((*key).to_string(), LOCAL_CODE.to_string()));
            continue;
        }
        let zip = uploaded.iter().find_map(|u| {
            if artifacts::code_key_parameter(&u.function) == *key {
                Some(Ok(u.key.clone()))
            } else if artifacts::code_version_parameter(&u.function) == *key {
                Some(Ok(u.version_id.clone()))
            } else if artifacts::code_sha256_parameter(&u.function) == *key {
                Some(u.lambda_sha256())
            } else {
                None
            }
        });
        let Some(value) = zip else {
            anyhow::bail!("the template wants {key}, but no function crate under functions/ was packaged for it");
        };
        out.push(((*key).to_string(), value?));
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

    /// A stack that rolled back because CodeDeploy did says which function and which alarm.
    #[test]
    fn a_rollback_names_the_rollout_that_caused_it() {
        use crate::rollout::{Followed, Outcome};
        let followed = [
            Followed { group: "thumbstack-prod-api".into(), deployment_id: "d-1".into(), outcome: Outcome::Succeeded },
            Followed {
                group: "thumbstack-prod-thumbnail".into(),
                deployment_id: "d-2".into(),
                outcome: Outcome::RolledBack { why: "the alarm thumbstack-prod-thumbnail-new-version-errors fired".into() },
            },
        ];
        let stop: anyhow::Error = Stop::new(Exit::RolledBack, "deploying thumbstack-prod failed").into();
        let e = rolled_back_because(stop, &followed);
        assert_eq!(crate::exit::exit_of(&e), Exit::RolledBack);
        assert_eq!(
            e.to_string(),
            "deploying thumbstack-prod failed\n  CodeDeploy rolled thumbstack-prod-thumbnail back (d-2): the alarm \
             thumbstack-prod-thumbnail-new-version-errors fired"
        );
    }

    #[test]
    fn deploy_time_parameters_follow_the_template() {
        let template = "Parameters:\n  ArtifactsBucket: {Type: String}\n  ThumbnailCodeKey: {Type: String}\n  ThumbnailCodeVersion: {Type: String}\n  ThumbnailCodeSha256: {Type: String}\n";
        let zip = |f: &str| artifacts::Uploaded {
            function: f.into(),
            key: format!("{f}/abc.zip"),
            version_id: format!("v-{f}"),
            sha256: "00ff".into(),
            bytes: 1,
            uploaded: true,
        };
        let got = deploy_time_parameters(template, "b", false, &[zip("thumbnail"), zip("avatar")]).unwrap();
        assert_eq!(
            got,
            [
                ("ArtifactsBucket".into(), "b".into()),
                ("ThumbnailCodeKey".into(), "thumbnail/abc.zip".into()),
                ("ThumbnailCodeVersion".into(), "v-thumbnail".into()),
                // Lambda's CodeSha256 is base64 of the digest.
                ("ThumbnailCodeSha256".into(), "AP8=".into())
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
                ("ThumbnailCodeVersion".into(), LOCAL_CODE.into()),
                ("ThumbnailCodeSha256".into(), LOCAL_CODE.into())
            ]
        );
    }
}
