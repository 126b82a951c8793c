//! `cargo xtask render <stage>`: every file of the stage (`crate::template::render`) written to a
//! folder, optionally checked by the linters (`lint`).

use std::path::PathBuf;

use anyhow::Result;

use crate::companions::render;
use crate::exit::Exit;
use crate::flags::RenderArgs;
use crate::template::write;

pub fn run(args: &RenderArgs) -> Result<Exit> {
    let name = &args.target.stage;
    let stage = args.target.load()?;
    let rendered = render(&args.target.infra_dir(), &stage)?;
    let out = args.out.clone().unwrap_or_else(|| default_dir(name));
    let written = write(&rendered, &out)?;
    let target = match stage.emulator.as_ref().map(|e| e.endpoint.as_ref()) {
        None => format!("AWS {}", stage.region),
        Some(None) => "the emulator `cargo xtask local` starts".into(),
        Some(Some(endpoint)) => format!("the emulator at {endpoint}"),
    };
    eprintln!("render: stack {} for {target}", rendered.stack_name);
    for path in &written {
        eprintln!("render: wrote {}", path.display());
    }
    let exit = if args.check { crate::verbs::lint::check(&out, &rendered, &stage)? } else { Exit::Success };
    if args.json {
        let doc = serde_json::json!({
            "stack": rendered.stack_name,
            "files": written,
            "parameters": rendered.parameters,
            "checked": args.check,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    }
    Ok(exit)
}

pub fn default_dir(stage: &str) -> PathBuf {
    crate::paths::target_dir().join("infra").join(stage)
}
