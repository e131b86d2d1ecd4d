//! What a Kubernetes API server does with a custom object before storing it, done locally
//! against a generated CRD: prune unknown fields and non-nullable nulls, apply schema
//! defaults, check the OpenAPI v3 value constraints (type, format, bounds, lengths, item
//! counts, enums, required fields, set-lists) and evaluate the CEL rules
//! (`x-kubernetes-validations`, including transition rules against the old object).
//!
//! A simulated API server can call [`admit`] on every create, update and patch result so that
//! `kubectl apply` of a bad `NodeGroup` is refused as a real cluster would refuse it; the plugin
//! can use it to check a manifest offline.

use chrono::DateTime;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Map, Value};

use super::validation::{show, Collector, FieldError, ValidationErrors};

/// Keys every object may carry at its root besides what the schema declares.
const ROOT_KEYS: [&str; 3] = ["apiVersion", "kind", "metadata"];

/// Admits `object` (a create, or an update of `old`) the way an API server serving `crd` would.
/// Returns the object as it would be stored (pruned and defaulted), or every violation.
/// `metadata` is passed through untouched (the server validates it separately), and so is
/// `status`: dropping it on create or on main-resource updates (status subresource
/// semantics) is the caller's business.
pub fn admit(
    crd: &CustomResourceDefinition,
    object: &Value,
    old: Option<&Value>,
) -> Result<Value, ValidationErrors> {
    let schema =
        version_schema(crd, object).map_err(|(path, value, message)| ValidationErrors {
            errors: vec![FieldError::new(path, value, message)],
        })?;
    let mut c = Collector::default();
    let stored = prepare(&schema, object);
    check(&schema, &stored, "", &mut c);
    if c.is_empty() {
        // CEL rules only run on objects that pass the structural checks, as on a server.
        let old = old.map(|o| prepare(&schema, o));
        if let Err(errors) =
            kube::core::cel::Validator::new().validate(&schema, &stored, old.as_ref())
        {
            for e in errors.iter() {
                let at = lookup(&stored, &e.field_path);
                c.push(
                    if e.field_path.is_empty() {
                        "<root>".to_string()
                    } else {
                        e.field_path.clone()
                    },
                    at.map(render).unwrap_or_else(|| "<absent>".into()),
                    e.message.clone(),
                );
            }
        }
    }
    c.finish().map(|()| stored)
}

/// Prunes and defaults an object with the version's schema, as stored by a server.
fn prepare(schema: &Value, object: &Value) -> Value {
    let pruned = prune(schema, object, true);
    kube::core::cel::apply_defaults(schema, &pruned)
}

type Problem = (String, String, String);

fn version_schema(crd: &CustomResourceDefinition, object: &Value) -> Result<Value, Problem> {
    let group = &crd.spec.group;
    let kind = &crd.spec.names.kind;
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let object_kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if object_kind != kind {
        return Err((
            "kind".into(),
            show(object_kind),
            format!("must be {kind} for this CustomResourceDefinition; fix: set kind: {kind}"),
        ));
    }
    let served: Vec<String> = crd
        .spec
        .versions
        .iter()
        .filter(|v| v.served)
        .map(|v| format!("{group}/{}", v.name))
        .collect();
    let version = crd
        .spec
        .versions
        .iter()
        .find(|v| v.served && format!("{group}/{}", v.name) == api_version)
        .ok_or_else(|| {
            (
                "apiVersion".to_string(),
                show(api_version),
                format!(
                    "is not served for {kind}; fix: use one of {}",
                    served.join(", ")
                ),
            )
        })?;
    version
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .and_then(|s| serde_json::to_value(s).ok())
        .ok_or_else(|| {
            (
                "apiVersion".to_string(),
                show(api_version),
                "the CustomResourceDefinition has no schema for this version; fix: regenerate the CRD".to_string(),
            )
        })
}

fn is_nullable(schema: &Value) -> bool {
    schema.get("nullable").and_then(Value::as_bool) == Some(true)
}

fn preserves_unknown(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
}

/// Drops fields the schema does not declare and nulls of non-nullable fields.
fn prune(schema: &Value, value: &Value, root: bool) -> Value {
    match value {
        Value::Object(obj) => {
            if preserves_unknown(schema) {
                return value.clone();
            }
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let mut out = Map::new();
            for (key, child) in obj {
                if root && ROOT_KEYS.contains(&key.as_str()) {
                    out.insert(key.clone(), child.clone());
                    continue;
                }
                let child_schema = props.and_then(|p| p.get(key)).or(additional);
                if let Some(child_schema) = child_schema {
                    if child.is_null() && !is_nullable(child_schema) {
                        continue;
                    }
                    out.insert(key.clone(), prune(child_schema, child, false));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => match schema.get("items") {
            Some(item_schema) => {
                Value::Array(items.iter().map(|i| prune(item_schema, i, false)).collect())
            }
            None => value.clone(),
        },
        _ => value.clone(),
    }
}

/// Renders a JSON value for an error message.
fn render(v: &Value) -> String {
    match v {
        Value::String(s) => show(s),
        Value::Array(a) => format!("[{} items]", a.len()),
        Value::Object(_) => "{...}".into(),
        other => other.to_string(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The value at a path like `spec.scaleUpPolicy` or `spec.taints[0].key`, if present.
fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(root);
    }
    path.split('.').try_fold(root, |v, segment| {
        let mut parts = segment.split('[');
        let key = parts.next().unwrap_or_default();
        let mut v = if key.is_empty() { v } else { v.get(key)? };
        for index in parts {
            let i: usize = index.strip_suffix(']')?.parse().ok()?;
            v = v.get(i)?;
        }
        Some(v)
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(expected: &str, v: &Value) -> bool {
    match expected {
        "number" => v.is_number(),
        other => type_name(v) == other,
    }
}

fn num(schema: &Value, key: &str) -> Option<f64> {
    schema.get(key).and_then(Value::as_f64)
}

fn count(schema: &Value, key: &str) -> Option<usize> {
    schema
        .get(key)
        .and_then(Value::as_f64)
        .map(|n| if n <= 0.0 { 0 } else { n as usize })
}

/// Checks the OpenAPI value constraints of `value` against `schema`, recursively.
fn check(schema: &Value, value: &Value, path: &str, c: &mut Collector) {
    if value.is_null() {
        if !is_nullable(schema) && !path.is_empty() {
            c.push(
                path,
                "null",
                "must not be null; fix: give a value or remove the field",
            );
        }
        return;
    }
    if let Some(expected) = schema.get("type").and_then(Value::as_str) {
        if !type_matches(expected, value) {
            c.push(
                path,
                render(value),
                format!(
                    "must be of type {expected}, not {}; fix: write a {expected}",
                    type_name(value)
                ),
            );
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            let list: Vec<String> = allowed.iter().map(render).collect();
            c.push(
                path,
                render(value),
                format!("must be one of {}; fix: pick one of them", list.join(", ")),
            );
        }
    }
    match value {
        Value::Number(n) => check_number(schema, n, path, c),
        Value::String(s) => check_string(schema, s, path, c),
        Value::Array(items) => check_array(schema, items, path, c),
        Value::Object(obj) => check_object(schema, obj, path, c),
        Value::Bool(_) | Value::Null => {}
    }
}

fn check_number(schema: &Value, n: &serde_json::Number, path: &str, c: &mut Collector) {
    let Some(x) = n.as_f64() else { return };
    if schema.get("format").and_then(Value::as_str) == Some("int32")
        && !(f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&x)
    {
        c.push(
            path,
            n.to_string(),
            "must fit in a 32-bit integer; fix: use a smaller number",
        );
    }
    if let Some(min) = num(schema, "minimum") {
        if x < min {
            c.push(
                path,
                n.to_string(),
                format!("should be greater than or equal to {min}; fix: use {min} or more"),
            );
        }
    }
    if let Some(max) = num(schema, "maximum") {
        if x > max {
            c.push(
                path,
                n.to_string(),
                format!("should be less than or equal to {max}; fix: use {max} or less"),
            );
        }
    }
}

fn check_string(schema: &Value, s: &str, path: &str, c: &mut Collector) {
    let len = s.chars().count();
    if let Some(min) = count(schema, "minLength") {
        if len < min {
            c.push(
                path,
                show(s),
                format!("should be at least {min} chars long; fix: fill it in"),
            );
        }
    }
    if let Some(max) = count(schema, "maxLength") {
        if len > max {
            c.push(
                path,
                show(s),
                format!("may not be more than {max} chars long; fix: shorten it"),
            );
        }
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time")
        && DateTime::parse_from_rfc3339(s).is_err()
    {
        c.push(
            path,
            show(s),
            "must be an RFC 3339 date-time; fix: write e.g. 2025-10-12T10:00:00Z",
        );
    }
}

fn check_array(schema: &Value, items: &[Value], path: &str, c: &mut Collector) {
    if let Some(min) = count(schema, "minItems") {
        if items.len() < min {
            c.push(
                path,
                format!("[{} items]", items.len()),
                format!("should have at least {min} items; fix: add entries"),
            );
        }
    }
    if let Some(max) = count(schema, "maxItems") {
        if items.len() > max {
            c.push(
                path,
                format!("[{} items]", items.len()),
                format!("must have at most {max} items; fix: remove entries"),
            );
        }
    }
    if schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("set") {
        for (i, item) in items.iter().enumerate() {
            if items[..i].contains(item) {
                c.push(
                    format!("{path}[{i}]"),
                    render(item),
                    "duplicate entry in a set; fix: remove the duplicate",
                );
            }
        }
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            check(item_schema, item, &format!("{path}[{i}]"), c);
        }
    }
}

fn check_object(schema: &Value, obj: &Map<String, Value>, path: &str, c: &mut Collector) {
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if !obj.contains_key(key) {
                c.push(
                    join(path, key),
                    "<absent>",
                    format!("Required value; fix: set {}", join(path, key)),
                );
            }
        }
    }
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (key, child) in obj {
        if path.is_empty() && ROOT_KEYS.contains(&key.as_str()) {
            continue;
        }
        if let Some(child_schema) = props.and_then(|p| p.get(key)) {
            check(child_schema, child, &join(path, key), c);
        } else if let Some(value_schema) = additional {
            check(value_schema, child, &format!("{path}[{key}]"), c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_follows_keys_and_indices() {
        let v = json!({"spec": {"taints": [{"key": "a"}, {"key": "b"}], "n": 1}});
        assert_eq!(lookup(&v, "spec.n"), Some(&json!(1)));
        assert_eq!(lookup(&v, "spec.taints[1].key"), Some(&json!("b")));
        assert_eq!(lookup(&v, ""), Some(&v));
        assert_eq!(lookup(&v, "spec.taints[9]"), None);
        assert_eq!(lookup(&v, "spec.taints[x]"), None);
        assert_eq!(lookup(&v, "spec.missing"), None);
    }

    #[test]
    fn render_keeps_messages_short() {
        assert_eq!(render(&json!("x")), "\"x\"");
        assert_eq!(render(&json!([1, 2])), "[2 items]");
        assert_eq!(render(&json!({"a": 1})), "{...}");
        assert_eq!(render(&json!(1.5)), "1.5");
    }
}
