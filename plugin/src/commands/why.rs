//! `why POD`: why a pending pod has no node yet.
//!
//! Collect (the pod, its events, the NodeGroups, VPSieNodes, nodes, DaemonSets and the status
//! report) -> [`compute`] (pure, into [`WhyView`]) -> [`render_table`] or JSON/YAML of
//! [`WhyView`] (`schemaVersion` 1).
//!
//! Each NodeGroup is judged the way scale-up judges it: a probe node with the labels and taints
//! the group's new nodes get (`scaling::fit::compatible`), the pod's requests plus the
//! DaemonSet overhead against each offering's allocatable, then pause, `scaleUpPolicy.enabled`
//! and the effective maxNodes.
//!
//! # Offering sizes
//!
//! The VPSie catalogue is not in the cluster, so each offering's size comes from the most
//! truthful source there is, and the output names it (`sizeSource`):
//! 1. `node <name>`: the allocatable a kubelet reports on a node labelled
//!    `autoscaler.vpsie.com/instance-type=<offering>` (what pods really get);
//! 2. `vpsienode <name>`: the VPS size a VPSieNode of that offering recorded
//!    (`status.resources`, as the VPSie API reported it), less the kubelet's reserve
//!    ([`capacity::allocatable`], what the planner uses);
//! 3. `offering id`: cpu and memory read from the id's name (`medium-4cpu-8gb`), an estimate;
//! 4. unknown: the offering's fit is not judged.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams};
use kube::ResourceExt;
use serde::{Deserialize, Serialize};
use vpsie_autoscaler::api::{annotations, chrono_time, NodeGroup, VPSieNode};
use vpsie_autoscaler::scaling::capacity;
use vpsie_autoscaler::scaling::fit::{
    compatible, NodeFacts, PodRequirements, Resources, TaintFact,
};
use vpsie_autoscaler::scaling::plan::Rejection;
use vpsie_autoscaler::scaling::quantity::{format_bytes, format_cpu_millis};
use vpsie_reconciler::report::StatusReport;
use vpsie_reconciler::scaleup::{counts, daemonset_overhead, in_flight};
use vpsie_reconciler::vpsienode::node_labels;

use crate::cli::OutputFormat;
use crate::commands::common::{self, ago, Cluster, Op};
use crate::commands::status::{plain_table, table_text};
use crate::error::PluginError;

/// The version of [`WhyView`]'s JSON.
pub const SCHEMA_VERSION: u32 = 1;

/// `why -o json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhyView {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `namespace/name` of the pod.
    pub pod: String,
    /// `status.phase`.
    pub phase: String,
    /// The node it is bound to.
    pub node: Option<String>,
    /// `running`, `scheduled`, `finished`, `deleting`, `waiting-for-scheduler`,
    /// `node-coming`, `can-scale-up`, `blocked`, `no-group-fits`.
    pub state: String,
    /// The answer in one line.
    pub verdict: String,
    /// What the pod requests (cpu millicores, memory bytes), plus the DaemonSet pods' share per
    /// group below.
    pub requests: RequestsView,
    /// The scheduler's own words: the PodScheduled condition and the newest FailedScheduling
    /// event.
    pub scheduler: SchedulerView,
    /// Each NodeGroup of the autoscaler's namespace, by name.
    pub node_groups: Vec<GroupWhy>,
    /// The VPSieNodes on their way that can take the pod.
    pub coming: Vec<ComingNode>,
    /// Why the report's decisions are missing, when they are.
    pub report_problem: Option<String>,
}

/// Requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestsView {
    /// CPU in millicores.
    pub cpu_millis: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
}

/// The scheduler's view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchedulerView {
    /// PodScheduled's status (`True`, `False`), `None` before the scheduler looked.
    pub pod_scheduled: Option<String>,
    /// Its reason (`Unschedulable`).
    pub reason: Option<String>,
    /// Its message.
    pub message: Option<String>,
    /// The newest `FailedScheduling` event's message.
    pub last_event: Option<String>,
    /// When it was last seen.
    pub last_event_at: Option<DateTime<Utc>>,
    /// How many times it was reported.
    pub event_count: i32,
}

/// One NodeGroup's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupWhy {
    /// Its name.
    pub name: String,
    /// Whether a new node of the group would take the pod (labels, taints, size).
    pub fits: bool,
    /// What stops the group from adding a node for the pod now (empty: nothing).
    pub rejections: Vec<String>,
    /// Its offerings, in the spec's order.
    pub offerings: Vec<OfferingWhy>,
    /// DaemonSet pods' requests on each new node (cpu millicores, memory bytes).
    pub daemonset_overhead: RequestsView,
    /// VPSieNodes counting toward its size / its effective maxNodes.
    pub nodes: usize,
    /// The effective maxNodes.
    pub max_nodes: i32,
    /// Its VPSieNodes on their way.
    pub coming: Vec<ComingNode>,
    /// The report's last decision of the group.
    pub last_decision: Option<DecisionWhy>,
}

/// An offering and whether the pod fits a node of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OfferingWhy {
    /// Offering id.
    pub id: String,
    /// What a node of it offers pods (cpu millicores), `None` when unknown.
    pub allocatable_cpu_millis: Option<i64>,
    /// Memory bytes, `None` when unknown.
    pub allocatable_memory_bytes: Option<i64>,
    /// Where the size comes from: `node NAME`, `vpsienode NAME`, `offering id (estimate)`,
    /// `unknown`.
    pub size_source: String,
    /// Whether the pod fits (after DaemonSet overhead); `None` when the size is unknown.
    pub fits: Option<bool>,
    /// Usable for the group's next node (false when the group does not mix instance types
    /// and its nodes have another one).
    pub usable: bool,
}

/// A VPSieNode on its way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComingNode {
    /// The VPSieNode.
    pub name: String,
    /// Its group.
    pub node_group: String,
    /// Its phase.
    pub phase: String,
    /// Its offering.
    pub instance_type: String,
    /// Whether the report's last decision planned it for this pod (same group and offering as
    /// a `<pod> -> new <offering>` detail).
    pub planned_for_pod: bool,
}

/// A group's last decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionWhy {
    /// When.
    pub at: DateTime<Utc>,
    /// `ScaleUp`, `ScaleDown`, `NoChange`, `Blocked`.
    pub action: String,
    /// The reason.
    pub reason: String,
    /// The message.
    pub message: String,
    /// Its details that name this pod.
    pub about_pod: Vec<String>,
}

/// What [`compute`] reads.
#[derive(Debug, Clone)]
pub struct WhyInput {
    /// The pod.
    pub pod: Pod,
    /// Its events.
    pub events: Vec<Event>,
    /// The NodeGroups.
    pub nodegroups: Vec<NodeGroup>,
    /// The VPSieNodes.
    pub vpsienodes: Vec<VPSieNode>,
    /// The nodes.
    pub nodes: Vec<Node>,
    /// The DaemonSets.
    pub daemonsets: Vec<DaemonSet>,
    /// The report, or why there is none.
    pub report: Result<StatusReport, String>,
}

/// `ns/name` or `name` (+ `--pod-namespace`, default `default`) -> (namespace, name), checked.
pub fn parse_pod_ref(text: &str, namespace: Option<&str>) -> Result<(String, String), PluginError> {
    let (ns, name) = match text.split_once('/') {
        Some((ns, name)) => {
            if let Some(flag) = namespace.filter(|f| *f != ns) {
                return Err(PluginError::Config(format!(
                    "pod {text:?} names namespace {ns:?} but --pod-namespace is {flag:?}: pass one of them"
                )));
            }
            (ns, name)
        }
        None => (namespace.unwrap_or("default"), text),
    };
    let label = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    if !label(ns) {
        return Err(PluginError::Config(format!(
            "invalid pod namespace {ns:?}: a namespace is 1-63 lowercase letters, digits or '-'; fix: pass POD as NAMESPACE/NAME or --pod-namespace NAMESPACE as `kubectl get ns` lists it"
        )));
    }
    let subdomain = !name.is_empty() && name.len() <= 253 && name.split('.').all(label);
    if !subdomain {
        return Err(PluginError::Config(format!(
            "invalid pod name {name:?}: a pod name is lowercase letters, digits, '-' and '.'; fix: pass the name as `kubectl get pods -n {ns}` lists it"
        )));
    }
    Ok((ns.to_string(), name.to_string()))
}

fn requests_view(r: Resources) -> RequestsView {
    RequestsView {
        cpu_millis: r.cpu_millis,
        memory_bytes: r.memory_bytes,
    }
}

/// cpu and memory from an offering id such as `medium-4cpu-8gb` (an estimate). Pure.
pub fn size_from_id(id: &str) -> Option<(i64, i64)> {
    let mut cpu = None;
    let mut mem_mb = None;
    for part in id.split(['-', '_']) {
        let p = part.to_ascii_lowercase();
        let number = |suffix: &str| p.strip_suffix(suffix).and_then(|n| n.parse::<i64>().ok());
        if let Some(n) = number("cpu").or_else(|| number("vcpu")) {
            cpu = Some(n);
        } else if let Some(n) = number("gb") {
            mem_mb = Some(n * 1024);
        } else if let Some(n) = number("mb") {
            mem_mb = Some(n);
        }
    }
    Some((cpu?, mem_mb?))
}

/// An offering's allocatable and where it comes from (see the module's documentation). Pure.
pub fn offering_size(
    id: &str,
    nodes: &[Node],
    vpsienodes: &[VPSieNode],
) -> (Option<Resources>, String) {
    let mut nodes: Vec<&Node> = nodes
        .iter()
        .filter(|n| {
            n.labels()
                .get(annotations::INSTANCE_TYPE)
                .map(String::as_str)
                == Some(id)
        })
        .collect();
    nodes.sort_by_key(|n| n.name_any());
    for n in nodes {
        if let Ok(f) = NodeFacts::from_node(n) {
            if f.allocatable.cpu_millis > 0 && f.allocatable.memory_bytes > 0 {
                return (Some(f.allocatable), format!("node {}", f.name));
            }
        }
    }
    let mut vns: Vec<&VPSieNode> = vpsienodes
        .iter()
        .filter(|v| v.spec.instance_type == id)
        .collect();
    vns.sort_by_key(|v| v.name_any());
    for v in vns {
        if let Some(r) = v.status.as_ref().and_then(|s| s.resources.as_ref()) {
            if r.cpu > 0 && r.memory_mb > 0 {
                return (
                    Some(capacity::allocatable(i64::from(r.cpu), r.memory_mb)),
                    format!("vpsienode {}", v.name_any()),
                );
            }
        }
    }
    match size_from_id(id) {
        Some((cpu, mb)) => (
            Some(capacity::allocatable(cpu, mb)),
            "offering id (estimate)".to_string(),
        ),
        None => (None, "unknown".to_string()),
    }
}

/// Whether a report detail names the pod `key` (`default/web-1 -> new medium-4cpu-8gb`,
/// `default/web-1`, `pod default/web-1`). Pure.
pub fn names_pod(detail: &str, key: &str) -> bool {
    detail.split_whitespace().any(|w| w == key)
}

fn scheduler_view(pod: &Pod, events: &[Event]) -> SchedulerView {
    let cond = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
    let event_time = |e: &Event| {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
        e.last_timestamp
            .as_ref()
            .map(chrono_time)
            .or(e.event_time.as_ref().map(|t| chrono_time(&Time(t.0))))
            .or(e.first_timestamp.as_ref().map(chrono_time))
            .or(e.metadata.creation_timestamp.as_ref().map(chrono_time))
    };
    let newest = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .max_by_key(|e| event_time(e));
    SchedulerView {
        pod_scheduled: cond.map(|c| c.status.clone()),
        reason: cond
            .and_then(|c| c.reason.clone())
            .filter(|r| !r.is_empty()),
        message: cond
            .and_then(|c| c.message.clone())
            .filter(|m| !m.is_empty()),
        last_event: newest.and_then(|e| e.message.clone()),
        last_event_at: newest.and_then(event_time),
        event_count: events
            .iter()
            .filter(|e| e.reason.as_deref() == Some("FailedScheduling"))
            .map(|e| e.count.unwrap_or(1))
            .sum(),
    }
}

/// Judges one group for the pod. Pure.
fn judge_group(
    g: &NodeGroup,
    req: &PodRequirements,
    key: &str,
    input: &WhyInput,
    breaker_open: Option<&str>,
) -> GroupWhy {
    let name = g.name_any();
    let mine: Vec<&VPSieNode> = input
        .vpsienodes
        .iter()
        .filter(|v| v.node_group_name() == name && counts(v))
        .collect();
    let ds: Vec<std::sync::Arc<DaemonSet>> = input
        .daemonsets
        .iter()
        .cloned()
        .map(std::sync::Arc::new)
        .collect();
    let overhead = daemonset_overhead(&ds, g);
    let probe = NodeFacts {
        labels: node_labels(g, ""),
        taints: g.spec.taints.iter().map(TaintFact::from).collect(),
        ready: true,
        ..NodeFacts::default()
    };
    let locked = (!g.spec.allow_mixed_instances)
        .then(|| mine.first().map(|v| v.spec.instance_type.clone()))
        .flatten();
    let offerings: Vec<OfferingWhy> = g
        .spec
        .offering_ids
        .iter()
        .map(|id| {
            let (size, source) = offering_size(id, &input.nodes, &input.vpsienodes);
            OfferingWhy {
                id: id.clone(),
                allocatable_cpu_millis: size.map(|s| s.cpu_millis),
                allocatable_memory_bytes: size.map(|s| s.memory_bytes),
                size_source: source,
                fits: size.map(|s| s.minus(overhead).covers(&req.requests)),
                usable: locked.as_deref().is_none_or(|l| l == id),
            }
        })
        .collect();
    let mut rejections = Vec::new();
    if let Err(e) = g.validate() {
        rejections.push(format!("invalid spec, the controller ignores it: {e}"));
    }
    match g.is_paused() {
        Ok(true) => rejections.push(format!(
            "paused by annotation {} (resume: kubectl vpsie resume {name})",
            annotations::PAUSE
        )),
        Ok(false) => {}
        Err(e) => rejections.push(format!("invalid annotation: {e}")),
    }
    if !g.spec.scale_up_policy.enabled {
        rejections.push("scale-up disabled (scaleUpPolicy.enabled=false)".into());
    }
    if let Some(b) = breaker_open {
        rejections.push(b.to_string());
    }
    let compatible = compatible(req, &probe);
    if let Err(unfit) = &compatible {
        rejections.push(Rejection::Incompatible(unfit.clone()).to_string());
    }
    let usable: Vec<&OfferingWhy> = offerings.iter().filter(|o| o.usable).collect();
    let size_fits = usable.iter().any(|o| o.fits == Some(true));
    if offerings.is_empty() {
        rejections.push(Rejection::NoOffering.to_string());
    } else if !size_fits {
        if usable.iter().all(|o| o.fits.is_none()) {
            rejections.push("the sizes of its offerings are unknown (no node, VPSieNode or readable offering id tells them)".into());
        } else {
            let largest = usable
                .iter()
                .filter_map(|o| {
                    Some(Resources::new(
                        o.allocatable_cpu_millis?,
                        o.allocatable_memory_bytes?,
                        0,
                    ))
                })
                .map(|r| r.minus(overhead))
                .fold(Resources::default(), Resources::max);
            let mut text = Rejection::TooLarge {
                needs: req.requests,
                largest,
            }
            .to_string();
            if let Some(l) = &locked {
                let _ = write!(text, " (allowMixedInstances=false: its nodes are {l})");
            }
            rejections.push(text);
        }
    }
    let max = g
        .effective_min_max()
        .map(|(_, max)| max)
        .unwrap_or(g.spec.max_nodes);
    if mine.len() as i64 >= i64::from(max) {
        rejections.push(format!(
            "{} at maxNodes {max} with {} node(s); increase maxNodes or wait for scale-down",
            Rejection::AtMax,
            mine.len()
        ));
    }
    let decision = input
        .report
        .as_ref()
        .ok()
        .and_then(|r| r.node_groups.get(&name))
        .and_then(|r| r.last_decision.as_ref())
        .map(|d| DecisionWhy {
            at: d.at,
            action: serde_json::to_value(d.action)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            reason: d.reason.clone(),
            message: d.message.clone(),
            about_pod: d
                .details
                .iter()
                .filter(|x| names_pod(x, key))
                .cloned()
                .collect(),
        });
    let planned: Vec<String> = decision
        .iter()
        .filter(|d| d.action == "ScaleUp")
        .flat_map(|d| d.about_pod.iter())
        .filter_map(|x| x.split_once(" -> new ").map(|(_, o)| o.trim().to_string()))
        .collect();
    let fits = compatible.is_ok() && size_fits;
    let mut coming: Vec<ComingNode> = if fits {
        input
            .vpsienodes
            .iter()
            .filter(|v| v.node_group_name() == name && in_flight(v))
            .map(|v| ComingNode {
                name: v.name_any(),
                node_group: name.clone(),
                phase: v.phase().as_str().to_string(),
                instance_type: v.spec.instance_type.clone(),
                planned_for_pod: planned.contains(&v.spec.instance_type),
            })
            .collect()
    } else {
        Vec::new()
    };
    coming.sort_by(|a, b| (!a.planned_for_pod, &a.name).cmp(&(!b.planned_for_pod, &b.name)));
    GroupWhy {
        name,
        fits,
        rejections,
        offerings,
        daemonset_overhead: requests_view(overhead),
        nodes: mine.len(),
        max_nodes: max,
        coming,
        last_decision: decision,
    }
}

/// Builds the view. Errors only when the pod's requests cannot be read (the error names the
/// field). Pure.
pub fn compute(input: &WhyInput) -> Result<WhyView, PluginError> {
    let pod = &input.pod;
    let key = format!(
        "{}/{}",
        pod.namespace().unwrap_or_else(|| "default".into()),
        pod.name_any()
    );
    let req = PodRequirements::from_pod(pod).map_err(|e| {
        PluginError::Config(format!(
            "{e}; fix the pod's resources (kubectl get pod -o yaml)"
        ))
    })?;
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Pending".into());
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty());
    let scheduler = scheduler_view(pod, &input.events);
    let breaker_open = input.report.as_ref().ok().and_then(|r| {
        r.breaker
            .as_ref()
            .filter(|b| b.state == vpsie_reconciler::report::BreakerStatus::Open)
            .map(|b| {
                format!(
                    "VPSie API circuit breaker open since {} (kubectl vpsie breaker)",
                    b.since.to_rfc3339()
                )
            })
    });
    let mut groups: Vec<GroupWhy> = input
        .nodegroups
        .iter()
        .map(|g| judge_group(g, &req, &key, input, breaker_open.as_deref()))
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    let coming: Vec<ComingNode> = groups.iter().flat_map(|g| g.coming.clone()).collect();
    let unschedulable = scheduler.pod_scheduled.as_deref() == Some("False")
        && scheduler.reason.as_deref() == Some("Unschedulable");
    let (state, verdict) = if pod.metadata.deletion_timestamp.is_some() {
        ("deleting", format!("pod {key} is being deleted"))
    } else if matches!(phase.as_str(), "Succeeded" | "Failed") {
        ("finished", format!("pod {key} has finished ({phase})"))
    } else if let Some(n) = &node {
        if phase == "Running" {
            ("running", format!("pod {key} runs on node {n}"))
        } else {
            (
                "scheduled",
                format!(
                    "pod {key} is scheduled to node {n} ({phase}: its containers are starting)"
                ),
            )
        }
    } else if !unschedulable {
        (
            "waiting-for-scheduler",
            format!(
                "pod {key} waits for the scheduler, which has not reported it unschedulable (yet)"
            ),
        )
    } else if let Some(c) = coming.iter().find(|c| c.planned_for_pod).or(coming.first()) {
        let more = coming.len() - 1;
        (
            "node-coming",
            format!(
                "vpsienode/{} ({}, {}) of group {} is coming{}{}",
                c.name,
                c.instance_type,
                c.phase,
                c.node_group,
                if c.planned_for_pod {
                    " for this pod"
                } else {
                    " and can take this pod"
                },
                if more > 0 {
                    format!("; {more} more on the way")
                } else {
                    String::new()
                }
            ),
        )
    } else if let Some(g) = groups.iter().find(|g| g.fits && g.rejections.is_empty()) {
        (
            "can-scale-up",
            format!(
                "group {} can take it and nothing blocks it: the controller plans pending pods in batches (last decision: {})",
                g.name,
                g.last_decision
                    .as_ref()
                    .map(|d| format!("{} {}", d.action, d.reason))
                    .unwrap_or_else(|| "none".into())
            ),
        )
    } else if let Some(g) = groups.iter().find(|g| g.fits) {
        (
            "blocked",
            format!(
                "group {} could take it but: {}",
                g.name,
                g.rejections.join("; ")
            ),
        )
    } else if groups.is_empty() {
        (
            "no-group-fits",
            "no NodeGroups in the autoscaler's namespace (-n): create one, or pass -n NAMESPACE"
                .to_string(),
        )
    } else {
        (
            "no-group-fits",
            format!(
                "no NodeGroup can run it: {}",
                groups
                    .iter()
                    .map(|g| format!("{}: {}", g.name, g.rejections.join("; ")))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ),
        )
    };
    Ok(WhyView {
        schema_version: SCHEMA_VERSION,
        pod: key,
        phase,
        node,
        state: state.to_string(),
        verdict,
        requests: requests_view(req.requests),
        scheduler,
        node_groups: groups,
        coming,
        report_problem: input.report.as_ref().err().cloned(),
    })
}

fn size(cpu: Option<i64>, mem: Option<i64>) -> String {
    match (cpu, mem) {
        (Some(c), Some(m)) => format!("{}/{}", format_cpu_millis(c), format_bytes(round_mi(m))),
        _ => "?".into(),
    }
}

/// Rounds bytes to MiB so sizes print as `7836Mi`, not a byte count.
fn round_mi(b: i64) -> i64 {
    (b >> 20) << 20
}

/// The table. Pure.
pub fn render_table(v: &WhyView, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Pod:        {} ({}{})",
        v.pod,
        v.phase,
        v.node
            .as_ref()
            .map(|n| format!(" on {n}"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "Requests:   cpu {}, memory {}",
        format_cpu_millis(v.requests.cpu_millis),
        format_bytes(v.requests.memory_bytes)
    );
    let sched = match (&v.scheduler.reason, &v.scheduler.message) {
        (Some(r), Some(m)) => format!("{r}: {m}"),
        (Some(r), None) => r.clone(),
        (None, Some(m)) => m.clone(),
        (None, None) => match &v.scheduler.pod_scheduled {
            Some(s) => format!("PodScheduled={s}"),
            None => "not looked at yet".into(),
        },
    };
    let _ = writeln!(out, "Scheduler:  {sched}");
    if let (Some(e), Some(at)) = (&v.scheduler.last_event, v.scheduler.last_event_at) {
        if Some(e) != v.scheduler.message.as_ref() {
            let _ = writeln!(
                out,
                "            FailedScheduling {}: {e}",
                ago(now, Some(at))
            );
        }
    }
    let _ = writeln!(out, "Verdict:    {}", v.verdict);
    if let Some(p) = &v.report_problem {
        let _ = writeln!(out, "Report:     {p}");
    }
    if matches!(
        v.state.as_str(),
        "running" | "scheduled" | "finished" | "deleting"
    ) {
        return out;
    }
    out.push('\n');
    let mut t = plain_table(&[
        "NODEGROUP",
        "FITS",
        "NODES",
        "OFFERINGS (allocatable, fits)",
        "COMING",
        "WHY NOT",
    ]);
    for g in &v.node_groups {
        let offerings: Vec<String> = g
            .offerings
            .iter()
            .map(|o| {
                format!(
                    "{} {} {}",
                    o.id,
                    size(o.allocatable_cpu_millis, o.allocatable_memory_bytes),
                    match (o.usable, o.fits) {
                        (false, _) => "unused",
                        (true, Some(true)) => "yes",
                        (true, Some(false)) => "no",
                        (true, None) => "?",
                    }
                )
            })
            .collect();
        let coming: Vec<String> = g
            .coming
            .iter()
            .map(|c| format!("{} {}", c.name, c.phase))
            .collect();
        t.add_row(vec![
            g.name.clone(),
            if g.fits { "yes" } else { "no" }.to_string(),
            format!("{}/{}", g.nodes, g.max_nodes),
            offerings.join("\n"),
            if coming.is_empty() {
                "-".into()
            } else {
                coming.join("\n")
            },
            if g.rejections.is_empty() {
                "-".into()
            } else {
                g.rejections.join("\n")
            },
        ]);
    }
    out.push_str(&table_text(&t));
    let mut sources: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for g in &v.node_groups {
        for o in &g.offerings {
            let ids = sources.entry(o.size_source.as_str()).or_default();
            if !ids.contains(&o.id.as_str()) {
                ids.push(&o.id);
            }
        }
    }
    if !sources.is_empty() {
        let _ = writeln!(
            out,
            "\nSizes (the VPSie catalogue is not in the cluster; allocatable less DaemonSet pods is compared):"
        );
        for (src, ids) in sources {
            let _ = writeln!(out, "  {}: from {src}", ids.join(", "));
        }
    }
    for g in &v.node_groups {
        if let Some(d) = &g.last_decision {
            let _ = writeln!(
                out,
                "\nLast decision of {} ({}): {} ({}) {}",
                g.name,
                ago(now, Some(d.at)),
                d.action,
                d.reason,
                d.message
            );
            for x in &d.about_pod {
                let _ = writeln!(out, "  names this pod: {x}");
            }
        }
    }
    out
}

/// Reads what `why` needs.
pub async fn collect(cluster: &Cluster, ns: &str, name: &str) -> Result<WhyInput, PluginError> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), ns);
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), ns);
    let nodes: Api<Node> = Api::all(cluster.client.clone());
    let daemonsets: Api<DaemonSet> = Api::all(cluster.client.clone());
    let field = format!("involvedObject.name={name}");
    let (event_lp, all_lp) = (ListParams::default().fields(&field), ListParams::default());
    let (pod, evs, ngs, vns, nodes, dss, cm) = tokio::join!(
        pods.get_opt(name),
        events.list(&event_lp),
        cluster.list_nodegroups(),
        cluster.list_vpsienodes(None),
        nodes.list(&all_lp),
        daemonsets.list(&all_lp),
        cluster.status_configmap()
    );
    let op = |verb, resource| Op { verb, resource };
    let pod_err = |e| classify_ns(cluster, e, op("get", "pods"), Some(name), ns);
    let pod = pod.map_err(pod_err)?.ok_or_else(|| {
        PluginError::Api(format!(
            "pod {ns}/{name} not found: list the pods with `kubectl get pods -n {ns}`; for a pod of another namespace pass NAMESPACE/NAME or --pod-namespace NAMESPACE (-n is the autoscaler's namespace)"
        ))
    })?;
    let events = evs
        .map_err(|e| classify_ns(cluster, e, op("list", "events"), None, ns))?
        .items
        .into_iter()
        .filter(|e| {
            e.involved_object.kind.as_deref() == Some("Pod")
                && e.involved_object.name.as_deref() == Some(name)
        })
        .collect();
    let report = match cm? {
        None => Err(PluginError::ControllerAbsent {
            namespace: cluster.namespace.clone(),
        }
        .to_string()),
        Some(cm) => common::parse_report(&cluster.namespace, &cm).map_err(|e| e.to_string()),
    };
    Ok(WhyInput {
        pod,
        events,
        nodegroups: ngs?.items,
        vpsienodes: vns?,
        nodes: nodes
            .map_err(|e| classify_ns(cluster, e, op("list", "nodes"), None, ""))?
            .items,
        daemonsets: dss
            .map_err(|e| classify_ns(cluster, e, op("list", "daemonsets"), None, ""))?
            .items,
        report,
    })
}

fn classify_ns(
    cluster: &Cluster,
    e: kube::Error,
    op: Op,
    name: Option<&str>,
    ns: &str,
) -> PluginError {
    common::classify(
        e,
        op,
        name,
        &cluster.url,
        if ns.is_empty() { "(all)" } else { ns },
    )
}

/// `why POD`.
pub async fn run(
    cluster: &Cluster,
    pod: &str,
    pod_namespace: Option<&str>,
    format: OutputFormat,
) -> Result<(), PluginError> {
    let (ns, name) = parse_pod_ref(pod, pod_namespace)?;
    let input = collect(cluster, &ns, &name).await?;
    let view = compute(&input)?;
    let text = match common::structured(format, &view) {
        Some(text) => text?,
        None => {
            let now = common::reference_now(
                Utc::now(),
                view.node_groups
                    .iter()
                    .filter_map(|g| g.last_decision.as_ref().map(|d| d.at))
                    .chain(view.scheduler.last_event_at),
            );
            render_table(&view, now)
        }
    };
    crate::out!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nodegroup(name: &str, extra: serde_json::Value) -> NodeGroup {
        let mut v = json!({
            "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
            "metadata": {"name": name, "namespace": "kube-system"},
            "spec": {"minNodes": 1, "maxNodes": 3, "datacenterID": "dc-us-east-1",
                     "offeringIDs": ["small-2cpu-4gb", "medium-4cpu-8gb"], "osImageID": "ubuntu-22.04-lts",
                     "allowMixedInstances": true, "labels": {"pool": name}}
        });
        for (k, val) in extra.as_object().unwrap() {
            v["spec"][k] = val.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    fn vpsienode(name: &str, group: &str, phase: &str, offering: &str) -> VPSieNode {
        serde_json::from_value(json!({
            "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "VPSieNode",
            "metadata": {"name": name, "namespace": "kube-system"},
            "spec": {"vpsieInstanceID": 7, "instanceType": offering, "nodeGroupName": group, "datacenterID": "dc-us-east-1"},
            "status": {"phase": phase, "resources": {"cpu": 4, "memoryMB": 8192}}
        }))
        .unwrap()
    }

    fn pod(selector: serde_json::Value, cpu: &str, node: Option<&str>, phase: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-1", "namespace": "default"},
            "spec": {"nodeSelector": selector, "nodeName": node,
                     "containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu, "memory": "1Gi"}}}]},
            "status": {"phase": phase, "conditions": if node.is_none() {
                json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                        "message": "0/2 nodes are available: 2 Insufficient cpu."}])
            } else { json!([{"type": "PodScheduled", "status": "True"}]) }}
        }))
        .unwrap()
    }

    fn report(details: &[&str]) -> StatusReport {
        serde_json::from_value(json!({
            "schemaVersion": 1, "generatedAt": "2025-10-12T10:00:00Z",
            "controller": {"version": "0.1.0", "identity": "a", "leader": "a", "isLeader": true, "startedAt": "2025-10-12T09:00:00Z", "dryRun": false},
            "breaker": null, "apiErrors": {"windowSeconds": 300, "byType": {}, "total": 0, "totalSinceStart": 0},
            "rateLimit": null, "credentials": {"fingerprint": null, "loadedAt": null, "state": "loaded", "message": null},
            "breakerReset": {},
            "nodeGroups": {"web": {"lastDecision": {"at": "2025-10-12T09:59:00Z", "action": "ScaleUp", "reason": "PendingPods",
                "message": "Scaling up by 1 node(s) (1 x medium-4cpu-8gb)", "details": details}}}
        }))
        .unwrap()
    }

    fn input(p: Pod) -> WhyInput {
        WhyInput {
            pod: p,
            events: Vec::new(),
            nodegroups: vec![
                nodegroup("web", json!({})),
                nodegroup(
                    "gpu",
                    json!({"taints": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]}),
                ),
            ],
            vpsienodes: vec![
                vpsienode("web-a", "web", "Ready", "medium-4cpu-8gb"),
                vpsienode("web-b", "web", "Provisioning", "medium-4cpu-8gb"),
            ],
            nodes: Vec::new(),
            daemonsets: Vec::new(),
            report: Ok(report(&[
                "default/web-1 -> new medium-4cpu-8gb",
                "default/web-2 -> new medium-4cpu-8gb",
            ])),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-10-12T10:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn a_coming_node_is_named_and_the_table_is_stable() {
        let v = compute(&input(pod(json!({}), "3", None, "Pending"))).unwrap();
        assert_eq!(v.state, "node-coming");
        assert_eq!(v.coming.len(), 1);
        assert!(v.coming[0].planned_for_pod);
        let table = render_table(&v, now());
        assert_eq!(
            table,
            "Pod:        default/web-1 (Pending)
Requests:   cpu 3, memory 1Gi
Scheduler:  Unschedulable: 0/2 nodes are available: 2 Insufficient cpu.
Verdict:    vpsienode/web-b (medium-4cpu-8gb, Provisioning) of group web is coming for this pod

NODEGROUP   FITS   NODES   OFFERINGS (allocatable, fits)      COMING               WHY NOT
gpu         no     0/3     small-2cpu-4gb 1900m/3740Mi no     -                    its nodes would refuse the pod: node(s) had untolerated taint {gpu: true}
                           medium-4cpu-8gb 3900m/7836Mi yes
web         yes    2/3     small-2cpu-4gb 1900m/3740Mi no     web-b Provisioning   -
                           medium-4cpu-8gb 3900m/7836Mi yes

Sizes (the VPSie catalogue is not in the cluster; allocatable less DaemonSet pods is compared):
  small-2cpu-4gb: from offering id (estimate)
  medium-4cpu-8gb: from vpsienode web-a

Last decision of web (60s ago): ScaleUp (PendingPods) Scaling up by 1 node(s) (1 x medium-4cpu-8gb)
  names this pod: default/web-1 -> new medium-4cpu-8gb
"
        );
    }

    #[test]
    fn every_group_says_why_not() {
        let mut i = input(pod(json!({"disk": "ssd"}), "500m", None, "Pending"));
        i.nodegroups[0].metadata.annotations =
            Some([(annotations::PAUSE.to_string(), "true".to_string())].into());
        i.nodegroups[0].spec.max_nodes = 2;
        let v = compute(&i).unwrap();
        assert_eq!(v.state, "no-group-fits");
        let web = v.node_groups.iter().find(|g| g.name == "web").unwrap();
        assert!(!web.fits);
        assert!(
            web.rejections[0].starts_with("paused by annotation"),
            "{:?}",
            web.rejections
        );
        assert!(web
            .rejections
            .iter()
            .any(|r| r.contains("didn't match Pod's node affinity/selector")));
        assert!(web
            .rejections
            .iter()
            .any(|r| r.starts_with("at maxNodes at maxNodes 2") || r.contains("maxNodes 2")));
        assert!(
            v.verdict.starts_with("no NodeGroup can run it: gpu: "),
            "{}",
            v.verdict
        );
        // the JSON round-trips
        let back: WhyView = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn running_pods_and_unplanned_fits() {
        let v = compute(&input(pod(json!({}), "1", Some("web-a"), "Running"))).unwrap();
        assert_eq!(
            (v.state.as_str(), v.verdict.as_str()),
            ("running", "pod default/web-1 runs on node web-a")
        );
        assert!(
            render_table(&v, now()).ends_with("Verdict:    pod default/web-1 runs on node web-a\n")
        );
        let mut i = input(pod(json!({}), "1", None, "Pending"));
        i.vpsienodes.pop();
        i.report = Err("no report".into());
        let v = compute(&i).unwrap();
        assert_eq!(v.state, "can-scale-up");
        assert_eq!(v.report_problem.as_deref(), Some("no report"));
    }

    #[test]
    fn sizes_come_from_the_most_truthful_source() {
        assert_eq!(size_from_id("medium-4cpu-8gb"), Some((4, 8192)));
        assert_eq!(size_from_id("c2-standard"), None);
        let vn = vpsienode("x", "web", "Ready", "custom");
        let (r, src) = offering_size("custom", &[], std::slice::from_ref(&vn));
        assert_eq!(
            (r, src.as_str()),
            (Some(capacity::allocatable(4, 8192)), "vpsienode x")
        );
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n1", "labels": {annotations::INSTANCE_TYPE: "custom"}},
            "status": {"allocatable": {"cpu": "3500m", "memory": "7Gi", "pods": "110"}}
        }))
        .unwrap();
        let (r, src) = offering_size("custom", &[node], &[vn]);
        assert_eq!((r.unwrap().cpu_millis, src.as_str()), (3500, "node n1"));
        assert_eq!(
            offering_size("odd", &[], &[]),
            (None, "unknown".to_string())
        );
    }

    #[test]
    fn pod_references_are_checked() {
        assert_eq!(
            parse_pod_ref("web-1", None).unwrap(),
            ("default".into(), "web-1".into())
        );
        assert_eq!(
            parse_pod_ref("ops/web-1", Some("ops")).unwrap(),
            ("ops".into(), "web-1".into())
        );
        for (bad, needle) in [
            ("Web", "invalid pod name \"Web\""),
            ("a/b/c", "invalid pod name \"b/c\""),
            ("NS/x", "invalid pod namespace \"NS\""),
            ("", "invalid pod name \"\""),
        ] {
            let e = parse_pod_ref(bad, None).unwrap_err().to_string();
            assert!(e.contains(needle) && e.contains("fix:"), "{bad}: {e}");
        }
        assert!(parse_pod_ref("a/b", Some("c")).is_err());
        assert!(names_pod("default/web-1 -> new m", "default/web-1"));
        assert!(!names_pod("default/web-10 -> new m", "default/web-1"));
    }
}
