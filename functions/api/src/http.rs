//! The api's own request and response, independent of what carries them: API Gateway's
//! payload on AWS (`apigw.rs`), `cargo xtask local`'s server on a laptop.

use serde::Serialize;
use serde_json::{Value, json};

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// The JWT `sub` the authorizer verified; `None` when the route is public or unauthenticated.
    pub subject: Option<String>,
    /// The same token's `iss` and `username` (`crate::account`: which pool, and which user in it).
    pub sign_in: Option<SignIn>,
    /// The `X-Origin-Verify` header: what CloudFront adds to every request it forwards.
    pub origin_verify: Option<String>,
}

/// Where a verified token says its user lives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignIn {
    pub issuer: String,
    /// Cognito's `username` claim of an access token; the name `AdminDeleteUser` takes.
    pub username: String,
}

impl Request {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The body as a JSON object, or a 400 saying why not.
    pub fn json_object(&self) -> Result<serde_json::Map<String, Value>, ApiError> {
        let body =
            self.body.as_deref().filter(|b| !b.is_empty()).ok_or_else(|| ApiError::bad(None, "a JSON body is required"))?;
        match serde_json::from_slice(body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(ApiError::bad(None, "the body must be a JSON object")),
            Err(e) => Err(ApiError::bad(None, format!("the body is not valid JSON: {e}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn json(status: u16, value: &impl Serialize) -> Response {
        let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
        Response { status, content_type: "application/json", body }
    }
}

/// Everything a route can answer besides success. Internal details go to the log, not the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { field: Option<String>, message: String },
    #[error("sign in first")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("no such route")]
    NotFound,
    /// A thing that does not exist, or is not the caller's: the two answer alike, so nobody
    /// learns of another's photos by asking.
    #[error("{0}")]
    NoSuch(String),
    #[error("method not allowed; allowed: {allowed}")]
    MethodNotAllowed { allowed: String },
    /// A per-user limit reached: say which, and when it resets.
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{what}: {source}")]
    Internal {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ApiError {
    pub fn bad(field: Option<&str>, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest { field: field.map(str::to_string), message: message.into() }
    }

    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::bad(Some(field), message)
    }

    pub fn internal(what: &'static str, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
        ApiError::Internal { what, source: source.into() }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest { .. } => 400,
            ApiError::Unauthorized => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound | ApiError::NoSuch(_) => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::QuotaExceeded(_) => 429,
            ApiError::Internal { .. } => 500,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound | ApiError::NoSuch(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::QuotaExceeded(_) => "quota_exceeded",
            ApiError::Internal { .. } => "internal",
        }
    }

    /// `{"error": {"code", "message", "field"?}}`, as `openapi.json`'s `Error` schema says.
    pub fn into_response(self) -> Response {
        let message = match &self {
            ApiError::Internal { what, source } => {
                tracing::error!(event = "api_error", what, error = %source, "request failed");
                "internal error; see the function's log".to_string()
            }
            other => other.to_string(),
        };
        let mut error = json!({ "code": self.code(), "message": message });
        if let ApiError::BadRequest { field: Some(field), .. } = &self {
            error["field"] = json!(field);
        }
        Response::json(self.status(), &json!({ "error": error }))
    }
}
