//! The pod cache's element: what the reconciler needs of a pod, and nothing else.
//!
//! A cluster of 30,000 pods sends about 4 KiB of JSON per pod (managed fields, environment,
//! probes, volumes, container statuses), and a `k8s_openapi` `Pod` takes over 6 KiB of memory
//! once parsed. A [`CachedPod`] is built from each pod as it arrives (it deserializes through
//! `Pod` and keeps only what scheduling, scale-up and scale-down read) and shares what replicas
//! have in common (labels, scheduling requirements, owner) through a small interner, so the
//! reflector holds well under 1 KiB per pod (`cargo bench -p kubectl-vpsie --bench
//! serve_memory`).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, LazyLock, Mutex};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::NamespaceResourceScope;
use serde::Deserialize;
use vpsie_autoscaler::api::annotations::SAFE_TO_EVICT;
use vpsie_autoscaler::scaling::fit::PodRequirements;

/// The annotation the kubelet puts on the API copy of a static pod.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// `status.phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPhase {
    /// Accepted, not running yet (also: unknown phase strings).
    Pending,
    /// Bound and running.
    Running,
    /// All containers ended successfully.
    Succeeded,
    /// All containers ended, one failed.
    Failed,
    /// The node lost contact.
    Unknown,
}

impl PodPhase {
    fn parse(s: Option<&str>) -> Self {
        match s {
            Some("Running") => Self::Running,
            Some("Succeeded") => Self::Succeeded,
            Some("Failed") => Self::Failed,
            Some("Unknown") => Self::Unknown,
            _ => Self::Pending,
        }
    }
}

/// A pod's controller (the owner reference with `controller: true`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Controller {
    /// `kind`, e.g. `ReplicaSet`, `DaemonSet`, `StatefulSet`, `Job`.
    pub kind: String,
    /// `name`.
    pub name: String,
}

/// A pod as the reconciler's cache keeps it.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "Pod")]
pub struct CachedPod {
    /// Name, namespace, resource version, creation and deletion timestamps only.
    pub metadata: ObjectMeta,
    /// `spec.nodeName`: the node it is bound to (shared between the pods of a node).
    pub node_name: Option<Arc<str>>,
    /// `status.phase`.
    pub phase: PodPhase,
    /// The scheduler set `PodScheduled=False` with reason `Unschedulable`.
    pub scheduler_unschedulable: bool,
    /// What scheduling needs (requests, selector, affinity, tolerations), shared between
    /// replicas; the error text when the pod's requests do not parse.
    pub requirements: Result<Arc<PodRequirements>, Arc<str>>,
    /// Labels, shared between replicas.
    pub labels: Arc<BTreeMap<String, String>>,
    /// The controller, shared between replicas; `None` for a bare pod.
    pub controller: Option<Arc<Controller>>,
    /// The raw `cluster-autoscaler.kubernetes.io/safe-to-evict` annotation.
    pub safe_to_evict: Option<Box<str>>,
    /// A static pod's mirror.
    pub mirror: bool,
    /// `spec.priority` (0 when unset).
    pub priority: i32,
    /// `spec.terminationGracePeriodSeconds`.
    pub termination_grace_period_seconds: Option<i64>,
}

impl CachedPod {
    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            self.metadata.namespace.as_deref().unwrap_or_default(),
            self.metadata.name.as_deref().unwrap_or_default()
        )
    }

    /// The scheduler reported the pod `Unschedulable` and it still waits for a node.
    pub fn is_unschedulable(&self) -> bool {
        self.metadata.deletion_timestamp.is_none()
            && self.node_name.as_deref().is_none_or(str::is_empty)
            && self.phase == PodPhase::Pending
            && self.scheduler_unschedulable
    }

    /// Bound to a node and holding its requests there (not ended, not being deleted).
    pub fn occupies_node(&self) -> bool {
        self.node_name.as_deref().is_some_and(|n| !n.is_empty())
            && !matches!(self.phase, PodPhase::Succeeded | PodPhase::Failed)
            && self.metadata.deletion_timestamp.is_none()
    }

    /// Owned by a DaemonSet.
    pub fn is_daemonset(&self) -> bool {
        self.controller
            .as_deref()
            .is_some_and(|c| c.kind == "DaemonSet")
    }
}

/// Which pods are known to wait as `Unschedulable`, so that only a pod that newly became so
/// wakes scale-up: the scheduler rewrites the condition of every waiting pod on each of its
/// passes, and waking on those rewrites would keep a batch from ever going quiet.
#[derive(Debug, Default)]
pub struct NewlyUnschedulable {
    waiting: HashSet<(String, Option<k8s_openapi::jiff::Timestamp>)>,
}

impl NewlyUnschedulable {
    /// Records the pod's state; `true` when it is unschedulable and was not before.
    pub fn observe(&mut self, pod: &CachedPod) -> bool {
        // name and creation time: a pod recreated under the same name is a new pod
        let id = (
            pod.key(),
            pod.metadata.creation_timestamp.as_ref().map(|t| t.0),
        );
        if pod.is_unschedulable() {
            self.waiting.insert(id)
        } else {
            self.waiting.remove(&id);
            false
        }
    }
}

impl kube::Resource for CachedPod {
    type DynamicType = ();
    type Scope = NamespaceResourceScope;

    fn kind(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("Pod")
    }
    fn group(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("")
    }
    fn version(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("v1")
    }
    fn plural(_: &()) -> Cow<'_, str> {
        Cow::Borrowed("pods")
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// Hands out one shared copy of equal values; forgets values no one holds any more.
struct Interner<T: ?Sized> {
    set: HashSet<Arc<T>>,
    sweep_at: usize,
}

impl<T: ?Sized + Hash + Eq> Interner<T> {
    fn new() -> Self {
        Self {
            set: HashSet::new(),
            sweep_at: 1024,
        }
    }

    fn intern(&mut self, value: T) -> Arc<T>
    where
        T: Sized,
    {
        if let Some(shared) = self.set.get(&value) {
            return shared.clone();
        }
        self.insert(Arc::new(value))
    }

    fn intern_ref(&mut self, value: &T) -> Arc<T>
    where
        for<'a> Arc<T>: From<&'a T>,
    {
        if let Some(shared) = self.set.get(value) {
            return shared.clone();
        }
        self.insert(Arc::from(value))
    }

    fn insert(&mut self, shared: Arc<T>) -> Arc<T> {
        self.set.insert(shared.clone());
        if self.set.len() >= self.sweep_at {
            self.set.retain(|v| Arc::strong_count(v) > 1);
            self.sweep_at = (self.set.len() * 2).max(1024);
        }
        shared
    }
}

struct Interners {
    labels: Interner<BTreeMap<String, String>>,
    requirements: Interner<PodRequirements>,
    controllers: Interner<Controller>,
    nodes: Interner<str>,
}

static INTERNERS: LazyLock<Mutex<Interners>> = LazyLock::new(|| {
    Mutex::new(Interners {
        labels: Interner::new(),
        requirements: Interner::new(),
        controllers: Interner::new(),
        nodes: Interner::new(),
    })
});

impl From<Pod> for CachedPod {
    fn from(pod: Pod) -> Self {
        let requirements = PodRequirements::from_pod(&pod).map_err(|e| Arc::from(e.to_string()));
        let Pod {
            metadata: m,
            spec,
            status,
        } = pod;
        let annotations = m.annotations.unwrap_or_default();
        let controller = m
            .owner_references
            .unwrap_or_default()
            .into_iter()
            .find(|r| r.controller == Some(true))
            .map(|r| Controller {
                kind: r.kind,
                name: r.name,
            });
        let scheduler_unschedulable = status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.type_ == "PodScheduled"
                        && c.status == "False"
                        && c.reason.as_deref() == Some("Unschedulable")
                })
            });
        let phase = PodPhase::parse(status.as_ref().and_then(|s| s.phase.as_deref()));
        let (node_name, priority, grace) = match spec {
            Some(s) => (
                s.node_name,
                s.priority.unwrap_or(0),
                s.termination_grace_period_seconds,
            ),
            None => (None, 0, None),
        };
        // A poisoned lock only means another thread panicked mid-intern; the sets are still
        // consistent (insert is the last step), so keep using them.
        let mut interners = INTERNERS.lock().unwrap_or_else(|p| p.into_inner());
        let labels = interners.labels.intern(m.labels.unwrap_or_default());
        let requirements = requirements.map(|r| interners.requirements.intern(r));
        let controller = controller.map(|c| interners.controllers.intern(c));
        let node_name = node_name
            .filter(|n| !n.is_empty())
            .map(|n| interners.nodes.intern_ref(&n));
        drop(interners);
        CachedPod {
            metadata: ObjectMeta {
                name: m.name,
                namespace: m.namespace,
                resource_version: m.resource_version,
                creation_timestamp: m.creation_timestamp,
                deletion_timestamp: m.deletion_timestamp,
                ..ObjectMeta::default()
            },
            node_name,
            phase,
            scheduler_unschedulable,
            requirements,
            labels,
            controller,
            safe_to_evict: annotations.get(SAFE_TO_EVICT).map(|v| v.as_str().into()),
            mirror: annotations.contains_key(MIRROR_ANNOTATION),
            priority,
            termination_grace_period_seconds: grace,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn full(name: &str, node: Option<&str>) -> serde_json::Value {
        json!({
            "metadata": {"name": name, "namespace": "default", "uid": "u1", "resourceVersion": "42",
                "labels": {"app": "web", "pod-template-hash": "abc"},
                "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false", "big": "x".repeat(1000)},
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Other", "name": "o", "uid": "o"},
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "r", "controller": true}],
                "managedFields": [{"manager": "kubectl", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"nodeName": node, "nodeSelector": {"disk": "ssd"},
                "priority": 10, "terminationGracePeriodSeconds": 45,
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}},
                "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
                "initContainers": [{"name": "init", "image": "busybox", "resources": {"requests": {"cpu": "2"}}}],
                "containers": [{"name": "app", "image": "nginx", "env": [{"name": "A", "value": "b"}],
                    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}}]},
            "status": {"phase": "Pending",
                "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/3 nodes"}]}
        })
    }

    #[test]
    fn keeps_what_scheduling_reads() {
        let value = full("web-1", None);
        let pod: Pod = serde_json::from_value(value.clone()).unwrap();
        let cached: CachedPod = serde_json::from_value(value).unwrap();
        assert_eq!(
            *cached.requirements.as_ref().unwrap().as_ref(),
            PodRequirements::from_pod(&pod).unwrap()
        );
        assert!(cached.is_unschedulable());
        assert!(!cached.occupies_node());
        assert_eq!(cached.key(), "default/web-1");
        assert_eq!(cached.metadata.resource_version.as_deref(), Some("42"));
        assert!(cached.metadata.managed_fields.is_none());
        assert_eq!(cached.safe_to_evict.as_deref(), Some("false"));
        assert_eq!(
            cached.controller.as_deref(),
            Some(&Controller {
                kind: "ReplicaSet".into(),
                name: "web-abc".into()
            })
        );
        assert_eq!(cached.priority, 10);
        assert_eq!(cached.termination_grace_period_seconds, Some(45));
        assert_eq!(cached.labels["app"], "web");
    }

    #[test]
    fn replicas_share_what_they_have_in_common() {
        let a: CachedPod = serde_json::from_value(full("web-1", Some("n1"))).unwrap();
        let b: CachedPod = serde_json::from_value(full("web-2", Some("n2"))).unwrap();
        assert!(Arc::ptr_eq(&a.labels, &b.labels));
        assert!(Arc::ptr_eq(
            a.requirements.as_ref().unwrap(),
            b.requirements.as_ref().unwrap()
        ));
        assert!(Arc::ptr_eq(
            a.controller.as_ref().unwrap(),
            b.controller.as_ref().unwrap()
        ));
        assert!(a.occupies_node() && !a.is_unschedulable());
        let c: CachedPod = serde_json::from_value(full("web-3", Some("n1"))).unwrap();
        assert!(Arc::ptr_eq(
            a.node_name.as_ref().unwrap(),
            c.node_name.as_ref().unwrap()
        ));
    }

    #[test]
    fn bad_requests_are_kept_as_the_error() {
        let mut value = full("web-3", None);
        value["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("lots");
        let cached: CachedPod = serde_json::from_value(value).unwrap();
        let err = cached.requirements.unwrap_err();
        assert!(err.contains("lots"), "{err}");
    }

    #[test]
    fn only_a_pod_that_newly_waits_wakes_scale_up() {
        let mut seen = NewlyUnschedulable::default();
        let waiting: CachedPod = serde_json::from_value(full("web-1", None)).unwrap();
        assert!(seen.observe(&waiting));
        assert!(!seen.observe(&waiting), "a rewrite of the same condition");
        let bound: CachedPod = serde_json::from_value(full("web-1", Some("n1"))).unwrap();
        assert!(!seen.observe(&bound));
        assert!(seen.observe(&waiting), "waiting again after it was bound");
    }

    #[test]
    fn the_interner_forgets_what_no_one_holds() {
        let mut interner = Interner::new();
        let kept = interner.intern("kept".to_string());
        for i in 0..5000 {
            interner.intern(format!("gone-{i}"));
        }
        assert!(interner.set.len() < 2048, "{}", interner.set.len());
        assert!(Arc::ptr_eq(&kept, &interner.intern("kept".to_string())));
    }
}
