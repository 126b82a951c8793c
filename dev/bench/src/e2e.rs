//! `thumbstack-bench e2e`: the bench's end-to-end figure. Uploads take the real path on a moto of
//! their own (S3 notification → SQS → the release `bootstrap` of the thumbnail function → S3 and
//! DynamoDB), with every S3 GetObject and PutObject held for a fixed time by testkit's proxy, as
//! a real bucket's round trip takes. This process plays Lambda for one instance: it feeds the
//! bootstrap one batch at a time through the runtime API and deletes only what the answer does
//! not list in `batchItemFailures`. The bootstrap's own CPU time is read from `/proc`, so the
//! emulator, the proxy and this driver are not counted. Each mode runs on fresh uploads: one
//! message at a time (`BATCH_CONCURRENCY=1`) against the function's default.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use local_spec::e2e::{Figures, Run};
use testkit::faults::{Plan, Proxy};
use testkit::queue::{Pipeline, UPLOADS};
use tiny_http::{Header, Response};

#[derive(clap::Args)]
pub struct E2eArgs {
    /// The function's release bootstrap (what its zip holds).
    #[arg(long)]
    pub bootstrap: PathBuf,
    /// Photos to upload, in turn, until `--uploads` are up.
    #[arg(required = true)]
    pub photos: Vec<PathBuf>,
    /// Uploads per mode.
    #[arg(long, default_value_t = 40)]
    pub uploads: usize,
    /// Time added to every S3 GetObject and PutObject.
    #[arg(long, default_value_t = 40)]
    pub s3_latency_ms: u64,
    /// Messages per invocation (the stage's `batch_size`).
    #[arg(long, default_value_t = 5)]
    pub batch_size: i32,
    /// The function's memory size (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`: its budgets and concurrency).
    #[arg(long, default_value_t = 1024)]
    pub memory_mb: u64,
    /// The function's timeout: each invocation's deadline.
    #[arg(long, default_value_t = 30)]
    pub timeout_s: u64,
    /// Pin the bootstrap to this core (`taskset`).
    #[arg(long)]
    pub core: Option<usize>,
    /// Also run with `BATCH_CONCURRENCY` set to each of these (how the default was chosen).
    #[arg(long)]
    pub also: Vec<usize>,
}

pub fn run(args: &E2eArgs) -> Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let pipeline = rt.block_on(Pipeline::start("bench-thumbnails", "images/"));
    rt.block_on(testkit::queue::create_catalog(&pipeline.sdk));
    let plan = Plan { rate: 0.0, always_fail: Vec::new(), seed: 1, s3_latency: Duration::from_millis(args.s3_latency_ms) };
    let proxy = Proxy::start(&pipeline.moto.endpoint, plan);
    let photos: Vec<(String, Vec<u8>)> = args
        .photos
        .iter()
        .map(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).context("a photo without a file name")?.to_string();
            Ok((name, std::fs::read(p).with_context(|| format!("reading {}", p.display()))?))
        })
        .collect::<Result<_>>()?;
    let mut runs = Vec::new();
    let also = args.also.iter().map(|&n| (format!("{n} at once"), Some(n)));
    for (mode, concurrency) in [("sequential".to_string(), Some(1)), ("concurrent".to_string(), None)].into_iter().chain(also) {
        rt.block_on(upload(&pipeline, &photos, args.uploads))?;
        eprintln!("e2e: {mode}: {} uploads queued, running the bootstrap", args.uploads);
        let run = Lambda::start(args, &pipeline, &proxy, concurrency)?.serve(&rt, &pipeline, args, &mode, concurrency)?;
        eprintln!("e2e: {mode}: {:.1} uploads/s, {:.1} CPU-ms per upload", run.uploads_per_s, run.cpu_ms_per_upload);
        runs.push(run);
    }
    let figures = Figures { s3_latency_ms: args.s3_latency_ms, batch_size: args.batch_size, memory_mb: args.memory_mb, runs };
    println!("{}", serde_json::to_string_pretty(&figures)?);
    Ok(())
}

async fn upload(pipeline: &Pipeline, photos: &[(String, Vec<u8>)], n: usize) -> Result<()> {
    for i in 0..n {
        let (name, bytes) = &photos[i % photos.len()];
        let key = shared::key::image_key("images/", "bench", &uuid::Uuid::now_v7().simple().to_string(), name);
        pipeline.s3.put_object().bucket(UPLOADS).key(key).body(bytes.clone().into()).send().await.context("uploading")?;
    }
    Ok(())
}

/// The bootstrap and the runtime API it talks to.
struct Lambda {
    child: Child,
    api: tiny_http::Server,
}

impl Drop for Lambda {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Lambda {
    fn start(args: &E2eArgs, pipeline: &Pipeline, proxy: &Proxy, concurrency: Option<usize>) -> Result<Lambda> {
        let api = tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow::anyhow!("runtime API stub: {e}"))?;
        let address = api.server_addr().to_ip().context("runtime API address")?.to_string();
        let env = pipeline.env_vars("thumbnail");
        let mut cmd = match args.core {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.args(["-c", &core.to_string()]).arg(&args.bootstrap);
                c
            }
            None => Command::new(&args.bootstrap),
        };
        cmd.env_clear()
            .envs(env)
            .envs(local_spec::e2e::lambda_env(&address, args.memory_mb))
            .env("AWS_ENDPOINT_URL", &proxy.endpoint)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(n) = concurrency {
            cmd.env("BATCH_CONCURRENCY", n.to_string());
        }
        let child = cmd.spawn().with_context(|| format!("starting {}", args.bootstrap.display()))?;
        Ok(Lambda { child, api })
    }

    /// Hands out batches until every upload is acknowledged.
    fn serve(
        mut self,
        rt: &tokio::runtime::Runtime,
        pipeline: &Pipeline,
        args: &E2eArgs,
        mode: &str,
        concurrency: Option<usize>,
    ) -> Result<Run> {
        let sqs = &pipeline.sqs;
        let pid = self.child.id();
        let (mut acked, mut retried, mut invocations, mut billed) = (0usize, 0usize, 0usize, Duration::ZERO);
        let mut open: HashMap<String, (Vec<Message>, Instant)> = HashMap::new();
        let mut first: Option<(Instant, u64)> = None;
        let give_up = Instant::now() + Duration::from_secs(600);
        while acked < args.uploads {
            if let Some(status) = self.child.try_wait()? {
                bail!("the bootstrap exited ({status})");
            }
            let Some(mut request) = self.api.recv_timeout(Duration::from_secs(1))? else {
                if Instant::now() > give_up {
                    bail!("{mode}: only {acked} of {} uploads done in 600 s", args.uploads);
                }
                continue;
            };
            let url = request.url().to_string();
            if url.ends_with("/runtime/invocation/next") {
                let messages = rt.block_on(next_batch(sqs, &pipeline.queue_url, args.batch_size, give_up))?;
                first.get_or_insert_with(|| (Instant::now(), cpu_ticks(pid).unwrap_or(0)));
                invocations += 1;
                let id = format!("bench-{invocations}");
                let body = thumbstack_local::workers::lambda_event(&messages).to_string();
                open.insert(id.clone(), (messages, Instant::now()));
                let deadline = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() + u128::from(args.timeout_s) * 1000;
                let response = Response::from_string(body)
                    .with_header(header("Lambda-Runtime-Aws-Request-Id", &id))
                    .with_header(header("Lambda-Runtime-Deadline-Ms", &deadline.to_string()))
                    .with_header(header(
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:us-east-1:123456789012:function:bench",
                    ))
                    .with_header(header("Content-Type", "application/json"));
                request.respond(response)?;
            } else if let Some(id) = url.strip_suffix("/response").and_then(|u| u.rsplit('/').next()).map(String::from) {
                let mut body = String::new();
                request.as_reader().read_to_string(&mut body)?;
                request.respond(Response::empty(202))?;
                let (messages, started) = open.remove(&id).with_context(|| format!("an answer to an unknown invocation {id}"))?;
                billed += started.elapsed();
                let answer: serde_json::Value = serde_json::from_str(&body).context("the function's answer")?;
                let failed: Vec<&str> = answer["batchItemFailures"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|f| f["itemIdentifier"].as_str())
                    .collect();
                retried += failed.len();
                let done: Vec<&Message> =
                    messages.iter().filter(|m| !failed.contains(&m.message_id().unwrap_or_default())).collect();
                acked += done.len();
                rt.block_on(delete(sqs, &pipeline.queue_url, &done))?;
            } else if url.ends_with("/error") {
                let mut body = String::new();
                request.as_reader().read_to_string(&mut body)?;
                request.respond(Response::empty(202))?;
                bail!("{mode}: the function failed: {body}");
            } else {
                request.respond(Response::empty(404))?;
            }
        }
        let (started, ticks) = first.context("no invocation")?;
        let seconds = started.elapsed().as_secs_f64();
        let cpu_ms = (cpu_ticks(pid)? - ticks) as f64 * 1000.0 / USER_HZ;
        let n = args.uploads as f64;
        Ok(Run {
            mode: mode.to_string(),
            batch_concurrency: concurrency,
            uploads: args.uploads,
            invocations,
            seconds,
            uploads_per_s: n / seconds,
            cpu_ms_per_upload: cpu_ms / n,
            billed_ms_per_upload: billed.as_secs_f64() * 1000.0 / n,
            retried,
            peak_rss_mib: local_spec::e2e::peak_rss_kib(pid)? as f64 / 1024.0,
        })
    }
}

/// The next batch, skipping S3's test event; waits for messages coming back after a retry.
async fn next_batch(sqs: &aws_sdk_sqs::Client, queue: &str, batch: i32, give_up: Instant) -> Result<Vec<Message>> {
    loop {
        let out = sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(batch)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .context("receiving a batch")?;
        let (test, real): (Vec<_>, Vec<_>) =
            out.messages.unwrap_or_default().into_iter().partition(|m| m.body().unwrap_or_default().contains("s3:TestEvent"));
        delete(sqs, queue, &test.iter().collect::<Vec<_>>()).await?;
        if !real.is_empty() {
            return Ok(real);
        }
        if Instant::now() > give_up {
            bail!("no message arrived");
        }
    }
}

async fn delete(sqs: &aws_sdk_sqs::Client, queue: &str, done: &[&Message]) -> Result<()> {
    if done.is_empty() {
        return Ok(());
    }
    let entries = done
        .iter()
        .enumerate()
        .map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    sqs.delete_message_batch().queue_url(queue).set_entries(Some(entries)).send().await.context("deleting a batch")?;
    Ok(())
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

/// `/proc/<pid>/stat` counts in USER_HZ, which Linux fixes at 100 for every architecture.
const USER_HZ: f64 = 100.0;

/// User + system time of the process and all its threads, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("no command in /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Result<u64> { fields.get(n - 3).and_then(|v| v.parse().ok()).context("short /proc/<pid>/stat") };
    Ok(field(14)? + field(15)?)
}
