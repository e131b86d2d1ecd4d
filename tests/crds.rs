//! Tests of the generated CRDs (`deploy/crds/`), the spec's examples and `validate()`.

use std::path::PathBuf;

use vpsie_autoscaler::api;

fn crd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/crds")
}

/// The committed CRD files must equal what the types generate.
/// `UPDATE_GENERATED=1 cargo test -p vpsie-autoscaler --test crds` rewrites them.
#[test]
fn generated_crds_are_up_to_date() {
    let update = std::env::var("UPDATE_GENERATED").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, yaml) in api::crd_files() {
        let path = crd_dir().join(&name);
        if update {
            std::fs::create_dir_all(crd_dir()).expect("create deploy/crds");
            std::fs::write(&path, &yaml).expect("write CRD file");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(committed) if committed == yaml => {}
            Ok(_) => stale.push(format!("{} differs from the generated CRD", path.display())),
            Err(e) => stale.push(format!("{} cannot be read: {e}", path.display())),
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nthe CRD types changed: run `cargo run -p kubectl-vpsie -- crds --write deploy/crds` \
         (or `UPDATE_GENERATED=1 cargo test -p vpsie-autoscaler --test crds`) and commit the result",
        stale.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Taint;
use kube::core::cel::{compile_schema, Validator};
use kube::CustomResourceExt;
use serde_json::{json, Value};
use vpsie_autoscaler::api::{
    NodeGroup, NodeGroupSpec, ScaleDownPolicy, ScaleUpPolicy, VPSieNode, VPSieNodePhase,
    VPSieNodeSpec, VPSieNodeStatus,
};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A committed CRD file, parsed into JSON.
fn committed_crd(plural: &str) -> Value {
    let path = crd_dir().join(format!("{plural}.autoscaler.vpsie.com.yaml"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    vpsie_autoscaler::yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn version(crd: &Value) -> &Value {
    let versions = crd["spec"]["versions"].as_array().expect("spec.versions");
    assert_eq!(versions.len(), 1, "exactly one version");
    &versions[0]
}

fn root_schema(crd: &Value) -> &Value {
    &version(crd)["schema"]["openAPIV3Schema"]
}

/// The schema at a dotted path of property names, e.g. `spec.scaleUpPolicy.cpuThreshold`.
fn prop<'a>(crd: &'a Value, path: &str) -> &'a Value {
    let mut s = root_schema(crd);
    for part in path.split('.') {
        if part == "[]" {
            s = &s["items"];
        } else {
            s = &s["properties"][part];
        }
        assert!(!s.is_null(), "no schema at {path} (stopped at {part})");
    }
    s
}

fn required(schema: &Value) -> Vec<&str> {
    schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn cel_rules(schema: &Value) -> Vec<(String, String)> {
    schema["x-kubernetes-validations"]
        .as_array()
        .map(|rules| {
            rules
                .iter()
                .map(|r| {
                    (
                        r["rule"].as_str().unwrap_or_default().to_string(),
                        r["message"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn example_nodegroup() -> NodeGroup {
    vpsie_autoscaler::yaml::from_str(&fixture("nodegroup-example.yaml"))
        .expect("example NodeGroup parses")
}

fn example_vpsienode() -> VPSieNode {
    vpsie_autoscaler::yaml::from_str(&fixture("vpsienode-example.yaml"))
        .expect("example VPSieNode parses")
}

fn valid_spec() -> NodeGroupSpec {
    NodeGroupSpec {
        min_nodes: 1,
        max_nodes: 5,
        datacenter_id: "dc-us-east-1".into(),
        offering_ids: vec!["small-2cpu-4gb".into(), "medium-4cpu-8gb".into()],
        os_image_id: "ubuntu-22.04-lts".into(),
        ..Default::default()
    }
}

/// Runs the CEL rules of a committed CRD on an object (defaults applied first, as an API server does).
fn cel_check(crd: &Value, object: &Value, old: Option<&Value>) -> Result<(), Vec<String>> {
    Validator::new()
        .validate(root_schema(crd), object, old)
        .map_err(|errs| errs.iter().map(|e| e.message.clone()).collect())
}

// ---------------------------------------------------------------------------------------------
// CRD metadata

#[test]
fn nodegroup_crd_names_scope_and_subresources() {
    let crd = committed_crd("nodegroups");
    assert_eq!(crd["apiVersion"], "apiextensions.k8s.io/v1");
    assert_eq!(crd["kind"], "CustomResourceDefinition");
    assert_eq!(crd["metadata"]["name"], "nodegroups.autoscaler.vpsie.com");
    assert_eq!(crd["spec"]["group"], "autoscaler.vpsie.com");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    let names = &crd["spec"]["names"];
    assert_eq!(names["kind"], "NodeGroup");
    assert_eq!(names["plural"], "nodegroups");
    assert_eq!(names["singular"], "nodegroup");
    assert_eq!(names["shortNames"], json!(["ng"]));
    assert_eq!(names["categories"], json!(["vpsie"]));
    let v = version(&crd);
    assert_eq!(v["name"], "v1alpha1");
    assert_eq!(v["served"], true);
    assert_eq!(v["storage"], true);
    assert_eq!(v["subresources"], json!({"status": {}}));
}

#[test]
fn vpsienode_crd_names_scope_and_subresources() {
    let crd = committed_crd("vpsienodes");
    assert_eq!(crd["metadata"]["name"], "vpsienodes.autoscaler.vpsie.com");
    assert_eq!(crd["spec"]["group"], "autoscaler.vpsie.com");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    let names = &crd["spec"]["names"];
    assert_eq!(names["kind"], "VPSieNode");
    assert_eq!(names["plural"], "vpsienodes");
    assert_eq!(names["singular"], "vpsienode");
    assert_eq!(names["shortNames"], json!(["vn"]));
    assert_eq!(names["categories"], json!(["vpsie"]));
    let v = version(&crd);
    assert_eq!(v["name"], "v1alpha1");
    assert_eq!(v["subresources"], json!({"status": {}}));
    assert_eq!(
        v["selectableFields"],
        json!([{"jsonPath": ".status.phase"}])
    );
}

fn columns(crd: &Value) -> Vec<(String, String, String)> {
    version(crd)["additionalPrinterColumns"]
        .as_array()
        .expect("additionalPrinterColumns")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["jsonPath"].as_str().unwrap_or_default().to_string(),
                c["type"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn cols(list: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    list.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

#[test]
fn printer_columns() {
    assert_eq!(
        columns(&committed_crd("nodegroups")),
        cols(&[
            ("MIN", ".spec.minNodes", "integer"),
            ("MAX", ".spec.maxNodes", "integer"),
            ("CURRENT", ".status.currentNodes", "integer"),
            ("READY", ".status.readyNodes", "integer"),
            ("DESIRED", ".status.desiredNodes", "integer"),
            ("AGE", ".metadata.creationTimestamp", "date"),
        ])
    );
    assert_eq!(
        columns(&committed_crd("vpsienodes")),
        cols(&[
            ("PHASE", ".status.phase", "string"),
            ("NODE", ".status.nodeName", "string"),
            ("VPS-ID", ".spec.vpsieInstanceID", "integer"),
            ("TYPE", ".spec.instanceType", "string"),
            ("IP", ".spec.ipAddress", "string"),
            ("AGE", ".metadata.creationTimestamp", "date"),
        ])
    );
}

/// The committed files load as typed CRDs (what `kubectl apply` or kube-rs would send) and
/// equal what the types generate.
#[test]
fn committed_files_parse_as_custom_resource_definitions() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    for (crd, plural) in api::crds().into_iter().zip(["nodegroups", "vpsienodes"]) {
        let path = crd_dir().join(format!("{plural}.autoscaler.vpsie.com.yaml"));
        let text = std::fs::read_to_string(&path).expect("read CRD file");
        assert!(
            text.starts_with(api::GENERATED_HEADER),
            "{} lacks the header",
            path.display()
        );
        let parsed: CustomResourceDefinition = vpsie_autoscaler::yaml::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(parsed, crd);
    }
}

#[test]
fn crds_yaml_is_both_files_nodegroup_first() {
    let all = api::crds_yaml();
    let docs: Vec<Value> = all
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| vpsie_autoscaler::yaml::from_str(d).expect("each document parses"))
        .collect();
    assert_eq!(
        docs,
        vec![committed_crd("nodegroups"), committed_crd("vpsienodes")]
    );
    assert_eq!(api::crds().len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Schema: defaults, bounds, required fields, CEL rules

#[test]
fn nodegroup_spec_defaults_in_schema() {
    let crd = committed_crd("nodegroups");
    let d = |path: &str| prop(&crd, path)["default"].clone();
    assert_eq!(d("spec.labels"), json!({}));
    assert_eq!(d("spec.taints"), json!([]));
    assert_eq!(d("spec.sshKeyIDs"), json!([]));
    assert_eq!(d("spec.tags"), json!([]));
    assert_eq!(d("spec.userData"), json!(""));
    assert_eq!(d("spec.preferredInstanceType"), json!(""));
    assert_eq!(d("spec.allowMixedInstances"), json!(false));
    assert_eq!(
        d("spec.scaleUpPolicy"),
        json!({"enabled": true, "stabilizationWindowSeconds": 60, "cpuThreshold": 80, "memoryThreshold": 80})
    );
    assert_eq!(
        d("spec.scaleDownPolicy"),
        json!({"enabled": true, "stabilizationWindowSeconds": 600, "cpuThreshold": 50,
               "memoryThreshold": 50, "unneededTime": 600})
    );
    for (field, value) in [
        ("enabled", json!(true)),
        ("stabilizationWindowSeconds", json!(60)),
        ("cpuThreshold", json!(80)),
        ("memoryThreshold", json!(80)),
    ] {
        assert_eq!(
            d(&format!("spec.scaleUpPolicy.{field}")),
            value,
            "scaleUpPolicy.{field}"
        );
    }
    for (field, value) in [
        ("enabled", json!(true)),
        ("stabilizationWindowSeconds", json!(600)),
        ("cpuThreshold", json!(50)),
        ("memoryThreshold", json!(50)),
        ("unneededTime", json!(600)),
    ] {
        assert_eq!(
            d(&format!("spec.scaleDownPolicy.{field}")),
            value,
            "scaleDownPolicy.{field}"
        );
    }
    for required_field in [
        "minNodes",
        "maxNodes",
        "datacenterID",
        "offeringIDs",
        "osImageID",
    ] {
        assert!(
            d(&format!("spec.{required_field}")).is_null(),
            "{required_field} has no default"
        );
    }
}

#[test]
fn nodegroup_schema_bounds() {
    let crd = committed_crd("nodegroups");
    let num = |path: &str, key: &str| prop(&crd, path)[key].as_f64();
    assert_eq!(num("spec.minNodes", "minimum"), Some(0.0));
    assert_eq!(num("spec.maxNodes", "minimum"), Some(1.0));
    assert_eq!(num("spec.datacenterID", "minLength"), Some(1.0));
    assert_eq!(num("spec.osImageID", "minLength"), Some(1.0));
    assert_eq!(num("spec.offeringIDs", "minItems"), Some(1.0));
    assert_eq!(num("spec.offeringIDs", "maxItems"), Some(32.0));
    assert_eq!(num("spec.offeringIDs.[]", "minLength"), Some(1.0));
    assert_eq!(num("spec.offeringIDs.[]", "maxLength"), Some(128.0));
    assert_eq!(
        prop(&crd, "spec.offeringIDs")["x-kubernetes-list-type"],
        "set"
    );
    assert_eq!(num("spec.preferredInstanceType", "maxLength"), Some(128.0));
    // validate() uses the same bounds as the schema.
    assert_eq!(
        num("spec.offeringIDs", "maxItems"),
        Some(api::nodegroup::MAX_OFFERING_IDS as f64)
    );
    assert_eq!(
        num("spec.offeringIDs.[]", "maxLength"),
        Some(api::nodegroup::MAX_OFFERING_ID_LEN as f64)
    );
    for policy in ["scaleUpPolicy", "scaleDownPolicy"] {
        for t in ["cpuThreshold", "memoryThreshold"] {
            let path = format!("spec.{policy}.{t}");
            assert_eq!(num(&path, "minimum"), Some(0.0), "{path}");
            assert_eq!(num(&path, "maximum"), Some(100.0), "{path}");
        }
        let path = format!("spec.{policy}.stabilizationWindowSeconds");
        assert_eq!(num(&path, "minimum"), Some(1.0), "{path}");
    }
    assert_eq!(
        num("spec.scaleDownPolicy.unneededTime", "minimum"),
        Some(0.0)
    );
    assert_eq!(prop(&crd, "spec.minNodes")["format"], "int32");
    assert_eq!(prop(&crd, "status.observedGeneration")["format"], "int64");
    assert_eq!(
        prop(&crd, "status.observedReconcileTrigger")["type"],
        "string"
    );
}

#[test]
fn nodegroup_required_fields_and_cel_rules() {
    let crd = committed_crd("nodegroups");
    assert_eq!(required(root_schema(&crd)), vec!["spec"]);
    assert_eq!(
        required(prop(&crd, "spec")),
        vec![
            "datacenterID",
            "maxNodes",
            "minNodes",
            "offeringIDs",
            "osImageID"
        ]
    );
    assert!(
        required(prop(&crd, "status")).is_empty(),
        "status fields are all optional"
    );
    assert!(required(prop(&crd, "spec.scaleUpPolicy")).is_empty());
    assert!(required(prop(&crd, "spec.scaleDownPolicy")).is_empty());
    assert_eq!(
        required(prop(&crd, "status.conditions.[]")),
        vec!["lastTransitionTime", "status", "type"]
    );
    let rules = cel_rules(prop(&crd, "spec"));
    assert_eq!(rules.len(), 2, "{rules:?}");
    assert_eq!(rules[0].0, "self.maxNodes >= self.minNodes");
    assert!(
        rules[0].1.contains("maxNodes must be >= minNodes"),
        "{}",
        rules[0].1
    );
    assert!(
        rules[0].1.contains("MinNodes exceeds MaxNodes"),
        "{}",
        rules[0].1
    );
    assert_eq!(
        rules[1].0,
        "!has(self.preferredInstanceType) || self.preferredInstanceType == '' || self.preferredInstanceType in self.offeringIDs"
    );
    assert!(
        rules[1].1.contains("preferredInstanceType"),
        "{}",
        rules[1].1
    );
    assert!(
        rules[1].1.contains("pick one of offeringIDs"),
        "{}",
        rules[1].1
    );
}

#[test]
fn vpsienode_schema_bounds_required_and_cel() {
    let crd = committed_crd("vpsienodes");
    assert_eq!(
        required(prop(&crd, "spec")),
        vec![
            "datacenterID",
            "instanceType",
            "nodeGroupName",
            "vpsieInstanceID"
        ]
    );
    assert!(required(prop(&crd, "status")).is_empty());
    let id = prop(&crd, "spec.vpsieInstanceID");
    assert_eq!(id["minimum"].as_f64(), Some(0.0));
    assert_eq!(id["format"], "int64");
    assert_eq!(
        cel_rules(id),
        vec![(
            "oldSelf == 0 || self == oldSelf".to_string(),
            "vpsieInstanceID is immutable once set".to_string()
        )]
    );
    for f in ["instanceType", "nodeGroupName", "datacenterID"] {
        assert_eq!(
            prop(&crd, &format!("spec.{f}"))["minLength"].as_f64(),
            Some(1.0),
            "{f}"
        );
    }
    let phases: Vec<&str> = prop(&crd, "status.phase")["enum"]
        .as_array()
        .expect("phase enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let expected: Vec<&str> = VPSieNodePhase::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(phases, expected);
    for f in ["cpu", "memoryMB", "diskGB", "bandwidthGB"] {
        assert_eq!(
            prop(&crd, &format!("status.resources.{f}"))["type"],
            "integer",
            "{f}"
        );
    }
    for f in [
        "createdAt",
        "provisionedAt",
        "joinedAt",
        "readyAt",
        "terminatingAt",
    ] {
        assert_eq!(
            prop(&crd, &format!("status.{f}"))["format"],
            "date-time",
            "{f}"
        );
    }
    assert_eq!(prop(&crd, "status.observedGeneration")["format"], "int64");
}

/// Every schema node has a type (or is an explicit int-or-string / preserve-unknown node):
/// a non-structural schema is rejected by an API server.
#[test]
fn schemas_are_structural() {
    fn walk(s: &Value, path: &str) {
        let untyped_ok = s["x-kubernetes-int-or-string"] == true
            || s["x-kubernetes-preserve-unknown-fields"] == true;
        assert!(
            s["type"].is_string() || untyped_ok,
            "no type at {path}: {s}"
        );
        for banned in [
            "$ref",
            "anyOf",
            "oneOf",
            "allOf",
            "not",
            "definitions",
            "$defs",
        ] {
            assert!(s.get(banned).is_none(), "{banned} at {path}");
        }
        if let Some(props) = s["properties"].as_object() {
            for (k, v) in props {
                walk(v, &format!("{path}.{k}"));
            }
        }
        if s["items"].is_object() {
            walk(&s["items"], &format!("{path}[]"));
        }
        if s["additionalProperties"].is_object() {
            walk(&s["additionalProperties"], &format!("{path}{{}}"));
        }
    }
    for plural in ["nodegroups", "vpsienodes"] {
        let crd = committed_crd(plural);
        walk(root_schema(&crd), plural);
        let compiled = compile_schema(root_schema(&crd));
        assert!(
            !compiled.has_errors(),
            "{plural}: CEL rules do not compile: {:?}",
            compiled.compilation_errors()
        );
    }
}

/// The API server rejects a CRD whose CEL rules may cost too much or refer to unknown
/// variables; the offeringIDs bounds exist for this.
#[test]
fn cel_rules_are_in_scope_and_within_cost_budget() {
    use kube::core::cel::{analyze_rule, ScopeContext};
    for (plural, path) in [
        ("nodegroups", "spec"),
        ("vpsienodes", "spec.vpsieInstanceID"),
    ] {
        let crd = committed_crd(plural);
        let node = prop(&crd, path);
        let compiled = compile_schema(node);
        let rules = cel_rules(node);
        assert!(!rules.is_empty(), "{plural} {path} has rules");
        for (rule, _) in rules {
            let warnings = analyze_rule(&rule, &compiled, ScopeContext::CrdValidation);
            assert!(warnings.is_empty(), "{plural}: {rule}: {warnings:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CEL rules, evaluated client-side on the committed schemas

#[test]
fn cel_accepts_examples_and_rejects_min_above_max() {
    let crd = committed_crd("nodegroups");
    let example = serde_json::to_value(example_nodegroup()).expect("serialize");
    assert_eq!(cel_check(&crd, &example, None), Ok(()));

    let mut bad = example.clone();
    bad["spec"]["minNodes"] = json!(30);
    let errs = cel_check(&crd, &bad, None).expect_err("min > max rejected");
    assert!(
        errs.iter().any(|m| m.contains("MinNodes exceeds MaxNodes")),
        "{errs:?}"
    );

    let mut bad = example.clone();
    bad["spec"]["preferredInstanceType"] = json!("huge-64cpu");
    let errs = cel_check(&crd, &bad, None).expect_err("preferred type outside offerings rejected");
    assert!(
        errs.iter().any(|m| m.contains("preferredInstanceType")),
        "{errs:?}"
    );

    let mut ok = example.clone();
    ok["spec"]["preferredInstanceType"] = json!("");
    assert_eq!(cel_check(&crd, &ok, None), Ok(()));
    ok["spec"]
        .as_object_mut()
        .map(|s| s.remove("preferredInstanceType"));
    assert_eq!(cel_check(&crd, &ok, None), Ok(()));
}

#[test]
fn cel_makes_instance_id_immutable_once_set() {
    let crd = committed_crd("vpsienodes");
    let with_id = |id: i64| {
        let mut v = serde_json::to_value(example_vpsienode()).expect("serialize");
        v["spec"]["vpsieInstanceID"] = json!(id);
        v
    };
    assert_eq!(
        cel_check(&crd, &with_id(0), None),
        Ok(()),
        "create with 0 (intent first)"
    );
    assert_eq!(
        cel_check(&crd, &with_id(1001), Some(&with_id(0))),
        Ok(()),
        "0 -> id"
    );
    assert_eq!(
        cel_check(&crd, &with_id(1001), Some(&with_id(1001))),
        Ok(()),
        "unchanged"
    );
    let errs = cel_check(&crd, &with_id(1002), Some(&with_id(1001))).expect_err("id -> other id");
    assert_eq!(
        errs,
        vec!["vpsieInstanceID is immutable once set".to_string()]
    );
    assert!(
        cel_check(&crd, &with_id(0), Some(&with_id(1001))).is_err(),
        "id -> 0"
    );
}

/// What an API server fills in from the schema defaults equals what serde fills in.
#[test]
fn schema_defaults_match_serde_defaults() {
    let crd = committed_crd("nodegroups");
    let minimal = json!({
        "apiVersion": "autoscaler.vpsie.com/v1alpha1",
        "kind": "NodeGroup",
        "metadata": {"name": "minimal", "namespace": "default"},
        "spec": {
            "minNodes": 0, "maxNodes": 3, "datacenterID": "dc-us-east-1",
            "offeringIDs": ["small-2cpu-4gb"], "osImageID": "ubuntu-22.04-lts"
        }
    });
    let by_server = kube::core::cel::apply_defaults(root_schema(&crd), &minimal);
    let by_serde: NodeGroup = serde_json::from_value(minimal).expect("minimal parses");
    assert_eq!(
        by_server["spec"],
        serde_json::to_value(&by_serde.spec).expect("serialize")
    );
    // A partly given policy keeps the given field and defaults the others, both ways.
    let partial = json!({
        "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
        "metadata": {"name": "p"},
        "spec": {"minNodes": 0, "maxNodes": 3, "datacenterID": "d", "offeringIDs": ["o"],
                 "osImageID": "i", "scaleDownPolicy": {"unneededTime": 120}}
    });
    let by_server = kube::core::cel::apply_defaults(root_schema(&crd), &partial);
    let by_serde: NodeGroup = serde_json::from_value(partial).expect("partial parses");
    assert_eq!(by_serde.spec.scale_down_policy.unneeded_time, 120);
    assert_eq!(
        by_serde.spec.scale_down_policy.stabilization_window_seconds,
        600
    );
    assert_eq!(
        by_server["spec"],
        serde_json::to_value(&by_serde.spec).expect("serialize")
    );
}

// ---------------------------------------------------------------------------------------------
// Round trips of the API reference's examples

#[test]
fn nodegroup_example_round_trips_and_validates() {
    let ng = example_nodegroup();
    assert_eq!(ng.spec.min_nodes, 3);
    assert_eq!(ng.spec.max_nodes, 20);
    assert_eq!(ng.spec.datacenter_id, "dc-us-east-1");
    assert_eq!(ng.spec.offering_ids.len(), 3);
    assert_eq!(ng.spec.preferred_instance_type, "medium-4cpu-8gb");
    assert!(ng.spec.allow_mixed_instances);
    assert_eq!(
        ng.spec.labels.get("workload-type").map(String::as_str),
        Some("general")
    );
    assert_eq!(ng.spec.ssh_key_ids, vec!["ssh-key-123"]);
    let status = ng.status.as_ref().expect("example has a status");
    assert_eq!(status.nodes[0].vps_id, 1001);
    assert_eq!(status.nodes[0].ip_address, "192.0.2.10");
    let ready = ng
        .condition(api::NodeGroupCondition::READY)
        .expect("Ready condition");
    assert_eq!(ready.status, api::ConditionStatus::True);
    assert_eq!(ready.reason, "AllNodesReady");
    assert!(status.last_scale_time.is_some());
    assert_eq!(ng.validate(), Ok(()));

    let yaml = vpsie_autoscaler::yaml::to_string(&ng).expect("serialize");
    let back: NodeGroup = vpsie_autoscaler::yaml::from_str(&yaml).expect("re-parse");
    assert_eq!(back, ng);
    // JSON names on the wire are exactly the spec's.
    let v = serde_json::to_value(&ng).expect("to json");
    for key in [
        "minNodes",
        "maxNodes",
        "datacenterID",
        "offeringIDs",
        "osImageID",
        "scaleUpPolicy",
        "scaleDownPolicy",
        "labels",
        "taints",
        "sshKeyIDs",
        "tags",
        "userData",
        "preferredInstanceType",
        "allowMixedInstances",
    ] {
        assert!(
            v["spec"].get(key).is_some(),
            "spec.{key} missing in {}",
            v["spec"]
        );
    }
    assert_eq!(v["status"]["nodes"][0]["vpsID"], 1001);
}

#[test]
fn vpsienode_example_round_trips_and_validates() {
    let vn = example_vpsienode();
    assert_eq!(vn.spec.vpsie_instance_id, 1001);
    assert_eq!(vn.spec.ipv6_address.as_deref(), Some("2001:db8::1"));
    assert_eq!(vn.phase(), VPSieNodePhase::Ready);
    let status = vn.status.as_ref().expect("status");
    let res = status.resources.as_ref().expect("resources");
    assert_eq!(
        (res.cpu, res.memory_mb, res.disk_gb, res.bandwidth_gb),
        (4, 8192, 100, 2000)
    );
    assert_eq!(status.conditions.len(), 3);
    assert!(vn.condition(api::VPSieNodeCondition::NODE_READY).is_some());
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(vn.validate(), Ok(()));

    let yaml = vpsie_autoscaler::yaml::to_string(&vn).expect("serialize");
    let back: VPSieNode = vpsie_autoscaler::yaml::from_str(&yaml).expect("re-parse");
    assert_eq!(back, vn);
    let v = serde_json::to_value(&vn).expect("to json");
    assert_eq!(v["spec"]["vpsieInstanceID"], 1001);
    assert_eq!(v["status"]["resources"]["memoryMB"], 8192);
    assert_eq!(v["metadata"]["labels"]["nodegroup"], "production-workers");
}

#[test]
fn minimal_nodegroup_gets_every_default() {
    let yaml = r#"
apiVersion: autoscaler.vpsie.com/v1alpha1
kind: NodeGroup
metadata:
  name: minimal
spec:
  minNodes: 1
  maxNodes: 2
  datacenterID: dc-us-east-1
  offeringIDs: [small-2cpu-4gb]
  osImageID: ubuntu-22.04-lts
"#;
    let ng: NodeGroup = vpsie_autoscaler::yaml::from_str(yaml).expect("minimal parses");
    let s = &ng.spec;
    assert_eq!(
        s.scale_up_policy,
        ScaleUpPolicy {
            enabled: true,
            stabilization_window_seconds: 60,
            cpu_threshold: 80,
            memory_threshold: 80
        }
    );
    assert_eq!(
        s.scale_down_policy,
        ScaleDownPolicy {
            enabled: true,
            stabilization_window_seconds: 600,
            cpu_threshold: 50,
            memory_threshold: 50,
            unneeded_time: 600
        }
    );
    assert!(s.labels.is_empty());
    assert!(s.taints.is_empty());
    assert!(s.ssh_key_ids.is_empty());
    assert!(s.tags.is_empty());
    assert_eq!(s.user_data, "");
    assert_eq!(s.preferred_instance_type, "");
    assert!(!s.allow_mixed_instances);
    assert!(ng.status.is_none());
    assert_eq!(ng.validate(), Ok(()));
}

#[test]
fn missing_required_field_is_a_parse_error_naming_it() {
    let yaml = "minNodes: 1\nmaxNodes: 2\ndatacenterID: d\nosImageID: i\n";
    let err = vpsie_autoscaler::yaml::from_str::<NodeGroupSpec>(yaml)
        .expect_err("offeringIDs is required");
    assert!(err.to_string().contains("offeringIDs"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// validate(): a table of invalid specs, each with exactly the expected paths

fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        value: value.map(Into::into),
        effect: effect.into(),
        time_added: None,
    }
}

#[test]
fn invalid_nodegroup_specs_report_exact_paths() {
    type Case = (&'static str, fn(&mut NodeGroupSpec), Vec<&'static str>);
    let cases: Vec<Case> = vec![
        ("negative min", |s| s.min_nodes = -1, vec!["spec.minNodes"]),
        (
            "zero max",
            |s| {
                s.min_nodes = 0;
                s.max_nodes = 0
            },
            vec!["spec.maxNodes"],
        ),
        (
            "min above max",
            |s| {
                s.min_nodes = 3;
                s.max_nodes = 2
            },
            vec!["spec.maxNodes"],
        ),
        (
            "negative max below min",
            |s| {
                s.min_nodes = 1;
                s.max_nodes = -1
            },
            vec!["spec.maxNodes", "spec.maxNodes"],
        ),
        (
            "empty datacenter",
            |s| s.datacenter_id.clear(),
            vec!["spec.datacenterID"],
        ),
        (
            "empty image",
            |s| s.os_image_id.clear(),
            vec!["spec.osImageID"],
        ),
        (
            "no offerings",
            |s| s.offering_ids.clear(),
            vec!["spec.offeringIDs"],
        ),
        (
            "empty and duplicate offering",
            |s| s.offering_ids = vec!["a".into(), "".into(), "a".into()],
            vec!["spec.offeringIDs[1]", "spec.offeringIDs[2]"],
        ),
        (
            "too many offerings",
            |s| s.offering_ids = (0..33).map(|i| format!("o{i}")).collect(),
            vec!["spec.offeringIDs"],
        ),
        (
            "over-long offering",
            |s| s.offering_ids = vec!["x".repeat(129)],
            vec!["spec.offeringIDs[0]"],
        ),
        (
            "preferred not offered",
            |s| s.preferred_instance_type = "huge".into(),
            vec!["spec.preferredInstanceType"],
        ),
        (
            "thresholds out of range",
            |s| {
                s.scale_up_policy.cpu_threshold = 101;
                s.scale_up_policy.memory_threshold = -1;
                s.scale_down_policy.cpu_threshold = 200;
                s.scale_down_policy.memory_threshold = -5;
            },
            vec![
                "spec.scaleUpPolicy.cpuThreshold",
                "spec.scaleUpPolicy.memoryThreshold",
                "spec.scaleDownPolicy.cpuThreshold",
                "spec.scaleDownPolicy.memoryThreshold",
            ],
        ),
        (
            "zero windows and negative unneeded time",
            |s| {
                s.scale_up_policy.stabilization_window_seconds = 0;
                s.scale_down_policy.stabilization_window_seconds = -1;
                s.scale_down_policy.unneeded_time = -1;
            },
            vec![
                "spec.scaleUpPolicy.stabilizationWindowSeconds",
                "spec.scaleDownPolicy.stabilizationWindowSeconds",
                "spec.scaleDownPolicy.unneededTime",
            ],
        ),
        (
            "bad label key and value",
            |s| {
                s.labels = BTreeMap::from([
                    ("ok".to_string(), "fine".to_string()),
                    ("bad key".to_string(), "x".to_string()),
                    ("long".to_string(), "v".repeat(64)),
                ])
            },
            vec!["spec.labels[bad key]", "spec.labels[long]"],
        ),
        (
            "bad taints",
            |s| {
                s.taints = vec![
                    taint("dedicated", Some("gpu"), "NoSchedule"),
                    taint("dedicated", None, "Sometimes"),
                    taint("-bad", Some("a b"), "NoExecute"),
                ]
            },
            vec![
                "spec.taints[1].effect",
                "spec.taints[2].key",
                "spec.taints[2].value",
            ],
        ),
        (
            "everything at once",
            |s| {
                *s = NodeGroupSpec::default();
                s.min_nodes = 5;
            },
            vec![
                "spec.maxNodes",
                "spec.maxNodes",
                "spec.datacenterID",
                "spec.offeringIDs",
                "spec.osImageID",
            ],
        ),
    ];
    assert_eq!(valid_spec().validate(), Ok(()));
    for (name, mutate, expected) in cases {
        let mut spec = valid_spec();
        mutate(&mut spec);
        let err = spec.validate().expect_err(name);
        assert_eq!(err.paths(), expected, "case {name}: {err}");
        assert_eq!(
            err.to_string().lines().count(),
            expected.len(),
            "case {name}"
        );
        for e in &err.errors {
            assert!(e.message.contains("fix:"), "case {name}: no fix in {e}");
            assert!(!e.value.is_empty(), "case {name}: no value in {e}");
        }
    }
}

#[test]
fn min_above_max_error_reads_as_specified() {
    let spec = NodeGroupSpec {
        min_nodes: 3,
        max_nodes: 2,
        ..valid_spec()
    };
    let err = spec.validate().expect_err("invalid");
    assert_eq!(
        err.errors,
        vec![api::FieldError {
            path: "spec.maxNodes".into(),
            value: "2".into(),
            message: "must be >= spec.minNodes (3): MinNodes exceeds MaxNodes; fix: raise maxNodes or lower minNodes".into(),
        }]
    );
    assert_eq!(
        err.to_string(),
        "spec.maxNodes: invalid value 2: must be >= spec.minNodes (3): MinNodes exceeds MaxNodes; fix: raise maxNodes or lower minNodes"
    );
}

#[test]
fn user_data_is_redacted_from_debug_and_errors() {
    let spec = NodeGroupSpec {
        user_data: "#cloud-config\nkubeadm join --token abcdef.s3cr3ttoken".into(),
        min_nodes: 9,
        ..valid_spec()
    };
    let ng = NodeGroup::new("ng", spec.clone());
    let debug = format!("{ng:?} {spec:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(debug.contains("redacted"), "{debug}");
    let err = spec.validate().expect_err("min above max");
    assert!(!err.to_string().contains("s3cr3t"));
}

fn vpsienode(id: i64, phase: Option<VPSieNodePhase>) -> VPSieNode {
    let mut vn = VPSieNode::new(
        "vn-1",
        VPSieNodeSpec {
            vpsie_instance_id: id,
            instance_type: "small-2cpu-4gb".into(),
            node_group_name: "workers".into(),
            datacenter_id: "dc-us-east-1".into(),
            ..Default::default()
        },
    );
    vn.status = phase.map(|phase| VPSieNodeStatus {
        phase,
        ..Default::default()
    });
    vn
}

#[test]
fn instance_id_zero_is_only_an_error_once_the_vps_exists() {
    use VPSieNodePhase::*;
    assert_eq!(vpsienode(0, None).validate(), Ok(()), "no status = Pending");
    for phase in [Pending, Provisioning, Failed] {
        assert_eq!(vpsienode(0, Some(phase)).validate(), Ok(()), "{phase}");
    }
    for phase in [Provisioned, Joining, Ready, Terminating, Deleting] {
        let err = vpsienode(0, Some(phase))
            .validate()
            .expect_err("id required");
        assert_eq!(err.paths(), vec!["spec.vpsieInstanceID"], "{phase}");
        assert!(err.to_string().contains(phase.as_str()), "{err}");
        assert_eq!(vpsienode(7, Some(phase)).validate(), Ok(()), "{phase}");
    }
    for phase in VPSieNodePhase::ALL {
        let err = vpsienode(-1, Some(phase)).validate().expect_err("negative");
        assert_eq!(err.paths(), vec!["spec.vpsieInstanceID"]);
    }
}

#[test]
fn invalid_vpsienode_specs_report_exact_paths() {
    let mut vn = vpsienode(1, Some(VPSieNodePhase::Ready));
    vn.spec.instance_type.clear();
    vn.spec.node_group_name.clear();
    vn.spec.datacenter_id.clear();
    let err = vn.validate().expect_err("empty fields");
    assert_eq!(
        err.paths(),
        vec![
            "spec.instanceType",
            "spec.nodeGroupName",
            "spec.datacenterID"
        ]
    );
}

#[test]
fn validate_update_enforces_immutable_instance_id() {
    let pending = vpsienode(0, Some(VPSieNodePhase::Pending));
    let created = vpsienode(1001, Some(VPSieNodePhase::Provisioning));
    assert_eq!(created.validate_update(&pending), Ok(()));
    assert_eq!(created.validate_update(&created), Ok(()));
    let changed = vpsienode(1002, Some(VPSieNodePhase::Provisioning));
    let err = changed.validate_update(&created).expect_err("changed id");
    assert_eq!(err.paths(), vec!["spec.vpsieInstanceID"]);
    assert!(err.to_string().contains("immutable once set"), "{err}");
    let reset = vpsienode(0, Some(VPSieNodePhase::Ready));
    let err = reset.validate_update(&created).expect_err("reset id");
    assert_eq!(
        err.paths(),
        vec!["spec.vpsieInstanceID", "spec.vpsieInstanceID"]
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers on the types

#[test]
fn phase_names_parse_and_display() {
    for phase in VPSieNodePhase::ALL {
        assert_eq!(phase.to_string(), phase.as_str());
        assert_eq!(phase.as_str().parse::<VPSieNodePhase>(), Ok(phase));
        assert_eq!(
            phase.as_str().to_lowercase().parse::<VPSieNodePhase>(),
            Ok(phase)
        );
        assert_eq!(
            serde_json::to_value(phase).expect("serialize"),
            json!(phase.as_str())
        );
    }
    let err = "Exploded".parse::<VPSieNodePhase>().expect_err("unknown");
    assert!(err.to_string().contains("Exploded") && err.to_string().contains("fix:"));
    assert!(VPSieNodePhase::Failed.is_terminal());
    assert!(!VPSieNodePhase::Ready.is_terminal());
    assert_eq!(VPSieNodePhase::default(), VPSieNodePhase::Pending);
}

#[test]
fn set_condition_keeps_transition_time_when_status_is_unchanged() {
    use api::{ConditionStatus, NodeGroupCondition, NodeGroupStatus};
    let t0 = api::k8s_time(chrono::DateTime::from_timestamp(1_000, 0).expect("t0"));
    let t1 = api::k8s_time(chrono::DateTime::from_timestamp(2_000, 0).expect("t1"));
    let mut status = NodeGroupStatus::default();
    let ready = |status, reason: &str, at| {
        NodeGroupCondition::new(NodeGroupCondition::READY, status, reason, "m", at)
    };
    assert!(status.set_condition(ready(ConditionStatus::False, "Starting", t0.clone())));
    assert!(!status.set_condition(ready(ConditionStatus::False, "Starting", t1.clone())));
    assert!(status.set_condition(ready(ConditionStatus::False, "StillStarting", t1.clone())));
    let c = status
        .condition(NodeGroupCondition::READY)
        .expect("present");
    assert_eq!(
        (c.last_transition_time.clone(), c.reason.as_str()),
        (t0, "StillStarting")
    );
    assert!(status.set_condition(ready(ConditionStatus::True, "AllNodesReady", t1.clone())));
    assert_eq!(
        status
            .condition(NodeGroupCondition::READY)
            .map(|c| c.last_transition_time.clone()),
        Some(t1)
    );
    assert!(status.is_condition_true(NodeGroupCondition::READY));
    assert_eq!(status.conditions.len(), 1);
    assert!(status.remove_condition(NodeGroupCondition::READY));
    assert!(!status.remove_condition(NodeGroupCondition::READY));
}

#[test]
fn nodegroup_name_must_fit_in_a_label_value() {
    let ok = NodeGroup::new(&"a".repeat(63), valid_spec());
    assert_eq!(ok.validate(), Ok(()));
    let long = NodeGroup::new(&"a".repeat(64), valid_spec());
    let err = long.validate().expect_err("64-char name");
    assert_eq!(err.paths(), vec!["metadata.name"]);
    assert!(err.to_string().contains("nodegroup label"), "{err}");
}

fn with_annotations(mut ng: NodeGroup, pairs: &[(&str, &str)]) -> NodeGroup {
    ng.metadata.annotations = Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    ng
}

#[test]
fn nodegroup_annotation_helpers() {
    use vpsie_autoscaler::api::annotations::*;
    let ng = NodeGroup::new("workers", valid_spec());
    assert_eq!(ng.is_paused(), Ok(false));
    assert_eq!(ng.effective_min_max(), Ok((1, 5)));
    assert_eq!(ng.reconcile_trigger(), None);
    assert_eq!(ng.pending_reconcile_trigger(), None);

    let ng = with_annotations(
        ng,
        &[
            (PAUSE, "True"),
            (MAX_NODES_OVERRIDE, "3"),
            (RECONCILE_TRIGGER, "1700000000"),
        ],
    );
    assert_eq!(ng.is_paused(), Ok(true));
    assert_eq!(ng.effective_min_max(), Ok((1, 3)));
    assert_eq!(ng.pending_reconcile_trigger(), Some("1700000000"));
    let mut handled = ng.clone();
    handled.status = Some(api::NodeGroupStatus {
        observed_reconcile_trigger: Some("1700000000".into()),
        ..Default::default()
    });
    assert_eq!(handled.pending_reconcile_trigger(), None);
    assert_eq!(handled.reconcile_trigger(), Some("1700000000"));

    let junk = with_annotations(NodeGroup::new("w", valid_spec()), &[(PAUSE, "maybe")]);
    assert!(matches!(
        junk.is_paused(),
        Err(api::AnnotationError::InvalidBool { .. })
    ));
}

#[test]
fn generation_observed() {
    let mut ng = NodeGroup::new("w", valid_spec());
    assert!(!ng.is_generation_observed(), "no generation yet");
    ng.metadata.generation = Some(2);
    ng.status = Some(api::NodeGroupStatus {
        observed_generation: Some(1),
        ..Default::default()
    });
    assert!(!ng.is_generation_observed());
    if let Some(s) = ng.status.as_mut() {
        s.observed_generation = Some(2);
    }
    assert!(ng.is_generation_observed());
}

#[test]
fn planned_vpsienode_records_intent_before_the_vps_exists() {
    use vpsie_autoscaler::api::annotations::*;
    let mut group = NodeGroup::new("workers", valid_spec());
    group.metadata.namespace = Some("kube-system".into());
    group.metadata.uid = Some("5f0c-uid".into());
    let vn = VPSieNode::planned("workers-abc12", &group, "small-2cpu-4gb");
    assert_eq!(vn.metadata.name.as_deref(), Some("workers-abc12"));
    assert_eq!(vn.metadata.namespace.as_deref(), Some("kube-system"));
    assert_eq!(vn.spec.vpsie_instance_id, 0);
    assert_eq!(vn.spec.instance_type, "small-2cpu-4gb");
    assert_eq!(vn.node_group_name(), "workers");
    assert_eq!(vn.spec.datacenter_id, "dc-us-east-1");
    assert_eq!(vn.phase(), VPSieNodePhase::Pending);
    let labels = vn.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get(LABEL_NODEGROUP).map(String::as_str),
        Some("workers")
    );
    assert_eq!(
        labels.get(INSTANCE_TYPE).map(String::as_str),
        Some("small-2cpu-4gb")
    );
    assert_eq!(
        labels.get(DATACENTER).map(String::as_str),
        Some("dc-us-east-1")
    );
    let owners = vn.metadata.owner_references.clone().unwrap_or_default();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].kind, "NodeGroup");
    assert_eq!(owners[0].api_version, "autoscaler.vpsie.com/v1alpha1");
    assert_eq!(owners[0].uid, "5f0c-uid");
    assert_eq!(owners[0].controller, Some(true));
    assert_eq!(vn.validate(), Ok(()));
    // The schema accepts it too (0 is allowed on create).
    let obj = serde_json::to_value(&vn).expect("serialize");
    assert_eq!(cel_check(&committed_crd("vpsienodes"), &obj, None), Ok(()));

    // A group not yet stored (no uid) gives no owner reference rather than a broken one.
    let unsaved = VPSieNode::planned("x", &NodeGroup::new("workers", valid_spec()), "t");
    assert_eq!(unsaved.metadata.owner_references, None);
}

#[test]
fn node_info_summarizes_a_vpsienode() {
    let info = api::NodeInfo::from_vpsienode(&example_vpsienode());
    assert_eq!(
        info,
        api::NodeInfo {
            node_name: "vpsie-prod-workers-abc123".into(),
            vps_id: 1001,
            instance_type: "medium-4cpu-8gb".into(),
            status: "Ready".into(),
            ip_address: "192.0.2.10".into(),
        }
    );
    // Before the node joined: the object's name stands in, status is the phase.
    let pending = api::NodeInfo::from_vpsienode(&vpsienode(0, None));
    assert_eq!(
        (pending.node_name.as_str(), pending.status.as_str()),
        ("vn-1", "Pending")
    );
    assert_eq!(pending.ip_address, "");
}

#[test]
fn vpsienode_annotation_helpers() {
    use vpsie_autoscaler::api::annotations::*;
    let mut vn = vpsienode(1, Some(VPSieNodePhase::Ready));
    assert_eq!(vn.do_not_delete(), Ok(false));
    assert_eq!(vn.drain_timeout(), Ok(None));
    vn.metadata.annotations = Some(BTreeMap::from([
        (DO_NOT_DELETE.to_string(), "true".to_string()),
        (DRAIN_TIMEOUT.to_string(), "600".to_string()),
    ]));
    assert_eq!(vn.do_not_delete(), Ok(true));
    assert_eq!(
        vn.drain_timeout(),
        Ok(Some(std::time::Duration::from_secs(600)))
    );
    vn.metadata.annotations = Some(BTreeMap::from([(
        DRAIN_TIMEOUT.to_string(),
        "10m".to_string(),
    )]));
    let err = vn.drain_timeout().expect_err("junk");
    assert!(
        err.to_string().contains(DRAIN_TIMEOUT) && err.to_string().contains("\"10m\""),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// admit(): what an API server would store or refuse

fn ng_crd(
) -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    NodeGroup::crd()
}

fn vn_crd(
) -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    VPSieNode::crd()
}

fn minimal_json() -> Value {
    json!({
        "apiVersion": "autoscaler.vpsie.com/v1alpha1",
        "kind": "NodeGroup",
        "metadata": {"name": "minimal", "namespace": "default"},
        "spec": {
            "minNodes": 1, "maxNodes": 3, "datacenterID": "dc-us-east-1",
            "offeringIDs": ["small-2cpu-4gb", "medium-4cpu-8gb"], "osImageID": "ubuntu-22.04-lts"
        }
    })
}

fn admit_paths(
    crd_obj: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    obj: &Value,
    old: Option<&Value>,
) -> Vec<String> {
    match api::admit(crd_obj, obj, old) {
        Ok(_) => Vec::new(),
        Err(e) => e.errors.iter().map(|e| e.path.clone()).collect(),
    }
}

#[test]
fn admit_defaults_and_prunes_like_a_server() {
    let mut obj = minimal_json();
    obj["spec"]["unknownField"] = json!("dropped");
    obj["spec"]["userData"] = Value::Null;
    obj["spec"]["scaleUpPolicy"] = json!({"cpuThreshold": 70});
    let stored = api::admit(&ng_crd(), &obj, None).expect("admitted");
    assert!(
        stored["spec"].get("unknownField").is_none(),
        "unknown fields are pruned"
    );
    assert_eq!(
        stored["spec"]["userData"], "",
        "a null non-nullable field is pruned, then defaulted"
    );
    assert_eq!(
        stored["spec"]["scaleUpPolicy"],
        json!({"enabled": true, "stabilizationWindowSeconds": 60, "cpuThreshold": 70, "memoryThreshold": 80})
    );
    assert_eq!(stored["metadata"], obj["metadata"], "metadata untouched");
    let ng: NodeGroup = serde_json::from_value(stored.clone()).expect("stored object parses");
    assert_eq!(
        serde_json::to_value(&ng.spec).expect("serialize"),
        stored["spec"]
    );

    let example = serde_json::to_value(example_nodegroup()).expect("serialize");
    let stored = api::admit(&ng_crd(), &example, None).expect("example admitted");
    assert_eq!(stored, example, "a complete object is stored unchanged");
    let vn = serde_json::to_value(example_vpsienode()).expect("serialize");
    assert_eq!(
        api::admit(&vn_crd(), &vn, None).expect("example admitted"),
        vn
    );
}

#[test]
fn admit_refuses_what_a_server_refuses() {
    type Mutation = fn(&mut Value);
    let cases: Vec<(&str, Mutation, Vec<&str>)> = vec![
        (
            "max 0",
            |o| o["spec"]["maxNodes"] = json!(0),
            vec!["spec.maxNodes"],
        ),
        (
            "min -1",
            |o| o["spec"]["minNodes"] = json!(-1),
            vec!["spec.minNodes"],
        ),
        (
            "min > max (CEL)",
            |o| o["spec"]["minNodes"] = json!(4),
            vec!["spec"],
        ),
        (
            "max as text",
            |o| o["spec"]["maxNodes"] = json!("three"),
            vec!["spec.maxNodes"],
        ),
        (
            "max beyond int32",
            |o| o["spec"]["maxNodes"] = json!(1u64 << 40),
            vec!["spec.maxNodes"],
        ),
        (
            "empty datacenter",
            |o| o["spec"]["datacenterID"] = json!(""),
            vec!["spec.datacenterID"],
        ),
        (
            "no offerings",
            |o| o["spec"]["offeringIDs"] = json!([]),
            vec!["spec.offeringIDs"],
        ),
        (
            "duplicate offering",
            |o| o["spec"]["offeringIDs"] = json!(["a", "b", "a"]),
            vec!["spec.offeringIDs[2]"],
        ),
        (
            "empty offering",
            |o| o["spec"]["offeringIDs"] = json!(["a", ""]),
            vec!["spec.offeringIDs[1]"],
        ),
        (
            "missing image",
            |o| {
                o["spec"].as_object_mut().map(|s| s.remove("osImageID"));
            },
            vec!["spec.osImageID"],
        ),
        (
            "threshold 101",
            |o| o["spec"]["scaleDownPolicy"] = json!({"cpuThreshold": 101}),
            vec!["spec.scaleDownPolicy.cpuThreshold"],
        ),
        (
            "window 0",
            |o| o["spec"]["scaleUpPolicy"] = json!({"stabilizationWindowSeconds": 0}),
            vec!["spec.scaleUpPolicy.stabilizationWindowSeconds"],
        ),
        (
            "preferred not offered (CEL)",
            |o| o["spec"]["preferredInstanceType"] = json!("huge"),
            vec!["spec"],
        ),
        (
            "labels not a map",
            |o| o["spec"]["labels"] = json!(["x"]),
            vec!["spec.labels"],
        ),
        (
            "label value not a string",
            |o| o["spec"]["labels"] = json!({"a": 1}),
            vec!["spec.labels[a]"],
        ),
        (
            "taint without effect",
            |o| o["spec"]["taints"] = json!([{"key": "k"}]),
            vec!["spec.taints[0].effect"],
        ),
        (
            "no spec",
            |o| {
                o.as_object_mut().map(|r| r.remove("spec"));
            },
            vec!["spec"],
        ),
        (
            "bad condition status",
            |o| {
                o["status"] = json!({"conditions": [{"type": "Ready", "status": "Yes",
                                                     "lastTransitionTime": "2025-10-12T10:00:00Z"}]})
            },
            vec!["status.conditions[0].status"],
        ),
        (
            "bad timestamp",
            |o| o["status"] = json!({"lastScaleTime": "yesterday"}),
            vec!["status.lastScaleTime"],
        ),
        (
            "wrong kind",
            |o| o["kind"] = json!("VPSieNode"),
            vec!["kind"],
        ),
        (
            "wrong version",
            |o| o["apiVersion"] = json!("autoscaler.vpsie.com/v1"),
            vec!["apiVersion"],
        ),
    ];
    assert_eq!(
        admit_paths(&ng_crd(), &minimal_json(), None),
        Vec::<String>::new()
    );
    for (name, mutate, expected) in cases {
        let mut obj = minimal_json();
        mutate(&mut obj);
        let err = api::admit(&ng_crd(), &obj, None).expect_err(name);
        assert_eq!(err.paths(), expected, "case {name}: {err}");
        for e in &err.errors {
            assert!(
                e.message.contains("fix:") || e.path == "spec",
                "case {name}: {e}"
            );
        }
    }
    let mut obj = minimal_json();
    obj["spec"]["minNodes"] = json!(4);
    let err = api::admit(&ng_crd(), &obj, None).expect_err("min > max");
    assert!(
        err.to_string().contains("MinNodes exceeds MaxNodes"),
        "{err}"
    );
}

#[test]
fn admit_enforces_the_instance_id_transition_rule() {
    let with_id = |id: i64| {
        let mut v = serde_json::to_value(example_vpsienode()).expect("serialize");
        v["spec"]["vpsieInstanceID"] = json!(id);
        v
    };
    assert!(api::admit(&vn_crd(), &with_id(0), None).is_ok());
    assert!(api::admit(&vn_crd(), &with_id(5), Some(&with_id(0))).is_ok());
    let err = api::admit(&vn_crd(), &with_id(6), Some(&with_id(5))).expect_err("immutable");
    assert_eq!(err.paths(), vec!["spec.vpsieInstanceID"]);
    assert!(
        err.to_string()
            .contains("vpsieInstanceID is immutable once set"),
        "{err}"
    );
    let err = api::admit(&vn_crd(), &with_id(-1), None).expect_err("negative");
    assert_eq!(err.paths(), vec!["spec.vpsieInstanceID"]);
    let mut bad_phase = with_id(1);
    bad_phase["status"]["phase"] = json!("Exploded");
    let err = api::admit(&vn_crd(), &bad_phase, None).expect_err("phase enum");
    assert_eq!(err.paths(), vec!["status.phase"]);
    let mut empty = with_id(1);
    empty["spec"]["instanceType"] = json!("");
    empty["spec"]["nodeGroupName"] = json!("");
    empty["spec"]["datacenterID"] = json!("");
    let err = api::admit(&vn_crd(), &empty, None).expect_err("empty strings");
    assert_eq!(
        err.paths(),
        vec![
            "spec.datacenterID",
            "spec.instanceType",
            "spec.nodeGroupName"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// Property tests: validate() never panics and agrees with itself

mod props {
    use super::*;
    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;

    fn any_text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[a-z0-9.-]{1,12}",
            ".{0,80}",
            "[a-zA-Z0-9/._ -]{0,300}",
        ]
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null)),
            ".{0,10}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Value::Array),
                btree_map("[a-zA-Z]{1,12}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Mostly small, plausible numbers; sometimes any `i32`.
    fn num() -> impl Strategy<Value = i32> {
        prop_oneof![4 => -2i32..120, 1 => any::<i32>()]
    }

    /// Mostly well-formed identifiers from a small pool (so duplicates and matches happen).
    fn ident() -> impl Strategy<Value = String> {
        prop_oneof![4 => "[a-c]{1,2}", 1 => any_text()]
    }

    fn any_taint() -> impl Strategy<Value = Taint> {
        let effect = prop_oneof![
            3 => proptest::sample::select(vec!["NoSchedule", "PreferNoSchedule", "NoExecute"])
                .prop_map(String::from),
            1 => any_text(),
        ];
        (ident(), proptest::option::of(ident()), effect).prop_map(|(key, value, effect)| Taint {
            key,
            value,
            effect,
            time_added: None,
        })
    }

    /// Specs built to satisfy every rule (bounds, no duplicates, valid labels and taints).
    fn valid_spec_strategy() -> impl Strategy<Value = NodeGroupSpec> {
        (
            (
                0i32..10,
                0i32..10,
                "[a-z0-9-]{1,12}",
                proptest::collection::btree_set("[a-z0-9-]{1,10}", 1..6),
            ),
            (
                1i32..3600,
                0i32..=100,
                0i32..=100,
                1i32..3600,
                0i32..=100,
                0i32..=100,
                0i32..3600,
            ),
            (
                btree_map("[a-z]{1,8}", "[a-z0-9]{0,8}", 0..4),
                any::<prop::sample::Index>(),
                any::<bool>(),
            ),
        )
            .prop_map(
                |((min, extra, dc, offerings), (a, b, c, d, e, f, g), (labels, pick, prefer))| {
                    let offering_ids: Vec<String> = offerings.into_iter().collect();
                    let preferred_instance_type = if prefer {
                        offering_ids[pick.index(offering_ids.len())].clone()
                    } else {
                        String::new()
                    };
                    NodeGroupSpec {
                        min_nodes: min,
                        max_nodes: (min + extra).max(1),
                        datacenter_id: dc,
                        offering_ids,
                        os_image_id: "ubuntu-22.04-lts".into(),
                        scale_up_policy: ScaleUpPolicy {
                            enabled: prefer,
                            stabilization_window_seconds: a,
                            cpu_threshold: b,
                            memory_threshold: c,
                        },
                        scale_down_policy: ScaleDownPolicy {
                            enabled: !prefer,
                            stabilization_window_seconds: d,
                            cpu_threshold: e,
                            memory_threshold: f,
                            unneeded_time: g,
                        },
                        labels,
                        taints: vec![taint("dedicated", Some("gpu"), "NoSchedule")],
                        preferred_instance_type,
                        ..Default::default()
                    }
                },
            )
    }

    fn any_spec() -> impl Strategy<Value = NodeGroupSpec> {
        prop_oneof![valid_spec_strategy(), wild_spec_strategy()]
    }

    /// Specs with plausible but often invalid values everywhere.
    fn wild_spec_strategy() -> impl Strategy<Value = NodeGroupSpec> {
        (
            (num(), num(), ident(), vec(ident(), 0..40), ident()),
            (num(), num(), num(), num(), num()),
            (num(), num(), any::<bool>(), any::<bool>()),
            (
                btree_map(ident(), ident(), 0..4),
                vec(any_taint(), 0..3),
                prop_oneof![Just(String::new()), ident()],
            ),
        )
            .prop_map(
                |(
                    (min, max, dc, offerings, image),
                    (a, b, c, d, e),
                    (f, g, up, down),
                    (labels, taints, pref),
                )| {
                    NodeGroupSpec {
                        min_nodes: min,
                        max_nodes: max,
                        datacenter_id: dc,
                        offering_ids: offerings,
                        os_image_id: image,
                        scale_up_policy: ScaleUpPolicy {
                            enabled: up,
                            stabilization_window_seconds: a,
                            cpu_threshold: b,
                            memory_threshold: c,
                        },
                        scale_down_policy: ScaleDownPolicy {
                            enabled: down,
                            stabilization_window_seconds: d,
                            cpu_threshold: e,
                            memory_threshold: f,
                            unneeded_time: g,
                        },
                        labels,
                        taints,
                        preferred_instance_type: pref,
                        ..Default::default()
                    }
                },
            )
    }

    /// The generator does produce valid specs (so the agreement property is not vacuous).
    #[test]
    fn generator_produces_valid_specs() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let strategy = any_spec();
        let valid = (0..2000)
            .filter(|_| {
                strategy
                    .new_tree(&mut runner)
                    .map(|t| t.current().validate().is_ok())
                    .unwrap_or(false)
            })
            .count();
        assert!(
            valid >= 500,
            "only {valid} of 2000 generated specs are valid"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn nodegroup_validate_never_panics(spec in any_spec()) {
            match spec.validate() {
                Ok(()) => {
                    // Whatever passes satisfies the headline rules of the schema.
                    prop_assert!(spec.min_nodes >= 0 && spec.max_nodes >= 1);
                    prop_assert!(spec.max_nodes >= spec.min_nodes);
                    prop_assert!(!spec.offering_ids.is_empty());
                }
                Err(e) => {
                    prop_assert!(!e.errors.is_empty());
                    prop_assert_eq!(e.to_string().lines().count(), e.errors.len());
                }
            }
        }

        /// A spec that `validate()` accepts is also accepted by the schema's CEL rules.
        #[test]
        fn accepted_specs_pass_the_schema_rules(spec in any_spec()) {
            if spec.validate().is_ok() {
                let crd = committed_crd("nodegroups");
                let obj = serde_json::to_value(NodeGroup::new("p", spec)).expect("serialize");
                prop_assert_eq!(cel_check(&crd, &obj, None), Ok(()));
            }
        }

        /// Where both apply (no labels or taints, which only `validate()` checks), the server's
        /// verdict and `validate()` agree.
        #[test]
        fn admit_and_validate_agree(mut spec in any_spec()) {
            spec.labels.clear();
            spec.taints.clear();
            let obj = serde_json::to_value(NodeGroup::new("p", spec.clone())).expect("serialize");
            let server = api::admit(&ng_crd(), &obj, None);
            let local = spec.validate();
            prop_assert_eq!(
                server.is_ok(),
                local.is_ok(),
                "server: {:?}\nvalidate: {:?}",
                server.err().map(|e| e.to_string()),
                local.err().map(|e| e.to_string())
            );
        }

        /// admit() never panics, whatever JSON sits where the spec's fields should be.
        #[test]
        fn admit_never_panics(field in proptest::sample::select(vec![
                "minNodes", "maxNodes", "datacenterID", "offeringIDs", "osImageID", "scaleUpPolicy",
                "scaleDownPolicy", "labels", "taints", "preferredInstanceType", "unknown"]),
            value in arb_json()) {
            let mut obj = minimal_json();
            obj["spec"][field] = value.clone();
            let _ = api::admit(&ng_crd(), &obj, None);
            obj["spec"] = value;
            let _ = api::admit(&ng_crd(), &obj, Some(&minimal_json()));
        }

        #[test]
        fn vpsienode_validate_never_panics(
            id in any::<i64>(),
            t in any_text(),
            g in any_text(),
            d in any_text(),
            phase in proptest::sample::select(VPSieNodePhase::ALL.to_vec()),
            old_id in any::<i64>(),
        ) {
            let mut vn = vpsienode(id, Some(phase));
            vn.spec.instance_type = t;
            vn.spec.node_group_name = g;
            vn.spec.datacenter_id = d;
            let _ = vn.validate();
            let old = vpsienode(old_id, Some(phase));
            let _ = vn.validate_update(&old);
        }

        #[test]
        fn annotation_parsers_never_panic(value in ".{0,40}") {
            use vpsie_autoscaler::api::annotations::*;
            let map: BTreeMap<String, String> = [PAUSE, MIN_NODES_OVERRIDE, MAX_NODES_OVERRIDE,
                DO_NOT_DELETE, DRAIN_TIMEOUT, RECONCILE_TRIGGER]
                .iter()
                .map(|k| (k.to_string(), value.clone()))
                .collect();
            let _ = is_paused(&map);
            let _ = do_not_delete(&map);
            let _ = safe_to_evict(&map);
            let _ = drain_timeout(&map);
            let _ = effective_min_max(&valid_spec(), &map);
            prop_assert_eq!(reconcile_trigger(&map), Some(value.as_str()));
        }
    }
}
