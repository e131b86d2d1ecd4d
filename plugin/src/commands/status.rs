//! `status [NG...] [--watch]`: the NodeGroups, their VPSieNodes by phase, the controller's
//! health and each group's last decision.
//!
//! Collect (three reads: NodeGroups, VPSieNodes, the status ConfigMap) -> [`compute`] (pure,
//! into [`StatusView`]) -> [`render_table`] or JSON/YAML of [`StatusView`].
//!
//! # `-o json` / `-o yaml`: the stable output (`schemaVersion` 1)
//!
//! ```text
//! {
//!   "schemaVersion": 1,                 // this struct's version; bumped on breaking changes
//!   "pluginVersion": "0.1.0",
//!   "namespace": "kube-system",         // the controller's namespace (-n)
//!   "allNamespaces": false,             // -A: NodeGroups and VPSieNodes of every namespace
//!   "generatedAt": "<RFC 3339>",        // the time ages were measured against
//!   "controller": {                     // null when the controller publishes no report
//!     "version", "identity", "leader", "isLeader", "dryRun", "reportedAt",
//!     "breaker":     {state: closed|open|half-open, since, consecutiveFailures, openedCount,
//!                     nextProbeAt, lastFailure} | null,
//!     "apiErrors":   {windowSeconds, byType: {server_error: n, ...}, total, totalSinceStart},
//!     "rateLimit":   {tokens, capacity, waiting, blockedUntil, waitsTotal, rateLimitedTotal} | null,
//!     "credentials": {fingerprint, loadedAt, state: pending|loaded|missing|invalid, message}
//!   },
//!   "controllerProblem": "<one line with the fix>" | null,   // why `controller` is null
//!   "nodeGroups": [{
//!     "namespace", "name", "minNodes", "maxNodes", "effectiveMin", "effectiveMax",
//!     "currentNodes", "readyNodes", "desiredNodes", "paused", "pauseReason",
//!     "lastScaleTime", "conditions": [{type, status, reason, message}], "conditionSummary",
//!     "nodesByPhase": {"Ready": 3, ...}, "problem",
//!     "lastDecision": {at, action: ScaleUp|ScaleDown|NoChange|Blocked, reason, message, details},
//!     "scaleDown": {at, remove, keep, leaving, keptBecause: {"AtMinNodes": 3, ...},
//!                   blocked, consolidation} | null
//!   }],
//!   "nodesByPhase": {"Ready": 3, ...}    // every VPSieNode read
//! }
//! ```
//!
//! Absent optional values are `null`; maps are sorted by key; groups by namespace, then name.
//! With `-A`, a group outside the controller's namespace has no `lastDecision` and a `problem`
//! saying that no controller reconciles it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use comfy_table::{presets, Cell, ContentArrangement, Table};
use futures::StreamExt;
use kube::runtime::watcher;
use serde::{Deserialize, Serialize};
use vpsie_autoscaler::api::{NodeGroup, VPSieNode};
use vpsie_reconciler::report::{
    ApiErrorsReport, BreakerReport, BreakerStatus, CredentialsReport, CredentialsStatus, Decision,
    RateLimitReport, StatusReport, STATUS_CONFIGMAP,
};

use crate::cli::OutputFormat;
use crate::commands::common::{self, ago, Cluster};
use crate::error::PluginError;

/// The annotation holding why a group was paused (`kubectl vpsie pause --reason`).
pub const PAUSE_REASON: &str = "autoscaler.vpsie.com/pause-reason";

/// The version of [`StatusView`]'s JSON.
pub const SCHEMA_VERSION: u32 = 1;

/// `status -o json`: see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// This binary's version.
    pub plugin_version: String,
    /// The controller's namespace (`-n`).
    pub namespace: String,
    /// `-A`: the groups and nodes of every namespace.
    #[serde(default)]
    pub all_namespaces: bool,
    /// The time ages were measured against.
    pub generated_at: DateTime<Utc>,
    /// The controller's health, from its report; `None` when there is none.
    pub controller: Option<ControllerView>,
    /// Why `controller` is `None`: one line with the fix.
    pub controller_problem: Option<String>,
    /// The NodeGroups, by name.
    pub node_groups: Vec<GroupView>,
    /// Every VPSieNode of the namespace by phase.
    pub nodes_by_phase: BTreeMap<String, u32>,
}

/// The controller's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ControllerView {
    /// The controller's version.
    pub version: String,
    /// The replica that wrote the report.
    pub identity: String,
    /// The Lease holder.
    pub leader: Option<String>,
    /// Whether the writer leads.
    pub is_leader: bool,
    /// Whether it only plans.
    pub dry_run: bool,
    /// When the report was built.
    pub reported_at: DateTime<Utc>,
    /// The circuit breaker (`None` while the controller has no VPSie client).
    pub breaker: Option<BreakerReport>,
    /// VPSie API errors by type in the window.
    pub api_errors: ApiErrorsReport,
    /// The rate limiter.
    pub rate_limit: Option<RateLimitReport>,
    /// The credentials (fingerprint only, never the secret).
    pub credentials: CredentialsReport,
}

/// One NodeGroup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupView {
    /// Namespace.
    #[serde(default)]
    pub namespace: String,
    /// Name.
    pub name: String,
    /// `spec.minNodes`.
    pub min_nodes: i32,
    /// `spec.maxNodes`.
    pub max_nodes: i32,
    /// minNodes after the override annotation.
    pub effective_min: i32,
    /// maxNodes after the override annotation.
    pub effective_max: i32,
    /// `status.currentNodes`.
    pub current_nodes: i32,
    /// `status.readyNodes`.
    pub ready_nodes: i32,
    /// `status.desiredNodes`.
    pub desired_nodes: i32,
    /// `autoscaler.vpsie.com/pause` is "true".
    pub paused: bool,
    /// `autoscaler.vpsie.com/pause-reason`.
    pub pause_reason: Option<String>,
    /// `status.lastScaleTime`.
    pub last_scale_time: Option<DateTime<Utc>>,
    /// `status.conditions`.
    pub conditions: Vec<ConditionView>,
    /// The conditions in a few words (`Ready, AtMinCapacity`).
    pub condition_summary: String,
    /// The group's VPSieNodes by phase.
    pub nodes_by_phase: BTreeMap<String, u32>,
    /// A malformed annotation (its message names it and the fix).
    pub problem: Option<String>,
    /// The controller's last decision.
    pub last_decision: Option<Decision>,
    /// The last scale-down round, summed up.
    pub scale_down: Option<ScaleDownView>,
    /// How its nodes are provisioned (`status.backend`: `vm`, `managedKubernetes`), once the
    /// controller has said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// For `managedKubernetes`: the cluster and node groups, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_kubernetes: Option<String>,
}

/// A condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConditionView {
    /// Type.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False`, `Unknown`.
    pub status: String,
    /// Machine-readable reason.
    pub reason: String,
    /// For humans.
    pub message: String,
}

/// The last scale-down round of a group, summed up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleDownView {
    /// When the verdicts last changed.
    pub at: DateTime<Utc>,
    /// Nodes to remove.
    pub remove: u32,
    /// Nodes kept.
    pub keep: u32,
    /// Nodes already leaving (Terminating, Deleting).
    pub leaving: u32,
    /// Why nodes are kept: reason -> count.
    pub kept_because: BTreeMap<String, u32>,
    /// Why nothing is removed at all.
    pub blocked: Option<String>,
    /// A consolidation opportunity.
    pub consolidation: Option<String>,
    /// Each node: (node, action, reason, message) — shown by `-o wide`.
    pub nodes: Vec<NodeVerdict>,
}

/// One node's scale-down verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeVerdict {
    /// Node.
    pub node: String,
    /// `Remove`, `Keep`, `Terminating`...
    pub action: String,
    /// Machine-readable reason.
    pub reason: String,
    /// For humans.
    pub message: String,
}

/// What [`compute`] reads: plain data.
#[derive(Debug, Clone)]
pub struct StatusInput {
    /// The NodeGroups.
    pub nodegroups: Vec<NodeGroup>,
    /// The VPSieNodes.
    pub vpsienodes: Vec<VPSieNode>,
    /// The report, or why there is none (one line).
    pub report: Result<StatusReport, String>,
    /// Whether the groups and nodes are of every namespace (`-A`).
    pub all_namespaces: bool,
}

fn k8s_time(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> DateTime<Utc> {
    vpsie_autoscaler::api::chrono_time(t)
}

/// Every time the cluster wrote in `input` (for [`common::reference_now`]).
fn times_seen(input: &StatusInput) -> Vec<DateTime<Utc>> {
    let mut seen = Vec::new();
    if let Ok(r) = &input.report {
        seen.push(r.generated_at);
    }
    for ng in &input.nodegroups {
        if let Some(s) = &ng.status {
            seen.extend(s.last_scale_time.as_ref().map(k8s_time));
            seen.extend(
                s.conditions
                    .iter()
                    .map(|c| k8s_time(&c.last_transition_time)),
            );
        }
    }
    for vn in &input.vpsienodes {
        seen.extend(crate::commands::nodes::timestamps(vn));
    }
    seen
}

/// The summary of a group's conditions: `Ready` (or `NotReady: reason`), then every other
/// condition that is `True`. Pure.
pub fn condition_summary(conditions: &[ConditionView]) -> String {
    let mut parts = Vec::new();
    match conditions.iter().find(|c| c.type_ == "Ready") {
        Some(c) if c.status == "True" => parts.push("Ready".to_string()),
        Some(c) if c.reason.is_empty() => parts.push("NotReady".to_string()),
        Some(c) => parts.push(format!("NotReady: {}", c.reason)),
        None => parts.push("Unknown".to_string()),
    }
    for c in conditions {
        if c.type_ != "Ready" && c.status == "True" {
            if c.type_ == "Error" && !c.reason.is_empty() {
                parts.push(format!("Error: {}", c.reason));
            } else {
                parts.push(c.type_.clone());
            }
        }
    }
    parts.join(", ")
}

/// Builds the view of the groups named in `only` (all when empty). Pure.
pub fn compute(
    input: &StatusInput,
    only: &[String],
    wall_now: DateTime<Utc>,
    plugin_version: &str,
    namespace: &str,
) -> StatusView {
    let now = common::reference_now(wall_now, times_seen(input));
    let report = input.report.as_ref().ok();
    let mut by_group: BTreeMap<(&str, &str), BTreeMap<String, u32>> = BTreeMap::new();
    let mut all_phases = BTreeMap::new();
    for vn in &input.vpsienodes {
        let phase = vn.phase().as_str().to_string();
        let ns = vn.metadata.namespace.as_deref().unwrap_or(namespace);
        *by_group
            .entry((ns, vn.node_group_name()))
            .or_default()
            .entry(phase.clone())
            .or_default() += 1;
        *all_phases.entry(phase).or_default() += 1;
    }
    let mut groups: Vec<GroupView> = input
        .nodegroups
        .iter()
        .filter(|ng| only.is_empty() || only.iter().any(|n| Some(n) == ng.metadata.name.as_ref()))
        .map(|ng| {
            let name = ng.metadata.name.clone().unwrap_or_default();
            let group_ns = ng
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| namespace.to_string());
            let watched = group_ns == namespace;
            let annotations = ng.metadata.annotations.clone().unwrap_or_default();
            let mut problems = Vec::new();
            if !watched {
                problems.push(unwatched_problem(&group_ns, namespace));
            }
            let paused = ng.is_paused().unwrap_or_else(|e| {
                problems.push(e.to_string());
                false
            });
            let (effective_min, effective_max) = ng.effective_min_max().unwrap_or_else(|e| {
                problems.push(e.to_string());
                (ng.spec.min_nodes, ng.spec.max_nodes)
            });
            let status = ng.status.clone().unwrap_or_default();
            let conditions: Vec<ConditionView> = status
                .conditions
                .iter()
                .map(|c| ConditionView {
                    type_: c.type_.clone(),
                    status: c.status.to_string(),
                    reason: c.reason.clone(),
                    message: c.message.clone(),
                })
                .collect();
            let entry = report
                .filter(|_| watched)
                .and_then(|r| r.node_groups.get(&name));
            let scale_down = entry.and_then(|g| g.scale_down.as_ref()).map(|sd| {
                let mut v = ScaleDownView {
                    at: sd.at,
                    remove: 0,
                    keep: 0,
                    leaving: 0,
                    kept_because: BTreeMap::new(),
                    blocked: sd.blocked.clone(),
                    consolidation: sd.consolidation.clone(),
                    nodes: Vec::new(),
                };
                for n in &sd.nodes {
                    match n.action.as_str() {
                        "Remove" => v.remove += 1,
                        "Keep" => {
                            v.keep += 1;
                            *v.kept_because.entry(n.reason.clone()).or_default() += 1;
                        }
                        _ => v.leaving += 1,
                    }
                    v.nodes.push(NodeVerdict {
                        node: n.node.clone(),
                        action: n.action.clone(),
                        reason: n.reason.clone(),
                        message: n.message.clone(),
                    });
                }
                v
            });
            GroupView {
                backend: status.backend.map(|b| b.to_string()),
                managed_kubernetes: status.managed_kubernetes.as_ref().map(|m| {
                    let groups: Vec<String> = m
                        .groups
                        .iter()
                        .map(|g| format!("{} #{} ({})", g.group_name, g.group_id, g.offering_id))
                        .collect();
                    format!(
                        "cluster {} ({}), node group {}",
                        m.cluster_name,
                        m.cluster_id,
                        groups.join(", ")
                    )
                }),
                min_nodes: ng.spec.min_nodes,
                max_nodes: ng.spec.max_nodes,
                effective_min,
                effective_max,
                current_nodes: status.current_nodes,
                ready_nodes: status.ready_nodes,
                desired_nodes: status.desired_nodes,
                paused,
                pause_reason: annotations.get(PAUSE_REASON).cloned(),
                last_scale_time: status.last_scale_time.as_ref().map(k8s_time),
                condition_summary: condition_summary(&conditions),
                conditions,
                nodes_by_phase: by_group
                    .get(&(group_ns.as_str(), name.as_str()))
                    .cloned()
                    .unwrap_or_default(),
                problem: (!problems.is_empty()).then(|| problems.join("; ")),
                last_decision: entry.and_then(|g| g.last_decision.clone()),
                scale_down,
                name,
                namespace: group_ns,
            }
        })
        .collect();
    groups.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    StatusView {
        schema_version: SCHEMA_VERSION,
        plugin_version: plugin_version.to_string(),
        namespace: namespace.to_string(),
        all_namespaces: input.all_namespaces,
        generated_at: now,
        controller: report.map(|r| ControllerView {
            version: r.controller.version.clone(),
            identity: r.controller.identity.clone(),
            leader: r.controller.leader.clone(),
            is_leader: r.controller.is_leader,
            dry_run: r.controller.dry_run,
            reported_at: r.generated_at,
            breaker: r.breaker.clone(),
            api_errors: r.api_errors.clone(),
            rate_limit: r.rate_limit.clone(),
            credentials: r.credentials.clone(),
        }),
        controller_problem: input.report.as_ref().err().cloned(),
        node_groups: groups,
        nodes_by_phase: all_phases,
    }
}

/// Why a NodeGroup outside the controller's namespace does nothing, and the fix. Pure.
pub fn unwatched_problem(group_ns: &str, controller_ns: &str) -> String {
    format!(
        "in namespace {group_ns}, which the controller of namespace {controller_ns} does not watch: nothing scales it; recreate it in {controller_ns}, or run a controller with --watch-namespace {group_ns}"
    )
}

/// `3/20`, or `3/20 (max 15 override)` when an override is in force. Pure.
pub fn bounds(g: &GroupView) -> String {
    let mut overrides = Vec::new();
    if g.effective_min != g.min_nodes {
        overrides.push(format!("min {}", g.effective_min));
    }
    if g.effective_max != g.max_nodes {
        overrides.push(format!("max {}", g.effective_max));
    }
    let base = format!("{}/{}", g.min_nodes, g.max_nodes);
    if overrides.is_empty() {
        base
    } else {
        format!("{base} ({} override)", overrides.join(", "))
    }
}

fn phases(m: &BTreeMap<String, u32>) -> String {
    if m.is_empty() {
        return "-".to_string();
    }
    m.iter()
        .map(|(p, n)| format!("{p}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn breaker_state(s: BreakerStatus) -> &'static str {
    match s {
        BreakerStatus::Closed => "closed",
        BreakerStatus::Open => "OPEN",
        BreakerStatus::HalfOpen => "half-open",
    }
}

fn credentials_state(s: CredentialsStatus) -> &'static str {
    match s {
        CredentialsStatus::Pending => "pending",
        CredentialsStatus::Loaded => "loaded",
        CredentialsStatus::Missing => "MISSING",
        CredentialsStatus::Invalid => "INVALID",
    }
}

/// A kubectl-like table: no borders, columns separated by spaces.
pub fn plain_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(|h| Cell::new(*h)));
    for c in t.column_iter_mut() {
        c.set_padding((0, 3));
    }
    t
}

/// Renders a table as text, trailing spaces trimmed.
pub fn table_text(t: &Table) -> String {
    let mut out = String::new();
    for line in t.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The controller's health in a few lines. Pure.
pub fn render_controller(v: &StatusView) -> String {
    let now = v.generated_at;
    let mut out = String::new();
    let Some(c) = &v.controller else {
        let _ = writeln!(
            out,
            "Controller:  {}",
            v.controller_problem
                .as_deref()
                .unwrap_or("no status report")
        );
        return out;
    };
    let leader = match (&c.leader, c.is_leader) {
        (Some(l), true) if *l == c.identity => format!("{l} (leader)"),
        (Some(l), _) => format!("{} (leader: {l})", c.identity),
        (None, _) => format!("{} (no leader)", c.identity),
    };
    let _ = writeln!(
        out,
        "Controller:  {leader}, version {}, plugin {}{}; reported {}",
        c.version,
        v.plugin_version,
        if c.dry_run { ", DRY RUN" } else { "" },
        ago(now, Some(c.reported_at))
    );
    match &c.breaker {
        Some(b) => {
            let mut line = format!(
                "Breaker:     {} since {} ({}), {} consecutive failures, opened {} times",
                breaker_state(b.state),
                b.since.format("%Y-%m-%d %H:%M:%SZ"),
                ago(now, Some(b.since)),
                b.consecutive_failures,
                b.opened_count
            );
            if let Some(p) = b.next_probe_at {
                let _ = write!(line, "; next probe {}", p.format("%H:%M:%SZ"));
            }
            let _ = writeln!(out, "{line}");
        }
        None => {
            let _ = writeln!(
                out,
                "Breaker:     - (no VPSie client yet: credentials not loaded)"
            );
        }
    }
    let window = common::short_duration(chrono::Duration::seconds(
        i64::try_from(c.api_errors.window_seconds).unwrap_or(i64::MAX),
    ));
    if c.api_errors.by_type.is_empty() {
        let _ = writeln!(out, "API errors:  none in the last {window}");
    } else {
        let types = c
            .api_errors
            .by_type
            .iter()
            .map(|(t, n)| format!("{t}={n}"))
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            out,
            "API errors:  {} in the last {window}: {types}",
            c.api_errors.total
        );
    }
    match &c.rate_limit {
        Some(r) => {
            let mut line = format!(
                "Rate limit:  {:.0}/{} tokens, {} waiting, {} waits and {} 429s since start",
                r.tokens.max(0.0),
                r.capacity,
                r.waiting,
                r.waits_total,
                r.rate_limited_total
            );
            if let Some(b) = r.blocked_until.filter(|b| *b > now) {
                let _ = write!(line, "; blocked until {}", b.format("%H:%M:%SZ"));
            }
            let _ = writeln!(out, "{line}");
        }
        None => {
            let _ = writeln!(out, "Rate limit:  -");
        }
    }
    let cr = &c.credentials;
    let state = credentials_state(cr.state);
    let mut line = format!("Credentials: {state}");
    if let Some(at) = cr.loaded_at {
        let _ = write!(line, " {}", ago(now, Some(at)));
    }
    if let Some(f) = &cr.fingerprint {
        let _ = write!(line, ", fingerprint {f}");
    }
    if let Some(m) = &cr.message {
        let _ = write!(line, "; {m}");
    }
    let _ = writeln!(out, "{line}");
    out
}

/// The whole `status` table output. Pure: the same view gives the same text.
pub fn render_table(v: &StatusView, wide: bool) -> String {
    let now = v.generated_at;
    let mut out = render_controller(v);
    out.push('\n');
    if v.node_groups.is_empty() {
        let place = if v.all_namespaces {
            "any namespace".to_string()
        } else {
            format!("namespace {}", v.namespace)
        };
        let _ = writeln!(
            out,
            "No NodeGroups in {place}: create one (see `kubectl explain nodegroup.spec`)."
        );
        return out;
    }
    let mut header = vec![
        "NODEGROUP",
        "MIN/MAX",
        "CURRENT",
        "READY",
        "DESIRED",
        "PAUSED",
        "LAST SCALE",
        "CONDITIONS",
        "NODES",
    ];
    if v.all_namespaces {
        header.insert(0, "NAMESPACE");
    }
    let mut t = plain_table(&header);
    for g in &v.node_groups {
        let mut row = Vec::with_capacity(header.len());
        if v.all_namespaces {
            row.push(g.namespace.clone());
        }
        row.extend([
            g.name.clone(),
            bounds(g),
            g.current_nodes.to_string(),
            g.ready_nodes.to_string(),
            g.desired_nodes.to_string(),
            if g.paused { "yes" } else { "no" }.to_string(),
            ago(now, g.last_scale_time),
            g.condition_summary.clone(),
            phases(&g.nodes_by_phase),
        ]);
        t.add_row(row);
    }
    out.push_str(&table_text(&t));
    out.push('\n');
    for g in &v.node_groups {
        if v.all_namespaces {
            let _ = writeln!(out, "{}/{}:", g.namespace, g.name);
        } else {
            let _ = writeln!(out, "{}:", g.name);
        }
        if g.paused {
            let _ = writeln!(
                out,
                "  paused{} (resume: kubectl vpsie resume {})",
                g.pause_reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default(),
                g.name
            );
        }
        if let Some(p) = &g.problem {
            let _ = writeln!(out, "  problem: {p}");
        }
        if g.backend.as_deref() == Some("managedKubernetes") {
            let _ = writeln!(
                out,
                "  backend: managedKubernetes: {}",
                g.managed_kubernetes
                    .as_deref()
                    .unwrap_or("cluster and node group not found yet")
            );
        }
        match &g.last_decision {
            Some(d) => {
                let _ = writeln!(
                    out,
                    "  last decision {}: {:?} ({}): {}",
                    ago(now, Some(d.at)),
                    d.action,
                    d.reason,
                    d.message
                );
                let shown = if wide {
                    d.details.len()
                } else {
                    d.details.len().min(3)
                };
                for detail in &d.details[..shown] {
                    let _ = writeln!(out, "    - {detail}");
                }
                if shown < d.details.len() {
                    let _ = writeln!(out, "    ... {} more (-o wide)", d.details.len() - shown);
                }
            }
            None if v.controller.is_some() && g.namespace == v.namespace => {
                let _ = writeln!(out, "  last decision: none yet");
            }
            None => {}
        }
        if let Some(sd) = &g.scale_down {
            let mut line = format!(
                "  scale-down {}: {} kept, {} to remove, {} leaving",
                ago(now, Some(sd.at)),
                sd.keep,
                sd.remove,
                sd.leaving
            );
            if !sd.kept_because.is_empty() {
                let mut reasons: Vec<(&String, &u32)> = sd.kept_because.iter().collect();
                reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                let text = reasons
                    .iter()
                    .map(|(r, n)| format!("{r} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let _ = write!(line, " (kept: {text})");
            }
            let _ = writeln!(out, "{line}");
            if let Some(b) = &sd.blocked {
                let _ = writeln!(out, "    blocked: {b}");
            }
            if let Some(c) = &sd.consolidation {
                let _ = writeln!(out, "    consolidation: {c}");
            }
            if wide {
                for n in &sd.nodes {
                    let _ = writeln!(
                        out,
                        "    {} {} ({}): {}",
                        n.node, n.action, n.reason, n.message
                    );
                }
            }
        }
    }
    out
}

/// One line per group for `--watch` without a terminal. Pure.
pub fn watch_lines(v: &StatusView) -> Vec<String> {
    let mut lines = Vec::new();
    let at = v.generated_at.format("%Y-%m-%dT%H:%M:%SZ");
    match &v.controller {
        Some(c) => lines.push(format!(
            "{at} controller leader={} breaker={} apiErrors={} credentials={}",
            c.leader.as_deref().unwrap_or("-"),
            c.breaker
                .as_ref()
                .map(|b| breaker_state(b.state))
                .unwrap_or("-"),
            c.api_errors.total,
            credentials_state(c.credentials.state)
        )),
        None => lines.push(format!(
            "{at} controller absent: {}",
            v.controller_problem.as_deref().unwrap_or("-")
        )),
    }
    for g in &v.node_groups {
        let decision = g
            .last_decision
            .as_ref()
            .map(|d| format!("{:?}({})", d.action, d.reason))
            .unwrap_or_else(|| "-".to_string());
        let name = if v.all_namespaces {
            format!("{}/{}", g.namespace, g.name)
        } else {
            g.name.clone()
        };
        lines.push(format!(
            "{at} {name} bounds={} current={} ready={} desired={} paused={} conditions={:?} nodes={:?} decision={decision}",
            bounds(g).replace(' ', "_"),
            g.current_nodes,
            g.ready_nodes,
            g.desired_nodes,
            g.paused,
            g.condition_summary,
            phases(&g.nodes_by_phase),
        ));
    }
    lines
}

/// Reads what `status` shows. A missing or unreadable report is not an error: its message goes
/// into the view.
pub async fn collect(cluster: &Cluster, only: &[String]) -> Result<StatusInput, PluginError> {
    let (ngs, vns, cm) = tokio::join!(
        cluster.list_nodegroups(),
        cluster.list_vpsienodes(None),
        cluster.status_configmap()
    );
    let nodegroups = ngs?.items;
    for name in only {
        if !nodegroups
            .iter()
            .any(|ng| ng.metadata.name.as_deref() == Some(name))
        {
            return Err(PluginError::NotFound {
                kind: "NodeGroup",
                short: "ng",
                name: name.clone(),
                namespace: cluster.namespace.clone(),
            });
        }
    }
    let report = match cm? {
        None => Err(PluginError::ControllerAbsent {
            namespace: cluster.namespace.clone(),
        }
        .to_string()),
        Some(cm) => common::parse_report(&cluster.namespace, &cm).map_err(|e| e.to_string()),
    };
    Ok(StatusInput {
        nodegroups,
        vpsienodes: vns?,
        report,
        all_namespaces: cluster.all_namespaces,
    })
}

fn print_view(view: &StatusView, format: OutputFormat) -> Result<String, PluginError> {
    match common::structured(format, view) {
        Some(text) => text,
        None => Ok(render_table(view, format == OutputFormat::Wide)),
    }
}

/// `status`.
pub async fn run(
    cluster: &Cluster,
    only: &[String],
    watch: bool,
    format: OutputFormat,
) -> Result<(), PluginError> {
    let version = env!("CARGO_PKG_VERSION");
    if !watch {
        let input = collect(cluster, only).await?;
        let view = compute(&input, only, Utc::now(), version, &cluster.namespace);
        crate::out!("{}", print_view(&view, format)?);
        return Ok(());
    }
    run_watch(cluster, only, format, version).await
}

enum Change {
    Group(watcher::Event<NodeGroup>),
    Node(watcher::Event<VPSieNode>),
    Report(watcher::Event<k8s_openapi::api::core::v1::ConfigMap>),
}

/// `status --watch`: keeps the three collections current with watches and redraws when the
/// view changes. On a terminal the screen is redrawn; otherwise (and with -o json|yaml) each
/// change is printed: the changed lines, or one JSON document per line.
async fn run_watch(
    cluster: &Cluster,
    only: &[String],
    format: OutputFormat,
    version: &str,
) -> Result<(), PluginError> {
    use kube::runtime::WatchStreamExt;
    // the first state comes from plain reads, so errors (no CRD, not found) are the usual ones
    let mut input = collect(cluster, only).await?;
    let tty = common::stdout_is_tty();
    let cm_config = watcher::Config::default().fields(&format!("metadata.name={STATUS_CONFIGMAP}"));
    let groups = watcher::watcher(cluster.nodegroups_listed(), watcher::Config::default())
        .default_backoff()
        .map(|e| e.map(Change::Group))
        .boxed();
    let nodes = watcher::watcher(cluster.vpsienodes_listed(), watcher::Config::default())
        .default_backoff()
        .map(|e| e.map(Change::Node))
        .boxed();
    let reports = watcher::watcher(cluster.configmaps(), cm_config)
        .default_backoff()
        .map(|e| e.map(Change::Report))
        .boxed();
    let mut changes = futures::stream::select(futures::stream::select(groups, nodes), reports);
    let mut pending_groups: Option<Vec<NodeGroup>> = None;
    let mut pending_nodes: Option<Vec<VPSieNode>> = None;
    let mut pending_cm: Option<Option<k8s_openapi::api::core::v1::ConfigMap>> = None;
    let mut last_lines: Vec<String> = Vec::new();
    let mut last_text = String::new();
    let mut first = true;
    loop {
        let view = compute(&input, only, Utc::now(), version, &cluster.namespace);
        match format {
            OutputFormat::Json | OutputFormat::Yaml => {
                let text = if format == OutputFormat::Json {
                    serde_json::to_string(&view).map_err(|e| PluginError::Api(e.to_string()))?
                        + "\n"
                } else {
                    format!(
                        "---\n{}",
                        vpsie_autoscaler::yaml::to_string(&view)
                            .map_err(|e| PluginError::Api(e.to_string()))?
                    )
                };
                let mut cmp = view.clone();
                cmp.generated_at = DateTime::<Utc>::MIN_UTC;
                let key = serde_json::to_string(&cmp).unwrap_or_default();
                if key != last_text {
                    crate::out!("{text}");
                    last_text = key;
                }
            }
            _ if tty => {
                let text = render_table(&view, format == OutputFormat::Wide);
                if text != last_text {
                    crate::out!("\x1b[2J\x1b[H{text}");
                    last_text = text;
                }
            }
            _ => {
                if first {
                    crate::out!("{}", render_table(&view, format == OutputFormat::Wide));
                }
                let lines = watch_lines(&view);
                let strip = |l: &String| {
                    l.split_once(' ')
                        .map(|x| x.1.to_string())
                        .unwrap_or_default()
                };
                let old: Vec<String> = last_lines.iter().map(strip).collect();
                for l in &lines {
                    if !first && !old.contains(&strip(l)) {
                        crate::outln!("{l}");
                    }
                }
                last_lines = lines;
            }
        }
        first = false;
        // apply one event, then every event already waiting, then redraw
        let mut next = changes.next().await;
        loop {
            match next {
                None => return Err(PluginError::Api("the watches ended".into())),
                Some(Err(e)) => tracing::warn!(error = %e, "watch failed; retrying"),
                Some(Ok(change)) => apply(
                    change,
                    &mut input,
                    &mut pending_groups,
                    &mut pending_nodes,
                    &mut pending_cm,
                    &cluster.namespace,
                ),
            }
            match futures::FutureExt::now_or_never(changes.next()) {
                Some(n) => next = n,
                None => break,
            }
        }
    }
}

fn apply(
    change: Change,
    input: &mut StatusInput,
    groups: &mut Option<Vec<NodeGroup>>,
    nodes: &mut Option<Vec<VPSieNode>>,
    cm: &mut Option<Option<k8s_openapi::api::core::v1::ConfigMap>>,
    namespace: &str,
) {
    use watcher::Event;
    fn upsert<K: kube::Resource>(list: &mut Vec<K>, obj: K) {
        let key = (obj.meta().namespace.clone(), obj.meta().name.clone());
        match list
            .iter_mut()
            .find(|o| (o.meta().namespace.clone(), o.meta().name.clone()) == key)
        {
            Some(slot) => *slot = obj,
            None => list.push(obj),
        }
    }
    fn remove<K: kube::Resource>(list: &mut Vec<K>, obj: &K) {
        list.retain(|o| {
            o.meta().name != obj.meta().name || o.meta().namespace != obj.meta().namespace
        });
    }
    let set_report = |input: &mut StatusInput,
                      c: Option<&k8s_openapi::api::core::v1::ConfigMap>| {
        input.report = match c {
            None => Err(PluginError::ControllerAbsent {
                namespace: namespace.to_string(),
            }
            .to_string()),
            Some(c) => common::parse_report(namespace, c).map_err(|e| e.to_string()),
        };
    };
    match change {
        Change::Group(Event::Init) => *groups = Some(Vec::new()),
        Change::Group(Event::InitApply(o)) => groups.get_or_insert_with(Vec::new).push(o),
        Change::Group(Event::InitDone) => input.nodegroups = groups.take().unwrap_or_default(),
        Change::Group(Event::Apply(o)) => upsert(&mut input.nodegroups, o),
        Change::Group(Event::Delete(o)) => remove(&mut input.nodegroups, &o),
        Change::Node(Event::Init) => *nodes = Some(Vec::new()),
        Change::Node(Event::InitApply(o)) => nodes.get_or_insert_with(Vec::new).push(o),
        Change::Node(Event::InitDone) => input.vpsienodes = nodes.take().unwrap_or_default(),
        Change::Node(Event::Apply(o)) => upsert(&mut input.vpsienodes, o),
        Change::Node(Event::Delete(o)) => remove(&mut input.vpsienodes, &o),
        Change::Report(Event::Init) => *cm = Some(None),
        Change::Report(Event::InitApply(o)) => *cm = Some(Some(o)),
        Change::Report(Event::InitDone) => {
            let c = cm.take().flatten();
            set_report(input, c.as_ref());
        }
        Change::Report(Event::Apply(o)) => set_report(input, Some(&o)),
        Change::Report(Event::Delete(_)) => set_report(input, None),
    }
}

/// Used by `reconcile` to print a group's decision after the fact.
pub fn decision_lines(now: DateTime<Utc>, d: &Decision) -> String {
    let mut out = format!(
        "last decision {}: {:?} ({}): {}\n",
        ago(now, Some(d.at)),
        d.action,
        d.reason,
        d.message
    );
    for detail in &d.details {
        let _ = writeln!(out, "  - {detail}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpsie_reconciler::report::{GroupReport, NodeScaleDown, ScaleDownReport};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").to_utc()
    }

    fn nodegroup(name: &str, annotations: serde_json::Value) -> NodeGroup {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
            "metadata": {"name": name, "namespace": "kube-system", "annotations": annotations},
            "spec": {"minNodes": 3, "maxNodes": 20, "datacenterID": "dc-us-east-1",
                     "offeringIDs": ["medium-4cpu-8gb"], "osImageID": "ubuntu-22.04-lts"},
            "status": {"currentNodes": 4, "desiredNodes": 5, "readyNodes": 3,
                       "lastScaleTime": "2025-10-12T09:45:00Z",
                       "conditions": [
                         {"type": "Ready", "status": "False", "lastTransitionTime": "2025-10-12T09:45:00Z", "reason": "NodesNotReady", "message": "1 of 4 not ready"},
                         {"type": "Scaling", "status": "True", "lastTransitionTime": "2025-10-12T09:45:00Z", "reason": "ScalingUp", "message": ""},
                         {"type": "AtMinCapacity", "status": "False", "lastTransitionTime": "2025-10-12T09:45:00Z", "reason": "", "message": ""}]}
        }))
        .expect("nodegroup")
    }

    fn vpsienode(name: &str, group: &str, phase: &str) -> VPSieNode {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "VPSieNode",
            "metadata": {"name": name, "namespace": "kube-system", "creationTimestamp": "2025-10-12T09:40:00Z"},
            "spec": {"vpsieInstanceID": 1001, "instanceType": "medium-4cpu-8gb", "nodeGroupName": group, "datacenterID": "dc-us-east-1"},
            "status": {"phase": phase}
        }))
        .expect("vpsienode")
    }

    fn report() -> StatusReport {
        let at = t("2025-10-12T09:59:30Z");
        let mut groups = BTreeMap::new();
        groups.insert(
            "web".to_string(),
            GroupReport {
                last_decision: Some(Decision {
                    at: t("2025-10-12T09:45:00Z"),
                    action: vpsie_reconciler::report::DecisionAction::ScaleUp,
                    reason: "PendingPods".into(),
                    message: "2 pending pods need 1 medium-4cpu-8gb".into(),
                    details: vec![
                        "pod default/a".into(),
                        "pod default/b".into(),
                        "pod default/c".into(),
                        "pod default/d".into(),
                    ],
                }),
                scale_down: Some(ScaleDownReport {
                    at: t("2025-10-12T09:58:00Z"),
                    nodes: vec![
                        NodeScaleDown {
                            node: "web-1".into(),
                            action: "Keep".into(),
                            reason: "Utilized".into(),
                            message: "cpu 80%".into(),
                            ..Default::default()
                        },
                        NodeScaleDown {
                            node: "web-2".into(),
                            action: "Keep".into(),
                            reason: "AtMinNodes".into(),
                            message: "min 3".into(),
                            ..Default::default()
                        },
                        NodeScaleDown {
                            node: "web-3".into(),
                            action: "Keep".into(),
                            reason: "AtMinNodes".into(),
                            message: "min 3".into(),
                            ..Default::default()
                        },
                        NodeScaleDown {
                            node: "web-4".into(),
                            action: "Remove".into(),
                            reason: "Empty".into(),
                            message: "no pods".into(),
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        serde_json::from_value(serde_json::json!({
            "schemaVersion": 1, "generatedAt": at,
            "controller": {"version": "0.1.0", "identity": "pod-a", "leader": "pod-a", "isLeader": true, "startedAt": "2025-10-12T09:00:00Z", "dryRun": false},
            "breaker": {"state": "open", "since": "2025-10-12T09:58:00Z", "consecutiveFailures": 5, "openedCount": 1, "nextProbeAt": "2025-10-12T10:00:30Z", "lastFailure": "503 maintenance"},
            "apiErrors": {"windowSeconds": 300, "byType": {"server_error": 5, "rate_limited": 1}, "total": 6, "totalSinceStart": 9},
            "rateLimit": {"tokens": 7.6, "capacity": 20, "waiting": 0, "blockedUntil": null, "waitsTotal": 2, "rateLimitedTotal": 1},
            "credentials": {"fingerprint": "0123456789ab", "loadedAt": "2025-10-12T09:00:00Z", "state": "loaded", "message": null},
            "breakerReset": {},
            "nodeGroups": groups
        }))
        .expect("report")
    }

    fn input() -> StatusInput {
        StatusInput {
            nodegroups: vec![
                nodegroup(
                    "web",
                    serde_json::json!({"autoscaler.vpsie.com/max-nodes-override": "15", "autoscaler.vpsie.com/pause": "true", PAUSE_REASON: "maintenance"}),
                ),
                nodegroup(
                    "batch",
                    serde_json::json!({"autoscaler.vpsie.com/pause": "maybe"}),
                ),
            ],
            vpsienodes: vec![
                vpsienode("web-1", "web", "Ready"),
                vpsienode("web-2", "web", "Ready"),
                vpsienode("web-5", "web", "Provisioning"),
                vpsienode("batch-1", "batch", "Ready"),
            ],
            report: Ok(report()),
            all_namespaces: false,
        }
    }

    const NOW: &str = "2025-10-12T10:00:00Z";

    #[test]
    fn all_namespaces_shows_where_each_group_is_and_which_are_not_watched() {
        let mut i = input();
        i.all_namespaces = true;
        // a group named like a watched one, in a namespace no controller watches
        let mut stray = nodegroup("web", serde_json::json!({}));
        stray.metadata.namespace = Some("team-a".into());
        i.nodegroups.push(stray);
        let mut vn = vpsienode("web-9", "web", "Ready");
        vn.metadata.namespace = Some("team-a".into());
        i.vpsienodes.push(vn);
        let v = compute(&i, &[], t(NOW), "0.1.0", "kube-system");
        let names: Vec<(String, String)> = v
            .node_groups
            .iter()
            .map(|g| (g.namespace.clone(), g.name.clone()))
            .collect();
        assert_eq!(
            names,
            [
                ("kube-system".into(), "batch".into()),
                ("kube-system".into(), "web".into()),
                ("team-a".into(), "web".into())
            ]
        );
        let stray = &v.node_groups[2];
        assert!(stray.last_decision.is_none() && stray.scale_down.is_none());
        assert_eq!(stray.nodes_by_phase, BTreeMap::from([("Ready".into(), 1)]));
        assert_eq!(
            v.node_groups[1].nodes_by_phase,
            BTreeMap::from([("Provisioning".into(), 1), ("Ready".into(), 2)])
        );
        assert_eq!(stray.problem.as_deref(), Some("in namespace team-a, which the controller of namespace kube-system does not watch: nothing scales it; recreate it in kube-system, or run a controller with --watch-namespace team-a"));
        let text = render_table(&v, false);
        let header = text
            .lines()
            .find(|l| l.contains("NODEGROUP"))
            .expect("header");
        assert_eq!(
            header.split_whitespace().take(2).collect::<Vec<_>>(),
            ["NAMESPACE", "NODEGROUP"],
            "{text}"
        );
        assert!(
            !text.contains("team-a/web:\n  problem: in namespace team-a, which the controller of namespace kube-system does not watch: nothing scales it; recreate it in kube-system, or run a controller with --watch-namespace team-a\n  last decision"),
            "no decision line for a group no controller watches: {text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("team-a ") && l.contains(" web ")),
            "{text}"
        );
        assert!(
            text.contains("\nteam-a/web:\n  problem: in namespace team-a"),
            "{text}"
        );
        assert!(text.contains("\nkube-system/web:\n"), "{text}");
        let json = serde_json::to_value(&v).expect("json");
        assert_eq!(json["allNamespaces"], true);
        assert_eq!(json["nodeGroups"][2]["namespace"], "team-a");
        // without -A, no NAMESPACE column
        let plain = render_table(
            &compute(&input(), &[], t(NOW), "0.1.0", "kube-system"),
            false,
        );
        assert!(!plain.contains("NAMESPACE"), "{plain}");
    }

    #[test]
    fn the_table_is_stable() {
        let v = compute(&input(), &[], t(NOW), "0.1.0", "kube-system");
        let expected = "\
Controller:  pod-a (leader), version 0.1.0, plugin 0.1.0; reported 30s ago
Breaker:     OPEN since 2025-10-12 09:58:00Z (2m ago), 5 consecutive failures, opened 1 times; next probe 10:00:30Z
API errors:  6 in the last 5m: rate_limited=1 server_error=5
Rate limit:  8/20 tokens, 0 waiting, 2 waits and 1 429s since start
Credentials: loaded 60m ago, fingerprint 0123456789ab

NODEGROUP   MIN/MAX                  CURRENT   READY   DESIRED   PAUSED   LAST SCALE   CONDITIONS                 NODES
batch       3/20                     4         3       5         no       15m ago      NotReady: NodesNotReady, Scaling   Ready=1
web         3/20 (max 15 override)   4         3       5         yes      15m ago      NotReady: NodesNotReady, Scaling   Provisioning=1 Ready=2

batch:
  problem: annotation autoscaler.vpsie.com/pause has invalid value \"maybe\": expected \"true\" or \"false\"; fix: kubectl annotate --overwrite ... autoscaler.vpsie.com/pause=true (or false), or remove it
  last decision: none yet
web:
  paused: maintenance (resume: kubectl vpsie resume web)
  last decision 15m ago: ScaleUp (PendingPods): 2 pending pods need 1 medium-4cpu-8gb
    - pod default/a
    - pod default/b
    - pod default/c
    ... 1 more (-o wide)
  scale-down 2m ago: 3 kept, 1 to remove, 0 leaving (kept: AtMinNodes 2, Utilized 1)
";
        let got = render_table(&v, false);
        // the CONDITIONS column is as wide as its widest cell
        let expected = expected.replace(
            "CONDITIONS                 NODES",
            "CONDITIONS                         NODES",
        );
        assert_eq!(got, expected, "got:\n{got}");
        let wide = render_table(&v, true);
        assert!(
            wide.contains("    - pod default/d\n")
                && wide.contains("    web-4 Remove (Empty): no pods\n"),
            "{wide}"
        );
    }

    #[test]
    fn an_absent_controller_is_one_line_and_groups_still_show() {
        let mut i = input();
        i.report = Err(PluginError::ControllerAbsent {
            namespace: "kube-system".into(),
        }
        .to_string());
        let v = compute(&i, &["web".to_string()], t(NOW), "0.1.0", "kube-system");
        let text = render_table(&v, false);
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.starts_with(
                "Controller:  the autoscaler controller is not running or not publishing"
            ),
            "{text}"
        );
        assert!(text.lines().any(|l| l.starts_with("web ")), "{text}");
        assert!(!text.contains("batch"), "only the group asked for: {text}");
        assert!(v.controller.is_none() && v.controller_problem.is_some());
        assert!(!text.contains("last decision: none yet"), "{text}");
    }

    #[test]
    fn the_json_is_the_documented_struct() {
        let v = compute(&input(), &[], t(NOW), "0.1.0", "kube-system");
        let json = serde_json::to_value(&v).expect("json");
        assert_eq!(json["schemaVersion"], 1);
        let web = &json["nodeGroups"][1];
        assert_eq!(web["name"], "web");
        assert_eq!(
            (web["effectiveMax"].as_i64(), web["paused"].as_bool()),
            (Some(15), Some(true))
        );
        assert_eq!(web["pauseReason"], "maintenance");
        assert_eq!(
            web["nodesByPhase"],
            serde_json::json!({"Provisioning": 1, "Ready": 2})
        );
        assert_eq!(
            web["scaleDown"]["keptBecause"],
            serde_json::json!({"AtMinNodes": 2, "Utilized": 1})
        );
        assert_eq!(json["controller"]["breaker"]["state"], "open");
        assert_eq!(json["nodesByPhase"]["Ready"], 3);
        let back: StatusView = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, v);
        let yaml = vpsie_autoscaler::yaml::to_string(&v).expect("yaml");
        assert!(yaml.starts_with("schemaVersion: 1\n"), "{yaml}");
    }

    #[test]
    fn watch_lines_change_only_with_the_content() {
        let v = compute(&input(), &[], t(NOW), "0.1.0", "kube-system");
        let lines = watch_lines(&v);
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[2],
            "2025-10-12T10:00:00Z web bounds=3/20_(max_15_override) current=4 ready=3 desired=5 paused=true conditions=\"NotReady: NodesNotReady, Scaling\" nodes=\"Provisioning=1 Ready=2\" decision=ScaleUp(PendingPods)"
        );
        assert!(
            lines[0].contains("breaker=OPEN apiErrors=6 credentials=loaded"),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn condition_summaries() {
        let c = |t: &str, s: &str, r: &str| ConditionView {
            type_: t.into(),
            status: s.into(),
            reason: r.into(),
            message: String::new(),
        };
        assert_eq!(condition_summary(&[]), "Unknown");
        assert_eq!(
            condition_summary(&[
                c("Ready", "True", "AllNodesReady"),
                c("AtMinCapacity", "True", "")
            ]),
            "Ready, AtMinCapacity"
        );
        assert_eq!(
            condition_summary(&[
                c("Ready", "False", "InvalidConfiguration"),
                c("Error", "True", "InvalidConfiguration")
            ]),
            "NotReady: InvalidConfiguration, Error: InvalidConfiguration"
        );
    }
}
