//! The operator commands (`status`, `nodes`, `reconcile`, `pause`/`resume`, `breaker`) end to
//! end: the real `kubectl-vpsie` binary against `kubectl-vpsie sim` with the reconciler running,
//! each run as `kubectl vpsie ...` (kubectl's plugin discovery on PATH), and their errors.

mod e2e_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

use e2e_support::{assert_one_error_line, text, until, Sim};
use serde_json::Value;

const NG: &str = "production-workers";

fn plugin_ok(sim: &Sim, args: &[&str]) -> String {
    let out = sim.plugin(args);
    e2e_support::assert_success(&out, &format!("kubectl-vpsie {}", args.join(" ")));
    text(&out.stdout)
}

fn plugin_json(sim: &Sim, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    let out = plugin_ok(sim, &all);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} -o json: {e}: {out}"))
}

fn annotation(sim: &Sim, key: &str) -> String {
    let path = format!(
        "jsonpath={{.metadata.annotations.{}}}",
        key.replace('.', "\\.")
    );
    sim.kubectl_ok(&["get", "ng", NG, "-n", "kube-system", "-o", &path])
}

fn group<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["nodeGroups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["name"] == name))
        .unwrap_or_else(|| panic!("group {name} in {status}"))
}

#[test]
fn status_nodes_reconcile_pause_and_resume_against_the_sim() {
    let sim = Sim::start(&["--speed", "20"]);
    let status = until(
        "3 Ready nodes and the decision in `status -o json`",
        Duration::from_secs(90),
        || {
            let s = plugin_json(&sim, &["status"]);
            let g = group(&s, NG).clone();
            (g["nodesByPhase"]["Ready"] == 3
                && g["readyNodes"] == 3
                && !g["lastDecision"].is_null())
            .then_some(s)
        },
    );
    assert_eq!(status["schemaVersion"], 1);
    assert_eq!(status["namespace"], "kube-system");
    let c = &status["controller"];
    assert_eq!(c["breaker"]["state"], "closed");
    assert_eq!(c["credentials"]["state"], "loaded");
    assert_eq!(c["leader"], "vpsie-autoscaler-sim");
    assert!(c["credentials"]["fingerprint"]
        .as_str()
        .is_some_and(|f| f.len() == 12));
    assert!(status["controllerProblem"].is_null());
    let g = group(&status, NG);
    assert_eq!(
        (g["minNodes"].as_i64(), g["maxNodes"].as_i64()),
        (Some(3), Some(20))
    );
    assert_eq!(g["lastDecision"]["action"], "ScaleUp");
    assert_eq!(g["lastDecision"]["reason"], "BelowMinNodes");
    assert_eq!(g["paused"], false);

    // the table: the group's row and its decision
    let table = plugin_ok(&sim, &["status"]);
    let row = table
        .lines()
        .find(|l| l.starts_with(NG))
        .unwrap_or_else(|| panic!("a row for {NG}: {table}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..6], &[NG, "3/20", "3", "3", "3", "no"], "{row}");
    assert!(table.contains("Breaker:     closed"), "{table}");
    assert!(table.contains("ScaleUp (BelowMinNodes)"), "{table}");
    assert!(
        !table.contains("sim-client-secret")
            && !text(&sim.plugin(&["status", "-o", "yaml"]).stdout).contains("sim-client-secret")
    );

    // an override shows in MIN/MAX
    sim.kubectl_ok(&[
        "annotate",
        "ng",
        NG,
        "-n",
        "kube-system",
        "autoscaler.vpsie.com/max-nodes-override=15",
    ]);
    let table = plugin_ok(&sim, &["status", NG]);
    assert!(table.contains("3/20 (max 15 override)"), "{table}");
    let g = plugin_json(&sim, &["status", NG]);
    assert_eq!(group(&g, NG)["effectiveMax"], 15);

    // nodes: three Ready VPSieNodes with a VPS, none stuck
    let nodes = plugin_json(&sim, &["nodes", NG]);
    assert_eq!(nodes["schemaVersion"], 1);
    let list = nodes["nodes"].as_array().expect("nodes");
    assert_eq!(list.len(), 3, "{nodes}");
    for n in list {
        assert_eq!(n["phase"], "Ready", "{n}");
        assert!(n["vpsId"].as_i64().is_some_and(|id| id > 0), "{n}");
        assert!(
            n["node"].is_string() && n["ip"].is_string() && n["stuck"].is_null(),
            "{n}"
        );
        assert!(n["secondsInPhase"].as_i64().is_some_and(|s| s >= 0), "{n}");
    }
    assert_eq!(nodes["stuck"], 0);
    let table = plugin_ok(&sim, &["nodes"]);
    assert!(table.starts_with("NAME"), "{table}");
    assert_eq!(
        table.lines().filter(|l| l.contains(" Ready ")).count(),
        3,
        "{table}"
    );

    // reconcile: the annotation the runbook writes, acknowledged in status
    let out = plugin_ok(&sim, &["reconcile", NG, "--timeout", "30s"]);
    let value = out
        .lines()
        .next()
        .and_then(|l| l.rsplit("reconcile-trigger=").next())
        .expect("the value")
        .trim()
        .to_string();
    assert!(
        out.contains(&format!(
            "reconciled (status.observedReconcileTrigger={value})"
        )),
        "{out}"
    );
    assert!(out.contains("last decision"), "{out}");
    assert_eq!(annotation(&sim, "reconcile-trigger"), value);
    let observed = sim.kubectl_ok(&[
        "get",
        "ng",
        NG,
        "-n",
        "kube-system",
        "-o",
        "jsonpath={.status.observedReconcileTrigger}",
    ]);
    assert_eq!(observed, value);
    // --no-wait sets a fresh value and returns
    let out = plugin_ok(&sim, &["reconcile", NG, "--no-wait"]);
    let second = out
        .trim()
        .rsplit('=')
        .next()
        .unwrap_or_default()
        .to_string();
    assert_ne!(second, value, "a fresh value: {out}");
    assert_eq!(annotation(&sim, "reconcile-trigger"), second);

    // status --watch -o json: one document per change, the pause shows up
    let mut watch = sim
        .plugin_command(&["status", "--watch", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn status --watch");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = watch.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first: Value = serde_json::from_str(
        &rx.recv_timeout(Duration::from_secs(30))
            .expect("a first document"),
    )
    .expect("json line");
    assert_eq!(group(&first, NG)["paused"], false);

    // pause with a reason
    let out = plugin_ok(&sim, &["pause", NG, "--reason", "maintenance window"]);
    assert_eq!(
        out.trim(),
        "nodegroup/production-workers paused (autoscaler.vpsie.com/pause=true, reason: maintenance window)"
    );
    assert_eq!(annotation(&sim, "autoscaler.vpsie.com/pause"), "true");
    assert_eq!(
        annotation(&sim, "autoscaler.vpsie.com/pause-reason"),
        "maintenance window"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx.recv_timeout(left).expect("the watch shows the pause");
        let doc: Value = serde_json::from_str(&line).expect("json line");
        if group(&doc, NG)["paused"] == true {
            assert_eq!(group(&doc, NG)["pauseReason"], "maintenance window");
            break;
        }
    }
    let _ = watch.kill();
    let _ = watch.wait();
    // the controller sees the pause too
    until(
        "the report shows the pause",
        Duration::from_secs(30),
        || {
            let out = sim.kubectl_ok(&[
                "get",
                "cm",
                "vpsie-autoscaler-status",
                "-n",
                "kube-system",
                "-o",
                "jsonpath={.data.status\\.json}",
            ]);
            let r: Value = serde_json::from_str(&out).ok()?;
            (r["nodeGroups"][NG]["paused"] == true).then_some(())
        },
    );
    let table = plugin_ok(&sim, &["status"]);
    assert!(
        table.contains(
            "paused: maintenance window (resume: kubectl vpsie resume production-workers)"
        ),
        "{table}"
    );

    // resume --all removes both annotations
    let out = plugin_ok(&sim, &["resume", "--all"]);
    assert_eq!(
        out.trim(),
        "nodegroup/production-workers resumed (autoscaler.vpsie.com/pause removed)"
    );
    assert_eq!(annotation(&sim, "autoscaler.vpsie.com/pause"), "");
    assert_eq!(annotation(&sim, "autoscaler.vpsie.com/pause-reason"), "");
    assert_eq!(group(&plugin_json(&sim, &["status"]), NG)["paused"], false);

    // every command above ran as `kubectl vpsie ...`; kubectl lists the plugin too
    let out = sim
        .kubectl()
        .args(["plugin", "list"])
        .env("PATH", e2e_support::plugin_path(sim.dir.path()))
        .output()
        .expect("kubectl plugin list");
    assert!(
        text(&out.stdout).contains("kubectl-vpsie"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn the_breaker_opens_and_is_reset_with_confirmation() {
    let sim = Sim::start(&["--speed", "20"]);
    until("a closed breaker", Duration::from_secs(60), || {
        let out = sim.plugin(&["breaker", "-o", "json"]);
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        (v["breaker"]["state"] == "closed").then_some(())
    });
    // VPSie answers 503 to everything; a scale-up makes the controller call it
    sim.admin(
        "POST",
        "faults",
        Some(r#"{"action": {"type": "status", "code": 503, "message": "maintenance"}}"#),
    );
    sim.kubectl_ok(&[
        "annotate",
        "ng",
        NG,
        "-n",
        "kube-system",
        "autoscaler.vpsie.com/min-nodes-override=4",
    ]);
    let open = until(
        "the breaker open in `breaker -o json`",
        Duration::from_secs(90),
        || {
            let out = sim.plugin(&["breaker", "-o", "json"]);
            let v: Value = serde_json::from_slice(&out.stdout).ok()?;
            (v["breaker"]["state"] == "open").then_some(v)
        },
    );
    assert_eq!(open["schemaVersion"], 1);
    assert!(
        open["apiErrors"]["byType"]["server_error"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{open}"
    );
    assert!(
        open["breaker"]["lastFailure"]
            .as_str()
            .is_some_and(|m| m.contains("503")),
        "{open}"
    );
    let table = plugin_ok(&sim, &["breaker", "status"]);
    assert!(table.contains("circuit breaker:       OPEN"), "{table}");
    assert!(table.contains("server_error="), "{table}");
    let status = plugin_ok(&sim, &["status"]);
    assert!(status.contains("Breaker:     OPEN since"), "{status}");

    // without a terminal and without --yes: refused, nothing requested
    let out = sim.plugin(&["breaker", "reset"]);
    assert_one_error_line(&out, &["refusing to reset the circuit breaker", "--yes"]);
    let ann = sim.kubectl_ok(&[
        "get",
        "cm",
        "vpsie-autoscaler-status",
        "-n",
        "kube-system",
        "-o",
        "jsonpath={.metadata.annotations}",
    ]);
    assert!(!ann.contains("breaker-reset"), "{ann}");

    // the cause is gone; reset and wait for the acknowledgement
    sim.admin("DELETE", "faults", None);
    let out = plugin_ok(&sim, &["breaker", "reset", "--yes", "--timeout", "30s"]);
    let value = out
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("circuit breaker reset acknowledged ("))
        .and_then(|l| l.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&value).is_ok(),
        "{value}"
    );
    assert!(out.contains("circuit breaker:       closed"), "{out}");
    let ann = sim.kubectl_ok(&[
        "get",
        "cm",
        "vpsie-autoscaler-status",
        "-n",
        "kube-system",
        "-o",
        "jsonpath={.metadata.annotations.autoscaler\\.vpsie\\.com/breaker-reset}",
    ]);
    assert_eq!(ann, value);
    let after = plugin_json(&sim, &["breaker"]);
    assert_eq!(after["reset"]["acknowledged"], value);
}

#[test]
fn without_the_controller_and_without_the_crds() {
    let sim = Sim::start(&["--no-reconciler"]);
    // the group is shown, with one line about the controller
    let out = sim.plugin(&["status"]);
    e2e_support::assert_success(&out, "status");
    let table = text(&out.stdout);
    assert!(
        table.contains(
            "Controller:  the autoscaler controller is not running or not publishing its status"
        ),
        "{table}"
    );
    assert!(
        table.contains("kubectl get deployment vpsie-autoscaler -n kube-system"),
        "{table}"
    );
    assert!(table.lines().any(|l| l.starts_with(NG)), "{table}");
    let v = plugin_json(&sim, &["status"]);
    assert!(v["controller"].is_null());
    assert!(v["controllerProblem"]
        .as_str()
        .is_some_and(|p| p.contains("not running")));
    assert_eq!(group(&v, NG)["minNodes"], 3);
    // commands that need the report say so
    assert_one_error_line(
        &sim.plugin(&["breaker"]),
        &["not running or not publishing", "vpsie-autoscaler"],
    );
    assert_one_error_line(
        &sim.plugin(&["breaker", "reset", "--yes"]),
        &["not running or not publishing"],
    );
    // reconcile times out naming what to check
    let started = Instant::now();
    let out = sim.plugin(&["reconcile", NG, "--timeout", "2s"]);
    assert_one_error_line(
        &out,
        &[
            "was not reconciled within 2s",
            "kubectl vpsie status",
            "--timeout",
        ],
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    // names that do not exist, and names that cannot exist
    for args in [
        &["status", "nope"][..],
        &["nodes", "nope"],
        &["reconcile", "nope"],
        &["pause", "nope"],
        &["resume", "nope"],
    ] {
        assert_one_error_line(
            &sim.plugin(args),
            &[
                "NodeGroup \"nope\" not found in namespace kube-system",
                "kubectl get ng",
            ],
        );
    }
    let out = sim.plugin(&["pause", "Bad_Name"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid NodeGroup name \"Bad_Name\""),
        "{}",
        text(&out.stderr)
    );
    let out = sim.plugin(&["pause"]);
    assert!(
        !out.status.success() && text(&out.stderr).contains("<NODEGROUP>"),
        "{}",
        text(&out.stderr)
    );
    assert_one_error_line(
        &sim.plugin(&["pause", NG, "--reason", " "]),
        &["--reason", "fix:"],
    );
    let out = sim.plugin(&["reconcile", NG, "--timeout", "soon"]);
    assert!(
        !out.status.success() && text(&out.stderr).contains("invalid duration \"soon\""),
        "{}",
        text(&out.stderr)
    );

    // the CRDs removed
    sim.kubectl_ok(&[
        "delete",
        "crd",
        "nodegroups.autoscaler.vpsie.com",
        "vpsienodes.autoscaler.vpsie.com",
    ]);
    until("the CRDs gone", Duration::from_secs(30), || {
        let out = sim.plugin(&["status"]);
        (!out.status.success()).then_some(())
    });
    for args in [
        &["status"][..],
        &["nodes"],
        &["reconcile", NG],
        &["pause", "--all"],
    ] {
        assert_one_error_line(
            &sim.plugin(args),
            &[
                "CRD (autoscaler.vpsie.com/v1alpha1) is not installed",
                "kubectl-vpsie crds | kubectl apply -f -",
            ],
        );
    }
}

/// A loopback HTTP server answering every request with `code` and a Kubernetes Status.
fn refusing_server(code: u16, reason: &str) -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let body = format!(
        r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"nodegroups.autoscaler.vpsie.com is forbidden: User \"dev\" cannot list resource \"nodegroups\"","reason":"{reason}","code":{code}}}"#
    );
    let reason = reason.to_string();
    let handle = std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 8192];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, handle)
}

fn kubeconfig_for(dir: &std::path::Path, server: &str) -> std::path::PathBuf {
    let path = dir.join(format!("kubeconfig-{}", server.replace([':', '/'], "_")));
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: \"{server}\"}}}}]\ncontexts: [{{name: c, context: {{cluster: c, user: u}}}}]\nusers: [{{name: u, user: {{token: not-a-real-token}}}}]\ncurrent-context: c\n"
        ),
    )
    .expect("kubeconfig");
    path
}

#[test]
fn an_unreachable_cluster_and_rbac_refusals_are_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |kubeconfig: &std::path::Path, args: &[&str]| {
        e2e_support::kubectl_plugin(dir.path(), kubeconfig, args)
            .stdin(Stdio::null())
            .output()
            .expect("run")
    };
    // a port nobody listens on
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    let dead = kubeconfig_for(dir.path(), &format!("http://127.0.0.1:{port}"));
    for args in [
        &["status"][..],
        &["nodes"],
        &["breaker"],
        &["reconcile", NG],
        &["pause", NG],
    ] {
        let out = run(&dead, args);
        assert_one_error_line(
            &out,
            &[
                &format!("cannot reach the Kubernetes API server at http://127.0.0.1:{port}"),
                "kubectl cluster-info",
            ],
        );
        assert!(!text(&out.stderr).contains("not-a-real-token"));
    }
    // RBAC says no
    let (port, server) = refusing_server(403, "Forbidden");
    let forbidden = kubeconfig_for(dir.path(), &format!("http://127.0.0.1:{port}"));
    let out = run(&forbidden, &["nodes"]);
    assert_one_error_line(
        &out,
        &[
            "forbidden: cannot list vpsienodes in namespace kube-system",
            "kubectl auth can-i list vpsienodes -n kube-system",
        ],
    );
    let out = run(&forbidden, &["reconcile", NG]);
    assert_one_error_line(
        &out,
        &[
            "forbidden: cannot get nodegroups/production-workers",
            "kubectl auth can-i get",
        ],
    );
    assert!(!text(&out.stderr).contains("not-a-real-token"));
    drop(server);
}

#[test]
fn all_namespaces_shows_groups_the_controller_does_not_watch() {
    let sim = Sim::start(&["--speed", "20"]);
    sim.kubectl_ok(&["create", "namespace", "team-a"]);
    let stray = include_str!("../src/sim/example-nodegroup.yaml")
        .replace("name: production-workers", "name: batch")
        .replace("namespace: kube-system", "namespace: team-a");
    let out = sim.kubectl_stdin(&["apply", "-f", "-"], &stray);
    e2e_support::assert_success(&out, "kubectl apply the team-a NodeGroup");

    // -n alone: only the controller's namespace
    let status = plugin_json(&sim, &["status"]);
    assert_eq!(status["allNamespaces"], false);
    assert_eq!(status["nodeGroups"].as_array().map(Vec::len), Some(1));

    // -A: both, with their namespaces; the stray one says nothing scales it, and how to fix it
    let status = plugin_json(&sim, &["status", "-A"]);
    assert_eq!(status["allNamespaces"], true);
    let groups: Vec<(String, String)> = status["nodeGroups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["namespace"].as_str().unwrap_or_default().to_string(),
                g["name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("kube-system".to_string(), NG.to_string()),
            ("team-a".to_string(), "batch".to_string())
        ]
    );
    let batch = &status["nodeGroups"][1];
    assert!(
        batch["problem"].as_str().is_some_and(|p| p.contains(
            "in namespace team-a, which the controller of namespace kube-system does not watch"
        ) && p.contains("--watch-namespace team-a")),
        "{batch}"
    );
    assert!(batch["lastDecision"].is_null(), "{batch}");
    assert!(status["nodeGroups"][0]["problem"].is_null(), "{status}");
    let table = plugin_ok(&sim, &["status", "--all-namespaces"]);
    let header = table
        .lines()
        .find(|l| l.contains("NODEGROUP"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(header.starts_with("NAMESPACE "), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["team-a", "batch"])),
        "{table}"
    );
    assert!(
        table.contains("team-a/batch:\n  problem: in namespace team-a"),
        "{table}"
    );

    // nodes -A: a NAMESPACE column once the controller's nodes exist
    until(
        "VPSieNodes of the watched group",
        Duration::from_secs(60),
        || {
            let v = plugin_json(&sim, &["nodes", "-A"]);
            let nodes = v["nodes"].as_array()?.clone();
            (!nodes.is_empty()).then_some(())?;
            assert_eq!(v["allNamespaces"], true);
            assert!(nodes.iter().all(|n| n["namespace"] == "kube-system"), "{v}");
            Some(())
        },
    );
    let table = plugin_ok(&sim, &["nodes", "-A"]);
    assert!(table.starts_with("NAMESPACE "), "{table}");
    let out = sim.plugin(&["nodes", "nosuch", "-A"]);
    assert_one_error_line(
        &out,
        &[
            "NodeGroup \"nosuch\" not found in any namespace",
            "kubectl get ng -A",
        ],
    );

    // doctor warns about the stray group, with the fix
    let out = sim.plugin(&["doctor", "-o", "json", "--no-live"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("doctor json");
    let f = v["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["check"] == "nodegroup/team-a/batch"))
        .unwrap_or_else(|| panic!("no finding for team-a/batch: {v}"));
    assert_eq!(f["severity"], "warning", "{f}");
    assert!(
        f["fix"]
            .as_str()
            .is_some_and(|s| s.contains("metadata.namespace to kube-system")),
        "{f}"
    );

    // commands that act in one namespace refuse -A in one line
    for args in [
        &["pause", NG, "-A"][..],
        &["reconcile", NG, "-A"],
        &["breaker", "-A"],
    ] {
        let out = sim.plugin(args);
        assert_one_error_line(
            &out,
            &[
                "-A/--all-namespaces applies to status, nodes and doctor only",
                "pass -n NAMESPACE",
            ],
        );
    }
}
