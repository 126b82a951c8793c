//! What `thumbstack-local e2e` prints for `cargo xtask bench`: the end-to-end figures of one run;
//! and the peak memory of a process, which it and the bench's cold start read the same way.

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
