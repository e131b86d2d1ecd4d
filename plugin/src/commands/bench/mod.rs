//! `bench`: the end-to-end benchmark. The simulated world runs in this process; the real
//! reconciler (`kubectl-vpsie serve`, this binary) runs as its own child process against it,
//! as the ServiceAccount of deploy/. Bursts of pods over many NodeGroups, then the report:
//! reaction (Unschedulable -> CreateVM arrival in the sim cloud's request log), overhead
//! (running time minus the simulated boot and join), tightness (nodes and cost against the
//! bin-packing lower bound and the cheapest cover, uniform and mixed pods apart), API economy,
//! serve's footprint (VmHWM, idle CPU), and `status` latency; each against its target.
//!
//! It writes `<out>/<size>.json` (the [`report::Report`]) and `<out>/<size>.md`, and with
//! `--baseline` fails on gross regressions only (see [`calc::allowed`]). A report that breaks an
//! invariant (a pod never ran, p50 > p95, fewer nodes than the lower bound, fewer calls than
//! the minimum, a leaked VPS) fails too.

pub mod calc;
pub mod report;
pub mod run;

use std::path::{Path, PathBuf};

use crate::cli::{BenchArgs, BenchLimits, BenchSize};
use crate::error::PluginError;

use report::{Binary, Machine, Report, SCHEMA_VERSION};
use run::{Limit, Size, RAISED_LIMIT};

/// Which variants to play: (name, limit).
pub fn variants_of(limits: BenchLimits) -> Vec<(&'static str, Limit)> {
    let default = ("default-limit", Limit { raised: None });
    let raised = (
        "raised-limit",
        Limit {
            raised: Some(RAISED_LIMIT),
        },
    );
    match limits {
        BenchLimits::Default => vec![default],
        BenchLimits::Raised => vec![raised],
        // raised first: what the autoscaler costs is on disk before the long default run
        BenchLimits::Both => vec![raised, default],
    }
}

fn machine() -> Machine {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let memory_mib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| calc::status_kib(&s, "MemTotal"))
        .map_or(0, |k| k / 1024);
    let mut load_average = [0.0; 3];
    if let Ok(s) = std::fs::read_to_string("/proc/loadavg") {
        for (slot, v) in load_average.iter_mut().zip(s.split_whitespace()) {
            *slot = v.parse().unwrap_or(0.0);
        }
    }
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    Machine {
        cores,
        memory_mib,
        load_average,
        kernel,
    }
}

fn write(path: &Path, text: &str) -> Result<(), PluginError> {
    std::fs::write(path, text)
        .map_err(|e| PluginError::Io(format!("writing {}", path.display()), e))
}

/// Runs the bench (see the module doc).
pub async fn run(args: &BenchArgs) -> Result<(), PluginError> {
    if !(args.max_regression.is_finite() && args.max_regression >= 1.0) {
        return Err(PluginError::Config(format!(
            "--max-regression {}: expected a factor of at least 1 (e.g. 3 fails when a metric is 3x as far from perfect as the baseline's)",
            args.max_regression
        )));
    }
    // the baseline is read first: a bad one fails before minutes of benching
    let baseline = match &args.baseline {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                PluginError::Io(
                    format!("reading the baseline {} (--baseline)", p.display()),
                    e,
                )
            })?;
            Some(
                report::parse_baseline(&p.display().to_string(), &text)
                    .map_err(PluginError::Config)?,
            )
        }
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| PluginError::Io(format!("creating --out {}", args.out.display()), e))?;
    let bin =
        std::env::current_exe().map_err(|e| PluginError::Io("locating this binary".into(), e))?;
    let size = match args.size {
        BenchSize::Ci => Size::ci(),
        BenchSize::Full => Size::full(),
    };
    let size = match std::env::var(run::BURSTS_ENV) {
        Ok(list) => size.with_bursts(&list).map_err(PluginError::Config)?,
        Err(_) => size,
    };
    let limits = args.limits.unwrap_or(match args.size {
        BenchSize::Ci => BenchLimits::Raised,
        BenchSize::Full => BenchLimits::Both,
    });
    let variants = variants_of(limits);
    if variants.iter().any(|(_, l)| l.raised.is_some()) && !run::serve_takes_rate_flags(&bin)? {
        return Err(PluginError::Config(format!(
            "bench: {} serve has no --vpsie-requests-per-minute flag, which the raised-limit variant needs; build a binary that has it, or pass --limits default",
            bin.display()
        )));
    }
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let machine = machine();
    let binary = Binary {
        path: bin.display().to_string(),
        size_bytes: std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0),
        release: !cfg!(debug_assertions),
    };
    let progress = |line: &str| eprintln!("bench: {line}");
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        size: size.name.to_string(),
        started_at,
        machine,
        binary,
        variants: Vec::new(),
    };
    for (name, limit) in variants {
        progress(&format!(
            "{name}: {} NodeGroups, bursts to {:?} pods",
            size.groups().len(),
            size.bursts
        ));
        let v = run::run_variant(&bin, &size, name, limit, args.burst_timeout, &progress).await?;
        report.variants.push(v);
        // written after every variant, so a long run keeps what it measured
        write_report(&args.out, &report)?;
    }
    let (json_path, md_path) = write_report(&args.out, &report)?;
    println!("{}", report::markdown(&report));
    println!("wrote {} and {}", json_path.display(), md_path.display());
    let mut problems = report.violations();
    if let Some(b) = &baseline {
        problems.extend(
            report::compare(&report, b, args.max_regression)
                .iter()
                .map(|r| format!("regression against the baseline: {r}")),
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PluginError::Report(format!(
            "bench: {}",
            problems.join("; ")
        )))
    }
}

fn write_report(out: &Path, report: &Report) -> Result<(PathBuf, PathBuf), PluginError> {
    let json_path = out.join(format!("{}.json", report.size));
    let md_path = out.join(format!("{}.md", report.size));
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| PluginError::Config(format!("bench: encoding the report: {e}")))?;
    write(&json_path, &(json + "\n"))?;
    write(&md_path, &report::markdown(report))?;
    Ok((json_path, md_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_follow_the_limits_flag() {
        let names = |l| variants_of(l).into_iter().map(|v| v.0).collect::<Vec<_>>();
        assert_eq!(names(BenchLimits::Both), ["raised-limit", "default-limit"]);
        assert_eq!(names(BenchLimits::Default), ["default-limit"]);
        assert_eq!(
            variants_of(BenchLimits::Raised)[0].1.raised,
            Some((6000, 200))
        );
    }
}
