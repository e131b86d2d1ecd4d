//! `meta.k8s.io/v1` `Table` answers for `kubectl get` (printer columns).
//!
//! Pure functions: given a resource's columns and objects, build the Table JSON the real server
//! would send, with ages humanised the way `kubectl` prints them.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::registry::{ColumnSource, ResourceInfo};

/// What each row carries in `object` (`?includeObject=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses `?includeObject=`.
    pub fn parse(v: Option<&str>) -> Self {
        match v {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

/// Reads a simple JSONPath (`.spec.minNodes`, `.status.conditions[0].type`,
/// `.metadata.labels.app`) out of `obj`. `None` when absent.
pub fn path_value(obj: &Value, path: &str) -> Option<Value> {
    let path = path.trim();
    let path = path
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(path);
    let mut cur = obj;
    for part in split_path(path) {
        match part {
            PathPart::Key(k) => cur = cur.get(k.as_str())?,
            PathPart::Index(i) => cur = cur.get(i)?,
        }
    }
    if cur.is_null() {
        None
    } else {
        Some(cur.clone())
    }
}

enum PathPart {
    Key(String),
    Index(usize),
}

fn split_path(path: &str) -> Vec<PathPart> {
    let mut out = Vec::new();
    let mut chars = path.chars().peekable();
    let mut cur = String::new();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if !cur.is_empty() {
                    out.push(PathPart::Key(std::mem::take(&mut cur)));
                }
            }
            '[' => {
                if !cur.is_empty() {
                    out.push(PathPart::Key(std::mem::take(&mut cur)));
                }
                let mut inner = String::new();
                for c2 in chars.by_ref() {
                    if c2 == ']' {
                        break;
                    }
                    inner.push(c2);
                }
                let inner = inner.trim_matches(|c| c == '\'' || c == '"');
                match inner.parse::<usize>() {
                    Ok(i) => out.push(PathPart::Index(i)),
                    Err(_) => out.push(PathPart::Key(inner.to_string())),
                }
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(PathPart::Key(cur));
    }
    out
}

/// Humanises an age like `kubectl` (`45s`, `5m10s`, `3h`, `2d4h`, `1y30d`).
pub fn human_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds();
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = hours / 24;
        let d = days % 365;
        return if d == 0 {
            format!("{}y", days / 365)
        } else {
            format!("{}y{d}d", days / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Age since an RFC 3339 timestamp, humanised; `<unknown>` when it does not parse.
pub fn age_of(ts: Option<&str>, now: DateTime<Utc>) -> String {
    match ts.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) {
        Some(t) => human_duration(now - t.with_timezone(&Utc)),
        None => "<unknown>".into(),
    }
}

fn cell(info_col: &ColumnSource, type_: &str, obj: &Value, now: DateTime<Utc>) -> Value {
    match info_col {
        ColumnSource::Age => json!(age_of(
            obj.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str),
            now
        )),
        ColumnSource::Func(f) => f(obj, now),
        ColumnSource::Path(p) => match path_value(obj, p) {
            Some(Value::String(s)) if type_ == "date" => json!(age_of(Some(&s), now)),
            Some(v @ (Value::Object(_) | Value::Array(_))) => json!(v.to_string()),
            Some(v) => v,
            None => Value::Null,
        },
    }
}

/// One row of a table for `obj`.
pub fn row(info: &ResourceInfo, obj: &Value, now: DateTime<Utc>, include: IncludeObject) -> Value {
    let mut cells = Vec::with_capacity(info.columns.len() + 1);
    cells.push(obj.pointer("/metadata/name").cloned().unwrap_or(json!("")));
    for c in &info.columns {
        cells.push(cell(&c.source, &c.type_, obj, now));
    }
    let mut row = json!({ "cells": cells });
    match include {
        IncludeObject::None => {}
        IncludeObject::Object => row["object"] = obj.clone(),
        IncludeObject::Metadata => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata").cloned().unwrap_or(json!({})),
            })
        }
    }
    row
}

/// The `columnDefinitions` of a resource.
pub fn column_definitions(info: &ResourceInfo) -> Vec<Value> {
    let mut defs = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically."
    })];
    for c in &info.columns {
        // Ages are rendered by the server, so they are plain strings for the client.
        let type_ = if c.type_ == "date" {
            "string"
        } else {
            &c.type_
        };
        defs.push(json!({
            "name": c.name, "type": type_, "format": "", "priority": c.priority,
            "description": c.description,
        }));
    }
    defs
}

/// A whole `Table` for a list (or a single object / watch event when `objects` has one item).
pub fn table<'a>(
    info: &ResourceInfo,
    objects: impl Iterator<Item = &'a Value>,
    now: DateTime<Utc>,
    include: IncludeObject,
    list_meta: Value,
    with_columns: bool,
) -> Value {
    let rows: Vec<Value> = objects.map(|o| row(info, o, now, include)).collect();
    let mut t = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "rows": rows,
    });
    if with_columns {
        t["columnDefinitions"] = Value::Array(column_definitions(info));
    } else {
        t["columnDefinitions"] = Value::Array(Vec::new());
    }
    t
}

/// `Status` column of namespaces.
pub fn namespace_status(o: &Value, _: DateTime<Utc>) -> Value {
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        return json!("Terminating");
    }
    path_value(o, ".status.phase").unwrap_or(json!("Active"))
}

/// `Status` column of nodes: `Ready`, `NotReady`, `Unknown`, plus `,SchedulingDisabled`.
pub fn node_status(o: &Value, _: DateTime<Utc>) -> Value {
    let ready = o
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))
        })
        .and_then(|c| c.get("status").and_then(Value::as_str));
    let mut s = match ready {
        Some("True") => "Ready".to_string(),
        Some("False") => "NotReady".to_string(),
        _ => "Unknown".to_string(),
    };
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        s.push_str(",SchedulingDisabled");
    }
    json!(s)
}

/// `Roles` column of nodes.
pub fn node_roles(o: &Value, _: DateTime<Utc>) -> Value {
    let mut roles: Vec<&str> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| {
            l.keys()
                .filter_map(|k| k.strip_prefix("node-role.kubernetes.io/"))
                .filter(|r| !r.is_empty())
                .collect()
        })
        .unwrap_or_default();
    roles.sort_unstable();
    if roles.is_empty() {
        json!("<none>")
    } else {
        json!(roles.join(","))
    }
}

/// `Internal-IP` column of nodes.
pub fn node_internal_ip(o: &Value, _: DateTime<Utc>) -> Value {
    o.pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|x| x.get("type").and_then(Value::as_str) == Some("InternalIP"))
        })
        .and_then(|x| x.get("address").cloned())
        .unwrap_or(json!("<none>"))
}

/// `Ready` column of pods: `ready/total` containers.
pub fn pod_ready(o: &Value, _: DateTime<Utc>) -> Value {
    let total = o
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0);
    let ready = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|c| c.get("ready").and_then(Value::as_bool) == Some(true))
                .count()
        })
        .unwrap_or(0);
    json!(format!("{ready}/{total}"))
}

/// `Status` column of pods.
pub fn pod_status(o: &Value, _: DateTime<Utc>) -> Value {
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        return json!("Terminating");
    }
    if let Some(statuses) = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
    {
        for c in statuses {
            if let Some(r) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
                return json!(r);
            }
            if let Some(r) = c
                .pointer("/state/terminated/reason")
                .and_then(Value::as_str)
            {
                return json!(r);
            }
        }
    }
    if let Some(r) = o.pointer("/status/reason").and_then(Value::as_str) {
        return json!(r);
    }
    o.pointer("/status/phase")
        .cloned()
        .unwrap_or(json!("Pending"))
}

/// `Restarts` column of pods.
pub fn pod_restarts(o: &Value, _: DateTime<Utc>) -> Value {
    let n: i64 = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.get("restartCount").and_then(Value::as_i64))
                .sum()
        })
        .unwrap_or(0);
    json!(n.to_string())
}

/// `Data` column of secrets and config maps.
pub fn data_count(o: &Value, _: DateTime<Utc>) -> Value {
    let n = ["data", "binaryData", "stringData"]
        .iter()
        .filter_map(|k| o.get(*k).and_then(Value::as_object))
        .map(|m| m.len())
        .sum::<usize>();
    json!(n)
}

/// `Last Seen` column of events.
pub fn event_last_seen(o: &Value, now: DateTime<Utc>) -> Value {
    let ts = ["lastTimestamp", "eventTime", "firstTimestamp"]
        .iter()
        .filter_map(|k| o.get(*k).and_then(Value::as_str))
        .next()
        .or_else(|| {
            o.pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
        });
    json!(age_of(ts, now))
}

/// `Object` column of events: `kind/name`.
pub fn event_object(o: &Value, _: DateTime<Utc>) -> Value {
    let kind = o
        .pointer("/involvedObject/kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_lowercase();
    let name = o
        .pointer("/involvedObject/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    json!(format!("{kind}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let d = chrono::Duration::seconds;
        assert_eq!(human_duration(d(5)), "5s");
        assert_eq!(human_duration(d(130)), "2m10s");
        assert_eq!(human_duration(d(3600 * 3)), "3h");
        assert_eq!(human_duration(d(3600 * 50)), "2d2h");
    }

    #[test]
    fn json_paths_reach_nested_and_indexed_fields() {
        let o = json!({"spec": {"minNodes": 1}, "status": {"conditions": [{"type": "Ready"}]},
            "metadata": {"labels": {"a.b/c": "x"}}});
        assert_eq!(path_value(&o, ".spec.minNodes"), Some(json!(1)));
        assert_eq!(
            path_value(&o, ".status.conditions[0].type"),
            Some(json!("Ready"))
        );
        assert_eq!(path_value(&o, ".metadata.labels.a\\.b/c"), Some(json!("x")));
        assert_eq!(path_value(&o, ".status.currentNodes"), None);
    }

    #[test]
    fn pod_cells_follow_container_states() {
        let now = Utc::now();
        let p = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]},
            "status": {"phase": "Running", "containerStatuses": [{"ready": true, "restartCount": 2}, {"ready": false, "restartCount": 1}]}});
        assert_eq!(pod_ready(&p, now), json!("1/2"));
        assert_eq!(pod_status(&p, now), json!("Running"));
        assert_eq!(pod_restarts(&p, now), json!("3"));
    }
}
