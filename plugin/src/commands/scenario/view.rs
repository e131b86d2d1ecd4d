//! The live view of a playing scenario (redrawn in place on a terminal, plain lines otherwise)
//! and the summary table.

use std::fmt::Write as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vpsie_autoscaler::sim::scenario::summary::Summary;

use super::player::{clock_text, Frame, Observer};
use crate::commands::status::{plain_table, table_text};

/// The frame as text: one screen. Pure.
pub fn frame_text(f: &Frame) -> String {
    let s = &f.sample;
    let phases = if s.nodes_by_phase.is_empty() {
        "-".to_string()
    } else {
        s.nodes_by_phase
            .iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let offerings = if f.vps_by_offering.is_empty() {
        "-".to_string()
    } else {
        f.vps_by_offering
            .iter()
            .map(|(o, n)| format!("{n} x {o}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sim {} / {}   pods: {} pending, {} running   ready nodes: {}",
        clock_text(f.t),
        clock_text(f.end),
        s.pending_pods,
        s.running_pods,
        s.ready_nodes
    );
    let _ = writeln!(out, "VPSieNodes:  {phases}");
    let _ = writeln!(out, "VPS:         {offerings}   ${:.4}/h", s.cost_per_hour);
    for e in &f.recent {
        let mut line = e.clone();
        if line.chars().count() > 118 {
            line = line.chars().take(117).collect::<String>() + "…";
        }
        let _ = writeln!(out, "  {line}");
    }
    out.trim_end().to_string()
}

/// The line a non-terminal gets when the world changed. Pure.
pub fn status_line(f: &Frame) -> String {
    let s = &f.sample;
    let phases = s
        .nodes_by_phase
        .iter()
        .map(|(p, n)| format!("{p}={n}"))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "{} pods pending={} running={} vpsienodes {} ready-nodes={} cost=${:.4}/h",
        clock_text(f.t),
        s.pending_pods,
        s.running_pods,
        if phases.is_empty() {
            "-".into()
        } else {
            phases
        },
        s.ready_nodes,
        s.cost_per_hour
    )
}

/// On a terminal: one frame redrawn in place by indicatif (no flicker), with the progress bar.
pub struct LiveView {
    bar: ProgressBar,
}

impl LiveView {
    /// A view of a scenario of `end` seconds.
    pub fn new(end: f64) -> Self {
        let bar =
            ProgressBar::with_draw_target(Some(end as u64), ProgressDrawTarget::stdout_with_hz(8));
        bar.set_style(
            ProgressStyle::with_template("{msg}\n[{bar:50.cyan/blue}] {percent}%")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Self { bar }
    }

    /// Clears the view.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for LiveView {
    fn note(&mut self, _: f64, _: &str) {}

    fn frame(&mut self, f: &Frame) {
        self.bar.set_position(f.t.max(0.0) as u64);
        self.bar.set_message(frame_text(f));
    }
}

/// Not a terminal: each note, and a status line whenever the counts change (at most every
/// 10 simulated seconds).
#[derive(Default)]
pub struct PlainView {
    last: Option<(String, f64)>,
}

impl Observer for PlainView {
    fn note(&mut self, t: f64, text: &str) {
        println!("{} {text}", clock_text(t));
    }

    fn frame(&mut self, f: &Frame) {
        let line = status_line(f);
        let key = line
            .split_once(' ')
            .map(|x| x.1.to_string())
            .unwrap_or_default();
        let due = match &self.last {
            None => true,
            Some((k, at)) => *k != key && f.t - at >= 10.0,
        };
        if due {
            println!("{line}");
            self.last = Some((key, f.t));
        }
    }
}

/// The summary as a table. Pure.
pub fn summary_text(s: &Summary) -> String {
    let mut t = plain_table(&["", ""]);
    let l = &s.pending_to_running;
    let rows: Vec<(String, String)> = vec![
        (
            "scenario".into(),
            format!(
                "{} ({} simulated in {:.0}s, {}x)",
                s.scenario,
                clock_text(s.simulated_seconds),
                s.wall_seconds,
                s.speed
            ),
        ),
        (
            "pending to running".into(),
            format!(
                "p50 {:.1}s, p95 {:.1}s, max {:.1}s ({} pods)",
                l.p50, l.p95, l.max, l.pods
            ),
        ),
        (
            "VPS created".into(),
            format!(
                "{} ({}), {} deleted, {} at the end",
                s.vps_created,
                if s.created_by_offering.is_empty() {
                    "-".to_string()
                } else {
                    s.created_by_offering
                        .iter()
                        .map(|(o, n)| format!("{n} x {o}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                s.vps_deleted,
                s.vps_at_end
            ),
        ),
        (
            "cost".into(),
            format!(
                "peak ${:.4}/h, final ${:.4}/h, ${:.4} in all",
                s.peak_cost_per_hour, s.final_cost_per_hour, s.total_cost
            ),
        ),
        (
            "at the end".into(),
            format!(
                "{} pods running on {} ready nodes",
                s.pods_running_at_end, s.ready_nodes_at_end
            ),
        ),
        (
            "pods never placed".into(),
            if s.pods_never_placed.is_empty() {
                "none".into()
            } else {
                format!(
                    "{}: {}",
                    s.pods_never_placed.len(),
                    s.pods_never_placed.join(", ")
                )
            },
        ),
        (
            "leaked VPS".into(),
            if s.leaked_vps.is_empty() {
                "none".into()
            } else {
                format!("{:?}", s.leaked_vps)
            },
        ),
    ];
    for (k, v) in rows {
        t.add_row(vec![k, v]);
    }
    for f in &s.faults {
        t.add_row(vec!["fault".to_string(), f.clone()]);
    }
    // the header row of two empty cells is not wanted
    let text = table_text(&t);
    text.lines()
        .skip(1)
        .map(|l| format!("{}\n", l.trim_end()))
        .collect()
}
