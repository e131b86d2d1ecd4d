//! Draining a node that scale-down chose (VPSieNode phase `Terminating`), then handing it to
//! deletion (phase `Deleting`: DeleteVM, wait until the VM is gone, delete the Node, release
//! the record; see [`crate::lifecycle`]).
//!
//! The decision is a pure function ([`decide`]) of what is observed; [`drain`] does the I/O:
//! cordon, evict through the Eviction API (a `429` from a PodDisruptionBudget means wait and
//! try again: the budget is never forced), skip DaemonSet and mirror pods, wait for the evicted
//! pods to be gone (each within its own `terminationGracePeriodSeconds`), all within the drain
//! timeout (`autoscaler.vpsie.com/drain-timeout`, else `--drain-timeout`) counted from
//! `status.terminatingAt`. On timeout, or when the node is marked do-not-delete meanwhile:
//! `DrainFailed`, uncordon, back to `Ready`; the node is not deleted. Everything the drain
//! needs is in the API (the phase, `terminatingAt`, the cordon), so a reconciler that crashes
//! mid-drain resumes where it was.

use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{EvictParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;
use vpsie_autoscaler::api::{
    annotations, chrono_time, k8s_time, ConditionStatus, EventReason, VPSieNode,
    VPSieNodeCondition, VPSieNodePhase,
};

use crate::context::Context;
use crate::error::Result;
use crate::pods::MIRROR_ANNOTATION;
use crate::vpsienode::node_name_of;

/// On a Node the autoscaler cordoned: uncordoning is then the autoscaler's to do (a node an
/// operator cordoned stays cordoned after a failed drain).
pub const CORDONED_BY: &str = "autoscaler.vpsie.com/cordoned-by";

/// A pod on the node being drained, as the drain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainPod {
    /// `namespace/name`.
    pub key: String,
    /// Owned by a DaemonSet or a static (mirror) pod: it stays with the node.
    pub stays: bool,
    /// Succeeded or Failed: nothing to evict.
    pub finished: bool,
    /// Already being deleted (evicted earlier): wait for it.
    pub terminating: bool,
}

impl DrainPod {
    /// From a pod.
    pub fn from_pod(pod: &Pod) -> Self {
        let daemonset = pod
            .owner_references()
            .iter()
            .any(|o| o.controller == Some(true) && o.kind == "DaemonSet");
        let mirror = pod.annotations().contains_key(MIRROR_ANNOTATION);
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        DrainPod {
            key: format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any()),
            stays: daemonset || mirror,
            finished: matches!(phase, Some("Succeeded" | "Failed")),
            terminating: pod.metadata.deletion_timestamp.is_some(),
        }
    }

    fn must_go(&self) -> bool {
        !self.stays && !self.finished
    }
}

/// What the drain observed.
#[derive(Debug, Clone, PartialEq)]
pub struct DrainObservation {
    /// The Node exists.
    pub node_exists: bool,
    /// `spec.unschedulable`.
    pub cordoned: bool,
    /// The pods bound to it.
    pub pods: Vec<DrainPod>,
    /// The node or its VPSieNode is annotated do-not-delete now.
    pub do_not_delete: bool,
    /// When the drain began (`status.terminatingAt`).
    pub started: DateTime<Utc>,
    /// How long it may take.
    pub timeout: Duration,
    /// Now.
    pub now: DateTime<Utc>,
}

/// The next step of a drain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainStep {
    /// Mark the node unschedulable first.
    Cordon,
    /// Evict these pods (`namespace/name`).
    Evict(Vec<String>),
    /// Evicted pods are still terminating: look again.
    Wait {
        /// Pods still going.
        pods: Vec<String>,
    },
    /// Nothing left that must move: delete the VM.
    Drained,
    /// Give up: uncordon, back to Ready, emit `DrainFailed` with this message.
    Abort(String),
}

/// Decides the next step of a drain.
pub fn decide(o: &DrainObservation) -> DrainStep {
    if !o.node_exists {
        return DrainStep::Drained;
    }
    let left: Vec<&DrainPod> = o.pods.iter().filter(|p| p.must_go()).collect();
    if o.do_not_delete {
        return DrainStep::Abort(format!(
            "drain stopped: the node was annotated {}=true while draining; it stays",
            annotations::DO_NOT_DELETE
        ));
    }
    let elapsed = (o.now - o.started).to_std().unwrap_or_default();
    if elapsed > o.timeout && !left.is_empty() {
        let names: Vec<&str> = left.iter().take(5).map(|p| p.key.as_str()).collect();
        return DrainStep::Abort(format!(
            "drain timed out after {}s with {} pod(s) left ({}{}); the node is uncordoned and kept. Check the PodDisruptionBudgets and finalizers of those pods, or raise {}",
            o.timeout.as_secs(),
            left.len(),
            names.join(", "),
            if left.len() > names.len() { ", ..." } else { "" },
            annotations::DRAIN_TIMEOUT
        ));
    }
    if !o.cordoned {
        return DrainStep::Cordon;
    }
    let evict: Vec<String> = left
        .iter()
        .filter(|p| !p.terminating)
        .map(|p| p.key.clone())
        .collect();
    if !evict.is_empty() {
        return DrainStep::Evict(evict);
    }
    if !left.is_empty() {
        return DrainStep::Wait {
            pods: left.iter().map(|p| p.key.clone()).collect(),
        };
    }
    DrainStep::Drained
}

/// How an eviction went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvictOutcome {
    /// Accepted: the pod is being deleted.
    Evicted,
    /// Refused with 429: a PodDisruptionBudget allows no disruption now.
    Blocked(String),
    /// The pod is gone already.
    Gone,
}

async fn evict(pods: &Api<Pod>, name: &str) -> Result<EvictOutcome> {
    match pods.evict(name, &EvictParams::default()).await {
        Ok(_) => Ok(EvictOutcome::Evicted),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(EvictOutcome::Gone),
        Err(kube::Error::Api(e)) if e.code == 429 => Ok(EvictOutcome::Blocked(e.message)),
        Err(e) => Err(e.into()),
    }
}

async fn set_cordon(nodes: &Api<Node>, name: &str, cordon: bool) -> Result<()> {
    let patch = if cordon {
        json!({"metadata": {"annotations": {CORDONED_BY: crate::events::COMPONENT}},
               "spec": {"unschedulable": true}})
    } else {
        json!({"metadata": {"annotations": {CORDONED_BY: null}},
               "spec": {"unschedulable": null}})
    };
    match nodes
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The drain timeout of a record: its annotation, else the configured default. A malformed
/// annotation falls back to the default (the NodeGroup's report names it).
pub fn drain_timeout(vn: &VPSieNode, default: Duration) -> Duration {
    vn.drain_timeout().ok().flatten().unwrap_or(default)
}

/// One step of the drain of a `Terminating` record.
pub async fn drain(vn: &VPSieNode, ctx: &Context) -> Result<Action> {
    let poll = ctx.real(ctx.config.poll_interval);
    let now = ctx.now();
    let ns = vn
        .namespace()
        .unwrap_or_else(|| ctx.config.namespace.clone());
    let vn_api: Api<VPSieNode> = Api::namespaced(ctx.kube.clone(), &ns);
    let nodes: Api<Node> = Api::all(ctx.kube.clone());
    let node_name = node_name_of(vn);
    let node = nodes.get_opt(&node_name).await?;
    let pods: Vec<Pod> = match &node {
        Some(_) => {
            Api::<Pod>::all(ctx.kube.clone())
                .list(&ListParams::default().fields(&format!("spec.nodeName={node_name}")))
                .await?
                .items
        }
        None => Vec::new(),
    };
    let status = vn.status.clone().unwrap_or_default();
    let started = status
        .terminating_at
        .as_ref()
        .map(chrono_time)
        .unwrap_or(now);
    let node_dnd = node
        .as_ref()
        .is_some_and(|n| annotations::do_not_delete(n.annotations()).unwrap_or(false));
    let observation = DrainObservation {
        node_exists: node.is_some(),
        cordoned: node
            .as_ref()
            .and_then(|n| n.spec.as_ref())
            .and_then(|s| s.unschedulable)
            .unwrap_or(false),
        pods: pods.iter().map(DrainPod::from_pod).collect(),
        do_not_delete: vn.do_not_delete().unwrap_or(false) || node_dnd,
        started,
        timeout: drain_timeout(vn, ctx.config.drain_timeout),
        now,
    };
    if ctx.config.dry_run {
        return Ok(Action::await_change());
    }
    match decide(&observation) {
        DrainStep::Cordon => {
            set_cordon(&nodes, &node_name, true).await?;
            Ok(Action::requeue(std::time::Duration::ZERO))
        }
        DrainStep::Evict(keys) => {
            let mut blocked = Vec::new();
            for key in &keys {
                let (pns, name) = key.split_once('/').unwrap_or(("default", key));
                let api: Api<Pod> = Api::namespaced(ctx.kube.clone(), pns);
                if let EvictOutcome::Blocked(why) = evict(&api, name).await? {
                    blocked.push(format!("{key}: {why}"));
                }
            }
            let waiting = if blocked.is_empty() {
                None
            } else {
                Some(format!(
                    "draining: eviction of {} pod(s) refused for now, trying again ({})",
                    blocked.len(),
                    blocked.join("; ")
                ))
            };
            if status.last_error != waiting {
                vn_api
                    .patch_status(
                        &vn.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(json!({"status": {"lastError": waiting}})),
                    )
                    .await?;
            }
            Ok(Action::requeue(poll))
        }
        DrainStep::Wait { .. } => Ok(Action::requeue(poll)),
        DrainStep::Drained => {
            vn_api
                .patch_status(
                    &vn.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {
                        "phase": VPSieNodePhase::Deleting,
                        "lastError": null,
                    }})),
                )
                .await?;
            Ok(Action::requeue(std::time::Duration::ZERO))
        }
        DrainStep::Abort(message) => {
            let ours = node
                .as_ref()
                .is_some_and(|n| n.annotations().contains_key(CORDONED_BY));
            if ours {
                set_cordon(&nodes, &node_name, false).await?;
            }
            let mut status = status;
            status.phase = VPSieNodePhase::Ready;
            status.terminating_at = None;
            status.last_error = Some(message.clone());
            status.set_condition(VPSieNodeCondition::new(
                VPSieNodeCondition::ERROR,
                ConditionStatus::True,
                EventReason::DrainFailed.as_str(),
                &message,
                k8s_time(now),
            ));
            vn_api
                .patch_status(
                    &vn.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": status})),
                )
                .await?;
            ctx.recorder
                .publish(vn, EventReason::DrainFailed, &message, now)
                .await;
            Ok(Action::requeue(ctx.real(Duration::from_secs(60))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn pod(key: &str) -> DrainPod {
        DrainPod {
            key: key.into(),
            stays: false,
            finished: false,
            terminating: false,
        }
    }

    fn obs(pods: Vec<DrainPod>) -> DrainObservation {
        DrainObservation {
            node_exists: true,
            cordoned: true,
            pods,
            do_not_delete: false,
            started: t(0),
            timeout: Duration::from_secs(600),
            now: t(10),
        }
    }

    #[test]
    fn cordon_first_then_evict_what_must_move() {
        let mut ds = pod("kube-system/ds-x");
        ds.stays = true;
        let mut done = pod("default/job-x");
        done.finished = true;
        let mut o = obs(vec![pod("default/web-1"), ds, done]);
        o.cordoned = false;
        assert_eq!(decide(&o), DrainStep::Cordon);
        o.cordoned = true;
        assert_eq!(decide(&o), DrainStep::Evict(vec!["default/web-1".into()]));
    }

    #[test]
    fn waits_for_evicted_pods_then_is_drained() {
        let mut going = pod("default/web-1");
        going.terminating = true;
        assert_eq!(
            decide(&obs(vec![going])),
            DrainStep::Wait {
                pods: vec!["default/web-1".into()]
            }
        );
        let mut ds = pod("kube-system/ds-x");
        ds.stays = true;
        assert_eq!(decide(&obs(vec![ds])), DrainStep::Drained);
        let mut gone = obs(vec![pod("default/web-1")]);
        gone.node_exists = false;
        assert_eq!(decide(&gone), DrainStep::Drained);
    }

    #[test]
    fn a_drain_that_takes_too_long_or_is_vetoed_is_aborted() {
        let mut o = obs(vec![pod("default/web-1")]);
        o.now = t(601);
        match decide(&o) {
            DrainStep::Abort(m) => {
                assert!(m.contains("timed out after 600s"), "{m}");
                assert!(m.contains("default/web-1"), "{m}");
                assert!(m.contains("autoscaler.vpsie.com/drain-timeout"), "{m}");
            }
            s => panic!("{s:?}"),
        }
        // done in time: the timeout does not matter any more
        let mut ds = pod("kube-system/ds-x");
        ds.stays = true;
        let mut late_but_done = obs(vec![ds]);
        late_but_done.now = t(700);
        assert_eq!(decide(&late_but_done), DrainStep::Drained);

        let mut o = obs(vec![pod("default/web-1")]);
        o.do_not_delete = true;
        assert!(matches!(decide(&o), DrainStep::Abort(m) if m.contains("do-not-delete")));
    }
}
