//! The stage's companion stacks, rendered with its own: the bootstrap stack (the deploy path's
//! three IAM documents from `crate::iam`, filled into `infra/bootstrap.yaml`) and, for a stage with
//! a `pipeline`, its CI stack (`infra/pipeline.yaml`, bounded by the deploy policy).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde_norway::Value;
use sha2::Digest;

use crate::stage::Stage;
use crate::template::{Rendered, header, render_stack, template_configuration, yaml};

/// The bootstrap parameter that names the documents it was made from (a hash of them): deploy
/// compares it with the bootstrap stack's, to say when bootstrap must run again.
pub const DOCUMENTS_HASH: &str = "DocumentsHash";

/// Every file of the stage: its stack, its bootstrap stack (the deploy path's IAM documents), and
/// its pipeline stack when it has one.
pub fn render(infra: &Path, stage: &Stage) -> Result<Rendered> {
    let (name, stack) = (stage.id.stage(), stage.id.stack());
    let mut rendered = render_stack(infra, stage)?;
    // `${AWS::AccountId}` in the ARNs, substituted by CloudFormation in the stage's account.
    let names = stage.names("${AWS::AccountId}");
    let documents = crate::iam::documents(&rendered, stage, &names)?;

    let mut bootstrap = read(infra, "bootstrap.yaml")?;
    let (inline, more) = crate::iam::split_execution(&documents.execution);
    for (resource, document) in
        [("Boundary", &documents.boundary), ("DeployPolicy", &documents.deploy), ("ExecutionPolicy", &more)]
    {
        *slot(&mut bootstrap, resource, "infra/bootstrap.yaml")? = with_sub(document);
    }
    *execution_slot(&mut bootstrap)? = with_sub(&inline);
    // Deploy compares it with the bootstrap stack's, to say when bootstrap must run again.
    let hashed = serde_json::to_string(&[&documents.boundary, &documents.deploy, &documents.execution])?;
    let hash = hex::encode(&sha2::Sha256::digest(hashed.as_bytes())[..8]);
    let params = BTreeMap::from([
        (DOCUMENTS_HASH, hash),
        ("StackName", stack.to_string()),
        ("ExecutionRoleName", names.id.execution_role_name()),
        ("ExecutionPolicyName", names.id.execution_policy_name()),
        ("BootstrapRolePath", crate::stage::BOOTSTRAP_ROLE_PATH.to_string()),
        ("BoundaryName", names.id.boundary_name()),
        ("DeployPolicyName", names.id.deploy_policy_name()),
    ]);
    let tags = rendered.tags_for(&names.id.bootstrap_stack());
    rendered.files.push(("bootstrap.yaml", header(name, "infra/bootstrap.yaml") + &yaml(&bootstrap)?));
    rendered.files.push(("bootstrap-parameters.json", template_configuration(&params, &tags)?));
    rendered.bootstrap_parameters = Some(params);

    if let Some(pipeline) = &stage.pipeline {
        let mut template = read(infra, "pipeline.yaml")?;
        let statements = slot(&mut template, "CiBoundary", "infra/pipeline.yaml")?
            .get_mut("Statement")
            .and_then(Value::as_sequence_mut)
            .context("infra/pipeline.yaml's CiBoundary has no Statement list")?;
        statements.extend(documents.deploy["Statement"].as_array().into_iter().flatten().map(with_sub));
        let params = pipeline_parameters(name, stack, pipeline);
        let tags = rendered.tags_for(&names.id.pipeline_stack());
        rendered.files.push(("pipeline.yaml", header(name, "infra/pipeline.yaml") + &yaml(&template)?));
        rendered.files.push(("pipeline-parameters.json", template_configuration(&params, &tags)?));
        rendered.pipeline_parameters = Some(params);
    }
    Ok(rendered)
}

fn read(infra: &Path, file: &str) -> Result<Value> {
    let text = std::fs::read_to_string(infra.join(file)).with_context(|| format!("reading infra/{file}"))?;
    serde_norway::from_str(&text).with_context(|| format!("parsing infra/{file}"))
}

/// The execution role's inline `execution` policy document.
fn execution_slot(template: &mut Value) -> Result<&mut Value> {
    template
        .get_mut("Resources")
        .and_then(|r| r.get_mut("ExecutionRole"))
        .and_then(|r| r.get_mut("Properties"))
        .and_then(|p| p.get_mut("Policies"))
        .and_then(Value::as_sequence_mut)
        .and_then(|p| p.iter_mut().find(|p| p.get("PolicyName").and_then(Value::as_str) == Some("execution")))
        .and_then(|p| p.get_mut("PolicyDocument"))
        .context("infra/bootstrap.yaml's ExecutionRole has no `execution` policy")
}

/// A managed policy's `PolicyDocument` in a template.
fn slot<'a>(template: &'a mut Value, resource: &str, file: &str) -> Result<&'a mut Value> {
    template
        .get_mut("Resources")
        .and_then(|r| r.get_mut(resource))
        .and_then(|r| r.get_mut("Properties"))
        .and_then(|p| p.get_mut("PolicyDocument"))
        .with_context(|| format!("{file} has no {resource} with a PolicyDocument"))
}

fn pipeline_parameters(name: &str, stack: &str, pipeline: &crate::stage::Pipeline) -> BTreeMap<&'static str, String> {
    let mut p = BTreeMap::from([("Stage", name.to_string()), ("StackName", stack.to_string())]);
    if let Some(c) = &pipeline.connection {
        p.insert("ConnectionArn", c.arn.to_string());
        p.insert("RepositoryId", c.repository.to_string());
        p.insert("BranchName", c.branch.to_string());
    }
    if let Some(s3) = &pipeline.s3 {
        p.insert("SourceBucket", s3.bucket.to_string());
        p.insert("SourceKey", s3.key.clone());
    }
    p
}

/// JSON → YAML, with strings that name `${AWS::...}` under `!Sub`.
fn with_sub(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::String(s) if s.contains("${AWS::") => Value::Tagged(Box::new(serde_norway::value::TaggedValue {
            tag: serde_norway::value::Tag::new("Sub"),
            value: Value::String(s.clone()),
        })),
        serde_json::Value::Array(items) => Value::Sequence(items.iter().map(with_sub).collect()),
        serde_json::Value::Object(map) => {
            Value::Mapping(map.iter().map(|(k, v)| (Value::String(k.clone()), with_sub(v))).collect())
        }
        other => serde_norway::to_value(other).unwrap_or(Value::Null),
    }
}
