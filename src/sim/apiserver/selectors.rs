//! Label and field selectors (`?labelSelector=`, `?fieldSelector=`), parsed once and matched
//! against stored objects.

use serde_json::Value;

use super::error::StatusError;
use super::object::{field_text, Stored};
use super::registry::ResourceInfo;

#[derive(Debug, Clone, PartialEq)]
enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector (`app=web,tier!=db,env in (a,b),!legacy`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector(Vec<LabelReq>);

fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn set_values(s: &str) -> Option<Vec<String>> {
    let s = s.trim();
    let inner = s.strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

impl LabelSelector {
    /// Parses a selector string; an error names the bad requirement.
    pub fn parse(s: &str) -> Result<Self, StatusError> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let bad = || {
                StatusError::bad_request(format!(
                    "unable to parse requirement: invalid label selector {part:?}: use key=value, key!=value, key in (a,b), key notin (a), key or !key"
                ))
            };
            if let Some(k) = part.strip_prefix('!') {
                reqs.push(LabelReq::NotExists(k.trim().to_string()));
            } else if let Some((k, v)) = part.split_once("!=") {
                reqs.push(LabelReq::NotEq(k.trim().into(), v.trim().into()));
            } else if let Some((k, v)) = part.split_once("==") {
                reqs.push(LabelReq::Eq(k.trim().into(), v.trim().into()));
            } else if let Some((k, v)) = part.split_once('=') {
                reqs.push(LabelReq::Eq(k.trim().into(), v.trim().into()));
            } else if let Some((k, v)) = part.split_once(" notin ") {
                reqs.push(LabelReq::NotIn(
                    k.trim().into(),
                    set_values(v).ok_or_else(bad)?,
                ));
            } else if let Some((k, v)) = part.split_once(" in ") {
                reqs.push(LabelReq::In(
                    k.trim().into(),
                    set_values(v).ok_or_else(bad)?,
                ));
            } else if part.contains(' ') || part.contains('(') {
                return Err(bad());
            } else {
                reqs.push(LabelReq::Exists(part.to_string()));
            }
        }
        Ok(Self(reqs))
    }

    /// Whether the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `obj`'s labels satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        self.matches_meta(obj.get("metadata").unwrap_or(&Value::Null))
    }

    /// Whether the labels of an object's `metadata` satisfy every requirement.
    pub fn matches_meta(&self, meta: &Value) -> bool {
        let labels = meta.get("labels").and_then(Value::as_object);
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => !get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
        })
    }
}

/// Matches a `matchLabels`/`matchExpressions` selector object (PDBs, deployments).
pub fn selector_object_matches(selector: &Value, obj: &Value) -> bool {
    selector_meta_matches(selector, obj.get("metadata").unwrap_or(&Value::Null))
}

/// Like [`selector_object_matches`], from an object's `metadata`.
pub fn selector_meta_matches(selector: &Value, meta: &Value) -> bool {
    let labels = meta.get("labels").and_then(Value::as_object);
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    if let Some(ml) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in ml {
            if get(k) != v.as_str() {
                return false;
            }
        }
    }
    if let Some(exprs) = selector.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let have = get(key);
            let ok = match e.get("operator").and_then(Value::as_str) {
                Some("In") => have.is_some_and(|h| values.contains(&h)),
                Some("NotIn") => !have.is_some_and(|h| values.contains(&h)),
                Some("Exists") => have.is_some(),
                Some("DoesNotExist") => have.is_none(),
                _ => false,
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// A parsed field selector (`metadata.name=x,status.phase!=Running`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses `s`, refusing fields `info` does not support, as the real server does.
    pub fn parse(s: &str, info: &ResourceInfo) -> Result<Self, StatusError> {
        let mut reqs = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(StatusError::bad_request(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            let supported = field == "metadata.name"
                || field == "metadata.namespace"
                || info.field_selectors.iter().any(|f| f == field);
            if !supported {
                return Err(StatusError::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            reqs.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(Self(reqs))
    }

    /// Whether the selector selects everything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `obj` satisfies every requirement (a missing field reads as `""`).
    pub fn matches(&self, obj: &Value) -> bool {
        self.0
            .iter()
            .all(|(field, eq, want)| (field_text(obj, field) == *want) == *eq)
    }

    /// Whether a stored object satisfies every requirement, from its precomputed fields
    /// (parsing it only for a field that was not precomputed).
    pub fn matches_stored(&self, s: &Stored) -> bool {
        self.0.iter().all(|(field, eq, want)| {
            let have = s
                .field(field)
                .unwrap_or_else(|| field_text(&s.decode(), field));
            (have == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selectors_cover_all_operators() {
        let o = json!({"metadata": {"labels": {"app": "web", "env": "prod"}}});
        for (sel, want) in [
            ("app=web", true),
            ("app==web,env=prod", true),
            ("app!=web", false),
            ("env in (dev,prod)", true),
            ("env notin (prod)", false),
            ("app", true),
            ("!app", false),
            ("!missing,app in (web)", true),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&o),
                want,
                "{sel}"
            );
        }
        assert!(LabelSelector::parse("env in prod").is_err());
    }

    #[test]
    fn field_selectors_refuse_unknown_fields() {
        let info = super::super::registry::Registry::builtin()
            .get("", "v1", "pods")
            .unwrap();
        let s = FieldSelector::parse("spec.nodeName=n1,status.phase!=Failed", &info).unwrap();
        assert!(s.matches(&json!({"spec": {"nodeName": "n1"}, "status": {"phase": "Running"}})));
        assert!(!s.matches(&json!({"spec": {}, "status": {"phase": "Running"}})));
        let e = FieldSelector::parse("spec.bogus=1", &info).unwrap_err();
        assert_eq!(e.message, "field label not supported: spec.bogus");
    }
}
