//! `cargo xtask catalog <stage> smallest|recent [-n N]`: the catalog as a table (or JSON),
//! answered by the same shared query the functions use.

use anyhow::{Context, Result};
use shared::catalog::Order;
use shared::record::CatalogRow;

use crate::aws::Aws;
use crate::exit::Exit;
use crate::flags::{CatalogArgs, CatalogOrder};

pub fn run(args: &CatalogArgs) -> Result<Exit> {
    let stage = args.target.load()?;
    let order = match args.order {
        CatalogOrder::Smallest => Order::Smallest,
        CatalogOrder::Recent => Order::Recent,
    };
    let rows = crate::aws::block_on(async {
        let aws = Aws::connect(&stage).await?;
        let outputs = crate::cfn::stack::deployed_outputs(&aws, &stage).await?;
        let table = outputs.get("CatalogTableName").context("the stack has no CatalogTableName output")?;
        shared::catalog::query(&aws.dynamodb(), table, order, usize::from(args.n)).await.context("querying the catalog")
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", table(&rows));
    }
    Ok(Exit::Success)
}

fn table(rows: &[CatalogRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.upload_date.clone(),
                r.upload_time.clone(),
                r.file_name.clone(),
                r.original_size.to_string(),
                r.thumbnail_size.to_string(),
            ]
        })
        .collect();
    crate::ui::table(&["UPLOAD DATE", "TIME", "FILE NAME", "ORIGINAL BYTES", "THUMBNAIL BYTES"], &cells)
}
