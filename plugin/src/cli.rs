//! The command line: global flags like kubectl's, one subcommand per operator task.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The VPSie node autoscaler: kubectl plugin, in-cluster reconciler and simulator.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-vpsie",
    bin_name = "kubectl-vpsie",
    version,
    about = "The VPSie node autoscaler: kubectl plugin, in-cluster reconciler and simulator",
    long_about = "The VPSie node autoscaler for Kubernetes.\n\n\
        Installed on PATH as kubectl-vpsie, it runs as `kubectl vpsie ...`.\n\
        With no account and no cluster, `kubectl vpsie sim` starts the simulated VPSie cloud."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts, named as kubectl names them.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file to use.
    #[arg(
        long,
        global = true,
        env = "KUBECONFIG",
        hide_env_values = true,
        value_name = "PATH"
    )]
    pub kubeconfig: Option<PathBuf>,

    /// The name of the kubeconfig context to use.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// Namespace of the autoscaler's objects.
    #[arg(short = 'n', long, global = true, default_value = "kube-system")]
    pub namespace: String,

    /// List NodeGroups and VPSieNodes of every namespace (status, nodes); -n stays the
    /// controller's namespace.
    #[arg(short = 'A', long = "all-namespaces", global = true)]
    pub all_namespaces: bool,

    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// Disable colours (also when NO_COLOR is set).
    #[arg(long, global = true, env = "NO_COLOR", hide_env_values = true, value_parser = clap::builder::FalseyValueParser::new())]
    pub no_color: bool,

    /// More logging (-v info, -vv debug, -vvv trace).
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A table for people.
    Table,
    /// A table with more columns.
    Wide,
    /// JSON, stable field names.
    Json,
    /// YAML, stable field names.
    Yaml,
}

const SIM_ABOUT: &str = "The demo: play a scenario in a simulated VPSie cloud and Kubernetes cluster on loopback, with the real reconciler, then print a summary (pending-to-running p50/p95/max, VPS by offering, created and deleted, peak and final cost per hour, pods never placed).\n\n\
With no arguments it plays the built-in scenario (examples/scenarios/burst-and-drain.yaml): web and batch workloads burst onto two NodeGroups, then leave, and idle nodes are drained away. --scenario FILE plays another (see examples/scenarios/ for the format: offerings with prices, NodeGroups, workloads with arrival, departure, scaling, selectors, tolerations and PDBs, and faults: vpsie-errors, rate-limit, slow-boot, boot-failure, join-failure, reconciler-restart).\n\n\
A live view shows pending pods, nodes by phase, cost per hour and the autoscaler's events (plain lines when not a terminal). kubectl works against it while it plays (the kubeconfig is printed); --keep keeps it up afterwards. --no-scenario starts the world with the example NodeGroup production-workers and no workload, until Ctrl-C.";

const BENCH_ABOUT: &str = "The end-to-end benchmark. The simulated VPSie cloud and Kubernetes API server run in this process; the reconciler runs as its own child process (this binary's `serve`, as the ServiceAccount of deploy/). Pods burst onto NodeGroups (uniform pods on half of them, mixed sizes on the other half) in three steps; each step waits until every pod runs.\n\n\
--size full: 50 NodeGroups, bursts to 1,000 / 10,000 / 30,000 pods, about 1,000 nodes at the peak (10+ minutes; run a release build). --size ci: 4 NodeGroups, up to 240 pods, short simulated delays (~30 s).\n\n\
Measured: reaction (pod marked Unschedulable -> its node's CreateVM arriving at the cloud) p50/p95/max; overhead (pod running minus the simulated boot and join) p50/p95; tightness (VPS / bin-packing lower bound, cost / cheapest cover, uniform and mixed pods apart); API economy (VPSie calls / one create per node plus a constant; calls per minute at steady state); serve's peak resident memory (VmHWM) and idle CPU; `status` latency. Each against its target, with the machine (cores, memory, load average).\n\n\
--limits: default runs serve with the VPSie client's default rate limit (100/min, burst 20), as an operator would; raised passes --vpsie-requests-per-minute 6000 --vpsie-rate-burst 200, to show what the autoscaler itself costs; both (the default for --size full) plays the workload once with each. Writes <out>/<size>.json and <out>/<size>.md. --baseline FILE (a report of an earlier run) fails on gross regressions only: a metric further from perfect than --max-regression times the baseline's, plus a noise allowance. A broken invariant (a pod that never ran, p50 > p95, fewer nodes than the lower bound, fewer calls than the minimum, a leaked VPS) fails too.";
const CAMPAIGN_ABOUT: &str = "The randomized fault and crash campaign. Each run, from its seed, starts a simulated VPSie cloud and Kubernetes cluster on loopback, runs this binary's `serve` as its own process against it (as the reconciler's ServiceAccount), and plays a random plan: workloads arrive (some with PodDisruptionBudgets, maybe a safe-to-evict=false pod) and leave; a VPSie fault profile (5xx bursts, outages that open the circuit breaker, 429 with Retry-After, timeouts, lost create replies, token expiry, quota exhausted, slow and failed boots) and a Kubernetes API fault profile (409 conflicts, 503 unavailable, watches cut, 410 Expired) are in force during the scale-up and the scale-down; serve is SIGKILLed at random moments of the scale-up, the drain and the delete, and restarted. Once the faults stop it waits for convergence and checks the invariants: VPS == VPSieNodes (no leak, no duplicate), the capacity reached, no PDB exceeded, the unmovable pod kept, the breaker's transitions, metrics consistent with the cloud's request log.\n\n\
It prints a report (markdown, or -o json) with runs, faults injected, crash points hit, violations and seeds; --out FILE.md writes it and FILE.json. A violation prints the seed and the invariant and exits 1; --run-seed SEED --logs DIR replays that run keeping serve's logs.";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the CustomResourceDefinitions (NodeGroup, VPSieNode), or write them to a directory.
    Crds(CrdsArgs),
    /// The demo: play a scenario in a simulated VPSie cloud and Kubernetes cluster on loopback,
    /// with the real reconciler, and sum it up.
    #[command(long_about = SIM_ABOUT)]
    Sim(SimArgs),
    /// What-if: play a workload against one or more NodeGroups files and compare how fast pods
    /// got capacity and what it cost.
    Simulate(SimulateArgs),
    /// Run the reconciler (in-cluster: Deployment vpsie-autoscaler in kube-system).
    Serve(Box<ServeArgs>),
    /// The end-to-end benchmark: bursts of pods over many NodeGroups in the simulator, with
    /// `serve` as its own process; writes a JSON report and a markdown table.
    #[command(long_about = BENCH_ABOUT)]
    Bench(BenchArgs),
    /// The randomized fault and crash campaign: seeded runs in the simulator with VPSie and
    /// Kubernetes API faults and SIGKILLs of serve, each checked against the invariants.
    #[command(long_about = CAMPAIGN_ABOUT)]
    Campaign(CampaignArgs),
    /// Print the version of this binary.
    Version,
    /// Print a shell completion script, or write all of them to a directory.
    Completions(CompletionsArgs),
    /// Print the man page, or write one page per subcommand to a directory.
    Man(ManArgs),
    /// Show the NodeGroups, their nodes, the controller's health and each group's last decision.
    Status(StatusArgs),
    /// List the VPSieNodes: phase, node, VPS, time in the phase, and the stuck ones.
    Nodes(NodesArgs),
    /// Force a reconcile of a NodeGroup and wait until the controller handled it.
    Reconcile(ReconcileArgs),
    /// Pause autoscaling of a NodeGroup (annotation autoscaler.vpsie.com/pause=true).
    Pause(PauseArgs),
    /// Resume autoscaling of a paused NodeGroup (removes autoscaler.vpsie.com/pause).
    Resume(ResumeArgs),
    /// Show the VPSie API circuit breaker, or reset it.
    Breaker(BreakerArgs),
    /// Rotate or check the VPSie API credentials (Secret vpsie-secret).
    Creds(CredsArgs),
    /// Check everything the runbook checks and say what to fix (exit 1 on an error).
    Doctor(DoctorArgs),
    /// Explain why a pending pod has no node yet: each NodeGroup's fit, what is coming, the
    /// scheduler's message.
    Why(WhyArgs),
    /// Shell completion for kubectl (cobra's `__complete` protocol); called by
    /// kubectl_complete-vpsie.
    #[command(name = "__complete", hide = true)]
    Complete(CompleteArgs),
    /// Print the krew plugin manifest of this version (sha256 filled in by the release job).
    #[command(name = "krew-manifest", hide = true)]
    KrewManifest(KrewManifestArgs),
    /// Install the autoscaler into the cluster: CRDs, RBAC, Deployment, Service, PDB (and the
    /// ServiceMonitor and PrometheusRule when the cluster has the Prometheus Operator).
    #[command(
        long_about = "Install the autoscaler into the cluster: the manifests of deploy/ (embedded in this binary) applied with server-side apply as field manager kubectl-vpsie.\n\n\
        The CRDs first (waited for until Established), then the ServiceAccount, RBAC, Deployment, Service and PodDisruptionBudget; the ServiceMonitor and PrometheusRule only when the cluster serves monitoring.coreos.com/v1 (else skipped with a note). Then it waits until the Deployment's pods are ready.\n\n\
        Running it again changes nothing (every object reported unchanged). The Secret vpsie-secret with the VPSie credentials is not created: use `kubectl vpsie creds rotate` or deploy/secret.example.yaml.\n\n\
        --dry-run sends nothing: it lists what would be applied, or prints the manifests with -o yaml|json."
    )]
    Install(InstallArgs),
    /// Remove what install created (the CRDs last, after a confirmation; --keep-crds keeps them).
    #[command(
        long_about = "Remove what install created, in reverse order, plus the controller's status ConfigMap and leader Lease. The CRDs go last, after a confirmation (deleting them deletes every NodeGroup and VPSieNode); --keep-crds keeps them.\n\n\
        While VPSieNodes exist it refuses to delete the CRDs (their VPS would keep running, unmanaged): delete the NodeGroups first and wait for the controller to remove their VPS, or pass --force. The Secret vpsie-secret is kept."
    )]
    Uninstall(UninstallArgs),
}

/// Arguments of `install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Send nothing: list what would be applied (with -o yaml|json: print the manifests).
    #[arg(long)]
    pub dry_run: bool,

    /// The image tag of kubectl-vpsie to run (default: this binary's version).
    #[arg(long, value_name = "V", default_value = env!("CARGO_PKG_VERSION"), value_parser = crate::commands::install::parse_version)]
    pub version: String,

    /// Return once everything is applied, without waiting for the Deployment's pods.
    #[arg(long)]
    pub no_wait: bool,

    /// How long to wait for the CRDs and the Deployment's pods (e.g. 2m).
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
}

/// Arguments of `uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Do not ask before deleting the CRDs (required without a terminal, unless --keep-crds).
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Keep the CRDs, and so every NodeGroup and VPSieNode.
    #[arg(long)]
    pub keep_crds: bool,

    /// Delete the CRDs even though VPSieNodes exist (their VPS are left running, unmanaged).
    #[arg(long)]
    pub force: bool,

    /// How long to wait for the controller's pods and the CRDs to go.
    #[arg(long, default_value = "2m", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
}

/// Arguments of `why`.
#[derive(Debug, Args)]
pub struct WhyArgs {
    /// The pod: NAME (in --pod-namespace) or NAMESPACE/NAME.
    #[arg(value_name = "POD")]
    pub pod: String,

    /// Namespace of the pod (default: default). -n is the autoscaler's namespace.
    #[arg(long, value_name = "NAMESPACE")]
    pub pod_namespace: Option<String>,
}

/// Arguments of `__complete`.
#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The words after `kubectl vpsie`, the last one being completed (may be empty).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

/// Arguments of `krew-manifest`.
#[derive(Debug, Args)]
pub struct KrewManifestArgs {
    /// Fill in each platform's sha256 from the release archives in this directory.
    #[arg(long, value_name = "DIR")]
    pub archives: Option<PathBuf>,

    /// Write the manifest to this file instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

/// Arguments of `creds`.
#[derive(Debug, Args)]
pub struct CredsArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: CredsAction,
}

/// `creds` subcommands.
#[derive(Debug, Subcommand)]
pub enum CredsAction {
    /// Validate a new client id/secret at the VPSie token endpoint, write them into Secret
    /// vpsie-secret and wait until the controller loaded them (no restart).
    #[command(
        long_about = "Validate a new client id/secret at the VPSie token endpoint, write them into Secret vpsie-secret (keys clientId, clientSecret; other keys such as url are kept; created when missing) and wait until the controller's status report shows the new fingerprint loaded (no restart).\n\n\
        Interactive by default: prompts for the client id, the client secret (hidden) and a confirmation.\n\
        --from-env reads VPSIE_CLIENT_ID and VPSIE_CLIENT_SECRET.\n\
        --stdin reads lines `clientId=ID` and `clientSecret=SECRET` (blank lines and # comments skipped).\n\
        Without a terminal, --yes is required. The secret is never printed; pairs are named by their fingerprint."
    )]
    Rotate(CredsRotateArgs),
    /// Whether the credentials work: the Secret, what the controller loaded, and a live login.
    Check(CredsCheckArgs),
}

/// Arguments of `creds rotate`.
#[derive(Debug, Args)]
pub struct CredsRotateArgs {
    /// The new client id (else prompted, or from VPSIE_CLIENT_ID / the stdin clientId line).
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,

    /// Read VPSIE_CLIENT_ID and VPSIE_CLIENT_SECRET from the environment.
    #[arg(long, conflicts_with = "stdin")]
    pub from_env: bool,

    /// Read lines `clientId=ID` and `clientSecret=SECRET` from stdin.
    #[arg(long)]
    pub stdin: bool,

    /// Do not log in with the new pair before writing it.
    #[arg(long)]
    pub skip_validate: bool,

    /// Do not ask for confirmation (required when there is no terminal, and with --stdin).
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// Write the Secret and return without waiting for the controller.
    #[arg(long)]
    pub no_wait: bool,

    /// How long to wait for the controller to load the new pair.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,

    /// The Secret (in the namespace of -n).
    #[arg(long, default_value = "vpsie-secret", value_name = "NAME")]
    pub secret_name: String,
}

/// Arguments of `creds check`.
#[derive(Debug, Args)]
pub struct CredsCheckArgs {
    /// Do not log in to VPSie with the Secret's pair (only compare with the controller's report).
    #[arg(long)]
    pub no_live: bool,

    /// The Secret (in the namespace of -n).
    #[arg(long, default_value = "vpsie-secret", value_name = "NAME")]
    pub secret_name: String,
}

/// Arguments of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Do not log in to VPSie with the Secret's pair.
    #[arg(long)]
    pub no_live: bool,

    /// Flag pods unschedulable for longer than this.
    #[arg(long, default_value = "3m", value_parser = parse_duration, value_name = "DURATION")]
    pub pending_for: Duration,

    /// The controller's drain timeout, for flagging stuck Terminating nodes.
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub drain_timeout: Duration,

    /// The Secret (in the namespace of -n).
    #[arg(long, default_value = "vpsie-secret", value_name = "NAME")]
    pub secret_name: String,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only these NodeGroups (default: all in the namespace).
    #[arg(value_name = "NODEGROUP", value_parser = crate::commands::common::parse_group_name)]
    pub groups: Vec<String>,

    /// Keep watching and redraw on every change (plain lines when stdout is not a terminal;
    /// one document per change with -o json|yaml).
    #[arg(short = 'w', long)]
    pub watch: bool,
}

/// Arguments of `nodes`.
#[derive(Debug, Args)]
pub struct NodesArgs {
    /// Only the VPSieNodes of this NodeGroup.
    #[arg(value_name = "NODEGROUP", value_parser = crate::commands::common::parse_group_name)]
    pub group: Option<String>,

    /// The controller's drain timeout, for flagging stuck Terminating nodes (a node's
    /// autoscaler.vpsie.com/drain-timeout annotation wins).
    #[arg(long, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub drain_timeout: Duration,
}

/// Arguments of `reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The NodeGroup.
    #[arg(value_name = "NODEGROUP", value_parser = crate::commands::common::parse_group_name)]
    pub group: String,

    /// Set the annotation and return without waiting for the controller.
    #[arg(long)]
    pub no_wait: bool,

    /// How long to wait for the controller (e.g. 30s, 2m).
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
}

/// Arguments of `pause`.
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// The NodeGroup.
    #[arg(value_name = "NODEGROUP", value_parser = crate::commands::common::parse_group_name, required_unless_present = "all", conflicts_with = "all")]
    pub group: Option<String>,

    /// Every NodeGroup of the namespace.
    #[arg(long)]
    pub all: bool,

    /// Why (stored in annotation autoscaler.vpsie.com/pause-reason, shown by `status`).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

/// Arguments of `resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The NodeGroup.
    #[arg(value_name = "NODEGROUP", value_parser = crate::commands::common::parse_group_name, required_unless_present = "all", conflicts_with = "all")]
    pub group: Option<String>,

    /// Every NodeGroup of the namespace.
    #[arg(long)]
    pub all: bool,
}

/// Arguments of `breaker`.
#[derive(Debug, Args)]
pub struct BreakerArgs {
    /// What to do (default: status).
    #[command(subcommand)]
    pub action: Option<BreakerAction>,
}

/// `breaker` subcommands.
#[derive(Debug, Subcommand)]
pub enum BreakerAction {
    /// State, failure counts and the next half-open probe, from the controller's report.
    Status,
    /// Reset the breaker (closed, failures forgotten) and wait for the controller to confirm.
    Reset(BreakerResetArgs),
}

/// Arguments of `breaker reset`.
#[derive(Debug, Args)]
pub struct BreakerResetArgs {
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,

    /// How long to wait for the controller's acknowledgement.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
}

/// Arguments of `crds`.
#[derive(Debug, Args)]
pub struct CrdsArgs {
    /// Write one file per CRD into this directory instead of printing them.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,
}

/// Arguments of `sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Run for this long (wall-clock time), then stop (e.g. 30s, 5m, 1h). Default: until Ctrl-C.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub run_for: Option<Duration>,

    /// How many times faster than real time the simulated world runs (default: the scenario's
    /// `speed`, else 1; with --no-scenario, 1).
    #[arg(long, value_parser = parse_speed)]
    pub speed: Option<f64>,

    /// Play this scenario file instead of the built-in one (format: examples/scenarios/ and
    /// `kubectl-vpsie sim --help`).
    #[arg(long, value_name = "FILE", conflicts_with = "no_scenario")]
    pub scenario: Option<PathBuf>,

    /// Keep the world running after the scenario (kubeconfig printed), until Ctrl-C.
    #[arg(long, conflicts_with = "no_scenario")]
    pub keep: bool,

    /// Write the summary (summary.json), the samples (samples.json) and a chart (chart.svg,
    /// chart.png) into this directory.
    #[arg(long, value_name = "DIR", conflicts_with = "no_scenario")]
    pub report: Option<PathBuf>,

    /// No scenario: the example NodeGroup production-workers and no workload, running until
    /// Ctrl-C or --for (for exploring with kubectl).
    #[arg(long)]
    pub no_scenario: bool,

    /// Port of the simulated Kubernetes API server on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub api_port: u16,

    /// Port of the simulated VPSie API on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub cloud_port: u16,

    /// Port of the reconciler's /metrics, /healthz and /readyz on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub metrics_port: u16,

    /// Do not run the reconciler: only the simulated cloud and cluster.
    #[arg(long)]
    pub no_reconciler: bool,
}

/// Arguments of `simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The workload: a scenario file (its offerings, workloads, faults, duration; its
    /// nodeGroups are used when no --nodegroups is given).
    #[arg(long, value_name = "FILE")]
    pub workload: PathBuf,

    /// A file of NodeGroups (YAML documents separated by ---) to play the workload against;
    /// give it several times to compare.
    #[arg(long, value_name = "FILE")]
    pub nodegroups: Vec<PathBuf>,

    /// Times real time (default: the workload file's `speed`).
    #[arg(long, value_parser = parse_speed)]
    pub speed: Option<f64>,
}

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "VPSIE_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: std::net::SocketAddr,

    /// The Secret with the VPSie credentials (in the watch namespace).
    #[arg(long, env = "VPSIE_SECRET_NAME", default_value = "vpsie-secret")]
    pub secret_name: String,

    /// Elect a leader on Lease vpsie-autoscaler-leader, so several replicas are safe.
    #[arg(long, env = "VPSIE_LEADER_ELECT", default_value_t = true, action = clap::ArgAction::Set)]
    pub leader_elect: bool,

    /// How long the Lease lasts without renewal (a new leader takes over after this).
    #[arg(long, env = "VPSIE_LEASE_DURATION", default_value = "15s", value_parser = parse_duration)]
    pub lease_duration: Duration,

    /// How long a VPS tagged for this cluster may exist without a VPSieNode before it is deleted.
    #[arg(long, env = "VPSIE_ORPHAN_GRACE", default_value = "10m", value_parser = parse_duration)]
    pub orphan_grace: Duration,

    #[command(flatten)]
    pub reconciler: vpsie_reconciler::config::ReconcilerConfig,
}

/// The size of a `bench` run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchSize {
    /// 4 NodeGroups, up to 240 pods, short simulated delays (seconds).
    Ci,
    /// 50 NodeGroups, bursts to 1,000 / 10,000 / 30,000 pods, ~1,000 nodes (minutes).
    Full,
}

/// The VPSie client rate limits `bench` runs serve with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchLimits {
    /// serve's default (100 requests/min, burst 20), as an operator runs it.
    Default,
    /// Raised to 6000/min, burst 200: what the autoscaler itself costs.
    Raised,
    /// One run with each.
    Both,
}

/// Arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// How big a run.
    #[arg(long, value_enum, default_value = "full")]
    pub size: BenchSize,

    /// Where the report goes (<out>/<size>.json and <out>/<size>.md).
    #[arg(long, value_name = "DIR", default_value = "bench/results")]
    pub out: PathBuf,

    /// A report of an earlier run to compare with (e.g. bench/baseline-ci.json).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// How many times further from perfect than the baseline a metric may get (plus a noise
    /// allowance) before the run fails.
    #[arg(long, value_name = "X", default_value_t = 3.0)]
    pub max_regression: f64,

    /// Which VPSie client rate limits to run serve with (default: raised for ci, both for full).
    #[arg(long, value_enum)]
    pub limits: Option<BenchLimits>,

    /// Longest one burst may take before the variant stops and reports what it measured as
    /// incomplete (default: 90s for ci; for full 15m with the raised limit, 45m with the
    /// default one).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub burst_timeout: Option<Duration>,
}

/// Arguments of `campaign`.
#[derive(Debug, Args)]
pub struct CampaignArgs {
    /// How many runs (default: 4 for --size ci, 100 for nightly).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000), value_name = "N")]
    pub runs: Option<u32>,

    /// The campaign's base seed (default: the current time, printed); each run's seed derives from it.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// Replay one run by its own seed (as the report lists it) instead of a campaign.
    #[arg(long, value_name = "SEED", conflicts_with = "runs")]
    pub run_seed: Option<u64>,

    /// ci: short runs with fewer faults; nightly: more load and longer fault windows.
    #[arg(long, default_value = "ci", value_parser = crate::commands::campaign::parse_size)]
    pub size: vpsie_autoscaler::sim::campaign::Size,

    /// Write the markdown report here, and its JSON next to it (FILE.json).
    #[arg(long, value_name = "FILE.md")]
    pub out: Option<PathBuf>,

    /// How much faster than real time the simulated cloud and cluster run (VM boots, kubelets).
    #[arg(long, default_value = "20", value_parser = parse_speed)]
    pub speed: f64,

    /// Runs played at once (each its own simulated world and serve process).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16), value_name = "N")]
    pub jobs: u32,

    /// Keep each serve process's log in this directory (seed-<seed>-serve-<n>.log).
    #[arg(long, value_name = "DIR")]
    pub logs: Option<PathBuf>,
}

/// Parses a speed factor: a positive number up to 1000.
pub fn parse_speed(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 1000.0 => Ok(v),
        _ => Err(format!(
            "invalid speed {text:?}: expected a number above 0 and at most 1000 (e.g. 1, 10, 0.5)"
        )),
    }
}

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum, required_unless_present = "dir")]
    pub shell: Option<clap_complete::Shell>,

    /// Write the scripts of every shell into this directory.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Arguments of `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command into this directory instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Parses durations such as `90`, `90s`, `1.5s`, `15m`, `2h`, `1h30m`, `500ms`: the same
/// syntax as serve's flags and scenario files ([`vpsie_autoscaler::clock::parse_duration`]).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    vpsie_autoscaler::clock::parse_duration(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn absurd_durations_in_any_flag_are_errors_not_panics() {
        for (args, flag) in [
            (vec!["serve", "--batch-idle", "1e300"], "--batch-idle"),
            (
                vec!["serve", "--lease-duration", "99999999999999999999h"],
                "--lease-duration",
            ),
            (vec!["reconcile", "web", "--timeout", "NaN"], "--timeout"),
        ] {
            let e = Cli::try_parse_from(std::iter::once("kubectl-vpsie").chain(args))
                .expect_err("refused")
                .to_string();
            assert!(e.contains(flag) && e.contains("invalid duration"), "{e}");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        for bad in ["", "s", "10x", "5m3", "-1s", "1e300"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("duration"), "{bad}: {err}");
        }
    }
}
