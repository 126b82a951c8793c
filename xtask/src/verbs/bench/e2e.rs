//! The end-to-end figure: `thumbstack-bench e2e` sends the medium and large photos through S3 →
//! SQS → the release `bootstrap` of the thumbnail function on a moto of its own, with every S3
//! GetObject and PutObject held for a fixed time, one message at a time against the function's
//! default concurrent batch. Here its CPU-ms and durations become GB-seconds and dollars per
//! million thumbnails at the `dev` stage's memory size, at x86_64 and arm64 prices.

use std::process::Command;

use anyhow::{Context, Result, bail};
use local_spec::e2e::{Figures, Run};
use serde::Serialize;

use super::photos::{Group, Photo};
use crate::stage::Architecture;

/// Lambda's list prices in us-east-1 (first tier), per GB-second of duration and per request.
const PRICES: [(&str, f64); 2] = [("x86_64", 0.000_016_666_7), ("arm64", 0.000_013_333_4)];
const PRICE_PER_REQUEST: f64 = 0.20 / 1e6;
/// A real bucket's GetObject/PutObject round trip from Lambda in the same region: tens of ms.
const S3_LATENCY_MS: u64 = 40;

#[derive(Debug, Serialize)]
pub struct Cost {
    pub mode: String,
    pub architecture: &'static str,
    /// The duration measured here with the CPU part stretched to the share of a vCPU Lambda
    /// gives `memory_mb` (here the function had a whole core).
    pub lambda_ms_per_upload: f64,
    pub gb_s_per_upload: f64,
    /// Duration and requests (one per batch of `batch_size`), per million thumbnails.
    pub usd_per_million: f64,
}

#[derive(Debug, Serialize)]
pub struct EndToEnd {
    pub stage: &'static str,
    pub memory_mb: u64,
    pub batch_size: i32,
    pub s3_latency_ms: u64,
    pub runs: Vec<Run>,
    /// Concurrent uploads per second over sequential ones.
    pub speedup: f64,
    pub costs: Vec<Cost>,
}

const STAGE: &str = "dev";

/// Runs the release bootstrap `package` left (the bench's cold start packages first).
pub fn measure(photos: &[Photo], uploads: usize, core: usize) -> Result<EndToEnd> {
    let stage = crate::stage::Stage::load(&crate::paths::infra(), STAGE)?;
    let function = &stage.functions.thumbnail;
    let (memory_mb, batch_size, timeout_s) = (function.memory_mb.get(), function.batch_size.get(), function.timeout_s.get());
    let bootstrap = crate::build::binary(Architecture::X86_64, "thumbnail");
    let runtime = crate::verbs::runtime::build_package(crate::verbs::runtime::BENCH)?;
    // The photos themselves, not their twins: uploads are what phones and cameras write.
    let corpus = crate::paths::corpus();
    let chosen: Vec<&Photo> = photos.iter().filter(|p| p.group != Group::Small && p.path.starts_with(&corpus)).collect();
    eprintln!("bench: end to end, {uploads} uploads of {} photos per mode, S3 at +{S3_LATENCY_MS} ms", chosen.len());
    let mut cmd = Command::new(&runtime);
    cmd.arg("e2e")
        .arg("--bootstrap")
        .arg(&bootstrap)
        .args(["--uploads", &uploads.to_string(), "--s3-latency-ms", &S3_LATENCY_MS.to_string()])
        .args(["--batch-size", &batch_size.to_string(), "--memory-mb", &memory_mb.to_string()])
        .args(["--timeout-s", &timeout_s.to_string(), "--core", &core.to_string()])
        .args(chosen.iter().map(|p| &p.path));
    let out = cmd.stderr(std::process::Stdio::inherit()).output().context("running thumbstack-bench e2e")?;
    if !out.status.success() {
        bail!("thumbstack-bench e2e failed ({})", out.status);
    }
    let figures: Figures = serde_json::from_slice(&out.stdout).context("reading thumbstack-bench e2e's figures")?;
    Ok(EndToEnd::new(figures))
}

impl EndToEnd {
    fn new(figures: Figures) -> EndToEnd {
        let batch_size = figures.batch_size;
        let rate = |mode: &str| figures.runs.iter().find(|r| r.mode == mode).map_or(f64::NAN, |r| r.uploads_per_s);
        let speedup = rate("concurrent") / rate("sequential");
        let share = (figures.memory_mb as f64 / shared::lambda::MB_PER_VCPU as f64).min(1.0);
        let gb = figures.memory_mb as f64 / 1024.0;
        let costs = figures
            .runs
            .iter()
            .flat_map(|run| {
                let lambda_ms = run.billed_ms_per_upload + run.cpu_ms_per_upload * (1.0 / share - 1.0);
                PRICES.iter().map(move |&(architecture, per_gb_s)| {
                    let gb_s = lambda_ms / 1000.0 * gb;
                    let usd_per_million = 1e6 * (gb_s * per_gb_s + PRICE_PER_REQUEST / f64::from(batch_size.max(1)));
                    Cost {
                        mode: run.mode.clone(),
                        architecture,
                        lambda_ms_per_upload: lambda_ms,
                        gb_s_per_upload: gb_s,
                        usd_per_million,
                    }
                })
            })
            .collect();
        EndToEnd {
            stage: STAGE,
            memory_mb: figures.memory_mb,
            batch_size,
            s3_latency_ms: figures.s3_latency_ms,
            runs: figures.runs,
            speedup,
            costs,
        }
    }

    pub fn markdown(&self) -> String {
        let mut md = format!(
            "End to end (`thumbstack-bench e2e`): the release thumbnail `bootstrap`, one core, fed batches of {} through a \
             stub of the runtime API from a real queue on moto, S3 GetObject/PutObject held {} ms each; priced at the `{}` \
             stage's {} MB, where Lambda gives {:.2} vCPU (the CPU part of each duration stretched to that share). \
             arm64 is priced on the same durations: its speed cannot be measured here.\n\n",
            self.batch_size,
            self.s3_latency_ms,
            self.stage,
            self.memory_mb,
            (self.memory_mb as f64 / shared::lambda::MB_PER_VCPU as f64).min(1.0)
        );
        md.push_str("| batch | uploads | uploads/s | CPU-ms/upload | duration ms/upload | peak RSS MiB | retried |\n|---|---:|---:|---:|---:|---:|---:|\n");
        for r in &self.runs {
            md.push_str(&format!(
                "| {} | {} | {:.1} | {:.1} | {:.1} | {:.0} | {} |\n",
                r.mode, r.uploads, r.uploads_per_s, r.cpu_ms_per_upload, r.billed_ms_per_upload, r.peak_rss_mib, r.retried
            ));
        }
        md.push_str(&format!("\nConcurrent batches: {:.2}× the uploads per second.\n\n", self.speedup));
        md.push_str(
            "| batch | architecture | Lambda ms/upload | GB-s/upload | $ per million thumbnails |\n|---|---|---:|---:|---:|\n",
        );
        for c in &self.costs {
            md.push_str(&format!(
                "| {} | {} | {:.1} | {:.4} | {:.2} |\n",
                c.mode, c.architecture, c.lambda_ms_per_upload, c.gb_s_per_upload, c.usd_per_million
            ));
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_become_gb_seconds_and_dollars_at_the_stages_memory() {
        let run = |mode: &str, per_s: f64, cpu: f64, billed: f64| Run {
            mode: mode.into(),
            batch_concurrency: None,
            uploads: 10,
            invocations: 2,
            seconds: 10.0 / per_s,
            uploads_per_s: per_s,
            cpu_ms_per_upload: cpu,
            billed_ms_per_upload: billed,
            retried: 0,
            peak_rss_mib: 30.0,
        };
        let figures = Figures {
            s3_latency_ms: 40,
            batch_size: 5,
            memory_mb: 1024,
            runs: vec![run("sequential", 5.0, 20.0, 200.0), run("concurrent", 20.0, 20.0, 50.0)],
        };
        let e2e = EndToEnd::new(figures);
        assert!((e2e.speedup - 4.0).abs() < 1e-9);
        // 1,024 MB is 0.579 of a vCPU: 20 CPU-ms take 34.55 ms there, 14.55 more than here.
        let c = &e2e.costs[2];
        assert_eq!((c.mode.as_str(), c.architecture), ("concurrent", "x86_64"));
        assert!((c.lambda_ms_per_upload - (50.0 + 20.0 * (1769.0 / 1024.0 - 1.0))).abs() < 1e-9);
        assert!((c.gb_s_per_upload - c.lambda_ms_per_upload / 1000.0).abs() < 1e-12);
        // Per million: duration at the x86_64 price, plus 200,000 requests at $0.20 per million.
        assert!((c.usd_per_million - (1e6 * c.gb_s_per_upload * 0.000_016_666_7 + 0.04)).abs() < 1e-6);
        assert!(e2e.costs[3].usd_per_million < c.usd_per_million, "arm64 costs less per GB-second");
        assert!(e2e.markdown().contains("| concurrent | arm64 |"));
    }
}
