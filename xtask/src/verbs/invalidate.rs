//! `cargo xtask invalidate <stage> [PATH...]`: paths on the stage's CloudFront distribution
//! [default: /avatars/*], waiting for CloudFront to finish.

use std::time::Duration;

use anyhow::{Result, bail};

use crate::aws::Aws;
use crate::cdn::{AVATARS, exit, invalidate, poll};
use crate::exit::{Exit, Stop};
use crate::flags::InvalidateArgs;

pub fn run(args: &InvalidateArgs) -> Result<Exit> {
    let stage = args.target.load()?;
    for path in &args.paths {
        if !path.starts_with('/') {
            return Err(Stop::new(Exit::Usage, format!("path {path:?} must start with `/`, e.g. /avatars/*")).into());
        }
    }
    let paths = if args.paths.is_empty() { vec![AVATARS.to_string()] } else { args.paths.clone() };
    crate::aws::block_on(async {
        let aws = Aws::connect(&stage).await?;
        let outputs = crate::cfn::stack::deployed_outputs(&aws, &stage).await?;
        let Some(distribution) = outputs.get("DistributionId") else {
            bail!(
                "{} has no CloudFront distribution (the emulator stage serves the site itself); nothing to invalidate",
                stage.id.stack()
            );
        };
        let done = invalidate(&aws.cloudfront(), distribution, paths, Duration::from_secs(args.wait), poll(&aws)).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&done)?);
        }
        Ok(exit(&done))
    })
}
