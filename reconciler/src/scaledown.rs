//! Utilization rounds (headroom scale-up, [`crate::headroom`], and scale-down): every
//! `--scale-down-interval`, the caches are read into plain data
//! ([`collect`], pure), evaluated by the core's pure scale-down
//! ([`scaling::scaledown::evaluate`](vpsie_autoscaler::scaling::scaledown::evaluate)), and each
//! node chosen becomes a `Terminating` VPSieNode, which the VPSieNode controller drains and
//! deletes ([`crate::drain`]). Every node kept has its reason in the status report.
//!
//! When each node became underutilized is remembered between rounds (in memory, as
//! cluster-autoscaler does: after a restart a node must be unneeded for `unneededTime` again,
//! which errs on the side of keeping nodes).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use vpsie_autoscaler::api::{
    annotations, chrono_time, k8s_time, ConditionStatus, EventReason, NodeGroup, VPSieNode,
    VPSieNodeCondition, VPSieNodePhase,
};
use vpsie_autoscaler::cloud::BreakerState;
use vpsie_autoscaler::scaling::fit::{NodeFacts, Resources};
use vpsie_autoscaler::scaling::plan::OfferingFacts;
use vpsie_autoscaler::scaling::scaledown::{
    evaluate, track_unneeded, underutilized, GroupPolicy, NodeDecision, NodeState, OtherNode,
    PodKind, PodOnNode, ScaleDownInput, ScaleDownOptions, ScaleDownPlan, Verdict,
};

use crate::context::Context;
use crate::error::Result;
use crate::pods::CachedPod;
use crate::report::{DecisionAction, NodeScaleDown, ScaleDownReport};
use crate::scaleup::{counts, group_offerings, Stores};
use crate::vpsienode::node_name_of;

/// Nodes listed per group in the status report (removals and drains first).
pub const REPORT_NODES: usize = 200;

/// What a round reads from the caches.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// NodeGroups.
    pub groups: Vec<Arc<NodeGroup>>,
    /// VPSieNodes.
    pub vpsienodes: Vec<Arc<VPSieNode>>,
    /// Nodes.
    pub nodes: Vec<Arc<Node>>,
    /// Pods.
    pub pods: Vec<Arc<CachedPod>>,
    /// PodDisruptionBudgets.
    pub pdbs: Vec<Arc<PodDisruptionBudget>>,
    /// DaemonSets (what they take on a new node, for headroom).
    pub daemonsets: Vec<Arc<DaemonSet>>,
}

/// The evaluation's input, built from a [`Snapshot`].
#[derive(Debug, Clone, Default)]
pub struct Collected {
    /// Ready nodes of NodeGroups (the candidates).
    pub nodes: Vec<NodeState>,
    /// Every other node (can receive pods).
    pub others: Vec<OtherNode>,
    /// Policies of the valid NodeGroups.
    pub groups: Vec<GroupPolicy>,
    /// `namespace/name` -> `status.disruptionsAllowed`.
    pub pdb_allowed: BTreeMap<String, i32>,
    /// Offerings per group, for consolidation hints.
    pub offerings: BTreeMap<String, Vec<(String, Resources, f64)>>,
    /// The VPSieNode of each candidate node: node -> (record name, resourceVersion).
    pub records: BTreeMap<String, (String, Option<String>)>,
    /// Nodes already leaving, per group: (node, phase).
    pub leaving: BTreeMap<String, Vec<(String, VPSieNodePhase)>>,
}

/// Whether a label selector selects these labels (`null` selects nothing, `{}` everything, as
/// policy/v1 PodDisruptionBudgets read it).
pub fn selects(selector: Option<&LabelSelector>, labels: &BTreeMap<String, String>) -> bool {
    let Some(sel) = selector else {
        return false;
    };
    if let Some(ml) = &sel.match_labels {
        if ml.iter().any(|(k, v)| labels.get(k) != Some(v)) {
            return false;
        }
    }
    sel.match_expressions.iter().flatten().all(|e| {
        let have = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or_default();
        match e.operator.as_str() {
            "In" => have.is_some_and(|h| values.contains(h)),
            "NotIn" => !have.is_some_and(|h| values.contains(h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        }
    })
}

fn pod_kind(p: &CachedPod) -> PodKind {
    if p.is_daemonset() {
        PodKind::DaemonSet
    } else if p.mirror {
        PodKind::Mirror
    } else if p.controller.is_some() {
        PodKind::Controlled
    } else {
        PodKind::Bare
    }
}

fn drain_failed_at(vn: &VPSieNode) -> Option<DateTime<Utc>> {
    vn.status
        .as_ref()?
        .condition(VPSieNodeCondition::ERROR)
        .filter(|c| {
            c.status == ConditionStatus::True && c.reason == EventReason::DrainFailed.as_str()
        })
        .map(|c| chrono_time(&c.last_transition_time))
}

/// A group's scale-down policy now; `None` for a group being deleted or invalid.
fn policy(group: &NodeGroup, vns: &[Arc<VPSieNode>]) -> Option<GroupPolicy> {
    if group.metadata.deletion_timestamp.is_some() || group.validate().is_err() {
        return None;
    }
    let name = group.name_any();
    let p = &group.spec.scale_down_policy;
    let up = &group.spec.scale_up_policy;
    let (min, _) = group
        .effective_min_max()
        .unwrap_or((group.spec.min_nodes, group.spec.max_nodes));
    // a malformed pause annotation holds the group: when in doubt, keep nodes
    let paused = group.is_paused().unwrap_or(true) || group.effective_min_max().is_err();
    let current = vns
        .iter()
        .filter(|v| v.spec.node_group_name == name && counts(v))
        .filter(|v| v.phase() != VPSieNodePhase::Terminating)
        .count() as i32;
    Some(GroupPolicy {
        name,
        enabled: p.enabled,
        paused,
        cpu_threshold: p.cpu_threshold,
        memory_threshold: p.memory_threshold,
        unneeded_time: chrono::Duration::seconds(i64::from(p.unneeded_time.max(0))),
        stabilization_window: chrono::Duration::seconds(i64::from(
            p.stabilization_window_seconds.max(0),
        )),
        last_scale_time: group
            .status
            .as_ref()
            .and_then(|s| s.last_scale_time.as_ref())
            .map(chrono_time),
        min_nodes: min,
        current_nodes: current,
        // headroom adds nodes only while scale-up is enabled
        scale_up_cpu_threshold: if up.enabled { up.cpu_threshold } else { 0 },
        scale_up_memory_threshold: if up.enabled { up.memory_threshold } else { 0 },
    })
}

/// Builds the evaluation's input from the caches (pure). `offerings` are each group's usable
/// offerings; `prices` the hourly price of every offering id.
pub fn collect(
    s: &Snapshot,
    offerings: &BTreeMap<String, Vec<OfferingFacts>>,
    prices: &BTreeMap<String, f64>,
    unneeded: &BTreeMap<String, DateTime<Utc>>,
) -> Collected {
    let mut out = Collected {
        groups: s
            .groups
            .iter()
            .filter_map(|g| policy(g, &s.vpsienodes))
            .collect(),
        ..Collected::default()
    };
    let managed: BTreeSet<&str> = out.groups.iter().map(|g| g.name.as_str()).collect();
    for (group, list) in offerings {
        out.offerings.insert(
            group.clone(),
            list.iter()
                .map(|o| (o.id.clone(), o.allocatable, o.hourly_price))
                .collect(),
        );
    }
    for pdb in &s.pdbs {
        let key = format!("{}/{}", pdb.namespace().unwrap_or_default(), pdb.name_any());
        let allowed = pdb
            .status
            .as_ref()
            .map(|st| st.disruptions_allowed)
            .unwrap_or(0);
        out.pdb_allowed.insert(key, allowed);
    }

    // Which record each node belongs to; the candidates are Ready records of valid groups.
    let mut candidate_of: BTreeMap<String, &Arc<VPSieNode>> = BTreeMap::new();
    for vn in &s.vpsienodes {
        let node = node_name_of(vn);
        let phase = vn.phase();
        if matches!(
            phase,
            VPSieNodePhase::Terminating | VPSieNodePhase::Deleting
        ) || vn.metadata.deletion_timestamp.is_some()
        {
            out.leaving
                .entry(vn.spec.node_group_name.clone())
                .or_default()
                .push((node, phase));
            continue;
        }
        if phase == VPSieNodePhase::Ready && managed.contains(vn.spec.node_group_name.as_str()) {
            candidate_of.insert(node, vn);
        }
    }

    // Budgets by namespace.
    let mut budgets: BTreeMap<&str, Vec<(String, Option<&LabelSelector>)>> = BTreeMap::new();
    for b in &s.pdbs {
        let ns = b.metadata.namespace.as_deref().unwrap_or_default();
        budgets.entry(ns).or_default().push((
            format!("{ns}/{}", b.name_any()),
            b.spec.as_ref().and_then(|sp| sp.selector.as_ref()),
        ));
    }

    // Pods by node.
    let mut by_node: BTreeMap<&str, Vec<&Arc<CachedPod>>> = BTreeMap::new();
    for p in s.pods.iter().filter(|p| p.occupies_node()) {
        if let Some(n) = p.node_name.as_deref() {
            by_node.entry(n).or_default().push(p);
        }
    }

    for node in &s.nodes {
        let Ok(facts) = NodeFacts::from_node(node) else {
            continue;
        };
        let pods = by_node
            .get(facts.name.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let Some(vn) = candidate_of.get(&facts.name) else {
            let used = pods
                .iter()
                .filter_map(|p| p.requirements.as_ref().ok())
                .fold(Resources::default(), |a, r| a.plus(r.requests));
            out.others.push(OtherNode { facts, used });
            continue;
        };
        let mut on_node = Vec::with_capacity(pods.len());
        let mut unreadable = None;
        for p in pods {
            let requirements = match &p.requirements {
                Ok(r) => r.clone(),
                Err(_) => {
                    unreadable = Some(p.key());
                    break;
                }
            };
            let ns = p.metadata.namespace.as_deref().unwrap_or_default();
            let pdbs = budgets
                .get(ns)
                .into_iter()
                .flatten()
                .filter(|(_, sel)| selects(*sel, &p.labels))
                .map(|(key, _)| key.clone())
                .collect();
            on_node.push(PodOnNode {
                key: p.key(),
                requirements,
                kind: pod_kind(p),
                safe_to_evict: p.safe_to_evict.as_deref().and_then(|v| {
                    match v.trim().to_ascii_lowercase().as_str() {
                        "true" => Some(true),
                        "false" => Some(false),
                        _ => None,
                    }
                }),
                pdbs,
            });
        }
        let node_dnd =
            annotations::do_not_delete(node.annotations()).unwrap_or(true) || unreadable.is_some();
        out.records.insert(
            facts.name.clone(),
            (vn.name_any(), vn.metadata.resource_version.clone()),
        );
        out.nodes.push(NodeState {
            group: vn.spec.node_group_name.clone(),
            pods: on_node,
            // a malformed annotation keeps the node (the value is surely meant to protect it)
            do_not_delete: vn.do_not_delete().unwrap_or(true) || node_dnd,
            unneeded_since: unneeded.get(&facts.name).copied(),
            hourly_price: prices.get(&vn.spec.instance_type).copied().unwrap_or(0.0),
            drain_failed_at: drain_failed_at(vn),
            facts,
        });
    }
    out
}

/// One round, pure: the updated unneeded clocks and the plan.
pub fn round(
    mut collected: Collected,
    unneeded: &BTreeMap<String, DateTime<Utc>>,
    now: DateTime<Utc>,
    options: &ScaleDownOptions,
) -> (Collected, BTreeMap<String, DateTime<Utc>>, ScaleDownPlan) {
    let policies: BTreeMap<&str, &GroupPolicy> = collected
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g))
        .collect();
    let low: BTreeSet<String> = collected
        .nodes
        .iter()
        .filter(|n| {
            n.facts.ready
                && policies
                    .get(n.group.as_str())
                    .is_some_and(|p| underutilized(n, p))
        })
        .map(|n| n.facts.name.clone())
        .collect();
    let tracked = track_unneeded(unneeded, &low, now);
    for n in &mut collected.nodes {
        n.unneeded_since = tracked.get(&n.facts.name).copied();
    }
    // nodes with pods already being drained use up the round's budget
    let draining = collected
        .leaving
        .values()
        .flatten()
        .filter(|(_, p)| *p == VPSieNodePhase::Terminating)
        .count();
    let options = ScaleDownOptions {
        max_nonempty_per_round: options.max_nonempty_per_round.saturating_sub(draining),
        ..options.clone()
    };
    let plan = evaluate(ScaleDownInput {
        nodes: &collected.nodes,
        others: &collected.others,
        groups: &collected.groups,
        pdb_allowed: &collected.pdb_allowed,
        now,
        options: &options,
        offerings: &collected.offerings,
    });
    (collected, tracked, plan)
}

/// The report of one group's round.
pub fn group_report(
    group: &str,
    plan: &ScaleDownPlan,
    collected: &Collected,
    now: DateTime<Utc>,
) -> ScaleDownReport {
    let mut nodes: Vec<NodeScaleDown> = collected
        .leaving
        .get(group)
        .into_iter()
        .flatten()
        .map(|(node, phase)| NodeScaleDown {
            node: node.clone(),
            action: phase.as_str().to_string(),
            reason: phase.as_str().to_string(),
            message: match phase {
                VPSieNodePhase::Terminating => "being drained".to_string(),
                _ => "VPS being deleted".to_string(),
            },
            cpu_percent: None,
            memory_percent: None,
        })
        .collect();
    let mut decided: Vec<&NodeDecision> =
        plan.decisions.iter().filter(|d| d.group == group).collect();
    decided.sort_by_key(|d| !matches!(d.verdict, Verdict::Remove { .. }));
    nodes.extend(decided.into_iter().map(|d| {
        let (action, reason, message) = match &d.verdict {
            Verdict::Remove { empty, moves } => (
                "Remove".to_string(),
                if *empty { "Empty" } else { "Underutilized" }.to_string(),
                if *empty {
                    "no pod to move: deleting".to_string()
                } else {
                    format!(
                        "underutilized; its {} pod(s) fit elsewhere: {}",
                        moves.len(),
                        moves
                            .iter()
                            .take(10)
                            .map(|(p, n)| format!("{p} -> {n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            ),
            Verdict::Keep(why) => ("Keep".to_string(), why.code().to_string(), why.to_string()),
        };
        NodeScaleDown {
            node: d.node.clone(),
            action,
            reason,
            message,
            cpu_percent: Some(d.cpu_percent.round() as i64),
            memory_percent: Some(d.memory_percent.round() as i64),
        }
    }));
    let truncated = nodes.len().saturating_sub(REPORT_NODES);
    nodes.truncate(REPORT_NODES);
    let consolidation = plan
        .consolidations
        .iter()
        .find(|c| c.group == group)
        .map(|c| {
            format!(
                "{} underutilized node(s) ({}) cost {:.4}/h; one {} ({:.4}/h) could hold their pods",
                c.nodes.len(),
                c.nodes.join(", "),
                c.current_hourly,
                c.offering,
                c.offering_hourly
            )
        });
    ScaleDownReport {
        at: now,
        nodes,
        truncated,
        consolidation,
        blocked: None,
    }
}

/// Runs rounds forever.
pub async fn run(ctx: Arc<Context>, stores: Stores) {
    let mut unneeded = BTreeMap::new();
    let mut last = None;
    loop {
        tokio::time::sleep(ctx.real(ctx.config.scale_down_interval)).await;
        let started = Instant::now();
        let result = run_round(&ctx, &stores, &mut unneeded, &mut last).await;
        ctx.metrics.observe_reconcile(
            "scaledown",
            started.elapsed().as_secs_f64(),
            result.is_err(),
        );
        if let Err(e) = result {
            tracing::warn!(error = %e, "scale-down round failed; trying again next round");
        }
    }
}

/// A round, longest: one that reads the same inputs as the last is evaluated again after this
/// much time anyway, against an input [`changed_input`] would not see.
pub const LONGEST_SKIP: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// What the last evaluated round read, when it decided nothing to do, and until when a round
/// over the same inputs decides the same.
#[derive(Debug, Clone)]
pub struct LastRound {
    /// [`CacheChanges::read`](crate::scaleup::CacheChanges::read) before the caches were read.
    pub changes: [u64; 6],
    /// The VPSieNodes the round read, those created but not yet in the cache included.
    pub vpsienodes: Vec<Arc<VPSieNode>>,
    /// Each group's usable offerings (offerings backed off leave them).
    pub offerings: BTreeMap<String, Vec<OfferingFacts>>,
    /// The catalogue.
    pub facts: BTreeMap<String, OfferingFacts>,
    /// The earliest instant a decision could change with the same inputs ([`next_change`]).
    pub until: DateTime<Utc>,
}

/// Whether a round at `now` would read what `last` read and decide what it decided, so it may
/// be skipped (pure): no cache applied an event, the VPSieNodes (those created but not yet
/// cached included) are the same objects, the offerings are the same, and no time limit of the
/// last round's decisions has been reached. (The breaker is checked before: an open breaker
/// forgets the last round.) Returns `None` then; else the first input that differs, in words.
pub fn changed_input(
    last: &LastRound,
    changes: [u64; 6],
    vpsienodes: &[Arc<VPSieNode>],
    offerings: &BTreeMap<String, Vec<OfferingFacts>>,
    facts: &BTreeMap<String, OfferingFacts>,
    now: DateTime<Utc>,
) -> Option<&'static str> {
    const CACHES: [&str; 6] = [
        "the pod cache",
        "the node cache",
        "the DaemonSet cache",
        "the NodeGroup cache",
        "the VPSieNode cache",
        "the PodDisruptionBudget cache",
    ];
    if now >= last.until {
        return Some("a time limit of the last round's decisions");
    }
    if let Some(i) = (0..6).find(|&i| last.changes[i] != changes[i]) {
        return Some(CACHES[i]);
    }
    if last.vpsienodes.len() != vpsienodes.len()
        || !last
            .vpsienodes
            .iter()
            .zip(vpsienodes)
            .all(|(a, b)| Arc::ptr_eq(a, b))
    {
        return Some("the VPSieNodes written but not yet cached");
    }
    if &last.offerings != offerings || &last.facts != facts {
        return Some("the offerings");
    }
    None
}

/// The earliest instant after `now` at which a round over the same inputs could decide
/// otherwise (pure): when a node's unneeded clock, or the wait after its failed drain, reaches
/// `unneededTime`, or a group's scale-down or scale-up (headroom) stabilization window ends.
/// `collected` is the round's, with the unneeded clocks it set ([`round`]). At most
/// [`LONGEST_SKIP`] after `now`.
///
/// A window that cannot change a decision is not waited for: the scale-down window of a group
/// with scale-down off or paused, or with no node unneeded or after a failed drain (a node
/// becomes unneeded only by what the caches show), and the scale-up window of a group whose
/// headroom is off (`scaleUpPolicy` disabled, or both thresholds 0). So a cluster at rest
/// after a burst does not evaluate a round each time one of its groups' windows ends.
pub fn next_change(
    collected: &Collected,
    groups: &[Arc<NodeGroup>],
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let policies: BTreeMap<&str, &GroupPolicy> = collected
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g))
        .collect();
    let nodes = collected.nodes.iter().flat_map(|n| {
        let wait = policies.get(n.group.as_str()).map(|p| p.unneeded_time);
        [n.unneeded_since, n.drain_failed_at]
            .into_iter()
            .flatten()
            .filter_map(move |t| wait.map(|w| t + w))
    });
    let waiting: std::collections::HashSet<&str> = collected
        .nodes
        .iter()
        .filter(|n| n.unneeded_since.is_some() || n.drain_failed_at.is_some())
        .map(|n| n.group.as_str())
        .collect();
    let down = collected
        .groups
        .iter()
        .filter(|g| g.enabled && !g.paused && waiting.contains(g.name.as_str()))
        .filter_map(|g| g.last_scale_time.map(|t| t + g.stabilization_window));
    let up = groups.iter().filter_map(|g| {
        let policy = &g.spec.scale_up_policy;
        if !policy.enabled || (policy.cpu_threshold <= 0 && policy.memory_threshold <= 0) {
            return None;
        }
        let last = g.status.as_ref()?.last_scale_time.as_ref()?;
        Some(
            chrono_time(last)
                + chrono::Duration::seconds(i64::from(policy.stabilization_window_seconds)),
        )
    });
    nodes
        .chain(down)
        .chain(up)
        .filter(|t| *t > now)
        .fold(now + LONGEST_SKIP, DateTime::min)
}

fn snapshot(
    stores: &Stores,
    groups: Vec<Arc<NodeGroup>>,
    vpsienodes: Vec<Arc<VPSieNode>>,
) -> Snapshot {
    Snapshot {
        groups,
        vpsienodes,
        nodes: stores.nodes.state(),
        pods: stores.pods.state(),
        pdbs: stores.pdbs.state(),
        daemonsets: stores.daemonsets.state(),
    }
}

/// One round: collect, evaluate, act; or nothing, when it would read what the last round read
/// and that round decided nothing to do ([`changed_input`]). `last` is that round's memory.
pub async fn run_round(
    ctx: &Context,
    stores: &Stores,
    unneeded: &mut BTreeMap<String, DateTime<Utc>>,
    last: &mut Option<LastRound>,
) -> Result<Option<ScaleDownPlan>> {
    // headroom adds nodes: the records it counts and the ones it creates are read and written
    // under the lock scale-up and minNodes take
    let decide = ctx.scale_lock.lock().await;
    // the counts first: an event applied after this read shows in the next round's counts
    let changes = stores.changes.read();
    let vpsienodes = ctx.with_recent(stores.vpsienodes.state());
    let now = ctx.now();
    let breaker = ctx.cloud.breaker_snapshot();
    let previous = last.take();
    if breaker.state == BreakerState::Open {
        // deleting needs the cloud: drain nothing that could not be deleted
        for g in &stores.groups.state() {
            ctx.board.record_scale_down(
                &g.name_any(),
                ScaleDownReport {
                    at: now,
                    blocked: Some(format!(
                        "VPSie API circuit breaker open since {}: no node is removed until it closes",
                        breaker.since.to_rfc3339()
                    )),
                    ..ScaleDownReport::default()
                },
            );
        }
        return Ok(None);
    }
    // Prices and offerings come from the catalogue; without it, prices are unknown (0), which
    // only changes the order nodes are tried in.
    let catalogue = ctx.offerings().await.unwrap_or_default();
    let facts: BTreeMap<String, OfferingFacts> = catalogue
        .iter()
        .filter_map(crate::scaleup::offering_facts)
        .map(|o| (o.id.clone(), o))
        .collect();
    let groups = stores.groups.state();
    let offerings: BTreeMap<String, Vec<OfferingFacts>> = groups
        .iter()
        .map(|g| (g.name_any(), group_offerings(ctx, g, &catalogue)))
        .collect();
    if let Some(previous) = previous {
        match changed_input(&previous, changes, &vpsienodes, &offerings, &facts, now) {
            None => {
                *last = Some(previous);
                return Ok(None);
            }
            Some(what) => tracing::debug!(changed = what, "scale-down round: inputs changed"),
        }
    }
    let snap = snapshot(stores, groups, vpsienodes);
    let prices: BTreeMap<String, f64> = facts
        .iter()
        .map(|(id, o)| (id.clone(), o.hourly_price))
        .collect();
    let collected = collect(&snap, &offerings, &prices, unneeded);
    // headroom first: what it adds is on its way, and scale-down never removes what it would
    // add back (the scale-up thresholds are part of each group's policy)
    let added = crate::headroom::act(
        ctx,
        &snap.groups,
        &snap.vpsienodes,
        &snap.daemonsets,
        &collected,
        &offerings,
        &facts,
    )
    .await?;
    drop(decide);
    let options = ScaleDownOptions {
        max_nonempty_per_round: ctx.config.max_drain_parallelism,
        evict_bare_pods: ctx.config.evict_bare_pods,
    };
    let (collected, tracked, plan) = round(collected, unneeded, now, &options);
    *unneeded = tracked;
    act(ctx, &snap, &collected, &plan, now).await?;
    // a round that decided something is followed by a full one (the records it changed, or in a
    // dry run its decision again)
    if added == 0 && plan.removals().next().is_none() {
        *last = Some(LastRound {
            changes,
            until: next_change(&collected, &snap.groups, now),
            vpsienodes: snap.vpsienodes,
            offerings,
            facts,
        });
    }
    Ok(Some(plan))
}

async fn act(
    ctx: &Context,
    snap: &Snapshot,
    collected: &Collected,
    plan: &ScaleDownPlan,
    now: DateTime<Utc>,
) -> Result<()> {
    for group in &snap.groups {
        let name = group.name_any();
        let unneeded = collected
            .nodes
            .iter()
            .filter(|n| n.group == name && n.unneeded_since.is_some())
            .count();
        ctx.metrics.set_unneeded(&name, unneeded as i64);
        ctx.board
            .record_scale_down(&name, group_report(&name, plan, collected, now));
        let removals: Vec<&NodeDecision> = plan.removals().filter(|d| d.group == name).collect();
        if removals.is_empty() {
            continue;
        }
        let names: Vec<&str> = removals.iter().map(|d| d.node.as_str()).collect();
        let moving: usize = removals
            .iter()
            .map(|d| match &d.verdict {
                Verdict::Remove { moves, .. } => moves.len(),
                Verdict::Keep(_) => 0,
            })
            .sum();
        let message = format!(
            "Scaling down by {} node(s) ({}): underutilized for unneededTime; {moving} pod(s) move to other nodes",
            removals.len(),
            names.join(", ")
        );
        let details: Vec<String> = removals
            .iter()
            .flat_map(|d| match &d.verdict {
                Verdict::Remove { moves, .. } if moves.is_empty() => {
                    vec![format!("{}: empty", d.node)]
                }
                Verdict::Remove { moves, .. } => moves
                    .iter()
                    .map(|(p, to)| format!("{}: {p} -> {to}", d.node))
                    .collect(),
                Verdict::Keep(_) => Vec::new(),
            })
            .take(20)
            .collect();
        if ctx.config.dry_run {
            ctx.decide(
                &name,
                DecisionAction::ScaleDown,
                "Underutilized",
                format!("dry run: {message}"),
                details,
            );
            continue;
        }
        let ns = group
            .namespace()
            .unwrap_or_else(|| ctx.config.namespace.clone());
        let vn_api: Api<VPSieNode> = Api::namespaced(ctx.kube.clone(), &ns);
        let mut started = Vec::new();
        for d in &removals {
            let Some((record, version)) = collected.records.get(&d.node) else {
                continue;
            };
            let Some(vn) = snap.vpsienodes.iter().find(|v| &v.name_any() == record) else {
                continue;
            };
            if start_termination(ctx, &vn_api, vn, version.as_deref(), d, now).await? {
                started.push(d.node.clone());
            }
        }
        if started.is_empty() {
            continue;
        }
        ctx.record_scale(
            group,
            EventReason::ScalingDown,
            DecisionAction::ScaleDown,
            "Underutilized",
            message,
            details,
        )
        .await?;
    }
    Ok(())
}

/// Marks a record `Terminating` (its drain begins), unless it changed since the round read it
/// (409: the next round looks again). Returns whether it was marked.
async fn start_termination(
    ctx: &Context,
    api: &Api<VPSieNode>,
    vn: &VPSieNode,
    version: Option<&str>,
    decision: &NodeDecision,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut status = vn.status.clone().unwrap_or_default();
    status.phase = VPSieNodePhase::Terminating;
    status.terminating_at = Some(k8s_time(now));
    status.last_error = None;
    if status.condition(VPSieNodeCondition::ERROR).is_some() {
        status.set_condition(VPSieNodeCondition::new(
            VPSieNodeCondition::ERROR,
            ConditionStatus::False,
            "Draining",
            "drain begun",
            k8s_time(now),
        ));
    }
    let mut patch = json!({"status": status});
    if let Some(v) = version {
        patch["metadata"] = json!({"resourceVersion": v});
    }
    match api
        .patch_status(
            &vn.name_any(),
            &PatchParams::default(),
            &Patch::Merge(patch),
        )
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let pods = match &decision.verdict {
        Verdict::Remove { moves, .. } => moves.len(),
        Verdict::Keep(_) => 0,
    };
    let message = format!(
        "Node {} is underutilized (cpu {:.0}%, memory {:.0}% requested): draining {pods} pod(s), then deleting VPS {}",
        decision.node, decision.cpu_percent, decision.memory_percent, vn.spec.vpsie_instance_id
    );
    ctx.recorder
        .publish(vn, EventReason::Terminating, &message, now)
        .await;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selectors_read_like_policy_v1() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        assert!(!selects(None, &l), "a null selector selects nothing");
        assert!(selects(Some(&LabelSelector::default()), &l));
        let by_label = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            ..LabelSelector::default()
        };
        assert!(selects(Some(&by_label), &l));
        assert!(!selects(Some(&by_label), &labels(&[("app", "db")])));
        let expr = |op: &str, values: &[&str]| LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: op.into(),
                values: Some(values.iter().map(|v| v.to_string()).collect()),
            }]),
            ..LabelSelector::default()
        };
        assert!(selects(Some(&expr("In", &["front", "back"])), &l));
        assert!(!selects(Some(&expr("NotIn", &["front"])), &l));
        assert!(selects(Some(&expr("Exists", &[])), &l));
        assert!(!selects(Some(&expr("DoesNotExist", &[])), &l));
        assert!(!selects(Some(&expr("Bogus", &[])), &l));
    }
}

#[cfg(test)]
mod round_tests {
    use super::*;
    use serde_json::{json, Value};
    use vpsie_autoscaler::scaling::scaledown::KeepReason;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn from<T: serde::de::DeserializeOwned>(v: Value) -> Arc<T> {
        Arc::new(serde_json::from_value(v).unwrap())
    }

    fn group(name: &str, min: i32, annotations: Value) -> Arc<NodeGroup> {
        from(json!({
            "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
            "metadata": {"name": name, "namespace": "kube-system", "annotations": annotations},
            "spec": {"minNodes": min, "maxNodes": 10, "datacenterID": "dc-us-east-1",
                "offeringIDs": ["medium-4cpu-8gb"], "osImageID": "ubuntu-22.04-lts",
                "scaleDownPolicy": {"unneededTime": 60, "stabilizationWindowSeconds": 60}},
            "status": {"lastScaleTime": "2027-01-15T00:00:00Z"}
        }))
    }

    fn record(name: &str, group: &str, phase: &str, annotations: Value) -> Arc<VPSieNode> {
        from(json!({
            "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "VPSieNode",
            "metadata": {"name": name, "namespace": "kube-system", "resourceVersion": "7",
                "annotations": annotations},
            "spec": {"vpsieInstanceID": 1, "instanceType": "medium-4cpu-8gb",
                "nodeGroupName": group, "datacenterID": "dc-us-east-1"},
            "status": {"phase": phase}
        }))
    }

    fn node(name: &str, annotations: Value) -> Arc<Node> {
        from(json!({
            "metadata": {"name": name, "annotations": annotations},
            "status": {"allocatable": {"cpu": "3900m", "memory": "7Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}]}
        }))
    }

    fn pod(name: &str, node: &str, cpu: &str, meta: Value) -> Arc<CachedPod> {
        let mut metadata = json!({"name": name, "namespace": "default", "labels": {"app": name}});
        if let (Some(m), Some(extra)) = (metadata.as_object_mut(), meta.as_object()) {
            for (k, v) in extra {
                m.insert(k.clone(), v.clone());
            }
        }
        from(json!({
            "metadata": metadata,
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i",
                "resources": {"requests": {"cpu": cpu, "memory": "256Mi"}}}]},
            "status": {"phase": "Running"}
        }))
    }

    fn owned() -> Value {
        json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
            "uid": "u", "controller": true}]})
    }

    fn verdict<'a>(plan: &'a ScaleDownPlan, node: &str) -> &'a Verdict {
        &plan
            .decisions
            .iter()
            .find(|d| d.node == node)
            .unwrap()
            .verdict
    }

    #[test]
    fn a_round_reads_the_caches_and_explains_every_node() {
        let mut safe_false = owned();
        safe_false["annotations"] =
            json!({"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"});
        let snap = Snapshot {
            groups: vec![
                group("web", 1, json!({})),
                group("held", 0, json!({"autoscaler.vpsie.com/pause": "true"})),
            ],
            vpsienodes: vec![
                record("web-a", "web", "Ready", json!({})),
                record("web-b", "web", "Ready", json!({})),
                record("web-c", "web", "Ready", json!({})),
                record(
                    "web-d",
                    "web",
                    "Ready",
                    json!({"autoscaler.vpsie.com/do-not-delete": "true"}),
                ),
                record("web-e", "web", "Terminating", json!({})),
                record("held-a", "held", "Ready", json!({})),
            ],
            nodes: vec![
                node("web-a", json!({})),
                node("web-b", json!({})),
                node("web-c", json!({})),
                node("web-d", json!({})),
                node("web-e", json!({})),
                node("held-a", json!({})),
                node("other", json!({})),
            ],
            pods: vec![
                pod("mover", "web-a", "500m", owned()),
                pod("pinned", "web-b", "500m", safe_false),
                pod("lonely", "web-c", "500m", json!({})),
                pod("busy", "other", "1", owned()),
            ],
            pdbs: Vec::new(),
            daemonsets: Vec::new(),
        };
        let collected = collect(&snap, &BTreeMap::new(), &BTreeMap::new(), &BTreeMap::new());
        assert_eq!(
            collected.nodes.len(),
            5,
            "the Terminating node is no candidate"
        );
        assert_eq!(collected.others.len(), 2, "web-e and other receive pods");
        assert_eq!(
            collected.leaving["web"],
            vec![("web-e".to_string(), VPSieNodePhase::Terminating)]
        );
        let web = collected.groups.iter().find(|g| g.name == "web").unwrap();
        assert_eq!(
            web.current_nodes, 4,
            "a node being drained does not count for the minimum"
        );

        // first round: every underutilized node starts its unneeded clock
        let now = t(0);
        let opts = ScaleDownOptions {
            max_nonempty_per_round: 1,
            evict_bare_pods: false,
        };
        let (_, tracked, plan) = round(collected, &BTreeMap::new(), now, &opts);
        assert_eq!(tracked.len(), 5, "{tracked:?}");
        assert!(matches!(
            verdict(&plan, "web-a"),
            Verdict::Keep(KeepReason::NotUnneededLongEnough { .. })
        ));

        // past unneededTime (and the window): the safety rules decide
        let later = t(120);
        let collected = collect(&snap, &BTreeMap::new(), &BTreeMap::new(), &tracked);
        let (collected, _, plan) = round(collected, &tracked, later, &opts);
        assert_eq!(
            verdict(&plan, "web-d"),
            &Verdict::Keep(KeepReason::DoNotDelete)
        );
        assert_eq!(verdict(&plan, "held-a"), &Verdict::Keep(KeepReason::Paused));
        assert!(
            matches!(verdict(&plan, "web-b"), Verdict::Keep(KeepReason::NotSafeToEvict { pod }) if pod == "default/pinned")
        );
        assert!(
            matches!(verdict(&plan, "web-c"), Verdict::Keep(KeepReason::BarePod { pod }) if pod == "default/lonely")
        );
        // one node with pods per round, and web-e's drain already uses that budget
        assert!(matches!(
            verdict(&plan, "web-a"),
            Verdict::Keep(KeepReason::RoundLimit)
        ));

        let report = group_report("web", &plan, &collected, later);
        assert_eq!(report.nodes[0].node, "web-e");
        assert_eq!(report.nodes[0].action, "Terminating");
        let d = report.nodes.iter().find(|n| n.node == "web-d").unwrap();
        assert_eq!(
            (d.action.as_str(), d.reason.as_str()),
            ("Keep", "DoNotDelete")
        );

        // with room for two drains, the movable node goes and says where its pod goes
        let opts = ScaleDownOptions {
            max_nonempty_per_round: 2,
            evict_bare_pods: false,
        };
        let collected = collect(&snap, &BTreeMap::new(), &BTreeMap::new(), &tracked);
        let (collected, _, plan) = round(collected, &tracked, later, &opts);
        match verdict(&plan, "web-a") {
            Verdict::Remove {
                empty: false,
                moves,
            } => assert_eq!(moves.len(), 1),
            v => panic!("{v:?}"),
        }
        let report = group_report("web", &plan, &collected, later);
        let a = report.nodes.iter().find(|n| n.node == "web-a").unwrap();
        assert_eq!(a.action, "Remove");
        assert!(a.message.contains("default/mover ->"), "{}", a.message);
        assert_eq!(
            collected.records["web-a"],
            ("web-a".to_string(), Some("7".to_string()))
        );
    }

    #[test]
    fn budgets_and_malformed_annotations_keep_nodes() {
        let pdb: Arc<PodDisruptionBudget> = from(json!({
            "metadata": {"name": "mover", "namespace": "default"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "mover"}}},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}
        }));
        let snap = Snapshot {
            groups: vec![group("web", 0, json!({}))],
            vpsienodes: vec![
                record("web-a", "web", "Ready", json!({})),
                record(
                    "web-b",
                    "web",
                    "Ready",
                    json!({"autoscaler.vpsie.com/do-not-delete": "yes please"}),
                ),
            ],
            nodes: vec![
                node("web-a", json!({})),
                node("web-b", json!({})),
                node("other", json!({})),
            ],
            pods: vec![pod("mover", "web-a", "500m", owned())],
            pdbs: vec![pdb],
            daemonsets: Vec::new(),
        };
        let unneeded = BTreeMap::from([("web-a".to_string(), t(0)), ("web-b".to_string(), t(0))]);
        let collected = collect(&snap, &BTreeMap::new(), &BTreeMap::new(), &unneeded);
        assert_eq!(collected.pdb_allowed["default/mover"], 0);
        let (_, _, plan) = round(collected, &unneeded, t(120), &ScaleDownOptions::default());
        assert!(
            matches!(verdict(&plan, "web-a"), Verdict::Keep(KeepReason::DisruptionBudget { pdb, .. }) if pdb == "default/mover")
        );
        assert_eq!(
            verdict(&plan, "web-b"),
            &Verdict::Keep(KeepReason::DoNotDelete)
        );
    }

    fn timed_group(name: &str, last_scale: i64, up_window: i64) -> Arc<NodeGroup> {
        from(json!({
            "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
            "metadata": {"name": name, "namespace": "kube-system"},
            "spec": {"minNodes": 0, "maxNodes": 10, "datacenterID": "dc-us-east-1",
                "offeringIDs": ["medium-4cpu-8gb"], "osImageID": "ubuntu-22.04-lts",
                "scaleDownPolicy": {"unneededTime": 60, "stabilizationWindowSeconds": 60},
                "scaleUpPolicy": {"stabilizationWindowSeconds": up_window}},
            "status": {"lastScaleTime": t(last_scale).to_rfc3339()}
        }))
    }

    fn medium() -> BTreeMap<String, OfferingFacts> {
        let allocatable = NodeFacts::from_node(&node("probe", json!({})))
            .unwrap()
            .allocatable;
        BTreeMap::from([(
            "medium-4cpu-8gb".to_string(),
            OfferingFacts {
                id: "medium-4cpu-8gb".into(),
                allocatable,
                hourly_price: 0.05,
            },
        )])
    }

    /// Rounds every 5 s from 0 to `end` over the caches `at(s)` gives (with their change
    /// counts), as [`run_round`] runs them: each is evaluated even when [`changed_input`] lets it
    /// be skipped, and a skipped one must decide what the last evaluated one decided (scale-down
    /// plan, headroom, unneeded clocks). Returns the seconds evaluated, the first at which a
    /// round acts (removes or adds nodes), and the unneeded clocks then.
    fn replay(
        at: impl Fn(i64) -> (Snapshot, [u64; 6]),
        end: i64,
    ) -> (Vec<i64>, Option<i64>, BTreeMap<String, DateTime<Utc>>) {
        let facts = medium();
        let opts = ScaleDownOptions {
            max_nonempty_per_round: 5,
            evict_bare_pods: false,
        };
        let prices = BTreeMap::from([("medium-4cpu-8gb".to_string(), 0.05)]);
        let mut unneeded = BTreeMap::new();
        let mut last = None;
        let mut evaluated = Vec::new();
        for s in (0..=end).step_by(5) {
            let now = t(s);
            let (snap, changes) = at(s);
            let offerings: BTreeMap<String, Vec<OfferingFacts>> = snap
                .groups
                .iter()
                .map(|g| (g.name_any(), facts.values().cloned().collect()))
                .collect();
            let collected = collect(&snap, &offerings, &prices, &unneeded);
            let headroom: Vec<_> = snap
                .groups
                .iter()
                .map(|g| {
                    crate::headroom::plan(
                        g,
                        &snap.vpsienodes,
                        &collected,
                        &offerings[&g.name_any()],
                        &facts,
                        Resources::default(),
                        now,
                    )
                })
                .collect();
            let (collected, tracked, plan) = round(collected, &unneeded, now, &opts);
            if let Some((memo, p, h)) = &last {
                if changed_input(memo, changes, &snap.vpsienodes, &offerings, &facts, now).is_none()
                {
                    assert_eq!(
                        (&plan, &headroom, &tracked),
                        (p, h, &unneeded),
                        "the round skipped at {s} s decides otherwise"
                    );
                    continue;
                }
            }
            evaluated.push(s);
            unneeded = tracked;
            if plan.removals().next().is_some() || headroom.iter().any(Option::is_some) {
                return (evaluated, Some(s), unneeded);
            }
            let memo = LastRound {
                changes,
                until: next_change(&collected, &snap.groups, now),
                vpsienodes: snap.vpsienodes.clone(),
                offerings,
                facts: facts.clone(),
            };
            last = Some((memo, plan, headroom));
        }
        (evaluated, None, unneeded)
    }

    #[test]
    fn a_skipped_round_misses_no_window_and_no_cache_change() {
        // web-a (a pod to move) and web-b (empty) unneeded from 0 s for 60 s; web-c's drain
        // failed at 10 s (it waits until 70 s); the group scaled at 20 s (window until 80 s).
        // From 30 s to 45 s a busy pod sits on web-b: its clock stops, and starts again at 45 s.
        let mut failed = record("web-c", "web", "Ready", json!({}));
        Arc::make_mut(&mut failed)
            .status
            .as_mut()
            .unwrap()
            .conditions = vec![VPSieNodeCondition::new(
            VPSieNodeCondition::ERROR,
            ConditionStatus::True,
            EventReason::DrainFailed.as_str(),
            "pods would not leave",
            k8s_time(t(10)),
        )];
        let base = Snapshot {
            groups: vec![timed_group("web", 20, 60)],
            vpsienodes: vec![
                record("web-a", "web", "Ready", json!({})),
                record("web-b", "web", "Ready", json!({})),
                failed,
            ],
            nodes: ["web-a", "web-b", "web-c", "other"]
                .map(|n| node(n, json!({})))
                .to_vec(),
            pods: vec![
                pod("mover", "web-a", "500m", owned()),
                pod("busy", "other", "1", owned()),
            ],
            pdbs: Vec::new(),
            daemonsets: Vec::new(),
        };
        let burst = pod("burst", "web-b", "3", owned());
        let at = |s: i64| {
            let mut snap = base.clone();
            // the cache's count moves with each event: the pod added at 30 s, deleted at 45 s
            let events = match s {
                ..30 => 0,
                30..45 => {
                    snap.pods.push(burst.clone());
                    1
                }
                _ => 2,
            };
            (snap, [events, 0, 0, 0, 0, 0])
        };
        let (evaluated, acted, unneeded) = replay(at, 300);
        // 0: clocks start; 30, 45: the pod; 60: unneededTime; 70: drain wait; 80: window
        assert_eq!(evaluated, vec![0, 30, 45, 60, 70, 80], "{evaluated:?}");
        assert_eq!(
            acted,
            Some(80),
            "web-a and web-c go as soon as the window ends"
        );
        assert_eq!(unneeded.get("web-b"), Some(&t(45)));

        // the same records, one of them a new object (created, not yet in the cache): evaluated
        let (snap, changes) = at(100);
        let mut copied = snap.vpsienodes.clone();
        copied[0] = Arc::new(copied[0].as_ref().clone());
        let facts = medium();
        let offerings = BTreeMap::from([("web".to_string(), facts.values().cloned().collect())]);
        let memo = LastRound {
            changes,
            vpsienodes: snap.vpsienodes.clone(),
            offerings: offerings.clone(),
            facts: facts.clone(),
            until: t(1000),
        };
        let changed = |vpsienodes: &[Arc<VPSieNode>],
                       offerings: &BTreeMap<String, Vec<OfferingFacts>>,
                       changes: [u64; 6],
                       now: DateTime<Utc>| {
            changed_input(&memo, changes, vpsienodes, offerings, &facts, now)
        };
        assert_eq!(changed(&snap.vpsienodes, &offerings, changes, t(100)), None);
        assert_eq!(
            changed(&copied, &offerings, changes, t(100)),
            Some("the VPSieNodes written but not yet cached")
        );
        assert_eq!(
            changed(&snap.vpsienodes, &BTreeMap::new(), changes, t(100)),
            Some("the offerings")
        );
        assert_eq!(
            changed(&snap.vpsienodes, &offerings, changes, t(1000)),
            Some("a time limit of the last round's decisions")
        );
        let mut nodes_moved = changes;
        nodes_moved[1] += 1;
        assert_eq!(
            changed(&snap.vpsienodes, &offerings, nodes_moved, t(100)),
            Some("the node cache")
        );
    }

    #[test]
    fn a_skipped_round_misses_no_headroom_window() {
        // hot-a is 90% requested: headroom adds a node once the scale-up window (from 0 s, 100 s
        // long) ends, though nothing else changes
        let snap = Snapshot {
            groups: vec![timed_group("hot", 0, 100)],
            vpsienodes: vec![record("hot-a", "hot", "Ready", json!({}))],
            nodes: vec![node("hot-a", json!({}))],
            pods: vec![pod("big", "hot-a", "3500m", owned())],
            pdbs: Vec::new(),
            daemonsets: Vec::new(),
        };
        let (evaluated, acted, _) = replay(|_| (snap.clone(), [0; 6]), 300);
        // the scale-down window (until 60 s) is not waited for: no node is unneeded
        assert_eq!(evaluated, vec![0, 100]);
        assert_eq!(acted, Some(100));
    }

    #[test]
    fn windows_that_decide_nothing_are_not_waited_for() {
        // a group as the bench has them: headroom off (thresholds 0), scale-down off, its
        // windows ending at 60 s and 100 s; full nodes. Nothing can change until the caches do.
        let mut group = timed_group("full", 0, 100);
        {
            let g = Arc::make_mut(&mut group);
            g.spec.scale_up_policy.cpu_threshold = 0;
            g.spec.scale_up_policy.memory_threshold = 0;
            g.spec.scale_down_policy.enabled = false;
        }
        let snap = Snapshot {
            groups: vec![group.clone()],
            vpsienodes: vec![record("full-a", "full", "Ready", json!({}))],
            nodes: vec![node("full-a", json!({}))],
            pods: vec![pod("big", "full-a", "3500m", owned())],
            pdbs: Vec::new(),
            daemonsets: Vec::new(),
        };
        let (evaluated, acted, _) = replay(|_| (snap.clone(), [0; 6]), 400);
        assert_eq!(evaluated, vec![0, 300], "only the longest skip");
        assert_eq!(acted, None);

        // scale-down on, an empty node: its unneeded clock (60 s) and then the window count
        let mut group = timed_group("idle", 30, 100);
        {
            let g = Arc::make_mut(&mut group);
            g.spec.scale_up_policy.cpu_threshold = 0;
            g.spec.scale_up_policy.memory_threshold = 0;
            g.spec.scale_down_policy.stabilization_window_seconds = 90;
        }
        let snap = Snapshot {
            groups: vec![group],
            vpsienodes: vec![
                record("idle-a", "idle", "Ready", json!({})),
                record("idle-b", "idle", "Ready", json!({})),
            ],
            nodes: vec![node("idle-a", json!({})), node("idle-b", json!({}))],
            pods: vec![pod("big", "idle-a", "3500m", owned())],
            pdbs: Vec::new(),
            daemonsets: Vec::new(),
        };
        let (evaluated, acted, _) = replay(|_| (snap.clone(), [0; 6]), 400);
        // 60: idle-b unneeded long enough, the window (30 + 90) still on; 120: it ends
        assert_eq!(evaluated, vec![0, 60, 120]);
        assert_eq!(acted, Some(120));
    }
}
