//! The plugin's permissions, as README's "Permissions of the plugin" and deploy/rbac-plugin.yaml
//! state them: every command works for an identity holding exactly the documented roles
//! (RBAC is enforced by the sim's API server), and a command beyond them fails at once with
//! one line naming the verb, the resource and how to check (`kubectl auth can-i`). The
//! credential Secret is readable by the operator role only.

mod e2e_support;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use e2e_support::{assert_one_error_line, kubectl_plugin, text, until, Sim};
use serde_json::json;

const ROLES: &str = include_str!("../deploy/rbac-plugin.yaml");

fn apply_json(sim: &Sim, v: serde_json::Value) {
    let out = sim.kubectl_stdin(&["apply", "-f", "-"], &v.to_string());
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A ServiceAccount bound to `cluster_roles` cluster-wide and `namespace_roles` in kube-system,
/// and a kubeconfig carrying its token (from `kubectl create token`).
fn identity(sim: &Sim, name: &str, cluster_roles: &[&str], namespace_roles: &[&str]) -> PathBuf {
    sim.kubectl_ok(&["create", "serviceaccount", name, "-n", "kube-system"]);
    let subject = json!([{"kind": "ServiceAccount", "name": name, "namespace": "kube-system"}]);
    for role in cluster_roles {
        apply_json(
            sim,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": format!("{name}-{role}")},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": subject}),
        );
    }
    for role in namespace_roles {
        apply_json(
            sim,
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": format!("{name}-{role}"), "namespace": "kube-system"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                "subjects": subject}),
        );
    }
    let token = sim.kubectl_ok(&["create", "token", name, "-n", "kube-system"]);
    let token = token.trim();
    assert!(!token.is_empty(), "no token for {name}");
    let admin = std::fs::read_to_string(&sim.reconciler_kubeconfig).expect("kubeconfig");
    let mine: String = admin
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("token:") {
                format!("    token: {token}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = sim.dir.path().join(format!("kubeconfig.{name}"));
    std::fs::write(&path, mine + "\n").expect("write kubeconfig");
    path
}

fn run(sim: &Sim, kubeconfig: &Path, args: &[&str]) -> Output {
    kubectl_plugin(sim.dir.path(), kubeconfig, args)
        .env("VPSIE_CLIENT_ID", "sim-client-id")
        .env("VPSIE_CLIENT_SECRET", "sim-client-secret")
        .stdin(Stdio::null())
        .output()
        .expect("run kubectl vpsie")
}

fn ok(sim: &Sim, kubeconfig: &Path, args: &[&str]) -> String {
    let out = run(sim, kubeconfig, args);
    assert!(
        out.status.success(),
        "kubectl vpsie {}: {}{}",
        args.join(" "),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn every_command_works_with_its_documented_role_and_fails_clearly_beyond_it() {
    let sim = Sim::start(&["--speed", "10"]);
    let out = sim.kubectl_stdin(&["apply", "-f", "-"], ROLES);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let viewer = identity(&sim, "viewer", &["vpsie-autoscaler-viewer"], &[]);
    let operator = identity(
        &sim,
        "operator",
        &["vpsie-autoscaler-viewer"],
        &["vpsie-autoscaler-operator"],
    );
    until("the status report", Duration::from_secs(60), || {
        let out = run(&sim, &viewer, &["breaker"]);
        out.status.success().then_some(())
    });

    // the viewer reads everything the read commands show
    let status = ok(&sim, &viewer, &["status"]);
    assert!(status.contains("production-workers"), "{status}");
    ok(&sim, &viewer, &["status", "-A"]);
    ok(&sim, &viewer, &["nodes", "-A"]);
    let doctor = ok(&sim, &viewer, &["doctor", "--no-live"]);
    assert!(
        doctor.contains("not checked") && doctor.contains("0 errors"),
        "doctor without the Secret: {doctor}"
    );
    // a pod that waits, for `why`
    sim.kubectl_ok(&[
        "run",
        "waiting",
        "-n",
        "default",
        "--image=registry.k8s.io/pause:3.10",
        "--restart=Never",
        "--overrides",
        r#"{"apiVersion": "v1", "spec": {"containers": [{"name": "waiting", "image": "registry.k8s.io/pause:3.10", "resources": {"requests": {"cpu": "64"}}}]}}"#,
    ]);
    let why = ok(&sim, &viewer, &["why", "default/waiting"]);
    assert!(why.contains("production-workers"), "{why}");
    ok(&sim, &viewer, &["breaker"]);

    // and changes nothing: each refusal is one line with the verb, the object and the check
    for (args, needles) in [
        (
            vec!["pause", "production-workers"],
            vec![
                "forbidden",
                "patch nodegroups/production-workers",
                "kubectl auth can-i",
            ],
        ),
        (
            vec!["reconcile", "production-workers"],
            vec!["forbidden", "patch nodegroups/production-workers"],
        ),
        (
            vec!["breaker", "reset", "--yes"],
            vec!["forbidden", "configmaps", "kubectl auth can-i"],
        ),
        (
            vec!["creds", "check"],
            vec!["forbidden", "get secrets/vpsie-secret"],
        ),
        (
            vec!["creds", "rotate", "--from-env", "--yes"],
            vec!["forbidden", "secrets/vpsie-secret"],
        ),
    ] {
        let out = run(&sim, &viewer, &args);
        assert_one_error_line(&out, &needles);
    }

    // the operator does what the operator commands do, waiting on the controller's answers
    ok(&sim, &operator, &["pause", "production-workers"]);
    ok(&sim, &operator, &["resume", "production-workers"]);
    let r = ok(
        &sim,
        &operator,
        &["reconcile", "production-workers", "--timeout", "60s"],
    );
    assert!(r.contains("reconciled"), "{r}");
    let b = ok(&sim, &operator, &["breaker", "reset", "--yes"]);
    assert!(b.contains("acknowledged"), "{b}");
    ok(&sim, &operator, &["creds", "check"]);
    ok(
        &sim,
        &operator,
        &["creds", "rotate", "--from-env", "--yes", "--timeout", "60s"],
    );
    // with the Secret readable, doctor checks it and logs in (its exit status is about the
    // pod that cannot fit, left from `why`)
    let doctor = text(&run(&sim, &operator, &["doctor"]).stdout);
    assert!(
        doctor
            .lines()
            .any(|l| l.starts_with("secret") && l.contains(" ok ")),
        "{doctor}"
    );
    assert!(doctor.contains("VPSie accepts them"), "{doctor}");
}

/// A wait the identity may not make (a watch refused) ends at once with the refusal, not with
/// a timeout that blames the controller.
#[test]
fn a_refused_watch_ends_the_wait_at_once() {
    let sim = Sim::start(&["--no-reconciler"]);
    // may patch the NodeGroup but not watch it
    apply_json(
        &sim,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "patch-only"},
            "rules": [{"apiGroups": ["autoscaler.vpsie.com"], "resources": ["nodegroups"],
                "verbs": ["get", "patch"]},
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}),
    );
    let who = identity(&sim, "patcher", &[], &["patch-only"]);
    // without a controller nothing would ever acknowledge: only the refusal can end this
    // before the timeout, and the line says so instead of "not reconciled within"
    let out = run(
        &sim,
        &who,
        &["reconcile", "production-workers", "--timeout", "600s"],
    );
    assert_one_error_line(&out, &["forbidden", "watch nodegroups/production-workers"]);
}
