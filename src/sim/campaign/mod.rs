//! The randomized fault and crash campaign (issue 11): pure planning ([`plan`]), pure invariant
//! checks ([`check`]) and the report; `kubectl-vpsie campaign` runs it against the simulated
//! world with `kubectl-vpsie serve` as its own process (plugin/src/commands/campaign.rs).
//!
//! A run, from its seed: a NodeGroup, Deployments (some with PodDisruptionBudgets, maybe a bare
//! `safe-to-evict: "false"` pod) arrive; a VPSie fault profile and a Kubernetes API fault
//! profile are in force for a window while the group scales up; `serve` is SIGKILLed at a
//! random moment of the scale-up, the drain and the delete, and restarted; the leaving
//! workloads go and another fault window covers the scale-down; then the faults stop and the
//! runner waits (on conditions, with deadlines) for convergence and checks the invariants.

pub mod check;
pub mod plan;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use check::{check, RunObservation, Violation};
pub use plan::{plan, run_seed, RunPlan, Size};

/// The outcome of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Index in the campaign.
    pub index: usize,
    /// The run's seed (`kubectl-vpsie campaign --seed <base>` replays the campaign; the run's
    /// own seed with `--runs 1 --run-seed`).
    pub seed: u64,
    /// The plan's fault kinds.
    pub planned_faults: Vec<String>,
    /// Faults that fired, by kind (from the cloud's request log and the API server's counters).
    pub faults_injected: BTreeMap<String, u64>,
    /// SIGKILLs of serve, by the phase they hit.
    pub crash_points: Vec<String>,
    /// Planned crash points whose phase never showed before its deadline.
    pub crash_points_missed: Vec<String>,
    /// Peak VPSieNodes.
    pub peak_nodes: u32,
    /// VPS created over the run.
    pub vps_created: u32,
    /// Circuit breaker transitions seen on serve's /metrics (`closed->open`...).
    pub breaker_transitions: BTreeMap<String, u64>,
    /// Broken invariants.
    pub violations: Vec<Violation>,
    /// Wall seconds the run took.
    pub wall_secs: f64,
    /// Wall seconds from the end of the faults to convergence (`None`: never).
    pub converged_after_secs: Option<f64>,
}

/// A whole campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignReport {
    /// The command that replays it.
    pub command: String,
    /// `ci` or `nightly`.
    pub size: Size,
    /// The base seed.
    pub seed: u64,
    /// The simulated world's speed.
    pub speed: f64,
    /// The machine it ran on (cores, memory).
    pub machine: String,
    /// The version of the binary.
    pub version: String,
    /// When it started (RFC 3339).
    pub started: String,
    /// Wall seconds in all.
    pub wall_secs: f64,
    /// Every run.
    pub runs: Vec<RunResult>,
}

impl CampaignReport {
    /// Violations over all runs.
    pub fn violations(&self) -> usize {
        self.runs.iter().map(|r| r.violations.len()).sum()
    }

    /// Faults injected over all runs, by kind.
    pub fn faults_injected(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for r in &self.runs {
            for (k, n) in &r.faults_injected {
                *out.entry(k.clone()).or_default() += n;
            }
        }
        out
    }

    /// Crash points hit over all runs, by phase.
    pub fn crash_points(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for r in &self.runs {
            for c in &r.crash_points {
                *out.entry(c.clone()).or_default() += 1;
            }
        }
        out
    }

    /// The report as markdown.
    pub fn to_markdown(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let failed = self
            .runs
            .iter()
            .filter(|r| !r.violations.is_empty())
            .count();
        let _ = writeln!(s, "# Reliability campaign ({} size)\n", self.size);
        let _ = writeln!(
            s,
            "`{}` (version {}), on {}, at {}x simulated speed, {:.0} s wall in all, started {}.\n",
            self.command, self.version, self.machine, self.speed, self.wall_secs, self.started
        );
        let _ = writeln!(s, "| | |\n|---|---|");
        let _ = writeln!(s, "| runs | {} |", self.runs.len());
        let _ = writeln!(s, "| runs with a violation | {failed} |");
        let _ = writeln!(s, "| invariant violations | {} |", self.violations());
        let faults: u64 = self.faults_injected().values().sum();
        let _ = writeln!(s, "| faults injected | {faults} |");
        let crashes: u64 = self.crash_points().values().sum();
        let _ = writeln!(s, "| serve SIGKILLs | {crashes} |");
        let missed: usize = self.runs.iter().map(|r| r.crash_points_missed.len()).sum();
        let _ = writeln!(
            s,
            "| planned crash points whose phase never showed (no kill) | {missed} |"
        );
        let conv: Vec<f64> = self
            .runs
            .iter()
            .filter_map(|r| r.converged_after_secs)
            .collect();
        if !conv.is_empty() {
            let max = conv.iter().cloned().fold(0.0, f64::max);
            let mean = conv.iter().sum::<f64>() / conv.len() as f64;
            let _ = writeln!(
                s,
                "| convergence after the faults stopped | mean {mean:.1} s, max {max:.1} s |"
            );
        }
        let _ = writeln!(s, "\n## Faults injected (fired, by kind)\n");
        let _ = writeln!(s, "| fault | fired |\n|---|---|");
        for (k, n) in self.faults_injected() {
            let _ = writeln!(s, "| {k} | {n} |");
        }
        let _ = writeln!(
            s,
            "\n## Crash points hit (SIGKILL of serve, then a restart)\n"
        );
        let _ = writeln!(s, "| during | kills |\n|---|---|");
        for (k, n) in self.crash_points() {
            let _ = writeln!(s, "| {k} | {n} |");
        }
        let mut transitions: BTreeMap<String, u64> = BTreeMap::new();
        for r in &self.runs {
            for (k, n) in &r.breaker_transitions {
                *transitions.entry(k.clone()).or_default() += n;
            }
        }
        let _ = writeln!(
            s,
            "\n## Circuit breaker transitions seen (serve's /metrics)\n"
        );
        let _ = writeln!(s, "| transition | seen |\n|---|---|");
        for (k, n) in transitions {
            let _ = writeln!(s, "| {k} | {n} |");
        }
        let _ = writeln!(s, "\n## Violations\n");
        if failed == 0 {
            let _ = writeln!(s, "None.");
        }
        for r in self.runs.iter().filter(|r| !r.violations.is_empty()) {
            for v in &r.violations {
                let _ = writeln!(
                    s,
                    "- seed {} (run {}): **{}**: {}",
                    r.seed, r.index, v.invariant, v.detail
                );
            }
        }
        let _ = writeln!(s, "\n## Runs\n");
        let _ = writeln!(
            s,
            "| # | seed | planned faults | fired | kills | peak nodes | VPS created | converged after | violations |\n|---|---|---|---|---|---|---|---|---|"
        );
        for r in &self.runs {
            let fired: u64 = r.faults_injected.values().sum();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r.index,
                r.seed,
                if r.planned_faults.is_empty() {
                    "-".to_string()
                } else {
                    r.planned_faults.join(", ")
                },
                fired,
                if r.crash_points.is_empty() {
                    "-".to_string()
                } else {
                    r.crash_points.join(", ")
                },
                r.peak_nodes,
                r.vps_created,
                r.converged_after_secs
                    .map(|c| format!("{c:.1} s"))
                    .unwrap_or_else(|| "never".into()),
                r.violations.len()
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_names_seeds_violations_faults_and_crash_points() {
        let run = |index, violations: Vec<Violation>| RunResult {
            index,
            seed: 1000 + index as u64,
            planned_faults: vec!["vpsie-5xx".into()],
            faults_injected: [("status_503".to_string(), 4)].into(),
            crash_points: vec!["drain".into()],
            crash_points_missed: vec![],
            peak_nodes: 3,
            vps_created: 4,
            breaker_transitions: BTreeMap::new(),
            violations,
            wall_secs: 20.0,
            converged_after_secs: Some(3.0),
        };
        let report = CampaignReport {
            command: "kubectl-vpsie campaign --seed 7".into(),
            size: Size::Ci,
            seed: 7,
            speed: 20.0,
            machine: "2 cores, 24 GiB".into(),
            version: "0.1.0".into(),
            started: "2026-01-01T00:00:00Z".into(),
            wall_secs: 40.0,
            runs: vec![
                run(0, vec![]),
                run(
                    1,
                    vec![Violation {
                        invariant: "no-leak".into(),
                        detail: "VPS 3 is alive".into(),
                    }],
                ),
            ],
        };
        assert_eq!(report.violations(), 1);
        assert_eq!(report.faults_injected()["status_503"], 8);
        assert_eq!(report.crash_points()["drain"], 2);
        let md = report.to_markdown();
        assert!(md.contains("| invariant violations | 1 |"), "{md}");
        assert!(md.contains("seed 1001 (run 1): **no-leak**"), "{md}");
        assert!(md.contains("| drain | 2 |"), "{md}");
    }
}
