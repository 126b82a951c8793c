//! `cargo xtask package`: every function built and zipped as a deploy would (`crate::build`),
//! with a line per zip; exit 4 when a binary cannot run on Lambda.

use anyhow::Result;

use crate::build::{Incompatible, mb, package};
use crate::exit::Exit;
use crate::flags::PackageArgs;

pub fn run(args: &PackageArgs) -> Result<Exit> {
    let report = match package(args.architecture) {
        Ok(report) => report,
        Err(e) if e.is::<Incompatible>() => {
            eprintln!("error: {e:#}");
            return Ok(Exit::Incompatible);
        }
        Err(e) => return Err(e),
    };
    for a in &report.functions {
        eprintln!(
            "package: {:<10} {:>6.2} MB zip ({:.1} MB bootstrap, {}, GLIBC {}) {}",
            a.function,
            mb(a.zip_bytes),
            mb(a.bootstrap_bytes),
            a.architecture,
            a.max_glibc.as_deref().unwrap_or("none"),
            a.zip.display()
        );
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(Exit::Success)
}
