//! `campaign`: the randomized fault and crash campaign (issue 11). Each run starts its own
//! simulated world in this process, runs `kubectl-vpsie serve` (this binary) as a child process
//! against it as the reconciler's ServiceAccount, plays the run's plan
//! ([`vpsie_autoscaler::sim::campaign::plan`]) — workloads, VPSie and Kubernetes API faults,
//! SIGKILLs of `serve` during scale-up, drain and delete — waits on conditions (with deadlines)
//! for convergence once the faults stop, and checks the invariants
//! ([`vpsie_autoscaler::sim::campaign::check`]). A violation prints the run's seed and exits 1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use vpsie_autoscaler::sim::apiserver::faults::{KubeFaultAction, KubeFaultRule};
use vpsie_autoscaler::sim::apiserver::{Gvr, ListOptions, Store, WriteOptions};
use vpsie_autoscaler::sim::campaign::check::{
    FinalState, PdbSample, ProcessObservation, RunObservation, VmFact, VnFact,
};
use vpsie_autoscaler::sim::campaign::plan::{
    CrashPhase, FaultProfile, KubeFault, VpsieFault, OFFERING,
};
use vpsie_autoscaler::sim::campaign::{
    check, plan, run_seed, CampaignReport, RunPlan, RunResult, Size, Violation,
};
use vpsie_autoscaler::sim::cloud::faults::{FaultAction, FaultRule};
use vpsie_autoscaler::sim::cloud::ops::Operation;
use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig, NAMESPACE};

use crate::cli::{CampaignArgs, OutputFormat};
use crate::error::PluginError;

const GROUP: &str = "campaign";
/// Set to `1`: the checker's own test (see `run`).
pub const INJECT_LEAK_ENV: &str = "VPSIE_CAMPAIGN_INJECT_LEAK";
const APP_NS: &str = "default";
/// How often the runner looks (and scrapes serve's /metrics) while it waits.
const TICK: Duration = Duration::from_millis(200);
/// The breaker's settings in serve (the client's defaults).
const BREAKER_THRESHOLD: u32 = 5;
const BREAKER_OPEN: Duration = Duration::from_secs(30);
/// The VM boot time of a run (simulated).
const BOOT: Duration = Duration::from_secs(8);

fn vn_gvr() -> Gvr {
    Gvr::new("autoscaler.vpsie.com", "v1alpha1", "vpsienodes")
}

fn sim_err(what: &str, e: impl std::fmt::Display) -> PluginError {
    PluginError::Sim(format!("{what}: {e}"))
}

/// Runs the campaign and prints (and writes) its report; a violation is exit 1.
pub async fn run(args: &CampaignArgs, format: OutputFormat) -> Result<(), PluginError> {
    let size = args.size;
    let base = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    let seeds: Vec<u64> = match args.run_seed {
        Some(s) => vec![s],
        None => (0..args.runs.map(|n| n as usize).unwrap_or(size.default_runs()))
            .map(|i| run_seed(base, i))
            .collect(),
    };
    if let Some(out) = &args.out {
        if out.extension().and_then(|e| e.to_str()) != Some("md") {
            return Err(PluginError::Config(format!(
                "--out {}: the report is markdown; give a FILE.md (its JSON goes next to it as FILE.json)",
                out.display()
            )));
        }
    }
    let exe = std::env::current_exe()
        .map_err(|e| PluginError::Io("finding this binary to run serve".into(), e))?;
    let human = !matches!(format, OutputFormat::Json | OutputFormat::Yaml);
    let started = chrono::Utc::now();
    let wall = Instant::now();
    if human {
        match args.run_seed {
            Some(s) => eprintln!(
                "campaign: replaying the run with seed {s} ({size} size), {}x simulated speed",
                args.speed
            ),
            None => eprintln!(
                "campaign: {} runs ({size} size), base seed {base}, {}x simulated speed",
                seeds.len(),
                args.speed
            ),
        }
    }
    let jobs = args.jobs.max(1) as usize;
    let exe_ref = &exe;
    let logs = args.logs.as_deref();
    let speed = args.speed;
    // test of the checker: a VPS no VPSieNode tracks is made before the final checks, so each
    // run must report a no-leak violation and the campaign exit 1 (an environment variable,
    // not a flag: it is no operator's option, and stays out of --help and the completions)
    let inject_leak = std::env::var(INJECT_LEAK_ENV).is_ok_and(|v| v == "1");
    // `--jobs` runs at once (each its own world and serve; the order of the report is kept)
    let mut stream = futures::stream::iter(seeds.iter().copied().enumerate())
        .map(|(index, seed)| async move {
            let p = plan(seed, size);
            run_one(index, &p, speed, exe_ref, logs, inject_leak).await
        })
        .buffered(jobs);
    let mut runs = Vec::new();
    while let Some(result) = stream.next().await {
        let result = result?;
        let (index, seed) = (result.index, result.seed);
        if human {
            eprintln!(
                "run {index} seed {seed}: {} faults fired, kills {:?}, peak {} nodes, {} VPS, {:.0} s: {}",
                result.faults_injected.values().sum::<u64>(),
                result.crash_points,
                result.peak_nodes,
                result.vps_created,
                result.wall_secs,
                if result.violations.is_empty() {
                    "ok".to_string()
                } else {
                    format!("{} VIOLATIONS", result.violations.len())
                }
            );
            for v in &result.violations {
                eprintln!("  seed {seed}: {}: {}", v.invariant, v.detail);
            }
        }
        runs.push(result);
    }
    let command = match args.run_seed {
        Some(s) => format!(
            "kubectl-vpsie campaign --size {size} --run-seed {s} --speed {}",
            args.speed
        ),
        None => format!(
            "kubectl-vpsie campaign --size {size} --runs {} --seed {base} --speed {} --jobs {}",
            seeds.len(),
            args.speed,
            args.jobs
        ),
    };
    let report = CampaignReport {
        command,
        size,
        seed: base,
        speed: args.speed,
        machine: machine(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        started: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        wall_secs: wall.elapsed().as_secs_f64(),
        runs,
    };
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| PluginError::Io(format!("creating {}", dir.display()), e))?;
        }
        std::fs::write(out, report.to_markdown())
            .map_err(|e| PluginError::Io(format!("writing {}", out.display()), e))?;
        let json_path = out.with_extension("json");
        let text = serde_json::to_string_pretty(&report).unwrap_or_default();
        std::fs::write(&json_path, text + "\n")
            .map_err(|e| PluginError::Io(format!("writing {}", json_path.display()), e))?;
    }
    match format {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        OutputFormat::Yaml => print!(
            "{}",
            vpsie_autoscaler::yaml::to_string(&report).unwrap_or_default()
        ),
        _ => print!("{}", report.to_markdown()),
    }
    let failed: Vec<String> = report
        .runs
        .iter()
        .filter(|r| !r.violations.is_empty())
        .map(|r| {
            format!(
                "seed {} ({})",
                r.seed,
                r.violations
                    .iter()
                    .map(|v| v.invariant.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(PluginError::Check(format!(
            "{} invariant violations in {} of {} runs: {}; replay one with `kubectl-vpsie campaign --size {size} --run-seed <seed> --logs DIR`",
            report.violations(),
            failed.len(),
            report.runs.len(),
            failed.join("; ")
        )))
    }
}

/// `N cores, M GiB` of this machine (from /proc; `unknown` elsewhere).
fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kb| format!("{:.0} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown memory".into());
    format!("{cores} cores, {mem}")
}

/// One `serve` child and what was seen of it.
struct Serve {
    child: Child,
    gauges: BTreeMap<String, f64>,
    metrics: String,
    start_seq: u64,
    obs: ProcessObservation,
    last_seq: u64,
}

struct Runner<'a> {
    plan: &'a RunPlan,
    world: SimWorld,
    speed: f64,
    exe: &'a Path,
    dir: tempfile::TempDir,
    logs: Option<&'a Path>,
    kubeconfig: PathBuf,
    t0: Instant,
    sim_t0: chrono::DateTime<chrono::Utc>,
    http: reqwest::Client,
    serve: Option<Serve>,
    processes: Vec<(ProcessObservation, u64, u64)>,
    pdb: Vec<PdbSample>,
    /// Workloads whose PDB is sampled (those still wanted): name → minAvailable.
    protected: BTreeMap<String, u32>,
    peak_nodes: u32,
    restarts: u32,
    faults: Active,
    timeouts_fired: u64,
}

/// The faults in force.
#[derive(Default)]
struct Active {
    cloud_rules: Vec<FaultRule>,
    cut_every: Option<Duration>,
    next_cut: Option<Instant>,
    until: Option<Instant>,
    quota: bool,
    boots: bool,
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl<'a> Runner<'a> {
    fn now_ms(&self) -> u64 {
        ms(self.t0.elapsed())
    }

    fn spawn_serve(&mut self) -> Result<(), PluginError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| PluginError::Io("picking a metrics port".into(), e))?
            .port();
        let n = self.restarts;
        let stderr = match self.logs {
            Some(dir) => {
                let path = dir.join(format!("seed-{}-serve-{n}.log", self.plan.seed));
                let f = std::fs::File::create(&path)
                    .map_err(|e| PluginError::Io(format!("creating {}", path.display()), e))?;
                Stdio::from(f)
            }
            None => Stdio::null(),
        };
        let child = Command::new(self.exe)
            .arg("serve")
            .arg("--kubeconfig")
            .arg(SimWorld::reconciler_kubeconfig_path(&self.kubeconfig))
            .args([
                "--metrics-addr",
                &format!("127.0.0.1:{port}"),
                "--cluster-name",
                "sim",
                "--leader-elect",
                "false",
                "--poll-interval",
                "500ms",
                "--scale-down-interval",
                "1s",
                "--orphan-grace",
                "5s",
                "--drain-timeout",
                "60s",
                // the campaign's timescale is seconds (unneededTime 2 s): so is the back-off of
                // an offering whose create failed (default 5 min)
                "--offering-backoff",
                "10s",
            ])
            .env("HOME", self.dir.path())
            .env("KUBECTL_VPSIE_LOG", "info")
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| PluginError::Io("starting kubectl-vpsie serve".into(), e))?;
        let seq = self.world.cloud.request_total();
        self.serve = Some(Serve {
            child,
            gauges: BTreeMap::new(),
            metrics: format!("http://127.0.0.1:{port}/metrics"),
            start_seq: seq,
            obs: ProcessObservation::default(),
            last_seq: seq,
        });
        self.restarts += 1;
        Ok(())
    }

    /// SIGKILL (std's `Child::kill` on Unix), then reap.
    fn kill_serve(&mut self) {
        if let Some(mut s) = self.serve.take() {
            let _ = s.child.kill();
            let _ = s.child.wait();
            self.processes.push((s.obs, s.start_seq, s.last_seq));
        }
    }

    fn list(&self, gvr: &Gvr, ns: Option<&str>) -> Vec<Value> {
        self.world
            .api
            .store()
            .list(gvr, ns, &ListOptions::default())
            .map(|l| l.items.iter().map(|v| (**v).clone()).collect())
            .unwrap_or_default()
    }

    fn vns(&self) -> Vec<VnFact> {
        self.list(&vn_gvr(), Some(NAMESPACE))
            .iter()
            .map(|v| VnFact {
                name: v["metadata"]["name"].as_str().unwrap_or("").to_string(),
                phase: v["status"]["phase"]
                    .as_str()
                    .unwrap_or("Pending")
                    .to_string(),
                instance_id: v["spec"]["vpsieInstanceID"].as_u64().unwrap_or(0),
            })
            .collect()
    }

    fn vms(&self) -> Vec<VmFact> {
        self.world
            .cloud
            .vms()
            .into_iter()
            .map(|m| VmFact {
                id: m.id,
                hostname: m.hostname,
            })
            .collect()
    }

    fn pods(&self) -> Vec<Value> {
        self.list(&Gvr::core("pods"), Some(APP_NS))
    }

    /// Ready pods of `app` (Running, Ready, not being deleted).
    fn ready(pods: &[Value], app: &str) -> u32 {
        pods.iter()
            .filter(|p| p["metadata"]["labels"]["app"] == app)
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .filter(|p| p["status"]["phase"] == "Running")
            .filter(|p| {
                p["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            })
            .count() as u32
    }

    /// One look: PDB samples, peak nodes, serve's /metrics, the faults' clock.
    async fn sample(&mut self) {
        let t = self.now_ms();
        let pods = self.pods();
        for (app, min) in &self.protected {
            self.pdb.push(PdbSample {
                t_ms: t,
                app: app.clone(),
                ready: Self::ready(&pods, app),
                min_available: *min,
            });
        }
        let nodes = self.vns().iter().filter(|v| v.phase != "Failed").count() as u32;
        self.peak_nodes = self.peak_nodes.max(nodes);
        self.tick_faults();
        let cloud = self.world.cloud.clone();
        if let Some(s) = self.serve.as_mut() {
            let got = self
                .http
                .get(&s.metrics)
                .timeout(Duration::from_millis(500))
                .send()
                .await;
            if let Ok(r) = got {
                if let Ok(text) = r.text().await {
                    // the cloud logs a request before its reply goes out: read the log's end
                    // after the scrape, so every request the metrics count is in the span
                    let seq = cloud.request_total();
                    let m = parse_metrics(&text);
                    if let Some(b) = m.breaker {
                        s.obs.breaker.push((t, b));
                    }
                    s.gauges = m.gauges;
                    s.obs.requests_metric = m.ok_requests;
                    s.obs.rate_limited_metric = m.rate_limited;
                    s.obs.last_scrape_ms = t;
                    s.last_seq = seq;
                }
            }
        }
    }

    /// Waits (sampling) until `cond` holds or `limit` passes; whether it held.
    async fn until(&mut self, limit: Duration, mut cond: impl FnMut(&Self) -> bool) -> bool {
        let start = Instant::now();
        loop {
            self.sample().await;
            if cond(self) {
                return true;
            }
            if start.elapsed() >= limit {
                return false;
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// Waits `d` of wall time, sampling (for a planned delay, not standing in for a condition).
    async fn pause(&mut self, d: Duration) {
        let end = Instant::now() + d;
        self.until(d + TICK, |_| Instant::now() >= end).await;
    }

    fn start_faults(&mut self, p: &FaultProfile) -> Result<(), PluginError> {
        let cloud = &self.world.cloud;
        let mut a = Active {
            until: Some(Instant::now() + Duration::from_millis(p.window_ms)),
            ..Active::default()
        };
        for f in &p.vpsie {
            let rule = match f {
                VpsieFault::ServerErrors { code, probability } => Some(
                    FaultRule::new(FaultAction::Status {
                        code: *code,
                        message: "campaign: server error burst".into(),
                    })
                    .with_probability(*probability),
                ),
                VpsieFault::Outage => Some(FaultRule::new(FaultAction::Status {
                    code: 503,
                    message: "campaign: outage".into(),
                })),
                VpsieFault::RateLimited {
                    retry_after_secs,
                    probability,
                } => Some(
                    FaultRule::new(FaultAction::RateLimited {
                        retry_after_secs: *retry_after_secs,
                    })
                    .with_probability(*probability),
                ),
                VpsieFault::Timeouts { count } => Some(
                    // past the client's 30 s timeout, in simulated milliseconds
                    FaultRule::new(FaultAction::Latency {
                        ms: (31_000.0 * self.speed) as u64,
                    })
                    .times(*count),
                ),
                VpsieFault::LoseCreateResponses { count } => Some(
                    FaultRule::new(FaultAction::LoseResponse)
                        .on_operation(Operation::CreateVM)
                        .times(*count),
                ),
                VpsieFault::ExpireTokens => {
                    cloud.expire_all_tokens();
                    Some(FaultRule::new(FaultAction::ExpireTokens).times(3))
                }
                VpsieFault::QuotaExhausted => {
                    cloud.set_quota(cloud.vms().len());
                    a.quota = true;
                    None
                }
                VpsieFault::SlowBoot { secs } => {
                    cloud.set_boot_time(Duration::from_secs(*secs));
                    a.boots = true;
                    None
                }
                VpsieFault::FailedBoots { count } => {
                    cloud.fail_next_boots(*count);
                    a.boots = true;
                    None
                }
            };
            if let Some(r) = rule {
                cloud
                    .add_fault(r.clone())
                    .map_err(|e| sim_err("adding a VPSie fault", e))?;
                a.cloud_rules.push(r);
            }
        }
        for f in &p.kube {
            let rule = match f {
                KubeFault::Conflicts {
                    resource,
                    probability,
                } => Some(
                    KubeFaultRule::new(KubeFaultAction::Conflict)
                        .on_resource(resource.clone())
                        .with_probability(*probability)
                        .except_admin(),
                ),
                KubeFault::Unavailable => Some(
                    KubeFaultRule::new(KubeFaultAction::Unavailable {
                        retry_after_secs: 1,
                    })
                    .except_admin(),
                ),
                KubeFault::CutWatches { every_ms } => {
                    a.cut_every = Some(Duration::from_millis(*every_ms));
                    a.next_cut = Some(Instant::now());
                    None
                }
                KubeFault::ExpireWatches { count } => Some(
                    KubeFaultRule::new(KubeFaultAction::ExpireWatch)
                        .times(*count)
                        .except_admin(),
                ),
            };
            if let Some(r) = rule {
                self.world
                    .api
                    .add_fault(r)
                    .map_err(|e| sim_err("adding a Kubernetes API fault", e))?;
            }
        }
        self.faults = a;
        Ok(())
    }

    fn tick_faults(&mut self) {
        let now = Instant::now();
        if self.faults.until.is_some_and(|u| now >= u) {
            self.stop_faults();
            return;
        }
        if let (Some(every), Some(next)) = (self.faults.cut_every, self.faults.next_cut) {
            if now >= next {
                self.world.api.cut_watches();
                self.faults.next_cut = Some(now + every);
            }
        }
    }

    fn stop_faults(&mut self) {
        let a = std::mem::take(&mut self.faults);
        // timed-out requests are never logged (the client hung up): count what their rules used
        let left: u32 = self
            .world
            .cloud
            .faults()
            .iter()
            .filter(|r| matches!(r.action, FaultAction::Latency { .. }))
            .filter_map(|r| r.count)
            .sum();
        let planned: u32 = a
            .cloud_rules
            .iter()
            .filter(|r| matches!(r.action, FaultAction::Latency { .. }))
            .filter_map(|r| r.count)
            .sum();
        self.timeouts_fired += u64::from(planned.saturating_sub(left));
        // the window's rules, counts partly used or not (only this runner adds rules)
        self.world.cloud.clear_faults();
        self.world.api.clear_faults();
        if a.quota {
            self.world.cloud.set_quota(1000);
        }
        if a.boots {
            self.world.cloud.set_boot_time(BOOT);
            self.world.cloud.fail_next_boots(0);
        }
    }

    fn faults_over(&self) -> bool {
        self.faults.until.is_none()
    }

    fn create(&self, gvr: &Gvr, ns: &str, obj: Value) -> Result<(), PluginError> {
        self.world
            .api
            .store()
            .create(gvr, Some(ns), obj, &WriteOptions::default())
            .map(|_| ())
            .map_err(|e| sim_err("creating an object", e))
    }

    /// Everything the final checks need, converged or not.
    fn converged(&self, final_: bool) -> Result<(), String> {
        let vns = self.vns();
        let vms = self.vms();
        let pods = self.pods();
        let p = self.plan;
        let wanted: Vec<_> = p
            .workloads
            .iter()
            .filter(|w| !(final_ && w.leaves))
            .collect();
        for w in &wanted {
            let r = Self::ready(&pods, &w.name);
            if r < w.replicas {
                return Err(format!("{}: {r} of {} pods ready", w.name, w.replicas));
            }
        }
        if p.unmovable && Self::ready(&pods, "unmovable") < 1 {
            return Err("the unmovable pod is not running".into());
        }
        if let Some(v) = vns
            .iter()
            .find(|v| v.phase != "Ready" && v.phase != "Failed")
        {
            return Err(format!("VPSieNode {} is {}", v.name, v.phase));
        }
        let tracked: std::collections::BTreeSet<u64> = vns.iter().map(|v| v.instance_id).collect();
        if let Some(m) = vms.iter().find(|m| !tracked.contains(&m.id)) {
            return Err(format!("VPS {} is tracked by no VPSieNode", m.id));
        }
        let ready = vns.iter().filter(|v| v.phase == "Ready").count() as u32;
        if ready < p.min_nodes {
            return Err(format!("{ready} Ready nodes, below minNodes"));
        }
        if final_ && ready > p.final_node_bound() {
            return Err(format!(
                "{ready} Ready nodes, more than the {} the remaining load needs",
                p.final_node_bound()
            ));
        }
        Ok(())
    }

    /// The final state as the checks see it.
    fn final_state(&self) -> FinalState {
        let p = self.plan;
        let pods = self.pods();
        FinalState {
            vms: self.vms(),
            vns: self.vns(),
            pods_expected: p.remaining_pods(),
            pods_running: p
                .workloads
                .iter()
                .filter(|w| !w.leaves)
                .map(|w| Self::ready(&pods, &w.name))
                .sum::<u32>()
                + if p.unmovable {
                    Self::ready(&pods, "unmovable")
                } else {
                    0
                },
            node_bound: p.final_node_bound(),
            min_nodes: p.min_nodes,
            group: GROUP.into(),
            gauges: self
                .serve
                .as_ref()
                .map(|s| s.gauges.clone())
                .unwrap_or_default(),
        }
    }

    /// Waits for the phase of a crash point and kills serve at a random moment of it: the
    /// label is the phase, or `<phase>-after` when the phase was over by the kill.
    async fn crash(&mut self, phase: CrashPhase) -> Result<Option<String>, PluginError> {
        let Some(c) = self.plan.crashes.iter().find(|c| c.phase == phase).cloned() else {
            return Ok(None);
        };
        let phases = phase.phases();
        let in_phase = |r: &Self| r.vns().iter().any(|v| phases.contains(&v.phase.as_str()));
        // look often (in-process, cheap): a drain of an empty node is short
        let limit = Instant::now() + Duration::from_secs(30);
        let mut n = 0u32;
        loop {
            if in_phase(self) {
                break;
            }
            if Instant::now() >= limit {
                return Ok(Some(String::new()));
            }
            n += 1;
            if n.is_multiple_of(10) {
                self.sample().await;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let at = Instant::now() + Duration::from_millis(c.delay_ms);
        while Instant::now() < at && in_phase(self) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let label = if in_phase(self) {
            phase.as_str().to_string()
        } else {
            format!("{}-after", phase.as_str())
        };
        self.kill_serve();
        self.pause(Duration::from_millis(c.restart_after_ms)).await;
        self.spawn_serve()?;
        Ok(Some(label))
    }
}

/// What the runner reads from serve's /metrics.
#[derive(Debug, Default, PartialEq)]
struct Scraped {
    breaker: Option<u8>,
    gauges: BTreeMap<String, f64>,
    ok_requests: f64,
    rate_limited: f64,
}

/// Parses the Prometheus text of serve's /metrics. Pure.
fn parse_metrics(text: &str) -> Scraped {
    let mut s = Scraped::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        if name == "vpsie_api_circuit_breaker_state" {
            s.breaker = Some(value as u8);
        } else if name.starts_with("vpsie_api_requests_total{") && name.contains("status=\"2") {
            s.ok_requests += value;
        } else if name == "vpsie_api_errors_total{error_type=\"rate_limited\"}" {
            s.rate_limited += value;
        } else if name.starts_with("nodegroup_") || name.starts_with("vpsienode_phase{") {
            s.gauges.insert(name.to_string(), value);
        }
    }
    s
}

fn deployment(name: &str, replicas: u32, cpu_millis: u32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": APP_NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "nodeSelector": {"pool": GROUP},
                    "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                        "resources": {"requests": {"cpu": format!("{cpu_millis}m"), "memory": "256Mi"}}}]
                }
            }
        }
    })
}

fn node_group(p: &RunPlan) -> Value {
    json!({
        "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
        "metadata": {"name": GROUP, "namespace": NAMESPACE},
        "spec": {
            "minNodes": p.min_nodes, "maxNodes": p.max_nodes,
            "datacenterID": "dc-us-east-1", "offeringIDs": [OFFERING],
            "osImageID": "ubuntu-22.04-lts",
            "labels": {"pool": GROUP},
            "scaleDownPolicy": {"unneededTime": 2, "stabilizationWindowSeconds": 2}
        }
    })
}

/// Faults that fired in the run, by kind: the cloud's request log labels and the API server's
/// counters, plus the planned boot and quota faults.
fn fired(world: &SimWorld, p: &RunPlan) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for r in world.cloud.requests() {
        for f in r.faults {
            *out.entry(format!("vpsie:{f}")).or_default() += 1;
        }
        if r.operation == Operation::CreateVM
            && (400..500).contains(&r.status)
            && r.status != 429
            && r.status != 401
        {
            *out.entry("vpsie:create_refused".into()).or_default() += 1;
        }
    }
    for (k, n) in world.api.faults_fired() {
        if n > 0 {
            *out.entry(format!("kube:{k}")).or_default() += n;
        }
    }
    let failed = world
        .cloud
        .vm_history()
        .iter()
        .filter(|m| m.boot_fails)
        .count() as u64;
    if failed > 0 {
        out.insert("vpsie:failed_boot".into(), failed);
    }
    for f in [&p.up_faults, &p.down_faults] {
        for v in &f.vpsie {
            if let VpsieFault::SlowBoot { .. } = v {
                *out.entry("vpsie:slow_boot_window".into()).or_default() += 1;
            }
        }
    }
    out
}

async fn run_one(
    index: usize,
    p: &RunPlan,
    speed: f64,
    exe: &Path,
    logs: Option<&Path>,
    inject_leak: bool,
) -> Result<RunResult, PluginError> {
    let wall = Instant::now();
    let world = SimWorld::start(SimWorldConfig {
        speed,
        boot_time: BOOT,
        example_nodegroup: false,
        fault_seed: p.seed,
        ..SimWorldConfig::default()
    })
    .await
    .map_err(|e| sim_err("starting the world", e))?;
    let dir =
        tempfile::tempdir().map_err(|e| PluginError::Io("a temporary directory".into(), e))?;
    let kubeconfig = dir.path().join("kubeconfig");
    world
        .write_kubeconfig(&kubeconfig)
        .map_err(|e| sim_err("kubeconfig", e))?;
    world
        .write_reconciler_kubeconfig(&kubeconfig)
        .map_err(|e| sim_err("kubeconfig", e))?;
    let sim_t0 = world.clock.now();
    let mut r = Runner {
        plan: p,
        world,
        speed,
        exe,
        dir,
        logs,
        kubeconfig,
        t0: Instant::now(),
        sim_t0,
        http: reqwest::Client::new(),
        serve: None,
        processes: Vec::new(),
        pdb: Vec::new(),
        protected: BTreeMap::new(),
        peak_nodes: 0,
        restarts: 0,
        faults: Active::default(),
        timeouts_fired: 0,
    };
    let mut crash_points = Vec::new();
    let mut missed = Vec::new();
    let mut note = |phase: CrashPhase, hit: Option<String>| match hit {
        Some(label) if label.is_empty() => missed.push(phase.as_str().to_string()),
        Some(label) => crash_points.push(label),
        None => {}
    };

    let store: std::sync::Arc<Store> = r.world.api.store();
    store
        .create(
            &Gvr::new("autoscaler.vpsie.com", "v1alpha1", "nodegroups"),
            Some(NAMESPACE),
            node_group(p),
            &WriteOptions::default(),
        )
        .map_err(|e| sim_err("creating the NodeGroup", e))?;
    r.spawn_serve()?;
    r.start_faults(&p.up_faults)?;
    for w in &p.workloads {
        r.create(
            &Gvr::new("apps", "v1", "deployments"),
            APP_NS,
            deployment(&w.name, w.replicas, w.cpu_millis),
        )?;
        if let Some(min) = w.pdb_min_available {
            r.create(
                &Gvr::new("policy", "v1", "poddisruptionbudgets"),
                APP_NS,
                json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                    "metadata": {"name": w.name, "namespace": APP_NS},
                    "spec": {"minAvailable": min, "selector": {"matchLabels": {"app": w.name}}}}),
            )?;
            r.protected.insert(w.name.clone(), min);
        }
    }
    if p.unmovable {
        r.create(
            &Gvr::core("pods"),
            APP_NS,
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "unmovable", "namespace": APP_NS, "labels": {"app": "unmovable"},
                    "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}},
                "spec": {"nodeSelector": {"pool": GROUP},
                    "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}),
        )?;
    }
    let unmovable_uid = |r: &Runner| {
        r.pods()
            .iter()
            .find(|p| p["metadata"]["name"] == "unmovable")
            .and_then(|p| p["metadata"]["uid"].as_str().map(str::to_string))
    };
    let unmovable_start = unmovable_uid(&r);

    // scale-up, under the first fault window
    let hit = r.crash(CrashPhase::ScaleUp).await?;
    note(CrashPhase::ScaleUp, hit);
    r.until(Duration::from_secs(60), |r| r.faults_over()).await;
    r.stop_faults();
    let up = r
        .until(Duration::from_secs(150), |r| r.converged(false).is_ok())
        .await;
    let mut converged_after = None;
    let mut outcome: Option<String> = None;
    if !up {
        outcome = r
            .converged(false)
            .err()
            .map(|e| format!("scale-up after the faults stopped: {e}"));
    } else {
        // the load leaves, under the second fault window
        for w in p.workloads.iter().filter(|w| w.leaves) {
            r.protected.remove(&w.name);
            let _ = store.delete(
                &Gvr::new("apps", "v1", "deployments"),
                Some(APP_NS),
                &w.name,
                &Default::default(),
            );
            if w.pdb_min_available.is_some() {
                let _ = store.delete(
                    &Gvr::new("policy", "v1", "poddisruptionbudgets"),
                    Some(APP_NS),
                    &w.name,
                    &Default::default(),
                );
            }
        }
        r.start_faults(&p.down_faults)?;
        let hit = r.crash(CrashPhase::Drain).await?;
        note(CrashPhase::Drain, hit);
        let hit = r.crash(CrashPhase::Delete).await?;
        note(CrashPhase::Delete, hit);
        r.until(Duration::from_secs(60), |r| r.faults_over()).await;
        r.stop_faults();
        let stopped = Instant::now();
        let done = r
            .until(Duration::from_secs(180), |r| r.converged(true).is_ok())
            .await;
        if done {
            converged_after = Some(stopped.elapsed().as_secs_f64());
        } else {
            outcome = r
                .converged(true)
                .err()
                .map(|e| format!("scale-down after the faults stopped: {e}"));
        }
    }
    // a last look at serve: its gauges catch up with the state within a few reconciles
    let alerts_agree = |r: &Runner| {
        let obs = RunObservation {
            not_converged: None,
            last: r.final_state(),
            ..RunObservation::default()
        };
        vpsie_autoscaler::sim::campaign::check::check_alerts(&obs).is_empty()
    };
    if outcome.is_none() {
        r.until(Duration::from_secs(20), alerts_agree).await;
    }
    if inject_leak {
        // the checker's own test: a VPS behind the autoscaler's back must be reported
        r.world
            .cloud
            .create_vm(
                vpsie_autoscaler::sim::cloud::vm::CreateVm {
                    name: "injected-leak".into(),
                    hostname: "injected-leak".into(),
                    offering_id: OFFERING.into(),
                    datacenter_id: "dc-us-east-1".into(),
                    os_image_id: "ubuntu-22.04-lts".into(),
                    ssh_key_ids: vec![],
                    tags: vec![],
                    notes: String::new(),
                    user_data: String::new(),
                    password: None,
                    project_id: None,
                    resource_identifier: None,
                },
                None,
            )
            .map_err(|e| sim_err("injecting a leaked VPS", e))?;
    }
    let last = r.final_state();
    r.sample().await;
    r.kill_serve();
    let log = r.world.cloud.requests();
    let processes: Vec<ProcessObservation> = r
        .processes
        .iter()
        .map(|(obs, start, end)| {
            let mut o = obs.clone();
            let span = log.iter().filter(|x| x.seq > *start && x.seq <= *end);
            o.requests_logged = span
                .clone()
                .filter(|x| (200..300).contains(&x.status))
                .count() as u64;
            o.rate_limited_logged = span.clone().filter(|x| x.status == 429).count() as u64;
            let (mut run, mut best, mut best_end) = (0u32, 0u32, 0u64);
            for x in span {
                if x.status >= 500 {
                    run += 1;
                    if run > best {
                        best = run;
                        let sim_ms = (x.time - r.sim_t0).num_milliseconds().max(0) as f64;
                        best_end = (sim_ms / r.speed) as u64;
                    }
                } else {
                    run = 0;
                }
            }
            o.longest_failure_run = (best, best_end);
            o
        })
        .collect();
    let transitions = vpsie_autoscaler::sim::campaign::check::breaker_transitions(&processes);
    let observation = RunObservation {
        not_converged: outcome,
        last,
        pdb: std::mem::take(&mut r.pdb),
        unmovable: unmovable_start.map(|s| (s, unmovable_uid(&r))),
        processes,
        breaker_threshold: BREAKER_THRESHOLD,
        breaker_open_ms: ms(BREAKER_OPEN),
    };
    let mut violations: Vec<Violation> = check(&observation);
    if !up {
        // the scale-down checks mean nothing when the scale-up never converged
        violations.retain(|v| v.invariant != "capacity" || v.detail.contains("converge"));
    }
    let mut faults = fired(&r.world, p);
    if r.timeouts_fired > 0 {
        faults.insert("vpsie:timeout".into(), r.timeouts_fired);
    }
    let vps_created = r.world.cloud.vm_history().len() as u32;
    r.world.shutdown().await;
    Ok(RunResult {
        index,
        seed: p.seed,
        planned_faults: p.fault_kinds().iter().map(|s| s.to_string()).collect(),
        faults_injected: faults,
        crash_points,
        crash_points_missed: missed,
        peak_nodes: r.peak_nodes,
        vps_created,
        breaker_transitions: transitions,
        violations,
        wall_secs: wall.elapsed().as_secs_f64(),
        converged_after_secs: converged_after,
    })
}

impl Drop for Runner<'_> {
    fn drop(&mut self) {
        self.kill_serve();
    }
}

/// Parses a campaign size for clap.
pub fn parse_size(text: &str) -> Result<Size, String> {
    text.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_read_as_serve_exposes_them() {
        let text = "# HELP x\nvpsie_api_circuit_breaker_state 2\n\
            vpsie_api_requests_total{method=\"CreateVM\",status=\"200\"} 3\n\
            vpsie_api_requests_total{method=\"ListVMs\",status=\"202\"} 1\n\
            vpsie_api_requests_total{method=\"ListVMs\",status=\"error\"} 9\n\
            vpsie_api_errors_total{error_type=\"rate_limited\"} 2\n\
            vpsie_api_errors_total{error_type=\"server_error\"} 5\n\
            nodegroup_ready_nodes{nodegroup=\"g\"} 1\n";
        assert_eq!(
            parse_metrics(text),
            Scraped {
                breaker: Some(2),
                gauges: [("nodegroup_ready_nodes{nodegroup=\"g\"}".to_string(), 1.0)].into(),
                ok_requests: 4.0,
                rate_limited: 2.0
            }
        );
        assert_eq!(parse_metrics("garbage"), Scraped::default());
    }
}
