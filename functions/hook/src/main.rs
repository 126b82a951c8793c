//! The hook as Lambda runs it: CodeDeploy's `{DeploymentId, LifecycleEventHookExecutionId}` in,
//! the new version asked synchronously (so a crash is an answer, not an hour's wait), the verdict
//! reported back with `PutLifecycleEventHookExecutionStatus`.

use aws_sdk_codedeploy::types::LifecycleEventStatus;
use aws_sdk_lambda::primitives::Blob;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Hook {
    deployment_id: String,
    lifecycle_event_hook_execution_id: String,
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::build_info::answer_if_asked(|| None);
    tracing_subscriber::fmt().json().flatten_event(true).with_target(false).with_current_span(false).without_time().init();
    let targets = hook::targets(std::env::vars());
    let sdk = shared::aws::load_config().await;
    let (lambda, codedeploy) = (aws_sdk_lambda::Client::new(&sdk), aws_sdk_codedeploy::Client::new(&sdk));
    lambda_runtime::run(service_fn(|event: LambdaEvent<Hook>| {
        let (targets, lambda, codedeploy) = (&targets, &lambda, &codedeploy);
        async move {
            let hook = event.payload;
            let verdict = check(targets, lambda, codedeploy, &hook.deployment_id).await;
            let status = match &verdict {
                Ok(function) => {
                    tracing::info!(event = "pre_traffic_passed", deployment = %hook.deployment_id, function = %function);
                    LifecycleEventStatus::Succeeded
                }
                Err(why) => {
                    tracing::warn!(event = "pre_traffic_failed", deployment = %hook.deployment_id, reason = %why);
                    LifecycleEventStatus::Failed
                }
            };
            codedeploy
                .put_lifecycle_event_hook_execution_status()
                .deployment_id(&hook.deployment_id)
                .lifecycle_event_hook_execution_id(&hook.lifecycle_event_hook_execution_id)
                .status(status)
                .send()
                .await?;
            Ok::<_, Error>(())
        }
    }))
    .await
}

/// Which function the deployment releases, and whether its new version answers as it should.
async fn check(
    targets: &[hook::Target],
    lambda: &aws_sdk_lambda::Client,
    codedeploy: &aws_sdk_codedeploy::Client,
    deployment: &str,
) -> Result<String, String> {
    let info =
        codedeploy.get_deployment().deployment_id(deployment).send().await.map_err(|e| format!("reading {deployment}: {e}"))?;
    let group = info.deployment_info().and_then(|d| d.deployment_group_name()).unwrap_or_default();
    let target =
        targets.iter().find(|t| t.group == group).ok_or_else(|| format!("no release of this stack is in group {group:?}"))?;
    let question = serde_json::to_vec(&hook::question(&target.function)).map_err(|e| e.to_string())?;
    let answer = lambda
        .invoke()
        .function_name(&target.version_arn)
        .payload(Blob::new(question))
        .send()
        .await
        .map_err(|e| format!("invoking {}: {e}", target.version_arn))?;
    let payload = answer.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default();
    hook::judge(&target.function, answer.function_error(), &payload)?;
    Ok(target.function.clone())
}
