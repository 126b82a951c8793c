//! Every verb's command-line flags, in one place.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, deploy and try thumbstack", version)]
pub struct Xtask {
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Subcommand)]
pub enum Verb {
    /// Run the imaging core on local files: write thumbnails, report each outcome (`thumbnail --help`).
    #[command(disable_help_flag = true)]
    Thumbnail {
        /// Passed to `thumbstack-local thumbnail`, which links the imaging core (xtask does not).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Render the CloudFormation template and parameter file for a stage.
    Render(RenderArgs),
    /// Release-build every function for Lambda x86_64 and zip it, named by its sha256.
    Package(PackageArgs),
    /// Deploy a stage: render, package, upload, change set, execute, site, invalidation.
    Deploy(DeployArgs),
    /// Show what a deploy would change (a change set, deleted afterwards); changes nothing.
    Diff(DiffArgs),
    /// Delete a stage: empty the buckets it owns (every version), delete the stack.
    Teardown(TeardownArgs),
    /// List what each deploy, rollback and hotswap put on the stage, newest first.
    Releases(ReleasesArgs),
    /// Put an earlier release back: its exact template, parameters and zips, with no build.
    Rollback(RollbackArgs),
    /// Invalidate paths on the stage's CloudFront distribution [default: /avatars/*].
    Invalidate(InvalidateArgs),
    /// Query the stage's catalog: the smallest thumbnails or the newest uploads.
    Catalog(CatalogArgs),
    /// Print the stack's outputs (bucket names, table, queues, site URL).
    Outputs(OutputsArgs),
    /// Print the stack's status and its last events.
    Status(StatusArgs),
    /// Print the functions' log lines (CloudWatch Logs; on `local`, the in-process handlers' own).
    Logs(LogsArgs),
    /// List the stage's failure records (every rejected upload), newest first.
    Failures(FailuresArgs),
    /// The whole system on this machine: moto, the local stage, the functions, the site and api.
    Local(LocalArgs),
    /// Create or update the stage's deploy roles once (execution role, boundary, deploy policy).
    Bootstrap(AdminStackArgs),
    /// Print one of the stage's IAM documents [default: the deploy policy a CI role needs].
    Policy(PolicyArgs),
    /// Deploy the stage's CI pipeline stack: CodePipeline + CodeBuild running dev/ci/buildspec.yml.
    Pipeline(AdminStackArgs),
    /// Measure the imaging core against sharp and Pillow, the cold start and the deploy figures.
    Bench(BenchArgs),
    /// Install the pinned test tools and run every test (what CI runs).
    Ci,
}

/// Which stage, and where its files live.
#[derive(Args, Clone, Debug)]
pub struct StageArgs {
    /// Stage name: `<infra>/stages/<stage>.yaml`.
    pub stage: String,
    /// Folder with `template.yaml` and `stages/` [default: infra].
    #[arg(long, value_name = "DIR")]
    pub infra: Option<PathBuf>,
}

impl StageArgs {
    pub fn infra_dir(&self) -> PathBuf {
        self.infra.clone().unwrap_or_else(crate::paths::infra)
    }

    pub fn load(&self) -> Result<crate::stage::Stage, crate::stage::StageError> {
        crate::stage::Stage::load(&self.infra_dir(), &self.stage)
    }
}

#[derive(Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: StageArgs,
    /// Execute without asking, also when resources are replaced or removed (required for that in CI).
    #[arg(long)]
    pub yes: bool,
    /// Print the final report as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    pub json: bool,
    /// Skip the CloudFront invalidation after the deploy.
    #[arg(long)]
    pub no_invalidate: bool,
    /// Wait at most this long for the invalidation to complete (0: do not wait).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub invalidation_wait: u64,
    /// A stage that will be torn down after its checks (a CI branch's): refused unless the stage
    /// is named `pr<number>`, a name no stage that keeps anything may have.
    #[arg(long)]
    pub ephemeral: bool,
    /// Deploy the zips the last `cargo xtask package` built from this commit, building nothing:
    /// CI builds before it holds any credential, so no build script runs with one.
    #[arg(long)]
    pub no_build: bool,
    /// Only function code changed: put the new zips straight into Lambda, publish and move `live`,
    /// with no change set. Refused, naming what changed, when anything else did; refused on a
    /// protected stage.
    #[arg(long)]
    pub hotswap: bool,
}

#[derive(Args)]
pub struct BenchArgs {
    /// One photo per size group and short repeats: a smoke run (CI runs it), not a measurement.
    #[arg(long)]
    pub quick: bool,
    /// Print the report as JSON on stdout (it is always written to `<out>/report.json`).
    #[arg(long)]
    pub json: bool,
    /// Where the report, the Markdown table and every tool's outputs go [default: target/bench].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct LocalArgs {
    /// Serve the site and api on this port [default: a free one].
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Upload the corpus photos, so the gallery is not empty.
    #[arg(long)]
    pub seed: bool,
    /// Do not open a browser.
    #[arg(long)]
    pub no_open: bool,
    /// Start empty instead of restoring the data the last run saved (`target/local/state`).
    #[arg(long)]
    pub fresh: bool,
}

#[derive(Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub target: StageArgs,
    /// Only this function's lines [default: every function].
    pub function: Option<LogFunction>,
    /// Keep printing new lines until Ctrl-C.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// How far back to start: `30s`, `10m`, `2h`, `1d`.
    #[arg(long, default_value = "10m", value_parser = parse_age)]
    pub since: std::time::Duration,
    /// One JSON object per line on stdout (time, function, and the line itself).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct FailuresArgs {
    #[command(flatten)]
    pub target: StageArgs,
    /// How far back: `30m`, `2h`, `7d`.
    #[arg(long, default_value = "1d", value_parser = parse_age)]
    pub since: std::time::Duration,
    /// The records as a JSON array on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFunction {
    Thumbnail,
    Avatar,
    Api,
}

impl LogFunction {
    pub const ALL: [LogFunction; 3] = [LogFunction::Thumbnail, LogFunction::Avatar, LogFunction::Api];

    pub fn name(self) -> &'static str {
        match self {
            LogFunction::Thumbnail => "thumbnail",
            LogFunction::Avatar => "avatar",
            LogFunction::Api => "api",
        }
    }
}

/// `90s`, `10m`, `2h`, `1d` (a bare number is seconds).
fn parse_architecture(s: &str) -> Result<crate::stage::Architecture, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| format!("{s:?}: expected x86_64 or arm64"))
}

fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("{text:?}: expected a number and a unit, such as 10m"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is one of s, m, h, d")),
    };
    Ok(std::time::Duration::from_secs(n * seconds))
}

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: StageArgs,
    /// Print status, reason and events as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct PolicyArgs {
    #[command(flatten)]
    pub target: StageArgs,
    /// The AWS account id the role lives in [default: the caller's, from STS].
    #[arg(long, value_name = "ID")]
    pub account: Option<String>,
    /// Which document: the CI identity's, CloudFormation's execution role's, or the boundary.
    #[arg(long, value_enum, default_value_t = Document::Deploy)]
    pub document: Document,
    /// Only the policy JSON on stdout, no summary on stderr.
    #[arg(long)]
    pub json: bool,
}

/// The three IAM documents of a stage's deploy path (`policy.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Document {
    Deploy,
    Execution,
    Boundary,
}

/// `bootstrap` and `pipeline`: a stage's administrator-made stack.
#[derive(Args)]
pub struct AdminStackArgs {
    #[command(flatten)]
    pub target: StageArgs,
    /// Execute without asking, also when resources are replaced or removed (required for that in CI).
    #[arg(long)]
    pub yes: bool,
    /// Print the final report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub target: StageArgs,
    /// Compare with the zips the last `cargo xtask package` built from this commit, building nothing.
    #[arg(long)]
    pub no_build: bool,
    /// Print the changes as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct TeardownArgs {
    #[command(flatten)]
    pub target: StageArgs,
    /// Delete without asking (required in CI).
    #[arg(long)]
    pub yes: bool,
    /// Also the stage's bootstrap stack and its zips in the artifacts bucket (administrator rights).
    #[arg(long)]
    pub all: bool,
    /// A protected stage's name, typed again: without it (or the name typed at the prompt), a
    /// protected stage is not torn down, `--yes` or not.
    #[arg(long, value_name = "STAGE")]
    pub confirm_protected: Option<String>,
    /// Refuse unless the stage is an ephemeral one (`pr<number>`): what a CI recipe passes, so that
    /// no value it is given can tear down a long-lived stage.
    #[arg(long)]
    pub ephemeral: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ReleasesArgs {
    #[command(flatten)]
    pub target: StageArgs,
    /// The records as a JSON array on stdout, newest first.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub target: StageArgs,
    /// The release to put back [default: the one before the newest].
    #[arg(long, value_name = "N")]
    pub to: Option<u32>,
    /// Execute without asking, also when resources are replaced or removed (required for that in CI).
    #[arg(long)]
    pub yes: bool,
    /// Print the final report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct InvalidateArgs {
    #[command(flatten)]
    pub target: StageArgs,
    /// Paths to invalidate, each starting with `/` [default: /avatars/*].
    pub paths: Vec<String>,
    /// Wait at most this long for the invalidation to complete (0: do not wait).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub wait: u64,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct CatalogArgs {
    #[command(flatten)]
    pub target: StageArgs,
    /// `smallest`: ascending thumbnail size; `recent`: newest upload first.
    pub order: CatalogOrder,
    /// How many rows.
    #[arg(short = 'n', default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub n: u16,
    /// One JSON array on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum CatalogOrder {
    Smallest,
    Recent,
}

#[derive(Args)]
pub struct OutputsArgs {
    #[command(flatten)]
    pub target: StageArgs,
    /// One JSON object on stdout instead of `key = value` lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct PackageArgs {
    /// What to build for: `x86_64` or `arm64` (a deploy builds its stage's `functions.architecture`).
    #[arg(long, value_parser = parse_architecture, default_value = "x86_64")]
    pub architecture: crate::stage::Architecture,
    /// Print the report (zip paths, hashes, sizes, GLIBC needed) as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub target: StageArgs,
    /// Output folder [default: target/infra/<stage>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also run cfn-lint and checkov over the result; fail on any error, warning or failed check.
    #[arg(long)]
    pub check: bool,
    /// Print the stack name, written files and parameters as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod docs;

#[cfg(test)]
mod tests {
    #[test]
    fn ages_read_as_people_write_them() {
        let secs = |t: &str| super::parse_age(t).map(|d| d.as_secs());
        assert_eq!(secs("90"), Ok(90));
        assert_eq!(secs("10m"), Ok(600));
        assert_eq!(secs("2h"), Ok(7200));
        assert_eq!(secs("1d"), Ok(86_400));
        assert!(secs("ten minutes").is_err());
        assert!(secs("5w").is_err());
    }
}
