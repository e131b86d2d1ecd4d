//! Scale-down with the real reconciler in-process against the simulated world (20x real
//! time), where the test sees every pod change: a PodDisruptionBudget is never exceeded while
//! nodes drain, the safety rules each hold a node (and say so in the status report), and a
//! drain that cannot finish leaves the node uncordoned and Ready.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{json, Value};
use vpsie_autoscaler::api::{NodeGroup, VPSieNode, VPSieNodePhase};
use vpsie_autoscaler::sim::apiserver::{EventType, Gvr, WatchOptions};
use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig};
use vpsie_reconciler::config::ReconcilerConfig;
use vpsie_reconciler::report::{ReportReader, StatusReport};
use vpsie_reconciler::runtime::{self, Running, ServeOptions};

async fn world() -> SimWorld {
    SimWorld::start(SimWorldConfig {
        speed: 20.0,
        example_nodegroup: false,
        ..SimWorldConfig::default()
    })
    .await
    .expect("sim world")
}

async fn reconciler(world: &SimWorld, tweak: impl FnOnce(&mut ReconcilerConfig)) -> Running {
    let mut config = ReconcilerConfig {
        cluster_name: "sim".into(),
        ..ReconcilerConfig::default()
    };
    tweak(&mut config);
    let mut options = ServeOptions::new(config, "test-reconciler");
    options.metrics_addr = ([127, 0, 0, 1], 0).into();
    runtime::start(
        // the reconciler's ServiceAccount: every request authorized by deploy/'s RBAC
        world.reconciler_client().expect("client"),
        world.clock.clone(),
        options,
    )
    .await
    .expect("reconciler")
}

/// A NodeGroup of medium nodes labelled `pool: <name>`, which gives nodes back after a minute
/// of being unneeded (three seconds of wall time).
async fn group(client: &Client, name: &str, min: i32, policy: Value) {
    let mut down = json!({"unneededTime": 60, "stabilizationWindowSeconds": 60});
    if let (Some(d), Some(p)) = (down.as_object_mut(), policy.as_object()) {
        for (k, v) in p {
            d.insert(k.clone(), v.clone());
        }
    }
    let ng: NodeGroup = serde_json::from_value(json!({
        "apiVersion": "autoscaler.vpsie.com/v1alpha1",
        "kind": "NodeGroup",
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {
            "minNodes": min, "maxNodes": 10, "datacenterID": "dc-us-east-1",
            "offeringIDs": ["medium-4cpu-8gb"], "osImageID": "ubuntu-22.04-lts",
            "labels": {"pool": name},
            "scaleDownPolicy": down,
        }
    }))
    .expect("nodegroup");
    Api::<NodeGroup>::namespaced(client.clone(), "kube-system")
        .create(&PostParams::default(), &ng)
        .await
        .expect("create nodegroup");
}

async fn deployment(client: &Client, name: &str, replicas: i32, cpu: &str, pool: Option<&str>) {
    deployment_with(client, name, replicas, cpu, pool, json!({})).await;
}

async fn deployment_with(
    client: &Client,
    name: &str,
    replicas: i32,
    cpu: &str,
    pool: Option<&str>,
    annotations: Value,
) {
    let selector = pool.map(|p| json!({"pool": p})).unwrap_or(json!({}));
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}, "annotations": annotations},
                "spec": {"nodeSelector": selector, "containers": [{"name": "app", "image": "nginx",
                    "resources": {"requests": {"cpu": cpu, "memory": "256Mi"}}}]}}}
    }))
    .expect("deployment");
    Api::<Deployment>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &d)
        .await
        .expect("create deployment");
}

async fn records(client: &Client, group: &str) -> Vec<VPSieNode> {
    Api::<VPSieNode>::namespaced(client.clone(), "kube-system")
        .list(&ListParams::default().labels(&format!("nodegroup={group}")))
        .await
        .expect("list")
        .items
}

async fn pods(client: &Client, app: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), "default")
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("pods")
        .items
}

fn running(pods: &[Pod]) -> usize {
    pods.iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .count()
}

async fn events(client: &Client, reason: &str) -> Vec<Event> {
    Api::<Event>::namespaced(client.clone(), "kube-system")
        .list(&ListParams::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .collect()
}

async fn report(client: &Client) -> Option<StatusReport> {
    let cm = Api::<ConfigMap>::namespaced(client.clone(), "kube-system")
        .get_opt("vpsie-autoscaler-status")
        .await
        .ok()??;
    ReportReader::parse("kube-system", &cm).ok()
}

/// The reason the status report gives for the nodes of `group`, if it gives one.
async fn reason(client: &Client, group: &str) -> Option<String> {
    let r = report(client).await?;
    let round = r.node_groups.get(group)?.scale_down.clone()?;
    round.nodes.first().map(|n| n.reason.clone())
}

/// Polls (each poll a real read of the API server) until `check` holds.
async fn until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ready_count(vns: &[VPSieNode]) -> usize {
    vns.iter()
        .filter(|v| v.phase() == VPSieNodePhase::Ready)
        .count()
}

/// Live VMs of the simulated cloud whose hostname starts with `prefix`.
fn live_vms(world: &SimWorld, prefix: &str) -> usize {
    world
        .cloud
        .vms()
        .iter()
        .filter(|v| v.hostname.starts_with(prefix))
        .count()
}

fn healthy(p: &Value) -> bool {
    p.pointer("/metadata/deletionTimestamp").is_none()
        && p.pointer("/status/phase").and_then(Value::as_str) == Some("Running")
        && p.pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_drain_without_ever_exceeding_a_disruption_budget() {
    let world = world().await;
    let client = world.client().unwrap();
    // three drains may run at once: only the budget limits them
    let running_reconciler = reconciler(&world, |c| c.max_drain_parallelism = 3).await;
    group(&client, "web", 0, json!({})).await;
    // a filler pod of 2.5 cpu per node makes three nodes; each then takes one web pod
    deployment(&client, "filler", 3, "2500m", Some("web")).await;
    until(
        "three nodes with a filler each",
        Duration::from_secs(60),
        || async { running(&pods(&client, "filler").await) == 3 },
    )
    .await;
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}
    }))
    .unwrap();
    Api::<PodDisruptionBudget>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pdb)
        .await
        .unwrap();
    deployment(&client, "web", 3, "1", Some("web")).await;
    until(
        "three web pods Running",
        Duration::from_secs(60),
        || async { running(&pods(&client, "web").await) == 3 },
    )
    .await;
    let spread: std::collections::BTreeSet<String> = pods(&client, "web")
        .await
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    assert_eq!(spread.len(), 3, "one web pod per node");

    // Watch every web pod change from now on and count how many are unavailable at once.
    let store = world.api.store();
    let mut watch = store
        .watch(
            &Gvr::core("pods"),
            Some("default"),
            &WatchOptions::default(),
        )
        .expect("watch");
    // (most unavailable at once, evictions seen, all three seen healthy)
    let worst = Arc::new(Mutex::new((0usize, 0usize, false)));
    let counter = {
        let worst = worst.clone();
        tokio::spawn(async move {
            let mut state: BTreeMap<String, bool> = BTreeMap::new();
            // the watch first replays the pods as ADDED: count from when all three are seen
            let mut armed = false;
            while let Some(Ok((kind, pod))) = watch.next().await {
                if pod.pointer("/metadata/labels/app") != Some(&json!("web")) {
                    continue;
                }
                let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
                let was = state.get(&name).copied();
                if kind == EventType::Deleted {
                    state.remove(&name);
                } else {
                    state.insert(name, healthy(&pod));
                }
                let up = state.values().filter(|h| **h).count();
                armed |= up == 3;
                if !armed {
                    continue;
                }
                let mut w = worst.lock().unwrap();
                w.2 = true;
                if was == Some(true) && (kind == EventType::Deleted || !healthy(&pod)) {
                    w.1 += 1;
                }
                w.0 = w.0.max(3usize.saturating_sub(up));
            }
        })
    };
    // the load drops only once the counter has seen the three healthy pods
    until("the counter armed", Duration::from_secs(10), || async {
        worst.lock().unwrap().2
    })
    .await;
    Api::<Deployment>::namespaced(client.clone(), "default")
        .delete("filler", &DeleteParams::default())
        .await
        .unwrap();

    until(
        "the web pods packed onto one node, the other two removed",
        Duration::from_secs(120),
        || async {
            let vns = records(&client, "web").await;
            let web = pods(&client, "web").await;
            let nodes: std::collections::BTreeSet<String> = web
                .iter()
                .filter_map(|p| p.spec.as_ref()?.node_name.clone())
                .collect();
            vns.len() == 1
                && running(&web) == 3
                && nodes.len() == 1
                && live_vms(&world, "web-") == 1
        },
    )
    .await;
    let (most, evictions, _) = *worst.lock().unwrap();
    counter.abort();
    assert!(evictions >= 2, "two pods had to move, saw {evictions}");
    assert_eq!(
        most, 1,
        "at most one web pod unavailable at any time (maxUnavailable 1)"
    );
    assert!(!events(&client, "ScalingDown").await.is_empty());
    assert!(events(&client, "Terminating").await.len() >= 2);
    assert!(events(&client, "DrainFailed").await.is_empty());
    assert_no_denials(&world);
    running_reconciler.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_safety_rule_holds_its_node_and_says_why() {
    let world = world().await;
    let client = world.client().unwrap();
    let running_reconciler = reconciler(&world, |_| {}).await;
    for g in ["free", "dnd", "unsafe", "paused", "solo"] {
        group(&client, g, 0, json!({})).await;
    }
    group(&client, "minimum", 1, json!({})).await;
    for g in ["free", "dnd", "paused", "solo"] {
        deployment(&client, g, 1, "500m", Some(g)).await;
    }
    deployment_with(
        &client,
        "unsafe",
        1,
        "500m",
        Some("unsafe"),
        json!({"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}),
    )
    .await;
    until(
        "a Ready node in every group",
        Duration::from_secs(60),
        || async {
            let mut all = true;
            for g in ["free", "dnd", "unsafe", "paused", "solo", "minimum"] {
                all &= ready_count(&records(&client, g).await) == 1;
            }
            all
        },
    )
    .await;
    let vn_api: Api<VPSieNode> = Api::namespaced(client.clone(), "kube-system");
    let dnd = records(&client, "dnd").await[0]
        .metadata
        .name
        .clone()
        .unwrap();
    vn_api
        .patch(
            &dnd,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"autoscaler.vpsie.com/do-not-delete": "true"}}})),
        )
        .await
        .unwrap();
    Api::<NodeGroup>::namespaced(client.clone(), "kube-system")
        .patch(
            "paused",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"autoscaler.vpsie.com/pause": "true"}}}),
            ),
        )
        .await
        .unwrap();
    // the control: a node whose only pod goes is removed
    Api::<Deployment>::namespaced(client.clone(), "default")
        .delete("free", &DeleteParams::default())
        .await
        .unwrap();

    let expected = [
        ("dnd", "DoNotDelete"),
        ("unsafe", "NotSafeToEvict"),
        ("paused", "Paused"),
        ("solo", "PodCannotMove"),
        ("minimum", "AtMinNodes"),
    ];
    until(
        "the free node removed and every other node held with its reason",
        Duration::from_secs(90),
        || async {
            if !records(&client, "free").await.is_empty() || live_vms(&world, "free-") != 0 {
                return false;
            }
            for (g, why) in expected {
                if reason(&client, g).await.as_deref() != Some(why) {
                    return false;
                }
            }
            true
        },
    )
    .await;
    let r = report(&client).await.unwrap();
    let solo = &r.node_groups["solo"].scale_down.as_ref().unwrap().nodes[0];
    assert!(
        solo.message.contains("default/solo-") && solo.message.contains("node affinity/selector"),
        "{solo:?}"
    );
    for (g, _) in expected {
        let vns = records(&client, g).await;
        assert_eq!(ready_count(&vns), 1, "{g} keeps its node");
    }
    assert_no_denials(&world);
    running_reconciler.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_that_times_out_leaves_the_node_uncordoned_and_ready() {
    let world = world().await;
    let client = world.client().unwrap();
    let running_reconciler = reconciler(&world, |_| {}).await;
    group(&client, "spare", 1, json!({})).await;
    group(&client, "hold", 1, json!({})).await;
    until(
        "a Ready node in each group",
        Duration::from_secs(60),
        || async {
            ready_count(&records(&client, "spare").await) == 1
                && ready_count(&records(&client, "hold").await) == 1
        },
    )
    .await;
    let vn = records(&client, "hold").await.remove(0);
    let name = vn.metadata.name.clone().unwrap();
    let node = vn.status.as_ref().unwrap().node_name.clone().unwrap();
    let vn_api: Api<VPSieNode> = Api::namespaced(client.clone(), "kube-system");
    vn_api
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"autoscaler.vpsie.com/drain-timeout": "60"}}}),
            ),
        )
        .await
        .unwrap();
    // a pod that may move but never finishes terminating (a finalizer holds it)
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "stuck", "namespace": "default", "labels": {"app": "stuck"},
            "finalizers": ["test.vpsie.com/hold"],
            "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i",
            "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}}}]}
    }))
    .unwrap();
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), "default");
    pod_api.create(&PostParams::default(), &pod).await.unwrap();
    Api::<NodeGroup>::namespaced(client.clone(), "kube-system")
        .patch(
            "hold",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"minNodes": 0}})),
        )
        .await
        .unwrap();

    until("the drain fails", Duration::from_secs(90), || async {
        !events(&client, "DrainFailed").await.is_empty()
    })
    .await;
    let failed = &events(&client, "DrainFailed").await[0];
    let message = failed.message.clone().unwrap_or_default();
    assert!(
        message.contains("timed out after 60s") && message.contains("default/stuck"),
        "{message}"
    );
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    until(
        "the node back to Ready and uncordoned",
        Duration::from_secs(10),
        || async {
            let vn = vn_api.get(&name).await.unwrap();
            let n = Api::<Node>::all(client.clone()).get(&node).await.unwrap();
            vn.phase() == VPSieNodePhase::Ready
                && !n
                    .spec
                    .as_ref()
                    .and_then(|s| s.unschedulable)
                    .unwrap_or(false)
        },
    )
    .await;
    assert_eq!(live_vms(&world, "hold-"), 1, "the node was not deleted");
    let vn = vn_api.get(&name).await.unwrap();
    let error = vn.status.as_ref().unwrap().condition("Error").unwrap();
    assert_eq!(error.reason, "DrainFailed");
    // the report says why the node stays for now
    until(
        "the report names the failed drain",
        Duration::from_secs(10),
        || async { reason(&client, "hold").await.as_deref() == Some("DrainFailed") },
    )
    .await;

    // once the pod is really gone, the node goes after another unneededTime
    pod_api
        .patch(
            "stuck",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    until("the node removed", Duration::from_secs(60), || async {
        records(&client, "hold").await.is_empty() && live_vms(&world, "hold-") == 0
    })
    .await;
    assert_eq!(live_vms(&world, "spare-"), 1);
    assert_no_denials(&world);
    running_reconciler.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headroom_adds_a_node_above_the_scale_up_thresholds_and_scale_down_keeps_it() {
    let world = world().await;
    let client = world.client().unwrap();
    let running_reconciler = reconciler(&world, |_| {}).await;
    group(&client, "web", 0, json!({})).await;
    // two pods of 1.8 cpu fill one medium node to 92%: above the default 80% threshold
    deployment(&client, "web", 2, "1800m", Some("web")).await;
    until(
        "two Ready nodes: one for the pods, one of headroom",
        Duration::from_secs(60),
        || async { ready_count(&records(&client, "web").await) == 2 },
    )
    .await;
    let scaled: Vec<String> = events(&client, "ScalingUp")
        .await
        .into_iter()
        .filter_map(|e| e.message)
        .collect();
    assert!(
        scaled
            .iter()
            .any(|m| m.contains("for headroom") && m.contains("thresholds 80%/80%")),
        "{scaled:?}"
    );
    // the idle node stays: removing it would bring the group back over the threshold
    until(
        "scale-down keeps the headroom node, saying why",
        Duration::from_secs(30),
        || async {
            let Some(r) = report(&client).await else {
                return false;
            };
            let Some(round) = r.node_groups.get("web").and_then(|g| g.scale_down.clone()) else {
                return false;
            };
            round.nodes.iter().any(|n| n.reason == "ScaleUpThreshold")
        },
    )
    .await;
    assert_eq!(records(&client, "web").await.len(), 2);
    assert_eq!(running(&pods(&client, "web").await), 2);
    // lastScaleTime is the last scale-up's (no stale status write put an older one back)
    let latest = events(&client, "ScalingUp")
        .await
        .iter()
        .filter_map(|e| e.last_timestamp.clone())
        .map(|t| t.0)
        .max()
        .expect("a ScalingUp event");
    let ng = Api::<NodeGroup>::namespaced(client.clone(), "kube-system")
        .get("web")
        .await
        .unwrap();
    let last = ng.status.unwrap().last_scale_time.expect("lastScaleTime").0;
    assert!(
        last >= latest,
        "lastScaleTime {last} predates the last scale-up at {latest}"
    );
    assert_no_denials(&world);
    running_reconciler.stop().await;
    world.shutdown().await;
}

/// Nothing the reconciler asked was refused by deploy/'s RBAC (it runs as its ServiceAccount).
fn assert_no_denials(world: &SimWorld) {
    let denied: Vec<_> = world
        .api
        .denials()
        .into_iter()
        .filter(|d| d.user == vpsie_autoscaler::sim::rbac::SERVICE_ACCOUNT_USER)
        .collect();
    assert!(
        denied.is_empty(),
        "deploy/rbac-*.yaml refused requests of the reconciler: {denied:#?}"
    );
}
