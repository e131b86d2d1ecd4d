//! `kubectl vpsie install` / `uninstall` end to end: the real binary against `kubectl-vpsie
//! sim`, checked with the real kubectl. Install creates every object of deploy/ and waits for
//! the Deployment's pods (run by the simulated controllers and kubelets), a second install
//! changes nothing, uninstall removes it all, `--dry-run -o yaml` is deploy/'s objects.

mod e2e_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use e2e_support::{assert_one_error_line, assert_success, items, text, until, Sim};

const NS: &str = "kube-system";

/// (kind, namespace, name) of every object deploy/kustomization.yaml lists, with the object.
fn deploy_objects() -> BTreeMap<(String, String, String), Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let k: Value = vpsie_autoscaler::yaml::from_str(
        &std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap(),
    )
    .unwrap();
    let mut out = BTreeMap::new();
    for f in k["resources"].as_array().unwrap() {
        let text = std::fs::read_to_string(dir.join(f.as_str().unwrap())).unwrap();
        for v in vpsie_autoscaler::yaml::documents::<Value>(&text).unwrap() {
            out.insert(key(&v), v);
        }
    }
    out
}

fn key(v: &Value) -> (String, String, String) {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (s("/kind"), s("/metadata/namespace"), s("/metadata/name"))
}

/// `kubectl get` of every non-monitoring object of deploy/ succeeds (each exists).
fn assert_installed(sim: &Sim) {
    for (kind, ns, name) in deploy_objects().keys() {
        if kind == "ServiceMonitor" || kind == "PrometheusRule" {
            continue;
        }
        let resource = match kind.as_str() {
            "CustomResourceDefinition" => "customresourcedefinitions".to_string(),
            "PodDisruptionBudget" => "poddisruptionbudgets".to_string(),
            k => format!("{}s", k.to_lowercase()),
        };
        let mut args = vec!["get", resource.as_str(), name.as_str()];
        if !ns.is_empty() {
            args.extend(["-n", ns.as_str()]);
        }
        let got = sim.json(&args);
        assert_eq!(got["metadata"]["name"], name.as_str(), "{kind} {name}");
    }
}

#[test]
fn dry_run_yaml_is_the_objects_of_deploy_and_touches_no_cluster() {
    // no --kubeconfig, no cluster: a dry run must not need one
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(e2e_support::binary())
        .args(["install", "--dry-run", "-o", "yaml"])
        .env("HOME", dir.path())
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert_success(&out, "install --dry-run -o yaml");
    let mut printed = BTreeMap::new();
    for v in vpsie_autoscaler::yaml::documents::<Value>(&text(&out.stdout))
        .expect("the dry run prints YAML")
    {
        printed.insert(key(&v), v);
    }
    assert_eq!(printed, deploy_objects());

    let out = std::process::Command::new(e2e_support::binary())
        .args(["install", "--dry-run", "-o", "json", "--version", "1.2.3"])
        .env("HOME", dir.path())
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert_success(&out, "install --dry-run -o json");
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let images: Vec<String> = items(&list)
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .flat_map(|d| {
            d["spec"]["template"]["spec"]["containers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["image"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(images, ["kubectl-vpsie:1.2.3"]);

    let out = std::process::Command::new(e2e_support::binary())
        .args(["install", "--dry-run"])
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert_success(&out, "install --dry-run");
    let listing = text(&out.stdout);
    for line in [
        "would apply customresourcedefinition/nodegroups.autoscaler.vpsie.com",
        "would apply deployment/vpsie-autoscaler (namespace kube-system)",
        "would apply servicemonitor/vpsie-autoscaler (namespace kube-system) [only when the cluster serves monitoring.coreos.com/v1]",
        "nothing was sent to a cluster",
    ] {
        assert!(listing.contains(line), "{line:?} not in {listing}");
    }

    let out = std::process::Command::new(e2e_support::binary())
        .args(["install", "--dry-run", "--version", "1.0:latest"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("invalid version \"1.0:latest\"") && err.contains("image tag"),
        "{err}"
    );
}

#[test]
fn install_twice_then_uninstall_keeping_the_crds() {
    let sim = Sim::start(&["--speed", "20"]);
    let out = sim.plugin(&["install", "--timeout", "90s"]);
    assert_success(&out, "kubectl vpsie install");
    let stdout = text(&out.stdout);
    for line in [
        "deployment/vpsie-autoscaler (namespace kube-system) created",
        "service/vpsie-autoscaler-metrics (namespace kube-system) created",
        "poddisruptionbudget/vpsie-autoscaler (namespace kube-system) created",
        "clusterrole/vpsie-autoscaler ",
        "servicemonitor/vpsie-autoscaler (namespace kube-system) skipped: the cluster does not serve monitoring.coreos.com/v1",
        "prometheusrule/vpsie-autoscaler (namespace kube-system) skipped",
        "deployment/vpsie-autoscaler ready (2 ready replicas)",
    ] {
        assert!(stdout.contains(line), "{line:?} not in:\n{stdout}");
    }
    assert_installed(&sim);
    // the rollout the install waited for, as kubectl sees it
    let d = sim.json(&["get", "deployment", "vpsie-autoscaler", "-n", NS]);
    assert_eq!(d["status"]["readyReplicas"], 2, "{d}");
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("kubectl-vpsie:{}", env!("CARGO_PKG_VERSION"))
    );
    let pods = sim.json(&[
        "get",
        "pods",
        "-n",
        NS,
        "-l",
        "app.kubernetes.io/name=vpsie-autoscaler",
    ]);
    assert_eq!(items(&pods).len(), 2);

    // a second run: every applied object unchanged
    let out = sim.plugin(&["install", "--timeout", "60s", "-o", "json"]);
    assert_success(&out, "the second install");
    let outcomes: Vec<Value> = serde_json::from_slice(&out.stdout).expect("-o json");
    assert_eq!(outcomes.len(), deploy_objects().len());
    for o in &outcomes {
        let want = if o["kind"] == "ServiceMonitor" || o["kind"] == "PrometheusRule" {
            "skipped"
        } else {
            "unchanged"
        };
        assert_eq!(o["action"], want, "{o}");
    }

    // VPSieNodes exist (the example group's three): deleting the CRDs is refused
    until(
        "the example group's VPSieNodes",
        Duration::from_secs(60),
        || (!items(&sim.json(&["get", "vpsienodes", "-n", NS])).is_empty()).then_some(()),
    );
    let out = sim.plugin(&["uninstall", "--yes"]);
    assert_one_error_line(
        &out,
        &[
            "VPSieNode(s) exist",
            "leave their VPS running",
            "kubectl delete nodegroups --all -n kube-system",
            "--keep-crds",
            "--force",
        ],
    );
    assert_installed(&sim);

    // --keep-crds: everything else goes, the CRDs and the NodeGroups stay
    let out = sim.plugin(&["uninstall", "--keep-crds"]);
    assert_success(&out, "uninstall --keep-crds");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("deployment/vpsie-autoscaler (namespace kube-system) deleted"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("their VPS keep running without a controller"),
        "{}",
        text(&out.stderr)
    );
    for (kind, ns, name) in deploy_objects().keys() {
        let resource = match kind.as_str() {
            "CustomResourceDefinition" | "ServiceMonitor" | "PrometheusRule" => continue,
            "PodDisruptionBudget" => "poddisruptionbudgets".to_string(),
            k => format!("{}s", k.to_lowercase()),
        };
        let out = sim
            .kubectl()
            .args(["get", &resource, name, "-n", ns])
            .output()
            .unwrap();
        assert!(
            !out.status.success() && text(&out.stderr).contains("NotFound"),
            "{kind} {name} still there: {}",
            text(&out.stdout)
        );
    }
    sim.kubectl_ok(&["get", "crd", "nodegroups.autoscaler.vpsie.com"]);
    sim.kubectl_ok(&["get", "nodegroup", "production-workers", "-n", NS]);
    until(
        "the controller's pods to go",
        Duration::from_secs(30),
        || {
            items(&sim.json(&[
                "get",
                "pods",
                "-n",
                NS,
                "-l",
                "app.kubernetes.io/name=vpsie-autoscaler",
            ]))
            .is_empty()
            .then_some(())
        },
    );
}

/// Minimal CRDs of the Prometheus Operator's two kinds (the schema keeps every field).
const MONITORING_CRDS: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {plural: servicemonitors, singular: servicemonitor, kind: ServiceMonitor, listKind: ServiceMonitorList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: prometheusrules.monitoring.coreos.com
spec:
  group: monitoring.coreos.com
  scope: Namespaced
  names: {plural: prometheusrules, singular: prometheusrule, kind: PrometheusRule, listKind: PrometheusRuleList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;

#[test]
fn with_the_prometheus_operator_crds_install_applies_the_monitoring_objects_and_uninstall_removes_everything(
) {
    // no reconciler: no VPSieNode is ever made, and nothing runs the Deployment's pods
    let sim = Sim::start(&["--speed", "20", "--no-reconciler"]);
    let out = sim.kubectl_stdin(&["apply", "-f", "-"], MONITORING_CRDS);
    assert_success(&out, "kubectl apply the monitoring CRDs");
    let out = sim.plugin(&["install", "--no-wait"]);
    assert_success(&out, "install --no-wait");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("servicemonitor/vpsie-autoscaler (namespace kube-system) created")
            && stdout.contains("prometheusrule/vpsie-autoscaler (namespace kube-system) created"),
        "{stdout}"
    );
    let rule = sim.json(&["get", "prometheusrules", "vpsie-autoscaler", "-n", NS]);
    let objects = deploy_objects();
    let want = &objects[&(
        "PrometheusRule".to_string(),
        NS.to_string(),
        "vpsie-autoscaler".to_string(),
    )];
    assert_eq!(rule["spec"], want["spec"]);
    sim.json(&["get", "servicemonitors", "vpsie-autoscaler", "-n", NS]);

    // without a terminal and without --yes, deleting the CRDs is refused
    let out = sim.plugin(&["uninstall"]);
    assert_one_error_line(
        &out,
        &[
            "deleting the CRDs deletes every NodeGroup (1 now)",
            "--yes",
            "--keep-crds",
        ],
    );
    sim.kubectl_ok(&["get", "deployment", "vpsie-autoscaler", "-n", NS]);

    let out = sim.plugin(&["uninstall", "--yes"]);
    assert_success(&out, "uninstall --yes");
    let stdout = text(&out.stdout);
    let order: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        order.first().copied(),
        Some("prometheusrule/vpsie-autoscaler"),
        "reverse order: {stdout}"
    );
    assert_eq!(
        &order[order.len() - 2..],
        [
            "customresourcedefinition/vpsienodes.autoscaler.vpsie.com",
            "customresourcedefinition/nodegroups.autoscaler.vpsie.com"
        ],
        "the CRDs last: {stdout}"
    );
    let crds = sim.json(&["get", "crds"]);
    let names: Vec<String> = items(&crds)
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !names.iter().any(|n| n.ends_with("autoscaler.vpsie.com")),
        "{names:?}"
    );
    for (kind, resource) in [
        ("Deployment", "deployments"),
        ("ClusterRole", "clusterroles"),
        ("ServiceMonitor", "servicemonitors"),
    ] {
        let out = sim
            .kubectl()
            .args(["get", resource, "vpsie-autoscaler", "-n", NS])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{kind} still there");
    }
    // the credentials stay
    sim.kubectl_ok(&["get", "secret", "vpsie-secret", "-n", NS]);
    assert!(
        !text(&out.stderr).contains("error"),
        "{}",
        text(&out.stderr)
    );

    // installing again brings everything back
    let out = sim.plugin(&["install", "--no-wait"]);
    assert_success(&out, "install after uninstall");
    assert_installed(&sim);
}
