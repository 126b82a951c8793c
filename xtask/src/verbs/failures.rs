//! `cargo xtask failures <stage> [--since 1d] [--json]`: every failure record in the stage's log
//! bucket (`failures/…`, what the functions write for each rejected upload), newest first, for the
//! on-call. The api's failures page shows the same records to users; this needs no sign-in.

use anyhow::{Context, Result};
use chrono::Utc;
use shared::record::FailureRecord;

use crate::aws::{Aws, AwsContext};
use crate::exit::Exit;
use crate::flags::FailuresArgs;

/// Where the functions write them (`shared::record::FailureRecord::object_key`).
const PREFIX: &str = "failures/";

pub fn run(args: &FailuresArgs) -> Result<Exit> {
    let stage = args.target.load()?;
    let since = Utc::now() - chrono::Duration::from_std(args.since).unwrap_or_default();
    let records = crate::aws::block_on(async {
        let aws = Aws::connect(&stage).await?;
        let outputs = crate::cfn::stack::deployed_outputs(&aws, &stage).await?;
        let bucket = outputs.get("LogBucketName").context("the stack has no LogBucketName output")?;
        read(&aws.s3(), bucket, since).await
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&records)?);
    } else if records.is_empty() {
        eprintln!("failures: none recorded since {}", since.format("%Y-%m-%d %H:%M:%S UTC"));
    } else {
        print!("{}", table(&records));
    }
    Ok(Exit::Success)
}

/// The records written since `since`, newest first. One that does not parse is reported, not
/// skipped in silence.
async fn read(s3: &aws_sdk_s3::Client, bucket: &str, since: chrono::DateTime<Utc>) -> Result<Vec<FailureRecord>> {
    let mut keys = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).prefix(PREFIX).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws(&format!("listing s3://{bucket}/{PREFIX}"))?;
        for object in page.contents() {
            let recent = object.last_modified().is_some_and(|t| t.secs() >= since.timestamp());
            if let (true, Some(key)) = (recent, object.key()) {
                keys.push(key.to_string());
            }
        }
    }
    let mut records = Vec::with_capacity(keys.len());
    for key in keys {
        let object = s3.get_object().bucket(bucket).key(&key).send().await.aws(&format!("reading s3://{bucket}/{key}"))?;
        let bytes = object.body.collect().await.with_context(|| format!("reading s3://{bucket}/{key}"))?.into_bytes();
        match serde_json::from_slice::<FailureRecord>(&bytes) {
            Ok(record) => records.push(record),
            Err(e) => eprintln!("failures: s3://{bucket}/{key} is not a failure record ({e})"),
        }
    }
    records.sort_by(|a, b| b.recorded_at.cmp(&a.recorded_at));
    Ok(records)
}

fn table(records: &[FailureRecord]) -> String {
    let cells: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.recorded_at.clone(),
                r.function.clone(),
                r.code.clone(),
                r.file_name.clone().unwrap_or_else(|| "-".into()),
                r.size.map_or_else(|| "-".into(), |s| s.to_string()),
                r.key.clone(),
                r.reason.clone(),
            ]
        })
        .collect();
    crate::ui::table(&["RECORDED", "FUNCTION", "CODE", "FILE NAME", "BYTES", "KEY", "REASON"], &cells)
}
