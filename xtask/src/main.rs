//! `cargo xtask <verb>`: the project's own tooling. Thin entry point: the flags (`flags`), one
//! module per verb (`verbs`), and the rooms they share (`cfn`, `stage`, `template`, `iam`, ...).

mod aws;
mod build;
mod cdn;
mod cfn;
mod companions;
mod elf;
mod emulator;
mod exit;
mod flags;
mod hotswap;
mod iam;
mod paths;
mod rollout;
mod site;
mod stage;
mod template;
mod ui;
mod verbs;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let flags = flags::Xtask::parse();
    let result = match flags.verb {
        // Its exit code is the runtime's own (0, 1, or 3 when an input was rejected).
        flags::Verb::Thumbnail { args } => {
            return verbs::runtime::thumbnail(&args).unwrap_or_else(|e| {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            });
        }
        flags::Verb::Render(args) => verbs::render::run(&args),
        flags::Verb::Package(args) => verbs::package::run(&args),
        flags::Verb::Deploy(args) => verbs::deploy::run(&args),
        flags::Verb::Diff(args) => verbs::deploy::diff(&args),
        flags::Verb::Teardown(args) => verbs::teardown::run(&args),
        flags::Verb::Releases(args) => verbs::releases::list(&args),
        flags::Verb::Rollback(args) => verbs::releases::rollback(&args),
        flags::Verb::Invalidate(args) => verbs::invalidate::run(&args),
        flags::Verb::Catalog(args) => verbs::catalog::run(&args),
        flags::Verb::Outputs(args) => verbs::outputs::outputs(&args),
        flags::Verb::Status(args) => verbs::outputs::status(&args),
        flags::Verb::Logs(args) => verbs::logs::run(&args),
        flags::Verb::Failures(args) => verbs::failures::run(&args),
        flags::Verb::Local(args) => verbs::local::run(&args),
        flags::Verb::Bootstrap(args) => verbs::bootstrap::run(&args),
        flags::Verb::Policy(args) => verbs::policy::run(&args),
        flags::Verb::Pipeline(args) => verbs::pipeline::run(&args),
        flags::Verb::Bench(args) => verbs::bench::run(&args),
        flags::Verb::Ci => verbs::ci::run(),
    };
    match result {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("error: {err:#}");
            exit::exit_of(&err).into()
        }
    }
}
