//! The bench report: its JSON shape, the markdown table, the invariants a report must hold,
//! and reading a baseline. Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::calc::{self, Spread, TargetRow};

/// The report's version.
pub const SCHEMA_VERSION: u32 = 1;

/// A whole bench run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `ci` or `full`.
    pub size: String,
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// The machine it ran on.
    pub machine: Machine,
    /// The binary measured.
    pub binary: Binary,
    /// One per VPSie client rate limit played.
    pub variants: Vec<Variant>,
}

/// The machine.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    /// Cores available to this process.
    pub cores: usize,
    /// Total memory, MiB.
    pub memory_mib: u64,
    /// Load average (1, 5, 15 min) at the start.
    pub load_average: [f64; 3],
    /// `uname -sr`-like: the kernel's release.
    pub kernel: String,
}

/// The binary.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Binary {
    /// Its path.
    pub path: String,
    /// Its size in bytes.
    pub size_bytes: u64,
    /// Whether it is a release build (no debug assertions).
    pub release: bool,
}

/// The VPSie client's rate limit a variant ran `serve` with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    /// Requests per minute.
    pub requests_per_minute: u32,
    /// Burst.
    pub burst: u32,
    /// `serve`'s default (no flag passed), or raised by flags.
    pub source: String,
}

/// The workload played.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Workload {
    /// NodeGroups with uniform pods.
    pub uniform_groups: usize,
    /// NodeGroups with mixed pods.
    pub mixed_groups: usize,
    /// Pods in all after each burst.
    pub bursts: Vec<usize>,
    /// Simulated boot and join time: VM boot + kubelet join + Ready + pod start, seconds.
    pub boot_and_join_s: f64,
}

/// Tightness of one class of pods at the peak.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tightness {
    /// Pods of the class.
    pub pods: usize,
    /// VPS provisioned for its groups (live).
    pub nodes: u64,
    /// The bin-packing lower bound, summed over its groups.
    pub lower_bound: u64,
    /// nodes / lower bound.
    pub ratio: Option<f64>,
    /// What its VPS cost per hour.
    pub cost_per_hour: f64,
    /// The cheapest cover's cost per hour, summed over its groups.
    pub cheapest_cover_per_hour: f64,
    /// cost / cheapest cover.
    pub cost_ratio: Option<f64>,
    /// Live VPS by offering.
    pub by_offering: BTreeMap<String, u64>,
}

/// VPSie API use.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiUse {
    /// Calls made during the run.
    pub calls: u64,
    /// VPS created.
    pub creates: u64,
    /// The minimum: one create per node plus [`calc::CALLS_CONSTANT`].
    pub minimum: u64,
    /// calls / minimum.
    pub economy: Option<f64>,
    /// Calls by operation.
    pub by_operation: BTreeMap<String, u64>,
    /// Calls per minute over the idle window (steady state).
    pub steady_calls_per_minute: Option<f64>,
    /// Calls answered 429 by the cloud.
    pub rate_limited: u64,
}

/// `serve`'s footprint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Footprint {
    /// VmHWM at the end, MiB.
    pub peak_rss_mib: Option<f64>,
    /// utime+stime over the idle window, % of a core.
    pub idle_cpu_percent: Option<f64>,
    /// The idle window, seconds.
    pub idle_window_s: f64,
    /// Nodes and pods watched during the idle window.
    pub nodes_watched: usize,
    /// Pods watched.
    pub pods_watched: usize,
}

/// `status` runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusLatency {
    /// Runs.
    pub runs: usize,
    /// Each run, ms.
    pub samples_ms: Vec<f64>,
    /// Median, ms.
    pub median_ms: Option<f64>,
    /// Max, ms.
    pub max_ms: Option<f64>,
    /// NodeGroups and VPSieNodes it reported on.
    pub nodegroups: usize,
    /// VPSieNodes.
    pub vpsienodes: usize,
}

/// What must hold of any run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checks {
    /// Pods the bursts asked for at the peak.
    pub pods_expected: usize,
    /// Pods seen Running at the peak.
    pub pods_running: usize,
    /// Pods that were ever marked Unschedulable.
    pub pods_unschedulable: usize,
    /// Pods marked Unschedulable after the CreateVM of the node they ran on (already coming:
    /// no reaction to measure).
    pub pods_already_covered: usize,
    /// Live VPS no VPSieNode tracks, at the end.
    pub leaked_vps: Vec<u64>,
    /// Times the bench's pod watch fell behind and relisted (timings after it are late).
    pub watch_relists: u64,
    /// Pods still without a node at the end (an incomplete run).
    #[serde(default)]
    pub pods_waiting: usize,
    /// How long the oldest of them had been Unschedulable: their reaction is at least this.
    #[serde(default)]
    pub oldest_waiting_s: Option<f64>,
}

/// A spread for the uniform groups' pods and one for the mixed groups'.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ByClass {
    /// Pods of the uniform groups.
    pub uniform: Option<Spread>,
    /// Pods of the mixed groups.
    pub mixed: Option<Spread>,
}

/// One variant: the whole workload with one rate limit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Variant {
    /// `default-limit` or `raised-limit`.
    pub name: String,
    /// The client's rate limit.
    pub rate_limit: RateLimit,
    /// What bounds reaction in this variant, in words.
    pub bound: String,
    /// The workload.
    pub workload: Workload,
    /// Unschedulable -> CreateVM arrival, seconds (all bursts).
    pub reaction_s: Option<Spread>,
    /// Per burst.
    pub reaction_by_burst_s: Vec<Option<Spread>>,
    /// The uniform and the mixed groups' pods apart (absent in reports before they were kept).
    #[serde(default)]
    pub reaction_by_class_s: Option<ByClass>,
    /// Running - Unschedulable - boot and join, seconds.
    pub overhead_s: Option<Spread>,
    /// Per burst.
    pub overhead_by_burst_s: Vec<Option<Spread>>,
    /// Wall seconds from each burst to all its pods running.
    pub burst_duration_s: Vec<f64>,
    /// Uniform pods.
    pub uniform: Tightness,
    /// Mixed pods.
    pub mixed: Tightness,
    /// VPSie API use.
    pub api: ApiUse,
    /// `serve`'s footprint.
    pub footprint: Footprint,
    /// `status`.
    pub status: StatusLatency,
    /// Invariant inputs.
    pub checks: Checks,
    /// Why the run stopped before every burst finished (`--burst-timeout`), if it did.
    #[serde(default)]
    pub incomplete: Option<String>,
    /// Flat metrics (see [`calc::RULES`]), compared against a baseline.
    pub metrics: BTreeMap<String, f64>,
    /// Each target: measured, target, met.
    pub targets: Vec<TargetRow>,
}

impl Variant {
    /// Fills [`Self::metrics`] and [`Self::targets`] from the measurements.
    pub fn derive(&mut self) {
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: Option<f64>| {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                m.insert(k.to_string(), v);
            }
        };
        put("reaction_p95_s", self.reaction_s.map(|s| s.p95));
        put("overhead_p95_s", self.overhead_s.map(|s| s.p95));
        put("tightness_uniform", self.uniform.ratio);
        put("tightness_mixed", self.mixed.ratio);
        put("cost_ratio_uniform", self.uniform.cost_ratio);
        put("cost_ratio_mixed", self.mixed.cost_ratio);
        put("api_economy", self.api.economy);
        put("peak_rss_mib", self.footprint.peak_rss_mib);
        put("idle_cpu_percent", self.footprint.idle_cpu_percent);
        put("status_median_ms", self.status.median_ms);
        put("status_max_ms", self.status.max_ms);
        self.targets = calc::targets(&m);
        self.metrics = m;
    }

    /// What must hold of any run, as one line each; empty when everything holds.
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        let c = &self.checks;
        if let Some(why) = &self.incomplete {
            v.push(format!("{}: incomplete: {why}", self.name));
        }
        if c.pods_running != c.pods_expected {
            v.push(format!(
                "{}: {} of {} pods ran",
                self.name, c.pods_running, c.pods_expected
            ));
        }
        let ordered = |what: &str, s: &Option<Spread>, v: &mut Vec<String>| {
            if let Some(s) = s {
                if !(s.p50 <= s.p95 && s.p95 <= s.max) {
                    v.push(format!(
                        "{}: {what} p50 {} <= p95 {} <= max {} does not hold",
                        self.name, s.p50, s.p95, s.max
                    ));
                }
            }
        };
        ordered("reaction", &self.reaction_s, &mut v);
        ordered("overhead", &self.overhead_s, &mut v);
        if self.reaction_s.is_none() {
            v.push(format!(
                "{}: no reaction measured (no pod was Unschedulable before its node's CreateVM)",
                self.name
            ));
        }
        for (class, t) in [("uniform", &self.uniform), ("mixed", &self.mixed)] {
            if t.nodes < t.lower_bound {
                v.push(format!(
                    "{}: {class} pods ran on {} nodes, below the bin-packing lower bound {} (the simulated scheduler overcommits)",
                    self.name, t.nodes, t.lower_bound
                ));
            }
        }
        if self.api.calls < self.api.minimum && self.incomplete.is_none() {
            v.push(format!(
                "{}: {} VPSie calls, fewer than the minimum {}",
                self.name, self.api.calls, self.api.minimum
            ));
        }
        if !c.leaked_vps.is_empty() {
            v.push(format!(
                "{}: leaked VPS (alive, tracked by no VPSieNode): {:?}",
                self.name, c.leaked_vps
            ));
        }
        v
    }
}

impl Report {
    /// Every variant's violations.
    pub fn violations(&self) -> Vec<String> {
        self.variants.iter().flat_map(Variant::violations).collect()
    }
}

fn num(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "n/a".into(),
        Some(v) if unit == "MiB" || unit == "ms" => format!("{v:.1} {unit}"),
        Some(v) if unit == "x" => format!("{v:.3}"),
        Some(v) if unit == "%" => format!("{v:.2}%"),
        Some(v) => format!("{v:.2} {unit}"),
    }
}

fn spread_text(s: &Option<Spread>) -> String {
    match s {
        None => "n/a".into(),
        Some(s) => format!(
            "p50 {:.2} s, p95 {:.2} s, max {:.2} s (n={})",
            s.p50, s.p95, s.max, s.n
        ),
    }
}

/// The markdown summary: the machine, then per variant the targets table and the details.
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let m = &r.machine;
    out.push_str(&format!("# kubectl-vpsie bench ({})\n\n", r.size));
    out.push_str(&format!(
        "Run {}; machine: {} cores, {} MiB memory, load average {:.2} {:.2} {:.2} at the start, kernel {}; binary {} ({:.1} MiB, {}).\n\n",
        r.started_at,
        m.cores,
        m.memory_mib,
        m.load_average[0],
        m.load_average[1],
        m.load_average[2],
        m.kernel,
        r.binary.path,
        r.binary.size_bytes as f64 / (1024.0 * 1024.0),
        if r.binary.release { "release" } else { "debug" }
    ));
    for v in &r.variants {
        out.push_str(&format!(
            "## {}: VPSie client limit {}/min, burst {} ({})\n\n",
            v.name, v.rate_limit.requests_per_minute, v.rate_limit.burst, v.rate_limit.source
        ));
        out.push_str(&format!(
            "{} NodeGroups ({} uniform, {} mixed), bursts to {} pods; simulated boot and join {:.1} s.\n\n",
            v.workload.uniform_groups + v.workload.mixed_groups,
            v.workload.uniform_groups,
            v.workload.mixed_groups,
            v.workload
                .bursts
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
                .join(" / "),
            v.workload.boot_and_join_s
        ));
        if let Some(why) = &v.incomplete {
            out.push_str(&format!(
                "**Incomplete**: {why}. {} pods were still waiting for a node, the oldest for {} (their reaction is at least that); the figures below are of what finished.\n\n",
                v.checks.pods_waiting,
                v.checks
                    .oldest_waiting_s
                    .map_or("n/a".into(), |s| format!("{s:.0} s"))
            ));
        }
        out.push_str(&format!("What bounds reaction: {}\n\n", v.bound));
        out.push_str("| metric | measured | target | met |\n|---|---|---|---|\n");
        for t in &v.targets {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                t.label,
                num(t.measured, &t.unit),
                num(Some(t.target), &t.unit),
                if t.met { "yes" } else { "**no**" }
            ));
        }
        out.push('\n');
        out.push_str(&format!("- reaction: {}\n", spread_text(&v.reaction_s)));
        for (i, s) in v.reaction_by_burst_s.iter().enumerate() {
            out.push_str(&format!(
                "  - burst {} ({} pods): {}\n",
                i + 1,
                v.workload.bursts.get(i).copied().unwrap_or(0),
                spread_text(s)
            ));
        }
        if let Some(c) = &v.reaction_by_class_s {
            out.push_str(&format!(
                "  - uniform groups' pods: {}\n  - mixed groups' pods: {}\n",
                spread_text(&c.uniform),
                spread_text(&c.mixed)
            ));
        }
        out.push_str(&format!("- overhead: {}\n", spread_text(&v.overhead_s)));
        for (i, s) in v.overhead_by_burst_s.iter().enumerate() {
            out.push_str(&format!("  - burst {}: {}\n", i + 1, spread_text(s)));
        }
        out.push_str(&format!(
            "- bursts took {} s (to every pod running)\n",
            v.burst_duration_s
                .iter()
                .map(|d| format!("{d:.1}"))
                .collect::<Vec<_>>()
                .join(" / ")
        ));
        for (class, t) in [("uniform", &v.uniform), ("mixed", &v.mixed)] {
            out.push_str(&format!(
                "- {class} pods: {} pods on {} VPS (lower bound {}, {}); ${:.4}/h vs cheapest cover ${:.4}/h ({}); {}\n",
                t.pods,
                t.nodes,
                t.lower_bound,
                num(t.ratio, "x"),
                t.cost_per_hour,
                t.cheapest_cover_per_hour,
                num(t.cost_ratio, "x"),
                t.by_offering
                    .iter()
                    .map(|(o, n)| format!("{n} x {o}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push_str(&format!(
            "- VPSie API: {} calls for {} VPS created (minimum {}, {}); {} answered 429; steady state {} calls/min; {}\n",
            v.api.calls,
            v.api.creates,
            v.api.minimum,
            num(v.api.economy, "x"),
            v.api.rate_limited,
            v.api
                .steady_calls_per_minute
                .map_or("n/a".into(), |c| format!("{c:.1}")),
            v.api
                .by_operation
                .iter()
                .map(|(o, n)| format!("{o} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        out.push_str(&format!(
            "- serve: peak resident {}, idle CPU {} over {:.0} s with {} nodes and {} pods watched\n",
            num(v.footprint.peak_rss_mib, "MiB"),
            num(v.footprint.idle_cpu_percent, "%"),
            v.footprint.idle_window_s,
            v.footprint.nodes_watched,
            v.footprint.pods_watched
        ));
        out.push_str(&format!(
            "- `status` ({} NodeGroups, {} VPSieNodes), {} runs: median {}, max {}\n",
            v.status.nodegroups,
            v.status.vpsienodes,
            v.status.runs,
            num(v.status.median_ms, "ms"),
            num(v.status.max_ms, "ms")
        ));
        let c = &v.checks;
        out.push_str(&format!(
            "- checks: {} of {} pods ran; {} were Unschedulable ({} already had their node on its way); leaked VPS: {}; pod watch relists: {}\n\n",
            c.pods_running,
            c.pods_expected,
            c.pods_unschedulable,
            c.pods_already_covered,
            if c.leaked_vps.is_empty() {
                "none".to_string()
            } else {
                format!("{:?}", c.leaked_vps)
            },
            c.watch_relists
        ));
    }
    out
}

/// A baseline: per variant, its metrics.
pub type Baseline = BTreeMap<String, BTreeMap<String, f64>>;

/// Reads a baseline (a report written by `bench`, e.g. `bench/baseline-ci.json`). Every
/// problem names the file, the field and the value, and says how to fix it.
pub fn parse_baseline(file: &str, text: &str) -> Result<Baseline, String> {
    let fix = "write a new one with `kubectl-vpsie bench --size ci --out DIR` and copy DIR/ci.json over it";
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("baseline {file}: not JSON ({e}): {fix}"))?;
    match v.get("schemaVersion") {
        Some(s) if s.as_u64() == Some(u64::from(SCHEMA_VERSION)) => {}
        Some(s) => {
            return Err(format!(
                "baseline {file}: field `schemaVersion` is {s}, this bench reads {SCHEMA_VERSION}: {fix}"
            ))
        }
        None => {
            return Err(format!(
                "baseline {file}: field `schemaVersion` is missing (is it a bench report?): {fix}"
            ))
        }
    }
    let variants = v
        .get("variants")
        .and_then(|x| x.as_array())
        .ok_or_else(|| {
            format!("baseline {file}: field `variants` is missing or not a list: {fix}")
        })?;
    let mut out = Baseline::new();
    for (i, var) in variants.iter().enumerate() {
        let name = var.get("name").and_then(|n| n.as_str()).ok_or_else(|| {
            format!("baseline {file}: field `variants[{i}].name` is missing or not a string: {fix}")
        })?;
        let metrics = var
            .get("metrics")
            .and_then(|m| m.as_object())
            .ok_or_else(|| {
                format!("baseline {file}: field `variants[{i}].metrics` is missing or not an object: {fix}")
            })?;
        let mut m = BTreeMap::new();
        for (k, val) in metrics {
            if calc::rule(k).is_none() {
                continue;
            }
            let n = val.as_f64().filter(|n| n.is_finite() && *n >= 0.0).ok_or_else(|| {
                format!(
                    "baseline {file}: field `variants[{i}].metrics.{k}` is {val}, expected a number at least 0: {fix}"
                )
            })?;
            m.insert(k.clone(), n);
        }
        out.insert(name.to_string(), m);
    }
    Ok(out)
}

/// The regressions of `report` against `baseline` (variants in both are compared).
pub fn compare(report: &Report, baseline: &Baseline, factor: f64) -> Vec<calc::Regression> {
    report
        .variants
        .iter()
        .filter_map(|v| baseline.get(&v.name).map(|b| (v, b)))
        .flat_map(|(v, b)| calc::regressions(&v.name, b, &v.metrics, factor))
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn tightness(nodes: u64, lb: u64) -> Tightness {
        Tightness {
            pods: 100,
            nodes,
            lower_bound: lb,
            ratio: calc::ratio(nodes as f64, lb as f64),
            cost_per_hour: 1.0,
            cheapest_cover_per_hour: 1.0,
            cost_ratio: Some(1.0),
            by_offering: [("large-8cpu-16gb".to_string(), nodes)].into(),
        }
    }

    pub(crate) fn variant() -> Variant {
        let s = calc::spread(&[0.5, 0.8, 1.2]);
        let mut v = Variant {
            name: "raised-limit".into(),
            rate_limit: RateLimit {
                requests_per_minute: 6000,
                burst: 200,
                source: "--vpsie-requests-per-minute 6000 --vpsie-rate-burst 200".into(),
            },
            bound: "the autoscaler itself".into(),
            workload: Workload {
                uniform_groups: 2,
                mixed_groups: 2,
                bursts: vec![40, 120, 240],
                boot_and_join_s: 4.0,
            },
            reaction_s: s,
            reaction_by_burst_s: vec![s, s, s],
            reaction_by_class_s: Some(ByClass {
                uniform: calc::spread(&[0.5]),
                mixed: calc::spread(&[0.8, 1.2]),
            }),
            overhead_s: s,
            overhead_by_burst_s: vec![s, s, s],
            burst_duration_s: vec![5.0, 6.0, 7.0],
            uniform: tightness(4, 4),
            mixed: tightness(6, 5),
            api: ApiUse {
                calls: 15,
                creates: 10,
                minimum: 13,
                economy: Some(15.0 / 13.0),
                by_operation: [("CreateVM".to_string(), 10)].into(),
                steady_calls_per_minute: Some(2.0),
                rate_limited: 0,
            },
            footprint: Footprint {
                peak_rss_mib: Some(30.0),
                idle_cpu_percent: Some(0.3),
                idle_window_s: 3.0,
                nodes_watched: 10,
                pods_watched: 240,
            },
            status: StatusLatency {
                runs: 3,
                samples_ms: vec![50.0, 60.0, 70.0],
                median_ms: Some(60.0),
                max_ms: Some(70.0),
                nodegroups: 4,
                vpsienodes: 10,
            },
            checks: Checks {
                pods_expected: 240,
                pods_running: 240,
                pods_unschedulable: 200,
                pods_already_covered: 3,
                leaked_vps: vec![],
                watch_relists: 0,
                pods_waiting: 0,
                oldest_waiting_s: None,
            },
            incomplete: None,
            metrics: BTreeMap::new(),
            targets: vec![],
        };
        v.derive();
        v
    }

    pub(crate) fn report() -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            size: "ci".into(),
            started_at: "2026-12-02T01:00:00Z".into(),
            machine: Machine {
                cores: 2,
                memory_mib: 23_000,
                load_average: [0.5, 0.6, 0.7],
                kernel: "6.1".into(),
            },
            binary: Binary {
                path: "kubectl-vpsie".into(),
                size_bytes: 30 << 20,
                release: false,
            },
            variants: vec![variant()],
        }
    }

    #[test]
    fn a_sound_report_has_no_violations_and_its_metrics() {
        let r = report();
        assert!(r.violations().is_empty(), "{:?}", r.violations());
        let v = &r.variants[0];
        assert_eq!(v.metrics["reaction_p95_s"], 1.2);
        assert_eq!(v.metrics["tightness_mixed"], 1.2);
        let md = markdown(&r);
        assert!(
            md.contains("| reaction p95 (Unschedulable -> CreateVM) | 1.20 s | 1.50 s | yes |"),
            "{md}"
        );
        assert!(
            md.contains("| tightness, mixed pods (nodes / lower bound) | 1.200 | 1.150 | **no** |"),
            "{md}"
        );
        assert!(md.contains("2 cores"));
        assert!(
            md.contains("  - uniform groups' pods: p50 0.50 s, p95 0.50 s, max 0.50 s (n=1)\n  - mixed groups' pods: p50 "),
            "{md}"
        );
        // a report written before the classes were kept still reads
        let mut old = serde_json::to_value(&r).unwrap();
        old["variants"][0]
            .as_object_mut()
            .unwrap()
            .remove("reactionByClassS");
        let back: Report = serde_json::from_value(old).unwrap();
        assert!(back.variants[0].reaction_by_class_s.is_none());
        assert!(!markdown(&back).contains("groups' pods"));
    }

    #[test]
    fn violations_name_what_broke() {
        let mut v = variant();
        v.checks.pods_running = 239;
        v.uniform = tightness(3, 4);
        v.api.calls = 5;
        v.checks.leaked_vps = vec![7];
        v.reaction_s = Some(Spread {
            n: 2,
            p50: 2.0,
            p95: 1.0,
            max: 3.0,
        });
        let all = v.violations().join("\n");
        for needle in [
            "239 of 240 pods ran",
            "below the bin-packing lower bound 4",
            "fewer than the minimum 13",
            "leaked VPS",
            "reaction p50 2 <= p95 1",
        ] {
            assert!(all.contains(needle), "{needle} not in {all}");
        }
        // an incomplete run says so, and is not blamed for the calls it did not get to make
        v.incomplete = Some("burst 3 did not finish".into());
        let all = v.violations().join("\n");
        assert!(all.contains("incomplete: burst 3 did not finish"), "{all}");
        assert!(!all.contains("fewer than the minimum"), "{all}");
    }

    #[test]
    fn a_report_is_its_own_baseline_and_round_trips() {
        let r = report();
        let text = serde_json::to_string_pretty(&r).unwrap();
        let b = parse_baseline("b.json", &text).unwrap();
        assert_eq!(b["raised-limit"]["reaction_p95_s"], 1.2);
        assert!(compare(&r, &b, 3.0).is_empty());
        let back: Report = serde_json::from_str(&text).unwrap();
        for (k, v) in &r.variants[0].metrics {
            assert!((back.variants[0].metrics[k] - v).abs() < 1e-9, "{k}");
        }
        // 10x slower reaction is a regression
        let mut worse = r.clone();
        worse.variants[0].reaction_s = calc::spread(&[12.0]);
        worse.variants[0].derive();
        let regs = compare(&worse, &b, 3.0);
        assert_eq!(regs.len(), 1);
        assert_eq!(regs[0].key, "reaction_p95_s");
    }

    #[test]
    fn bad_baselines_name_the_field_the_value_and_the_fix() {
        let err = parse_baseline("b.json", "not json").unwrap_err();
        assert!(
            err.contains("b.json") && err.contains("not JSON") && err.contains("--size ci"),
            "{err}"
        );
        let err = parse_baseline("b.json", r#"{"variants": []}"#).unwrap_err();
        assert!(err.contains("`schemaVersion` is missing"), "{err}");
        let err = parse_baseline("b.json", r#"{"schemaVersion": 9, "variants": []}"#).unwrap_err();
        assert!(err.contains("`schemaVersion` is 9"), "{err}");
        let err = parse_baseline("b.json", r#"{"schemaVersion": 1}"#).unwrap_err();
        assert!(err.contains("`variants`"), "{err}");
        let err = parse_baseline(
            "b.json",
            r#"{"schemaVersion": 1, "variants": [{"name": "x", "metrics": {"reaction_p95_s": "fast"}}]}"#,
        )
        .unwrap_err();
        assert!(
            err.contains("`variants[0].metrics.reaction_p95_s` is \"fast\""),
            "{err}"
        );
        let err = parse_baseline(
            "b.json",
            r#"{"schemaVersion": 1, "variants": [{"metrics": {}}]}"#,
        )
        .unwrap_err();
        assert!(err.contains("`variants[0].name`"), "{err}");
        // unknown metrics are ignored (a newer report read by an older bench)
        let b = parse_baseline(
            "b.json",
            r#"{"schemaVersion": 1, "variants": [{"name": "x", "metrics": {"new_thing": "?", "peak_rss_mib": 40}}]}"#,
        )
        .unwrap();
        assert_eq!(b["x"].len(), 1);
    }
}
