//! The serve runtime: caches, the two controllers and the scale-up loop, run together until
//! shutdown.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, Controller, WatchStreamExt};
use kube::{Api, Client};
use tokio::sync::Notify;
use vpsie_autoscaler::api::{NodeGroup, VPSieNode};

use crate::context::Context;
use crate::nodegroup::{self, GroupContext};
use crate::pods::CachedPod;
use crate::podstore::{self, PodStore};
use crate::scaledown;
use crate::scaleup::{self, CacheChanges, ChangeCount, Stores};
use crate::{trim, vpsienode};

/// Hands the memory freed after the initial lists (every page of pods parsed whole, then
/// trimmed) back to the system: glibc keeps freed pages between live allocations otherwise.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's heaps.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Stores an object whole.
fn keep<K>(_: &mut K) {}

/// Drops a pod's resource version once the watcher has read it (nothing reads it from the
/// cache, and 30,000 of them add up).
fn forget_version(p: &mut CachedPod) {
    p.metadata.resource_version = None;
}

/// A cache of `api`, kept by a reflector task; `trim` drops what the reconciler never reads
/// before an object is stored (see [`crate::trim`]); `on_change` sees every object that changed;
/// `changes` counts every watch event, each counted after the cache applied it (so a count read
/// before the cache tells whether the cache moved since).
fn cache<K>(
    api: Api<K>,
    config: watcher::Config,
    trim: fn(&mut K),
    changes: ChangeCount,
    mut on_change: impl FnMut(&K) + Send + 'static,
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
    let stream = reflector::reflector(writer, watcher(api, config).modify(trim).default_backoff())
        .for_each(move |r| {
            match r {
                Ok(event) => {
                    // the reflector applied the event before passing it on
                    changes.bump();
                    match &event {
                        watcher::Event::Apply(o)
                        | watcher::Event::InitApply(o)
                        | watcher::Event::Delete(o) => on_change(o),
                        watcher::Event::Init | watcher::Event::InitDone => {}
                    }
                }
                Err(e) => tracing::warn!(error = %e, "watch failed; retrying"),
            }
            futures::future::ready(())
        });
    (reader, stream)
}

/// The pod cache ([`crate::podstore`]), kept by a watch task; like [`cache`] otherwise (each
/// pod's resource version dropped once the watcher has read it).
fn pod_cache(
    api: Api<CachedPod>,
    config: watcher::Config,
    changes: ChangeCount,
    mut on_change: impl FnMut(&CachedPod) + Send + 'static,
) -> (PodStore, impl Future<Output = ()> + Send) {
    let (reader, mut writer) = podstore::store();
    let stream = watcher(api, config)
        .modify(forget_version)
        .default_backoff()
        .for_each(move |r| {
            match r {
                Ok(event) => {
                    let pod = writer.apply(event);
                    changes.bump();
                    if let Some(p) = pod {
                        on_change(&p);
                    }
                }
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

    let changes = CacheChanges::default();
    let t = trigger.clone();
    let (pods, pods_task) = pod_cache(
        Api::<CachedPod>::all(client.clone()),
        // small pages: each page is parsed whole before it is trimmed
        watcher::Config::default().page_size(250),
        changes.pods.clone(),
        {
            let mut waiting = crate::pods::NewlyUnschedulable::default();
            move |p| {
                if waiting.observe(p) {
                    t.notify_one();
                }
            }
        },
    );
    let (nodes, nodes_task) = cache(
        Api::<Node>::all(client.clone()),
        watcher::Config::default(),
        trim::node,
        changes.nodes.clone(),
        |_| {},
    );
    let (daemonsets, ds_task) = cache(
        Api::<DaemonSet>::all(client.clone()),
        watcher::Config::default(),
        keep,
        changes.daemonsets.clone(),
        |_| {},
    );
    let (groups, groups_task) = cache(
        Api::<NodeGroup>::namespaced(client.clone(), &ns),
        watcher::Config::default(),
        keep,
        changes.groups.clone(),
        |_| {},
    );
    let (vpsienodes, vn_task) = cache(
        Api::<VPSieNode>::namespaced(client.clone(), &ns),
        watcher::Config::default(),
        keep,
        changes.vpsienodes.clone(),
        |_| {},
    );
    let (pdbs, pdb_task) = cache(
        Api::<PodDisruptionBudget>::all(client.clone()),
        watcher::Config::default(),
        keep,
        changes.pdbs.clone(),
        |_| {},
    );
    ctx.set_node_cache(nodes.clone());
    let stores = Stores {
        pods,
        nodes,
        daemonsets,
        groups,
        vpsienodes,
        pdbs,
        changes,
    };
    let synced = {
        let stores = stores.clone();
        async move {
            let started = std::time::Instant::now();
            let ready = async {
                stores.pods.wait_until_ready().await.ok()?;
                stores.nodes.wait_until_ready().await.ok()?;
                stores.daemonsets.wait_until_ready().await.ok()?;
                stores.groups.wait_until_ready().await.ok()?;
                stores.pdbs.wait_until_ready().await.ok()?;
                stores.vpsienodes.wait_until_ready().await.ok()
            };
            if ready.await.is_some() {
                release_free_memory();
                tracing::info!(
                    pods = stores.pods.len(),
                    nodes = stores.nodes.len(),
                    nodegroups = stores.groups.len(),
                    vpsienodes = stores.vpsienodes.len(),
                    seconds = started.elapsed().as_secs_f64(),
                    "caches synced"
                );
            }
            std::future::pending::<()>().await
        }
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
    let scale_down = scaledown::run(ctx.clone(), stores.clone());
    let scale_up = scaleup::run(ctx.clone(), stores, trigger);

    tokio::select! {
        _ = shutdown => {}
        _ = vn_controller => {}
        _ = ng_controller => {}
        _ = scale_up => {}
        _ = scale_down => {}
        _ = phases => {}
        _ = synced => {}
        _ = pods_task => {}
        _ = nodes_task => {}
        _ = ds_task => {}
        _ = groups_task => {}
        _ = vn_task => {}
        _ = pdb_task => {}
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
