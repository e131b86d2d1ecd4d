//! The bench's computations, pure: percentiles, the bin-packing lower bound, the cheapest
//! cover, API economy, the targets and the regression check against a baseline.

use serde::{Deserialize, Serialize};

/// Requests or capacity in the three dimensions the scheduler counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    /// CPU in millicores.
    pub cpu_millis: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
    /// Pods.
    pub pods: i64,
}

impl Amount {
    /// The sum.
    pub fn plus(self, o: Amount) -> Amount {
        Amount {
            cpu_millis: self.cpu_millis + o.cpu_millis,
            memory_bytes: self.memory_bytes + o.memory_bytes,
            pods: self.pods + o.pods,
        }
    }

    /// `self` `n` times.
    pub fn times(self, n: i64) -> Amount {
        Amount {
            cpu_millis: self.cpu_millis * n,
            memory_bytes: self.memory_bytes * n,
            pods: self.pods * n,
        }
    }

    fn dims(&self) -> [i64; 3] {
        [self.cpu_millis, self.memory_bytes, self.pods]
    }
}

/// p50, p95 and max of a sample (nearest rank), with its size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// How many values.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Largest.
    pub max: f64,
}

/// The nearest-rank percentile `q` (0..=1) of sorted `v` (not empty).
fn rank(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let idx = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
    sorted[idx]
}

/// p50/p95/max of `values`; `None` when empty. NaNs are ignored.
pub fn spread(values: &[f64]) -> Option<Spread> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(Spread {
        n: v.len(),
        p50: rank(&v, 0.50),
        p95: rank(&v, 0.95),
        max: v[v.len() - 1],
    })
}

/// The median of `values` (the lower middle for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    spread(values).map(|s| s.p50)
}

fn ceil_div(a: i64, b: i64) -> i64 {
    if a <= 0 {
        0
    } else if b <= 0 {
        i64::MAX
    } else {
        (a + b - 1) / b
    }
}

/// The bin-packing lower bound: no placement fits `total` on fewer nodes, each of which has at
/// most the largest allocatable of `offerings` in every dimension — the max over cpu, memory
/// and pods of the total requested divided by that capacity, rounded up.
pub fn lower_bound_nodes(total: Amount, offerings: &[Amount]) -> u64 {
    let mut best = [0i64; 3];
    for o in offerings {
        for (b, d) in best.iter_mut().zip(o.dims()) {
            *b = (*b).max(d);
        }
    }
    total
        .dims()
        .iter()
        .zip(best)
        .map(|(&need, cap)| ceil_div(need, cap))
        .max()
        .unwrap_or(0)
        .max(0) as u64
}

/// The cheapest cover of `total`: the multiset of offerings (allocatable, price per hour)
/// whose summed allocatable covers `total` in every dimension, at the least cost (ignores
/// packing, so it is a lower bound of any real placement's cost). Exact: each offering's count
/// is enumerated up to what covers the total alone. `None` without offerings, or when no
/// offering has room in a dimension that is needed.
pub fn cheapest_cover(total: Amount, offerings: &[(Amount, f64)]) -> Option<(f64, Vec<u64>)> {
    if offerings.is_empty() {
        return None;
    }
    let need = total.dims();
    let caps: Vec<[i64; 3]> = offerings.iter().map(|(a, _)| a.dims()).collect();
    // every needed dimension must be served by some offering
    for (d, &n) in need.iter().enumerate() {
        if n > 0 && caps.iter().all(|c| c[d] <= 0) {
            return None;
        }
    }
    let alone: Vec<i64> = caps
        .iter()
        .map(|c| {
            need.iter()
                .zip(c)
                .map(|(&n, &cap)| {
                    if n <= 0 {
                        0
                    } else if cap <= 0 {
                        i64::MAX
                    } else {
                        ceil_div(n, cap)
                    }
                })
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut best: Option<(f64, Vec<u64>)> = None;
    let mut counts = vec![0u64; offerings.len()];
    search(
        0,
        need,
        &caps,
        offerings,
        &alone,
        0.0,
        &mut counts,
        &mut best,
    );
    best
}

#[allow(clippy::too_many_arguments)]
fn search(
    i: usize,
    left: [i64; 3],
    caps: &[[i64; 3]],
    offerings: &[(Amount, f64)],
    alone: &[i64],
    cost: f64,
    counts: &mut Vec<u64>,
    best: &mut Option<(f64, Vec<u64>)>,
) {
    if best.as_ref().is_some_and(|(b, _)| cost >= *b - 1e-12) && left.iter().any(|&l| l > 0) {
        return;
    }
    if left.iter().all(|&l| l <= 0) {
        if best.as_ref().is_none_or(|(b, _)| cost < *b - 1e-12) {
            *best = Some((cost, counts.clone()));
        }
        return;
    }
    if i == caps.len() {
        return;
    }
    let price = offerings[i].1;
    // the last offering takes exactly what is left; the others every count up to covering alone
    let max_here = if alone[i] == i64::MAX { 0 } else { alone[i] };
    let range: Vec<i64> = if i + 1 == caps.len() {
        let n = left
            .iter()
            .zip(caps[i])
            .map(|(&l, c)| {
                if l <= 0 {
                    0
                } else if c <= 0 {
                    i64::MAX
                } else {
                    ceil_div(l, c)
                }
            })
            .max()
            .unwrap_or(0);
        if n == i64::MAX {
            return;
        }
        vec![n]
    } else {
        (0..=max_here).collect()
    };
    for n in range {
        let next = [
            left[0] - caps[i][0] * n,
            left[1] - caps[i][1] * n,
            left[2] - caps[i][2] * n,
        ];
        counts[i] = n as u64;
        search(
            i + 1,
            next,
            caps,
            offerings,
            alone,
            cost + price * n as f64,
            counts,
            best,
        );
        counts[i] = 0;
        if next.iter().all(|&l| l <= 0) {
            break; // more of this offering only costs more
        }
    }
}

/// A ratio `a / b`, or `None` when `b` is not positive.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| a / b)
}

/// The fewest VPSie calls a run could make: one CreateVM per node plus a constant (a login, a
/// catalogue read, one listing of the VPS).
pub const CALLS_CONSTANT: u64 = 3;

/// The fewest VPSie calls for `creates` new nodes.
pub fn minimum_calls(creates: u64) -> u64 {
    creates + CALLS_CONSTANT
}

/// The least time `creates` CreateVM calls take under a token bucket of `per_minute` with
/// `burst` tokens at the start, in seconds (every other call only adds to it).
pub fn rate_bound_seconds(creates: u64, per_minute: u32, burst: u32) -> f64 {
    if per_minute == 0 {
        return f64::INFINITY;
    }
    creates.saturating_sub(u64::from(burst)) as f64 * 60.0 / f64::from(per_minute)
}

/// What bounds reaction under a client limit, in words.
pub fn bound_text(creates: u64, per_minute: u32, burst: u32, raised: bool) -> String {
    let secs = rate_bound_seconds(creates, per_minute, burst);
    if secs <= 0.0 {
        format!(
            "the autoscaler itself: {creates} creates fit in the client's burst of {burst} ({per_minute}/min), so its rate limit never binds here"
        )
    } else if raised {
        format!(
            "the autoscaler itself, mostly: {creates} creates at {per_minute}/min after a burst of {burst} need at least {secs:.1} s of tokens"
        )
    } else {
        format!(
            "the VPSie client's rate limit: {creates} creates at {per_minute}/min after a burst of {burst} need at least {secs:.0} s of tokens ({:.1} min), before any other call, so the last pods of a burst wait that long for their CreateVM",
            secs / 60.0
        )
    }
}

/// Whether lower is better or higher, and what "perfect" is, for comparing runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricRule {
    /// The metric's key in `metrics`.
    pub key: &'static str,
    /// What it is.
    pub label: &'static str,
    /// The unit as printed.
    pub unit: &'static str,
    /// The ideal value (0 for times and sizes, 1 for ratios): the comparison is of the excess
    /// over it, so "3x worse" means three times as far from perfect.
    pub ideal: f64,
    /// How much worse than the baseline's excess times the factor is still noise.
    pub noise: f64,
    /// The target (a measured value at most this meets it), if there is one.
    pub target: Option<f64>,
}

/// Every metric of a run, with its rule. Lower is better for all of them.
pub const RULES: &[MetricRule] = &[
    MetricRule {
        key: "reaction_p95_s",
        label: "reaction p95 (Unschedulable -> CreateVM)",
        unit: "s",
        ideal: 0.0,
        noise: 1.0,
        target: Some(1.5),
    },
    MetricRule {
        key: "overhead_p95_s",
        label: "overhead p95 (running - boot and join)",
        unit: "s",
        ideal: 0.0,
        noise: 1.0,
        target: Some(2.0),
    },
    MetricRule {
        key: "tightness_uniform",
        label: "tightness, uniform pods (nodes / lower bound)",
        unit: "x",
        ideal: 1.0,
        noise: 0.10,
        target: Some(1.05),
    },
    MetricRule {
        key: "tightness_mixed",
        label: "tightness, mixed pods (nodes / lower bound)",
        unit: "x",
        ideal: 1.0,
        noise: 0.10,
        target: Some(1.15),
    },
    MetricRule {
        key: "cost_ratio_uniform",
        label: "cost, uniform pods (per hour / cheapest cover)",
        unit: "x",
        ideal: 1.0,
        noise: 0.10,
        target: None,
    },
    MetricRule {
        key: "cost_ratio_mixed",
        label: "cost, mixed pods (per hour / cheapest cover)",
        unit: "x",
        ideal: 1.0,
        noise: 0.10,
        target: None,
    },
    MetricRule {
        key: "api_economy",
        label: "API economy (VPSie calls / minimum)",
        unit: "x",
        ideal: 1.0,
        noise: 0.25,
        target: Some(1.1),
    },
    MetricRule {
        key: "peak_rss_mib",
        label: "serve peak resident memory (VmHWM)",
        unit: "MiB",
        ideal: 0.0,
        noise: 16.0,
        target: Some(64.0),
    },
    MetricRule {
        key: "idle_cpu_percent",
        label: "serve idle CPU (% of a core)",
        unit: "%",
        ideal: 0.0,
        noise: 2.0,
        target: Some(1.0),
    },
    MetricRule {
        key: "status_median_ms",
        label: "`status` latency, median",
        unit: "ms",
        ideal: 0.0,
        noise: 200.0,
        target: Some(200.0),
    },
    MetricRule {
        key: "status_max_ms",
        label: "`status` latency, max",
        unit: "ms",
        ideal: 0.0,
        noise: 400.0,
        target: Some(200.0),
    },
];

/// The rule of `key`.
pub fn rule(key: &str) -> Option<&'static MetricRule> {
    RULES.iter().find(|r| r.key == key)
}

/// One target: measured, target, met.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRow {
    /// The metric key.
    pub key: String,
    /// What it is.
    pub label: String,
    /// The measured value (`None`: not measured).
    pub measured: Option<f64>,
    /// The target (at most).
    pub target: f64,
    /// The unit.
    pub unit: String,
    /// Whether it is met.
    pub met: bool,
}

/// The targets of a run's metrics (a metric that was not measured is not met).
pub fn targets(metrics: &std::collections::BTreeMap<String, f64>) -> Vec<TargetRow> {
    RULES
        .iter()
        .filter_map(|r| {
            let target = r.target?;
            let measured = metrics.get(r.key).copied();
            Some(TargetRow {
                key: r.key.into(),
                label: r.label.into(),
                measured,
                target,
                unit: r.unit.into(),
                met: measured.is_some_and(|m| m <= target),
            })
        })
        .collect()
}

/// A metric that got grossly worse than its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Regression {
    /// The variant.
    pub variant: String,
    /// The metric key.
    pub key: String,
    /// The baseline's value.
    pub baseline: f64,
    /// This run's value.
    pub measured: f64,
    /// The most this run may have without failing.
    pub allowed: f64,
}

impl std::fmt::Display for Regression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {:.3} (baseline {:.3}, allowed at most {:.3})",
            self.variant, self.key, self.measured, self.baseline, self.allowed
        )
    }
}

/// The most a metric may be before it counts as a regression: its baseline's distance from
/// perfect times `factor`, plus the metric's noise allowance.
pub fn allowed(rule: &MetricRule, baseline: f64, factor: f64) -> f64 {
    rule.ideal + (baseline - rule.ideal).max(0.0) * factor + rule.noise
}

/// The metrics of `measured` that are grossly worse than `baseline` (both: metric key ->
/// value). A metric missing from either side is not compared; unknown keys are ignored.
pub fn regressions(
    variant: &str,
    baseline: &std::collections::BTreeMap<String, f64>,
    measured: &std::collections::BTreeMap<String, f64>,
    factor: f64,
) -> Vec<Regression> {
    RULES
        .iter()
        .filter_map(|r| {
            let b = *baseline.get(r.key)?;
            let m = *measured.get(r.key)?;
            let limit = allowed(r, b, factor);
            (m > limit).then(|| Regression {
                variant: variant.into(),
                key: r.key.into(),
                baseline: b,
                measured: m,
                allowed: limit,
            })
        })
        .collect()
}

/// Splits `n` into `k` parts as evenly as possible, the larger parts first.
pub fn split(n: usize, k: usize) -> Vec<usize> {
    if k == 0 {
        return Vec::new();
    }
    (0..k).map(|i| n / k + usize::from(i < n % k)).collect()
}

/// The CPU a process used over a window, in percent of one core: `ticks` of utime+stime at
/// `ticks_per_second` over `seconds`.
pub fn cpu_percent(ticks: u64, ticks_per_second: u64, seconds: f64) -> Option<f64> {
    (seconds > 0.0 && ticks_per_second > 0)
        .then(|| ticks as f64 / ticks_per_second as f64 / seconds * 100.0)
}

/// utime + stime (clock ticks) from the text of `/proc/<pid>/stat`. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted after its last `)`.
pub fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // after the name: state(3) ppid(4) ... utime is field 14, stime 15 of the whole line
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A `Field:   1234 kB` value of `/proc/<pid>/status` (or `/proc/meminfo`), in KiB.
pub fn status_kib(text: &str, field: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.split(':').next() == Some(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn percentiles_are_nearest_rank_and_ordered() {
        assert_eq!(spread(&[]), None);
        let s = spread(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.n, s.p50, s.p95, s.max), (3, 2.0, 3.0, 3.0));
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = spread(&v).unwrap();
        assert_eq!((s.p50, s.p95, s.max), (50.0, 95.0, 100.0));
        let s = spread(&[5.0]).unwrap();
        assert_eq!((s.p50, s.p95, s.max), (5.0, 5.0, 5.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.0));
        assert!(spread(&[f64::NAN]).is_none());
    }

    fn amt(cpu: i64, mem_mi: i64, pods: i64) -> Amount {
        Amount {
            cpu_millis: cpu,
            memory_bytes: mem_mi << 20,
            pods,
        }
    }

    #[test]
    fn lower_bound_is_the_tightest_dimension_rounded_up() {
        let node = amt(7900, 16028, 110);
        // 600 pods of 250m/512Mi: cpu 150000/7900 = 18.99 -> 19; memory 307200/16028 = 19.17 -> 20
        assert_eq!(lower_bound_nodes(amt(250, 512, 1).times(600), &[node]), 20);
        // pods count binds: 1000 tiny pods need 10 nodes of 110 pods
        assert_eq!(lower_bound_nodes(amt(1, 1, 1).times(1000), &[node]), 10);
        assert_eq!(lower_bound_nodes(Amount::default(), &[node]), 0);
        // several offerings: the largest in each dimension
        let highmem = amt(3900, 32412, 110);
        assert_eq!(lower_bound_nodes(amt(0, 32412 * 3, 3), &[node, highmem]), 3);
    }

    #[test]
    fn cheapest_cover_picks_the_cheapest_mix() {
        let large = (amt(7900, 16028, 110), 0.10);
        let highmem = (amt(3900, 32412, 110), 0.12);
        // cpu-bound: large only
        let (cost, counts) = cheapest_cover(amt(15800, 1000, 10), &[large, highmem]).unwrap();
        assert_eq!(counts, vec![2, 0]);
        assert!((cost - 0.20).abs() < 1e-9);
        // memory-bound: highmem is cheaper per memory
        let (cost, counts) = cheapest_cover(amt(100, 64824, 2), &[large, highmem]).unwrap();
        assert_eq!(counts, vec![0, 2]);
        assert!((cost - 0.24).abs() < 1e-9);
        // a mix beats either alone: 2 large + 1 highmem covers 19700m / 64468Mi
        let need = amt(19_700, 64_468, 3);
        let (cost, counts) = cheapest_cover(need, &[large, highmem]).unwrap();
        assert_eq!(counts, vec![2, 1], "{cost}");
        // nothing needed costs nothing; no offering at all has no cover
        assert_eq!(cheapest_cover(Amount::default(), &[large]).unwrap().0, 0.0);
        assert!(cheapest_cover(need, &[]).is_none());
        assert!(cheapest_cover(amt(1, 0, 0), &[(amt(0, 10, 10), 1.0)]).is_none());
    }

    #[test]
    fn cheapest_cover_with_one_offering_is_the_lower_bound() {
        let node = amt(7900, 16028, 110);
        let total = amt(250, 512, 1).times(600);
        let (cost, counts) = cheapest_cover(total, &[(node, 0.5)]).unwrap();
        assert_eq!(counts, vec![lower_bound_nodes(total, &[node])]);
        assert!((cost - 10.0).abs() < 1e-9);
    }

    #[test]
    fn targets_say_met_only_when_measured_and_within() {
        let mut m = BTreeMap::new();
        m.insert("reaction_p95_s".to_string(), 1.2);
        m.insert("overhead_p95_s".to_string(), 2.5);
        let rows = targets(&m);
        let row = |k: &str| rows.iter().find(|r| r.key == k).unwrap().clone();
        assert!(row("reaction_p95_s").met);
        assert!(!row("overhead_p95_s").met);
        assert!(!row("peak_rss_mib").met, "not measured is not met");
        assert_eq!(row("peak_rss_mib").measured, None);
        assert!(
            rows.iter().all(|r| r.key != "cost_ratio_mixed"),
            "no target"
        );
    }

    #[test]
    fn only_gross_regressions_fail() {
        let base: BTreeMap<String, f64> = [
            ("reaction_p95_s", 1.0),
            ("tightness_uniform", 1.02),
            ("peak_rss_mib", 40.0),
            ("idle_cpu_percent", 0.2),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let mut now = base.clone();
        // noise: a bit worse everywhere
        now.insert("reaction_p95_s".into(), 2.5);
        now.insert("tightness_uniform".into(), 1.12);
        now.insert("idle_cpu_percent".into(), 1.5);
        assert!(regressions("raised", &base, &now, 3.0).is_empty());
        // gross: reaction 5x, memory 4x
        now.insert("reaction_p95_s".into(), 5.0);
        now.insert("peak_rss_mib".into(), 160.0);
        let r = regressions("raised", &base, &now, 3.0);
        let keys: Vec<&str> = r.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["reaction_p95_s", "peak_rss_mib"]);
        assert_eq!(r[0].allowed, 4.0);
        assert!(r[0]
            .to_string()
            .contains("reaction_p95_s: 5.000 (baseline 1.000"));
        // tightness compares the excess over 1: 1.02 -> at most 1 + 0.06 + 0.10
        assert!((allowed(rule("tightness_uniform").unwrap(), 1.02, 3.0) - 1.16).abs() < 1e-9);
        // missing on one side: not compared
        now.remove("peak_rss_mib");
        assert_eq!(regressions("raised", &base, &now, 3.0).len(), 1);
    }

    #[test]
    fn the_rate_bound_is_what_the_burst_does_not_cover() {
        assert_eq!(rate_bound_seconds(10, 100, 20), 0.0);
        assert_eq!(rate_bound_seconds(1020, 100, 20), 600.0);
        assert_eq!(rate_bound_seconds(1200, 6000, 200), 10.0);
        assert!(rate_bound_seconds(1, 0, 0).is_infinite());
        assert!(bound_text(10, 100, 20, false).contains("never binds"));
        assert!(bound_text(1020, 100, 20, false).contains("rate limit: 1020 creates"));
        assert!(bound_text(1020, 100, 20, false).contains("600 s"));
        assert!(bound_text(1200, 6000, 200, true).starts_with("the autoscaler itself, mostly"));
    }

    #[test]
    fn split_is_even_and_complete() {
        assert_eq!(split(10, 3), vec![4, 3, 3]);
        assert_eq!(split(600, 3), vec![200, 200, 200]);
        assert_eq!(split(2, 3), vec![1, 1, 0]);
        assert_eq!(split(5, 0), Vec::<usize>::new());
    }

    #[test]
    fn proc_files_are_read_by_field() {
        let stat = "1234 (kubectl vpsie) S 1 1234 1234 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 9 0 100 200000000 5000 18446744073709551615";
        assert_eq!(stat_ticks(stat), Some(175));
        assert_eq!(stat_ticks("garbage"), None);
        let status = "Name:\tkubectl-vpsie\nVmPeak:\t  300000 kB\nVmHWM:\t   58000 kB\nVmRSS:\t   50000 kB\n";
        assert_eq!(status_kib(status, "VmHWM"), Some(58000));
        assert_eq!(status_kib(status, "VmSwap"), None);
        assert_eq!(cpu_percent(50, 100, 10.0), Some(5.0));
        assert_eq!(cpu_percent(50, 100, 0.0), None);
    }
}
