//! The simulated scheduler: binds pending pods with the scheduler's own filters, or reports them
//! `Unschedulable` with a `FailedScheduling` event.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::world::{gvr_events, gvr_pods, NodeEntry, ObjKey, World};
use crate::scaling::fit::{
    check, compatible, failed_scheduling_message, fit_count, PodRequirements, Resources, Unfit,
};
use crate::sim::apiserver::{PatchKind, WriteOptions};

/// Higher is fuller: the sum of the cpu and memory fractions a node would have requested.
fn fullness(used: &Resources, alloc: &Resources) -> f64 {
    let frac = |u: i64, a: i64| if a <= 0 { 1.0 } else { u as f64 / a as f64 };
    frac(used.cpu_millis, alloc.cpu_millis) + frac(used.memory_bytes, alloc.memory_bytes)
}

/// What one pass knows of a class of pods (one set of requirements).
struct Class {
    /// The nodes (indices into the pass's node list) whose labels, taints and affinity admit it.
    candidates: Vec<usize>,
    /// The candidates it may still fit on: a node it no longer fits leaves, for good (the
    /// nodes only fill up during a pass), so that a pass over thousands of pods does not weigh
    /// every full node again for each of them.
    open: Vec<usize>,
    /// Why the other nodes do not.
    reasons: Vec<Unfit>,
    /// Once a pod of the class fits nowhere, none later in the pass does (the nodes only fill
    /// up): the `FailedScheduling` message for all of them.
    failed: Option<String>,
}

/// One scheduling pass over every pending pod.
///
/// Like kube-scheduler, it takes the pods one at a time in queue order (oldest first, then in
/// the order they were created: the ReplicaSets' slow-start batches interleave) and puts each on the node that scores best with
/// most-allocated scoring (the cpu and memory fractions requested with the pod included;
/// names break ties). Pods of different shapes so share nodes in the mix they arrive in.
pub(crate) fn pass(w: &mut World, now: DateTime<Utc>) {
    let used = w.usage();
    let mut pending: Vec<(&ObjKey, &super::world::PodEntry)> = w
        .pods
        .iter()
        .filter(|(_, p)| p.node.is_none() && p.active())
        .filter(|(_, p)| {
            p.object
                .pointer("/spec/schedulerName")
                .and_then(Value::as_str)
                .is_none_or(|s| s == "default-scheduler")
        })
        .collect();
    if pending.is_empty() {
        return;
    }
    pending.sort_by(|a, b| a.1.created.cmp(&b.1.created).then(a.1.seq.cmp(&b.1.seq)));
    let queue: Vec<(&ObjKey, &PodRequirements)> =
        pending.iter().map(|(k, p)| (*k, &p.req)).collect();
    let (binds, unschedulable) = place(&queue, &w.nodes, used);
    apply(w, now, binds, unschedulable);
}

/// A pod and a node name, or a pod and why it fits nowhere.
type Placed = (ObjKey, String);

/// Places the pods of `queue`, in its order, on `nodes` whose pods already request `used`:
/// (pod, node) binds and (pod, `FailedScheduling` message) for those that fit nowhere. Pure.
fn place(
    queue: &[(&ObjKey, &PodRequirements)],
    nodes: &BTreeMap<String, NodeEntry>,
    used: HashMap<String, Resources>,
) -> (Vec<Placed>, Vec<Placed>) {
    // by index, in name order (so the lower index breaks a tie the way the name does)
    let list: Vec<(&String, &NodeEntry)> = nodes.iter().collect();
    let mut used: Vec<Resources> = list
        .iter()
        .map(|(name, _)| used.get(*name).copied().unwrap_or_default())
        .collect();
    let mut classes: HashMap<&PodRequirements, Class> = HashMap::new();
    let mut binds: Vec<(ObjKey, String)> = Vec::new();
    let mut unschedulable: Vec<(ObjKey, String)> = Vec::new();
    for &(key, req) in queue {
        let class = classes.entry(req).or_insert_with(|| {
            let mut reasons: Vec<Unfit> = Vec::new();
            let mut candidates: Vec<usize> = Vec::new();
            for (i, (_, node)) in list.iter().enumerate() {
                match compatible(req, &node.facts) {
                    Ok(()) => candidates.push(i),
                    Err(r) => reasons.push(r),
                }
            }
            Class {
                open: candidates.clone(),
                candidates,
                reasons,
                failed: None,
            }
        });
        if let Some(message) = &class.failed {
            unschedulable.push((key.clone(), message.clone()));
            continue;
        }
        let each = Resources::new(
            req.requests.cpu_millis,
            req.requests.memory_bytes,
            req.requests.pods.max(1),
        );
        let mut best: Option<(f64, usize)> = None;
        let mut j = 0;
        while j < class.open.len() {
            let i = class.open[j];
            let alloc = &list[i].1.facts.allocatable;
            let u = used[i];
            if fit_count(&alloc.minus(u), &req.requests) == 0 {
                class.open.swap_remove(j);
                continue;
            }
            j += 1;
            let score = fullness(&u.plus(each), alloc);
            let better = match best {
                None => true,
                Some((b, bi)) => score > b || (score == b && i < bi),
            };
            if better {
                best = Some((score, i));
            }
        }
        match best {
            Some((_, i)) => {
                binds.push((key.clone(), list[i].0.clone()));
                used[i] = used[i].plus(each);
            }
            None => {
                let mut reasons = class.reasons.clone();
                for &i in &class.candidates {
                    if let Err(r) = check(req, &list[i].1.facts, &used[i]) {
                        reasons.extend(r);
                    }
                }
                let message = failed_scheduling_message(nodes.len(), &reasons);
                unschedulable.push((key.clone(), message.clone()));
                class.failed = Some(message);
            }
        }
    }
    (binds, unschedulable)
}

/// Writes a pass's binds, and the `PodScheduled=False` condition and `FailedScheduling` event
/// of each pod that fits nowhere (once per message).
fn apply(
    w: &mut World,
    now: DateTime<Utc>,
    binds: Vec<(ObjKey, String)>,
    unschedulable: Vec<(ObjKey, String)>,
) {
    for ((ns, name), node) in binds {
        match w
            .store
            .bind_pod(&ns, &name, &node, &WriteOptions::default())
        {
            Ok(o) => {
                w.upsert_pod(o);
                w.stat(|s| s.pods_bound += 1);
            }
            Err(e) if e.code == 404 || e.code == 409 => w.schedule_dirty = true,
            Err(e) => {
                tracing::warn!(pod = %format!("{ns}/{name}"), error = %e.message, "simulated scheduler cannot bind")
            }
        }
    }
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for ((ns, name), message) in unschedulable {
        let Some(pod) = w.pods.get(&(ns.clone(), name.clone())) else {
            continue;
        };
        if pod.unschedulable_message.as_deref() == Some(message.as_str()) {
            continue;
        }
        let uid = pod.uid.clone();
        let mut conditions: Vec<Value> = pod
            .object
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        conditions.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
        conditions.push(json!({
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastProbeTime": null,
            "lastTransitionTime": stamp,
        }));
        let body = json!({"status": {"phase": "Pending", "conditions": conditions}}).to_string();
        match w.store.patch(
            &gvr_pods(),
            Some(&ns),
            &name,
            PatchKind::Merge,
            body.as_bytes(),
            Some("status"),
            &WriteOptions::default(),
        ) {
            Ok(o) => w.upsert_pod(o),
            Err(e) if e.code == 404 => continue,
            Err(e) => {
                tracing::warn!(pod = %format!("{ns}/{name}"), error = %e.message, "simulated scheduler cannot update pod");
                continue;
            }
        }
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": format!("{name}."), "namespace": ns},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "namespace": ns, "name": name, "uid": uid},
            "reason": "FailedScheduling",
            "message": message,
            "type": "Warning",
            "source": {"component": "default-scheduler"},
            "reportingComponent": "default-scheduler",
            "reportingInstance": "default-scheduler",
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        });
        if w.store
            .create(&gvr_events(), Some(&ns), event, &WriteOptions::default())
            .is_ok()
        {
            w.stat(|s| s.failed_scheduling += 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Node, Pod};
    use std::sync::Arc;

    fn node(name: &str, cpu: &str, memory: &str) -> (String, NodeEntry) {
        let object = json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {
                "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}]
            }
        });
        let n: Node = serde_json::from_value(object.clone()).expect("node");
        let facts = crate::scaling::fit::NodeFacts::from_node(&n).expect("facts");
        (
            name.to_string(),
            NodeEntry {
                facts,
                object: Arc::new(object),
            },
        )
    }

    fn req(cpu: &str, memory: &str) -> PodRequirements {
        let p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}
        }))
        .expect("pod");
        PodRequirements::from_pod(&p).expect("requirements")
    }

    fn key(name: &str) -> ObjKey {
        ("default".to_string(), name.to_string())
    }

    #[test]
    fn pods_are_placed_one_at_a_time_in_queue_order() {
        // a node of 4 cpu / 8 GiB; cpu-heavy (1 cpu / 1 GiB) and memory-heavy (250m / 3 GiB)
        // pods arriving interleaved share it as they come: 2 of each take 2.5 cpu and all
        // 8 GiB (taken class by class, the 3 cpu-heavy pods would go first)
        let nodes: BTreeMap<String, NodeEntry> = [node("n1", "4", "8Gi")].into();
        let cpu = req("1", "1Gi");
        let mem = req("250m", "3Gi");
        let keys: Vec<ObjKey> = (0..6).map(|i| key(&format!("p{i}"))).collect();
        // queue: cpu, mem, cpu, mem, cpu, mem
        let queue: Vec<(&ObjKey, &PodRequirements)> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k, if i % 2 == 0 { &cpu } else { &mem }))
            .collect();
        let (binds, unschedulable) = place(&queue, &nodes, HashMap::new());
        let bound: Vec<&str> = binds.iter().map(|(k, _)| k.1.as_str()).collect();
        assert_eq!(
            bound,
            ["p0", "p1", "p2", "p3"],
            "in queue order, both shapes"
        );
        let left: Vec<&str> = unschedulable.iter().map(|(k, _)| k.1.as_str()).collect();
        // the memory is full: neither shape fits any more
        assert_eq!(left, ["p4", "p5"]);
        assert!(
            unschedulable[0].1.starts_with("0/1 nodes are available"),
            "{}",
            unschedulable[0].1
        );
    }

    #[test]
    fn the_fullest_node_that_fits_wins_and_a_full_class_stays_out() {
        let nodes: BTreeMap<String, NodeEntry> =
            [node("a", "4", "8Gi"), node("b", "4", "8Gi")].into();
        let used: HashMap<String, Resources> =
            [("b".to_string(), Resources::new(2000, 1 << 30, 1))].into();
        let big = req("3", "1Gi");
        let small = req("500m", "1Gi");
        let (k0, k1, k2, k3) = (key("big-0"), key("small-0"), key("big-1"), key("small-1"));
        // big-0 fits only on a (b has 2 cpu left); small-0 then goes to the fuller node: a
        // (3 cpu of 4) over b (2 of 4); big-1 fits nowhere; small-1: a has 500m left, the fullest
        let queue = [(&k0, &big), (&k1, &small), (&k2, &big), (&k3, &small)];
        let (binds, unschedulable) = place(&queue, &nodes, used);
        assert_eq!(
            binds,
            [
                (k0.clone(), "a".to_string()),
                (k1.clone(), "a".to_string()),
                (k3.clone(), "a".to_string()),
            ]
        );
        assert_eq!(unschedulable.len(), 1);
        assert_eq!(unschedulable[0].0, k2);
        assert!(
            unschedulable[0].1.contains("Insufficient cpu"),
            "{}",
            unschedulable[0].1
        );
    }

    #[test]
    fn a_node_full_for_one_class_stays_open_to_another_and_counts_in_the_message() {
        let nodes: BTreeMap<String, NodeEntry> =
            [node("a", "4", "8Gi"), node("b", "4", "8Gi")].into();
        let big = req("3", "1Gi");
        let small = req("500m", "1Gi");
        let keys: Vec<ObjKey> = ["big-0", "big-1", "big-2", "small-0", "small-1"]
            .iter()
            .map(|k| key(k))
            .collect();
        let queue = [
            (&keys[0], &big),
            (&keys[1], &big),
            (&keys[2], &big),
            (&keys[3], &small),
            (&keys[4], &small),
        ];
        let (binds, unschedulable) = place(&queue, &nodes, HashMap::new());
        // big-0 on a (a tie: the name), big-1 on b, big-2 nowhere: both nodes, full for the
        // big pods, still take the small ones (a first: the tie again, then a is the fuller)
        let bound: Vec<(&str, &str)> = binds
            .iter()
            .map(|(k, n)| (k.1.as_str(), n.as_str()))
            .collect();
        assert_eq!(
            bound,
            [
                ("big-0", "a"),
                ("big-1", "b"),
                ("small-0", "a"),
                ("small-1", "a")
            ]
        );
        assert_eq!(unschedulable.len(), 1);
        assert_eq!(unschedulable[0].0, keys[2]);
        assert!(
            unschedulable[0]
                .1
                .starts_with("0/2 nodes are available: 2 Insufficient cpu"),
            "{}",
            unschedulable[0].1
        );
    }
}
