//! The `NodeGroup` custom resource: a logical group of Kubernetes nodes backed by VPSie VPS
//! instances, with its scaling bounds and scale-up / scale-down policies.
//!
//! Every optional field has a default that is written both into the generated OpenAPI schema
//! (so an API server fills it in) and into serde (so a spec read from a file gets it too).

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::annotations::{self, AnnotationError};
use super::condition::ConditionStatus;
use super::validation::{
    check_label_value, show, validate_labels, validate_taints, Collector, ValidationErrors,
};
use super::vpsienode::VPSieNode;

/// Most entries `offeringIDs` may hold (bounds the cost of the CEL rule on `preferredInstanceType`).
pub const MAX_OFFERING_IDS: usize = 32;
/// Longest offering ID (bounds the cost of the CEL rule on `preferredInstanceType`).
pub const MAX_OFFERING_ID_LEN: usize = 128;

/// CEL rule: `maxNodes` must not be below `minNodes`.
pub const RULE_MAX_GE_MIN: &str = "self.maxNodes >= self.minNodes";
/// Message of [`RULE_MAX_GE_MIN`].
pub const RULE_MAX_GE_MIN_MESSAGE: &str =
    "maxNodes must be >= minNodes (MinNodes exceeds MaxNodes); fix: raise maxNodes or lower minNodes";
/// CEL rule: `preferredInstanceType`, when set, must be one of `offeringIDs`.
pub const RULE_PREFERRED_IN_OFFERINGS: &str = "!has(self.preferredInstanceType) || self.preferredInstanceType == '' || self.preferredInstanceType in self.offeringIDs";
/// Message of [`RULE_PREFERRED_IN_OFFERINGS`].
pub const RULE_PREFERRED_IN_OFFERINGS_MESSAGE: &str =
    "preferredInstanceType must be one of offeringIDs; fix: pick one of offeringIDs or leave preferredInstanceType empty";

/// Desired state of a `NodeGroup` (`spec`). JSON names are exactly those of the API reference.
///
/// `Debug` redacts `userData`: cloud-init scripts usually carry cluster join tokens.
#[derive(CustomResource, Serialize, Deserialize, Clone, PartialEq, KubeSchema)]
#[kube(
    group = "autoscaler.vpsie.com",
    version = "v1alpha1",
    kind = "NodeGroup",
    plural = "nodegroups",
    singular = "nodegroup",
    shortname = "ng",
    category = "vpsie",
    namespaced,
    status = "NodeGroupStatus",
    derive = "PartialEq",
    doc = "Manages a logical group of Kubernetes nodes backed by VPSie VPS instances with autoscaling policies.",
    printcolumn = r#"{"name": "MIN", "type": "integer", "jsonPath": ".spec.minNodes"}"#,
    printcolumn = r#"{"name": "MAX", "type": "integer", "jsonPath": ".spec.maxNodes"}"#,
    printcolumn = r#"{"name": "CURRENT", "type": "integer", "jsonPath": ".status.currentNodes"}"#,
    printcolumn = r#"{"name": "READY", "type": "integer", "jsonPath": ".status.readyNodes"}"#,
    printcolumn = r#"{"name": "DESIRED", "type": "integer", "jsonPath": ".status.desiredNodes"}"#,
    printcolumn = r#"{"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = Rule::new(RULE_MAX_GE_MIN).message(RULE_MAX_GE_MIN_MESSAGE))]
#[x_kube(validation = Rule::new(RULE_PREFERRED_IN_OFFERINGS).message(RULE_PREFERRED_IN_OFFERINGS_MESSAGE))]
#[serde(rename_all = "camelCase")]
#[schemars(
    description = "Desired state of a NodeGroup: size bounds, VPSie placement and scaling policies."
)]
pub struct NodeGroupSpec {
    /// Minimum number of nodes in the group. Must be >= 0.
    #[schemars(range(min = 0))]
    pub min_nodes: i32,
    /// Maximum number of nodes in the group. Must be >= 1 and >= minNodes.
    #[schemars(range(min = 1))]
    pub max_nodes: i32,
    /// VPSie datacenter ID where nodes will be provisioned.
    #[serde(rename = "datacenterID")]
    #[schemars(length(min = 1))]
    pub datacenter_id: String,
    /// List of acceptable VPSie instance type IDs. Controller selects the most cost-effective option.
    #[serde(rename = "offeringIDs")]
    #[schemars(length(min = 1, max = 32), inner(length(min = 1, max = 128)))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub offering_ids: Vec<String>,
    /// VPSie OS image ID to use for provisioned nodes.
    #[serde(rename = "osImageID")]
    #[schemars(length(min = 1))]
    pub os_image_id: String,
    /// Configuration for scale-up behavior.
    #[serde(default)]
    pub scale_up_policy: ScaleUpPolicy,
    /// Configuration for scale-down behavior.
    #[serde(default)]
    pub scale_down_policy: ScaleDownPolicy,
    /// Kubernetes labels to apply to provisioned nodes.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Kubernetes taints to apply to provisioned nodes for workload isolation.
    #[serde(default)]
    pub taints: Vec<Taint>,
    /// VPSie SSH key IDs to add to provisioned instances.
    #[serde(default, rename = "sshKeyIDs")]
    pub ssh_key_ids: Vec<String>,
    /// VPSie tags to apply to provisioned instances for organization.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Cloud-init user data script for node initialization.
    #[serde(default)]
    pub user_data: String,
    /// Preferred instance type from offeringIDs. Used when multiple types satisfy demand.
    #[serde(default)]
    #[schemars(length(max = 128))]
    pub preferred_instance_type: String,
    /// Allow using different instance types within the same NodeGroup.
    #[serde(default)]
    pub allow_mixed_instances: bool,
    /// How nodes are provisioned: `vm` (plain VPS instances that join through cloud-init,
    /// with osImageID, userData and sshKeyIDs) or `managedKubernetes` (nodes added to a node
    /// group of a VPSie managed-Kubernetes cluster). Unset: the reconciler's `--backend`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    /// Where the nodes of backend `managedKubernetes` go: the cluster (discovered when the
    /// account has one) and the VPSie node group's name (default: the NodeGroup's name, with
    /// `-<offering>` appended when offeringIDs has several entries; created when missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_kubernetes: Option<ManagedKubernetesSpec>,
}

impl Default for NodeGroupSpec {
    /// An empty (invalid until filled in) spec with every optional field at its default.
    fn default() -> Self {
        Self {
            min_nodes: 0,
            max_nodes: 0,
            datacenter_id: String::new(),
            offering_ids: Vec::new(),
            os_image_id: String::new(),
            scale_up_policy: ScaleUpPolicy::default(),
            scale_down_policy: ScaleDownPolicy::default(),
            labels: BTreeMap::new(),
            taints: Vec::new(),
            ssh_key_ids: Vec::new(),
            tags: Vec::new(),
            user_data: String::new(),
            preferred_instance_type: String::new(),
            allow_mixed_instances: false,
            backend: None,
            managed_kubernetes: None,
        }
    }
}

impl fmt::Debug for NodeGroupSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user_data = format!("<redacted {} bytes>", self.user_data.len());
        f.debug_struct("NodeGroupSpec")
            .field("min_nodes", &self.min_nodes)
            .field("max_nodes", &self.max_nodes)
            .field("datacenter_id", &self.datacenter_id)
            .field("offering_ids", &self.offering_ids)
            .field("os_image_id", &self.os_image_id)
            .field("scale_up_policy", &self.scale_up_policy)
            .field("scale_down_policy", &self.scale_down_policy)
            .field("labels", &self.labels)
            .field("taints", &self.taints)
            .field("ssh_key_ids", &self.ssh_key_ids)
            .field("tags", &self.tags)
            .field("user_data", &user_data)
            .field("preferred_instance_type", &self.preferred_instance_type)
            .field("allow_mixed_instances", &self.allow_mixed_instances)
            .field("backend", &self.backend)
            .field("managed_kubernetes", &self.managed_kubernetes)
            .finish()
    }
}

/// How a NodeGroup's nodes are provisioned: `vm` (plain VPS instances that join through
/// cloud-init, with osImageID, userData and sshKeyIDs) or `managedKubernetes` (nodes added to a
/// node group of a VPSie managed-Kubernetes cluster, see managedKubernetes). Unset in a spec:
/// the reconciler's `--backend` (default vm).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum Backend {
    /// Plain VPS instances (`POST /vm`) that join the cluster through cloud-init.
    #[default]
    #[serde(rename = "vm")]
    Vm,
    /// Nodes added to a node group of a VPSie managed-Kubernetes cluster
    /// (`POST /k8s/cluster/byId/{cluster}/add/slave/group/{group}`).
    #[serde(rename = "managedKubernetes")]
    ManagedKubernetes,
}

impl Backend {
    /// The name used in specs, status and output: `vm` or `managedKubernetes`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Vm => "vm",
            Backend::ManagedKubernetes => "managedKubernetes",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    /// `vm`, or `managedKubernetes` (also `managed-kubernetes`, `managed`), any case.
    fn from_str(s: &str) -> Result<Self, String> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', '_'], "")
            .as_str()
        {
            "vm" => Ok(Backend::Vm),
            "managedkubernetes" | "managed" | "k8s" => Ok(Backend::ManagedKubernetes),
            _ => Err(format!(
                "unknown backend {s:?}; fix: use vm or managed-kubernetes"
            )),
        }
    }
}

/// Where a managed-Kubernetes NodeGroup's nodes go.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedKubernetesSpec {
    /// The VPSie managed-Kubernetes cluster's identifier (UUID). Unset: the reconciler's
    /// `--vpsie-cluster-id`, else the account's only cluster.
    #[serde(default, rename = "clusterID", skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// The VPSie node group's name. Unset: the NodeGroup's name (plus `-<offering>` when
    /// offeringIDs has several entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
}

/// Scale-up behaviour. Absent fields take their defaults (enabled, 60 s window, 80 % thresholds).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ScaleUpPolicy {
    /// Enable automatic scale-up.
    pub enabled: bool,
    /// Time to wait before scaling up again after a scale-up event. Must be > 0.
    #[schemars(range(min = 1))]
    pub stabilization_window_seconds: i32,
    /// CPU utilization percentage threshold (0-100) to trigger scale-up.
    #[schemars(range(min = 0, max = 100))]
    pub cpu_threshold: i32,
    /// Memory utilization percentage threshold (0-100) to trigger scale-up.
    #[schemars(range(min = 0, max = 100))]
    pub memory_threshold: i32,
}

impl Default for ScaleUpPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            stabilization_window_seconds: 60,
            cpu_threshold: 80,
            memory_threshold: 80,
        }
    }
}

/// Scale-down behaviour. Absent fields take their defaults (enabled, 600 s window, 50 % thresholds,
/// 600 s unneeded time).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", default)]
pub struct ScaleDownPolicy {
    /// Enable automatic scale-down.
    pub enabled: bool,
    /// Time to wait before scaling down (default 10 minutes). Must be > 0.
    #[schemars(range(min = 1))]
    pub stabilization_window_seconds: i32,
    /// CPU utilization percentage threshold (0-100) below which scale-down is considered.
    #[schemars(range(min = 0, max = 100))]
    pub cpu_threshold: i32,
    /// Memory utilization percentage threshold (0-100) below which scale-down is considered.
    #[schemars(range(min = 0, max = 100))]
    pub memory_threshold: i32,
    /// Time in seconds a node must be underutilized before removal (default 10 minutes).
    #[schemars(range(min = 0))]
    pub unneeded_time: i32,
}

impl Default for ScaleDownPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            stabilization_window_seconds: 600,
            cpu_threshold: 50,
            memory_threshold: 50,
            unneeded_time: 600,
        }
    }
}

/// Observed state of a `NodeGroup` (`status`). Every field is optional on the wire.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeGroupStatus {
    /// Actual number of nodes currently in the group.
    #[serde(default)]
    pub current_nodes: i32,
    /// Target number of nodes based on scaling decisions.
    #[serde(default)]
    pub desired_nodes: i32,
    /// Number of nodes that are Ready and accepting workloads.
    #[serde(default)]
    pub ready_nodes: i32,
    /// Details about individual nodes in the group.
    #[serde(default)]
    pub nodes: Vec<NodeInfo>,
    /// Current state conditions.
    #[serde(default)]
    pub conditions: Vec<NodeGroupCondition>,
    /// Timestamp of the most recent scaling action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_time: Option<Time>,
    /// The `metadata.generation` of the spec the reconciler last processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The last force-reconcile annotation value (`reconcile-trigger`) the reconciler handled,
    /// so a client that set it can wait until it shows up here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_reconcile_trigger: Option<String>,
    /// The backend in force (`vm` or `managedKubernetes`): the spec's, else the reconciler's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    /// For backend `managedKubernetes`: the cluster and node groups the reconciler found or
    /// created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_kubernetes: Option<ManagedKubernetesStatus>,
}

/// The managed-Kubernetes cluster and node groups a NodeGroup provisions through.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedKubernetesStatus {
    /// The cluster's identifier.
    #[serde(default, rename = "clusterID")]
    pub cluster_id: String,
    /// The cluster's name.
    #[serde(default)]
    pub cluster_name: String,
    /// One VPSie node group per offering.
    #[serde(default)]
    pub groups: Vec<ManagedKubernetesGroup>,
}

/// A VPSie node group of a managed cluster, and the offering its nodes are.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedKubernetesGroup {
    /// The offering (one of offeringIDs).
    #[serde(default, rename = "offeringID")]
    pub offering_id: String,
    /// The VPSie node group's numeric id.
    #[serde(default, rename = "groupID")]
    pub group_id: i64,
    /// Its name.
    #[serde(default)]
    pub group_name: String,
}

/// One node of a group, as reported in `status.nodes`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    /// Kubernetes node name.
    #[serde(default)]
    pub node_name: String,
    /// VPSie VPS instance ID (0 while the VPS is still being created).
    #[serde(default, rename = "vpsID")]
    pub vps_id: i64,
    /// VPSie instance type (e.g., "small-2cpu-4gb").
    #[serde(default)]
    pub instance_type: String,
    /// Current status (Pending, Provisioning, Ready, Terminating, Failed).
    #[serde(default)]
    pub status: String,
    /// Primary IP address.
    #[serde(default)]
    pub ip_address: String,
}

impl NodeInfo {
    /// The `status.nodes` entry for a `VPSieNode`: the Kubernetes node name once known
    /// (status, then spec, then the object's name), the VPS ID, type, phase and IPv4 address.
    pub fn from_vpsienode(vn: &VPSieNode) -> Self {
        let node_name = vn
            .status
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .or_else(|| vn.spec.node_name.clone())
            .unwrap_or_else(|| vn.name_any());
        Self {
            node_name,
            vps_id: vn.spec.vpsie_instance_id,
            instance_type: vn.spec.instance_type.clone(),
            status: vn.phase().as_str().to_string(),
            ip_address: vn.spec.ip_address.clone().unwrap_or_default(),
        }
    }
}

/// A condition of a `NodeGroup`. `type` is one of the associated constants
/// ([`NodeGroupCondition::READY`], ...); unknown types are kept as they are.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(
    description = "A condition of a NodeGroup (types Ready, Scaling, Error, AtMinCapacity, AtMaxCapacity)."
)]
pub struct NodeGroupCondition {
    /// Condition type: `Ready`, `Scaling`, `Error`, `AtMinCapacity`, `AtMaxCapacity`.
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

impl NodeGroupCondition {
    /// All nodes are ready and the group is operational.
    pub const READY: &'static str = "Ready";
    /// A scale-up or scale-down is in progress.
    pub const SCALING: &'static str = "Scaling";
    /// The group has an error (bad configuration, cloud failure).
    pub const ERROR: &'static str = "Error";
    /// The group is at its minimum size.
    pub const AT_MIN_CAPACITY: &'static str = "AtMinCapacity";
    /// The group is at its maximum size.
    pub const AT_MAX_CAPACITY: &'static str = "AtMaxCapacity";
    /// Every condition type the reconciler sets.
    pub const TYPES: [&'static str; 5] = [
        Self::READY,
        Self::SCALING,
        Self::ERROR,
        Self::AT_MIN_CAPACITY,
        Self::AT_MAX_CAPACITY,
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

impl NodeGroupStatus {
    /// The condition of the given type, if present.
    pub fn condition(&self, type_: &str) -> Option<&NodeGroupCondition> {
        self.conditions.iter().find(|c| c.type_ == type_)
    }

    /// Whether the condition of the given type is present with status `True`.
    pub fn is_condition_true(&self, type_: &str) -> bool {
        self.condition(type_)
            .is_some_and(|c| c.status == ConditionStatus::True)
    }

    /// Inserts or updates a condition. When the status does not change, the existing
    /// `lastTransitionTime` is kept (only reason and message are refreshed), as Kubernetes
    /// conventions require. Returns whether anything changed.
    pub fn set_condition(&mut self, new: NodeGroupCondition) -> bool {
        super::condition::set_condition(&mut self.conditions, new)
    }

    /// Removes the condition of the given type. Returns whether it was present.
    pub fn remove_condition(&mut self, type_: &str) -> bool {
        let before = self.conditions.len();
        self.conditions.retain(|c| c.type_ != type_);
        before != self.conditions.len()
    }
}

impl NodeGroup {
    /// The status condition of the given type, if the object has a status and that condition.
    pub fn condition(&self, type_: &str) -> Option<&NodeGroupCondition> {
        self.status.as_ref().and_then(|s| s.condition(type_))
    }

    /// Validates the object: the spec (see [`NodeGroupSpec::validate`]) and, when set,
    /// `metadata.name`, which must also be a valid label value (<= 63 characters) because
    /// it becomes the `nodegroup` label of every `VPSieNode` and node of the group.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut c = Collector::default();
        if let Some(name) = &self.metadata.name {
            if let Some(problem) = check_label_value(name) {
                c.push(
                    "metadata.name",
                    show(name),
                    format!("{problem} (it is used as the value of the nodegroup label); fix: choose a shorter name"),
                );
            }
        }
        if let Err(e) = self.spec.validate() {
            c.extend_errors(e);
        }
        c.finish()
    }

    /// Whether autoscaling is paused by the `autoscaler.vpsie.com/pause` annotation.
    pub fn is_paused(&self) -> Result<bool, AnnotationError> {
        annotations::is_paused(self.annotations())
    }

    /// The min/max node counts in force, after the override annotations
    /// (see [`annotations::effective_min_max`]).
    pub fn effective_min_max(&self) -> Result<(i32, i32), AnnotationError> {
        annotations::effective_min_max(&self.spec, self.annotations())
    }

    /// The force-reconcile trigger value set on the object, if any.
    pub fn reconcile_trigger(&self) -> Option<&str> {
        annotations::reconcile_trigger(self.annotations())
    }

    /// The trigger value the reconciler has not acknowledged yet in
    /// `status.observedReconcileTrigger`; `None` when there is none or it was handled.
    pub fn pending_reconcile_trigger(&self) -> Option<&str> {
        let observed = self
            .status
            .as_ref()
            .and_then(|s| s.observed_reconcile_trigger.as_deref());
        self.reconcile_trigger().filter(|t| Some(*t) != observed)
    }

    /// Whether the reconciler has processed the current spec generation.
    pub fn is_generation_observed(&self) -> bool {
        let observed = self.status.as_ref().and_then(|s| s.observed_generation);
        self.metadata.generation.is_some() && observed == self.metadata.generation
    }
}

impl NodeGroupSpec {
    /// Checks every rule of the API reference and of the generated schema, plus: no duplicate
    /// offering IDs, valid taint keys/values/effects, valid label keys and values.
    /// Reports every violation, each with its `spec.` path, value and fix.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut c = Collector::default();
        if self.min_nodes < 0 {
            c.push(
                "spec.minNodes",
                self.min_nodes.to_string(),
                "must be >= 0; fix: set minNodes to 0 or more",
            );
        }
        if self.max_nodes < 1 {
            c.push(
                "spec.maxNodes",
                self.max_nodes.to_string(),
                "must be >= 1; fix: set maxNodes to 1 or more",
            );
        }
        if self.max_nodes < self.min_nodes {
            c.push(
                "spec.maxNodes",
                self.max_nodes.to_string(),
                format!(
                    "must be >= spec.minNodes ({}): MinNodes exceeds MaxNodes; fix: raise maxNodes or lower minNodes",
                    self.min_nodes
                ),
            );
        }
        if self.datacenter_id.is_empty() {
            c.push(
                "spec.datacenterID",
                "\"\"",
                "must not be empty; fix: set datacenterID to a VPSie datacenter ID (e.g. dc-us-east-1)",
            );
        }
        self.validate_offerings(&mut c);
        if self.os_image_id.is_empty() {
            c.push(
                "spec.osImageID",
                "\"\"",
                "must not be empty; fix: set osImageID to a VPSie OS image ID (e.g. ubuntu-22.04-lts)",
            );
        }
        self.scale_up_policy
            .validate_into("spec.scaleUpPolicy", &mut c);
        self.scale_down_policy
            .validate_into("spec.scaleDownPolicy", &mut c);
        validate_labels(&self.labels, "spec.labels", &mut c);
        validate_taints(&self.taints, "spec.taints", &mut c);
        self.validate_backend(&mut c);
        c.finish()
    }

    /// The backend the group's nodes use: `spec.backend`, else `managedKubernetes` when
    /// `spec.managedKubernetes` is set, else `default` (the reconciler's `--backend`).
    pub fn backend_or(&self, default: Backend) -> Backend {
        match (self.backend, &self.managed_kubernetes) {
            (Some(b), _) => b,
            (None, Some(_)) => Backend::ManagedKubernetes,
            (None, None) => default,
        }
    }

    fn validate_backend(&self, c: &mut Collector) {
        if self.backend == Some(Backend::Vm) && self.managed_kubernetes.is_some() {
            c.push(
                "spec.managedKubernetes",
                "{...}",
                "is set but spec.backend is vm; fix: remove managedKubernetes, or set backend to managedKubernetes",
            );
        }
        if let Some(m) = &self.managed_kubernetes {
            if m.cluster_id.as_deref().is_some_and(|v| v.trim().is_empty()) {
                c.push(
                    "spec.managedKubernetes.clusterID",
                    "\"\"",
                    "must not be empty when set; fix: give the cluster's identifier (GET /k8s/cluster/all lists them) or remove the field to discover it",
                );
            }
            if let Some(g) = &m.group_name {
                if g.trim().is_empty() || g.len() > 63 {
                    c.push(
                        "spec.managedKubernetes.groupName",
                        show(g),
                        "must be 1 to 63 characters when set; fix: give the VPSie node group's name or remove the field to use the NodeGroup's name",
                    );
                }
            }
        }
    }

    fn validate_offerings(&self, c: &mut Collector) {
        if self.offering_ids.is_empty() {
            c.push(
                "spec.offeringIDs",
                "[]",
                "must contain at least one entry; fix: list the VPSie offering IDs (instance types) nodes may use",
            );
        }
        if self.offering_ids.len() > MAX_OFFERING_IDS {
            c.push(
                "spec.offeringIDs",
                format!("[{} entries]", self.offering_ids.len()),
                format!("must have at most {MAX_OFFERING_IDS} entries; fix: keep only the offerings you need"),
            );
        }
        for (i, id) in self.offering_ids.iter().enumerate() {
            let path = format!("spec.offeringIDs[{i}]");
            if id.is_empty() {
                c.push(
                    &path,
                    "\"\"",
                    "must not be empty; fix: remove the empty entry or name an offering ID",
                );
            } else if id.len() > MAX_OFFERING_ID_LEN {
                c.push(
                    &path,
                    show(id),
                    format!("must be at most {MAX_OFFERING_ID_LEN} characters; fix: use the VPSie offering ID"),
                );
            }
            if let Some(first) = self.offering_ids[..i].iter().position(|o| o == id) {
                c.push(
                    &path,
                    show(id),
                    format!(
                        "duplicates spec.offeringIDs[{first}]; fix: remove the duplicate entry"
                    ),
                );
            }
        }
        if !self.preferred_instance_type.is_empty()
            && !self.offering_ids.contains(&self.preferred_instance_type)
        {
            c.push(
                "spec.preferredInstanceType",
                show(&self.preferred_instance_type),
                format!(
                    "must be one of spec.offeringIDs ({}); fix: pick one of offeringIDs or leave preferredInstanceType empty",
                    self.offering_ids.join(", ")
                ),
            );
        }
    }
}

fn check_percent(value: i32, path: String, c: &mut Collector) {
    if !(0..=100).contains(&value) {
        c.push(
            path,
            value.to_string(),
            "must be between 0 and 100 (a percentage); fix: use a value from 0 to 100",
        );
    }
}

fn check_window(value: i32, path: String, c: &mut Collector) {
    if value < 1 {
        c.push(
            path,
            value.to_string(),
            "must be > 0 (seconds); fix: set stabilizationWindowSeconds to 1 or more",
        );
    }
}

impl ScaleUpPolicy {
    fn validate_into(&self, prefix: &str, c: &mut Collector) {
        check_window(
            self.stabilization_window_seconds,
            format!("{prefix}.stabilizationWindowSeconds"),
            c,
        );
        check_percent(self.cpu_threshold, format!("{prefix}.cpuThreshold"), c);
        check_percent(
            self.memory_threshold,
            format!("{prefix}.memoryThreshold"),
            c,
        );
    }
}

impl ScaleDownPolicy {
    fn validate_into(&self, prefix: &str, c: &mut Collector) {
        check_window(
            self.stabilization_window_seconds,
            format!("{prefix}.stabilizationWindowSeconds"),
            c,
        );
        check_percent(self.cpu_threshold, format!("{prefix}.cpuThreshold"), c);
        check_percent(
            self.memory_threshold,
            format!("{prefix}.memoryThreshold"),
            c,
        );
        if self.unneeded_time < 0 {
            c.push(
                format!("{prefix}.unneededTime"),
                self.unneeded_time.to_string(),
                "must be >= 0 (seconds); fix: set unneededTime to 0 or more",
            );
        }
    }
}

super::condition::impl_condition!(NodeGroupCondition);

#[cfg(test)]
mod backend_tests {
    use super::*;

    fn spec() -> NodeGroupSpec {
        NodeGroupSpec {
            min_nodes: 0,
            max_nodes: 3,
            datacenter_id: "dc-us-east-1".into(),
            offering_ids: vec!["small-2cpu-4gb".into()],
            os_image_id: "ubuntu-22.04-lts".into(),
            ..NodeGroupSpec::default()
        }
    }

    #[test]
    fn the_backend_is_the_specs_else_implied_by_managed_kubernetes_else_the_flags() {
        let mut s = spec();
        assert_eq!(s.backend_or(Backend::Vm), Backend::Vm);
        assert_eq!(
            s.backend_or(Backend::ManagedKubernetes),
            Backend::ManagedKubernetes
        );
        s.managed_kubernetes = Some(ManagedKubernetesSpec::default());
        assert_eq!(s.backend_or(Backend::Vm), Backend::ManagedKubernetes);
        s.managed_kubernetes = None;
        s.backend = Some(Backend::Vm);
        assert_eq!(s.backend_or(Backend::ManagedKubernetes), Backend::Vm);
        for (text, want) in [
            ("vm", Backend::Vm),
            ("managed-kubernetes", Backend::ManagedKubernetes),
            ("managedKubernetes", Backend::ManagedKubernetes),
        ] {
            assert_eq!(text.parse::<Backend>(), Ok(want));
        }
        let e = "cloud".parse::<Backend>().unwrap_err();
        assert!(
            e.contains("\"cloud\"") && e.contains("managed-kubernetes"),
            "{e}"
        );
    }

    #[test]
    fn contradicting_or_empty_backend_fields_are_refused_naming_them() {
        let mut s = spec();
        s.backend = Some(Backend::Vm);
        s.managed_kubernetes = Some(ManagedKubernetesSpec {
            cluster_id: Some(" ".into()),
            group_name: Some(String::new()),
        });
        let e = s.validate().unwrap_err().to_string();
        assert!(
            e.contains("spec.managedKubernetes") && e.contains("backend is vm"),
            "{e}"
        );
        assert!(e.contains("spec.managedKubernetes.clusterID"), "{e}");
        assert!(e.contains("spec.managedKubernetes.groupName"), "{e}");
        s.backend = Some(Backend::ManagedKubernetes);
        s.managed_kubernetes = Some(ManagedKubernetesSpec {
            cluster_id: Some("00000000-0000-4000-8000-000000000001".into()),
            group_name: Some("workers".into()),
        });
        assert!(s.validate().is_ok());
        let yaml = serde_json::to_value(&s).unwrap();
        assert_eq!(yaml["backend"], "managedKubernetes");
        assert_eq!(
            yaml["managedKubernetes"]["clusterID"],
            "00000000-0000-4000-8000-000000000001"
        );
    }
}
