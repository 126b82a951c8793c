//! `cargo xtask outputs <stage>` and `cargo xtask status <stage>`: read-only looks at a stack.

use anyhow::Result;

use crate::aws::{Aws, AwsContext};
use crate::exit::Exit;
use crate::flags::{OutputsArgs, StatusArgs};

pub fn outputs(args: &OutputsArgs) -> Result<Exit> {
    let stage = args.target.load()?;
    let outputs = crate::aws::block_on(async {
        let aws = Aws::connect(&stage).await?;
        crate::cfn::stack::deployed_outputs(&aws, &stage).await
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outputs)?);
    } else {
        for (k, v) in &outputs {
            println!("{k} = {v}");
        }
    }
    Ok(Exit::Success)
}

/// The stack's status, its last change, and its ten latest events.
pub fn status(args: &StatusArgs) -> Result<Exit> {
    let stage = args.target.load()?;
    crate::aws::block_on(async {
        let aws = Aws::connect(&stage).await?;
        let cfn = aws.cloudformation();
        let stack_name = stage.id.stack();
        let Some(stack) = crate::cfn::stack::describe(&cfn, stack_name).await? else {
            if args.json {
                println!("{}", serde_json::json!({ "stack": stack_name, "status": null, "events": [] }));
            } else {
                println!("{stack_name}: not deployed");
            }
            return Ok(Exit::Success);
        };
        let when = stack.last_updated_time().or(stack.creation_time()).map(|t| t.to_string()).unwrap_or_default();
        let events = cfn.describe_stack_events().stack_name(stack_name).send().await.aws("reading stack events")?;
        let recent: Vec<(String, String)> = events
            .stack_events()
            .iter()
            .take(10)
            .map(|e| (e.timestamp().map(|t| t.to_string()).unwrap_or_default(), crate::cfn::stack::event_line(e)))
            .collect();
        if args.json {
            let events: Vec<_> = recent.iter().map(|(at, line)| serde_json::json!({ "at": at, "event": line })).collect();
            let doc = serde_json::json!({
                "stack": stack_name,
                "status": crate::cfn::stack::status(&stack).to_string(),
                "since": when,
                "reason": stack.stack_status_reason(),
                "events": events,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
            return Ok(Exit::Success);
        }
        println!("{stack_name}: {} (since {when})", crate::cfn::stack::status(&stack));
        if let Some(reason) = stack.stack_status_reason() {
            println!("  reason: {reason}");
        }
        for (at, line) in &recent {
            println!("  {at}  {line}");
        }
        Ok(Exit::Success)
    })
}
