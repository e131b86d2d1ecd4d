//! The VPSie calls a burst costs: one CreateVM per node, no GetVM, and VPS lists no more often
//! than the listing interval allows (a create does not make the records list again), so the
//! rate limit is spent on creates.

use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::api::{ListParams, PostParams};
use kube::Api;
use vpsie_autoscaler::api::{NodeGroup, VPSieNode};
use vpsie_autoscaler::sim::cloud::Operation;
use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig};
use vpsie_reconciler::config::ReconcilerConfig;
use vpsie_reconciler::context::{check_interval, listing_interval};
use vpsie_reconciler::runtime::{self, ServeOptions};

const NODES: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_creates_shares_one_vps_list_per_interval() {
    let world = SimWorld::start(SimWorldConfig {
        speed: 25.0,
        example_nodegroup: false,
        ..SimWorldConfig::default()
    })
    .await
    .expect("sim world");
    let client = world.client().expect("client");
    let ng: NodeGroup = serde_json::from_value(serde_json::json!({
        "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
        "metadata": {"name": "burst", "namespace": "kube-system"},
        "spec": {"minNodes": NODES, "maxNodes": NODES, "datacenterID": "dc-us-east-1",
            "offeringIDs": ["small-2cpu-4gb"], "osImageID": "ubuntu-22.04-lts"}
    }))
    .expect("nodegroup");
    Api::<NodeGroup>::namespaced(client.clone(), "kube-system")
        .create(&PostParams::default(), &ng)
        .await
        .expect("create nodegroup");
    let config = ReconcilerConfig {
        cluster_name: "sim".into(),
        ..ReconcilerConfig::default()
    };
    let mut options = ServeOptions::new(config.clone(), "test-reconciler");
    options.metrics_addr = ([127, 0, 0, 1], 0).into();
    let running = runtime::start(
        world.reconciler_client().expect("reconciler client"),
        world.clock.clone(),
        options,
    )
    .await
    .expect("reconciler");

    let records: Api<VPSieNode> = Api::namespaced(client.clone(), "kube-system");
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let all_ready = loop {
        let ready = records
            .list(&ListParams::default())
            .await
            .expect("records")
            .items
            .iter()
            .filter(|r| r.status.as_ref().map(|s| s.phase.to_string()) == Some("Ready".into()))
            .count();
        if ready == NODES {
            break world.clock.now();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{ready}/{NODES} Ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    running.stop().await;

    let log = world.cloud.requests();
    let times = |op: Operation| -> Vec<DateTime<Utc>> {
        log.iter()
            .filter(|r| r.operation == op)
            .map(|r| r.time)
            .collect()
    };
    let creates = times(Operation::CreateVM);
    let lists = times(Operation::ListVMs);
    assert_eq!(creates.len(), NODES, "one CreateVM per node");
    assert_eq!(world.cloud.count(Operation::GetVM), 0, "no GetVM");
    // while the creates go out (the rate limit spreads them over some seconds), the records
    // list no more often than once an interval (one page of 40 VPS at the default 100 calls a
    // minute), however many creates return in between
    let (first, last) = (creates[0], creates[NODES - 1]);
    let window = (last - first).to_std().unwrap_or_default();
    let interval = listing_interval(config.poll_interval, 1, config.vpsie_requests_per_minute);
    let allowed = (window.as_secs_f64() / interval.as_secs_f64()).floor() as usize + 1;
    let during = lists.iter().filter(|t| **t >= first && **t <= last).count();
    assert!(
        during <= allowed,
        "{during} VPS lists while {NODES} creates went out over {window:?}; at most {allowed} ({interval:?} apart)"
    );
    // once created, a record waits for its VPS to boot and its Node to register and become
    // Ready, which the Node shows: VPS lists then only catch failures, one a check interval
    // (polling them every interval until Ready would take one every 2.4 s)
    let after = lists
        .iter()
        .filter(|t| **t > last && **t <= all_ready)
        .count();
    let waited = (all_ready - last).to_std().unwrap_or_default();
    let check = check_interval(config.poll_interval);
    let allowed = (waited.as_secs_f64() / check.as_secs_f64()).floor() as usize + 1;
    assert!(
        waited > interval * 3,
        "the nodes took {waited:?} to be Ready after the last create: too short to tell"
    );
    assert!(
        after <= allowed,
        "{after} VPS lists in the {waited:?} from the last create until every node was Ready; at most {allowed} ({check:?} apart)"
    );
    world.shutdown().await;
}
