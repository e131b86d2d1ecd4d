//! The simulated cluster's machinery: kubelets, the scheduler, and the workload controllers
//! (Deployment, ReplicaSet, DaemonSet, pod garbage collection) that make pods behave as in a
//! real cluster.
//!
//! Everything runs in one task over the simulated API server's store (the same code paths as
//! HTTP, so watches seen by kubectl and the reconciler stay coherent) and the simulated VPSie
//! cloud. Time comes from the shared [`Clock`](crate::clock::Clock): delays are virtual.
//!
//! - **Kubelets**: a VM that the cloud reports `running` registers a Node after `join_delay`,
//!   named after the VM's hostname (its first DNS label), with `spec.providerID`
//!   `vpsie://<vm id>`, capacity and allocatable from the VM's size
//!   ([`capacity::allocatable`](crate::scaling::capacity::allocatable)), the labels and taints
//!   its cloud-init user data passes to the kubelet (`--node-labels=`,
//!   `--register-with-taints=`), and the `node.kubernetes.io/not-ready` taint; `ready_delay`
//!   later it turns Ready. A VM that is gone makes its Node NotReady, then deleted (as the cloud
//!   controller manager does). Pods bound to a Ready node run after `pod_start_delay`. Joins
//!   can be made to fail.
//! - **Scheduler**: binds pending pods to nodes with the filters of
//!   [`scaling::fit`](crate::scaling::fit) (requests, nodeSelector, required node affinity,
//!   taints and tolerations, cordons), one pod at a time in queue order, scoring most-allocated
//!   first (bin-packing, as clusters tuned for autoscaling configure NodeResourcesFit). A pod that fits nowhere gets
//!   `PodScheduled=False` with reason `Unschedulable` and a `FailedScheduling` event, worded as
//!   kube-scheduler words them.
//! - **Controllers**: Deployments own one ReplicaSet per template; ReplicaSets keep their
//!   replica count of pods (so evicted pods come back); DaemonSets put one pod on every node
//!   they match; pods bound to a node that no longer exists are deleted.

mod controllers;
mod kubelet;
mod scheduler;
mod world;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

pub use world::ClusterStats;

use crate::clock::SharedClock;
use crate::sim::apiserver::Store;
use crate::sim::cloud::SimCloud;

/// Delays and behaviour of the simulated cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// From the VM running to its Node registering.
    pub join_delay: Duration,
    /// From the Node registering to it turning Ready.
    pub ready_delay: Duration,
    /// From a pod being bound to it running.
    pub pod_start_delay: Duration,
    /// From a VM disappearing to its Node being deleted.
    pub node_gone_delay: Duration,
    /// The kubelet version nodes report.
    pub kubelet_version: String,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            join_delay: Duration::from_secs(4),
            ready_delay: Duration::from_secs(3),
            pod_start_delay: Duration::from_secs(1),
            node_gone_delay: Duration::from_secs(2),
            kubelet_version: "v1.33.0".into(),
        }
    }
}

/// Faults and knobs that can change while the cluster runs.
#[derive(Debug, Default)]
pub(crate) struct Controls {
    /// VMs (by hostname) whose kubelet never joins.
    pub fail_join_hosts: std::collections::BTreeSet<String>,
    /// How many of the next VMs to come up never join.
    pub fail_next_joins: u32,
    /// Set to stop the loop.
    pub stop: bool,
}

/// A running simulated cluster. Clones share it.
#[derive(Clone)]
pub struct SimCluster {
    controls: Arc<Mutex<Controls>>,
    wake: Arc<tokio::sync::Notify>,
    stats: Arc<Mutex<ClusterStats>>,
    task: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl std::fmt::Debug for SimCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCluster").finish_non_exhaustive()
    }
}

impl SimCluster {
    /// Starts the kubelets, scheduler and controllers over `store` and `cloud`.
    pub fn start(
        store: Arc<Store>,
        cloud: SimCloud,
        clock: SharedClock,
        config: ClusterConfig,
    ) -> Self {
        let controls = Arc::new(Mutex::new(Controls::default()));
        let wake = Arc::new(tokio::sync::Notify::new());
        let stats = Arc::new(Mutex::new(ClusterStats::default()));
        let world = world::World::new(store, cloud, clock, config, controls.clone(), stats.clone());
        let task = tokio::spawn(world.run(wake.clone()));
        Self {
            controls,
            wake,
            stats,
            task: Arc::new(Mutex::new(Some(task))),
        }
    }

    fn controls(&self) -> std::sync::MutexGuard<'_, Controls> {
        self.controls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The kubelet of the VM with this hostname will never join.
    pub fn fail_join(&self, hostname: &str) {
        self.controls().fail_join_hosts.insert(hostname.to_string());
        self.wake.notify_one();
    }

    /// The kubelets of the next `n` VMs to come up will never join.
    pub fn fail_next_joins(&self, n: u32) {
        self.controls().fail_next_joins = n;
        self.wake.notify_one();
    }

    /// Makes the cluster look at the time and the cloud now (after a test moved a manual clock).
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Counters of what the cluster did.
    pub fn stats(&self) -> ClusterStats {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops the loop and waits for it.
    pub async fn shutdown(&self) {
        self.controls().stop = true;
        self.wake.notify_one();
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
