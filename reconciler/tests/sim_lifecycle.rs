//! The real reconciler in-process against the simulated world, where the test can inject
//! kubelet and cloud faults: join timeouts, failed boots, deleting a NodeGroup, dry runs.

use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use vpsie_autoscaler::api::{NodeGroup, VPSieNode, VPSieNodePhase};
use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig};
use vpsie_reconciler::config::ReconcilerConfig;
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
        join_timeout: Duration::from_secs(60),
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

async fn group(client: &Client, name: &str, min: i32, offerings: &[&str]) {
    let ng: NodeGroup = serde_json::from_value(serde_json::json!({
        "apiVersion": "autoscaler.vpsie.com/v1alpha1",
        "kind": "NodeGroup",
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {
            "minNodes": min, "maxNodes": 5, "datacenterID": "dc-us-east-1",
            "offeringIDs": offerings, "osImageID": "ubuntu-22.04-lts",
        }
    }))
    .expect("nodegroup");
    Api::<NodeGroup>::namespaced(client.clone(), "kube-system")
        .create(&PostParams::default(), &ng)
        .await
        .expect("create nodegroup");
}

async fn records(client: &Client) -> Vec<VPSieNode> {
    Api::<VPSieNode>::namespaced(client.clone(), "kube-system")
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
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

/// Polls (each poll a real read of the API server) until `check` holds.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ready(vns: &[VPSieNode]) -> usize {
    vns.iter()
        .filter(|v| v.phase() == VPSieNodePhase::Ready)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_timeout_fails_the_node_cleans_up_its_vm_and_replaces_it() {
    let world = world().await;
    let client = world.client().unwrap();
    world.cluster.fail_next_joins(1);
    let running = reconciler(&world, |_| {}).await;
    group(&client, "web", 1, &["medium-4cpu-8gb", "small-2cpu-4gb"]).await;
    until("a JoinFailed event", || async {
        !events(&client, "JoinFailed").await.is_empty()
    })
    .await;
    let failed = &events(&client, "JoinFailed").await[0];
    assert!(
        failed
            .message
            .as_deref()
            .unwrap_or("")
            .starts_with("Node join timeout"),
        "{failed:?}"
    );
    until("one Ready node and one live VM", || async {
        let vns = records(&client).await;
        vns.len() == 1 && ready(&vns) == 1 && world.cloud.vms().len() == 1
    })
    .await;
    let history = world.cloud.vm_history();
    assert_eq!(history.len(), 2, "the failed VM and its replacement");
    assert_eq!(
        history.iter().filter(|v| v.deleted_at.is_some()).count(),
        1,
        "the failed VM was deleted"
    );
    // the first node was the cheapest offering (small); it failed and is backed off, so the
    // replacement is the other one
    let vns = records(&client).await;
    assert_eq!(vns[0].spec.instance_type, "medium-4cpu-8gb");
    assert_no_denials(&world);
    running.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_boot_fails_the_node_and_is_cleaned_up() {
    let world = world().await;
    let client = world.client().unwrap();
    world.cloud.fail_next_boots(1);
    let running = reconciler(&world, |_| {}).await;
    group(&client, "api", 1, &["medium-4cpu-8gb", "small-2cpu-4gb"]).await;
    until("a ProvisioningFailed event", || async {
        !events(&client, "ProvisioningFailed").await.is_empty()
    })
    .await;
    until("one Ready node and one live VM", || async {
        let vns = records(&client).await;
        vns.len() == 1 && ready(&vns) == 1 && world.cloud.vms().len() == 1
    })
    .await;
    assert_eq!(world.cloud.vm_history().len(), 2);
    assert_no_denials(&world);
    running.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_nodegroup_deletes_its_nodes_and_vms() {
    let world = world().await;
    let client = world.client().unwrap();
    let running = reconciler(&world, |_| {}).await;
    group(&client, "batch", 2, &["small-2cpu-4gb"]).await;
    until("two Ready nodes", || async {
        ready(&records(&client).await) == 2
    })
    .await;
    Api::<NodeGroup>::namespaced(client.clone(), "kube-system")
        .delete("batch", &DeleteParams::default())
        .await
        .expect("delete");
    until("the group, its records, VMs and Nodes gone", || async {
        let groups = Api::<NodeGroup>::namespaced(client.clone(), "kube-system")
            .list(&ListParams::default())
            .await
            .map(|l| l.items.len())
            .unwrap_or(1);
        let nodes = Api::<k8s_openapi::api::core::v1::Node>::all(client.clone())
            .list(&ListParams::default())
            .await
            .map(|l| l.items.len())
            .unwrap_or(1);
        groups == 0
            && records(&client).await.is_empty()
            && world.cloud.vms().is_empty()
            && nodes == 0
    })
    .await;
    assert_no_denials(&world);
    running.stop().await;
    world.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_plans_and_reports_but_creates_nothing() {
    let world = world().await;
    let client = world.client().unwrap();
    let running = reconciler(&world, |c| c.dry_run = true).await;
    group(&client, "dry", 0, &["medium-4cpu-8gb"]).await;
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "waits", "namespace": "default"},
        "spec": {"containers": [{"name": "a", "image": "nginx", "resources": {"requests": {"cpu": "1"}}}]}
    }))
    .unwrap();
    Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &pod)
        .await
        .unwrap();
    until("a dry-run decision in the status report", || async {
        vpsie_reconciler::report::ReportReader::read(&client, "kube-system")
            .await
            .ok()
            .and_then(|r| {
                r.node_groups
                    .get("dry")
                    .and_then(|g| g.last_decision.clone())
            })
            .is_some_and(|d| d.message.starts_with("dry run: Scaling up by 1 node(s)"))
    })
    .await;
    assert!(records(&client).await.is_empty());
    assert!(world.cloud.vms().is_empty());
    assert_no_denials(&world);
    running.stop().await;
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

/// A quota refusal fails the record without holding the offering for the whole back-off: the
/// quota is the account's, and once it is back the group reaches its size within a minute
/// (simulated), not after the 5-minute offering back-off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_refused_by_the_quota_come_soon_after_it_is_back() {
    let world = world().await;
    let client = world.client().unwrap();
    world.cloud.set_quota(0);
    let running = reconciler(&world, |_| {}).await;
    group(&client, "web", 2, &["small-2cpu-4gb"]).await;
    until("a quota refusal", || async {
        events(&client, "ProvisioningFailed")
            .await
            .iter()
            .any(|e| e.message.as_deref().unwrap_or("").contains("quota"))
    })
    .await;
    world.cloud.set_quota(10);
    let back = world.clock.now();
    until("two Ready nodes", || async {
        ready(&records(&client).await) == 2
    })
    .await;
    let took = world.clock.now() - back;
    assert!(
        took < chrono::Duration::seconds(90),
        "{}s of simulated time after the quota was back (the offering back-off is 300s)",
        took.num_seconds()
    );
    assert_eq!(world.cloud.vms().len(), 2);
    running.stop().await;
    world.shutdown().await;
}
