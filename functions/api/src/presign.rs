//! Browser uploads without AWS credentials: an S3 presigned POST. The SDK presigns single
//! requests (GET, PUT) only; a POST policy is what lets S3 itself refuse a wrong key, type or
//! size, so it is built here and signed with the SDK's own SigV4 primitives and credentials.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::json;

/// What the upload may be; everything else S3 refuses.
#[derive(Debug, Clone)]
pub struct PostPolicy<'a> {
    pub bucket: &'a str,
    /// The exact key: the form cannot choose another, so no `../` or crafted name escapes it.
    pub key: &'a str,
    /// Sent as the form's `Content-Type`, and pinned to exactly that by the policy.
    pub content_type: &'a str,
    pub max_bytes: u64,
    pub expires_in: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresignedPost {
    /// Where the form goes.
    pub url: String,
    /// Every field the form must send before `file`.
    pub fields: BTreeMap<String, String>,
    pub expires_at: String,
}

pub fn sign(policy: &PostPolicy, credentials: &Credentials, region: &str, url: String, now: SystemTime) -> PresignedPost {
    let at: DateTime<Utc> = now.into();
    let amz_date = at.format("%Y%m%dT%H%M%SZ").to_string();
    let credential = format!("{}/{}/{region}/s3/aws4_request", credentials.access_key_id(), at.format("%Y%m%d"));
    let expires_at = (at + policy.expires_in).to_rfc3339_opts(SecondsFormat::Millis, true);

    let mut fields = BTreeMap::from([
        ("key".to_string(), policy.key.to_string()),
        ("Content-Type".to_string(), policy.content_type.to_string()),
        ("x-amz-algorithm".to_string(), "AWS4-HMAC-SHA256".to_string()),
        ("x-amz-credential".to_string(), credential),
        ("x-amz-date".to_string(), amz_date),
    ]);
    if let Some(token) = credentials.session_token() {
        fields.insert("x-amz-security-token".into(), token.into());
    }
    let mut conditions = vec![
        json!({ "bucket": policy.bucket }),
        json!(["eq", "$key", policy.key]),
        json!(["eq", "$Content-Type", policy.content_type]),
        json!(["content-length-range", 1, policy.max_bytes]),
    ];
    // Every other field is pinned to exactly the value we hand out.
    conditions.extend(fields.iter().filter(|(k, _)| k.starts_with("x-amz-")).map(|(k, v)| json!({ k: v })));
    let document = json!({ "expiration": expires_at, "conditions": conditions });
    let encoded = aws_smithy_types::base64::encode(document.to_string());
    let key = generate_signing_key(credentials.secret_access_key(), now, region, "s3");
    fields.insert("x-amz-signature".into(), calculate_signature(key, encoded.as_bytes()));
    fields.insert("policy".into(), encoded);
    PresignedPost { url, fields, expires_at }
}

/// Where a browser posts to `bucket`: the regional virtual-hosted endpoint on AWS, or the
/// overridden endpoint (the emulator) path-style.
pub fn bucket_url(bucket: &str, region: &str, endpoint: Option<&str>) -> String {
    match endpoint {
        Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
        None => format!("https://{bucket}.s3.{region}.amazonaws.com"),
    }
}

/// The policy document inside a signed POST, for tests and for people debugging a refusal.
pub fn decode_policy(post: &PresignedPost) -> Option<serde_json::Value> {
    let bytes = aws_smithy_types::base64::decode(post.fields.get("policy")?).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> SystemTime {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc).into()
    }

    fn signed(key: &str, token: Option<&str>) -> PresignedPost {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", token.map(str::to_string), None, "test");
        let policy =
            PostPolicy { bucket: "up", key, content_type: "image/jpeg", max_bytes: 1000, expires_in: Duration::from_secs(300) };
        sign(&policy, &creds, "eu-west-1", bucket_url("up", "eu-west-1", None), at("2026-12-01T10:00:00Z"))
    }

    #[test]
    fn the_policy_pins_key_type_size_and_expiry() {
        let post = signed("images/0193/photo.jpg", None);
        assert_eq!(post.url, "https://up.s3.eu-west-1.amazonaws.com");
        assert_eq!(post.expires_at, "2026-12-01T10:05:00.000Z");
        let policy = decode_policy(&post).unwrap();
        assert_eq!(policy["expiration"], "2026-12-01T10:05:00.000Z");
        let conditions = policy["conditions"].as_array().unwrap();
        for expected in [
            json!({ "bucket": "up" }),
            json!(["eq", "$key", "images/0193/photo.jpg"]),
            json!(["eq", "$Content-Type", "image/jpeg"]),
            json!(["content-length-range", 1, 1000]),
            json!({ "x-amz-algorithm": "AWS4-HMAC-SHA256" }),
            json!({ "x-amz-credential": "AKIDEXAMPLE/20261201/eu-west-1/s3/aws4_request" }),
            json!({ "x-amz-date": "20261201T100000Z" }),
        ] {
            assert!(conditions.contains(&expected), "{expected} missing from {conditions:?}");
        }
        assert!(!post.fields.contains_key("x-amz-security-token"));
        // No condition leaves the key open to a prefix match the form could extend.
        assert!(!conditions.iter().any(|c| c[0] == "starts-with" && c[1] == "$key"));
        assert_eq!(post.fields["key"], "images/0193/photo.jpg");
    }

    #[test]
    fn temporary_credentials_carry_their_token_in_form_and_policy() {
        let post = signed("avatars/u/1", Some("TOKEN"));
        assert_eq!(post.fields["x-amz-security-token"], "TOKEN");
        let policy = decode_policy(&post).unwrap();
        assert!(policy["conditions"].as_array().unwrap().contains(&json!({ "x-amz-security-token": "TOKEN" })));
    }

    #[test]
    fn the_signature_is_sigv4_over_the_encoded_policy() {
        let post = signed("images/0193/photo.jpg", None);
        // Independent HMAC-SHA256 chain (RFC 2104 over sha2), as AWS documents the signing key.
        let key = ["20261201", "eu-west-1", "s3", "aws4_request"]
            .iter()
            .fold(b"AWS4secret".to_vec(), |k, part| hmac(&k, part.as_bytes()));
        assert_eq!(post.fields["x-amz-signature"], hex::encode(hmac(&key, post.fields["policy"].as_bytes())));
    }

    /// AWS's published example: secret `wJalr...EXAMPLEKEY`, 2012-02-15, us-east-1, iam.
    #[test]
    fn the_independent_hmac_matches_the_aws_signing_key_example() {
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        let key = ["20120215", "us-east-1", "iam", "aws4_request"]
            .iter()
            .fold(format!("AWS4{secret}").into_bytes(), |k, part| hmac(&k, part.as_bytes()));
        assert_eq!(hex::encode(&key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
        let sdk = generate_signing_key(secret, at("2012-02-15T00:00:00Z"), "us-east-1", "iam");
        assert_eq!(sdk.as_ref(), key.as_slice());
    }

    fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
        use sha2::{Digest, Sha256};
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
        let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
        Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().to_vec()
    }

    #[test]
    fn emulator_urls_are_path_style() {
        assert_eq!(bucket_url("up", "us-east-1", Some("http://127.0.0.1:5000/")), "http://127.0.0.1:5000/up");
    }
}
