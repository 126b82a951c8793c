//! The one way a stack verb opens its stage: the stage file read and checked, clients for its
//! account and region (or the emulator), the account asked once, and the stage's names in it.

use anyhow::Result;

use super::deploy_path::{self, DeployPath};
use super::report::Report;
use crate::aws::Aws;
use crate::companions::DOCUMENTS_HASH;
use crate::stage::{Names, Stage};
use crate::template::Rendered;

/// A stage connected to its account.
pub struct Opened {
    pub stage: Stage,
    pub aws: Aws,
    pub account: String,
    /// Who is calling (STS's ARN): the release records name them.
    pub caller: String,
}

impl Opened {
    /// Connects to the stage's account (STS says which).
    pub async fn open(stage: Stage) -> Result<Opened> {
        let aws = Aws::connect(&stage).await?;
        let (account, caller) = aws.caller().await?;
        Ok(Opened { stage, aws, account, caller })
    }

    /// The stage's names as ARNs in its account.
    pub fn names(&self) -> Names<'_> {
        self.stage.names(&self.account)
    }

    /// What `bootstrap` made, checked against the IAM documents `rendered` carries: a stage
    /// bootstrapped from other documents stops with the command to run. `None` skips the check.
    pub async fn deploy_path(&self, rendered: Option<&Rendered>) -> Result<DeployPath> {
        let documents = rendered.and_then(|r| r.bootstrap_parameters.as_ref()).and_then(|p| p.get(DOCUMENTS_HASH));
        deploy_path::read(&self.aws, &self.names(), documents.map(String::as_str)).await
    }

    /// The report's first lines: which stack, where.
    pub fn start(&self, report: &mut Report, stack: &str) {
        report.stack = stack.to_string();
        report.region = self.aws.region();
        report.endpoint = self.aws.endpoint.clone();
    }
}
