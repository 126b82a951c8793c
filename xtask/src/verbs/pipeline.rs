//! `cargo xtask pipeline <stage>`: the stage's CI pipeline as its own stack, `<stack>-pipeline`
//! (CodePipeline + one CodeBuild project running `dev/ci/buildspec.yml`), through the same change-set
//! path as `deploy`. An administrator runs it after `bootstrap`: its build role deploys with the
//! stage's deploy policy (what `cargo xtask policy <stage>` prints) and nothing else of IAM.

use anyhow::{Context, Result, bail};

use crate::cfn::artifacts::TEMPLATE_BODY_LIMIT;
use crate::cfn::protection::Protection;
use crate::cfn::{Mode, Opened, Report, StackSpec, Template, apply, finish, stack};
use crate::exit::{Exit, Stop};
use crate::flags::AdminStackArgs;

pub fn run(args: &AdminStackArgs) -> Result<Exit> {
    finish(&args.target.stage, "pipeline", args.json, async |report| deploy(args, Mode::execute(args.yes), report).await)
}

async fn deploy(args: &AdminStackArgs, mode: Mode, report: &mut Report) -> Result<Exit> {
    let name = &args.target.stage;
    let stage = args.target.load()?;
    if stage.pipeline.is_none() {
        let why = format!(
            "stage {name} has no `pipeline` section: name a repository connection or an S3 source in infra/stages/{name}.yaml (see docs/pipeline.md)"
        );
        return Err(Stop::new(Exit::Usage, why).into());
    }
    let rendered = crate::companions::render(&args.target.infra_dir(), &stage)?;
    let template = rendered.file("pipeline.yaml").context("render wrote no pipeline.yaml")?;
    if template.len() > TEMPLATE_BODY_LIMIT {
        bail!("the rendered pipeline template is {} bytes, over CloudFormation's inline limit", template.len());
    }
    let opened = Opened::open(stage).await?;
    let path = opened.deploy_path(Some(&rendered)).await?;
    let mut parameters: Vec<(String, String)> =
        rendered.pipeline_parameters.clone().unwrap_or_default().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    parameters.push(("DeployPolicyArn".into(), path.deploy_policy));
    let stack = opened.stage.id.pipeline_stack();
    let spec = StackSpec {
        name: stack.clone(),
        template: Template::Body(template.to_string()),
        parameters,
        tags: rendered.tags_for(&stack).into_iter().collect(),
        role_arn: None,
        protection: Protection::of(&opened.stage, None),
    };
    opened.start(report, &stack);
    let poll = stack::poll_interval(&opened.aws);
    if apply(&opened.aws.cloudformation(), &spec, mode, poll, ("changeset", "execute"), report)
        .await?
        .record("pipeline", &spec.name, report)
    {
        eprintln!("pipeline: {} runs dev/ci/buildspec.yml on every change of the source", spec.name);
    }
    Ok(Exit::Success)
}
