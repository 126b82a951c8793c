//! `cargo xtask logs <stage> [FUNCTION] [--follow] [--since 10m] [--json]`: the functions' log
//! lines, read with FilterLogEvents from the log groups the stack owns (`<Function>LogGroup`).
//! On AWS the Lambda service writes them; on `local` the runtime writes the in-process
//! handlers' lines to the same groups in moto, so both are read through this one path.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::aws::{Aws, AwsContext};
use crate::exit::Exit;
use crate::flags::{LogFunction, LogsArgs};

pub fn run(args: &LogsArgs) -> Result<Exit> {
    let name = &args.target.stage;
    let stage = args.target.load()?;
    crate::aws::block_on(async {
        let aws = Aws::connect(&stage).await?;
        let stack = stage.id.stack();
        if crate::cfn::stack::describe(&aws.cloudformation(), stack).await?.is_none() {
            anyhow::bail!("there is no stack {stack}; deploy it first (`cargo xtask deploy {name}`)");
        }
        let resources = crate::cfn::stack::physical_ids(&aws, stack).await?;
        let wanted = args.function.map_or(LogFunction::ALL.to_vec(), |f| vec![f]);
        let groups: BTreeMap<&'static str, String> = wanted
            .iter()
            .map(|f| {
                let logical = local_spec::logical_id(f.name(), "LogGroup");
                let group = resources.get(&logical).cloned().with_context(|| format!("{stack} has no {logical}"))?;
                Ok((f.name(), group))
            })
            .collect::<Result<_>>()?;
        let logs = aws_sdk_cloudwatchlogs::Client::new(&aws.config);
        let since = Utc::now() - chrono::Duration::from_std(args.since).unwrap_or_default();
        let mut from = since.timestamp_millis();
        let mut seen = HashSet::new();
        loop {
            let mut lines = Vec::new();
            for (function, group) in &groups {
                lines.extend(read(&logs, function, group, from).await?);
            }
            lines.sort_by_key(|l| l.millis);
            for line in lines.into_iter().filter(|l| seen.insert(l.id.clone())) {
                from = from.max(line.millis);
                print_line(&line, args.json)?;
            }
            if !args.follow {
                return Ok(Exit::Success);
            }
            tokio::select! {
                () = tokio::time::sleep(aws.poll(Duration::from_secs(2)).max(Duration::from_millis(500))) => {}
                _ = tokio::signal::ctrl_c() => return Ok(Exit::Success),
            }
        }
    })
}

struct Line {
    id: String,
    millis: i64,
    function: &'static str,
    message: String,
}

/// Every event of `group` from `from` (ms) on, all pages.
async fn read(logs: &aws_sdk_cloudwatchlogs::Client, function: &'static str, group: &str, from: i64) -> Result<Vec<Line>> {
    let mut out = Vec::new();
    let mut pages = logs.filter_log_events().log_group_name(group).start_time(from).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            // A function that has not run yet has no log group on AWS until its first line.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => break,
            Err(e) => return Err(e).aws(&format!("reading the log group {group}")),
        };
        for event in page.events() {
            let millis = event.timestamp().unwrap_or_default();
            let message = event.message().unwrap_or_default().trim_end().to_string();
            let id = event.event_id().map_or_else(|| format!("{group}/{millis}/{message}"), String::from);
            out.push(Line { id, millis, function, message });
        }
    }
    Ok(out)
}

fn print_line(line: &Line, as_json: bool) -> Result<()> {
    use std::io::Write;
    let time = DateTime::<Utc>::from_timestamp_millis(line.millis).unwrap_or_default();
    let parsed: Option<Value> = serde_json::from_str(&line.message).ok().filter(Value::is_object);
    let text = if as_json {
        let message = parsed.unwrap_or_else(|| Value::String(line.message.clone()));
        json!({ "time": time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), "function": line.function, "message": message })
            .to_string()
    } else {
        format!("{} {:<9} {}", time.format("%H:%M:%S%.3f"), line.function, human(parsed.as_ref(), &line.message))
    };
    match writeln!(std::io::stdout().lock(), "{text}") {
        // `| head`: a closed pipe ends the run quietly.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other.context("writing to stdout"),
    }
}

/// `INFO  thumbnail_written key=images/... bytes=9806`: level, event, then the other fields.
fn human(parsed: Option<&Value>, raw: &str) -> String {
    let Some(Value::Object(fields)) = parsed else { return raw.to_string() };
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), String::from);
    let level = fields.get("level").map(text).unwrap_or_default();
    let event = fields.get("event").map(text).unwrap_or_default();
    let rest: Vec<String> = fields
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "level" | "event"))
        .map(|(k, v)| format!("{k}={}", text(v)))
        .collect();
    format!("{level:<5} {event} {}", rest.join(" ")).trim_end().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_json_line_reads_as_level_event_fields() {
        let line: serde_json::Value =
            serde_json::from_str(r#"{"level":"INFO","event":"thumbnail_written","key":"images/a/b.jpg","bytes":9806}"#).unwrap();
        assert_eq!(super::human(Some(&line), ""), "INFO  thumbnail_written bytes=9806 key=images/a/b.jpg");
        assert_eq!(super::human(None, "START RequestId: 1"), "START RequestId: 1");
    }
}
