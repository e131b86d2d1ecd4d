//! Patch kinds the server accepts and how each one is applied (pure functions).
//!
//! - `application/merge-patch+json`: RFC 7386.
//! - `application/json-patch+json`: RFC 6902, `test` included (the `json-patch` crate).
//! - `application/strategic-merge-patch+json`: maps merge, known lists merge by their key
//!   (`containers` by `name`, `conditions` by `type`...), `$patch: delete|replace`,
//!   `$deleteFromPrimitiveList/<field>`; other lists are replaced. Refused for custom resources.
//! - `application/apply-patch+yaml`: server-side apply, simplified: the applied configuration is
//!   merged into the live object (maps recursively, keyed lists by key, other lists replaced), so
//!   applying the same configuration twice changes nothing; [`remove_unapplied`] first drops what
//!   the same field manager applied before and no longer applies.

use serde_json::{Map, Value};

use super::error::StatusError;

/// The kind of a PATCH request, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// RFC 7386 JSON merge patch.
    Merge,
    /// RFC 6902 JSON patch.
    Json,
    /// Kubernetes strategic merge patch.
    Strategic,
    /// Server-side apply.
    Apply,
}

impl PatchKind {
    /// From a `Content-Type` header; `415` for anything else.
    pub fn from_content_type(ct: &str) -> Result<Self, StatusError> {
        let base = ct.split(';').next().unwrap_or("").trim();
        match base {
            "application/merge-patch+json" => Ok(Self::Merge),
            "application/json-patch+json" => Ok(Self::Json),
            "application/strategic-merge-patch+json" => Ok(Self::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(Self::Apply),
            _ => Err(StatusError::unsupported_media_type(ct)),
        }
    }
}

/// Applies a patch body of `kind` to `target` (a copy of the live object, or `{}` for an
/// apply that creates).
pub fn apply_patch(kind: PatchKind, target: &mut Value, body: &[u8]) -> Result<(), StatusError> {
    match kind {
        PatchKind::Merge => {
            let patch: Value = parse_json(body)?;
            json_patch::merge(target, &patch);
            Ok(())
        }
        PatchKind::Json => {
            let patch: json_patch::Patch = serde_json::from_slice(body).map_err(|e| {
                StatusError::bad_request(format!(
                    "the JSON patch is not valid: {e}: send an array of RFC 6902 operations"
                ))
            })?;
            json_patch::patch(target, &patch).map_err(|e| {
                StatusError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })
        }
        PatchKind::Strategic => {
            let patch: Value = parse_json(body)?;
            strategic_merge(target, &patch);
            Ok(())
        }
        PatchKind::Apply => {
            let patch = parse_apply(body)?;
            apply_merge(target, &patch);
            Ok(())
        }
    }
}

/// Parses a server-side apply body (YAML or JSON).
pub fn parse_apply(body: &[u8]) -> Result<Value, StatusError> {
    let v: Value = crate::yaml::from_slice(body).map_err(|e| {
        StatusError::bad_request(format!(
            "error decoding YAML: {e}: the apply configuration must be one YAML or JSON object"
        ))
    })?;
    if !v.is_object() {
        return Err(StatusError::bad_request(
            "the apply configuration must be an object with apiVersion, kind and metadata.name",
        ));
    }
    Ok(v)
}

fn parse_json(body: &[u8]) -> Result<Value, StatusError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        StatusError::bad_request(format!(
            "error decoding patch: {e}: the patch must be a JSON object"
        ))
    })?;
    if !v.is_object() {
        return Err(StatusError::bad_request(
            "the patch must be a JSON object for merge and strategic merge patches",
        ));
    }
    Ok(v)
}

/// The merge key of a list field in builtin types, when it has one.
fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "ports" => "containerPort",
        "volumeMounts" | "volumeDevices" => "mountPath",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        _ => return None,
    })
}

/// The merge key of one item: `ports` of a container are keyed by `containerPort`, those of a
/// Service (which have none) by `port`.
fn item_key<'a>(key: &'a str, item: &Value) -> &'a str {
    if key == "containerPort" && item.get("containerPort").is_none() {
        "port"
    } else {
        key
    }
}

/// Lists of scalars merged as sets.
fn is_set_list(field: &str) -> bool {
    matches!(field, "finalizers")
}

/// RFC-compatible strategic merge of `patch` into `target`.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut clean = p.clone();
        clean.remove("$patch");
        *target = Value::Object(clean);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(t) = target.as_object_mut() else {
        return;
    };
    for (k, v) in p {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Value::Array(remove)) = (t.get_mut(field), v) {
                list.retain(|x| !remove.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        match v {
            Value::Null => {
                t.remove(k);
            }
            Value::Object(_) => {
                let entry = t.entry(k.clone()).or_insert(Value::Null);
                strategic_merge(entry, v);
            }
            Value::Array(items) => {
                if let Some(key) = merge_key(k) {
                    let entry = t.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                    merge_keyed_list(entry, items, key, true);
                } else if is_set_list(k) {
                    let entry = t.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                    if let Value::Array(list) = entry {
                        for item in items {
                            if !list.contains(item) {
                                list.push(item.clone());
                            }
                        }
                    }
                } else {
                    t.insert(k.clone(), v.clone());
                }
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

fn merge_keyed_list(target: &mut Value, items: &[Value], key: &str, strategic: bool) {
    if !target.is_array() {
        *target = Value::Array(Vec::new());
    }
    let Some(list) = target.as_array_mut() else {
        return;
    };
    for item in items {
        let key = item_key(key, item);
        let Some(kv) = item.get(key).cloned() else {
            list.push(item.clone());
            continue;
        };
        let pos = list.iter().position(|x| x.get(key) == Some(&kv));
        let delete = strategic && item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                list.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => {
                if strategic {
                    strategic_merge(&mut list[i], item);
                } else {
                    apply_merge(&mut list[i], item);
                }
            }
            (None, false) => {
                let mut clean = item.clone();
                if let Some(o) = clean.as_object_mut() {
                    o.retain(|k, _| !k.starts_with('$'));
                }
                list.push(clean);
            }
        }
    }
}

/// Simplified server-side apply merge: maps merge recursively, keyed lists merge by key, other
/// lists and scalars are replaced by the applied value.
pub fn apply_merge(target: &mut Value, applied: &Value) {
    let Value::Object(a) = applied else {
        *target = applied.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(t) = target.as_object_mut() else {
        return;
    };
    for (k, v) in a {
        match v {
            Value::Object(_) => {
                let entry = t.entry(k.clone()).or_insert(Value::Null);
                apply_merge(entry, v);
            }
            Value::Array(items) => match merge_key(k) {
                Some(key) => {
                    let entry = t.entry(k.clone()).or_insert(Value::Array(Vec::new()));
                    merge_keyed_list(entry, items, key, false);
                }
                None => {
                    t.insert(k.clone(), v.clone());
                }
            },
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Field-manager-aware part of server-side apply: removes from `target` what the same manager
/// applied before (`prev`) but no longer applies (`new`), unless another manager's last applied
/// configuration (`others`) still sets it. Maps recurse; keyed lists (`conditions` by `type`...)
/// lose the items the manager dropped.
pub fn remove_unapplied(target: &mut Value, prev: &Value, new: &Value, others: &[&Value]) {
    remove_unapplied_at(target, prev, new, others, true);
}

fn remove_unapplied_at(
    target: &mut Value,
    prev: &Value,
    new: &Value,
    others: &[&Value],
    root: bool,
) {
    let (Value::Object(p), Value::Object(t)) = (prev, target) else {
        return;
    };
    for (k, pv) in p {
        if root && (k == "apiVersion" || k == "kind") {
            continue;
        }
        if root && k == "metadata" {
            // Only labels and annotations of the metadata are owned by appliers.
            for sub in ["labels", "annotations"] {
                let (Some(pm), Some(tm)) = (pv.get(sub), t.get_mut(k).and_then(|m| m.get_mut(sub)))
                else {
                    continue;
                };
                let nm = new.get(k).and_then(|m| m.get(sub)).unwrap_or(&Value::Null);
                let om: Vec<&Value> = others
                    .iter()
                    .filter_map(|o| o.get(k).and_then(|m| m.get(sub)))
                    .collect();
                remove_unapplied_at(tm, pm, nm, &om, false);
            }
            continue;
        }
        let nv = new.get(k);
        let ov: Vec<&Value> = others.iter().filter_map(|o| o.get(k)).collect();
        match (nv, pv) {
            (None, _) if ov.is_empty() => {
                t.remove(k);
            }
            (None, Value::Object(_)) => {
                if let Some(child) = t.get_mut(k) {
                    remove_unapplied_at(child, pv, &Value::Null, &ov, false);
                }
            }
            (Some(nv @ Value::Object(_)), Value::Object(_)) => {
                if let Some(child) = t.get_mut(k) {
                    remove_unapplied_at(child, pv, nv, &ov, false);
                }
            }
            (_, Value::Array(prev_items)) => {
                let Some(key) = merge_key(k) else { continue };
                let keys_in = |v: Option<&Value>| -> Vec<Value> {
                    v.and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|i| i.get(item_key(key, i)).cloned())
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let kept: Vec<Value> = keys_in(nv)
                    .into_iter()
                    .chain(ov.iter().flat_map(|o| keys_in(Some(o))))
                    .collect();
                let dropped: Vec<Value> = prev_items
                    .iter()
                    .filter_map(|i| i.get(item_key(key, i)).cloned())
                    .filter(|kv| !kept.contains(kv))
                    .collect();
                if let Some(Value::Array(list)) = t.get_mut(k) {
                    list.retain(|i| {
                        !i.get(item_key(key, i))
                            .is_some_and(|kv| dropped.contains(kv))
                    });
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_ports_merge_by_port_and_container_ports_by_container_port() {
        let applied = json!({"spec": {"ports": [{"name": "metrics", "port": 8080, "targetPort": "metrics"}]}});
        let mut live = applied.clone();
        apply_merge(&mut live, &applied);
        assert_eq!(live, applied, "applying a Service twice keeps one port");
        let c = json!({"ports": [{"containerPort": 80, "name": "a"}]});
        let mut live = c.clone();
        apply_merge(
            &mut live,
            &json!({"ports": [{"containerPort": 80, "name": "b"}]}),
        );
        assert_eq!(live, json!({"ports": [{"containerPort": 80, "name": "b"}]}));
    }

    #[test]
    fn strategic_merge_merges_containers_by_name_and_deletes() {
        let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]},
            "metadata": {"finalizers": ["f1"]}});
        let patch = json!({"spec": {"containers": [{"name": "a", "image": "z"}, {"name": "b", "$patch": "delete"}]},
            "metadata": {"finalizers": ["f2"], "labels": {"l": "v"}}});
        strategic_merge(&mut pod, &patch);
        assert_eq!(
            pod["spec"]["containers"],
            json!([{"name": "a", "image": "z"}])
        );
        assert_eq!(pod["metadata"]["finalizers"], json!(["f1", "f2"]));
        assert_eq!(pod["metadata"]["labels"]["l"], "v");
    }

    #[test]
    fn apply_merge_is_idempotent() {
        let applied =
            json!({"spec": {"minNodes": 1, "tags": ["a"]}, "metadata": {"labels": {"x": "1"}}});
        let mut live = json!({"spec": {"minNodes": 0, "maxNodes": 3}, "metadata": {"uid": "u"}});
        apply_merge(&mut live, &applied);
        let once = live.clone();
        apply_merge(&mut live, &applied);
        assert_eq!(live, once);
        assert_eq!(live["spec"]["maxNodes"], 3);
        assert_eq!(live["spec"]["minNodes"], 1);
    }

    #[test]
    fn a_manager_removes_what_it_no_longer_applies() {
        let prev = json!({"metadata": {"labels": {"a": "1", "b": "2"}},
            "status": {"phase": "Scaling", "conditions": [{"type": "Ready"}, {"type": "ScalingUp"}]}});
        let new = json!({"metadata": {"labels": {"a": "1"}},
            "status": {"conditions": [{"type": "Ready"}]}});
        let other = json!({"metadata": {"labels": {"b": "2"}}});
        let mut live = json!({"metadata": {"name": "x", "labels": {"a": "1", "b": "2", "c": "3"}},
            "spec": {"minNodes": 1},
            "status": {"phase": "Scaling", "conditions": [{"type": "Ready"}, {"type": "ScalingUp"}, {"type": "Mine"}]}});
        remove_unapplied(&mut live, &prev, &new, &[&other]);
        apply_merge(&mut live, &new);
        assert_eq!(
            live["metadata"]["labels"],
            json!({"a": "1", "b": "2", "c": "3"})
        );
        assert!(live["status"].get("phase").is_none());
        assert_eq!(
            live["status"]["conditions"],
            json!([{"type": "Ready"}, {"type": "Mine"}])
        );
        assert_eq!(live["spec"]["minNodes"], 1);
        let mut alone = live.clone();
        remove_unapplied(
            &mut alone,
            &json!({"metadata": {"labels": {"a": "1"}}}),
            &json!({}),
            &[],
        );
        assert!(alone["metadata"]["labels"].get("a").is_none());
    }

    #[test]
    fn json_patch_test_op_failure_is_reported() {
        let mut v = json!({"metadata": {"finalizers": ["a"]}});
        let body = br#"[{"op":"test","path":"/metadata/finalizers/0","value":"b"},{"op":"remove","path":"/metadata/finalizers/0"}]"#;
        let err = apply_patch(PatchKind::Json, &mut v, body).unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(v["metadata"]["finalizers"], json!(["a"]));
    }

    #[test]
    fn unknown_content_type_is_415() {
        assert_eq!(
            PatchKind::from_content_type("text/plain").unwrap_err().code,
            415
        );
        assert_eq!(
            PatchKind::from_content_type("application/merge-patch+json; charset=utf-8").unwrap(),
            PatchKind::Merge
        );
    }
}
