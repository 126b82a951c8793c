//! `cargo xtask pipeline <stage>`: the stage's CI pipeline as its own stack, `<stack>-pipeline`
//! (CodePipeline + one CodeBuild project running `ci/buildspec.yml`), through the same change-set
//! path as `deploy`. An administrator runs it after `bootstrap`: its build role deploys with the
//! stage's deploy policy (what `cargo xtask policy <stage>` prints) and nothing else of IAM.

use anyhow::{Context, Result, bail};

use crate::aws::Aws;
use crate::deploy::{Mode, Report, StackSpec, Template, apply, finish};
use crate::flags::{AdminStackArgs, Exit, Stop};

pub fn run(args: &AdminStackArgs) -> Result<Exit> {
    let mode = Mode { execute: true, yes: args.yes, invalidate: false, invalidation_wait: std::time::Duration::ZERO };
    finish(&args.target.stage, "pipeline", args.json, async |report| deploy(args, &mode, report).await)
}

async fn deploy(args: &AdminStackArgs, mode: &Mode, report: &mut Report) -> Result<Exit> {
    let name = &args.target.stage;
    let stage = args.target.load()?;
    if stage.pipeline.is_none() {
        let why = format!(
            "stage {name} has no `pipeline` section: name a repository connection or an S3 source in infra/stages/{name}.yaml (see README, \"Deploying from CI\")"
        );
        return Err(Stop::new(Exit::Usage, why).into());
    }
    let rendered = crate::render::render(&args.target.infra_dir(), name, &stage)?;
    let template = rendered.file("pipeline.yaml").context("render wrote no pipeline.yaml")?;
    if template.len() > crate::deploy::TEMPLATE_BODY_LIMIT {
        bail!("the rendered pipeline template is {} bytes, over CloudFormation's inline limit", template.len());
    }
    let aws = Aws::connect(&stage).await?;
    let account = aws.account().await?;
    let names = crate::policy::Names { stack: &rendered.stack_name, region: &stage.region.0, account: &account };
    let documents = rendered.bootstrap_parameters.as_ref().and_then(|p| p.get(crate::bootstrapped::DOCUMENTS_HASH));
    let path = crate::bootstrapped::read(&aws, &names, documents.map(String::as_str)).await?;
    let mut parameters: Vec<(String, String)> =
        rendered.pipeline_parameters.clone().unwrap_or_default().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    parameters.push(("DeployPolicyArn".into(), path.deploy_policy));
    let spec = StackSpec {
        name: names.pipeline_stack(),
        template: Template::Body(template.to_string()),
        parameters,
        tags: rendered.tags_for(&names.pipeline_stack()).into_iter().collect(),
        role_arn: None,
    };
    report.stack = spec.name.clone();
    report.region = aws.region();
    report.endpoint = aws.endpoint.clone();
    let poll = crate::stack::poll_interval(&aws);
    if apply(&aws.cloudformation(), &spec, mode, poll, ("changeset", "execute"), report)
        .await?
        .record("pipeline", &spec.name, report)
    {
        eprintln!("pipeline: {} runs ci/buildspec.yml on every change of the source", spec.name);
    }
    Ok(Exit::Success)
}
