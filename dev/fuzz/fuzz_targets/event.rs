//! The S3 event decoder and the upload-key parser on arbitrary SQS bodies: every body is a
//! notification or bad input, never a panic; every decoded key parses or is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::event::{Notification, parse_body};
use shared::key::parse_upload_key;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else { return };
    if let Ok(Notification::Objects(objects)) = parse_body(body) {
        for object in objects {
            if let Some(Ok(upload)) = parse_upload_key(&object.key, "images/") {
                assert!(shared::key::valid_id(&upload.id));
                assert!(!upload.file_name.contains('/'));
            }
        }
    }
});
