//! `cargo xtask local`: the whole system on this machine. moto stands in for AWS; the `local`
//! stage is deployed to it by `deploy` itself; what moto's CloudFormation ignores is wired by
//! direct API; the image functions run in-process on their queues with Lambda's semantics; the
//! api and the site are served on 127.0.0.1. Ctrl-C stops everything it started.

#[cfg(test)]
mod accounting;
pub(crate) mod emulator;
mod server;
mod workers;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use aws_sdk_s3::types::{
    CorsConfiguration, CorsRule, Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use shared::config::{Config, Kind};

use crate::aws::{Aws, AwsContext, ENDPOINT_ENV};
use crate::flags::{Exit, LocalArgs, Stop};
use crate::stage::Stage;
use emulator::Emulator;

const STAGE: &str = "local";

pub fn run(args: &LocalArgs) -> Result<Exit> {
    let emulator = Emulator::ensure()?;
    // The same deploy as for AWS: this binary's `deploy` verb, pointed at the emulator.
    let deploy = Command::new(std::env::current_exe().context("finding xtask's own binary")?)
        .args(["deploy", STAGE, "--yes", "--no-invalidate"])
        .env(ENDPOINT_ENV, &emulator.endpoint)
        .status()
        .context("running `cargo xtask deploy local`")?;
    if !deploy.success() {
        let code = deploy.code().unwrap_or(1);
        return Err(Stop::new(Exit::DeployFailed, format!("deploying the local stage failed (exit {code}); see above")).into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(serve(args, &emulator, runtime.handle().clone()));
    if emulator.started_here() {
        eprintln!("local: stopping moto");
    }
    drop(emulator);
    result
}

async fn serve(args: &LocalArgs, emulator: &Emulator, handle: tokio::runtime::Handle) -> Result<Exit> {
    let stage = Stage::load(&crate::paths::infra(), STAGE)?;
    let aws = Aws::at(&stage, Some(emulator.endpoint.clone())).await;
    let outputs = crate::stack::deployed_outputs(&aws, &stage, STAGE).await?;
    let out = |name: &str| outputs.get(name).cloned().with_context(|| format!("the local stack has no output {name}"));

    let server = Arc::new(
        tiny_http::Server::http(("127.0.0.1", args.port))
            .map_err(|e| anyhow::anyhow!("listening on 127.0.0.1:{}: {e}", args.port))?,
    );
    let port = server.server_addr().to_ip().map(|a| a.port()).context("the server has no IP address")?;
    let origin = format!("http://127.0.0.1:{port}");
    let sqs = aws_sdk_sqs::Client::new(&aws.config);
    wire(&aws, &sqs, &out("UploadsBucketName")?, &out("ThumbnailQueueUrl")?, &out("AvatarQueueUrl")?, &origin).await?;

    let env = function_env(&stage, &outputs);
    let get = |name: &str| env.get(name).cloned();
    let thumbnail = Arc::new(thumbnail::handler::Handler::new(Config::from_lookup(Kind::Thumbnail, get)?, &aws.config));
    let avatar = Arc::new(avatar::handler::Handler::new(Config::from_lookup(Kind::Avatar, get)?, &aws.config));
    let api = api::Api::new(api::config::ApiConfig::from_lookup(get)?, &aws.config);

    let stop = Arc::new(AtomicBool::new(false));
    let batch = |f: &crate::stage::QueueFunction| i32::try_from(f.batch_size.get()).unwrap_or(10);
    let pollers = [
        tokio::spawn(workers::poll(
            "thumbnail",
            sqs.clone(),
            out("ThumbnailQueueUrl")?,
            batch(&stage.functions.thumbnail),
            thumbnail,
            Arc::clone(&stop),
        )),
        tokio::spawn(workers::poll(
            "avatar",
            sqs,
            out("AvatarQueueUrl")?,
            batch(&stage.functions.avatar),
            avatar,
            Arc::clone(&stop),
        )),
    ];

    let site = Arc::new(server::Site {
        api,
        s3: aws.s3(),
        assets_bucket: out("AssetsBucketName")?,
        site_dir: crate::paths::root().join("site"),
        runtime: handle,
    });
    let http = {
        let server = Arc::clone(&server);
        std::thread::spawn(move || server::serve(server, site))
    };
    eprintln!("local: ready at {origin}  (api: {origin}/api/openapi.json; Ctrl-C stops everything this started)");
    println!("{origin}");
    if args.seed {
        seed(&aws, &out("UploadsBucketName")?).await?;
    }
    if !args.no_open && crate::ui::interactive() {
        let _ = Command::new("xdg-open").arg(&origin).spawn();
    }

    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    eprintln!("local: stopping");
    stop.store(true, Ordering::Relaxed);
    server.unblock();
    let _ = http.join();
    for poller in pollers {
        let _ = poller.await;
    }
    Ok(Exit::Success)
}

/// What moto's CloudFormation drops but the local system needs, by direct API.
async fn wire(aws: &Aws, sqs: &aws_sdk_sqs::Client, uploads: &str, thumbnails: &str, avatars: &str, origin: &str) -> Result<()> {
    let mut queues = Vec::new();
    for (url, prefix) in [(thumbnails, "images/"), (avatars, "avatars/")] {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .aws("reading a queue's ARN")?;
        let arn = attrs
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .context("queue without ARN")?;
        let rule = FilterRule::builder().name(FilterRuleName::Prefix).value(prefix).build();
        let filter = NotificationConfigurationFilter::builder().key(S3KeyFilter::builder().filter_rules(rule).build()).build();
        queues
            .push(QueueConfiguration::builder().queue_arn(arn).events(Event::from("s3:ObjectCreated:*")).filter(filter).build()?);
    }
    let s3 = aws.s3();
    s3.put_bucket_notification_configuration()
        .bucket(uploads)
        .notification_configuration(NotificationConfiguration::builder().set_queue_configurations(Some(queues)).build())
        .send()
        .await
        .aws("wiring the uploads bucket's notifications")?;
    let cors =
        CorsRule::builder().allowed_methods("POST").allowed_origins(origin).allowed_headers("*").max_age_seconds(3600).build()?;
    s3.put_bucket_cors()
        .bucket(uploads)
        .cors_configuration(CorsConfiguration::builder().cors_rules(cors).build()?)
        .send()
        .await
        .aws("allowing browser uploads (CORS)")?;
    eprintln!(
        "local: wired by direct API what moto's CloudFormation ignores: S3 notifications (images/ -> thumbnails queue, avatars/ -> avatars queue) and CORS for uploads from {origin}"
    );
    Ok(())
}

/// The environment the template gives each function, from the stack's outputs and the stage.
fn function_env(stage: &Stage, outputs: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for (name, output) in [
        ("ASSETS_BUCKET", "AssetsBucketName"),
        ("LOG_BUCKET", "LogBucketName"),
        ("CATALOG_TABLE", "CatalogTableName"),
        ("ALARM_TOPIC_ARN", "AlarmTopicArn"),
        ("UPLOADS_BUCKET", "UploadsBucketName"),
    ] {
        if let Some(v) = outputs.get(output) {
            env.insert(name.to_string(), v.clone());
        }
    }
    env.insert("MAX_BYTES".into(), stage.limits.max_upload_bytes.get().to_string());
    env.insert("MAX_PIXELS".into(), stage.limits.max_pixels.get().to_string());
    env.insert("JPEG_QUALITY".into(), stage.images.jpeg_quality.get().to_string());
    env.insert("UPLOAD_EXPIRY_S".into(), stage.api.upload_expiry_s.get().to_string());
    if let Some(user) = &stage.api.dev_user {
        env.insert("DEV_USER".into(), user.to_string());
    }
    env
}

/// The corpus photos, uploaded as the site would, so the gallery is not empty.
async fn seed(aws: &Aws, uploads: &str) -> Result<()> {
    let dir = crate::paths::corpus().join("photos");
    // Photos only: the folder also holds the corpus's MANIFEST.tsv.
    let is_photo = |p: &std::path::Path| {
        let ext = p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        ext.is_some_and(|e| ["jpg", "jpeg", "png", "webp", "gif"].contains(&e.as_str()))
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| is_photo(p))
        .collect();
    files.sort();
    let s3 = aws.s3();
    for file in &files {
        let name = file.file_name().and_then(|n| n.to_str()).context("a corpus file name is not UTF-8")?;
        let key = format!("images/{}/{name}", api::uploads::new_upload_id());
        let body = aws_sdk_s3::primitives::ByteStream::from_path(file).await.context("reading a corpus photo")?;
        s3.put_object().bucket(uploads).key(&key).body(body).send().await.aws("seeding a photo")?;
    }
    eprintln!("local: seeded {} photos from {}", files.len(), dir.display());
    Ok(())
}
