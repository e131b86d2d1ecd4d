//! The VPSieNode lifecycle as a pure function: from what is observed (the VPSieNode, its VM, its
//! Node) and the time, the next step.
//!
//! ```text
//! Pending -> Provisioning (CreateVM, or adopt the VM found by hostname after a crash)
//!         -> Provisioned (VM running) -> Joining (Node registered) -> Ready (Node Ready)
//! Failed: provision or join timeout, VM failed or vanished -> the VM is deleted, then the record.
//! ```
//! The intent (the VPSieNode) exists before CreateVM is sent, and its hostname is its name, so a
//! crash between the call and recording the answer is healed by finding the VM by hostname:
//! never a second VM, never a leaked one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use vpsie_autoscaler::api::{
    k8s_time, ConditionStatus, EventReason, VPSieNode, VPSieNodeCondition, VPSieNodePhase,
    VPSieNodeStatus,
};
use vpsie_autoscaler::cloud::{VmPhase, Vps};

/// How long each phase may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From the intent to the VM running (cluster-autoscaler's max node provision time is 15 min).
    pub provision: Duration,
    /// From the VM running to its Node being Ready.
    pub join: Duration,
    /// How often to look again while waiting on the cloud or the kubelet.
    pub poll: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            provision: Duration::from_secs(15 * 60),
            join: Duration::from_secs(10 * 60),
            poll: Duration::from_secs(2),
        }
    }
}

/// The Node of a VPSieNode, as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeObservation {
    /// Node name.
    pub name: String,
    /// The Ready condition is True.
    pub ready: bool,
}

/// What is known of the VM.
#[derive(Debug, Clone, PartialEq)]
pub enum VmObservation {
    /// The VM as the cloud reports it.
    Present(Box<Vps>),
    /// The cloud says there is no such VM (404, or no VM with the hostname).
    Absent,
    /// Not looked at ([`vm_look`] said no look was needed).
    Unobserved,
}

/// How recent a look at the VPS a record needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmLook {
    /// None: the phase does not read it (Ready, Terminating), or the record's Node is Ready, so
    /// its VPS runs (its kubelet reports), which is all Provisioned and Joining check.
    None,
    /// A VPS list up to the check interval old, shared by every record waiting: what the record
    /// waits for shows in its Node (registering says the VPS runs), so the list only catches a
    /// VPS that failed or vanished, and the create's own look-up (an older list does as well:
    /// the creates that returned since it began are remembered, see `Context::unlisted`).
    Recent,
    /// A list no older than the poll interval: a VPS being deleted.
    Fresh,
}

/// The look at the VPS a record in `phase` needs, its Node being `node` (pure).
pub fn vm_look(phase: VPSieNodePhase, node: Option<&NodeObservation>) -> VmLook {
    match phase {
        VPSieNodePhase::Ready | VPSieNodePhase::Terminating => VmLook::None,
        VPSieNodePhase::Provisioned | VPSieNodePhase::Joining if node.is_some_and(|n| n.ready) => {
            VmLook::None
        }
        VPSieNodePhase::Pending
        | VPSieNodePhase::Provisioning
        | VPSieNodePhase::Provisioned
        | VPSieNodePhase::Joining => VmLook::Recent,
        VPSieNodePhase::Failed | VPSieNodePhase::Deleting => VmLook::Fresh,
    }
}

/// What to do next. (A transient return value, never stored, so its size does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send CreateVM (no VM with this hostname exists).
    CreateVm,
    /// Write this status (and, when set, record the VM's id and addresses in the spec), emit
    /// the events, then look again after `requeue`.
    Update {
        /// The new status.
        status: VPSieNodeStatus,
        /// Spec fields learned from the cloud or the cluster.
        spec: Option<SpecUpdate>,
        /// Events to emit.
        events: Vec<(EventReason, String)>,
        /// When to look again (`None`: only on change).
        requeue: Option<Duration>,
    },
    /// Nothing changed: look again after this long.
    Wait(Duration),
    /// The VM must go (Failed, or the record is being deleted): delete it.
    DeleteVm(i64),
    /// The VM is gone: remove the Node object (if any) and release the record.
    Release,
}

/// Spec fields the reconciler fills in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpecUpdate {
    /// `vpsieInstanceID`.
    pub vpsie_instance_id: Option<i64>,
    /// `ipAddress`.
    pub ip_address: Option<String>,
    /// `ipv6Address`.
    pub ipv6_address: Option<String>,
    /// `nodeName`.
    pub node_name: Option<String>,
}

fn cond(
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    now: DateTime<Utc>,
) -> VPSieNodeCondition {
    VPSieNodeCondition::new(type_, status, reason, message, k8s_time(now))
}

fn elapsed_since(
    t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    now: DateTime<Utc>,
) -> Option<Duration> {
    t.map(vpsie_autoscaler::api::chrono_time)
        .and_then(|t| (now - t).to_std().ok())
}

/// The status with phase `Failed`, the error recorded, and the event that says why.
fn failed(
    mut status: VPSieNodeStatus,
    reason: EventReason,
    message: String,
    now: DateTime<Utc>,
) -> Step {
    status.phase = VPSieNodePhase::Failed;
    status.last_error = Some(message.clone());
    status.set_condition(cond(
        VPSieNodeCondition::ERROR,
        ConditionStatus::True,
        reason.as_str(),
        &message,
        now,
    ));
    Step::Update {
        status,
        spec: None,
        events: vec![(reason, message)],
        requeue: Some(Duration::ZERO),
    }
}

/// Decides the next step for a VPSieNode that is not being deleted (deletion: [`finalize`]).
///
/// `vm` is `None` when the VM was not looked up (phase Pending with no id: the caller looks the
/// hostname up first and passes the result).
pub fn step(
    vn: &VPSieNode,
    vm: &VmObservation,
    node: Option<&NodeObservation>,
    now: DateTime<Utc>,
    timeouts: &Timeouts,
) -> Step {
    let mut status = vn.status.clone().unwrap_or_default();
    let hostname = vn.metadata.name.clone().unwrap_or_default();
    let created = status
        .created_at
        .clone()
        .or_else(|| vn.metadata.creation_timestamp.clone());
    match status.phase {
        VPSieNodePhase::Pending => match vm {
            VmObservation::Absent if vn.spec.vpsie_instance_id == 0 => {
                if elapsed_since(created.as_ref(), now).is_some_and(|e| e > timeouts.provision) {
                    return failed(
                        status,
                        EventReason::ProvisioningFailed,
                        format!(
                            "VPS was not created within {}s",
                            timeouts.provision.as_secs()
                        ),
                        now,
                    );
                }
                Step::CreateVm
            }
            VmObservation::Absent => failed(
                status,
                EventReason::ProvisioningFailed,
                format!(
                    "VPS {} no longer exists on VPSie",
                    vn.spec.vpsie_instance_id
                ),
                now,
            ),
            VmObservation::Present(vps) => {
                status.phase = VPSieNodePhase::Provisioning;
                // VPSie names a managed-Kubernetes node itself; a VM has the record's name
                status.hostname = Some(vps.hostname.clone().unwrap_or(hostname));
                status.created_at = Some(created.unwrap_or_else(|| k8s_time(now)));
                status.vpsie_status = vps.status.clone();
                Step::Update {
                    status,
                    spec: Some(SpecUpdate {
                        vpsie_instance_id: Some(vps.id),
                        ..SpecUpdate::default()
                    }),
                    events: vec![(
                        EventReason::VpsCreated,
                        format!(
                            "VPS {} ({}) created on VPSie",
                            vps.id, vn.spec.instance_type
                        ),
                    )],
                    requeue: Some(timeouts.poll),
                }
            }
            VmObservation::Unobserved => Step::Wait(timeouts.poll),
        },
        VPSieNodePhase::Provisioning => match vm {
            VmObservation::Unobserved => Step::Wait(timeouts.poll),
            VmObservation::Absent => failed(
                status,
                EventReason::ProvisioningFailed,
                format!(
                    "VPS {} disappeared while provisioning",
                    vn.spec.vpsie_instance_id
                ),
                now,
            ),
            VmObservation::Present(vps) => match vps.phase() {
                // a VPS whose Node registered runs, whatever an older list says of its creation
                phase
                    if phase == VmPhase::Running
                        || (matches!(phase, VmPhase::Provisioning | VmPhase::Unknown)
                            && node.is_some()) =>
                {
                    status.phase = VPSieNodePhase::Provisioned;
                    status.provisioned_at = Some(k8s_time(now));
                    status.vpsie_status = if phase == VmPhase::Running {
                        vps.status.clone()
                    } else {
                        Some("running".to_string())
                    };
                    status.resources = Some(vpsie_autoscaler::api::NodeResources {
                        cpu: i32::try_from(vps.cpu.unwrap_or(0)).unwrap_or(i32::MAX),
                        memory_mb: vps.ram.unwrap_or(0),
                        disk_gb: vps.ssd.unwrap_or(0),
                        bandwidth_gb: vps.traffic.unwrap_or(0),
                    });
                    status.set_condition(cond(
                        VPSieNodeCondition::VPS_READY,
                        ConditionStatus::True,
                        "VPSRunning",
                        "VPS is running on VPSie platform",
                        now,
                    ));
                    Step::Update {
                        status,
                        spec: Some(SpecUpdate {
                            ip_address: vps.default_ip.clone(),
                            ipv6_address: vps.default_ipv6.clone(),
                            ..SpecUpdate::default()
                        }),
                        events: Vec::new(),
                        requeue: Some(timeouts.poll),
                    }
                }
                VmPhase::Failed => failed(
                    status,
                    EventReason::ProvisioningFailed,
                    format!(
                        "VPS {} failed to boot (VPSie status {:?})",
                        vps.id,
                        vps.status.as_deref().unwrap_or("")
                    ),
                    now,
                ),
                _ if elapsed_since(created.as_ref(), now)
                    .is_some_and(|e| e > timeouts.provision) =>
                {
                    failed(
                        status,
                        EventReason::ProvisioningFailed,
                        format!(
                            "VPS {} not running after {}s (VPSie status {:?})",
                            vps.id,
                            timeouts.provision.as_secs(),
                            vps.status.as_deref().unwrap_or("")
                        ),
                        now,
                    )
                }
                _ => {
                    if status.vpsie_status != vps.status {
                        status.vpsie_status = vps.status.clone();
                        return Step::Update {
                            status,
                            spec: None,
                            events: Vec::new(),
                            requeue: Some(timeouts.poll),
                        };
                    }
                    Step::Wait(timeouts.poll)
                }
            },
        },
        VPSieNodePhase::Provisioned | VPSieNodePhase::Joining => {
            if let VmObservation::Absent = vm {
                return failed(
                    status,
                    EventReason::JoinFailed,
                    format!(
                        "VPS {} disappeared before its node joined",
                        vn.spec.vpsie_instance_id
                    ),
                    now,
                );
            }
            let since = status.provisioned_at.clone();
            match node {
                Some(n) if n.ready => {
                    let mut events = Vec::new();
                    if status.phase == VPSieNodePhase::Provisioned {
                        status.joined_at = Some(k8s_time(now));
                        events.push((EventReason::NodeJoined, format!("Node {} joined the cluster", n.name)));
                    }
                    status.phase = VPSieNodePhase::Ready;
                    status.ready_at = Some(k8s_time(now));
                    status.node_name = Some(n.name.clone());
                    status.last_error = None;
                    status.set_condition(cond(
                        VPSieNodeCondition::NODE_JOINED,
                        ConditionStatus::True,
                        "NodeJoinedCluster",
                        "Node successfully joined Kubernetes cluster",
                        now,
                    ));
                    status.set_condition(cond(
                        VPSieNodeCondition::NODE_READY,
                        ConditionStatus::True,
                        "NodeReady",
                        "Kubernetes node is ready to accept workloads",
                        now,
                    ));
                    events.push((EventReason::NodeReady, format!("Node {} is ready to accept workloads", n.name)));
                    Step::Update {
                        status,
                        spec: Some(SpecUpdate {
                            node_name: Some(n.name.clone()),
                            ..SpecUpdate::default()
                        }),
                        events,
                        requeue: None,
                    }
                }
                Some(n) if status.phase == VPSieNodePhase::Provisioned => {
                    status.phase = VPSieNodePhase::Joining;
                    status.joined_at = Some(k8s_time(now));
                    status.node_name = Some(n.name.clone());
                    status.set_condition(cond(
                        VPSieNodeCondition::NODE_JOINED,
                        ConditionStatus::True,
                        "NodeJoinedCluster",
                        "Node successfully joined Kubernetes cluster",
                        now,
                    ));
                    Step::Update {
                        status,
                        spec: Some(SpecUpdate {
                            node_name: Some(n.name.clone()),
                            ..SpecUpdate::default()
                        }),
                        events: vec![(EventReason::NodeJoined, format!("Node {} joined the cluster", n.name))],
                        requeue: Some(timeouts.poll),
                    }
                }
                _ if elapsed_since(since.as_ref(), now).is_some_and(|e| e > timeouts.join) => failed(
                    status,
                    EventReason::JoinFailed,
                    format!(
                        "Node join timeout: no Ready node after {}s; check cloud-init logs and network connectivity of VPS {}",
                        timeouts.join.as_secs(),
                        vn.spec.vpsie_instance_id
                    ),
                    now,
                ),
                _ => Step::Wait(timeouts.poll),
            }
        }
        VPSieNodePhase::Ready => Step::Wait(Duration::from_secs(60)),
        VPSieNodePhase::Failed | VPSieNodePhase::Deleting => match vm {
            VmObservation::Present(vps) => Step::DeleteVm(vps.id),
            VmObservation::Absent => Step::Release,
            VmObservation::Unobserved => Step::Wait(timeouts.poll),
        },
        // draining is scale-down's business
        VPSieNodePhase::Terminating => Step::Wait(timeouts.poll),
    }
}

/// The step for a VPSieNode being deleted: delete its VM until the cloud says it is gone, then
/// release it.
pub fn finalize(vm: &VmObservation) -> Step {
    match vm {
        VmObservation::Present(vps) => Step::DeleteVm(vps.id),
        VmObservation::Absent => Step::Release,
        // never passed: a record being deleted always looks
        VmObservation::Unobserved => Step::Wait(Duration::from_secs(2)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpsie_autoscaler::api::VPSieNodeSpec;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn vn(phase: VPSieNodePhase, id: i64) -> VPSieNode {
        let mut vn = VPSieNode::new(
            "web-abcde",
            VPSieNodeSpec {
                vpsie_instance_id: id,
                instance_type: "small-2cpu-4gb".into(),
                node_group_name: "web".into(),
                datacenter_id: "dc-us-east-1".into(),
                ..VPSieNodeSpec::default()
            },
        );
        vn.metadata.creation_timestamp = Some(k8s_time(t(0)));
        vn.status = Some(VPSieNodeStatus {
            phase,
            created_at: Some(k8s_time(t(0))),
            provisioned_at: (phase != VPSieNodePhase::Pending
                && phase != VPSieNodePhase::Provisioning)
                .then(|| k8s_time(t(60))),
            ..VPSieNodeStatus::default()
        });
        vn
    }

    fn vps(id: i64, status: &str) -> VmObservation {
        VmObservation::Present(Box::new(Vps {
            id,
            status: Some(status.into()),
            default_ip: Some("192.0.2.10".into()),
            cpu: Some(2),
            ram: Some(4096),
            ..Vps::default()
        }))
    }

    fn node(ready: bool) -> NodeObservation {
        NodeObservation {
            name: "web-abcde".into(),
            ready,
        }
    }

    fn phase_of(s: &Step) -> Option<VPSieNodePhase> {
        match s {
            Step::Update { status, .. } => Some(status.phase),
            _ => None,
        }
    }

    #[test]
    fn a_record_looks_at_its_vps_only_as_often_as_failures_need() {
        use VPSieNodePhase::*;
        for (phase, node_seen, look) in [
            (Pending, None, VmLook::Recent),
            (Provisioning, None, VmLook::Recent),
            (Provisioning, Some(node(true)), VmLook::Recent),
            (Provisioned, None, VmLook::Recent),
            (Joining, Some(node(false)), VmLook::Recent),
            (Provisioned, Some(node(true)), VmLook::None),
            (Joining, Some(node(true)), VmLook::None),
            (Ready, None, VmLook::None),
            (Terminating, None, VmLook::None),
            (Failed, None, VmLook::Fresh),
            (Deleting, Some(node(true)), VmLook::Fresh),
        ] {
            assert_eq!(
                vm_look(phase, node_seen.as_ref()),
                look,
                "{phase:?} {node_seen:?}"
            );
        }
    }

    #[test]
    fn a_registered_node_says_the_vps_runs_but_not_over_a_failure() {
        let tm = Timeouts::default();
        let v = vn(VPSieNodePhase::Provisioning, 1001);
        // an older list still says creating, but the VPS's kubelet registered its Node
        match step(&v, &vps(1001, "creating"), Some(&node(false)), t(20), &tm) {
            Step::Update { status, spec, .. } => {
                assert_eq!(status.phase, VPSieNodePhase::Provisioned);
                assert_eq!(status.vpsie_status.as_deref(), Some("running"));
                assert_eq!(spec.unwrap().ip_address.as_deref(), Some("192.0.2.10"));
            }
            s => panic!("{s:?}"),
        }
        // without a Node, creating is waited on
        let waiting = step(&v, &vps(1001, "creating"), None, t(20), &tm);
        assert_eq!(phase_of(&waiting), Some(VPSieNodePhase::Provisioning));
        // a failed, stopped or vanished VPS is not taken for running because of a Node
        let failed = step(&v, &vps(1001, "failed"), Some(&node(true)), t(20), &tm);
        assert_eq!(phase_of(&failed), Some(VPSieNodePhase::Failed));
        let stopped = step(&v, &vps(1001, "stopped"), Some(&node(true)), t(20), &tm);
        assert_eq!(phase_of(&stopped), Some(VPSieNodePhase::Provisioning));
        let gone = step(&v, &VmObservation::Absent, Some(&node(true)), t(20), &tm);
        assert_eq!(phase_of(&gone), Some(VPSieNodePhase::Failed));
    }

    #[test]
    fn a_ready_node_needs_no_look_at_its_vps_and_no_look_decides_nothing_else() {
        let tm = Timeouts::default();
        for phase in [VPSieNodePhase::Provisioned, VPSieNodePhase::Joining] {
            let s = step(
                &vn(phase, 1001),
                &VmObservation::Unobserved,
                Some(&node(true)),
                t(70),
                &tm,
            );
            assert_eq!(phase_of(&s), Some(VPSieNodePhase::Ready), "{phase:?}");
        }
        // not looked at is not gone: nothing fails or is released on it
        for phase in [
            VPSieNodePhase::Pending,
            VPSieNodePhase::Provisioning,
            VPSieNodePhase::Failed,
        ] {
            assert_eq!(
                step(
                    &vn(phase, 1001),
                    &VmObservation::Unobserved,
                    None,
                    t(70),
                    &tm
                ),
                Step::Wait(tm.poll),
                "{phase:?}"
            );
        }
        assert!(matches!(
            finalize(&VmObservation::Unobserved),
            Step::Wait(_)
        ));
    }

    #[test]
    fn pending_creates_or_adopts() {
        let tm = Timeouts::default();
        assert_eq!(
            step(
                &vn(VPSieNodePhase::Pending, 0),
                &VmObservation::Absent,
                None,
                t(1),
                &tm
            ),
            Step::CreateVm
        );
        // a VM found by hostname (created before a crash) is adopted, not created again
        match step(
            &vn(VPSieNodePhase::Pending, 0),
            &vps(1001, "creating"),
            None,
            t(1),
            &tm,
        ) {
            Step::Update {
                status,
                spec,
                events,
                ..
            } => {
                assert_eq!(status.phase, VPSieNodePhase::Provisioning);
                assert_eq!(spec.unwrap().vpsie_instance_id, Some(1001));
                assert_eq!(events[0].0, EventReason::VpsCreated);
            }
            s => panic!("{s:?}"),
        }
        // never created within the provision timeout: failed (e.g. quota or a long outage)
        let late = step(
            &vn(VPSieNodePhase::Pending, 0),
            &VmObservation::Absent,
            None,
            t(16 * 60),
            &tm,
        );
        assert_eq!(phase_of(&late), Some(VPSieNodePhase::Failed));
    }

    #[test]
    fn provisioning_waits_for_running_then_records_the_vm() {
        let tm = Timeouts::default();
        let v = vn(VPSieNodePhase::Provisioning, 1001);
        assert!(matches!(
            step(&v, &vps(1001, "creating"), None, t(30), &tm),
            Step::Update { .. } | Step::Wait(_)
        ));
        match step(&v, &vps(1001, "running"), None, t(60), &tm) {
            Step::Update { status, spec, .. } => {
                assert_eq!(status.phase, VPSieNodePhase::Provisioned);
                assert_eq!(
                    status.condition("VPSReady").unwrap().status,
                    ConditionStatus::True
                );
                assert_eq!(status.resources.unwrap().memory_mb, 4096);
                assert_eq!(spec.unwrap().ip_address.as_deref(), Some("192.0.2.10"));
            }
            s => panic!("{s:?}"),
        }
        assert_eq!(
            phase_of(&step(&v, &vps(1001, "failed"), None, t(60), &tm)),
            Some(VPSieNodePhase::Failed)
        );
        assert_eq!(
            phase_of(&step(&v, &VmObservation::Absent, None, t(60), &tm)),
            Some(VPSieNodePhase::Failed)
        );
        let late = step(&v, &vps(1001, "creating"), None, t(15 * 60 + 1), &tm);
        assert_eq!(phase_of(&late), Some(VPSieNodePhase::Failed));
    }

    #[test]
    fn joining_then_ready_with_events() {
        let tm = Timeouts::default();
        let v = vn(VPSieNodePhase::Provisioned, 1001);
        assert_eq!(
            step(&v, &vps(1001, "running"), None, t(70), &tm),
            Step::Wait(tm.poll)
        );
        match step(&v, &vps(1001, "running"), Some(&node(false)), t(70), &tm) {
            Step::Update { status, events, .. } => {
                assert_eq!(status.phase, VPSieNodePhase::Joining);
                assert_eq!(events[0].0, EventReason::NodeJoined);
            }
            s => panic!("{s:?}"),
        }
        let joining = vn(VPSieNodePhase::Joining, 1001);
        match step(
            &joining,
            &vps(1001, "running"),
            Some(&node(true)),
            t(80),
            &tm,
        ) {
            Step::Update {
                status,
                events,
                spec,
                ..
            } => {
                assert_eq!(status.phase, VPSieNodePhase::Ready);
                assert_eq!(status.node_name.as_deref(), Some("web-abcde"));
                assert_eq!(
                    events.iter().map(|e| e.0).collect::<Vec<_>>(),
                    vec![EventReason::NodeReady]
                );
                assert_eq!(spec.unwrap().node_name.as_deref(), Some("web-abcde"));
            }
            s => panic!("{s:?}"),
        }
        // straight from Provisioned to Ready emits both events
        match step(&v, &vps(1001, "running"), Some(&node(true)), t(80), &tm) {
            Step::Update { events, .. } => assert_eq!(events.len(), 2),
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn join_timeout_fails_with_the_spec_message() {
        let tm = Timeouts::default();
        let v = vn(VPSieNodePhase::Provisioned, 1001);
        match step(&v, &vps(1001, "running"), None, t(60 + 10 * 60 + 1), &tm) {
            Step::Update { status, events, .. } => {
                assert_eq!(status.phase, VPSieNodePhase::Failed);
                assert!(status.last_error.unwrap().starts_with("Node join timeout"));
                assert_eq!(events[0].0, EventReason::JoinFailed);
            }
            s => panic!("{s:?}"),
        }
    }

    #[test]
    fn failed_and_deleted_records_clean_up_their_vm() {
        let tm = Timeouts::default();
        let v = vn(VPSieNodePhase::Failed, 1001);
        assert_eq!(
            step(&v, &vps(1001, "running"), None, t(1), &tm),
            Step::DeleteVm(1001)
        );
        assert_eq!(
            step(&v, &VmObservation::Absent, None, t(1), &tm),
            Step::Release
        );
        assert_eq!(finalize(&vps(7, "running")), Step::DeleteVm(7));
        assert_eq!(finalize(&VmObservation::Absent), Step::Release);
    }
}
