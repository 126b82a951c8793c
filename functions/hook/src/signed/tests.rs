//! The hook's calls against a stand-in with CodeDeploy's and Lambda's recorded answers (moto has no
//! CodeDeploy, and its Lambda runs no code without Docker). Each request is held to the one the SDK
//! sends for the same operation, and every signature is checked the way AWS checks it: signed again
//! from what arrived, with the caller's secret.

use std::sync::{Arc, Mutex};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use serde_json::{Value, json};
use testkit::stand_in::{Answer, Request, serve};

use super::{Caller, deployment_group, invoke, report};

const GROUP: &str = "thumbstack-prod-thumbnail";
const VERSION: &str = "arn:aws:lambda:eu-west-1:123456789012:function:thumbstack-prod-thumbnail:7";

/// What arrived: method, path, headers (lowercased names), body.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Answers as the services do: `GetDeployment` names `GROUP`, an invoke answers `invoke` (status,
/// `X-Amz-Function-Error`, payload), anything else `{}`. Keeps every request.
fn services(invoke: (&'static str, Option<&'static str>, &'static str)) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&seen);
    let endpoint = serve(move |request: &Request| {
        let (method, path) = request.line();
        kept.lock().unwrap().push(Seen {
            method: method.into(),
            path: path.into(),
            headers: request.headers(),
            body: request.body.clone(),
        });
        if path.ends_with("/invocations") {
            let headers = invoke.1.map(|e| vec![("X-Amz-Function-Error", e.to_string())]).unwrap_or_default();
            return Answer { status: invoke.0, content_type: "application/json", body: invoke.2.into(), headers };
        }
        let body = match request.header("x-amz-target") {
            Some("CodeDeploy_20141006.GetDeployment") => {
                json!({ "deploymentInfo": { "deploymentId": "d-ABCDEF123", "deploymentGroupName": GROUP, "status": "InProgress" } })
            }
            Some("CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus") => json!({ "lifecycleEventHookExecutionId": "h-1" }),
            _ => json!({ "__type": "UnknownOperationException" }),
        };
        Answer { status: "200 OK", content_type: "application/x-amz-json-1.1", body: body.to_string(), ..Default::default() }
    });
    (endpoint, seen)
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    shared::aws::emulator_config("eu-west-1", endpoint).await
}

/// Signs `seen` again from its own `X-Amz-Date` and `SignedHeaders`, as the service does, and
/// compares the signature it carries.
fn verifies(seen: &Seen) -> Result<(), String> {
    let authorization = seen.header("authorization").ok_or("unsigned")?;
    let field = |name: &str| {
        authorization.split([' ', ',']).find_map(|p| p.strip_prefix(name)).map(str::to_string).ok_or(format!("no {name}"))
    };
    let (credential, signed, signature) = (field("Credential=")?, field("SignedHeaders=")?, field("Signature=")?);
    let scope: Vec<&str> = credential.split('/').collect();
    let date = seen.header("x-amz-date").ok_or("no x-amz-date")?;
    let time = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ").map_err(|e| e.to_string())?.and_utc();
    let identity = aws_credential_types::Credentials::new(scope[0], "thumbstack-emulator", None, None, "check").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(scope[2])
        .name(scope[3])
        .time(time.into())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let names: Vec<&str> = signed.split(';').collect();
    let headers = seen.headers.iter().filter(|(n, _)| names.contains(&n.as_str()) && n != "x-amz-date");
    let uri = format!("http://{}{}", seen.header("host").ok_or("no host")?, seen.path);
    let signable = SignableRequest::new(
        &seen.method,
        uri,
        headers.map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(seen.body.as_bytes()),
    )
    .map_err(|e| e.to_string())?;
    let (_, again) = sign(signable, &params).map_err(|e| e.to_string())?.into_parts();
    (again == signature).then_some(()).ok_or(format!("signature {signature} is not {again}: {seen:?}"))
}

/// The same operation from the SDK and from `Caller`: the same method, path, target and body, and
/// both signatures verify.
fn same_request(sdk: &Seen, ours: &Seen) {
    assert_eq!((&ours.method, &ours.path), (&sdk.method, &sdk.path));
    assert_eq!(ours.header("x-amz-target"), sdk.header("x-amz-target"));
    let json = |s: &Seen| serde_json::from_str::<Value>(&s.body).unwrap_or(Value::String(s.body.clone()));
    assert_eq!(json(ours), json(sdk));
    verifies(sdk).unwrap_or_else(|e| panic!("the check itself is wrong: the SDK's request fails it: {e}"));
    verifies(ours).unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn each_call_is_the_sdks_request_signed_as_aws_checks_it() {
    let (endpoint, seen) = services(("200 OK", None, r#"{"ok":true}"#));
    let sdk = sdk(&endpoint).await;
    let codedeploy = aws_sdk_codedeploy::Client::new(&sdk);
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    codedeploy.get_deployment().deployment_id("d-ABCDEF123").send().await.unwrap();
    codedeploy
        .put_lifecycle_event_hook_execution_status()
        .deployment_id("d-ABCDEF123")
        .lifecycle_event_hook_execution_id("h-1")
        .status(aws_sdk_codedeploy::types::LifecycleEventStatus::Failed)
        .send()
        .await
        .unwrap();
    lambda.invoke().function_name(VERSION).payload(b"{\"question\":1}".to_vec().into()).send().await.unwrap();

    let caller = Caller::new(&sdk).unwrap();
    assert_eq!(deployment_group(&caller, "d-ABCDEF123").await.unwrap(), GROUP);
    report(&caller, "d-ABCDEF123", "h-1", false).await.unwrap();
    let reply = invoke(&caller, VERSION, b"{\"question\":1}".to_vec()).await.unwrap();
    assert_eq!((reply.function_error, reply.body.as_slice()), (None, br#"{"ok":true}"#.as_slice()));

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 6, "{seen:#?}");
    for (sdk, ours) in seen[..3].iter().zip(&seen[3..]) {
        same_request(sdk, ours);
    }
    assert!(seen[5].path.contains("thumbstack-prod-thumbnail%3A7"), "{}", seen[5].path);
}

/// A version that crashes: Lambda answers 200 with `X-Amz-Function-Error`, the hook judges it
/// failed and tells CodeDeploy so.
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_is_reported_to_codedeploy_as_failed() {
    let (endpoint, seen) = services(("200 OK", Some("Unhandled"), r#"{"errorType":"Runtime.ExitError"}"#));
    let caller = Caller::new(&sdk(&endpoint).await).unwrap();
    let targets = crate::targets([("THUMBNAIL_RELEASE".to_string(), format!("{GROUP}|{VERSION}"))].into_iter());
    let why = crate::check(&targets, &caller, "d-ABCDEF123").await.unwrap_err();
    assert!(why.contains("failed (Unhandled)") && why.contains("Runtime.ExitError"), "{why}");
    report(&caller, "d-ABCDEF123", "h-1", false).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let report: Value = serde_json::from_str(&seen.last().unwrap().body).unwrap();
    assert_eq!(report, json!({ "deploymentId": "d-ABCDEF123", "lifecycleEventHookExecutionId": "h-1", "status": "Failed" }));
}

/// A deployment of a group this stack's hook does not know, and an invoke Lambda refuses: each is
/// a failure with the service's words in it, never a pass.
#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_group_or_a_refused_invoke_fails() {
    let (endpoint, _) = services(("403 Forbidden", None, r#"{"Message":"not authorized"}"#));
    let caller = Caller::new(&sdk(&endpoint).await).unwrap();
    let other = crate::targets([("AVATAR_RELEASE".to_string(), format!("thumbstack-prod-avatar|{VERSION}"))].into_iter());
    let why = crate::check(&other, &caller, "d-ABCDEF123").await.unwrap_err();
    assert!(why.contains("no release of this stack is in group"), "{why}");
    let targets = crate::targets([("THUMBNAIL_RELEASE".to_string(), format!("{GROUP}|{VERSION}"))].into_iter());
    let why = crate::check(&targets, &caller, "d-ABCDEF123").await.unwrap_err();
    assert!(why.contains("Lambda answered 403") && why.contains("not authorized"), "{why}");
}
