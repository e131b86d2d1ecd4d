//! `doctor` end to end: the real `kubectl-vpsie` binary against `kubectl-vpsie sim` with the
//! reconciler running. Clean (exit 0) on a healthy sim; each fault the sim can inject is found
//! with its fix (exit 1), and clean again once the fault is gone.

mod e2e_support;

use std::process::Output;
use std::time::Duration;

use e2e_support::{until, Sim};
use serde_json::Value;

const NG: &str = "production-workers";

fn plugin(sim: &Sim, args: &[&str]) -> Output {
    let out = sim.plugin(args);
    for stream in [&out.stdout, &out.stderr] {
        let t = String::from_utf8_lossy(stream);
        assert!(!t.contains("sim-client-secret"), "secret in output: {t}");
        assert!(!t.contains("panicked"), "{t}");
    }
    out
}

/// `doctor -o json`: (exit success, view).
fn doctor(sim: &Sim) -> Option<(bool, Value)> {
    let out = plugin(sim, &["doctor", "-o", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).ok()?;
    Some((out.status.success(), v))
}

/// The findings of `v` whose check starts with `prefix` and that have `severity`.
fn findings(v: &Value, prefix: &str, severity: &str) -> Vec<Value> {
    v["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|f| {
                    f["check"].as_str().is_some_and(|c| c.starts_with(prefix))
                        && f["severity"] == severity
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Polls `doctor` until it exits 1 with an error finding of `prefix`; returns that finding.
fn until_error(sim: &Sim, prefix: &str, limit: Duration) -> Value {
    until(
        &format!("doctor to report an error in {prefix}"),
        limit,
        || {
            let (success, v) = doctor(sim)?;
            let f = findings(&v, prefix, "error").into_iter().next()?;
            assert!(!success, "an error finding exits non-zero: {v}");
            assert!(v["errors"].as_u64().is_some_and(|n| n >= 1), "{v}");
            assert!(f["fix"].as_str().is_some_and(|s| !s.is_empty()), "{f}");
            Some(f)
        },
    )
}

/// Polls `doctor` until it exits 0 with no error.
fn until_clean(sim: &Sim, what: &str, limit: Duration) -> Value {
    until(&format!("doctor clean ({what})"), limit, || {
        let (success, v) = doctor(sim)?;
        (success && v["errors"] == 0).then_some(v)
    })
}

fn annotate(sim: &Sim, kv: &str) {
    sim.kubectl_ok(&["annotate", "ng", NG, "-n", "kube-system", kv, "--overwrite"]);
}

#[test]
fn doctor_is_clean_on_a_healthy_sim_and_finds_each_fault() {
    let sim = Sim::start(&["--speed", "20"]);
    let v = until_clean(&sim, "healthy sim", Duration::from_secs(120));
    assert_eq!(v["schemaVersion"], 1);
    for check in [
        "crds",
        "controller",
        "secret",
        "credentials",
        "breaker",
        "api-errors",
        "rate-limit",
        "nodegroups",
        "vpsienodes",
        "pending-pods",
    ] {
        assert!(
            !findings(&v, check, "ok").is_empty(),
            "an ok finding for {check}: {v}"
        );
    }
    let table = plugin(&sim, &["doctor"]);
    assert!(table.status.success());
    let t = String::from_utf8_lossy(&table.stdout);
    assert!(t.starts_with("CHECK") && t.contains("0 errors"), "{t}");

    // an invalid NodeGroup (the CRD schema cannot check annotations)
    annotate(&sim, "autoscaler.vpsie.com/min-nodes-override=abc");
    let f = until_error(&sim, &format!("nodegroup/{NG}"), Duration::from_secs(60));
    assert!(f["message"].as_str().unwrap_or("").contains("abc"), "{f}");
    assert!(
        f["fix"].as_str().unwrap_or("").contains("kubectl edit ng"),
        "{f}"
    );
    let out = plugin(&sim, &["doctor"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("error: doctor found"),
        "{stderr}"
    );
    sim.kubectl_ok(&[
        "annotate",
        "ng",
        NG,
        "-n",
        "kube-system",
        "autoscaler.vpsie.com/min-nodes-override-",
    ]);
    until_clean(&sim, "annotation removed", Duration::from_secs(60));

    // wrong credentials: the account is revoked at VPSie
    sim.admin("DELETE", "accounts/sim-client-id", None);
    let f = until_error(&sim, "credentials", Duration::from_secs(30));
    assert!(
        f["message"]
            .as_str()
            .unwrap_or("")
            .contains("VPSie refused"),
        "{f}"
    );
    assert!(
        f["fix"].as_str().unwrap_or("").contains("creds rotate"),
        "{f}"
    );
    sim.admin(
        "POST",
        "accounts",
        Some(r#"{"client_id": "sim-client-id", "client_secret": "sim-client-secret"}"#),
    );
    until_clean(&sim, "account restored", Duration::from_secs(60));

    // the Secret is deleted
    let saved = sim.json(&["get", "secret", "vpsie-secret", "-n", "kube-system"]);
    sim.kubectl_ok(&["delete", "secret", "vpsie-secret", "-n", "kube-system"]);
    let f = until_error(&sim, "secret", Duration::from_secs(30));
    assert!(
        f["message"].as_str().unwrap_or("").contains("not found"),
        "{f}"
    );
    let mut restore = saved.clone();
    for k in [
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "managedFields",
    ] {
        restore["metadata"]
            .as_object_mut()
            .expect("metadata")
            .remove(k);
    }
    let out = sim.kubectl_stdin(&["apply", "-f", "-"], &restore.to_string());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    until_clean(&sim, "Secret restored", Duration::from_secs(60));

    // the breaker opens: VPSie answers 503 to everything while the controller scales up
    sim.admin(
        "POST",
        "faults",
        Some(r#"{"action": {"type": "status", "code": 503, "message": "maintenance"}}"#),
    );
    annotate(&sim, "autoscaler.vpsie.com/min-nodes-override=5");
    let f = until_error(&sim, "breaker", Duration::from_secs(90));
    assert!(f["message"].as_str().unwrap_or("").contains("OPEN"), "{f}");
    let (_, v) = doctor(&sim).expect("doctor");
    assert!(
        !findings(&v, "api-errors/server_error", "warning").is_empty(),
        "the 503s counted by type: {v}"
    );
}

#[test]
fn doctor_finds_a_node_stuck_provisioning() {
    let sim = Sim::start(&["--speed", "60"]);
    until_clean(&sim, "healthy sim", Duration::from_secs(120));
    // VMs never finish booting: the next VPSieNode stays Provisioning
    sim.admin("POST", "boot", Some(r#"{"boot_time_secs": 1000000}"#));
    annotate(&sim, "autoscaler.vpsie.com/min-nodes-override=4");
    let f = until_error(&sim, "vpsienode/", Duration::from_secs(120));
    let m = f["message"].as_str().unwrap_or("");
    assert!(
        m.starts_with("Provisioning for") || m.starts_with("Failed"),
        "{f}"
    );
    assert!(
        f["fix"]
            .as_str()
            .unwrap_or("")
            .contains("kubectl describe vn"),
        "{f}"
    );
}
