//! Scale-up planning and scale-down evaluation at 1x, 10x and 100x of a base size, so their
//! growth is visible (criterion reports each size's throughput: pods planned, nodes evaluated
//! per second). The scheduling filters (fit) and VPSie answer decoding: `benches/fit.rs`,
//! `benches/decode.rs`.
//!
//! The 100x case is the target: 10,000 pending pods, 50 NodeGroups x 5 offerings,
//! 1,000 existing nodes (target: under 100 ms on one core).

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use vpsie_autoscaler::scaling::capacity::allocatable;
use vpsie_autoscaler::scaling::fit::{NodeFacts, PodRequirements, Resources};
use vpsie_autoscaler::scaling::plan::{
    plan, ExistingNode, GroupFacts, OfferingFacts, PendingPod, PlanInput,
};
use vpsie_autoscaler::scaling::scaledown::{
    evaluate, GroupPolicy, NodeState, PodKind, PodOnNode, ScaleDownInput, ScaleDownOptions,
};

const MI: i64 = 1 << 20;

struct World {
    pods: Vec<PendingPod>,
    groups: Vec<GroupFacts>,
    nodes: Vec<ExistingNode>,
}

/// `scale` = 1 is 100 pods, 5 groups x 5 offerings, 10 nodes.
fn world(scale: usize) -> World {
    let offerings: Vec<OfferingFacts> = [(1, 2048), (2, 4096), (4, 8192), (8, 16384), (16, 32768)]
        .iter()
        .map(|&(cpu, mem)| OfferingFacts {
            id: format!("o-{cpu}cpu"),
            allocatable: allocatable(cpu, mem),
            hourly_price: 0.011 * cpu as f64,
        })
        .collect();
    let group_count = (5 * scale).min(50);
    let groups: Vec<GroupFacts> = (0..group_count)
        .map(|i| GroupFacts {
            name: format!("g{i}"),
            labels: BTreeMap::from([("pool".to_string(), format!("p{}", i % 10))]),
            offerings: offerings.clone(),
            allow_mixed: i % 2 == 0,
            max_new_nodes: 1000,
            ..GroupFacts::default()
        })
        .collect();
    // 20 shapes of pods, some pinned to a pool
    let pods = (0..100 * scale)
        .map(|i| {
            let shape = i % 20;
            let mut requirements = PodRequirements {
                requests: Resources::new(
                    100 + 150 * shape as i64,
                    (128 + 96 * shape as i64) * MI,
                    1,
                ),
                ..PodRequirements::default()
            };
            if shape % 4 == 0 {
                requirements
                    .node_selector
                    .insert("pool".into(), format!("p{}", shape % 10));
            }
            PendingPod {
                key: format!("default/p{i}"),
                requirements: std::sync::Arc::new(requirements),
            }
        })
        .collect();
    let nodes = (0..10 * scale)
        .map(|i| ExistingNode {
            facts: NodeFacts {
                name: format!("n{i}"),
                labels: BTreeMap::from([("pool".to_string(), format!("p{}", i % 10))]),
                allocatable: allocatable(4, 8192),
                ready: true,
                ..NodeFacts::default()
            },
            used: Resources::new(3800, 7000 * MI, 30),
        })
        .collect();
    World {
        pods,
        groups,
        nodes,
    }
}

fn bench_plan(c: &mut Criterion) {
    let mut group = c.benchmark_group("scale_up_plan");
    group.sample_size(20);
    for scale in [1usize, 10, 100] {
        let w = world(scale);
        // throughput in pending pods planned per second
        group.throughput(Throughput::Elements(w.pods.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{}pods", w.pods.len())),
            &w,
            |b, w| {
                b.iter(|| {
                    plan(PlanInput {
                        pods: &w.pods,
                        groups: &w.groups,
                        nodes: &w.nodes,
                        inflight: &[],
                    })
                })
            },
        );
    }
    group.finish();
}

/// `scale` = 1 is 10 nodes with 300 pods; 100 is 1,000 nodes with 30,000 pods (target: under
/// 200 ms on one core). A third of the nodes are underutilized.
fn scale_down_world(scale: usize) -> (Vec<NodeState>, Vec<GroupPolicy>) {
    let now = chrono::Utc::now();
    let groups: Vec<GroupPolicy> = (0..(5 * scale).min(50))
        .map(|i| GroupPolicy {
            name: format!("g{i}"),
            enabled: true,
            paused: false,
            cpu_threshold: 50,
            memory_threshold: 50,
            unneeded_time: chrono::Duration::seconds(600),
            stabilization_window: chrono::Duration::seconds(600),
            last_scale_time: None,
            min_nodes: 1,
            current_nodes: 1000,
            scale_up_cpu_threshold: 80,
            scale_up_memory_threshold: 80,
        })
        .collect();
    let nodes = (0..10 * scale)
        .map(|i| {
            let light = i % 3 == 0;
            let pods = (0..30)
                .map(|j| PodOnNode {
                    key: format!("default/n{i}-p{j}"),
                    requirements: std::sync::Arc::new(PodRequirements {
                        requests: Resources::new(
                            if light { 20 } else { 120 },
                            if light { 32 * MI } else { 200 * MI },
                            1,
                        ),
                        ..PodRequirements::default()
                    }),
                    kind: if j == 0 {
                        PodKind::DaemonSet
                    } else {
                        PodKind::Controlled
                    },
                    safe_to_evict: None,
                    pdbs: vec![format!("default/pdb{}", j % 5)],
                })
                .collect();
            NodeState {
                facts: NodeFacts {
                    name: format!("n{i}"),
                    allocatable: allocatable(4, 8192),
                    ready: true,
                    ..NodeFacts::default()
                },
                group: format!("g{}", i % groups.len()),
                pods,
                do_not_delete: false,
                unneeded_since: Some(now - chrono::Duration::seconds(3600)),
                hourly_price: 0.04,
                drain_failed_at: None,
            }
        })
        .collect();
    (nodes, groups)
}

fn bench_scale_down(c: &mut Criterion) {
    let mut group = c.benchmark_group("scale_down_evaluate");
    group.sample_size(20);
    let pdbs: BTreeMap<String, i32> = (0..5).map(|i| (format!("default/pdb{i}"), 3)).collect();
    let options = ScaleDownOptions {
        max_nonempty_per_round: 3,
        evict_bare_pods: false,
    };
    let offerings = BTreeMap::new();
    for scale in [1usize, 10, 100] {
        let (nodes, groups) = scale_down_world(scale);
        let now = chrono::Utc::now();
        // throughput in nodes evaluated per second
        group.throughput(Throughput::Elements(nodes.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{}nodes-{}pods", nodes.len(), nodes.len() * 30)),
            &(nodes, groups),
            |b, (nodes, groups)| {
                b.iter(|| {
                    evaluate(ScaleDownInput {
                        nodes,
                        others: &[],
                        groups,
                        pdb_allowed: &pdbs,
                        now,
                        options: &options,
                        offerings: &offerings,
                    })
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_plan, bench_scale_down);
criterion_main!(benches);
