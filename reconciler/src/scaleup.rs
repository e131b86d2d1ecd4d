//! Event-driven scale-up: pods the scheduler reports `Unschedulable` are batched (quiet for
//! `batch_idle`, at most `batch_max`) and planned at once by the pure planner
//! ([`scaling::plan`](vpsie_autoscaler::scaling::plan)), which counts what exists and what is
//! already coming; the plan becomes VPSieNode records (the intent), which the VPSieNode
//! controller provisions.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::runtime::reflector::Store;
use kube::{Api, ResourceExt};
use rand::Rng;
use tokio::sync::Notify;
use vpsie_autoscaler::api::{EventReason, NodeGroup, VPSieNode, VPSieNodePhase};
use vpsie_autoscaler::cloud::{BreakerState, Offering};
use vpsie_autoscaler::scaling::capacity;
use vpsie_autoscaler::scaling::fit::{
    compatible, NodeFacts, PodRequirements, Resources, TaintFact,
};
use vpsie_autoscaler::scaling::plan::{
    plan, ExistingNode, GroupFacts, InflightNode, OfferingFacts, PendingPod, Plan, PlanInput,
};

use crate::context::Context;
use crate::error::Result;
use crate::podstore::PodStore;
use crate::report::DecisionAction;
use crate::vpsienode::{node_labels, FINALIZER};

/// The caches scale-up reads.
#[derive(Clone)]
pub struct Stores {
    /// Every pod.
    pub pods: PodStore,
    /// Every node.
    pub nodes: Store<Node>,
    /// Every DaemonSet.
    pub daemonsets: Store<DaemonSet>,
    /// The NodeGroups of the namespace.
    pub groups: Store<NodeGroup>,
    /// The VPSieNodes of the namespace.
    pub vpsienodes: Store<VPSieNode>,
    /// Every PodDisruptionBudget.
    pub pdbs: Store<PodDisruptionBudget>,
    /// How many watch events each cache has applied.
    pub changes: CacheChanges,
}

/// How many watch events a cache has applied, counted after each is applied: a count read before
/// the cache is read, and the same count read later, say the cache holds the same objects.
#[derive(Debug, Clone, Default)]
pub struct ChangeCount(Arc<AtomicU64>);

impl ChangeCount {
    /// Counts one applied event.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// The events applied so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The [`ChangeCount`] of each cache of [`Stores`].
#[derive(Debug, Clone, Default)]
pub struct CacheChanges {
    /// Of `pods`.
    pub pods: ChangeCount,
    /// Of `nodes`.
    pub nodes: ChangeCount,
    /// Of `daemonsets`.
    pub daemonsets: ChangeCount,
    /// Of `groups`.
    pub groups: ChangeCount,
    /// Of `vpsienodes`.
    pub vpsienodes: ChangeCount,
    /// Of `pdbs`.
    pub pdbs: ChangeCount,
}

impl CacheChanges {
    /// Every count now (pods, nodes, DaemonSets, NodeGroups, VPSieNodes, PDBs).
    pub fn read(&self) -> [u64; 6] {
        [
            self.pods.get(),
            self.nodes.get(),
            self.daemonsets.get(),
            self.groups.get(),
            self.vpsienodes.get(),
            self.pdbs.get(),
        ]
    }
}

/// Whether a VPSieNode counts toward its group's size.
pub fn counts(vn: &VPSieNode) -> bool {
    vn.metadata.deletion_timestamp.is_none()
        && !matches!(
            vn.phase(),
            VPSieNodePhase::Failed | VPSieNodePhase::Deleting
        )
}

/// Whether a VPSieNode's node is still on its way.
pub fn in_flight(vn: &VPSieNode) -> bool {
    counts(vn)
        && matches!(
            vn.phase(),
            VPSieNodePhase::Pending
                | VPSieNodePhase::Provisioning
                | VPSieNodePhase::Provisioned
                | VPSieNodePhase::Joining
        )
}

/// A random suffix for a record name: 5 characters of [a-z0-9], as Kubernetes generates.
pub fn suffix() -> String {
    const CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// An offering as the planner sees it; `None` when the catalogue lacks what planning needs.
pub fn offering_facts(o: &Offering) -> Option<OfferingFacts> {
    let (cpu, ram) = (o.cpu?, o.ram?);
    let hourly = o.hourly_price.or(o.price.map(|p| p / 730.0))?;
    Some(OfferingFacts {
        id: o.id.clone(),
        allocatable: capacity::allocatable(cpu, ram),
        hourly_price: hourly,
    })
}

/// The group's offerings that exist, are available in its datacenter and not backed off.
pub fn group_offerings(
    ctx: &Context,
    group: &NodeGroup,
    catalogue: &[Offering],
) -> Vec<OfferingFacts> {
    group
        .spec
        .offering_ids
        .iter()
        .filter(|id| !ctx.backed_off(&group.name_any(), id))
        .filter_map(|id| catalogue.iter().find(|o| &o.id == id))
        .filter(|o| o.available != Some(false))
        .filter(|o| {
            o.datacenter_id
                .as_deref()
                .is_none_or(|dc| dc.is_empty() || dc == group.spec.datacenter_id)
        })
        .filter_map(offering_facts)
        .collect()
}

/// The offering of nodes a group adds outside the planner (minNodes, headroom): the one its
/// nodes already have when it does not mix instance types, else the preferred one, else the
/// cheapest.
pub fn offering_for_new_nodes<'a, V: std::borrow::Borrow<VPSieNode>>(
    group: &NodeGroup,
    mine: &[V],
    offerings: &'a [OfferingFacts],
) -> Option<&'a OfferingFacts> {
    let locked = (!group.spec.allow_mixed_instances)
        .then(|| {
            mine.iter()
                .map(|v| v.borrow())
                .find(|v| counts(v))
                .map(|v| v.spec.instance_type.clone())
        })
        .flatten();
    locked
        .and_then(|l| offerings.iter().find(|o| o.id == l))
        .or_else(|| {
            offerings
                .iter()
                .find(|o| o.id == group.spec.preferred_instance_type)
        })
        .or_else(|| {
            offerings
                .iter()
                .min_by(|a, b| a.hourly_price.total_cmp(&b.hourly_price))
        })
}

/// Why a group may not scale up now, if it may not.
pub fn blocked(ctx: &Context, group: &NodeGroup) -> Option<String> {
    match group.is_paused() {
        Ok(true) => return Some("paused by annotation autoscaler.vpsie.com/pause".into()),
        Ok(false) => {}
        Err(e) => return Some(format!("invalid annotation: {e}")),
    }
    if !group.spec.scale_up_policy.enabled {
        return Some("scale-up disabled (scaleUpPolicy.enabled=false)".into());
    }
    let breaker = ctx.cloud.breaker_snapshot();
    if breaker.state == BreakerState::Open {
        return Some(format!(
            "VPSie API circuit breaker open since {}{}",
            breaker.since.to_rfc3339(),
            breaker
                .next_probe_at
                .map(|t| format!("; next probe at {}", t.to_rfc3339()))
                .unwrap_or_default()
        ));
    }
    None
}

fn group_probe(group: &NodeGroup) -> NodeFacts {
    NodeFacts {
        labels: node_labels(group, ""),
        taints: group.spec.taints.iter().map(TaintFact::from).collect(),
        ready: true,
        ..NodeFacts::default()
    }
}

/// What DaemonSet pods take on each new node of the group.
pub fn daemonset_overhead(daemonsets: &[Arc<DaemonSet>], group: &NodeGroup) -> Resources {
    let probe = group_probe(group);
    let mut total = Resources::default();
    for ds in daemonsets {
        let Some(template) = ds.spec.as_ref().map(|s| &s.template) else {
            continue;
        };
        let pod = Pod {
            metadata: Default::default(),
            spec: template.spec.clone(),
            status: None,
        };
        let Ok(mut req) = PodRequirements::from_pod(&pod) else {
            continue;
        };
        // the DaemonSet controller adds these tolerations to its pods
        req.tolerations
            .push(vpsie_autoscaler::scaling::fit::TolerationFact {
                key: "node.kubernetes.io/not-ready".into(),
                exists: true,
                value: String::new(),
                effect: String::new(),
            });
        if compatible(&req, &probe).is_ok() {
            total = total.plus(req.requests);
        }
    }
    total
}

/// Waits for unschedulable pods, batches them and plans, forever.
pub async fn run(ctx: Arc<Context>, stores: Stores, trigger: Arc<Notify>) {
    let mut resync = ctx.config.resync;
    loop {
        // A new unschedulable pod, or the resync: pods blocked earlier (breaker open, group at
        // max, offering backed off) are planned again without waiting for a pod to change.
        // While pods wait on room the plan counted (free room the scheduler has not used yet,
        // nodes on their way), the resync is the poll interval: a cache that lagged, or a node
        // that failed, is corrected within seconds.
        tokio::select! {
            _ = trigger.notified() => {}
            _ = tokio::time::sleep(ctx.real(resync)) => {}
        }
        let first = Instant::now();
        let idle = ctx.real(ctx.config.batch_idle);
        let max = ctx.real(ctx.config.batch_max);
        loop {
            let left = max.saturating_sub(first.elapsed());
            if left.is_zero() {
                break;
            }
            match tokio::time::timeout(idle.min(left), trigger.notified()).await {
                Ok(()) => continue,
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let result = plan_and_act(&ctx, &stores).await;
        ctx.metrics
            .observe_reconcile("scaleup", started.elapsed().as_secs_f64(), result.is_err());
        resync = match &result {
            Ok(Some(plan))
                if !plan.on_existing.is_empty()
                    || !plan.on_inflight.is_empty()
                    || !plan.unplaced.is_empty() =>
            {
                ctx.config.poll_interval
            }
            _ => ctx.config.resync,
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "scale-up planning failed; trying again");
            let wait = ctx.real(ctx.config.poll_interval);
            tokio::time::sleep(wait).await;
            trigger.notify_one();
        }
    }
}

/// Plans for the pods waiting now and creates the records of the planned nodes.
pub async fn plan_and_act(ctx: &Context, stores: &Stores) -> Result<Option<Plan>> {
    let _decide = ctx.scale_lock.lock().await;
    let pods = stores.pods.state();
    let pending: Vec<PendingPod> = pods
        .iter()
        .filter(|p| p.is_unschedulable())
        .filter_map(|p| {
            let requirements = p.requirements.as_ref().ok()?.clone();
            Some(PendingPod {
                key: p.key(),
                requirements,
            })
        })
        .collect();
    if pending.is_empty() {
        for g in stores.groups.state() {
            ctx.metrics.set_waiting_at_max(&g.name_any(), 0);
        }
        return Ok(None);
    }
    let catalogue = match ctx.offerings().await {
        Ok(c) => c,
        Err(e) => {
            for g in stores.groups.state() {
                ctx.decide(
                    &g.name_any(),
                    DecisionAction::Blocked,
                    "CatalogueUnavailable",
                    format!(
                        "{} pods wait, but the VPSie catalogue cannot be read: {e}",
                        pending.len()
                    ),
                    Vec::new(),
                );
            }
            return Err(e);
        }
    };
    let groups: Vec<Arc<NodeGroup>> = stores
        .groups
        .state()
        .into_iter()
        .filter(|g| g.metadata.deletion_timestamp.is_none() && g.validate().is_ok())
        .collect();
    let vns = ctx.with_recent(stores.vpsienodes.state());
    let daemonsets = stores.daemonsets.state();
    let facts: Vec<GroupFacts> = groups
        .iter()
        .map(|g| {
            let name = g.name_any();
            let mine: Vec<&Arc<VPSieNode>> = vns
                .iter()
                .filter(|v| v.spec.node_group_name == name && counts(v))
                .collect();
            let (_, max) = g
                .effective_min_max()
                .unwrap_or((g.spec.min_nodes, g.spec.max_nodes));
            GroupFacts {
                name: name.clone(),
                labels: node_labels(g, ""),
                taints: g.spec.taints.iter().map(TaintFact::from).collect(),
                offerings: group_offerings(ctx, g, &catalogue),
                preferred: Some(g.spec.preferred_instance_type.clone()).filter(|p| !p.is_empty()),
                allow_mixed: g.spec.allow_mixed_instances,
                locked_offering: mine.first().map(|v| v.spec.instance_type.clone()),
                max_new_nodes: u32::try_from(max.saturating_sub(mine.len() as i32)).unwrap_or(0),
                daemonset_overhead: daemonset_overhead(&daemonsets, g),
                blocked: blocked(ctx, g),
            }
        })
        .collect();
    let mut used: BTreeMap<String, Resources> = BTreeMap::new();
    for p in pods.iter().filter(|p| p.occupies_node()) {
        let (Some(node), Ok(r)) = (&p.node_name, &p.requirements) else {
            continue;
        };
        let e = used.entry(node.to_string()).or_default();
        *e = e.plus(r.requests);
    }
    let nodes: Vec<ExistingNode> = stores
        .nodes
        .state()
        .iter()
        .filter_map(|n| NodeFacts::from_node(n).ok())
        .map(|facts| ExistingNode {
            used: used.get(&facts.name).copied().unwrap_or_default(),
            facts,
        })
        .collect();
    // A record whose Node is already Ready is room on an existing node (counted above, with
    // what its pods use), not room still coming: counting both would promise a pod a node that
    // another pod takes, and leave it waiting for the next node to come up.
    let ready_nodes: std::collections::HashSet<&str> = nodes
        .iter()
        .filter(|n| n.facts.ready)
        .map(|n| n.facts.name.as_str())
        .collect();
    let inflight: Vec<InflightNode> = vns
        .iter()
        .filter(|v| in_flight(v))
        .filter(|v| !ready_nodes.contains(crate::vpsienode::node_name_of(v).as_str()))
        .map(|v| InflightNode {
            group: v.spec.node_group_name.clone(),
            offering: v.spec.instance_type.clone(),
        })
        .collect();
    let result = plan(PlanInput {
        pods: &pending,
        groups: &facts,
        nodes: &nodes,
        inflight: &inflight,
    });
    act(ctx, &groups, &pending, &result).await?;
    Ok(Some(result))
}

async fn act(
    ctx: &Context,
    groups: &[Arc<NodeGroup>],
    pending: &[PendingPod],
    result: &Plan,
) -> Result<()> {
    let now = ctx.now();
    for gp in &result.groups {
        let Some(group) = groups.iter().find(|g| g.name_any() == gp.group) else {
            continue;
        };
        let ns = group
            .namespace()
            .unwrap_or_else(|| ctx.config.namespace.clone());
        let summary: Vec<String> = gp
            .by_offering()
            .iter()
            .map(|(o, n)| format!("{n} x {o}"))
            .collect();
        let pods: usize = gp.nodes.iter().map(|n| n.pods.len()).sum();
        let message = format!(
            "Scaling up by {} node(s) ({}) for {pods} unschedulable pod(s), {:.4}/h",
            gp.nodes.len(),
            summary.join(", "),
            gp.hourly_cost
        );
        if ctx.config.dry_run {
            ctx.decide(
                &gp.group,
                DecisionAction::ScaleUp,
                "PendingPods",
                format!("dry run: {message}"),
                details(gp, pending),
            );
            continue;
        }
        let api: Api<VPSieNode> = Api::namespaced(ctx.kube.clone(), &ns);
        for node in &gp.nodes {
            let mut vn =
                VPSieNode::planned(&format!("{}-{}", gp.group, suffix()), group, &node.offering);
            vn.metadata.finalizers = Some(vec![FINALIZER.to_string()]);
            ctx.create_vpsienode(&api, &vn).await?;
        }
        ctx.record_scale(
            group,
            EventReason::ScalingUp,
            DecisionAction::ScaleUp,
            "PendingPods",
            message,
            details(gp, pending),
        )
        .await?;
    }
    // Pods nothing was planned for: each group says why.
    for left in &result.unplaced {
        let sample = left
            .pods
            .first()
            .map(|&i| pending[i].key.clone())
            .unwrap_or_default();
        for (group_name, why) in &left.reasons {
            if result.groups.iter().any(|g| &g.group == group_name) {
                continue;
            }
            let message = format!("{} pod(s) like {sample} not placed: {why}", left.pods.len());
            use vpsie_autoscaler::scaling::plan::Rejection;
            let (action, reason) = match why {
                Rejection::Blocked(_) => (DecisionAction::Blocked, "Blocked"),
                Rejection::AtMax => (DecisionAction::Blocked, "AtMaxNodes"),
                Rejection::TooLarge { .. } => (DecisionAction::NoChange, "NoOfferingFits"),
                Rejection::NoOffering => (DecisionAction::Blocked, "NoOfferingAvailable"),
                Rejection::Incompatible(_) => (DecisionAction::NoChange, "PodsDoNotFit"),
            };
            if let vpsie_autoscaler::scaling::plan::Rejection::AtMax = why {
                if let Some(group) = groups.iter().find(|g| &g.name_any() == group_name) {
                    let (_, max) = group
                        .effective_min_max()
                        .unwrap_or((0, group.spec.max_nodes));
                    let text = format!("Maximum nodes reached: {max}; {} pod(s) like {sample} wait; increase maxNodes or wait for scale-down", left.pods.len());
                    ctx.recorder
                        .publish(group.as_ref(), EventReason::ScaleLimitReached, &text, now)
                        .await;
                }
            }
            let pods: Vec<String> = left
                .pods
                .iter()
                .take(20)
                .map(|&i| pending[i].key.clone())
                .collect();
            ctx.decide(group_name, action, reason, message, pods);
        }
    }
    // pods each group would take but for its maxNodes (0 for the others)
    let mut at_max: BTreeMap<&str, i64> = BTreeMap::new();
    for left in &result.unplaced {
        for (group_name, why) in &left.reasons {
            if matches!(why, vpsie_autoscaler::scaling::plan::Rejection::AtMax) {
                *at_max.entry(group_name.as_str()).or_default() += left.pods.len() as i64;
            }
        }
    }
    for g in groups {
        let name = g.name_any();
        ctx.metrics
            .set_waiting_at_max(&name, at_max.get(name.as_str()).copied().unwrap_or(0));
    }
    Ok(())
}

/// The pods each planned node is for (the first 20), for the report.
fn details(gp: &vpsie_autoscaler::scaling::plan::GroupPlan, pending: &[PendingPod]) -> Vec<String> {
    gp.nodes
        .iter()
        .flat_map(|n| {
            n.pods
                .iter()
                .map(move |&i| format!("{} -> new {}", pending[i].key, n.offering))
        })
        .take(20)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::CachedPod;
    use serde_json::json;

    #[test]
    fn unschedulable_means_reported_by_the_scheduler_and_still_waiting() {
        let mut value = json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": []},
            "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}
        });
        let pod = |v: &serde_json::Value| serde_json::from_value::<CachedPod>(v.clone()).unwrap();
        assert!(pod(&value).is_unschedulable());
        value["spec"]["nodeName"] = json!("n1");
        assert!(!pod(&value).is_unschedulable());
        value["spec"]["nodeName"] = json!(null);
        value["status"]["conditions"][0]["reason"] = json!("SchedulerError");
        assert!(!pod(&value).is_unschedulable());
    }

    #[test]
    fn offerings_need_size_and_price() {
        let o = Offering {
            id: "small".into(),
            cpu: Some(2),
            ram: Some(4096),
            price: Some(14.6),
            ..Offering::default()
        };
        let f = offering_facts(&o).unwrap();
        assert!((f.hourly_price - 0.02).abs() < 1e-9);
        assert_eq!(f.allocatable, capacity::allocatable(2, 4096));
        assert!(offering_facts(&Offering { cpu: None, ..o }).is_none());
    }

    #[test]
    fn suffixes_are_valid_name_parts() {
        for _ in 0..100 {
            let s = suffix();
            assert_eq!(s.len(), 5);
            assert!(s
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
        }
    }
}
