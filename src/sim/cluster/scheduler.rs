//! The simulated scheduler: binds pending pods with the scheduler's own filters, or reports them
//! `Unschedulable` with a `FailedScheduling` event.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::world::{gvr_events, gvr_pods, ObjKey, World};
use crate::scaling::fit::{
    check, compatible, failed_scheduling_message, fit_count, PodRequirements, Resources, Unfit,
};
use crate::sim::apiserver::{PatchKind, WriteOptions};

/// Higher is fuller: the sum of the cpu and memory fractions a node would have requested.
fn fullness(used: &Resources, alloc: &Resources) -> f64 {
    let frac = |u: i64, a: i64| if a <= 0 { 1.0 } else { u as f64 / a as f64 };
    frac(used.cpu_millis, alloc.cpu_millis) + frac(used.memory_bytes, alloc.memory_bytes)
}

/// One scheduling pass over every pending pod.
pub(crate) fn pass(w: &mut World, now: DateTime<Utc>) {
    let mut used = w.usage();
    // Pending pods, oldest first, grouped by their requirements (order of first appearance).
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
    pending.sort_by(|a, b| a.1.created.cmp(&b.1.created).then_with(|| a.0.cmp(b.0)));
    let mut class_of: HashMap<&PodRequirements, usize> = HashMap::new();
    let mut classes: Vec<(&PodRequirements, Vec<ObjKey>)> = Vec::new();
    for (key, pod) in &pending {
        let c = *class_of.entry(&pod.req).or_insert_with(|| {
            classes.push((&pod.req, Vec::new()));
            classes.len() - 1
        });
        classes[c].1.push((*key).clone());
    }
    let classes: Vec<(PodRequirements, Vec<ObjKey>)> =
        classes.into_iter().map(|(r, ks)| (r.clone(), ks)).collect();

    let mut binds: Vec<(ObjKey, String)> = Vec::new();
    let mut unschedulable: Vec<(ObjKey, String)> = Vec::new();
    for (req, keys) in &classes {
        let mut reasons: Vec<Unfit> = Vec::new();
        let mut candidates: Vec<(&String, &Resources)> = Vec::new();
        for (name, node) in &w.nodes {
            match compatible(req, &node.facts) {
                Ok(()) => candidates.push((name, &node.facts.allocatable)),
                Err(r) => reasons.push(r),
            }
        }
        // fullest first (most-allocated scoring), names break ties
        candidates.sort_by(|a, b| {
            let ua = used.get(a.0).copied().unwrap_or_default();
            let ub = used.get(b.0).copied().unwrap_or_default();
            fullness(&ub, b.1)
                .total_cmp(&fullness(&ua, a.1))
                .then_with(|| a.0.cmp(b.0))
        });
        let mut next = 0usize;
        for (name, alloc) in &candidates {
            if next == keys.len() {
                break;
            }
            let u = used.get(*name).copied().unwrap_or_default();
            let room = fit_count(&alloc.minus(u), &req.requests) as usize;
            let take = room.min(keys.len() - next);
            for key in &keys[next..next + take] {
                binds.push((key.clone(), (*name).clone()));
            }
            next += take;
            let e = used.entry((*name).clone()).or_default();
            let each = req.requests;
            *e = e.plus(Resources::new(
                each.cpu_millis * take as i64,
                each.memory_bytes * take as i64,
                each.pods.max(1) * take as i64,
            ));
        }
        if next < keys.len() {
            for (name, _) in &candidates {
                let u = used.get(*name).copied().unwrap_or_default();
                if let Some(node) = w.nodes.get(*name) {
                    if let Err(r) = check(req, &node.facts, &u) {
                        reasons.extend(r);
                    }
                }
            }
            let message = failed_scheduling_message(w.nodes.len(), &reasons);
            for key in &keys[next..] {
                unschedulable.push((key.clone(), message.clone()));
            }
        }
    }

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
