//! `cargo xtask bootstrap <stage>`: once per stage, with administrator credentials, the stack
//! `<stack>-bootstrap` (infra/bootstrap.yaml: the execution role, the boundary, the deploy policy)
//! through the same change-set path as `deploy`, and the account's artifacts bucket. After it,
//! `deploy` needs only the deploy policy, and every change set runs as the execution role.

use anyhow::{Context, Result};

use crate::aws::Aws;
use crate::deploy::{Applied, Mode, Report, StackSpec, Template, apply, artifacts, finish};
use crate::flags::{BootstrapArgs, Exit, Stop};
use crate::policy::Names;

pub fn run(args: &BootstrapArgs) -> Result<Exit> {
    let mode = Mode { execute: true, yes: args.yes, invalidate: false, invalidation_wait: std::time::Duration::ZERO };
    finish(&args.target.stage, "bootstrap", args.json, async |report| bootstrap(args, &mode, report).await)
}

async fn bootstrap(args: &BootstrapArgs, mode: &Mode, report: &mut Report) -> Result<Exit> {
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
        parameters: rendered.bootstrap_parameters.clone().unwrap_or_default().into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        tags: rendered.tags_for(&stack).into_iter().collect(),
        role_arn: None,
    };
    report.stack = spec.name.clone();
    report.region = aws.region();
    report.endpoint = aws.endpoint.clone();
    let poll = crate::stack::poll_interval(&aws);
    match apply(&aws.cloudformation(), &spec, mode, poll, ("changeset", "execute"), report).await? {
        Applied::Unchanged => {
            eprintln!("bootstrap: no changes: {stack} is already what the stage's policies say");
            report.outcome = "no_changes";
        }
        Applied::Planned(plan) => {
            plan.record(report);
            report.outcome = "planned";
        }
        Applied::Deployed(plan, status) => {
            plan.record(report);
            report.status = Some(status);
            report.outcome = "deployed";
        }
    }
    let path = read(&aws, &names).await?;
    eprintln!("bootstrap: change sets of {} run as {}", rendered.stack_name, path.execution_role);
    eprintln!("bootstrap: give the CI role or user the managed policy {} (and nothing else to deploy)", path.deploy_policy);
    report.outputs.insert("ExecutionRoleArn".into(), path.execution_role);
    report.outputs.insert("BoundaryArn".into(), path.boundary);
    report.outputs.insert("DeployPolicyArn".into(), path.deploy_policy);
    Ok(Exit::Success)
}

/// What the bootstrap stack made, as deploy and pipeline need it.
pub struct DeployPath {
    pub execution_role: String,
    pub boundary: String,
    pub deploy_policy: String,
}

/// The stage's bootstrap outputs; a stage never bootstrapped stops with the command to run.
pub async fn read(aws: &Aws, names: &Names<'_>) -> Result<DeployPath> {
    let stack = names.bootstrap_stack();
    let missing = |what: &str| -> anyhow::Error {
        Stop::new(
            Exit::Usage,
            format!(
                "{what}: this stage's deploy path is not set up. Run `cargo xtask bootstrap <stage>` once with administrator \
                 credentials (it creates the execution role every change set runs as, the roles' permissions boundary \
                 and the deploy policy; README, \"Deploying from CI\"), then deploy again"
            ),
        )
        .into()
    };
    let cfn = aws.cloudformation();
    let found = match crate::stack::describe(&cfn, &stack).await? {
        // A rolled-back update still has the outputs of its last good state.
        Some(found) if usable(crate::stack::status(&found)) => found,
        Some(found) => return Err(missing(&format!("the stack {stack} is {}", crate::stack::status(&found)))),
        None => return Err(missing(&format!("there is no stack {stack}"))),
    };
    // The names are the policies' own (`policy::Names`); the outputs, where the emulator reports
    // them, must agree, or the stack was made from other templates.
    let path = DeployPath { execution_role: names.execution_role(), boundary: names.boundary(), deploy_policy: names.deploy_policy() };
    let outputs = crate::stack::outputs(aws, &found).await?;
    for (key, expected) in
        [("ExecutionRoleArn", &path.execution_role), ("BoundaryArn", &path.boundary), ("DeployPolicyArn", &path.deploy_policy)]
    {
        if let Some(got) = outputs.get(key).filter(|got| *got != expected) {
            return Err(missing(&format!("{stack}'s {key} is {got}, not {expected}")));
        }
    }
    Ok(path)
}

fn usable(status: &str) -> bool {
    status.ends_with("_COMPLETE") && !["ROLLBACK_COMPLETE", "DELETE_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"].contains(&status)
}
