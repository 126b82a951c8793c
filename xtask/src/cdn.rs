//! CloudFront invalidations: the one every deploy ends with (avatars keep their URL, so CloudFront
//! must forget the old picture), and `cargo xtask invalidate`'s.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use aws_sdk_cloudfront::Client;
use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
use serde::Serialize;

use crate::aws::{Aws, AwsContext};
use crate::exit::Exit;

pub const AVATARS: &str = "/avatars/*";
/// Beyond this many paths one wildcard is cheaper (each path past 1,000 a month is billed).
const MAX_PATHS: usize = 15;

#[derive(Debug, Clone, Serialize)]
pub struct Invalidation {
    pub distribution_id: String,
    pub id: String,
    pub paths: Vec<String>,
    /// CloudFront's status when we stopped waiting: `Completed` or `InProgress`.
    pub status: String,
    pub waited_seconds: f64,
}

impl Invalidation {
    pub fn completed(&self) -> bool {
        self.status.eq_ignore_ascii_case("completed")
    }
}

/// What a finished wait means for the exit code: only a wait that ran out is special.
pub fn exit(done: &Invalidation) -> Exit {
    if done.completed() { Exit::Success } else { Exit::InvalidationPending }
}

pub fn poll(aws: &Aws) -> Duration {
    aws.poll(Duration::from_secs(5))
}

/// Creates the invalidation and waits up to `wait` for it to complete.
pub async fn invalidate(
    cf: &Client,
    distribution: &str,
    mut paths: Vec<String>,
    wait: Duration,
    poll: Duration,
) -> Result<Invalidation> {
    paths.sort();
    paths.dedup();
    if paths.len() > MAX_PATHS {
        paths = vec!["/*".into()];
    }
    let reference = crate::aws::unique_name();
    let batch = InvalidationBatch::builder()
        .caller_reference(reference)
        .paths(Paths::builder().quantity(i32::try_from(paths.len())?).set_items(Some(paths.clone())).build()?)
        .build()?;
    let created = cf
        .create_invalidation()
        .distribution_id(distribution)
        .invalidation_batch(batch)
        .send()
        .await
        .aws(&format!("invalidating {} on {distribution}", paths.join(" ")))?;
    let Some(inv) = created.invalidation() else { bail!("CloudFront returned no invalidation") };
    let id = inv.id().to_string();
    let mut status = inv.status().to_string();
    let started = Instant::now();
    eprintln!("invalidate: {id} on {distribution} for {} ({status})", paths.join(" "));
    while !status.eq_ignore_ascii_case("completed") && started.elapsed() < wait {
        tokio::time::sleep(poll.min(wait.saturating_sub(started.elapsed()))).await;
        let got = cf.get_invalidation().distribution_id(distribution).id(&id).send().await.aws("reading the invalidation")?;
        status = got.invalidation().map(|i| i.status().to_string()).unwrap_or(status);
    }
    let done = Invalidation {
        distribution_id: distribution.to_string(),
        id,
        paths,
        status,
        waited_seconds: started.elapsed().as_secs_f64(),
    };
    if done.completed() {
        eprintln!("invalidate: completed after {:.1} s", done.waited_seconds);
    } else {
        eprintln!(
            "invalidate: still {} after {:.0} s; it finishes on its own (`aws cloudfront get-invalidation --distribution-id {distribution} --id {}`)",
            done.status, done.waited_seconds, done.id
        );
    }
    Ok(done)
}

#[cfg(test)]
mod emulator_tests;
