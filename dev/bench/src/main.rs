//! `thumbstack-bench`: what `cargo xtask bench` runs besides the tools it compares (`peers/`, and
//! the imaging core's own worker): the quality reference and the end-to-end figure. Thin entry
//! point; flags here.

mod e2e;
mod ssim;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "thumbstack-bench", about = "The bench's quality reference and end-to-end figure, for `cargo xtask bench`")]
struct Flags {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Subcommand)]
enum Verb {
    /// SSIM of each OUTPUT against an independent downscale of PHOTO.
    Ssim {
        photo: PathBuf,
        #[arg(required = true)]
        outputs: Vec<PathBuf>,
    },
    /// Uploads through S3 → SQS → the release bootstrap on a moto of its own; figures as JSON.
    E2e(e2e::E2eArgs),
}

fn main() -> ExitCode {
    let result = match Flags::parse().verb {
        Verb::Ssim { photo, outputs } => ssim::run(&photo, &outputs),
        Verb::E2e(args) => e2e::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
