//! The reconciler end to end: the real `kubectl-vpsie sim` (simulated cloud, cluster and the
//! in-process reconciler) or `kubectl-vpsie serve` as its own process, driven and observed with
//! the real `kubectl`.

mod e2e_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e_support::{deployment, items, running, until, Sim};
use serde_json::Value;

/// A NodeGroup of medium nodes whose pods select it by label.
fn group(name: &str, min: i32, max: i32) -> String {
    format!(
        "apiVersion: autoscaler.vpsie.com/v1alpha1
kind: NodeGroup
metadata:
  name: {name}
  namespace: kube-system
spec:
  minNodes: {min}
  maxNodes: {max}
  datacenterID: dc-us-east-1
  offeringIDs: [medium-4cpu-8gb]
  osImageID: ubuntu-22.04-lts
  labels:
    pool: {name}
"
    )
}

/// The live VMs of the simulated cloud (its admin endpoint).
fn cloud_vms(sim: &Sim) -> Vec<Value> {
    let out = Command::new("curl")
        .args(["-sf", &format!("{}/admin/state", sim.cloud_url())])
        .output()
        .expect("curl");
    let state: Value = serde_json::from_slice(&out.stdout).expect("admin state");
    state["vms"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_burst_becomes_exactly_the_nodes_bin_packing_needs() {
    let sim = Sim::start(&["--speed", "20"]);
    sim.apply_file("web.yaml", &group("web", 0, 10));
    // 10 pods of 1 cpu; a medium node offers 3900m: ceil(10 / 3) = 4 nodes
    sim.apply_file("burst.yaml", &deployment("burst", 10, "1", "512Mi", "web"));
    until("10 burst pods Running", Duration::from_secs(90), || {
        (running(&sim.app_pods("burst")) == 10).then_some(())
    });
    let vns = sim.vpsienodes("web");
    assert_eq!(vns.len(), 4, "{vns:#?}");
    for vn in &vns {
        assert_eq!(vn["status"]["phase"], "Ready");
        assert_eq!(vn["spec"]["instanceType"], "medium-4cpu-8gb");
        assert!(vn["spec"]["vpsieInstanceID"].as_i64().unwrap_or(0) > 0);
    }
    // exactly one VM per record, none leaked or duplicated
    let web_vms: Vec<String> = cloud_vms(&sim)
        .iter()
        .filter_map(|v| v["hostname"].as_str().map(String::from))
        .filter(|h| h.starts_with("web-"))
        .collect();
    let mut names: Vec<String> = vns
        .iter()
        .map(|v| v["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let mut hosts = web_vms.clone();
    names.sort();
    hosts.sort();
    assert_eq!(names, hosts);

    // what an operator sees
    let ng = sim.kubectl_ok(&["get", "ng", "web", "-n", "kube-system"]);
    let row: Vec<&str> = ng.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..6], ["web", "0", "10", "4", "4", "4"], "{ng}");
    let described = sim.kubectl_ok(&["describe", "ng", "web", "-n", "kube-system"]);
    assert!(
        described.contains("ScalingUp") && described.contains("4 x medium-4cpu-8gb"),
        "{described}"
    );
    let vn_name = names[0].clone();
    let described = sim.kubectl_ok(&["describe", "vn", &vn_name, "-n", "kube-system"]);
    for reason in ["VPSCreated", "NodeJoined", "NodeReady"] {
        assert!(
            described.contains(reason),
            "{reason} missing in\n{described}"
        );
    }
    // /metrics shows what the API reference names
    let metrics_url = sim
        .stdout
        .iter()
        .find_map(|l| l.split("metrics at ").nth(1))
        .expect("the sim prints the metrics URL")
        .trim()
        .to_string();
    let out = Command::new("curl")
        .args(["-sf", &metrics_url])
        .output()
        .expect("curl");
    let metrics = String::from_utf8_lossy(&out.stdout);
    for line in [
        "nodegroup_desired_nodes{nodegroup=\"web\"} 4",
        "nodegroup_current_nodes{nodegroup=\"web\"} 4",
        "nodegroup_ready_nodes{nodegroup=\"web\"} 4",
        "controller_reconcile_errors_total{controller=\"nodegroup\"}",
        "controller_reconcile_duration_seconds_count{controller=\"vpsienode\"}",
        "vpsie_api_requests_total{method=\"CreateVM\",status=\"200\"}",
        "vpsie_api_circuit_breaker_state 0",
    ] {
        assert!(
            metrics.contains(line),
            "{line} missing from /metrics:\n{metrics}"
        );
    }
    let ready_gauge = until(
        "vpsienode_phase{phase=\"Ready\"} 7",
        Duration::from_secs(20),
        || {
            let out = Command::new("curl")
                .args(["-sf", &metrics_url])
                .output()
                .ok()?;
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            // 4 web nodes and the example group's 3
            text.contains("vpsienode_phase{phase=\"Ready\"} 7")
                .then_some(text)
        },
    );
    assert!(ready_gauge.contains("vpsienode_phase{phase=\"Failed\"} 0"));

    // the node carries the group's labels
    let node = sim.json(&["get", "node", &vn_name]);
    assert_eq!(
        node["metadata"]["labels"]["autoscaler.vpsie.com/nodegroup"],
        "web"
    );
    assert_eq!(node["metadata"]["labels"]["pool"], "web");
}

#[test]
fn a_pending_pod_runs_within_a_minute_at_real_time() {
    let sim = Sim::start(&[]);
    sim.apply_file("solo.yaml", &group("solo", 0, 3));
    let started = Instant::now();
    sim.apply_file("one.yaml", &deployment("one", 1, "500m", "512Mi", "solo"));
    until("the pod Running", Duration::from_secs(60), || {
        (running(&sim.app_pods("one")) == 1).then_some(())
    });
    eprintln!("pending -> Running in {:?} of wall time", started.elapsed());
}

#[test]
fn pause_minimum_overrides_and_force_reconcile() {
    let sim = Sim::start(&["--speed", "20"]);
    sim.apply_file("ops.yaml", &group("ops", 0, 5));
    // the minimum (and its override) is filled without pending pods
    sim.kubectl_ok(&[
        "annotate",
        "ng",
        "ops",
        "-n",
        "kube-system",
        "autoscaler.vpsie.com/min-nodes-override=2",
    ]);
    until(
        "2 nodes for the min override",
        Duration::from_secs(60),
        || {
            let vns = sim.vpsienodes("ops");
            (vns.len() == 2 && vns.iter().all(|v| v["status"]["phase"] == "Ready")).then_some(())
        },
    );
    // a forced reconcile is acknowledged in status
    sim.kubectl_ok(&[
        "annotate",
        "ng",
        "ops",
        "-n",
        "kube-system",
        "reconcile-trigger=1700000000",
        "--overwrite",
    ]);
    until("the trigger acknowledged", Duration::from_secs(30), || {
        let ng = sim.json(&["get", "ng", "ops", "-n", "kube-system"]);
        (ng["status"]["observedReconcileTrigger"] == "1700000000").then_some(())
    });
    // paused: pending pods get no node
    sim.kubectl_ok(&[
        "annotate",
        "ng",
        "ops",
        "-n",
        "kube-system",
        "autoscaler.vpsie.com/pause=true",
    ]);
    sim.apply_file("big.yaml", &deployment("big", 12, "1", "512Mi", "ops"));
    // wait for a planning round after the pods became unschedulable, then check nothing came
    until(
        "pods reported unschedulable",
        Duration::from_secs(30),
        || {
            let pods = items(&sim.json(&["get", "pods", "-n", "default", "-l", "app=big"]));
            let refused = pods
                .iter()
                .filter(|p| {
                    p["status"]["conditions"]
                        .as_array()
                        .is_some_and(|cs| cs.iter().any(|c| c["reason"] == "Unschedulable"))
                })
                .count();
            (refused == 6).then_some(())
        },
    );
    sim.kubectl_ok(&[
        "annotate",
        "ng",
        "ops",
        "-n",
        "kube-system",
        "reconcile-trigger=1700000001",
        "--overwrite",
    ]);
    until(
        "the second trigger acknowledged",
        Duration::from_secs(30),
        || {
            let ng = sim.json(&["get", "ng", "ops", "-n", "kube-system"]);
            (ng["status"]["observedReconcileTrigger"] == "1700000001").then_some(())
        },
    );
    assert_eq!(sim.vpsienodes("ops").len(), 2, "paused: no node added");
    // resumed: 6 pods wait, one more node (the max override of 3) takes 3 of them, the rest
    // wait with ScaleLimitReached
    sim.kubectl_ok(&[
        "annotate",
        "ng",
        "ops",
        "-n",
        "kube-system",
        "autoscaler.vpsie.com/max-nodes-override=3",
        "autoscaler.vpsie.com/pause-",
    ]);
    until(
        "one more node, up to the max override",
        Duration::from_secs(60),
        || {
            let vns = sim.vpsienodes("ops");
            (vns.len() == 3 && vns.iter().all(|v| v["status"]["phase"] == "Ready")).then_some(())
        },
    );
    let ng = sim.json(&["get", "ng", "ops", "-n", "kube-system"]);
    let at_max = ng["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "AtMaxCapacity")
        .cloned()
        .unwrap();
    assert_eq!(at_max["status"], "True", "{ng:#}");
    let events = sim.kubectl_ok(&[
        "get",
        "events",
        "-n",
        "kube-system",
        "--field-selector",
        "reason=ScaleLimitReached",
    ]);
    assert!(events.contains("Maximum nodes reached: 3"), "{events}");
}

#[test]
fn an_invalid_annotation_is_an_error_condition_and_an_event() {
    let sim = Sim::start(&["--speed", "20"]);
    sim.apply_file("bad.yaml", &group("bad", 0, 3));
    sim.kubectl_ok(&[
        "annotate",
        "ng",
        "bad",
        "-n",
        "kube-system",
        "autoscaler.vpsie.com/max-nodes-override=lots",
    ]);
    let message = until("the Error condition", Duration::from_secs(30), || {
        sim.invalid_configuration("bad")
    });
    assert!(
        message.contains("max-nodes-override") && message.contains("lots"),
        "{message}"
    );
    let events = sim.kubectl_ok(&[
        "get",
        "events",
        "-n",
        "kube-system",
        "--field-selector",
        "reason=InvalidConfiguration",
    ]);
    assert!(events.contains("lots"), "{events}");
}

#[test]
fn a_reconciler_killed_mid_provision_leaves_no_duplicate_and_no_leak() {
    let sim = Sim::start(&["--no-reconciler"]);
    sim.kubectl_ok(&["delete", "ng", "production-workers", "-n", "kube-system"]);
    sim.apply_file("crash.yaml", &group("crash", 0, 10));
    let mut reconciler = sim
        .serve_command(&[])
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn kubectl-vpsie serve");
    sim.apply_file("load.yaml", &deployment("load", 9, "1", "512Mi", "crash"));
    // kill -9 as soon as a VPS exists for a record that is not Ready yet
    until("a VPS being provisioned", Duration::from_secs(60), || {
        sim.vpsienodes("crash")
            .iter()
            .any(|v| {
                v["spec"]["vpsieInstanceID"].as_i64().unwrap_or(0) > 0
                    && v["status"]["phase"] != "Ready"
            })
            .then_some(())
    });
    reconciler.kill().expect("kill");
    reconciler.wait().expect("wait");
    let mut reconciler = sim
        .serve_command(&[])
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn kubectl-vpsie serve");
    until("9 pods Running", Duration::from_secs(120), || {
        (running(&sim.app_pods("load")) == 9).then_some(())
    });
    let vns = sim.vpsienodes("crash");
    assert_eq!(vns.len(), 3, "ceil(9 / 3) medium nodes: {vns:#?}");
    let mut names: Vec<String> = vns
        .iter()
        .map(|v| v["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    let mut hosts: Vec<String> = cloud_vms(&sim)
        .iter()
        .filter_map(|v| v["hostname"].as_str().map(String::from))
        .filter(|h| h.starts_with("crash-"))
        .collect();
    names.sort();
    hosts.sort();
    assert_eq!(names, hosts, "one VM per record: no duplicate, no leak");
    let _ = reconciler.kill();
    let _ = reconciler.wait();
}
