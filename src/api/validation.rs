//! Field-level validation errors shared by the `NodeGroup` and `VPSieNode` specs, and the
//! Kubernetes syntax checks (qualified names, label values, taint effects) they rely on.
//!
//! Every check reports *all* violations at once, each naming the field path, the offending
//! value and how to fix it, so a user can correct a spec in one pass.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::Taint;

/// Longest Kubernetes label value and the name part of a qualified name.
pub const MAX_LABEL_VALUE_LEN: usize = 63;
/// Longest DNS subdomain (the prefix of a qualified name).
pub const MAX_DNS_SUBDOMAIN_LEN: usize = 253;
/// Valid taint effects.
pub const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// One violated rule: which field, its (display-safe) value, and what is wrong plus the fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// Path of the field, e.g. `spec.maxNodes` or `spec.taints[0].effect`.
    pub path: String,
    /// The offending value as it would be written in YAML (`""` for an empty string).
    pub value: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(
        path: impl Into<String>,
        value: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            value: value.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: invalid value {}: {}",
            self.path, self.value, self.message
        )
    }
}

/// Every violation found in one object. Never empty when returned as an error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.errors))]
pub struct ValidationErrors {
    /// The violations, in field order.
    pub errors: Vec<FieldError>,
}

fn render(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ValidationErrors {
    /// The field paths of all violations, in order (handy for tests and summaries).
    pub fn paths(&self) -> Vec<&str> {
        self.errors.iter().map(|e| e.path.as_str()).collect()
    }

    /// The violations for one field path.
    pub fn for_path<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a FieldError> + 'a {
        self.errors.iter().filter(move |e| e.path == path)
    }
}

/// Collects field errors; turns into `Ok(())` when nothing was pushed.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    errors: Vec<FieldError>,
}

impl Collector {
    pub(crate) fn push(
        &mut self,
        path: impl Into<String>,
        value: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.errors.push(FieldError::new(path, value, message));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub(crate) fn extend_errors(&mut self, other: ValidationErrors) {
        self.errors.extend(other.errors);
    }

    pub(crate) fn finish(self) -> Result<(), ValidationErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors {
                errors: self.errors,
            })
        }
    }
}

/// Renders a string value for an error message: quoted and escaped, truncated when long.
pub(crate) fn show(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() > MAX {
        let head: String = s.chars().take(MAX).collect();
        format!("{head:?}... ({} chars)", s.chars().count())
    } else {
        format!("{s:?}")
    }
}

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// Checks the name part of a qualified name (`[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`, <= 63 chars).
/// Returns the problem, if any.
pub fn check_qualified_name_part(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("name part must not be empty".into());
    }
    if name.len() > MAX_LABEL_VALUE_LEN {
        return Some(format!(
            "name part must be at most {MAX_LABEL_VALUE_LEN} characters (has {})",
            name.len()
        ));
    }
    check_label_chars(name)
}

fn check_label_chars(s: &str) -> Option<String> {
    let first = s.chars().next();
    let last = s.chars().last();
    if !first.is_some_and(is_alnum) || !last.is_some_and(is_alnum) {
        return Some("must start and end with an alphanumeric character".into());
    }
    if let Some(bad) = s
        .chars()
        .find(|c| !(is_alnum(*c) || matches!(c, '-' | '_' | '.')))
    {
        return Some(format!(
            "must consist of alphanumerics, '-', '_' or '.' (found {bad:?})"
        ));
    }
    None
}

/// Checks a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', <= 253 chars).
pub fn check_dns_subdomain(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("prefix must not be empty".into());
    }
    if s.len() > MAX_DNS_SUBDOMAIN_LEN {
        return Some(format!(
            "prefix must be at most {MAX_DNS_SUBDOMAIN_LEN} characters (has {})",
            s.len()
        ));
    }
    for label in s.split('.') {
        let ok_chars = label
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let ok_ends = label
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && label
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !ok_chars || !ok_ends {
            return Some(format!(
                "prefix must be a DNS subdomain: lowercase alphanumerics, '-' and '.', each part starting and ending alphanumeric (bad part {label:?})"
            ));
        }
    }
    None
}

/// Checks a qualified name (`[prefix/]name`) as used for label, annotation and taint keys.
pub fn check_qualified_name(key: &str) -> Option<String> {
    let parts: Vec<&str> = key.split('/').collect();
    match parts.as_slice() {
        [name] => check_qualified_name_part(name),
        [prefix, name] => check_dns_subdomain(prefix).or_else(|| check_qualified_name_part(name)),
        _ => Some(
            "must be a qualified name: an optional DNS-subdomain prefix and '/', then a name"
                .into(),
        ),
    }
}

/// Checks a label value (empty, or <= 63 chars of alphanumerics, '-', '_', '.' starting and ending alphanumeric).
pub fn check_label_value(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if value.len() > MAX_LABEL_VALUE_LEN {
        return Some(format!(
            "must be at most {MAX_LABEL_VALUE_LEN} characters (has {})",
            value.len()
        ));
    }
    check_label_chars(value)
}

/// Checks label keys (qualified names) and values; paths are `{prefix}[key]`.
pub(crate) fn validate_labels(labels: &BTreeMap<String, String>, prefix: &str, c: &mut Collector) {
    for (key, value) in labels {
        if let Some(problem) = check_qualified_name(key) {
            c.push(
                format!("{prefix}[{key}]"),
                show(key),
                format!("label key {problem}; fix: use a key like example.com/name or name"),
            );
        }
        if let Some(problem) = check_label_value(value) {
            c.push(
                format!("{prefix}[{key}]"),
                show(value),
                format!(
                    "label value {problem}; fix: use at most 63 alphanumerics, '-', '_' or '.'"
                ),
            );
        }
    }
}

/// Checks taint keys, values and effects; paths are `{prefix}[i].key` etc.
pub(crate) fn validate_taints(taints: &[Taint], prefix: &str, c: &mut Collector) {
    for (i, taint) in taints.iter().enumerate() {
        if let Some(problem) = check_qualified_name(&taint.key) {
            c.push(
                format!("{prefix}[{i}].key"),
                show(&taint.key),
                format!("taint key {problem}; fix: use a key like example.com/dedicated"),
            );
        }
        if let Some(value) = &taint.value {
            if let Some(problem) = check_label_value(value) {
                c.push(
                    format!("{prefix}[{i}].value"),
                    show(value),
                    format!(
                        "taint value {problem}; fix: use at most 63 alphanumerics, '-', '_' or '.'"
                    ),
                );
            }
        }
        if !TAINT_EFFECTS.contains(&taint.effect.as_str()) {
            c.push(
                format!("{prefix}[{i}].effect"),
                show(&taint.effect),
                format!(
                    "must be one of {}; fix: pick one of them",
                    TAINT_EFFECTS.join(", ")
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names() {
        for ok in [
            "a",
            "app",
            "workload-type",
            "autoscaler.vpsie.com/pause",
            "k8s.io/a_b.c",
            "A9",
        ] {
            assert_eq!(check_qualified_name(ok), None, "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a/b/c",
            "Upper.Case/x",
            "/x",
            "x/",
            "a b",
            &"a".repeat(64),
        ] {
            assert!(
                check_qualified_name(bad).is_some(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn label_values() {
        for ok in ["", "general", "a.b-c_d", &"v".repeat(63)] {
            assert_eq!(check_label_value(ok), None, "{ok}");
        }
        for bad in ["-x", "x-", "a b", "a/b", &"v".repeat(64)] {
            assert!(
                check_label_value(bad).is_some(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn errors_display_one_line_each() {
        let mut c = Collector::default();
        c.push("spec.a", "1", "bad a");
        c.push("spec.b", "\"\"", "bad b");
        let err = c.finish().unwrap_err();
        assert_eq!(
            err.to_string(),
            "spec.a: invalid value 1: bad a\nspec.b: invalid value \"\": bad b"
        );
        assert_eq!(err.paths(), vec!["spec.a", "spec.b"]);
        assert_eq!(err.for_path("spec.b").count(), 1);
        assert!(Collector::default().finish().is_ok());
    }

    #[test]
    fn show_truncates_long_values() {
        assert_eq!(show("ab"), "\"ab\"");
        let long = "x".repeat(200);
        assert!(show(&long).ends_with("(200 chars)"));
    }
}
