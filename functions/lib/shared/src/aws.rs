//! SDK configuration: the standard chain (env, profile, SSO, IMDS), plus the one tweak an
//! endpoint override (the local emulator) needs.

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads region, credentials and `AWS_ENDPOINT_URL` the standard way.
pub async fn load_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
}

/// The local emulator at `endpoint`, with fixed fake credentials, so a laptop's real ones never
/// reach it (xtask's emulator stages and the local runtime).
pub async fn emulator_config(region: &str, endpoint: &str) -> SdkConfig {
    let fake = aws_sdk_s3::config::Credentials::new("thumbstack-emulator", "thumbstack-emulator", None, None, "emulator");
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(fake)
        .load()
        .await
}

/// S3 with path-style addressing when an endpoint is overridden: `bucket.127.0.0.1` does not resolve.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some()).build();
    aws_sdk_s3::Client::from_conf(s3)
}
