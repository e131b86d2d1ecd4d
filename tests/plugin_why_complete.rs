//! `why`, kubectl completion (`kubectl_complete-vpsie`) and the krew manifest end to end: the
//! real `kubectl-vpsie` binary (and the real `kubectl`) against `kubectl-vpsie sim` with the
//! reconciler running.

mod e2e_support;

use std::process::Command;
use std::time::Duration;

use e2e_support::{binary, text, until, Sim};
use serde_json::Value;

const NG: &str = "production-workers";

fn why(sim: &Sim, pod: &str) -> Value {
    let out = sim.plugin(&["why", pod, "-o", "json"]);
    e2e_support::assert_success(&out, &format!("why {pod}"));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("why {pod}: {e}: {}", text(&out.stdout)))
}

fn apply(sim: &Sim, yaml: &str) {
    let out = sim.kubectl_stdin(&["apply", "-f", "-"], yaml);
    e2e_support::assert_success(&out, "kubectl apply");
}

fn pod_yaml(name: &str, cpu: &str, memory: &str, selector: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  {selector}\n  containers: [{{name: c, image: x, resources: {{requests: {{cpu: \"{cpu}\", memory: {memory}}}}}}}]\n"
    )
}

#[test]
fn why_explains_unfit_coming_and_running_pods() {
    // slow enough that a node on its way can be observed before it joins
    let sim = Sim::start(&["--speed", "4"]);
    until("3 Ready VPSieNodes", Duration::from_secs(120), || {
        let v = sim.json(&["get", "vn", "-n", "kube-system"]);
        let ready = e2e_support::items(&v)
            .iter()
            .filter(|vn| vn["status"]["phase"] == "Ready")
            .count();
        (ready == 3).then_some(())
    });
    apply(
        &sim,
        &pod_yaml(
            "gpu-job",
            "500m",
            "512Mi",
            "nodeSelector: {accelerator: nvidia}",
        ),
    );
    apply(&sim, &pod_yaml("huge", "6", "10Gi", "nodeSelector: {}"));

    // a pod for which a node is coming: the VPSieNode is named, planned for this pod
    // (the status report that names the pod may be published a moment after the record)
    let coming = until(
        "why huge: node-coming, planned for this pod",
        Duration::from_secs(60),
        || {
            let v = why(&sim, "huge");
            (v["state"] == "node-coming" && v["coming"][0]["plannedForPod"] == true).then_some(v)
        },
    );
    assert_eq!(coming["schemaVersion"], 1);
    assert_eq!(coming["pod"], "default/huge");
    assert_eq!(coming["requests"]["cpuMillis"], 6000);
    let c = &coming["coming"][0];
    assert_eq!(c["nodeGroup"], NG);
    assert_eq!(c["instanceType"], "large-8cpu-16gb");
    assert_eq!(c["plannedForPod"], true);
    let vn = c["name"].as_str().expect("name").to_string();
    assert!(
        coming["verdict"]
            .as_str()
            .is_some_and(|t| t.contains(&format!("vpsienode/{vn}")) && t.contains("for this pod")),
        "{coming}"
    );
    let observed = sim.json(&["get", "vn", &vn, "-n", "kube-system"]);
    assert_eq!(observed["spec"]["instanceType"], "large-8cpu-16gb");
    let g = &coming["nodeGroups"][0];
    assert_eq!(g["fits"], true);
    let medium = g["offerings"]
        .as_array()
        .and_then(|o| o.iter().find(|o| o["id"] == "medium-4cpu-8gb"))
        .expect("medium offering");
    assert_eq!(medium["fits"], false);
    assert!(
        medium["sizeSource"].as_str().unwrap().starts_with("node "),
        "{medium}"
    );
    assert!(
        g["lastDecision"]["aboutPod"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "default/huge -> new large-8cpu-16gb")),
        "{g}"
    );
    assert!(
        coming["scheduler"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Insufficient cpu")),
        "{coming}"
    );
    let table = text(&sim.plugin(&["why", "huge"]).stdout);
    assert!(table.contains(&format!("{vn} ")), "{table}");

    // a pod whose nodeSelector matches no group: each group rejected with its reason
    let unfit = until(
        "why gpu-job: no-group-fits",
        Duration::from_secs(60),
        || {
            let v = why(&sim, "default/gpu-job");
            (v["state"] == "no-group-fits").then_some(v)
        },
    );
    let g = &unfit["nodeGroups"][0];
    assert_eq!(g["name"], NG);
    assert_eq!(g["fits"], false);
    assert!(
        g["rejections"][0]
            .as_str()
            .is_some_and(|r| r.contains("didn't match Pod's node affinity/selector")),
        "{g}"
    );
    assert!(unfit["coming"].as_array().is_some_and(|c| c.is_empty()));
    let table = text(
        &sim.plugin(&["why", "gpu-job", "--pod-namespace", "default"])
            .stdout,
    );
    assert!(
        table.contains("Verdict:    no NodeGroup can run it: production-workers"),
        "{table}"
    );

    // paused: the group still fits, but is blocked
    sim.kubectl_ok(&[
        "annotate",
        "ng",
        NG,
        "-n",
        "kube-system",
        "autoscaler.vpsie.com/pause=true",
    ]);
    apply(
        &sim,
        &pod_yaml("after-pause", "7", "12Gi", "nodeSelector: {}"),
    );
    let blocked = until("why after-pause: blocked", Duration::from_secs(60), || {
        let v = why(&sim, "after-pause");
        (v["state"] == "blocked").then_some(v)
    });
    assert!(
        blocked["verdict"]
            .as_str()
            .unwrap()
            .contains("paused by annotation"),
        "{blocked}"
    );
    sim.kubectl_ok(&[
        "annotate",
        "ng",
        NG,
        "-n",
        "kube-system",
        "autoscaler.vpsie.com/pause-",
    ]);

    // the huge pod ends up running on the node that came
    let running = until("why huge: running", Duration::from_secs(120), || {
        let v = why(&sim, "huge");
        (v["state"] == "running").then_some(v)
    });
    assert!(running["verdict"]
        .as_str()
        .unwrap()
        .starts_with("pod default/huge runs on node "));
    let table = text(&sim.plugin(&["why", "huge"]).stdout);
    assert!(
        table.contains("Verdict:    pod default/huge runs on node"),
        "{table}"
    );

    // bad input: one clear line naming the value and the fix
    for (args, needle) in [
        (vec!["why", "nope"], "pod default/nope not found"),
        (vec!["why", "Bad_Name"], "invalid pod name \"Bad_Name\""),
        (
            vec!["why", "a/b", "--pod-namespace", "c"],
            "--pod-namespace is \"c\"",
        ),
    ] {
        let out = sim.plugin(&args);
        let err = text(&out.stderr);
        assert!(
            !out.status.success() && err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn kubectl_completes_the_plugin_through_kubectl_complete_vpsie() {
    let sim = Sim::start(&["--speed", "20"]);
    // kubectl_complete-vpsie and kubectl-vpsie on PATH, as krew (or a package) installs them
    let bin_dir = e2e_support::plugin_bin_dir(sim.dir.path());
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("completions")
        .join("kubectl_complete-vpsie");
    std::fs::copy(&script, bin_dir.join("kubectl_complete-vpsie")).expect("copy script");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let kubectl = |kubeconfig: &std::path::Path, args: &[&str]| {
        let out = Command::new("kubectl")
            .args(args)
            .env("PATH", &path)
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", sim.dir.path())
            .output()
            .expect("run kubectl");
        e2e_support::assert_success(&out, &format!("kubectl {}", args.join(" ")));
        text(&out.stdout)
    };
    let lines = |out: &str| -> Vec<String> {
        out.lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect()
    };

    let out = kubectl(&sim.kubeconfig, &["__complete", "vpsie", "re"]);
    assert_eq!(lines(&out), ["reconcile", "resume", ":4"], "{out}");
    assert!(out.contains("reconcile\tForce a reconcile"), "{out}");

    let out = kubectl(&sim.kubeconfig, &["__complete", "vpsie", ""]);
    for cmd in ["status", "nodes", "why", "breaker", "sim"] {
        assert!(lines(&out).contains(&cmd.to_string()), "{cmd}: {out}");
    }
    assert!(
        !out.contains("__complete") && !out.contains("krew-manifest"),
        "{out}"
    );

    // NodeGroup names from the cluster
    let out = until(
        "reconcile completes the group",
        Duration::from_secs(30),
        || {
            let out = kubectl(&sim.kubeconfig, &["__complete", "vpsie", "reconcile", ""]);
            out.contains(NG).then_some(out)
        },
    );
    assert_eq!(lines(&out), [NG, ":4"], "{out}");
    for cmd in ["status", "nodes", "pause", "resume"] {
        let out = kubectl(&sim.kubeconfig, &["__complete", "vpsie", cmd, "prod"]);
        assert_eq!(lines(&out), [NG, ":4"], "{cmd}: {out}");
    }
    let out = kubectl(
        &sim.kubeconfig,
        &["__complete", "vpsie", "status", "-o", ""],
    );
    assert_eq!(
        lines(&out),
        ["table", "wide", "json", "yaml", ":4"],
        "{out}"
    );
    // another autoscaler namespace: none there
    let out = kubectl(
        &sim.kubeconfig,
        &["__complete", "vpsie", "-n", "default", "reconcile", ""],
    );
    assert_eq!(lines(&out), [":4"], "{out}");

    // no cluster: quietly no candidates
    let nowhere = e2e_support::write(
        sim.dir.path(),
        "nowhere",
        "apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: 'http://127.0.0.1:9'}}]\ncontexts: [{name: x, context: {cluster: x, user: x}}]\ncurrent-context: x\nusers: [{name: x, user: {}}]\n",
    );
    let out = kubectl(&nowhere, &["__complete", "vpsie", "reconcile", ""]);
    assert_eq!(lines(&out), [":4"], "{out}");
}

/// The commands that need no cluster, run as `kubectl vpsie ...`: their output is what the
/// binary generated into the repository (completions, man page, CRDs) or its version.
#[test]
fn offline_commands_work_as_a_kubectl_plugin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |args: &[&str]| {
        let out = Command::new("kubectl")
            .arg("vpsie")
            .args(args)
            .env("PATH", e2e_support::plugin_path(dir.path()))
            .env("HOME", dir.path())
            .env_remove("KUBECONFIG")
            .output()
            .expect("run kubectl vpsie");
        e2e_support::assert_success(&out, &format!("kubectl vpsie {}", args.join(" ")));
        text(&out.stdout)
    };
    let direct = Command::new(binary())
        .arg("version")
        .output()
        .expect("kubectl-vpsie version");
    let version = run(&["version"]);
    assert_eq!(version, text(&direct.stdout));
    assert!(version.starts_with("kubectl-vpsie "), "{version}");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).expect(p);
    assert_eq!(
        run(&["completions", "bash"]),
        read("completions/kubectl-vpsie.bash")
    );
    assert_eq!(
        run(&["completions", "zsh"]),
        read("completions/_kubectl-vpsie")
    );
    assert_eq!(run(&["man"]), read("man/kubectl-vpsie.1"));
    let docs = |yaml: &str| -> Vec<serde_json::Value> {
        vpsie_autoscaler::yaml::documents(yaml).expect("yaml")
    };
    let mut want = docs(&read("deploy/crds/nodegroups.autoscaler.vpsie.com.yaml"));
    want.extend(docs(&read(
        "deploy/crds/vpsienodes.autoscaler.vpsie.com.yaml",
    )));
    assert_eq!(
        docs(&run(&["crds"])),
        want,
        "`kubectl vpsie crds` is deploy/crds/"
    );
    let help = run(&["--help"]);
    for sub in [
        "status",
        "nodes",
        "reconcile",
        "pause",
        "resume",
        "breaker",
        "creds",
        "doctor",
        "why",
    ] {
        assert!(
            help.contains(&format!("  {sub} ")),
            "{sub} in --help: {help}"
        );
    }
}
