//! The cluster loop: caches fed by the store's watches, and the passes of the kubelets, the
//! scheduler and the controllers.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures::FutureExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::Value;

use super::{ClusterConfig, Controls};
use crate::clock::{self, SharedClock};
use crate::scaling::fit::{NodeFacts, PodRequirements, Resources};
use crate::sim::apiserver::{EventType, Gvr, Store, Watch, WatchOptions};
use crate::sim::cloud::SimCloud;

/// Counters of what the simulated cluster did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterStats {
    /// Nodes registered by kubelets.
    pub nodes_registered: u64,
    /// Nodes that turned Ready.
    pub nodes_ready: u64,
    /// Nodes deleted after their VM went away.
    pub nodes_deleted: u64,
    /// Joins that were made to fail.
    pub joins_failed: u64,
    /// Pods bound by the scheduler.
    pub pods_bound: u64,
    /// Pods started by kubelets.
    pub pods_started: u64,
    /// `FailedScheduling` events written.
    pub failed_scheduling: u64,
    /// Pods created by ReplicaSets and DaemonSets.
    pub pods_created: u64,
    /// Pods deleted by controllers and pod GC.
    pub pods_deleted: u64,
    /// Watches restarted after 410 Gone.
    pub relists: u64,
}

pub(crate) type ObjKey = (String, String);

/// A pod, as the cluster's machinery needs it.
#[derive(Debug, Clone)]
pub(crate) struct PodEntry {
    pub uid: String,
    pub req: PodRequirements,
    pub node: Option<String>,
    pub phase: String,
    pub terminating: bool,
    /// (kind, uid) of the controller owner.
    pub owner: Option<(String, String)>,
    /// Message of a `PodScheduled=False` condition, if any.
    pub unschedulable_message: Option<String>,
    /// When it was first seen bound (to start it after the delay).
    pub bound_seen: Option<DateTime<Utc>>,
    pub created: String,
    /// The order in which the cluster first saw it: kube-scheduler's queue is first in, first
    /// out, finer than `created`'s seconds.
    pub seq: u64,
    pub object: Arc<Value>,
}

impl PodEntry {
    pub fn active(&self) -> bool {
        !self.terminating && self.phase != "Succeeded" && self.phase != "Failed"
    }
}

/// A node, as the cluster's machinery needs it.
#[derive(Debug, Clone)]
pub(crate) struct NodeEntry {
    pub facts: NodeFacts,
    pub object: Arc<Value>,
}

/// What a kubelet remembers of its VM.
#[derive(Debug, Clone, Default)]
pub(crate) struct KubeletState {
    pub node: String,
    pub registered: bool,
    pub ready: bool,
    pub failed_join: bool,
    pub gone_since: Option<DateTime<Utc>>,
}

pub(crate) struct World {
    pub store: Arc<Store>,
    pub cloud: SimCloud,
    pub clock: SharedClock,
    pub config: ClusterConfig,
    pub controls: Arc<Mutex<Controls>>,
    pub stats: Arc<Mutex<ClusterStats>>,
    pub nodes: BTreeMap<String, NodeEntry>,
    pub pods: HashMap<ObjKey, PodEntry>,
    pub replicasets: BTreeMap<ObjKey, Arc<Value>>,
    pub deployments: BTreeMap<ObjKey, Arc<Value>>,
    pub daemonsets: BTreeMap<ObjKey, Arc<Value>>,
    pub pdbs: BTreeMap<ObjKey, Arc<Value>>,
    pub kubelets: HashMap<u64, KubeletState>,
    /// Something changed that may let pending pods schedule.
    pub schedule_dirty: bool,
    /// Something changed that the workload controllers must look at.
    pub workloads_dirty: bool,
    /// The earliest time a timer-driven pass has work.
    pub next_due: Option<DateTime<Utc>>,
    /// The last [`PodEntry::seq`] handed out.
    pub pod_seq: u64,
}

pub(crate) fn gvr_pods() -> Gvr {
    Gvr::core("pods")
}
pub(crate) fn gvr_nodes() -> Gvr {
    Gvr::core("nodes")
}
pub(crate) fn gvr_events() -> Gvr {
    Gvr::core("events")
}
pub(crate) fn gvr_rs() -> Gvr {
    Gvr::new("apps", "v1", "replicasets")
}
pub(crate) fn gvr_deploy() -> Gvr {
    Gvr::new("apps", "v1", "deployments")
}
pub(crate) fn gvr_ds() -> Gvr {
    Gvr::new("apps", "v1", "daemonsets")
}
pub(crate) fn gvr_pdb() -> Gvr {
    Gvr::new("policy", "v1", "poddisruptionbudgets")
}

pub(crate) fn meta_str<'a>(o: &'a Value, field: &str) -> Option<&'a str> {
    o.get("metadata")?.get(field)?.as_str()
}

pub(crate) fn key_of(o: &Value) -> ObjKey {
    (
        meta_str(o, "namespace").unwrap_or("").to_string(),
        meta_str(o, "name").unwrap_or("").to_string(),
    )
}

fn resource_version(o: &Value) -> Option<u64> {
    meta_str(o, "resourceVersion")?.parse().ok()
}

/// Whether `incoming` is an older state of the object cached as `cached` (same uid, lower
/// resourceVersion). The loop applies watch events in slices (tokio's budget ends a drain
/// early) while its passes put what their writes returned into the caches: a pod's queued
/// Unschedulable patch must not undo the bind that came after it, or its room on the node
/// looks free and the scheduler overcommits the node.
pub(crate) fn is_stale(incoming: &Value, cached_uid: &str, cached: &Value) -> bool {
    meta_str(incoming, "uid").unwrap_or("") == cached_uid
        && matches!(
            (resource_version(incoming), resource_version(cached)),
            (Some(new), Some(old)) if new < old
        )
}

/// The controller owner (kind, uid) of an object.
pub(crate) fn controller_of(o: &Value) -> Option<(String, String)> {
    o.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .map(|r| {
            (
                r.get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                r.get("uid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            )
        })
}

impl World {
    pub fn new(
        store: Arc<Store>,
        cloud: SimCloud,
        clock: SharedClock,
        config: ClusterConfig,
        controls: Arc<Mutex<Controls>>,
        stats: Arc<Mutex<ClusterStats>>,
    ) -> Self {
        Self {
            store,
            cloud,
            clock,
            config,
            controls,
            stats,
            nodes: BTreeMap::new(),
            pods: HashMap::new(),
            replicasets: BTreeMap::new(),
            deployments: BTreeMap::new(),
            daemonsets: BTreeMap::new(),
            pdbs: BTreeMap::new(),
            kubelets: HashMap::new(),
            schedule_dirty: true,
            workloads_dirty: true,
            next_due: None,
            pod_seq: 0,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn stat(&self, f: impl FnOnce(&mut ClusterStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub fn controls(&self) -> std::sync::MutexGuard<'_, Controls> {
        self.controls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks for a timer-driven pass at `at`.
    pub fn due(&mut self, at: DateTime<Utc>) {
        self.next_due = Some(self.next_due.map_or(at, |d| d.min(at)));
    }

    fn watch(&self, gvr: &Gvr) -> Option<Watch> {
        match self.store.watch(gvr, None, &WatchOptions::default()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(resource = %gvr.resource, error = %e.message, "simulated cluster cannot watch");
                None
            }
        }
    }

    /// Applies one watch event to the caches.
    pub fn apply(&mut self, gvr: &Gvr, kind: EventType, object: Arc<Value>) {
        let key = key_of(&object);
        let deleted = kind == EventType::Deleted;
        match gvr.resource.as_str() {
            "pods" => {
                if deleted {
                    self.pods.remove(&key);
                } else {
                    self.upsert_pod(object);
                }
                self.schedule_dirty = true;
                self.workloads_dirty = true;
            }
            "nodes" => {
                if deleted {
                    self.nodes.remove(&key.1);
                } else {
                    self.upsert_node(object);
                }
                self.schedule_dirty = true;
                self.workloads_dirty = true;
            }
            "replicasets" => {
                if deleted {
                    self.replicasets.remove(&key);
                } else {
                    self.replicasets.insert(key, object);
                }
                self.workloads_dirty = true;
            }
            "deployments" => {
                if deleted {
                    self.deployments.remove(&key);
                } else {
                    self.deployments.insert(key, object);
                }
                self.workloads_dirty = true;
            }
            "daemonsets" => {
                if deleted {
                    self.daemonsets.remove(&key);
                } else {
                    self.daemonsets.insert(key, object);
                }
                self.workloads_dirty = true;
            }
            "poddisruptionbudgets" => {
                if deleted {
                    self.pdbs.remove(&key);
                } else {
                    self.pdbs.insert(key, object);
                }
                self.workloads_dirty = true;
            }
            _ => {}
        }
    }

    pub fn upsert_pod(&mut self, object: Arc<Value>) {
        let key = key_of(&object);
        if self
            .pods
            .get(&key)
            .is_some_and(|p| is_stale(&object, &p.uid, &p.object))
        {
            return;
        }
        let pod: Pod = match serde_json::from_value((*object).clone()) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(pod = %format!("{}/{}", key.0, key.1), error = %e, "simulated cluster cannot read pod");
                return;
            }
        };
        let req = match PodRequirements::from_pod(&pod) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "simulated cluster ignores a pod it cannot read");
                return;
            }
        };
        let status = pod.status.as_ref();
        let unschedulable_message = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.type_ == "PodScheduled" && c.status == "False")
            })
            .map(|c| c.message.clone().unwrap_or_default());
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty());
        let previous = self.pods.get(&key);
        let bound_seen = match (&node, previous) {
            (Some(_), Some(p))
                if p.node.is_some() && p.uid == meta_str(&object, "uid").unwrap_or("") =>
            {
                p.bound_seen
            }
            (Some(_), _) => Some(self.now()),
            (None, _) => None,
        };
        let uid = meta_str(&object, "uid").unwrap_or("");
        let seq = match previous {
            Some(p) if p.uid == uid => p.seq,
            _ => {
                self.pod_seq += 1;
                self.pod_seq
            }
        };
        let entry = PodEntry {
            uid: uid.to_string(),
            req,
            node,
            phase: status
                .and_then(|s| s.phase.clone())
                .unwrap_or_else(|| "Pending".into()),
            terminating: pod.metadata.deletion_timestamp.is_some(),
            owner: controller_of(&object),
            unschedulable_message,
            bound_seen,
            created: meta_str(&object, "creationTimestamp")
                .unwrap_or("")
                .to_string(),
            seq,
            object,
        };
        self.pods.insert(key, entry);
    }

    pub fn upsert_node(&mut self, object: Arc<Value>) {
        if let Some(name) = meta_str(&object, "name") {
            if self.nodes.get(name).is_some_and(|n| {
                is_stale(&object, meta_str(&n.object, "uid").unwrap_or(""), &n.object)
            }) {
                return;
            }
        }
        let node: Node = match serde_json::from_value((*object).clone()) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "simulated cluster cannot read node");
                return;
            }
        };
        match NodeFacts::from_node(&node) {
            Ok(facts) => {
                self.nodes
                    .insert(facts.name.clone(), NodeEntry { facts, object });
            }
            Err(e) => tracing::warn!(error = %e, "simulated cluster ignores a node it cannot read"),
        }
    }

    /// What the active pods bound to each node request.
    pub fn usage(&self) -> HashMap<String, Resources> {
        let mut used: HashMap<String, Resources> = HashMap::new();
        for p in self.pods.values() {
            if let (Some(n), true) = (&p.node, p.active()) {
                let e = used.entry(n.clone()).or_default();
                *e = e.plus(p.req.requests);
            }
        }
        used
    }

    /// The loop: drain watch events, run the passes, sleep until something happens.
    pub async fn run(mut self, wake: Arc<tokio::sync::Notify>) {
        let gvrs = [
            gvr_nodes(),
            gvr_pods(),
            gvr_rs(),
            gvr_deploy(),
            gvr_ds(),
            gvr_pdb(),
        ];
        let mut watches: Vec<Option<Watch>> = gvrs.iter().map(|g| self.watch(g)).collect();
        let mut cloud_changes = self.cloud.subscribe();
        loop {
            if self.controls().stop {
                return;
            }
            self.next_due = None;
            // Drain every event already there, so a pass sees a settled picture.
            for (i, gvr) in gvrs.iter().enumerate() {
                self.drain(gvr, &mut watches[i]);
            }
            let now = self.now();
            super::kubelet::pass(&mut self, now);
            if self.workloads_dirty {
                self.workloads_dirty = false;
                super::controllers::pass(&mut self, now);
            }
            if self.schedule_dirty {
                self.schedule_dirty = false;
                super::scheduler::pass(&mut self, now);
            }
            super::kubelet::start_pods(&mut self, now);
            // Writes of the passes come back as events: look at them before sleeping. Yield
            // first: once this task has used up tokio's cooperative budget, a watch's `recv`
            // answers Pending although events are there, so draining again without yielding
            // would spin forever without applying one.
            if watches.iter().flatten().any(|w| !w.idle()) {
                tokio::task::yield_now().await;
                continue;
            }
            let sleep = match self.next_due {
                Some(at) => (at - self.now()).to_std().unwrap_or_default(),
                None => std::time::Duration::from_secs(3600),
            };
            let [w0, w1, w2, w3, w4, w5] = &mut watches[..] else {
                return;
            };
            // A manual clock does not wait: the test that moves it pokes the cluster instead.
            let timer = async {
                if !sleep.is_zero() && self.clock.real_duration(sleep).is_zero() {
                    std::future::pending::<()>().await;
                }
                clock::sleep(&*self.clock, sleep).await;
            };
            tokio::select! {
                _ = timer => {}
                _ = wake.notified() => {}
                _ = cloud_changes.changed() => {}
                ev = next_event(w0) => self.on_event(&gvrs[0], ev, w0),
                ev = next_event(w1) => self.on_event(&gvrs[1], ev, w1),
                ev = next_event(w2) => self.on_event(&gvrs[2], ev, w2),
                ev = next_event(w3) => self.on_event(&gvrs[3], ev, w3),
                ev = next_event(w4) => self.on_event(&gvrs[4], ev, w4),
                ev = next_event(w5) => self.on_event(&gvrs[5], ev, w5),
            }
        }
    }

    fn drain(&mut self, gvr: &Gvr, watch: &mut Option<Watch>) {
        loop {
            let Some(w) = watch.as_mut() else {
                *watch = self.watch(gvr);
                if watch.is_none() {
                    return;
                }
                continue;
            };
            match w.next().now_or_never() {
                None => return,
                Some(ev) => self.on_event(gvr, ev, watch),
            }
        }
    }

    fn on_event(
        &mut self,
        gvr: &Gvr,
        ev: Option<Result<(EventType, Arc<Value>), crate::sim::apiserver::StatusError>>,
        watch: &mut Option<Watch>,
    ) {
        match ev {
            Some(Ok((kind, object))) => self.apply(gvr, kind, object),
            Some(Err(_)) | None => {
                // Fell behind (410) or the store went away: relist from scratch.
                self.stat(|s| s.relists += 1);
                match gvr.resource.as_str() {
                    "pods" => self.pods.clear(),
                    "nodes" => self.nodes.clear(),
                    "replicasets" => self.replicasets.clear(),
                    "deployments" => self.deployments.clear(),
                    "daemonsets" => self.daemonsets.clear(),
                    "poddisruptionbudgets" => self.pdbs.clear(),
                    _ => {}
                }
                *watch = self.watch(gvr);
            }
        }
    }
}

async fn next_event(
    watch: &mut Option<Watch>,
) -> Option<Result<(EventType, Arc<Value>), crate::sim::apiserver::StatusError>> {
    match watch {
        Some(w) => w.next().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_older_state_of_the_same_object_is_stale() {
        let o = |uid: &str, rv: &str| json!({"metadata": {"name": "p", "uid": uid, "resourceVersion": rv}});
        assert!(is_stale(&o("a", "9"), "a", &o("a", "10")));
        assert!(!is_stale(&o("a", "10"), "a", &o("a", "10")));
        assert!(!is_stale(&o("a", "11"), "a", &o("a", "10")));
        // a new object of the same name is never stale
        assert!(!is_stale(&o("b", "3"), "a", &o("a", "10")));
        assert!(!is_stale(&o("a", "x"), "a", &o("a", "10")));
    }
}
