//! Every setting an image function reads, by environment variable name, in one place.
//! The template sets them from the stage config; each function gives its own defaults.

use imaging::{Fit, Limits, Spec};

use crate::concurrency::{Concurrency, share};

/// What one image function does where its environment says nothing; each function gives its own
/// (`thumbnail::DEFAULTS`, `avatar::DEFAULTS`).
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// `INPUT_PREFIX`: the only keys it processes.
    pub input_prefix: &'static str,
    /// `MAX_EDGE`.
    pub max_edge: u32,
    /// How the output frames the source at that edge, and whether real transparency is kept.
    pub output: fn(u32) -> (Fit, bool),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub assets_bucket: String,
    pub log_bucket: String,
    pub catalog_table: String,
    pub alarm_topic_arn: String,
    /// Only keys under this prefix are processed; anything else is refused (no recursion).
    pub input_prefix: String,
    pub limits: Limits,
    /// How long one file may take to decode (`DECODE_SECONDS`, default 10): past it, the file
    /// is rejected as too slow. Bounded in turn by the invocation's deadline (`batch::handle`).
    pub decode_time: std::time::Duration,
    /// The queue's `maxReceiveCount` (`MAX_RECEIVE_COUNT`): a message on that delivery is not
    /// delivered again.
    pub max_receive_count: Option<u32>,
    /// Rejection e-mails per window (`REJECTION_EMAILS`, default 10, per `REJECTION_EMAIL_WINDOW_S`,
    /// default 300): past it, one summary, then records and log lines only.
    pub mail_rate: crate::mail_rate::MailRate,
    pub spec: Spec,
    /// Messages in flight and renders at once (`BATCH_CONCURRENCY`, else from the memory size).
    pub concurrency: Concurrency,
    /// The version of the function this instance runs (`AWS_LAMBDA_FUNCTION_VERSION`, which Lambda
    /// sets; `$LATEST` elsewhere). Every outcome's log line carries it, so the rollback alarm
    /// counts the refusals of the version being rolled out.
    pub version: String,
}

pub use shared::config::ConfigError;

impl Config {
    pub fn from_env(defaults: &Defaults) -> Result<Self, ConfigError> {
        Self::from_lookup(defaults, |name| std::env::var(name).ok())
    }

    pub fn from_lookup(defaults: &Defaults, get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| get(name).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name));
        let function = defaults;
        let defaults = Limits::default();
        let spec = Spec::default();
        let edge = number(&get, "MAX_EDGE", function.max_edge)?;
        let max_bytes = number(&get, "MAX_BYTES", defaults.max_bytes)?;
        let memory_mb = memory_size(&get)?;
        let (fit, keep_alpha) = (function.output)(edge);
        Ok(Config {
            assets_bucket: required("ASSETS_BUCKET")?,
            log_bucket: required("LOG_BUCKET")?,
            catalog_table: required("CATALOG_TABLE")?,
            alarm_topic_arn: required("ALARM_TOPIC_ARN")?,
            input_prefix: get("INPUT_PREFIX").unwrap_or_else(|| function.input_prefix.into()),
            version: get("AWS_LAMBDA_FUNCTION_VERSION").unwrap_or_else(|| "$LATEST".into()),
            limits: Limits {
                max_bytes,
                max_pixels: number(&get, "MAX_PIXELS", defaults.max_pixels)?,
                max_memory: memory_budget(&get, memory_mb)?,
                ..defaults
            },
            decode_time: std::time::Duration::from_secs(number(&get, "DECODE_SECONDS", 10u64)?),
            mail_rate: crate::mail_rate::MailRate {
                per_window: number(&get, "REJECTION_EMAILS", crate::mail_rate::MailRate::default().per_window)?,
                window: std::time::Duration::from_secs(number(
                    &get,
                    "REJECTION_EMAIL_WINDOW_S",
                    crate::mail_rate::MailRate::default().window.as_secs(),
                )?),
            },
            max_receive_count: get("MAX_RECEIVE_COUNT").map(|_| number(&get, "MAX_RECEIVE_COUNT", 0u32)).transpose()?,
            spec: Spec { fit, keep_alpha, jpeg_quality: number(&get, "JPEG_QUALITY", spec.jpeg_quality)? },
            concurrency: Concurrency::derive(
                memory_mb,
                std::thread::available_parallelism().map_or(1, usize::from),
                max_bytes,
                get("BATCH_CONCURRENCY").map(|_| number(&get, "BATCH_CONCURRENCY", 1usize)).transpose()?,
            ),
        })
    }
}

/// The decodes' memory budget: `MEMORY_BUDGET_MIB` when set, else 40 % of the memory Lambda gives
/// the function (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB, from the stage's `memory_mb`); the
/// renders of a batch share it (`concurrency::Gate`). The downloads get as much again, the rest
/// holds the runtime, the SDK and the outputs. Off Lambda, imaging's default.
fn memory_budget(get: &impl Fn(&str) -> Option<String>, memory_mb: Option<u64>) -> Result<u64, ConfigError> {
    if get("MEMORY_BUDGET_MIB").is_some() {
        return Ok(number(get, "MEMORY_BUDGET_MIB", 0u64)? << 20);
    }
    Ok(memory_mb.map_or(imaging::DEFAULT_MAX_MEMORY, share))
}

/// The function's memory size in MB, where Lambda sets it.
fn memory_size(get: &impl Fn(&str) -> Option<String>) -> Result<Option<u64>, ConfigError> {
    get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").map(|_| number(get, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 0u64)).transpose()
}

fn number<T: std::str::FromStr>(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: T) -> Result<T, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError::Invalid { name, value: v, what: "number" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const THUMBNAIL: Defaults =
        Defaults { input_prefix: "images/", max_edge: 256, output: |edge| (Fit::Inside { max_edge: edge }, true) };
    const AVATAR: Defaults =
        Defaults { input_prefix: "avatars/", max_edge: 512, output: |edge| (Fit::Cover { width: edge, height: edge }, false) };

    #[test]
    fn reads_required_and_defaults() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let base = [("ASSETS_BUCKET", "a"), ("LOG_BUCKET", "l"), ("CATALOG_TABLE", "t"), ("ALARM_TOPIC_ARN", "arn")];
        let c = Config::from_lookup(&THUMBNAIL, env(Box::leak(Box::new(base)))).unwrap();
        assert_eq!(c.input_prefix, "images/");
        assert_eq!(c.spec.fit, Fit::Inside { max_edge: 256 });
        assert!(c.spec.keep_alpha);
        let a = Config::from_lookup(&AVATAR, env(Box::leak(Box::new(base)))).unwrap();
        assert_eq!(a.input_prefix, "avatars/");
        assert_eq!(a.spec.fit, Fit::Cover { width: 512, height: 512 });
        assert!(!a.spec.keep_alpha);
        assert_eq!(a.limits.max_memory, imaging::DEFAULT_MAX_MEMORY);
        let lambda = [
            ("ASSETS_BUCKET", "a"),
            ("LOG_BUCKET", "l"),
            ("CATALOG_TABLE", "t"),
            ("ALARM_TOPIC_ARN", "arn"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
        ];
        let c = Config::from_lookup(&THUMBNAIL, env(Box::leak(Box::new(lambda)))).unwrap();
        assert_eq!(c.limits.max_memory, 409_600_000);
        // 50 MiB uploads (the default): 7 fit in 40 % of 1,024 MB.
        assert_eq!(c.concurrency, Concurrency { messages: 7, renders: 1 });
        assert!(matches!(Config::from_lookup(&THUMBNAIL, env(&[])), Err(ConfigError::Missing("ASSETS_BUCKET"))));
        let bad = [
            ("ASSETS_BUCKET", "a"),
            ("LOG_BUCKET", "l"),
            ("CATALOG_TABLE", "t"),
            ("ALARM_TOPIC_ARN", "arn"),
            ("MAX_EDGE", "big"),
        ];
        assert!(matches!(
            Config::from_lookup(&THUMBNAIL, env(Box::leak(Box::new(bad)))),
            Err(ConfigError::Invalid { name: "MAX_EDGE", .. })
        ));
    }
}
