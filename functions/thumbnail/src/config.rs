//! Every setting the function reads, by environment variable name, in one place.
//! The template sets them from the stage config.

use imaging::{Fit, Limits, Spec};

#[derive(Debug, Clone)]
pub struct Config {
    pub assets_bucket: String,
    pub log_bucket: String,
    pub catalog_table: String,
    pub alarm_topic_arn: String,
    /// Only keys under this prefix are processed; anything else is refused (no recursion).
    pub input_prefix: String,
    pub limits: Limits,
    pub spec: Spec,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} = {value:?} is not a valid {what}")]
    Invalid { name: &'static str, value: String, what: &'static str },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| get(name).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name));
        let defaults = Limits::default();
        let spec = Spec::default();
        let max_edge = number(&get, "MAX_EDGE", 256u32)?;
        Ok(Config {
            assets_bucket: required("ASSETS_BUCKET")?,
            log_bucket: required("LOG_BUCKET")?,
            catalog_table: required("CATALOG_TABLE")?,
            alarm_topic_arn: required("ALARM_TOPIC_ARN")?,
            input_prefix: get("INPUT_PREFIX").unwrap_or_else(|| "images/".into()),
            limits: Limits {
                max_bytes: number(&get, "MAX_BYTES", defaults.max_bytes)?,
                max_pixels: number(&get, "MAX_PIXELS", defaults.max_pixels)?,
            },
            spec: Spec { fit: Fit::Inside { max_edge }, jpeg_quality: number(&get, "JPEG_QUALITY", spec.jpeg_quality)?, ..spec },
        })
    }
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

    #[test]
    fn reads_required_and_defaults() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let base = [("ASSETS_BUCKET", "a"), ("LOG_BUCKET", "l"), ("CATALOG_TABLE", "t"), ("ALARM_TOPIC_ARN", "arn")];
        let c = Config::from_lookup(env(Box::leak(Box::new(base)))).unwrap();
        assert_eq!(c.input_prefix, "images/");
        assert_eq!(c.spec.fit, Fit::Inside { max_edge: 256 });
        assert!(matches!(Config::from_lookup(env(&[])), Err(ConfigError::Missing("ASSETS_BUCKET"))));
        let bad = [
            ("ASSETS_BUCKET", "a"),
            ("LOG_BUCKET", "l"),
            ("CATALOG_TABLE", "t"),
            ("ALARM_TOPIC_ARN", "arn"),
            ("MAX_EDGE", "big"),
        ];
        assert!(matches!(Config::from_lookup(env(Box::leak(Box::new(bad)))), Err(ConfigError::Invalid { name: "MAX_EDGE", .. })));
    }
}
