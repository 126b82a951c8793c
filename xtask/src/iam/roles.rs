//! The function roles' own policies as IAM will hold them: the rendered template's `Policies`,
//! with `!Ref`, `!GetAtt X.Arn` and `!Sub` resolved to the stage's names, so the linters can read
//! them and the tests can hold them inside the boundary.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use serde_norway::Value as Yaml;

use super::Names;

/// `(role's logical id, its policy document)` for every role of the stage's stack.
pub fn function_roles(template: &str, n: &Names) -> Result<Vec<(String, Value)>> {
    let template: Yaml = serde_norway::from_str(template).context("parsing the rendered template")?;
    let resources = template.get("Resources").and_then(Yaml::as_mapping).context("the template has no Resources")?;
    let lookup = |id: &str| resources.get(id);
    let mut roles = Vec::new();
    for (id, r) in resources {
        if r.get("Type").and_then(Yaml::as_str) != Some("AWS::IAM::Role") {
            continue;
        }
        let id = id.as_str().unwrap_or_default().to_string();
        let mut statements = Vec::new();
        for policy in r["Properties"].get("Policies").and_then(Yaml::as_sequence).into_iter().flatten() {
            for s in policy["PolicyDocument"]["Statement"].as_sequence().into_iter().flatten() {
                statements.push(resolve(s, n, &lookup).with_context(|| format!("{id}'s policy"))?);
            }
        }
        roles.push((id, json!({ "Version": "2012-10-17", "Statement": statements })));
    }
    Ok(roles)
}

fn resolve<'a>(v: &Yaml, n: &Names, lookup: &impl Fn(&str) -> Option<&'a Yaml>) -> Result<Value> {
    Ok(match v {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(x) => serde_json::to_value(x)?,
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(|i| resolve(i, n, lookup)).collect::<Result<_>>()?),
        Yaml::Mapping(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.as_str().unwrap_or_default().to_string(), resolve(v, n, lookup)?)))
                .collect::<Result<_>>()?,
        ),
        Yaml::Tagged(t) => {
            let arg = t.value.as_str().with_context(|| format!("!{} with a non-string argument", t.tag))?;
            Value::String(match t.tag.to_string().trim_start_matches('!') {
                "Ref" => reference(arg, n, lookup)?,
                "GetAtt" => match arg.strip_suffix(".Arn") {
                    Some(id) => arn(id, n, lookup)?,
                    None => bail!("!GetAtt {arg}: only .Arn is resolved"),
                },
                "Sub" => sub(arg, n, lookup)?,
                other => bail!("!{other} is not resolved here"),
            })
        }
    })
}

fn sub<'a>(text: &str, n: &Names, lookup: &impl Fn(&str) -> Option<&'a Yaml>) -> Result<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').context("unclosed ${ in !Sub")? + start;
        let name = &rest[start + 2..end];
        out.push_str(&match name {
            "AWS::StackName" => n.id.stack().to_string(),
            "AWS::AccountId" => n.account.to_string(),
            "AWS::Region" => n.region.to_string(),
            "AWS::Partition" => "aws".to_string(),
            _ => match name.strip_suffix(".Arn") {
                Some(id) => arn(id, n, lookup)?,
                None => reference(name, n, lookup)?,
            },
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A resource's property (its name), resolved.
fn property<'a>(id: &str, r: &Yaml, key: &str, n: &Names, lookup: &impl Fn(&str) -> Option<&'a Yaml>) -> Result<String> {
    let v = r["Properties"].get(key).with_context(|| format!("{id} has no {key}"))?;
    Ok(resolve(v, n, lookup)?.as_str().unwrap_or_default().to_string())
}

/// What `!Ref` gives for the types the roles name.
fn reference<'a>(id: &str, n: &Names, lookup: &impl Fn(&str) -> Option<&'a Yaml>) -> Result<String> {
    let r = lookup(id).with_context(|| format!("no resource {id}"))?;
    let name = |key: &str| property(id, r, key, n, lookup);
    match r["Type"].as_str().unwrap_or_default() {
        "AWS::S3::Bucket" => name("BucketName"),
        "AWS::DynamoDB::Table" => name("TableName"),
        "AWS::Logs::LogGroup" => name("LogGroupName"),
        "AWS::SNS::Topic" => Ok(format!("arn:aws:sns:{}:{}:{}", n.region, n.account, name("TopicName")?)),
        "AWS::SQS::Queue" => Ok(format!("https://sqs.{}.amazonaws.com/{}/{}", n.region, n.account, name("QueueName")?)),
        "AWS::KMS::Key" => Ok("00000000-0000-0000-0000-000000000000".into()),
        other => bail!("!Ref {id}: {other} is not resolved here"),
    }
}

fn arn<'a>(id: &str, n: &Names, lookup: &impl Fn(&str) -> Option<&'a Yaml>) -> Result<String> {
    let r = lookup(id).with_context(|| format!("no resource {id}"))?;
    let (region, account) = (n.region, n.account);
    let name = |key: &str| property(id, r, key, n, lookup);
    Ok(match r["Type"].as_str().unwrap_or_default() {
        "AWS::S3::Bucket" => format!("arn:aws:s3:::{}", name("BucketName")?),
        "AWS::DynamoDB::Table" => format!("arn:aws:dynamodb:{region}:{account}:table/{}", name("TableName")?),
        "AWS::SQS::Queue" => format!("arn:aws:sqs:{region}:{account}:{}", name("QueueName")?),
        "AWS::Logs::LogGroup" => format!("arn:aws:logs:{region}:{account}:log-group:{}:*", name("LogGroupName")?),
        "AWS::KMS::Key" => format!("arn:aws:kms:{region}:{account}:key/00000000-0000-0000-0000-000000000000"),
        "AWS::IAM::Role" => format!("arn:aws:iam::{account}:role{}{id}", n.id.role_path()),
        other => bail!("!GetAtt {id}.Arn: {other} is not resolved here"),
    })
}
