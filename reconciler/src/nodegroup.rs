//! The NodeGroup controller: status (counts, nodes, the five conditions), the minimum size,
//! invalid specs, the force-reconcile trigger, deletion of a group's nodes, metrics.

use std::sync::Arc;
use std::time::Instant;

use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio::sync::Notify;
use vpsie_autoscaler::api::{
    annotations, k8s_time, ConditionStatus, EventReason, NodeGroup, NodeGroupCondition,
    NodeGroupStatus, NodeInfo, VPSieNode, VPSieNodePhase,
};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::report::DecisionAction;
use crate::scaleup::{blocked, counts, group_offerings, in_flight, offering_for_new_nodes, suffix};
use crate::vpsienode::FINALIZER as VN_FINALIZER;

/// The finalizer that keeps a NodeGroup until its nodes are gone.
pub const FINALIZER: &str = "autoscaler.vpsie.com/nodegroup";

/// What the NodeGroup controller shares with scale-up.
pub struct GroupContext {
    /// Everything.
    pub ctx: Arc<Context>,
    /// Pinged to plan unschedulable pods now (a forced reconcile, a group that changed).
    pub scale_up: Arc<Notify>,
}

/// Reconciles one NodeGroup.
pub async fn reconcile(group: Arc<NodeGroup>, gctx: Arc<GroupContext>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_inner(&group, &gctx).await;
    gctx.ctx.metrics.observe_reconcile(
        "nodegroup",
        started.elapsed().as_secs_f64(),
        result.is_err(),
    );
    result
}

/// Retries failed reconciles after the poll interval.
pub fn error_policy(group: Arc<NodeGroup>, error: &Error, gctx: Arc<GroupContext>) -> Action {
    tracing::warn!(nodegroup = %group.name_any(), error = %error, "reconcile failed");
    Action::requeue(gctx.ctx.real(gctx.ctx.config.poll_interval))
}

fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    now: chrono::DateTime<chrono::Utc>,
) -> NodeGroupCondition {
    let status = if ok {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    NodeGroupCondition::new(type_, status, reason, message, k8s_time(now))
}

async fn reconcile_inner(group: &NodeGroup, gctx: &GroupContext) -> Result<Action> {
    let ctx = &gctx.ctx;
    let name = group.name_any();
    let ns = group
        .namespace()
        .unwrap_or_else(|| ctx.config.namespace.clone());
    let api: Api<NodeGroup> = Api::namespaced(ctx.kube.clone(), &ns);
    let vn_api: Api<VPSieNode> = Api::namespaced(ctx.kube.clone(), &ns);
    let resync = ctx.real(ctx.config.resync);
    let now = ctx.now();
    let of_group =
        ListParams::default().labels(&format!("{}={name}", annotations::LABEL_NODEGROUP));
    let mine: Vec<VPSieNode> = vn_api.list(&of_group).await?.items;

    if group.metadata.deletion_timestamp.is_some() {
        if !group.finalizers().iter().any(|f| f == FINALIZER) {
            return Ok(Action::await_change());
        }
        for vn in mine
            .iter()
            .filter(|v| v.metadata.deletion_timestamp.is_none())
        {
            vn_api
                .delete(&vn.name_any(), &DeleteParams::default())
                .await?;
        }
        if mine.is_empty() {
            let finalizers: Vec<String> = group
                .finalizers()
                .iter()
                .filter(|f| *f != FINALIZER)
                .cloned()
                .collect();
            api.patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": finalizers}})),
            )
            .await?;
            ctx.metrics.remove_group(&name);
            ctx.board.remove_group(&name);
            return Ok(Action::await_change());
        }
        return Ok(Action::requeue(ctx.real(ctx.config.poll_interval)));
    }
    if !group.finalizers().iter().any(|f| f == FINALIZER) {
        let mut finalizers = group.finalizers().to_vec();
        finalizers.push(FINALIZER.to_string());
        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": finalizers}})),
        )
        .await?;
    }

    ctx.board.observe_nodegroup(group);
    let mut status = group.status.clone().unwrap_or_default();
    // lastScaleTime is written by whatever scales (scale-up, headroom, scale-down, the minimum
    // below): this copy of the group may predate their write, and patching it back would undo
    // it (and with it the stabilization window)
    status.last_scale_time = None;
    status.observed_generation = group.metadata.generation;
    status.backend = Some(group.spec.backend_or(ctx.config.backend));
    if let Some(trigger) = group.pending_reconcile_trigger() {
        // a forced reconcile: plan the pending pods now, then acknowledge
        gctx.scale_up.notify_one();
        status.observed_reconcile_trigger = Some(trigger.to_string());
    }

    // Invalid specs and annotations: Error condition, event, nothing else.
    let mut invalid = match (group.validate(), group.effective_min_max()) {
        (Err(errors), _) => Some(errors.to_string()),
        (Ok(()), Err(e)) => Some(e.to_string()),
        _ => None,
    };
    if invalid.is_none() && crate::managed::is_managed(group, ctx) {
        // where the managed backend adds each offering's nodes: found (or the VPSie group
        // created) now, so a configuration that cannot work shows before any node is needed
        for offering in &group.spec.offering_ids {
            match crate::managed::target(ctx, group, offering).await {
                Ok(_) => {}
                Err(Error::Config(message)) => {
                    invalid = Some(message);
                    break;
                }
                Err(e) => {
                    tracing::warn!(nodegroup = %name, offering, error = %e, "could not look up the managed Kubernetes node group");
                    break;
                }
            }
        }
        status.managed_kubernetes = ctx.managed.status_of(group);
    }
    if let Some(message) = invalid {
        status.set_condition(condition(
            NodeGroupCondition::ERROR,
            true,
            "InvalidConfiguration",
            message.clone(),
            now,
        ));
        status.set_condition(condition(
            NodeGroupCondition::READY,
            false,
            "InvalidConfiguration",
            message.clone(),
            now,
        ));
        write_status(&api, &name, &status, &mine).await?;
        ctx.recorder
            .publish(group, EventReason::InvalidConfiguration, &message, now)
            .await;
        ctx.decide(
            &name,
            DecisionAction::Blocked,
            "InvalidConfiguration",
            format!("invalid configuration: {message}"),
            Vec::new(),
        );
        return Ok(Action::requeue(resync));
    }
    let (min, max) = group
        .effective_min_max()
        .unwrap_or((group.spec.min_nodes, group.spec.max_nodes));

    // Below the minimum: add nodes of the preferred (or cheapest) offering. Counted again
    // under the scale lock, with what scale-up created meanwhile, so a node it planned for
    // pending pods is not doubled by one for minNodes.
    let mut current = mine.iter().filter(|v| counts(v)).count() as i32;
    let mut created = 0;
    let _decide = if current < min {
        let guard = ctx.scale_lock.lock().await;
        let fresh: Vec<std::sync::Arc<VPSieNode>> = vn_api
            .list(&of_group)
            .await?
            .items
            .into_iter()
            .map(std::sync::Arc::new)
            .collect();
        current = ctx
            .with_recent(fresh)
            .iter()
            .filter(|v| v.spec.node_group_name == name && counts(v))
            .count() as i32;
        Some(guard)
    } else {
        None
    };
    if current < min && blocked(ctx, group).is_none() && !ctx.config.dry_run {
        let catalogue = ctx.offerings().await?;
        let offerings = group_offerings(ctx, group, &catalogue);
        let choice = offering_for_new_nodes(group, &mine, &offerings);
        if let Some(offering) = choice {
            for _ in current..min {
                let mut vn =
                    VPSieNode::planned(&format!("{name}-{}", suffix()), group, &offering.id);
                vn.metadata.finalizers = Some(vec![VN_FINALIZER.to_string()]);
                ctx.create_vpsienode(&vn_api, &vn).await?;
                created += 1;
            }
            let message = format!(
                "Scaling up from {current} to {min} node(s) of {}: below minNodes {min}",
                offering.id
            );
            status.last_scale_time = Some(k8s_time(now));
            ctx.recorder
                .publish(group, EventReason::ScalingUp, &message, now)
                .await;
            ctx.decide(
                &name,
                DecisionAction::ScaleUp,
                "BelowMinNodes",
                message,
                Vec::new(),
            );
        } else {
            let message = format!(
                "Instance type not available: none of offeringIDs {:?} is available in {} (or all are backed off after failures)",
                group.spec.offering_ids, group.spec.datacenter_id
            );
            ctx.recorder
                .publish(group, EventReason::ProvisioningFailed, &message, now)
                .await;
            ctx.decide(
                &name,
                DecisionAction::Blocked,
                "NoOfferingAvailable",
                message,
                Vec::new(),
            );
        }
    }

    let current = current + created;
    let ready = mine
        .iter()
        .filter(|v| counts(v) && v.phase() == VPSieNodePhase::Ready)
        .count() as i32;
    let coming = mine.iter().filter(|v| in_flight(v)).count() as i32 + created;
    let leaving = mine
        .iter()
        .filter(|v| counts(v) && v.phase() == VPSieNodePhase::Terminating)
        .count() as i32;
    let failed = mine
        .iter()
        .filter(|v| v.phase() == VPSieNodePhase::Failed)
        .count();
    status.current_nodes = current;
    status.desired_nodes = (current - leaving).clamp(min, max.max(min));
    status.ready_nodes = ready;
    status.set_condition(if ready == status.desired_nodes {
        condition(
            NodeGroupCondition::READY,
            true,
            "AllNodesReady",
            "All nodes are ready and operational".into(),
            now,
        )
    } else {
        condition(
            NodeGroupCondition::READY,
            false,
            "NodesNotReady",
            format!(
                "{ready} of {} desired node(s) are ready",
                status.desired_nodes
            ),
            now,
        )
    });
    status.set_condition(if coming > 0 {
        condition(
            NodeGroupCondition::SCALING,
            true,
            "NodesProvisioning",
            format!("{coming} node(s) on their way"),
            now,
        )
    } else if leaving > 0 {
        condition(
            NodeGroupCondition::SCALING,
            true,
            "NodesTerminating",
            format!("{leaving} node(s) being drained and removed"),
            now,
        )
    } else {
        condition(
            NodeGroupCondition::SCALING,
            false,
            "Stable",
            "No node is being added or removed".into(),
            now,
        )
    });
    status.set_condition(if failed > 0 {
        condition(
            NodeGroupCondition::ERROR,
            true,
            "NodesFailed",
            format!("{failed} node(s) failed; they are being cleaned up"),
            now,
        )
    } else {
        condition(
            NodeGroupCondition::ERROR,
            false,
            "NoError",
            "No error".into(),
            now,
        )
    });
    status.set_condition(condition(
        NodeGroupCondition::AT_MIN_CAPACITY,
        current <= min,
        if current <= min {
            "AtMinNodes"
        } else {
            "AboveMinNodes"
        },
        format!("{current} node(s), minNodes {min}"),
        now,
    ));
    status.set_condition(condition(
        NodeGroupCondition::AT_MAX_CAPACITY,
        current >= max,
        if current >= max {
            "AtMaxNodes"
        } else {
            "BelowMaxNodes"
        },
        format!("{current} node(s), maxNodes {max}"),
        now,
    ));
    write_status(&api, &name, &status, &mine).await?;
    ctx.metrics.set_group(
        &name,
        i64::from(status.desired_nodes),
        i64::from(current),
        i64::from(ready),
    );
    ctx.metrics
        .set_bounds(&name, i64::from(min), i64::from(max));
    Ok(Action::requeue(resync))
}

async fn write_status(
    api: &Api<NodeGroup>,
    name: &str,
    status: &NodeGroupStatus,
    mine: &[VPSieNode],
) -> Result<()> {
    let mut status = status.clone();
    status.nodes = mine
        .iter()
        .filter(|v| v.metadata.deletion_timestamp.is_none())
        .map(NodeInfo::from_vpsienode)
        .collect();
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await?;
    Ok(())
}
