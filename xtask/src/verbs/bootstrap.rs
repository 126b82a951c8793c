//! `cargo xtask bootstrap <stage>`: once per stage, with administrator credentials, the stack
//! `<stack>-bootstrap` (infra/bootstrap.yaml: the execution role, the boundary, the deploy policy)
//! through the same change-set path as `deploy`, and the account's artifacts bucket. After it,
//! `deploy` needs only the deploy policy, and every change set runs as the execution role.

use anyhow::{Context, Result};

use crate::cfn::protection::Protection;
use crate::cfn::{Mode, Opened, Report, StackSpec, Template, apply, artifacts, finish, stack};
use crate::exit::Exit;
use crate::flags::AdminStackArgs;

pub fn run(args: &AdminStackArgs) -> Result<Exit> {
    finish(&args.target.stage, "bootstrap", args.json, async |report| bootstrap(args, Mode::execute(args.yes), report).await)
}

async fn bootstrap(args: &AdminStackArgs, mode: Mode, report: &mut Report) -> Result<Exit> {
    let stage = args.target.load()?;
    let rendered = crate::companions::render(&args.target.infra_dir(), &stage)?;
    let template = rendered.file("bootstrap.yaml").context("render wrote no bootstrap.yaml")?;
    let opened = Opened::open(stage).await?;
    let (id, aws) = (&opened.stage.id, &opened.aws);

    let bucket = opened.names().artifacts_bucket();
    if artifacts::ensure_bucket(&aws.s3(), &bucket, &opened.account, &aws.region(), aws.endpoint.is_none()).await? {
        eprintln!("bootstrap: created the artifacts bucket {bucket} (private, encrypted, versioned, TLS only)");
    }
    report.artifacts_bucket = Some(bucket);

    let stack = id.bootstrap_stack();
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
        protection: Protection::of(&opened.stage, None),
    };
    opened.start(report, &stack);
    let poll = stack::poll_interval(aws);
    apply(&aws.cloudformation(), &spec, mode, poll, ("changeset", "execute"), report).await?.record("bootstrap", &stack, report);
    let path = opened.deploy_path(None).await?;
    eprintln!("bootstrap: change sets of {} run as {}", id.stack(), path.execution_role);
    eprintln!("bootstrap: give the CI role or user the managed policy {} (and nothing else to deploy)", path.deploy_policy);
    report.outputs.insert("ExecutionRoleArn".into(), path.execution_role);
    report.outputs.insert("BoundaryArn".into(), path.boundary);
    report.outputs.insert("DeployPolicyArn".into(), path.deploy_policy);
    Ok(Exit::Success)
}
