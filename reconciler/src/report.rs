//! The status report: what the autoscaler is doing, published where the plugin can read it
//! without port-forwarding.
//!
//! - **Where**: ConfigMap [`STATUS_CONFIGMAP`] (`vpsie-autoscaler-status`) in `kube-system`,
//!   data key [`STATUS_KEY`] (`status.json`), written with server-side apply (field manager
//!   [`FIELD_MANAGER`]) by the leader.
//! - **What**: [`StatusReport`], a stable JSON interface (`schemaVersion` 1) read by
//!   `kubectl vpsie status`, `breaker`, `creds` and `doctor`: the leader, the version, the
//!   circuit breaker, recent VPSie API errors by type, the rate limiter, a non-secret
//!   fingerprint of the credentials, the breaker-reset handshake and each NodeGroup's last
//!   decision.
//! - **When**: [`ReportPublisher`] writes when the content changed (ignoring `generatedAt`) or
//!   at least every 10 s; [`StatusReporter`] is the loop that builds and publishes it.
//! - **Errors in the last window**: [`ApiErrorWindow`] turns the monotonically increasing
//!   `vpsie_api_errors_total{error_type}` counters into counts over the last 5 minutes.
//! - **Breaker reset**: `kubectl vpsie breaker reset` annotates the ConfigMap with
//!   [`BREAKER_RESET_ANNOTATION`]`=<timestamp>`; [`BreakerResetWatcher`] sees a value that differs
//!   from the report's `breakerReset.acknowledged`, calls [`VpsieClient::reset_breaker`] and
//!   records the value as acknowledged, so the plugin can wait for the acknowledgement
//!   ([`request_breaker_reset`], [`ReportReader::read`]).
//! - **Reading**: [`ReportReader::read`] with errors that say what to do.
//!
//! The report never holds a secret: credentials appear only as their fingerprint.
//!
//! # Wiring in the serve runtime
//!
//! ```text
//! let leader = LeaderElector::spawn(kube.clone(), LeaderConfig::new(default_identity()))?;
//! let creds = CredentialsWatcher::spawn(kube.clone(), "kube-system", "vpsie-secret", clock.clone());
//! // once creds.current() is Loaded: build the VpsieClient from its `secret`, then
//! let _follow = creds::follow(creds.subscribe(), vpsie.clone());
//! let board = StatusBoard::new();                 // controllers: board.observe_nodegroup(&ng),
//!                                                 //              board.record_decision(name, d)
//! let mut sources = ReportSources::new(identity, started_at);
//! sources.vpsie = Some(vpsie.clone());
//! sources.registry = Some(registry.clone());      // the Arc<Registry> of /metrics
//! sources.leader = Some(leader.subscribe());
//! sources.credentials = Some(creds.subscribe());
//! sources.board = board.clone();
//! let _reporter = StatusReporter::spawn(kube.clone(), sources, ReporterConfig::default());
//! let _resets = BreakerResetWatcher::spawn(kube.clone(), "kube-system", vpsie, board, clock);
//! // on SIGTERM: leader.release().await
//! ```
//!
//! The plugin: [`ReportReader::read`] for `status`/`creds`/`doctor`; for `breaker reset`,
//! [`request_breaker_reset`] with a timestamp, then [`wait_for_report`] until
//! `breakerReset.acknowledged` equals it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Api;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use vpsie_autoscaler::api::{annotations, NodeGroup};
use vpsie_autoscaler::clock::{self, SharedClock};
use vpsie_autoscaler::cloud::{BreakerState, CloudMetrics, VpsieClient};

use crate::creds::CredentialsState;
use crate::leader::LeaderState;

/// The ConfigMap holding the report.
pub const STATUS_CONFIGMAP: &str = "vpsie-autoscaler-status";
/// Its namespace.
pub const STATUS_NAMESPACE: &str = "kube-system";
/// The data key holding the JSON report.
pub const STATUS_KEY: &str = "status.json";
/// The annotation requesting a breaker reset (`kubectl vpsie breaker reset` sets a timestamp).
pub const BREAKER_RESET_ANNOTATION: &str = "autoscaler.vpsie.com/breaker-reset";
/// The server-side apply field manager.
pub const FIELD_MANAGER: &str = "vpsie-autoscaler";
/// The report's schema version.
pub const SCHEMA_VERSION: u32 = 1;
/// The default window of `apiErrors` (5 minutes).
pub const DEFAULT_ERROR_WINDOW: Duration = Duration::from_secs(300);
/// The default longest interval between two writes (10 s).
pub const DEFAULT_PUBLISH_EVERY: Duration = Duration::from_secs(10);

/// Errors of publishing and reading the report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The ConfigMap does not exist.
    #[error("the autoscaler has not published its status (ConfigMap {namespace}/{STATUS_CONFIGMAP} not found): is the vpsie-autoscaler Deployment running?")]
    NotPublished {
        /// The namespace looked in.
        namespace: String,
    },
    /// The ConfigMap has no `status.json`.
    #[error("ConfigMap {namespace}/{STATUS_CONFIGMAP} has no key {STATUS_KEY}: it was not written by the autoscaler, or was edited; delete it and the autoscaler writes it again within 10s")]
    MissingKey {
        /// The namespace.
        namespace: String,
    },
    /// `status.json` is not a report.
    #[error("ConfigMap {namespace}/{STATUS_CONFIGMAP} key {STATUS_KEY} is not a valid status report: {problem}; delete the ConfigMap and the autoscaler writes it again within 10s")]
    Malformed {
        /// The namespace.
        namespace: String,
        /// What is wrong (line and column, the field).
        problem: String,
    },
    /// The report has a schema this build does not know.
    #[error("ConfigMap {namespace}/{STATUS_CONFIGMAP} key {STATUS_KEY} has schemaVersion {found}, this kubectl-vpsie reads {SCHEMA_VERSION}: use the kubectl-vpsie of the same release as the autoscaler")]
    UnsupportedSchema {
        /// The namespace.
        namespace: String,
        /// The version found.
        found: u64,
    },
    /// An API call failed.
    #[error("ConfigMap {namespace}/{STATUS_CONFIGMAP}: {op} failed: {source}")]
    Api {
        /// The namespace.
        namespace: String,
        /// `get`, `apply` or `annotate`.
        op: &'static str,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// The report could not be serialized (a non-finite number).
    #[error("cannot encode the status report: {0}")]
    Encode(String),
    /// Waiting for something did not finish in time.
    #[error("{0}")]
    Timeout(String),
}

/// The status report (`status.json`). Field names are camelCase; times are RFC 3339 UTC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    /// Always [`SCHEMA_VERSION`] (1); readers refuse other values.
    pub schema_version: u32,
    /// When the report was built.
    pub generated_at: DateTime<Utc>,
    /// The process that wrote it.
    pub controller: ControllerReport,
    /// The VPSie API circuit breaker; `null` while no VPSie client exists (credentials never
    /// loaded).
    pub breaker: Option<BreakerReport>,
    /// VPSie API errors in the last window.
    pub api_errors: ApiErrorsReport,
    /// The client-side rate limiter; `null` while no VPSie client exists.
    pub rate_limit: Option<RateLimitReport>,
    /// The credentials in use.
    pub credentials: CredentialsReport,
    /// The breaker-reset handshake.
    pub breaker_reset: BreakerResetReport,
    /// Each NodeGroup by name.
    #[serde(default)]
    pub node_groups: BTreeMap<String, GroupReport>,
}

/// `controller`: the process that wrote the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControllerReport {
    /// The autoscaler's version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// This replica's leader-election identity.
    pub identity: String,
    /// The Lease holder as this replica sees it (`null`: none or unknown).
    pub leader: Option<String>,
    /// Whether this replica leads.
    pub is_leader: bool,
    /// When the process started.
    pub started_at: DateTime<Utc>,
    /// Whether it only plans (never calls the VPSie API to create or delete).
    pub dry_run: bool,
}

/// The breaker state as the report writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerStatus {
    /// Calls go through.
    Closed,
    /// Calls are refused.
    Open,
    /// One probe at a time.
    HalfOpen,
}

impl From<BreakerState> for BreakerStatus {
    fn from(s: BreakerState) -> Self {
        match s {
            BreakerState::Closed => BreakerStatus::Closed,
            BreakerState::Open => BreakerStatus::Open,
            BreakerState::HalfOpen => BreakerStatus::HalfOpen,
        }
    }
}

/// `breaker`: the circuit breaker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerReport {
    /// `closed`, `open` or `half-open`.
    pub state: BreakerStatus,
    /// Since when.
    pub since: DateTime<Utc>,
    /// Consecutive availability failures (5xx, network).
    pub consecutive_failures: u32,
    /// How many times it opened since the process started.
    pub opened_count: u64,
    /// When open: when the next probe goes through.
    pub next_probe_at: Option<DateTime<Utc>>,
    /// The last availability failure's message.
    pub last_failure: Option<String>,
}

/// `apiErrors`: VPSie API errors by `error_type` in the last window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiErrorsReport {
    /// The window (default 300).
    pub window_seconds: u64,
    /// Errors per type (`server_error`, `rate_limited`, ...) in the window; types with 0 are
    /// left out.
    #[serde(default)]
    pub by_type: BTreeMap<String, u64>,
    /// Sum of `byType`.
    pub total: u64,
    /// All errors since the process started.
    #[serde(default)]
    pub total_since_start: u64,
}

/// `rateLimit`: the client-side rate limiter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitReport {
    /// Tokens in the bucket (negative when calls queue).
    pub tokens: f64,
    /// Bucket size.
    pub capacity: u32,
    /// Calls waiting now.
    pub waiting: u32,
    /// No call goes out before this (a 429's Retry-After).
    pub blocked_until: Option<DateTime<Utc>>,
    /// Calls that waited for the limiter since start (`vpsie_api_rate_limit_waits_total`).
    pub waits_total: u64,
    /// 429 answers received since start (`vpsie_api_rate_limited_total`).
    pub rate_limited_total: u64,
}

/// The credential state as the report writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialsStatus {
    /// The Secret has not been read yet.
    Pending,
    /// Usable credentials are loaded.
    Loaded,
    /// The Secret does not exist.
    Missing,
    /// The Secret exists but is unusable.
    Invalid,
}

/// `credentials`: the credentials in use (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsReport {
    /// The fingerprint of the credentials the VPSie client uses (12 hex digits).
    pub fingerprint: Option<String>,
    /// When the client loaded them.
    pub loaded_at: Option<DateTime<Utc>>,
    /// The Secret's state.
    pub state: CredentialsStatus,
    /// When not loaded: what is wrong and the fix.
    pub message: Option<String>,
}

/// `breakerReset`: the reset handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerResetReport {
    /// The annotation's current value.
    pub requested: Option<String>,
    /// The last value acted on: equal to `requested` once the reset happened.
    pub acknowledged: Option<String>,
    /// When the last reset happened.
    pub at: Option<DateTime<Utc>>,
}

/// The action of a scaling decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DecisionAction {
    /// Add nodes.
    ScaleUp,
    /// Remove nodes.
    ScaleDown,
    /// Nothing to do.
    NoChange,
    /// Something to do, but held back (paused, breaker open, limits, stabilization).
    Blocked,
}

/// A NodeGroup's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// When it was taken.
    pub at: DateTime<Utc>,
    /// What it decided.
    pub action: DecisionAction,
    /// Machine-readable reason (`PendingPods`, `Underutilized`, `CircuitOpen`, ...).
    pub reason: String,
    /// For humans.
    pub message: String,
    /// Supporting facts (pods, nodes, offerings considered).
    #[serde(default)]
    pub details: Vec<String>,
}

/// A NodeGroup's entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupReport {
    /// The last decision.
    pub last_decision: Option<Decision>,
    /// Whether `autoscaler.vpsie.com/pause` is set.
    #[serde(default)]
    pub paused: bool,
    /// `spec.minNodes`.
    #[serde(default)]
    pub min_nodes: i32,
    /// `spec.maxNodes`.
    #[serde(default)]
    pub max_nodes: i32,
    /// minNodes after the override annotation.
    #[serde(default)]
    pub effective_min: i32,
    /// maxNodes after the override annotation.
    #[serde(default)]
    pub effective_max: i32,
    /// `status.currentNodes`.
    #[serde(default)]
    pub current_nodes: i32,
    /// `status.desiredNodes`.
    #[serde(default)]
    pub desired_nodes: i32,
    /// `status.readyNodes`.
    #[serde(default)]
    pub ready_nodes: i32,
    /// An annotation that could not be read (its error names it and the fix); the spec's
    /// values are reported instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The last scale-down round: what happens to each node, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down: Option<ScaleDownReport>,
}

/// One node in a scale-down round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeScaleDown {
    /// Node name.
    pub node: String,
    /// `Remove`, `Keep`, or the phase of a node already leaving (`Terminating`, `Deleting`).
    pub action: String,
    /// Machine-readable reason (`Utilized`, `DoNotDelete`, `PodCannotMove`, `AtMinNodes`,
    /// `DisruptionBudget`, `Empty`, `Underutilized`...).
    pub reason: String,
    /// For humans: the pod that cannot move and why, the utilization, until when.
    pub message: String,
    /// cpu requested by the pods that would move, percent of allocatable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<i64>,
    /// memory likewise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_percent: Option<i64>,
}

/// A NodeGroup's last scale-down round.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleDownReport {
    /// When the verdicts were last different.
    pub at: DateTime<Utc>,
    /// Each node (removals and nodes leaving first).
    #[serde(default)]
    pub nodes: Vec<NodeScaleDown>,
    /// Nodes left out of `nodes` to keep the report small.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub truncated: usize,
    /// Several underutilized nodes that one cheaper offering could replace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consolidation: Option<String>,
    /// Why no node of the group is removed at all now (the breaker is open...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl GroupReport {
    /// The entry of `ng` (without a decision): bounds, overrides, pause and node counts. A
    /// malformed annotation is reported in `problem`, never a panic.
    pub fn from_nodegroup(ng: &NodeGroup) -> Self {
        let empty = BTreeMap::new();
        let annotations = ng.metadata.annotations.as_ref().unwrap_or(&empty);
        let mut problems = Vec::new();
        let paused = annotations::is_paused(annotations).unwrap_or_else(|e| {
            problems.push(e.to_string());
            false
        });
        let (effective_min, effective_max) = annotations::effective_min_max(&ng.spec, annotations)
            .unwrap_or_else(|e| {
                problems.push(e.to_string());
                (ng.spec.min_nodes, ng.spec.max_nodes)
            });
        let status = ng.status.clone().unwrap_or_default();
        GroupReport {
            last_decision: None,
            paused,
            min_nodes: ng.spec.min_nodes,
            max_nodes: ng.spec.max_nodes,
            effective_min,
            effective_max,
            current_nodes: status.current_nodes,
            desired_nodes: status.desired_nodes,
            ready_nodes: status.ready_nodes,
            problem: (!problems.is_empty()).then(|| problems.join("; ")),
            scale_down: None,
        }
    }
}

// ----- counters and the error window -------------------------------------------------------

/// The client's counters read from the metrics registry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CloudCounters {
    /// `vpsie_api_errors_total` by `error_type`.
    pub errors_by_type: BTreeMap<String, u64>,
    /// `vpsie_api_rate_limit_waits_total`.
    pub rate_limit_waits: u64,
    /// `vpsie_api_rate_limited_total`.
    pub rate_limited: u64,
}

impl CloudCounters {
    /// The counters of `metrics`, read directly (what [`cloud_counters`] reads from their text).
    pub fn of(metrics: &CloudMetrics) -> Self {
        Self {
            errors_by_type: metrics.errors_by_type(),
            rate_limit_waits: metrics.rate_limit_waits(),
            rate_limited: metrics.rate_limited(),
        }
    }
}

fn sample_value(line: &str) -> Option<u64> {
    let v: f64 = line.rsplit(' ').next()?.parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| v.round() as u64)
}

/// Reads the VPSie client's counters from the encoded metrics (the `CloudMetrics` keep no
/// readable copy). Unknown lines are skipped. Pure.
pub fn cloud_counters(metrics_text: &str) -> CloudCounters {
    let mut c = CloudCounters::default();
    for line in metrics_text.lines() {
        if let Some(rest) = line.strip_prefix("vpsie_api_errors_total{") {
            let Some(kind) = rest
                .split("error_type=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
            else {
                continue;
            };
            if let Some(v) = sample_value(line) {
                *c.errors_by_type.entry(kind.to_string()).or_default() += v;
            }
        } else if line.starts_with("vpsie_api_rate_limit_waits_total ") {
            c.rate_limit_waits = sample_value(line).unwrap_or(0);
        } else if line.starts_with("vpsie_api_rate_limited_total ") {
            c.rate_limited = sample_value(line).unwrap_or(0);
        }
    }
    c
}

/// Turns monotonically increasing per-type counters into counts over the last window. Pure:
/// feed it `(time, counters)` samples with [`ApiErrorWindow::record`]. The counters are taken
/// as 0 at `started_at` (the process start); the window is exact to one sampling interval.
#[derive(Debug, Clone)]
pub struct ApiErrorWindow {
    window: Duration,
    started_at: DateTime<Utc>,
    samples: VecDeque<(DateTime<Utc>, BTreeMap<String, u64>)>,
}

impl ApiErrorWindow {
    /// A window of `window` for counters that started at 0 at `started_at`.
    pub fn new(window: Duration, started_at: DateTime<Utc>) -> Self {
        Self {
            window,
            started_at,
            samples: VecDeque::new(),
        }
    }

    /// The window's length.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Adds a sample. Samples older than the newest one are ignored; samples no longer needed
    /// are dropped.
    pub fn record(&mut self, at: DateTime<Utc>, counts: &BTreeMap<String, u64>) {
        if self.samples.back().is_some_and(|(t, _)| *t > at) {
            return;
        }
        self.samples.push_back((at, counts.clone()));
        let cutoff = at - chrono::Duration::from_std(self.window).unwrap_or_default();
        // Keep the newest sample at or before the cutoff as the baseline.
        while self.samples.len() > 1 && self.samples[1].0 <= cutoff {
            self.samples.pop_front();
        }
    }

    /// Errors per type between the window's start and the newest sample (types with 0 left
    /// out).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let Some((now, latest)) = self.samples.back() else {
            return BTreeMap::new();
        };
        let cutoff = *now - chrono::Duration::from_std(self.window).unwrap_or_default();
        let empty = BTreeMap::new();
        let baseline = match self.samples.front() {
            Some((t, c)) if *t <= cutoff => c,
            // No sample that old: the counters were 0 at the start, when that is in the window.
            _ if self.started_at >= cutoff => &empty,
            // Only samples inside the window and the start is older: the oldest sample is the
            // best baseline known.
            Some((_, c)) => c,
            None => &empty,
        };
        latest
            .iter()
            .filter_map(|(k, v)| {
                let d = v.saturating_sub(baseline.get(k).copied().unwrap_or(0));
                (d > 0).then(|| (k.clone(), d))
            })
            .collect()
    }

    /// The `apiErrors` part of the report.
    pub fn report(&self) -> ApiErrorsReport {
        let by_type = self.counts();
        ApiErrorsReport {
            window_seconds: self.window.as_secs(),
            total: by_type.values().sum(),
            total_since_start: self
                .samples
                .back()
                .map(|(_, c)| c.values().sum())
                .unwrap_or(0),
            by_type,
        }
    }
}

// ----- the board the controllers write -----------------------------------------------------

/// A NodeGroup's entry on the board, with the board's counts at its last changes.
#[derive(Debug, Default)]
struct BoardEntry {
    report: GroupReport,
    /// The count at its last change of content: anything but a repeated decision's time.
    changed: u64,
    /// The count at its last change of any kind.
    touched: u64,
}

#[derive(Debug, Default)]
struct BoardInner {
    groups: BTreeMap<String, BoardEntry>,
    /// Counts the changes of `groups`, time-only ones included.
    count: u64,
    /// The count at the last change of content (a removal included).
    changed: u64,
    /// The count at the last removal.
    removed: u64,
    reset: BreakerResetReport,
}

impl BoardInner {
    /// Marks `name`'s entry changed: in content, or (`content` false) only in a time.
    fn bump(&mut self, name: &str, content: bool) {
        self.count += 1;
        let count = self.count;
        if content {
            self.changed = count;
        }
        if let Some(e) = self.groups.get_mut(name) {
            e.touched = count;
            if content {
                e.changed = count;
            }
        }
    }
}

/// A reader's copy of the board's NodeGroups, brought up to date by [`StatusBoard::sync`]:
/// only the entries that changed since the last sync are cloned again.
#[derive(Debug, Clone, Default)]
pub struct GroupsCopy {
    /// The entries.
    pub groups: BTreeMap<String, GroupReport>,
    /// The board's count when the content was last synced.
    content: u64,
    /// The board's count when the times were last synced.
    times: u64,
}

/// What the controllers and the breaker-reset watcher tell the report. Cheap to clone; every
/// change of content wakes the [`StatusReporter`].
#[derive(Debug, Clone, Default)]
pub struct StatusBoard {
    inner: Arc<Mutex<BoardInner>>,
    changed: Arc<Notify>,
}

impl StatusBoard {
    /// An empty board.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, BoardInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets a NodeGroup's entry, keeping its last decision and scale-down round when the new
    /// entry has none. An entry equal to the one held changes nothing: every reconcile of a
    /// NodeGroup at rest sets the same entry.
    pub fn set_group(&self, name: &str, mut group: GroupReport) {
        let mut b = self.lock();
        let old = b.groups.get(name).map(|e| &e.report);
        if group.last_decision.is_none() {
            group.last_decision = old.and_then(|g| g.last_decision.clone());
        }
        if group.scale_down.is_none() {
            group.scale_down = old.and_then(|g| g.scale_down.clone());
        }
        if old == Some(&group) {
            return;
        }
        b.groups.entry(name.to_string()).or_default().report = group;
        b.bump(name, true);
        drop(b);
        self.changed.notify_one();
    }

    /// Sets the entry of `ng` from the object ([`GroupReport::from_nodegroup`]), keeping its
    /// last decision.
    pub fn observe_nodegroup(&self, ng: &NodeGroup) {
        let name = ng.metadata.name.clone().unwrap_or_default();
        self.set_group(&name, GroupReport::from_nodegroup(ng));
    }

    /// Records a NodeGroup's decision. A decision equal to the last one but for its time moves
    /// only that time: no wake-up, and readers take it at their next periodic write (every
    /// NodeGroup reconcile decides again, so at rest this is most of the board's traffic).
    pub fn record_decision(&self, name: &str, decision: Decision) {
        let mut b = self.lock();
        let entry = &mut b.groups.entry(name.to_string()).or_default().report;
        let content = untimed(&entry.last_decision)
            != Some((
                decision.action,
                decision.reason.as_str(),
                decision.message.as_str(),
                decision.details.as_slice(),
            ));
        entry.last_decision = Some(decision);
        b.bump(name, content);
        drop(b);
        if content {
            self.changed.notify_one();
        }
    }

    /// Records a NodeGroup's scale-down round. A round whose verdicts are those of the last one
    /// changes nothing (its time included), so the report is not rewritten every round.
    pub fn record_scale_down(&self, name: &str, round: ScaleDownReport) {
        let mut b = self.lock();
        let entry = &mut b.groups.entry(name.to_string()).or_default().report;
        let same = entry.scale_down.as_ref().is_some_and(|old| {
            old.nodes == round.nodes
                && old.truncated == round.truncated
                && old.consolidation == round.consolidation
                && old.blocked == round.blocked
        });
        if same {
            return;
        }
        entry.scale_down = Some(round);
        b.bump(name, true);
        drop(b);
        self.changed.notify_one();
    }

    /// Forgets a deleted NodeGroup.
    pub fn remove_group(&self, name: &str) {
        let mut b = self.lock();
        if b.groups.remove(name).is_none() {
            return;
        }
        b.bump(name, true);
        b.removed = b.count;
        drop(b);
        self.changed.notify_one();
    }

    /// The NodeGroups.
    pub fn groups(&self) -> BTreeMap<String, GroupReport> {
        self.lock()
            .groups
            .iter()
            .map(|(k, e)| (k.clone(), e.report.clone()))
            .collect()
    }

    /// Brings `copy` up to date: the entries whose content changed since its last sync, and
    /// with `times` also those whose decision's time alone moved. Returns whether any content
    /// changed. At rest it clones nothing and compares one number per group: the reporter
    /// syncs every second, and 50 groups listing 1,000 nodes were most of its cost.
    pub fn sync(&self, copy: &mut GroupsCopy, times: bool) -> bool {
        let b = self.lock();
        let content = b.changed > copy.content;
        let moved = times && b.count > copy.times;
        if !(content || moved) {
            return false;
        }
        if b.removed > copy.content {
            copy.groups.retain(|k, _| b.groups.contains_key(k));
        }
        for (name, e) in &b.groups {
            let stale = e.changed > copy.content || (times && e.touched > copy.times);
            if stale {
                copy.groups.insert(name.clone(), e.report.clone());
            }
        }
        copy.content = b.count;
        if times {
            copy.times = b.count;
        }
        content
    }

    /// The reset handshake.
    pub fn breaker_reset(&self) -> BreakerResetReport {
        self.lock().reset.clone()
    }

    fn update_reset(&self, f: impl FnOnce(&mut BreakerResetReport)) {
        let mut b = self.lock();
        let before = b.reset.clone();
        f(&mut b.reset);
        let changed = b.reset != before;
        drop(b);
        if changed {
            self.changed.notify_one();
        }
    }

    /// Waits for the next change.
    pub async fn changed(&self) {
        self.changed.notified().await
    }
}

/// The annotation value to act on: set, non-empty and different from `acknowledged`. Pure.
pub fn pending_reset(
    annotations: Option<&BTreeMap<String, String>>,
    acknowledged: Option<&str>,
) -> Option<String> {
    let v = annotations?.get(BREAKER_RESET_ANNOTATION)?.trim();
    (!v.is_empty() && Some(v) != acknowledged).then(|| v.to_string())
}

/// Acts on one version of the status ConfigMap: records the requested value and, when it
/// differs from the acknowledged one, resets `vpsie`'s breaker and acknowledges it. On the
/// first call of a fresh board, the acknowledgement already published in the ConfigMap is
/// taken over (a restart does not repeat an old reset). Returns the value acted on.
pub fn handle_status_configmap(
    cm: &ConfigMap,
    board: &StatusBoard,
    vpsie: &VpsieClient,
    now: DateTime<Utc>,
) -> Option<String> {
    let annotations = cm.metadata.annotations.as_ref();
    let requested = annotations
        .and_then(|a| a.get(BREAKER_RESET_ANNOTATION))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    let mut ack = board.breaker_reset().acknowledged;
    if ack.is_none() {
        if let Some(published) = cm
            .data
            .as_ref()
            .and_then(|d| d.get(STATUS_KEY))
            .and_then(|j| serde_json::from_str::<StatusReport>(j).ok())
        {
            ack = published.breaker_reset.acknowledged.clone();
            board.update_reset(|r| {
                r.acknowledged = published.breaker_reset.acknowledged;
                r.at = published.breaker_reset.at;
            });
        }
    }
    board.update_reset(|r| r.requested = requested.clone());
    let value = pending_reset(annotations, ack.as_deref())?;
    let after = vpsie.reset_breaker();
    tracing::info!(request = %value, state = after.state.as_str(), "circuit breaker reset requested through the status ConfigMap: done");
    board.update_reset(|r| {
        r.acknowledged = Some(value.clone());
        r.at = Some(now);
    });
    Some(value)
}

/// Watches the status ConfigMap for breaker-reset requests.
#[derive(Debug)]
pub struct BreakerResetWatcher;

/// The running [`BreakerResetWatcher`]; dropping it stops the watch.
#[derive(Debug)]
pub struct BreakerResetHandle {
    task: JoinHandle<()>,
}

impl Drop for BreakerResetHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl BreakerResetWatcher {
    /// Watches ConfigMap `namespace/vpsie-autoscaler-status` and calls
    /// [`handle_status_configmap`] on each version.
    pub fn spawn(
        client: kube::Client,
        namespace: &str,
        vpsie: VpsieClient,
        board: StatusBoard,
        clock: SharedClock,
    ) -> BreakerResetHandle {
        let api: Api<ConfigMap> = Api::namespaced(client, namespace);
        let config =
            watcher::Config::default().fields(&format!("metadata.name={STATUS_CONFIGMAP}"));
        let task = tokio::spawn(async move {
            let stream = watcher::watcher(api, config).default_backoff();
            futures::pin_mut!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(Event::Apply(cm)) | Ok(Event::InitApply(cm)) => {
                        handle_status_configmap(&cm, &board, &vpsie, clock.now());
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "watching the status ConfigMap failed; retrying")
                    }
                }
            }
        });
        BreakerResetHandle { task }
    }
}

// ----- building, publishing, reading -------------------------------------------------------

/// Where the report's parts come from.
#[derive(Debug, Clone)]
pub struct ReportSources {
    /// This replica's identity.
    pub identity: String,
    /// The version written (default `CARGO_PKG_VERSION`).
    pub version: String,
    /// Whether the controllers run in dry-run mode.
    pub dry_run: bool,
    /// When the process started.
    pub started_at: DateTime<Utc>,
    /// The VPSie client, once it exists.
    pub vpsie: Option<VpsieClient>,
    /// The metrics registry the VPSie client's metrics are registered in.
    pub registry: Option<Arc<Registry>>,
    /// The election state (`None`: no election, this replica always leads).
    pub leader: Option<watch::Receiver<LeaderState>>,
    /// The credential state.
    pub credentials: Option<watch::Receiver<CredentialsState>>,
    /// What the controllers report.
    pub board: StatusBoard,
}

impl ReportSources {
    /// Sources with nothing but an identity.
    pub fn new(identity: impl Into<String>, started_at: DateTime<Utc>) -> Self {
        Self {
            identity: identity.into(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            dry_run: false,
            started_at,
            vpsie: None,
            registry: None,
            leader: None,
            credentials: None,
            board: StatusBoard::new(),
        }
    }

    /// Whether this replica should publish: it leads, or there is no election.
    pub fn is_leader(&self) -> bool {
        self.leader.as_ref().is_none_or(|l| l.borrow().is_leader)
    }

    /// Builds the report at `now`, feeding `window` the current error counters.
    pub fn build(&self, now: DateTime<Utc>, window: &mut ApiErrorWindow) -> StatusReport {
        self.build_with_groups(now, window, self.board.groups())
    }

    /// [`Self::build`] with the board's NodeGroups already read.
    pub fn build_with_groups(
        &self,
        now: DateTime<Utc>,
        window: &mut ApiErrorWindow,
        node_groups: BTreeMap<String, GroupReport>,
    ) -> StatusReport {
        // read from the client's metrics: encoding the whole registry every second to read
        // three counters cost more than the rest of the report
        let counters = match (&self.vpsie, &self.registry) {
            (Some(c), _) => CloudCounters::of(c.metrics()),
            (None, Some(r)) => cloud_counters(&crate::metrics::encode(r)),
            (None, None) => CloudCounters::default(),
        };
        window.record(now, &counters.errors_by_type);
        let (leader, is_leader) = match &self.leader {
            Some(l) => {
                let s = l.borrow();
                (s.holder.clone(), s.is_leader)
            }
            None => (Some(self.identity.clone()), true),
        };
        let breaker = self.vpsie.as_ref().map(|c| {
            let b = c.breaker_snapshot();
            BreakerReport {
                state: b.state.into(),
                since: b.since,
                consecutive_failures: b.consecutive_failures,
                opened_count: b.opened_count,
                next_probe_at: b.next_probe_at,
                last_failure: b.last_failure,
            }
        });
        let rate_limit = self.vpsie.as_ref().map(|c| {
            let r = c.rate_limit_snapshot();
            RateLimitReport {
                tokens: if r.tokens.is_finite() { r.tokens } else { 0.0 },
                capacity: r.capacity,
                waiting: r.waiting,
                blocked_until: r.blocked_until,
                waits_total: counters.rate_limit_waits,
                rate_limited_total: counters.rate_limited,
            }
        });
        let state = self.credentials.as_ref().map(|c| c.borrow().clone());
        let status = match &state {
            None => {
                if self.vpsie.is_some() {
                    CredentialsStatus::Loaded
                } else {
                    CredentialsStatus::Pending
                }
            }
            Some(CredentialsState::Pending { .. }) => CredentialsStatus::Pending,
            Some(CredentialsState::Loaded { .. }) => CredentialsStatus::Loaded,
            Some(CredentialsState::Missing { .. }) => CredentialsStatus::Missing,
            Some(CredentialsState::Invalid { .. }) => CredentialsStatus::Invalid,
        };
        let credentials = CredentialsReport {
            fingerprint: self.vpsie.as_ref().map(|c| c.credentials_fingerprint()),
            loaded_at: self.vpsie.as_ref().map(|c| c.credentials_loaded_at()),
            state: status,
            message: state.as_ref().and_then(|s| s.message()),
        };
        StatusReport {
            schema_version: SCHEMA_VERSION,
            generated_at: now,
            controller: ControllerReport {
                version: self.version.clone(),
                identity: self.identity.clone(),
                leader,
                is_leader,
                started_at: self.started_at,
                dry_run: self.dry_run,
            },
            breaker,
            api_errors: window.report(),
            rate_limit,
            credentials,
            breaker_reset: self.board.breaker_reset(),
            node_groups,
        }
    }
}

/// What a caller of [`should_publish`] knows of the NodeGroups' entries since the last write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupsNews {
    /// Nothing: compare them with the last write's.
    Unknown,
    /// Their content is the last write's (a repeated decision's time aside).
    Same,
    /// Their content changed.
    Changed,
}

/// Whether to write `report` now: never written, content changed (`generatedAt` aside), or
/// `every` passed since the last write. `groups` says whether the NodeGroups' entries are to
/// be compared or are known. Pure.
pub fn should_publish(
    last: Option<(&StatusReport, DateTime<Utc>)>,
    report: &StatusReport,
    groups: GroupsNews,
    now: DateTime<Utc>,
    every: Duration,
) -> bool {
    let Some((prev, at)) = last else {
        return true;
    };
    // generatedAt always moves and the bucket refills continuously: neither alone is news
    // (they are refreshed by the periodic write). Compared field by field, without a copy:
    // this runs every second.
    let StatusReport {
        schema_version,
        generated_at: _,
        controller,
        breaker,
        api_errors,
        rate_limit,
        credentials,
        breaker_reset,
        node_groups,
    } = report;
    let same_limit = match (&prev.rate_limit, rate_limit) {
        (Some(a), Some(b)) => {
            let RateLimitReport {
                tokens: _,
                capacity,
                waiting,
                blocked_until,
                waits_total,
                rate_limited_total,
            } = b;
            a.capacity == *capacity
                && a.waiting == *waiting
                && a.blocked_until == *blocked_until
                && a.waits_total == *waits_total
                && a.rate_limited_total == *rate_limited_total
        }
        (None, None) => true,
        _ => false,
    };
    let same = prev.schema_version == *schema_version
        && prev.controller == *controller
        && prev.breaker == *breaker
        && prev.api_errors == *api_errors
        && same_limit
        && prev.credentials == *credentials
        && prev.breaker_reset == *breaker_reset
        && match groups {
            GroupsNews::Unknown => same_groups(&prev.node_groups, node_groups),
            GroupsNews::Same => true,
            GroupsNews::Changed => false,
        };
    !same || now - at >= chrono::Duration::from_std(every).unwrap_or_default()
}

/// A decision without its time.
fn untimed(d: &Option<Decision>) -> Option<(DecisionAction, &str, &str, &[String])> {
    d.as_ref().map(|d| {
        (
            d.action,
            d.reason.as_str(),
            d.message.as_str(),
            d.details.as_slice(),
        )
    })
}

/// The NodeGroups' entries are equal but for the time of their last decision (pure). A group
/// that decides again what it decided before moves only that time, every reconcile; like
/// `generatedAt`, it is refreshed by the periodic write, so that with 50 groups at rest the
/// report (every node of every group) is not rewritten each second.
fn same_groups(a: &BTreeMap<String, GroupReport>, b: &BTreeMap<String, GroupReport>) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((ka, ga), (kb, gb))| {
            let GroupReport {
                last_decision,
                paused,
                min_nodes,
                max_nodes,
                effective_min,
                effective_max,
                current_nodes,
                desired_nodes,
                ready_nodes,
                problem,
                scale_down,
            } = gb;
            ka == kb
                && untimed(&ga.last_decision) == untimed(last_decision)
                && ga.paused == *paused
                && ga.min_nodes == *min_nodes
                && ga.max_nodes == *max_nodes
                && ga.effective_min == *effective_min
                && ga.effective_max == *effective_max
                && ga.current_nodes == *current_nodes
                && ga.desired_nodes == *desired_nodes
                && ga.ready_nodes == *ready_nodes
                && ga.problem == *problem
                && ga.scale_down == *scale_down
        })
}

/// The ConfigMap holding `report` as an apply configuration. Pretty JSON, so
/// `kubectl get cm -o yaml` stays readable.
pub fn status_configmap(
    namespace: &str,
    report: &StatusReport,
) -> Result<serde_json::Value, ReportError> {
    let json =
        serde_json::to_string_pretty(report).map_err(|e| ReportError::Encode(e.to_string()))?;
    Ok(serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": STATUS_CONFIGMAP,
            "namespace": namespace,
            "labels": {
                "app.kubernetes.io/name": "vpsie-autoscaler",
                "app.kubernetes.io/component": "status",
            },
        },
        "data": { STATUS_KEY: json },
    }))
}

/// Writes the report ConfigMap with server-side apply when needed.
#[derive(Debug)]
pub struct ReportPublisher {
    api: Api<ConfigMap>,
    namespace: String,
    every: Duration,
    clock: SharedClock,
    last: Option<(StatusReport, DateTime<Utc>)>,
}

impl ReportPublisher {
    /// A publisher writing to `namespace` at least every 10 s.
    pub fn new(client: kube::Client, namespace: &str, clock: SharedClock) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            every: DEFAULT_PUBLISH_EVERY,
            clock,
            last: None,
        }
    }

    /// Sets the longest interval between writes.
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every;
        self
    }

    /// Whether the periodic write is due: nothing written yet, or `every` passed since.
    pub fn due(&self) -> bool {
        self.last.as_ref().is_none_or(|(_, at)| {
            self.clock.now() - *at >= chrono::Duration::from_std(self.every).unwrap_or_default()
        })
    }

    /// Writes `report` if [`should_publish`] says so, comparing its NodeGroups with the last
    /// write's; returns whether it wrote.
    pub async fn publish(&mut self, report: &StatusReport) -> Result<bool, ReportError> {
        self.publish_with(report, GroupsNews::Unknown).await
    }

    /// [`Self::publish`] by a caller that knows whether the NodeGroups changed.
    pub async fn publish_with(
        &mut self,
        report: &StatusReport,
        groups: GroupsNews,
    ) -> Result<bool, ReportError> {
        let now = self.clock.now();
        if !should_publish(
            self.last.as_ref().map(|(r, t)| (r, *t)),
            report,
            groups,
            now,
            self.every,
        ) {
            return Ok(false);
        }
        self.write(report).await?;
        self.last = Some((report.clone(), now));
        Ok(true)
    }

    /// Writes `report` unconditionally.
    pub async fn write(&self, report: &StatusReport) -> Result<(), ReportError> {
        let cm = status_configmap(&self.namespace, report)?;
        self.api
            .patch(
                STATUS_CONFIGMAP,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&cm),
            )
            .await
            .map_err(|source| ReportError::Api {
                namespace: self.namespace.clone(),
                op: "apply",
                source,
            })?;
        Ok(())
    }
}

/// Reads the report (for the plugin).
#[derive(Debug)]
pub struct ReportReader;

impl ReportReader {
    /// Reads and checks the report in `namespace`.
    pub async fn read(client: &kube::Client, namespace: &str) -> Result<StatusReport, ReportError> {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        let cm = api
            .get_opt(STATUS_CONFIGMAP)
            .await
            .map_err(|source| ReportError::Api {
                namespace: namespace.to_string(),
                op: "get",
                source,
            })?
            .ok_or_else(|| ReportError::NotPublished {
                namespace: namespace.to_string(),
            })?;
        Self::parse(namespace, &cm)
    }

    /// Parses the report of a fetched ConfigMap. Pure.
    pub fn parse(namespace: &str, cm: &ConfigMap) -> Result<StatusReport, ReportError> {
        let json = cm
            .data
            .as_ref()
            .and_then(|d| d.get(STATUS_KEY))
            .ok_or_else(|| ReportError::MissingKey {
                namespace: namespace.to_string(),
            })?;
        Self::parse_json(namespace, json)
    }

    /// Parses `status.json`. Pure.
    pub fn parse_json(namespace: &str, json: &str) -> Result<StatusReport, ReportError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| ReportError::Malformed {
                namespace: namespace.to_string(),
                problem: format!("not JSON ({e})"),
            })?;
        match value.get("schemaVersion").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(SCHEMA_VERSION) => {}
            Some(found) => {
                return Err(ReportError::UnsupportedSchema {
                    namespace: namespace.to_string(),
                    found,
                })
            }
            None => {
                return Err(ReportError::Malformed {
                    namespace: namespace.to_string(),
                    problem: "field schemaVersion is missing or not a number".to_string(),
                })
            }
        }
        serde_json::from_value(value).map_err(|e| ReportError::Malformed {
            namespace: namespace.to_string(),
            problem: e.to_string(),
        })
    }
}

/// Requests a breaker reset as `kubectl vpsie breaker reset` does: sets the annotation to
/// `value` (a timestamp) with a merge patch, like `kubectl annotate --overwrite`. Wait for
/// `breakerReset.acknowledged == value` with [`wait_for_report`].
pub async fn request_breaker_reset(
    client: &kube::Client,
    namespace: &str,
    value: &str,
) -> Result<(), ReportError> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let patch = serde_json::json!({"metadata": {"annotations": {BREAKER_RESET_ANNOTATION: value}}});
    api.patch(
        STATUS_CONFIGMAP,
        &PatchParams {
            field_manager: Some("kubectl-vpsie".to_string()),
            ..Default::default()
        },
        &Patch::Merge(&patch),
    )
    .await
    .map(|_| ())
    .map_err(|source| match &source {
        kube::Error::Api(s) if s.code == 404 => ReportError::NotPublished {
            namespace: namespace.to_string(),
        },
        _ => ReportError::Api {
            namespace: namespace.to_string(),
            op: "annotate",
            source,
        },
    })
}

/// Watches the report until `pred` holds, for at most `within` (real time). Unparsable
/// versions are skipped.
/// The 401 or 403 behind a watch error, which no retry can mend: a wait gives up on it at once
/// instead of running out its time.
pub fn watch_refusal(e: &watcher::Error) -> Option<&kube::core::Status> {
    let status = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s))
        | watcher::Error::WatchError(s) => s.as_ref(),
        _ => return None,
    };
    matches!(status.code, 401 | 403).then_some(status)
}

pub async fn wait_for_report(
    client: &kube::Client,
    namespace: &str,
    within: Duration,
    pred: impl Fn(&StatusReport) -> bool,
) -> Result<StatusReport, ReportError> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={STATUS_CONFIGMAP}"));
    let ns = namespace.to_string();
    let wait = async {
        let stream = watcher::watcher(api, config).default_backoff();
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Apply(cm)) | Ok(Event::InitApply(cm)) => {
                    if let Ok(r) = ReportReader::parse(&ns, &cm) {
                        if pred(&r) {
                            return Some(Ok(r));
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if let Some(status) = watch_refusal(&e) {
                        return Some(Err(ReportError::Api {
                            namespace: ns.clone(),
                            op: "watch",
                            source: kube::Error::Api(Box::new(status.clone())),
                        }));
                    }
                }
            }
        }
        None
    };
    match tokio::time::timeout(within, wait).await {
        Ok(Some(r)) => r,
        _ => Err(ReportError::Timeout(format!(
            "the status report in ConfigMap {namespace}/{STATUS_CONFIGMAP} did not show the expected change within {}s: is the vpsie-autoscaler Deployment running?",
            within.as_secs()
        ))),
    }
}

// ----- the loop ----------------------------------------------------------------------------

/// Settings of [`StatusReporter`].
#[derive(Debug, Clone)]
pub struct ReporterConfig {
    /// Namespace of the ConfigMap (default `kube-system`).
    pub namespace: String,
    /// Longest interval between writes (default 10 s).
    pub every: Duration,
    /// How often the report is rebuilt and compared (default 1 s).
    pub tick: Duration,
    /// The `apiErrors` window (default 5 min).
    pub error_window: Duration,
    /// The time source.
    pub clock: SharedClock,
}

impl Default for ReporterConfig {
    fn default() -> Self {
        Self {
            namespace: STATUS_NAMESPACE.to_string(),
            every: DEFAULT_PUBLISH_EVERY,
            tick: Duration::from_secs(1),
            error_window: DEFAULT_ERROR_WINDOW,
            clock: clock::system(),
        }
    }
}

/// Builds the report every tick (and at once when the board, the election or the credentials
/// change) and publishes it while this replica leads.
#[derive(Debug)]
pub struct StatusReporter;

/// The running [`StatusReporter`]; dropping it stops the loop.
#[derive(Debug)]
pub struct ReporterHandle {
    task: JoinHandle<()>,
}

impl Drop for ReporterHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StatusReporter {
    /// Starts the loop.
    pub fn spawn(
        client: kube::Client,
        sources: ReportSources,
        config: ReporterConfig,
    ) -> ReporterHandle {
        let task = tokio::spawn(async move {
            let mut publisher =
                ReportPublisher::new(client, &config.namespace, config.clock.clone())
                    .every(config.every);
            let mut window = ApiErrorWindow::new(config.error_window, sources.started_at);
            let mut leader = sources.leader.clone();
            let mut creds = sources.credentials.clone();
            // the board's NodeGroups as last read, kept from tick to tick; `unwritten`: their
            // content changed since the last write
            let mut groups = GroupsCopy::default();
            let mut unwritten = false;
            loop {
                // a repeated decision's time is taken only for the periodic write
                unwritten |= sources.board.sync(&mut groups, publisher.due());
                let report = sources.build_with_groups(
                    config.clock.now(),
                    &mut window,
                    std::mem::take(&mut groups.groups),
                );
                if sources.is_leader() {
                    let news = if unwritten {
                        GroupsNews::Changed
                    } else {
                        GroupsNews::Same
                    };
                    match publisher.publish_with(&report, news).await {
                        Ok(wrote) => unwritten &= !wrote,
                        Err(e) => {
                            tracing::warn!(error = %e, "could not publish the status report")
                        }
                    }
                }
                groups.groups = report.node_groups;
                tokio::select! {
                    _ = pause(&*config.clock, config.tick) => {}
                    _ = sources.board.changed() => {}
                    Some(_) = async { match leader.as_mut() { Some(l) => l.changed().await.ok(), None => std::future::pending().await } } => {}
                    Some(_) = async { match creds.as_mut() { Some(c) => c.changed().await.ok(), None => std::future::pending().await } } => {}
                }
            }
        });
        ReporterHandle { task }
    }
}

/// Waits `d` of `clock`'s time; a clock that does not move by itself (a `ManualClock`, whose
/// waits take no real time) waits `d` of real time instead, so the loop never spins.
async fn pause(clock: &dyn vpsie_autoscaler::clock::Clock, d: Duration) {
    if clock.real_duration(d).is_zero() && !d.is_zero() {
        tokio::time::sleep(d).await;
    } else {
        clock::sleep(clock, d).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn the_window_counts_only_recent_errors() {
        let t0 = Utc::now();
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        let mut w = ApiErrorWindow::new(Duration::from_secs(300), t0);
        assert!(w.counts().is_empty());
        w.record(at(10), &counts(&[("server_error", 3)]));
        assert_eq!(
            w.counts(),
            counts(&[("server_error", 3)]),
            "counters start at 0"
        );
        w.record(
            at(200),
            &counts(&[("server_error", 5), ("rate_limited", 1)]),
        );
        assert_eq!(
            w.counts(),
            counts(&[("server_error", 5), ("rate_limited", 1)])
        );
        // 320 s: the window starts at 20; the newest sample at or before it (10 s) is the base.
        w.record(
            at(320),
            &counts(&[("server_error", 5), ("rate_limited", 2)]),
        );
        assert_eq!(
            w.counts(),
            counts(&[("server_error", 2), ("rate_limited", 2)])
        );
        // 510 s: base is the 200 s sample.
        w.record(
            at(510),
            &counts(&[("server_error", 5), ("rate_limited", 2)]),
        );
        assert_eq!(w.counts(), counts(&[("rate_limited", 1)]));
        // Quiet for a window: nothing.
        w.record(
            at(900),
            &counts(&[("server_error", 5), ("rate_limited", 2)]),
        );
        assert!(w.counts().is_empty());
        let r = w.report();
        assert_eq!(
            (r.total, r.total_since_start, r.window_seconds),
            (0, 7, 300)
        );
        // Out-of-order samples are ignored.
        w.record(at(100), &counts(&[("server_error", 0)]));
        assert!(w.counts().is_empty());
    }

    #[test]
    fn counters_are_read_from_the_metrics_text() {
        let text = "# TYPE vpsie_api_errors counter\nvpsie_api_errors_total{error_type=\"server_error\"} 5\nvpsie_api_errors_total{error_type=\"rate_limited\"} 2\nvpsie_api_rate_limit_waits_total 3\nvpsie_api_rate_limited_total 2\nvpsie_api_rate_limit_wait_seconds_total 1.5\n# EOF\n";
        let c = cloud_counters(text);
        assert_eq!(
            c.errors_by_type,
            counts(&[("server_error", 5), ("rate_limited", 2)])
        );
        assert_eq!((c.rate_limit_waits, c.rate_limited), (3, 2));
        assert_eq!(cloud_counters("garbage {\n"), CloudCounters::default());
    }

    #[test]
    fn counters_read_directly_are_those_of_the_metrics_text() {
        use vpsie_autoscaler::cloud::ErrorClass;
        let mut registry = Registry::default();
        let m = CloudMetrics::new(&mut registry);
        assert_eq!(CloudCounters::of(&m), CloudCounters::default());
        for class in [
            ErrorClass::ServerError,
            ErrorClass::ServerError,
            ErrorClass::RateLimited,
            ErrorClass::Network,
        ] {
            m.observe_error(class);
        }
        m.observe_refusal(ErrorClass::CircuitOpen);
        m.observe_rate_limit_wait(0.5);
        let before = crate::metrics::encode(&registry);
        let direct = CloudCounters::of(&m);
        assert_eq!(direct, cloud_counters(&before));
        assert_eq!(
            direct.errors_by_type,
            counts(&[
                ("server_error", 2),
                ("rate_limited", 1),
                ("network", 1),
                ("circuit_open", 1)
            ])
        );
        assert_eq!((direct.rate_limit_waits, direct.rate_limited), (1, 1));
        // reading adds no series to /metrics
        assert_eq!(crate::metrics::encode(&registry), before);
    }

    #[test]
    fn group_entries_come_from_the_nodegroup() {
        let mut ng: NodeGroup = example_nodegroup();
        let g = GroupReport::from_nodegroup(&ng);
        assert_eq!(
            (g.min_nodes, g.max_nodes, g.effective_min, g.effective_max),
            (3, 20, 3, 20)
        );
        assert!(!g.paused && g.problem.is_none());
        ng.metadata.annotations = Some(
            [
                (annotations::PAUSE.to_string(), "true".to_string()),
                (
                    annotations::MAX_NODES_OVERRIDE.to_string(),
                    "15".to_string(),
                ),
            ]
            .into(),
        );
        let board = StatusBoard::new();
        board.record_decision(
            "production-workers",
            Decision {
                at: Utc::now(),
                action: DecisionAction::Blocked,
                reason: "Paused".into(),
                message: "paused by annotation".into(),
                details: vec![],
            },
        );
        board.observe_nodegroup(&ng);
        let g = board.groups().remove("production-workers").expect("entry");
        assert!(g.paused);
        assert_eq!((g.effective_min, g.effective_max), (3, 15));
        assert_eq!(
            g.last_decision.map(|d| d.action),
            Some(DecisionAction::Blocked)
        );
        ng.metadata.annotations =
            Some([(annotations::PAUSE.to_string(), "yes".to_string())].into());
        let g = GroupReport::from_nodegroup(&ng);
        assert!(!g.paused);
        assert!(g.problem.unwrap_or_default().contains(annotations::PAUSE));
    }

    fn example_nodegroup() -> NodeGroup {
        let v = serde_json::json!({
            "apiVersion": "autoscaler.vpsie.com/v1alpha1",
            "kind": "NodeGroup",
            "metadata": {"name": "production-workers", "namespace": "kube-system"},
            "spec": {
                "minNodes": 3, "maxNodes": 20, "datacenterID": "dc-us-east-1",
                "offeringIDs": ["small-2cpu-4gb"], "osImageID": "ubuntu-22.04-lts"
            }
        });
        serde_json::from_value(v).expect("valid NodeGroup")
    }

    #[test]
    fn volatile_fields_alone_do_not_cause_a_write() {
        let t0 = Utc::now();
        let every = Duration::from_secs(10);
        let mut w = ApiErrorWindow::new(DEFAULT_ERROR_WINDOW, t0);
        let mut sources = ReportSources::new("me", t0);
        sources.board = StatusBoard::new();
        let first = sources.build(t0, &mut w);
        assert!(should_publish(None, &first, GroupsNews::Unknown, t0, every));
        let mut next = first.clone();
        next.generated_at = t0 + chrono::Duration::seconds(1);
        next.rate_limit = Some(RateLimitReport {
            tokens: 3.5,
            capacity: 10,
            waiting: 0,
            blocked_until: None,
            waits_total: 0,
            rate_limited_total: 0,
        });
        let mut prev = next.clone();
        if let Some(r) = prev.rate_limit.as_mut() {
            r.tokens = 2.0;
        }
        let t1 = t0 + chrono::Duration::seconds(1);
        assert!(!should_publish(
            Some((&prev, t0)),
            &next,
            GroupsNews::Unknown,
            t1,
            every
        ));
        assert!(should_publish(
            Some((&prev, t0)),
            &next,
            GroupsNews::Unknown,
            t0 + chrono::Duration::seconds(10),
            every
        ));
        if let Some(r) = next.rate_limit.as_mut() {
            r.blocked_until = Some(t1);
        }
        assert!(should_publish(
            Some((&prev, t0)),
            &next,
            GroupsNews::Unknown,
            t1,
            every
        ));
        assert!(should_publish(
            Some((&first, t0)),
            &next,
            GroupsNews::Unknown,
            t1,
            every
        ));

        // a group deciding again what it decided: only the decision's time moves
        let decided = |at: DateTime<Utc>, reason: &str| {
            let mut r = first.clone();
            r.node_groups.insert(
                "web".into(),
                GroupReport {
                    last_decision: Some(Decision {
                        at,
                        action: DecisionAction::NoChange,
                        reason: reason.into(),
                        message: "nothing pending".into(),
                        details: Vec::new(),
                    }),
                    ..GroupReport::default()
                },
            );
            r
        };
        let before = decided(t0, "NoPendingPods");
        assert!(!should_publish(
            Some((&before, t0)),
            &decided(t1, "NoPendingPods"),
            GroupsNews::Unknown,
            t1,
            every
        ));
        assert!(should_publish(
            Some((&before, t0)),
            &decided(t0 + chrono::Duration::seconds(10), "NoPendingPods"),
            GroupsNews::Unknown,
            t0 + chrono::Duration::seconds(10),
            every
        ));
        assert!(should_publish(
            Some((&before, t0)),
            &decided(t1, "PendingPods"),
            GroupsNews::Unknown,
            t1,
            every
        ));
    }

    #[test]
    fn any_other_change_causes_a_write() {
        let t0 = Utc::now();
        let every = Duration::from_secs(10);
        let mut w = ApiErrorWindow::new(DEFAULT_ERROR_WINDOW, t0);
        let sources = ReportSources::new("me", t0);
        let prev = sources.build(t0, &mut w);
        let t1 = t0 + chrono::Duration::seconds(1);
        let changes: [fn(&mut StatusReport); 7] = [
            |r| r.schema_version += 1,
            |r| r.controller.is_leader = !r.controller.is_leader,
            |r| r.api_errors.total += 1,
            |r| r.credentials.message = Some("changed".into()),
            |r| r.breaker_reset.acknowledged = Some("1".into()),
            |r| {
                r.node_groups.insert("g".into(), GroupReport::default());
            },
            |r| {
                r.rate_limit = Some(RateLimitReport {
                    tokens: 1.0,
                    capacity: 10,
                    waiting: 1,
                    blocked_until: None,
                    waits_total: 0,
                    rate_limited_total: 0,
                })
            },
        ];
        for change in changes {
            let mut next = prev.clone();
            change(&mut next);
            assert_ne!(next, prev);
            assert!(should_publish(
                Some((&prev, t0)),
                &next,
                GroupsNews::Unknown,
                t1,
                every
            ));
        }
    }

    #[test]
    fn the_board_hands_out_only_what_changed() {
        let board = StatusBoard::new();
        let mut copy = GroupsCopy::default();
        assert!(!board.sync(&mut copy, true), "an empty board has no news");
        board.set_group("g", GroupReport::default());
        board.set_group("h", GroupReport::default());
        assert!(board.sync(&mut copy, false));
        assert_eq!(copy.groups.len(), 2);
        assert!(!board.sync(&mut copy, true), "nothing since");
        board.set_group("g", GroupReport::default());
        assert!(!board.sync(&mut copy, false), "the same entry again");

        // only the changed entry is cloned again: mark the copy's other entry to see it kept
        copy.groups.get_mut("h").expect("h").problem = Some("the copy's own".into());
        let decision = |at: DateTime<Utc>, reason: &str| Decision {
            at,
            action: DecisionAction::ScaleUp,
            reason: reason.into(),
            message: "m".into(),
            details: Vec::new(),
        };
        let t0 = Utc::now();
        let t1 = t0 + chrono::Duration::seconds(1);
        board.record_decision("g", decision(t0, "r"));
        assert!(board.sync(&mut copy, false), "a decision is a change");
        assert_eq!(copy.groups["g"].last_decision, Some(decision(t0, "r")));
        assert_eq!(copy.groups["h"].problem.as_deref(), Some("the copy's own"));

        // the same decision later: its time is taken only by a sync with times
        board.record_decision("g", decision(t1, "r"));
        assert!(!board.sync(&mut copy, false));
        assert_eq!(copy.groups["g"].last_decision, Some(decision(t0, "r")));
        assert!(!board.sync(&mut copy, true), "a time alone is no news");
        assert_eq!(copy.groups["g"].last_decision, Some(decision(t1, "r")));
        assert!(!board.sync(&mut copy, true));
        board.record_decision("g", decision(t1, "other"));
        assert!(board.sync(&mut copy, false), "another reason is news");

        let round = ScaleDownReport::default();
        board.record_scale_down("g", round.clone());
        assert!(board.sync(&mut copy, false), "a first round is a change");
        board.record_scale_down("g", round);
        assert!(!board.sync(&mut copy, false), "the same round again");

        board.remove_group("g");
        assert!(board.sync(&mut copy, false), "a removal is a change");
        assert_eq!(copy.groups.keys().collect::<Vec<_>>(), ["h"]);
        board.remove_group("g");
        assert!(!board.sync(&mut copy, true), "removing it again is nothing");
        assert_eq!(board.groups().keys().collect::<Vec<_>>(), ["h"]);
    }

    #[test]
    fn known_group_news_decides_without_comparing() {
        let t0 = Utc::now();
        let t1 = t0 + chrono::Duration::seconds(1);
        let every = Duration::from_secs(10);
        let mut w = ApiErrorWindow::new(DEFAULT_ERROR_WINDOW, t0);
        let prev = ReportSources::new("me", t0).build(t0, &mut w);
        let mut next = prev.clone();
        next.node_groups.insert("g".into(), GroupReport::default());
        let last = Some((&prev, t0));
        assert!(should_publish(last, &next, GroupsNews::Unknown, t1, every));
        assert!(!should_publish(last, &next, GroupsNews::Same, t1, every));
        assert!(should_publish(last, &prev, GroupsNews::Changed, t1, every));
        let later = t0 + chrono::Duration::seconds(10);
        assert!(should_publish(last, &prev, GroupsNews::Same, later, every));
        // another part of the report still counts
        next.api_errors.total += 1;
        assert!(should_publish(last, &next, GroupsNews::Same, t1, every));
    }

    #[test]
    fn pending_resets() {
        let a: BTreeMap<String, String> = [(
            BREAKER_RESET_ANNOTATION.to_string(),
            "1700000000".to_string(),
        )]
        .into();
        assert_eq!(pending_reset(Some(&a), None).as_deref(), Some("1700000000"));
        assert_eq!(
            pending_reset(Some(&a), Some("1699999999")).as_deref(),
            Some("1700000000")
        );
        assert_eq!(pending_reset(Some(&a), Some("1700000000")), None);
        assert_eq!(pending_reset(None, None), None);
        let blank: BTreeMap<String, String> =
            [(BREAKER_RESET_ANNOTATION.to_string(), " ".to_string())].into();
        assert_eq!(pending_reset(Some(&blank), None), None);
    }
}
