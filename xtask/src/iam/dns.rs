//! The DNS names the stage's stacks write and certify, read from the rendered templates with the
//! stage's domain put in, so the execution role's Route 53 and ACM grants name exactly those.

use std::collections::BTreeSet;

use serde_norway::Value as Yaml;

/// What the templates write in the hosted zone and ask ACM to certify, as IAM compares them:
/// lowercased, without the trailing dot (Route 53's normalized record names).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dns {
    /// `(name, type)` of every `AWS::Route53::RecordSet`.
    pub records: BTreeSet<(String, String)>,
    /// Every name an `AWS::CertificateManager::Certificate` asks for.
    pub certified: BTreeSet<String>,
    /// The names of the records ACM's DNS validation writes for them (`_<token>.<name>`, CNAME).
    pub validation: BTreeSet<String>,
}

impl Dns {
    pub fn of(templates: &[(&'static str, Yaml)], domain: &str) -> Dns {
        let mut dns = Dns::default();
        for (_, template) in templates {
            let resources = template.get("Resources").and_then(Yaml::as_mapping).into_iter().flatten();
            for (_, resource) in resources {
                let properties = &resource["Properties"];
                match resource["Type"].as_str() {
                    Some("AWS::Route53::RecordSet") => {
                        let name = normalized(&properties["Name"], domain);
                        let kind = properties["Type"].as_str().unwrap_or_default().to_string();
                        dns.records.insert((name, kind));
                    }
                    Some("AWS::CertificateManager::Certificate") => {
                        let alternatives = properties["SubjectAlternativeNames"].as_sequence().into_iter().flatten();
                        for name in std::iter::once(&properties["DomainName"]).chain(alternatives) {
                            dns.certified.insert(normalized(name, domain));
                        }
                    }
                    _ => {}
                }
            }
        }
        dns.validation = dns.certified.iter().map(|name| format!("_*.{name}")).collect();
        dns
    }

    /// The names and types of the stage's own records, as one list each.
    pub fn record_names(&self) -> Vec<&str> {
        self.records.iter().map(|(n, _)| n.as_str()).collect::<BTreeSet<_>>().into_iter().collect()
    }
    pub fn record_types(&self) -> Vec<&str> {
        self.records.iter().map(|(_, t)| t.as_str()).collect::<BTreeSet<_>>().into_iter().collect()
    }
}

/// A name as written (`!Sub "assets.${DomainName}."` or plain), with the domain in, lowercased,
/// without the trailing dot.
fn normalized(name: &Yaml, domain: &str) -> String {
    let text = match name {
        Yaml::Tagged(t) => t.value.as_str().unwrap_or_default(),
        other => other.as_str().unwrap_or_default(),
    };
    text.replace("${DomainName}", domain).trim_end_matches('.').to_ascii_lowercase()
}
