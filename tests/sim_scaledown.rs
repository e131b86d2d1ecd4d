//! Scale-down end to end through the real binary: `kubectl-vpsie sim` (or `sim --no-reconciler`
//! with `kubectl-vpsie serve` as its own process, to crash it) driven and observed with the real
//! `kubectl`. After the load drops, nodes are drained and their VPS deleted; a reconciler
//! killed mid-drain and mid-delete resumes without leaking a VPS.

mod e2e_support;

use std::process::{Child, Stdio};
use std::time::Duration;

use e2e_support::{deployment, items, running, until, Sim};
use serde_json::Value;

/// A NodeGroup labelled `pool: <name>` that gives nodes back after a minute of being unneeded.
fn group(name: &str, min: i32) -> String {
    group_timed(name, min, 60)
}

/// Likewise with `unneededTime` and `stabilizationWindowSeconds` of `secs`.
fn group_timed(name: &str, min: i32, secs: u32) -> String {
    format!(
        "apiVersion: autoscaler.vpsie.com/v1alpha1
kind: NodeGroup
metadata:
  name: {name}
  namespace: kube-system
spec:
  minNodes: {min}
  maxNodes: 10
  datacenterID: dc-us-east-1
  offeringIDs: [medium-4cpu-8gb]
  osImageID: ubuntu-22.04-lts
  labels:
    pool: {name}
  scaleDownPolicy:
    unneededTime: {secs}
    stabilizationWindowSeconds: {secs}
"
    )
}

/// Live VMs of the simulated cloud whose hostname starts with `prefix`.
fn live_vms(sim: &Sim, prefix: &str) -> Vec<Value> {
    sim.admin("GET", "state", None)["vms"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|v| {
            v["hostname"]
                .as_str()
                .is_some_and(|h| h.starts_with(prefix))
        })
        .collect()
}

fn event_reasons(sim: &Sim) -> Vec<String> {
    items(&sim.json(&["get", "events", "-n", "kube-system"]))
        .iter()
        .filter_map(|e| e["reason"].as_str().map(String::from))
        .collect()
}

#[test]
fn after_the_load_drops_nodes_are_drained_and_their_vps_deleted() {
    let sim = Sim::start(&["--speed", "20"]);
    sim.apply_file("web.yaml", &group("web", 0));
    // a 2.5-cpu filler per node makes three nodes, and each takes one web pod beside it
    sim.apply_file(
        "filler.yaml",
        &deployment("filler", 3, "2500m", "256Mi", "web"),
    );
    until("three filler pods Running", Duration::from_secs(90), || {
        (running(&sim.app_pods("filler")) == 3).then_some(())
    });
    sim.apply_file("app.yaml", &deployment("app", 3, "1", "256Mi", "web"));
    until("three app pods Running", Duration::from_secs(60), || {
        (running(&sim.app_pods("app")) == 3).then_some(())
    });
    // three nodes at 90% cpu requested; headroom (80%) may add a fourth
    assert!(sim.vpsienodes("web").len() >= 3);

    sim.kubectl_ok(&["delete", "deployment", "filler", "-n", "default"]);
    let node = until(
        "the app packed onto one node, two nodes removed",
        Duration::from_secs(120),
        || {
            let app = sim.app_pods("app");
            let nodes: std::collections::BTreeSet<String> = app
                .iter()
                .filter_map(|p| p["spec"]["nodeName"].as_str().map(String::from))
                .collect();
            (sim.vpsienodes("web").len() == 1
                && running(&app) == 3
                && nodes.len() == 1
                && live_vms(&sim, "web-").len() == 1)
                .then(|| nodes.into_iter().next().unwrap())
        },
    );
    // the Node objects of the removed VMs are gone too
    let nodes: Vec<String> = items(&sim.json(&["get", "nodes", "-l", "pool=web"]))
        .iter()
        .filter_map(|n| n["metadata"]["name"].as_str().map(String::from))
        .collect();
    assert_eq!(nodes, vec![node.clone()]);

    // what an operator sees
    let ng = sim.kubectl_ok(&["get", "ng", "web", "-n", "kube-system"]);
    let row: Vec<&str> = ng.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..6], ["web", "0", "10", "1", "1", "1"], "{ng}");
    let described = sim.kubectl_ok(&["describe", "ng", "web", "-n", "kube-system"]);
    assert!(described.contains("ScalingDown"), "{described}");
    let reasons = event_reasons(&sim);
    assert!(
        reasons.iter().filter(|r| *r == "Terminating").count() >= 2,
        "{reasons:?}"
    );
    let ng = sim.json(&["get", "ng", "web", "-n", "kube-system"]);
    assert!(ng["status"]["lastScaleTime"].is_string());
    // the status report says why the last node stays
    let report = until(
        "the report names the remaining node",
        Duration::from_secs(20),
        || {
            let cm = sim.json(&[
                "get",
                "configmap",
                "vpsie-autoscaler-status",
                "-n",
                "kube-system",
            ]);
            let report: Value = serde_json::from_str(cm["data"]["status.json"].as_str()?).ok()?;
            let round = report["nodeGroups"]["web"]["scaleDown"].clone();
            (round["nodes"].as_array()?.len() == 1).then_some(round)
        },
    );
    assert_eq!(report["nodes"][0]["node"], node.as_str());
    assert_eq!(report["nodes"][0]["action"], "Keep");
    assert_eq!(report["nodes"][0]["reason"], "Utilized", "{report:#}");
}

fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn phase(sim: &Sim, record: &str) -> String {
    sim.json(&["get", "vn", record, "-n", "kube-system"])["status"]["phase"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn a_reconciler_killed_mid_drain_and_mid_delete_resumes_without_a_leak() {
    let sim = Sim::start(&["--speed", "20", "--no-reconciler"]);
    let first = serve(&sim);
    // serve runs on the wall clock (the sim's speed is the simulated cluster's and cloud's)
    sim.apply_file("spare.yaml", &group_timed("spare", 1, 2));
    sim.apply_file("hold.yaml", &group_timed("hold", 1, 2));
    let record = until(
        "a Ready node in each group",
        Duration::from_secs(90),
        || {
            let spare = sim.vpsienodes("spare");
            let hold = sim.vpsienodes("hold");
            let ready = |v: &Vec<Value>| v.len() == 1 && v[0]["status"]["phase"] == "Ready";
            (ready(&spare) && ready(&hold))
                .then(|| hold[0]["metadata"]["name"].as_str().unwrap().to_string())
        },
    );
    let node = sim.json(&["get", "vn", &record, "-n", "kube-system"])["status"]["nodeName"]
        .as_str()
        .unwrap()
        .to_string();
    // a pod that may move but whose termination a finalizer holds: the drain waits on it
    let stuck = format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: stuck
  namespace: default
  finalizers: [test.vpsie.com/hold]
  annotations:
    cluster-autoscaler.kubernetes.io/safe-to-evict: \"true\"
spec:
  nodeName: {node}
  containers:
  - name: c
    image: i
    resources:
      requests: {{cpu: 500m, memory: 256Mi}}
"
    );
    sim.apply_file("stuck.yaml", &stuck);
    sim.kubectl_ok(&[
        "patch",
        "ng",
        "hold",
        "-n",
        "kube-system",
        "--type",
        "merge",
        "-p",
        "{\"spec\":{\"minNodes\":0}}",
    ]);
    until(
        "the drain under way: node cordoned, pod evicted",
        Duration::from_secs(60),
        || {
            let pod = sim.json(&["get", "pod", "stuck", "-n", "default"]);
            let n = sim.json(&["get", "node", &node]);
            (phase(&sim, &record) == "Terminating"
                && n["spec"]["unschedulable"] == true
                && pod["metadata"]["deletionTimestamp"].is_string())
            .then_some(())
        },
    );
    kill(first);

    // the VPSie API refuses deletes for now: the next reconciler gets stuck in Deleting
    sim.admin(
        "POST",
        "faults",
        Some(r#"{"matcher": {"operation": "DeleteVM"}, "action": {"type": "status", "code": 503, "message": "maintenance"}}"#),
    );
    let second = serve(&sim);
    sim.kubectl_ok(&[
        "patch",
        "pod",
        "stuck",
        "-n",
        "default",
        "--type",
        "merge",
        "-p",
        "{\"metadata\":{\"finalizers\":null}}",
    ]);
    until(
        "the drain resumed and done: Deleting",
        Duration::from_secs(60),
        || (phase(&sim, &record) == "Deleting").then_some(()),
    );
    until("a DeleteVM refused", Duration::from_secs(30), || {
        let log = sim.admin("GET", "requests", None);
        log["data"]
            .as_array()?
            .iter()
            .any(|r| r["operation"] == "DeleteVM" && r["status"] == 503)
            .then_some(())
    });
    kill(second);
    assert_eq!(live_vms(&sim, &record).len(), 1, "the VPS is still there");

    sim.admin("DELETE", "faults", None);
    let third = serve(&sim);
    until(
        "the record released and its VPS gone",
        Duration::from_secs(60),
        || {
            let gone = !sim
                .vpsienodes("hold")
                .iter()
                .any(|v| v["metadata"]["name"] == record.as_str());
            (gone && live_vms(&sim, &record).is_empty()).then_some(())
        },
    );
    until("the Node deleted", Duration::from_secs(30), || {
        let out = sim
            .kubectl()
            .args(["get", "node", &node, "--ignore-not-found", "-o", "name"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .is_empty()
            .then_some(())
    });
    // no leak: every live VPS belongs to a record
    let vms: Vec<String> = live_vms(&sim, "")
        .iter()
        .filter_map(|v| v["hostname"].as_str().map(String::from))
        .collect();
    let mut names: Vec<String> = items(&sim.json(&["get", "vn", "-n", "kube-system"]))
        .iter()
        .filter_map(|v| v["metadata"]["name"].as_str().map(String::from))
        .collect();
    let mut hosts = vms.clone();
    names.sort();
    hosts.sort();
    assert_eq!(
        names, hosts,
        "each VPS has its VPSieNode and the other way round"
    );
    kill(third);
}

/// `serve` as its own process, a single replica, scale-down rounds every second.
fn serve(sim: &Sim) -> Child {
    sim.serve_command(&["--leader-elect", "false", "--scale-down-interval", "1s"])
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kubectl-vpsie serve")
}
