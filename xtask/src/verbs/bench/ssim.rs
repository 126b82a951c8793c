//! Quality: every 256 px thumbnail scored by `thumbstack-bench ssim` (the bench crate holds the
//! reference decode, so xtask links no codec) against an independent downscale of its photo.

use std::process::Command;

use anyhow::{Context, Result, bail};

use super::photos::Photo;
use super::tools::{Op, Sample};

pub fn score_all(samples: &mut [Sample], photos: &[Photo]) -> Result<()> {
    let runtime = crate::verbs::runtime::build_package(crate::verbs::runtime::BENCH)?;
    for photo in photos {
        let scored: Vec<usize> = (0..samples.len())
            .filter(|&i| samples[i].op == Op::Thumbnail && samples[i].photo == photo.name && samples[i].output.is_some())
            .collect();
        if scored.is_empty() {
            continue;
        }
        let mut cmd = Command::new(&runtime);
        cmd.arg("ssim").arg(&photo.path).args(scored.iter().filter_map(|&i| samples[i].output.as_ref()));
        let out = cmd.output().context("running thumbstack-bench ssim")?;
        if !out.status.success() {
            bail!("thumbstack-bench ssim {}: {}", photo.name, String::from_utf8_lossy(&out.stderr));
        }
        let lines: Vec<serde_json::Value> =
            String::from_utf8_lossy(&out.stdout).lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
        if lines.len() != scored.len() {
            bail!("thumbstack-bench ssim {}: {} scores for {} outputs", photo.name, lines.len(), scored.len());
        }
        for (&i, line) in scored.iter().zip(&lines) {
            samples[i].ssim = line["ssim"].as_f64();
        }
    }
    Ok(())
}
