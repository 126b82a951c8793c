//! `deploy --hotswap`: when only function code changed since the stage's last release, the new zips
//! go straight to Lambda (`UpdateFunctionCode`, `PublishVersion`, then the `live` alias), with no
//! change set. Anything else that changed (the template, a parameter, the stage file) is refused and
//! named: that is a deploy's work. The next full deploy passes the same zips to CloudFormation, so
//! the stack's own record of the code agrees again.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_sdk_lambda::Client;
use aws_sdk_lambda::types::LastUpdateStatus;
use serde::Serialize;

use crate::aws::AwsContext;
use crate::cfn::artifacts::{self, Uploaded};
use crate::cfn::release::Release;
use crate::template::LIVE_ALIAS;

/// What this run would put on the stage, to compare with the last release.
pub struct Now<'a> {
    pub template_sha256: &'a str,
    pub stage_file_sha256: &'a str,
    /// The stage's parameters as `render` gives them (no deploy-time ones).
    pub parameters: &'a BTreeMap<&'static str, String>,
}

/// Why a hotswap cannot stand in for a deploy: each thing besides function code that differs from
/// the last release. Empty when only code may differ.
pub fn what_changed(last: &Release, now: &Now) -> Vec<String> {
    let mut changed = Vec::new();
    if last.template.sha256 != now.template_sha256 {
        changed.push("the template".to_string());
    }
    if last.stage_file_sha256 != now.stage_file_sha256 {
        changed.push("the stage file".to_string());
    }
    for (key, value) in now.parameters {
        if last.parameters.get(*key) != Some(value) {
            changed.push(format!("parameter {key} ({} → {value})", last.parameters.get(*key).map_or("unset", String::as_str)));
        }
    }
    changed
}

/// One function's new code in place.
#[derive(Debug, Clone, Serialize)]
pub struct Swapped {
    pub function: String,
    pub function_name: String,
    pub version: String,
    pub code_sha256: String,
}

/// Puts `zip` (already in the artifacts bucket) in `function_name`, and, for a function released
/// through `live` (`released`), publishes it as a version once Lambda has finished the update and
/// points the alias at that version. The pre-traffic hook has no alias: CodeDeploy runs its latest.
pub async fn swap(
    lambda: &Client,
    bucket: &str,
    function_name: &str,
    zip: &Uploaded,
    released: bool,
    poll: Duration,
) -> Result<Swapped> {
    let what = format!("updating the code of {function_name}");
    lambda
        .update_function_code()
        .function_name(function_name)
        .s3_bucket(bucket)
        .s3_key(&zip.key)
        .s3_object_version(&zip.version_id)
        .send()
        .await
        .aws(&what)?;
    settled(lambda, function_name, poll).await?;
    let code_sha256 = zip.lambda_sha256()?;
    if !released {
        let version = "$LATEST".to_string();
        return Ok(Swapped { function: zip.function.clone(), function_name: function_name.to_string(), version, code_sha256 });
    }
    // Only this code: Lambda refuses to publish if the function's code is not this zip's.
    let published = lambda
        .publish_version()
        .function_name(function_name)
        .code_sha256(&code_sha256)
        .description(format!("hotswap of {}", zip.sha256))
        .send()
        .await
        .aws(&format!("publishing a version of {function_name}"))?;
    let version = published.version().context("Lambda published a version without a number")?.to_string();
    lambda
        .update_alias()
        .function_name(function_name)
        .name(LIVE_ALIAS)
        .function_version(&version)
        .send()
        .await
        .aws(&format!("moving {function_name}:{LIVE_ALIAS} to version {version}"))?;
    Ok(Swapped { function: zip.function.clone(), function_name: function_name.to_string(), version, code_sha256 })
}

/// Waits until Lambda has applied the update (at most two minutes).
async fn settled(lambda: &Client, function_name: &str, poll: Duration) -> Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let config = lambda
            .get_function_configuration()
            .function_name(function_name)
            .send()
            .await
            .aws(&format!("reading {function_name}"))?;
        match config.last_update_status() {
            None | Some(LastUpdateStatus::Successful) => return Ok(()),
            Some(LastUpdateStatus::Failed) => {
                bail!(
                    "Lambda could not apply the new code of {function_name}: {}",
                    config.last_update_status_reason().unwrap_or("no reason given")
                )
            }
            Some(_) if std::time::Instant::now() > deadline => {
                bail!("{function_name} was still updating after two minutes; nothing was published")
            }
            Some(_) => tokio::time::sleep(poll).await,
        }
    }
}

/// The last release with the swapped functions' code parameters and zips replaced by the new ones.
pub fn parameters_after(last: &Release, swapped: &[&Uploaded]) -> Result<BTreeMap<String, String>> {
    let mut parameters = last.parameters.clone();
    for zip in swapped {
        parameters.insert(artifacts::code_key_parameter(&zip.function), zip.key.clone());
        parameters.insert(artifacts::code_version_parameter(&zip.function), zip.version_id.clone());
        parameters.insert(artifacts::code_sha256_parameter(&zip.function), zip.lambda_sha256()?);
    }
    Ok(parameters)
}

#[cfg(test)]
mod tests;
