//! Structural-schema handling for custom resources: defaulting, pruning of unknown fields,
//! OpenAPI validation (type, enum, minimum/maximum, lengths, items, required) and
//! `x-kubernetes-validations` CEL rules (via `kube-cel`, transition rules with `oldSelf` on
//! update). Failures become a `422 Invalid` whose causes name each field, as the real server.

use serde_json::{json, Map, Value};

use super::error::{FieldCause, StatusError};
use super::registry::ResourceInfo;

/// Evaluates CEL rules; built once per server (it registers every Kubernetes CEL function).
pub struct CelEngine(kube_cel::Validator);

impl std::fmt::Debug for CelEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CelEngine")
    }
}

impl Default for CelEngine {
    fn default() -> Self {
        Self(kube_cel::Validator::new())
    }
}

/// Defaults, prunes and validates `obj` against `info`'s schema. `old` is the live object on an
/// update (for transition rules). `strict` refuses unknown fields (`fieldValidation=Strict`)
/// instead of dropping them.
pub fn admit(
    engine: &CelEngine,
    info: &ResourceInfo,
    obj: &mut Value,
    old: Option<&Value>,
    strict: bool,
) -> Result<(), StatusError> {
    let Some(schema) = info.schema.as_deref() else {
        return Ok(());
    };
    // A default may itself hold defaulted fields (`default: {}`): repeat to a fixed point.
    for _ in 0..8 {
        let defaulted = kube_cel::apply_defaults(schema, obj);
        if defaulted == *obj {
            break;
        }
        *obj = defaulted;
    }
    let mut unknown = Vec::new();
    prune(schema, obj, "", &mut unknown, true);
    if strict && !unknown.is_empty() {
        let list = unknown
            .iter()
            .map(|u| format!("unknown field \"{u}\""))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(StatusError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {list}",
            kind = info.kind,
            version = info.version,
        )));
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut causes = Vec::new();
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (k, sub) in props {
            if k == "metadata" || k == "apiVersion" || k == "kind" {
                continue;
            }
            if let Some(v) = obj.get(k) {
                check(sub, v, k, &mut causes);
            }
        }
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if obj.get(r).is_none() {
                    causes.push(FieldCause::required(r));
                }
            }
        }
    }
    if causes.is_empty() {
        if let Err(errors) = engine.0.validate(schema, obj, old) {
            for e in errors.into_vec() {
                let field = e.field_path.trim_start_matches('.').to_string();
                causes.push(FieldCause::invalid(
                    if field.is_empty() {
                        "<root>".to_string()
                    } else {
                        field
                    },
                    Some(json!("object")),
                    e.message,
                ));
            }
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(StatusError::invalid(&info.kind, &info.group, &name, causes))
    }
}

/// The CEL rules of a CRD version's schema that do not compile, as 422 causes (the real server
/// refuses such a CRD instead of failing every object later).
pub fn crd_rule_errors(version_index: usize, schema: &Value) -> Vec<FieldCause> {
    fn walk(c: &kube_cel::CompiledSchema, path: &str, out: &mut Vec<FieldCause>) {
        for e in c.compilation_errors() {
            out.push(FieldCause::invalid(
                format!("{path}.x-kubernetes-validations"),
                None,
                format!("compilation failed: {e}"),
            ));
        }
        let mut names: Vec<&String> = c.properties.keys().collect();
        names.sort();
        for name in names {
            if let Some(child) = c.properties.get(name) {
                walk(child, &format!("{path}.properties[{name}]"), out);
            }
        }
        if let Some(items) = &c.items {
            walk(items, &format!("{path}.items"), out);
        }
        if let Some(additional) = &c.additional_properties {
            walk(additional, &format!("{path}.additionalProperties"), out);
        }
    }
    let mut out = Vec::new();
    let compiled = kube_cel::compile_schema(schema);
    walk(
        &compiled,
        &format!("spec.versions[{version_index}].schema.openAPIV3Schema"),
        &mut out,
    );
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn prune(schema: &Value, v: &mut Value, path: &str, unknown: &mut Vec<String>, root: bool) {
    let preserve = schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true);
    if schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true)
    {
        return;
    }
    match v {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if root && (k == "apiVersion" || k == "kind" || k == "metadata") {
                    continue;
                }
                if let Some(sub) = props.and_then(|p| p.get(&k)) {
                    if let Some(child) = map.get_mut(&k) {
                        prune(sub, child, &join(path, &k), unknown, false);
                    }
                } else if let Some(sub) = additional {
                    if let Some(child) = map.get_mut(&k) {
                        prune(sub, child, &join(path, &k), unknown, false);
                    }
                } else if !preserve
                    && schema.get("additionalProperties").and_then(Value::as_bool) != Some(true)
                {
                    map.remove(&k);
                    unknown.push(join(path, &k));
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune(sub, item, &format!("{path}[{i}]"), unknown, false);
                }
            }
        }
        _ => {}
    }
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

fn check(schema: &Value, v: &Value, path: &str, causes: &mut Vec<FieldCause>) {
    if v.is_null() && schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        return;
    }
    let int_or_string = schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true);
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let have = type_name(v);
        let ok = have == t
            || (t == "number" && have == "integer")
            || (int_or_string && (have == "integer" || have == "string"));
        if !ok {
            causes.push(FieldCause::invalid(
                path,
                Some(json!(have)),
                format!("{path} in body must be of type {t}: \"{have}\""),
            ));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(v) {
            let list = options
                .iter()
                .map(|o| o.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            causes.push(FieldCause {
                reason: "FieldValueNotSupported",
                field: path.to_string(),
                value: Some(v.clone()),
                detail: format!("supported values: {list}"),
            });
        }
    }
    if let Some(n) = v.as_f64() {
        let num = |k: &str| schema.get(k).and_then(Value::as_f64);
        let fmt = |x: f64| {
            if x.fract() == 0.0 {
                format!("{}", x as i64)
            } else {
                x.to_string()
            }
        };
        if let Some(min) = num("minimum") {
            let excl = schema.get("exclusiveMinimum").and_then(Value::as_bool) == Some(true);
            if n < min || (excl && n == min) {
                let rel = if excl {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                causes.push(FieldCause::invalid(
                    path,
                    Some(v.clone()),
                    format!("{path} in body should be {rel} {}", fmt(min)),
                ));
            }
        }
        if let Some(max) = num("maximum") {
            let excl = schema.get("exclusiveMaximum").and_then(Value::as_bool) == Some(true);
            if n > max || (excl && n == max) {
                let rel = if excl {
                    "less than"
                } else {
                    "less than or equal to"
                };
                causes.push(FieldCause::invalid(
                    path,
                    Some(v.clone()),
                    format!("{path} in body should be {rel} {}", fmt(max)),
                ));
            }
        }
    }
    if let Some(s) = v.as_str() {
        let len = s.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
            if len < min {
                causes.push(FieldCause::invalid(
                    path,
                    Some(v.clone()),
                    format!("{path} in body should be at least {min} chars long"),
                ));
            }
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
            if len > max {
                causes.push(FieldCause {
                    reason: "FieldValueTooLong",
                    field: path.to_string(),
                    value: None,
                    detail: format!("Too long: may not be more than {max} bytes"),
                });
            }
        }
    }
    match v {
        Value::Array(items) => {
            let n = items.len() as u64;
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                if n < min {
                    causes.push(FieldCause::invalid(
                        path,
                        Some(json!(n)),
                        format!("{path} in body should have at least {min} items"),
                    ));
                }
            }
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
                if n > max {
                    causes.push(FieldCause {
                        reason: "FieldValueTooMany",
                        field: path.to_string(),
                        value: None,
                        detail: format!("Too many: {n}: must have at most {max} items"),
                    });
                }
            }
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(sub, item, &format!("{path}[{i}]"), causes);
                }
            }
        }
        Value::Object(map) => {
            check_object(schema, map, path, causes);
        }
        _ => {}
    }
}

fn check_object(
    schema: &Value,
    map: &Map<String, Value>,
    path: &str,
    causes: &mut Vec<FieldCause>,
) {
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        for r in req.iter().filter_map(Value::as_str) {
            if !map.contains_key(r) {
                causes.push(FieldCause::required(join(path, r)));
            }
        }
    }
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object());
    for (k, child) in map {
        if let Some(sub) = props.and_then(|p| p.get(k)) {
            check(sub, child, &join(path, k), causes);
        } else if let Some(sub) = additional {
            check(sub, child, &join(path, k), causes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::apiserver::registry::from_crd;

    fn info() -> ResourceInfo {
        let crd = json!({"metadata": {"name": "things.g.io"}, "spec": {"group": "g.io", "scope": "Namespaced",
            "names": {"plural": "things", "kind": "Thing"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "required": ["minNodes", "maxNodes"],
                    "x-kubernetes-validations": [{"rule": "self.maxNodes >= self.minNodes", "message": "maxNodes must be >= minNodes", "fieldPath": ".maxNodes"}],
                    "properties": {
                        "minNodes": {"type": "integer", "minimum": 0},
                        "maxNodes": {"type": "integer", "minimum": 1},
                        "mode": {"type": "string", "default": "auto", "enum": ["auto", "manual"]}}}}}}}]}});
        from_crd(&crd).unwrap().remove(0)
    }

    fn obj(spec: Value) -> Value {
        json!({"apiVersion": "g.io/v1", "kind": "Thing", "metadata": {"name": "t"}, "spec": spec})
    }

    #[test]
    fn defaults_are_applied_and_unknown_fields_pruned() {
        let engine = CelEngine::default();
        let mut o = obj(json!({"minNodes": 1, "maxNodes": 2, "bogus": true}));
        admit(&engine, &info(), &mut o, None, false).unwrap();
        assert_eq!(o["spec"]["mode"], "auto");
        assert!(o["spec"].get("bogus").is_none());
        let mut o = obj(json!({"minNodes": 1, "maxNodes": 2, "bogus": true}));
        let e = admit(&engine, &info(), &mut o, None, true).unwrap_err();
        assert!(
            e.message.contains("unknown field \"spec.bogus\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn schema_violations_name_the_field() {
        let engine = CelEngine::default();
        let mut o = obj(json!({"minNodes": -1, "maxNodes": 0, "mode": "x"}));
        let e = admit(&engine, &info(), &mut o, None, false).unwrap_err();
        assert_eq!(e.code, 422);
        let mut fields: Vec<String> = e.details.as_ref().unwrap()["causes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["field"].as_str().unwrap().to_string())
            .collect();
        fields.sort();
        assert_eq!(fields, vec!["spec.maxNodes", "spec.minNodes", "spec.mode"]);
        let mut o = obj(json!({"minNodes": 1}));
        let e = admit(&engine, &info(), &mut o, None, false).unwrap_err();
        assert!(
            e.message.contains("spec.maxNodes: Required value"),
            "{}",
            e.message
        );
    }

    #[test]
    fn crds_with_rules_that_do_not_compile_are_named() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "x-kubernetes-validations": [{"rule": "self.maxNodes >=", "message": "broken"}]}}});
        let errors = crd_rule_errors(0, &schema);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].field,
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations"
        );
        assert!(crd_rule_errors(0, &json!({"type": "object"})).is_empty());
    }

    #[test]
    fn cel_rules_run_with_field_path() {
        let engine = CelEngine::default();
        let mut o = obj(json!({"minNodes": 5, "maxNodes": 2}));
        let e = admit(&engine, &info(), &mut o, None, false).unwrap_err();
        assert_eq!(
            e.message,
            "Thing.g.io \"t\" is invalid: spec.maxNodes: Invalid value: \"object\": maxNodes must be >= minNodes"
        );
    }
}
