//! No credential in anything a full run shows: the reconciler's debug log, the events, the
//! status of every NodeGroup and VPSieNode, the status report, the metrics, and every plugin
//! command's output. The sim's client secret, the access and refresh tokens its cloud issues
//! (`sim-at-…`, `sim-rt-…`) and the Secret's base64 form are looked for in all of it.

mod e2e_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use e2e_support::{binary, text, until};

const SECRET: &str = "sim-client-secret";

#[test]
fn no_credential_appears_in_logs_events_status_metrics_or_plugin_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    let log = dir.path().join("sim.log");
    let mut child = Command::new(binary())
        .args(["sim", "--no-scenario", "--speed", "20", "--kubeconfig"])
        .arg(&kubeconfig)
        .env("HOME", dir.path())
        .env("KUBECTL_VPSIE_LOG", "debug")
        .env_remove("KUBECONFIG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("spawn sim");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let mut metrics_url = None;
    for line in lines.by_ref() {
        if let Some(u) = line.split("metrics at ").nth(1) {
            metrics_url = Some(u.trim().to_string());
        }
        if line.starts_with("Running") {
            break;
        }
    }
    let metrics_url = metrics_url.expect("the sim prints the metrics URL");
    let kubectl = |args: &[&str]| {
        let out = Command::new("kubectl")
            .args(args)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .env("HOME", dir.path())
            .output()
            .expect("kubectl");
        e2e_support::assert_success(&out, &format!("kubectl {}", args.join(" ")));
        text(&out.stdout)
    };
    let burst = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/burst.yaml");
    kubectl(&["apply", "-f", burst.to_str().unwrap()]);
    // the reconciler logged in, created VPS for the burst and the pods run
    until("the burst to run", Duration::from_secs(120), || {
        let phases = kubectl(&[
            "get",
            "pods",
            "-n",
            "default",
            "-l",
            "app=burst",
            "-o",
            "jsonpath={.items[*].status.phase}",
        ]);
        (phases
            .split_whitespace()
            .filter(|p| *p == "Running")
            .count()
            == 20)
            .then_some(())
    });
    let mut seen: Vec<(String, String)> = Vec::new();
    for (what, args) in [
        ("events", vec!["get", "events", "-A", "-o", "yaml"]),
        (
            "nodegroups and vpsienodes",
            vec!["get", "ng,vn", "-A", "-o", "yaml"],
        ),
        (
            "the status report",
            vec![
                "get",
                "configmap",
                "vpsie-autoscaler-status",
                "-n",
                "kube-system",
                "-o",
                "yaml",
            ],
        ),
        ("nodes", vec!["get", "nodes", "-o", "yaml"]),
    ] {
        seen.push((what.to_string(), kubectl(&args)));
    }
    let metrics = tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(async { reqwest::get(&metrics_url).await?.text().await })
        .expect("metrics");
    assert!(metrics.contains("vpsie_api_requests_total"), "{metrics}");
    seen.push(("metrics".into(), metrics));
    let pod = kubectl(&[
        "get",
        "pods",
        "-n",
        "default",
        "-l",
        "app=burst",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    for args in [
        vec!["status", "-o", "json"],
        vec!["status", "-o", "wide"],
        vec!["nodes", "-o", "json"],
        vec!["breaker", "-o", "json"],
        vec!["creds", "check", "-o", "json"],
        vec!["doctor", "-o", "json"],
        vec!["why", &pod, "--pod-namespace", "default"],
        vec!["install", "--dry-run", "-o", "yaml"],
    ] {
        let out = e2e_support::kubectl_plugin(dir.path(), &kubeconfig, &args)
            .stdin(Stdio::null())
            .output()
            .expect("kubectl vpsie");
        seen.push((
            format!("kubectl vpsie {}", args.join(" ")),
            text(&out.stdout) + &text(&out.stderr),
        ));
    }
    let _ = child.kill();
    let _ = child.wait();
    let log_text = std::fs::read_to_string(&log).expect("log");
    assert!(log_text.contains("DEBUG"), "the log is at debug level");
    seen.push(("the sim's and reconciler's debug log".into(), log_text));

    // the Secret's data as the API server serves it
    let b64 = serde_json::to_value(k8s_openapi::ByteString(SECRET.as_bytes().to_vec()))
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .expect("base64");
    // a positive control: the outputs searched do talk about the credentials (by fingerprint)
    // and the reconciler did log in
    assert!(
        seen.iter()
            .any(|(_, body)| body.contains("\"fingerprint\"")),
        "the credentials' fingerprint is shown"
    );
    assert!(
        seen.iter()
            .any(|(w, body)| w == "metrics" && body.contains("Login")),
        "the reconciler logged in"
    );
    for (what, body) in &seen {
        for needle in [SECRET, b64.as_str(), "sim-at-", "sim-rt-"] {
            if let Some(at) = body.find(needle) {
                let from = at.saturating_sub(200);
                panic!(
                    "{needle:?} in {what}: …{}…",
                    &body[from..(at + needle.len() + 100).min(body.len())]
                );
            }
        }
    }
}
