//! The serve runtime: caches, the two controllers and the scale-up loop, run together until
//! shutdown.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, Controller, WatchStreamExt};
use kube::{Api, Client};
use tokio::sync::Notify;
use vpsie_autoscaler::api::{NodeGroup, VPSieNode};

use crate::context::Context;
use crate::nodegroup::{self, GroupContext};
use crate::scaleup::{self, is_unschedulable, Stores};
use crate::vpsienode;

/// A cache of `api`, kept by a reflector task; `on_change` sees every object that changed.
fn cache<K>(
    api: Api<K>,
    on_change: impl Fn(&K) + Send + 'static,
) -> (Store<K>, impl Future<Output = ()> + Send)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher(api, watcher::Config::default()).default_backoff(),
    )
    .touched_objects()
    .for_each(move |r| {
        match r {
            Ok(o) => on_change(&o),
            Err(e) => tracing::warn!(error = %e, "watch failed; retrying"),
        }
        futures::future::ready(())
    });
    (reader, stream)
}

/// Runs the reconciler until `shutdown` completes.
pub async fn run(ctx: Arc<Context>, shutdown: impl Future<Output = ()> + Send + 'static) {
    let client: Client = ctx.kube.clone();
    let ns = ctx.config.namespace.clone();
    let trigger = Arc::new(Notify::new());

    let t = trigger.clone();
    let (pods, pods_task) = cache(Api::<Pod>::all(client.clone()), move |p| {
        if is_unschedulable(p) {
            t.notify_one();
        }
    });
    let (nodes, nodes_task) = cache(Api::<Node>::all(client.clone()), |_| {});
    let (daemonsets, ds_task) = cache(Api::<DaemonSet>::all(client.clone()), |_| {});
    let (groups, groups_task) = cache(Api::<NodeGroup>::namespaced(client.clone(), &ns), |_| {});
    let (vpsienodes, vn_task) = cache(Api::<VPSieNode>::namespaced(client.clone(), &ns), |_| {});
    let stores = Stores {
        pods,
        nodes,
        daemonsets,
        groups,
        vpsienodes,
    };

    let shutdown = futures::future::FutureExt::shared(Box::pin(shutdown));
    let vn_controller = Controller::new(
        Api::<VPSieNode>::namespaced(client.clone(), &ns),
        watcher::Config::default(),
    )
    .graceful_shutdown_on(shutdown.clone())
    .run(vpsienode::reconcile, vpsienode::error_policy, ctx.clone())
    .for_each(|_| futures::future::ready(()));
    let gctx = Arc::new(GroupContext {
        ctx: ctx.clone(),
        scale_up: trigger.clone(),
    });
    let ng_controller = Controller::new(
        Api::<NodeGroup>::namespaced(client.clone(), &ns),
        watcher::Config::default(),
    )
    .owns(
        Api::<VPSieNode>::namespaced(client.clone(), &ns),
        watcher::Config::default(),
    )
    .graceful_shutdown_on(shutdown.clone())
    .run(nodegroup::reconcile, nodegroup::error_policy, gctx)
    .for_each(|_| futures::future::ready(()));
    let phases = phase_gauges(ctx.clone(), stores.vpsienodes.clone());
    let scale_up = scaleup::run(ctx.clone(), stores, trigger);

    tokio::select! {
        _ = shutdown => {}
        _ = vn_controller => {}
        _ = ng_controller => {}
        _ = scale_up => {}
        _ = phases => {}
        _ = pods_task => {}
        _ = nodes_task => {}
        _ = ds_task => {}
        _ = groups_task => {}
        _ = vn_task => {}
    }
}

/// Keeps `vpsienode_phase{phase}` equal to the number of VPSieNodes in each phase.
async fn phase_gauges(ctx: Arc<Context>, store: Store<VPSieNode>) {
    use vpsie_autoscaler::api::VPSieNodePhase;
    loop {
        let records = store.state();
        for phase in VPSieNodePhase::ALL {
            let n = records.iter().filter(|v| v.phase() == phase).count();
            ctx.metrics
                .vpsienode_phase
                .get_or_create(&crate::metrics::PhaseLabels {
                    phase: phase.as_str().to_string(),
                })
                .set(n as i64);
        }
        tokio::time::sleep(ctx.real(ctx.config.poll_interval)).await;
    }
}
