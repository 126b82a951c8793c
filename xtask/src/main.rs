//! `cargo xtask <verb>`: the project's own tooling. Thin entry point; one module per verb.

mod ci;
mod elf;
mod flags;
mod lint;
mod package;
mod paths;
mod render;
mod stage;
mod thumbnail;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let flags = flags::Xtask::parse();
    let result = match flags.verb {
        flags::Verb::Thumbnail(args) => thumbnail::run(&args),
        flags::Verb::Render(args) => render::run(&args),
        flags::Verb::Package(args) => package::run(&args),
        flags::Verb::Ci => ci::run(),
    };
    match result {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!("error: {err:#}");
            flags::Exit::Failure.into()
        }
    }
}
