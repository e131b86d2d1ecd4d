//! `kubectl-vpsie status` end to end with 50 NodeGroups and 1,000 VPSieNodes. Target: under
//! 200 ms a run.
//!
//! `cargo bench -p kubectl-vpsie --bench status` starts the simulated API server in this
//! process, loads 50 NodeGroups and 1,000 VPSieNodes (20 a group, in every phase) and a status
//! report naming every group (a last decision with 20 pod details and a scale-down round over
//! its nodes, as the controller writes it) directly into its store, then runs the real binary's
//! `status -o json` and `status` (table) as child processes, checks each output (50 groups,
//! 1,000 nodes counted), and prints the median and the slowest of the timed runs.
//! `BENCH_RUNS` sets the runs per format (default 20).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use vpsie_autoscaler::sim::apiserver::{Gvr, PatchKind, WriteOptions};
use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig};
use vpsie_reconciler::report::{status_configmap, StatusReport};

const GROUPS: usize = 50;
const NODES: usize = 1_000;
const PHASES: [&str; 6] = [
    "Ready",
    "Ready",
    "Ready",
    "Provisioning",
    "Joining",
    "Terminating",
];

fn nodegroup(g: usize) -> serde_json::Value {
    json!({
        "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
        "metadata": {"name": format!("group-{g:02}"), "namespace": "kube-system",
                     "annotations": {"autoscaler.vpsie.com/max-nodes-override": "40"}},
        "spec": {"minNodes": 3, "maxNodes": 50, "datacenterID": "dc-us-east-1",
                 "offeringIDs": ["small-2cpu-4gb", "medium-4cpu-8gb", "large-8cpu-16gb"],
                 "osImageID": "ubuntu-22.04-lts", "preferredInstanceType": "medium-4cpu-8gb",
                 "labels": {"pool": format!("group-{g:02}")}},
        "status": {"currentNodes": 20, "desiredNodes": 20, "readyNodes": 10,
                   "lastScaleTime": "2026-11-20T10:00:00Z",
                   "conditions": [
                     {"type": "Ready", "status": "False", "lastTransitionTime": "2026-11-20T10:00:00Z", "reason": "NodesNotReady", "message": "10 of 20 not ready"},
                     {"type": "Scaling", "status": "True", "lastTransitionTime": "2026-11-20T10:00:00Z", "reason": "ScalingUp", "message": ""}]}
    })
}

fn vpsienode(i: usize) -> serde_json::Value {
    let g = i % GROUPS;
    let phase = PHASES[i % PHASES.len()];
    json!({
        "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "VPSieNode",
        "metadata": {"name": format!("group-{g:02}-n{i:04}"), "namespace": "kube-system",
                     "labels": {"nodegroup": format!("group-{g:02}")},
                     "finalizers": ["autoscaler.vpsie.com/vpsienode"]},
        "spec": {"vpsieInstanceID": 100_000 + i, "instanceType": "medium-4cpu-8gb",
                 "nodeGroupName": format!("group-{g:02}"), "datacenterID": "dc-us-east-1",
                 "nodeName": format!("group-{g:02}-n{i:04}"), "ipAddress": "192.0.2.10"},
        "status": {"phase": phase, "nodeName": format!("group-{g:02}-n{i:04}"),
                   "vpsieStatus": "running", "hostname": format!("group-{g:02}-n{i:04}"),
                   "resources": {"cpu": 4, "memoryMB": 8192, "diskGB": 80, "bandwidthGB": 1000},
                   "createdAt": "2026-11-20T09:00:00Z", "provisionedAt": "2026-11-20T09:01:00Z",
                   "joinedAt": "2026-11-20T09:02:00Z", "readyAt": "2026-11-20T09:03:00Z",
                   "conditions": [
                     {"type": "VPSReady", "status": "True", "lastTransitionTime": "2026-11-20T09:01:00Z", "reason": "VPSRunning", "message": "VPS is running on VPSie platform"},
                     {"type": "NodeJoined", "status": "True", "lastTransitionTime": "2026-11-20T09:02:00Z", "reason": "NodeRegistered", "message": "node registered"}]}
    })
}

fn report() -> StatusReport {
    let groups: serde_json::Map<String, serde_json::Value> = (0..GROUPS)
        .map(|g| {
            let name = format!("group-{g:02}");
            let details: Vec<String> = (0..20)
                .map(|p| format!("team-{g}/svc-{p}-7d9f8c6b5-x{p:03} -> new medium-4cpu-8gb"))
                .collect();
            let nodes: Vec<serde_json::Value> = (0..NODES / GROUPS)
                .map(|k| json!({"node": format!("{name}-n{:04}", k * GROUPS + g), "action": "Keep",
                                "reason": "Utilized", "message": "cpu 80% >= 50%"}))
                .collect();
            (
                name,
                json!({
                    "lastDecision": {"at": "2026-11-20T10:00:00Z", "action": "ScaleUp", "reason": "PendingPods",
                                     "message": "Scaling up by 2 node(s) (2 x medium-4cpu-8gb) for 20 unschedulable pod(s), 0.0400/h",
                                     "details": details},
                    "paused": false, "minNodes": 3, "maxNodes": 50, "effectiveMin": 3, "effectiveMax": 40,
                    "currentNodes": 20, "desiredNodes": 20, "readyNodes": 10,
                    "scaleDown": {"at": "2026-11-20T10:00:00Z", "nodes": nodes}
                }),
            )
        })
        .collect();
    serde_json::from_value(json!({
        "schemaVersion": 1, "generatedAt": "2026-11-20T10:00:30Z",
        "controller": {"version": env!("CARGO_PKG_VERSION"), "identity": "bench", "leader": "bench", "isLeader": true,
                       "startedAt": "2026-11-20T09:00:00Z", "dryRun": false},
        "breaker": {"state": "closed", "since": "2026-11-20T09:00:00Z", "consecutiveFailures": 0, "openedCount": 0,
                    "nextProbeAt": null, "lastFailure": null},
        "apiErrors": {"windowSeconds": 300, "byType": {}, "total": 0, "totalSinceStart": 0},
        "rateLimit": {"tokens": 20.0, "capacity": 20, "waiting": 0, "blockedUntil": null, "waitsTotal": 0, "rateLimitedTotal": 0},
        "credentials": {"fingerprint": "0123456789ab", "loadedAt": "2026-11-20T09:00:00Z", "state": "loaded", "message": null},
        "breakerReset": {},
        "nodeGroups": groups
    }))
    .expect("a report the reconciler's type accepts")
}

fn run(kubeconfig: &std::path::Path, args: &[&str]) -> (Duration, String) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kubectl-vpsie"))
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl-vpsie");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "kubectl-vpsie {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (took, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn summary(what: &str, mut times: Vec<Duration>) -> Duration {
    times.sort();
    let median = times[times.len() / 2];
    let max = *times.last().expect("runs");
    println!(
        "{what:<16} median {:>6.1} ms   slowest {:>6.1} ms   ({} runs)",
        median.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
        times.len()
    );
    median
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
        .max(1);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    let _world = rt.block_on(async {
        let world = SimWorld::start(SimWorldConfig {
            example_nodegroup: false,
            ..SimWorldConfig::default()
        })
        .await
        .expect("sim");
        let store = world.api.store();
        let opts = WriteOptions::default();
        let ng = Gvr::new("autoscaler.vpsie.com", "v1alpha1", "nodegroups");
        let vn = Gvr::new("autoscaler.vpsie.com", "v1alpha1", "vpsienodes");
        // create, then write the status through the status subresource, as the controller does
        let put = |gvr: &Gvr, obj: serde_json::Value| {
            let name = obj["metadata"]["name"].as_str().expect("name").to_string();
            let status = serde_json::to_vec(&json!({"status": obj["status"]})).expect("status");
            store
                .create(gvr, Some("kube-system"), obj, &opts)
                .expect("create");
            store
                .patch(
                    gvr,
                    Some("kube-system"),
                    &name,
                    PatchKind::Merge,
                    &status,
                    Some("status"),
                    &opts,
                )
                .expect("status");
        };
        for g in 0..GROUPS {
            put(&ng, nodegroup(g));
        }
        for i in 0..NODES {
            put(&vn, vpsienode(i));
        }
        let cm = status_configmap("kube-system", &report()).expect("report");
        store
            .create(&Gvr::core("configmaps"), Some("kube-system"), cm, &opts)
            .expect("status configmap");
        world.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        world
    });
    println!("loaded {GROUPS} NodeGroups, {NODES} VPSieNodes and the status report");

    // check what is timed, once, before timing (also warms the page cache)
    let (_, json_out) = run(&kubeconfig, &["status", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json_out).expect("status -o json");
    let groups = v["nodeGroups"].as_array().expect("nodeGroups");
    assert_eq!(groups.len(), GROUPS);
    let counted: u64 = v["nodesByPhase"]
        .as_object()
        .expect("nodesByPhase")
        .values()
        .filter_map(|n| n.as_u64())
        .sum();
    assert_eq!(counted, NODES as u64);
    assert_eq!(groups[0]["lastDecision"]["action"], "ScaleUp");
    let ready = (0..NODES)
        .filter(|i| PHASES[i % PHASES.len()] == "Ready")
        .count();
    assert_eq!(v["nodesByPhase"]["Ready"], ready as u64);
    let (_, table) = run(&kubeconfig, &["status"]);
    assert_eq!(
        table
            .lines()
            .filter(|l| l.starts_with("group-") && l.contains("3/50"))
            .count(),
        GROUPS,
        "{table}"
    );

    let json_times: Vec<Duration> = (0..runs)
        .map(|_| run(&kubeconfig, &["status", "-o", "json"]).0)
        .collect();
    let table_times: Vec<Duration> = (0..runs).map(|_| run(&kubeconfig, &["status"]).0).collect();
    let j = summary("status -o json", json_times);
    let t = summary("status (table)", table_times);
    let target = Duration::from_millis(200);
    println!(
        "target: under {} ms -> {}",
        target.as_millis(),
        if j < target && t < target {
            "met"
        } else {
            "MISSED"
        }
    );
}
