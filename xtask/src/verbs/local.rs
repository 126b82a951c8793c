//! `cargo xtask local`: the whole system on this machine. moto stands in for AWS; the `local`
//! stage is bootstrapped and deployed to it by `bootstrap` and `deploy` themselves (no release build: the functions run in-process);
//! the data of the last run is put back; what moto's CloudFormation ignores is wired by direct
//! API; then `thumbstack-local` (the runtime crate) runs the handlers on their queues and serves
//! the site and api on 127.0.0.1. Ctrl-C stops everything this started, and saves the data.

mod state;
mod users;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use aws_sdk_s3::types::{
    CorsConfiguration, CorsRule, Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};
use local_spec::{Function, QueueFunction, Spec};

use crate::aws::{Aws, AwsContext, ENDPOINT_ENV};
use crate::emulator::Emulator;
use crate::exit::{Exit, Stop};
use crate::flags::LocalArgs;
use crate::stage::Stage;

const STAGE: &str = "local";

pub fn run(args: &LocalArgs) -> Result<Exit> {
    let emulator = Emulator::ensure()?;
    if args.fresh && emulator.started_here() {
        let _ = std::fs::remove_dir_all(state::dir());
        eprintln!("local: --fresh: starting empty (the saved data is gone)");
    } else if args.fresh {
        eprintln!("local: --fresh does nothing here: the moto already running keeps its data (stop that `local` first)");
    }
    // The same bootstrap and deploy as for AWS: this binary's verbs, pointed at the emulator.
    for verb in [&["bootstrap", STAGE, "--yes"][..], &["deploy", STAGE, "--yes", "--no-invalidate"]] {
        let run = Command::new(std::env::current_exe().context("finding xtask's own binary")?)
            .args(verb)
            .env(ENDPOINT_ENV, &emulator.endpoint)
            .status()
            .with_context(|| format!("running `cargo xtask {} local`", verb[0]))?;
        if !run.success() {
            let code = run.code().unwrap_or(1);
            return Err(Stop::new(Exit::DeployFailed, format!("`{} local` failed (exit {code}); see above", verb[0])).into());
        }
    }
    let runtime = crate::verbs::runtime::build()?;
    crate::aws::block_on(serve(args, &emulator, &runtime))
}

async fn serve(args: &LocalArgs, emulator: &Emulator, runtime: &std::path::Path) -> Result<Exit> {
    let stage = Stage::load(&crate::paths::infra(), STAGE)?;
    let aws = Aws::at(&stage, Some(emulator.endpoint.clone())).await;
    let rendered = crate::template::render_stack(&crate::paths::infra(), &stage)?;
    let resources = crate::cfn::stack::physical_ids(&aws, &rendered.stack_name).await?;
    let resource = |logical: &str| resource(&resources, logical);
    if emulator.started_here()
        && let Some(restored) = state::restore(&aws, &resources).await?
    {
        eprintln!(
            "local: restored {} objects and {} catalog items from {} (`--fresh` starts empty)",
            restored.objects,
            restored.items,
            state::dir().display()
        );
    }

    let template = rendered.file("template.yaml").context("render wrote no template.yaml")?;
    let pool = users::ensure_pool(&aws, &stage.id, template).await?;
    let spec = spec(args, &aws, &stage, &rendered, &resources, pool)?;
    let spec_path = crate::paths::target_dir().join("local/runtime.json");
    std::fs::write(&spec_path, serde_json::to_vec_pretty(&spec)?)?;
    // Its stdin stays open while we live: if we are killed, the runtime sees it close and stops.
    let mut child = Command::new(runtime)
        .arg("serve")
        .arg(&spec_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", runtime.display()))?;
    // Held, not written: `Child::wait` would close it, and the runtime would take that for our end.
    let _alive = child.stdin.take();
    let mut lines = BufReader::new(child.stdout.take().context("the runtime's stdout")?).lines();
    let Some(Ok(origin)) = lines.next() else {
        let status = child.wait()?;
        anyhow::bail!("{} stopped before it served ({status}); see above", runtime.display());
    };
    wire(&aws, &resource("UploadsBucket")?, &spec, &origin).await?;
    eprintln!("local: ready at {origin}  (api: {origin}/api/openapi.json; Ctrl-C stops everything this started)");
    eprintln!("local: in another terminal, `cargo xtask catalog local smallest`, `logs local --follow`, `deploy local` find it");
    println!("{origin}");
    if args.seed {
        let (email, password, sub) = users::demo_user(&aws, &spec.user_pool).await?;
        seed(&aws, &resource("UploadsBucket")?, &sub).await?;
        eprintln!("local: demo account (its photos are the seeded ones): {email}  password: {password}");
        println!("demo: {email} {password}");
    }
    if !args.no_open && crate::ui::interactive() {
        let _ = Command::new("xdg-open").arg(&origin).spawn();
    }

    let pid = child.id().to_string();
    let waiter = tokio::task::spawn_blocking(move || child.wait());
    tokio::pin!(waiter);
    let status = tokio::select! {
        status = &mut waiter => status??,
        r = tokio::signal::ctrl_c() => {
            r.context("waiting for Ctrl-C")?;
            eprintln!("local: stopping");
            // A terminal's Ctrl-C reaches the runtime too; a signal sent to xtask alone does not.
            let _ = Command::new("kill").args(["-INT", &pid]).status();
            waiter.await??
        }
    };
    if emulator.started_here() {
        let saved = state::save(&aws, &resources).await?;
        eprintln!(
            "local: saved {} objects and {} catalog items to {}; stopping moto",
            saved.objects,
            saved.items,
            state::dir().display()
        );
    }
    if status.success() { Ok(Exit::Success) } else { anyhow::bail!("the local runtime ended with {status}") }
}

/// What the runtime needs: each function's environment as the template gives it, resolved
/// against the stage's parameters and the stack's resources.
fn spec(
    args: &LocalArgs,
    aws: &Aws,
    stage: &Stage,
    rendered: &crate::template::Rendered,
    resources: &BTreeMap<String, String>,
    user_pool: local_spec::UserPool,
) -> Result<Spec> {
    let template = rendered.file("template.yaml").context("render wrote no template.yaml")?;
    // `local` plays CloudFront itself and caches nothing at an edge: no distribution to invalidate.
    let resolve = |name: &str| {
        rendered
            .parameters
            .get(name)
            .cloned()
            .or_else(|| resources.get(name).cloned())
            .or_else(|| (name == "Distribution").then(String::new))
            // The template's `RunsOnAws` (`OnAws` is false here): what only CloudFront sends is off.
            .or_else(|| (name == "RunsOnAws").then(|| "false".to_string()))
    };
    let function = |name: &str| -> Result<Function> {
        let env = local_spec::function_env(template, name, resolve)?;
        Ok(Function { env, log_group: resource(resources, &local_spec::logical_id(name, "LogGroup"))? })
    };
    let queue = |name: &str, f: &crate::stage::QueueFunction| -> Result<QueueFunction> {
        Ok(QueueFunction {
            function: function(name)?,
            queue_url: resource(resources, &local_spec::logical_id(name, "Queue"))?,
            batch_size: i32::try_from(f.batch_size.get()).unwrap_or(10),
            timeout_s: f.timeout_s.get(),
        })
    };
    let endpoint = aws.endpoint.clone().context("local runs on the emulator")?;
    Ok(Spec {
        content_security_policy: local_spec::content_security_policy(template, &endpoint)?,
        endpoint,
        region: stage.region.to_string(),
        port: args.port,
        site_dir: crate::paths::root().join("site"),
        assets_bucket: resource(resources, "AssetsBucket")?,
        thumbnail: queue("thumbnail", &stage.functions.thumbnail)?,
        avatar: queue("avatar", &stage.functions.avatar)?,
        api: function("api")?,
        user_pool,
    })
}

/// The physical id of the stack's resource `logical`.
fn resource(resources: &BTreeMap<String, String>, logical: &str) -> Result<String> {
    resources.get(logical).cloned().with_context(|| format!("the local stack has no {logical}"))
}

/// What moto's CloudFormation drops but the local system needs, by direct API.
async fn wire(aws: &Aws, uploads: &str, spec: &Spec, origin: &str) -> Result<()> {
    let sqs = aws_sdk_sqs::Client::new(&aws.config);
    let mut queues = Vec::new();
    for (url, prefix) in [(&spec.thumbnail.queue_url, "images/"), (&spec.avatar.queue_url, "avatars/")] {
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

/// The corpus photos, uploaded as the site would for `owner` (the demo user), so the gallery and
/// the demo user's "my photos" are not empty.
async fn seed(aws: &Aws, uploads: &str, owner: &str) -> Result<()> {
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
        // The api's id scheme (uuid v7), so seeded photos sort by upload time like any other.
        let key = shared::key::image_key("images/", owner, &uuid::Uuid::now_v7().simple().to_string(), name);
        let body = aws_sdk_s3::primitives::ByteStream::from_path(file).await.context("reading a corpus photo")?;
        s3.put_object().bucket(uploads).key(&key).body(body).send().await.aws("seeding a photo")?;
    }
    eprintln!("local: seeded {} photos from {}", files.len(), dir.display());
    Ok(())
}
