//! Change sets: what a deploy would do, shown before anything happens. An empty one means
//! there is nothing to deploy.

use std::time::Duration;

use anyhow::{Result, bail};
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter, Tag};
use serde::Serialize;

use super::stack;
use crate::aws::AwsContext;
use crate::exit::{Exit, Stop};

/// Types whose replacement or removal loses data (or, for the topic, confirmed subscriptions).
const STATEFUL: [&str; 7] = [
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::Route53::RecordSet",
];

/// What CloudFormation is asked to deploy.
pub struct StackSpec {
    pub name: String,
    pub template: Template,
    pub parameters: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    /// The role CloudFormation acts as (the stage's execution role); `None` for the stacks an
    /// administrator deploys with their own rights (bootstrap, pipeline).
    pub role_arn: Option<String>,
    /// A protected stage's: set after every change set, and on an unchanged stack too.
    pub protection: Option<super::protection::Protection>,
}

pub enum Template {
    Body(String),
    Url(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// CloudFormation's `Replacement` for a modification: `True`, `False` or `Conditional`.
    pub replacement: Option<String>,
    pub stateful: bool,
}

impl Change {
    /// Removes or (maybe) replaces the resource: a person should agree first. A function version is
    /// replaced by every release that changes its function (that is how a new one is published), and
    /// the template retains the old one, so that loses nothing.
    pub fn destructive(&self) -> bool {
        let published = self.resource_type == "AWS::Lambda::Version" && self.action == "Modify";
        !published && (self.action == "Remove" || matches!(self.replacement.as_deref(), Some("True" | "Conditional")))
    }
}

pub struct ChangeSet {
    pub name: String,
    pub stack_id: String,
    pub kind: ChangeSetType,
    pub changes: Vec<Change>,
}

/// Creates the change set and waits for it; `None` when there is nothing to change (the empty
/// change set is deleted again).
pub async fn create(cfn: &Client, spec: &StackSpec, poll: Duration) -> Result<Option<ChangeSet>> {
    let kind = kind_for(cfn, spec, poll).await?;
    let name = crate::aws::unique_name();
    let parameters =
        spec.parameters.iter().map(|(k, v)| Parameter::builder().parameter_key(k).parameter_value(v).build()).collect();
    let tags = spec.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
    let mut request = cfn
        .create_change_set()
        .stack_name(&spec.name)
        .change_set_name(&name)
        .change_set_type(kind.clone())
        .set_parameters(Some(parameters))
        .set_tags(Some(tags))
        .set_role_arn(spec.role_arn.clone())
        // Named: the bootstrap stack names its role and policies (the others need only IAM).
        .capabilities(Capability::CapabilityNamedIam)
        .description("cargo xtask deploy");
    request = match &spec.template {
        Template::Body(body) => request.template_body(body),
        Template::Url(url) => request.template_url(url),
    };
    let created = match request.send().await {
        Ok(out) => out,
        // moto's word, at once, for some unchanged stacks (AWS fails the change set instead).
        Err(e)
            if crate::aws::code(&e) == Some("ValidationError")
                && format!("{}", aws_sdk_cloudformation::error::DisplayErrorContext(&e))
                    .contains("No updates are to be performed") =>
        {
            return Ok(None);
        }
        Err(e) if crate::aws::code(&e) == Some("ValidationError") => {
            return Err(refused(&format!("{}", aws_sdk_cloudformation::error::DisplayErrorContext(&e))));
        }
        Err(e) => return Err(e).aws(&format!("creating a change set for {}", spec.name)),
    };
    let stack_id = created.stack_id().unwrap_or(&spec.name).to_string();
    loop {
        let described =
            cfn.describe_change_set().stack_name(&stack_id).change_set_name(&name).send().await.aws("reading the change set")?;
        match described.status() {
            Some(ChangeSetStatus::CreateComplete) => break,
            Some(ChangeSetStatus::Failed) => {
                let reason = described.status_reason().unwrap_or_default().to_string();
                // CloudFormation's two wordings for "this template and these parameters are already deployed".
                if reason.contains("didn't contain changes") || reason.contains("No updates are to be performed") {
                    delete(cfn, &stack_id, &name).await?;
                    return Ok(None);
                }
                return Err(refused(&reason));
            }
            _ => tokio::time::sleep(poll).await,
        }
    }
    let changes = changes(cfn, &stack_id, &name).await?;
    Ok(Some(ChangeSet { name, stack_id, kind, changes }))
}

pub async fn delete(cfn: &Client, stack_id: &str, name: &str) -> Result<()> {
    cfn.delete_change_set().stack_name(stack_id).change_set_name(name).send().await.aws("deleting the change set")?;
    Ok(())
}

/// CREATE for a stack that does not exist (or exists only as a change set's placeholder),
/// UPDATE otherwise. A stack whose first deploy failed cannot be updated: it is deleted first.
async fn kind_for(cfn: &Client, spec: &StackSpec, poll: Duration) -> Result<ChangeSetType> {
    let name = spec.name.as_str();
    let Some(existing) = stack::describe(cfn, name).await? else { return Ok(ChangeSetType::Create) };
    match stack::status(&existing) {
        "REVIEW_IN_PROGRESS" => Ok(ChangeSetType::Create),
        "ROLLBACK_COMPLETE" => {
            eprintln!("deploy: {name} is ROLLBACK_COMPLETE (its first deploy failed and holds nothing); deleting it first");
            let id = existing.stack_id().unwrap_or(name).to_string();
            let mut events = stack::Events::after_now(cfn, &id).await?;
            cfn.delete_stack()
                .stack_name(&id)
                .set_role_arn(spec.role_arn.clone())
                .send()
                .await
                .aws("deleting the failed stack")?;
            let deleted = stack::wait(cfn, &id, &mut events, poll, |watch| {
                if let stack::Watch::Event(event) = watch {
                    eprintln!("deploy: {}", stack::event_line(event));
                }
            })
            .await?;
            match stack::status(&deleted) {
                "DELETE_COMPLETE" => Ok(ChangeSetType::Create),
                other => bail!("deleting the failed stack {name} ended in {other}; delete it in the console, then deploy again"),
            }
        }
        status if status.ends_with("_IN_PROGRESS") => bail!(
            "{name} is busy ({status}); wait for that operation to end (`cargo xtask status <stage>` shows it), then deploy again"
        ),
        "UPDATE_ROLLBACK_FAILED" => bail!(
            "{name} is UPDATE_ROLLBACK_FAILED: finish the rollback first \
             (`aws cloudformation continue-update-rollback --stack-name {name}`), then deploy again"
        ),
        _ => Ok(ChangeSetType::Update),
    }
}

/// CloudFormation's own syntax and reference check: seconds, where a refusal after packaging
/// could come minutes later.
pub async fn validate(cfn: &Client, template: &Template) -> Result<()> {
    let request = match template {
        Template::Body(body) => cfn.validate_template().template_body(body),
        Template::Url(url) => cfn.validate_template().template_url(url),
    };
    match request.send().await {
        Ok(_) => Ok(()),
        Err(e) if crate::aws::code(&e) == Some("ValidationError") => {
            Err(refused(e.as_service_error().and_then(|s| s.meta().message()).unwrap_or("invalid template")))
        }
        Err(e) => Err(e).aws("validating the template"),
    }
}

fn refused(reason: &str) -> anyhow::Error {
    Stop::new(
        Exit::DeployFailed,
        format!(
            "CloudFormation refused the template; nothing was changed.\n  reason: {reason}\n  \
             next: fix infra/template.yaml or the stage file; `cargo xtask render <stage> --check` lints it locally"
        ),
    )
    .into()
}

async fn changes(cfn: &Client, stack_id: &str, name: &str) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    let mut token = None;
    loop {
        let page = cfn
            .describe_change_set()
            .stack_name(stack_id)
            .change_set_name(name)
            .set_next_token(token)
            .send()
            .await
            .aws("reading the change set")?;
        for c in page.changes().iter().filter_map(|c| c.resource_change()) {
            let resource_type = c.resource_type().unwrap_or_default().to_string();
            changes.push(Change {
                action: c.action().map(|a| a.as_str().to_string()).unwrap_or_default(),
                logical_id: c.logical_resource_id().unwrap_or_default().to_string(),
                stateful: STATEFUL.contains(&resource_type.as_str()),
                resource_type,
                replacement: c.replacement().map(|r| r.as_str().to_string()),
            });
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(changes);
        }
    }
}

/// The diff table, then one loud line per stateful resource that would be lost.
pub fn render(stack: &str, changes: &[Change]) -> String {
    let rows: Vec<Vec<String>> = changes
        .iter()
        .map(|c| {
            let replaces = match (c.action.as_str(), c.replacement.as_deref()) {
                ("Modify", Some("True")) => "yes",
                ("Modify", Some("Conditional")) => "maybe",
                ("Modify", Some(_)) => "no",
                _ => "-",
            };
            vec![c.action.clone(), c.logical_id.clone(), c.resource_type.clone(), replaces.into()]
        })
        .collect();
    let mut out = format!("{stack}: {} change(s)\n", changes.len());
    out += &crate::ui::table(&["ACTION", "LOGICAL ID", "TYPE", "REPLACES"], &rows);
    for c in changes.iter().filter(|c| c.stateful && c.destructive()) {
        let what = if c.action == "Remove" { "REMOVES" } else { "REPLACES" };
        out += &format!(
            "!! {what} {} ({}): the data it holds goes with it unless the stage retains it\n",
            c.logical_id, c.resource_type
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(action: &str, id: &str, ty: &str, replacement: Option<&str>) -> Change {
        Change {
            action: action.into(),
            logical_id: id.into(),
            resource_type: ty.into(),
            replacement: replacement.map(Into::into),
            stateful: STATEFUL.contains(&ty),
        }
    }

    /// A release replaces its functions' version resources (that publishes the new versions) and
    /// keeps the old ones: CI deploys a code change without `--yes`. Removing one still asks.
    #[test]
    fn publishing_a_version_needs_no_consent() {
        assert!(!change("Modify", "ThumbnailVersion", "AWS::Lambda::Version", Some("True")).destructive());
        assert!(change("Remove", "ThumbnailVersion", "AWS::Lambda::Version", None).destructive());
        assert!(change("Modify", "ThumbnailLive", "AWS::Lambda::Alias", Some("True")).destructive());
        assert!(change("Modify", "CatalogTable", "AWS::DynamoDB::Table", Some("Conditional")).destructive());
    }

    #[test]
    fn the_diff_flags_lost_state_loudly() {
        let changes = [
            change("Add", "NewQueue", "AWS::SQS::Queue", None),
            change("Modify", "CatalogTable", "AWS::DynamoDB::Table", Some("True")),
            change("Modify", "ThumbnailFunction", "AWS::Lambda::Function", Some("False")),
            change("Remove", "OldRole", "AWS::IAM::Role", None),
        ];
        expect_test::expect![[r#"
            thumbstack-dev: 4 change(s)
            ACTION  LOGICAL ID         TYPE                   REPLACES
            Add     NewQueue           AWS::SQS::Queue        -
            Modify  CatalogTable       AWS::DynamoDB::Table   yes
            Modify  ThumbnailFunction  AWS::Lambda::Function  no
            Remove  OldRole            AWS::IAM::Role         -
            !! REPLACES CatalogTable (AWS::DynamoDB::Table): the data it holds goes with it unless the stage retains it
        "#]]
        .assert_eq(&render("thumbstack-dev", &changes));
        let destructive: Vec<_> = changes.iter().filter(|c| c.destructive()).map(|c| c.logical_id.as_str()).collect();
        assert_eq!(destructive, ["CatalogTable", "OldRole"]);
    }
}
