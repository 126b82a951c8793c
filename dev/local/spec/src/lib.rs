//! The contract between `cargo xtask local` (the deployer, which knows the stack) and
//! `thumbstack-local` (the runtime, which links the handlers): one JSON file. Also the one place
//! a function's environment is derived from the template, for `local` and for `testkit`, so
//! neither writes it out again; and the figures `thumbstack-bench e2e` hands the bench (`e2e`).

pub mod e2e;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_norway::Value;

/// The repository: the nearest folder above `CARGO_MANIFEST_DIR` (as cargo sets it for the
/// running process), else above the working directory, that holds the workspace's `Cargo.lock`.
/// Read at run time, never with `env!`: CI reuses built binaries from a cache across clones in
/// other folders, and cargo does not rebuild a crate when only its folder moved.
pub fn repo_root() -> PathBuf {
    let from = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).or_else(|| std::env::current_dir().ok());
    from.as_deref()
        .and_then(|dir| dir.ancestors().find(|d| d.join("Cargo.lock").is_file() && d.join("xtask/Cargo.toml").is_file()))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("not inside the thumbstack repository (no Cargo.lock with xtask/ above {from:?})"))
}

/// Everything the runtime needs; written by `xtask local` to `target/local/runtime.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The emulator every client talks to (fake credentials).
    pub endpoint: String,
    pub region: String,
    /// 0: any free port. The runtime prints `http://127.0.0.1:<port>` as its first stdout line.
    pub port: u16,
    pub site_dir: PathBuf,
    pub assets_bucket: String,
    pub thumbnail: QueueFunction,
    pub avatar: QueueFunction,
    pub api: Function,
    /// Who signs people in: the stage's pool in the emulator (`xtask local` makes it).
    pub user_pool: UserPool,
    /// The `Content-Security-Policy` every answer carries ([`content_security_policy`]).
    pub content_security_policy: String,
}

/// A Cognito user pool and the site's app client in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPool {
    pub id: String,
    pub client_id: String,
}

impl UserPool {
    /// The `iss` of the pool's tokens, as Cognito (and moto) write it.
    pub fn issuer(&self, region: &str) -> String {
        format!("https://cognito-idp.{region}.amazonaws.com/{}", self.id)
    }

    /// Where the emulator serves the pool's signing keys (AWS: `<issuer>/.well-known/jwks.json`).
    pub fn jwks_url(&self, endpoint: &str) -> String {
        format!("{}/{}/.well-known/jwks.json", endpoint.trim_end_matches('/'), self.id)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    /// The template's `Environment.Variables`, resolved.
    pub env: BTreeMap<String, String>,
    /// Where its log lines go (the stack's `<Function>LogGroup`), as Lambda sends them.
    pub log_group: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueFunction {
    #[serde(flatten)]
    pub function: Function,
    pub queue_url: String,
    pub batch_size: i32,
    /// The function's timeout, as Lambda would end each invocation.
    pub timeout_s: u64,
}

/// `thumbnail` → `ThumbnailFunction`, `ThumbnailLogGroup`, ...: the template's logical ids.
pub fn logical_id(function: &str, suffix: &str) -> String {
    let mut chars = function.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase().to_string()).unwrap_or_default();
    format!("{first}{}{suffix}", chars.as_str())
}

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("the template is not YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    #[error("the template has no resource {0} with Properties.Environment.Variables")]
    NoFunction(String),
    #[error("the template has no {0}")]
    Missing(&'static str),
    #[error("{function}: {name} is {value}, which can only be resolved on AWS")]
    Unresolvable { function: String, name: String, value: String },
    #[error("{function}: {name} refers to {reference}, which is neither a parameter, a resource nor a condition of the stack")]
    Unknown { function: String, name: String, reference: String },
}

/// The value at `path` in a template (`["Resources", "UserPool", "Properties", …]`), if any.
pub fn at<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |value, key| value.get(*key))
}

/// The environment the template gives `function` (`thumbnail`, `avatar`, `api`): literals as
/// they are, `!Ref X` through `resolve` (parameters and the stack's physical resource ids).
pub fn function_env(
    template: &str,
    function: &str,
    resolve: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, EnvError> {
    let doc: Value = serde_norway::from_str(template)?;
    let resource = logical_id(function, "Function");
    let variables = at(&doc, &["Resources", &resource, "Properties", "Environment", "Variables"])
        .and_then(Value::as_mapping)
        .ok_or_else(|| EnvError::NoFunction(resource.clone()))?;
    let mut env = BTreeMap::new();
    for (name, value) in variables {
        let name = name.as_str().unwrap_or_default().to_string();
        let resolved = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Tagged(tagged) if tagged.tag == "Ref" => {
                let reference = tagged.value.as_str().unwrap_or_default().to_string();
                resolve(&reference).ok_or(EnvError::Unknown { function: function.into(), name: name.clone(), reference })?
            }
            // `!If [Condition, then, else]` with a literal branch taken: `resolve` answers the
            // condition ("true" or "false"), as the stage it stands in for would.
            Value::Tagged(tagged) if tagged.tag == "If" => {
                let branches = tagged.value.as_sequence().filter(|s| s.len() == 3);
                let condition = branches.and_then(|s| s[0].as_str()).unwrap_or_default().to_string();
                let taken = match resolve(&condition).as_deref() {
                    Some("true") => branches.map(|s| &s[1]),
                    Some("false") => branches.map(|s| &s[2]),
                    _ => return Err(EnvError::Unknown { function: function.into(), name, reference: condition }),
                };
                match taken {
                    Some(Value::String(s)) => s.clone(),
                    _ => {
                        let value = serde_norway::to_string(value).unwrap_or_default().trim().to_string();
                        return Err(EnvError::Unresolvable { function: function.into(), name, value });
                    }
                }
            }
            other => {
                let value = serde_norway::to_string(other).unwrap_or_default().trim().to_string();
                return Err(EnvError::Unresolvable { function: function.into(), name, value });
            }
        };
        env.insert(name, resolved);
    }
    Ok(env)
}

/// The site's CSP as the template's `SecurityHeaders` give it to CloudFront, for a server that
/// plays CloudFront in front of the emulator: each bucket source (`https://${…}`) becomes the
/// emulator's `endpoint`, and the sign-in domain (a `!If` on the stage's own pool) drops out,
/// because the local sign-in is the site's own origin.
pub fn content_security_policy(template: &str, endpoint: &str) -> Result<String, EnvError> {
    let doc: Value = serde_norway::from_str(template)?;
    let missing = || EnvError::Missing("SecurityHeaders with a ContentSecurityPolicy !Join");
    let path = [
        "Resources",
        "SecurityHeaders",
        "Properties",
        "ResponseHeadersPolicyConfig",
        "SecurityHeadersConfig",
        "ContentSecurityPolicy",
        "ContentSecurityPolicy",
    ];
    let policy = at(&doc, &path).ok_or_else(missing)?;
    let parts = match policy {
        Value::Tagged(join) if join.tag == "Join" => join.value.as_sequence().and_then(|s| s.get(1)).and_then(Value::as_sequence),
        _ => None,
    }
    .ok_or_else(missing)?;
    let mut text = String::new();
    for part in parts {
        match part {
            Value::String(s) => text.push_str(s),
            Value::Tagged(t) if t.tag == "Sub" => text.push_str(t.value.as_str().unwrap_or_default()),
            _ => {}
        }
    }
    let origin = endpoint.trim_end_matches('/');
    let directives: Vec<String> = text
        .split(';')
        .map(|d| d.split_whitespace().map(|w| if w.starts_with("https://${") { origin } else { w }).collect::<Vec<_>>().join(" "))
        .collect();
    Ok(directives.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Resources:
  ThumbnailFunction:
    Type: AWS::Lambda::Function
    Properties:
      Environment:
        Variables:
          ASSETS_BUCKET: !Ref AssetsBucket
          MAX_EDGE: !Ref ThumbnailEdge
          INPUT_PREFIX: images/
          RETRIES: 3
"#;

    #[test]
    fn literals_stay_and_refs_resolve() {
        let env = function_env(TEMPLATE, "thumbnail", |name| match name {
            "AssetsBucket" => Some("assets-123".into()),
            "ThumbnailEdge" => Some("256".into()),
            _ => None,
        })
        .unwrap();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("ASSETS_BUCKET", "assets-123"), ("INPUT_PREFIX", "images/"), ("MAX_EDGE", "256"), ("RETRIES", "3")]);
    }

    #[test]
    fn a_condition_picks_a_literal_branch() {
        let template = TEMPLATE.replace("INPUT_PREFIX: images/", "SECRET: !If [RunsOnAws, !Sub \"{{resolve:x}}\", \"\"]");
        let env = |on_aws: &'static str| {
            function_env(&template, "thumbnail", move |name| match name {
                "RunsOnAws" => Some(on_aws.into()),
                _ => Some("x".into()),
            })
        };
        assert_eq!(env("false").unwrap()["SECRET"], "");
        assert!(matches!(env("true"), Err(EnvError::Unresolvable { .. })), "the AWS branch is AWS's to resolve");
        assert!(matches!(env("maybe"), Err(EnvError::Unknown { .. })));
    }

    #[test]
    fn an_unknown_ref_or_function_is_an_error() {
        assert!(matches!(function_env(TEMPLATE, "thumbnail", |_| None), Err(EnvError::Unknown { .. })));
        assert!(matches!(function_env(TEMPLATE, "avatar", |_| Some(String::new())), Err(EnvError::NoFunction(_))));
        let sub = TEMPLATE.replace("!Ref ThumbnailEdge", "!Sub \"${AWS::Region}\"");
        assert!(matches!(function_env(&sub, "thumbnail", |_| Some("x".into())), Err(EnvError::Unresolvable { .. })));
    }

    #[test]
    fn the_local_csp_is_the_templates_with_the_emulator_for_the_buckets() {
        let template = std::fs::read_to_string(repo_root().join("infra/template.yaml")).unwrap();
        let csp = content_security_policy(&template, "http://127.0.0.1:5000/").unwrap();
        assert_eq!(
            csp,
            "default-src 'self'; img-src 'self' data: blob: http://127.0.0.1:5000; connect-src 'self' http://127.0.0.1:5000; \
             style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
        );
    }

    #[test]
    fn the_real_template_resolves_for_every_function() {
        let template = std::fs::read_to_string(repo_root().join("infra/template.yaml")).unwrap();
        for function in ["thumbnail", "avatar", "api"] {
            let env = function_env(&template, function, |name| {
                Some(if name == "RunsOnAws" { "false".into() } else { format!("<{name}>") })
            })
            .unwrap();
            assert_eq!(env.get("RUST_LOG").map(String::as_str), Some("info"), "{function}");
            assert!(env.contains_key("LOG_BUCKET"), "{function}");
        }
    }
}
