//! One variant of the bench, end to end: the simulated world in this process, the real
//! `serve` as a child process against it, the bursts, and the measurements. I/O lives here;
//! the computations are [`super::calc`]'s.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use vpsie_autoscaler::sim::apiserver::{
    Gvr, ListOptions, PatchKind, Store, StoreConfig, WriteOptions,
};
use vpsie_autoscaler::sim::cloud::ops::Operation;
use vpsie_autoscaler::sim::cluster::ClusterConfig;
use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig, NAMESPACE};

use super::calc::{self, Amount};
use super::report::{
    ApiUse, ByClass, Checks, Footprint, RateLimit, StatusLatency, Tightness, Variant, Workload,
};
use crate::error::PluginError;

/// The namespace of the bench's workloads.
pub const WORKLOAD_NAMESPACE: &str = "bench";
/// The node label (from the NodeGroup's `labels`) its pods select.
pub const GROUP_LABEL: &str = "bench.vpsie.com/group";

/// Overrides the bursts of a size (see [`Size::with_bursts`]).
pub const BURSTS_ENV: &str = "VPSIE_BENCH_BURSTS";

/// How big a run is, and the simulated delays.
#[derive(Debug, Clone)]
pub struct Size {
    /// `ci` or `full`.
    pub name: &'static str,
    /// NodeGroups with uniform pods.
    pub uniform_groups: usize,
    /// NodeGroups with mixed pods.
    pub mixed_groups: usize,
    /// Pods in all after each burst.
    pub bursts: Vec<usize>,
    /// VM boot time.
    pub boot: Duration,
    /// Kubelet delays.
    pub cluster: ClusterConfig,
    /// The idle window for idle CPU and steady-state calls.
    pub idle_window: Duration,
    /// How many times `status` runs.
    pub status_runs: usize,
    /// Longest a burst may take with the raised limit (the default limit gets more, see
    /// [`deadline`]).
    pub burst_deadline: Duration,
}

impl Size {
    /// The CI size: 4 NodeGroups, bursts to 40 / 120 / 240 pods, short simulated delays.
    pub fn ci() -> Size {
        Size {
            name: "ci",
            uniform_groups: 2,
            mixed_groups: 2,
            bursts: vec![40, 120, 240],
            boot: Duration::from_millis(1500),
            cluster: ClusterConfig {
                join_delay: Duration::from_millis(500),
                ready_delay: Duration::from_millis(500),
                pod_start_delay: Duration::from_millis(250),
                ..ClusterConfig::default()
            },
            idle_window: Duration::from_secs(3),
            status_runs: 3,
            burst_deadline: Duration::from_secs(90),
        }
    }

    /// The full size: 50 NodeGroups, bursts to 1,000 / 10,000 / 30,000 pods, ~1,000 nodes at
    /// the peak, the simulator's default delays (boot 8 s, join 4 s, Ready 3 s, pod start 1 s).
    pub fn full() -> Size {
        Size {
            name: "full",
            uniform_groups: 25,
            mixed_groups: 25,
            bursts: vec![1_000, 10_000, 30_000],
            boot: Duration::from_secs(8),
            cluster: ClusterConfig::default(),
            idle_window: Duration::from_secs(120),
            status_runs: 7,
            burst_deadline: Duration::from_secs(15 * 60),
        }
    }

    /// The same size with other bursts (`VPSIE_BENCH_BURSTS=1000,5000,10000`): for profiling
    /// between `ci` and `full`; the report lists the bursts played. Each must be larger than
    /// the one before.
    pub fn with_bursts(mut self, list: &str) -> Result<Size, String> {
        let bursts: Vec<usize> = list
            .split(',')
            .map(|b| b.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{BURSTS_ENV}={list:?}: not a list of pod counts ({e})"))?;
        if bursts.is_empty() || bursts[0] == 0 || bursts.windows(2).any(|w| w[1] <= w[0]) {
            return Err(format!(
                "{BURSTS_ENV}={list:?}: the pod counts must grow from burst to burst, from at least 1"
            ));
        }
        self.bursts = bursts;
        Ok(self)
    }

    /// Boot + join + Ready + pod start: the least any pod needing a new node waits.
    pub fn boot_and_join(&self) -> Duration {
        self.boot
            + self.cluster.join_delay
            + self.cluster.ready_delay
            + self.cluster.pod_start_delay
    }

    /// The NodeGroups: (name, mixed?).
    pub fn groups(&self) -> Vec<(String, bool)> {
        let mut g: Vec<(String, bool)> = (0..self.uniform_groups)
            .map(|i| (format!("uniform-{i:02}"), false))
            .collect();
        g.extend((0..self.mixed_groups).map(|i| (format!("{MIXED_PREFIX}{i:02}"), true)));
        g
    }
}

/// How the names of the mixed groups begin, and so those of their Deployments and pods.
pub const MIXED_PREFIX: &str = "mixed-";

/// A pod shape: (name suffix, cpu, memory) and its requests.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Deployment name suffix.
    pub suffix: &'static str,
    /// CPU request as written.
    pub cpu: &'static str,
    /// Memory request as written.
    pub memory: &'static str,
    /// The same, as numbers.
    pub amount: Amount,
}

const MI: i64 = 1 << 20;

/// The uniform pods: 240m / 500Mi (32 on a large-8cpu-16gb node).
pub const UNIFORM: [Shape; 1] = [Shape {
    suffix: "web",
    cpu: "240m",
    memory: "500Mi",
    amount: Amount {
        cpu_millis: 240,
        memory_bytes: 500 * MI,
        pods: 1,
    },
}];

/// The mixed pods: balanced, memory-heavy and cpu-heavy, in equal numbers.
pub const MIXED: [Shape; 3] = [
    Shape {
        suffix: "api",
        cpu: "200m",
        memory: "512Mi",
        amount: Amount {
            cpu_millis: 200,
            memory_bytes: 512 * MI,
            pods: 1,
        },
    },
    Shape {
        suffix: "cache",
        cpu: "100m",
        memory: "768Mi",
        amount: Amount {
            cpu_millis: 100,
            memory_bytes: 768 * MI,
            pods: 1,
        },
    },
    Shape {
        suffix: "worker",
        cpu: "500m",
        memory: "256Mi",
        amount: Amount {
            cpu_millis: 500,
            memory_bytes: 256 * MI,
            pods: 1,
        },
    },
];

/// The offerings of a group's NodeGroup.
pub fn offerings_of(mixed: bool) -> &'static [&'static str] {
    if mixed {
        &["large-8cpu-16gb", "highmem-4cpu-32gb"]
    } else {
        &["large-8cpu-16gb"]
    }
}

/// The Deployments of the bench: (group, mixed?, name, shape, replicas at each burst). Pure.
pub fn deployments(size: &Size) -> Vec<(String, bool, String, Shape, Vec<usize>)> {
    let groups = size.groups();
    let per_group: Vec<Vec<usize>> = size
        .bursts
        .iter()
        .map(|&b| calc::split(b, groups.len()))
        .collect();
    let mut out = Vec::new();
    for (gi, (g, mixed)) in groups.iter().enumerate() {
        let shapes: &[Shape] = if *mixed { &MIXED } else { &UNIFORM };
        let per_shape: Vec<Vec<usize>> = per_group
            .iter()
            .map(|pg| calc::split(pg[gi], shapes.len()))
            .collect();
        for (si, s) in shapes.iter().enumerate() {
            out.push((
                g.clone(),
                *mixed,
                format!("{g}-{}", s.suffix),
                *s,
                per_shape.iter().map(|ps| ps[si]).collect(),
            ));
        }
    }
    out
}

/// The allocatable and hourly price of an offering of the default catalogue.
pub fn offering_facts(id: &str) -> Option<(Amount, f64)> {
    offering_facts_in(
        &vpsie_autoscaler::sim::cloud::catalogue::Catalogue::default(),
        id,
    )
}

/// The allocatable and hourly price of an offering of `catalogue`.
fn offering_facts_in(
    catalogue: &vpsie_autoscaler::sim::cloud::catalogue::Catalogue,
    id: &str,
) -> Option<(Amount, f64)> {
    let o = catalogue.offering(id)?;
    let a = vpsie_autoscaler::scaling::capacity::allocatable(i64::from(o.cpu), o.ram as i64);
    Some((
        Amount {
            cpu_millis: a.cpu_millis,
            memory_bytes: a.memory_bytes,
            pods: a.pods,
        },
        o.hourly_price,
    ))
}

/// Each group's (name, total requests at the peak, bin-packing lower bound). Pure.
pub fn lower_bounds(size: &Size) -> Vec<(String, Amount, u64)> {
    let deps = deployments(size);
    size.groups()
        .into_iter()
        .map(|(g, mixed)| {
            let total = deps
                .iter()
                .filter(|d| d.0 == g)
                .fold(Amount::default(), |t, d| {
                    t.plus(d.3.amount.times(d.4.last().copied().unwrap_or(0) as i64))
                });
            let allocs: Vec<Amount> = offerings_of(mixed)
                .iter()
                .filter_map(|o| offering_facts(o).map(|f| f.0))
                .collect();
            let lb = calc::lower_bound_nodes(total, &allocs);
            (g, total, lb)
        })
        .collect()
}

fn nodegroup(name: &str, mixed: bool) -> Value {
    json!({
        "apiVersion": "autoscaler.vpsie.com/v1alpha1",
        "kind": "NodeGroup",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "minNodes": 0,
            "maxNodes": 200,
            "datacenterID": "dc-us-east-1",
            "offeringIDs": offerings_of(mixed),
            "osImageID": "ubuntu-22.04-lts",
            "allowMixedInstances": mixed,
            // headroom off: only pending pods add nodes, so tightness measures the planner
            "scaleUpPolicy": {"enabled": true, "stabilizationWindowSeconds": 60, "cpuThreshold": 0, "memoryThreshold": 0},
            // no scale-down while the bench holds its peak
            "scaleDownPolicy": {"enabled": false, "stabilizationWindowSeconds": 600, "cpuThreshold": 50, "memoryThreshold": 50, "unneededTime": 600},
            "labels": {GROUP_LABEL: name},
            "taints": [],
            "sshKeyIDs": [],
            "tags": ["bench"],
        }
    })
}

fn deployment(group: &str, name: &str, shape: &Shape) -> Value {
    let labels = json!({"app": name, "bench.vpsie.com/class": group});
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": WORKLOAD_NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "name": "app",
                        "image": "registry.k8s.io/pause:3.10",
                        "resources": {"requests": {"cpu": shape.cpu, "memory": shape.memory}}
                    }],
                    "nodeSelector": {GROUP_LABEL: group},
                }
            }
        }
    })
}

/// What the bench saw of one pod (sim clock).
#[derive(Debug, Clone, Default)]
pub struct PodTimes {
    /// The burst it was created in (0-based).
    pub burst: usize,
    /// First seen with `PodScheduled=False` reason `Unschedulable`.
    pub unschedulable: Option<DateTime<Utc>>,
    /// First seen Running.
    pub running: Option<DateTime<Utc>>,
    /// The node it was bound to.
    pub node: Option<String>,
    /// It belongs to a mixed group (its name starts with [`MIXED_PREFIX`]).
    pub mixed: bool,
}

/// What the pod watch fills in.
#[derive(Debug, Default)]
struct Book {
    pods: HashMap<String, PodTimes>,
    running: usize,
    burst: usize,
    relists: u64,
}

fn note(book: &mut Book, obj: &Value, now: DateTime<Utc>) {
    let Some(name) = obj.pointer("/metadata/name").and_then(Value::as_str) else {
        return;
    };
    let burst = book.burst;
    let entry = book
        .pods
        .entry(name.to_string())
        .or_insert_with(|| PodTimes {
            burst,
            mixed: name.starts_with(MIXED_PREFIX),
            ..PodTimes::default()
        });
    if entry.unschedulable.is_none() {
        let unsched = obj
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c["type"] == "PodScheduled"
                        && c["status"] == "False"
                        && c["reason"] == "Unschedulable"
                })
            });
        if unsched {
            entry.unschedulable = Some(now);
        }
    }
    if entry.node.is_none() {
        if let Some(n) = obj.pointer("/spec/nodeName").and_then(Value::as_str) {
            if !n.is_empty() {
                entry.node = Some(n.to_string());
            }
        }
    }
    if entry.running.is_none()
        && obj.pointer("/status/phase").and_then(Value::as_str) == Some("Running")
    {
        entry.running = Some(now);
        book.running += 1;
    }
}

/// Watches the bench's pods in the store, noting when each was first Unschedulable, bound and
/// Running (the sim clock at the event). Relists when it falls behind (counted).
fn spawn_recorder(
    world: &SimWorld,
    book: Arc<Mutex<Book>>,
    changed: Arc<tokio::sync::Notify>,
) -> tokio::task::JoinHandle<()> {
    let store = world.api.store();
    let clock = world.clock.clone();
    tokio::spawn(async move {
        loop {
            let mut w = match store.watch(
                &Gvr::core("pods"),
                Some(WORKLOAD_NAMESPACE),
                &Default::default(),
            ) {
                Ok(w) => w,
                Err(_) => return,
            };
            loop {
                match w.next().await {
                    Some(Ok((_, obj))) => {
                        let now = clock.now();
                        note(
                            &mut book.lock().unwrap_or_else(|e| e.into_inner()),
                            &obj,
                            now,
                        );
                        changed.notify_waiters();
                    }
                    Some(Err(_)) => {
                        book.lock().unwrap_or_else(|e| e.into_inner()).relists += 1;
                        break;
                    }
                    None => return,
                }
            }
        }
    })
}

/// Waits until `cond` holds (re-checked on every pod change and every 250 ms, for changes the
/// pod watch does not see), or fails after `limit` naming `what`.
async fn wait_for<T>(
    what: &str,
    limit: Duration,
    changed: &tokio::sync::Notify,
    mut cond: impl FnMut() -> Option<T>,
) -> Result<T, PluginError> {
    let deadline = Instant::now() + limit;
    loop {
        let notified = changed.notified();
        if let Some(v) = cond() {
            return Ok(v);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(PluginError::Timeout(format!(
                "bench: timed out after {:.0}s waiting for {what}",
                limit.as_secs_f64()
            )));
        }
        let _ = tokio::time::timeout(left.min(Duration::from_millis(250)), notified).await;
    }
}

/// The rate limit of a variant: `None` = serve's default (nothing passed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// Requests per minute (`None`: serve's default).
    pub raised: Option<(u32, u32)>,
}

/// The client's default (the Go implementation's): 100 requests/min, burst 20.
pub const DEFAULT_LIMIT: (u32, u32) = (100, 20);
/// The raised limit: 6,000 requests/min, burst 200.
pub const RAISED_LIMIT: (u32, u32) = (6000, 200);

/// A running `serve` child process.
struct Serve {
    child: Child,
    log: PathBuf,
}

impl Serve {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// serve's log filter: warnings, the line that says its caches synced, and what
/// `VPSIE_BENCH_SERVE_LOG` adds (e.g. `vpsie_reconciler::scaledown=debug`). With it set, the
/// variant's temporary directory, `serve.log` in it, is kept and its path printed.
fn serve_log_filter() -> String {
    match std::env::var("VPSIE_BENCH_SERVE_LOG") {
        Ok(more) if !more.trim().is_empty() => {
            format!("warn,{},vpsie_reconciler::serve=info", more.trim())
        }
        _ => "warn,vpsie_reconciler::serve=info".to_string(),
    }
}

fn spawn_serve(
    bin: &Path,
    kubeconfig: &Path,
    dir: &Path,
    limit: Limit,
) -> Result<(Serve, std::sync::mpsc::Receiver<String>), PluginError> {
    let log = dir.join("serve.log");
    let mut cmd = Command::new(bin);
    cmd.arg("serve").arg("--kubeconfig").arg(kubeconfig).args([
        "--metrics-addr",
        "127.0.0.1:0",
        "--cluster-name",
        "bench",
        "--leader-elect",
        "false",
    ]);
    if let Some((rpm, burst)) = limit.raised {
        cmd.args([
            "--vpsie-requests-per-minute",
            &rpm.to_string(),
            "--vpsie-rate-burst",
            &burst.to_string(),
        ]);
    }
    let mut child = cmd
        .env("KUBECTL_VPSIE_LOG", serve_log_filter())
        .env_remove("KUBECONFIG")
        .env_remove("VPSIE_REQUESTS_PER_MINUTE")
        .env_remove("VPSIE_RATE_BURST")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| PluginError::Io(format!("starting {} serve", bin.display()), e))?;
    let stderr = child.stderr.take();
    let (tx, rx) = std::sync::mpsc::channel();
    let log_path = log.clone();
    std::thread::spawn(move || {
        let Some(stderr) = stderr else { return };
        let mut file = std::fs::File::create(&log_path).ok();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(f) = file.as_mut() {
                let _ = writeln!(f, "{line}");
            }
            if line.contains("caches synced") {
                let _ = tx.send(line);
            }
        }
    });
    Ok((Serve { child, log }, rx))
}

/// Whether this binary's `serve` takes `--vpsie-requests-per-minute` (the raised variant
/// needs it).
pub fn serve_takes_rate_flags(bin: &Path) -> Result<bool, PluginError> {
    let out = Command::new(bin)
        .args(["serve", "--help"])
        .output()
        .map_err(|e| PluginError::Io(format!("running {} serve --help", bin.display()), e))?;
    Ok(String::from_utf8_lossy(&out.stdout).contains("--vpsie-requests-per-minute"))
}

fn proc_file(pid: u32, name: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/{name}")).ok()
}

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

fn list(store: &Store, gvr: &Gvr, ns: Option<&str>) -> Vec<Arc<Value>> {
    store
        .list(gvr, ns, &ListOptions::default())
        .map(|l| l.items)
        .unwrap_or_default()
}

fn vpsienodes() -> Gvr {
    Gvr::new("autoscaler.vpsie.com", "v1alpha1", "vpsienodes")
}

fn sim_err(what: &str, e: impl std::fmt::Display) -> PluginError {
    PluginError::Sim(format!("bench: {what}: {e}"))
}

/// Runs one variant: a fresh world, `serve`, the bursts, the measurements.
pub async fn run_variant(
    bin: &Path,
    size: &Size,
    name: &str,
    limit: Limit,
    burst_timeout: Option<Duration>,
    progress: &dyn Fn(&str),
) -> Result<Variant, PluginError> {
    let dir = tempdir()?;
    let world = SimWorld::start(SimWorldConfig {
        speed: 1.0,
        boot_time: size.boot,
        cluster: size.cluster.clone(),
        example_nodegroup: false,
        // 30,000 pods burst in seconds: watchers (the bench's, serve's) keep up with a deeper
        // channel than the sim's default instead of relisting (a real API server's watch
        // cache serves a slow watcher for longer than 8,192 events)
        store: StoreConfig {
            watch_window: 200_000,
            watch_channel: 131_072,
            ..StoreConfig::default()
        },
        ..SimWorldConfig::default()
    })
    .await
    .map_err(|e| sim_err("starting the simulated world", e))?;
    let result = drive(
        bin,
        size,
        name,
        limit,
        burst_timeout,
        &world,
        &dir,
        progress,
    )
    .await;
    world.shutdown().await;
    if std::env::var_os("VPSIE_BENCH_SERVE_LOG").is_some() {
        progress(&format!(
            "{name}: serve's log kept: {}",
            dir.join("serve.log").display()
        ));
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn tempdir() -> Result<PathBuf, PluginError> {
    let base = std::env::temp_dir();
    for i in 0..1000u32 {
        let p = base.join(format!("kubectl-vpsie-bench-{}-{i}", std::process::id()));
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(PluginError::Io(format!("creating {}", p.display()), e)),
        }
    }
    Err(PluginError::Config(format!(
        "bench: no free temporary directory under {}",
        base.display()
    )))
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    bin: &Path,
    size: &Size,
    name: &str,
    limit: Limit,
    burst_timeout: Option<Duration>,
    world: &SimWorld,
    dir: &Path,
    progress: &dyn Fn(&str),
) -> Result<Variant, PluginError> {
    let store = world.api.store();
    let opts = WriteOptions::default();
    // the account's VM quota (the sim's default is 1,000) is not what the bench measures
    let needed: u64 = lower_bounds(size).iter().map(|(_, _, lb)| lb).sum();
    world.cloud.set_quota((needed as usize * 2).max(1000));
    let kubeconfig = dir.join("kubeconfig");
    world
        .write_kubeconfig(&kubeconfig)
        .map_err(|e| sim_err("kubeconfig", e))?;
    let reconciler_kubeconfig = world
        .write_reconciler_kubeconfig(&kubeconfig)
        .map_err(|e| sim_err("kubeconfig", e))?;
    store
        .create(
            &Gvr::core("namespaces"),
            None,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": WORKLOAD_NAMESPACE}}),
            &opts,
        )
        .map_err(|e| sim_err("namespace bench", e.message))?;
    let groups = size.groups();
    for (g, mixed) in &groups {
        store
            .create(
                &Gvr::new("autoscaler.vpsie.com", "v1alpha1", "nodegroups"),
                Some(NAMESPACE),
                nodegroup(g, *mixed),
                &opts,
            )
            .map_err(|e| sim_err(&format!("NodeGroup {g}"), e.message))?;
    }
    let deps = deployments(size);
    let gvr_deploy = Gvr::new("apps", "v1", "deployments");
    for (g, _, d, shape, _) in &deps {
        store
            .create(
                &gvr_deploy,
                Some(WORKLOAD_NAMESPACE),
                deployment(g, d, shape),
                &opts,
            )
            .map_err(|e| sim_err(&format!("Deployment {d}"), e.message))?;
    }

    let book = Arc::new(Mutex::new(Book::default()));
    let changed = Arc::new(tokio::sync::Notify::new());
    let recorder = spawn_recorder(world, book.clone(), changed.clone());

    let (serve, synced) = spawn_serve(bin, &reconciler_kubeconfig, dir, limit)?;
    let pid = serve.pid();
    let result = async {
        let sync_wait = Instant::now() + Duration::from_secs(120);
        loop {
            match synced.try_recv() {
                Ok(_) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    return Err(PluginError::Sim(format!(
                        "bench: serve exited before its caches synced; its last lines:\n{}",
                        serve.tail()
                    )))
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
            }
            if Instant::now() > sync_wait {
                return Err(PluginError::Timeout(format!(
                    "bench: serve did not log `caches synced` within 120s; its last lines:\n{}",
                    serve.tail()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        progress(&format!("{name}: serve (pid {pid}) is up"));
        let deadline = burst_timeout.unwrap_or(if limit.raised.is_some() {
            size.burst_deadline
        } else {
            // 100 requests/min: a create per node at 0.6 s each, plus the listings
            size.burst_deadline * 3
        });
        let mut burst_duration = Vec::new();
        let mut incomplete = None;
        for (bi, &target) in size.bursts.iter().enumerate() {
            book.lock().unwrap_or_else(|e| e.into_inner()).burst = bi;
            let t0 = Instant::now();
            for (_, _, d, _, replicas) in &deps {
                let body = json!({"spec": {"replicas": replicas[bi]}}).to_string();
                store
                    .patch(
                        &gvr_deploy,
                        Some(WORKLOAD_NAMESPACE),
                        d,
                        PatchKind::Merge,
                        body.as_bytes(),
                        None,
                        &opts,
                    )
                    .map_err(|e| sim_err(&format!("scaling Deployment {d}"), e.message))?;
            }
            let waited = wait_for(
                &format!("{target} pods running (burst {})", bi + 1),
                deadline,
                &changed,
                || {
                    if let Ok(None) = serve_exited(pid) {
                        return Some(Err(()));
                    }
                    let b = book.lock().unwrap_or_else(|e| e.into_inner());
                    (b.running >= target).then_some(Ok(()))
                },
            )
            .await;
            burst_duration.push(t0.elapsed().as_secs_f64());
            match waited {
                Ok(Ok(())) => {}
                Ok(Err(())) => {
                    return Err(PluginError::Sim(format!(
                        "bench: serve exited during burst {}; its last lines:\n{}",
                        bi + 1,
                        serve.tail()
                    )))
                }
                Err(_) => {
                    let running = book.lock().unwrap_or_else(|e| e.into_inner()).running;
                    let text = format!(
                        "burst {} did not finish within {:.0} s (--burst-timeout): {running} of {target} pods running",
                        bi + 1,
                        deadline.as_secs_f64()
                    );
                    progress(&format!("{name}: {text}; measuring what there is"));
                    incomplete = Some(text);
                    break;
                }
            }
            progress(&format!(
                "{name}: burst {} to {target} pods: all running after {:.1}s",
                bi + 1,
                t0.elapsed().as_secs_f64()
            ));
        }
        // scale-up is over when every VPSieNode is Ready
        let all_ready = if incomplete.is_none() {
            wait_for("every VPSieNode Ready", deadline, &changed, || {
                let vns = list(&store, &vpsienodes(), Some(NAMESPACE));
                let ready = vns
                    .iter()
                    .filter(|v| v["status"]["phase"] == "Ready")
                    .count();
                (ready == vns.len() && ready == world.cloud.vms().len()).then_some(ready)
            })
            .await?
        } else {
            0
        };
        let calls_at_peak = world.cloud.requests();
        let peak_time = world.clock.now();

        // idle window: nothing changes; serve only watches
        progress(&format!(
            "{name}: {all_ready} nodes Ready; idle window of {}s",
            size.idle_window.as_secs()
        ));
        let ticks0 = proc_file(pid, "stat").as_deref().and_then(calc::stat_ticks);
        let calls0 = world.cloud.requests().len();
        let w0 = Instant::now();
        tokio::time::sleep(size.idle_window).await;
        let ticks1 = proc_file(pid, "stat").as_deref().and_then(calc::stat_ticks);
        let idle_s = w0.elapsed().as_secs_f64();
        let calls1 = world.cloud.requests().len();
        let peak_rss_mib = proc_file(pid, "status")
            .as_deref()
            .and_then(|s| calc::status_kib(s, "VmHWM"))
            .map(|k| k as f64 / 1024.0);
        let idle_cpu = match (ticks0, ticks1) {
            (Some(a), Some(b)) => calc::cpu_percent(b.saturating_sub(a), TICKS_PER_SECOND, idle_s),
            _ => None,
        };
        let nodes_watched = list(&store, &Gvr::core("nodes"), None).len();
        let pods_watched = list(&store, &Gvr::core("pods"), None).len();

        // `status`, the real binary, as an operator runs it
        let mut samples = Vec::new();
        for _ in 0..size.status_runs {
            let t = Instant::now();
            let out = Command::new(bin)
                .arg("status")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .env_remove("KUBECONFIG")
                .env("HOME", dir)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| PluginError::Io(format!("running {} status", bin.display()), e))?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if !out.status.success() {
                return Err(PluginError::Sim(format!(
                    "bench: `status` failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            samples.push(ms);
        }
        let vns = list(&store, &vpsienodes(), Some(NAMESPACE));

        // leaked VPS: alive, tracked by no VPSieNode
        let tracked: HashSet<i64> = vns
            .iter()
            .filter_map(|vn| vn["spec"]["vpsieInstanceID"].as_i64())
            .collect();
        let leaked: Vec<u64> = world
            .cloud
            .vms()
            .iter()
            .filter(|v| !tracked.contains(&(v.id as i64)))
            .map(|v| v.id)
            .collect();

        let book = book.lock().unwrap_or_else(|e| e.into_inner());
        let measured = Measured {
            calls_at_end: world.cloud.requests(),
            pods: &book.pods,
            relists: book.relists,
            burst_duration,
            calls_at_peak: &calls_at_peak,
            incomplete,
            steady_calls_per_minute: Some((calls1.saturating_sub(calls0)) as f64 / (idle_s / 60.0)),
            peak_time,
            footprint: Footprint {
                peak_rss_mib,
                idle_cpu_percent: idle_cpu,
                idle_window_s: idle_s,
                nodes_watched,
                pods_watched,
            },
            status: StatusLatency {
                runs: samples.len(),
                median_ms: calc::median(&samples),
                max_ms: samples.iter().copied().reduce(f64::max),
                samples_ms: samples,
                nodegroups: groups.len(),
                vpsienodes: vns.len(),
            },
            leaked,
        };
        Ok(assemble(size, name, limit, world, &deps, measured))
    }
    .await;
    serve.stop();
    recorder.abort();
    result
}

/// `Ok(Some(()))` while the process runs, `Ok(None)` once it is gone.
fn serve_exited(pid: u32) -> Result<Option<()>, ()> {
    match proc_file(pid, "stat") {
        // a zombie (state Z) has exited
        Some(s)
            if s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z')) =>
        {
            Ok(None)
        }
        Some(_) => Ok(Some(())),
        None => Ok(None),
    }
}

struct Measured<'a> {
    /// The request log at the end (CreateVMs that came after the peak, in an incomplete run).
    calls_at_end: Vec<vpsie_autoscaler::sim::cloud::log::RequestRecord>,
    incomplete: Option<String>,
    pods: &'a HashMap<String, PodTimes>,
    relists: u64,
    burst_duration: Vec<f64>,
    calls_at_peak: &'a [vpsie_autoscaler::sim::cloud::log::RequestRecord],
    steady_calls_per_minute: Option<f64>,
    peak_time: DateTime<Utc>,
    footprint: Footprint,
    status: StatusLatency,
    leaked: Vec<u64>,
}

fn secs(d: chrono::Duration) -> f64 {
    d.num_microseconds().map_or(f64::NAN, |us| us as f64 / 1e6)
}

fn assemble(
    size: &Size,
    name: &str,
    limit: Limit,
    world: &SimWorld,
    deps: &[(String, bool, String, Shape, Vec<usize>)],
    m: Measured<'_>,
) -> Variant {
    // CreateVM arrival by VM id; the node a VM registers as is its hostname's first label
    let created: HashMap<u64, DateTime<Utc>> = m
        .calls_at_end
        .iter()
        .filter(|r| r.operation == Operation::CreateVM)
        .filter_map(|r| r.vm_id.map(|id| (id, r.time)))
        .collect();
    let history = world.cloud.vm_history();
    let node_created: HashMap<String, DateTime<Utc>> = history
        .iter()
        .filter_map(|v| {
            let node = v.hostname.split('.').next()?.to_lowercase();
            created.get(&v.id).map(|t| (node, *t))
        })
        .collect();
    let physical = size.boot_and_join().as_secs_f64();
    // the bursts that were played (an incomplete run stops in the middle of the last one)
    let applied = m.burst_duration.len().clamp(1, size.bursts.len());
    let bursts = size.bursts.len();
    let mut reaction: Vec<Vec<f64>> = vec![Vec::new(); bursts];
    // reaction of the uniform groups' pods, and of the mixed groups'
    let mut by_class: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut overhead: Vec<Vec<f64>> = vec![Vec::new(); bursts];
    let mut unschedulable = 0;
    let mut covered = 0;
    let mut running = 0;
    for p in m.pods.values() {
        if p.running.is_some() {
            running += 1;
        }
        let Some(u) = p.unschedulable else { continue };
        unschedulable += 1;
        let Some(created) = p.node.as_ref().and_then(|n| node_created.get(n)) else {
            continue;
        };
        if *created < u {
            covered += 1;
            continue;
        }
        let b = p.burst.min(bursts - 1);
        reaction[b].push(secs(*created - u));
        by_class[usize::from(p.mixed)].push(secs(*created - u));
        if let Some(r) = p.running {
            overhead[b].push(secs(r - u) - physical);
        }
    }
    // pods still waiting for a node (an incomplete run): their age is a lower bound of
    // their reaction
    let waiting: Vec<f64> = m
        .pods
        .values()
        .filter(|p| p.node.is_none())
        .filter_map(|p| p.unschedulable.map(|u| secs(m.peak_time - u)))
        .collect();
    let all = |v: &[Vec<f64>]| v.iter().flatten().copied().collect::<Vec<f64>>();

    // tightness at the peak, by class
    let catalogue = vpsie_autoscaler::sim::cloud::catalogue::Catalogue::default();
    let alloc_of = |id: &str| offering_facts_in(&catalogue, id);
    let live = world.cloud.vms();
    let class = |mixed: bool| -> Tightness {
        let mut t = Tightness {
            pods: 0,
            nodes: 0,
            lower_bound: 0,
            ratio: None,
            cost_per_hour: 0.0,
            cheapest_cover_per_hour: 0.0,
            cost_ratio: None,
            by_offering: BTreeMap::new(),
        };
        for (g, gm) in size.groups() {
            if gm != mixed {
                continue;
            }
            let mut total = Amount::default();
            for (dg, _, _, shape, replicas) in deps {
                if *dg == g {
                    let n = replicas.get(applied - 1).copied().unwrap_or(0);
                    total = total.plus(shape.amount.times(n as i64));
                    t.pods += n;
                }
            }
            let offers: Vec<(Amount, f64)> = offerings_of(mixed)
                .iter()
                .filter_map(|o| alloc_of(o))
                .collect();
            let allocs: Vec<Amount> = offers.iter().map(|o| o.0).collect();
            t.lower_bound += calc::lower_bound_nodes(total, &allocs);
            if let Some((cost, _)) = calc::cheapest_cover(total, &offers) {
                t.cheapest_cover_per_hour += cost;
            }
            let tag = format!("nodegroup:{g}");
            for v in live.iter().filter(|v| v.tags.contains(&tag)) {
                t.nodes += 1;
                *t.by_offering.entry(v.offering_id.clone()).or_default() += 1;
                t.cost_per_hour += alloc_of(&v.offering_id).map_or(0.0, |o| o.1);
            }
        }
        t.ratio = calc::ratio(t.nodes as f64, t.lower_bound as f64);
        t.cost_ratio = calc::ratio(t.cost_per_hour, t.cheapest_cover_per_hour);
        t
    };
    let uniform = class(false);
    let mixed = class(true);

    let mut by_operation: BTreeMap<String, u64> = BTreeMap::new();
    for r in m.calls_at_peak {
        *by_operation
            .entry(r.operation.name().to_string())
            .or_default() += 1;
    }
    let creates = m
        .calls_at_peak
        .iter()
        .filter(|r| r.operation == Operation::CreateVM && r.vm_id.is_some())
        .count() as u64;
    let calls = m.calls_at_peak.len() as u64;
    let minimum = calc::minimum_calls(creates);
    let rate_limited = m.calls_at_peak.iter().filter(|r| r.status == 429).count() as u64;

    let (rpm, burst) = limit.raised.unwrap_or(DEFAULT_LIMIT);
    let pods_expected = size.bursts.get(applied - 1).copied().unwrap_or(0);
    // the nodes the workload needs, when the run stopped before making them all
    let needed = creates.max(uniform.lower_bound + mixed.lower_bound);
    let bound = calc::bound_text(needed, rpm, burst, limit.raised.is_some());
    let mut v = Variant {
        name: name.to_string(),
        rate_limit: RateLimit {
            requests_per_minute: rpm,
            burst,
            source: match limit.raised {
                Some((r, b)) => format!("--vpsie-requests-per-minute {r} --vpsie-rate-burst {b}"),
                None => "serve's default (no flag)".into(),
            },
        },
        bound,
        workload: Workload {
            uniform_groups: size.uniform_groups,
            mixed_groups: size.mixed_groups,
            bursts: size.bursts.clone(),
            boot_and_join_s: physical,
        },
        reaction_s: calc::spread(&all(&reaction)),
        reaction_by_burst_s: reaction.iter().map(|r| calc::spread(r)).collect(),
        reaction_by_class_s: Some(ByClass {
            uniform: calc::spread(&by_class[0]),
            mixed: calc::spread(&by_class[1]),
        }),
        overhead_s: calc::spread(&all(&overhead)),
        overhead_by_burst_s: overhead.iter().map(|r| calc::spread(r)).collect(),
        burst_duration_s: m.burst_duration,
        uniform,
        mixed,
        api: ApiUse {
            calls,
            creates,
            minimum,
            economy: calc::ratio(calls as f64, minimum as f64),
            by_operation,
            steady_calls_per_minute: m.steady_calls_per_minute,
            rate_limited,
        },
        footprint: m.footprint,
        status: m.status,
        checks: Checks {
            pods_expected,
            pods_running: running,
            pods_unschedulable: unschedulable,
            pods_already_covered: covered,
            leaked_vps: m.leaked,
            watch_relists: m.relists,
            pods_waiting: waiting.len(),
            oldest_waiting_s: waiting.iter().copied().reduce(f64::max),
        },
        incomplete: m.incomplete,
        metrics: BTreeMap::new(),
        targets: Vec::new(),
    };
    v.derive();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_bursts_must_grow() {
        let s = Size::full().with_bursts("1000, 5000,10000").unwrap();
        assert_eq!(s.bursts, vec![1_000, 5_000, 10_000]);
        assert_eq!(s.groups().len(), 50);
        let deps = deployments(&s);
        assert_eq!(deps.iter().map(|d| d.4[2]).sum::<usize>(), 10_000);
        for bad in ["", "1000,x", "5000,1000", "0,10", "10,10"] {
            let e = Size::ci().with_bursts(bad).unwrap_err();
            assert!(e.contains(BURSTS_ENV), "{e}");
        }
    }

    #[test]
    fn the_full_size_is_the_issue_s_workload() {
        let s = Size::full();
        assert_eq!(s.groups().len(), 50);
        let deps = deployments(&s);
        for (bi, want) in [1_000, 10_000, 30_000].into_iter().enumerate() {
            assert_eq!(deps.iter().map(|d| d.4[bi]).sum::<usize>(), want);
        }
        // about 1,000 nodes at the peak: the lower bounds of the groups
        let lb: u64 = lower_bounds(&s).iter().map(|g| g.2).sum();
        assert!((950..=1050).contains(&lb), "{lb}");
        // and with the large offering only (no highmem) no more than 1,000
        let large = offering_facts("large-8cpu-16gb").unwrap().0;
        let large_only: u64 = lower_bounds(&s)
            .iter()
            .map(|g| calc::lower_bound_nodes(g.1, &[large]))
            .sum();
        assert!(large_only <= 1000, "{large_only}");
    }

    #[test]
    fn the_ci_size_is_small_and_every_pod_has_a_group() {
        let s = Size::ci();
        let deps = deployments(&s);
        assert_eq!(deps.iter().map(|d| d.4[2]).sum::<usize>(), 240);
        assert!(deps.iter().all(|d| d.2.starts_with(&d.0)));
        assert!(s.boot_and_join() < Duration::from_secs(5));
    }

    #[test]
    fn the_pod_book_notes_first_times_only() {
        let mut b = Book::default();
        let t1 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let t2 = t1 + chrono::Duration::seconds(2);
        let pending = json!({"metadata": {"name": "p"}, "status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}});
        note(&mut b, &pending, t1);
        note(&mut b, &pending, t2);
        let bound = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        note(&mut b, &bound, t2);
        note(&mut b, &bound, t2 + chrono::Duration::seconds(1));
        let p = &b.pods["p"];
        assert_eq!(p.unschedulable, Some(t1));
        assert_eq!(p.running, Some(t2));
        assert_eq!(p.node.as_deref(), Some("n1"));
        assert_eq!(b.running, 1);
    }
}
