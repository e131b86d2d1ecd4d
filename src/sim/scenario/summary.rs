//! What a played scenario comes to: pure functions over what the player recorded.
//!
//! Times are seconds of simulated time since the scenario started.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The version of [`Summary`]'s JSON.
pub const SCHEMA_VERSION: u32 = 1;

/// The world at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// Seconds since the start.
    pub t: f64,
    /// Workload pods not running yet.
    pub pending_pods: u32,
    /// Workload pods running.
    pub running_pods: u32,
    /// VPSieNodes by phase.
    pub nodes_by_phase: BTreeMap<String, u32>,
    /// Kubernetes nodes that are Ready.
    pub ready_nodes: u32,
    /// What the live VPS cost per hour (USD).
    pub cost_per_hour: f64,
}

/// One workload pod's life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRecord {
    /// `namespace/name`.
    pub pod: String,
    /// Its workload.
    pub workload: String,
    /// Created.
    pub created: f64,
    /// Running since (none: never ran).
    pub started: Option<f64>,
    /// Gone (deleted) at, when seen gone.
    pub gone: Option<f64>,
}

/// One VPS's life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmRecord {
    /// The VPS id.
    pub id: u64,
    /// Its hostname.
    pub hostname: String,
    /// Its offering.
    pub offering: String,
    /// USD per hour.
    pub hourly_price: f64,
    /// Created.
    pub created: f64,
    /// Deleted (none: still there at the end).
    pub deleted: Option<f64>,
}

/// Pending-to-running times, in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Latency {
    /// How many pods ran.
    pub pods: usize,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Longest.
    pub max: f64,
}

/// A played scenario, summed up (`--report DIR/summary.json`, `-o json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The scenario's name.
    pub scenario: String,
    /// Simulated seconds played.
    pub simulated_seconds: f64,
    /// Wall-clock seconds it took.
    pub wall_seconds: f64,
    /// The speed.
    pub speed: f64,
    /// Pending to running, of every pod that ran.
    pub pending_to_running: Latency,
    /// VPS created, by offering.
    pub created_by_offering: BTreeMap<String, u32>,
    /// VPS created.
    pub vps_created: u32,
    /// VPS deleted.
    pub vps_deleted: u32,
    /// VPS alive at the end.
    pub vps_at_end: u32,
    /// The most the VPS cost per hour at once (USD).
    pub peak_cost_per_hour: f64,
    /// What the VPS alive at the end cost per hour (USD).
    pub final_cost_per_hour: f64,
    /// What all VPS cost over the scenario: each one's hourly price times its lifetime (USD).
    pub total_cost: f64,
    /// Workload pods at the end that never ran (`namespace/name`).
    pub pods_never_placed: Vec<String>,
    /// Pods deleted before they ran (their workload left or shrank first).
    pub pods_cancelled_pending: u32,
    /// Live VPS that no VPSieNode tracks (leaked), by id.
    pub leaked_vps: Vec<u64>,
    /// Workload pods running at the end.
    pub pods_running_at_end: u32,
    /// Ready nodes at the end.
    pub ready_nodes_at_end: u32,
    /// The faults played, one line each.
    pub faults: Vec<String>,
}

/// The `q` quantile (0..=1) of sorted `xs`, by nearest rank. Pure.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What the VPS of `vms` alive at `t` cost per hour. Pure.
pub fn cost_at(vms: &[VmRecord], t: f64) -> f64 {
    vms.iter()
        .filter(|v| v.created <= t && v.deleted.is_none_or(|d| d > t))
        .map(|v| v.hourly_price)
        .sum()
}

/// What the VPS cost from their creation to their deletion or `end`. Pure.
pub fn total_cost(vms: &[VmRecord], end: f64) -> f64 {
    vms.iter()
        .map(|v| {
            let until = v.deleted.unwrap_or(end).min(end);
            (until - v.created).max(0.0) / 3600.0 * v.hourly_price
        })
        .sum()
}

/// What the player recorded.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// The scenario's name.
    pub scenario: String,
    /// Simulated seconds played.
    pub end: f64,
    /// Wall seconds.
    pub wall_seconds: f64,
    /// The speed.
    pub speed: f64,
    /// Samples, in time order.
    pub samples: Vec<Sample>,
    /// Every workload pod seen.
    pub pods: Vec<PodRecord>,
    /// Every VPS created during the scenario.
    pub vms: Vec<VmRecord>,
    /// Live VPS no VPSieNode tracks.
    pub leaked: Vec<u64>,
    /// Faults played.
    pub faults: Vec<String>,
}

/// Sums a recording up. Pure.
pub fn summarize(r: &Recording) -> Summary {
    let mut latencies: Vec<f64> = r
        .pods
        .iter()
        .filter_map(|p| p.started.map(|s| (s - p.created).max(0.0)))
        .collect();
    latencies.sort_by(f64::total_cmp);
    let mut created_by_offering = BTreeMap::new();
    for v in &r.vms {
        *created_by_offering.entry(v.offering.clone()).or_default() += 1;
    }
    // the cost only changes when a VPS comes or goes: its peak is at one of those moments
    let mut moments: Vec<f64> = r.vms.iter().map(|v| v.created).collect();
    moments.extend(r.samples.iter().map(|s| s.t));
    let peak = moments
        .iter()
        .map(|t| cost_at(&r.vms, *t))
        .fold(0.0, f64::max);
    let last = r.samples.last();
    let mut never: Vec<String> = r
        .pods
        .iter()
        .filter(|p| p.started.is_none() && p.gone.is_none())
        .map(|p| p.pod.clone())
        .collect();
    never.sort();
    Summary {
        schema_version: SCHEMA_VERSION,
        scenario: r.scenario.clone(),
        simulated_seconds: r.end,
        wall_seconds: r.wall_seconds,
        speed: r.speed,
        pending_to_running: Latency {
            pods: latencies.len(),
            p50: quantile(&latencies, 0.5),
            p95: quantile(&latencies, 0.95),
            max: latencies.last().copied().unwrap_or(0.0),
        },
        created_by_offering,
        vps_created: r.vms.len() as u32,
        vps_deleted: r
            .vms
            .iter()
            .filter(|v| v.deleted.is_some_and(|d| d <= r.end))
            .count() as u32,
        vps_at_end: r
            .vms
            .iter()
            .filter(|v| v.deleted.is_none_or(|d| d > r.end))
            .count() as u32,
        peak_cost_per_hour: round(peak),
        final_cost_per_hour: round(cost_at(&r.vms, r.end)),
        total_cost: round(total_cost(&r.vms, r.end)),
        pods_never_placed: never,
        pods_cancelled_pending: r
            .pods
            .iter()
            .filter(|p| p.started.is_none() && p.gone.is_some())
            .count() as u32,
        leaked_vps: r.leaked.clone(),
        pods_running_at_end: last.map(|s| s.running_pods).unwrap_or(0),
        ready_nodes_at_end: last.map(|s| s.ready_nodes).unwrap_or(0),
        faults: r.faults.clone(),
    }
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(id: u64, price: f64, created: f64, deleted: Option<f64>) -> VmRecord {
        VmRecord {
            id,
            hostname: format!("h{id}"),
            offering: if price > 0.02 { "big" } else { "small" }.into(),
            hourly_price: price,
            created,
            deleted,
        }
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let xs: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(quantile(&xs, 0.5), 10.0);
        assert_eq!(quantile(&xs, 0.95), 19.0);
        assert_eq!(quantile(&xs, 1.0), 20.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
        assert_eq!(quantile(&[7.0], 0.95), 7.0);
    }

    #[test]
    fn cost_follows_the_vms_that_ran() {
        let vms = vec![
            vm(1, 0.01, 0.0, None),
            vm(2, 0.04, 100.0, Some(3700.0)),
            vm(3, 0.04, 200.0, Some(300.0)),
        ];
        assert_eq!(cost_at(&vms, 50.0), 0.01);
        assert!((cost_at(&vms, 250.0) - 0.09).abs() < 1e-12);
        assert_eq!(cost_at(&vms, 300.0), 0.05);
        // 1 h of vm 1, 1 h of vm 2, 100 s of vm 3
        let total = total_cost(&vms, 3600.0);
        let want = 0.01 + 0.04 * 3500.0 / 3600.0 + 0.04 * 100.0 / 3600.0;
        assert!((total - want).abs() < 1e-12, "{total} {want}");
        let r = Recording {
            scenario: "t".into(),
            end: 3600.0,
            vms,
            pods: vec![
                PodRecord {
                    pod: "d/a".into(),
                    workload: "a".into(),
                    created: 10.0,
                    started: Some(30.0),
                    gone: None,
                },
                PodRecord {
                    pod: "d/b".into(),
                    workload: "a".into(),
                    created: 10.0,
                    started: None,
                    gone: None,
                },
                PodRecord {
                    pod: "d/c".into(),
                    workload: "a".into(),
                    created: 10.0,
                    started: None,
                    gone: Some(40.0),
                },
            ],
            ..Recording::default()
        };
        let s = summarize(&r);
        assert_eq!(s.peak_cost_per_hour, 0.09);
        assert_eq!(s.final_cost_per_hour, 0.05);
        assert_eq!(s.vps_created, 3);
        assert_eq!(s.vps_deleted, 1);
        assert_eq!(s.vps_at_end, 2);
        assert_eq!(s.created_by_offering["big"], 2);
        assert_eq!(s.pending_to_running.pods, 1);
        assert_eq!(s.pending_to_running.max, 20.0);
        assert_eq!(s.pods_never_placed, ["d/b"]);
        assert_eq!(s.pods_cancelled_pending, 1);
    }
}
