//! The avatar Lambda: `main` builds clients once; `handler` does the AWS I/O around the pure
//! `imaging` core. The batch loop and the bad-input path are `worker::batch`, as for thumbnails.

pub mod handler;
pub mod process;

use imaging::Fit;
use worker::config::Defaults;

/// `avatars/` → a 512 px square, centre-cropped, always JPEG.
pub const DEFAULTS: Defaults = Defaults {
    input_prefix: shared::key::AVATARS,
    max_edge: 512,
    output: |edge| (Fit::Cover { width: edge, height: edge }, false),
};
