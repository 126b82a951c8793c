//! Calls to AWS operations no SDK crate of this workspace's functions covers, signed with the
//! SDK's own SigV4 signer and sent through the SDK's own HTTPS connector, both already in every
//! function's build: one more `aws-sdk-*` crate costs every cold CI run minutes of release build
//! per architecture, for an operation or two (`hook`: CodeDeploy and Lambda; `api`: CloudFront).

use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings, SharedHttpConnector};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;

/// Where an operation goes: its signing name, and for a global service its one region and host.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    pub name: &'static str,
    pub global: Option<(&'static str, &'static str)>,
}

impl Service {
    /// A regional service at `<name>.<region>.amazonaws.com`.
    pub const fn regional(name: &'static str) -> Service {
        Service { name, global: None }
    }
}

/// CloudFront: signed for us-east-1, at one host for every region.
pub const CLOUDFRONT: Service = Service { name: "cloudfront", global: Some(("us-east-1", "cloudfront.amazonaws.com")) };

/// What a path label keeps unescaped: RFC 3986's unreserved characters, as the SDK writes labels.
const LABEL: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `text` as one segment of an operation's path (a function ARN, a distribution id), escaped as
/// the SDK escapes it.
pub fn label(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, LABEL).to_string()
}

/// Everything a signed call needs, built once per cold start.
pub struct Caller {
    connector: SharedHttpConnector,
    credentials: SharedCredentialsProvider,
    region: String,
    /// `AWS_ENDPOINT_URL` when set (the emulator, or a stand-in in tests), else each service's own.
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

    /// POSTs `body` to `path` of `service`, signed; any status comes back as a [`Reply`].
    pub async fn send(&self, service: Service, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Result<Reply, String> {
        let (region, host) = match service.global {
            Some((region, host)) => (region.to_string(), host.to_string()),
            None => (self.region.clone(), format!("{}.{}.amazonaws.com", service.name, self.region)),
        };
        let base = self.endpoint.clone().unwrap_or_else(|| format!("https://{host}"));
        let uri = format!("{}{path}", base.trim_end_matches('/'));
        let mut request = http::Request::post(&uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut request = request.body(body).map_err(|e| format!("building {uri}: {e}"))?;
        self.sign(service.name, &region, &mut request).await?;
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

    async fn sign(&self, service: &str, region: &str, request: &mut http::Request<Vec<u8>>) -> Result<(), String> {
        let credentials = self.credentials.provide_credentials().await.map_err(|e| format!("loading credentials: {e}"))?;
        let identity = credentials.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
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
