//! Holds answers to `openapi.json`: a small JSON Schema check (type, enum, required, properties,
//! additionalProperties, items, $ref) — the subset the document uses.

use serde_json::Value;

pub fn doc() -> Value {
    serde_json::from_str(api::OPENAPI).expect("openapi.json is JSON")
}

/// The response schema the document gives for `method path` and `status`.
pub fn response_schema(doc: &Value, method: &str, path: &str, status: u16) -> Value {
    let op = &doc["paths"][path][method.to_lowercase()];
    assert!(op.is_object(), "openapi.json has no {method} {path}");
    let mut r = op["responses"][status.to_string()].clone();
    assert!(r.is_object(), "openapi.json: {method} {path} does not document status {status}");
    if let Some(target) = r["$ref"].as_str() {
        r = resolve(doc, target).clone();
    }
    r["content"]["application/json"]["schema"].clone()
}

fn resolve<'a>(doc: &'a Value, target: &str) -> &'a Value {
    let path = target.strip_prefix("#/").unwrap_or_else(|| panic!("only local refs: {target}"));
    path.split('/').fold(doc, |v, part| &v[part])
}

/// Every way `value` departs from `schema`, with its JSON path.
pub fn violations(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(target) = schema["$ref"].as_str() {
        return violations(doc, resolve(doc, target), value, at, out);
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        if !types.iter().any(|t| *t == actual || (*t == "number" && actual == "integer")) {
            out.push(format!("{at}: {actual}, expected {types:?}"));
            return;
        }
    }
    if let Some(allowed) = schema["enum"].as_array().filter(|a| !a.contains(value)) {
        out.push(format!("{at}: {value} not in {allowed:?}"));
    }
    if let Value::Object(map) = value {
        for name in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if !map.contains_key(name) {
                out.push(format!("{at}: missing {name}"));
            }
        }
        for (name, v) in map {
            match schema["properties"].get(name) {
                Some(s) => violations(doc, s, v, &format!("{at}.{name}"), out),
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => out.push(format!("{at}: undocumented property {name}")),
                    Some(s @ Value::Object(_)) => violations(doc, s, v, &format!("{at}.{name}"), out),
                    _ => {}
                },
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            violations(doc, s, v, &format!("{at}[{i}]"), out);
        }
    }
}

/// Panics unless `body` is what the document promises for this route and status.
#[allow(dead_code)] // each test binary compiles its own copy; openapi.rs does not call this one
pub fn assert_documented(method: &str, path: &str, status: u16, body: &str) -> Value {
    let doc = doc();
    let value: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {body}"));
    let mut out = Vec::new();
    violations(&doc, &response_schema(&doc, method, path, status), &value, "$", &mut out);
    assert!(out.is_empty(), "{method} {path} {status} departs from openapi.json:\n{}\n{body}", out.join("\n"));
    value
}
