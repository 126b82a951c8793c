//! `thumbstack-local serve SPEC`: the thumbnail and avatar handlers polled from their queues, the
//! api's router and the site on 127.0.0.1, every function's log lines shipped to its log group.
//! Prints its URL as the first line on stdout; SIGINT, SIGTERM or the end of its stdin stops it.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use local_spec::Spec;
use worker::config::Config;

use crate::Exit;
use crate::{logs, server, workers};

pub fn run(spec_path: &Path) -> Result<Exit> {
    let text = std::fs::read_to_string(spec_path).with_context(|| format!("reading {}", spec_path.display()))?;
    let spec: Spec = serde_json::from_str(&text).with_context(|| format!("{} is not a runtime spec", spec_path.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(spec, runtime.handle().clone()))
}

async fn serve(spec: Spec, handle: tokio::runtime::Handle) -> Result<Exit> {
    let sdk = shared::aws::emulator_config(&spec.region, &spec.endpoint).await;
    let shipper = logs::install(&sdk, &spec);

    let lookup = |env: &std::collections::BTreeMap<String, String>| {
        let env = env.clone();
        move |name: &str| env.get(name).cloned()
    };
    let thumbnail =
        Config::from_lookup(&thumbnail::DEFAULTS, lookup(&spec.thumbnail.function.env)).context("the thumbnail's environment")?;
    let avatar = Config::from_lookup(&avatar::DEFAULTS, lookup(&spec.avatar.function.env)).context("the avatar's environment")?;
    let api_config = api::config::ApiConfig::from_lookup(lookup(&spec.api.env)).context("the api's environment")?;
    let lambda = |f: &local_spec::QueueFunction, config: &Config| workers::Lambda {
        timeout: Some(std::time::Duration::from_secs(f.timeout_s)),
        max_receive_count: config.max_receive_count,
    };
    let (thumbnail_lambda, avatar_lambda) = (lambda(&spec.thumbnail, &thumbnail), lambda(&spec.avatar, &avatar));
    let thumbnail = Arc::new(thumbnail::handler::Handler::new(thumbnail, &sdk));
    let avatar = Arc::new(avatar::handler::Handler::new(avatar, &sdk));

    let server = Arc::new(
        tiny_http::Server::http(("127.0.0.1", spec.port))
            .map_err(|e| anyhow::anyhow!("listening on 127.0.0.1:{}: {e}", spec.port))?,
    );
    let port = server.server_addr().to_ip().map(|a| a.port()).context("the server has no IP address")?;

    let stop = Arc::new(AtomicBool::new(false));
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let pollers = [
        tokio::spawn(workers::poll(
            "thumbnail",
            sqs.clone(),
            spec.thumbnail.queue_url.clone(),
            spec.thumbnail.batch_size,
            thumbnail_lambda,
            thumbnail,
            Arc::clone(&stop),
        )),
        tokio::spawn(workers::poll(
            "avatar",
            sqs,
            spec.avatar.queue_url.clone(),
            spec.avatar.batch_size,
            avatar_lambda,
            avatar,
            Arc::clone(&stop),
        )),
    ];
    let pool = &spec.user_pool;
    let jwks = pool.jwks_url(&spec.endpoint);
    let verifier = crate::auth::Verifier::fetch(pool.issuer(&spec.region), pool.client_id.clone(), &jwks)
        .with_context(|| format!("reading the user pool's signing keys from {jwks}"))?;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&sdk);
    let login = crate::login::Login::new(cognito, pool.id.clone(), pool.client_id.clone(), port);
    let site = Arc::new(server::Site {
        api: api::Api::new(api_config, &sdk),
        verifier,
        login,
        s3: shared::aws::s3_client(&sdk),
        assets_bucket: spec.assets_bucket.clone(),
        site_dir: spec.site_dir.clone(),
        runtime: handle,
        content_security_policy: spec.content_security_policy.clone(),
    });
    let http = {
        let server = Arc::clone(&server);
        std::thread::spawn(move || server::serve(server, site))
    };
    println!("http://127.0.0.1:{port}");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    // `xtask local` holds our stdin open for as long as it lives: if it is killed before it can
    // pass on Ctrl-C, the pipe closes and we stop too, instead of holding the port and the queues.
    // A plain thread, not `spawn_blocking`: the runtime's shutdown would wait for a blocked read.
    let (gone, parent_gone) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        let _ = gone.send(());
    });
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
        _ = parent_gone => eprintln!("local: the `xtask local` that started this runtime is gone; stopping"),
    }
    stop.store(true, Ordering::Relaxed);
    server.unblock();
    let _ = http.join();
    for poller in pollers {
        let _ = poller.await;
    }
    shipper.flush().await;
    Ok(Exit::Success)
}
