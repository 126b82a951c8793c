//! The hook as Lambda runs it: CodeDeploy's `{DeploymentId, LifecycleEventHookExecutionId}` in,
//! the new version asked synchronously (so a crash is an answer, not an hour's wait), the verdict
//! reported back with `PutLifecycleEventHookExecutionStatus`.

use hook::signed::Caller;
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
    let caller = Caller::new(&shared::aws::load_config().await)?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Hook>| {
        let (targets, caller) = (&targets, &caller);
        async move {
            let hook = event.payload;
            let verdict = hook::check(targets, caller, &hook.deployment_id).await;
            match &verdict {
                Ok(function) => {
                    tracing::info!(event = "pre_traffic_passed", deployment = %hook.deployment_id, function = %function)
                }
                Err(why) => tracing::warn!(event = "pre_traffic_failed", deployment = %hook.deployment_id, reason = %why),
            }
            hook::signed::report(caller, &hook.deployment_id, &hook.lifecycle_event_hook_execution_id, verdict.is_ok()).await?;
            Ok::<_, Error>(())
        }
    }))
    .await
}
