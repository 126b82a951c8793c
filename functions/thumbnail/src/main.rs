// The SDK futures nested in the batch loop exceed the default layout depth.
#![recursion_limit = "256"]

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use thumbnail::handler::Handler;
use worker::batch::Invocation;
use worker::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::build_info::answer_if_asked(|| Some(imaging::jpeg_simd()));
    // One JSON object per line, as the template's metric filters read them.
    worker::logging::init();
    let config = Config::from_env(&thumbnail::DEFAULTS).unwrap_or_else(|e| {
        eprintln!("thumbnail: configuration error: {e}");
        std::process::exit(1)
    });
    let sdk = shared::aws::load_config().await;
    let max_receive_count = config.max_receive_count;
    let handler = Arc::new(Handler::new(config, &sdk));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let handler = Arc::clone(&handler);
        let invocation = Invocation::from_lambda(event.context.deadline(), max_receive_count);
        async move { handler.invoke(event.payload, invocation).await.map_err(Error::from) }
    }))
    .await
}
