//! What every function's settings share: how a missing or malformed environment variable is
//! reported. Each function's own settings are read where they are used (`worker::config`,
//! `api::config`).

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} = {value:?} is not a valid {what}")]
    Invalid { name: &'static str, value: String, what: &'static str },
}
