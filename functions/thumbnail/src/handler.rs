//! The thumbnail Lambda's handler: clients built once, and each invocation's batch handed to the
//! worker's batch loop, which calls back `process` for every object it keeps.

use aws_config::SdkConfig;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use worker::batch::{self, Invocation};
use worker::config::Config;
use worker::context::Context;

pub struct Handler {
    pub(crate) cx: Context,
}

impl Handler {
    /// Clients are built here once and reused for every invocation.
    pub fn new(config: Config, sdk: &SdkConfig) -> Self {
        Handler { cx: Context::new(config, sdk, "thumbnail") }
    }

    /// Every message ends processed, recorded as rejected, or listed for retry, within `invocation`.
    pub async fn handle(&self, event: SqsEvent, invocation: Invocation) -> SqsBatchResponse {
        batch::handle(self, event, invocation).await
    }

    /// One invocation as Lambda delivers it (`worker::batch::invoke`).
    pub async fn invoke(&self, event: serde_json::Value, invocation: Invocation) -> Result<serde_json::Value, serde_json::Error> {
        batch::invoke(self, event, invocation).await
    }
}
