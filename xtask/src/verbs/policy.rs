//! `cargo xtask policy <stage>`: one of the stage's three IAM documents (`crate::iam`) on stdout,
//! with its size against IAM's limit on stderr.

use anyhow::Result;

use crate::exit::Exit;
use crate::flags::{Document, PolicyArgs};
use crate::iam::{INLINE_LIMIT, MANAGED_LIMIT, action_count, documents, minified_len};

pub fn run(args: &PolicyArgs) -> Result<Exit> {
    let stage = args.target.load()?;
    let rendered = crate::template::render_stack(&args.target.infra_dir(), &stage)?;
    let account = match &args.account {
        Some(account) => account.clone(),
        None => crate::aws::block_on(async { crate::aws::Aws::connect(&stage).await?.account().await })?,
    };
    let names = stage.names(&account);
    let documents = documents(&rendered, &stage, &names)?;
    let (document, what, limit) = match args.document {
        Document::Deploy => (&documents.deploy, "the CI role's or user's (the managed policy bootstrap creates)", MANAGED_LIMIT),
        Document::Execution => {
            (&documents.execution, "CloudFormation's execution role (inline, bootstrap creates it)", INLINE_LIMIT)
        }
        Document::Boundary => (&documents.boundary, "the permissions boundary of every role the stack creates", MANAGED_LIMIT),
    };
    println!("{}", serde_json::to_string_pretty(document)?);
    if !args.json {
        eprintln!(
            "policy: {what}: {} statements, {} actions, {} characters minified (IAM allows {limit})",
            document["Statement"].as_array().map_or(0, Vec::len),
            action_count(document),
            minified_len(document)
        );
    }
    Ok(Exit::Success)
}
