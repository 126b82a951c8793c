//! The api function: what the site asks of the backend. Routing and every handler work on
//! [`http::Request`], so API Gateway (`apigw`) and `cargo xtask local` run the same code.

pub mod account;
pub mod apigw;
pub mod config;
pub mod edge;
pub mod http;
pub mod identity;
pub mod listings;
pub mod objects;
pub mod photos;
pub mod presign;
pub mod profile;
pub mod quota;
pub mod uploads;

use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::config::ApiConfig;
use crate::http::{ApiError, Request, Response};
use crate::uploads::UploadGrant;

/// The OpenAPI document, served at `/api/openapi.json`; tests hold routes and answers to it.
pub const OPENAPI: &str = include_str!("../openapi.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// Behind the JWT authorizer on AWS.
    pub signed_in: bool,
}

/// Every route, once: the router, the template's API Gateway routes and the OpenAPI document
/// are all checked against this list.
pub const ROUTES: [Route; 10] = [
    Route { method: "POST", path: "/api/uploads", signed_in: true },
    Route { method: "GET", path: "/api/images", signed_in: false },
    Route { method: "GET", path: "/api/photos", signed_in: true },
    Route { method: "DELETE", path: "/api/photos", signed_in: true },
    Route { method: "GET", path: "/api/failures", signed_in: true },
    Route { method: "GET", path: "/api/profile", signed_in: true },
    Route { method: "PUT", path: "/api/profile", signed_in: true },
    Route { method: "DELETE", path: "/api/avatar", signed_in: true },
    Route { method: "DELETE", path: "/api/account", signed_in: true },
    Route { method: "GET", path: "/api/openapi.json", signed_in: false },
];

/// The route `method path` names (a trailing `/` ignored), if any: the router's lookup, and the
/// local server's for which requests need a token.
pub fn route_of(method: &str, path: &str) -> Option<&'static Route> {
    let path = path.trim_end_matches('/');
    ROUTES.iter().find(|r| r.path == path && r.method == method)
}

pub struct Api {
    pub config: ApiConfig,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    credentials: Option<SharedCredentialsProvider>,
    region: String,
    endpoint: Option<String>,
    /// CloudFront, which no SDK crate of the functions covers (`shared::signed`).
    pub(crate) signed: Option<shared::signed::Caller>,
}

impl Api {
    pub fn new(config: ApiConfig, sdk: &SdkConfig) -> Api {
        Api {
            s3: shared::aws::s3_client(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            credentials: sdk.credentials_provider(),
            region: sdk.region().map_or_else(|| "us-east-1".into(), |r| r.to_string()),
            endpoint: sdk.endpoint_url().map(str::to_string),
            signed: shared::signed::Caller::new(sdk).ok(),
            config,
        }
    }

    /// Never fails: errors become their JSON answer, internal ones are logged.
    pub async fn handle(&self, request: &Request) -> Response {
        let started = std::time::Instant::now();
        let response = self.route(request).await.unwrap_or_else(ApiError::into_response);
        // Method, path and status only: query strings and bodies can hold names people chose.
        tracing::info!(event = "api_request", method = %request.method, path = %request.path, status = response.status,
            ms = started.elapsed().as_millis() as u64);
        response
    }

    async fn route(&self, request: &Request) -> Result<Response, ApiError> {
        let path = request.path.trim_end_matches('/');
        let Some(route) = route_of(&request.method, path) else {
            let allowed: Vec<&str> = ROUTES.iter().filter(|r| r.path == path).map(|r| r.method).collect();
            return Err(if allowed.is_empty() {
                ApiError::NotFound
            } else {
                ApiError::MethodNotAllowed { allowed: allowed.join(", ") }
            });
        };
        // Only through CloudFront, past its web ACL: the execute-api endpoint answers anyone who
        // finds it. The document is public anyway, and it is what the pre-traffic hook asks for.
        if let Some(expected) = &self.config.origin_verify
            && route.path != "/api/openapi.json"
            && !same_secret(request.origin_verify.as_deref().unwrap_or_default(), expected)
        {
            return Err(ApiError::Forbidden("use the site's address: this endpoint answers only through it".into()));
        }
        // `signed_in` in ROUTES (which the template and openapi.json are held to) decides who
        // must be known; public routes never look at `user`.
        let user = if route.signed_in { identity::user_of(request)? } else { String::new() };
        match (route.method, route.path) {
            ("POST", "/api/uploads") => self.grant_upload(&user, request).await,
            ("GET", "/api/images") => listings::images(self, request).await,
            ("GET", "/api/photos") => listings::photos(self, &user, request).await,
            ("DELETE", "/api/photos") => photos::delete(self, &user, request).await,
            ("GET", "/api/failures") => listings::failures(self, &user, request).await,
            ("GET", "/api/profile") => profile::get(self, &user).await,
            ("PUT", "/api/profile") => profile::put(self, &user, profile::parse_update(&request.json_object()?)?).await,
            ("DELETE", "/api/avatar") => profile::delete_avatar(self, &user).await,
            ("DELETE", "/api/account") => account::delete(self, &user, request.sign_in.as_ref()).await,
            ("GET", "/api/openapi.json") => Ok(Response { status: 200, content_type: "application/json", body: OPENAPI.into() }),
            _ => Err(ApiError::NotFound),
        }
    }

    async fn grant_upload(&self, user: &str, request: &Request) -> Result<Response, ApiError> {
        let wanted = uploads::parse(&request.json_object()?, self.config.max_bytes)?;
        quota::take(&self.dynamodb, &self.config.catalog_table, user, wanted.size, self.config.quota, chrono::Utc::now()).await?;
        let upload_id = uploads::new_upload_id();
        let visibility =
            (wanted.kind == uploads::UploadKind::Image).then(|| wanted.visibility.unwrap_or(self.config.default_visibility));
        if let Some(visibility) = visibility {
            uploads::record_visibility(&self.dynamodb, &self.config.catalog_table, &upload_id, visibility).await?;
        }
        let key = uploads::key_for(&wanted, user, &upload_id);
        let credentials = self.credentials().await?;
        let policy = presign::PostPolicy {
            bucket: &self.config.uploads_bucket,
            key: &key,
            content_type: &wanted.content_type,
            // The size declared is the size counted against the quota, and the most S3 takes.
            max_bytes: wanted.size,
            expires_in: self.config.upload_expiry,
        };
        let url = presign::bucket_url(&self.config.uploads_bucket, &self.region, self.endpoint.as_deref());
        let post = presign::sign(&policy, &credentials, &self.region, url, SystemTime::now());
        tracing::info!(event = "upload_granted", kind = ?wanted.kind, upload_id, bytes = wanted.size);
        let grant = UploadGrant { upload_id, kind: wanted.kind, visibility, key, max_bytes: wanted.size, post };
        Ok(Response::json(201, &grant))
    }

    async fn credentials(&self) -> Result<aws_credential_types::Credentials, ApiError> {
        let provider = self.credentials.as_ref().ok_or_else(|| ApiError::internal("signing", "no credentials provider"))?;
        provider.provide_credentials().await.map_err(|e| ApiError::internal("loading credentials", e))
    }

    /// Where the site finds an asset: CloudFront serves the assets bucket beside the api.
    pub fn asset_url(&self, key: &str) -> String {
        format!("{}/{key}", self.config.assets_base_url.trim_end_matches('/'))
    }
}

/// Equal, in time that does not depend on where the two first differ.
fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len() && given.bytes().zip(expected.bytes()).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(origin_verify: Option<&str>) -> Api {
        let get = |name: &str| match name {
            "ORIGIN_VERIFY" => origin_verify.map(str::to_string),
            "UPLOADS_BUCKET" | "ASSETS_BUCKET" | "LOG_BUCKET" | "CATALOG_TABLE" => Some("x".into()),
            _ => None,
        };
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        Api::new(ApiConfig::from_lookup(get).unwrap(), &sdk)
    }

    fn status(api: &Api, path: &str, header: Option<&str>) -> u16 {
        let request =
            Request { method: "GET".into(), path: path.into(), origin_verify: header.map(str::to_string), ..Request::default() };
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(api.handle(&request)).status
    }

    /// Behind CloudFront, a request without CloudFront's header (sent to execute-api directly) is
    /// refused before anything else; with it, it goes on (here to the sign-in check, 401).
    #[test]
    fn only_requests_through_cloudfront_pass() {
        let edge = api(Some("s3cret-from-the-edge"));
        assert_eq!(status(&edge, "/api/photos", None), 403);
        assert_eq!(status(&edge, "/api/photos", Some("s3cret-from-the-edgX")), 403);
        assert_eq!(status(&edge, "/api/photos", Some("s3cret")), 403);
        assert_eq!(status(&edge, "/api/photos", Some("s3cret-from-the-edge")), 401);
        assert_eq!(status(&edge, "/api/openapi.json", None), 200, "the public document, which the hook asks for");
        assert_eq!(status(&api(None), "/api/photos", None), 401, "nothing in front (local): no header expected");
    }
}
