//! The api's settings, by environment variable name (the template sets them from the stage).

use std::time::Duration;

pub use shared::config::ConfigError;

#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub uploads_bucket: String,
    /// Thumbnails: deleted with the photo they belong to.
    pub assets_bucket: String,
    pub log_bucket: String,
    pub catalog_table: String,
    /// The stage's upload limit: the presigned POST's `content-length-range` ceiling.
    pub max_bytes: u64,
    pub upload_expiry: Duration,
    /// Prefix of thumbnail and avatar URLs: `/` when CloudFront serves the assets beside the api.
    pub assets_base_url: String,
    /// What one user may be granted in one UTC day (`crate::quota`).
    pub quota: crate::quota::Quota,
    /// The stage's CloudFront distribution, told to forget a deleted photo's thumbnail; `None`
    /// where nothing caches at an edge (`local` serves the assets itself).
    pub distribution_id: Option<String>,
    /// What a photo is when its grant request does not say (`DEFAULT_VISIBILITY`, the stage's
    /// `api.default_visibility`).
    pub default_visibility: shared::visibility::Visibility,
    /// What every request must carry in `X-Origin-Verify` (`ORIGIN_VERIFY`): the value CloudFront
    /// adds, so a request sent to the execute-api endpoint directly is refused. `None` where
    /// nothing stands in front (`local`).
    pub origin_verify: Option<String>,
}

impl ApiConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| get(name).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name));
        let number = |name: &'static str, default: u64, what: &'static str| match get(name) {
            None => Ok(default),
            Some(v) => v.trim().parse::<u64>().ok().filter(|n| *n > 0).ok_or(ConfigError::Invalid { name, value: v, what }),
        };
        let expiry = number("UPLOAD_EXPIRY_S", 300, "number of seconds (1 to 3600)")?;
        if expiry > 3600 {
            return Err(ConfigError::Invalid {
                name: "UPLOAD_EXPIRY_S",
                value: expiry.to_string(),
                what: "number of seconds (1 to 3600)",
            });
        }
        Ok(ApiConfig {
            uploads_bucket: required("UPLOADS_BUCKET")?,
            assets_bucket: required("ASSETS_BUCKET")?,
            log_bucket: required("LOG_BUCKET")?,
            catalog_table: required("CATALOG_TABLE")?,
            max_bytes: number("MAX_BYTES", 25 * 1024 * 1024, "positive number of bytes")?,
            upload_expiry: Duration::from_secs(expiry),
            assets_base_url: get("ASSETS_BASE_URL").unwrap_or_else(|| "/".into()),
            quota: crate::quota::Quota {
                uploads_per_day: number("UPLOADS_PER_DAY", 200, "positive number of uploads")?,
                bytes_per_day: number("BYTES_PER_DAY", 1 << 30, "positive number of bytes")?,
            },
            distribution_id: get("DISTRIBUTION_ID").filter(|v| !v.is_empty()),
            origin_verify: get("ORIGIN_VERIFY").filter(|v| !v.is_empty()),
            default_visibility: match get("DEFAULT_VISIBILITY") {
                None => shared::visibility::Visibility::Public,
                Some(v) => shared::visibility::Visibility::parse(&v).ok_or(ConfigError::Invalid {
                    name: "DEFAULT_VISIBILITY",
                    value: v,
                    what: "visibility (public or private)",
                })?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    const BASE: [(&str, &str); 4] =
        [("UPLOADS_BUCKET", "u"), ("ASSETS_BUCKET", "a"), ("LOG_BUCKET", "l"), ("CATALOG_TABLE", "t")];

    #[test]
    fn defaults_and_checks() {
        let c = ApiConfig::from_lookup(lookup(&BASE)).unwrap();
        assert_eq!((c.max_bytes, c.upload_expiry.as_secs(), c.assets_base_url.as_str()), (25 * 1024 * 1024, 300, "/"));
        assert!(matches!(ApiConfig::from_lookup(lookup(&[])), Err(ConfigError::Missing("UPLOADS_BUCKET"))));
        for (name, value) in
            [("UPLOAD_EXPIRY_S", "0"), ("UPLOAD_EXPIRY_S", "86400"), ("MAX_BYTES", "lots"), ("DEFAULT_VISIBILITY", "secret")]
        {
            let mut pairs = BASE.to_vec();
            pairs.push((name, value));
            let e = ApiConfig::from_lookup(lookup(&pairs)).unwrap_err();
            assert!(matches!(e, ConfigError::Invalid { name: n, .. } if n == name), "{name}={value}: {e}");
        }
    }
}
