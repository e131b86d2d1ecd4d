//! The CI-sized run of the end-to-end bench (`kubectl-vpsie bench --size ci`): the real binary,
//! its `serve` as a child process against the simulator it runs. Fails on gross regressions
//! against the committed baseline `bench/baseline-ci.json` only (the bench's --max-regression,
//! with a noise allowance per metric), and on any broken invariant of the report, checked here
//! from the JSON itself: every pod ran, p50 <= p95 <= max, nodes >= the bin-packing lower
//! bound, VPSie calls >= the minimum, no leaked VPS.

mod e2e_support;

use std::path::PathBuf;
use std::process::Command;

use e2e_support::{assert_one_error_line, binary, text};
use serde_json::Value;

fn baseline() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/baseline-ci.json")
}

fn spread_ordered(v: &Value, what: &str) {
    let (p50, p95, max) = (
        v["p50"]
            .as_f64()
            .unwrap_or_else(|| panic!("{what}.p50: {v}")),
        v["p95"]
            .as_f64()
            .unwrap_or_else(|| panic!("{what}.p95: {v}")),
        v["max"]
            .as_f64()
            .unwrap_or_else(|| panic!("{what}.max: {v}")),
    );
    assert!(
        p50 <= p95 && p95 <= max,
        "{what}: p50 {p50} <= p95 {p95} <= max {max}"
    );
    assert!(
        v["n"].as_u64().unwrap_or(0) > 0,
        "{what}: measured on no pod"
    );
}

#[test]
fn the_ci_bench_holds_its_invariants_and_the_baseline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(binary())
        .args(["bench", "--size", "ci", "--max-regression", "3", "--out"])
        .arg(dir.path())
        .arg("--baseline")
        .arg(baseline())
        .env_remove("KUBECONFIG")
        .env("HOME", dir.path())
        .output()
        .expect("run kubectl-vpsie bench");
    assert!(
        out.status.success(),
        "bench failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("ci.json")).expect("ci.json written"),
    )
    .expect("ci.json is JSON");
    assert_eq!(report["schemaVersion"], 1);
    assert_eq!(report["size"], "ci");
    assert!(report["machine"]["cores"].as_u64().unwrap_or(0) >= 1);
    assert!(report["machine"]["loadAverage"]
        .as_array()
        .is_some_and(|l| l.len() == 3));
    assert!(report["binary"]["sizeBytes"].as_u64().unwrap_or(0) > 0);
    let variants = report["variants"].as_array().expect("variants");
    assert!(!variants.is_empty());
    for v in variants {
        let name = v["name"].as_str().unwrap_or("?");
        let c = &v["checks"];
        assert_eq!(c["podsRunning"], c["podsExpected"], "{name}: every pod ran");
        assert_eq!(
            c["leakedVps"].as_array().map(Vec::len),
            Some(0),
            "{name}: no leaked VPS"
        );
        spread_ordered(&v["reactionS"], &format!("{name} reaction"));
        spread_ordered(&v["overheadS"], &format!("{name} overhead"));
        for class in ["uniform", "mixed"] {
            let t = &v[class];
            let (nodes, lb) = (
                t["nodes"].as_u64().unwrap_or(0),
                t["lowerBound"].as_u64().unwrap_or(u64::MAX),
            );
            assert!(
                nodes >= lb && lb > 0,
                "{name} {class}: {nodes} nodes, lower bound {lb}"
            );
            assert!(
                t["costPerHour"].as_f64().unwrap_or(0.0)
                    >= t["cheapestCoverPerHour"].as_f64().unwrap_or(f64::MAX) - 1e-9,
                "{name} {class}: cost below the cheapest cover: {t}"
            );
        }
        let api = &v["api"];
        assert!(
            api["calls"].as_u64().unwrap_or(0) >= api["minimum"].as_u64().unwrap_or(u64::MAX),
            "{name}: calls >= minimum: {api}"
        );
        assert_eq!(
            api["minimum"].as_u64(),
            api["creates"].as_u64().map(|c| c + 3),
            "{name}: one create per node plus a constant"
        );
        let f = &v["footprint"];
        assert!(f["peakRssMib"].as_f64().unwrap_or(0.0) > 1.0, "{name}: {f}");
        assert!(f["idleCpuPercent"].as_f64().is_some(), "{name}: {f}");
        assert!(v["status"]["medianMs"].as_f64().is_some(), "{name}");
        // every target is reported measured / target / met
        let targets = v["targets"].as_array().expect("targets");
        assert!(targets.len() >= 9, "{name}: {targets:?}");
        assert!(targets
            .iter()
            .all(|t| t["measured"].is_number() && t["met"].is_boolean()));
    }
    let md = std::fs::read_to_string(dir.path().join("ci.md")).expect("ci.md written");
    assert!(md.contains("| metric | measured | target | met |"), "{md}");
}

#[test]
fn a_bad_baseline_is_refused_with_the_field_and_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("baseline.json");
    std::fs::write(
        &bad,
        r#"{"schemaVersion": 1, "variants": [{"name": "raised-limit", "metrics": {"reaction_p95_s": "fast"}}]}"#,
    )
    .unwrap();
    let out = Command::new(binary())
        .args(["bench", "--size", "ci", "--out"])
        .arg(dir.path())
        .arg("--baseline")
        .arg(&bad)
        .output()
        .expect("run bench");
    assert_one_error_line(
        &out,
        &[
            "baseline.json",
            "variants[0].metrics.reaction_p95_s",
            "\"fast\"",
            "--size ci",
        ],
    );
    let missing = Command::new(binary())
        .args(["bench", "--size", "ci", "--baseline"])
        .arg(dir.path().join("nope.json"))
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("run bench");
    assert_one_error_line(&missing, &["nope.json", "--baseline"]);
    let factor = Command::new(binary())
        .args(["bench", "--size", "ci", "--max-regression", "0.5", "--out"])
        .arg(dir.path())
        .output()
        .expect("run bench");
    assert_one_error_line(&factor, &["--max-regression 0.5", "at least 1"]);
    let size = Command::new(binary())
        .args(["bench", "--size", "huge"])
        .output()
        .expect("run bench");
    assert!(!size.status.success());
    assert!(
        text(&size.stderr).contains("huge") && text(&size.stderr).contains("ci"),
        "{}",
        text(&size.stderr)
    );
}
