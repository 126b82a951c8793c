//! How many rejection e-mails a function has sent in the current window: one counter item per
//! function and window in the catalog table (`shared::table::mail_rate_pk`, outside every
//! index, expiring a day later), so every concurrent invocation shares it.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use shared::Failure;

/// At most `per_window` e-mails each `window`; then one summary, then silence until the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailRate {
    pub per_window: u32,
    pub window: Duration,
}

impl Default for MailRate {
    fn default() -> Self {
        MailRate { per_window: 10, window: Duration::from_secs(300) }
    }
}

/// What this rejection's e-mail is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mail {
    One,
    /// The first past the rate: how many so far, when e-mails resume, the window's first names.
    Summary {
        count: u32,
        resumes_at: SystemTime,
        names: Vec<String>,
    },
    None,
}

/// Names kept for the summary.
const NAMES: usize = 5;

pub async fn count(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    function: &str,
    rate: MailRate,
    name: &str,
    now: SystemTime,
) -> Result<Mail, Failure> {
    let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let window = rate.window.as_secs().max(1);
    let start = secs - secs % window;
    let pk = shared::table::mail_rate_pk(function, start);
    let values = HashMap::from([
        (":one".to_string(), AttributeValue::N("1".into())),
        (":empty".to_string(), AttributeValue::L(vec![])),
        (":name".to_string(), AttributeValue::L(vec![AttributeValue::S(name.chars().take(120).collect())])),
        (":keep".to_string(), AttributeValue::N(NAMES.to_string())),
        (":expires".to_string(), AttributeValue::N((start + window + 86_400).to_string())),
    ]);
    // The name is kept only while the list is short; the count always goes up.
    let keep_name = dynamodb
        .update_item()
        .table_name(table)
        .key(shared::table::PK, AttributeValue::S(pk.clone()))
        .update_expression(
            "ADD sent :one SET first_names = list_append(if_not_exists(first_names, :empty), :name), expires_at = :expires",
        )
        .condition_expression("attribute_not_exists(sent) OR sent < :keep")
        .set_expression_attribute_values(Some(values))
        .return_values(ReturnValue::AllNew)
        .send()
        .await;
    let item = match keep_name {
        Ok(out) => out.attributes.unwrap_or_default(),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => dynamodb
            .update_item()
            .table_name(table)
            .key(shared::table::PK, AttributeValue::S(pk))
            .update_expression("ADD sent :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| Failure::transient("counting rejection e-mails", e))?
            .attributes
            .unwrap_or_default(),
        Err(e) => return Err(Failure::transient("counting rejection e-mails", e)),
    };
    let sent: u32 = item.get("sent").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(1);
    Ok(if sent <= rate.per_window {
        Mail::One
    } else if sent == rate.per_window + 1 {
        let names = item
            .get("first_names")
            .and_then(|v| v.as_l().ok())
            .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
            .unwrap_or_default();
        Mail::Summary { count: sent, resumes_at: UNIX_EPOCH + Duration::from_secs(start + window), names }
    } else {
        Mail::None
    })
}
