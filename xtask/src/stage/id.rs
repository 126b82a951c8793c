//! A stage's identity: its name, and every name derived from it. Nothing else in xtask spells a
//! stack, role, policy or bucket name of a stage (`xtask/tests/tidy.rs` fails on a `format!` of
//! one of their suffixes anywhere else).

use super::{Owner, name_part};

/// The tag whose value, the stack name, scopes the grants IAM cannot scope by name (keys,
/// distributions, APIs, certificates: `policy.rs`). CloudFormation copies stack tags to resources.
pub const STACK_TAG: &str = "thumbstack:stack";
/// The tag naming the stage a stack belongs to.
pub const STAGE_TAG: &str = "thumbstack:stage";

/// The path of the bootstrap stack's own roles. No stack's role path (`/<stack>/`) can equal it:
/// every stack name has a dash.
pub const BOOTSTRAP_ROLE_PATH: &str = "/thumbstack/";

/// Names a stage cannot have: `thumbstack-artifacts-*` is the account's artifacts bucket, and a
/// stage `thumbstack` would own the `thumbstack-thumbstack-*` names of the owner `thumbstack`.
pub const RESERVED_STAGE_NAMES: [&str; 2] = ["artifacts", "thumbstack"];

/// What every ephemeral stage's name is: this prefix and a number (`pr42`), which no protected or
/// long-lived stage may be named (`Stage::load`), so a CI recipe given a stage to deploy and tear
/// down can never be given one of those.
pub const EPHEMERAL_PREFIX: &str = "pr";

/// A stage's validated name and its stack name, `[<owner>-]thumbstack-<stage>`, which is also
/// the prefix of every resource the stage names. The owner comes first so that no stage's prefix
/// is a prefix of an owner's (see [`name_part`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageId {
    stage: String,
    stack: String,
}

impl StageId {
    /// Checks the stage name (it ends up in bucket names: 63 characters at most with the account
    /// id) and derives the stack name.
    pub fn new(stage: &str, owner: Option<&Owner>) -> Result<StageId, &'static str> {
        name_part(stage, 12)?;
        if RESERVED_STAGE_NAMES.contains(&stage) {
            return Err("reserved: its names would overlap the account's shared ones");
        }
        let stack = match owner {
            Some(owner) => format!("{}-thumbstack-{stage}", owner.0),
            None => format!("thumbstack-{stage}"),
        };
        Ok(StageId { stage: stage.to_string(), stack })
    }

    /// Whether the name is an ephemeral stage's: [`EPHEMERAL_PREFIX`] and 1 to 6 digits.
    pub fn is_ephemeral(&self) -> bool {
        self.stage
            .strip_prefix(EPHEMERAL_PREFIX)
            .is_some_and(|n| (1..=6).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
    }

    /// The stage's name, as in `infra/stages/<stage>.yaml`.
    pub fn stage(&self) -> &str {
        &self.stage
    }
    /// The stage's main stack.
    pub fn stack(&self) -> &str {
        &self.stack
    }
    /// What an administrator makes once: the execution role, the boundary, the deploy policy.
    pub fn bootstrap_stack(&self) -> String {
        self.suffixed("bootstrap")
    }
    /// The stage's CI pipeline.
    pub fn pipeline_stack(&self) -> String {
        self.suffixed("pipeline")
    }
    /// The stage's ACM certificate, in us-east-1 for CloudFront.
    pub fn certificate_stack(&self) -> String {
        self.suffixed("certificate")
    }
    /// The stage's WAF web ACL, in us-east-1 for CloudFront.
    pub fn waf_stack(&self) -> String {
        self.suffixed("waf")
    }
    pub fn execution_role_name(&self) -> String {
        self.suffixed("cfn-exec")
    }
    /// The execution role's second document: what its inline policy has no room for.
    pub fn execution_policy_name(&self) -> String {
        self.suffixed("cfn-exec-more")
    }
    pub fn boundary_name(&self) -> String {
        self.suffixed("boundary")
    }
    pub fn deploy_policy_name(&self) -> String {
        self.suffixed("deploy")
    }
    /// The `local` stage's user pool on the emulator, and its app client.
    pub fn user_pool_name(&self) -> String {
        self.suffixed("users")
    }
    pub fn site_client_name(&self) -> String {
        self.suffixed("site")
    }
    /// Where the stack's own roles live: `/<stack>/`.
    pub fn role_path(&self) -> String {
        format!("/{}/", self.stack)
    }
    /// `<stack>/`: the stage's own part of the account's shared artifacts bucket.
    pub fn artifacts_prefix(&self) -> String {
        format!("{}/", self.stack)
    }
    /// `<stack>-*`: every name the stage gives a resource (buckets, tables, queues, topics, log
    /// groups), and no other stage's (stage and owner names hold no dash).
    pub fn resources(&self) -> String {
        self.suffixed("*")
    }
    /// The tags every stack of the stage carries besides the stage file's own.
    pub fn tags(&self, stack: &str) -> [(&'static str, String); 2] {
        [(STAGE_TAG, self.stage.clone()), (STACK_TAG, stack.to_string())]
    }
    /// An ARN builder for this stage in one account and region.
    pub fn at<'a>(&'a self, region: &'a str, account: &'a str) -> Names<'a> {
        Names { id: self, region, account }
    }

    fn suffixed(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.stack)
    }
}

/// A stage is shown by its stack name, which says the owner too.
impl std::fmt::Display for StageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.stack)
    }
}

/// The stack's buckets, by the middle of their names (`<stack>-<kind>-<account>`, as
/// infra/template.yaml names them: `template::tests::the_stacks_buckets_are_the_ones_iam_names`).
/// IAM names each one whole, so no grant reaches another bucket that starts with the stack's
/// name (the pipeline's artifacts, `<stack>-pipeline-<account>`).
pub const STACK_BUCKETS: [&str; 3] = ["uploads", "assets", "logs"];

/// The account's bucket for function zips (one per account and region, shared by its stages).
pub fn artifacts_bucket(account: &str, region: &str) -> String {
    format!("thumbstack-artifacts-{account}-{region}")
}

/// A stage's names as ARNs in one account and region. `account` may be `${AWS::AccountId}` (a
/// template substitutes it).
pub struct Names<'a> {
    pub id: &'a StageId,
    pub region: &'a str,
    pub account: &'a str,
}

impl Names<'_> {
    pub fn execution_role(&self) -> String {
        format!("arn:aws:iam::{}:role{BOOTSTRAP_ROLE_PATH}{}", self.account, self.id.execution_role_name())
    }
    pub fn boundary(&self) -> String {
        format!("arn:aws:iam::{}:policy/{}", self.account, self.id.boundary_name())
    }
    pub fn deploy_policy(&self) -> String {
        format!("arn:aws:iam::{}:policy/{}", self.account, self.id.deploy_policy_name())
    }
    /// Every role the stack itself creates.
    pub fn stack_roles(&self) -> String {
        format!("arn:aws:iam::{}:role{}*", self.account, self.id.role_path())
    }
    pub fn stack_arn(&self, region: &str, name: &str) -> String {
        format!("arn:aws:cloudformation:{region}:{}:stack/{name}/*", self.account)
    }
    /// The account's artifacts bucket in this region.
    pub fn artifacts_bucket(&self) -> String {
        artifacts_bucket(self.account, self.region)
    }
    /// The pipeline stack's artifacts bucket (infra/pipeline.yaml: `<stack>-pipeline-<account>`),
    /// which no grant of the stage's may reach.
    #[cfg(test)]
    pub fn pipeline_bucket(&self) -> String {
        format!("{}-{}", self.id.pipeline_stack(), self.account)
    }
    /// The stack's bucket `kind` ([`STACK_BUCKETS`]).
    pub fn bucket(&self, kind: &str) -> String {
        format!("{}-{kind}-{}", self.id.stack(), self.account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_derives_from_the_stack() {
        let id = StageId::new("dev", None).unwrap();
        assert_eq!(id.stack(), "thumbstack-dev");
        assert_eq!(
            [id.bootstrap_stack(), id.pipeline_stack(), id.certificate_stack(), id.waf_stack(), id.role_path(), id.resources()],
            [
                "thumbstack-dev-bootstrap",
                "thumbstack-dev-pipeline",
                "thumbstack-dev-certificate",
                "thumbstack-dev-waf",
                "/thumbstack-dev/",
                "thumbstack-dev-*"
            ]
        );
        let alice = StageId::new("dev", Some(&Owner("alice".into()))).unwrap();
        assert_eq!(alice.stack(), "alice-thumbstack-dev");
        let n = alice.at("eu-west-1", "123456789012");
        assert_eq!(n.execution_role(), "arn:aws:iam::123456789012:role/thumbstack/alice-thumbstack-dev-cfn-exec");
        assert_eq!(n.artifacts_bucket(), "thumbstack-artifacts-123456789012-eu-west-1");
    }

    #[test]
    fn stage_names_are_short_and_safe() {
        for bad in ["", "Dev", "../etc", "a-very-long-stage-name", "-x", "artifacts", "thumbstack"] {
            assert!(StageId::new(bad, None).is_err(), "{bad}");
        }
        for good in ["dev", "prod", "pr1234", "local"] {
            assert!(StageId::new(good, None).is_ok(), "{good}");
        }
    }
}
