//! Errors of the simulated API server.
//!
//! [`ApiServerError`] is what starting, stopping and configuring the server can fail with.
//! [`StatusError`] is a refused API request: it becomes a Kubernetes `Status` object with the
//! HTTP code, `reason` and message wording of the real API server, so kube-rs and kubectl map it
//! exactly as they would against a cluster.

use serde_json::{json, Value};

/// A failure to start, configure or stop the simulated API server.
#[derive(Debug, thiserror::Error)]
pub enum ApiServerError {
    /// The listening socket could not be opened.
    #[error(
        "cannot listen on 127.0.0.1:{port}: {source} (pick another port or 0 for any free one)"
    )]
    Bind {
        /// The port asked for.
        port: u16,
        /// Why binding failed.
        source: std::io::Error,
    },
    /// A kube client could not be built for the server's URL.
    #[error("cannot build a kube client for {url}: {message}")]
    Client {
        /// The server URL.
        url: String,
        /// What kube-rs said.
        message: String,
    },
    /// The kubeconfig could not be written.
    #[error("cannot write the kubeconfig to {path}: {source}")]
    WriteKubeconfig {
        /// Where it should have gone.
        path: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A builtin object (namespace, fixture) was refused at start.
    #[error("cannot seed the store: {0}")]
    Seed(#[from] StatusError),
}

/// A refused API request, answered as a `Status` object.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} ({reason}, {code})")]
pub struct StatusError {
    /// HTTP status code.
    pub code: u16,
    /// `Status.reason`, e.g. `NotFound`.
    pub reason: &'static str,
    /// Human-readable message, worded like the real server.
    pub message: String,
    /// `Status.details`, when the real server sends some.
    pub details: Option<Value>,
}

impl StatusError {
    /// A bare error.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// Adds `Status.details`.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// `404 NotFound`: `<resource>.<group> "<name>" not found`.
    pub fn not_found(qualified: &str, kind_group: (&str, &str), name: &str) -> Self {
        Self::new(404, "NotFound", format!("{qualified} \"{name}\" not found"))
            .with_details(json!({"name": name, "group": kind_group.1, "kind": kind_group.0}))
    }

    /// `409 AlreadyExists`.
    pub fn already_exists(qualified: &str, kind_group: (&str, &str), name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{qualified} \"{name}\" already exists"),
        )
        .with_details(json!({"name": name, "group": kind_group.1, "kind": kind_group.0}))
    }

    /// `409 Conflict` on a stale resourceVersion.
    pub fn conflict(qualified: &str, kind_group: (&str, &str), name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {qualified} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
        )
        .with_details(json!({"name": name, "group": kind_group.1, "kind": kind_group.0}))
    }

    /// `400 BadRequest`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// `405 MethodNotAllowed`.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    /// `415 UnsupportedMediaType`.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("{content_type} is not supported here: the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"),
        )
    }

    /// `410 Gone` / `Expired`: a watch or continue from a resourceVersion that is compacted away.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// `422 Invalid` with one cause per field, like the real server:
    /// `NodeGroup.autoscaler.vpsie.com "x" is invalid: spec.maxNodes: Invalid value: ...`.
    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<FieldCause>) -> Self {
        let qualified = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let list = causes
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let message = if causes.len() > 1 {
            format!("{qualified} \"{name}\" is invalid: [{list}]")
        } else {
            format!("{qualified} \"{name}\" is invalid: {list}")
        };
        let causes_json: Vec<Value> = causes
            .iter()
            .map(
                |c| json!({"reason": c.reason, "message": c.message_for_cause(), "field": c.field}),
            )
            .collect();
        Self::new(422, "Invalid", message).with_details(
            json!({"name": name, "group": group, "kind": kind, "causes": causes_json}),
        )
    }

    /// `500 InternalError`.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The `Status` object the server answers with.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

/// One invalid field of a 422 answer.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldCause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, `FieldValueTypeInvalid`...
    pub reason: &'static str,
    /// Path of the field, e.g. `spec.maxNodes`.
    pub field: String,
    /// The offending value, when there is one, rendered like the real server (`Invalid value: 0`).
    pub value: Option<Value>,
    /// What is wrong.
    pub detail: String,
}

impl FieldCause {
    /// `FieldValueInvalid`: `<field>: Invalid value: <value>: <detail>`.
    pub fn invalid(
        field: impl Into<String>,
        value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            reason: "FieldValueInvalid",
            field: field.into(),
            value,
            detail: detail.into(),
        }
    }

    /// `FieldValueRequired`: `<field>: Required value`.
    pub fn required(field: impl Into<String>) -> Self {
        Self {
            reason: "FieldValueRequired",
            field: field.into(),
            value: None,
            detail: String::new(),
        }
    }

    fn message_for_cause(&self) -> String {
        let text = self.to_string();
        let prefix = format!("{}: ", self.field);
        text.strip_prefix(&prefix)
            .map(str::to_string)
            .unwrap_or(text)
    }
}

impl std::fmt::Display for FieldCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.reason {
            "FieldValueRequired" => write!(f, "{}: Required value", self.field)?,
            "FieldValueNotSupported" => write!(f, "{}: Unsupported value", self.field)?,
            "FieldValueTypeInvalid" => write!(f, "{}: Invalid type", self.field)?,
            "FieldValueForbidden" => write!(f, "{}: Forbidden", self.field)?,
            _ => {
                write!(f, "{}: Invalid value", self.field)?;
            }
        }
        if let Some(v) = &self.value {
            let shown = match v {
                Value::String(s) => format!("\"{s}\""),
                Value::Object(_) => "\"object\"".to_string(),
                Value::Array(_) => "\"array\"".to_string(),
                other => other.to_string(),
            };
            write!(f, ": {shown}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_message_names_the_field_like_the_real_server() {
        let e = StatusError::invalid(
            "NodeGroup",
            "autoscaler.vpsie.com",
            "web",
            vec![FieldCause::invalid(
                "spec.maxNodes",
                Some(json!(0)),
                "spec.maxNodes in body should be greater than or equal to 1",
            )],
        );
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "NodeGroup.autoscaler.vpsie.com \"web\" is invalid: spec.maxNodes: Invalid value: 0: spec.maxNodes in body should be greater than or equal to 1"
        );
        let status = e.to_status();
        assert_eq!(status["details"]["causes"][0]["field"], "spec.maxNodes");
        assert_eq!(status["reason"], "Invalid");
    }

    #[test]
    fn required_cause_reads_like_kubernetes() {
        assert_eq!(
            FieldCause::required("spec.minNodes").to_string(),
            "spec.minNodes: Required value"
        );
    }
}
