//! Scale-down: which nodes are unneeded and may be removed now — a pure function.
//!
//! A node is a candidate when the pods that could move off it (not DaemonSet, not mirror pods)
//! request less than the group's `scaleDownPolicy` thresholds of its allocatable cpu AND memory,
//! continuously for `unneededTime`, and the group's stabilization window since its last scale
//! action has passed. Candidates are tried most expensive and least utilized first; each one is
//! removed only when every pod that must move fits on the nodes that remain (the same filters as
//! the scheduler, counting the pods already moved by earlier removals of the round), when no
//! PodDisruptionBudget would be exceeded, and never below the group's minimum. Empty nodes go in
//! bulk; nodes with pods a few per round. Every node kept gets its reason.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::fit::{check, NodeFacts, PodRequirements, Resources, Unfit};
use super::headroom::exceeds_after_removal;

/// What kind of pod, for draining.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodKind {
    /// Owned by a DaemonSet: stays with the node, ignored.
    DaemonSet,
    /// A static (mirror) pod: stays with the node, ignored.
    Mirror,
    /// Owned by a controller that recreates it elsewhere.
    Controlled,
    /// No controller: evicting it loses it.
    Bare,
}

/// A pod bound to a node.
#[derive(Debug, Clone, PartialEq)]
pub struct PodOnNode {
    /// `namespace/name`.
    pub key: String,
    /// Scheduling requirements (shared: replicas have the same, and the reconciler's pod cache
    /// holds them already).
    pub requirements: Arc<PodRequirements>,
    /// DaemonSet, mirror, controlled or bare.
    pub kind: PodKind,
    /// The `cluster-autoscaler.kubernetes.io/safe-to-evict` annotation, when it parses.
    pub safe_to_evict: Option<bool>,
    /// Names (`namespace/name`) of the PodDisruptionBudgets that select it.
    pub pdbs: Vec<String>,
}

impl PodOnNode {
    fn moves(&self) -> bool {
        matches!(self.kind, PodKind::Controlled | PodKind::Bare)
    }
}

/// A node of a NodeGroup, as scale-down sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeState {
    /// The node (allocatable, labels, taints, readiness).
    pub facts: NodeFacts,
    /// Its NodeGroup.
    pub group: String,
    /// Its pods.
    pub pods: Vec<PodOnNode>,
    /// `autoscaler.vpsie.com/do-not-delete: "true"` on the Node or its VPSieNode.
    pub do_not_delete: bool,
    /// Since when it has been underutilized without a break (kept by the caller, see
    /// [`track_unneeded`]).
    pub unneeded_since: Option<DateTime<Utc>>,
    /// Its offering's hourly price.
    pub hourly_price: f64,
    /// When its last drain failed (timed out or was refused), if it did: it must then be
    /// unneeded for another `unneededTime` before it is tried again.
    pub drain_failed_at: Option<DateTime<Utc>>,
}

/// A node that can receive pods but is not a candidate (another group's, or unmanaged).
#[derive(Debug, Clone, PartialEq)]
pub struct OtherNode {
    /// The node.
    pub facts: NodeFacts,
    /// What its pods request.
    pub used: Resources,
}

/// A NodeGroup's scale-down settings and state.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPolicy {
    /// NodeGroup name.
    pub name: String,
    /// `scaleDownPolicy.enabled`.
    pub enabled: bool,
    /// Paused by annotation.
    pub paused: bool,
    /// cpu threshold, percent of allocatable.
    pub cpu_threshold: i32,
    /// memory threshold, percent of allocatable.
    pub memory_threshold: i32,
    /// `unneededTime`.
    pub unneeded_time: Duration,
    /// `stabilizationWindowSeconds`.
    pub stabilization_window: Duration,
    /// The last scale action of the group.
    pub last_scale_time: Option<DateTime<Utc>>,
    /// Effective minimum (minNodes or its override).
    pub min_nodes: i32,
    /// Nodes the group has now (all phases that count toward its size).
    pub current_nodes: i32,
    /// `scaleUpPolicy.cpuThreshold` (0: off): a removal must not bring the group's requests to
    /// it, or headroom would add the node back.
    pub scale_up_cpu_threshold: i32,
    /// `scaleUpPolicy.memoryThreshold` (0: off).
    pub scale_up_memory_threshold: i32,
}

/// Options of a scale-down round.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleDownOptions {
    /// How many nodes that still have pods may be drained in one round.
    pub max_nonempty_per_round: usize,
    /// Whether pods without a controller may be evicted (their data is lost).
    pub evict_bare_pods: bool,
}

impl Default for ScaleDownOptions {
    fn default() -> Self {
        Self {
            max_nonempty_per_round: 1,
            evict_bare_pods: false,
        }
    }
}

/// Why a node stays.
#[derive(Debug, Clone, PartialEq)]
pub enum KeepReason {
    /// Its group's scale-down is disabled.
    Disabled,
    /// Its group is paused.
    Paused,
    /// It is marked do-not-delete.
    DoNotDelete,
    /// It is not Ready (being provisioned or broken: not scale-down's business).
    NotReady,
    /// Requests are at or above the thresholds.
    Utilized {
        /// cpu requested, percent of allocatable.
        cpu_percent: f64,
        /// memory requested, percent of allocatable.
        memory_percent: f64,
    },
    /// Its last drain failed recently.
    DrainFailed {
        /// When it may be tried again.
        until: DateTime<Utc>,
    },
    /// Underutilized, but not yet for `unneededTime`.
    NotUnneededLongEnough {
        /// When it may go.
        until: DateTime<Utc>,
    },
    /// The group scaled recently.
    StabilizationWindow {
        /// When the window ends.
        until: DateTime<Utc>,
    },
    /// Removing it would go below the group's minimum.
    AtMinimum {
        /// The minimum.
        min: i32,
    },
    /// A pod is annotated safe-to-evict=false.
    NotSafeToEvict {
        /// The pod.
        pod: String,
    },
    /// A pod has no controller (would be lost).
    BarePod {
        /// The pod.
        pod: String,
    },
    /// A pod fits on no remaining node.
    PodCannotMove {
        /// The pod.
        pod: String,
        /// Why, per the scheduler's filters.
        why: String,
    },
    /// Evicting a pod would exceed its PodDisruptionBudget.
    DisruptionBudget {
        /// The pod.
        pod: String,
        /// The budget.
        pdb: String,
    },
    /// Removing it would bring the group's requests to its scale-up thresholds (headroom would
    /// add a node right back).
    WouldExceedScaleUpThreshold {
        /// cpu requested of what would remain, percent.
        cpu_percent: f64,
        /// memory likewise.
        memory_percent: f64,
    },
    /// It receives pods from a node removed in this round.
    ReceivesPods,
    /// The round's limit of non-empty nodes is reached.
    RoundLimit,
}

impl KeepReason {
    /// A machine-readable code, as the status report shows it.
    pub fn code(&self) -> &'static str {
        match self {
            KeepReason::Disabled => "ScaleDownDisabled",
            KeepReason::Paused => "Paused",
            KeepReason::DoNotDelete => "DoNotDelete",
            KeepReason::NotReady => "NotReady",
            KeepReason::Utilized { .. } => "Utilized",
            KeepReason::DrainFailed { .. } => "DrainFailed",
            KeepReason::NotUnneededLongEnough { .. } => "NotUnneededLongEnough",
            KeepReason::StabilizationWindow { .. } => "StabilizationWindow",
            KeepReason::AtMinimum { .. } => "AtMinNodes",
            KeepReason::NotSafeToEvict { .. } => "NotSafeToEvict",
            KeepReason::BarePod { .. } => "BarePod",
            KeepReason::PodCannotMove { .. } => "PodCannotMove",
            KeepReason::DisruptionBudget { .. } => "DisruptionBudget",
            KeepReason::WouldExceedScaleUpThreshold { .. } => "ScaleUpThreshold",
            KeepReason::ReceivesPods => "ReceivesPods",
            KeepReason::RoundLimit => "RoundLimit",
        }
    }
}

impl fmt::Display for KeepReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepReason::Disabled => write!(f, "scale-down disabled (scaleDownPolicy.enabled=false)"),
            KeepReason::Paused => write!(f, "NodeGroup paused (autoscaler.vpsie.com/pause)"),
            KeepReason::DoNotDelete => write!(f, "annotated autoscaler.vpsie.com/do-not-delete=true"),
            KeepReason::NotReady => write!(f, "node not Ready"),
            KeepReason::Utilized {
                cpu_percent,
                memory_percent,
            } => write!(
                f,
                "utilization cpu {cpu_percent:.0}%, memory {memory_percent:.0}%: not below the scale-down thresholds"
            ),
            KeepReason::DrainFailed { until } => write!(
                f,
                "its last drain failed; tried again after unneededTime at {}",
                until.to_rfc3339()
            ),
            KeepReason::NotUnneededLongEnough { until } => {
                write!(f, "underutilized, removable after unneededTime at {}", until.to_rfc3339())
            }
            KeepReason::StabilizationWindow { until } => write!(
                f,
                "stabilization window after the last scale action, until {}",
                until.to_rfc3339()
            ),
            KeepReason::AtMinimum { min } => write!(f, "NodeGroup at its minimum of {min} nodes"),
            KeepReason::NotSafeToEvict { pod } => write!(
                f,
                "pod {pod} is annotated cluster-autoscaler.kubernetes.io/safe-to-evict=false"
            ),
            KeepReason::BarePod { pod } => write!(f, "pod {pod} has no controller and would be lost"),
            KeepReason::PodCannotMove { pod, why } => write!(f, "pod {pod} cannot move: {why}"),
            KeepReason::DisruptionBudget { pod, pdb } => {
                write!(f, "evicting pod {pod} would exceed PodDisruptionBudget {pdb}")
            }
            KeepReason::WouldExceedScaleUpThreshold {
                cpu_percent,
                memory_percent,
            } => write!(
                f,
                "without it the group's requests would be cpu {cpu_percent:.0}%, memory {memory_percent:.0}% of allocatable, at its scaleUpPolicy thresholds (headroom would add a node back)"
            ),
            KeepReason::ReceivesPods => write!(f, "receives pods from a node removed in this round"),
            KeepReason::RoundLimit => write!(f, "waiting: only a few nodes with pods are drained at a time"),
        }
    }
}

/// The verdict on one node.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Drain (when it has pods) and delete it.
    Remove {
        /// Whether it holds no pod that must move.
        empty: bool,
        /// Where each pod that must move would go (pod, node).
        moves: Vec<(String, String)>,
    },
    /// Keep it.
    Keep(KeepReason),
}

/// The decision for one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDecision {
    /// Node name.
    pub node: String,
    /// NodeGroup.
    pub group: String,
    /// cpu requested by pods that would move, percent of allocatable.
    pub cpu_percent: f64,
    /// memory likewise.
    pub memory_percent: f64,
    /// The verdict.
    pub verdict: Verdict,
}

/// A hint that several underutilized nodes of a group could be one cheaper node.
#[derive(Debug, Clone, PartialEq)]
pub struct Consolidation {
    /// NodeGroup.
    pub group: String,
    /// The nodes that could be replaced.
    pub nodes: Vec<String>,
    /// Their summed hourly price.
    pub current_hourly: f64,
    /// The offering that could hold all their pods.
    pub offering: String,
    /// Its hourly price.
    pub offering_hourly: f64,
}

/// The result of a round.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScaleDownPlan {
    /// One decision per group node, in input order.
    pub decisions: Vec<NodeDecision>,
    /// Replacement hints.
    pub consolidations: Vec<Consolidation>,
}

impl ScaleDownPlan {
    /// Names of the nodes to remove.
    pub fn removals(&self) -> impl Iterator<Item = &NodeDecision> {
        self.decisions
            .iter()
            .filter(|d| matches!(d.verdict, Verdict::Remove { .. }))
    }
}

/// What evaluating takes.
#[derive(Debug, Clone, Copy)]
pub struct ScaleDownInput<'a> {
    /// Nodes of NodeGroups.
    pub nodes: &'a [NodeState],
    /// Other nodes that can receive pods.
    pub others: &'a [OtherNode],
    /// Policies by group.
    pub groups: &'a [GroupPolicy],
    /// Disruptions each PodDisruptionBudget allows now (`namespace/name` -> count).
    pub pdb_allowed: &'a BTreeMap<String, i32>,
    /// Now.
    pub now: DateTime<Utc>,
    /// Options.
    pub options: &'a ScaleDownOptions,
    /// Offerings a group may use, for consolidation hints: group -> (id, allocatable, price).
    pub offerings: &'a BTreeMap<String, Vec<(String, Resources, f64)>>,
}

/// Requests of the pods that would move, and the cpu/memory percentages of allocatable.
pub fn utilization(node: &NodeState) -> (Resources, f64, f64) {
    let used = node
        .pods
        .iter()
        .filter(|p| p.moves())
        .fold(Resources::default(), |a, p| a.plus(p.requirements.requests));
    let pct = |u: i64, a: i64| {
        if a <= 0 {
            100.0
        } else {
            u as f64 * 100.0 / a as f64
        }
    };
    (
        used,
        pct(used.cpu_millis, node.facts.allocatable.cpu_millis),
        pct(used.memory_bytes, node.facts.allocatable.memory_bytes),
    )
}

/// Whether a node is below its group's thresholds.
pub fn underutilized(node: &NodeState, policy: &GroupPolicy) -> bool {
    let (_, cpu, mem) = utilization(node);
    cpu < f64::from(policy.cpu_threshold) && mem < f64::from(policy.memory_threshold)
}

/// Updates when each node became underutilized: kept while it stays so, set to `now` when it
/// starts, dropped when it stops (the clock restarts).
pub fn track_unneeded(
    previous: &BTreeMap<String, DateTime<Utc>>,
    underutilized_now: &BTreeSet<String>,
    now: DateTime<Utc>,
) -> BTreeMap<String, DateTime<Utc>> {
    underutilized_now
        .iter()
        .map(|n| (n.clone(), previous.get(n).copied().unwrap_or(now)))
        .collect()
}

/// Decides which nodes go this round.
pub fn evaluate(input: ScaleDownInput<'_>) -> ScaleDownPlan {
    let policies: BTreeMap<&str, &GroupPolicy> =
        input.groups.iter().map(|g| (g.name.as_str(), g)).collect();

    // First pass: the reasons that need no simulation.
    let mut decisions: Vec<NodeDecision> = Vec::with_capacity(input.nodes.len());
    let mut candidates: Vec<usize> = Vec::new();
    for (i, node) in input.nodes.iter().enumerate() {
        let (_, cpu, mem) = utilization(node);
        let verdict = match policies.get(node.group.as_str()) {
            None => Some(KeepReason::Disabled),
            Some(p) => pre_check(node, p, input.now, cpu, mem),
        };
        if verdict.is_none() {
            candidates.push(i);
        }
        decisions.push(NodeDecision {
            node: node.facts.name.clone(),
            group: node.group.clone(),
            cpu_percent: cpu,
            memory_percent: mem,
            verdict: Verdict::Keep(verdict.unwrap_or(KeepReason::RoundLimit)),
        });
    }

    // Most expensive first, then least utilized, then name.
    candidates.sort_by(|&a, &b| {
        let (na, nb) = (&input.nodes[a], &input.nodes[b]);
        nb.hourly_price
            .total_cmp(&na.hourly_price)
            .then_with(|| {
                let ua = decisions[a].cpu_percent.max(decisions[a].memory_percent);
                let ub = decisions[b].cpu_percent.max(decisions[b].memory_percent);
                ua.total_cmp(&ub)
            })
            .then_with(|| na.facts.name.cmp(&nb.facts.name))
    });

    // Destinations: every Ready node with what it already holds.
    let mut dest: Vec<(NodeFacts, Resources, Option<usize>)> = input
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let used = n
                .pods
                .iter()
                .fold(Resources::default(), |a, p| a.plus(p.requirements.requests));
            (n.facts.clone(), used, Some(i))
        })
        .chain(input.others.iter().map(|o| (o.facts.clone(), o.used, None)))
        .collect();
    dest.sort_by(|a, b| a.0.name.cmp(&b.0.name));

    let mut removed: BTreeSet<usize> = BTreeSet::new();
    let mut receiving: BTreeSet<usize> = BTreeSet::new();
    let mut group_size: BTreeMap<&str, i32> = input
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.current_nodes))
        .collect();
    let mut pdb_left = input.pdb_allowed.clone();
    let mut nonempty = 0usize;
    // what each group's Ready nodes offer and what their pods request
    let mut group_alloc: BTreeMap<&str, Resources> = BTreeMap::new();
    let mut group_req: BTreeMap<&str, Resources> = BTreeMap::new();
    for n in input.nodes.iter().filter(|n| n.facts.ready) {
        let a = group_alloc.entry(n.group.as_str()).or_default();
        *a = a.plus(n.facts.allocatable);
        let r = group_req.entry(n.group.as_str()).or_default();
        *r = n
            .pods
            .iter()
            .fold(*r, |acc, p| acc.plus(p.requirements.requests));
    }

    for &c in &candidates {
        let node = &input.nodes[c];
        let keep =
            |decisions: &mut Vec<NodeDecision>, why| decisions[c].verdict = Verdict::Keep(why);
        if receiving.contains(&c) {
            keep(&mut decisions, KeepReason::ReceivesPods);
            continue;
        }
        let policy = policies[node.group.as_str()];
        let size = group_size.get(node.group.as_str()).copied().unwrap_or(0);
        if size <= policy.min_nodes {
            keep(
                &mut decisions,
                KeepReason::AtMinimum {
                    min: policy.min_nodes,
                },
            );
            continue;
        }
        // its DaemonSet and mirror pods go with it; the others stay in the group (conservatively)
        let staying = node
            .pods
            .iter()
            .filter(|p| !p.moves())
            .fold(Resources::default(), |a, p| a.plus(p.requirements.requests));
        let req_after = group_req
            .get(node.group.as_str())
            .copied()
            .unwrap_or_default()
            .minus(staying);
        let alloc_now = group_alloc
            .get(node.group.as_str())
            .copied()
            .unwrap_or_default();
        if exceeds_after_removal(
            req_after,
            alloc_now,
            node.facts.allocatable,
            policy.scale_up_cpu_threshold,
            policy.scale_up_memory_threshold,
        ) {
            let left = alloc_now.minus(node.facts.allocatable);
            let pct = |u: i64, a: i64| {
                if a > 0 {
                    u as f64 * 100.0 / a as f64
                } else {
                    0.0
                }
            };
            keep(
                &mut decisions,
                KeepReason::WouldExceedScaleUpThreshold {
                    cpu_percent: pct(req_after.cpu_millis, left.cpu_millis),
                    memory_percent: pct(req_after.memory_bytes, left.memory_bytes),
                },
            );
            continue;
        }
        let movers: Vec<&PodOnNode> = node.pods.iter().filter(|p| p.moves()).collect();
        if let Some(why) = pod_blocker(&movers, input.options) {
            keep(&mut decisions, why);
            continue;
        }
        // budgets
        let mut budget = pdb_left.clone();
        let mut blocked = None;
        for pod in &movers {
            for pdb in &pod.pdbs {
                let left = budget.entry(pdb.clone()).or_insert(0);
                if *left <= 0 {
                    blocked = Some(KeepReason::DisruptionBudget {
                        pod: pod.key.clone(),
                        pdb: pdb.clone(),
                    });
                    break;
                }
                *left -= 1;
            }
            if blocked.is_some() {
                break;
            }
        }
        if let Some(why) = blocked {
            keep(&mut decisions, why);
            continue;
        }
        let empty = movers.is_empty();
        if !empty && nonempty >= input.options.max_nonempty_per_round {
            keep(&mut decisions, KeepReason::RoundLimit);
            continue;
        }
        // simulate: place the movers, largest first, on the remaining nodes
        let mut order: Vec<&PodOnNode> = movers.clone();
        order.sort_by(|a, b| {
            b.requirements
                .requests
                .cpu_millis
                .cmp(&a.requirements.requests.cpu_millis)
                .then_with(|| {
                    b.requirements
                        .requests
                        .memory_bytes
                        .cmp(&a.requirements.requests.memory_bytes)
                })
        });
        let mut trial: Vec<Resources> = dest.iter().map(|d| d.1).collect();
        let mut moves = Vec::new();
        let mut stuck = None;
        for pod in order {
            let mut reasons: Vec<Unfit> = Vec::new();
            let mut placed = None;
            let mut considered = 0usize;
            for (j, (facts, _, owner)) in dest.iter().enumerate() {
                if owner.is_some_and(|o| o == c || removed.contains(&o)) {
                    continue;
                }
                considered += 1;
                match check(&pod.requirements, facts, &trial[j]) {
                    Ok(()) => {
                        placed = Some(j);
                        break;
                    }
                    Err(r) => reasons.extend(r),
                }
            }
            match placed {
                Some(j) => {
                    trial[j] = trial[j].plus(pod.requirements.requests);
                    moves.push((pod.key.clone(), dest[j].0.name.clone()));
                }
                None => {
                    stuck = Some(KeepReason::PodCannotMove {
                        pod: pod.key.clone(),
                        why: super::fit::failed_scheduling_message(considered, &reasons),
                    });
                    break;
                }
            }
        }
        if let Some(why) = stuck {
            keep(&mut decisions, why);
            continue;
        }
        // commit
        for (j, d) in dest.iter_mut().enumerate() {
            if trial[j] != d.1 {
                d.1 = trial[j];
                if let Some(o) = d.2 {
                    receiving.insert(o);
                }
            }
        }
        pdb_left = budget;
        group_alloc.insert(node.group.as_str(), alloc_now.minus(node.facts.allocatable));
        group_req.insert(node.group.as_str(), req_after);
        removed.insert(c);
        if !empty {
            nonempty += 1;
        }
        *group_size.entry(node.group.as_str()).or_insert(0) -= 1;
        decisions[c].verdict = Verdict::Remove { empty, moves };
    }

    let consolidations = consolidation_hints(&input, &decisions);
    ScaleDownPlan {
        decisions,
        consolidations,
    }
}

fn pre_check(
    node: &NodeState,
    policy: &GroupPolicy,
    now: DateTime<Utc>,
    cpu: f64,
    mem: f64,
) -> Option<KeepReason> {
    if !policy.enabled {
        return Some(KeepReason::Disabled);
    }
    if policy.paused {
        return Some(KeepReason::Paused);
    }
    if node.do_not_delete {
        return Some(KeepReason::DoNotDelete);
    }
    if !node.facts.ready {
        return Some(KeepReason::NotReady);
    }
    if !(cpu < f64::from(policy.cpu_threshold) && mem < f64::from(policy.memory_threshold)) {
        return Some(KeepReason::Utilized {
            cpu_percent: cpu,
            memory_percent: mem,
        });
    }
    if let Some(failed) = node.drain_failed_at {
        let until = failed + policy.unneeded_time;
        if until > now {
            return Some(KeepReason::DrainFailed { until });
        }
    }
    let since = node.unneeded_since.unwrap_or(now);
    let until = since + policy.unneeded_time;
    if until > now {
        return Some(KeepReason::NotUnneededLongEnough { until });
    }
    if let Some(last) = policy.last_scale_time {
        let until = last + policy.stabilization_window;
        if until > now {
            return Some(KeepReason::StabilizationWindow { until });
        }
    }
    None
}

fn pod_blocker(movers: &[&PodOnNode], options: &ScaleDownOptions) -> Option<KeepReason> {
    for pod in movers {
        if pod.safe_to_evict == Some(false) {
            return Some(KeepReason::NotSafeToEvict {
                pod: pod.key.clone(),
            });
        }
        if pod.kind == PodKind::Bare && pod.safe_to_evict != Some(true) && !options.evict_bare_pods
        {
            return Some(KeepReason::BarePod {
                pod: pod.key.clone(),
            });
        }
    }
    None
}

/// For each group, whether its underutilized nodes' pods would fit one offering that costs less
/// than those nodes together.
fn consolidation_hints(
    input: &ScaleDownInput<'_>,
    decisions: &[NodeDecision],
) -> Vec<Consolidation> {
    let mut by_group: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, d) in decisions.iter().enumerate() {
        let low = match &d.verdict {
            Verdict::Remove { .. } => false,
            Verdict::Keep(KeepReason::Utilized { .. }) => false,
            Verdict::Keep(_) => {
                let p = input.groups.iter().find(|g| g.name == d.group);
                p.is_some_and(|p| underutilized(&input.nodes[i], p))
            }
        };
        if low {
            by_group.entry(d.group.as_str()).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for (group, nodes) in by_group {
        if nodes.len() < 2 {
            continue;
        }
        let need = nodes.iter().fold(Resources::default(), |a, &i| {
            a.plus(utilization(&input.nodes[i]).0)
        });
        let current: f64 = nodes.iter().map(|&i| input.nodes[i].hourly_price).sum();
        let Some(offerings) = input.offerings.get(group) else {
            continue;
        };
        let best = offerings
            .iter()
            .filter(|(_, alloc, price)| alloc.covers(&need) && *price < current)
            .min_by(|a, b| a.2.total_cmp(&b.2));
        if let Some((id, _, price)) = best {
            out.push(Consolidation {
                group: group.to_string(),
                nodes: nodes
                    .iter()
                    .map(|&i| input.nodes[i].facts.name.clone())
                    .collect(),
                current_hourly: current,
                offering: id.clone(),
                offering_hourly: *price,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaling::capacity::allocatable;

    const MI: i64 = 1 << 20;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn pod(key: &str, cpu: i64, kind: PodKind) -> PodOnNode {
        PodOnNode {
            key: key.into(),
            requirements: Arc::new(PodRequirements {
                requests: Resources::new(cpu, 256 * MI, 1),
                ..PodRequirements::default()
            }),
            kind,
            safe_to_evict: None,
            pdbs: Vec::new(),
        }
    }

    fn node(name: &str, pods: Vec<PodOnNode>) -> NodeState {
        NodeState {
            facts: NodeFacts {
                name: name.into(),
                allocatable: allocatable(4, 8192),
                ready: true,
                ..NodeFacts::default()
            },
            group: "g".into(),
            pods,
            do_not_delete: false,
            unneeded_since: Some(t0() - Duration::seconds(3600)),
            hourly_price: 0.04,
            drain_failed_at: None,
        }
    }

    fn policy(current: i32) -> GroupPolicy {
        GroupPolicy {
            name: "g".into(),
            enabled: true,
            paused: false,
            cpu_threshold: 50,
            memory_threshold: 50,
            unneeded_time: Duration::seconds(600),
            stabilization_window: Duration::seconds(600),
            last_scale_time: Some(t0() - Duration::seconds(3600)),
            min_nodes: 0,
            current_nodes: current,
            scale_up_cpu_threshold: 0,
            scale_up_memory_threshold: 0,
        }
    }

    fn eval(
        nodes: &[NodeState],
        groups: &[GroupPolicy],
        pdbs: &BTreeMap<String, i32>,
        opts: &ScaleDownOptions,
    ) -> ScaleDownPlan {
        evaluate(ScaleDownInput {
            nodes,
            others: &[],
            groups,
            pdb_allowed: pdbs,
            now: t0(),
            options: opts,
            offerings: &BTreeMap::new(),
        })
    }

    fn verdict<'a>(plan: &'a ScaleDownPlan, node: &str) -> &'a Verdict {
        &plan
            .decisions
            .iter()
            .find(|d| d.node == node)
            .unwrap()
            .verdict
    }

    fn busy(name: &str) -> NodeState {
        node(
            name,
            vec![pod(
                &format!("default/{name}-busy"),
                3000,
                PodKind::Controlled,
            )],
        )
    }

    #[test]
    fn idle_nodes_go_in_bulk_and_busy_ones_stay() {
        let nodes = vec![
            node("a", vec![pod("kube-system/ds-a", 100, PodKind::DaemonSet)]),
            node("b", vec![]),
            busy("c"),
        ];
        let plan = eval(
            &nodes,
            &[policy(3)],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
        );
        assert!(matches!(
            verdict(&plan, "a"),
            Verdict::Remove { empty: true, .. }
        ));
        assert!(matches!(
            verdict(&plan, "b"),
            Verdict::Remove { empty: true, .. }
        ));
        assert!(matches!(
            verdict(&plan, "c"),
            Verdict::Keep(KeepReason::Utilized { .. })
        ));
    }

    #[test]
    fn pods_move_only_where_they_fit_and_a_few_nodes_at_a_time() {
        // two half-empty nodes and one with room: one drains into the roomy node per round
        let nodes = vec![
            node("a", vec![pod("default/p1", 1000, PodKind::Controlled)]),
            node("b", vec![pod("default/p2", 1000, PodKind::Controlled)]),
            busy("c"),
        ];
        let plan = eval(
            &nodes,
            &[policy(3)],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
        );
        let removed: Vec<&str> = plan.removals().map(|d| d.node.as_str()).collect();
        assert_eq!(removed, vec!["a"]);
        match verdict(&plan, "a") {
            Verdict::Remove {
                empty: false,
                moves,
            } => assert_eq!(moves, &vec![("default/p1".to_string(), "b".to_string())]),
            v => panic!("{v:?}"),
        }
        assert_eq!(
            verdict(&plan, "b"),
            &Verdict::Keep(KeepReason::ReceivesPods)
        );

        // a pod too large for any other node blocks its node
        let nodes = vec![
            node("a", vec![pod("default/big", 1900, PodKind::Controlled)]),
            busy("c"),
        ];
        let plan = eval(
            &nodes,
            &[policy(2)],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
        );
        match verdict(&plan, "a") {
            Verdict::Keep(KeepReason::PodCannotMove { pod, why }) => {
                assert_eq!(pod, "default/big");
                assert!(why.contains("Insufficient cpu"), "{why}");
            }
            v => panic!("{v:?}"),
        }
    }

    #[test]
    fn safety_rules_hold_nodes() {
        let mut unsafe_pod = pod("default/db", 100, PodKind::Controlled);
        unsafe_pod.safe_to_evict = Some(false);
        let mut dnd = node("dnd", vec![]);
        dnd.do_not_delete = true;
        let nodes = vec![
            node("unsafe", vec![unsafe_pod]),
            node("bare", vec![pod("default/lonely", 100, PodKind::Bare)]),
            dnd,
            busy("room"),
        ];
        let plan = eval(
            &nodes,
            &[policy(4)],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
        );
        assert!(matches!(
            verdict(&plan, "unsafe"),
            Verdict::Keep(KeepReason::NotSafeToEvict { .. })
        ));
        assert!(matches!(
            verdict(&plan, "bare"),
            Verdict::Keep(KeepReason::BarePod { .. })
        ));
        assert_eq!(
            verdict(&plan, "dnd"),
            &Verdict::Keep(KeepReason::DoNotDelete)
        );

        // the operator may opt in to evicting bare pods; safe-to-evict=true always allows
        let opts = ScaleDownOptions {
            max_nonempty_per_round: 5,
            evict_bare_pods: true,
        };
        let plan = eval(&nodes, &[policy(4)], &BTreeMap::new(), &opts);
        assert!(matches!(verdict(&plan, "bare"), Verdict::Remove { .. }));
    }

    #[test]
    fn minimum_pause_window_and_unneeded_time_hold_nodes() {
        let nodes = vec![node("a", vec![]), node("b", vec![])];
        let mut p = policy(2);
        p.min_nodes = 1;
        let plan = eval(
            &nodes,
            &[p.clone()],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
        );
        assert_eq!(plan.removals().count(), 1, "never below minNodes");
        assert!(plan
            .decisions
            .iter()
            .any(|d| d.verdict == Verdict::Keep(KeepReason::AtMinimum { min: 1 })));

        p.min_nodes = 0;
        p.paused = true;
        let plan = eval(
            &nodes,
            &[p.clone()],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
        );
        assert_eq!(plan.removals().count(), 0);
        p.paused = false;

        p.last_scale_time = Some(t0() - Duration::seconds(60));
        let plan = eval(
            &nodes,
            &[p.clone()],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
        );
        assert!(matches!(
            verdict(&plan, "a"),
            Verdict::Keep(KeepReason::StabilizationWindow { .. })
        ));
        p.last_scale_time = None;

        let mut failed = nodes.clone();
        failed[0].drain_failed_at = Some(t0() - Duration::seconds(30));
        let plan = eval(
            &failed,
            &[p.clone()],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
        );
        assert_eq!(
            verdict(&plan, "a"),
            &Verdict::Keep(KeepReason::DrainFailed {
                until: t0() + Duration::seconds(570)
            })
        );

        let mut fresh = nodes.clone();
        fresh[0].unneeded_since = Some(t0() - Duration::seconds(599));
        let plan = eval(&fresh, &[p], &BTreeMap::new(), &ScaleDownOptions::default());
        assert!(matches!(
            verdict(&plan, "a"),
            Verdict::Keep(KeepReason::NotUnneededLongEnough { .. })
        ));
        assert!(matches!(verdict(&plan, "b"), Verdict::Remove { .. }));
    }

    #[test]
    fn a_removal_that_would_trigger_headroom_is_not_made() {
        // three nodes, 3000m requested in all: one removal leaves 38% on two nodes, a second
        // one 77% on the last
        let nodes = vec![
            node("a", vec![pod("default/p1", 1000, PodKind::Controlled)]),
            node("b", vec![pod("default/p2", 1000, PodKind::Controlled)]),
            node("c", vec![pod("default/p3", 1000, PodKind::Controlled)]),
        ];
        let mut p = policy(3);
        p.scale_up_cpu_threshold = 70;
        p.scale_up_memory_threshold = 70;
        let opts = ScaleDownOptions {
            max_nonempty_per_round: 5,
            evict_bare_pods: false,
        };
        let plan = eval(&nodes, &[p.clone()], &BTreeMap::new(), &opts);
        assert_eq!(plan.removals().count(), 1, "{:#?}", plan.decisions);
        // with a threshold of 30%, even the first one would be added back
        p.scale_up_cpu_threshold = 30;
        let plan = eval(&nodes, &[p], &BTreeMap::new(), &opts);
        assert_eq!(plan.removals().count(), 0);
        assert!(
            plan.decisions.iter().all(|d| matches!(
                d.verdict,
                Verdict::Keep(KeepReason::WouldExceedScaleUpThreshold { .. })
            )),
            "{:#?}",
            plan.decisions
        );
    }

    #[test]
    fn disruption_budgets_are_never_exceeded() {
        let mut p1 = pod("default/web-1", 500, PodKind::Controlled);
        p1.pdbs = vec!["default/web".into()];
        let mut p2 = pod("default/web-2", 500, PodKind::Controlled);
        p2.pdbs = vec!["default/web".into()];
        let nodes = vec![node("a", vec![p1]), node("b", vec![p2]), busy("0-room")];
        let opts = ScaleDownOptions {
            max_nonempty_per_round: 10,
            evict_bare_pods: false,
        };
        let pdbs = BTreeMap::from([("default/web".to_string(), 1)]);
        let plan = eval(&nodes, &[policy(3)], &pdbs, &opts);
        let disrupted: usize = plan
            .removals()
            .map(|d| match &d.verdict {
                Verdict::Remove { moves, .. } => moves.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(disrupted, 1, "{:#?}", plan.decisions);
        assert!(plan
            .decisions
            .iter()
            .any(|d| matches!(&d.verdict, Verdict::Keep(KeepReason::DisruptionBudget { pdb, .. }) if pdb == "default/web")), "{:#?}", plan.decisions);
    }

    #[test]
    fn unneeded_clock_restarts_when_a_node_gets_busy() {
        let prev = BTreeMap::from([("a".to_string(), t0()), ("b".to_string(), t0())]);
        let now = t0() + Duration::seconds(30);
        let next = track_unneeded(
            &prev,
            &BTreeSet::from(["a".to_string(), "c".to_string()]),
            now,
        );
        assert_eq!(next.get("a"), Some(&t0()));
        assert_eq!(next.get("c"), Some(&now));
        assert!(!next.contains_key("b"));
    }

    #[test]
    fn expensive_nodes_go_first_and_consolidation_is_suggested() {
        let mut dear = node("dear", vec![pod("default/x", 500, PodKind::Controlled)]);
        dear.hourly_price = 0.08;
        let cheap = node("cheap", vec![pod("default/y", 500, PodKind::Controlled)]);
        let plan = eval(
            &[cheap.clone(), dear.clone()],
            &[policy(2)],
            &BTreeMap::new(),
            &ScaleDownOptions::default(),
        );
        assert_eq!(
            plan.removals().map(|d| d.node.as_str()).collect::<Vec<_>>(),
            vec!["dear"]
        );

        // both held (pause is not a utilization reason), one small offering could hold both
        let mut p = policy(2);
        p.paused = true;
        let offerings = BTreeMap::from([(
            "g".to_string(),
            vec![("small".to_string(), allocatable(2, 4096), 0.02)],
        )]);
        let plan = evaluate(ScaleDownInput {
            nodes: &[cheap, dear],
            others: &[],
            groups: &[p],
            pdb_allowed: &BTreeMap::new(),
            now: t0(),
            options: &ScaleDownOptions::default(),
            offerings: &offerings,
        });
        assert_eq!(plan.consolidations.len(), 1);
        assert_eq!(plan.consolidations[0].offering, "small");
        assert!((plan.consolidations[0].current_hourly - 0.12).abs() < 1e-9);
    }
}
