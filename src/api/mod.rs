//! Custom resources of `autoscaler.vpsie.com/v1alpha1`: [`NodeGroup`] and [`VPSieNode`],
//! their validation ([`NodeGroupSpec::validate`], [`VPSieNode::validate`]), the annotation
//! and label keys with their parsers ([`annotations`]), and the generated CRDs ([`crds`],
//! [`crds_yaml`], [`crd_files`]).

pub mod admission;
pub mod annotations;
mod condition;
pub mod events;
pub mod nodegroup;
pub mod validation;
pub mod vpsienode;

use chrono::{DateTime, Utc};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResourceExt;

pub use admission::admit;
pub use annotations::AnnotationError;
pub use condition::ConditionStatus;
pub use events::{EventReason, EventType};
pub use nodegroup::{
    Backend, ManagedKubernetesGroup, ManagedKubernetesSpec, ManagedKubernetesStatus, NodeGroup,
    NodeGroupCondition, NodeGroupSpec, NodeGroupStatus, NodeInfo, ScaleDownPolicy, ScaleUpPolicy,
};
pub use validation::{FieldError, ValidationErrors};
pub use vpsienode::{
    NodeResources, ParsePhaseError, VPSieNode, VPSieNodeCondition, VPSieNodePhase, VPSieNodeSpec,
    VPSieNodeStatus,
};

/// API group of both resources.
pub const GROUP: &str = "autoscaler.vpsie.com";
/// API version of both resources.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of both resources.
pub const API_VERSION: &str = "autoscaler.vpsie.com/v1alpha1";

/// The CustomResourceDefinitions, `NodeGroup` first.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![NodeGroup::crd(), VPSieNode::crd()]
}

/// One CRD as YAML (a single document, no leading `---`).
pub fn crd_yaml(crd: &CustomResourceDefinition) -> String {
    // Serializing a CustomResourceDefinition (plain strings, numbers, maps) cannot fail.
    crate::yaml::to_string(crd).expect("a CustomResourceDefinition serializes to YAML")
}

/// All CRDs as one multi-document YAML stream (`NodeGroup` first), e.g. for `kubectl apply -f -`.
/// Field order is stable (struct order, maps sorted), so the output only changes with the types.
pub fn crds_yaml() -> String {
    crds()
        .iter()
        .map(|crd| format!("---\n{}", crd_yaml(crd)))
        .collect()
}

/// First line of every file written by [`crd_files`].
pub const GENERATED_HEADER: &str =
    "# Generated from src/api by `kubectl-vpsie crds --write deploy/crds`. Do not edit.\n";

/// The committed files under `deploy/crds/`: `(file name, YAML)`, e.g.
/// `("nodegroups.autoscaler.vpsie.com.yaml", ...)`, each starting with [`GENERATED_HEADER`].
/// The plugin's `crds --write DIR` writes these.
pub fn crd_files() -> Vec<(String, String)> {
    crds()
        .iter()
        .map(|crd| {
            let name = crd.metadata.name.clone().unwrap_or_default();
            (
                format!("{name}.yaml"),
                format!("{GENERATED_HEADER}{}", crd_yaml(crd)),
            )
        })
        .collect()
}

/// Converts a chrono time (what [`crate::clock::Clock::now`] returns) into a Kubernetes
/// `metav1.Time`, clamped to the range Kubernetes can represent (years -9999..=9999).
pub fn k8s_time(at: DateTime<Utc>) -> Time {
    use k8s_openapi::jiff::Timestamp;
    let secs = at.timestamp();
    let nanos = i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0);
    let ts = Timestamp::new(secs, nanos).unwrap_or(if secs < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    Time(ts)
}

/// Converts a Kubernetes `metav1.Time` into a chrono time.
pub fn chrono_time(t: &Time) -> DateTime<Utc> {
    let secs = t.0.as_second();
    let nanos = u32::try_from(t.0.subsec_nanosecond()).unwrap_or(0);
    DateTime::from_timestamp(secs, nanos).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_conversion_round_trips() {
        let at = DateTime::parse_from_rfc3339("2025-10-12T10:00:00.5Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap();
        assert_eq!(chrono_time(&k8s_time(at)), at);
        assert_eq!(
            serde_json::to_value(k8s_time(at)).unwrap(),
            serde_json::json!("2025-10-12T10:00:00Z")
        );
        // Out of Kubernetes' range: clamped, not a panic.
        let _ = k8s_time(DateTime::<Utc>::MAX_UTC);
        let _ = k8s_time(DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn crd_files_are_named_after_the_crds() {
        let names: Vec<String> = crd_files().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            vec![
                "nodegroups.autoscaler.vpsie.com.yaml",
                "vpsienodes.autoscaler.vpsie.com.yaml"
            ]
        );
        assert!(crds_yaml().starts_with("---\n"));
    }
}
