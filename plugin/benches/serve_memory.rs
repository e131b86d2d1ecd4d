//! Resident memory of `kubectl-vpsie serve` watching a cluster of 1,000 nodes and 30,000 pods.
//! Target: under 64 MiB.
//!
//! `cargo bench -p kubectl-vpsie --bench serve_memory` starts the simulated world in this
//! process, loads 1,000 Ready nodes and 30,000 running pods shaped like real ones (managed
//! fields, env, probes, volumes, container statuses), runs the real binary's `serve` against it
//! as a child process, waits until the child logs that its caches are synced, then samples the
//! child's VmRSS for a while (the reconciler keeps running: status report, resyncs) and prints
//! the resident memory after the sync, at the end, and the peak (VmHWM).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use vpsie_autoscaler::sim::apiserver::{Gvr, Store, WriteOptions};
use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig};

const NODES: usize = 1_000;
/// Pods loaded (`BENCH_PODS` overrides, to see the baseline).
fn pods_n() -> usize {
    std::env::var("BENCH_PODS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30_000)
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn node(i: usize) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": format!("node-{i}"), "labels": {
            "kubernetes.io/hostname": format!("node-{i}"),
            "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": "medium-4cpu-8gb",
            "autoscaler.vpsie.com/nodegroup": format!("g{}", i % 50)},
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"providerID": format!("vpsie://{}", 100_000 + i), "podCIDR": "10.244.1.0/24"},
        "status": {
            "capacity": {"cpu": "4", "memory": "8388608Ki", "pods": "110", "ephemeral-storage": "81106868Ki"},
            "allocatable": {"cpu": "3900m", "memory": "8024064Ki", "pods": "110", "ephemeral-storage": "74748343269"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory", "message": "kubelet has sufficient memory available"},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure", "message": "kubelet has no disk pressure"},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID", "message": "kubelet has sufficient PID available"},
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
            "addresses": [{"type": "InternalIP", "address": "192.0.2.1"}, {"type": "Hostname", "address": format!("node-{i}")}],
            "images": (0..20).map(|k| json!({"names": [format!("registry.example.com/team/app-{k}@sha256:{:064x}", k), format!("registry.example.com/team/app-{k}:v1.{k}")], "sizeBytes": 123_456_789})).collect::<Vec<_>>(),
            "nodeInfo": {"kubeletVersion": "v1.33.0", "containerRuntimeVersion": "containerd://1.7.20",
                "osImage": "Ubuntu 22.04.4 LTS", "kernelVersion": "5.15.0-107-generic", "architecture": "amd64",
                "operatingSystem": "linux", "machineID": "0123456789abcdef", "systemUUID": "0123-4567", "bootID": "89ab-cdef",
                "kubeProxyVersion": "v1.33.0"}}
    })
}

fn pod(i: usize) -> serde_json::Value {
    let app = format!("svc-{}", i % 300);
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{app}-7d9f8c6b5-{i:05}"), "namespace": format!("team-{}", i % 20),
            "generateName": format!("{app}-7d9f8c6b5-"),
            "labels": {"app": app, "pod-template-hash": "7d9f8c6b5", "tier": "backend"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-20T10:00:00Z",
                "prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-7d9f8c6b5"),
                "uid": "4f7d2c1e-1111-2222-3333-444455556666", "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [
                {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": "2026-11-20T10:00:00Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}}, "f:ownerReferences": {}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:env": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:ports": {}, "f:resources": {}}}}}},
                {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": "2026-11-20T10:00:05Z", "subresource": "status",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:conditions": {}, "f:containerStatuses": {}, "f:hostIP": {}, "f:phase": {}, "f:podIP": {}, "f:podIPs": {}, "f:startTime": {}}}}]},
        "spec": {"nodeName": format!("node-{}", i % NODES),
            "serviceAccountName": "default", "terminationGracePeriodSeconds": 30,
            "containers": [{"name": "app", "image": format!("registry.example.com/team/{app}:v1.2.3"),
                "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}, {"containerPort": 9090, "name": "metrics", "protocol": "TCP"}],
                "env": (0..8).map(|k| json!({"name": format!("SETTING_{k}"), "value": format!("value-of-setting-{k}")})).collect::<Vec<_>>(),
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 10},
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
                "volumeMounts": [{"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}]}],
            "volumes": [{"name": "kube-api-access", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]}}],
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]},
        "status": {"phase": "Running", "podIP": "10.244.0.2", "hostIP": "192.0.2.1", "qosClass": "Burstable",
            "startTime": "2026-11-20T10:00:01Z",
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": "2026-11-20T10:00:03Z"},
                {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-11-20T10:00:01Z"},
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-20T10:00:05Z"},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2026-11-20T10:00:05Z"},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-20T10:00:00Z"}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "started": true,
                "image": format!("registry.example.com/team/{app}:v1.2.3"),
                "imageID": format!("registry.example.com/team/{app}@sha256:{:064x}", i % 300),
                "containerID": format!("containerd://{:064x}", i),
                "state": {"running": {"startedAt": "2026-11-20T10:00:04Z"}}}]}
    })
}

fn load(store: &Store) {
    let opts = WriteOptions::default();
    for i in 0..NODES {
        store
            .create(&Gvr::core("nodes"), None, node(i), &opts)
            .expect("node");
    }
    for ns in 0..20 {
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("team-{ns}")}});
        let _ = store.create(&Gvr::core("namespaces"), None, namespace, &opts);
    }
    for i in 0..pods_n() {
        let p = pod(i);
        let ns = p["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        store
            .create(&Gvr::core("pods"), Some(&ns), p, &opts)
            .expect("pod");
    }
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    let world = rt.block_on(async {
        let world = SimWorld::start(SimWorldConfig {
            example_nodegroup: true,
            ..SimWorldConfig::default()
        })
        .await
        .expect("sim");
        load(&world.api.store());
        world.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        world
    });
    println!(
        "loaded {NODES} nodes and {} pods into the simulated API server",
        pods_n()
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_kubectl-vpsie"))
        .args([
            "serve",
            "--metrics-addr",
            "127.0.0.1:0",
            "--cluster-name",
            "bench",
            "-v",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .env("KUBECTL_VPSIE_LOG", "vpsie_reconciler=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl-vpsie serve");
    let pid = child.id();
    let started = Instant::now();
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("caches synced") {
                let _ = tx.send(line);
            }
        }
    });
    let synced = rx
        .recv_timeout(Duration::from_secs(180))
        .expect("serve did not log `caches synced` within 180 s");
    let sync_time = started.elapsed();
    let at_sync = status_kib(pid, "VmRSS:");
    // Keep the reconciler running for a while: report publishing, resyncs, the scale-up loop.
    let mut samples = Vec::new();
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until {
        std::thread::park_timeout(Duration::from_millis(500));
        samples.push(status_kib(pid, "VmRSS:"));
    }
    let peak = status_kib(pid, "VmHWM:");
    let (anon, file) = (status_kib(pid, "RssAnon:"), status_kib(pid, "RssFile:"));
    let end = samples.last().copied().unwrap_or(at_sync);
    let _ = child.kill();
    let _ = child.wait();
    rt.block_on(world.shutdown());
    println!("{synced}");
    println!(
        "of which heap and stacks (RssAnon) {} MiB, the mapped binary and libraries (RssFile) {} MiB",
        anon / 1024,
        file / 1024
    );
    println!(
        "serve watching {NODES} nodes and {} pods: caches synced after {:.1} s; resident memory at sync {} MiB, after 20 s {} MiB, peak {} MiB (target < 64 MiB)",
        pods_n(),
        sync_time.as_secs_f64(),
        at_sync / 1024,
        end / 1024,
        peak / 1024
    );
}
