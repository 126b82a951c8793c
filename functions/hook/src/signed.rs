//! The hook's three AWS calls (`shared::signed`): CodeDeploy's `GetDeployment` and
//! `PutLifecycleEventHookExecutionStatus`, Lambda's `Invoke`.

use serde_json::{Value, json};
pub use shared::signed::{Caller, Reply};
use shared::signed::{Service, label};

/// CodeDeploy's JSON 1.1 target prefix and Lambda's invoke path, as the service models name them.
const CODEDEPLOY_TARGET: &str = "CodeDeploy_20141006";
const INVOKE_PATH: &str = "/2015-03-31/functions";

/// CodeDeploy's `GetDeployment`: the deployment group it releases.
pub async fn deployment_group(caller: &Caller, deployment: &str) -> Result<String, String> {
    let info = codedeploy(caller, "GetDeployment", json!({ "deploymentId": deployment })).await?;
    info["deploymentInfo"]["deploymentGroupName"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("CodeDeploy named no deployment group for {deployment}: {info}"))
}

/// CodeDeploy's `PutLifecycleEventHookExecutionStatus`: the verdict, `Succeeded` or `Failed`.
pub async fn report(caller: &Caller, deployment: &str, execution: &str, passed: bool) -> Result<(), String> {
    let status = if passed { "Succeeded" } else { "Failed" };
    let body = json!({ "deploymentId": deployment, "lifecycleEventHookExecutionId": execution, "status": status });
    codedeploy(caller, "PutLifecycleEventHookExecutionStatus", body).await.map(drop)
}

/// Lambda's synchronous `Invoke` of one version: its function error, if any, and its payload.
pub async fn invoke(caller: &Caller, version_arn: &str, payload: Vec<u8>) -> Result<Reply, String> {
    let path = format!("{INVOKE_PATH}/{}/invocations", label(version_arn));
    let reply = caller.send(Service::regional("lambda"), &path, &[("content-type", "application/octet-stream")], payload).await?;
    match reply.status {
        200 => Ok(reply),
        status => Err(format!("Lambda answered {status}: {}", String::from_utf8_lossy(&reply.body))),
    }
}

async fn codedeploy(caller: &Caller, operation: &str, body: Value) -> Result<Value, String> {
    let target = format!("{CODEDEPLOY_TARGET}.{operation}");
    let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target.as_str())];
    let reply = caller.send(Service::regional("codedeploy"), "/", &headers, body.to_string().into_bytes()).await?;
    let answer: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    match reply.status {
        200 => Ok(answer),
        status => Err(format!("CodeDeploy's {operation} answered {status}: {}", String::from_utf8_lossy(&reply.body))),
    }
}

#[cfg(test)]
mod tests;
