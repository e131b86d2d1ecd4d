//! The manifests of `deploy/`: each parses into its typed object without losing a field, the
//! kustomization lists exactly the manifests there are, the RBAC rules grant what the
//! reconciler's code calls (and nothing else), the alert and dashboard expressions parse as
//! PromQL and name only metrics that the real binary exports in a sim run.

mod e2e_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use e2e_support::Sim;

const NS: &str = "kube-system";
const SA: &str = "vpsie-autoscaler";

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// Every YAML document of `deploy/<file>`, as JSON.
fn docs(file: &str) -> Vec<Value> {
    let path = deploy_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    vpsie_autoscaler::yaml::documents(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// The one document of `file` of this `kind`.
fn doc(file: &str, kind: &str) -> Value {
    let found: Vec<Value> = docs(file)
        .into_iter()
        .filter(|d| d["kind"] == kind)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{file}: expected one {kind}, found {found:?}"
    );
    found.into_iter().next().unwrap()
}

/// Parses `v` as `K` and checks that serializing it again gives back `v` exactly: a field that
/// `K` does not know (a typo, a wrong nesting) is dropped by the parse and fails here.
fn typed<K: DeserializeOwned + Serialize>(file: &str, v: &Value) -> K {
    let k: K = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("{file}: {} does not parse: {e}", v["kind"]));
    let back = serde_json::to_value(&k).unwrap();
    assert_eq!(
        &back, v,
        "{file}: {} loses or changes fields when parsed (unknown or misspelled field?)",
        v["kind"]
    );
    k
}

/// Every manifest file of deploy/ that kustomize applies (not the Secret template, the krew
/// manifest or the dashboard), relative to deploy/.
fn manifest_files() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for sub in ["", "crds"] {
        let dir = deploy_dir().join(sub);
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let rel = if sub.is_empty() {
                name.clone()
            } else {
                format!("{sub}/{name}")
            };
            if p.is_file()
                && (name.ends_with(".yaml") || name.ends_with(".yml"))
                && name != "kustomization.yaml"
                && name != "secret.example.yaml"
            {
                out.insert(rel);
            }
        }
    }
    out
}

#[test]
fn kustomization_lists_every_manifest_and_no_missing_one() {
    let k = doc("kustomization.yaml", "Kustomization");
    assert_eq!(k["apiVersion"], "kustomize.config.k8s.io/v1beta1");
    let listed: Vec<String> = k["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r.as_str().expect("a path").to_string())
        .collect();
    let set: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(set.len(), listed.len(), "listed twice: {listed:?}");
    for f in &listed {
        assert!(
            deploy_dir().join(f).is_file(),
            "kustomization lists {f}, which does not exist"
        );
    }
    assert_eq!(
        set,
        manifest_files(),
        "kustomization resources vs files in deploy/"
    );
    assert!(!set.contains("secret.example.yaml"));
    for crd in [
        "crds/nodegroups.autoscaler.vpsie.com.yaml",
        "crds/vpsienodes.autoscaler.vpsie.com.yaml",
    ] {
        assert!(set.contains(crd), "{crd} not listed");
    }
}

#[test]
fn every_manifest_parses_into_its_typed_object_without_losing_a_field() {
    let mut kinds = BTreeSet::new();
    for file in manifest_files()
        .into_iter()
        .chain(["secret.example.yaml".to_string()])
    {
        for d in docs(&file) {
            let kind = d["kind"]
                .as_str()
                .unwrap_or_else(|| panic!("{file}: no kind"))
                .to_string();
            match kind.as_str() {
                "ServiceAccount" => drop(typed::<ServiceAccount>(&file, &d)),
                "ClusterRole" => drop(typed::<ClusterRole>(&file, &d)),
                "ClusterRoleBinding" => drop(typed::<ClusterRoleBinding>(&file, &d)),
                "Role" => drop(typed::<Role>(&file, &d)),
                "RoleBinding" => drop(typed::<RoleBinding>(&file, &d)),
                "Deployment" => drop(typed::<Deployment>(&file, &d)),
                "Service" => drop(typed::<Service>(&file, &d)),
                "PodDisruptionBudget" => drop(typed::<PodDisruptionBudget>(&file, &d)),
                "Secret" => drop(typed::<Secret>(&file, &d)),
                "CustomResourceDefinition" => drop(typed::<
                    k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
                >(&file, &d)),
                "ServiceMonitor" | "PrometheusRule" => {
                    assert_eq!(d["apiVersion"], "monitoring.coreos.com/v1", "{file}")
                }
                other => panic!("{file}: unexpected kind {other}"),
            }
            if kind != "ClusterRole"
                && kind != "ClusterRoleBinding"
                && kind != "CustomResourceDefinition"
            {
                assert_eq!(d["metadata"]["namespace"], NS, "{file}: {kind} namespace");
            }
            kinds.insert(kind);
        }
    }
    for k in [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "Secret",
        "ServiceMonitor",
        "PrometheusRule",
    ] {
        assert!(kinds.contains(k), "no {k} in deploy/");
    }
}

#[test]
fn secret_template_has_the_runbook_keys_and_no_real_values() {
    let s: Secret = typed("secret.example.yaml", &doc("secret.example.yaml", "Secret"));
    assert_eq!(s.metadata.name.as_deref(), Some("vpsie-secret"));
    assert_eq!(s.metadata.namespace.as_deref(), Some(NS));
    let data = s.string_data.expect("stringData");
    let keys: BTreeSet<&str> = data.keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["clientId", "clientSecret"]));
    for v in data.values() {
        assert!(
            v.starts_with('<') && v.ends_with('>'),
            "placeholder expected, got {v}"
        );
    }
}

#[test]
fn deployment_runs_serve_with_real_flags_hardened_and_probed() {
    let d: Deployment = typed("deployment.yaml", &doc("deployment.yaml", "Deployment"));
    assert_eq!(d.metadata.name.as_deref(), Some("vpsie-autoscaler"));
    let spec = d.spec.expect("spec");
    assert_eq!(spec.replicas, Some(2));
    let tpl = spec.template;
    let meta = tpl.metadata.expect("template metadata");
    assert_eq!(
        meta.annotations.unwrap_or_default()["cluster-autoscaler.kubernetes.io/safe-to-evict"],
        "false"
    );
    let pod = tpl.spec.expect("pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some(SA));
    assert_eq!(
        pod.priority_class_name.as_deref(),
        Some("system-cluster-critical")
    );
    let psc = pod.security_context.expect("pod securityContext");
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.run_as_user, Some(65532));
    assert_eq!(
        psc.seccomp_profile.expect("seccomp").type_,
        "RuntimeDefault"
    );
    let spread = pod.topology_spread_constraints.expect("topology spread");
    assert!(spread
        .iter()
        .any(|t| t.topology_key == "kubernetes.io/hostname"));
    assert!(pod
        .affinity
        .and_then(|a| a.pod_anti_affinity)
        .is_some_and(|a| a
            .preferred_during_scheduling_ignored_during_execution
            .is_some()));

    assert_eq!(pod.containers.len(), 1);
    let c = &pod.containers[0];
    let args = c.args.clone().expect("args");
    assert_eq!(args[0], "serve");
    let known = e2e_support::serve_flags();
    for a in &args[1..] {
        let flag = a.split('=').next().unwrap();
        assert!(
            known.contains(flag),
            "{flag} is not a flag of `kubectl-vpsie serve`: {known:?}"
        );
    }
    assert!(args.contains(&"--metrics-addr=0.0.0.0:8080".to_string()));
    assert!(args.contains(&"--watch-namespace=kube-system".to_string()));
    let env = c.env.clone().expect("env");
    let pod_name = env.iter().find(|e| e.name == "POD_NAME").expect("POD_NAME");
    assert_eq!(
        pod_name
            .value_from
            .as_ref()
            .and_then(|v| v.field_ref.as_ref())
            .map(|f| f.field_path.as_str()),
        Some("metadata.name")
    );
    let port = &c.ports.as_ref().expect("ports")[0];
    assert_eq!(
        (port.container_port, port.name.as_deref()),
        (8080, Some("metrics"))
    );
    for (probe, path) in [
        (c.liveness_probe.as_ref(), "/healthz"),
        (c.readiness_probe.as_ref(), "/readyz"),
    ] {
        let get = probe
            .and_then(|p| p.http_get.as_ref())
            .expect("httpGet probe");
        assert_eq!(get.path.as_deref(), Some(path));
    }
    let sc = c
        .security_context
        .as_ref()
        .expect("container securityContext");
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(
        sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_string()])
    );
    let res = c.resources.as_ref().expect("resources");
    let limit = &res.limits.as_ref().expect("limits")["memory"].0;
    let mib: u64 = limit
        .strip_suffix("Mi")
        .expect("memory limit in Mi")
        .parse()
        .unwrap();
    assert!(
        mib >= 2 * 61,
        "memory limit {mib}Mi too close to the measured 61 MiB peak"
    );
    assert!(res
        .requests
        .as_ref()
        .expect("requests")
        .contains_key("memory"));
}

#[test]
fn service_pdb_and_servicemonitor_select_the_deployment_on_port_metrics() {
    let d: Deployment = typed("deployment.yaml", &doc("deployment.yaml", "Deployment"));
    let labels = d.spec.unwrap().template.metadata.unwrap().labels.unwrap();
    let selects =
        |sel: &BTreeMap<String, String>| sel.iter().all(|(k, v)| labels.get(k) == Some(v));

    let s: Service = typed("service.yaml", &doc("service.yaml", "Service"));
    let spec = s.spec.unwrap();
    assert!(selects(spec.selector.as_ref().unwrap()));
    let p = &spec.ports.unwrap()[0];
    assert_eq!((p.port, p.name.as_deref()), (8080, Some("metrics")));

    let pdb: PodDisruptionBudget = typed(
        "poddisruptionbudget.yaml",
        &doc("poddisruptionbudget.yaml", "PodDisruptionBudget"),
    );
    let spec = pdb.spec.unwrap();
    assert_eq!(
        spec.min_available,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1))
    );
    assert!(selects(&spec.selector.unwrap().match_labels.unwrap()));

    let sm = doc("servicemonitor.yaml", "ServiceMonitor");
    let svc_labels = s.metadata.labels.unwrap();
    for (k, v) in sm["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels")
    {
        assert_eq!(
            svc_labels.get(k).map(String::as_str),
            v.as_str(),
            "ServiceMonitor selector {k}"
        );
    }
    assert_eq!(sm["spec"]["namespaceSelector"]["matchNames"], json!([NS]));
    let eps = sm["spec"]["endpoints"].as_array().expect("endpoints");
    assert!(!eps.is_empty());
    for e in eps {
        assert_eq!(e["port"], "metrics");
        assert_eq!(e["path"], "/metrics");
    }
}

/// Every alert of the PrometheusRule.
fn alerts() -> Vec<Value> {
    let r = doc("prometheusrule.yaml", "PrometheusRule");
    let groups = r["spec"]["groups"].as_array().expect("spec.groups");
    let mut out = Vec::new();
    for g in groups {
        assert!(
            g["name"].as_str().is_some_and(|n| !n.is_empty()),
            "group name"
        );
        for rule in g["rules"].as_array().expect("rules") {
            out.push(rule.clone());
        }
    }
    out
}

#[test]
fn prometheusrule_has_the_runbook_alerts_with_annotations() {
    let alerts = alerts();
    let mut names = BTreeSet::new();
    for a in &alerts {
        let name = a["alert"]
            .as_str()
            .expect("only alerting rules")
            .to_string();
        assert!(
            a["expr"].as_str().is_some_and(|e| !e.trim().is_empty()),
            "{name}: expr"
        );
        let sev = a["labels"]["severity"].as_str().expect("severity");
        assert!(
            ["critical", "warning"].contains(&sev),
            "{name}: severity {sev}"
        );
        for key in ["summary", "description", "runbook_url"] {
            assert!(
                a["annotations"][key]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{name}: annotation {key}"
            );
        }
        assert!(a["annotations"]["runbook_url"]
            .as_str()
            .unwrap()
            .starts_with("https://"));
        assert!(names.insert(name.clone()), "{name} twice");
    }
    for critical in ["VPSieAPIHighErrorRate", "VPSieAPICircuitBreakerOpen"] {
        let a = alerts
            .iter()
            .find(|a| a["alert"] == critical)
            .expect(critical);
        assert_eq!(a["labels"]["severity"], "critical", "{critical}");
    }
    for other in [
        "VPSieNodeStuckProvisioning",
        "VPSieNodeStuckJoining",
        "VPSieReconcileErrors",
        "VPSieNodeGroupAtMaxWithPendingPods",
    ] {
        assert!(names.contains(other), "{other} missing");
    }
}

/// The metric names an expression selects (by name or `{__name__="..."}`).
fn metric_names(e: &Expr, out: &mut BTreeSet<String>) {
    match e {
        Expr::VectorSelector(vs) => {
            let by_matcher = vs
                .matchers
                .matchers
                .iter()
                .find(|m| m.name == "__name__" && m.op == MatchOp::Equal)
                .map(|m| m.value.clone());
            match vs.name.clone().or(by_matcher) {
                Some(n) => {
                    out.insert(n);
                }
                None => panic!("selector without a metric name: {vs:?}"),
            }
        }
        Expr::MatrixSelector(ms) => metric_names(&Expr::VectorSelector(ms.vs.clone()), out),
        Expr::Aggregate(a) => {
            metric_names(&a.expr, out);
            if let Some(p) = &a.param {
                metric_names(p, out);
            }
        }
        Expr::Unary(u) => metric_names(&u.expr, out),
        Expr::Binary(b) => {
            metric_names(&b.lhs, out);
            metric_names(&b.rhs, out);
        }
        Expr::Paren(p) => metric_names(&p.expr, out),
        Expr::Subquery(s) => metric_names(&s.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| metric_names(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// (where, expression) of every alert and dashboard query.
fn expressions() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = alerts()
        .iter()
        .map(|a| {
            (
                format!("alert {}", a["alert"].as_str().unwrap()),
                a["expr"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let path = deploy_dir().join("grafana/vpsie-autoscaler.json");
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .expect("the dashboard is JSON");
    assert!(dash["title"].as_str().is_some_and(|t| !t.is_empty()));
    let panels = dash["panels"].as_array().expect("panels");
    assert!(!panels.is_empty());
    for p in panels {
        let targets = p["targets"].as_array().expect("panel targets");
        assert!(!targets.is_empty(), "panel {} has no query", p["title"]);
        for t in targets {
            out.push((
                format!("panel {}", p["title"]),
                t["expr"].as_str().expect("target expr").to_string(),
            ));
        }
    }
    out
}

#[test]
fn alert_and_dashboard_expressions_parse_as_promql() {
    let exprs = expressions();
    assert!(exprs.len() > 10);
    for (at, e) in &exprs {
        let ast = promql_parser::parser::parse(e).unwrap_or_else(|err| panic!("{at}: {e}: {err}"));
        let mut names = BTreeSet::new();
        metric_names(&ast, &mut names);
        assert!(!names.is_empty(), "{at}: selects no metric");
    }
    // the parser does reject what is not PromQL
    assert!(promql_parser::parser::parse("sum(rate(x[5m])").is_err());
    assert!(promql_parser::parser::parse("rate(x)").is_err());
}

/// `# TYPE` of each family in an OpenMetrics exposition.
fn families(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect()
}

/// Whether `name`, as PromQL selects it, has samples in `text`: a gauge by its name, a
/// counter's `<family>_total`, a histogram's `<family>_bucket/_sum/_count`.
fn exported(name: &str, text: &str) -> bool {
    let fams = families(text);
    let family_ok = match fams.get(name).map(String::as_str) {
        Some("gauge") | Some("unknown") => true,
        _ => {
            let counter = name
                .strip_suffix("_total")
                .is_some_and(|b| fams.get(b).map(String::as_str) == Some("counter"));
            let histogram = ["_bucket", "_sum", "_count"].iter().any(|s| {
                name.strip_suffix(s)
                    .is_some_and(|b| fams.get(b).map(String::as_str) == Some("histogram"))
            });
            counter || histogram
        }
    };
    let has_sample = text.lines().any(|l| {
        l.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
    });
    family_ok && has_sample
}

#[test]
fn exposition_name_rules() {
    let text = "# TYPE a_errors counter\na_errors_total{x=\"1\"} 1\n# TYPE lat histogram\nlat_bucket{le=\"1\"} 1\nlat_sum 1\nlat_count 1\n# TYPE g gauge\ng 0\n# TYPE empty counter\n";
    assert!(exported("a_errors_total", text));
    assert!(
        !exported("a_errors", text),
        "a counter is selected as _total"
    );
    assert!(
        exported("lat_bucket", text) && exported("lat_sum", text) && exported("lat_count", text)
    );
    assert!(!exported("lat", text));
    assert!(exported("g", text));
    assert!(!exported("g_total", text));
    assert!(
        !exported("empty_total", text),
        "a family with no sample is not enough"
    );
}

fn curl(args: &[&str]) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .args(args)
        .output()
        .expect("curl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn every_metric_of_the_alerts_and_dashboard_is_exported_by_the_binary() {
    let mut wanted = BTreeSet::new();
    for (at, e) in expressions() {
        let ast = promql_parser::parser::parse(&e).unwrap_or_else(|err| panic!("{at}: {err}"));
        metric_names(&ast, &mut wanted);
    }
    assert!(wanted.contains("vpsie_api_errors_total"));
    assert!(wanted.contains("vpsie_api_circuit_breaker_state"));

    let sim = Sim::start(&["--speed", "20"]);
    let line = |prefix: &str| -> String {
        sim.stdout
            .iter()
            .find_map(|l| l.split(prefix).nth(1))
            .unwrap_or_else(|| panic!("the sim prints {prefix:?}: {:?}", sim.stdout))
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let metrics_url = line("metrics at ");
    let vpsie_api = line("VPSie API:");
    assert!(
        metrics_url.starts_with("http://127.0.0.1:"),
        "{metrics_url}"
    );
    assert!(vpsie_api.starts_with("http://127.0.0.1:"), "{vpsie_api}");
    // vpsie_api_errors_total has series only once a request failed: make a few fail
    let admin = format!("{}/admin/faults", vpsie_api.trim_end_matches("/v2"));
    let rule = json!({"action": {"type": "status", "code": 503, "message": "injected by tests/deploy.rs"}, "count": 3});
    let (ok, body) = curl(&[
        "-f",
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "-d",
        &rule.to_string(),
        &admin,
    ]);
    assert!(ok, "adding a fault rule at {admin} failed: {body}");

    let deadline = Instant::now() + Duration::from_secs(90);
    let mut text = String::new();
    loop {
        let (ok, body) = curl(&[&metrics_url]);
        if ok {
            text = body;
        }
        let missing: Vec<&String> = wanted.iter().filter(|n| !exported(n, &text)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not exported by kubectl-vpsie after 90s: {missing:?}\n{text}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// (API group, resource, verb, resource name) of every call the reconciler makes, read off
/// reconciler/src/ (the file named in each row). Cluster-scoped rows must be granted by the
/// ClusterRole; namespaced ones by the Role in kube-system or the ClusterRole.
const CALLS: &[(&str, &str, &str, Option<&str>, &str)] = &[
    (
        "",
        "pods",
        "list",
        None,
        "serve.rs cache; drain.rs list by spec.nodeName",
    ),
    ("", "pods", "watch", None, "serve.rs cache"),
    ("", "pods/eviction", "create", None, "drain.rs evict"),
    ("", "nodes", "list", None, "serve.rs cache"),
    ("", "nodes", "watch", None, "serve.rs cache"),
    ("", "nodes", "get", None, "drain.rs, vpsienode.rs get_opt"),
    (
        "",
        "nodes",
        "patch",
        None,
        "drain.rs cordon, vpsienode.rs labels",
    ),
    ("", "nodes", "delete", None, "vpsienode.rs delete_node"),
    ("apps", "daemonsets", "list", None, "serve.rs cache"),
    ("apps", "daemonsets", "watch", None, "serve.rs cache"),
    (
        "policy",
        "poddisruptionbudgets",
        "list",
        None,
        "serve.rs cache",
    ),
    (
        "policy",
        "poddisruptionbudgets",
        "watch",
        None,
        "serve.rs cache",
    ),
];

const NAMESPACED_CALLS: &[(&str, &str, &str, Option<&str>, &str)] = &[
    (
        "autoscaler.vpsie.com",
        "nodegroups",
        "list",
        None,
        "serve.rs cache, controller",
    ),
    (
        "autoscaler.vpsie.com",
        "nodegroups",
        "watch",
        None,
        "serve.rs cache, controller",
    ),
    (
        "autoscaler.vpsie.com",
        "nodegroups",
        "get",
        None,
        "vpsienode.rs, gc.rs get_opt",
    ),
    (
        "autoscaler.vpsie.com",
        "nodegroups",
        "patch",
        None,
        "nodegroup.rs finalizer",
    ),
    (
        "autoscaler.vpsie.com",
        "nodegroups/status",
        "patch",
        None,
        "nodegroup.rs, context.rs",
    ),
    (
        "autoscaler.vpsie.com",
        "vpsienodes",
        "list",
        None,
        "serve.rs, gc.rs, nodegroup.rs",
    ),
    (
        "autoscaler.vpsie.com",
        "vpsienodes",
        "watch",
        None,
        "serve.rs cache, controllers",
    ),
    (
        "autoscaler.vpsie.com",
        "vpsienodes",
        "create",
        None,
        "nodegroup.rs, scaleup.rs, headroom.rs",
    ),
    (
        "autoscaler.vpsie.com",
        "vpsienodes",
        "patch",
        None,
        "vpsienode.rs spec, finalizer",
    ),
    (
        "autoscaler.vpsie.com",
        "vpsienodes",
        "delete",
        None,
        "vpsienode.rs, nodegroup.rs",
    ),
    (
        "autoscaler.vpsie.com",
        "vpsienodes/status",
        "patch",
        None,
        "vpsienode.rs, drain.rs, scaledown.rs",
    ),
    ("", "events", "create", None, "events.rs publish"),
    ("", "events", "patch", None, "events.rs repeat count"),
    (
        "coordination.k8s.io",
        "leases",
        "get",
        Some("vpsie-autoscaler-leader"),
        "leader.rs get_opt",
    ),
    (
        "coordination.k8s.io",
        "leases",
        "create",
        None,
        "leader.rs create",
    ),
    (
        "coordination.k8s.io",
        "leases",
        "update",
        Some("vpsie-autoscaler-leader"),
        "leader.rs replace",
    ),
    (
        "",
        "secrets",
        "list",
        Some("vpsie-secret"),
        "creds.rs watcher (metadata.name)",
    ),
    (
        "",
        "secrets",
        "watch",
        Some("vpsie-secret"),
        "creds.rs watcher (metadata.name)",
    ),
    (
        "",
        "configmaps",
        "create",
        None,
        "report.rs first server-side apply",
    ),
    (
        "",
        "configmaps",
        "patch",
        Some("vpsie-autoscaler-status"),
        "report.rs apply",
    ),
    (
        "",
        "configmaps",
        "list",
        Some("vpsie-autoscaler-status"),
        "report.rs BreakerResetWatcher",
    ),
    (
        "",
        "configmaps",
        "watch",
        Some("vpsie-autoscaler-status"),
        "report.rs BreakerResetWatcher",
    ),
];

/// Whether `rule` allows `verb` on `group/resource` (named `name`, when the call names it).
fn allows(rule: &PolicyRule, group: &str, resource: &str, verb: &str, name: Option<&str>) -> bool {
    let has =
        |v: &Option<Vec<String>>, x: &str| v.as_ref().is_some_and(|v| v.iter().any(|s| s == x));
    let names_ok = match rule.resource_names.as_deref() {
        None | Some([]) => true,
        Some(names) => name.is_some_and(|n| names.iter().any(|s| s == n)),
    };
    has(&rule.api_groups, group)
        && has(&rule.resources, resource)
        && rule.verbs.iter().any(|v| v == verb)
        && names_ok
}

fn rbac() -> (ClusterRole, Role) {
    let f = "rbac-cluster.yaml";
    let cr: ClusterRole = typed(f, &doc(f, "ClusterRole"));
    let crb: ClusterRoleBinding = typed(f, &doc(f, "ClusterRoleBinding"));
    let f = "rbac-namespace.yaml";
    let role: Role = typed(f, &doc(f, "Role"));
    let rb: RoleBinding = typed(f, &doc(f, "RoleBinding"));
    let sa: ServiceAccount = typed(
        "serviceaccount.yaml",
        &doc("serviceaccount.yaml", "ServiceAccount"),
    );
    assert_eq!(sa.metadata.name.as_deref(), Some(SA));
    for (role_ref, subjects, kind, name) in [
        (
            &crb.role_ref,
            &crb.subjects,
            "ClusterRole",
            &cr.metadata.name,
        ),
        (&rb.role_ref, &rb.subjects, "Role", &role.metadata.name),
    ] {
        assert_eq!(role_ref.kind, kind);
        assert_eq!(Some(&role_ref.name), name.as_ref());
        let s = subjects.as_ref().expect("subjects");
        assert!(
            s.iter().any(|s| s.kind == "ServiceAccount"
                && s.name == SA
                && s.namespace.as_deref() == Some(NS)),
            "{kind} not bound to {NS}/{SA}"
        );
    }
    assert_eq!(role.metadata.namespace.as_deref(), Some(NS));
    assert_eq!(rb.metadata.namespace.as_deref(), Some(NS));
    (cr, role)
}

#[test]
fn rbac_grants_every_call_the_reconciler_makes() {
    let (cr, role) = rbac();
    let cluster_rules = cr.rules.clone().unwrap_or_default();
    let ns_rules = role.rules.clone().unwrap_or_default();
    for (group, resource, verb, name, why) in CALLS {
        assert!(
            cluster_rules
                .iter()
                .any(|r| allows(r, group, resource, verb, *name)),
            "ClusterRole does not allow {verb} {group}/{resource} ({why})"
        );
    }
    for (group, resource, verb, name, why) in NAMESPACED_CALLS {
        assert!(
            ns_rules
                .iter()
                .chain(&cluster_rules)
                .any(|r| allows(r, group, resource, verb, *name)),
            "nothing allows {verb} {group}/{resource} {name:?} in {NS} ({why})"
        );
    }
}

#[test]
fn rbac_grants_nothing_the_reconciler_does_not_use() {
    let (cr, role) = rbac();
    for (rules, table, what) in [
        (cr.rules.unwrap_or_default(), CALLS, "ClusterRole"),
        (role.rules.unwrap_or_default(), NAMESPACED_CALLS, "Role"),
    ] {
        for r in &rules {
            assert!(
                r.non_resource_urls.is_none(),
                "{what}: nonResourceURLs {r:?}"
            );
            let names: Vec<Option<&str>> = match r.resource_names.as_deref() {
                None | Some([]) => vec![None],
                Some(n) => n.iter().map(|s| Some(s.as_str())).collect(),
            };
            for g in r.api_groups.as_deref().unwrap_or_default() {
                for res in r.resources.as_deref().unwrap_or_default() {
                    for v in &r.verbs {
                        assert!(
                            g != "*" && res != "*" && v != "*",
                            "{what}: wildcard in {r:?}"
                        );
                        for n in &names {
                            assert!(
                                table.iter().any(|(tg, tr, tv, tn, _)| tg == g
                                    && tr == res
                                    && tv == v
                                    // a rule by name must be for the name the code uses; an
                                    // unrestricted rule only where the code needs one
                                    && tn == n),
                                "{what} grants {v} {g}/{res} {n:?}, which reconciler/src/ does not use (or should be restricted by name)"
                            );
                        }
                    }
                }
            }
        }
    }
}
