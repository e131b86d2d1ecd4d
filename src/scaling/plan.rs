//! Scale-up planning: which new nodes, of which offering, in which NodeGroup, place the pending
//! pods at the least cost — a pure function.
//!
//! Pods with equal [`PodRequirements`] are interchangeable, so the planner works on classes of
//! pods (tens, even for 10,000 pods). It first counts capacity that exists or is already coming
//! (free room on nodes, VPSieNodes still provisioning), so nothing is provisioned twice. Then it
//! adds nodes greedily: in each step it tries every (NodeGroup, offering) that may grow, fills one
//! node of that size with the pending pods it can host (largest first), and takes the option with
//! the lowest price per unit of work placed. Ties go to the group's `preferredInstanceType`, then
//! to the option that wastes less, then to the larger node (fewer machines), then to names, so the
//! plan is deterministic. When the same fill repeats, the step adds all the identical nodes at
//! once. A last pass gives each new node of a mixed-instance group the cheapest offering that
//! still holds its pods. Pods left over get a reason per group.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use super::fit::{compatible, NodeFacts, PodRequirements, Resources, TaintFact, Unfit};

/// A VPSie offering as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferingFacts {
    /// Offering id (`medium-4cpu-8gb`).
    pub id: String,
    /// What a node of this offering offers to pods (see [`super::capacity::allocatable`]).
    pub allocatable: Resources,
    /// Price per hour.
    pub hourly_price: f64,
}

/// A NodeGroup as the planner sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupFacts {
    /// NodeGroup name.
    pub name: String,
    /// Labels its new nodes get.
    pub labels: BTreeMap<String, String>,
    /// Taints its new nodes get.
    pub taints: Vec<TaintFact>,
    /// Its offerings that exist and are available, in the spec's order.
    pub offerings: Vec<OfferingFacts>,
    /// `preferredInstanceType`, when set.
    pub preferred: Option<String>,
    /// `allowMixedInstances`.
    pub allow_mixed: bool,
    /// Without mixed instances, the type its existing nodes already have.
    pub locked_offering: Option<String>,
    /// How many nodes it may still add (effective max minus current and in-flight nodes).
    pub max_new_nodes: u32,
    /// What DaemonSet pods will take on each of its new nodes.
    pub daemonset_overhead: Resources,
    /// Why it may not scale up now (paused, disabled, stabilization window, breaker open...).
    pub blocked: Option<String>,
}

/// A pod waiting for a node.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingPod {
    /// `namespace/name`.
    pub key: String,
    /// What decides where it can run (shared between the pods of one shape: a cache holds
    /// one copy per shape, and planning for 30,000 pods copies none).
    pub requirements: Arc<PodRequirements>,
}

/// A node that exists (Ready or not), with what its pods already request.
#[derive(Debug, Clone, PartialEq)]
pub struct ExistingNode {
    /// The node.
    pub facts: NodeFacts,
    /// Requests of the pods bound to it.
    pub used: Resources,
}

/// A node that is coming: a VPSieNode not yet Ready.
#[derive(Debug, Clone, PartialEq)]
pub struct InflightNode {
    /// Its NodeGroup.
    pub group: String,
    /// Its offering.
    pub offering: String,
}

/// One new node of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedNode {
    /// Its offering.
    pub offering: String,
    /// Indices (into the input pods) of the pods it is for.
    pub pods: Vec<usize>,
}

/// The new nodes of one NodeGroup.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPlan {
    /// NodeGroup name.
    pub group: String,
    /// The new nodes.
    pub nodes: Vec<PlannedNode>,
    /// Their summed hourly price.
    pub hourly_cost: f64,
}

impl GroupPlan {
    /// How many new nodes of each offering.
    pub fn by_offering(&self) -> BTreeMap<String, u32> {
        let mut m = BTreeMap::new();
        for n in &self.nodes {
            *m.entry(n.offering.clone()).or_default() += 1;
        }
        m
    }
}

/// Why a group cannot take a pod.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rejection {
    /// The group may not scale up now.
    Blocked(String),
    /// The group's nodes would not accept the pod (selector, affinity, taint).
    Incompatible(Unfit),
    /// The pod is larger than the group's largest offering (after DaemonSet overhead).
    TooLarge {
        /// The pod's requests.
        needs: Resources,
        /// The most any offering of the group offers.
        largest: Resources,
    },
    /// The group has no offering that exists and is available.
    NoOffering,
    /// The group reached its maximum.
    AtMax,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use super::quantity::{format_bytes, format_cpu_millis};
        match self {
            Rejection::Blocked(why) => write!(f, "{why}"),
            Rejection::Incompatible(unfit) => write!(f, "its nodes would refuse the pod: {unfit}"),
            Rejection::TooLarge { needs, largest } => write!(
                f,
                "no offering fits: the pod needs cpu {} and memory {}, the largest offering offers cpu {} and memory {}",
                format_cpu_millis(needs.cpu_millis),
                format_bytes(needs.memory_bytes),
                format_cpu_millis(largest.cpu_millis),
                format_bytes(largest.memory_bytes)
            ),
            Rejection::NoOffering => write!(f, "none of its offeringIDs is available"),
            Rejection::AtMax => write!(f, "at maxNodes"),
        }
    }
}

/// Pending pods with equal requirements that no node was planned for.
#[derive(Debug, Clone, PartialEq)]
pub struct UnplacedPods {
    /// Indices into the input pods.
    pub pods: Vec<usize>,
    /// Each group and why it could not take them.
    pub reasons: Vec<(String, Rejection)>,
}

/// The result of planning.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// New nodes per group (only groups that grow), by group name.
    pub groups: Vec<GroupPlan>,
    /// Pods that fit free room on existing nodes.
    pub on_existing: Vec<usize>,
    /// Pods that will land on nodes already coming.
    pub on_inflight: Vec<usize>,
    /// Pods nothing was planned for, with the reasons.
    pub unplaced: Vec<UnplacedPods>,
}

impl Plan {
    /// Total new nodes.
    pub fn new_nodes(&self) -> usize {
        self.groups.iter().map(|g| g.nodes.len()).sum()
    }

    /// Total hourly cost of the new nodes.
    pub fn hourly_cost(&self) -> f64 {
        self.groups.iter().map(|g| g.hourly_cost).sum()
    }
}

/// What planning takes.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// Pods waiting for a node.
    pub pods: &'a [PendingPod],
    /// The NodeGroups.
    pub groups: &'a [GroupFacts],
    /// Existing nodes.
    pub nodes: &'a [ExistingNode],
    /// Nodes coming.
    pub inflight: &'a [InflightNode],
}

struct Class<'a> {
    req: &'a PodRequirements,
    members: Vec<usize>,
    next: usize,
    weight: f64,
}

impl Class<'_> {
    fn remaining(&self) -> u64 {
        (self.members.len() - self.next) as u64
    }

    fn take(&mut self, n: u64) -> &[usize] {
        let start = self.next;
        self.next = (self.next + n as usize).min(self.members.len());
        &self.members[start..self.next]
    }
}

/// The work a pod represents, for price per work: its dominant resource, with one core worth
/// 4 GiB (the ratio of general-purpose offerings), and a little for the pod itself.
fn weight(r: &Resources) -> f64 {
    let cpu = r.cpu_millis.max(0) as f64 / 1000.0;
    let mem = r.memory_bytes.max(0) as f64 / (4u64 << 30) as f64;
    cpu.max(mem) + 0.001
}

/// `part` as a share of `whole` (0 when there is no whole).
fn share(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        part.max(0) as f64 / whole as f64
    }
}

/// Whether a node with free `room` takes one more pod that requests `each` (`fit_count` > 0;
/// a pod takes at least one pod slot).
fn fits_one(room: &Resources, each: &Resources) -> bool {
    (each.cpu_millis <= 0 || room.cpu_millis >= each.cpu_millis)
        && (each.memory_bytes <= 0 || room.memory_bytes >= each.memory_bytes)
        && room.pods >= each.pods.max(1)
}

/// What a node is charged for one pod of a class: its requests, and at least one pod slot.
fn charge(each: &Resources) -> Resources {
    Resources::new(each.cpu_millis, each.memory_bytes, each.pods.max(1))
}

/// Margins of the fill's choice below this are treated as ties that the next single step must
/// settle: [`fill`] takes a run of pods of one class at once only while that class wins every
/// step by more than the tie tolerance (1e-12) plus this, which leaves room for the rounding
/// of the scores (about 1e-15: shares are at most 1).
const RUN_SAFETY: f64 = 1e-9;
/// Bound on the rounding of a margin, per step of a run (see [`RUN_SAFETY`]).
const RUN_DRIFT: f64 = 1e-14;

/// One class a fill may take pods from.
struct Candidate {
    /// Its position in `compatible`.
    pos: usize,
    /// Requests of one pod.
    each: Resources,
    /// The requests as shares of the room the node started with (cpu, memory, pods).
    shares: [f64; 3],
    /// Pods of the class not placed yet.
    available: u64,
    /// Pods of the class this fill took.
    taken: u64,
}

impl Candidate {
    /// Whether the fill may still take a pod of it (a class that no longer fits never fits
    /// again: the room only shrinks).
    fn open(&self, room: &Resources) -> bool {
        self.available > 0 && fits_one(room, &self.each)
    }
}

/// Fills one node with free room `room` from the compatible classes, a pod at a time: each
/// time the class whose requests best match what is left (the dot product of its requests and
/// the remaining room, both as shares of the room the node started with; ties to the larger
/// class). So cpu-heavy and memory-heavy pods share nodes instead of each leaving the other
/// resource idle, and one kind alone still fills a node as far as it fits. Returns (class
/// index, count) pairs, in the order of `compatible`.
///
/// The result is that of taking one pod at a time, but the work is not: after each choice the
/// fill works out how many more steps the same class certainly wins (each step lowers every
/// score linearly: a class's score falls by the dot product of its shares and the winner's),
/// and takes them at once; only steps where the margin comes within rounding of a tie are
/// taken one at a time. A property test compares it with the one-at-a-time fill.
fn fill(classes: &[Class<'_>], compatible: &[usize], mut room: Resources) -> Vec<(usize, u64)> {
    let start = room;
    let mut candidates: Vec<Candidate> = Vec::with_capacity(compatible.len());
    for (pos, &c) in compatible.iter().enumerate() {
        let class = &classes[c];
        let each = class.req.requests;
        if class.remaining() > 0 && fits_one(&room, &each) {
            candidates.push(Candidate {
                pos,
                each,
                shares: [
                    share(each.cpu_millis, start.cpu_millis),
                    share(each.memory_bytes, start.memory_bytes),
                    share(each.pods.max(1), start.pods),
                ],
                available: class.remaining(),
                taken: 0,
            });
        }
    }
    let score = |shares: &[f64; 3], left: &[f64; 3]| {
        shares[0] * left[0] + shares[1] * left[1] + shares[2] * left[2]
    };
    loop {
        let left = [
            share(room.cpu_millis, start.cpu_millis),
            share(room.memory_bytes, start.memory_bytes),
            share(room.pods, start.pods),
        ];
        let mut best: Option<(usize, f64)> = None;
        for (i, c) in candidates.iter().enumerate() {
            if !c.open(&room) {
                continue;
            }
            let s = score(&c.shares, &left);
            if best.is_none_or(|(_, b)| s > b + 1e-12) {
                best = Some((i, s));
            }
        }
        let Some((k, best_score)) = best else { break };
        let run = run_length(&candidates, k, best_score, &left, &room, &score);
        let winner = &mut candidates[k];
        let per = charge(&winner.each);
        room = room.minus(Resources::new(
            per.cpu_millis * run as i64,
            per.memory_bytes * run as i64,
            per.pods * run as i64,
        ));
        winner.available -= run;
        winner.taken += run;
    }
    candidates
        .iter()
        .filter(|c| c.taken > 0)
        .map(|c| (compatible[c.pos], c.taken))
        .collect()
}

/// How many pods of candidate `k`, the choice at the current step, the one-at-a-time fill
/// takes before it would choose another class or `k` stops fitting: at least 1.
fn run_length(
    candidates: &[Candidate],
    k: usize,
    k_score: f64,
    left: &[f64; 3],
    room: &Resources,
    score: &impl Fn(&[f64; 3], &[f64; 3]) -> f64,
) -> u64 {
    let w = &candidates[k];
    let per = charge(&w.each);
    // negative requests would make the room grow; no run is worked out for them
    if per.cpu_millis < 0 || per.memory_bytes < 0 {
        return 1;
    }
    // steps at which `k` still fits: the room for a step covers one more pod
    let steps_fitting = |each: &Resources| -> u64 {
        // s steps of `k` leave room - s * per; the pod fits while that covers each
        let need = charge(each);
        let dims = [
            (
                room.cpu_millis,
                need.cpu_millis,
                per.cpu_millis,
                each.cpu_millis > 0,
            ),
            (
                room.memory_bytes,
                need.memory_bytes,
                per.memory_bytes,
                each.memory_bytes > 0,
            ),
            (room.pods, need.pods, per.pods, true),
        ];
        dims.iter()
            .filter(|&&(_, _, _, counts)| counts)
            .map(|&(free, need, step, _)| {
                if step <= 0 {
                    u64::MAX
                } else {
                    // free >= need here (it fits now): steps s = 0..=(free - need) / step
                    ((free - need) / step) as u64 + 1
                }
            })
            .min()
            .unwrap_or(u64::MAX)
    };
    let mut run = w.available.min(steps_fitting(&w.each));
    for (j, c) in candidates.iter().enumerate() {
        if j == k || run <= 1 || !c.open(room) {
            continue;
        }
        // an equal score never displaces the earlier class, which `k` is (it was chosen)
        if c.shares == w.shares {
            continue;
        }
        // the margin of `k` over `c` after s more steps: m0 - s * d
        let m0 = k_score - score(&c.shares, left);
        let d = (w.shares[0] - c.shares[0]) * w.shares[0]
            + (w.shares[1] - c.shares[1]) * w.shares[1]
            + (w.shares[2] - c.shares[2]) * w.shares[2]
            + RUN_DRIFT;
        let floor = m0 - (1e-12 + RUN_SAFETY + RUN_DRIFT);
        // steps s >= 1 at which `k` certainly beats `c`: s * d < floor
        let safe_steps: u64 = if floor <= 0.0 {
            0
        } else if d <= 0.0 {
            u64::MAX
        } else {
            // floor(q) - 1 < q even after the rounding of q (relative 1e-16, q at most 1e15)
            // (the cast truncates: q > 0)
            ((floor / d).min(1e15) as u64).saturating_sub(1)
        };
        if safe_steps == u64::MAX {
            continue;
        }
        // `c` only competes while it fits
        if steps_fitting(&c.each) <= safe_steps + 1 {
            continue;
        }
        run = run.min(safe_steps + 1);
    }
    run.max(1)
}

struct Choice {
    group: usize,
    offering: usize,
    /// Where its fill is (see `plan_with`, step 3).
    slot: usize,
    score: f64,
    preferred: bool,
    waste: f64,
    size: f64,
}

/// Whether option `a` beats `b`: lower price per work (within a relative 1e-9), then the
/// preferred instance type, then less waste, then the larger node, then names.
fn better(a: &Choice, b: &Choice, groups: &[GroupFacts]) -> bool {
    let scale = a.score.abs().max(b.score.abs()).max(f64::MIN_POSITIVE);
    if (a.score - b.score).abs() > scale * 1e-9 {
        return a.score < b.score;
    }
    if a.preferred != b.preferred {
        return a.preferred;
    }
    if (a.waste - b.waste).abs() > 1e-9 {
        return a.waste < b.waste;
    }
    if (a.size - b.size).abs() > 1e-9 {
        return a.size > b.size;
    }
    let key = |c: &Choice| {
        let g = &groups[c.group];
        (g.name.as_str(), g.offerings[c.offering].id.as_str())
    };
    key(a) < key(b)
}

fn rejection(group: &GroupFacts, lock: Option<&str>, req: &PodRequirements) -> Rejection {
    if let Some(why) = &group.blocked {
        return Rejection::Blocked(why.clone());
    }
    let probe = NodeFacts {
        labels: group.labels.clone(),
        taints: group.taints.clone(),
        ready: true,
        ..NodeFacts::default()
    };
    if let Err(unfit) = compatible(req, &probe) {
        return Rejection::Incompatible(unfit);
    }
    if group.offerings.is_empty() {
        return Rejection::NoOffering;
    }
    let usable = || {
        group
            .offerings
            .iter()
            .filter(move |o| lock.is_none_or(|l| l == o.id))
    };
    let fits = usable().any(|o| {
        o.allocatable
            .minus(group.daemonset_overhead)
            .covers(&req.requests)
    });
    if !fits {
        let largest = usable()
            .map(|o| o.allocatable.minus(group.daemonset_overhead))
            .fold(Resources::default(), Resources::max);
        return Rejection::TooLarge {
            needs: req.requests,
            largest,
        };
    }
    Rejection::AtMax
}

fn group_node(group: &GroupFacts, offering: &OfferingFacts) -> NodeFacts {
    NodeFacts {
        name: String::new(),
        labels: group.labels.clone(),
        taints: group.taints.clone(),
        allocatable: offering.allocatable.minus(group.daemonset_overhead),
        unschedulable: false,
        ready: true,
    }
}

/// Fills a node: classes, the compatible ones, free room -> (class, pods) taken.
type FillFn = fn(&[Class<'_>], &[usize], Resources) -> Vec<(usize, u64)>;

/// Plans the new nodes for the pending pods.
pub fn plan(input: PlanInput<'_>) -> Plan {
    plan_with(input, fill, true)
}

/// [`plan`] with another fill, keeping fills from step to step or not (the tests' oracle: a
/// pod at a time, every fill worked out again at every step).
fn plan_with(input: PlanInput<'_>, fill: FillFn, keep_fills: bool) -> Plan {
    // 1. Classes of interchangeable pods, largest first.
    let mut index: HashMap<&PodRequirements, usize> = HashMap::new();
    let mut classes: Vec<Class<'_>> = Vec::new();
    for (i, pod) in input.pods.iter().enumerate() {
        let c = *index.entry(&*pod.requirements).or_insert_with(|| {
            classes.push(Class {
                req: &pod.requirements,
                members: Vec::new(),
                next: 0,
                weight: weight(&pod.requirements.requests),
            });
            classes.len() - 1
        });
        classes[c].members.push(i);
    }
    classes.sort_by(|a, b| b.weight.total_cmp(&a.weight).then_with(|| a.req.cmp(b.req)));
    let all: Vec<usize> = (0..classes.len()).collect();

    let mut result = Plan::default();

    // 2. Room that exists or is coming.
    let place_on =
        |node: &NodeFacts, used: Resources, classes: &mut Vec<Class<'_>>, out: &mut Vec<usize>| {
            let eligible: Vec<usize> = all
                .iter()
                .copied()
                .filter(|&c| classes[c].remaining() > 0 && compatible(classes[c].req, node).is_ok())
                .collect();
            for (c, k) in fill(classes, &eligible, node.allocatable.minus(used)) {
                out.extend_from_slice(classes[c].take(k));
            }
        };
    let mut nodes: Vec<&ExistingNode> = input.nodes.iter().collect();
    nodes.sort_by(|a, b| a.facts.name.cmp(&b.facts.name));
    for node in nodes {
        if node.facts.ready && !node.facts.unschedulable {
            place_on(
                &node.facts,
                node.used,
                &mut classes,
                &mut result.on_existing,
            );
        }
    }
    let groups_by_name: HashMap<&str, &GroupFacts> =
        input.groups.iter().map(|g| (g.name.as_str(), g)).collect();
    for flight in input.inflight {
        let Some(group) = groups_by_name.get(flight.group.as_str()) else {
            continue;
        };
        let Some(offering) = group.offerings.iter().find(|o| o.id == flight.offering) else {
            continue;
        };
        place_on(
            &group_node(group, offering),
            Resources::default(),
            &mut classes,
            &mut result.on_inflight,
        );
    }

    // 3. New nodes, greedily by price per work placed.
    struct GroupState {
        compatible: Vec<usize>,
        added: u32,
        lock: Option<String>,
        nodes: Vec<PlannedNode>,
    }
    let mut states: Vec<GroupState> = input
        .groups
        .iter()
        .map(|g| {
            let probe = NodeFacts {
                labels: g.labels.clone(),
                taints: g.taints.clone(),
                ready: true,
                ..NodeFacts::default()
            };
            GroupState {
                compatible: all
                    .iter()
                    .copied()
                    .filter(|&c| compatible(classes[c].req, &probe).is_ok())
                    .collect(),
                added: 0,
                lock: if g.allow_mixed {
                    None
                } else {
                    g.locked_offering.clone()
                },
                nodes: Vec::new(),
            }
        })
        .collect();

    // Groups whose nodes take the same classes (labels and taints often differ only in the
    // NodeGroup label) fill a node of the same room alike: each distinct (classes, room) is
    // one slot, filled once. And a slot's fill is kept from step to step while it stays what
    // `fill` would return: a fill reads a class's pods left only as "more than t left", for t
    // up to what it took, so it holds until a class it took k pods of has k or fewer left, or
    // a class it may take runs out. A step changes only the classes of the chosen fill.
    let mut set_ids: HashMap<&[usize], usize> = HashMap::new();
    let set_of: Vec<usize> = states
        .iter()
        .map(|st| {
            let next = set_ids.len();
            *set_ids.entry(st.compatible.as_slice()).or_insert(next)
        })
        .collect();
    let mut slot_ids: HashMap<(usize, Resources), usize> = HashMap::new();
    // per slot: the classes its nodes take (a group's `compatible`), and the room
    let mut slots: Vec<(usize, Resources)> = Vec::new();
    let option_slot: Vec<Vec<usize>> = input
        .groups
        .iter()
        .enumerate()
        .map(|(gi, g)| {
            g.offerings
                .iter()
                .map(|o| {
                    let key = (gi, o.allocatable.minus(g.daemonset_overhead));
                    let set_key = (set_of[gi], key.1);
                    *slot_ids.entry(set_key).or_insert_with(|| {
                        slots.push(key);
                        slots.len() - 1
                    })
                })
                .collect()
        })
        .collect();
    drop(set_ids);
    // None: to be worked out; Some(empty): a node of that room would take no pod
    let mut filled: Vec<Option<Vec<(usize, u64)>>> = vec![None; slots.len()];
    loop {
        if !keep_fills {
            filled.iter_mut().for_each(|f| *f = None);
        }
        let mut best: Option<Choice> = None;
        for (gi, group) in input.groups.iter().enumerate() {
            let state = &states[gi];
            if group.blocked.is_some() || state.added >= group.max_new_nodes {
                continue;
            }
            if !state.compatible.iter().any(|&c| classes[c].remaining() > 0) {
                continue;
            }
            for (oi, offering) in group.offerings.iter().enumerate() {
                if state.lock.as_ref().is_some_and(|l| l != &offering.id) {
                    continue;
                }
                let slot = option_slot[gi][oi];
                let room = slots[slot].1;
                let taken = filled[slot]
                    .get_or_insert_with(|| fill(&classes, &states[slots[slot].0].compatible, room));
                if taken.is_empty() {
                    continue;
                }
                let work: f64 = taken
                    .iter()
                    .map(|&(c, k)| classes[c].weight * k as f64)
                    .sum();
                let size = weight(&room);
                let choice = Choice {
                    group: gi,
                    offering: oi,
                    score: offering.hourly_price.max(0.0) / work,
                    preferred: group.preferred.as_deref() == Some(offering.id.as_str()),
                    waste: (size - work).max(0.0) / size,
                    size,
                    slot,
                };
                if best
                    .as_ref()
                    .is_none_or(|b| better(&choice, b, input.groups))
                {
                    best = Some(choice);
                }
            }
        }
        let Some(choice) = best else { break };
        let Some(chosen) = filled[choice.slot].clone() else {
            break;
        };
        let group = &input.groups[choice.group];
        let state = &mut states[choice.group];
        // identical nodes while every class in the fill still has a full share
        let repeat = chosen
            .iter()
            .map(|&(c, k)| classes[c].remaining() / k)
            .min()
            .unwrap_or(1)
            .clamp(1, u64::from(group.max_new_nodes - state.added));
        let offering = &group.offerings[choice.offering];
        for _ in 0..repeat {
            let mut pods = Vec::new();
            for &(c, k) in &chosen {
                pods.extend_from_slice(classes[c].take(k));
            }
            state.nodes.push(PlannedNode {
                offering: offering.id.clone(),
                pods,
            });
        }
        state.added += repeat as u32;
        if !group.allow_mixed {
            state.lock = Some(offering.id.clone());
        }
        // forget the fills this step changed (an empty fill stays empty: classes only lose pods)
        for (slot, &(owner, _)) in slots.iter().enumerate() {
            let Some(other) = filled[slot].as_ref() else {
                continue;
            };
            let may_take = &states[owner].compatible;
            let stale = chosen.iter().any(|&(c, _)| {
                let left = classes[c].remaining();
                may_take.binary_search(&c).is_ok()
                    && (left == 0
                        || other
                            .binary_search_by_key(&c, |&(oc, _)| oc)
                            .is_ok_and(|i| left <= other[i].1))
            });
            if stale {
                filled[slot] = None;
            }
        }
    }

    // 4. Right-size nodes of mixed-instance groups.
    for (gi, group) in input.groups.iter().enumerate() {
        if !group.allow_mixed {
            continue;
        }
        for node in &mut states[gi].nodes {
            let need = node.pods.iter().fold(Resources::default(), |acc, &p| {
                acc.plus(input.pods[p].requirements.requests)
            });
            let cheapest = group
                .offerings
                .iter()
                .filter(|o| o.allocatable.minus(group.daemonset_overhead).covers(&need))
                .min_by(|a, b| {
                    a.hourly_price.total_cmp(&b.hourly_price).then_with(|| {
                        let pa = group.preferred.as_deref() == Some(a.id.as_str());
                        let pb = group.preferred.as_deref() == Some(b.id.as_str());
                        pb.cmp(&pa)
                    })
                });
            if let Some(o) = cheapest {
                let current = group.offerings.iter().find(|x| x.id == node.offering);
                if current.is_some_and(|c| o.hourly_price < c.hourly_price) {
                    node.offering = o.id.clone();
                }
            }
        }
    }

    let locks: Vec<Option<String>> = states.iter().map(|s| s.lock.clone()).collect();
    for (gi, state) in states.into_iter().enumerate() {
        if state.nodes.is_empty() {
            continue;
        }
        let group = &input.groups[gi];
        let hourly_cost = state
            .nodes
            .iter()
            .filter_map(|n| group.offerings.iter().find(|o| o.id == n.offering))
            .map(|o| o.hourly_price)
            .sum();
        result.groups.push(GroupPlan {
            group: group.name.clone(),
            nodes: state.nodes,
            hourly_cost,
        });
    }
    result.groups.sort_by(|a, b| a.group.cmp(&b.group));

    // 5. Reasons for what is left.
    for class in &classes {
        if class.remaining() == 0 {
            continue;
        }
        let reasons = input
            .groups
            .iter()
            .zip(&locks)
            .map(|(g, lock)| (g.name.clone(), rejection(g, lock.as_deref(), class.req)))
            .collect();
        result.unplaced.push(UnplacedPods {
            pods: class.members[class.next..].to_vec(),
            reasons,
        });
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaling::capacity::allocatable;
    use crate::scaling::fit::TolerationFact;
    use proptest::prelude::*;

    const GI: i64 = 1 << 30;
    const MI: i64 = 1 << 20;

    fn offering(id: &str, cpu: i64, mem_mb: i64, price: f64) -> OfferingFacts {
        OfferingFacts {
            id: id.into(),
            allocatable: allocatable(cpu, mem_mb),
            hourly_price: price,
        }
    }

    fn catalogue() -> Vec<OfferingFacts> {
        vec![
            offering("small-2cpu-4gb", 2, 4096, 0.02),
            offering("medium-4cpu-8gb", 4, 8192, 0.04),
            offering("large-8cpu-16gb", 8, 16384, 0.08),
        ]
    }

    fn group(name: &str, offerings: Vec<OfferingFacts>) -> GroupFacts {
        GroupFacts {
            name: name.into(),
            labels: [(
                "autoscaler.vpsie.com/nodegroup".to_string(),
                name.to_string(),
            )]
            .into(),
            offerings,
            allow_mixed: true,
            max_new_nodes: 100,
            ..GroupFacts::default()
        }
    }

    fn pods(n: usize, cpu: i64, mem: i64) -> Vec<PendingPod> {
        (0..n)
            .map(|i| PendingPod {
                key: format!("default/p{i}"),
                requirements: Arc::new(PodRequirements {
                    requests: Resources::new(cpu, mem, 1),
                    ..PodRequirements::default()
                }),
            })
            .collect()
    }

    fn run(
        pods: &[PendingPod],
        groups: &[GroupFacts],
        nodes: &[ExistingNode],
        inflight: &[InflightNode],
    ) -> Plan {
        plan(PlanInput {
            pods,
            groups,
            nodes,
            inflight,
        })
    }

    /// Every pod is accounted for exactly once and every planned node holds its pods.
    fn assert_consistent(p: &Plan, pods: &[PendingPod], groups: &[GroupFacts]) {
        let mut seen = vec![0u32; pods.len()];
        for i in p.on_existing.iter().chain(&p.on_inflight) {
            seen[*i] += 1;
        }
        for g in &p.groups {
            let facts = groups.iter().find(|x| x.name == g.group).unwrap();
            assert!(g.nodes.len() as u32 <= facts.max_new_nodes);
            for n in &g.nodes {
                let o = facts.offerings.iter().find(|o| o.id == n.offering).unwrap();
                let need = n.pods.iter().fold(Resources::default(), |a, &i| {
                    a.plus(pods[i].requirements.requests)
                });
                assert!(
                    o.allocatable.minus(facts.daemonset_overhead).covers(&need),
                    "{n:?}"
                );
                for &i in &n.pods {
                    seen[i] += 1;
                }
            }
        }
        for u in &p.unplaced {
            for &i in &u.pods {
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
    }

    #[test]
    fn uniform_burst_needs_exactly_the_bin_packing_bound() {
        // medium offers 3900m: 7 pods of 500m each; 30 pods need ceil(30/7) = 5 nodes
        let pods = pods(30, 500, 512 * MI);
        let groups = [group("g", vec![offering("medium-4cpu-8gb", 4, 8192, 0.04)])];
        let p = run(&pods, &groups, &[], &[]);
        assert_consistent(&p, &pods, &groups);
        assert_eq!(p.new_nodes(), 5);
        assert!(p.unplaced.is_empty());
    }

    #[test]
    fn cpu_heavy_and_memory_heavy_pods_share_nodes() {
        // per kind 210 pods: workers 500m/256Mi, caches 100m/768Mi, apis 200m/512Mi; in all
        // 168 cores and 315 GiB, the shape of a large node (1 core : 2 GiB). Filling a node
        // with the largest kind first gave cpu-full nodes of workers with idle memory and
        // highmem nodes of caches with idle cpu: 1.4 times the bound.
        let mut all = pods(210, 500, 256 * MI);
        all.extend(pods(210, 100, 768 * MI));
        all.extend(pods(210, 200, 512 * MI));
        for (i, p) in all.iter_mut().enumerate() {
            p.key = format!("default/p{i}");
        }
        let large = offering("large-8cpu-16gb", 8, 16384, 0.08);
        let highmem = offering("highmem-4cpu-32gb", 4, 32768, 0.09);
        let groups = [group("g", vec![large.clone(), highmem])];
        let p = run(&all, &groups, &[], &[]);
        assert_consistent(&p, &all, &groups);
        assert!(p.unplaced.is_empty());
        let total = all
            .iter()
            .fold(Resources::default(), |a, x| a.plus(x.requirements.requests));
        let a = large.allocatable;
        let bound = (total.cpu_millis as f64 / a.cpu_millis as f64)
            .max(total.memory_bytes as f64 / a.memory_bytes as f64)
            .ceil();
        let cost: f64 = p.groups[0]
            .nodes
            .iter()
            .map(|n| if n.offering == large.id { 0.08 } else { 0.09 })
            .sum();
        assert!(
            (p.new_nodes() as f64) <= bound * 1.05,
            "{} nodes for a bound of {bound}",
            p.new_nodes()
        );
        assert!(
            cost <= bound * 0.08 * 1.05,
            "{cost}/h for {bound} large nodes"
        );
    }

    #[test]
    fn larger_nodes_win_when_the_reserve_makes_them_cheaper_per_pod() {
        // with linear prices, the kubelet reserve makes large nodes cheapest per pod:
        // large holds 7 pods of 1 cpu for 0.08, medium 3 for 0.04, small 1 for 0.02
        let pods = pods(10, 1000, GI);
        let groups = [group("g", catalogue())];
        let p = run(&pods, &groups, &[], &[]);
        assert_consistent(&p, &pods, &groups);
        assert_eq!(
            p.groups[0].by_offering(),
            [
                ("large-8cpu-16gb".to_string(), 1),
                ("medium-4cpu-8gb".to_string(), 1)
            ]
            .into()
        );
        assert!((p.hourly_cost() - 0.12).abs() < 1e-9);
    }

    #[test]
    fn preferred_instance_type_wins_among_equal_fits() {
        let twins = vec![
            offering("a-4cpu", 4, 8192, 0.04),
            offering("b-4cpu", 4, 8192, 0.04),
        ];
        let mut g = group("g", twins);
        g.preferred = Some("b-4cpu".into());
        let pods = pods(6, 1000, GI);
        let p = run(&pods, &[g.clone()], &[], &[]);
        assert_eq!(
            p.groups[0].by_offering(),
            [("b-4cpu".to_string(), 2)].into()
        );
        g.preferred = None;
        let p = run(&pods, &[g], &[], &[]);
        assert_eq!(
            p.groups[0].by_offering(),
            [("a-4cpu".to_string(), 2)].into(),
            "names break ties"
        );
    }

    #[test]
    fn without_mixed_instances_a_group_keeps_one_type() {
        let pods = pods(10, 1000, GI);
        let mut g = group("g", catalogue());
        g.allow_mixed = false;
        let p = run(&pods, &[g.clone()], &[], &[]);
        assert_consistent(&p, &pods, &[g.clone()]);
        assert_eq!(
            p.groups[0].by_offering().len(),
            1,
            "{:?}",
            p.groups[0].by_offering()
        );
        // a group whose nodes are already medium stays medium
        g.locked_offering = Some("medium-4cpu-8gb".into());
        let p = run(&pods, &[g.clone()], &[], &[]);
        assert_eq!(
            p.groups[0].by_offering(),
            [("medium-4cpu-8gb".to_string(), 4)].into()
        );
        // and a pod too large for the locked type says so
        let big = self::pods(1, 6000, GI);
        let p = run(&big, &[g], &[], &[]);
        assert!(matches!(
            p.unplaced[0].reasons[0].1,
            Rejection::TooLarge { .. }
        ));
    }

    #[test]
    fn mixed_groups_right_size_the_last_node() {
        // 8 pods of 1 cpu: one large holds 7; the 8th needs 1 cpu: a small node, not another large
        let pods = pods(8, 1000, GI);
        let groups = [group("g", catalogue())];
        let p = run(&pods, &groups, &[], &[]);
        assert_consistent(&p, &pods, &groups);
        assert_eq!(
            p.groups[0].by_offering(),
            [
                ("large-8cpu-16gb".to_string(), 1),
                ("small-2cpu-4gb".to_string(), 1)
            ]
            .into()
        );
    }

    #[test]
    fn room_that_exists_or_is_coming_is_used_first() {
        let pods = pods(10, 500, 512 * MI);
        let groups = [group("g", vec![offering("medium-4cpu-8gb", 4, 8192, 0.04)])];
        let node = ExistingNode {
            facts: NodeFacts {
                name: "n1".into(),
                allocatable: allocatable(4, 8192),
                ready: true,
                ..NodeFacts::default()
            },
            used: Resources::new(2900, GI, 5),
        };
        let inflight = [InflightNode {
            group: "g".into(),
            offering: "medium-4cpu-8gb".into(),
        }];
        let p = run(&pods, &groups, &[node], &inflight);
        assert_consistent(&p, &pods, &groups);
        assert_eq!(p.on_existing.len(), 2, "1000m free holds 2");
        assert_eq!(p.on_inflight.len(), 7);
        assert_eq!(p.new_nodes(), 1);
    }

    #[test]
    fn cheapest_group_wins_and_selectors_and_taints_steer() {
        let mut cheap = group("cheap", vec![offering("m", 4, 8192, 0.03)]);
        let dear = group("dear", vec![offering("m", 4, 8192, 0.05)]);
        let p = run(&pods(3, 1000, GI), &[cheap.clone(), dear.clone()], &[], &[]);
        assert_eq!(p.groups.len(), 1);
        assert_eq!(p.groups[0].group, "cheap");

        // a taint on the cheap group sends untolerating pods to the dear one
        cheap.taints = vec![TaintFact {
            key: "dedicated".into(),
            value: "batch".into(),
            effect: "NoSchedule".into(),
        }];
        let mut mixed = pods(3, 1000, GI);
        Arc::make_mut(&mut mixed[0].requirements).tolerations = vec![TolerationFact {
            key: "dedicated".into(),
            exists: true,
            value: String::new(),
            effect: String::new(),
        }];
        let groups = [cheap.clone(), dear.clone()];
        let p = run(&mixed, &groups, &[], &[]);
        assert_consistent(&p, &mixed, &groups);
        // one dear node for all three (0.05) beats a cheap node for the tolerating pod plus a
        // dear node for the others (0.08)
        assert_eq!(p.groups.len(), 1);
        assert_eq!(p.groups[0].group, "dear");
        assert_eq!(p.groups[0].nodes.len(), 1);
        // without a toleration, no pod may go to the tainted cheap group
        let p = run(&pods(3, 1000, GI), &groups, &[], &[]);
        assert_eq!(p.groups.len(), 1);
        assert_eq!(p.groups[0].group, "dear");

        // a nodeSelector no group satisfies leaves the pod unplaced, with a reason per group
        let mut odd = pods(1, 100, MI);
        Arc::make_mut(&mut odd[0].requirements)
            .node_selector
            .insert("gpu".into(), "true".into());
        let p = run(&odd, &groups, &[], &[]);
        assert_eq!(p.new_nodes(), 0);
        let reasons = &p.unplaced[0].reasons;
        assert_eq!(reasons.len(), 2);
        assert!(reasons
            .iter()
            .all(|(_, r)| matches!(r, Rejection::Incompatible(Unfit::Affinity))));
    }

    #[test]
    fn limits_and_blocks_are_reasons() {
        let pods = pods(20, 1000, GI);
        let mut g = group("g", vec![offering("medium-4cpu-8gb", 4, 8192, 0.04)]);
        g.max_new_nodes = 2;
        let p = run(&pods, &[g.clone()], &[], &[]);
        assert_consistent(&p, &pods, &[g.clone()]);
        assert_eq!(p.new_nodes(), 2);
        assert_eq!(p.unplaced[0].pods.len(), 14);
        assert_eq!(p.unplaced[0].reasons[0].1, Rejection::AtMax);

        g.blocked = Some("paused by annotation autoscaler.vpsie.com/pause".into());
        let p = run(&pods, &[g.clone()], &[], &[]);
        assert_eq!(p.new_nodes(), 0);
        assert!(p.unplaced[0].reasons[0].1.to_string().contains("paused"));

        g.blocked = None;
        let huge = self::pods(1, 64_000, GI);
        let p = run(&huge, &[g], &[], &[]);
        let msg = p.unplaced[0].reasons[0].1.to_string();
        assert!(msg.contains("cpu 64") && msg.contains("cpu 3900m"), "{msg}");
    }

    #[test]
    fn daemonset_overhead_shrinks_new_nodes() {
        let mut g = group("g", vec![offering("medium-4cpu-8gb", 4, 8192, 0.04)]);
        g.daemonset_overhead = Resources::new(400, 256 * MI, 2);
        // 3500m left: 7 pods of 500m
        let pods = pods(8, 500, MI);
        let p = run(&pods, &[g.clone()], &[], &[]);
        assert_consistent(&p, &pods, &[g]);
        assert_eq!(p.new_nodes(), 2);
        assert_eq!(p.groups[0].nodes[0].pods.len(), 7);
    }

    fn arb_pod() -> impl Strategy<Value = PodRequirements> {
        (
            0i64..9000,
            0i64..20_000,
            prop::option::of(0usize..3),
            any::<bool>(),
        )
            .prop_map(|(cpu, mem_mb, sel, tol)| {
                let mut r = PodRequirements {
                    requests: Resources::new(cpu, mem_mb * MI, 1),
                    ..PodRequirements::default()
                };
                if let Some(g) = sel {
                    r.node_selector
                        .insert("autoscaler.vpsie.com/nodegroup".into(), format!("g{g}"));
                }
                if tol {
                    r.tolerations.push(TolerationFact {
                        key: "t".into(),
                        exists: true,
                        value: String::new(),
                        effect: String::new(),
                    });
                }
                r
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn plans_are_always_consistent(
            reqs in prop::collection::vec(arb_pod(), 0..60),
            max_new in prop::collection::vec(0u32..6, 3),
            mixed in prop::collection::vec(any::<bool>(), 3),
        ) {
            let pods: Vec<PendingPod> = reqs
                .into_iter()
                .enumerate()
                .map(|(i, r)| PendingPod { key: format!("ns/p{i}"), requirements: Arc::new(r) })
                .collect();
            let groups: Vec<GroupFacts> = (0..3)
                .map(|i| {
                    let mut g = group(&format!("g{i}"), catalogue());
                    g.max_new_nodes = max_new[i];
                    g.allow_mixed = mixed[i];
                    if i == 2 {
                        g.taints = vec![TaintFact { key: "t".into(), value: String::new(), effect: "NoSchedule".into() }];
                    }
                    g
                })
                .collect();
            let p = run(&pods, &groups, &[], &[]);
            assert_consistent(&p, &pods, &groups);
            for g in &p.groups {
                let facts = groups.iter().find(|x| x.name == g.group).unwrap();
                if !facts.allow_mixed {
                    prop_assert!(g.by_offering().len() <= 1);
                }
            }
        }
    }
    /// The fill as first written, a pod at a time: the oracle for [`fill`].
    fn fill_one_at_a_time(
        classes: &[Class<'_>],
        compatible: &[usize],
        mut room: Resources,
    ) -> Vec<(usize, u64)> {
        let start = room;
        let mut taken = vec![0u64; compatible.len()];
        loop {
            let mut best: Option<(usize, f64)> = None;
            for (pos, &c) in compatible.iter().enumerate() {
                let class = &classes[c];
                if class.remaining() <= taken[pos] {
                    continue;
                }
                let each = class.req.requests;
                if crate::scaling::fit::fit_count(&room, &each) == 0 {
                    continue;
                }
                let score = share(each.cpu_millis, start.cpu_millis)
                    * share(room.cpu_millis, start.cpu_millis)
                    + share(each.memory_bytes, start.memory_bytes)
                        * share(room.memory_bytes, start.memory_bytes)
                    + share(each.pods.max(1), start.pods) * share(room.pods, start.pods);
                if best.is_none_or(|(_, s)| score > s + 1e-12) {
                    best = Some((pos, score));
                }
            }
            let Some((pos, _)) = best else { break };
            let each = classes[compatible[pos]].req.requests;
            room = room.minus(Resources::new(
                each.cpu_millis,
                each.memory_bytes,
                each.pods.max(1),
            ));
            taken[pos] += 1;
        }
        compatible
            .iter()
            .zip(taken)
            .filter(|&(_, k)| k > 0)
            .map(|(&c, k)| (c, k))
            .collect()
    }

    /// Requests of a pod kind: small and large, cpu-heavy and memory-heavy, some without cpu
    /// or memory, some multiples of others (equal ratios, where scores come close to ties).
    fn arb_requests() -> impl Strategy<Value = Resources> {
        prop_oneof![
            (0i64..4000, 0i64..8192, 0i64..3).prop_map(|(cpu, mem_mb, pods)| Resources::new(
                cpu,
                mem_mb * MI,
                pods
            )),
            (1i64..8, 1i64..8, 1i64..4).prop_map(|(a, b, m)| Resources::new(
                125 * a * m,
                256 * MI * b * m,
                1
            )),
            Just(Resources::new(500, 256 * MI, 1)),
            Just(Resources::new(100, 768 * MI, 1)),
            Just(Resources::new(200, 512 * MI, 1)),
            Just(Resources::new(250, 128 * MI, 1)),
        ]
    }

    fn arb_room() -> impl Strategy<Value = Resources> {
        prop_oneof![
            (1i64..33, 1i64..65).prop_map(|(cpu, gb)| allocatable(cpu, gb * 1024)),
            (-500i64..40_000, -MI..64 * GI, -2i64..250)
                .prop_map(|(cpu, mem, pods)| Resources::new(cpu, mem, pods)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn fast_fill_takes_the_same_pods_as_one_at_a_time(
            kinds in prop::collection::vec((arb_requests(), 1usize..300, any::<bool>()), 1..10),
            room in arb_room(),
        ) {
            // a kind may come twice (same requests, another selector): equal scores
            let mut reqs = Vec::new();
            for (i, (requests, _, twin)) in kinds.iter().enumerate() {
                let r = PodRequirements { requests: *requests, ..PodRequirements::default() };
                if *twin {
                    let mut other = r.clone();
                    other.node_selector.insert("twin".into(), i.to_string());
                    reqs.push(other);
                }
                reqs.push(r);
            }
            let counts: Vec<usize> = kinds
                .iter()
                .flat_map(|(_, n, twin)| std::iter::repeat_n(*n, 1 + usize::from(*twin)))
                .collect();
            let classes: Vec<Class<'_>> = reqs
                .iter()
                .zip(&counts)
                .map(|(req, &n)| Class {
                    req,
                    members: (0..n).collect(),
                    next: 0,
                    weight: weight(&req.requests),
                })
                .collect();
            let compatible: Vec<usize> = (0..classes.len()).collect();
            prop_assert_eq!(
                fill(&classes, &compatible, room),
                fill_one_at_a_time(&classes, &compatible, room)
            );
        }

        #[test]
        fn fast_fill_plans_what_one_at_a_time_plans(
            reqs in prop::collection::vec((arb_requests(), 1usize..80, prop::option::of(0usize..3)), 1..8),
            max_new in prop::collection::vec(0u32..40, 3),
            mixed in prop::collection::vec(any::<bool>(), 3),
            used in prop::collection::vec((0i64..4000, 0i64..8192), 0..6),
        ) {
            let mut pods = Vec::new();
            for (requests, n, sel) in &reqs {
                let mut r = PodRequirements { requests: *requests, ..PodRequirements::default() };
                if let Some(g) = sel {
                    r.node_selector
                        .insert("autoscaler.vpsie.com/nodegroup".into(), format!("g{g}"));
                }
                let r = Arc::new(r);
                for _ in 0..*n {
                    pods.push(PendingPod { key: format!("ns/p{}", pods.len()), requirements: r.clone() });
                }
            }
            let mut offerings = catalogue();
            offerings.push(offering("highmem-4cpu-32gb", 4, 32768, 0.09));
            let groups: Vec<GroupFacts> = (0..3)
                .map(|i| {
                    let mut g = group(&format!("g{i}"), offerings.clone());
                    g.max_new_nodes = max_new[i];
                    g.allow_mixed = mixed[i];
                    g
                })
                .collect();
            let nodes: Vec<ExistingNode> = used
                .iter()
                .enumerate()
                .map(|(i, &(cpu, mem_mb))| ExistingNode {
                    facts: NodeFacts {
                        name: format!("n{i}"),
                        labels: groups[i % 3].labels.clone(),
                        allocatable: allocatable(4, 8192),
                        ready: true,
                        ..NodeFacts::default()
                    },
                    used: Resources::new(cpu, mem_mb * MI, 3),
                })
                .collect();
            let inflight = [InflightNode { group: "g1".into(), offering: "medium-4cpu-8gb".into() }];
            let input = PlanInput { pods: &pods, groups: &groups, nodes: &nodes, inflight: &inflight };
            prop_assert_eq!(plan(input), plan_with(input, fill_one_at_a_time, false));
        }
    }
}
