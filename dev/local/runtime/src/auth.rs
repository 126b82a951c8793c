//! The checks API Gateway's JWT authorizer makes before a signed-in route runs, made here for
//! the local server: an RS256 signature by a key of the pool's JWKS (found by `kid`), `iss` the
//! pool, `token_use` an access token, its `client_id` the site's client, `exp` in the future.
//! The site sends access tokens (as Cognito's docs advise for APIs); an id token is refused.
//! Tests point the same code at tokens moto issued.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("no bearer token")]
    Missing,
    #[error("not a JWT signed by a key of the pool: {0}")]
    Signature(String),
    #[error("issued by {0}, not this stage's pool")]
    Issuer(String),
    #[error("a {0:?} token; the api takes access tokens")]
    TokenUse(String),
    #[error("for client {0:?}, not the site's")]
    Client(String),
    #[error("expired")]
    Expired,
}

/// The claims of an access token that the checks read.
#[derive(Debug, Clone, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub exp: u64,
    #[serde(default)]
    pub token_use: String,
    #[serde(default)]
    pub client_id: Option<String>,
    /// The pool's name for the user (an access token carries it): what `DELETE /api/account`
    /// deletes from the pool.
    #[serde(default)]
    pub username: Option<String>,
}

pub struct Verifier {
    issuer: String,
    client_id: String,
    keys: JwkSet,
}

impl Verifier {
    pub fn new(issuer: String, client_id: String, keys: JwkSet) -> Verifier {
        Verifier { issuer, client_id, keys }
    }

    /// The pool's keys, read once from where the emulator serves them.
    pub fn fetch(issuer: String, client_id: String, jwks_url: &str) -> anyhow::Result<Verifier> {
        let body = http_get(jwks_url)?;
        let keys: JwkSet = serde_json::from_slice(&body).map_err(|e| anyhow::anyhow!("{jwks_url} is not a JWKS: {e}"))?;
        Ok(Verifier::new(issuer, client_id, keys))
    }

    /// The `Authorization` header's token, checked at `now`.
    pub fn verify_header(&self, header: Option<&str>, now: SystemTime) -> Result<Claims, Refused> {
        let token = header
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(Refused::Missing)?;
        self.verify(token, now)
    }

    pub fn verify(&self, token: &str, now: SystemTime) -> Result<Claims, Refused> {
        let bad = |e: jsonwebtoken::errors::Error| Refused::Signature(e.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(bad)?;
        if header.alg != Algorithm::RS256 {
            return Err(Refused::Signature(format!("algorithm {:?}; the pool signs with RS256", header.alg)));
        }
        let kid = header.kid.ok_or_else(|| Refused::Signature("no key id".into()))?;
        let jwk = self.keys.find(&kid).ok_or_else(|| Refused::Signature(format!("unknown key id {kid:?}")))?;
        let key = DecodingKey::from_jwk(jwk).map_err(bad)?;
        // Time and audience are checked below, against `now` and the access token's `client_id`
        // (access tokens carry no `aud`); the signature and the algorithm here.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(bad)?.claims;
        if claims.iss != self.issuer {
            return Err(Refused::Issuer(claims.iss));
        }
        if claims.token_use != "access" {
            return Err(Refused::TokenUse(claims.token_use));
        }
        if claims.client_id.as_deref() != Some(self.client_id.as_str()) {
            return Err(Refused::Client(claims.client_id.unwrap_or_default()));
        }
        let now = now.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs();
        if claims.exp <= now {
            return Err(Refused::Expired);
        }
        Ok(claims)
    }
}

/// A GET to the emulator (plain HTTP on loopback), the only place the keys come from.
fn http_get(url: &str) -> anyhow::Result<Vec<u8>> {
    let rest = url.strip_prefix("http://").ok_or_else(|| anyhow::anyhow!("{url}: only the emulator's http:// is read"))?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = TcpStream::connect(host).map_err(|e| anyhow::anyhow!("connecting to {host}: {e}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| anyhow::anyhow!("{url}: no HTTP response"))?;
    let head = String::from_utf8_lossy(&response[..split]);
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        anyhow::bail!("{url}: {}", head.lines().next().unwrap_or_default());
    }
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        anyhow::bail!("{url}: a chunked answer; expected a JSON document with its length");
    }
    Ok(response[split + 4..].to_vec())
}
