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

/// `kubectl auth can-i --as` (how an operator checks an identity's permissions) answers as that
/// identity's RBAC does in the sim, as on a real cluster: the admin may impersonate anyone, an
/// identity without the `impersonate` verb may not, and `auth whoami` and `can-i --list` work.
#[test]
fn kubectl_as_impersonates_under_rbac() {
    let sim = Sim::start(&["--no-reconciler"]);
    let sa = "system:serviceaccount:kube-system:vpsie-autoscaler";
    let can_i = |args: &[&str]| {
        let out = sim
            .kubectl()
            .args(["auth", "can-i"])
            .args(args)
            .output()
            .expect("kubectl auth can-i");
        text(&out.stdout).trim().to_string()
    };
    // the reconciler may watch its Secret, not read any other, and may delete nodes
    assert_eq!(
        can_i(&[
            "watch",
            "secrets/vpsie-secret",
            "-n",
            "kube-system",
            "--as",
            sa
        ]),
        "yes"
    );
    assert_eq!(
        can_i(&["get", "secrets/other", "-n", "kube-system", "--as", sa]),
        "no"
    );
    assert_eq!(can_i(&["delete", "nodes", "--as", sa]), "yes");
    assert_eq!(can_i(&["create", "deployments", "--as", sa]), "no");
    assert_eq!(can_i(&["delete", "nodes"]), "yes", "the admin itself");
    assert_eq!(
        can_i(&[
            "list",
            "nodes",
            "--as",
            "jane",
            "--as-group",
            "system:masters"
        ]),
        "yes",
        "the groups named are the identity's"
    );

    // a request made as someone is authorized as them
    let out = sim
        .kubectl()
        .args(["get", "nodes", "--as", "jane"])
        .output()
        .expect("kubectl get nodes --as jane");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(
            r#"nodes is forbidden: User "jane" cannot list resource "nodes" in API group "" at the cluster scope"#
        ),
        "{}",
        text(&out.stderr)
    );
    let who = sim.kubectl_ok(&["auth", "whoami", "--as", sa]);
    assert!(who.contains(sa), "{who}");
    assert!(who.contains("system:serviceaccounts:kube-system"), "{who}");
    let rules = sim.kubectl_ok(&["auth", "can-i", "--list", "-n", "kube-system", "--as", sa]);
    let secret_row = rules
        .lines()
        .find(|l| l.starts_with("secrets "))
        .unwrap_or_else(|| panic!("no secrets row in\n{rules}"));
    assert!(
        secret_row.contains("[vpsie-secret]") && secret_row.contains("[list watch]"),
        "{secret_row}"
    );

    // impersonating needs the impersonate verb (curl: kubectl sends no token over http)
    sim.kubectl_ok(&["create", "serviceaccount", "nobody", "-n", "kube-system"]);
    let token = sim.kubectl_ok(&["create", "token", "nobody", "-n", "kube-system"]);
    let server = std::fs::read_to_string(&sim.kubeconfig)
        .expect("kubeconfig")
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: ").map(str::to_string))
        .expect("server in the kubeconfig");
    let curl = |extra: &[&str]| {
        let out = std::process::Command::new("curl")
            .args(["-s", "-H"])
            .arg(format!("Authorization: Bearer {}", token.trim()))
            .args(extra)
            .arg(format!("{server}/api/v1/namespaces/default/pods"))
            .output()
            .expect("curl");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("a JSON answer")
    };
    let own = curl(&[]);
    assert_eq!(own["code"], 403, "{own}");
    assert!(
        own["message"]
            .as_str()
            .unwrap()
            .contains(r#"User "system:serviceaccount:kube-system:nobody" cannot list"#),
        "the token is its own: {own}"
    );
    let refused = curl(&["-H", "Impersonate-User: system:admin"]);
    assert_eq!(refused["code"], 403, "{refused}");
    assert_eq!(
        refused["message"],
        r#"users "system:admin" is forbidden: User "system:serviceaccount:kube-system:nobody" cannot impersonate resource "users" in API group "" at the cluster scope"#
    );
}
