//! The functions' log lines, as Lambda ships them: the same JSON the deployed binaries print
//! (`tracing_subscriber` JSON, fields flattened), one event per line in the function's log group
//! (`/aws/lambda/<stack>-<function>`, the stack's own resource), so `cargo xtask logs` reads
//! `local` and AWS through one path (FilterLogEvents). Each line is also echoed on stderr.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use tokio::sync::{mpsc, oneshot};

/// The span every invocation runs in; its `function` field names the log group.
pub const SPAN: &str = "lambda";

enum Msg {
    Line { function: String, millis: i64, line: String },
    Flush(oneshot::Sender<()>),
}

pub struct Shipper(mpsc::UnboundedSender<Msg>);

impl Shipper {
    /// Waits until every line logged so far is in its log group.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.0.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// Installs the global subscriber and starts shipping; call inside the runtime.
pub fn install(sdk: &aws_config::SdkConfig, spec: &local_spec::Spec) -> Shipper {
    let groups: BTreeMap<String, String> =
        [("thumbnail", &spec.thumbnail.function), ("avatar", &spec.avatar.function), ("api", &spec.api)]
            .into_iter()
            .map(|(name, f)| (name.to_string(), f.log_group.clone()))
            .collect();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(ship(aws_sdk_cloudwatchlogs::Client::new(sdk), groups, rx));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_target(false)
        .with_current_span(true)
        .with_span_list(false)
        .without_time()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(Lines(tx.clone()))
        .init();
    Shipper(tx)
}

struct Lines(mpsc::UnboundedSender<Msg>);

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
    type Writer = Line;
    fn make_writer(&'a self) -> Line {
        Line { buf: Vec::new(), tx: self.0.clone() }
    }
}

/// One formatted event; routed when the formatter drops it.
struct Line {
    buf: Vec<u8>,
    tx: mpsc::UnboundedSender<Msg>,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        match route(text) {
            Some((function, line)) => {
                eprintln!("local: [{function}] {line}");
                let millis =
                    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
                let _ = self.tx.send(Msg::Line { function, millis, line });
            }
            None => eprintln!("local: {text}"),
        }
    }
}

/// The function whose invocation logged `text`, and the line as the Lambda prints it (no span).
fn route(text: &str) -> Option<(String, String)> {
    let serde_json::Value::Object(mut fields) = serde_json::from_str(text).ok()? else { return None };
    let span = fields.remove("span")?;
    let function = span.get("function")?.as_str()?.to_string();
    Some((function, serde_json::Value::Object(fields).to_string()))
}

async fn ship(logs: aws_sdk_cloudwatchlogs::Client, groups: BTreeMap<String, String>, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let stream = format!("local/{}", std::process::id());
    for group in groups.values() {
        // The stack's CloudFormation normally made the group; creating it again is harmless.
        let _ = logs.create_log_group().log_group_name(group).send().await;
        if let Err(e) = logs.create_log_stream().log_group_name(group).log_stream_name(&stream).send().await {
            eprintln!("local: cannot create a log stream in {group}: {e}");
        }
    }
    let mut pending: BTreeMap<String, Vec<InputLogEvent>> = BTreeMap::new();
    while let Some(first) = rx.recv().await {
        let mut waiting = Vec::new();
        let mut take = |msg: Msg| match msg {
            Msg::Line { function, millis, line } => {
                if let Ok(event) = InputLogEvent::builder().timestamp(millis).message(line).build() {
                    pending.entry(function).or_default().push(event);
                }
            }
            Msg::Flush(done) => waiting.push(done),
        };
        take(first);
        // A short pause gathers a batch's lines into one request.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        while let Ok(msg) = rx.try_recv() {
            take(msg);
        }
        for (function, events) in std::mem::take(&mut pending) {
            let Some(group) = groups.get(&function) else { continue };
            let put = logs.put_log_events().log_group_name(group).log_stream_name(&stream).set_log_events(Some(events));
            if let Err(e) = put.send().await {
                eprintln!("local: shipping {function}'s log lines to {group} failed: {e}");
            }
        }
        for done in waiting {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_in_an_invocation_span_go_to_that_function_without_the_span() {
        let line = r#"{"level":"INFO","event":"thumbnail_written","key":"images/a/b.jpg","span":{"function":"thumbnail","name":"lambda"}}"#;
        let (function, shipped) = super::route(line).unwrap();
        assert_eq!(function, "thumbnail");
        assert_eq!(shipped, r#"{"event":"thumbnail_written","key":"images/a/b.jpg","level":"INFO"}"#);
        assert!(super::route(r#"{"level":"INFO","message":"outside"}"#).is_none());
        assert!(super::route("not json").is_none());
    }
}
