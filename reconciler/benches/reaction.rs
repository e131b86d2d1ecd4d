//! Reaction time: from a pod marked `Unschedulable` by the scheduler to the CreateVM request the
//! reconciler sends for it, in the sim at real time, with the default batching (idle 1 s,
//! max 10 s). Target: p95 under 2 s.
//!
//! `cargo bench -p vpsie-reconciler --bench reaction` runs 15 waves; each wave is one pod that
//! needs a new node (a NodeGroup of small nodes, pods of 1.5 cpu: one per node).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::PostParams;
use kube::Api;
use vpsie_autoscaler::api::NodeGroup;
use vpsie_autoscaler::sim::apiserver::{EventType, Gvr, WatchOptions};
use vpsie_autoscaler::sim::cloud::Operation;
use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig};
use vpsie_reconciler::config::ReconcilerConfig;
use vpsie_reconciler::runtime::{self, ServeOptions};

const WAVES: usize = 15;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let world = SimWorld::start(SimWorldConfig {
            example_nodegroup: false,
            ..SimWorldConfig::default()
        })
        .await
        .expect("sim");
        let client = world.client().expect("client");
        let mut options = ServeOptions::new(
            ReconcilerConfig {
                cluster_name: "bench".into(),
                ..ReconcilerConfig::default()
            },
            "bench",
        );
        options.metrics_addr = ([127, 0, 0, 1], 0).into();
        let running = runtime::start(client.clone(), world.clock.clone(), options)
            .await
            .expect("reconciler");
        let ng: NodeGroup = serde_json::from_value(serde_json::json!({
            "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
            "metadata": {"name": "bench", "namespace": "kube-system"},
            "spec": {"minNodes": 0, "maxNodes": 100, "datacenterID": "dc-us-east-1",
                     "offeringIDs": ["small-2cpu-4gb"], "osImageID": "ubuntu-22.04-lts"}
        }))
        .expect("nodegroup");
        Api::<NodeGroup>::namespaced(client.clone(), "kube-system")
            .create(&PostParams::default(), &ng)
            .await
            .expect("create nodegroup");
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let store = world.api.store();
        let mut reactions = Vec::new();
        for wave in 0..WAVES {
            let mut watch = store
                .watch(&Gvr::core("pods"), Some("default"), &WatchOptions::default())
                .expect("watch");
            let creates_before = world.cloud.count(Operation::CreateVM);
            let pod: Pod = serde_json::from_value(serde_json::json!({
                "metadata": {"name": format!("wave-{wave}"), "namespace": "default"},
                "spec": {"containers": [{"name": "a", "image": "nginx", "resources": {"requests": {"cpu": "1500m"}}}]}
            }))
            .expect("pod");
            pods.create(&PostParams::default(), &pod).await.expect("create pod");
            // the moment the scheduler marks it Unschedulable
            let marked = loop {
                let (kind, obj) = tokio::time::timeout(Duration::from_secs(30), watch.next())
                    .await
                    .expect("the scheduler answers")
                    .expect("watch open")
                    .expect("watch event");
                let unschedulable = kind != EventType::Deleted
                    && obj["metadata"]["name"] == format!("wave-{wave}")
                    && obj["status"]["conditions"]
                        .as_array()
                        .is_some_and(|cs| cs.iter().any(|c| c["reason"] == "Unschedulable"));
                if unschedulable {
                    break world.clock.now();
                }
            };
            // the moment its CreateVM reaches the cloud, by the request log's arrival time: the
            // log is written when the answer is complete, after the cloud's change notification,
            // so the count is looked at again shortly after each notification
            let mut changes = world.cloud.subscribe();
            let deadline = Instant::now() + Duration::from_secs(30);
            while world.cloud.count(Operation::CreateVM) == creates_before {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    let vns = kube::Api::<vpsie_autoscaler::api::VPSieNode>::namespaced(client.clone(), "kube-system")
                        .list(&Default::default())
                        .await
                        .map(|l| l.items.iter().map(|v| format!("{} {:?} {}", v.metadata.name.clone().unwrap_or_default(), v.phase(), v.spec.vpsie_instance_id)).collect::<Vec<_>>())
                        .unwrap_or_default();
                    let reqs: Vec<String> = world.cloud.requests().iter().rev().take(15).map(|r| format!("{:?} {} {}", r.operation, r.status, r.time)).collect();
                    panic!("no CreateVM for wave {wave}: records {vns:#?}\nrequests {reqs:#?}");
                }
                let _ = tokio::time::timeout(left.min(Duration::from_millis(20)), changes.changed()).await;
            }
            let created_at = world
                .cloud
                .requests()
                .iter()
                .filter(|r| r.operation == Operation::CreateVM)
                .map(|r| r.time)
                .next_back()
                .expect("a CreateVM");
            let took = (created_at - marked).to_std().unwrap_or_default();
            if std::env::var_os("BENCH_VERBOSE").is_some() {
                let reqs: Vec<String> = world.cloud.requests().iter().rev().take(8).map(|r| format!("{:?} {} {}", r.operation, r.status, r.time)).collect();
                let vns = kube::Api::<vpsie_autoscaler::api::VPSieNode>::namespaced(client.clone(), "kube-system")
                    .list(&Default::default())
                    .await
                    .map(|l| { let mut v: Vec<_> = l.items.iter().map(|v| (v.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()), v.metadata.name.clone().unwrap_or_default(), format!("{:?}", v.phase()))).collect(); v.sort(); v.into_iter().rev().take(3).map(|x| format!("{x:?}")).collect::<Vec<_>>() })
                    .unwrap_or_default();
                eprintln!("wave {wave}: {took:?}; marked at {marked}; last requests {reqs:?}; records {vns:?}");
            }
            reactions.push(took);
        }
        let records = kube::Api::<vpsie_autoscaler::api::VPSieNode>::namespaced(client.clone(), "kube-system")
            .list(&Default::default())
            .await
            .map(|l| l.items.len())
            .unwrap_or_default();
        println!(
            "{WAVES} pods, {records} VPSieNodes, {} CreateVM requests",
            world.cloud.count(Operation::CreateVM)
        );
        running.stop().await;
        world.shutdown().await;
        reactions.sort();
        println!(
            "reaction (Unschedulable -> CreateVM), {} waves: p50 {:?}, p95 {:?}, max {:?} (target p95 < 2 s)",
            reactions.len(),
            percentile(&reactions, 0.5),
            percentile(&reactions, 0.95),
            reactions.last().copied().unwrap_or_default()
        );
    });
}
