//! What `bootstrap` made, as `deploy`, `pipeline` and `teardown` read it: the stage's execution
//! role, boundary and deploy policy, or a clear stop naming the command to run first.

use anyhow::Result;

use crate::aws::Aws;
use crate::companions::DOCUMENTS_HASH;
use crate::exit::{Exit, Stop};
use crate::stage::Names;

/// What the bootstrap stack made, as deploy and pipeline need it.
pub struct DeployPath {
    pub execution_role: String,
    pub boundary: String,
    pub deploy_policy: String,
}

/// The stage's bootstrap outputs; a stage never bootstrapped stops with the command to run, and
/// so does one bootstrapped from other documents than `expected` names (the templates' resources
/// changed since: the execution role would lack what the change set needs).
pub async fn read(aws: &Aws, names: &Names<'_>, expected: Option<&str>) -> Result<DeployPath> {
    let stack = names.id.bootstrap_stack();
    let missing = |what: &str| -> anyhow::Error {
        Stop::new(
            Exit::Usage,
            format!(
                "{what}: this stage's deploy path is not set up. Run `cargo xtask bootstrap <stage>` once with administrator \
                 credentials (it creates the execution role every change set runs as, the roles' permissions boundary \
                 and the deploy policy; docs/pipeline.md), then deploy again"
            ),
        )
        .into()
    };
    let cfn = aws.cloudformation();
    let found = match super::stack::describe(&cfn, &stack).await? {
        // A rolled-back update still has the outputs of its last good state.
        Some(found) if usable(super::stack::status(&found)) => found,
        Some(found) => return Err(missing(&format!("the stack {stack} is {}", super::stack::status(&found)))),
        None => return Err(missing(&format!("there is no stack {stack}"))),
    };
    let made_from =
        found.parameters().iter().find(|p| p.parameter_key() == Some(DOCUMENTS_HASH)).and_then(|p| p.parameter_value());
    if let Some(expected) = expected.filter(|e| made_from != Some(*e)) {
        return Err(Stop::new(
            Exit::Usage,
            format!(
                "{stack} was made from other IAM documents ({DOCUMENTS_HASH} {}, now {expected}): the templates' resources \
                 changed since, and the execution role may lack what this change needs. Run `cargo xtask bootstrap <stage>` \
                 again with administrator credentials (`cargo xtask policy <stage> --document execution` shows the new \
                 policy), then deploy",
                made_from.unwrap_or("none")
            ),
        )
        .into());
    }
    // The names are the policies' own (`stage::Names`); the outputs, where the emulator reports
    // them, must agree, or the stack was made from other templates.
    let path =
        DeployPath { execution_role: names.execution_role(), boundary: names.boundary(), deploy_policy: names.deploy_policy() };
    let outputs = super::stack::outputs(aws, &found).await?;
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
