//! Every command of the API reference's "kubectl Commands" section, run by the real `kubectl`
//! against `kubectl-vpsie sim` (the real binary).

mod e2e_support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use e2e_support::{assert_success, write, Sim};

const VPSIENODE: &str = "apiVersion: autoscaler.vpsie.com/v1alpha1
kind: VPSieNode
metadata:
  name: vpsie-prod-workers-abc123
  namespace: kube-system
  labels:
    nodegroup: production-workers
spec:
  vpsieInstanceID: 1001
  instanceType: medium-4cpu-8gb
  nodeGroupName: production-workers
  datacenterID: dc-us-east-1
  nodeName: vpsie-prod-workers-abc123
  ipAddress: 192.0.2.10
";

fn header(out: &str) -> Vec<&str> {
    out.lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect()
}

fn with_vpsienode(sim: &Sim) {
    let file = write(sim.dir.path(), "vn.yaml", VPSIENODE);
    sim.kubectl_ok(&["apply", "-f", file.to_str().unwrap()]);
    sim.kubectl_ok(&[
        "patch",
        "vn",
        "vpsie-prod-workers-abc123",
        "-n",
        "kube-system",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Provisioning","nodeName":"vpsie-prod-workers-abc123"}}"#,
    ]);
}

#[test]
fn nodegroup_operations() {
    let sim = Sim::start(&["--speed", "10", "--no-reconciler"]);
    for args in [
        &["get", "nodegroups", "-n", "kube-system"][..],
        &["get", "ng", "-n", "kube-system"][..],
    ] {
        let out = sim.kubectl_ok(args);
        assert_eq!(
            header(&out),
            ["NAME", "MIN", "MAX", "CURRENT", "READY", "DESIRED", "AGE"],
            "{out}"
        );
        assert!(
            out.lines()
                .nth(1)
                .unwrap_or("")
                .starts_with("production-workers"),
            "{out}"
        );
    }
    let described = sim.kubectl_ok(&[
        "describe",
        "nodegroup",
        "production-workers",
        "-n",
        "kube-system",
    ]);
    assert!(
        described.contains("Name:         production-workers"),
        "{described}"
    );
    assert!(described.contains("Min Nodes:"), "{described}");

    let yaml = sim.kubectl_ok(&[
        "get",
        "nodegroup",
        "production-workers",
        "-n",
        "kube-system",
        "-o",
        "yaml",
    ]);
    assert!(
        yaml.contains("kind: NodeGroup") && yaml.contains("preferredInstanceType: medium-4cpu-8gb"),
        "{yaml}"
    );

    // kubectl edit with an editor that raises maxNodes
    let editor = write(
        sim.dir.path(),
        "editor.sh",
        "#!/bin/sh\nsed -i 's/maxNodes: 20/maxNodes: 25/' \"$1\"\n",
    );
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = sim
        .kubectl()
        .args([
            "edit",
            "nodegroup",
            "production-workers",
            "-n",
            "kube-system",
        ])
        .env("KUBE_EDITOR", &editor)
        .output()
        .unwrap();
    assert_success(&out, "kubectl edit");
    let custom = sim.kubectl_ok(&[
        "get",
        "ng",
        "-n",
        "kube-system",
        "-o",
        "custom-columns=NAME:.metadata.name,MIN:.spec.minNodes,MAX:.spec.maxNodes,CURRENT:.status.currentNodes,READY:.status.readyNodes,DESIRED:.status.desiredNodes",
    ]);
    let row: Vec<&str> = custom.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(&row[..3], ["production-workers", "3", "25"], "{custom}");

    // the runbook's force reconcile
    sim.kubectl_ok(&[
        "annotate",
        "nodegroup",
        "production-workers",
        "-n",
        "kube-system",
        "reconcile-trigger=1700000000",
        "--overwrite",
    ]);
    sim.kubectl_ok(&[
        "annotate",
        "nodegroup",
        "production-workers",
        "-n",
        "kube-system",
        "reconcile-trigger=1700000001",
        "--overwrite",
    ]);
    let ann = sim.kubectl_ok(&[
        "get",
        "ng",
        "production-workers",
        "-n",
        "kube-system",
        "-o",
        "jsonpath={.metadata.annotations.reconcile-trigger}",
    ]);
    assert_eq!(ann, "1700000001");

    // an invalid NodeGroup is refused with a message naming the field
    let bad = write(
        sim.dir.path(),
        "bad.yaml",
        "apiVersion: autoscaler.vpsie.com/v1alpha1\nkind: NodeGroup\nmetadata:\n  name: bad\n  namespace: kube-system\nspec:\n  minNodes: 5\n  maxNodes: 2\n  datacenterID: dc-us-east-1\n  offeringIDs: [small-2cpu-4gb]\n  osImageID: ubuntu-22.04-lts\n",
    );
    let out = sim
        .kubectl()
        .args(["apply", "-f", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("spec") && err.contains("maxNodes"), "{err}");

    sim.kubectl_ok(&[
        "delete",
        "nodegroup",
        "production-workers",
        "-n",
        "kube-system",
    ]);
    let out = sim.kubectl_ok(&["get", "ng", "-n", "kube-system", "-o", "name"]);
    assert!(out.trim().is_empty(), "{out}");
}

#[test]
fn vpsienode_operations() {
    let sim = Sim::start(&["--speed", "10", "--no-reconciler"]);
    with_vpsienode(&sim);
    for args in [
        &["get", "vpsienodes", "-n", "kube-system"][..],
        &["get", "vn", "-n", "kube-system"][..],
        &[
            "get",
            "vn",
            "-n",
            "kube-system",
            "-l",
            "nodegroup=production-workers",
        ][..],
        &[
            "get",
            "vn",
            "-n",
            "kube-system",
            "--field-selector",
            "status.phase=Provisioning",
        ][..],
    ] {
        let out = sim.kubectl_ok(args);
        assert_eq!(
            header(&out),
            ["NAME", "PHASE", "NODE", "VPS-ID", "TYPE", "IP", "AGE"],
            "{out}"
        );
        let row: Vec<&str> = out
            .lines()
            .nth(1)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        assert_eq!(
            &row[..6],
            [
                "vpsie-prod-workers-abc123",
                "Provisioning",
                "vpsie-prod-workers-abc123",
                "1001",
                "medium-4cpu-8gb",
                "192.0.2.10"
            ],
            "{args:?}: {out}"
        );
    }
    let none = sim
        .kubectl()
        .args([
            "get",
            "vn",
            "-n",
            "kube-system",
            "--field-selector",
            "status.phase=Ready",
        ])
        .output()
        .unwrap();
    assert_success(&none, "field selector with no match");
    assert!(String::from_utf8_lossy(&none.stderr).contains("No resources found"));
    let other = sim.kubectl_ok(&[
        "get",
        "vn",
        "-n",
        "kube-system",
        "-l",
        "nodegroup=other",
        "-o",
        "name",
    ]);
    assert!(other.trim().is_empty());

    let described = sim.kubectl_ok(&[
        "describe",
        "vpsienode",
        "vpsie-prod-workers-abc123",
        "-n",
        "kube-system",
    ]);
    assert!(
        described.contains("Vpsie Instance ID:  1001"),
        "{described}"
    );
    let yaml = sim.kubectl_ok(&[
        "get",
        "vn",
        "vpsie-prod-workers-abc123",
        "-n",
        "kube-system",
        "-o",
        "yaml",
    ]);
    assert!(yaml.contains("phase: Provisioning"), "{yaml}");
    let custom = sim.kubectl_ok(&[
        "get",
        "vn",
        "-n",
        "kube-system",
        "-o",
        "custom-columns=NAME:.metadata.name,PHASE:.status.phase,NODE:.status.nodeName,VPS-ID:.spec.vpsieInstanceID,TYPE:.spec.instanceType,IP:.spec.ipAddress",
    ]);
    assert_eq!(
        header(&custom),
        ["NAME", "PHASE", "NODE", "VPS-ID", "TYPE", "IP"]
    );
    assert!(custom.contains("1001"), "{custom}");
}

#[test]
fn watch_prints_changes() {
    let sim = Sim::start(&["--speed", "10", "--no-reconciler"]);
    with_vpsienode(&sim);
    let mut child = sim
        .kubectl()
        .args(["get", "vn", "-n", "kube-system", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(20))
            .expect("a line from kubectl get -w")
    };
    assert!(next().starts_with("NAME"));
    assert!(next().contains("Provisioning"));
    sim.kubectl_ok(&[
        "patch",
        "vn",
        "vpsie-prod-workers-abc123",
        "-n",
        "kube-system",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Ready"}}"#,
    ]);
    let changed = next();
    assert!(changed.contains("Ready"), "{changed}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_runbook_credential_rotation_applies() {
    let sim = Sim::start(&["--speed", "10", "--no-reconciler"]);
    for round in ["a", "b"] {
        let generated = sim.kubectl_ok(&[
            "create",
            "secret",
            "generic",
            "vpsie-secret",
            &format!("--from-literal=clientId=id-{round}"),
            &format!("--from-literal=clientSecret=secret-{round}"),
            "-n",
            "kube-system",
            "--dry-run=client",
            "-o",
            "yaml",
        ]);
        let out = sim.kubectl_stdin(&["apply", "-f", "-"], &generated);
        assert_success(&out, "kubectl apply -f - of the Secret");
    }
    let keys = sim.kubectl_ok(&[
        "get",
        "secret",
        "vpsie-secret",
        "-n",
        "kube-system",
        "-o",
        "jsonpath={.data.clientId}",
    ]);
    assert_eq!(keys, "aWQtYg==", "clientId is id-b");
}
