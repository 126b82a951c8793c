//! `infra/template.yaml` + `infra/stages/<stage>.yaml` → the template and parameter file
//! CloudFormation gets (and the certificate stack's). Same input, same bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_norway::{Mapping, Value};

use crate::stage::{OnDelete, STACK_TAG, Stage};

/// Resource types that hold data: they follow the stage's `retention.on_delete`. The key goes
/// with them, since a retained table or log group is unreadable without it.
const DATA_TYPES: [&str; 5] =
    ["AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Logs::LogGroup", "AWS::KMS::Key", "AWS::Cognito::UserPool"];

/// The alias every caller of a function invokes, and what a release moves.
pub const LIVE_ALIAS: &str = "live";

/// A protected stage's stack policy, beside its template.
pub const STACK_POLICY: &str = "stack-policy.json";

/// One stage's rendered files, in the order they are written.
pub struct Rendered {
    pub stack_name: String,
    pub files: Vec<(&'static str, String)>,
    /// The stage's parameter values (deploy adds the deploy-time ones) and stack tags.
    pub parameters: BTreeMap<&'static str, String>,
    pub tags: BTreeMap<String, String>,
    /// The stacks the stage keeps in us-east-1 ([`Companion`]), in the order deploy applies them.
    pub us_east_1: Vec<Companion>,
    /// The CI pipeline stack's parameters, when the stage has a `pipeline` (`pipeline.yaml`).
    pub pipeline_parameters: Option<BTreeMap<&'static str, String>>,
    /// The bootstrap stack's parameters (`bootstrap.yaml`, from `companions::render`).
    pub bootstrap_parameters: Option<BTreeMap<&'static str, String>>,
}

/// A stack the stage keeps in us-east-1, where CloudFront takes its certificate and its web ACL
/// from: deploy applies it before the main stack and passes its one output on as the main stack's
/// parameter of the same name; teardown deletes it after the main stack.
pub struct Companion {
    /// Its rendered file (`certificate.yaml`, `waf.yaml`: `infra/` has the same), and its parameters'.
    pub file: &'static str,
    pub parameters_file: &'static str,
    pub stack: String,
    pub parameters: BTreeMap<&'static str, String>,
    /// Its output, and the main stack's parameter that takes it.
    pub output: &'static str,
    /// The deploy report's timings of its change set and its execution.
    pub phases: (&'static str, &'static str),
}

/// The us-east-1 stacks `stage` has: its certificate when it names a domain but no certificate,
/// and its web ACL when it sets `waf`, in the order deploy applies them. Render writes their files;
/// teardown deletes the same stacks.
pub fn us_east_1(stage: &Stage) -> Vec<Companion> {
    let mut companions = Vec::new();
    if let Some(domain) = stage.domain.as_ref().filter(|d| d.certificate_arn.is_none()) {
        companions.push(Companion {
            file: "certificate.yaml",
            parameters_file: "certificate-parameters.json",
            stack: stage.id.certificate_stack(),
            parameters: BTreeMap::from([
                ("DomainName", domain.name.to_string()),
                ("HostedZoneId", domain.hosted_zone_id.to_string()),
            ]),
            output: "CertificateArn",
            phases: ("certificate_changeset", "certificate_execute"),
        });
    }
    if let Some(waf) = &stage.waf {
        companions.push(Companion {
            file: "waf.yaml",
            parameters_file: "waf-parameters.json",
            stack: stage.id.waf_stack(),
            parameters: BTreeMap::from([
                ("StackName", stage.id.stack().to_string()),
                ("RequestsPerIp", waf.requests_per_ip_per_5_minutes.get().to_string()),
            ]),
            output: "WebAclArn",
            phases: ("waf_changeset", "waf_execute"),
        });
    }
    companions
}

impl Rendered {
    pub fn file(&self, name: &str) -> Option<&str> {
        self.files.iter().find(|(n, _)| *n == name).map(|(_, text)| text.as_str())
    }

    /// The stage's tags for one of its stacks: [`STACK_TAG`] names that stack, so the grants
    /// scoped by it never reach the bootstrap's or the pipeline's resources.
    pub fn tags_for(&self, stack: &str) -> BTreeMap<String, String> {
        let mut tags = self.tags.clone();
        tags.insert(STACK_TAG.into(), stack.into());
        tags
    }
}

pub fn write(rendered: &Rendered, out: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    rendered
        .files
        .iter()
        .map(|(name, text)| {
            let path = out.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

/// The stage's own stack (and its us-east-1 certificate stack): what deploy, policy and local need.
/// `companions::render` adds the CI pipeline stack, whose deploy policy is computed from this.
pub fn render_stack(infra: &Path, stage: &Stage) -> Result<Rendered> {
    let name = stage.id.stage();
    let source = infra.join("template.yaml");
    let text = std::fs::read_to_string(&source).with_context(|| format!("reading {}", source.display()))?;
    let mut template: Value = serde_norway::from_str(&text).with_context(|| format!("parsing {}", source.display()))?;
    let resources =
        template.get_mut("Resources").and_then(Value::as_mapping_mut).context("infra/template.yaml has no Resources")?;
    apply_retention(resources, stage.retention.on_delete);
    add_email_subscriptions(resources, stage)?;
    let values = parameters(stage);
    describe_versions(resources, &values)?;
    check_parameters(&template, &values)?;
    let tags = tags(stage);

    let header = |from: &str| header(name, from);
    let mut files = vec![
        ("template.yaml", header("infra/template.yaml") + &yaml(&template)?),
        ("parameters.json", template_configuration(&values, &tags)?),
    ];
    if stage.protected {
        let policy = serde_json::to_string_pretty(&stack_policy(resources_of(&template)?))? + "\n";
        files.push((STACK_POLICY, policy));
    }
    let us_east_1 = us_east_1(stage);
    for companion in &us_east_1 {
        let source = format!("infra/{}", companion.file);
        let text = std::fs::read_to_string(infra.join(companion.file)).with_context(|| format!("reading {source}"))?;
        let template: Value = serde_norway::from_str(&text).with_context(|| format!("parsing {source}"))?;
        files.push((companion.file, header(&source) + &yaml(&template)?));
        files.push((companion.parameters_file, template_configuration(&companion.parameters, &tags)?));
    }
    Ok(Rendered {
        stack_name: stage.id.stack().to_string(),
        files,
        parameters: values,
        tags,
        us_east_1,
        pipeline_parameters: None,
        bootstrap_parameters: None,
    })
}

/// The stack policy of a template: any update, but no replacement or deletion of a resource that
/// holds data (`DATA_TYPES`), whatever a later template says.
fn stack_policy(resources: &Mapping) -> serde_json::Value {
    let kept: Vec<String> = resources
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(Value::as_str).is_some_and(|t| DATA_TYPES.contains(&t)))
        .filter_map(|(id, _)| Some(format!("LogicalResourceId/{}", id.as_str()?)))
        .collect();
    serde_json::json!({
        "Statement": [
            { "Effect": "Allow", "Principal": "*", "Action": "Update:*", "Resource": "*" },
            { "Effect": "Deny", "Principal": "*", "Action": ["Update:Replace", "Update:Delete"], "Resource": kept },
        ]
    })
}

/// A rendered template's text. Date-like scalars (`2012-10-17`, `2010-09-09`) are quoted: YAML 1.1
/// readers, moto's among them, would read them as dates, and a policy's `Version` must be a string.
pub fn yaml(value: &Value) -> Result<String> {
    let text = serde_norway::to_string(value)?;
    let date = |s: &str| {
        s.len() == 10 && s.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() })
    };
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        match line.rsplit_once(": ") {
            Some((key, value)) if date(value) => out.push_str(&format!("{key}: '{value}'")),
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    Ok(out)
}

/// The first line of every rendered file: where it came from.
pub fn header(name: &str, from: &str) -> String {
    format!("# Rendered by `cargo xtask render {name}` from {from} and infra/stages/{name}.yaml. Do not edit.\n")
}

/// Parameter values from the stage file. `ArtifactsBucket`, the code keys and, for a domain
/// without a given certificate, `CertificateArn` are known only at deploy time.
pub fn parameters(stage: &Stage) -> BTreeMap<&'static str, String> {
    let (t, a, api) = (&stage.functions.thumbnail, &stage.functions.avatar, &stage.functions.api);
    let mut p = BTreeMap::from([
        ("Stage", stage.id.stage().to_string()),
        ("OnAws", stage.emulator.is_none().to_string()),
        ("Architecture", stage.functions.architecture.name().to_string()),
        ("Rollout", stage.rollout().config_name().to_string()),
        ("Tracing", if stage.functions.tracing { "Active" } else { "PassThrough" }.to_string()),
        ("MaxUploadBytes", stage.limits.max_upload_bytes.get().to_string()),
        ("MaxPixels", stage.limits.max_pixels.get().to_string()),
        ("ThumbnailEdge", stage.images.thumbnail_edge.get().to_string()),
        ("JpegQuality", stage.images.jpeg_quality.get().to_string()),
        ("ThumbnailMemory", t.memory_mb.get().to_string()),
        ("ThumbnailTimeout", t.timeout_s.get().to_string()),
        // Lambda's advice for SQS sources: at least six times the function timeout.
        ("ThumbnailVisibilityTimeout", (6 * t.timeout_s.get()).to_string()),
        ("ThumbnailMaxConcurrency", t.max_concurrency.get().to_string()),
        ("ThumbnailBatchSize", t.batch_size.get().to_string()),
        ("AvatarEdge", stage.images.avatar_edge.get().to_string()),
        ("AvatarMemory", a.memory_mb.get().to_string()),
        ("AvatarTimeout", a.timeout_s.get().to_string()),
        ("AvatarVisibilityTimeout", (6 * a.timeout_s.get()).to_string()),
        ("AvatarMaxConcurrency", a.max_concurrency.get().to_string()),
        ("AvatarBatchSize", a.batch_size.get().to_string()),
        ("ApiMemory", api.memory_mb.get().to_string()),
        ("ApiTimeout", api.timeout_s.get().to_string()),
        ("UploadExpirySeconds", stage.api.upload_expiry_s.get().to_string()),
        ("UploadsPerDay", stage.api.uploads_per_day.get().to_string()),
        ("BytesPerDay", stage.api.bytes_per_day.get().to_string()),
        ("MaxReceiveCount", stage.queues.max_receive_count.get().to_string()),
        ("DlqAlarmMessages", stage.alarms.dlq_messages.get().to_string()),
        ("RejectionsAlarmCount", stage.alarms.rejections_per_5_minutes.get().to_string()),
        ("RejectionEmails", stage.alarms.rejection_emails_per_5_minutes.get().to_string()),
        ("LogRetentionDays", stage.retention.log_days.get().to_string()),
        ("FailureRecordDays", stage.retention.failure_record_days.get().to_string()),
        ("NoncurrentVersionDays", stage.retention.noncurrent_version_days.get().to_string()),
    ]);
    p.insert("InviteOnly", stage.api.invite_only.to_string());
    p.insert("DefaultVisibility", stage.api.default_visibility.name().to_string());
    if let Some(days) = &stage.retention.originals_lock_days {
        p.insert("OriginalsLockDays", days.get().to_string());
    }
    if let Some(sender) = &stage.api.email_sender {
        p.insert("EmailSenderIdentity", sender.identity.to_string());
        p.insert("EmailSenderAddress", sender.from.to_string());
    }
    if let Some(jwt) = &stage.api.jwt {
        p.insert("JwtIssuer", jwt.issuer.to_string());
        p.insert("JwtAudience", jwt.audience.iter().map(ToString::to_string).collect::<Vec<_>>().join(","));
    }
    if let Some(domain) = &stage.domain {
        p.insert("DomainName", domain.name.to_string());
        p.insert("HostedZoneId", domain.hosted_zone_id.to_string());
        if let Some(arn) = &domain.certificate_arn {
            p.insert("CertificateArn", arn.to_string());
        }
    }
    p
}

/// The stage's tags plus its stage and stack tags (`StageId::tags`); CloudFormation copies stack
/// tags to the resources.
pub fn tags(stage: &Stage) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = stage.tags.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    tags.extend(stage.id.tags(stage.id.stack()).map(|(k, v)| (k.to_string(), v)));
    tags
}

/// CodePipeline's template configuration format: `{"Parameters": {..}, "Tags": {..}}`.
pub fn template_configuration(parameters: &BTreeMap<&'static str, String>, tags: &BTreeMap<String, String>) -> Result<String> {
    let doc = serde_json::json!({ "Parameters": parameters, "Tags": tags });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

/// Every stage value must name a declared parameter, and every parameter without a default
/// must come from the stage or from deploy; a typo on either side fails here, not in AWS.
fn check_parameters(template: &Value, values: &BTreeMap<&'static str, String>) -> Result<()> {
    // `<Function>CodeKey`: one per crate under functions/, named by deploy's artifacts phase.
    let from_deploy = |key: &str| {
        ["ArtifactsBucket", "CertificateArn", "PermissionsBoundary"].contains(&key)
            || key.ends_with("CodeKey")
            || key.ends_with("CodeVersion")
            || key.ends_with("CodeSha256")
    };
    let declared = template.get("Parameters").and_then(Value::as_mapping).context("infra/template.yaml has no Parameters")?;
    for key in values.keys() {
        if !declared.contains_key(*key) {
            bail!("the stage sets parameter {key}, which infra/template.yaml does not declare");
        }
    }
    for (key, spec) in declared {
        let key = key.as_str().context("parameter names are strings")?;
        if spec.get("Default").is_none() && !values.contains_key(key) && !from_deploy(key) {
            bail!("infra/template.yaml declares parameter {key}, which neither the stage nor deploy sets");
        }
    }
    Ok(())
}

/// Each `AWS::Lambda::Version`'s description becomes the hash of its function's configuration: the
/// function's properties and the stage's values of the parameters they name. A changed setting
/// replaces the version resource, so Lambda publishes a new version; the code's own change comes
/// in through `CodeSha256` at deploy time.
fn describe_versions(resources: &mut Mapping, values: &BTreeMap<&'static str, String>) -> Result<()> {
    use sha2::{Digest, Sha256};
    let mut hashes = Vec::new();
    for (id, resource) in resources.iter() {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::Lambda::Version") {
            continue;
        }
        let id = id.as_str().unwrap_or_default();
        let function = resource
            .get("Properties")
            .and_then(|p| p.get("FunctionName"))
            .and_then(|f| match f {
                Value::Tagged(t) if t.tag.to_string().trim_start_matches('!') == "Ref" => t.value.as_str(),
                _ => None,
            })
            .with_context(|| format!("{id}: FunctionName must be a !Ref to the function"))?;
        let properties =
            resources.get(function).and_then(|f| f.get("Properties")).with_context(|| format!("{id}: no function {function}"))?;
        let text = serde_norway::to_string(properties)?;
        let mut hash = Sha256::new();
        hash.update(text.as_bytes());
        for (name, value) in values.iter().filter(|(name, _)| names_parameter(&text, name)) {
            hash.update(format!("\n{name}={value}").as_bytes());
        }
        hashes.push((id.to_string(), hex::encode(&hash.finalize()[..8])));
    }
    for (id, resource) in resources.iter() {
        let alias = resource.get("Type").and_then(Value::as_str) == Some("AWS::Lambda::Alias");
        let name = resource.get("Properties").and_then(|p| p.get("Name")).and_then(Value::as_str);
        if alias && name != Some(LIVE_ALIAS) {
            bail!("{}: every function alias is `{LIVE_ALIAS}`, the one xtask moves and reads", id.as_str().unwrap_or_default());
        }
    }
    for (id, hash) in hashes {
        let properties = resources.get_mut(id.as_str()).and_then(|r| r.get_mut("Properties")).and_then(Value::as_mapping_mut);
        if let Some(properties) = properties {
            properties.insert("Description".into(), format!("configuration {hash}").into());
        }
    }
    Ok(())
}

/// Whether a resource's YAML names a parameter: `!Ref Name` or `${Name}`.
fn names_parameter(text: &str, name: &str) -> bool {
    text.contains(&format!("${{{name}}}"))
        || text.match_indices(name).any(|(at, _)| {
            let before = &text[..at];
            let after = text[at + name.len()..].chars().next();
            before.ends_with("!Ref ") && !after.is_some_and(|c| c.is_ascii_alphanumeric())
        })
}

fn resources_of(template: &Value) -> Result<&Mapping> {
    template.get("Resources").and_then(Value::as_mapping).context("infra/template.yaml has no Resources")
}

fn apply_retention(resources: &mut Mapping, on_delete: OnDelete) {
    let policy = match on_delete {
        OnDelete::Retain => "Retain",
        OnDelete::Delete => "Delete",
    };
    for (_, resource) in resources.iter_mut() {
        let Some(body) = resource.as_mapping_mut() else { continue };
        let holds_data = body.get("Type").and_then(Value::as_str).is_some_and(|t| DATA_TYPES.contains(&t));
        if holds_data {
            // Right after `Type`, where a reader looks for them.
            insert_after(
                body,
                "Type",
                vec![("DeletionPolicy".into(), policy.into()), ("UpdateReplacePolicy".into(), policy.into())],
            );
        }
    }
}

/// One `AWS::SNS::Subscription` per address, placed after the topic.
fn add_email_subscriptions(resources: &mut Mapping, stage: &Stage) -> Result<()> {
    if !resources.contains_key("AlarmTopic") {
        bail!("infra/template.yaml has no AlarmTopic to subscribe the alarm e-mails to");
    }
    let mut subscriptions = Vec::new();
    for (i, email) in stage.alarms.emails.iter().enumerate() {
        let yaml = format!(
            "Type: AWS::SNS::Subscription\nProperties:\n  Protocol: email\n  Endpoint: {:?}\n  TopicArn: !Ref AlarmTopic\n",
            email.0
        );
        subscriptions.push((format!("AlarmEmail{}", i + 1).into(), serde_norway::from_str(&yaml)?));
    }
    insert_after(resources, "AlarmTopic", subscriptions);
    Ok(())
}

/// Puts `entries` right after `key`, keeping the mapping's order (a mapping can only append).
fn insert_after(mapping: &mut Mapping, key: &str, entries: Vec<(Value, Value)>) {
    let mut entries = Some(entries);
    let mut with = Mapping::new();
    for (k, v) in std::mem::take(mapping) {
        let found = k.as_str() == Some(key);
        with.insert(k, v);
        if found {
            with.extend(entries.take().into_iter().flatten());
        }
    }
    *mapping = with;
}

#[cfg(test)]
mod tests;

/// The rendered `local` stage against moto: its bootstrap stack, then its stack through a change
/// set as deploy will use it.
#[cfg(test)]
mod emulator_tests;
