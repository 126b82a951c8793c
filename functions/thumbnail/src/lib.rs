//! The thumbnail Lambda: `main` builds clients once; `handler` does the AWS I/O around
//! the pure `imaging` core.

pub mod handler;
