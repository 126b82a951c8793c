//! `cargo xtask bootstrap <stage>`: once per stage, with administrator credentials, the stack
//! `<stack>-bootstrap` (infra/bootstrap.yaml: the execution role, the boundary, the deploy policy)
//! through the same change-set path as `deploy`, and the account's artifacts bucket. After it,
//! `deploy` needs only the deploy policy, and every change set runs as the execution role.

use anyhow::{Context, Result};

use crate::aws::Aws;
use crate::deploy::{Mode, Report, StackSpec, Template, apply, artifacts, finish};
use crate::flags::{AdminStackArgs, Exit};
use crate::policy::Names;

pub fn run(args: &AdminStackArgs) -> Result<Exit> {
    let mode = Mode { execute: true, yes: args.yes, invalidate: false, invalidation_wait: std::time::Duration::ZERO };
    finish(&args.target.stage, "bootstrap", args.json, async |report| bootstrap(args, &mode, report).await)
}

async fn bootstrap(args: &AdminStackArgs, mode: &Mode, report: &mut Report) -> Result<Exit> {
    let name = &args.target.stage;
    let stage = args.target.load()?;
    let rendered = crate::render::render(&args.target.infra_dir(), name, &stage)?;
    let template = rendered.file("bootstrap.yaml").context("render wrote no bootstrap.yaml")?;
    let aws = Aws::connect(&stage).await?;
    let account = aws.account().await?;
    let names = Names { stack: &rendered.stack_name, region: &stage.region.0, account: &account };

    let bucket = artifacts::bucket_name(&account, &aws.region());
    if artifacts::ensure_bucket(&aws.s3(), &bucket, &account, &aws.region(), aws.endpoint.is_none()).await? {
        eprintln!("bootstrap: created the artifacts bucket {bucket} (private, encrypted, versioned, TLS only)");
    }
    report.artifacts_bucket = Some(bucket);

    let stack = names.bootstrap_stack();
    let spec = StackSpec {
        name: stack.clone(),
        template: Template::Body(template.to_string()),
        parameters: rendered
            .bootstrap_parameters
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        tags: rendered.tags_for(&stack).into_iter().collect(),
        role_arn: None,
    };
    report.stack = spec.name.clone();
    report.region = aws.region();
    report.endpoint = aws.endpoint.clone();
    let poll = crate::stack::poll_interval(&aws);
    apply(&aws.cloudformation(), &spec, mode, poll, ("changeset", "execute"), report).await?.record("bootstrap", &stack, report);
    let path = crate::bootstrapped::read(&aws, &names, None).await?;
    eprintln!("bootstrap: change sets of {} run as {}", rendered.stack_name, path.execution_role);
    eprintln!("bootstrap: give the CI role or user the managed policy {} (and nothing else to deploy)", path.deploy_policy);
    report.outputs.insert("ExecutionRoleArn".into(), path.execution_role);
    report.outputs.insert("BoundaryArn".into(), path.boundary);
    report.outputs.insert("DeployPolicyArn".into(), path.deploy_policy);
    Ok(Exit::Success)
}
