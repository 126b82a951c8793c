//! The thumbnail Lambda: `main` builds clients once; `handler` does the AWS I/O around
//! the pure `imaging` core.

pub mod handler;
pub mod process;

use imaging::Fit;
use worker::config::Defaults;

/// `images/` → fit inside a 256 px square, keeping the aspect ratio and real transparency (PNG).
pub const DEFAULTS: Defaults =
    Defaults { input_prefix: shared::key::IMAGES, max_edge: 256, output: |edge| (Fit::Inside { max_edge: edge }, true) };
