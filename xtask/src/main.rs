//! `cargo xtask <verb>`: the project's own tooling. Thin entry point; one module per verb.

mod aws;
mod bench;
mod bootstrap;
mod bootstrapped;
mod catalog;
mod ci;
mod deploy;
mod elf;
mod emulator;
mod failures;
mod flags;
mod invalidate;
mod lint;
mod local;
mod logs;
mod outputs;
mod package;
mod paths;
mod pipeline;
mod policy;
mod render;
mod runtime;
mod site;
mod stack;
mod stage;
mod teardown;
mod template;
mod ui;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let flags = flags::Xtask::parse();
    let result = match flags.verb {
        // Its exit code is the runtime's own (0, 1, or 3 when an input was rejected).
        flags::Verb::Thumbnail { args } => {
            return runtime::thumbnail(&args).unwrap_or_else(|e| {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            });
        }
        flags::Verb::Render(args) => render::run(&args),
        flags::Verb::Package(args) => package::run(&args),
        flags::Verb::Deploy(args) => deploy::run(&args),
        flags::Verb::Diff(args) => deploy::diff(&args),
        flags::Verb::Teardown(args) => teardown::run(&args),
        flags::Verb::Invalidate(args) => invalidate::run(&args),
        flags::Verb::Catalog(args) => catalog::run(&args),
        flags::Verb::Outputs(args) => outputs::outputs(&args),
        flags::Verb::Status(args) => outputs::status(&args),
        flags::Verb::Logs(args) => logs::run(&args),
        flags::Verb::Failures(args) => failures::run(&args),
        flags::Verb::Local(args) => local::run(&args),
        flags::Verb::Bootstrap(args) => bootstrap::run(&args),
        flags::Verb::Policy(args) => policy::run(&args),
        flags::Verb::Pipeline(args) => pipeline::run(&args),
        flags::Verb::Bench(args) => bench::run(&args),
        flags::Verb::Ci => ci::run(),
    };
    match result {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("error: {err:#}");
            flags::exit_of(&err).into()
        }
    }
}
