//! How one object is kept in the store: its serialized JSON (compact, served as-is by lists and
//! watches) plus the few parsed bits selectors and the garbage collector need (metadata and the
//! values of the resource's selectable fields), so lists and watches rarely parse anything.

use axum::body::Bytes;
use serde_json::Value;

/// One stored object. Its `Debug` names it without its content (Secrets hold credentials).
pub struct Stored {
    json: Bytes,
    api_version: Box<str>,
    meta: Value,
    fields: Box<[(Box<str>, Box<str>)]>,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&describe(&self.meta, &self.api_version))
    }
}

/// `apiVersion namespace/name@resourceVersion` of an object: what `Debug` output may show.
pub fn describe(meta: &Value, api_version: &str) -> String {
    let s = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or("");
    format!(
        "{api_version} {}/{}@{}",
        s("namespace"),
        s("name"),
        s("resourceVersion")
    )
}

/// A field's value as field selectors compare it (`""` when absent).
pub fn field_text(obj: &Value, path: &str) -> String {
    let mut cur = Some(obj);
    for p in path.split('.') {
        cur = cur.and_then(|c| c.get(p));
    }
    match cur {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

impl Stored {
    /// Serializes `obj`, keeping its metadata and the values of `field_paths`.
    pub fn encode(obj: &Value, field_paths: &[String]) -> Self {
        let json = Bytes::from(serde_json::to_vec(obj).unwrap_or_else(|_| b"{}".to_vec()));
        let fields = field_paths
            .iter()
            .map(|p| (p.as_str().into(), field_text(obj, p).into_boxed_str()))
            .collect();
        Self {
            json,
            api_version: obj
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            meta: obj.get("metadata").cloned().unwrap_or(Value::Null),
            fields,
        }
    }

    /// The serialized object.
    pub fn json(&self) -> &Bytes {
        &self.json
    }

    /// The object, parsed.
    pub fn decode(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }

    /// `apiVersion` it was written with.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// Its `metadata`.
    pub fn meta(&self) -> &Value {
        &self.meta
    }

    /// A string field of `metadata`.
    pub fn meta_str(&self, field: &str) -> Option<&str> {
        self.meta.get(field).and_then(Value::as_str)
    }

    /// The value of a field selector path (`metadata.*` from the metadata, others precomputed);
    /// `None` when the path was not precomputed.
    pub fn field(&self, path: &str) -> Option<String> {
        if let Some(m) = path.strip_prefix("metadata.") {
            return Some(field_text(&self.meta, m));
        }
        self.fields
            .iter()
            .find(|(p, _)| &**p == path)
            .map(|(_, v)| v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_output_never_shows_secret_data() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "vpsie-secret", "namespace": "kube-system"},
            "data": {"clientSecret": "c2VjcmV0"}});
        let shown = format!("{:?}", Stored::encode(&secret, &[]));
        assert!(
            !shown.contains("c2VjcmV0") && shown.contains("vpsie-secret"),
            "{shown}"
        );
    }

    #[test]
    fn stored_objects_answer_selectors_without_parsing() {
        let o = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}},
            "spec": {"nodeName": "n1", "replicas": 3}});
        let s = Stored::encode(
            &o,
            &[
                "spec.nodeName".into(),
                "spec.replicas".into(),
                "status.phase".into(),
            ],
        );
        assert_eq!(s.field("spec.nodeName").as_deref(), Some("n1"));
        assert_eq!(s.field("spec.replicas").as_deref(), Some("3"));
        assert_eq!(s.field("status.phase").as_deref(), Some(""));
        assert_eq!(s.field("metadata.name").as_deref(), Some("p"));
        assert_eq!(s.field("spec.other"), None);
        assert_eq!(s.decode(), o);
        assert_eq!(s.api_version(), "v1");
        assert_eq!(format!("{s:?}"), "v1 /p@");
    }
}
