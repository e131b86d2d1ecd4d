//! The simulated API server driven by the real `kubectl` binary over HTTP on 127.0.0.1.
//!
//! Each test writes its own kubeconfig and discovery cache into a temporary directory.
//! Skipped (with a note on stderr) when `/usr/bin/kubectl` is absent.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use vpsie_autoscaler::sim::apiserver::{ApiServerConfig, SimApiServer};

const KUBECTL: &str = "/usr/bin/kubectl";
const DEADLINE: Duration = Duration::from_secs(20);

struct Env {
    server: SimApiServer,
    dir: tempfile::TempDir,
}

struct Out {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn fixture(name: &str) -> String {
    let p: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "fixtures",
        "apiserver",
        name,
    ]
    .iter()
    .collect();
    p.display().to_string()
}

impl Env {
    async fn start() -> Option<Self> {
        if !std::path::Path::new(KUBECTL).exists() {
            eprintln!("skipping: {KUBECTL} is not installed");
            return None;
        }
        let server = SimApiServer::start(ApiServerConfig::default())
            .await
            .expect("server starts");
        let dir = tempfile::tempdir().expect("tempdir");
        server
            .write_kubeconfig(dir.path().join("kubeconfig"), "sim")
            .expect("kubeconfig");
        Some(Self { server, dir })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(KUBECTL);
        c.arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .env("HOME", self.dir.path())
            .kill_on_drop(true);
        c
    }

    async fn run_with_input(&self, args: &[&str], input: Option<&str>) -> Out {
        let mut c = self.command(args);
        c.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().expect("kubectl starts");
        if let Some(text) = input {
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(text.as_bytes()).await.expect("write stdin");
            drop(stdin);
        }
        let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
            .await
            .expect("kubectl finishes before the deadline")
            .expect("kubectl output");
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    async fn run(&self, args: &[&str]) -> Out {
        self.run_with_input(args, None).await
    }

    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(out.ok, "kubectl {args:?} failed: {}", out.stderr);
        out.stdout
    }

    async fn install_crds(&self) {
        let out = self.ok(&["apply", "-f", &fixture("crds.yaml")]).await;
        assert!(
            out.contains("customresourcedefinition.apiextensions.k8s.io/nodegroups.autoscaler.vpsie.com created"),
            "{out}"
        );
    }
}

fn header(out: &str) -> Vec<String> {
    out.lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn get_namespaces_nodes_and_pods() {
    let Some(env) = Env::start().await else {
        return;
    };
    let out = env.ok(&["get", "ns"]).await;
    assert_eq!(header(&out), ["NAME", "STATUS", "AGE"]);
    let names: Vec<String> = rows(&out).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );
    assert!(rows(&out).iter().all(|r| r[1] == "Active"));

    let client = env.server.client().expect("client");
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    let node = serde_json::from_value(json!({"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/worker": ""}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.33.1",
        "machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "", "osImage": "", "containerRuntimeVersion": "",
        "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"}}}))
    .expect("node json");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("node");
    let out = env.ok(&["get", "nodes"]).await;
    assert_eq!(header(&out), ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    let r = &rows(&out)[0];
    assert_eq!(
        (r[0].as_str(), r[1].as_str(), r[2].as_str(), r[4].as_str()),
        ("n1", "Ready", "worker", "v1.33.1")
    );

    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client, "default");
    let pod = serde_json::from_value(json!({"metadata": {"name": "web"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]}}))
    .expect("pod json");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("pod");
    pods.patch_status(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running", "podIP": "10.0.0.5",
            "containerStatuses": [{"name": "c", "ready": true, "restartCount": 1, "image": "i", "imageID": "",
            "state": {"running": {}}}]}})),
    )
    .await
    .expect("pod status");
    let out = env.ok(&["get", "pods", "-o", "wide"]).await;
    assert_eq!(
        header(&out),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    );
    let r = &rows(&out)[0];
    assert_eq!(
        (
            r[0].as_str(),
            r[1].as_str(),
            r[2].as_str(),
            r[3].as_str(),
            r[5].as_str(),
            r[6].as_str()
        ),
        ("web", "1/1", "Running", "1", "10.0.0.5", "n1")
    );
    env.server.shutdown().await;
}

#[tokio::test]
async fn nodegroup_lifecycle_with_printer_columns() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.install_crds().await;
    let out = env.ok(&["apply", "-f", &fixture("nodegroup.yaml")]).await;
    assert_eq!(out.trim(), "nodegroup.autoscaler.vpsie.com/workers created");
    let out = env.ok(&["apply", "-f", &fixture("nodegroup.yaml")]).await;
    assert_eq!(
        out.trim(),
        "nodegroup.autoscaler.vpsie.com/workers unchanged"
    );

    let out = env.ok(&["get", "ng", "-n", "kube-system"]).await;
    assert_eq!(header(&out), ["NAME", "MIN", "MAX", "CURRENT", "AGE"]);
    let r = &rows(&out)[0];
    assert_eq!(
        (r[0].as_str(), r[1].as_str(), r[2].as_str()),
        ("workers", "1", "5")
    );

    let out = env.ok(&["get", "nodegroups", "-A"]).await;
    assert_eq!(
        header(&out),
        ["NAMESPACE", "NAME", "MIN", "MAX", "CURRENT", "AGE"]
    );

    let yaml = env
        .ok(&["get", "ng", "workers", "-n", "kube-system", "-o", "yaml"])
        .await;
    assert!(
        yaml.contains("minNodes: 1") && yaml.contains("kind: NodeGroup"),
        "{yaml}"
    );
    assert!(
        yaml.contains("allowMixedInstances: false"),
        "defaults applied: {yaml}"
    );

    let out = env
        .ok(&[
            "get",
            "ng",
            "-n",
            "kube-system",
            "-o",
            "custom-columns=NAME:.metadata.name,MIN:.spec.minNodes,MAX:.spec.maxNodes",
        ])
        .await;
    assert_eq!(out, "NAME      MIN   MAX\nworkers   1     5\n");

    let out = env
        .ok(&[
            "get",
            "ng",
            "-n",
            "kube-system",
            "-l",
            "tier=general",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(out.trim(), "nodegroup.autoscaler.vpsie.com/workers");
    let out = env
        .ok(&["get", "ng", "-n", "kube-system", "-l", "tier=none"])
        .await;
    assert_eq!(out, "");

    let out = env
        .ok(&[
            "annotate",
            "ng",
            "workers",
            "-n",
            "kube-system",
            "reconcile-trigger=123",
            "--overwrite",
        ])
        .await;
    assert_eq!(
        out.trim(),
        "nodegroup.autoscaler.vpsie.com/workers annotated"
    );
    let out = env
        .ok(&[
            "get",
            "ng",
            "workers",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.metadata.annotations.reconcile-trigger}",
        ])
        .await;
    assert_eq!(out, "123");
    let out = env
        .ok(&["label", "ng", "workers", "-n", "kube-system", "team=infra"])
        .await;
    assert_eq!(out.trim(), "nodegroup.autoscaler.vpsie.com/workers labeled");

    // An event about the NodeGroup shows up in describe.
    let client = env.server.client().expect("client");
    let ng = ng_api(&client).get("workers").await.expect("ng");
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(client.clone(), "kube-system");
    let ev = serde_json::from_value(json!({"metadata": {"name": "workers.1"},
        "involvedObject": {"apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup", "name": "workers",
            "namespace": "kube-system", "uid": ng.metadata.uid}, "reason": "ScalingUp", "message": "scaling from 1 to 2 nodes",
        "type": "Normal", "count": 1, "source": {"component": "vpsie-autoscaler"}}))
    .expect("event json");
    events
        .create(&PostParams::default(), &ev)
        .await
        .expect("event");
    let out = env
        .ok(&["describe", "ng", "workers", "-n", "kube-system"])
        .await;
    assert!(
        out.starts_with("Name:         workers\nNamespace:    kube-system\n"),
        "{out}"
    );
    assert!(out.contains("Min Nodes:"), "{out}");
    assert!(
        out.contains("ScalingUp") && out.contains("scaling from 1 to 2 nodes"),
        "{out}"
    );

    // Server-side apply twice: the second is a no-op.
    let rv = |o: &DynamicObject| o.metadata.resource_version.clone();
    env.ok(&[
        "apply",
        "--server-side",
        "--force-conflicts",
        "-f",
        &fixture("nodegroup.yaml"),
    ])
    .await;
    let before = ng_api(&client).get("workers").await.expect("ng");
    let out = env
        .ok(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            &fixture("nodegroup.yaml"),
        ])
        .await;
    assert_eq!(
        out.trim(),
        "nodegroup.autoscaler.vpsie.com/workers serverside-applied"
    );
    let after = ng_api(&client).get("workers").await.expect("ng");
    assert_eq!(rv(&before), rv(&after));

    // kubectl patch defaults to strategic merge, which custom resources refuse.
    let out = env
        .run(&[
            "patch",
            "ng",
            "workers",
            "-n",
            "kube-system",
            "-p",
            r#"{"spec":{"maxNodes":6}}"#,
        ])
        .await;
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("application/strategic-merge-patch+json"),
        "{}",
        out.stderr
    );
    let out = env
        .ok(&[
            "patch",
            "ng",
            "workers",
            "-n",
            "kube-system",
            "--type=merge",
            "-p",
            r#"{"spec":{"maxNodes":6}}"#,
        ])
        .await;
    assert_eq!(out.trim(), "nodegroup.autoscaler.vpsie.com/workers patched");

    let out = env
        .ok(&["delete", "ng", "workers", "-n", "kube-system"])
        .await;
    assert_eq!(
        out.trim(),
        "nodegroup.autoscaler.vpsie.com \"workers\" deleted"
    );
    let out = env
        .run(&["get", "ng", "workers", "-n", "kube-system"])
        .await;
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("nodegroups.autoscaler.vpsie.com \"workers\" not found"),
        "{}",
        out.stderr
    );
    env.server.shutdown().await;
}

fn ng_api(client: &kube::Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("autoscaler.vpsie.com", "v1alpha1", "NodeGroup");
    Api::namespaced_with(
        client.clone(),
        "kube-system",
        &ApiResource::from_gvk_with_plural(&gvk, "nodegroups"),
    )
}

#[tokio::test]
async fn invalid_nodegroup_is_refused_with_a_clear_message() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.install_crds().await;
    let out = env
        .run(&["apply", "-f", &fixture("nodegroup-invalid.yaml")])
        .await;
    assert!(!out.ok, "an invalid NodeGroup must be refused");
    assert!(
        out.stderr.contains("The NodeGroup \"broken\" is invalid: spec.maxNodes: Invalid value: \"object\": maxNodes must be greater than or equal to minNodes"),
        "{}",
        out.stderr
    );
    // Unknown fields are refused by kubectl's strict server-side field validation.
    let text = std::fs::read_to_string(fixture("nodegroup.yaml"))
        .expect("fixture")
        .replace("  minNodes: 1\n", "  minNodes: 1\n  minNodez: 1\n");
    let out = env.run_with_input(&["apply", "-f", "-"], Some(&text)).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("unknown field \"spec.minNodez\""),
        "{}",
        out.stderr
    );
    env.server.shutdown().await;
}

#[tokio::test]
async fn vpsienodes_by_phase_and_label() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.install_crds().await;
    let client = env.server.client().expect("client");
    let gvk = GroupVersionKind::gvk("autoscaler.vpsie.com", "v1alpha1", "VPSieNode");
    let vns: Api<DynamicObject> = Api::namespaced_with(
        client,
        "kube-system",
        &ApiResource::from_gvk_with_plural(&gvk, "vpsienodes"),
    );
    for (name, group, phase) in [
        ("vn-a", "web", "Provisioning"),
        ("vn-b", "web", "Ready"),
        ("vn-c", "db", "Provisioning"),
    ] {
        let vn: DynamicObject =
            serde_json::from_value(json!({"apiVersion": "autoscaler.vpsie.com/v1alpha1",
            "kind": "VPSieNode", "metadata": {"name": name, "labels": {"nodegroup": group}},
            "spec": {"nodeGroupName": group, "instanceType": "small"}}))
            .expect("vn json");
        vns.create(&PostParams::default(), &vn).await.expect("vn");
        vns.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": phase}})),
        )
        .await
        .expect("status");
    }
    let out = env
        .ok(&[
            "get",
            "vn",
            "-n",
            "kube-system",
            "--field-selector",
            "status.phase=Provisioning",
        ])
        .await;
    assert_eq!(header(&out), ["NAME", "PHASE", "NODEGROUP", "AGE"]);
    let names: Vec<String> = rows(&out).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(names, ["vn-a", "vn-c"]);
    let out = env
        .ok(&[
            "get",
            "vn",
            "-n",
            "kube-system",
            "-l",
            "nodegroup=web",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(
        out,
        "vpsienode.autoscaler.vpsie.com/vn-a\nvpsienode.autoscaler.vpsie.com/vn-b\n"
    );
    let out = env
        .run(&[
            "get",
            "vn",
            "-n",
            "kube-system",
            "--field-selector",
            "spec.instanceType=small",
        ])
        .await;
    assert!(!out.ok);
    assert!(
        out.stderr
            .contains("field label not supported: spec.instanceType"),
        "{}",
        out.stderr
    );
    env.server.shutdown().await;
}

#[tokio::test]
async fn secret_dry_run_piped_into_apply_creates_then_updates() {
    let Some(env) = Env::start().await else {
        return;
    };
    let client = env.server.client().expect("client");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client, "kube-system");
    for (secret, verb) in [("b", "created"), ("c", "configured")] {
        let literal = format!("--from-literal=clientSecret={secret}");
        let manifest = env
            .ok(&[
                "create",
                "secret",
                "generic",
                "vpsie-secret",
                "--from-literal=clientId=a",
                &literal,
                "-n",
                "kube-system",
                "--dry-run=client",
                "-o",
                "yaml",
            ])
            .await;
        let out = env
            .run_with_input(&["apply", "-f", "-"], Some(&manifest))
            .await;
        assert!(out.ok, "{}", out.stderr);
        assert_eq!(out.stdout.trim(), format!("secret/vpsie-secret {verb}"));
        let s = secrets.get("vpsie-secret").await.expect("secret");
        let data = s.data.expect("data");
        assert_eq!(data["clientSecret"].0, secret.as_bytes());
        assert_eq!(data["clientId"].0, b"a");
    }
    env.server.shutdown().await;
}

#[tokio::test]
async fn get_watch_prints_changes() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.install_crds().await;
    env.ok(&["apply", "-f", &fixture("nodegroup.yaml")]).await;
    let mut child = env
        .command(&["get", "ng", "-n", "kube-system", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl -w starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut next = async || {
        tokio::time::timeout(DEADLINE, lines.next_line())
            .await
            .expect("a line before the deadline")
            .expect("read")
            .expect("kubectl still running")
    };
    let head = next().await;
    assert_eq!(
        head.split_whitespace().collect::<Vec<_>>(),
        ["NAME", "MIN", "MAX", "CURRENT", "AGE"]
    );
    let first = next().await;
    assert!(first.starts_with("workers "), "{first}");
    let client = env.server.client().expect("client");
    ng_api(&client)
        .patch(
            "workers",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"maxNodes": 9}})),
        )
        .await
        .expect("patch");
    let changed = next().await;
    let cells: Vec<&str> = changed.split_whitespace().collect();
    assert_eq!(&cells[..3], ["workers", "1", "9"], "{changed}");
    child.kill().await.expect("kill kubectl -w");
    env.server.shutdown().await;
}

#[tokio::test]
async fn recorder_events_show_in_describe() {
    use kube::runtime::events::{Event, EventType, Recorder, Reporter};
    use kube::Resource;
    let Some(env) = Env::start().await else {
        return;
    };
    env.install_crds().await;
    env.ok(&["apply", "-f", &fixture("nodegroup.yaml")]).await;
    let client = env.server.client().expect("client");
    let ng = ng_api(&client).get("workers").await.expect("ng");
    let gvk = GroupVersionKind::gvk("autoscaler.vpsie.com", "v1alpha1", "NodeGroup");
    let reference = ng.object_ref(&ApiResource::from_gvk_with_plural(&gvk, "nodegroups"));
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "vpsie-autoscaler".into(),
            instance: Some("controller-0".into()),
        },
    );
    let ev = Event {
        type_: EventType::Warning,
        reason: "ScaleLimitReached".into(),
        note: Some("cannot scale beyond maxNodes 5".into()),
        action: "Scale".into(),
        secondary: None,
    };
    // Twice: the second publish patches the event's series.
    recorder.publish(&ev, &reference).await.expect("publish");
    recorder
        .publish(&ev, &reference)
        .await
        .expect("publish again");
    let out = env
        .ok(&["describe", "ng", "workers", "-n", "kube-system"])
        .await;
    let line = out
        .lines()
        .find(|l| l.contains("ScaleLimitReached"))
        .unwrap_or_else(|| panic!("event missing from describe: {out}"));
    assert!(
        line.contains("Warning") && line.contains("vpsie-autoscaler"),
        "{line}"
    );
    assert!(line.contains("cannot scale beyond maxNodes 5"), "{line}");
    let out = env.ok(&["get", "events", "-n", "kube-system"]).await;
    assert!(
        out.contains("ScaleLimitReached") && out.contains("nodegroup/workers"),
        "{out}"
    );
    env.server.shutdown().await;
}

#[tokio::test]
async fn cordon_and_drain_evict_pods_from_a_node() {
    let Some(env) = Env::start().await else {
        return;
    };
    let client = env.server.client().expect("client");
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
    let node = serde_json::from_value(json!({"metadata": {"name": "n1"},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}}))
    .expect("node json");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("node");
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), "default");
    for name in ["p1", "p2"] {
        let pod = serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]}}))
        .expect("pod json");
        pods.create(&PostParams::default(), &pod)
            .await
            .expect("pod");
    }
    let out = env.ok(&["cordon", "n1"]).await;
    assert_eq!(out.trim(), "node/n1 cordoned");
    let out = env.ok(&["get", "nodes"]).await;
    assert_eq!(rows(&out)[0][1], "Ready,SchedulingDisabled");
    let out = env
        .run(&[
            "drain",
            "n1",
            "--force",
            "--ignore-daemonsets",
            "--timeout=15s",
        ])
        .await;
    assert!(out.ok, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("pod/p1 evicted") && out.stdout.contains("node/n1 drained"),
        "{}",
        out.stdout
    );
    let left = pods
        .list(&kube::api::ListParams::default().fields("spec.nodeName=n1"))
        .await
        .expect("list");
    assert!(left.items.is_empty());
    let out = env.ok(&["uncordon", "n1"]).await;
    assert_eq!(out.trim(), "node/n1 uncordoned");
    env.server.shutdown().await;
}

#[tokio::test]
async fn edit_explain_and_crd_removal() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.install_crds().await;
    env.ok(&["apply", "-f", &fixture("nodegroup.yaml")]).await;
    // kubectl edit with a scripted editor that raises maxNodes.
    let editor = env.dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/maxNodes: 5/maxNodes: 12/' \"$1\"\n",
    )
    .expect("editor");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let mut cmd = env.command(&["edit", "ng", "workers", "-n", "kube-system"]);
    cmd.env("KUBE_EDITOR", &editor)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::time::timeout(DEADLINE, cmd.output())
        .await
        .expect("edit finishes")
        .expect("edit output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.trim(),
        "nodegroup.autoscaler.vpsie.com/workers edited"
    );
    let out = env
        .ok(&[
            "get",
            "ng",
            "workers",
            "-n",
            "kube-system",
            "-o",
            "jsonpath={.spec.maxNodes} {.metadata.generation}",
        ])
        .await;
    assert_eq!(out, "12 2");

    let out = env.ok(&["explain", "nodegroups.spec.minNodes"]).await;
    assert!(
        out.contains("KIND:       NodeGroup") && out.contains("minNodes"),
        "{out}"
    );

    let out = env.ok(&["delete", "-f", &fixture("crds.yaml")]).await;
    assert!(
        out.contains("customresourcedefinition.apiextensions.k8s.io \"nodegroups.autoscaler.vpsie.com\" deleted"),
        "{out}"
    );
    let out = env
        .run(&[
            "get",
            "--raw",
            "/apis/autoscaler.vpsie.com/v1alpha1/namespaces/kube-system/nodegroups",
        ])
        .await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("NotFound") || out.stderr.contains("not found"),
        "{}",
        out.stderr
    );
    env.server.shutdown().await;
}

#[tokio::test]
async fn imperative_creates_send_protobuf_and_work() {
    let Some(env) = Env::start().await else {
        return;
    };
    assert_eq!(
        env.ok(&["create", "namespace", "team-a"]).await.trim(),
        "namespace/team-a created"
    );
    assert_eq!(
        env.ok(&[
            "create",
            "configmap",
            "settings",
            "--from-literal=mode=fast",
            "-n",
            "team-a"
        ])
        .await
        .trim(),
        "configmap/settings created"
    );
    assert_eq!(
        env.ok(&[
            "create",
            "secret",
            "generic",
            "vpsie-secret",
            "--from-literal=clientId=a",
            "--from-literal=clientSecret=b",
            "-n",
            "team-a"
        ])
        .await
        .trim(),
        "secret/vpsie-secret created"
    );
    let client = env.server.client().expect("client");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(client.clone(), "team-a");
    let data = secrets
        .get("vpsie-secret")
        .await
        .expect("secret")
        .data
        .expect("data");
    assert_eq!(data["clientSecret"].0, b"b");
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client, "team-a");
    let cm = cms.get("settings").await.expect("configmap");
    assert_eq!(cm.data.expect("data")["mode"], "fast");
    let out = env.run(&["create", "namespace", "Not_Valid"]).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("a lowercase RFC 1123 label"),
        "{}",
        out.stderr
    );
    env.server.shutdown().await;
}

#[tokio::test]
async fn version_cluster_info_and_auth_can_i() {
    let Some(env) = Env::start().await else {
        return;
    };
    let out = env.ok(&["version"]).await;
    assert!(out.contains("Server Version: v1.33.0-vpsie-sim"), "{out}");
    let out = env.ok(&["cluster-info"]).await;
    assert!(
        out.contains(&format!(
            "Kubernetes control plane is running at {}",
            env.server.url()
        )),
        "{out}"
    );
    let out = env
        .ok(&["auth", "can-i", "delete", "pods", "-n", "kube-system"])
        .await;
    assert_eq!(out.trim(), "yes");
    env.server.shutdown().await;
}

#[tokio::test]
async fn sort_by_and_wait_for_a_condition() {
    let Some(env) = Env::start().await else {
        return;
    };
    env.install_crds().await;
    env.ok(&["apply", "-f", &fixture("nodegroup.yaml")]).await;
    let second = std::fs::read_to_string(fixture("nodegroup.yaml"))
        .expect("fixture")
        .replace("name: workers", "name: aaa-small")
        .replace("minNodes: 1", "minNodes: 0");
    let out = env
        .run_with_input(&["apply", "-f", "-"], Some(&second))
        .await;
    assert!(out.ok, "{}", out.stderr);
    let out = env
        .ok(&[
            "get",
            "ng",
            "-n",
            "kube-system",
            "--sort-by=.spec.minNodes",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(
        out,
        "nodegroup.autoscaler.vpsie.com/aaa-small\nnodegroup.autoscaler.vpsie.com/workers\n"
    );
    let out = env
        .ok(&["patch", "ng", "workers", "-n", "kube-system", "--subresource=status", "--type=merge", "-p",
            r#"{"status":{"currentNodes":1,"conditions":[{"type":"Ready","status":"True","reason":"Scaled","message":"ok","lastTransitionTime":"2025-01-01T00:00:00Z"}]}}"#])
        .await;
    assert_eq!(out.trim(), "nodegroup.autoscaler.vpsie.com/workers patched");
    let out = env
        .ok(&[
            "wait",
            "--for=condition=Ready",
            "ng/workers",
            "-n",
            "kube-system",
            "--timeout=10s",
        ])
        .await;
    assert_eq!(
        out.trim(),
        "nodegroup.autoscaler.vpsie.com/workers condition met"
    );
    let out = env.ok(&["get", "ng", "workers", "-n", "kube-system"]).await;
    assert_eq!(rows(&out)[0][..4], ["workers", "1", "5", "1"]);
    env.server.shutdown().await;
}
