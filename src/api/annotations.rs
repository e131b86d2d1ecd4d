//! Annotation and label keys of the API reference and runbook, and parsers for their values.
//!
//! The parsers never panic: a malformed value is an [`AnnotationError`] naming the annotation,
//! the value and the fix, so the reconciler can surface it as an event instead of guessing.

use std::collections::BTreeMap;
use std::time::Duration;

use super::nodegroup::NodeGroupSpec;

/// NodeGroup annotation: pause autoscaling (`"true"` / `"false"`).
pub const PAUSE: &str = "autoscaler.vpsie.com/pause";
/// NodeGroup annotation: temporarily override `spec.minNodes` (non-negative integer).
pub const MIN_NODES_OVERRIDE: &str = "autoscaler.vpsie.com/min-nodes-override";
/// NodeGroup annotation: temporarily override `spec.maxNodes` (non-negative integer).
pub const MAX_NODES_OVERRIDE: &str = "autoscaler.vpsie.com/max-nodes-override";
/// VPSieNode annotation: prevent automatic deletion (`"true"` / `"false"`).
pub const DO_NOT_DELETE: &str = "autoscaler.vpsie.com/do-not-delete";
/// VPSieNode annotation: custom drain timeout in seconds (positive integer).
pub const DRAIN_TIMEOUT: &str = "autoscaler.vpsie.com/drain-timeout";
/// Label on Kubernetes nodes: the NodeGroup name.
pub const NODEGROUP: &str = "autoscaler.vpsie.com/nodegroup";
/// VPSieNode label: VPSie instance type.
pub const INSTANCE_TYPE: &str = "autoscaler.vpsie.com/instance-type";
/// VPSieNode label: VPSie datacenter ID.
pub const DATACENTER: &str = "autoscaler.vpsie.com/datacenter";
/// VPSieNode label: parent NodeGroup name (`kubectl get vn -l nodegroup=...`).
pub const LABEL_NODEGROUP: &str = "nodegroup";
/// Force-reconcile annotation as the runbook writes it
/// (`kubectl annotate nodegroup <name> reconcile-trigger=$(date +%s) --overwrite`).
pub const RECONCILE_TRIGGER: &str = "reconcile-trigger";
/// Namespaced force-reconcile annotation; wins over [`RECONCILE_TRIGGER`] when both are set.
pub const RECONCILE_TRIGGER_NAMESPACED: &str = "autoscaler.vpsie.com/reconcile-trigger";
/// Pod annotation honoured when draining: `"false"` means the pod must not be evicted.
pub const SAFE_TO_EVICT: &str = "cluster-autoscaler.kubernetes.io/safe-to-evict";

/// VPSieNode bookkeeping of the managed-Kubernetes backend: the cluster its node is added to.
pub const K8S_CLUSTER: &str = "autoscaler.vpsie.com/k8s-cluster";
/// VPSieNode bookkeeping: the numeric id of the VPSie node group its node is added to.
pub const K8S_NODE_GROUP: &str = "autoscaler.vpsie.com/k8s-node-group";
/// VPSieNode bookkeeping: when the add was sent (RFC 3339), written before the call; with
/// [`K8S_ADD_AFTER_ID`] it lets a lost answer be resolved by finding the node.
pub const K8S_ADD_REQUESTED_AT: &str = "autoscaler.vpsie.com/k8s-add-requested-at";
/// VPSieNode bookkeeping: the highest VPS id known when the add was sent; the new node's id
/// is higher.
pub const K8S_ADD_AFTER_ID: &str = "autoscaler.vpsie.com/k8s-add-after-id";
/// VPSieNode bookkeeping: the node's VPSie identifier (UUID), which removing it needs.
pub const VPS_IDENTIFIER: &str = "autoscaler.vpsie.com/vps-identifier";

/// A malformed annotation value, or overrides that contradict each other.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnnotationError {
    /// Not `true` or `false`.
    #[error("annotation {annotation} has invalid value {value:?}: expected \"true\" or \"false\"; fix: kubectl annotate --overwrite ... {annotation}=true (or false), or remove it")]
    InvalidBool {
        /// The annotation key.
        annotation: &'static str,
        /// The rejected value.
        value: String,
    },
    /// Not a non-negative integer that fits in an `int32`.
    #[error("annotation {annotation} has invalid value {value:?}: expected a non-negative whole number of nodes; fix: set it to e.g. \"5\", or remove it")]
    InvalidNodeCount {
        /// The annotation key.
        annotation: &'static str,
        /// The rejected value.
        value: String,
    },
    /// Not a positive whole number of seconds.
    #[error("annotation {annotation} has invalid value {value:?}: expected a positive whole number of seconds; fix: set it to e.g. \"600\", or remove it")]
    InvalidSeconds {
        /// The annotation key.
        annotation: &'static str,
        /// The rejected value.
        value: String,
    },
    /// The effective maximum is below the effective minimum.
    #[error("effective maxNodes {max} (from {max_source}) is below effective minNodes {min} (from {min_source}): MinNodes exceeds MaxNodes; fix: change or remove {MIN_NODES_OVERRIDE} / {MAX_NODES_OVERRIDE}")]
    OverrideConflict {
        /// Effective minimum.
        min: i32,
        /// Where it came from (`spec.minNodes` or the override annotation).
        min_source: &'static str,
        /// Effective maximum.
        max: i32,
        /// Where it came from (`spec.maxNodes` or the override annotation).
        max_source: &'static str,
    },
}

fn parse_bool(
    annotations: &BTreeMap<String, String>,
    key: &'static str,
) -> Result<Option<bool>, AnnotationError> {
    let Some(raw) = annotations.get(key) else {
        return Ok(None);
    };
    let v = raw.trim();
    if v.eq_ignore_ascii_case("true") {
        Ok(Some(true))
    } else if v.eq_ignore_ascii_case("false") {
        Ok(Some(false))
    } else {
        Err(AnnotationError::InvalidBool {
            annotation: key,
            value: raw.clone(),
        })
    }
}

/// Whether autoscaling is paused ([`PAUSE`]); absent means not paused.
pub fn is_paused(annotations: &BTreeMap<String, String>) -> Result<bool, AnnotationError> {
    Ok(parse_bool(annotations, PAUSE)?.unwrap_or(false))
}

/// Whether the node must not be deleted automatically ([`DO_NOT_DELETE`]); absent means false.
pub fn do_not_delete(annotations: &BTreeMap<String, String>) -> Result<bool, AnnotationError> {
    Ok(parse_bool(annotations, DO_NOT_DELETE)?.unwrap_or(false))
}

/// A pod's [`SAFE_TO_EVICT`] annotation: `Some(false)` forbids eviction, `None` when absent.
pub fn safe_to_evict(
    annotations: &BTreeMap<String, String>,
) -> Result<Option<bool>, AnnotationError> {
    parse_bool(annotations, SAFE_TO_EVICT)
}

fn parse_count(
    annotations: &BTreeMap<String, String>,
    key: &'static str,
) -> Result<Option<i32>, AnnotationError> {
    let Some(raw) = annotations.get(key) else {
        return Ok(None);
    };
    let v = raw.trim();
    // `parse` accepts a leading '+'; require plain digits.
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AnnotationError::InvalidNodeCount {
            annotation: key,
            value: raw.clone(),
        });
    }
    v.parse::<i32>()
        .map(Some)
        .map_err(|_| AnnotationError::InvalidNodeCount {
            annotation: key,
            value: raw.clone(),
        })
}

/// The [`MIN_NODES_OVERRIDE`] value, if set.
pub fn min_nodes_override(
    annotations: &BTreeMap<String, String>,
) -> Result<Option<i32>, AnnotationError> {
    parse_count(annotations, MIN_NODES_OVERRIDE)
}

/// The [`MAX_NODES_OVERRIDE`] value, if set.
pub fn max_nodes_override(
    annotations: &BTreeMap<String, String>,
) -> Result<Option<i32>, AnnotationError> {
    parse_count(annotations, MAX_NODES_OVERRIDE)
}

/// The [`DRAIN_TIMEOUT`] value, if set (a positive number of seconds).
pub fn drain_timeout(
    annotations: &BTreeMap<String, String>,
) -> Result<Option<Duration>, AnnotationError> {
    let Some(raw) = annotations.get(DRAIN_TIMEOUT) else {
        return Ok(None);
    };
    let v = raw.trim();
    let invalid = || AnnotationError::InvalidSeconds {
        annotation: DRAIN_TIMEOUT,
        value: raw.clone(),
    };
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match v.parse::<u64>() {
        Ok(0) | Err(_) => Err(invalid()),
        Ok(secs) => Ok(Some(Duration::from_secs(secs))),
    }
}

/// The force-reconcile trigger value, if any. The namespaced
/// [`RECONCILE_TRIGGER_NAMESPACED`] wins over the runbook's plain [`RECONCILE_TRIGGER`].
pub fn reconcile_trigger(annotations: &BTreeMap<String, String>) -> Option<&str> {
    annotations
        .get(RECONCILE_TRIGGER_NAMESPACED)
        .or_else(|| annotations.get(RECONCILE_TRIGGER))
        .map(String::as_str)
}

/// The minimum and maximum node counts in force: the spec's, replaced by the override
/// annotations when present. An effective maximum below the effective minimum is an error
/// naming both and where each came from.
pub fn effective_min_max(
    spec: &NodeGroupSpec,
    annotations: &BTreeMap<String, String>,
) -> Result<(i32, i32), AnnotationError> {
    let (min, min_source) = match min_nodes_override(annotations)? {
        Some(v) => (v, MIN_NODES_OVERRIDE),
        None => (spec.min_nodes, "spec.minNodes"),
    };
    let (max, max_source) = match max_nodes_override(annotations)? {
        Some(v) => (v, MAX_NODES_OVERRIDE),
        None => (spec.max_nodes, "spec.maxNodes"),
    };
    if max < min {
        return Err(AnnotationError::OverrideConflict {
            min,
            min_source,
            max,
            max_source,
        });
    }
    Ok((min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pause_parses_case_insensitively_and_rejects_junk() {
        assert_eq!(is_paused(&ann(&[])), Ok(false));
        assert_eq!(is_paused(&ann(&[(PAUSE, "TRUE")])), Ok(true));
        assert_eq!(is_paused(&ann(&[(PAUSE, " false ")])), Ok(false));
        let err = is_paused(&ann(&[(PAUSE, "yes")])).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(PAUSE) && text.contains("\"yes\"") && text.contains("fix:"),
            "{text}"
        );
    }

    #[test]
    fn counts_reject_negative_signed_and_overflow() {
        assert_eq!(
            min_nodes_override(&ann(&[(MIN_NODES_OVERRIDE, "5")])),
            Ok(Some(5))
        );
        assert_eq!(
            max_nodes_override(&ann(&[(MAX_NODES_OVERRIDE, "0")])),
            Ok(Some(0))
        );
        for junk in ["-1", "+3", "", "1.5", "five", "99999999999"] {
            assert!(
                matches!(
                    min_nodes_override(&ann(&[(MIN_NODES_OVERRIDE, junk)])),
                    Err(AnnotationError::InvalidNodeCount { .. })
                ),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn drain_timeout_must_be_positive_seconds() {
        assert_eq!(drain_timeout(&ann(&[])), Ok(None));
        assert_eq!(
            drain_timeout(&ann(&[(DRAIN_TIMEOUT, "600")])),
            Ok(Some(Duration::from_secs(600)))
        );
        for junk in ["0", "-5", "10m", "", "1e3", "184467440737095516160"] {
            assert!(
                drain_timeout(&ann(&[(DRAIN_TIMEOUT, junk)])).is_err(),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn namespaced_trigger_wins() {
        assert_eq!(reconcile_trigger(&ann(&[])), None);
        assert_eq!(
            reconcile_trigger(&ann(&[(RECONCILE_TRIGGER, "1")])),
            Some("1")
        );
        assert_eq!(
            reconcile_trigger(&ann(&[
                (RECONCILE_TRIGGER, "1"),
                (RECONCILE_TRIGGER_NAMESPACED, "2")
            ])),
            Some("2")
        );
    }

    #[test]
    fn overrides_apply_and_conflicts_name_both_sources() {
        let spec = NodeGroupSpec {
            min_nodes: 3,
            max_nodes: 20,
            ..Default::default()
        };
        assert_eq!(effective_min_max(&spec, &ann(&[])), Ok((3, 20)));
        assert_eq!(
            effective_min_max(
                &spec,
                &ann(&[(MIN_NODES_OVERRIDE, "5"), (MAX_NODES_OVERRIDE, "15")])
            ),
            Ok((5, 15))
        );
        let err = effective_min_max(&spec, &ann(&[(MAX_NODES_OVERRIDE, "2")])).unwrap_err();
        assert_eq!(
            err,
            AnnotationError::OverrideConflict {
                min: 3,
                min_source: "spec.minNodes",
                max: 2,
                max_source: MAX_NODES_OVERRIDE
            }
        );
        assert!(err.to_string().contains("MinNodes exceeds MaxNodes"));
        assert!(effective_min_max(&spec, &ann(&[(MIN_NODES_OVERRIDE, "x")])).is_err());
    }

    mod junk {
        use super::*;
        use proptest::prelude::*;

        fn spec(min: i32, max: i32) -> NodeGroupSpec {
            NodeGroupSpec {
                min_nodes: min,
                max_nodes: max,
                ..NodeGroupSpec::default()
            }
        }

        proptest! {
            /// Whatever an operator writes into each annotation, reading it never panics: it
            /// is a value, or an error that names the annotation and quotes the value.
            #[test]
            fn any_value_of_any_annotation_is_read_or_refused_by_name(
                value in prop_oneof![
                    any::<String>(),
                    "[ -~]{0,12}",
                    "-?[0-9]{1,12}",
                    Just("TRUE".to_string()),
                    Just(" true ".to_string()),
                    Just("2147483648".to_string()),
                ],
                min in -3i32..50,
                max in -3i32..50,
            ) {
                let quoted = format!("{value:?}");
                for key in [PAUSE, DO_NOT_DELETE] {
                    let a = ann(&[(key, value.as_str())]);
                    let r = if key == PAUSE { is_paused(&a) } else { do_not_delete(&a) };
                    if let Err(e) = r {
                        let m = e.to_string();
                        prop_assert!(m.contains(key) && m.contains(&quoted) && m.contains("fix"), "{m}");
                    }
                }
                for key in [MIN_NODES_OVERRIDE, MAX_NODES_OVERRIDE] {
                    let a = ann(&[(key, value.as_str())]);
                    match effective_min_max(&spec(min, max), &a) {
                        Ok((lo, hi)) => prop_assert!(lo <= hi, "{lo} > {hi}"),
                        Err(e) => {
                            let m = e.to_string();
                            prop_assert!(m.contains("fix"), "{m}");
                            prop_assert!(m.contains(key) || m.contains("spec."), "{m}");
                        }
                    }
                }
                let a = ann(&[(DRAIN_TIMEOUT, value.as_str())]);
                match drain_timeout(&a) {
                    Ok(d) => prop_assert!(d.is_some_and(|d| d.as_secs() > 0)),
                    Err(e) => {
                        let m = e.to_string();
                        prop_assert!(m.contains(DRAIN_TIMEOUT) && m.contains(&quoted), "{m}");
                    }
                }
                let a = ann(&[(RECONCILE_TRIGGER, value.as_str())]);
                prop_assert_eq!(reconcile_trigger(&a), Some(value.as_str()));
            }
        }
    }
}
