//! The `VPSieNode` custom resource: one VPSie VPS instance and its lifecycle as a Kubernetes node.
//!
//! # Why `vpsieInstanceID` may be 0
//!
//! The reconciler records its intent first: it creates the `VPSieNode` in phase `Pending`
//! *before* it calls VPSie's CreateVM, so that a crash between the two can never leak an
//! untracked VPS. Until the VPS exists, `spec.vpsieInstanceID` is therefore `0`. Consequently:
//!
//! - the schema says `minimum: 0` (negative IDs are rejected, 0 means "not created yet");
//! - a CEL transition rule, `oldSelf == 0 || self == oldSelf`, makes the ID immutable once it
//!   has been set (message `vpsieInstanceID is immutable once set`);
//! - [`VPSieNode::validate`] reports an ID of 0 as an error only when the status phase says the
//!   VPS exists: `Provisioned`, `Joining`, `Ready`, `Terminating` or `Deleting`
//!   (see [`VPSieNodePhase::requires_instance_id`]).
//!
//! This deviates on purpose from the API reference's "vpsieInstanceID must be > 0".

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema, Resource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::annotations::{self, AnnotationError};
use super::condition::ConditionStatus;
use super::nodegroup::NodeGroup;
use super::validation::{show, Collector, ValidationErrors};

/// CEL transition rule making `vpsieInstanceID` immutable once it is non-zero.
pub const RULE_INSTANCE_ID_IMMUTABLE: &str = "oldSelf == 0 || self == oldSelf";
/// Message of [`RULE_INSTANCE_ID_IMMUTABLE`].
pub const RULE_INSTANCE_ID_IMMUTABLE_MESSAGE: &str = "vpsieInstanceID is immutable once set";

/// Desired state of a `VPSieNode` (`spec`).
///
/// `vpsieInstanceID` is 0 until the VPS exists: the reconciler records its intent (creates
/// the `VPSieNode` in phase `Pending`) *before* it calls CreateVM, so a crash in between never
/// leaks an untracked VPS. Hence the schema allows `minimum: 0` (negative is rejected), a CEL
/// transition rule `oldSelf == 0 || self == oldSelf` makes the ID immutable once set
/// ("vpsieInstanceID is immutable once set"), and [`VPSieNode::validate`] reports 0 as an
/// error only in the phases where the VPS exists (Provisioned, Joining, Ready, Terminating,
/// Deleting).
#[derive(
    CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema,
)]
#[kube(
    group = "autoscaler.vpsie.com",
    version = "v1alpha1",
    kind = "VPSieNode",
    plural = "vpsienodes",
    singular = "vpsienode",
    shortname = "vn",
    category = "vpsie",
    namespaced,
    status = "VPSieNodeStatus",
    derive = "PartialEq",
    doc = "Represents a single VPSie VPS instance and tracks its lifecycle as a Kubernetes node.",
    printcolumn = r#"{"name": "PHASE", "type": "string", "jsonPath": ".status.phase"}"#,
    printcolumn = r#"{"name": "NODE", "type": "string", "jsonPath": ".status.nodeName"}"#,
    printcolumn = r#"{"name": "VPS-ID", "type": "integer", "jsonPath": ".spec.vpsieInstanceID"}"#,
    printcolumn = r#"{"name": "TYPE", "type": "string", "jsonPath": ".spec.instanceType"}"#,
    printcolumn = r#"{"name": "IP", "type": "string", "jsonPath": ".spec.ipAddress"}"#,
    printcolumn = r#"{"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#,
    selectable = ".status.phase"
)]
#[serde(rename_all = "camelCase")]
#[schemars(
    description = "Desired state of a VPSieNode. vpsieInstanceID is 0 until the VPS has been created, then immutable."
)]
pub struct VPSieNodeSpec {
    /// VPSie VPS instance ID: 0 until the VPS has been created, then immutable.
    #[serde(rename = "vpsieInstanceID")]
    #[schemars(range(min = 0))]
    #[x_kube(validation = Rule::new(RULE_INSTANCE_ID_IMMUTABLE).message(RULE_INSTANCE_ID_IMMUTABLE_MESSAGE))]
    pub vpsie_instance_id: i64,
    /// VPSie instance type (e.g., "small-2cpu-4gb").
    #[schemars(length(min = 1))]
    pub instance_type: String,
    /// Name of the parent NodeGroup.
    #[schemars(length(min = 1))]
    pub node_group_name: String,
    /// VPSie datacenter ID where the instance is located.
    #[serde(rename = "datacenterID")]
    #[schemars(length(min = 1))]
    pub datacenter_id: String,
    /// Kubernetes node name (set after cluster join).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// Primary IPv4 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// IPv6 address (if available).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<String>,
}

/// Lifecycle phase of a `VPSieNode`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum VPSieNodePhase {
    /// VPSieNode resource created, awaiting provisioning.
    #[default]
    Pending,
    /// VPS creation in progress on VPSie platform.
    Provisioning,
    /// VPS is running, awaiting Kubernetes cluster join.
    Provisioned,
    /// Node is joining the Kubernetes cluster.
    Joining,
    /// Node is fully operational and accepting workloads.
    Ready,
    /// Node is being gracefully shut down.
    Terminating,
    /// VPS deletion in progress.
    Deleting,
    /// Unrecoverable error occurred.
    Failed,
}

/// A phase name that is not one of [`VPSieNodePhase::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown VPSieNode phase {value:?}; fix: use one of Pending, Provisioning, Provisioned, Joining, Ready, Terminating, Deleting, Failed")]
pub struct ParsePhaseError {
    /// The rejected text.
    pub value: String,
}

impl VPSieNodePhase {
    /// Every phase, in lifecycle order.
    pub const ALL: [VPSieNodePhase; 8] = [
        Self::Pending,
        Self::Provisioning,
        Self::Provisioned,
        Self::Joining,
        Self::Ready,
        Self::Terminating,
        Self::Deleting,
        Self::Failed,
    ];

    /// The wire name, e.g. `Provisioning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Provisioning => "Provisioning",
            Self::Provisioned => "Provisioned",
            Self::Joining => "Joining",
            Self::Ready => "Ready",
            Self::Terminating => "Terminating",
            Self::Deleting => "Deleting",
            Self::Failed => "Failed",
        }
    }

    /// Whether no further transition happens on its own (only `Failed`; a failed node is
    /// cleaned up by deleting the object).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Failed)
    }

    /// Whether the VPS exists in this phase, so `spec.vpsieInstanceID` must be set (> 0).
    pub fn requires_instance_id(self) -> bool {
        matches!(
            self,
            Self::Provisioned | Self::Joining | Self::Ready | Self::Terminating | Self::Deleting
        )
    }

    /// Whether the node is on its way out (`Terminating` or `Deleting`).
    pub fn is_shutting_down(self) -> bool {
        matches!(self, Self::Terminating | Self::Deleting)
    }
}

impl fmt::Display for VPSieNodePhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VPSieNodePhase {
    type Err = ParsePhaseError;

    /// Parses a phase name; case-insensitive, so `--phase ready` works on a command line.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParsePhaseError {
                value: s.to_string(),
            })
    }
}

/// Allocated resources of the VPS.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeResources {
    /// Number of CPU cores.
    #[serde(default)]
    pub cpu: i32,
    /// Memory in megabytes.
    #[serde(default, rename = "memoryMB")]
    pub memory_mb: i64,
    /// Disk size in gigabytes.
    #[serde(default, rename = "diskGB")]
    pub disk_gb: i64,
    /// Monthly bandwidth allocation in gigabytes.
    #[serde(default, rename = "bandwidthGB")]
    pub bandwidth_gb: i64,
}

/// A condition of a `VPSieNode`; `type` is one of the associated constants.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    description = "A condition of a VPSieNode (types VPSReady, NodeJoined, NodeReady, Error)."
)]
pub struct VPSieNodeCondition {
    /// Condition type: `VPSReady`, `NodeJoined`, `NodeReady`, `Error`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Status: `True`, `False`, or `Unknown`.
    pub status: ConditionStatus,
    /// Last time the condition transitioned.
    pub last_transition_time: Time,
    /// Machine-readable reason for the condition.
    #[serde(default)]
    pub reason: String,
    /// Human-readable message with details.
    #[serde(default)]
    pub message: String,
}

impl VPSieNodeCondition {
    /// The VPS is running on VPSie.
    pub const VPS_READY: &'static str = "VPSReady";
    /// The node registered with the cluster.
    pub const NODE_JOINED: &'static str = "NodeJoined";
    /// The Kubernetes node is Ready.
    pub const NODE_READY: &'static str = "NodeReady";
    /// Something went wrong (see reason and message).
    pub const ERROR: &'static str = "Error";
    /// Every condition type the reconciler sets.
    pub const TYPES: [&'static str; 4] = [
        Self::VPS_READY,
        Self::NODE_JOINED,
        Self::NODE_READY,
        Self::ERROR,
    ];

    /// Builds a condition that transitions at `now`.
    pub fn new(
        type_: impl Into<String>,
        status: ConditionStatus,
        reason: impl Into<String>,
        message: impl Into<String>,
        now: Time,
    ) -> Self {
        Self {
            type_: type_.into(),
            status,
            last_transition_time: now,
            reason: reason.into(),
            message: message.into(),
        }
    }
}

/// Observed state of a `VPSieNode` (`status`). Every field is optional on the wire;
/// an absent phase reads as Pending.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VPSieNodeStatus {
    /// Current lifecycle phase.
    #[serde(default)]
    pub phase: VPSieNodePhase,
    /// Kubernetes node name after registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// Raw VPSie API status (e.g., "running", "stopped").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpsie_status: Option<String>,
    /// Instance hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Allocated resources (CPU, memory, disk, bandwidth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<NodeResources>,
    /// Detailed status conditions.
    #[serde(default)]
    pub conditions: Vec<VPSieNodeCondition>,
    /// Timestamp when VPSieNode was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Time>,
    /// Timestamp when VPS became running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_at: Option<Time>,
    /// Timestamp when node joined Kubernetes cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at: Option<Time>,
    /// Timestamp when node became Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_at: Option<Time>,
    /// Timestamp when termination began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminating_at: Option<Time>,
    /// Most recent error message (for troubleshooting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Generation of spec that was last processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

impl VPSieNodeStatus {
    /// The condition of the given type, if present.
    pub fn condition(&self, type_: &str) -> Option<&VPSieNodeCondition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Inserts or updates a condition, keeping `lastTransitionTime` when the status is unchanged.
    /// Returns whether anything changed.
    pub fn set_condition(&mut self, new: VPSieNodeCondition) -> bool {
        super::condition::set_condition(&mut self.conditions, new)
    }
}

impl VPSieNode {
    /// The intent record the reconciler creates *before* calling CreateVM: phase `Pending`
    /// (no status yet), `vpsieInstanceID` 0, in the group's namespace, labelled
    /// `nodegroup`, `autoscaler.vpsie.com/instance-type` and `autoscaler.vpsie.com/datacenter`,
    /// and owned by the group (controller owner reference, when the group has a uid) so that
    /// deleting the group garbage-collects its records.
    pub fn planned(name: &str, group: &NodeGroup, instance_type: &str) -> Self {
        let mut vn = VPSieNode::new(
            name,
            VPSieNodeSpec {
                vpsie_instance_id: 0,
                instance_type: instance_type.to_string(),
                node_group_name: group.name_any(),
                datacenter_id: group.spec.datacenter_id.clone(),
                ..Default::default()
            },
        );
        vn.metadata.namespace = group.metadata.namespace.clone();
        vn.metadata.labels = Some(BTreeMap::from([
            (annotations::LABEL_NODEGROUP.to_string(), group.name_any()),
            (
                annotations::INSTANCE_TYPE.to_string(),
                instance_type.to_string(),
            ),
            (
                annotations::DATACENTER.to_string(),
                group.spec.datacenter_id.clone(),
            ),
        ]));
        vn.metadata.owner_references = group.controller_owner_ref(&()).map(|r| vec![r]);
        vn
    }

    /// The parent NodeGroup name: `spec.nodeGroupName`.
    pub fn node_group_name(&self) -> &str {
        &self.spec.node_group_name
    }

    /// Whether the `autoscaler.vpsie.com/do-not-delete` annotation protects this node.
    pub fn do_not_delete(&self) -> Result<bool, AnnotationError> {
        annotations::do_not_delete(self.annotations())
    }

    /// The drain timeout from the `autoscaler.vpsie.com/drain-timeout` annotation, if set.
    pub fn drain_timeout(&self) -> Result<Option<Duration>, AnnotationError> {
        annotations::drain_timeout(self.annotations())
    }

    /// The current phase (`Pending` when there is no status yet).
    pub fn phase(&self) -> VPSieNodePhase {
        self.status.as_ref().map(|s| s.phase).unwrap_or_default()
    }

    /// The status condition of the given type, if any.
    pub fn condition(&self, type_: &str) -> Option<&VPSieNodeCondition> {
        self.status.as_ref().and_then(|s| s.condition(type_))
    }

    /// Validates the spec against the current status phase (see [`VPSieNodeSpec::validate_for_phase`]).
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        self.spec.validate_for_phase(self.phase())
    }

    /// Validates `self` as an update of `old`: everything [`validate`](Self::validate) checks, plus
    /// the immutability of `vpsieInstanceID` once it is non-zero (the schema's transition rule).
    pub fn validate_update(&self, old: &VPSieNode) -> Result<(), ValidationErrors> {
        let mut c = Collector::default();
        let old_id = old.spec.vpsie_instance_id;
        let new_id = self.spec.vpsie_instance_id;
        if old_id != 0 && new_id != old_id {
            c.push(
                "spec.vpsieInstanceID",
                new_id.to_string(),
                format!("{RULE_INSTANCE_ID_IMMUTABLE_MESSAGE} (was {old_id}); fix: keep {old_id}, or delete this VPSieNode and create a new one"),
            );
        }
        if let Err(e) = self.validate() {
            c.extend_errors(e);
        }
        c.finish()
    }
}

impl VPSieNodeSpec {
    /// Checks the spec. `vpsieInstanceID` must never be negative; 0 is accepted while the VPS
    /// does not exist yet and is an error once `phase` [requires it](VPSieNodePhase::requires_instance_id).
    pub fn validate_for_phase(&self, phase: VPSieNodePhase) -> Result<(), ValidationErrors> {
        let mut c = Collector::default();
        if self.vpsie_instance_id < 0 {
            c.push(
                "spec.vpsieInstanceID",
                self.vpsie_instance_id.to_string(),
                "must be >= 0 (0 means the VPS is not created yet); fix: use the VPSie VPS ID",
            );
        } else if self.vpsie_instance_id == 0 && phase.requires_instance_id() {
            c.push(
                "spec.vpsieInstanceID",
                "0",
                format!("must be > 0 in phase {phase} (the VPS exists); fix: set the VPSie VPS ID"),
            );
        }
        for (path, value, what) in [
            (
                "spec.instanceType",
                &self.instance_type,
                "a VPSie instance type (offering ID)",
            ),
            (
                "spec.nodeGroupName",
                &self.node_group_name,
                "the name of the parent NodeGroup",
            ),
            (
                "spec.datacenterID",
                &self.datacenter_id,
                "a VPSie datacenter ID",
            ),
        ] {
            if value.is_empty() {
                c.push(
                    path,
                    show(value),
                    format!("must not be empty; fix: set it to {what}"),
                );
            }
        }
        c.finish()
    }
}

super::condition::impl_condition!(VPSieNodeCondition);
