//! The pre-traffic self-check's question and answer: the hook (`functions/hook`) sends a new
//! version of an image function one known-good photo and one hostile file, the version runs both
//! through its own render (`worker::self_check`), and the hook judges the answer here.

use base64::Engine;
use serde::{Deserialize, Serialize};

/// The invocation: `{"self_check": {"photo": <base64>, "hostile": <base64>}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub self_check: Samples,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Samples {
    pub photo: String,
    pub hostile: String,
}

impl Request {
    pub fn new(photo: &[u8], hostile: &[u8]) -> Request {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        Request { self_check: Samples { photo: b64(photo), hostile: b64(hostile) } }
    }

    /// This invocation's request, when it is one (an SQS event is not).
    pub fn of(event: &serde_json::Value) -> Option<Request> {
        event.get("self_check").and_then(|_| serde_json::from_value(event.clone()).ok())
    }
}

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Verdict {
    Rendered {
        width: u32,
        height: u32,
        bytes: usize,
    },
    /// Refused as bad input, with its code (what an upload's failure record would say).
    Refused {
        code: String,
    },
    /// Anything else: the version could not tell a bad file from its own trouble.
    Failed {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub photo: Verdict,
    pub hostile: Verdict,
    /// The longest edge this function's output may have.
    pub max_edge: u32,
}

impl Answer {
    /// What a working build answers: the photo rendered within the edge, the hostile file refused.
    pub fn judge(&self) -> Result<(), String> {
        match &self.photo {
            Verdict::Rendered { width, height, bytes } if *width > 0 && *height > 0 && *bytes > 0 => {
                if (*width).max(*height) > self.max_edge {
                    return Err(format!("the photo came out {width}x{height}, over the edge {}", self.max_edge));
                }
            }
            other => return Err(format!("the known-good photo was not rendered: {other:?}")),
        }
        match &self.hostile {
            Verdict::Refused { .. } => Ok(()),
            other => Err(format!("the hostile file was not refused as bad input: {other:?}")),
        }
    }
}
