//! SQS message bodies written by S3 event notifications.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use percent_encoding::percent_decode_str;

use crate::Failure;

/// S3 notifications carry keys form-encoded: `+` is a space and the rest is `%xx`.
pub fn decode_event_key(raw: &str) -> Result<String, Failure> {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|_| Failure::bad_input("bad_key", format!("object key {raw:?} is not valid UTF-8 once decoded")))
}

/// One created object, with its key already URL-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectCreated {
    pub bucket: String,
    pub key: String,
    pub size: Option<u64>,
    pub etag: Option<String>,
    /// The version this event is about, in a versioned bucket: what the worker reads.
    pub version_id: Option<String>,
    /// S3's ordering token for events on one key; stands in for the version when unversioned.
    pub sequencer: Option<String>,
    pub time: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// S3 sends `s3:TestEvent` when a notification is configured; there is nothing to do.
    Test,
    Objects(Vec<ObjectCreated>),
}

/// A body that is not an S3 notification is bad input: retrying cannot fix it.
pub fn parse_body(body: &str) -> Result<Notification, Failure> {
    let malformed = |e: &dyn std::fmt::Display| Failure::bad_input("malformed_event", format!("not an S3 notification: {e}"));
    let value: serde_json::Value = serde_json::from_str(body).map_err(|e| malformed(&e))?;
    if value.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
        return Ok(Notification::Test);
    }
    let event: Event = serde_json::from_value(value).map_err(|e| malformed(&e))?;
    let objects = event
        .records
        .into_iter()
        .filter(|r| r.event_name.as_deref().is_none_or(|n| n.starts_with("ObjectCreated")))
        .map(|r| {
            Ok(ObjectCreated {
                bucket: r.s3.bucket.name,
                key: decode_event_key(&r.s3.object.key)?,
                size: r.s3.object.size,
                etag: r.s3.object.e_tag,
                version_id: r.s3.object.version_id,
                sequencer: r.s3.object.sequencer,
                time: r.event_time,
            })
        })
        .collect::<Result<_, Failure>>()?;
    Ok(Notification::Objects(objects))
}

// Only the fields we use: `aws_lambda_events`' S3 types also require userIdentity,
// requestParameters and responseElements, which emulators (and S3 replays) may omit.
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "Records")]
    records: Vec<Record>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    event_time: DateTime<Utc>,
    event_name: Option<String>,
    s3: Entity,
}

#[derive(Deserialize)]
struct Entity {
    bucket: Bucket,
    object: Object,
}

#[derive(Deserialize)]
struct Bucket {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Object {
    key: String,
    size: Option<u64>,
    e_tag: Option<String>,
    version_id: Option<String>,
    sequencer: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_form_encoded_keys() {
        assert_eq!(decode_event_key("images/a1/my+holiday%2Bphoto%C3%A9.jpg").unwrap(), "images/a1/my holiday+photoé.jpg");
        assert!(decode_event_key("images/a1/%FF.jpg").is_err());
    }

    #[test]
    fn test_event_is_recognised() {
        let body = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-23T10:00:00.000Z","Bucket":"b","RequestId":"r","HostId":"h"}"#;
        assert_eq!(parse_body(body).unwrap(), Notification::Test);
    }

    #[test]
    fn object_created_record() {
        let body = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1",
            "eventTime":"2026-11-23T18:46:05.123Z","eventName":"ObjectCreated:Put",
            "userIdentity":{"principalId":"x"},"requestParameters":{"sourceIPAddress":"127.0.0.1"},
            "responseElements":{},"s3":{"s3SchemaVersion":"1.0","configurationId":"c",
            "bucket":{"name":"uploads","ownerIdentity":{"principalId":"x"},"arn":"arn:aws:s3:::uploads"},
            "object":{"key":"images/a1/my+photo%281%29.jpg","size":1234,"eTag":"abc","sequencer":"1"}}}]}"#;
        let Notification::Objects(objs) = parse_body(body).unwrap() else { panic!() };
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].key, "images/a1/my photo(1).jpg");
        assert_eq!(objs[0].size, Some(1234));
        assert_eq!(objs[0].sequencer.as_deref(), Some("1"));
        assert_eq!(objs[0].time.to_rfc3339(), "2026-11-23T18:46:05.123+00:00");
    }

    #[test]
    fn minimal_record_as_moto_sends_it() {
        let body = r#"{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-23T19:02:44.621Z", "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0",
            "configurationId": "x", "bucket": {"name": "uuu", "arn": "arn:aws:s3:::uuu"},
            "object": {"key": "images%2Fp%2Fgreen+meadow%2B1+%C3%A9.jpg", "size": 1, "eTag": "9dd4"}}}]}"#;
        let Notification::Objects(objs) = parse_body(body).unwrap() else { panic!() };
        assert_eq!(objs[0].key, "images/p/green meadow+1 é.jpg");
    }

    #[test]
    fn garbage_is_bad_input() {
        for body in ["", "not json", "{}", r#"{"Records":[{"eventTime":"nope"}]}"#] {
            assert!(matches!(parse_body(body), Err(Failure::BadInput { code: "malformed_event", .. })), "{body}");
        }
    }
}
