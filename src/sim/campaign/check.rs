//! The invariants of a campaign run: pure functions over what the runner observed (the final
//! state of the cloud and the cluster, samples taken during the run, the cloud's request log
//! and each `serve` process's metrics).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A VPS at the end of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmFact {
    /// VPSie id.
    pub id: u64,
    /// Hostname.
    pub hostname: String,
}

/// A VPSieNode at the end of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VnFact {
    /// Object name.
    pub name: String,
    /// `status.phase` (`Pending` when unset).
    pub phase: String,
    /// `spec.vpsieInstanceID` (0 = none yet).
    pub instance_id: u64,
}

/// The final state, taken once the run converged or its deadline passed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FinalState {
    /// Live VPS of the cluster.
    pub vms: Vec<VmFact>,
    /// VPSieNodes.
    pub vns: Vec<VnFact>,
    /// Workload pods that must run.
    pub pods_expected: u32,
    /// Of those, Running.
    pub pods_running: u32,
    /// Most VPSieNodes allowed once scaled down.
    pub node_bound: u32,
    /// minNodes.
    pub min_nodes: u32,
    /// The NodeGroup's name (the `nodegroup` label of its metrics).
    pub group: String,
    /// serve's `nodegroup_*` and `vpsienode_phase` series at its last scrape (series with
    /// labels → value), from which the PrometheusRule's alerts are computed.
    pub gauges: BTreeMap<String, f64>,
}

/// Counts of ready pods of a PodDisruptionBudget-protected workload at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PdbSample {
    /// Wall milliseconds since the run started.
    pub t_ms: u64,
    /// Workload.
    pub app: String,
    /// Running and Ready pods, not being deleted.
    pub ready: u32,
    /// The budget's minAvailable.
    pub min_available: u32,
}

/// What one `serve` process showed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessObservation {
    /// Breaker gauge samples: wall milliseconds since the run started, value (0 closed, 1
    /// open, 2 half-open).
    pub breaker: Vec<(u64, u8)>,
    /// `vpsie_api_requests_total` with a 2xx `status` label, at its last scrape.
    pub requests_metric: f64,
    /// Requests the cloud answered 2xx from its start to its last scrape (an upper bound: a
    /// lost reply is 2xx here and an error there, a timed-out one is in neither).
    pub requests_logged: u64,
    /// `vpsie_api_errors_total{error_type="rate_limited"}` at its last scrape.
    pub rate_limited_metric: f64,
    /// 429 answers the cloud logged over the same span.
    pub rate_limited_logged: u64,
    /// The longest run of consecutive availability failures (5xx) the cloud answered in that
    /// span, and when (wall ms) the run ended.
    pub longest_failure_run: (u32, u64),
    /// When (wall ms) its last scrape was.
    pub last_scrape_ms: u64,
}

/// Everything a run observed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunObservation {
    /// `None` when the run converged once faults stopped, else what was still missing.
    pub not_converged: Option<String>,
    /// The final state.
    pub last: FinalState,
    /// PDB samples.
    pub pdb: Vec<PdbSample>,
    /// The unmovable pod's uid when created and at the end (`None`: gone); `None` overall when
    /// the run had none.
    pub unmovable: Option<(String, Option<String>)>,
    /// One per `serve` process, in order.
    pub processes: Vec<ProcessObservation>,
    /// The breaker's failure threshold and open timeout (ms) serve runs with.
    pub breaker_threshold: u32,
    /// Open timeout, milliseconds.
    pub breaker_open_ms: u64,
}

/// A broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Which one (`no-leak`, `no-duplicate`, `capacity`, `pdb`, `unmovable`, `breaker`,
    /// `metrics`).
    pub invariant: String,
    /// What was seen.
    pub detail: String,
}

fn v(invariant: &str, detail: String) -> Violation {
    Violation {
        invariant: invariant.into(),
        detail,
    }
}

/// Slack for sampling: a transition is seen up to this late (wall ms).
pub const SAMPLE_SLACK_MS: u64 = 1_500;

/// VPS instances == VPSieNodes: every live VPS is tracked by exactly one VPSieNode, and every
/// VPSieNode past creation has its VPS.
pub fn check_vms(s: &FinalState) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut by_id: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for n in s.vns.iter().filter(|n| n.instance_id != 0) {
        by_id.entry(n.instance_id).or_default().push(&n.name);
    }
    let live: BTreeSet<u64> = s.vms.iter().map(|m| m.id).collect();
    for m in &s.vms {
        match by_id.get(&m.id).map(Vec::len) {
            None => out.push(v(
                "no-leak",
                format!(
                    "VPS {} ({}) is alive but no VPSieNode tracks it",
                    m.id, m.hostname
                ),
            )),
            Some(1) => {}
            Some(_) => out.push(v(
                "no-duplicate",
                format!("VPS {} is tracked by VPSieNodes {:?}", m.id, by_id[&m.id]),
            )),
        }
    }
    let mut hostnames: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for m in &s.vms {
        hostnames.entry(&m.hostname).or_default().push(m.id);
    }
    for (h, ids) in hostnames.iter().filter(|(_, ids)| ids.len() > 1) {
        out.push(v(
            "no-duplicate",
            format!("{} live VPS share hostname {h}: {ids:?}", ids.len()),
        ));
    }
    for n in &s.vns {
        let has_vps = n.instance_id != 0 && live.contains(&n.instance_id);
        let must_have = matches!(n.phase.as_str(), "Provisioned" | "Joining" | "Ready");
        if must_have && !has_vps {
            out.push(v(
                "no-leak",
                format!(
                    "VPSieNode {} is {} but its VPS {} does not exist",
                    n.name, n.phase, n.instance_id
                ),
            ));
        }
    }
    out
}

/// Desired capacity reached once faults stopped: converged, every workload pod running, every
/// VPSieNode Ready (a Failed one keeps no VPS), the count within [minNodes, bound].
pub fn check_capacity(o: &RunObservation) -> Vec<Violation> {
    let s = &o.last;
    let mut out = Vec::new();
    if let Some(e) = &o.not_converged {
        out.push(v(
            "capacity",
            format!("did not converge after the faults stopped: {e}"),
        ));
    }
    if s.pods_running < s.pods_expected {
        out.push(v(
            "capacity",
            format!(
                "{} of {} workload pods running at the end",
                s.pods_running, s.pods_expected
            ),
        ));
    }
    let live: BTreeSet<u64> = s.vms.iter().map(|m| m.id).collect();
    for n in &s.vns {
        let ok = n.phase == "Ready" || (n.phase == "Failed" && !live.contains(&n.instance_id));
        if !ok {
            out.push(v(
                "capacity",
                format!("VPSieNode {} is {} at the end", n.name, n.phase),
            ));
        }
    }
    let ready = s.vns.iter().filter(|n| n.phase == "Ready").count() as u32;
    if ready < s.min_nodes {
        out.push(v(
            "capacity",
            format!("{ready} Ready nodes, below minNodes {}", s.min_nodes),
        ));
    }
    if ready > s.node_bound {
        out.push(v(
            "capacity",
            format!(
                "{ready} Ready nodes after the load left, more than the {} it needs (no scale-down)",
                s.node_bound
            ),
        ));
    }
    out
}

/// No PodDisruptionBudget exceeded: once a protected workload had `minAvailable` ready pods,
/// it never had fewer (workloads that leave are sampled only while they are wanted).
pub fn check_pdb(samples: &[PdbSample]) -> Vec<Violation> {
    let mut reached: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    for s in samples {
        if s.ready >= s.min_available {
            reached.insert(&s.app);
        } else if reached.contains(s.app.as_str()) && reported.insert(&s.app) {
            out.push(v(
                "pdb",
                format!(
                    "{}: {} ready pods at {} ms, below its PodDisruptionBudget's minAvailable {}",
                    s.app, s.ready, s.t_ms, s.min_available
                ),
            ));
        }
    }
    out
}

/// No unmovable pod stranded: the `safe-to-evict: "false"` pod is the same pod at the end.
pub fn check_unmovable(u: &Option<(String, Option<String>)>) -> Vec<Violation> {
    match u {
        Some((start, end)) if end.as_deref() != Some(start) => vec![v(
            "unmovable",
            format!(
                "the safe-to-evict=false pod (uid {start}) was {}",
                match end {
                    None => "deleted".to_string(),
                    Some(other) => format!("replaced by uid {other}"),
                }
            ),
        )],
        _ => Vec::new(),
    }
}

/// Breaker transitions as specified: closed → open → half-open → closed | open; never
/// closed → half-open, never open → closed without a probe; open for at least the open
/// timeout; open after `threshold` consecutive failures; closed at the end.
pub fn check_breaker(o: &RunObservation) -> Vec<Violation> {
    let mut out = Vec::new();
    for (i, p) in o.processes.iter().enumerate() {
        let mut prev: Option<(u64, u8)> = None;
        let mut opened_at: Option<u64> = None;
        let mut seen_open = false;
        for &(t, state) in &p.breaker {
            if let Some((_, ps)) = prev {
                if ps != state {
                    match (ps, state) {
                        // open → closed: the half-open probe fell between two samples
                        (0, 1) | (1, 2) | (1, 0) | (2, 0) | (2, 1) => {}
                        (a, b) => out.push(v(
                            "breaker",
                            format!(
                                "serve #{i}: breaker went from {} to {} at {t} ms",
                                name(a),
                                name(b)
                            ),
                        )),
                    }
                    if state == 1 {
                        opened_at = Some(t);
                    }
                    if ps == 1 {
                        if let Some(at) = opened_at {
                            // seen open from `at` (up to a sample late) to `t` (up to a sample late)
                            if t + SAMPLE_SLACK_MS < at + o.breaker_open_ms {
                                out.push(v(
                                    "breaker",
                                    format!(
                                        "serve #{i}: breaker left open after {} ms, before its {} ms timeout",
                                        t - at,
                                        o.breaker_open_ms
                                    ),
                                ));
                            }
                        }
                    }
                }
            } else if state == 1 {
                opened_at = Some(t);
            }
            seen_open |= state == 1;
            prev = Some((t, state));
        }
        let (run, ended) = p.longest_failure_run;
        if o.breaker_threshold > 0
            && run >= o.breaker_threshold
            && !seen_open
            && p.last_scrape_ms > ended + SAMPLE_SLACK_MS
            && p.last_scrape_ms < ended + o.breaker_open_ms
        {
            out.push(v(
                "breaker",
                format!(
                    "serve #{i}: {run} consecutive 5xx answers (threshold {}) but the breaker was never seen open",
                    o.breaker_threshold
                ),
            ));
        }
    }
    if o.not_converged.is_none() {
        if let Some(&(t, s)) = o.processes.last().and_then(|p| p.breaker.last()) {
            if s != 0 {
                out.push(v(
                    "breaker",
                    format!(
                        "breaker {} at the end ({t} ms), after the faults stopped",
                        name(s)
                    ),
                ));
            }
        }
    }
    out
}

/// The breaker transitions seen over all processes, as `from->to` counts. Pure.
pub fn breaker_transitions(processes: &[ProcessObservation]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for p in processes {
        for w in p.breaker.windows(2) {
            if w[0].1 != w[1].1 {
                *out.entry(format!("{}->{}", name(w[0].1), name(w[1].1)))
                    .or_default() += 1;
            }
        }
    }
    out
}

fn name(s: u8) -> &'static str {
    match s {
        0 => "closed",
        1 => "open",
        2 => "half-open",
        _ => "unknown",
    }
}

/// Metrics consistent with what happened: a process never counts more VPSie requests, or
/// more rate-limited ones, than the cloud answered it.
pub fn check_metrics(processes: &[ProcessObservation]) -> Vec<Violation> {
    let mut out = Vec::new();
    for (i, p) in processes.iter().enumerate() {
        if p.requests_metric > p.requests_logged as f64 {
            out.push(v(
                "metrics",
                format!(
                    "serve #{i}: vpsie_api_requests_total counts {} answered 2xx but the cloud answered only {} with 2xx",
                    p.requests_metric, p.requests_logged
                ),
            ));
        }
        if p.rate_limited_metric > p.rate_limited_logged as f64 {
            out.push(v(
                "metrics",
                format!(
                    "serve #{i}: {} rate_limited errors counted, the cloud answered {} 429s",
                    p.rate_limited_metric, p.rate_limited_logged
                ),
            ));
        }
    }
    out
}

/// The PrometheusRule's alert conditions (deploy/prometheusrule.yaml) computed from serve's
/// last scrape agree with the converged state: VPSieNodeGroupBelowDesired (desired - ready >
/// 0), VPSieNodeStuckProvisioning and VPSieNodeStuckJoining (a VPSieNode in those phases) are
/// false, and the gauges count the Ready VPSieNodes there are. Only for a converged run.
pub fn check_alerts(o: &RunObservation) -> Vec<Violation> {
    if o.not_converged.is_some() {
        return Vec::new();
    }
    let s = &o.last;
    let g = &s.gauges;
    let mut out = Vec::new();
    let get = |series: String| g.get(&series).copied();
    let ready = s.vns.iter().filter(|n| n.phase == "Ready").count() as f64;
    let group = |m: &str| format!("{m}{{nodegroup=\"{}\"}}", s.group);
    match (
        get(group("nodegroup_desired_nodes")),
        get(group("nodegroup_ready_nodes")),
    ) {
        (Some(desired), Some(r)) => {
            if desired - r > 0.0 {
                out.push(v(
                    "alerts",
                    format!("VPSieNodeGroupBelowDesired's condition holds at the end: desired {desired}, ready {r}"),
                ));
            }
            if r != ready {
                out.push(v(
                    "alerts",
                    format!("nodegroup_ready_nodes is {r}, but {ready} VPSieNodes are Ready"),
                ));
            }
        }
        _ => out.push(v(
            "alerts",
            format!(
                "serve exposes no nodegroup_desired_nodes/nodegroup_ready_nodes for {}",
                s.group
            ),
        )),
    }
    for phase in ["Pending", "Provisioning", "Provisioned", "Joining"] {
        let n = get(format!("vpsienode_phase{{phase=\"{phase}\"}}")).unwrap_or(0.0);
        if n > 0.0 {
            out.push(v(
                "alerts",
                format!("vpsienode_phase{{phase=\"{phase}\"}} is {n} at the end (a VPSieNodeStuck* alert's condition), no VPSieNode is {phase}"),
            ));
        }
    }
    match get("vpsienode_phase{phase=\"Ready\"}".into()) {
        Some(n) if n == ready => {}
        other => out.push(v(
            "alerts",
            format!(
                "vpsienode_phase{{phase=\"Ready\"}} is {other:?}, but {ready} VPSieNodes are Ready"
            ),
        )),
    }
    out
}

/// Every invariant.
pub fn check(o: &RunObservation) -> Vec<Violation> {
    let mut out = check_vms(&o.last);
    out.extend(check_capacity(o));
    out.extend(check_pdb(&o.pdb));
    out.extend(check_unmovable(&o.unmovable));
    out.extend(check_breaker(o));
    out.extend(check_metrics(&o.processes));
    out.extend(check_alerts(o));
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn vm(id: u64) -> VmFact {
        VmFact {
            id,
            hostname: format!("h{id}"),
        }
    }

    fn vn(name: &str, phase: &str, id: u64) -> VnFact {
        VnFact {
            name: name.into(),
            phase: phase.into(),
            instance_id: id,
        }
    }

    fn healthy() -> RunObservation {
        RunObservation {
            not_converged: None,
            last: FinalState {
                vms: vec![vm(1), vm(2)],
                vns: vec![vn("a", "Ready", 1), vn("b", "Ready", 2)],
                pods_expected: 3,
                pods_running: 3,
                node_bound: 2,
                min_nodes: 1,
                group: "g".into(),
                gauges: [
                    ("nodegroup_desired_nodes{nodegroup=\"g\"}", 2.0),
                    ("nodegroup_ready_nodes{nodegroup=\"g\"}", 2.0),
                    ("vpsienode_phase{phase=\"Ready\"}", 2.0),
                    ("vpsienode_phase{phase=\"Joining\"}", 0.0),
                ]
                .map(|(k, v)| (k.to_string(), v))
                .into(),
            },
            pdb: vec![],
            unmovable: Some(("u1".into(), Some("u1".into()))),
            processes: vec![ProcessObservation {
                breaker: vec![(0, 0), (100, 1), (31_000, 2), (31_200, 0)],
                requests_metric: 10.0,
                requests_logged: 12,
                longest_failure_run: (5, 90),
                last_scrape_ms: 40_000,
                ..Default::default()
            }],
            breaker_threshold: 5,
            breaker_open_ms: 30_000,
        }
    }

    #[test]
    fn a_healthy_run_passes() {
        assert_eq!(check(&healthy()), vec![]);
        let t = breaker_transitions(&healthy().processes);
        assert_eq!(
            t.into_iter().collect::<Vec<_>>(),
            [
                ("closed->open".to_string(), 1),
                ("half-open->closed".into(), 1),
                ("open->half-open".into(), 1)
            ]
        );
    }

    #[test]
    fn a_leaked_vps_is_found() {
        let mut o = healthy();
        o.last.vms.push(vm(3));
        let found = check(&o);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].invariant, "no-leak");
        assert!(found[0].detail.contains("VPS 3"));
    }

    #[test]
    fn duplicates_are_found() {
        let mut o = healthy();
        o.last.vns.push(vn("c", "Ready", 2));
        o.last.vms.push(VmFact {
            id: 9,
            hostname: "h1".into(),
        });
        o.last.vns.push(vn("d", "Ready", 9));
        o.last.node_bound = 4;
        let kinds: Vec<String> = check_vms(&o.last)
            .into_iter()
            .map(|v| v.invariant)
            .collect();
        assert_eq!(kinds, ["no-duplicate", "no-duplicate"]);
    }

    #[test]
    fn capacity_pdb_unmovable_metrics_and_breaker_violations_are_found() {
        let mut o = healthy();
        o.not_converged = Some("2 pods pending".into());
        o.last.pods_running = 1;
        o.last.vns[1].phase = "Deleting".into();
        assert_eq!(check_capacity(&o).len(), 3);

        let samples = [(0, 1), (10, 2), (20, 1), (30, 2)].map(|(t, ready)| PdbSample {
            t_ms: t,
            app: "w".into(),
            ready,
            min_available: 2,
        });
        let pdb = check_pdb(&samples);
        assert_eq!(
            pdb.len(),
            1,
            "below minAvailable after reaching it, once: {pdb:?}"
        );
        assert!(pdb[0].detail.contains("20 ms"));

        assert_eq!(check_unmovable(&Some(("u".into(), None))).len(), 1);
        assert_eq!(
            check_unmovable(&Some(("u".into(), Some("x".into())))).len(),
            1
        );
        assert!(check_unmovable(&None).is_empty());

        let mut o = healthy();
        o.processes[0].requests_metric = 13.0;
        o.processes[0].rate_limited_metric = 1.0;
        assert_eq!(check_metrics(&o.processes).len(), 2);

        let mut o = healthy();
        o.processes[0].breaker = vec![(0, 0), (100, 2)];
        assert!(check_breaker(&o)[0].detail.contains("closed to half-open"));
        o.processes[0].breaker = vec![(0, 0), (100, 1), (5_000, 2)];
        let b = check_breaker(&o);
        assert!(
            b.iter().any(|v| v.detail.contains("before its 30000 ms")),
            "{b:?}"
        );
        assert!(
            b.iter().any(|v| v.detail.contains("half-open at the end")),
            "{b:?}"
        );
        o.processes[0].breaker = vec![(0, 0), (1_000, 0)];
        o.processes[0].longest_failure_run = (6, 500);
        o.processes[0].last_scrape_ms = 5_000;
        assert!(check_breaker(&o)[0].detail.contains("never seen open"));
    }

    #[test]
    fn alert_conditions_that_disagree_with_the_state_are_found() {
        let mut o = healthy();
        o.last
            .gauges
            .insert("nodegroup_desired_nodes{nodegroup=\"g\"}".into(), 3.0);
        o.last
            .gauges
            .insert("vpsienode_phase{phase=\"Joining\"}".into(), 1.0);
        let found = check_alerts(&o);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].detail.contains("VPSieNodeGroupBelowDesired"));
        o.last.gauges.clear();
        assert_eq!(check_alerts(&o).len(), 2, "missing series are violations");
        o.not_converged = Some("x".into());
        assert!(
            check_alerts(&o).is_empty(),
            "only a converged run is judged"
        );
    }

    proptest! {
        /// Any 1:1 pairing of VPS and Ready VPSieNodes passes the VPS checks; removing one
        /// VPSieNode always shows as a leak.
        #[test]
        fn vps_pairing(ids in proptest::collection::btree_set(1u64..10_000, 1..20), drop in any::<prop::sample::Index>()) {
            let vms: Vec<VmFact> = ids.iter().map(|&i| vm(i)).collect();
            let vns: Vec<VnFact> = ids.iter().map(|&i| vn(&format!("n{i}"), "Ready", i)).collect();
            let mut s = FinalState { vms, vns, ..Default::default() };
            prop_assert!(check_vms(&s).is_empty());
            let gone = drop.index(s.vns.len());
            let removed = s.vns.remove(gone);
            let found = check_vms(&s);
            prop_assert_eq!(found.len(), 1);
            let want = format!("VPS {} ", removed.instance_id);
            prop_assert!(found[0].detail.contains(&want), "{:?}", found);
        }
    }
}
