//! The scheduling simulation at 1x, 10x and 100x of a base size: the scheduler's filters
//! (`fit::check`: cordon, node selector and affinity, taints, cpu/memory/pod count) as the
//! simulated scheduler, the planner and the scale-down reschedulability check ask them, and
//! the reading of Kubernetes pods into the facts they are asked of (`PodRequirements::from_pod`,
//! done for every pod the reconciler's caches hold).
//!
//! `cargo bench --bench fit`. Base size (1x): 100 pods placed first-fit onto 10 nodes
//! (100x: 10,000 pods onto 1,000 nodes); criterion reports pods per second, so growth faster
//! than linear shows as falling throughput.

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;
use vpsie_autoscaler::scaling::capacity::allocatable;
use vpsie_autoscaler::scaling::fit::{
    check, NodeFacts, PodRequirements, Resources, TaintFact, TolerationFact,
};

const MI: i64 = 1 << 20;
const POOLS: usize = 5;

/// `scale` x (100 pods, 10 nodes): pods of 10 shapes, a fifth pinned to a pool, a tenth
/// tolerating the dedicated taint that a tenth of the nodes carry.
fn world(scale: usize) -> (Vec<PodRequirements>, Vec<NodeFacts>) {
    let nodes = (0..10 * scale)
        .map(|i| NodeFacts {
            name: format!("n{i:05}"),
            labels: BTreeMap::from([
                ("pool".to_string(), format!("p{}", i % POOLS)),
                ("kubernetes.io/hostname".to_string(), format!("n{i:05}")),
            ]),
            taints: if i % 10 == 9 {
                vec![TaintFact {
                    key: "dedicated".into(),
                    value: "batch".into(),
                    effect: "NoSchedule".into(),
                }]
            } else {
                Vec::new()
            },
            allocatable: allocatable(4, 8192),
            ready: true,
            ..NodeFacts::default()
        })
        .collect();
    let pods = (0..100 * scale)
        .map(|i| {
            let shape = (i % 10) as i64;
            let mut r = PodRequirements {
                requests: Resources::new(100 + 20 * shape, (128 + 32 * shape) * MI, 1),
                ..PodRequirements::default()
            };
            if i % 5 == 0 {
                r.node_selector
                    .insert("pool".into(), format!("p{}", (i / 5) % POOLS));
            }
            if i % 10 == 3 {
                r.tolerations.push(TolerationFact {
                    key: "dedicated".into(),
                    exists: false,
                    value: "batch".into(),
                    effect: "NoSchedule".into(),
                });
            }
            r
        })
        .collect();
    (pods, nodes)
}

/// Places every pod on the first node that passes every filter, as a scheduler without
/// scoring would; returns how many found a node.
fn place(pods: &[PodRequirements], nodes: &[NodeFacts]) -> usize {
    let mut used = vec![Resources::default(); nodes.len()];
    let mut placed = 0;
    for pod in pods {
        if let Some(i) = (0..nodes.len()).find(|&i| check(pod, &nodes[i], &used[i]).is_ok()) {
            used[i] = used[i].plus(pod.requests);
            placed += 1;
        }
    }
    placed
}

fn bench_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("fit_first_fit");
    group.sample_size(10);
    for scale in [1usize, 10, 100] {
        let (pods, nodes) = world(scale);
        // every size has room for most of its pods, so the search runs deep into the nodes
        assert!(place(&pods, &nodes) > pods.len() * 9 / 10);
        group.throughput(Throughput::Elements(pods.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{}pods-{}nodes", pods.len(), nodes.len())),
            &(pods, nodes),
            |b, (pods, nodes)| b.iter(|| place(pods, nodes)),
        );
    }
    group.finish();
}

/// A pod of a Deployment as the API server returns it (requests, limits, a selector, the
/// default tolerations, an init container).
fn pod(i: usize) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": format!("web-{i}"), "namespace": format!("team-{}", i % 20),
            "labels": {"app": "web"}},
        "spec": {
            "nodeSelector": {"pool": format!("p{}", i % POOLS)},
            "initContainers": [{"name": "init", "image": "busybox",
                "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}}}],
            "containers": [
                {"name": "app", "image": "nginx",
                 "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}},
                {"name": "sidecar", "image": "envoy",
                 "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}}],
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]}]}]}}}
        }
    }))
    .expect("pod fixture")
}

fn bench_from_pod(c: &mut Criterion) {
    let mut group = c.benchmark_group("fit_pod_facts");
    group.sample_size(20);
    for n in [100usize, 1_000, 10_000] {
        let pods: Vec<Pod> = (0..n).map(pod).collect();
        let first = PodRequirements::from_pod(&pods[0]).expect("facts");
        assert_eq!(first.requests, Resources::new(300, 320 * MI, 1));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{n}pods")),
            &pods,
            |b, pods| {
                b.iter(|| {
                    pods.iter()
                        .map(|p| PodRequirements::from_pod(p).map(|r| r.requests.cpu_millis))
                        .sum::<Result<i64, _>>()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_check, bench_from_pod);
criterion_main!(benches);
