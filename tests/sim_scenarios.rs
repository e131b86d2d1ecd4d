//! `kubectl-vpsie sim` playing scenarios and `simulate` comparing NodeGroups, end to end
//! through the real binary: the summary is checked against invariants (every pod placed, no
//! VPS leaked, the cost consistent with the VPS that ran, counts that add up), not against
//! copied numbers; the chart is checked to exist and to hold its series.

mod e2e_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use e2e_support::{assert_one_error_line, binary, text};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .arg("--kubeconfig")
        .arg(dir.join("kubeconfig"))
        .env("HOME", dir)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl-vpsie")
}

/// The most pods each workload of the scenario file asks for at once, summed.
fn most_pods(scenario: &Path) -> u64 {
    let v: Value =
        vpsie_autoscaler::yaml::from_str(&std::fs::read_to_string(scenario).expect("read"))
            .expect("yaml");
    v["workloads"]
        .as_array()
        .map(|ws| {
            ws.iter()
                .map(|w| {
                    let mut most = w["replicas"].as_u64().unwrap_or(0);
                    for s in w["scale"].as_array().into_iter().flatten() {
                        most = most.max(s["replicas"].as_u64().unwrap_or(0));
                    }
                    most
                })
                .sum()
        })
        .unwrap_or(0)
}

/// The invariants every played scenario holds.
fn check_summary(what: &str, s: &Value, samples: Option<&Value>, pods_at_least: u64) {
    assert_eq!(s["schemaVersion"], 1, "{what}: {s:#}");
    assert_eq!(
        s["podsNeverPlaced"],
        Value::Array(vec![]),
        "{what}: every pod placed: {s:#}"
    );
    assert_eq!(
        s["leakedVps"],
        Value::Array(vec![]),
        "{what}: no VPS leaked: {s:#}"
    );
    let n = |k: &str| {
        s[k].as_f64()
            .unwrap_or_else(|| panic!("{what}: {k} in {s:#}"))
    };
    let l = &s["pendingToRunning"];
    assert!(
        l["pods"].as_u64().unwrap_or(0) >= pods_at_least,
        "{what}: at least {pods_at_least} pods ran: {s:#}"
    );
    let (p50, p95, max) = (
        l["p50"].as_f64().unwrap_or(-1.0),
        l["p95"].as_f64().unwrap_or(-1.0),
        l["max"].as_f64().unwrap_or(-1.0),
    );
    assert!(
        0.0 < p50 && p50 <= p95 && p95 <= max,
        "{what}: latencies ordered: {l}"
    );
    // VPS counts add up
    let by_offering: f64 = s["createdByOffering"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_f64).sum())
        .unwrap_or(0.0);
    assert_eq!(by_offering, n("vpsCreated"), "{what}: {s:#}");
    assert_eq!(
        n("vpsDeleted") + n("vpsAtEnd"),
        n("vpsCreated"),
        "{what}: {s:#}"
    );
    assert!(n("readyNodesAtEnd") >= 1.0, "{what}: {s:#}");
    assert!(
        n("peakCostPerHour") >= n("finalCostPerHour"),
        "{what}: {s:#}"
    );
    if let Some(samples) = samples {
        // the cost, summed from each VPS's lifetime, matches the cost per hour sampled every
        // second from the live VPS (to the sampling's resolution)
        let samples = samples.as_array().expect("samples");
        assert!(
            samples.len() > 100,
            "{what}: samples every simulated second"
        );
        let mut integral = 0.0;
        let mut max_sampled: f64 = 0.0;
        for w in samples.windows(2) {
            let dt = w[1]["t"].as_f64().unwrap() - w[0]["t"].as_f64().unwrap();
            let c = w[0]["costPerHour"].as_f64().unwrap();
            integral += c * dt / 3600.0;
            max_sampled = max_sampled.max(c);
        }
        let total = n("totalCost");
        let slack = n("peakCostPerHour") * 60.0 / 3600.0 + 0.0002;
        assert!(
            (integral - total).abs() <= slack,
            "{what}: total cost {total} vs sampled {integral} (slack {slack})"
        );
        assert!(
            max_sampled <= n("peakCostPerHour") + 1e-4,
            "{what}: {max_sampled}"
        );
        let last = samples.last().unwrap();
        assert!(
            (last["costPerHour"].as_f64().unwrap() - n("finalCostPerHour")).abs() < 1e-3,
            "{what}: final cost {last}"
        );
        assert_eq!(last["pendingPods"], 0, "{what}: {last}");
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The chart exists in both formats, is the size it says, and holds every series.
fn check_chart(dir: &Path, samples: &Value) {
    let svg = std::fs::read_to_string(dir.join("chart.svg")).expect("chart.svg");
    assert!(svg.starts_with("<svg"), "an SVG document");
    let mut series: Vec<String> = vec![
        "pending pods".into(),
        "running pods".into(),
        "cost USD/h".into(),
    ];
    for s in samples.as_array().into_iter().flatten() {
        for k in s["nodesByPhase"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            if !series.contains(k) {
                series.push(k.clone());
            }
        }
    }
    assert!(series.iter().any(|s| s == "Ready"), "{series:?}");
    for name in &series {
        assert!(
            svg.contains(&format!(">\n{name}\n</text>")),
            "series {name} labelled in chart.svg"
        );
    }
    // polylines: one per series
    assert!(
        svg.matches("<polyline").count() >= series.len(),
        "a line per series"
    );
    let png = std::fs::read(dir.join("chart.png")).expect("chart.png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG file");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), (1100, 900));
    assert!(
        png.len() > 20_000,
        "a drawn PNG, not an empty one: {} bytes",
        png.len()
    );
}

#[test]
fn the_built_in_scenario_places_every_pod_scales_down_and_leaks_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report");
    let out = run(
        dir.path(),
        &["sim", "-o", "json", "--report", report.to_str().unwrap()],
    );
    e2e_support::assert_success(&out, "kubectl-vpsie sim -o json --report");
    let summary: Value = serde_json::from_slice(&out.stdout).expect("summary JSON on stdout");
    assert_eq!(summary, read_json(&report.join("summary.json")));
    let samples = read_json(&report.join("samples.json"));
    let scenario = root().join("examples/scenarios/burst-and-drain.yaml");
    check_summary("built-in", &summary, Some(&samples), most_pods(&scenario));
    assert_eq!(summary["scenario"], "burst-and-drain");
    // both NodeGroups grew, with mixed offerings, and the idle nodes went away again
    let offerings = summary["createdByOffering"].as_object().expect("offerings");
    assert!(
        offerings.contains_key("highmem-4cpu-32gb"),
        "the batch group grew: {summary:#}"
    );
    assert!(offerings.len() >= 2, "{summary:#}");
    let peak_nodes = samples
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["readyNodes"].as_u64().unwrap_or(0))
        .max()
        .unwrap_or(0);
    assert!(
        summary["vpsDeleted"].as_u64().unwrap_or(0) >= 1
            && summary["readyNodesAtEnd"].as_u64().unwrap_or(99) < peak_nodes,
        "scale-down after the load left: peak {peak_nodes} ready nodes, {summary:#}"
    );
    check_chart(&report, &samples);
    eprintln!(
        "built-in scenario: {} simulated seconds in {:.1} wall seconds",
        summary["simulatedSeconds"],
        summary["wallSeconds"].as_f64().unwrap_or(0.0)
    );
}

#[test]
fn each_example_scenario_holds_the_invariants() {
    let dir = root().join("examples/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/scenarios")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n != "burst-and-drain.yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    let handles: Vec<_> = files
        .into_iter()
        .map(|file| {
            std::thread::spawn(move || {
                let tmp = tempfile::tempdir().expect("tempdir");
                let report = tmp.path().join("report");
                // the plain live view (not a terminal), then the summary table
                let out = run(
                    tmp.path(),
                    &[
                        "sim",
                        "--scenario",
                        file.to_str().unwrap(),
                        "--report",
                        report.to_str().unwrap(),
                    ],
                );
                let what = file.file_name().unwrap().to_string_lossy().to_string();
                e2e_support::assert_success(&out, &what);
                let stdout = text(&out.stdout);
                assert!(stdout.contains("Playing scenario "), "{what}: {stdout}");
                assert!(
                    stdout.contains("\nSummary\n") && stdout.contains("pods never placed    none"),
                    "{what}: {stdout}"
                );
                assert!(
                    stdout.contains(" fault: "),
                    "{what}: faults are shown as they start: {stdout}"
                );
                let summary = read_json(&report.join("summary.json"));
                let samples = read_json(&report.join("samples.json"));
                check_summary(&what, &summary, Some(&samples), most_pods(&file));
                let v: Value =
                    vpsie_autoscaler::yaml::from_str(&std::fs::read_to_string(&file).unwrap())
                        .unwrap();
                assert_eq!(
                    summary["faults"].as_array().map(Vec::len),
                    v["faults"].as_array().map(Vec::len),
                    "{what}: every fault played"
                );
                check_chart(&report, &samples);
                (what, summary)
            })
        })
        .collect();
    for h in handles {
        let (what, summary) = h.join().expect("scenario thread");
        if what.starts_with("slow-boots") {
            // the VPS that failed to boot and the one that never joined were deleted
            assert!(
                summary["vpsDeleted"].as_u64().unwrap_or(0) >= 2,
                "{what}: {summary:#}"
            );
        }
    }
}

#[test]
fn simulate_compares_nodegroups_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ex = root().join("examples");
    let workload = ex.join("scenarios/burst-and-drain.yaml");
    let small = ex.join("nodegroups/small-nodes.yaml");
    let large = ex.join("nodegroups/large-nodes.yaml");
    let out = run(
        dir.path(),
        &[
            "simulate",
            "--workload",
            workload.to_str().unwrap(),
            "--nodegroups",
            small.to_str().unwrap(),
            "--nodegroups",
            large.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    e2e_support::assert_success(&out, "simulate -o json");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let runs = v["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 2, "{v:#}");
    assert_eq!(runs[0]["nodegroups"], small.to_str().unwrap());
    for r in runs {
        check_summary(
            r["nodegroups"].as_str().unwrap(),
            &r["summary"],
            None,
            most_pods(&workload),
        );
    }
    let created = |i: usize| runs[i]["summary"]["createdByOffering"].clone();
    // each configuration bought only its own offering for the general group
    assert!(
        created(0).get("large-8cpu-16gb").is_none() && created(0).get("small-2cpu-4gb").is_some(),
        "{v:#}"
    );
    assert!(
        created(1).get("small-2cpu-4gb").is_none() && created(1).get("large-8cpu-16gb").is_some(),
        "{v:#}"
    );
    // small nodes hold fewer pods: more VPS for the same work
    assert!(
        runs[0]["summary"]["vpsCreated"].as_u64() > runs[1]["summary"]["vpsCreated"].as_u64(),
        "{v:#}"
    );
}

#[test]
fn keep_leaves_the_world_up_for_kubectl() {
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = e2e_support::write(
        dir.path(),
        "short.yaml",
        "name: short\nduration: 40s\nspeed: 20\nnodeGroups:\n  - metadata: {name: tiny}\n    spec: {minNodes: 1, maxNodes: 2, datacenterID: dc-us-east-1, offeringIDs: [small-2cpu-4gb], osImageID: ubuntu-22.04-lts}\nworkloads:\n  - {name: one, replicas: 1, cpu: 100m, memory: 64Mi}\n",
    );
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = Command::new(binary())
        .args(["sim", "--keep", "--scenario"])
        .arg(&scenario)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .env("HOME", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sim --keep");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("sim --keep did not say it keeps running ({e}): {seen:#?}"));
        let done = line.contains("keeps running (--keep)");
        seen.push(line);
        if done {
            break;
        }
    }
    let out = Command::new("kubectl")
        .args([
            "get",
            "nodegroup",
            "tiny",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.status.readyNodes}",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .env("HOME", dir.path())
        .output()
        .expect("kubectl");
    e2e_support::assert_success(&out, "kubectl get nodegroup tiny");
    assert_eq!(
        text(&out.stdout),
        "1",
        "the scenario's group is there, with its node"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn invalid_scenario_files_get_one_error_line_with_the_line_and_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "name: t\nduration: 5m\nworkloads:\n  - name: web\n    replicas: 3\n    cpu: lots\n    memory: 1Gi\n",
            vec!["line 6", "workloads[0].cpu", "invalid quantity \"lots\""],
        ),
        (
            "name: t\nduration: 5m\nworkloads:\n  - name: web\n    replica: 3\n    cpu: 1\n    memory: 1Gi\n",
            vec!["line 5", "unknown field `replica`"],
        ),
        (
            "name: t\nduration: 5m\nfaults:\n  - kind: vpsie-errors\n    at: 1m\n    for: 0s\n",
            vec!["line 6", "faults[0].for", "is 0"],
        ),
        (
            "name: t\nduration: 5m\nnodeGroups:\n  - metadata: {name: g}\n    spec: {minNodes: 3, maxNodes: 1, datacenterID: dc-us-east-1, offeringIDs: [small-2cpu-4gb], osImageID: ubuntu-22.04-lts}\n",
            vec!["line 5", "nodeGroups[0].spec", "maxNodes"],
        ),
    ];
    for (i, (yaml, needles)) in cases.iter().enumerate() {
        let file = e2e_support::write(dir.path(), &format!("bad{i}.yaml"), yaml);
        let out = run(dir.path(), &["sim", "--scenario", file.to_str().unwrap()]);
        let mut all = vec![file.to_str().unwrap()];
        all.extend(needles.iter().copied());
        assert_one_error_line(&out, &all);
    }
    let out = run(dir.path(), &["sim", "--scenario", "/nonexistent/s.yaml"]);
    assert_one_error_line(&out, &["cannot read scenario /nonexistent/s.yaml"]);
    let workload = root().join("examples/scenarios/vpsie-outage.yaml");
    let bad = e2e_support::write(dir.path(), "groups.yaml", "kind: NodeGroup\nmetadata: {name: x}\nspec: {minNodes: 0, maxNodes: 2, datacenterID: dc-us-east-1, offeringIDs: [nope], osImageID: ubuntu-22.04-lts}\n");
    let out = run(
        dir.path(),
        &[
            "simulate",
            "--workload",
            workload.to_str().unwrap(),
            "--nodegroups",
            bad.to_str().unwrap(),
        ],
    );
    assert_one_error_line(
        &out,
        &[
            "groups.yaml",
            "offeringIDs[0]",
            "\"nope\" is not in the catalogue",
        ],
    );
}

#[test]
fn speed_and_for_override_the_scenario() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(
        dir.path(),
        &["sim", "-o", "json", "--speed", "10", "--for", "3s"],
    );
    e2e_support::assert_success(&out, "sim --speed 10 --for 3s");
    let s: Value = serde_json::from_slice(&out.stdout).expect("summary");
    assert_eq!(s["speed"], 10.0, "{s:#}");
    // stopped by --for after about 3 s of wall time, long before the scenario's 13 minutes
    let simulated = s["simulatedSeconds"].as_f64().unwrap_or(0.0);
    assert!((10.0..300.0).contains(&simulated), "{s:#}");
    assert!(s["wallSeconds"].as_f64().unwrap_or(99.0) < 30.0, "{s:#}");
    assert_eq!(s["leakedVps"], Value::Array(vec![]), "{s:#}");
}
