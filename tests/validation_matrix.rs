//! Every rule of the API reference's "Validation Rules", both ways an operator meets it:
//! `kubectl apply` against the sim refuses the object with a message naming the field; and a
//! NodeGroup that got past the API server anyway (stored under an older, permissive CRD) is
//! refused by the reconciler with an Error condition and an InvalidConfiguration event that
//! name the field, and nothing is bought for it.

mod e2e_support;

use std::time::Duration;

use e2e_support::{items, until, Sim};
use serde_json::{json, Value};

fn base_group() -> Value {
    json!({"minNodes": 0, "maxNodes": 3, "datacenterID": "dc-us-east-1",
        "offeringIDs": ["small-2cpu-4gb"], "osImageID": "ubuntu-22.04-lts"})
}

/// (case, the spec with one rule broken, what the refusal must name).
fn nodegroup_cases() -> Vec<(&'static str, Value, Vec<&'static str>)> {
    let with = |f: &dyn Fn(&mut Value)| {
        let mut s = base_group();
        f(&mut s);
        s
    };
    vec![
        (
            "min-negative",
            with(&|s| s["minNodes"] = json!(-1)),
            vec!["spec.minNodes"],
        ),
        (
            "max-zero",
            with(&|s| s["maxNodes"] = json!(0)),
            vec!["spec.maxNodes"],
        ),
        (
            "max-below-min",
            with(&|s| {
                s["minNodes"] = json!(3);
                s["maxNodes"] = json!(2)
            }),
            vec!["maxNodes", "minNodes"],
        ),
        (
            "datacenter-empty",
            with(&|s| s["datacenterID"] = json!("")),
            vec!["spec.datacenterID"],
        ),
        (
            "offerings-empty",
            with(&|s| s["offeringIDs"] = json!([])),
            vec!["spec.offeringIDs"],
        ),
        (
            "image-empty",
            with(&|s| s["osImageID"] = json!("")),
            vec!["spec.osImageID"],
        ),
        (
            "up-cpu-above-100",
            with(&|s| s["scaleUpPolicy"] = json!({"cpuThreshold": 101})),
            vec!["spec.scaleUpPolicy.cpuThreshold"],
        ),
        (
            "up-memory-negative",
            with(&|s| s["scaleUpPolicy"] = json!({"memoryThreshold": -1})),
            vec!["spec.scaleUpPolicy.memoryThreshold"],
        ),
        (
            "down-cpu-above-100",
            with(&|s| s["scaleDownPolicy"] = json!({"cpuThreshold": 101})),
            vec!["spec.scaleDownPolicy.cpuThreshold"],
        ),
        (
            "down-memory-above-100",
            with(&|s| s["scaleDownPolicy"] = json!({"memoryThreshold": 101})),
            vec!["spec.scaleDownPolicy.memoryThreshold"],
        ),
        (
            "up-window-zero",
            with(&|s| s["scaleUpPolicy"] = json!({"stabilizationWindowSeconds": 0})),
            vec!["spec.scaleUpPolicy.stabilizationWindowSeconds"],
        ),
        (
            "down-window-zero",
            with(&|s| s["scaleDownPolicy"] = json!({"stabilizationWindowSeconds": 0})),
            vec!["spec.scaleDownPolicy.stabilizationWindowSeconds"],
        ),
    ]
}

fn object(kind: &str, name: &str, spec: &Value) -> String {
    json!({"apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": kind,
        "metadata": {"name": name, "namespace": "kube-system"}, "spec": spec})
    .to_string()
}

fn apply(sim: &Sim, doc: &str) -> (bool, String) {
    let out = sim.kubectl_stdin(&["apply", "-f", "-"], doc);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// kubectl's line for a refused object of a multi-document apply:
/// `Error from server (Invalid): error when creating "STDIN": NodeGroup.autoscaler.vpsie.com "x" is invalid: ...`.
fn refusal(stderr: &str, kind: &str, name: &str) -> String {
    let needle = format!("{kind}.autoscaler.vpsie.com \"{name}\" is invalid");
    stderr
        .lines()
        .find(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("{kind} {name} was not refused: {stderr}"))
        .to_string()
}

#[test]
fn kubectl_apply_refuses_every_rule_naming_the_field() {
    let sim = Sim::start(&["--no-reconciler"]);
    // the unbroken objects are accepted, so each refusal below is its rule's
    let (ok, err) = apply(&sim, &object("NodeGroup", "valid", &base_group()));
    assert!(ok, "the valid NodeGroup: {err}");
    let mut missing = Vec::new();
    for field in ["datacenterID", "osImageID", "offeringIDs"] {
        let mut s = base_group();
        s.as_object_mut().unwrap().remove(field);
        missing.push((field, s));
    }
    // one apply of every case: kubectl reports each refused object on its own
    let cases = nodegroup_cases();
    let mut docs: Vec<String> = cases
        .iter()
        .map(|(case, spec, _)| object("NodeGroup", case, spec))
        .collect();
    docs.extend(missing.iter().map(|(field, spec)| {
        object(
            "NodeGroup",
            &format!("without-{}", field.to_ascii_lowercase()),
            spec,
        )
    }));
    let (ok, err) = apply(&sim, &docs.join("\n---\n"));
    assert!(!ok, "every broken NodeGroup was accepted");
    let group_refusal = |name: &str| refusal(&err, "NodeGroup", name);
    for (case, spec, names) in &cases {
        let why = group_refusal(case);
        for n in names {
            assert!(
                why.contains(n),
                "{case} ({spec}): the refusal does not name {n}: {why}"
            );
        }
        assert!(why.contains("Invalid value"), "{case}: {why}");
    }
    for (field, _) in &missing {
        let why = group_refusal(&format!("without-{}", field.to_ascii_lowercase()));
        assert!(
            why.contains(&format!("spec.{field}")) && why.contains("Required value"),
            "without {field}: {why}"
        );
    }

    let node = json!({"vpsieInstanceID": 0, "instanceType": "small-2cpu-4gb", "nodeGroupName": "valid",
        "datacenterID": "dc-us-east-1"});
    let (ok, err) = apply(&sim, &object("VPSieNode", "valid-node", &node));
    assert!(ok, "the valid VPSieNode: {err}");
    let node_cases = [
        ("id-negative", "vpsieInstanceID", json!(-1)),
        ("type-empty", "instanceType", json!("")),
        ("group-empty", "nodeGroupName", json!("")),
        ("datacenter-empty", "datacenterID", json!("")),
    ];
    let docs: Vec<String> = node_cases
        .iter()
        .map(|(case, field, value)| {
            let mut spec = node.clone();
            spec[*field] = value.clone();
            object("VPSieNode", case, &spec)
        })
        .collect();
    let (ok, err) = apply(&sim, &docs.join("\n---\n"));
    assert!(!ok, "every broken VPSieNode was accepted");
    for (case, field, _) in node_cases {
        let why = refusal(&err, "VPSieNode", case);
        assert!(
            why.contains(&format!("spec.{field}")),
            "{case}: the refusal does not name spec.{field}: {why}"
        );
    }
    // vpsieInstanceID: 0 until the VPS exists, then set once and never changed
    let mut set = node.clone();
    set["vpsieInstanceID"] = json!(41);
    let (ok, err) = apply(&sim, &object("VPSieNode", "valid-node", &set));
    assert!(ok, "setting the id once: {err}");
    set["vpsieInstanceID"] = json!(42);
    let (ok, err) = apply(&sim, &object("VPSieNode", "valid-node", &set));
    assert!(!ok, "changing the id was accepted");
    assert!(err.contains("spec.vpsieInstanceID"), "{err}");
}

/// The NodeGroup CRD as an older release might have installed it: no schema rules at all.
fn loosen_the_nodegroup_crd(sim: &Sim) {
    let mut crd = sim.json(&["get", "crd", "nodegroups.autoscaler.vpsie.com"]);
    for v in crd["spec"]["versions"].as_array_mut().unwrap() {
        v["schema"]["openAPIV3Schema"] =
            json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true});
    }
    let out = sim.kubectl_stdin(&["replace", "-f", "-"], &crd.to_string());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_reconciler_refuses_what_got_past_the_api_server_with_a_condition_and_an_event() {
    let sim = Sim::start(&["--speed", "20"]);
    loosen_the_nodegroup_crd(&sim);
    let cases = nodegroup_cases();
    for (case, spec, _) in &cases {
        let (ok, err) = apply(&sim, &object("NodeGroup", &format!("bad-{case}"), spec));
        assert!(ok, "{case} under the loose CRD: {err}");
    }
    for (case, _, names) in &cases {
        let name = format!("bad-{case}");
        let message = until(
            &format!("{name}'s Error condition"),
            Duration::from_secs(60),
            || sim.invalid_configuration(&name),
        );
        for n in names {
            assert!(
                message.contains(n),
                "{case}: the condition does not name {n}: {message}"
            );
        }
        assert!(message.contains("fix"), "{case}: no fix given: {message}");
    }
    let events = items(&sim.json(&[
        "get",
        "events",
        "-n",
        "kube-system",
        "--field-selector",
        "reason=InvalidConfiguration",
    ]));
    for (case, _, _) in &cases {
        let name = format!("bad-{case}");
        assert!(
            events
                .iter()
                .any(|e| e["involvedObject"]["name"] == name.as_str() && e["type"] == "Warning"),
            "no InvalidConfiguration event on {name}"
        );
    }
    // nothing is bought for an invalid group (the example group's VPS carry its label)
    let records = items(&sim.json(&["get", "vn", "-n", "kube-system"]));
    assert!(
        records.iter().all(|r| !r["spec"]["nodeGroupName"]
            .as_str()
            .unwrap_or("")
            .starts_with("bad-")),
        "a record for an invalid group: {records:#?}"
    );
}
