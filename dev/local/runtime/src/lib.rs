//! `thumbstack-local`: what `cargo xtask local` and `cargo xtask thumbnail` start, so that the
//! deployer itself links no handler, codec or Lambda runtime. Its flags are here; `workers` (the
//! SQS pollers with Lambda's semantics) is also what the fault-accounting test and the bench's
//! end-to-end figure drive. It links no test harness.

mod auth;
#[cfg(test)]
mod auth_tests;
mod login;
mod logs;
mod serve;
mod server;
mod thumbnail;
pub mod workers;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "thumbstack-local", about = "The local runtime of `cargo xtask local`, and `cargo xtask thumbnail`")]
struct Flags {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// Run the image functions on their queues and serve the site and api, as `SPEC` says.
    Serve {
        /// The JSON file `cargo xtask local` writes (`local_spec::Spec`).
        spec: PathBuf,
    },
    /// Run the imaging core on local files: write thumbnails, report each outcome.
    Thumbnail(ThumbnailArgs),
}

#[derive(clap::Args)]
struct ThumbnailArgs {
    /// Image files to process.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Folder for the thumbnails (created if missing).
    #[arg(long, default_value = "thumbnails")]
    out: PathBuf,
    /// `thumbnail`: fit inside a square (PNG kept for transparency); `avatar`: fill a square, cropping the centre, JPEG.
    #[arg(long, value_enum, default_value = "thumbnail")]
    kind: ImageKind,
    /// Edge of the square, in pixels [default: 256 for thumbnails, 512 for avatars].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=8192))]
    max_edge: Option<u32>,
    /// JPEG quality (1-100).
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u8).range(1..=100))]
    quality: u8,
    /// One JSON object per file on stdout instead of human lines on stderr.
    #[arg(long)]
    json: bool,
    /// Memory budget of the decode, in MiB [default: the functions' default].
    #[arg(long, value_parser = clap::value_parser!(u64).range(16..=10240))]
    memory_mib: Option<u64>,
    /// Time budget of each decode, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Internal: handle the one file here. Without it each file runs in a process of its own, so
    /// each line's peak memory is that file's alone.
    #[arg(long, hide = true)]
    in_process: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ImageKind {
    Thumbnail,
    Avatar,
}

/// The exit codes of xtask's table (docs/exit-codes.md) that these verbs can end with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Exit {
    Success = 0,
    /// Some inputs were rejected as bad input; the rest succeeded.
    Rejected = 3,
}

/// Parses the flags and runs the verb; the process's exit code.
pub fn main() -> ExitCode {
    let result = match Flags::parse().verb {
        Verb::Serve { spec } => serve::run(&spec),
        Verb::Thumbnail(args) => thumbnail::run(&args),
    };
    match result {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
