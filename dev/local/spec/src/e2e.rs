//! What `thumbstack-bench e2e` prints for `cargo xtask bench`: the end-to-end figures of one run;
//! and what both it and the bench's cold start give a release `bootstrap`: Lambda's environment,
//! and the peak memory they read of it.

use serde::{Deserialize, Serialize};

/// One mode's figures: the batch loop one message at a time, or the function's default.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub mode: String,
    /// `BATCH_CONCURRENCY` as set, or `None` for the function's default.
    pub batch_concurrency: Option<usize>,
    pub uploads: usize,
    pub invocations: usize,
    /// From the first event handed out to the last upload acknowledged.
    pub seconds: f64,
    pub uploads_per_s: f64,
    /// The bootstrap's user + system time over the run, per upload.
    pub cpu_ms_per_upload: f64,
    /// Sum of the invocations' durations (what Lambda bills), per upload.
    pub billed_ms_per_upload: f64,
    /// Messages handed back for retry (none expected).
    pub retried: usize,
    pub peak_rss_mib: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Figures {
    pub s3_latency_ms: u64,
    pub batch_size: i32,
    pub memory_mb: u64,
    pub runs: Vec<Run>,
}

/// A process's peak resident set (`VmHWM` in `/proc/<pid>/status`), in KiB.
pub fn peak_rss_kib(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no VmHWM in /proc/<pid>/status"))
}

/// What Lambda sets for a `bootstrap` (runtime API, function, memory size, region), with fake
/// credentials that reach nothing but the emulator.
pub fn lambda_env(runtime_api: &str, memory_mb: u64) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", "thumbstack-bench-thumbnail".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/thumbstack-bench-thumbnail".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "bench-fake".into()),
        ("AWS_SECRET_ACCESS_KEY", "bench-fake".into()),
    ]
}
