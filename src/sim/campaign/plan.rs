//! The plan of one campaign run, drawn from its seed: pure, so a seed always means the same
//! run (`plan(seed, size)`).

use std::fmt;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// How big a campaign is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// A handful of short runs, for CI.
    Ci,
    /// At least 100 runs with longer fault windows and more load.
    Nightly,
}

impl Size {
    /// Runs of this size when `--runs` is not given.
    pub fn default_runs(self) -> usize {
        match self {
            Size::Ci => 4,
            Size::Nightly => 100,
        }
    }

    /// `ci` or `nightly`.
    pub fn as_str(self) -> &'static str {
        match self {
            Size::Ci => "ci",
            Size::Nightly => "nightly",
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ci" => Ok(Size::Ci),
            "nightly" => Ok(Size::Nightly),
            other => Err(format!(
                "--size {other:?} is not a campaign size: use ci (a handful of short runs) or nightly (100 runs)"
            )),
        }
    }
}

/// The seed of run `index` of a campaign started from `base` (SplitMix64, so neighbouring
/// bases do not share runs). Printed with every run, and `--seed` replays one.
pub fn run_seed(base: u64, index: usize) -> u64 {
    let mut z = base.wrapping_add((index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One Deployment of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadPlan {
    /// Name (also its `app` label).
    pub name: String,
    /// Replicas.
    pub replicas: u32,
    /// CPU request per pod, millicores.
    pub cpu_millis: u32,
    /// A PodDisruptionBudget with this `minAvailable`, if any.
    pub pdb_min_available: Option<u32>,
    /// Whether it is deleted after the scale-up (so nodes become unneeded).
    pub leaves: bool,
}

/// A VPSie fault of a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VpsieFault {
    /// 5xx answers on some requests (probability), a burst.
    ServerErrors {
        /// 500, 502, 503 or 504.
        code: u16,
        /// Chance per request.
        probability: f64,
    },
    /// Every request answered 503 for the window: enough consecutive failures to open the
    /// circuit breaker.
    Outage,
    /// 429 with Retry-After on some requests.
    RateLimited {
        /// Retry-After seconds.
        retry_after_secs: u64,
        /// Chance per request.
        probability: f64,
    },
    /// Requests that get no answer within the client's timeout (30 s).
    Timeouts {
        /// How many.
        count: u32,
    },
    /// CreateVM done, its answer lost.
    LoseCreateResponses {
        /// How many.
        count: u32,
    },
    /// Every access token expires (mid-flight).
    ExpireTokens,
    /// The account's VM quota is exhausted for the window.
    QuotaExhausted,
    /// VMs boot slowly (simulated seconds).
    SlowBoot {
        /// Boot time, simulated seconds.
        secs: u64,
    },
    /// The next VMs fail to boot.
    FailedBoots {
        /// How many.
        count: u32,
    },
}

impl VpsieFault {
    /// A short name for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            VpsieFault::ServerErrors { .. } => "vpsie-5xx",
            VpsieFault::Outage => "vpsie-outage",
            VpsieFault::RateLimited { .. } => "vpsie-429",
            VpsieFault::Timeouts { .. } => "vpsie-timeout",
            VpsieFault::LoseCreateResponses { .. } => "vpsie-lost-create-reply",
            VpsieFault::ExpireTokens => "vpsie-token-expiry",
            VpsieFault::QuotaExhausted => "vpsie-quota",
            VpsieFault::SlowBoot { .. } => "vpsie-slow-boot",
            VpsieFault::FailedBoots { .. } => "vpsie-failed-boot",
        }
    }
}

/// A Kubernetes API fault of a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KubeFault {
    /// 409 Conflict on writes of a resource.
    Conflicts {
        /// Resource plural.
        resource: String,
        /// Chance per write.
        probability: f64,
    },
    /// The API server answers 503 to the reconciler for the window.
    Unavailable,
    /// Every open watch is cut, this often during the window.
    CutWatches {
        /// Milliseconds between cuts.
        every_ms: u64,
    },
    /// Resumed watches get 410 Expired.
    ExpireWatches {
        /// How many.
        count: u32,
    },
}

impl KubeFault {
    /// A short name for reports.
    pub fn kind(&self) -> &'static str {
        match self {
            KubeFault::Conflicts { .. } => "kube-409",
            KubeFault::Unavailable => "kube-503",
            KubeFault::CutWatches { .. } => "kube-watch-cut",
            KubeFault::ExpireWatches { .. } => "kube-410",
        }
    }
}

/// Faults in force for one window of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultProfile {
    /// VPSie faults.
    pub vpsie: Vec<VpsieFault>,
    /// Kubernetes API faults.
    pub kube: Vec<KubeFault>,
    /// How long the window lasts (wall milliseconds).
    pub window_ms: u64,
}

/// Where a SIGKILL of `serve` lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrashPhase {
    /// While a VPSieNode is on its way up (Pending..Joining).
    ScaleUp,
    /// While a node is drained (a VPSieNode Terminating).
    Drain,
    /// While a VPS is deleted (a VPSieNode Deleting).
    Delete,
}

impl CrashPhase {
    /// `scale-up`, `drain`, `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            CrashPhase::ScaleUp => "scale-up",
            CrashPhase::Drain => "drain",
            CrashPhase::Delete => "delete",
        }
    }

    /// The VPSieNode phases that show it is under way.
    pub fn phases(self) -> &'static [&'static str] {
        match self {
            CrashPhase::ScaleUp => &["Pending", "Provisioning", "Provisioned", "Joining"],
            CrashPhase::Drain => &["Terminating"],
            CrashPhase::Delete => &["Deleting"],
        }
    }
}

/// One planned SIGKILL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Crash {
    /// During what.
    pub phase: CrashPhase,
    /// Wall milliseconds after the phase is first seen.
    pub delay_ms: u64,
    /// Wall milliseconds before the new `serve` starts.
    pub restart_after_ms: u64,
}

/// Everything a run does, from its seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPlan {
    /// The run's seed.
    pub seed: u64,
    /// The size it was drawn for.
    pub size: Size,
    /// The NodeGroup's minNodes.
    pub min_nodes: u32,
    /// The NodeGroup's maxNodes.
    pub max_nodes: u32,
    /// The Deployments.
    pub workloads: Vec<WorkloadPlan>,
    /// A bare pod annotated `safe-to-evict: "false"` on the first node: it must never be
    /// evicted, and its node never removed.
    pub unmovable: bool,
    /// Faults while the group scales up.
    pub up_faults: FaultProfile,
    /// Faults while it scales down.
    pub down_faults: FaultProfile,
    /// SIGKILLs of `serve`.
    pub crashes: Vec<Crash>,
}

/// CPU a node offers to pods in the plan's arithmetic (medium-4cpu-8gb: 4 cores, less the
/// kubelet's reservation and fragmentation), millicores.
pub const NODE_CPU_MILLIS: u32 = 3000;

/// The offering every node of a campaign group has.
pub const OFFERING: &str = "medium-4cpu-8gb";

impl RunPlan {
    /// Total CPU requested at the peak, millicores.
    pub fn peak_cpu(&self) -> u32 {
        self.workloads
            .iter()
            .map(|w| w.replicas * w.cpu_millis)
            .sum()
    }

    /// CPU still requested once the leaving workloads are gone, millicores.
    pub fn remaining_cpu(&self) -> u32 {
        self.workloads
            .iter()
            .filter(|w| !w.leaves)
            .map(|w| w.replicas * w.cpu_millis)
            .sum()
    }

    /// Pods that must run at the end.
    pub fn remaining_pods(&self) -> u32 {
        self.workloads
            .iter()
            .filter(|w| !w.leaves)
            .map(|w| w.replicas)
            .sum::<u32>()
            + u32::from(self.unmovable)
    }

    /// The most VPSieNodes the group may keep once scaled down: minNodes, or what the
    /// remaining load needs (counted generously: a node per `NODE_CPU_MILLIS / 2`), plus the
    /// unmovable pod's node.
    pub fn final_node_bound(&self) -> u32 {
        let need = self.remaining_cpu().div_ceil(NODE_CPU_MILLIS / 2) + u32::from(self.unmovable);
        need.max(self.min_nodes).min(self.max_nodes)
    }

    /// Every fault kind planned, in order.
    pub fn fault_kinds(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for p in [&self.up_faults, &self.down_faults] {
            out.extend(p.vpsie.iter().map(VpsieFault::kind));
            out.extend(p.kube.iter().map(KubeFault::kind));
        }
        out
    }
}

fn vpsie_fault(rng: &mut StdRng, size: Size, scale_down: bool) -> VpsieFault {
    let pick = if scale_down {
        rng.random_range(0..6)
    } else {
        rng.random_range(0..9)
    };
    match pick {
        0 => VpsieFault::ServerErrors {
            code: [500, 502, 503, 504][rng.random_range(0..4)],
            probability: rng.random_range(0.2..0.6),
        },
        1 => VpsieFault::RateLimited {
            retry_after_secs: rng.random_range(1..=3),
            probability: rng.random_range(0.2..0.6),
        },
        2 => VpsieFault::ExpireTokens,
        3 => VpsieFault::Outage,
        // a timeout costs the client 30 s of wall time: nightly only
        4 if size == Size::Nightly => VpsieFault::Timeouts { count: 1 },
        4 => VpsieFault::ServerErrors {
            code: 502,
            probability: rng.random_range(0.2..0.6),
        },
        5 => VpsieFault::ServerErrors {
            code: 503,
            probability: rng.random_range(0.5..0.9),
        },
        6 => VpsieFault::LoseCreateResponses {
            count: rng.random_range(1..=3),
        },
        7 => VpsieFault::QuotaExhausted,
        8 => {
            if rng.random_bool(0.5) {
                VpsieFault::SlowBoot {
                    secs: rng.random_range(60..=240),
                }
            } else {
                VpsieFault::FailedBoots {
                    count: rng.random_range(1..=2),
                }
            }
        }
        _ => unreachable!("range 0..9"),
    }
}

fn kube_fault(rng: &mut StdRng) -> KubeFault {
    match rng.random_range(0..4) {
        0 => KubeFault::Conflicts {
            resource: ["vpsienodes", "nodegroups", "nodes", "leases"][rng.random_range(0..4)]
                .to_string(),
            probability: rng.random_range(0.2..0.6),
        },
        1 => KubeFault::Unavailable,
        2 => KubeFault::CutWatches {
            every_ms: rng.random_range(700..=2500),
        },
        _ => KubeFault::ExpireWatches {
            count: rng.random_range(1..=5),
        },
    }
}

fn profile(rng: &mut StdRng, size: Size, scale_down: bool) -> FaultProfile {
    let max_each = match size {
        Size::Ci => 2,
        Size::Nightly => 3,
    };
    let n_vpsie = rng.random_range(0..=max_each);
    let n_kube = rng.random_range(0..=max_each);
    let mut vpsie: Vec<VpsieFault> = Vec::new();
    for _ in 0..n_vpsie {
        let f = vpsie_fault(rng, size, scale_down);
        if !vpsie.iter().any(|g| g.kind() == f.kind()) {
            vpsie.push(f);
        }
    }
    let mut kube: Vec<KubeFault> = Vec::new();
    for _ in 0..n_kube {
        let f = kube_fault(rng);
        if !kube.iter().any(|g| g.kind() == f.kind()) {
            kube.push(f);
        }
    }
    let window_ms = match size {
        Size::Ci => rng.random_range(3_000..=6_000),
        Size::Nightly => rng.random_range(4_000..=10_000),
    };
    FaultProfile {
        vpsie,
        kube,
        window_ms,
    }
}

/// The plan of the run with `seed`. Pure.
pub fn plan(seed: u64, size: Size) -> RunPlan {
    let mut rng = StdRng::seed_from_u64(seed);
    let min_nodes = rng.random_range(0..=1);
    let n_workloads = match size {
        Size::Ci => rng.random_range(1..=2),
        Size::Nightly => rng.random_range(1..=3),
    };
    let mut workloads = Vec::new();
    for i in 0..n_workloads {
        let replicas = rng.random_range(2..=5);
        let pdb = rng
            .random_bool(0.5)
            .then(|| rng.random_range(1..replicas.max(2)));
        workloads.push(WorkloadPlan {
            name: format!("w{i}"),
            replicas,
            cpu_millis: [250, 500, 750, 1000][rng.random_range(0..4)],
            pdb_min_available: pdb,
            leaves: true,
        });
    }
    // at least one workload leaves, so there is a scale-down; a PDB-protected one may stay
    if workloads.len() > 1 && rng.random_bool(0.5) {
        let keep = rng.random_range(0..workloads.len());
        workloads[keep].leaves = false;
    }
    // often a workload stays (maybe protected by a PDB): the drains then evict its pods
    if workloads.iter().all(|w| w.leaves) && rng.random_bool(0.6) {
        let replicas = rng.random_range(2..=4);
        workloads.push(WorkloadPlan {
            name: "keep".into(),
            replicas,
            cpu_millis: [250, 500][rng.random_range(0..2)],
            pdb_min_available: rng.random_bool(0.6).then(|| replicas - 1),
            leaves: false,
        });
    }
    // what leaves needs at least two nodes, so nodes are drained and deleted
    while workloads
        .iter()
        .filter(|w| w.leaves)
        .map(|w| w.replicas * w.cpu_millis)
        .sum::<u32>()
        < 2 * NODE_CPU_MILLIS
    {
        let w = workloads.iter_mut().find(|w| w.leaves).expect("one leaves");
        if w.cpu_millis < 1000 {
            w.cpu_millis += 250;
        } else {
            w.replicas += 1;
        }
    }
    let unmovable = rng.random_bool(0.3);
    let mut run = RunPlan {
        seed,
        size,
        min_nodes,
        max_nodes: 0,
        workloads,
        unmovable,
        up_faults: profile(&mut rng, size, false),
        down_faults: profile(&mut rng, size, true),
        crashes: Vec::new(),
    };
    // room for the peak with a spare node, never fewer than 3
    let peak_nodes = run.peak_cpu().div_ceil(NODE_CPU_MILLIS / 2) + u32::from(unmovable);
    run.max_nodes = (peak_nodes + 2).max(3);
    let crash_chance = match size {
        Size::Ci => 0.8,
        Size::Nightly => 0.7,
    };
    for phase in [CrashPhase::ScaleUp, CrashPhase::Drain, CrashPhase::Delete] {
        if rng.random_bool(crash_chance) {
            run.crashes.push(Crash {
                phase,
                delay_ms: rng.random_range(0..=800),
                restart_after_ms: rng.random_range(0..=2_000),
            });
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_seed_is_always_the_same_run() {
        assert_eq!(plan(42, Size::Ci), plan(42, Size::Ci));
        assert_ne!(plan(42, Size::Ci), plan(43, Size::Ci));
        assert_ne!(run_seed(1, 0), run_seed(1, 1));
        assert_ne!(run_seed(1, 1), run_seed(2, 0));
    }

    #[test]
    fn sizes_parse_and_bad_ones_name_the_flag() {
        assert_eq!("CI".parse::<Size>(), Ok(Size::Ci));
        assert_eq!("nightly".parse::<Size>(), Ok(Size::Nightly));
        let err = "huge".parse::<Size>().unwrap_err();
        assert!(err.contains("--size") && err.contains("huge") && err.contains("nightly"));
    }

    #[test]
    fn over_many_seeds_every_fault_and_crash_point_is_planned() {
        let mut kinds = std::collections::BTreeSet::new();
        let mut crashes = std::collections::BTreeSet::new();
        for i in 0..200 {
            let p = plan(run_seed(7, i), Size::Nightly);
            kinds.extend(p.fault_kinds());
            crashes.extend(p.crashes.iter().map(|c| c.phase));
        }
        assert_eq!(kinds.len(), 13, "{kinds:?}");
        for i in 0..200 {
            let p = plan(run_seed(7, i), Size::Ci);
            assert!(
                !p.fault_kinds().contains(&"vpsie-timeout"),
                "CI runs stay short"
            );
        }
        assert_eq!(crashes.len(), 3);
    }

    proptest! {
        #[test]
        fn plans_are_feasible(seed in any::<u64>(), nightly in any::<bool>()) {
            let size = if nightly { Size::Nightly } else { Size::Ci };
            let p = plan(seed, size);
            prop_assert!(!p.workloads.is_empty());
            prop_assert!(p.workloads.iter().any(|w| w.leaves), "a scale-down happens");
            let leaving: u32 = p.workloads.iter().filter(|w| w.leaves).map(|w| w.replicas * w.cpu_millis).sum();
            prop_assert!(leaving >= 2 * NODE_CPU_MILLIS);
            prop_assert!(size == Size::Nightly || !p.fault_kinds().contains(&"vpsie-timeout"));
            // the peak fits in maxNodes with the planner's generous arithmetic
            let peak = p.peak_cpu().div_ceil(NODE_CPU_MILLIS / 2) + u32::from(p.unmovable);
            prop_assert!(peak < p.max_nodes);
            prop_assert!(p.min_nodes <= p.final_node_bound());
            prop_assert!(p.final_node_bound() <= p.max_nodes);
            for w in &p.workloads {
                if let Some(m) = w.pdb_min_available {
                    prop_assert!(m >= 1 && m < w.replicas.max(2));
                }
            }
            for f in [&p.up_faults, &p.down_faults] {
                prop_assert!(f.window_ms >= 3_000 && f.window_ms <= 10_000);
            }
            // scale-down faults never concern creation (quota, boots): nothing is created then
            let creation_only = |v: &VpsieFault| matches!(v,
                VpsieFault::QuotaExhausted | VpsieFault::SlowBoot { .. } | VpsieFault::FailedBoots { .. }
                | VpsieFault::LoseCreateResponses { .. });
            prop_assert!(!p.down_faults.vpsie.iter().any(creation_only));
        }
    }
}
