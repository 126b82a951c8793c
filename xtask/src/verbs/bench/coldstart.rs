//! The function's cold-start proxy: the release `bootstrap` (what the zip holds) started against a
//! stub of the Lambda runtime API on loopback; measured from spawn to its first
//! `GET /2018-06-01/runtime/invocation/next`, and its peak RSS at that moment. No AWS call is
//! made: config comes from the environment, credentials are fake and never used before an event.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::stage::Architecture;

#[derive(Debug, Serialize)]
pub struct ColdStart {
    pub function: &'static str,
    pub runs: usize,
    pub median_ms_to_next: f64,
    pub max_ms_to_next: f64,
    pub peak_rss_mib: f64,
    /// Every function's zip, as `package` writes it.
    pub zip_bytes: Vec<(String, u64)>,
    /// `package` again with nothing changed (the build is a no-op, the zips are reused).
    pub package_no_change_s: f64,
}

pub fn measure(runs: usize) -> Result<ColdStart> {
    eprintln!("bench: packaging the functions (release; a no-op when nothing changed)");
    crate::build::package(Architecture::X86_64)?;
    let started = Instant::now();
    let report = crate::build::package(Architecture::X86_64)?;
    let package_no_change_s = started.elapsed().as_secs_f64();
    let zip_bytes = report.functions.iter().map(|a| (a.function.clone(), a.zip_bytes)).collect();
    let bootstrap = crate::build::binary(Architecture::X86_64, "thumbnail");
    eprintln!("bench: cold-start proxy of {} ({runs} starts)", bootstrap.display());
    let mut times = Vec::new();
    let mut rss = 0u64;
    for _ in 0..runs {
        let (ms, kib) = start_once(Command::new(&bootstrap))?;
        times.push(ms);
        rss = rss.max(kib);
    }
    times.sort_by(f64::total_cmp);
    Ok(ColdStart {
        function: "thumbnail",
        runs,
        median_ms_to_next: times[times.len() / 2],
        max_ms_to_next: times[times.len() - 1],
        peak_rss_mib: rss as f64 / 1024.0,
        zip_bytes,
        package_no_change_s,
    })
}

/// Starts `bootstrap` (a command: the binary, or qemu-user running it) against the stub and
/// returns the milliseconds to its first `next` and its peak RSS in KiB then.
pub fn start_once(mut bootstrap: Command) -> Result<(f64, u64)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let api = listener.local_addr()?.to_string();
    let started = Instant::now();
    let what = format!("{bootstrap:?}");
    let mut child = bootstrap
        .env_clear()
        .envs(local_spec::e2e::lambda_env(&api, 1024))
        .envs([
            ("ASSETS_BUCKET", "bench-assets"),
            ("LOG_BUCKET", "bench-logs"),
            ("CATALOG_TABLE", "bench-catalog"),
            ("ALARM_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:bench"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {what}"))?;
    let deadline = started + Duration::from_secs(10);
    let result = loop {
        match listener.accept() {
            Ok((mut conn, _)) => {
                let elapsed = started.elapsed().as_secs_f64() * 1e3;
                let mut request = [0u8; 256];
                conn.set_nonblocking(false)?;
                conn.set_read_timeout(Some(Duration::from_secs(2)))?;
                let n = conn.read(&mut request)?;
                let line = String::from_utf8_lossy(&request[..n]);
                if !line.starts_with("GET /2018-06-01/runtime/invocation/next") {
                    break Err(anyhow::anyhow!("the first request was not `next`: {line}"));
                }
                break Ok((elapsed, local_spec::e2e::peak_rss_kib(child.id())?));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Some(status) = child.try_wait()? {
                    let mut err = String::new();
                    child.stderr.take().map(|mut s| s.read_to_string(&mut err));
                    bail!("the bootstrap exited ({status}) before asking for an event: {err}");
                }
                if Instant::now() > deadline {
                    break Err(anyhow::anyhow!("no `next` request within 10 s"));
                }
                std::thread::sleep(Duration::from_micros(100));
            }
            Err(e) => break Err(e.into()),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    result
}
