//! A whole scale-down round as the reconciler runs it, minus the API calls: the caches'
//! objects (1,000 nodes of 50 NodeGroups, 30,000 pods with owners, labels and budgets, 100
//! PodDisruptionBudgets) read into plain data (`collect`) and evaluated (`round`).
//! Target: under 200 ms on one core.
//!
//! `cargo bench -p vpsie-reconciler --bench scaledown_round`

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use vpsie_autoscaler::scaling::scaledown::ScaleDownOptions;
use vpsie_reconciler::pods::CachedPod;
use vpsie_reconciler::scaledown::{collect, round, Snapshot};

const NODES: usize = 1_000;
const PODS: usize = 30_000;
const GROUPS: usize = 50;

fn from<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Arc<T> {
    Arc::new(serde_json::from_value(v).expect("fixture"))
}

fn snapshot() -> Snapshot {
    let groups = (0..GROUPS)
        .map(|g| {
            from(json!({
                "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
                "metadata": {"name": format!("g{g}"), "namespace": "kube-system"},
                "spec": {"minNodes": 1, "maxNodes": 100, "datacenterID": "dc-us-east-1",
                    "offeringIDs": ["medium-4cpu-8gb"], "osImageID": "ubuntu-22.04-lts"},
                "status": {"lastScaleTime": "2026-01-01T00:00:00Z"}
            }))
        })
        .collect();
    let vpsienodes = (0..NODES)
        .map(|i| {
            from(json!({
                "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "VPSieNode",
                "metadata": {"name": format!("n{i}"), "namespace": "kube-system", "resourceVersion": "1"},
                "spec": {"vpsieInstanceID": i + 1, "instanceType": "medium-4cpu-8gb",
                    "nodeGroupName": format!("g{}", i % GROUPS), "datacenterID": "dc-us-east-1"},
                "status": {"phase": "Ready"}
            }))
        })
        .collect();
    let nodes = (0..NODES)
        .map(|i| {
            from(json!({
                "metadata": {"name": format!("n{i}")},
                "status": {"allocatable": {"cpu": "3900m", "memory": "7Gi", "pods": "110"},
                    "conditions": [{"type": "Ready", "status": "True"}]}
            }))
        })
        .collect();
    let pods = (0..PODS)
        .map(|i| {
            let node = i % NODES;
            // a tenth of the nodes are nearly idle: candidates whose pods must be placed
            let cpu = if node.is_multiple_of(10) {
                "20m"
            } else {
                "90m"
            };
            let app = format!("app{}", i % 300);
            from::<CachedPod>(json!({
                "metadata": {"name": format!("{app}-{i}"), "namespace": format!("ns{}", i % 20),
                    "labels": {"app": app},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "name": format!("{app}-rs"), "uid": "u", "controller": true}]},
                "spec": {"nodeName": format!("n{node}"), "containers": [{"name": "c", "image": "i",
                    "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]},
                "status": {"phase": "Running"}
            }))
        })
        .collect();
    let pdbs = (0..100)
        .map(|b| {
            from(json!({
                "metadata": {"name": format!("app{b}"), "namespace": format!("ns{}", b % 20)},
                "spec": {"maxUnavailable": "50%", "selector": {"matchLabels": {"app": format!("app{b}")}}},
                "status": {"disruptionsAllowed": 50, "currentHealthy": 100, "desiredHealthy": 50, "expectedPods": 100}
            }))
        })
        .collect();
    Snapshot {
        groups,
        vpsienodes,
        nodes,
        pods,
        pdbs,
        daemonsets: Vec::new(),
    }
}

fn bench(c: &mut Criterion) {
    let snap = snapshot();
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-01-01T06:00:00Z")
        .expect("time")
        .with_timezone(&Utc);
    let since = now - chrono::Duration::hours(1);
    let unneeded: BTreeMap<String, DateTime<Utc>> =
        (0..NODES).map(|i| (format!("n{i}"), since)).collect();
    let options = ScaleDownOptions {
        max_nonempty_per_round: 10,
        evict_bare_pods: false,
    };
    let (_, _, plan) = round(
        collect(&snap, &BTreeMap::new(), &BTreeMap::new(), &unneeded),
        &unneeded,
        now,
        &options,
    );
    let removed = plan.removals().count();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for d in &plan.decisions {
        let code = match &d.verdict {
            vpsie_autoscaler::scaling::scaledown::Verdict::Remove { .. } => "Remove",
            vpsie_autoscaler::scaling::scaledown::Verdict::Keep(k) => k.code(),
        };
        *reasons.entry(code.to_string()).or_default() += 1;
    }
    assert!(removed > 0, "the fixture has removable nodes: {reasons:?}");
    let mut group = c.benchmark_group("scale_down_round");
    group.sample_size(20);
    group.bench_function("collect+evaluate/1000nodes-30000pods", |b| {
        b.iter(|| {
            let collected = collect(&snap, &BTreeMap::new(), &BTreeMap::new(), &unneeded);
            round(collected, &unneeded, now, &options)
        })
    });
    group.finish();
    println!("a round over {NODES} nodes and {PODS} pods removes {removed} node(s)");
}

criterion_group!(benches, bench);
criterion_main!(benches);
