//! `cargo xtask releases <stage>`: what was put on the stage, newest first (the records deploy,
//! rollback and hotswap write beside the zips), and `cargo xtask rollback <stage> [--to N]`: release
//! N's exact template, parameters and zips again, through the same change-set path, with no build.

use anyhow::{Context, Result};

use crate::cfn::protection::Protection;
use crate::cfn::release::{self, Kind, Release};
use crate::cfn::{Mode, Opened, Report, StackSpec, Template, apply, artifacts, finish, stack};
use crate::exit::{Exit, Stop};
use crate::flags::{ReleasesArgs, RollbackArgs};

pub fn list(args: &ReleasesArgs) -> Result<Exit> {
    let stage = args.target.load()?;
    crate::aws::block_on(async {
        let opened = Opened::open(stage).await?;
        let bucket = opened.names().artifacts_bucket();
        let releases = if artifacts::exists(&opened.aws.s3(), &bucket, &opened.account).await? {
            release::list(&opened.aws.s3(), &bucket, &opened.account, &opened.stage.id).await?
        } else {
            Vec::new()
        };
        if args.json {
            println!("{}", serde_json::to_string_pretty(&releases)?);
        } else if releases.is_empty() {
            eprintln!("releases: {} has none yet (each deploy that changes the stack writes one)", opened.stage.id.stack());
        } else {
            print!("{}", release::table(&releases));
        }
        Ok(Exit::Success)
    })
}

pub fn rollback(args: &RollbackArgs) -> Result<Exit> {
    finish(&args.target.stage, "rollback", args.json, async |report| replay(args, report).await)
}

async fn replay(args: &RollbackArgs, report: &mut Report) -> Result<Exit> {
    let name = &args.target.stage;
    let stage = args.target.load()?;
    let opened = Opened::open(stage).await?;
    let (stage, aws, account) = (&opened.stage, &opened.aws, &opened.account);
    let stack_name = stage.id.stack().to_string();
    opened.start(report, &stack_name);
    let bucket = opened.names().artifacts_bucket();
    let s3 = aws.s3();
    let releases = release::list(&s3, &bucket, account, &stage.id).await?;
    let target = chosen(&releases, args.to).map_err(|why| Stop::new(Exit::Usage, why))?;
    eprintln!(
        "rollback: {stack_name} to release {} ({}, {} by {})",
        target.number,
        target.commit.as_deref().unwrap_or("no commit"),
        target.at,
        target.by
    );
    // The execution role as it is now: the deploy path has no history of its own.
    let path = opened.deploy_path(None).await?;
    let spec = StackSpec {
        name: stack_name.clone(),
        template: Template::Url(artifacts::template_url(&bucket, &aws.region(), &target.template)),
        parameters: target.parameters.clone().into_iter().collect(),
        tags: crate::template::tags(stage).into_iter().collect(),
        role_arn: Some(path.execution_role.clone()),
        // The stack policy the last deploy set stays; protection is switched on again.
        protection: Protection::of(stage, None),
    };
    let cfn = aws.cloudformation();
    let changed = apply(&cfn, &spec, Mode::execute(args.yes), stack::poll_interval(aws), ("changeset", "execute"), report)
        .await?
        .record("rollback", &stack_name, report);
    if !changed {
        eprintln!("rollback: {stack_name} already is release {}; nothing recorded", target.number);
        return Ok(Exit::Success);
    }
    let (commit, dirty) = (target.commit.clone(), target.dirty);
    let record = Release {
        number: 0,
        kind: Kind::Rollback,
        rolled_back_to: Some(target.number),
        at: release::now(),
        by: opened.caller.clone(),
        commit,
        dirty,
        ..target.clone()
    };
    let written = release::write(&s3, &bucket, account, &stage.id, record).await?;
    eprintln!(
        "rollback: release {} of {stack_name} is release {} again (`cargo xtask releases {name}`)",
        written.number, target.number
    );
    report.release = Some(written.number);
    let described = stack::describe(&cfn, &stack_name).await?.context("the stack is gone after the rollback")?;
    report.outputs = stack::outputs(aws, &described).await?;
    Ok(Exit::Success)
}

/// Release `to`, or without it the one before the newest: what "roll back" means after a bad
/// deploy.
fn chosen(releases: &[Release], to: Option<u32>) -> Result<&Release, String> {
    let numbers = || releases.iter().map(|r| r.number.to_string()).collect::<Vec<_>>().join(", ");
    match to {
        Some(n) => releases.iter().find(|r| r.number == n).ok_or_else(|| {
            if releases.is_empty() {
                format!("there is no release {n}: the stage has no release records yet")
            } else {
                format!("there is no release {n}; there are {}", numbers())
            }
        }),
        None => releases.get(1).ok_or_else(|| match releases.len() {
            0 => "the stage has no release records yet: nothing to roll back to".to_string(),
            _ => format!("release {} is the only one: nothing before it to roll back to", releases[0].number),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(number: u32) -> Release {
        Release {
            number,
            kind: Kind::Deploy,
            rolled_back_to: None,
            stack: "thumbstack-dev".into(),
            at: "2026-12-06T10:00:00Z".into(),
            by: "arn:aws:iam::123456789012:user/ci".into(),
            commit: Some("0123456789abcdef".into()),
            dirty: false,
            stage_file_sha256: "00".into(),
            template: release::Stored { key: "k".into(), version_id: "v".into(), sha256: "s".into() },
            parameters: Default::default(),
            zips: vec![],
        }
    }

    #[test]
    fn a_rollback_goes_to_the_release_before_the_newest_unless_told() {
        let newest_first = [release(3), release(2), release(1)];
        assert_eq!(chosen(&newest_first, None).unwrap().number, 2);
        assert_eq!(chosen(&newest_first, Some(1)).unwrap().number, 1);
        assert_eq!(chosen(&newest_first, Some(7)).unwrap_err(), "there is no release 7; there are 3, 2, 1");
        assert!(chosen(&newest_first[2..], None).unwrap_err().contains("release 1 is the only one"));
        assert!(chosen(&[], None).unwrap_err().contains("no release records yet"));
    }
}
