//! The avatar Lambda: `main` builds clients once; `handler` does the AWS I/O around the pure
//! `imaging` core. The batch loop and the bad-input path are `worker::batch`, as for thumbnails.

pub mod handler;
