//! The simulated API server at the size: 1,000 nodes and 30,000 pods.
//!
//! Prints the resident memory the loaded store adds (target: under 300 MiB) and measures a list
//! of all 30,000 pods, in-process and over HTTP as kubectl would ask for it (target: under 1 s).

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use vpsie_autoscaler::sim::apiserver::{
    ApiServerConfig, Gvr, ListOptions, SimApiServer, Store, WriteOptions,
};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn load(store: &Store, nodes: usize, pods: usize) {
    let opts = WriteOptions::default();
    for i in 0..nodes {
        let node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("node-{i}"), "labels": {
                "kubernetes.io/hostname": format!("node-{i}"),
                "node.kubernetes.io/instance-type": "medium-4cpu-8gb",
                "autoscaler.vpsie.com/nodegroup": format!("g{}", i % 50)}},
            "spec": {"providerID": format!("vpsie://{}", 1000 + i)},
            "status": {
                "capacity": {"cpu": "4", "memory": "8388608Ki", "pods": "110"},
                "allocatable": {"cpu": "3900m", "memory": "8024064Ki", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                "addresses": [{"type": "InternalIP", "address": "192.0.2.1"}],
                "nodeInfo": {"kubeletVersion": "v1.33.0"}}
        });
        store
            .create(&Gvr::core("nodes"), None, node, &opts)
            .expect("node");
    }
    for i in 0..pods {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("web-{i}"), "namespace": "default",
                "labels": {"app": "web", "pod-template-hash": "5d8f7c9b6"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f7c9b6",
                    "uid": "4f7d2c1e-1111-2222-3333-444455556666", "controller": true}]},
            "spec": {"nodeName": format!("node-{}", i % nodes.max(1)),
                "containers": [{"name": "app", "image": "nginx:1.27",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
            "status": {"phase": "Running", "podIP": "10.244.0.2"}
        });
        store
            .create(&Gvr::core("pods"), Some("default"), pod, &opts)
            .expect("pod");
    }
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let before = rss_kib();
    let server = runtime
        .block_on(SimApiServer::start(ApiServerConfig::default()))
        .expect("server");
    let store: Arc<Store> = server.store();
    load(&store, 1_000, 30_000);
    let after = rss_kib();
    println!(
        "sim apiserver with 1,000 nodes and 30,000 pods: resident memory +{} MiB (target < 300 MiB)",
        after.saturating_sub(before) / 1024
    );

    let mut group = c.benchmark_group("sim_apiserver_30k_pods");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("list_in_process", |b| {
        b.iter(|| {
            store
                .list(&Gvr::core("pods"), None, &ListOptions::default())
                .expect("list")
                .items
                .len()
        })
    });
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/pods", server.url());
    group.bench_function("list_http_json", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let r = http.get(&url).send().await.expect("get");
                r.bytes().await.expect("body").len()
            })
        })
    });
    group.bench_function("list_http_table_paged_500", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let r = http
                    .get(format!("{url}?limit=500"))
                    .header(
                        "Accept",
                        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
                    )
                    .send()
                    .await
                    .expect("get");
                r.bytes().await.expect("body").len()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
