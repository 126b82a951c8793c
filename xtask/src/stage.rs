//! Typed stage config, `infra/stages/<stage>.yaml`. Field checks run during deserialisation, so
//! every mistake is reported as `file:line:column: what was expected`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod id;
pub use id::{BOOTSTRAP_ROLE_PATH, EPHEMERAL_PREFIX, Names, STACK_BUCKETS, STACK_TAG, StageId, artifacts_bucket};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Not in the file: its name, from the file's, and every name derived from it.
    #[serde(skip)]
    pub id: StageId,
    pub region: Region,
    #[serde(default)]
    pub owner: Option<Owner>,
    pub alarms: Alarms,
    #[serde(default)]
    pub domain: Option<Domain>,
    /// A WAF web ACL on the distribution that limits each client IP (the us-east-1 companion
    /// `infra/waf.yaml`). AWS stages only.
    #[serde(default)]
    pub waf: Option<Waf>,
    pub limits: Limits,
    pub images: Images,
    pub functions: Functions,
    pub api: Api,
    pub queues: Queues,
    pub retention: Retention,
    #[serde(default)]
    pub tags: BTreeMap<TagKey, String>,
    #[serde(default)]
    pub emulator: Option<Emulator>,
    /// `cargo xtask pipeline <stage>`: where CodePipeline takes the source from.
    #[serde(default)]
    pub pipeline: Option<Pipeline>,
    /// A stage people depend on (prod): its stacks have termination protection and a stack policy
    /// that keeps its data, teardown asks for the stage's name, hotswap is refused, and its
    /// functions roll out as a canary unless `functions.rollout` says otherwise.
    #[serde(default)]
    pub protected: bool,
}

/// Exactly one source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// A CodeConnections (CodeStar) connection to GitHub, GitLab or Bitbucket.
    #[serde(default)]
    pub connection: Option<ConnectionSource>,
    /// A zip of the repository in a versioned bucket, for repositories no connection reaches.
    #[serde(default)]
    pub s3: Option<S3Source>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSource {
    pub arn: ConnectionArn,
    pub repository: Repository,
    pub branch: Branch,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Source {
    pub bucket: BucketName,
    pub key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alarms {
    /// Each gets an SNS e-mail subscription (confirmed by the recipient).
    pub emails: Vec<Email>,
    /// Messages in a dead-letter queue that raise the alarm.
    pub dlq_messages: Ranged<1, 100_000>,
    /// Rejected uploads in five minutes that raise the alarm.
    pub rejections_per_5_minutes: Ranged<1, 1_000_000>,
    /// Rejection e-mails a function sends in five minutes; past it, one summary, then only the
    /// failure records and log lines until the next five minutes.
    pub rejection_emails_per_5_minutes: Ranged<1, 10_000>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    pub name: DomainName,
    pub hosted_zone_id: HostedZoneId,
    /// An existing us-east-1 certificate; without one, deploy creates it in a companion stack.
    #[serde(default)]
    pub certificate_arn: Option<CertificateArn>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waf {
    /// Requests one client IP may make in any 5 minutes, to the site and the api together; past
    /// it, WAF answers 429 until the IP's rate falls below it.
    pub requests_per_ip_per_5_minutes: Ranged<10, 2_000_000_000>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_upload_bytes: Ranged<1, { 5 * 1024 * 1024 * 1024 }>,
    pub max_pixels: Ranged<1, 1_000_000_000>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Images {
    pub thumbnail_edge: Ranged<16, 4096>,
    /// The avatar square's side.
    pub avatar_edge: Ranged<64, 2048>,
    pub jpeg_quality: Ranged<1, 100>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Functions {
    /// What all three run on; `package` builds for it and the template sets it.
    #[serde(default)]
    pub architecture: Architecture,
    /// How CodeDeploy moves each function's `live` alias to a new version [default: a canary on a
    /// protected stage, all at once elsewhere].
    #[serde(default)]
    pub rollout: Option<Rollout>,
    /// X-Ray active tracing of the three functions [default: on].
    #[serde(default = "yes")]
    pub tracing: bool,
    pub thumbnail: QueueFunction,
    pub avatar: QueueFunction,
    pub api: ApiFunction,
}

fn yes() -> bool {
    true
}

/// CodeDeploy's predefined Lambda configurations, by their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rollout {
    /// Every invocation moves to the new version at once (still watched by the alarms).
    AllAtOnce,
    /// 10 % of invocations for five minutes, then the rest.
    #[serde(rename = "canary_10_percent_5_minutes")]
    Canary10Percent5Minutes,
    /// 10 % more every minute.
    #[serde(rename = "linear_10_percent_every_minute")]
    Linear10PercentEveryMinute,
}

impl Rollout {
    /// CodeDeploy's name for it.
    pub const fn config_name(self) -> &'static str {
        match self {
            Rollout::AllAtOnce => "CodeDeployDefault.LambdaAllAtOnce",
            Rollout::Canary10Percent5Minutes => "CodeDeployDefault.LambdaCanary10Percent5Minutes",
            Rollout::Linear10PercentEveryMinute => "CodeDeployDefault.LambdaLinear10PercentEvery1Minute",
        }
    }
}

impl Stage {
    /// The stage's rollout: as written, else a canary where people depend on the stage.
    pub fn rollout(&self) -> Rollout {
        self.functions.rollout.unwrap_or(if self.protected { Rollout::Canary10Percent5Minutes } else { Rollout::AllAtOnce })
    }

    /// Whether the stage's data outlives its stack: no identity of its deploy path may delete it.
    pub fn keeps_data(&self) -> bool {
        self.protected || self.retention.on_delete == OnDelete::Retain
    }
}

/// Lambda's two processors: `x86_64` (the default), or `arm64` (Graviton: about 20 % less per
/// GB-second at list prices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
pub enum Architecture {
    #[default]
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Architecture {
    /// Lambda's name for it, which is also the ELF machine `elf::inspect` reports.
    pub const fn name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }

    pub const fn rust_target(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64-unknown-linux-gnu",
            Architecture::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }

    /// The machine xtask runs on, where it has a name for it.
    pub fn host() -> Option<Architecture> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Architecture::X86_64),
            "aarch64" => Some(Architecture::Arm64),
            _ => None,
        }
    }
}

/// The api function, behind API Gateway.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiFunction {
    pub memory_mb: Ranged<128, 10240>,
    /// API Gateway gives up on an integration after 30 s.
    pub timeout_s: Ranged<1, 29>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Api {
    /// How long a presigned upload stays usable.
    pub upload_expiry_s: Ranged<10, 3600>,
    /// Uploads one account may be granted in a UTC day, counted at grant time.
    pub uploads_per_day: Ranged<1, 1_000_000>,
    /// Bytes one account may be granted in a UTC day (the sizes its uploads declared).
    pub bytes_per_day: Ranged<1, { 1024 * 1024 * 1024 * 1024 }>,
    /// An external OIDC provider whose tokens API Gateway's JWT authorizer accepts instead of
    /// the stage's own user pool (the default). AWS stages only.
    #[serde(default)]
    pub jwt: Option<Jwt>,
    /// What a photo is when its upload does not say: `public` (in the gallery) or `private`
    /// (only in its owner's photos). Each upload may choose.
    #[serde(default)]
    pub default_visibility: shared::visibility::Visibility,
    /// Only an administrator creates accounts (`AllowAdminCreateUserOnly`): no one signs up.
    #[serde(default)]
    pub invite_only: bool,
    /// The user pool's own e-mail (codes, password resets) from a verified SES identity, instead of
    /// Cognito's default sender, which allows about 50 e-mails a day for the whole pool, so a
    /// script signing up fake addresses can use them all and lock real users out of reset.
    #[serde(default)]
    pub email_sender: Option<EmailSender>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSender {
    /// A verified SES identity whose sending policy lets Cognito (`email.cognito-idp.amazonaws.com`) send.
    pub identity: SesIdentityArn,
    pub from: Email,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Jwt {
    /// e.g. `https://cognito-idp.<region>.amazonaws.com/<user pool id>`.
    pub issuer: HttpsUrl,
    /// Accepted `aud` (or Cognito `client_id`) values.
    pub audience: Vec<Audience>,
}

/// A function fed by an SQS queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueFunction {
    pub memory_mb: Ranged<128, 10240>,
    /// At most 120 s: the queue's visibility timeout is 6× this, and a message that outlives a
    /// crashed invocation should be retried within minutes, not hours.
    pub timeout_s: Ranged<1, 120>,
    /// The event source mapping's `MaximumConcurrency` (SQS allows 2..=1000).
    pub max_concurrency: Ranged<2, 1000>,
    pub batch_size: Ranged<1, 10>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queues {
    pub max_receive_count: Ranged<1, 1000>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub log_days: LogRetentionDays,
    pub failure_record_days: Ranged<1, 3650>,
    pub noncurrent_version_days: Ranged<1, 3650>,
    pub on_delete: OnDelete,
    /// S3 Object Lock in compliance mode on the originals (the uploads bucket): every version of
    /// an original is kept this many days after it was written, whoever asks to delete it, AWS's
    /// root user included. Only a stage that keeps its data.
    #[serde(default)]
    pub originals_lock_days: Option<Ranged<1, 36500>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDelete {
    /// Buckets, table and log groups stay when the stack is deleted.
    Retain,
    Delete,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Emulator {
    /// `None`: `cargo xtask local` starts moto on a free port.
    pub endpoint: Option<Endpoint>,
}

impl Stage {
    /// Reads `<infra>/stages/<name>.yaml`.
    pub fn load(infra: &Path, name: &str) -> Result<Stage, StageError> {
        StageId::new(name, None).map_err(|reason| StageError::Name { name: name.into(), reason })?;
        let path = infra.join("stages").join(format!("{name}.yaml"));
        let text = std::fs::read_to_string(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => StageError::Unknown { path: path.clone(), known: known_stages(infra) },
            _ => StageError::Read { path: path.clone(), source },
        })?;
        let stage = Stage::parse(&path, &text)?;
        stage.check().map_err(|message| StageError::Invalid { path, message })?;
        Ok(stage)
    }

    /// The stage's names as ARNs in `account` (which may be `${AWS::AccountId}`), in its region.
    pub fn names<'a>(&'a self, account: &'a str) -> Names<'a> {
        self.id.at(&self.region.0, account)
    }

    /// Parses a stage file; the stage is named after the file (`<name>.yaml`).
    pub fn parse(path: &Path, text: &str) -> Result<Stage, StageError> {
        let mut stage: Stage =
            serde_norway::from_str(text).map_err(|e| StageError::Syntax { path: path.to_path_buf(), source: e })?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        stage.id = StageId::new(name, stage.owner.as_ref()).map_err(|reason| StageError::Name { name: name.into(), reason })?;
        Ok(stage)
    }

    /// Rules that span fields (each field checks itself while parsing).
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.emulator.is_some() && self.domain.is_some() {
            return Err("a stage with `emulator` cannot name a `domain`: the emulator serves no DNS or certificates".into());
        }
        match (&self.emulator, &self.api.jwt) {
            (Some(_), Some(_)) => {
                return Err("api.jwt is for AWS stages: the emulator's stage signs in through its own local pool".into());
            }
            (None, Some(jwt)) if jwt.audience.is_empty() => return Err("api.jwt.audience is empty".into()),
            _ => {}
        }
        if self.retention.originals_lock_days.is_some() && !self.keeps_data() {
            return Err("retention.originals_lock_days is for a stage that keeps its data (on_delete: retain, or protected): \
                        a locked bucket cannot be emptied, so its teardown could not finish"
                .into());
        }
        if self.emulator.is_some() && self.waf.is_some() {
            return Err("`waf` is for AWS stages: the emulator has no CloudFront to put a web ACL on".into());
        }
        if self.emulator.is_some() && (self.api.invite_only || self.api.email_sender.is_some()) {
            return Err("api.invite_only and api.email_sender are for AWS stages: the emulator's pool sends no e-mail".into());
        }
        if let Some(pipeline) = &self.pipeline {
            if self.emulator.is_some() {
                return Err("a stage with `emulator` cannot have a `pipeline`: CodePipeline runs only on AWS".into());
            }
            if pipeline.connection.is_some() == pipeline.s3.is_some() {
                return Err("pipeline: name exactly one source, `connection` or `s3`".into());
            }
        }
        if self.id.is_ephemeral() {
            let keeps = if self.protected {
                Some("`protected: true`")
            } else if self.keeps_data() {
                Some("`retention.on_delete: retain`")
            } else {
                None
            };
            if let Some(field) = keeps.or(self.domain.as_ref().map(|_| "a `domain`")) {
                return Err(format!(
                    "{} is an ephemeral stage's name ({EPHEMERAL_PREFIX}<number>: CI deploys it and tears it down), so it \
                     cannot have {field}; name a long-lived stage otherwise",
                    self.id.stage()
                ));
            }
        }
        if self.protected && self.emulator.is_some() {
            return Err("a stage with `emulator` cannot be `protected`: the emulator has no termination protection".into());
        }
        if self.alarms.emails.is_empty() {
            return Err("alarms.emails is empty: name at least one address, or alarms go nowhere".into());
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("stage name {name:?}: {reason}")]
    Name { name: String, reason: &'static str },
    #[error("no stage file {} (stages here: {})", path.display(), known.join(", "))]
    Unknown { path: PathBuf, known: Vec<String> },
    #[error("reading {}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}", located(path, source))]
    Syntax { path: PathBuf, source: serde_norway::Error },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

fn known_stages(infra: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(infra.join("stages"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".yaml").map(str::to_string))
        .collect();
    names.sort();
    names
}

/// `path:line:column: message`, the form editors and CI consoles turn into a link.
fn located(path: &Path, e: &serde_norway::Error) -> String {
    let message = e.to_string();
    match e.location() {
        Some(at) => {
            let suffix = format!(" at line {} column {}", at.line(), at.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message);
            format!("{}:{}:{}: {message}", path.display(), at.line(), at.column())
        }
        None => format!("{}: {message}", path.display()),
    }
}

/// Defines a string newtype whose value is checked while the YAML is read.
macro_rules! checked_string {
    ($(#[$doc:meta])* $name:ident, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
        #[serde(try_from = "String")]
        pub struct $name(pub String);

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                let check: fn(&str) -> Result<(), &'static str> = $check;
                check(&value).map_err(|why| format!("{value:?} is not a valid {}: {why}", stringify!($name)))?;
                Ok($name(value))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

fn lower_alnum_dash(s: &str, max: usize) -> Result<(), &'static str> {
    if s.is_empty() || s.len() > max {
        return Err("wrong length");
    }
    if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') || s.starts_with('-') || s.ends_with('-') {
        return Err("use lowercase letters, digits and inner dashes");
    }
    Ok(())
}

/// Stage and owner names hold no dash, the separator between the parts of a stack name and
/// between a stack name and its resources' suffixes. So `thumbstack-<stage>-*` and
/// `<owner>-thumbstack-<stage>-*`, the patterns every IAM grant is scoped by, never match another
/// stage's or owner's names (`policy`'s `no_stage_pattern_matches_another_stages_names`).
fn name_part(s: &str, max: usize) -> Result<(), &'static str> {
    if s.is_empty() || s.len() > max {
        return Err("wrong length");
    }
    if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) || !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("use lowercase letters and digits, starting with a letter (no dashes: they separate a name's parts)");
    }
    Ok(())
}

checked_string!(
    /// Prefixes the stack name; short, for the same reason as stage names.
    Owner,
    |s| name_part(s, 8)
);
checked_string!(Region, |s| {
    let parts: Vec<&str> = s.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    if ok && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit())) {
        Ok(())
    } else {
        Err("expected e.g. eu-west-1")
    }
});
checked_string!(Email, |s| match s.split_once('@') {
    Some((user, host)) if !user.is_empty() && host.contains('.') && !s.contains(char::is_whitespace) => Ok(()),
    _ => Err("expected user@host.tld"),
});
checked_string!(DomainName, |s| {
    let labels_ok = s.split('.').all(|l| lower_alnum_dash(l, 63).is_ok());
    if s.contains('.') && s.len() <= 240 && labels_ok { Ok(()) } else { Err("expected a lowercase DNS name such as example.com") }
});
checked_string!(HostedZoneId, |s| {
    if s.starts_with('Z') && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        Ok(())
    } else {
        Err("expected a Route 53 hosted zone id such as Z0123456789ABC")
    }
});
checked_string!(CertificateArn, |s| {
    if s.starts_with("arn:aws:acm:us-east-1:") && s.contains(":certificate/") {
        Ok(())
    } else {
        Err("CloudFront needs an ACM certificate in us-east-1: arn:aws:acm:us-east-1:<account>:certificate/<id>")
    }
});
checked_string!(TagKey, |s| {
    if s.is_empty() || s.len() > 128 || s.starts_with("aws:") { Err("1-128 characters, not starting with aws:") } else { Ok(()) }
});
checked_string!(HttpsUrl, |s| {
    if s.starts_with("https://") && s.len() > 8 && !s.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err("expected https://...")
    }
});
checked_string!(SesIdentityArn, |s| {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() == 6 && parts[..3] == ["arn", "aws", "ses"] && parts[5].starts_with("identity/") && parts[5].len() > 9 {
        Ok(())
    } else {
        Err("expected arn:aws:ses:<region>:<account>:identity/<domain or address>")
    }
});
checked_string!(Audience, |s| {
    if !s.is_empty() && s.len() <= 256 && !s.contains(char::is_whitespace) && !s.contains(',') {
        Ok(())
    } else {
        Err("expected a client id: no spaces or commas")
    }
});
checked_string!(ConnectionArn, |s| {
    let ok = (s.starts_with("arn:aws:codeconnections:") || s.starts_with("arn:aws:codestar-connections:"))
        && s.contains(":connection/");
    if ok { Ok(()) } else { Err("expected arn:aws:codeconnections:<region>:<account>:connection/<id>") }
});
checked_string!(Repository, |s| match s.split_once('/') {
    Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') && !s.contains(char::is_whitespace) =>
        Ok(()),
    _ => Err("expected owner/name"),
});
checked_string!(Branch, |s| {
    if !s.is_empty() && s.len() <= 255 && !s.contains(char::is_whitespace) { Ok(()) } else { Err("expected a branch name") }
});
checked_string!(BucketName, |s| {
    let ok =
        (3..=63).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    if ok { Ok(()) } else { Err("expected an S3 bucket name") }
});
checked_string!(Endpoint, |s| {
    if (s.starts_with("http://") || s.starts_with("https://")) && s.len() > 8 { Ok(()) } else { Err("expected http://host:port") }
});

/// An integer checked against `MIN..=MAX` while the YAML is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub struct Ranged<const MIN: u64, const MAX: u64>(u64);

impl<const MIN: u64, const MAX: u64> Ranged<MIN, MAX> {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<const MIN: u64, const MAX: u64> TryFrom<u64> for Ranged<MIN, MAX> {
    type Error = String;
    fn try_from(v: u64) -> Result<Self, String> {
        if (MIN..=MAX).contains(&v) { Ok(Ranged(v)) } else { Err(format!("{v} is out of range: expected {MIN} to {MAX}")) }
    }
}

/// CloudWatch Logs accepts only these retention periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub struct LogRetentionDays(u64);

const LOG_RETENTION_DAYS: [u64; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

impl LogRetentionDays {
    pub fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<u64> for LogRetentionDays {
    type Error = String;
    fn try_from(v: u64) -> Result<Self, String> {
        if LOG_RETENTION_DAYS.contains(&v) {
            Ok(LogRetentionDays(v))
        } else {
            Err(format!("{v} days is not a CloudWatch Logs retention period: expected one of {LOG_RETENTION_DAYS:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        crate::paths::root()
    }

    fn error_of(text: &str) -> String {
        Stage::parse(Path::new("infra/stages/x.yaml"), text).unwrap_err().to_string()
    }

    fn dev_with(from: &str, to: &str) -> String {
        let text = std::fs::read_to_string(root().join("infra/stages/dev.yaml")).unwrap();
        assert!(text.contains(from), "dev.yaml no longer contains {from:?}");
        text.replacen(from, to, 1)
    }

    #[test]
    fn every_stage_in_the_repo_loads() {
        for (name, stack) in [("local", "thumbstack-local"), ("dev", "thumbstack-dev"), ("prod", "thumbstack-prod")] {
            let stage = Stage::load(&root().join("infra"), name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((stage.id.stage(), stage.id.stack()), (name, stack));
        }
    }

    /// A dash in a stage or owner name, or a reserved stage name, could make one stage's IAM
    /// patterns cover another's names: refused before anything renders.
    #[test]
    fn names_that_could_overlap_are_refused() {
        let infra = root().join("infra");
        for (name, why) in [
            ("dev-alice", "no dashes"),
            ("artifacts", "reserved"),
            ("thumbstack", "reserved"),
            ("9lives", "starting with a letter"),
        ] {
            let e = Stage::load(&infra, name).unwrap_err().to_string();
            assert!(e.contains(why), "{name}: {e}");
        }
        let e = error_of(&dev_with("owner: null", "owner: al-ice"));
        assert!(e.contains("no dashes"), "{e}");
        let alice = Stage::parse(Path::new("x.yaml"), &dev_with("owner: null", "owner: alice")).unwrap();
        assert_eq!(alice.id.stack(), "alice-thumbstack-x");
    }

    /// `pr<number>` is an ephemeral stage's name: CI deploys and tears it down, so it can keep
    /// nothing and reach no DNS; no other name counts as one.
    #[test]
    fn an_ephemeral_stage_can_keep_nothing() {
        let infra = std::env::temp_dir().join(format!("thumbstack-ephemeral-{}", std::process::id()));
        std::fs::create_dir_all(infra.join("stages")).unwrap();
        let load = |text: String| {
            std::fs::write(infra.join("stages/pr42.yaml"), text).unwrap();
            Stage::load(&infra, "pr42").map_err(|e| e.to_string())
        };
        assert!(load(dev_with("owner: null", "owner: null")).unwrap().id.is_ephemeral());
        let e = load(dev_with("on_delete: delete", "on_delete: retain")).unwrap_err();
        assert!(e.contains("pr42 is an ephemeral stage's name") && e.contains("`retention.on_delete: retain`"), "{e}");
        let e = load(format!("{}\nprotected: true\n", dev_with("owner: null", "owner: null"))).unwrap_err();
        assert!(e.contains("`protected: true`"), "{e}");
        std::fs::remove_dir_all(&infra).unwrap();
        for name in ["prod", "pr", "prx", "pr1234567", "dev"] {
            assert!(!StageId::new(name, None).unwrap().is_ephemeral(), "{name}");
        }
        assert!(StageId::new("pr7", None).unwrap().is_ephemeral());
    }

    #[test]
    fn unknown_key_names_file_line_column() {
        let e = error_of(&dev_with("  jpeg_quality: 80", "  jpeg_quality: 80\n  jpeg_qualty: 80"));
        assert!(e.starts_with("infra/stages/x.yaml:19:3: images: unknown field `jpeg_qualty`, expected"), "{e}");
    }

    #[test]
    fn wrong_type_names_file_line_column() {
        let e = error_of(&dev_with("memory_mb: 1024", "memory_mb: lots"));
        assert!(e.starts_with("infra/stages/x.yaml:26:16: functions.thumbnail.memory_mb: invalid type: string \"lots\""), "{e}");
    }

    #[test]
    fn an_architecture_lambda_lacks_is_refused_where_it_stands() {
        let e = error_of(&dev_with("architecture: x86_64", "architecture: sparc"));
        assert!(
            e.starts_with(
                "infra/stages/x.yaml:21:17: functions.architecture: unknown variant `sparc`, expected `x86_64` or `arm64`"
            ),
            "{e}"
        );
        let arm = Stage::parse(Path::new("x.yaml"), &dev_with("architecture: x86_64", "architecture: arm64")).unwrap();
        assert_eq!(arm.functions.architecture, Architecture::Arm64);
    }

    #[test]
    fn missing_field_names_file_line_column() {
        let e = error_of(&dev_with("    batch_size: 5\n  avatar:", "  avatar:"));
        assert!(e.starts_with("infra/stages/x.yaml:") && e.contains("functions.thumbnail: missing field `batch_size`"), "{e}");
        assert!(e.split(':').nth(1).is_some_and(|line| line.parse::<u32>().is_ok()), "{e}");
    }

    #[test]
    fn out_of_range_and_bad_values_say_what_was_expected() {
        let e = error_of(&dev_with("log_days: 14", "log_days: 10"));
        assert!(e.starts_with("infra/stages/x.yaml:") && e.contains("10 days is not a CloudWatch Logs retention period"), "{e}");
        let e = error_of(&dev_with("max_concurrency: 5", "max_concurrency: 1"));
        assert!(e.contains("1 is out of range: expected 2 to 1000"), "{e}");
        let e = error_of(&dev_with("region: eu-west-1", "region: Ireland"));
        assert!(e.starts_with("infra/stages/x.yaml:2:1: \"Ireland\" is not a valid Region: expected e.g. eu-west-1"), "{e}");
        let e = error_of(&dev_with("- thumbstack-dev-alarms@example.com", "- not-an-address"));
        assert!(e.contains("is not a valid Email"), "{e}");
        let e = error_of(&dev_with("on_delete: delete", "on_delete: maybe"));
        assert!(e.contains("unknown variant `maybe`, expected `retain` or `delete`"), "{e}");
    }

    #[test]
    fn rules_across_fields_are_checked() {
        let text = dev_with("emails:\n    - thumbstack-dev-alarms@example.com", "emails: []");
        let stage = Stage::parse(Path::new("x.yaml"), &text).unwrap();
        assert!(stage.check().unwrap_err().contains("alarms.emails is empty"));
        // The stage's own pool by default; an external issuer is named whole.
        assert!(Stage::parse(Path::new("x.yaml"), &dev_with("", "")).unwrap().api.jwt.is_none());
        let external = dev_with("queues:", "  jwt:\n    issuer: https://login.example.com/\n    audience: [site]\nqueues:");
        assert!(Stage::parse(Path::new("x.yaml"), &external).unwrap().check().is_ok());
        let e = error_of(&dev_with("queues:", "  dev_user: me\nqueues:"));
        assert!(e.contains("unknown field `dev_user`"), "{e}");
        let stage = Stage::parse(Path::new("x.yaml"), &external.replace("[site]", "[]")).unwrap();
        assert!(stage.check().unwrap_err().contains("api.jwt.audience is empty"));
        let e = error_of(&external.replace("issuer: https://", "issuer: http://"));
        assert!(e.contains("is not a valid HttpsUrl"), "{e}");
        let e = error_of(&dev_with("timeout_s: 30", "timeout_s: 300"));
        assert!(e.contains("300 is out of range: expected 1 to 120"), "{e}");
    }

    #[test]
    fn stage_names_are_short_and_safe() {
        for bad in ["", "Dev", "../etc", "a-very-long-stage-name", "-x"] {
            assert!(matches!(Stage::load(&root().join("infra"), bad), Err(StageError::Name { .. })), "{bad:?}");
        }
        let e = Stage::load(&root().join("infra"), "nosuch").unwrap_err().to_string();
        assert!(e.contains("nosuch.yaml") && e.contains("(stages here: dev, local, prod)"), "{e}");
    }
}
