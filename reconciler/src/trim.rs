//! What the node cache keeps of each node: only the fields the reconciler reads (a node's
//! status carries its image list and system info, several KiB the autoscaler never looks at).
//! Pods have their own compact type, [`crate::pods::CachedPod`].
//!
//! Kept: name, uid, labels, annotations, owner references, timestamps, finalizers; provider
//! ID, taints, the unschedulable flag; allocatable, capacity, the Ready condition, addresses.

use k8s_openapi::api::core::v1::{Node, NodeSpec, NodeStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

fn meta(m: &mut ObjectMeta) -> ObjectMeta {
    ObjectMeta {
        name: m.name.take(),
        uid: m.uid.take(),
        resource_version: m.resource_version.take(),
        labels: m.labels.take(),
        annotations: m.annotations.take(),
        owner_references: m.owner_references.take(),
        creation_timestamp: m.creation_timestamp.take(),
        deletion_timestamp: m.deletion_timestamp.take(),
        finalizers: m.finalizers.take(),
        ..ObjectMeta::default()
    }
}

/// Keeps only what the reconciler reads of a node.
pub fn node(n: &mut Node) {
    let metadata = meta(&mut n.metadata);
    let spec = n.spec.take().map(|s| NodeSpec {
        provider_id: s.provider_id,
        taints: s.taints,
        unschedulable: s.unschedulable,
        ..NodeSpec::default()
    });
    let status = n.status.take().map(|s| NodeStatus {
        allocatable: s.allocatable,
        capacity: s.capacity,
        conditions: s.conditions.map(|cs| {
            cs.into_iter()
                .filter(|c| c.type_ == "Ready")
                .map(|mut c| {
                    c.last_heartbeat_time = None;
                    c
                })
                .collect()
        }),
        addresses: s.addresses,
        ..NodeStatus::default()
    });
    *n = Node {
        metadata,
        spec,
        status,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use vpsie_autoscaler::scaling::fit::NodeFacts;

    #[test]
    fn a_trimmed_node_has_the_same_facts() {
        let full: Node = serde_json::from_value(json!({
            "metadata": {"name": "n1", "labels": {"zone": "a"}, "annotations": {"autoscaler.vpsie.com/do-not-delete": "true"},
                "managedFields": [{"manager": "kubelet"}]},
            "spec": {"providerID": "vpsie://7", "unschedulable": true,
                "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]},
            "status": {"allocatable": {"cpu": "3900m", "memory": "7Gi", "pods": "110"},
                "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}],
                "addresses": [{"type": "InternalIP", "address": "192.0.2.1"}],
                "images": [{"names": ["nginx"], "sizeBytes": 1}],
                "nodeInfo": {"kubeletVersion": "v1.33.0", "architecture": "amd64", "bootID": "", "containerRuntimeVersion": "",
                    "kernelVersion": "", "kubeProxyVersion": "", "machineID": "", "operatingSystem": "", "osImage": "", "systemUUID": ""}}
        }))
        .unwrap();
        let mut trimmed = full.clone();
        node(&mut trimmed);
        assert_eq!(
            NodeFacts::from_node(&full).unwrap(),
            NodeFacts::from_node(&trimmed).unwrap()
        );
        let status = trimmed.status.as_ref().unwrap();
        assert!(status.images.is_none());
        assert!(status.node_info.is_none());
        assert_eq!(
            trimmed.spec.as_ref().unwrap().provider_id.as_deref(),
            Some("vpsie://7")
        );
        assert!(trimmed.metadata.annotations.is_some());
    }
}
