//! Every verb's command-line flags, in one place. Exit codes are documented in the README.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, deploy and try thumbstack", version)]
pub struct Xtask {
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Subcommand)]
pub enum Verb {
    /// Run the imaging core on local files: write thumbnails, report each outcome.
    Thumbnail(ThumbnailArgs),
    /// Render the CloudFormation template and parameter file for a stage.
    Render(RenderArgs),
    /// Release-build every function for Lambda x86_64 and zip it, named by its sha256.
    Package(PackageArgs),
    /// Install the pinned test tools and run every test (what CI runs).
    Ci,
}

#[derive(Args)]
pub struct PackageArgs {
    /// Print the report (zip paths, hashes, sizes, GLIBC needed) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RenderArgs {
    /// Stage name: `infra/stages/<stage>.yaml`.
    pub stage: String,
    /// Output folder [default: target/infra/<stage>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also run cfn-lint and checkov over the result; fail on any error, warning or failed check.
    #[arg(long)]
    pub check: bool,
}

#[derive(Args)]
pub struct ThumbnailArgs {
    /// Image files to process.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Folder for the thumbnails (created if missing).
    #[arg(long, default_value = "thumbnails")]
    pub out: PathBuf,
    /// Longest edge of a thumbnail, in pixels.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=8192))]
    pub max_edge: u32,
    /// JPEG quality (1-100).
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: u8,
    /// One JSON object per file on stdout instead of human lines on stderr.
    #[arg(long)]
    pub json: bool,
}

/// Process exit codes shared by every verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    /// An unexpected error (I/O, AWS, bug).
    Failure = 1,
    /// Some inputs were rejected as bad input; the rest succeeded.
    Rejected = 3,
    /// A built binary cannot run on Lambda (GLIBC newer than 2.34, wrong architecture).
    Incompatible = 4,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}
