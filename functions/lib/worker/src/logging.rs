//! The image functions' log lines: one JSON object per line, the event's fields at the top level,
//! so the template's metric filters (`{ $.event = "image_rejected" }`, the `$.version` dimension)
//! match them. `tests/log_lines.rs` holds the lines to the template's filters.

use tracing_subscriber::fmt::MakeWriter;

/// The subscriber every image function logs through, writing to `writer`.
pub fn json_lines<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_target(false)
        .with_current_span(false)
        .without_time()
        .with_writer(writer)
        .finish()
}

/// Installs it for the process, on stdout (which Lambda sends to the function's log group).
pub fn init() {
    let _ = tracing::subscriber::set_global_default(json_lines(std::io::stdout));
}
