//! Two decisions to add nodes at the same moment — minNodes of a new NodeGroup and pods that
//! arrive with it — are taken one after the other, each counting what the other created: the
//! pods go on the node minNodes brings, no second VPS is bought for them. And pods a group
//! cannot add nodes for because of its maxNodes are counted for the at-max alert.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, PostParams};
use kube::Api;
use vpsie_autoscaler::api::{NodeGroup, VPSieNode};
use vpsie_autoscaler::sim::cloud::Operation;
use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig};
use vpsie_reconciler::config::ReconcilerConfig;
use vpsie_reconciler::runtime::{self, Running, ServeOptions};

fn pod(name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]}
    }))
    .expect("pod")
}

/// A world without the example group, and a NodeGroup `name` of small nodes.
async fn world_with_group(speed: f64, name: &str, min: i32, max: i32) -> SimWorld {
    let world = SimWorld::start(SimWorldConfig {
        speed,
        example_nodegroup: false,
        ..SimWorldConfig::default()
    })
    .await
    .expect("sim world");
    let ng: NodeGroup = serde_json::from_value(serde_json::json!({
        "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {"minNodes": min, "maxNodes": max, "datacenterID": "dc-us-east-1",
            "offeringIDs": ["small-2cpu-4gb"], "osImageID": "ubuntu-22.04-lts"}
    }))
    .expect("nodegroup");
    Api::<NodeGroup>::namespaced(world.client().expect("client"), "kube-system")
        .create(&PostParams::default(), &ng)
        .await
        .expect("create nodegroup");
    world
}

/// The reconciler, as its ServiceAccount, on the world's clock.
async fn reconciler(world: &SimWorld) -> Running {
    let mut options = ServeOptions::new(
        ReconcilerConfig {
            cluster_name: "sim".into(),
            ..ReconcilerConfig::default()
        },
        "test-reconciler",
    );
    options.metrics_addr = ([127, 0, 0, 1], 0).into();
    runtime::start(
        world.reconciler_client().expect("reconciler client"),
        world.clock.clone(),
        options,
    )
    .await
    .expect("reconciler")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_nodes_and_pending_pods_at_once_buy_one_node() {
    // fast enough that the two decisions fall within milliseconds of each other
    let world = world_with_group(25.0, "g", 1, 5).await;
    let client = world.client().expect("client");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for i in 0..3 {
        pods.create(&PostParams::default(), &pod(&format!("p{i}")))
            .await
            .expect("create pod");
    }
    let running = reconciler(&world).await;
    // until the three pods run
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let list = pods.list(&ListParams::default()).await.expect("pods");
        let running_pods = list
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .count();
        if running_pods == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pods did not run: {running_pods}/3"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // a batch and a resync later nothing more is bought either (30 s of simulated time)
    let later = world.clock.now() + chrono::Duration::seconds(30);
    while world.clock.now() < later {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let records = Api::<VPSieNode>::namespaced(client.clone(), "kube-system")
        .list(&ListParams::default())
        .await
        .expect("records")
        .items;
    assert_eq!(
        (records.len(), world.cloud.count(Operation::CreateVM)),
        (1, 1),
        "one node for minNodes, and the three small pods on it: {:?}",
        records.iter().map(|r| &r.metadata.name).collect::<Vec<_>>()
    );
    running.stop().await;
    world.shutdown().await;
}

/// A group at maxNodes with pods it cannot add nodes for shows them on
/// `nodegroup_pods_waiting_at_max` (what the VPSieNodeGroupAtMaxWithPendingPods alert reads),
/// next to `nodegroup_max_nodes`; the gauge goes back to 0 when the pods are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_waiting_on_max_nodes_are_counted_for_the_alert() {
    let world = world_with_group(20.0, "capped", 0, 1).await;
    let client = world.client().expect("client");
    // three pods of 1.5 cpu: one small node each, and the group may have one
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for i in 0..3 {
        let mut p = pod(&format!("big{i}"));
        p.spec.as_mut().unwrap().containers[0].resources = serde_json::from_value(
            serde_json::json!({"requests": {"cpu": "1500m", "memory": "1Gi"}}),
        )
        .ok();
        pods.create(&PostParams::default(), &p).await.expect("pod");
    }
    let running = reconciler(&world).await;
    let url = format!("http://{}/metrics", running.metrics_addr);
    let sample = |text: &str, name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(&format!("{name}{{nodegroup=\"capped\"}}")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    let until = |want: f64| {
        let url = url.clone();
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                let text = reqwest::get(&url)
                    .await
                    .expect("metrics")
                    .text()
                    .await
                    .expect("text");
                // the group's reconcile sets the min/max gauges, scale-up the waiting one: either
                // may come first
                if sample(&text, "nodegroup_pods_waiting_at_max") == Some(want)
                    && sample(&text, "nodegroup_max_nodes").is_some()
                {
                    return text;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "nodegroup_pods_waiting_at_max never {want}: {text}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let text = until(2.0).await;
    assert_eq!(sample(&text, "nodegroup_max_nodes"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "nodegroup_min_nodes"), Some(0.0), "{text}");
    for i in 0..3 {
        pods.delete(&format!("big{i}"), &Default::default())
            .await
            .expect("delete pod");
    }
    until(0.0).await;
    running.stop().await;
    world.shutdown().await;
}
