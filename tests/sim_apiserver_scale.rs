//! Scale goal of the simulated API server: 1,000 nodes and 30,000 pods, listed quickly.

use std::time::Instant;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde_json::json;
use vpsie_autoscaler::sim::apiserver::{ApiServerConfig, Gvr, SimApiServer, WriteOptions};

fn rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_thousand_pods_list_fast() {
    let server = SimApiServer::start(ApiServerConfig::default())
        .await
        .expect("server");
    let store = server.store();
    let opts = WriteOptions::default();
    store
        .create(
            &Gvr::core("namespaces"),
            None,
            json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "load"}}),
            &opts,
        )
        .expect("namespace");
    let t = Instant::now();
    for n in 0..1000 {
        store
            .create(&Gvr::core("nodes"), None, json!({"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": format!("node-{n:04}"), "labels": {"kubernetes.io/hostname": format!("node-{n:04}")}},
                "status": {"conditions": [{"type": "Ready", "status": "True"}], "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}}}), &opts)
            .expect("node");
    }
    for p in 0..30_000 {
        store
            .create(&Gvr::core("pods"), Some("load"), json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("pod-{p:05}"), "labels": {"app": format!("app-{}", p % 50)}},
                "spec": {"nodeName": format!("node-{:04}", p % 1000), "containers": [{"name": "main", "image": "registry.example/app:1.0",
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
                "status": {"phase": "Running"}}), &opts)
            .expect("pod");
    }
    let store_rss = rss_mib();
    eprintln!(
        "created 31,000 objects in {:?}; rss {store_rss:?} MiB",
        t.elapsed()
    );
    if let Some(rss) = store_rss {
        assert!(
            rss < 300,
            "the store of 31,000 objects takes {rss} MiB (goal: under 300)"
        );
    }
    // The server's own answer time, without client-side decoding.
    let http = reqwest::Client::new();
    let t = Instant::now();
    let body = http
        .get(format!("{}/api/v1/pods", server.url()))
        .send()
        .await
        .expect("raw list")
        .bytes()
        .await
        .expect("raw body");
    let raw = t.elapsed();
    eprintln!("raw list of {} bytes in {raw:?}", body.len());
    assert!(raw.as_secs_f64() < 1.0, "listing 30,000 pods took {raw:?}");
    drop(body);
    let client = server.client().expect("client");
    let pods: Api<Pod> = Api::all(client);
    let t = Instant::now();
    let list = pods.list(&ListParams::default()).await.expect("list");
    let took = t.elapsed();
    eprintln!(
        "listed {} pods in {took:?}; rss {:?} MiB",
        list.items.len(),
        rss_mib()
    );
    assert_eq!(list.items.len(), 30_000);
    drop(list);
    let t = Instant::now();
    let on_node = pods
        .list(&ListParams::default().fields("spec.nodeName=node-0007"))
        .await
        .expect("list by node");
    eprintln!(
        "field-selected {} pods in {:?}",
        on_node.items.len(),
        t.elapsed()
    );
    assert_eq!(on_node.items.len(), 30);

    // Deleting the namespace removes its 30,000 pods (owner lookups are indexed, not scanned).
    let t = Instant::now();
    store
        .delete(&Gvr::core("namespaces"), None, "load", &Default::default())
        .expect("namespace deleted");
    let took = t.elapsed();
    eprintln!("deleted a namespace of 30,000 pods in {took:?}");
    assert!(took.as_secs() < 20, "namespace deletion took {took:?}");
    assert!(pods
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .is_empty());
}
