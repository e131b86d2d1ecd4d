//! The managed-Kubernetes backend end to end: the real `serve` against the sim, adding nodes
//! to a node group of the simulated VPSie managed cluster and removing them, through lost
//! answers (`data: true`, a reply cut after the node was made) and a SIGKILL of `serve` while
//! an add is in flight: every node added once, none leaked, every record matched to its own.

mod e2e_support;

use std::collections::BTreeSet;
use std::process::{Child, Command};
use std::time::Duration;

use e2e_support::{items, until, Sim};

fn serve(sim: &Sim, extra: &[&str]) -> Child {
    serve_on(sim, "127.0.0.1:0", extra)
}

fn serve_on(sim: &Sim, metrics: &str, extra: &[&str]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(sim.path("serve.log"))
        .expect("serve.log");
    let flags = [
        "--metrics-addr",
        metrics,
        "--leader-elect",
        "false",
        "--resync",
        "2s",
        "--scale-down-interval",
        "1s",
    ];
    sim.serve_command(&[&flags[..], extra].concat())
        .env("POD_NAME", "managed-test")
        .stderr(log)
        .spawn()
        .expect("spawn kubectl-vpsie serve")
}

/// Kills `serve` when dropped; when the test failed, prints the end of its log.
struct Stop(Child, std::path::PathBuf);

impl Drop for Stop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.1).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- serve.log (last lines) ---");
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

fn stop(sim: &Sim, extra: &[&str]) -> Stop {
    Stop(serve(sim, extra), sim.path("serve.log"))
}

fn group_yaml(name: &str, min: i32, extra: &str) -> String {
    format!(
        r#"apiVersion: autoscaler.vpsie.com/v1alpha1
kind: NodeGroup
metadata:
  name: {name}
  namespace: kube-system
spec:
  minNodes: {min}
  maxNodes: 6
  datacenterID: dc-us-east-1
  offeringIDs: [small-2cpu-4gb]
  osImageID: ubuntu-22.04-lts
  labels:
    tier: managed
  scaleDownPolicy:
    enabled: true
    stabilizationWindowSeconds: 1
    unneededTime: 1
    cpuThreshold: 50
    memoryThreshold: 50
{extra}"#
    )
}

fn apply(sim: &Sim, yaml: &str) {
    let out = sim.kubectl_stdin(&["apply", "-f", "-"], yaml);
    assert!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The live VMs of the sim's managed cluster in the VPSie node group named `group`: id, group
/// id, hostname.
fn managed_vms(sim: &Sim, group: &str) -> Vec<(u64, u64, String)> {
    group_vms(sim, group, "vms")
}

/// Every node ever made in the VPSie node group named `group`, deleted ones included.
fn made(sim: &Sim, group: &str) -> usize {
    group_vms(sim, group, "history").len()
}

/// Successful (2xx) calls of `op`, from the sim cloud's request log.
fn succeeded(sim: &Sim, op: &str) -> usize {
    sim.admin("GET", "requests", None)["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|r| {
            r["operation"] == op
                && r["status"]
                    .as_u64()
                    .is_some_and(|s| (200..300).contains(&s))
        })
        .count()
}

fn group_vms(sim: &Sim, group: &str, source: &str) -> Vec<(u64, u64, String)> {
    let state = sim.admin("GET", "state", None);
    let Some(gid) = state["k8s_node_groups"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["name"] == group))
        .and_then(|g| g["id"].as_u64())
    else {
        return Vec::new();
    };
    state[source]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|v| {
            let g = v["k8s_node_group"].as_array()?;
            if g.get(1)?.as_u64()? != gid {
                return None;
            }
            Some((
                v["id"].as_u64()?,
                g.get(1)?.as_u64()?,
                v["hostname"].as_str()?.to_string(),
            ))
        })
        .collect()
}

fn count(sim: &Sim, op: &str) -> u64 {
    sim.admin("GET", "state", None)["counters"][op]
        .as_u64()
        .unwrap_or(0)
}

fn ready(sim: &Sim, group: &str) -> usize {
    sim.vpsienodes(group)
        .iter()
        .filter(|v| v["status"]["phase"] == "Ready")
        .count()
}

/// Every record has its own VM of the managed cluster, and every such VM a record: no
/// duplicate, no leak. Returns the ids.
fn one_to_one(sim: &Sim, group: &str) -> BTreeSet<u64> {
    let vms = managed_vms(sim, group);
    let recs = sim.vpsienodes(group);
    let ids: Vec<u64> = recs
        .iter()
        .map(|r| r["spec"]["vpsieInstanceID"].as_u64().unwrap_or(0))
        .collect();
    let unique: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "two records share a VPS: {ids:?}");
    let live: BTreeSet<u64> = vms.iter().map(|v| v.0).collect();
    assert_eq!(
        unique, live,
        "records {ids:?} and the managed cluster's VMs {vms:?} differ"
    );
    for r in &recs {
        let id = r["spec"]["vpsieInstanceID"].as_u64().unwrap();
        let host = &vms.iter().find(|v| v.0 == id).unwrap().2;
        assert_eq!(
            r["spec"]["nodeName"].as_str(),
            Some(host.as_str()),
            "record {} names another node than its VPS {id}",
            r["metadata"]["name"]
        );
    }
    unique
}

#[test]
fn nodes_are_added_to_and_removed_from_the_managed_cluster_through_lost_answers() {
    let sim = Sim::start(&["--no-reconciler", "--speed", "10"]);
    // the first add answers only `data: true`, the second's reply is cut after the node was
    // made: both must be resolved by finding the node, not by adding another
    sim.admin(
        "POST",
        "faults",
        Some(r#"{"matcher":{"operation":"AddK8sNode"},"count":1,"action":{"type":"answer_true"}}"#),
    );
    sim.admin(
        "POST",
        "faults",
        Some(
            r#"{"matcher":{"operation":"AddK8sNode"},"count":1,"action":{"type":"lose_response"}}"#,
        ),
    );
    apply(
        &sim,
        &group_yaml("managed-web", 3, "  backend: managedKubernetes\n"),
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let metrics = format!("127.0.0.1:{port}");
    let _serve = Stop(serve_on(&sim, &metrics, &[]), sim.path("serve.log"));

    until("3 managed records Ready", Duration::from_secs(120), || {
        (ready(&sim, "managed-web") == 3).then_some(())
    });
    let ids = one_to_one(&sim, "managed-web");
    assert_eq!(ids.len(), 3);
    assert_eq!(
        count(&sim, "AddK8sNode"),
        3,
        "each node added exactly once, the lost answers included"
    );
    assert_eq!(made(&sim, "managed-web"), 3);
    assert_eq!(count(&sim, "CreateVM"), 3, "the example group's 3 VMs only");
    // the group was created on VPSie, and the status shows the backend and where it adds
    let ng = sim.json(&["get", "ng", "managed-web", "-n", "kube-system"]);
    assert_eq!(ng["status"]["backend"], "managedKubernetes", "{ng}");
    let mk = &ng["status"]["managedKubernetes"];
    assert_eq!(mk["clusterName"], "sim-cluster", "{mk}");
    assert_eq!(mk["groups"][0]["groupName"], "managed-web", "{mk}");
    assert_eq!(mk["groups"][0]["offeringID"], "small-2cpu-4gb", "{mk}");
    let gid = mk["groups"][0]["groupID"].as_u64().expect("groupID");
    assert!(managed_vms(&sim, "managed-web").iter().all(|v| v.1 == gid));
    // `kubectl vpsie status` says how the group gets its nodes
    let out = sim.plugin(&["status"]);
    let text = e2e_support::text(&out.stdout);
    assert!(
        text.contains(&format!(
            "backend: managedKubernetes: cluster sim-cluster ({}), node group managed-web #{gid} (small-2cpu-4gb)",
            mk["clusterID"].as_str().unwrap()
        )),
        "{text}"
    );
    // the nodes VPSie named carry the group's labels
    let nodes = items(&sim.json(&[
        "get",
        "nodes",
        "-l",
        "autoscaler.vpsie.com/nodegroup=managed-web,tier=managed",
    ]));
    assert_eq!(nodes.len(), 3, "the managed nodes, labelled: {nodes:?}");

    // the calls are the client's, with its metrics; the records' events are the VM path's
    let scrape = Command::new("curl")
        .args(["-sf", &format!("http://{metrics}/metrics")])
        .output()
        .expect("curl");
    let text = e2e_support::text(&scrape.stdout);
    for want in [
        // the `data: true` one answered 200, the cut one has no answer: "error"
        r#"vpsie_api_requests_total{method="AddK8sNode",status="200"} 2"#,
        r#"vpsie_api_requests_total{method="AddK8sNode",status="error"} 1"#,
        r#"vpsie_api_requests_total{method="CreateK8sNodeGroup",status="200"} 1"#,
    ] {
        assert!(text.contains(want), "{want} not in the metrics:\n{text}");
    }
    let events = sim.kubectl_ok(&[
        "get",
        "events",
        "-n",
        "kube-system",
        "-o",
        "jsonpath={range .items[*]}{.reason} {.involvedObject.name}{\"\\n\"}{end}",
    ]);
    let created = events
        .lines()
        .filter(|l| l.starts_with("VPSCreated managed-web-"))
        .count();
    assert_eq!(
        created, 3,
        "a VPSCreated event per managed record:\n{events}"
    );

    // a cluster that does not exist: InvalidConfiguration naming the field, nothing added
    apply(
        &sim,
        &group_yaml(
            "managed-bad",
            1,
            "  managedKubernetes:\n    clusterID: no-such-cluster\n",
        ),
    );
    let message = until("managed-bad refused", Duration::from_secs(60), || {
        sim.invalid_configuration("managed-bad")
    });
    assert!(
        message.contains("spec.managedKubernetes.clusterID \"no-such-cluster\"")
            && message.contains("sim-cluster"),
        "{message}"
    );
    assert!(sim.vpsienodes("managed-bad").is_empty());
    assert_eq!(count(&sim, "AddK8sNode"), 3);
    sim.kubectl_ok(&["delete", "ng", "managed-bad", "-n", "kube-system"]);

    // scale-down: nothing runs on them, minNodes 0 -> all go, through the cluster's delete
    apply(
        &sim,
        &group_yaml("managed-web", 0, "  backend: managedKubernetes\n"),
    );
    until(
        "the managed nodes removed",
        Duration::from_secs(120),
        || {
            (sim.vpsienodes("managed-web").is_empty()
                && managed_vms(&sim, "managed-web").is_empty())
            .then_some(())
        },
    );
    assert_eq!(
        succeeded(&sim, "DeleteK8sNode"),
        3,
        "one remove per node (a repeat finds it gone: 404)"
    );
    assert_eq!(
        count(&sim, "DeleteVM"),
        0,
        "managed nodes leave through their cluster"
    );
    let gone = items(&sim.json(&[
        "get",
        "nodes",
        "-l",
        "autoscaler.vpsie.com/nodegroup=managed-web",
    ]));
    assert!(gone.is_empty(), "Node objects left: {gone:?}");
}

#[test]
fn a_reconciler_killed_during_an_add_finds_the_node_after_the_restart() {
    let sim = Sim::start(&["--no-reconciler", "--speed", "10"]);
    // the first add makes its node, then its answer is held back (an hour of sim time)
    sim.admin(
        "POST",
        "faults",
        Some(r#"{"matcher":{"operation":"AddK8sNode"},"count":1,"action":{"type":"hold_response","ms":3600000}}"#),
    );
    // no spec.backend: the flag chooses; the example group keeps the VM path by its spec
    apply(&sim, &group_yaml("managed-db", 2, ""));
    sim.kubectl_ok(&[
        "patch",
        "ng",
        "production-workers",
        "-n",
        "kube-system",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"backend":"vm"}}"#,
    ]);
    let flags = ["--backend", "managed-kubernetes"];
    let mut first = stop(&sim, &flags);
    let waiting = until(
        "an add sent, its node made, its answer not back",
        Duration::from_secs(60),
        || {
            let recs = sim.vpsienodes("managed-db");
            let w = recs.iter().find(|r| {
                r["spec"]["vpsieInstanceID"].as_i64().unwrap_or(0) == 0
                    && r["metadata"]["annotations"]["autoscaler.vpsie.com/k8s-add-requested-at"]
                        .is_string()
            })?;
            (managed_vms(&sim, "managed-db").len() == 1)
                .then(|| w["metadata"]["name"].as_str().unwrap().to_string())
        },
    );
    first.0.kill().expect("SIGKILL serve");
    first.0.wait().expect("reap serve");
    sim.admin("DELETE", "faults", None);

    let _second = stop(&sim, &flags);
    until(
        "2 managed records Ready after the restart",
        Duration::from_secs(120),
        || (ready(&sim, "managed-db") == 2).then_some(()),
    );
    let ids = one_to_one(&sim, "managed-db");
    assert_eq!(ids.len(), 2);
    assert_eq!(
        made(&sim, "managed-db"),
        2,
        "the node of the add in flight at the kill was found, not added again"
    );
    let vn = sim.json(&["get", "vn", &waiting, "-n", "kube-system"]);
    assert!(
        vn["spec"]["vpsieInstanceID"].as_u64().unwrap_or(0) > 0,
        "{vn}"
    );

    // deleting the NodeGroup gives every node back: nothing leaks
    sim.kubectl_ok(&[
        "delete",
        "ng",
        "managed-db",
        "-n",
        "kube-system",
        "--wait=false",
    ]);
    until(
        "the managed cluster empty",
        Duration::from_secs(120),
        || {
            (managed_vms(&sim, "managed-db").is_empty() && sim.vpsienodes("managed-db").is_empty())
                .then_some(())
        },
    );
    assert_eq!(succeeded(&sim, "DeleteK8sNode"), 2);
}
