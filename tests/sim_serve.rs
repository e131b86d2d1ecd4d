//! `kubectl-vpsie serve` operations against the sim: two replicas with leader election, the
//! status report ConfigMap, and credentials rotated without a restart.

mod e2e_support;

use std::process::{Child, Stdio};
use std::time::Duration;

use e2e_support::{items, until, Sim};
use serde_json::Value;

fn serve(sim: &Sim, identity: &str) -> Child {
    serve_with(sim, identity, &[])
}

fn serve_with(sim: &Sim, identity: &str, extra: &[&str]) -> Child {
    sim.serve_command(&[&["--lease-duration", "3s"], extra].concat())
        .env("POD_NAME", identity)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn kubectl-vpsie serve")
}

fn holder(sim: &Sim) -> Option<String> {
    let out = sim
        .kubectl()
        .args([
            "get",
            "lease",
            "vpsie-autoscaler-leader",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.spec.holderIdentity}",
        ])
        .output()
        .ok()?;
    let h = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!h.is_empty()).then_some(h)
}

fn ready_records(sim: &Sim) -> usize {
    items(&sim.json(&["get", "vn", "-n", "kube-system"]))
        .iter()
        .filter(|v| v["status"]["phase"] == "Ready")
        .count()
}

#[test]
fn two_replicas_one_acts_and_the_other_takes_over() {
    let sim = Sim::start(&["--no-reconciler"]);
    let mut a = serve(&sim, "replica-a");
    let mut b = serve(&sim, "replica-b");
    let first = until("a leader", Duration::from_secs(30), || holder(&sim));
    // the example NodeGroup's minNodes: 3 records, 3 VMs, not 6
    until("3 Ready nodes", Duration::from_secs(90), || {
        (ready_records(&sim) == 3).then_some(())
    });
    let vms = sim.admin("GET", "state", None)["vms"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(vms.len(), 3, "one replica acted: {vms:#?}");
    let events = items(&sim.json(&[
        "get",
        "events",
        "-n",
        "kube-system",
        "--field-selector",
        "reason=VPSCreated",
    ]));
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e["reportingInstance"]
            .as_str()
            .is_some_and(|i| i.starts_with(&first))),
        "only the leader {first} acts: {events:#?}"
    );

    // the leader dies: the other takes over and acts
    let (dead, alive) = if first.starts_with("replica-a") {
        (&mut a, "replica-b")
    } else {
        (&mut b, "replica-a")
    };
    dead.kill().expect("kill");
    dead.wait().expect("wait");
    until("the other replica leading", Duration::from_secs(30), || {
        holder(&sim).filter(|h| h.starts_with(alive)).map(|_| ())
    });
    sim.kubectl_ok(&[
        "annotate",
        "ng",
        "production-workers",
        "-n",
        "kube-system",
        "autoscaler.vpsie.com/min-nodes-override=4",
    ]);
    until("a 4th Ready node", Duration::from_secs(90), || {
        (ready_records(&sim) == 4).then_some(())
    });
    let events = items(&sim.json(&[
        "get",
        "events",
        "-n",
        "kube-system",
        "--field-selector",
        "reason=VPSCreated",
    ]));
    assert!(events.iter().any(|e| e["reportingInstance"]
        .as_str()
        .is_some_and(|i| i.starts_with(alive))));
    assert_eq!(
        sim.admin("GET", "state", None)["vms"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    for c in [&mut a, &mut b] {
        let _ = c.kill();
        let _ = c.wait();
    }
}

fn report(sim: &Sim) -> Option<Value> {
    let out = sim
        .kubectl()
        .args([
            "get",
            "configmap",
            "vpsie-autoscaler-status",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.data.status\\.json}",
        ])
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

#[test]
fn the_status_report_and_a_credential_rotation_without_restart() {
    let sim = Sim::start(&["--speed", "10"]);
    let first = until(
        "a report with the minNodes decision",
        Duration::from_secs(60),
        || {
            report(&sim).filter(|r| {
                r["nodeGroups"]["production-workers"]["lastDecision"]["reason"] == "BelowMinNodes"
            })
        },
    );
    assert_eq!(first["schemaVersion"], 1);
    assert_eq!(first["breaker"]["state"], "closed");
    assert_eq!(first["credentials"]["state"], "loaded");
    assert_eq!(
        first["nodeGroups"]["production-workers"]["lastDecision"]["action"],
        "ScaleUp"
    );
    let fingerprint = first["credentials"]["fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !first.to_string().contains("sim-client-secret"),
        "no secret in the report"
    );

    // rotate, the runbook's way, to an account the cloud knows
    sim.admin(
        "POST",
        "accounts",
        Some(r#"{"client_id": "rotated-id", "client_secret": "rotated-secret"}"#),
    );
    let url = format!("{}/v2", sim.cloud_url());
    let generated = sim.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "vpsie-secret",
        "--from-literal=clientId=rotated-id",
        "--from-literal=clientSecret=rotated-secret",
        &format!("--from-literal=url={url}"),
        "-n",
        "kube-system",
        "--dry-run=client",
        "-o",
        "yaml",
    ]);
    let out = sim.kubectl_stdin(&["apply", "-f", "-"], &generated);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    until(
        "the new credentials loaded",
        Duration::from_secs(30),
        || {
            report(&sim).filter(|r| {
                r["credentials"]["fingerprint"]
                    .as_str()
                    .is_some_and(|f| f != fingerprint)
            })
        },
    );
    // the old account goes; the next VPSie calls are signed by the new one
    sim.admin("DELETE", "accounts/sim-client-id", None);
    sim.kubectl_ok(&[
        "annotate",
        "ng",
        "production-workers",
        "-n",
        "kube-system",
        "autoscaler.vpsie.com/min-nodes-override=4",
    ]);
    until("a 4th Ready node", Duration::from_secs(60), || {
        (ready_records(&sim) == 4).then_some(())
    });
    let requests = sim.admin("GET", "requests", None);
    let creates: Vec<&Value> = requests
        .as_array()
        .or_else(|| requests["data"].as_array())
        .map(|r| r.iter().filter(|x| x["operation"] == "CreateVM").collect())
        .unwrap_or_default();
    assert_eq!(
        creates.last().map(|c| c["principal"].clone()),
        Some(Value::from("rotated-id")),
        "{creates:#?}"
    );
}

#[test]
fn the_vpsie_rate_limit_is_set_by_flags_and_shown_in_the_report() {
    let sim = Sim::start(&["--no-reconciler"]);
    let mut serve = serve_with(
        &sim,
        "replica-a",
        &[
            "--vpsie-requests-per-minute",
            "600",
            "--vpsie-rate-burst",
            "7",
        ],
    );
    let r = until(
        "a report with the rate limit",
        Duration::from_secs(60),
        || report(&sim).filter(|r| r["rateLimit"].is_object()),
    );
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(r["rateLimit"]["capacity"], 7, "{:#}", r["rateLimit"]);
}
