//! The hook's three AWS calls, signed with the SDK's own SigV4 signer and sent through the SDK's own
//! HTTP connector, both already in every function's build. `aws-sdk-lambda` and
//! `aws-sdk-codedeploy` would do the same for 2 × 3 minutes more of release build per architecture
//! in every cold CI run (`docs/ci.md`), for three operations.

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_lambda_events::http;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings, SharedHttpConnector};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use serde_json::{Value, json};

/// CodeDeploy's JSON 1.1 target prefix and Lambda's invoke path, as the service models name them.
const CODEDEPLOY_TARGET: &str = "CodeDeploy_20141006";
const INVOKE_PATH: &str = "/2015-03-31/functions";
/// What a path label keeps unescaped: RFC 3986's unreserved characters, as the SDK writes labels.
const LABEL: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Everything a signed call needs, built once per cold start.
pub struct Caller {
    connector: SharedHttpConnector,
    credentials: SharedCredentialsProvider,
    region: String,
    /// `AWS_ENDPOINT_URL` when set (tests point it at a stand-in), else each service's own.
    endpoint: Option<String>,
}

/// A service's answer: status, Lambda's `X-Amz-Function-Error`, body.
pub struct Reply {
    pub status: u16,
    pub function_error: Option<String>,
    pub body: Vec<u8>,
}

impl Caller {
    pub fn new(sdk: &SdkConfig) -> Result<Self, String> {
        let settings = HttpConnectorSettings::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(Duration::from_secs(120))
            .build();
        let connector = aws_smithy_http_client::default_connector(&settings, sdk.sleep_impl())
            .ok_or("the SDK was built without its HTTPS client")?;
        let credentials = sdk.credentials_provider().ok_or("no credentials in the environment")?;
        let region = sdk.region().ok_or("no region in the environment")?.to_string();
        Ok(Self { connector, credentials, region, endpoint: sdk.endpoint_url().map(str::to_string) })
    }

    /// CodeDeploy's `GetDeployment`: the deployment group it releases.
    pub async fn deployment_group(&self, deployment: &str) -> Result<String, String> {
        let info = self.codedeploy("GetDeployment", json!({ "deploymentId": deployment })).await?;
        info["deploymentInfo"]["deploymentGroupName"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("CodeDeploy named no deployment group for {deployment}: {info}"))
    }

    /// CodeDeploy's `PutLifecycleEventHookExecutionStatus`: the verdict, `Succeeded` or `Failed`.
    pub async fn report(&self, deployment: &str, execution: &str, passed: bool) -> Result<(), String> {
        let status = if passed { "Succeeded" } else { "Failed" };
        let body = json!({ "deploymentId": deployment, "lifecycleEventHookExecutionId": execution, "status": status });
        self.codedeploy("PutLifecycleEventHookExecutionStatus", body).await.map(drop)
    }

    /// Lambda's synchronous `Invoke` of one version: its function error, if any, and its payload.
    pub async fn invoke(&self, version_arn: &str, payload: Vec<u8>) -> Result<Reply, String> {
        let name = percent_encoding::utf8_percent_encode(version_arn, LABEL);
        let path = format!("{INVOKE_PATH}/{name}/invocations");
        let reply = self.send("lambda", &path, &[("content-type", "application/octet-stream")], payload).await?;
        match reply.status {
            200 => Ok(reply),
            status => Err(format!("Lambda answered {status}: {}", String::from_utf8_lossy(&reply.body))),
        }
    }

    async fn codedeploy(&self, operation: &str, body: Value) -> Result<Value, String> {
        let target = format!("{CODEDEPLOY_TARGET}.{operation}");
        let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target.as_str())];
        let reply = self.send("codedeploy", "/", &headers, body.to_string().into_bytes()).await?;
        let answer: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        match reply.status {
            200 => Ok(answer),
            status => Err(format!("CodeDeploy's {operation} answered {status}: {}", String::from_utf8_lossy(&reply.body))),
        }
    }

    async fn send(&self, service: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Result<Reply, String> {
        let base = self.endpoint.clone().unwrap_or_else(|| format!("https://{service}.{}.amazonaws.com", self.region));
        let uri = format!("{}{path}", base.trim_end_matches('/'));
        let mut request = http::Request::post(&uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(body).map_err(|e| format!("building {uri}: {e}"))?;
        self.sign(service, &mut request).await?;
        let request = request.map(SdkBody::from);
        let request = aws_smithy_runtime_api::http::Request::try_from(request).map_err(|e| format!("{uri}: {e}"))?;
        let response = self.connector.call(request).await.map_err(|e| format!("calling {uri}: {e}"))?;
        let status = response.status().as_u16();
        let function_error = response.headers().get("x-amz-function-error").map(str::to_string);
        let body = ByteStream::new(response.into_body())
            .collect()
            .await
            .map_err(|e| format!("reading {uri}'s answer: {e}"))?
            .into_bytes()
            .to_vec();
        Ok(Reply { status, function_error, body })
    }

    async fn sign(&self, service: &str, request: &mut http::Request<Vec<u8>>) -> Result<(), String> {
        let credentials = self.credentials.provide_credentials().await.map_err(|e| format!("loading credentials: {e}"))?;
        let identity = credentials.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("signing for {service}: {e}"))?
            .into();
        let uri = request.uri().to_string();
        let headers = request.headers().iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
        let signable = SignableRequest::new("POST", uri, headers, SignableBody::Bytes(request.body()))
            .map_err(|e| format!("signing for {service}: {e}"))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| format!("signing for {service}: {e}"))?.into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
