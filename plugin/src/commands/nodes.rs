//! `nodes [NG]`: the VPSieNodes with their phase, how long they have been in it, and the ones
//! that look stuck.
//!
//! Collect (VPSieNodes, optionally of one group) -> [`compute`] (pure, [`NodeView`]) ->
//! table or JSON/YAML of [`NodesView`] (`schemaVersion` 1).
//!
//! Stuck when in a phase longer than: Pending 5 min, Provisioning 10 min (the controller fails it at 15), Provisioned 10 min,
//! Joining 10 min, Terminating the node's `autoscaler.vpsie.com/drain-timeout` (else the
//! controller's default, 10 min, `--drain-timeout`) plus 5 min to delete, Deleting 10 min; a
//! Failed node is always flagged.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vpsie_autoscaler::api::{chrono_time, VPSieNode, VPSieNodePhase};

use crate::cli::OutputFormat;
use crate::commands::common::{self, short_duration, Cluster};
use crate::commands::status::{plain_table, table_text};
use crate::error::PluginError;

/// The version of [`NodesView`]'s JSON.
pub const SCHEMA_VERSION: u32 = 1;

/// `nodes -o json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodesView {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The namespace read (`-n`).
    pub namespace: String,
    /// `-A`: the VPSieNodes of every namespace.
    #[serde(default)]
    pub all_namespaces: bool,
    /// The time ages were measured against.
    pub generated_at: DateTime<Utc>,
    /// The nodes, by namespace, group, then name.
    pub nodes: Vec<NodeView>,
    /// How many are stuck.
    pub stuck: usize,
}

/// One VPSieNode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeView {
    /// The VPSieNode's namespace.
    #[serde(default)]
    pub namespace: String,
    /// The VPSieNode's name.
    pub name: String,
    /// Its NodeGroup.
    pub node_group: String,
    /// Its phase.
    pub phase: String,
    /// The Kubernetes node, once joined.
    pub node: Option<String>,
    /// The VPS ID (0 until created).
    pub vps_id: i64,
    /// The instance type.
    pub instance_type: String,
    /// The IPv4 address.
    pub ip: Option<String>,
    /// When the object was created.
    pub created: Option<DateTime<Utc>>,
    /// Since when it is in its phase (from the status timestamps).
    pub phase_since: Option<DateTime<Utc>>,
    /// Seconds in the phase.
    pub seconds_in_phase: Option<i64>,
    /// Why it looks stuck, with what to check; `None` when fine.
    pub stuck: Option<String>,
    /// `status.lastError`.
    pub last_error: Option<String>,
}

/// Every time written in a VPSieNode (for [`common::reference_now`]).
pub fn timestamps(vn: &VPSieNode) -> Vec<DateTime<Utc>> {
    let mut t: Vec<DateTime<Utc>> = vn
        .metadata
        .creation_timestamp
        .iter()
        .map(chrono_time)
        .collect();
    if let Some(s) = &vn.status {
        for x in [
            &s.created_at,
            &s.provisioned_at,
            &s.joined_at,
            &s.ready_at,
            &s.terminating_at,
        ]
        .into_iter()
        .flatten()
        {
            t.push(chrono_time(x));
        }
        t.extend(
            s.conditions
                .iter()
                .map(|c| chrono_time(&c.last_transition_time)),
        );
    }
    t
}

/// When `vn` entered its phase. Pure.
pub fn phase_since(vn: &VPSieNode) -> Option<DateTime<Utc>> {
    let created = vn.metadata.creation_timestamp.as_ref().map(chrono_time);
    let Some(s) = &vn.status else {
        return created;
    };
    let t = |x: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>| {
        x.as_ref().map(chrono_time)
    };
    match s.phase {
        VPSieNodePhase::Pending => created,
        VPSieNodePhase::Provisioning => t(&s.created_at).or(created),
        VPSieNodePhase::Provisioned => t(&s.provisioned_at),
        VPSieNodePhase::Joining => t(&s.joined_at).or(t(&s.provisioned_at)),
        VPSieNodePhase::Ready => t(&s.ready_at),
        VPSieNodePhase::Terminating | VPSieNodePhase::Deleting => t(&s.terminating_at),
        VPSieNodePhase::Failed => s
            .conditions
            .iter()
            .map(|c| chrono_time(&c.last_transition_time))
            .max()
            .or_else(|| timestamps(vn).into_iter().max()),
    }
}

/// Why a node in `phase` for `elapsed` looks stuck, if it does. Pure.
pub fn stuck_reason(
    phase: VPSieNodePhase,
    elapsed: Option<chrono::Duration>,
    drain_timeout: Duration,
    last_error: Option<&str>,
) -> Option<String> {
    let minutes = |m: i64| chrono::Duration::minutes(m);
    let drain = chrono::Duration::from_std(drain_timeout).unwrap_or(minutes(10)) + minutes(5);
    let (limit, check) = match phase {
        VPSieNodePhase::Failed => {
            return Some(match last_error {
                Some(e) => format!("Failed: {e}; delete the VPSieNode to replace it"),
                None => "Failed; see `kubectl describe vn` and delete the VPSieNode to replace it"
                    .to_string(),
            })
        }
        VPSieNodePhase::Pending => (
            minutes(5),
            "is the controller running? (kubectl vpsie status)",
        ),
        // before the controller's 15-minute provision timeout fails it: a warning while there is
        // still time to look
        VPSieNodePhase::Provisioning => (
            minutes(10),
            "the VPS in the VPSie console, quotas, the breaker (kubectl vpsie breaker)",
        ),
        VPSieNodePhase::Provisioned | VPSieNodePhase::Joining => (
            minutes(10),
            "cloud-init logs and network connectivity to the API server",
        ),
        VPSieNodePhase::Terminating => (
            drain,
            "pods that cannot be evicted (PodDisruptionBudgets) on the node",
        ),
        VPSieNodePhase::Deleting => (minutes(10), "the VPS in the VPSie console, the breaker"),
        VPSieNodePhase::Ready => return None,
    };
    let elapsed = elapsed?;
    (elapsed > limit).then(|| {
        format!(
            "{} for {} (over {}): check {check}",
            phase.as_str(),
            short_duration(elapsed),
            short_duration(limit)
        )
    })
}

/// Builds the view. Pure.
pub fn compute(
    nodes: &[VPSieNode],
    wall_now: DateTime<Utc>,
    default_drain: Duration,
    namespace: &str,
    all_namespaces: bool,
) -> NodesView {
    let now = common::reference_now(wall_now, nodes.iter().flat_map(timestamps));
    let mut out: Vec<NodeView> = nodes
        .iter()
        .map(|vn| {
            let status = vn.status.clone().unwrap_or_default();
            let since = phase_since(vn);
            let elapsed = since.map(|s| now - s);
            let drain = vn.drain_timeout().ok().flatten().unwrap_or(default_drain);
            NodeView {
                namespace: vn
                    .metadata
                    .namespace
                    .clone()
                    .unwrap_or_else(|| namespace.to_string()),
                name: vn.metadata.name.clone().unwrap_or_default(),
                node_group: vn.node_group_name().to_string(),
                phase: status.phase.as_str().to_string(),
                node: status
                    .node_name
                    .clone()
                    .or_else(|| vn.spec.node_name.clone()),
                vps_id: vn.spec.vpsie_instance_id,
                instance_type: vn.spec.instance_type.clone(),
                ip: vn.spec.ip_address.clone(),
                created: vn.metadata.creation_timestamp.as_ref().map(chrono_time),
                phase_since: since,
                seconds_in_phase: elapsed.map(|e| e.num_seconds().max(0)),
                stuck: stuck_reason(status.phase, elapsed, drain, status.last_error.as_deref()),
                last_error: status.last_error.clone(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.namespace, &a.node_group, &a.name).cmp(&(&b.namespace, &b.node_group, &b.name))
    });
    NodesView {
        schema_version: SCHEMA_VERSION,
        namespace: namespace.to_string(),
        all_namespaces,
        generated_at: now,
        stuck: out.iter().filter(|n| n.stuck.is_some()).count(),
        nodes: out,
    }
}

/// The table. Pure.
pub fn render_table(v: &NodesView, wide: bool) -> String {
    if v.nodes.is_empty() {
        return if v.all_namespaces {
            "No VPSieNodes in any namespace.\n".to_string()
        } else {
            format!("No VPSieNodes in namespace {}.\n", v.namespace)
        };
    }
    let now = v.generated_at;
    let mut header = vec![
        "NAME",
        "NODEGROUP",
        "PHASE",
        "NODE",
        "VPS-ID",
        "TYPE",
        "IP",
        "AGE",
        "IN PHASE",
        "STUCK",
    ];
    if wide {
        header.push("LAST ERROR");
    }
    if v.all_namespaces {
        header.insert(0, "NAMESPACE");
    }
    let mut t = plain_table(&header);
    for n in &v.nodes {
        let age = n
            .created
            .map(|c| short_duration(now - c))
            .unwrap_or_else(|| "-".into());
        let in_phase = n
            .phase_since
            .map(|s| short_duration(now - s))
            .unwrap_or_else(|| "-".into());
        let mut row = Vec::with_capacity(header.len());
        if v.all_namespaces {
            row.push(n.namespace.clone());
        }
        row.extend([
            n.name.clone(),
            n.node_group.clone(),
            n.phase.clone(),
            n.node.clone().unwrap_or_else(|| "-".into()),
            if n.vps_id > 0 {
                n.vps_id.to_string()
            } else {
                "-".into()
            },
            n.instance_type.clone(),
            n.ip.clone().unwrap_or_else(|| "-".into()),
            age,
            in_phase,
            if n.stuck.is_some() { "STUCK" } else { "" }.to_string(),
        ]);
        if wide {
            row.push(n.last_error.clone().unwrap_or_default());
        }
        t.add_row(row);
    }
    let mut out = table_text(&t);
    for n in v.nodes.iter().filter(|n| n.stuck.is_some()) {
        let name = if v.all_namespaces {
            format!("{}/{}", n.namespace, n.name)
        } else {
            n.name.clone()
        };
        out.push_str(&format!(
            "{name}: {}\n",
            n.stuck.as_deref().unwrap_or_default()
        ));
    }
    out
}

/// `nodes [NG]`.
pub async fn run(
    cluster: &Cluster,
    group: Option<&str>,
    drain_timeout: Duration,
    format: OutputFormat,
) -> Result<(), PluginError> {
    match group {
        Some(g) if cluster.all_namespaces => {
            let groups = cluster.list_nodegroups().await?;
            if !groups
                .items
                .iter()
                .any(|ng| ng.metadata.name.as_deref() == Some(g))
            {
                return Err(PluginError::Api(format!(
                    "NodeGroup {g:?} not found in any namespace: list them with `kubectl get ng -A`"
                )));
            }
        }
        Some(g) => {
            cluster.get_nodegroup(g).await?;
        }
        None => {}
    }
    let nodes = cluster.list_vpsienodes(group).await?;
    let view = compute(
        &nodes,
        Utc::now(),
        drain_timeout,
        &cluster.namespace,
        cluster.all_namespaces,
    );
    let text = match common::structured(format, &view) {
        Some(t) => t?,
        None => render_table(&view, format == OutputFormat::Wide),
    };
    crate::out!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").to_utc()
    }

    fn vn(name: &str, status: serde_json::Value, annotations: serde_json::Value) -> VPSieNode {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "VPSieNode",
            "metadata": {"name": name, "namespace": "kube-system", "creationTimestamp": "2025-10-12T09:00:00Z", "annotations": annotations},
            "spec": {"vpsieInstanceID": 1001, "instanceType": "medium-4cpu-8gb", "nodeGroupName": "web",
                     "datacenterID": "dc-us-east-1", "ipAddress": "192.0.2.10"},
            "status": status
        }))
        .expect("vpsienode")
    }

    fn nodes() -> Vec<VPSieNode> {
        vec![
            vn(
                "web-ready",
                serde_json::json!({"phase": "Ready", "nodeName": "web-ready", "createdAt": "2025-10-12T09:00:00Z",
                "provisionedAt": "2025-10-12T09:02:00Z", "joinedAt": "2025-10-12T09:03:00Z", "readyAt": "2025-10-12T09:05:00Z"}),
                serde_json::json!({}),
            ),
            vn(
                "web-prov",
                serde_json::json!({"phase": "Provisioning", "createdAt": "2025-10-12T09:40:00Z"}),
                serde_json::json!({}),
            ),
            vn(
                "web-join",
                serde_json::json!({"phase": "Joining", "provisionedAt": "2025-10-12T09:50:00Z", "joinedAt": "2025-10-12T09:52:00Z"}),
                serde_json::json!({}),
            ),
            vn(
                "web-drain",
                serde_json::json!({"phase": "Terminating", "terminatingAt": "2025-10-12T09:48:00Z"}),
                serde_json::json!({"autoscaler.vpsie.com/drain-timeout": "300"}),
            ),
            vn(
                "web-fail",
                serde_json::json!({"phase": "Failed", "lastError": "VPS creation failed: quota"}),
                serde_json::json!({}),
            ),
        ]
    }

    #[test]
    fn phases_have_their_times_and_stuck_nodes_are_flagged() {
        let v = compute(
            &nodes(),
            t("2025-10-12T10:00:00Z"),
            Duration::from_secs(600),
            "kube-system",
            false,
        );
        let by = |n: &str| v.nodes.iter().find(|x| x.name == n).expect(n).clone();
        assert_eq!(by("web-ready").seconds_in_phase, Some(55 * 60));
        assert!(by("web-ready").stuck.is_none());
        assert_eq!(by("web-prov").stuck.as_deref(), Some("Provisioning for 20m (over 10m): check the VPS in the VPSie console, quotas, the breaker (kubectl vpsie breaker)"));
        assert!(by("web-join").stuck.is_none(), "8 minutes joining is fine");
        // a drain timeout of 5 min from the annotation, plus 5 min to delete
        assert!(by("web-drain")
            .stuck
            .as_deref()
            .is_some_and(|s| s.starts_with("Terminating for 12m (over 10m)")));
        assert!(by("web-fail")
            .stuck
            .as_deref()
            .is_some_and(|s| s.contains("quota")));
        assert_eq!(v.stuck, 3);
    }

    #[test]
    fn stuck_thresholds() {
        let m = chrono::Duration::minutes;
        let d = Duration::from_secs(600);
        assert!(stuck_reason(VPSieNodePhase::Joining, Some(m(11)), d, None).is_some());
        assert!(stuck_reason(VPSieNodePhase::Joining, Some(m(9)), d, None).is_none());
        assert!(stuck_reason(VPSieNodePhase::Terminating, Some(m(14)), d, None).is_none());
        assert!(stuck_reason(VPSieNodePhase::Terminating, Some(m(16)), d, None).is_some());
        assert!(stuck_reason(VPSieNodePhase::Ready, Some(m(10_000)), d, None).is_none());
        assert!(stuck_reason(VPSieNodePhase::Failed, None, d, None).is_some());
        assert!(stuck_reason(VPSieNodePhase::Provisioning, None, d, None).is_none());
    }

    #[test]
    fn the_table_is_stable() {
        let v = compute(
            &nodes()[..3],
            t("2025-10-12T10:00:00Z"),
            Duration::from_secs(600),
            "kube-system",
            false,
        );
        let expected = "\
NAME        NODEGROUP   PHASE          NODE        VPS-ID   TYPE              IP           AGE   IN PHASE   STUCK
web-join    web         Joining        -           1001     medium-4cpu-8gb   192.0.2.10   60m   8m
web-prov    web         Provisioning   -           1001     medium-4cpu-8gb   192.0.2.10   60m   20m        STUCK
web-ready   web         Ready          web-ready   1001     medium-4cpu-8gb   192.0.2.10   60m   55m
web-prov: Provisioning for 20m (over 10m): check the VPS in the VPSie console, quotas, the breaker (kubectl vpsie breaker)
";
        assert_eq!(render_table(&v, false), expected);
        let json = serde_json::to_value(&v).expect("json");
        assert_eq!(json["schemaVersion"], 1);
        assert_eq!(
            json["nodes"][1]["stuck"]
                .as_str()
                .map(|s| s.starts_with("Provisioning")),
            Some(true)
        );
    }

    #[test]
    fn all_namespaces_adds_a_namespace_column() {
        let mut ns = nodes()[..2].to_vec();
        ns[0].metadata.namespace = Some("team-a".into());
        let v = compute(
            &ns,
            t("2025-10-12T10:00:00Z"),
            Duration::from_secs(600),
            "kube-system",
            true,
        );
        let text = render_table(&v, false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NAMESPACE     NAME "), "{text}");
        assert!(lines[1].starts_with("kube-system   "), "{text}");
        assert!(lines[2].starts_with("team-a        "), "{text}");
        let json = serde_json::to_value(&v).expect("json");
        assert_eq!(json["allNamespaces"], true);
        assert_eq!(json["nodes"][1]["namespace"], "team-a");
        let empty = compute(
            &[],
            t("2025-10-12T10:00:00Z"),
            Duration::from_secs(600),
            "kube-system",
            true,
        );
        assert_eq!(
            render_table(&empty, false),
            "No VPSieNodes in any namespace.\n"
        );
    }
}
