//! A protected stage (`protected: true`): every stack of it has termination protection, its own
//! stack a stack policy that refuses to replace or delete what holds data, and teardown goes ahead
//! only when the operator names the stage.

use anyhow::Result;

use crate::aws::AwsContext;
use crate::exit::{Exit, Stop};
use crate::stage::Stage;

/// What [`super::apply`] does to a stack after its change set: termination protection always, and
/// the stack policy where one is given.
#[derive(Debug, Clone)]
pub struct Protection {
    pub stack_policy: Option<String>,
}

impl Protection {
    /// The protection a protected stage's stack gets (`None` on any other stage).
    pub fn of(stage: &Stage, stack_policy: Option<&str>) -> Option<Protection> {
        stage.protected.then(|| Protection { stack_policy: stack_policy.map(str::to_string) })
    }
}

/// Sets the stack policy (when there is one) and switches termination protection on. Both are
/// idempotent, so every deploy does them; switching protection off is an administrator's act.
pub async fn protect(cfn: &aws_sdk_cloudformation::Client, stack: &str, protection: &Protection) -> Result<()> {
    if let Some(policy) = &protection.stack_policy {
        cfn.set_stack_policy()
            .stack_name(stack)
            .stack_policy_body(policy)
            .send()
            .await
            .aws(&format!("setting the stack policy of {stack}"))?;
    }
    termination_protection(cfn, stack, true).await?;
    eprintln!(
        "protected: {stack} has termination protection{}",
        if protection.stack_policy.is_some() { " and its stack policy" } else { "" }
    );
    Ok(())
}

/// Before a teardown of a protected stage touches anything: the operator passed
/// `--confirm-protected <stage>`, or typed the stage's name at a terminal prompt.
pub fn confirm_teardown(stage: &Stage, confirmed: Option<&str>) -> Result<(), Stop> {
    let name = stage.id.stage();
    if !stage.protected || confirmed == Some(name) {
        return Ok(());
    }
    if let Some(other) = confirmed {
        return Err(Stop::new(
            Exit::Usage,
            format!("--confirm-protected {other} does not name this stage ({name}); nothing was deleted"),
        ));
    }
    if !crate::ui::interactive() {
        return Err(Stop::new(
            Exit::Usage,
            format!(
                "{name} is a protected stage: teardown deletes what people depend on. No one is here to type its name (CI \
                 is set or there is no terminal), and --yes is not enough. Nothing was deleted. If you mean it, re-run with \
                 --confirm-protected {name}"
            ),
        ));
    }
    if crate::ui::answer(&format!("{name} is a protected stage. Type its name to delete it:")) == name {
        Ok(())
    } else {
        Err(Stop::new(Exit::Declined, "that is not the stage's name; nothing was deleted"))
    }
}

/// Switches termination protection off, once the operator confirmed a protected stage's teardown.
pub async fn unprotect(cfn: &aws_sdk_cloudformation::Client, stack: &str) -> Result<()> {
    termination_protection(cfn, stack, false).await
}

async fn termination_protection(cfn: &aws_sdk_cloudformation::Client, stack: &str, on: bool) -> Result<()> {
    cfn.update_termination_protection()
        .stack_name(stack)
        .enable_termination_protection(on)
        .send()
        .await
        .aws(&format!("switching {} termination protection of {stack}", if on { "on" } else { "off" }))?;
    Ok(())
}

#[cfg(test)]
mod tests;
