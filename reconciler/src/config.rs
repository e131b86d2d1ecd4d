//! The reconciler's settings: every timeout and window, from flags or environment variables.

use std::time::Duration;

use clap::Args;
use vpsie_autoscaler::api::Backend;

use crate::lifecycle::Timeouts;

fn parse_secs(text: &str) -> Result<Duration, String> {
    vpsie_autoscaler::clock::parse_duration(text)
}

/// Settings of `kubectl-vpsie serve`.
#[derive(Debug, Clone, Args)]
pub struct ReconcilerConfig {
    /// Namespace of NodeGroups, VPSieNodes, the Secret, the Lease and the status ConfigMap.
    #[arg(
        long = "watch-namespace",
        env = "VPSIE_NAMESPACE",
        default_value = "kube-system"
    )]
    pub namespace: String,

    /// Name of this cluster, in the tags of every VPS the autoscaler creates.
    #[arg(long, env = "VPSIE_CLUSTER_NAME", default_value = "kubernetes")]
    pub cluster_name: String,

    /// Quiet time after the last new unschedulable pod before planning a batch.
    #[arg(long, env = "VPSIE_BATCH_IDLE", default_value = "1s", value_parser = parse_secs)]
    pub batch_idle: Duration,

    /// Longest a batch of unschedulable pods waits before it is planned.
    #[arg(long, env = "VPSIE_BATCH_MAX", default_value = "10s", value_parser = parse_secs)]
    pub batch_max: Duration,

    /// Longest from a VPSieNode's creation to its VPS running before it is Failed.
    #[arg(long, env = "VPSIE_PROVISION_TIMEOUT", default_value = "15m", value_parser = parse_secs)]
    pub provision_timeout: Duration,

    /// Longest from the VPS running to its Node being Ready before it is Failed.
    #[arg(long, env = "VPSIE_JOIN_TIMEOUT", default_value = "10m", value_parser = parse_secs)]
    pub join_timeout: Duration,

    /// How often to look at a VPS or a node that is on its way.
    #[arg(long, env = "VPSIE_POLL_INTERVAL", default_value = "2s", value_parser = parse_secs)]
    pub poll_interval: Duration,

    /// How long a group avoids an offering after a node of it failed.
    #[arg(long, env = "VPSIE_OFFERING_BACKOFF", default_value = "5m", value_parser = parse_secs)]
    pub offering_backoff: Duration,

    /// How often every NodeGroup is reconciled even without a change.
    #[arg(long, env = "VPSIE_RESYNC", default_value = "30s", value_parser = parse_secs)]
    pub resync: Duration,

    /// How often scale-down looks for unneeded nodes.
    #[arg(long, env = "VPSIE_SCALE_DOWN_INTERVAL", default_value = "10s", value_parser = parse_secs)]
    pub scale_down_interval: Duration,

    /// Longest a node's drain may take (when its VPSieNode has no
    /// autoscaler.vpsie.com/drain-timeout); then the drain fails, the node is uncordoned and kept.
    #[arg(long, env = "VPSIE_DRAIN_TIMEOUT", default_value = "10m", value_parser = parse_secs)]
    pub drain_timeout: Duration,

    /// How many nodes that still have pods may be drained at once (empty nodes go in bulk).
    #[arg(long, env = "VPSIE_MAX_DRAIN_PARALLELISM", default_value_t = 1)]
    pub max_drain_parallelism: usize,

    /// Also remove nodes whose pods have no controller (they are lost, not moved); without it,
    /// such a pod keeps its node unless annotated cluster-autoscaler.kubernetes.io/safe-to-evict=true.
    #[arg(long, env = "VPSIE_EVICT_BARE_PODS")]
    pub evict_bare_pods: bool,

    /// Plan and report, but never create or delete anything on VPSie.
    #[arg(long, env = "VPSIE_DRY_RUN")]
    pub dry_run: bool,

    /// Client-side limit of VPSie API calls a minute (the original's default, 100); raise it
    /// only as far as VPSie allows your account (429s are still obeyed). 0 turns it off.
    #[arg(long, env = "VPSIE_REQUESTS_PER_MINUTE", default_value_t = 100)]
    pub vpsie_requests_per_minute: u32,

    /// How many VPSie API calls may go out at once after a quiet spell (0 is taken as 1).
    #[arg(long, env = "VPSIE_RATE_BURST", default_value_t = 20)]
    pub vpsie_rate_burst: u32,

    /// How NodeGroups without spec.backend get their nodes: vm (plain VPS joined by
    /// cloud-init) or managed-kubernetes (added to a node group of a VPSie managed cluster).
    #[arg(long, env = "VPSIE_BACKEND", default_value = "vm", value_parser = parse_backend)]
    pub backend: Backend,

    /// The VPSie managed-Kubernetes cluster (identifier) of NodeGroups that do not name one;
    /// unset: the account's only cluster.
    #[arg(long, env = "VPSIE_CLUSTER_ID")]
    pub vpsie_cluster_id: Option<String>,
}

fn parse_backend(text: &str) -> Result<Backend, String> {
    text.parse()
}

impl Default for ReconcilerConfig {
    fn default() -> Self {
        Self {
            namespace: "kube-system".into(),
            cluster_name: "kubernetes".into(),
            batch_idle: Duration::from_secs(1),
            batch_max: Duration::from_secs(10),
            provision_timeout: Duration::from_secs(15 * 60),
            join_timeout: Duration::from_secs(10 * 60),
            poll_interval: Duration::from_secs(2),
            offering_backoff: Duration::from_secs(300),
            resync: Duration::from_secs(30),
            scale_down_interval: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(600),
            max_drain_parallelism: 1,
            evict_bare_pods: false,
            dry_run: false,
            vpsie_requests_per_minute: 100,
            vpsie_rate_burst: 20,
            backend: Backend::Vm,
            vpsie_cluster_id: None,
        }
    }
}

impl ReconcilerConfig {
    /// The VPSie client's rate limit.
    pub fn rate_limit(&self) -> vpsie_autoscaler::cloud::RateLimitConfig {
        vpsie_autoscaler::cloud::RateLimitConfig {
            requests_per_minute: self.vpsie_requests_per_minute,
            burst: self.vpsie_rate_burst,
        }
    }

    /// The lifecycle timeouts.
    pub fn timeouts(&self) -> Timeouts {
        Timeouts {
            provision: self.provision_timeout,
            join: self.join_timeout,
            poll: self.poll_interval,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_an_operator_writes_them() {
        assert_eq!(parse_secs("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_secs("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_secs("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_secs("250ms").unwrap(), Duration::from_millis(250));
        let e = parse_secs("soon").unwrap_err();
        assert!(e.contains("\"soon\""), "{e}");
        assert!(parse_secs("-1").is_err());
    }
}
