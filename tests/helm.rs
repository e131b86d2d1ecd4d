//! The Helm chart deploy/helm/vpsie-autoscaler, rendered by Helm's own template engine (the Go
//! SDK, through scripts/helm-template and the helm-python-sdk wheel scripts/test installs):
//! its default values render deploy/'s objects, and each value changes what it should.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

mod e2e_support;

use serde_json::{json, Value};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    root().join("deploy/helm/vpsie-autoscaler")
}

type Key = (String, String, String);

fn key(v: &Value) -> Key {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    (s("/kind"), s("/metadata/namespace"), s("/metadata/name"))
}

fn parse(text: &str) -> BTreeMap<Key, Value> {
    let mut out = BTreeMap::new();
    let docs: Vec<Value> = vpsie_autoscaler::yaml::documents(text)
        .unwrap_or_else(|e| panic!("rendered YAML: {e}\n{text}"));
    for v in docs {
        assert!(out.insert(key(&v), v).is_none(), "an object twice:\n{text}");
    }
    out
}

/// `helm template` of the chart in `namespace` with `sets` (`key=json`): Ok(objects) or
/// Err(Helm's error line).
fn render(namespace: &str, sets: &[(&str, Value)]) -> Result<BTreeMap<Key, Value>, String> {
    let mut c = Command::new("python3");
    c.arg(root().join("scripts/helm-template"))
        .arg(chart())
        .args(["--namespace", namespace]);
    for (k, v) in sets {
        c.arg("--set-json").arg(format!("{k}={v}"));
    }
    let out = c.output().expect("run python3 scripts/helm-template");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !stderr.contains("helm-python-sdk wheel is not installed"),
        "{stderr}"
    );
    if out.status.success() {
        Ok(parse(&String::from_utf8_lossy(&out.stdout)))
    } else {
        Err(stderr)
    }
}

fn deploy_objects() -> BTreeMap<Key, Value> {
    let dir = root().join("deploy");
    let k: Value = vpsie_autoscaler::yaml::from_str(
        &std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap(),
    )
    .unwrap();
    let mut out = BTreeMap::new();
    for f in k["resources"].as_array().unwrap() {
        out.extend(parse(
            &std::fs::read_to_string(dir.join(f.as_str().unwrap())).unwrap(),
        ));
    }
    out
}

fn k(kind: &str, ns: &str, name: &str) -> Key {
    (kind.to_string(), ns.to_string(), name.to_string())
}

fn deployment(objs: &BTreeMap<Key, Value>, ns: &str) -> Value {
    objs[&k("Deployment", ns, "vpsie-autoscaler")].clone()
}

fn args(d: &Value) -> Vec<String> {
    d["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn default_values_render_the_objects_of_deploy_without_the_monitoring_ones() {
    let rendered = render("kube-system", &[]).expect("renders");
    let mut want = deploy_objects();
    // the CRDs are the chart's crds/ (installed by helm, not templated: checked below)
    want.retain(|(kind, _, _), _| kind != "CustomResourceDefinition");
    // off by default: they need the Prometheus Operator's CRDs
    let monitoring: Vec<Key> = want
        .keys()
        .filter(|(kind, _, _)| kind == "ServiceMonitor" || kind == "PrometheusRule")
        .cloned()
        .collect();
    assert_eq!(monitoring.len(), 2);
    for m in &monitoring {
        want.remove(m);
    }
    assert_eq!(
        rendered.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (key, obj) in &want {
        assert_eq!(&rendered[key], obj, "{key:?} differs from deploy/");
    }
}

#[test]
fn the_chart_crds_and_app_version_are_deploys_and_the_binarys() {
    for name in [
        "nodegroups.autoscaler.vpsie.com.yaml",
        "vpsienodes.autoscaler.vpsie.com.yaml",
    ] {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(
            read(&chart().join("crds").join(name)),
            read(&root().join("deploy/crds").join(name)),
            "crds/{name}: copy deploy/crds/{name} into the chart"
        );
    }
    let c: Value = vpsie_autoscaler::yaml::from_str(
        &std::fs::read_to_string(chart().join("Chart.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(c["apiVersion"], "v2");
    assert_eq!(c["appVersion"], env!("CARGO_PKG_VERSION"));
    assert_eq!(c["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_monitoring_toggles_render_deploys_servicemonitor_and_prometheusrule() {
    let rendered = render(
        "kube-system",
        &[
            ("metrics.serviceMonitor.enabled", json!(true)),
            ("metrics.prometheusRule.enabled", json!(true)),
        ],
    )
    .expect("renders");
    let want = deploy_objects();
    for kind in ["ServiceMonitor", "PrometheusRule"] {
        let key = k(kind, "kube-system", "vpsie-autoscaler");
        assert_eq!(rendered.get(&key), want.get(&key), "{kind}");
    }
    // one on, one off
    let rendered = render(
        "kube-system",
        &[("metrics.serviceMonitor.enabled", json!(true))],
    )
    .unwrap();
    assert!(rendered.contains_key(&k("ServiceMonitor", "kube-system", "vpsie-autoscaler")));
    assert!(!rendered.contains_key(&k("PrometheusRule", "kube-system", "vpsie-autoscaler")));
}

#[test]
fn custom_values_change_what_they_should() {
    let ns = "autoscaling";
    let rendered = render(
        ns,
        &[
            ("image.repository", json!("registry.example/kubectl-vpsie")),
            ("image.tag", json!("1.2.3")),
            ("replicas", json!(3)),
            (
                "resources",
                json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}),
            ),
            ("clusterName", json!("prod-eu")),
            ("credentials.secretName", json!("vpsie-prod")),
            ("credentials.create", json!(true)),
            ("credentials.clientId", json!("id-123")),
            ("credentials.clientSecret", json!("s3cret")),
            ("vpsie.apiURL", json!("https://api.example/v2")),
            ("vpsie.requestsPerMinute", json!(300)),
            ("vpsie.rateBurst", json!(30)),
            ("vpsie.backend", json!("managed-kubernetes")),
            ("vpsie.clusterID", json!("00000000-0000-4000-8000-000000000001")),
            ("timeouts.join", json!("20m")),
            ("timeouts.drain", json!("5m")),
            ("timeouts.pollInterval", json!("5s")),
            ("leaderElection.enabled", json!(false)),
            ("metrics.port", json!(9090)),
            ("podDisruptionBudget.enabled", json!(false)),
            ("verbosity", json!(2)),
        ],
    )
    .expect("renders");
    let d = deployment(&rendered, ns);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "registry.example/kubectl-vpsie:1.2.3");
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(c["resources"]["limits"]["memory"], "256Mi");
    assert_eq!(c["ports"][0]["containerPort"], 9090);
    let a = args(&d);
    for want in [
        "--watch-namespace=autoscaling",
        "--secret-name=vpsie-prod",
        "--metrics-addr=0.0.0.0:9090",
        "--leader-elect=false",
        "--cluster-name=prod-eu",
        "--join-timeout=20m",
        "--drain-timeout=5m",
        "--poll-interval=5s",
        "--vpsie-requests-per-minute=300",
        "--vpsie-rate-burst=30",
        "--backend=managed-kubernetes",
        "--vpsie-cluster-id=00000000-0000-4000-8000-000000000001",
        "-vv",
    ] {
        assert!(a.contains(&want.to_string()), "{want} not in {a:?}");
    }
    // every flag the chart passes is one `serve` has
    let known = e2e_support::serve_flags();
    for flag in a[1..].iter().map(|x| x.split('=').next().unwrap()) {
        assert!(
            flag == "-vv" || known.contains(flag),
            "the chart passes {flag}, which is not a flag of `kubectl-vpsie serve`"
        );
    }
    assert!(
        !a.iter().any(|x| x.starts_with("--provision-timeout")),
        "{a:?}"
    );
    // a new pair rolls the pods
    assert!(
        d["spec"]["template"]["metadata"]["annotations"]["checksum/credentials"]
            .as_str()
            .is_some_and(|s| s.len() == 64)
    );
    let secret = &rendered[&k("Secret", ns, "vpsie-prod")];
    assert_eq!(
        secret["stringData"],
        json!({"clientId": "id-123", "clientSecret": "s3cret", "url": "https://api.example/v2"})
    );
    let svc = &rendered[&k("Service", ns, "vpsie-autoscaler-metrics")];
    assert_eq!(svc["spec"]["ports"][0]["port"], 9090);
    assert!(!rendered
        .keys()
        .any(|(kind, _, _)| kind == "PodDisruptionBudget"));
    // RBAC follows the namespace and the Secret's name
    let role = &rendered[&k("Role", ns, "vpsie-autoscaler")];
    assert!(role["rules"].as_array().unwrap().iter().any(
        |r| r["resources"] == json!(["secrets"]) && r["resourceNames"] == json!(["vpsie-prod"])
    ));
    let crb = &rendered[&k("ClusterRoleBinding", "", "vpsie-autoscaler")];
    assert_eq!(crb["subjects"][0]["namespace"], ns);
    let rb = &rendered[&k("RoleBinding", ns, "vpsie-autoscaler")];
    assert_eq!(rb["subjects"][0]["namespace"], ns);
    for (kind, _, _) in rendered.keys() {
        assert!(kind != "CustomResourceDefinition");
    }
    for (kind, n, _) in rendered.keys() {
        if !matches!(kind.as_str(), "ClusterRole" | "ClusterRoleBinding") {
            assert_eq!(n, ns, "{kind} in the release namespace");
        }
    }
}

#[test]
fn creating_the_secret_without_a_pair_fails_naming_the_values() {
    let err = render(
        "kube-system",
        &[
            ("credentials.create", json!(true)),
            ("credentials.clientId", json!("x")),
        ],
    )
    .unwrap_err();
    assert!(
        err.contains("credentials.clientId and credentials.clientSecret")
            && err.contains("credentials.create=false"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    // no pair in the rendered objects otherwise
    let rendered = render("kube-system", &[]).unwrap();
    assert!(!rendered.keys().any(|(kind, _, _)| kind == "Secret"));
}
