//! AWS clients for a stage: the standard credential chain (env, profile, SSO, credential
//! process) against AWS, or fixed fake credentials against the stage's emulator, so a
//! laptop's real credentials never reach a local endpoint.

use anyhow::{Result, bail};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};

use crate::stage::Stage;

/// Overrides the endpoint of a stage whose `emulator.endpoint` is null (`local`).
pub const ENDPOINT_ENV: &str = "THUMBSTACK_ENDPOINT";

/// `<access key id>:<secret>`: what to present to the emulator instead of the fixed fake
/// credentials, so a test can deploy as a moto IAM user holding exactly the deploy policy.
/// Never read for AWS.
pub const EMULATOR_CREDENTIALS_ENV: &str = "THUMBSTACK_EMULATOR_CREDENTIALS";

#[derive(Clone)]
pub struct Aws {
    pub config: SdkConfig,
    /// Set when talking to the emulator rather than AWS.
    pub endpoint: Option<String>,
}

impl Aws {
    pub async fn connect(stage: &Stage) -> Result<Aws> {
        Ok(Aws::at(stage, endpoint(stage)?).await)
    }

    /// The stage's region at `endpoint` (fake credentials), or on AWS when `None`.
    pub async fn at(stage: &Stage, endpoint: Option<String>) -> Aws {
        let region = Region::new(stage.region.to_string());
        let config = match &endpoint {
            Some(url) => {
                let config = shared::aws::emulator_config(&stage.region.to_string(), url).await;
                match std::env::var(EMULATOR_CREDENTIALS_ENV).ok().as_deref().and_then(|c| c.split_once(':')) {
                    Some((id, secret)) => {
                        let given = aws_sdk_s3::config::Credentials::new(id, secret, None, None, "emulator-user");
                        config
                            .to_builder()
                            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(given))
                            .build()
                    }
                    None => config,
                }
            }
            None => aws_config::defaults(BehaviorVersion::latest()).region(region).load().await,
        };
        Aws { config, endpoint }
    }

    /// The same credentials in another region (the certificate stack lives in us-east-1).
    pub fn in_region(&self, region: &str) -> Aws {
        let config = self.config.to_builder().region(Region::new(region.to_string())).build();
        Aws { config, endpoint: self.endpoint.clone() }
    }

    /// How often to ask about long work: the emulator answers at once; AWS takes `on_aws`.
    pub fn poll(&self, on_aws: std::time::Duration) -> std::time::Duration {
        if self.endpoint.is_some() { std::time::Duration::from_millis(100) } else { on_aws }
    }

    pub fn region(&self) -> String {
        self.config.region().map(ToString::to_string).unwrap_or_default()
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.config)
    }

    pub fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        aws_sdk_cloudfront::Client::new(&self.config)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }

    pub fn codedeploy(&self) -> aws_sdk_codedeploy::Client {
        aws_sdk_codedeploy::Client::new(&self.config)
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.config)
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        shared::aws::s3_client(&self.config)
    }

    /// The account the credentials belong to (names the artifacts bucket).
    pub async fn account(&self) -> Result<String> {
        Ok(self.caller().await?.0)
    }

    /// The caller's account and ARN, as STS says.
    pub async fn caller(&self) -> Result<(String, String)> {
        let me = aws_sdk_sts::Client::new(&self.config).get_caller_identity().send().await.aws("asking STS who we are")?;
        match (me.account(), me.arn()) {
            (Some(account), Some(arn)) => Ok((account.to_string(), arn.to_string())),
            _ => bail!("STS returned no account id or ARN"),
        }
    }
}

fn endpoint(stage: &Stage) -> Result<Option<String>> {
    let Some(emulator) = &stage.emulator else { return Ok(None) };
    if let Some(url) = &emulator.endpoint {
        return Ok(Some(url.to_string()));
    }
    match std::env::var(ENDPOINT_ENV) {
        Ok(url) if !url.is_empty() => Ok(Some(url)),
        _ => match crate::emulator::running() {
            Some(url) => Ok(Some(url)),
            None => bail!(
                "this stage runs on the local emulator, and it is not running: start it with \
                 `cargo xtask local` (in another terminal), or name a running emulator with \
                 {ENDPOINT_ENV}=http://127.0.0.1:PORT or `emulator.endpoint` in the stage file"
            ),
        },
    }
}

/// `.aws("what we were doing")`: the SDK's whole error chain, plus what to do when the cause is
/// missing credentials or an unreachable endpoint.
pub trait AwsContext<T> {
    fn aws(self, what: &str) -> Result<T>;
}

impl<T, E, R> AwsContext<T> for Result<T, SdkError<E, R>>
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    fn aws(self, what: &str) -> Result<T> {
        self.map_err(|e| {
            let text = DisplayErrorContext(&e).to_string();
            let hint = if text.contains("credentials") || text.contains("no providers in chain") {
                "\n  hint: no usable AWS credentials. Sign in (`aws sso login --profile NAME`) and set AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            } else if matches!(&e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)) {
                "\n  hint: the endpoint did not answer: check the network, or that the emulator is running"
            } else {
                ""
            };
            anyhow::anyhow!("{what}: {text}{hint}")
        })
    }
}

/// The service's error code (`NoSuchBucket`, `ValidationError`, ...), when it sent one.
pub fn code<E: aws_sdk_s3::error::ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    e.as_service_error().and_then(aws_sdk_s3::error::ProvideErrorMetadata::code)
}

/// `xtask-<unix millis>`: a change set name or caller reference no earlier run used.
pub fn unique_name() -> String {
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    format!("xtask-{millis}")
}

/// HeadObject, with "no such key" as `None`.
pub async fn head_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<aws_sdk_s3::operation::head_object::HeadObjectOutput>> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(head) => Ok(Some(head)),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
        Err(e) => Err(e).aws(&format!("checking s3://{bucket}/{key}")),
    }
}

/// One DeleteObjects request (at most 1,000 objects, quiet); returns the objects S3 refused.
pub async fn delete_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    objects: Vec<aws_sdk_s3::types::ObjectIdentifier>,
) -> Result<Vec<aws_sdk_s3::types::Error>> {
    let delete = aws_sdk_s3::types::Delete::builder().set_objects(Some(objects)).quiet(true).build()?;
    let out = s3.delete_objects().bucket(bucket).delete(delete).send().await.aws(&format!("deleting objects in {bucket}"))?;
    Ok(out.errors().to_vec())
}

/// Runs a verb's async body on a small runtime of its own.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime").block_on(future)
}
