//! CodeDeploy's pre-traffic hook. Before any traffic moves to a new version, CodeDeploy runs this
//! function; it asks the new version one question and tells CodeDeploy whether the answer is a
//! working build's. The image functions get one known-good photo and one hostile file
//! (`shared::self_check`), which they run through their own render with no I/O; the api answers
//! `GET /api/openapi.json`. A version that crashes, refuses the photo, renders the hostile file or
//! does not answer 200 stops the rollout before anyone sees it.

use aws_lambda_events::apigw::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use serde_json::Value;
use shared::self_check::{Answer, Request};

pub mod signed;

/// A known-good photo from the corpus (1280x1024 JPEG) and a file that declares 10 Gpx in its
/// header (`tests/corpus/hostile/`, refused before any allocation).
pub const PHOTO: &[u8] = include_bytes!("../../../tests/corpus/photos/s2_greenmeadow_1280x1024.jpg");
pub const HOSTILE: &[u8] = include_bytes!("../../../tests/corpus/hostile/bomb_100000x100000_rgb_partial.png");

/// The environment variable suffix that names a release: `<FUNCTION>_RELEASE=<group>|<version ARN>`.
pub const RELEASE_SUFFIX: &str = "_RELEASE";

/// A deployment group, the function it releases and the version being released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub function: String,
    pub group: String,
    pub version_arn: String,
}

/// Every target the template named in the environment.
pub fn targets(vars: impl Iterator<Item = (String, String)>) -> Vec<Target> {
    vars.filter_map(|(name, value)| {
        let function = name.strip_suffix(RELEASE_SUFFIX)?.to_ascii_lowercase();
        let (group, version_arn) = value.split_once('|')?;
        Some(Target { function, group: group.to_string(), version_arn: version_arn.to_string() })
    })
    .collect()
}

/// What the hook sends the new version of `function`.
pub fn question(function: &str) -> Value {
    if function != "api" {
        return serde_json::to_value(Request::new(PHOTO, HOSTILE)).unwrap_or_default();
    }
    let path = "/api/openapi.json";
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = aws_lambda_events::http::Method::GET;
    http.path = Some(path.into());
    http.protocol = Some("HTTP/1.1".into());
    http.source_ip = Some("127.0.0.1".into());
    http.user_agent = Some("thumbstack-hook".into());
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http = http;
    context.route_key = Some(format!("GET {path}"));
    context.stage = Some("$default".into());
    context.request_id = Some("pre-traffic-hook".into());
    let mut request = ApiGatewayV2httpRequest::default();
    request.version = Some("2.0".into());
    request.route_key = Some(format!("GET {path}"));
    request.raw_path = Some(path.into());
    request.raw_query_string = Some(String::new());
    request.request_context = context;
    serde_json::to_value(request).unwrap_or_default()
}

/// Whether the new version of `function` answered as a working build does. `function_error` is
/// Lambda's (`Unhandled`, a crash, a timeout); `payload` what the version returned.
pub fn judge(function: &str, function_error: Option<&str>, payload: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(payload);
    if let Some(error) = function_error {
        return Err(format!("the new version failed ({error}): {text}"));
    }
    if function == "api" {
        let status = serde_json::from_slice::<Value>(payload).ok().and_then(|v| v["statusCode"].as_u64());
        return match status {
            Some(200) => Ok(()),
            other => Err(format!("the new api answered GET /api/openapi.json with {other:?}: {text}")),
        };
    }
    let answer: Answer =
        serde_json::from_slice(payload).map_err(|e| format!("the new version's answer is not a self-check ({e}): {text}"))?;
    answer.judge()
}

/// Which function the deployment releases, and whether its new version answers as it should.
pub async fn check(targets: &[Target], caller: &signed::Caller, deployment: &str) -> Result<String, String> {
    let group = signed::deployment_group(caller, deployment).await?;
    let target =
        targets.iter().find(|t| t.group == group).ok_or_else(|| format!("no release of this stack is in group {group:?}"))?;
    let question = serde_json::to_vec(&question(&target.function)).map_err(|e| e.to_string())?;
    let answer = signed::invoke(caller, &target.version_arn, question)
        .await
        .map_err(|e| format!("invoking {}: {e}", target.version_arn))?;
    judge(&target.function, answer.function_error.as_deref(), &answer.body)?;
    Ok(target.function.clone())
}

#[cfg(test)]
mod tests;
