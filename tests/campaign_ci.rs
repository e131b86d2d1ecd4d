//! The CI-sized fault and crash campaign (issue 11) through the real binary: a handful of
//! seeded runs of `kubectl-vpsie campaign`, each with VPSie and Kubernetes API faults and
//! SIGKILLs of `serve`, must end with zero invariant violations; and the checker must find an
//! injected violation (it is not a check that cannot fail).
//!
//! `cargo test -p vpsie-autoscaler --test campaign_ci`

mod e2e_support;

use std::process::Command;

use e2e_support::binary;
use serde_json::Value;
use vpsie_autoscaler::sim::campaign::check::{
    check, FinalState, PdbSample, ProcessObservation, RunObservation, VmFact, VnFact,
};

/// The base seed of the CI campaign: its three runs cover VPSie faults (5xx, token expiry,
/// quota), Kubernetes API faults (503, cut watches, 410) and kills in scale-up, drain and
/// delete, and each takes under 30 s.
const CI_SEED: &str = "2";

#[test]
fn a_ci_campaign_has_no_violation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("reliability-ci.md");
    let run = Command::new(binary())
        .args([
            "campaign", "--size", "ci", "--runs", "3", "--jobs", "3", "--seed", CI_SEED, "-o",
            "json",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--logs")
        .arg(dir.path().join("logs"))
        .env("HOME", dir.path())
        .output()
        .expect("run kubectl-vpsie campaign");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "the campaign found violations (or failed):\n{stderr}"
    );
    let report: Value = serde_json::from_slice(&run.stdout).expect("the report as JSON");
    let runs = report["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 3);
    let mut fired = 0;
    let mut kills = 0;
    for r in runs {
        assert!(r["seed"].as_u64().is_some(), "every run names its seed");
        assert_eq!(r["violations"].as_array().map(Vec::len), Some(0), "{r:#}");
        fired += r["faults_injected"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum::<u64>())
            .unwrap_or(0);
        kills += r["crash_points"].as_array().map(Vec::len).unwrap_or(0);
    }
    assert!(fired > 0, "faults were injected: {report:#}");
    assert!(kills > 0, "serve was killed: {report:#}");
    // the files: markdown for people, JSON for tools
    let md = std::fs::read_to_string(&out).expect("markdown report");
    assert!(md.contains("| invariant violations | 0 |"), "{md}");
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(out.with_extension("json")).expect("json report"),
    )
    .expect("json");
    assert_eq!(json["runs"], report["runs"]);
}

/// The whole pipeline (final state read from the cloud, checks, exit code) catches a VPS
/// created behind the autoscaler's back.
#[test]
fn a_leak_injected_into_a_run_fails_the_campaign_with_its_seed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = "15839785061582574730";
    let run = Command::new(binary())
        .args(["campaign", "--size", "ci", "--run-seed", seed])
        .env("VPSIE_CAMPAIGN_INJECT_LEAK", "1")
        .env("HOME", dir.path())
        .output()
        .expect("run kubectl-vpsie campaign");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("seed {seed}: no-leak: VPS")) && stderr.contains("injected-leak"),
        "{stderr}"
    );
}

#[test]
fn bad_flags_are_refused_naming_the_flag() {
    for (args, needle) in [
        (vec!["--size", "huge"], "--size"),
        (vec!["--seed=minus-three"], "--seed"),
        (vec!["--runs", "0"], "--runs"),
        (vec!["--out", "report.txt"], "FILE.md"),
    ] {
        let out = Command::new(binary())
            .arg("campaign")
            .args(&args)
            .output()
            .expect("run");
        assert!(!out.status.success(), "{args:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

fn healthy() -> RunObservation {
    RunObservation {
        not_converged: None,
        last: FinalState {
            vms: vec![
                VmFact {
                    id: 1,
                    hostname: "campaign-a".into(),
                },
                VmFact {
                    id: 2,
                    hostname: "campaign-b".into(),
                },
            ],
            vns: vec![
                VnFact {
                    name: "campaign-a".into(),
                    phase: "Ready".into(),
                    instance_id: 1,
                },
                VnFact {
                    name: "campaign-b".into(),
                    phase: "Ready".into(),
                    instance_id: 2,
                },
            ],
            pods_expected: 2,
            pods_running: 2,
            node_bound: 2,
            min_nodes: 1,
            group: "campaign".into(),
            gauges: [
                ("nodegroup_desired_nodes{nodegroup=\"campaign\"}", 2.0),
                ("nodegroup_ready_nodes{nodegroup=\"campaign\"}", 2.0),
                ("vpsienode_phase{phase=\"Ready\"}", 2.0),
            ]
            .map(|(k, v)| (k.to_string(), v))
            .into(),
        },
        pdb: vec![],
        unmovable: None,
        processes: vec![ProcessObservation {
            breaker: vec![(0, 0), (500, 0)],
            ..Default::default()
        }],
        breaker_threshold: 5,
        breaker_open_ms: 30_000,
    }
}

#[test]
fn injected_violations_are_detected() {
    assert!(check(&healthy()).is_empty(), "{:?}", check(&healthy()));

    // a leaked VPS: alive, tracked by no VPSieNode
    let mut leaked = healthy();
    leaked.last.vms.push(VmFact {
        id: 3,
        hostname: "campaign-c".into(),
    });
    let found = check(&leaked);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].invariant, "no-leak");

    // a PDB exceeded during a drain
    let mut pdb = healthy();
    pdb.pdb = [(0, 2), (200, 1)]
        .map(|(t_ms, ready)| PdbSample {
            t_ms,
            app: "keep".into(),
            ready,
            min_available: 2,
        })
        .to_vec();
    assert_eq!(check(&pdb)[0].invariant, "pdb");

    // the breaker half-open without having been open
    let mut breaker = healthy();
    breaker.processes[0].breaker = vec![(0, 0), (300, 2), (600, 0)];
    assert_eq!(check(&breaker)[0].invariant, "breaker");
}
