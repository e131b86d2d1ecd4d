//! Workload controllers: Deployment -> ReplicaSet -> pods, DaemonSet -> a pod per node, the
//! disruption controller (PodDisruptionBudget status) and the pod garbage collector.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};

use super::world::{
    controller_of, gvr_deploy, gvr_ds, gvr_pdb, gvr_pods, gvr_rs, meta_str, ObjKey, World,
};
use crate::scaling::fit::{compatible, NodeFacts, PodRequirements, TolerationFact};
use crate::sim::apiserver::{DeleteOptions, PatchKind, WriteOptions};

/// A stable short hash (FNV-1a) of a pod template, as `pod-template-hash`.
fn template_hash(template: &Value) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in template.to_string().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{:x}", h & 0xff_ffff_ffff)
}

fn owner_ref(kind: &str, obj: &Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": kind,
        "name": meta_str(obj, "name").unwrap_or(""),
        "uid": meta_str(obj, "uid").unwrap_or(""),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

fn replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
        .max(0)
}

fn patch_status(w: &World, gvr: &crate::sim::apiserver::Gvr, key: &ObjKey, status: Value) {
    let body = json!({ "status": status }).to_string();
    if let Err(e) = w.store.patch(
        gvr,
        Some(&key.0),
        &key.1,
        PatchKind::Merge,
        body.as_bytes(),
        Some("status"),
        &WriteOptions::default(),
    ) {
        if e.code != 404 {
            tracing::warn!(object = %format!("{}/{}", key.0, key.1), error = %e.message, "simulated controller cannot write status");
        }
    }
}

/// One pass of every controller.
pub(crate) fn pass(w: &mut World, now: DateTime<Utc>) {
    deployments(w, now);
    replicasets(w);
    daemonsets(w);
    pod_gc(w);
    disruption_budgets(w, now);
}

/// The disruption controller: each PodDisruptionBudget's status from the pods its selector
/// matches in its namespace, as kube-controller-manager keeps it. `expectedPods` is the scale
/// of the pods' controllers (a ReplicaSet's `spec.replicas`, so a pod evicted and not yet
/// replaced still counts) when the budget is a `maxUnavailable` or a percentage, else the pods
/// counted; pods the eviction subresource recorded in `disruptedPods` (for two minutes, or until
/// they are gone) are not healthy. Written with the resourceVersion read, so an eviction that
/// spent the budget meanwhile is never overwritten (the next pass recomputes).
fn disruption_budgets(w: &mut World, now: DateTime<Utc>) {
    use crate::sim::apiserver::selectors::selector_object_matches;
    use crate::sim::apiserver::store::{desired_healthy, pod_healthy};
    let mut writes = Vec::new();
    for (key, pdb) in &w.pdbs {
        if pdb.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let Some(selector) = pdb.pointer("/spec/selector") else {
            continue;
        };
        let matching: Vec<(&ObjKey, &super::world::PodEntry)> = w
            .pods
            .iter()
            .filter(|(k, p)| {
                k.0 == key.0
                    && p.phase != "Succeeded"
                    && p.phase != "Failed"
                    && selector_object_matches(selector, &p.object)
            })
            .collect();
        let by_scale = pdb.pointer("/spec/maxUnavailable").is_some()
            || pdb
                .pointer("/spec/minAvailable")
                .is_some_and(Value::is_string);
        let expected = if by_scale {
            let mut controllers: BTreeMap<(String, String), i64> = BTreeMap::new();
            let mut bare = 0i64;
            for (_, p) in &matching {
                match &p.owner {
                    Some((kind, uid)) => {
                        let scale = (kind == "ReplicaSet")
                            .then(|| {
                                w.replicasets
                                    .values()
                                    .find(|rs| meta_str(rs, "uid") == Some(uid.as_str()))
                                    .map(|rs| replicas(rs))
                            })
                            .flatten();
                        let e = controllers.entry((kind.clone(), uid.clone())).or_insert(0);
                        *e = scale.unwrap_or(*e + 1);
                    }
                    None => bare += 1,
                }
            }
            controllers.values().sum::<i64>() + bare
        } else {
            matching.len() as i64
        };
        let mut status = pdb.get("status").cloned().unwrap_or(json!({}));
        let before = status.clone();
        let disrupted: serde_json::Map<String, Value> = status
            .get("disruptedPods")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter(|(pod, at)| {
                        let recent = at
                            .as_str()
                            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                            .is_some_and(|t| {
                                now - t.with_timezone(&Utc) < chrono::Duration::minutes(2)
                            });
                        recent && matching.iter().any(|(k, _)| &k.1 == *pod)
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let healthy = matching
            .iter()
            .filter(|(k, p)| pod_healthy(&p.object) && !disrupted.contains_key(&k.1))
            .count() as i64;
        let desired = desired_healthy(pdb, expected);
        status["expectedPods"] = json!(expected);
        status["currentHealthy"] = json!(healthy);
        status["desiredHealthy"] = json!(desired);
        status["disruptionsAllowed"] = json!((healthy - desired).max(0));
        if disrupted.is_empty() {
            if let Some(m) = status.as_object_mut() {
                m.remove("disruptedPods");
            }
        } else {
            status["disruptedPods"] = Value::Object(disrupted);
        }
        if let Some(g) = pdb.pointer("/metadata/generation") {
            status["observedGeneration"] = g.clone();
        }
        if status != before {
            let mut new = (**pdb).clone();
            new["status"] = status;
            writes.push((key.clone(), new));
        }
    }
    for (key, new) in writes {
        match w.store.update(
            &gvr_pdb(),
            Some(&key.0),
            &key.1,
            new,
            Some("status"),
            &WriteOptions::default(),
        ) {
            Ok(_) => {}
            // changed meanwhile (an eviction spent the budget): its watch event brings another pass
            Err(e) if e.code == 409 || e.code == 404 => {}
            Err(e) => {
                tracing::warn!(pdb = %format!("{}/{}", key.0, key.1), error = %e.message, "simulated disruption controller cannot write status")
            }
        }
    }
}

fn deployments(w: &mut World, _now: DateTime<Utc>) {
    let deployments: Vec<(ObjKey, std::sync::Arc<Value>)> = w
        .deployments
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, d) in deployments {
        if d.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let uid = meta_str(&d, "uid").unwrap_or("").to_string();
        let template = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let hash = template_hash(&template);
        let rs_name = format!("{}-{hash}", key.1);
        let want = replicas(&d);
        let owned: Vec<(ObjKey, std::sync::Arc<Value>)> = w
            .replicasets
            .iter()
            .filter(|(_, rs)| controller_of(rs).is_some_and(|(k, u)| k == "Deployment" && u == uid))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut current = None;
        for (rs_key, rs) in &owned {
            if rs_key.1 == rs_name {
                current = Some(rs.clone());
            } else {
                // an old template: gone (recreate strategy)
                let _ = w.store.delete(
                    &gvr_rs(),
                    Some(&rs_key.0),
                    &rs_key.1,
                    &DeleteOptions::default(),
                );
            }
        }
        match current {
            None => {
                let mut tpl = template.clone();
                tpl["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
                selector["matchLabels"]["pod-template-hash"] = json!(hash);
                let rs = json!({
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": {
                        "name": rs_name,
                        "namespace": key.0,
                        "labels": tpl["metadata"]["labels"].clone(),
                        "ownerReferences": [owner_ref("Deployment", &d)],
                    },
                    "spec": {"replicas": want, "selector": selector, "template": tpl},
                });
                match w
                    .store
                    .create(&gvr_rs(), Some(&key.0), rs, &WriteOptions::default())
                {
                    Ok(o) => {
                        w.replicasets.insert((key.0.clone(), rs_name.clone()), o);
                    }
                    Err(e) if e.code == 409 => {}
                    Err(e) => {
                        tracing::warn!(deployment = %key.1, error = %e.message, "simulated controller cannot create ReplicaSet")
                    }
                }
            }
            Some(rs) if replicas(&rs) != want => {
                let body = json!({"spec": {"replicas": want}}).to_string();
                let _ = w.store.patch(
                    &gvr_rs(),
                    Some(&key.0),
                    &rs_name,
                    PatchKind::Merge,
                    body.as_bytes(),
                    None,
                    &WriteOptions::default(),
                );
            }
            Some(_) => {}
        }
        let ready = w
            .replicasets
            .get(&(key.0.clone(), rs_name.clone()))
            .and_then(|rs| rs.pointer("/status/readyReplicas").and_then(Value::as_i64))
            .unwrap_or(0);
        let have = w
            .replicasets
            .get(&(key.0.clone(), rs_name.clone()))
            .and_then(|rs| rs.pointer("/status/replicas").and_then(Value::as_i64))
            .unwrap_or(0);
        let status = json!({
            "observedGeneration": d.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            "replicas": have,
            "updatedReplicas": have,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": (want - ready).max(0),
        });
        if d.get("status") != Some(&status) {
            patch_status(w, &gvr_deploy(), &key, status);
        }
    }
}

fn pod_from_template(template: &Value, ns: &str, generate: &str, owner: Value) -> Value {
    let mut meta = template.get("metadata").cloned().unwrap_or(json!({}));
    meta["generateName"] = json!(generate);
    meta["namespace"] = json!(ns);
    meta["ownerReferences"] = json!([owner]);
    if let Some(m) = meta.as_object_mut() {
        m.remove("name");
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": template.get("spec").cloned().unwrap_or(json!({"containers": []})),
        "status": {"phase": "Pending"},
    })
}

/// Each ReplicaSet's active pods, by the set's uid: (pods, running). One scan of the pods that
/// copies none of them.
fn replicaset_pods(
    pods: &HashMap<ObjKey, super::world::PodEntry>,
) -> HashMap<String, (usize, usize)> {
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    for p in pods.values() {
        let Some((kind, uid)) = &p.owner else {
            continue;
        };
        if kind != "ReplicaSet" || !p.active() {
            continue;
        }
        let running = usize::from(p.phase == "Running");
        match counts.get_mut(uid.as_str()) {
            Some(c) => *c = (c.0 + 1, c.1 + running),
            None => {
                counts.insert(uid.clone(), (1, running));
            }
        }
    }
    counts
}

fn replicasets(w: &mut World) {
    let sets: Vec<(ObjKey, std::sync::Arc<Value>)> = w
        .replicasets
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // each set's active pods, counted in one scan of the pods for all the sets
    let counts = replicaset_pods(&w.pods);
    // the sets short of pods: (set, object, pods missing)
    let mut short: Vec<(ObjKey, std::sync::Arc<Value>, usize)> = Vec::new();
    for (key, rs) in &sets {
        if rs.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let uid = meta_str(rs, "uid").unwrap_or("");
        let have = counts.get(uid).map_or(0, |c| c.0);
        let want = replicas(rs) as usize;
        if have < want {
            short.push((key.clone(), rs.clone(), want - have));
        } else if have > want {
            // (pod, bound, running, created)
            let mut owned: Vec<(ObjKey, bool, bool, String)> = w
                .pods
                .iter()
                .filter(|(_, p)| {
                    p.active()
                        && p.owner
                            .as_ref()
                            .is_some_and(|(k, u)| k == "ReplicaSet" && u == uid)
                })
                .map(|(k, p)| {
                    (
                        k.clone(),
                        p.node.is_some(),
                        p.phase == "Running",
                        p.created.clone(),
                    )
                })
                .collect();
            // unscheduled first, then not running, then newest
            owned.sort_by(|a, b| a.1.cmp(&b.1).then(a.2.cmp(&b.2)).then(b.3.cmp(&a.3)));
            for (pk, ..) in owned.iter().take(owned.len() - want) {
                if w.store
                    .delete(&gvr_pods(), Some(&pk.0), &pk.1, &DeleteOptions::default())
                    .is_ok()
                {
                    w.pods.remove(pk);
                    w.stat(|s| s.pods_deleted += 1);
                }
            }
        }
    }
    create_slow_start(w, short);
    // each set's (pods, running) after the creates and deletes
    let counts = replicaset_pods(&w.pods);
    for (key, rs) in &sets {
        if rs.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let uid = meta_str(rs, "uid").unwrap_or("");
        let (have, ready) = counts.get(uid).copied().unwrap_or_default();
        let status = json!({
            "observedGeneration": rs.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            "replicas": have,
            "fullyLabeledReplicas": have,
            "readyReplicas": ready,
            "availableReplicas": ready,
        });
        if rs.get("status") != Some(&status) {
            patch_status(w, &gvr_rs(), key, status);
        }
    }
}

/// The order in which sets missing `missing[i]` pods create them: each set in slow-start
/// batches of 1, 2, 4, ... (kube-controller-manager's `slowStartBatch`), the sets taking turns
/// batch by batch, as kube-controller-manager's concurrent ReplicaSet workers interleave the
/// pods of Deployments scaled together. Returns the set index of each pod in turn. Pure.
fn slow_start_order(missing: &[usize]) -> Vec<usize> {
    let mut left = missing.to_vec();
    let mut out = Vec::with_capacity(missing.iter().sum());
    let mut batch = 1usize;
    while left.iter().any(|&n| n > 0) {
        for (i, n) in left.iter_mut().enumerate() {
            let take = batch.min(*n);
            out.extend(std::iter::repeat_n(i, take));
            *n -= take;
        }
        batch = batch.saturating_mul(2);
    }
    out
}

/// Creates a controller's pod in `ns` and takes it into the cache; the API's message if not.
fn create_pod(w: &mut World, ns: &str, pod: Value) -> Result<(), String> {
    let o = w
        .store
        .create(&gvr_pods(), Some(ns), pod, &WriteOptions::default())
        .map_err(|e| e.message)?;
    w.upsert_pod(o);
    w.stat(|s| s.pods_created += 1);
    Ok(())
}

/// Creates the missing pods of `short`'s sets in [`slow_start_order`]. A set whose create
/// fails stops for this pass (the next pass tries again).
fn create_slow_start(w: &mut World, short: Vec<(ObjKey, std::sync::Arc<Value>, usize)>) {
    let templates: Vec<Value> = short
        .iter()
        .map(|(_, rs, _)| rs.pointer("/spec/template").cloned().unwrap_or(json!({})))
        .collect();
    let missing: Vec<usize> = short.iter().map(|(_, _, n)| *n).collect();
    let mut failed = vec![false; short.len()];
    for i in slow_start_order(&missing) {
        if failed[i] {
            continue;
        }
        let (key, rs, _) = &short[i];
        let pod = pod_from_template(
            &templates[i],
            &key.0,
            &format!("{}-", key.1),
            owner_ref("ReplicaSet", rs),
        );
        if let Err(e) = create_pod(w, &key.0, pod) {
            tracing::warn!(replicaset = %key.1, error = %e, "simulated controller cannot create pod");
            failed[i] = true;
        }
    }
}

/// Tolerations the DaemonSet controller adds to its pods.
fn daemonset_tolerations() -> Vec<TolerationFact> {
    [
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
        ("node.kubernetes.io/not-ready", "NoSchedule"),
    ]
    .iter()
    .map(|(key, effect)| TolerationFact {
        key: key.to_string(),
        exists: true,
        value: String::new(),
        effect: effect.to_string(),
    })
    .collect()
}

fn daemonsets(w: &mut World) {
    let sets: Vec<(ObjKey, std::sync::Arc<Value>)> = w
        .daemonsets
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (key, ds) in sets {
        if ds.pointer("/metadata/deletionTimestamp").is_some() {
            continue;
        }
        let uid = meta_str(&ds, "uid").unwrap_or("").to_string();
        let template = ds.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let probe: Option<Pod> = serde_json::from_value(json!({
            "metadata": {"name": "probe"},
            "spec": template.get("spec").cloned().unwrap_or(json!({"containers": []})),
        }))
        .ok();
        let Some(mut req) = probe
            .as_ref()
            .and_then(|p| PodRequirements::from_pod(p).ok())
        else {
            tracing::warn!(daemonset = %key.1, "simulated controller cannot read the DaemonSet's pod template");
            continue;
        };
        req.tolerations.extend(daemonset_tolerations());
        let wanted: BTreeSet<String> = w
            .nodes
            .values()
            .filter(|n| {
                // cordons and readiness do not keep DaemonSet pods away (a copy of the node's
                // facts only for a node cordoned or not Ready: most are neither)
                if n.facts.unschedulable || !n.facts.ready {
                    let facts = NodeFacts {
                        unschedulable: false,
                        ready: true,
                        ..n.facts.clone()
                    };
                    compatible(&req, &facts).is_ok()
                } else {
                    compatible(&req, &n.facts).is_ok()
                }
            })
            .map(|n| n.facts.name.clone())
            .collect();
        let mut have: BTreeMap<String, Vec<ObjKey>> = BTreeMap::new();
        for (k, p) in &w.pods {
            if p.active()
                && p.owner
                    .as_ref()
                    .is_some_and(|(kind, u)| kind == "DaemonSet" && *u == uid)
            {
                have.entry(p.node.clone().unwrap_or_default())
                    .or_default()
                    .push(k.clone());
            }
        }
        for node in &wanted {
            if have.contains_key(node) {
                continue;
            }
            let mut pod = pod_from_template(
                &template,
                &key.0,
                &format!("{}-", key.1),
                owner_ref("DaemonSet", &ds),
            );
            pod["spec"]["nodeName"] = json!(node);
            if let Err(e) = create_pod(w, &key.0, pod) {
                tracing::warn!(daemonset = %key.1, error = %e, "simulated controller cannot create pod")
            }
        }
        for (node, pods) in &have {
            let extra = if wanted.contains(node) { 1 } else { 0 };
            for pk in pods.iter().skip(extra) {
                if w.store
                    .delete(&gvr_pods(), Some(&pk.0), &pk.1, &DeleteOptions::default())
                    .is_ok()
                {
                    w.pods.remove(pk);
                    w.stat(|s| s.pods_deleted += 1);
                }
            }
        }
        let (scheduled, ready) = w
            .pods
            .values()
            .filter(|p| {
                p.active()
                    && p.owner
                        .as_ref()
                        .is_some_and(|(k, u)| k == "DaemonSet" && *u == uid)
            })
            .fold((0i64, 0i64), |(s, r), p| {
                (s + 1, r + i64::from(p.phase == "Running"))
            });
        let status = json!({
            "observedGeneration": ds.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            "desiredNumberScheduled": wanted.len(),
            "currentNumberScheduled": scheduled,
            "numberReady": ready,
            "numberAvailable": ready,
            "numberMisscheduled": 0,
            "updatedNumberScheduled": scheduled,
        });
        if ds.get("status") != Some(&status) {
            patch_status(w, &gvr_ds(), &key, status);
        }
    }
}

/// Deletes pods bound to nodes that no longer exist (the pod garbage collector).
fn pod_gc(w: &mut World) {
    let orphans: Vec<ObjKey> = w
        .pods
        .iter()
        .filter(|(_, p)| p.node.as_ref().is_some_and(|n| !w.nodes.contains_key(n)))
        .map(|(k, _)| k.clone())
        .collect();
    for pk in orphans {
        match w
            .store
            .delete(&gvr_pods(), Some(&pk.0), &pk.1, &DeleteOptions::default())
        {
            Ok(_) => {
                w.pods.remove(&pk);
                w.stat(|s| s.pods_deleted += 1);
            }
            Err(e) if e.code == 404 => {
                w.pods.remove(&pk);
            }
            Err(e) => {
                tracing::warn!(pod = %format!("{}/{}", pk.0, pk.1), error = %e.message, "simulated pod GC cannot delete")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::slow_start_order;

    #[test]
    fn sets_take_turns_in_doubling_batches() {
        assert_eq!(slow_start_order(&[]), Vec::<usize>::new());
        assert_eq!(slow_start_order(&[0, 0]), Vec::<usize>::new());
        assert_eq!(slow_start_order(&[1]), [0]);
        // batches of 1, 2, 4, then what is left; a set that is done drops out of the turns
        assert_eq!(
            slow_start_order(&[10, 3]),
            [0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]
        );
        let order = slow_start_order(&[200, 0, 67]);
        assert_eq!(order.iter().filter(|&&i| i == 0).count(), 200);
        assert_eq!(order.iter().filter(|&&i| i == 1).count(), 0);
        assert_eq!(order.iter().filter(|&&i| i == 2).count(), 67);
    }
}
