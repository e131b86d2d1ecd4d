//! `sim` playing a scenario (the default face of the binary) and `simulate`, the what-if run.
//!
//! Read the scenario ([`Scenario::parse`]) -> [`player::play`] it with the real reconciler in
//! the simulated world -> summarize ([`summary::summarize`], pure) -> show the summary, write
//! the report.

pub mod chart;
pub mod player;
pub mod view;

use std::path::{Path, PathBuf};

use serde::Serialize;
use vpsie_autoscaler::sim::scenario::summary::{Sample, Summary};
use vpsie_autoscaler::sim::scenario::{Scenario, DEFAULT_SCENARIO};

use crate::cli::{OutputFormat, SimArgs, SimulateArgs};
use crate::commands::common;
use crate::commands::status::{plain_table, table_text};
use crate::error::PluginError;
use player::{PlayOptions, Played, Quiet};

/// Reads a scenario file; the error names the file, the line and the field.
pub fn read_scenario(path: Option<&Path>) -> Result<Scenario, PluginError> {
    let (name, text) = match path {
        None => (
            "the built-in scenario".to_string(),
            DEFAULT_SCENARIO.to_string(),
        ),
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p)
                .map_err(|e| PluginError::Io(format!("cannot read scenario {}", p.display()), e))?,
        ),
    };
    Scenario::parse(&text).map_err(|e| PluginError::Config(format!("{name}: {e}")))
}

/// The report of `--report DIR`: `summary.json`, `samples.json`, `chart.svg`, `chart.png`.
pub fn write_report(dir: &Path, summary: &Summary, samples: &[Sample]) -> Result<(), PluginError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| PluginError::Io(format!("cannot create {}", dir.display()), e))?;
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| PluginError::Io(format!("cannot write {}", path.display()), e))
    };
    write("summary.json", to_json(summary)?)?;
    write("samples.json", to_json(&samples)?)?;
    chart::write(
        dir,
        &format!("kubectl vpsie sim: {}", summary.scenario),
        samples,
    )
}

fn to_json<T: Serialize>(v: &T) -> Result<String, PluginError> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| PluginError::Api(e.to_string()))
}

fn leak_check(summary: &Summary) -> Result<(), PluginError> {
    if summary.leaked_vps.is_empty() {
        Ok(())
    } else {
        Err(PluginError::Check(format!(
            "{} VPS leaked (alive, tracked by no VPSieNode): ids {:?}; this is a bug of the autoscaler, please report it with the report directory",
            summary.leaked_vps.len(),
            summary.leaked_vps
        )))
    }
}

async fn stop(played: Played) {
    played.reconciler.stop().await;
    played.world.shutdown().await;
}

/// `sim` with a scenario (the built-in one unless `--scenario`).
pub async fn run_sim(
    args: &SimArgs,
    kubeconfig: PathBuf,
    format: OutputFormat,
) -> Result<(), PluginError> {
    let scenario = read_scenario(args.scenario.as_deref())?;
    vpsie_autoscaler::sim::world::check_overwrite(&kubeconfig)
        .map_err(|e| PluginError::Sim(e.to_string()))?;
    let speed = args.speed.or(scenario.speed).unwrap_or(1.0);
    let opts = PlayOptions {
        speed,
        wall_limit: args.run_for,
        api_port: args.api_port,
        cloud_port: args.cloud_port,
        metrics_port: args.metrics_port,
        kubeconfig: Some(kubeconfig.clone()),
    };
    let structured = matches!(format, OutputFormat::Json | OutputFormat::Yaml);
    let tty = common::stdout_is_tty();
    if !structured {
        println!(
            "Playing scenario {}: {} simulated at {speed}x (about {:.0}s).",
            scenario.name,
            player::clock_text(scenario.duration.secs()),
            scenario.duration.secs() / speed
        );
        if !scenario.description.is_empty() {
            println!("  {}", scenario.description);
        }
        println!(
            "  kubeconfig: {} (kubectl works while it plays)",
            kubeconfig.display()
        );
        println!();
    }
    let played = if structured {
        player::play(&scenario, &opts, &mut Quiet).await?
    } else if tty {
        let mut live = view::LiveView::new(scenario.duration.secs());
        let played = player::play(&scenario, &opts, &mut live).await;
        live.finish();
        played?
    } else {
        player::play(&scenario, &opts, &mut view::PlainView::default()).await?
    };
    let summary = played.summary.clone();
    match common::structured(format, &summary) {
        Some(text) => crate::out!("{}", text?),
        None => {
            println!();
            println!("Summary");
            print!("{}", view::summary_text(&summary));
        }
    }
    if let Some(dir) = &args.report {
        write_report(dir, &summary, &played.recording.samples)?;
        if !structured {
            println!(
                "Report: {} (summary.json, samples.json, chart.svg, chart.png)",
                dir.display()
            );
        }
    }
    if args.keep {
        if !structured {
            println!();
            println!("The world keeps running (--keep); Ctrl-C stops it:");
            println!("  export KUBECONFIG={}", kubeconfig.display());
            println!("  kubectl get nodegroups,vpsienodes -n kube-system");
            println!("  kubectl vpsie status");
        }
        let _ = tokio::signal::ctrl_c().await;
    }
    let leaks = leak_check(&summary);
    stop(played).await;
    leaks
}

/// One run of `simulate`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulateRun {
    /// The NodeGroups file (or the workload file's own groups).
    pub nodegroups: String,
    /// What came of it.
    pub summary: Summary,
}

/// `simulate -o json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimulateView {
    /// 1.
    pub schema_version: u32,
    /// The workload's scenario name.
    pub workload: String,
    /// One per NodeGroups file, in the order given.
    pub runs: Vec<SimulateRun>,
}

/// The comparison table. Pure.
pub fn simulate_table(v: &SimulateView) -> String {
    let mut t = plain_table(&[
        "NODEGROUPS",
        "PODS RUN",
        "P50",
        "P95",
        "MAX",
        "VPS",
        "PEAK $/H",
        "FINAL $/H",
        "TOTAL $",
        "NEVER PLACED",
        "LEAKED",
    ]);
    for r in &v.runs {
        let s = &r.summary;
        let l = &s.pending_to_running;
        t.add_row(vec![
            r.nodegroups.clone(),
            l.pods.to_string(),
            format!("{:.1}s", l.p50),
            format!("{:.1}s", l.p95),
            format!("{:.1}s", l.max),
            s.vps_created.to_string(),
            format!("{:.4}", s.peak_cost_per_hour),
            format!("{:.4}", s.final_cost_per_hour),
            format!("{:.4}", s.total_cost),
            s.pods_never_placed.len().to_string(),
            s.leaked_vps.len().to_string(),
        ]);
    }
    table_text(&t)
}

/// `simulate --workload FILE [--nodegroups FILE]...`.
pub async fn simulate(args: &SimulateArgs, format: OutputFormat) -> Result<(), PluginError> {
    let base = read_scenario(Some(&args.workload))?;
    let mut configs: Vec<(String, Scenario)> = Vec::new();
    if args.nodegroups.is_empty() {
        configs.push((args.workload.display().to_string(), base.clone()));
    }
    for path in &args.nodegroups {
        let text = std::fs::read_to_string(path).map_err(|e| {
            PluginError::Io(format!("cannot read NodeGroups {}", path.display()), e)
        })?;
        let s = base
            .clone()
            .with_node_groups(&text)
            .map_err(|e| PluginError::Config(format!("{}: {e}", path.display())))?;
        configs.push((path.display().to_string(), s));
    }
    let structured = matches!(format, OutputFormat::Json | OutputFormat::Yaml);
    let mut runs = Vec::new();
    for (name, scenario) in &configs {
        let speed = args.speed.or(scenario.speed).unwrap_or(1.0);
        if !structured {
            eprintln!(
                "simulating {} with {name} ({} at {speed}x)...",
                scenario.name,
                player::clock_text(scenario.duration.secs())
            );
        }
        let opts = PlayOptions {
            speed,
            wall_limit: None,
            api_port: 0,
            cloud_port: 0,
            metrics_port: 0,
            kubeconfig: None,
        };
        let played = player::play(scenario, &opts, &mut Quiet).await?;
        let summary = played.summary.clone();
        stop(played).await;
        runs.push(SimulateRun {
            nodegroups: name.clone(),
            summary,
        });
    }
    let view = SimulateView {
        schema_version: 1,
        workload: base.name.clone(),
        runs,
    };
    match common::structured(format, &view) {
        Some(text) => crate::out!("{}", text?),
        None => crate::out!("{}", simulate_table(&view)),
    }
    for r in &view.runs {
        leak_check(&r.summary)?;
    }
    Ok(())
}
