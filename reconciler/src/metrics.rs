//! The reconciler's Prometheus metrics, named exactly as the API reference names them.
//!
//! ```text
//! nodegroup_desired_nodes{nodegroup}            gauge
//! nodegroup_current_nodes{nodegroup}            gauge
//! nodegroup_ready_nodes{nodegroup}              gauge
//! nodegroup_min_nodes{nodegroup}                gauge: minNodes after the override annotation
//! nodegroup_max_nodes{nodegroup}                gauge: maxNodes after the override annotation
//! nodegroup_pods_waiting_at_max{nodegroup}      gauge: unschedulable pods it would host but for maxNodes
//! nodegroup_unneeded_nodes{nodegroup}           gauge
//! vpsienode_phase{phase}                        gauge: VPSieNodes in each phase
//! controller_reconcile_duration_seconds{controller}  histogram
//! controller_reconcile_errors_total{controller} counter
//! ```
//! The VPSie client's `vpsie_api_*` family registers into the same registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of per-NodeGroup metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeGroupLabels {
    /// NodeGroup name.
    pub nodegroup: String,
}

/// Labels of `vpsienode_phase`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    /// VPSieNode phase.
    pub phase: String,
}

/// Labels of controller metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    /// Controller name (`nodegroup`, `vpsienode`, `scaleup`, `scaledown`, `gc`).
    pub controller: String,
}

fn reconcile_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The reconciler's metric families (cheap to clone: each is an `Arc` inside).
#[derive(Clone, Debug)]
pub struct ControllerMetrics {
    /// `nodegroup_desired_nodes`.
    pub desired_nodes: Family<NodeGroupLabels, Gauge>,
    /// `nodegroup_current_nodes`.
    pub current_nodes: Family<NodeGroupLabels, Gauge>,
    /// `nodegroup_ready_nodes`.
    pub ready_nodes: Family<NodeGroupLabels, Gauge>,
    /// `nodegroup_unneeded_nodes`.
    pub unneeded_nodes: Family<NodeGroupLabels, Gauge>,
    /// `nodegroup_min_nodes`.
    pub min_nodes: Family<NodeGroupLabels, Gauge>,
    /// `nodegroup_max_nodes`.
    pub max_nodes: Family<NodeGroupLabels, Gauge>,
    /// `nodegroup_pods_waiting_at_max`.
    pub waiting_at_max: Family<NodeGroupLabels, Gauge>,
    /// `vpsienode_phase`.
    pub vpsienode_phase: Family<PhaseLabels, Gauge>,
    /// `controller_reconcile_duration_seconds`.
    pub reconcile_duration: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    /// `controller_reconcile_errors_total`.
    pub reconcile_errors: Family<ControllerLabels, Counter>,
}

impl ControllerMetrics {
    /// Creates the families and registers them.
    pub fn new(registry: &mut Registry) -> Self {
        let m = Self {
            desired_nodes: Family::default(),
            current_nodes: Family::default(),
            ready_nodes: Family::default(),
            unneeded_nodes: Family::default(),
            min_nodes: Family::default(),
            max_nodes: Family::default(),
            waiting_at_max: Family::default(),
            vpsienode_phase: Family::default(),
            reconcile_duration: Family::new_with_constructor(reconcile_histogram),
            reconcile_errors: Family::default(),
        };
        registry.register(
            "nodegroup_desired_nodes",
            "Target number of nodes of the NodeGroup",
            m.desired_nodes.clone(),
        );
        registry.register(
            "nodegroup_current_nodes",
            "Nodes currently in the NodeGroup",
            m.current_nodes.clone(),
        );
        registry.register(
            "nodegroup_ready_nodes",
            "Nodes of the NodeGroup that are Ready",
            m.ready_nodes.clone(),
        );
        registry.register(
            "nodegroup_unneeded_nodes",
            "Nodes of the NodeGroup below its scale-down thresholds (removed once unneeded for unneededTime)",
            m.unneeded_nodes.clone(),
        );
        registry.register(
            "nodegroup_min_nodes",
            "minNodes of the NodeGroup, after the min-nodes-override annotation",
            m.min_nodes.clone(),
        );
        registry.register(
            "nodegroup_max_nodes",
            "maxNodes of the NodeGroup, after the max-nodes-override annotation",
            m.max_nodes.clone(),
        );
        registry.register(
            "nodegroup_pods_waiting_at_max",
            "Unschedulable pods the NodeGroup would add nodes for if it were not at maxNodes",
            m.waiting_at_max.clone(),
        );
        registry.register(
            "vpsienode_phase",
            "VPSieNodes in each lifecycle phase",
            m.vpsienode_phase.clone(),
        );
        registry.register(
            "controller_reconcile_duration_seconds",
            "Time spent in one reconcile",
            m.reconcile_duration.clone(),
        );
        registry.register(
            "controller_reconcile_errors",
            "Reconciles that ended in an error",
            m.reconcile_errors.clone(),
        );
        m
    }

    /// Sets the three gauges of a NodeGroup.
    pub fn set_group(&self, nodegroup: &str, desired: i64, current: i64, ready: i64) {
        let labels = NodeGroupLabels {
            nodegroup: nodegroup.to_string(),
        };
        self.desired_nodes.get_or_create(&labels).set(desired);
        self.current_nodes.get_or_create(&labels).set(current);
        self.ready_nodes.get_or_create(&labels).set(ready);
    }

    /// Removes a deleted NodeGroup's series.
    pub fn remove_group(&self, nodegroup: &str) {
        let labels = NodeGroupLabels {
            nodegroup: nodegroup.to_string(),
        };
        self.desired_nodes.remove(&labels);
        self.current_nodes.remove(&labels);
        self.ready_nodes.remove(&labels);
        self.unneeded_nodes.remove(&labels);
        self.min_nodes.remove(&labels);
        self.max_nodes.remove(&labels);
        self.waiting_at_max.remove(&labels);
    }

    /// Sets a NodeGroup's effective minNodes and maxNodes.
    pub fn set_bounds(&self, nodegroup: &str, min: i64, max: i64) {
        let labels = NodeGroupLabels {
            nodegroup: nodegroup.to_string(),
        };
        self.min_nodes.get_or_create(&labels).set(min);
        self.max_nodes.get_or_create(&labels).set(max);
        // the series exists (at 0) before the first plan sets it
        let _ = self.waiting_at_max.get_or_create(&labels);
    }

    /// Sets how many unschedulable pods wait on a NodeGroup's maxNodes.
    pub fn set_waiting_at_max(&self, nodegroup: &str, n: i64) {
        self.waiting_at_max
            .get_or_create(&NodeGroupLabels {
                nodegroup: nodegroup.to_string(),
            })
            .set(n);
    }

    /// Sets how many of a NodeGroup's nodes are unneeded now.
    pub fn set_unneeded(&self, nodegroup: &str, n: i64) {
        self.unneeded_nodes
            .get_or_create(&NodeGroupLabels {
                nodegroup: nodegroup.to_string(),
            })
            .set(n);
    }

    /// Records one reconcile of `controller`.
    pub fn observe_reconcile(&self, controller: &str, seconds: f64, failed: bool) {
        let labels = ControllerLabels {
            controller: controller.to_string(),
        };
        self.reconcile_duration
            .get_or_create(&labels)
            .observe(seconds);
        if failed {
            self.reconcile_errors.get_or_create(&labels).inc();
        } else {
            // make the series exist at 0 so alerts on rate() have something to read
            let _ = self.reconcile_errors.get_or_create(&labels);
        }
    }
}

/// Encodes a registry in the Prometheus text format.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_the_names_of_the_api_reference() {
        let mut registry = Registry::default();
        let m = ControllerMetrics::new(&mut registry);
        m.set_group("production-workers", 5, 4, 3);
        m.vpsienode_phase
            .get_or_create(&PhaseLabels {
                phase: "Ready".into(),
            })
            .set(5);
        m.observe_reconcile("nodegroup", 0.15, true);
        let text = encode(&registry);
        for line in [
            "nodegroup_desired_nodes{nodegroup=\"production-workers\"} 5",
            "nodegroup_current_nodes{nodegroup=\"production-workers\"} 4",
            "nodegroup_ready_nodes{nodegroup=\"production-workers\"} 3",
            "vpsienode_phase{phase=\"Ready\"} 5",
            "controller_reconcile_errors_total{controller=\"nodegroup\"} 1",
            "controller_reconcile_duration_seconds_count{controller=\"nodegroup\"} 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        m.remove_group("production-workers");
        assert!(!encode(&registry).contains("production-workers"));
    }
}
