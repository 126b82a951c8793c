use std::sync::Arc;

use api::{Api, apigw, config::ApiConfig};
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::build_info::answer_if_asked(|| None);
    tracing_subscriber::fmt().json().flatten_event(true).with_target(false).with_current_span(false).without_time().init();
    let config = ApiConfig::from_env().unwrap_or_else(|e| {
        eprintln!("api: configuration error: {e}");
        std::process::exit(1)
    });
    let sdk = shared::aws::load_config().await;
    let api = Arc::new(Api::new(config, &sdk));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayV2httpRequest>| {
        let api = Arc::clone(&api);
        async move { Ok::<_, Error>(apigw::response(api.handle(&apigw::request(event.payload)).await)) }
    }))
    .await
}
