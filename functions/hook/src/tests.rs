//! The hook's question put to the real handlers, in process, with each function's environment as
//! the dev template gives it and clients that reach nothing (the self-check does no I/O): a working
//! build passes, a broken one fails.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::*;

fn env(function: &str, change: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut env = testkit::function_env(function, |name| Some(format!("{}-resource", name.to_ascii_lowercase())));
    env.insert("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "1024".into());
    for (k, v) in change {
        env.insert((*k).to_string(), (*v).to_string());
    }
    env
}

async fn sdk() -> aws_config::SdkConfig {
    shared::aws::emulator_config("eu-west-1", "http://127.0.0.1:9").await
}

fn invocation() -> worker::batch::Invocation {
    worker::batch::Invocation::from_lambda(SystemTime::now() + Duration::from_secs(30), None)
}

/// The new thumbnail version as the hook meets it, built from `env`.
async fn thumbnail_answers(env: &BTreeMap<String, String>) -> Vec<u8> {
    let config = worker::config::Config::from_lookup(&thumbnail::DEFAULTS, |n| env.get(n).cloned()).unwrap();
    let handler = thumbnail::handler::Handler::new(config, &sdk().await);
    serde_json::to_vec(&handler.invoke(question("thumbnail"), invocation()).await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_working_thumbnail_build_passes() {
    let payload = thumbnail_answers(&env("thumbnail", &[])).await;
    judge("thumbnail", None, &payload).unwrap_or_else(|e| panic!("{e}"));
    let answer: Answer = serde_json::from_slice(&payload).unwrap();
    assert_eq!(answer.hostile, shared::self_check::Verdict::Refused { code: "too_many_pixels".into() }, "{answer:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_working_avatar_build_passes() {
    let env = env("avatar", &[]);
    let config = worker::config::Config::from_lookup(&avatar::DEFAULTS, |n| env.get(n).cloned()).unwrap();
    let handler = avatar::handler::Handler::new(config, &sdk().await);
    let payload = serde_json::to_vec(&handler.invoke(question("avatar"), invocation()).await.unwrap()).unwrap();
    judge("avatar", None, &payload).unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_working_api_build_passes() {
    let env = env("api", &[]);
    let config = api::config::ApiConfig::from_lookup(|n| env.get(n).cloned()).unwrap();
    let api = api::Api::new(config, &sdk().await);
    let request: aws_lambda_events::apigw::ApiGatewayV2httpRequest = serde_json::from_value(question("api")).unwrap();
    let response = api::apigw::response(api.handle(&api::apigw::request(request)).await);
    judge("api", None, &serde_json::to_vec(&response).unwrap()).unwrap_or_else(|e| panic!("{e}"));
}

/// A build shipped with a broken setting (an upload limit of 1,000 bytes) refuses every real photo:
/// the hook fails it, naming what happened to the photo.
#[tokio::test(flavor = "multi_thread")]
async fn a_broken_build_fails_the_hook() {
    let payload = thumbnail_answers(&env("thumbnail", &[("MAX_BYTES", "1000")])).await;
    let why = judge("thumbnail", None, &payload).unwrap_err();
    assert!(why.starts_with("the known-good photo was not rendered") && why.contains("too_many_bytes"), "{why}");
}

/// A version that crashes answers with Lambda's function error: the hook fails at once.
#[test]
fn a_crashing_build_fails_the_hook() {
    let why = judge("thumbnail", Some("Unhandled"), br#"{"errorType":"Runtime.ExitError"}"#).unwrap_err();
    assert!(why.contains("failed (Unhandled)") && why.contains("Runtime.ExitError"), "{why}");
    let why = judge("api", None, br#"{"statusCode":500,"body":"{}"}"#).unwrap_err();
    assert!(why.contains("Some(500)"), "{why}");
}

/// The template names every released function's group and version the way the hook reads them.
#[test]
fn the_template_gives_the_hook_every_release() {
    let template = std::fs::read_to_string(testkit::repo_root().join("xtask/tests/golden/dev/template.yaml")).unwrap();
    let template: serde_norway::Value = serde_norway::from_str(&template).unwrap();
    let variables = template["Resources"]["HookFunction"]["Properties"]["Environment"]["Variables"].as_mapping().unwrap();
    // `!Sub "${Group}|${Version}"` with each reference written `<Name>`.
    let env = variables.iter().map(|(k, v)| {
        let text = match v {
            serde_norway::Value::Tagged(t) => t.value.as_str().unwrap_or_default().to_string(),
            other => other.as_str().unwrap_or_default().to_string(),
        };
        (k.as_str().unwrap().to_string(), text.replace("${", "<").replace('}', ">"))
    });
    let found: Vec<String> =
        targets(env.into_iter()).into_iter().map(|t| format!("{} {} {}", t.function, t.group, t.version_arn)).collect();
    assert_eq!(
        found,
        [
            "thumbnail <ThumbnailReleases> <ThumbnailVersion>",
            "avatar <AvatarReleases> <AvatarVersion>",
            "api <ApiReleases> <ApiVersion>",
        ]
    );
}

#[test]
fn the_releases_come_from_the_environment() {
    let vars = [
        (
            "THUMBNAIL_RELEASE".to_string(),
            "thumbstack-prod-thumbnail|arn:aws:lambda:eu-west-1:1:function:thumbstack-prod-thumbnail:7".to_string(),
        ),
        ("PATH".to_string(), "/usr/bin".to_string()),
    ];
    assert_eq!(
        targets(vars.into_iter()),
        [Target {
            function: "thumbnail".into(),
            group: "thumbstack-prod-thumbnail".into(),
            version_arn: "arn:aws:lambda:eu-west-1:1:function:thumbstack-prod-thumbnail:7".into()
        }]
    );
}
