//! The VPSieNode controller: drives each VPSieNode through its lifecycle
//! ([`lifecycle::step`](crate::lifecycle::step)) by calling VPSie and Kubernetes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::Node;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;
use vpsie_autoscaler::api::annotations;
use vpsie_autoscaler::api::{
    ConditionStatus, EventReason, NodeGroup, VPSieNode, VPSieNodeCondition, VPSieNodePhase,
};
use vpsie_autoscaler::cloud::{CloudError, CreateVpsRequest, ErrorClass};

use crate::context::{Context, Unlisted};
use crate::error::{Error, Result};
use crate::lifecycle::{self, NodeObservation, SpecUpdate, Step, VmLook, VmObservation};

/// The finalizer that keeps a VPSieNode until its VPS is deleted.
pub const FINALIZER: &str = "autoscaler.vpsie.com/vpsienode";

/// The tag every VPS the autoscaler creates carries.
pub const MANAGED_TAG: &str = "vpsie-autoscaler";

/// Tags of a VPS: the group's, plus the ones that name its cluster, group and record.
pub fn vm_tags(cluster: &str, group: &NodeGroup, vn_name: &str) -> Vec<String> {
    let mut tags = group.spec.tags.clone();
    tags.push(MANAGED_TAG.to_string());
    tags.push(format!("cluster:{cluster}"));
    tags.push(format!("nodegroup:{}", group.name_any()));
    tags.push(format!("vpsienode:{vn_name}"));
    tags
}

/// The labels the group's nodes carry.
pub fn node_labels(group: &NodeGroup, instance_type: &str) -> BTreeMap<String, String> {
    let mut labels = group.spec.labels.clone();
    labels.insert(annotations::NODEGROUP.to_string(), group.name_any());
    labels.insert(
        annotations::INSTANCE_TYPE.to_string(),
        instance_type.to_string(),
    );
    labels.insert(
        annotations::DATACENTER.to_string(),
        group.spec.datacenter_id.clone(),
    );
    labels
}

/// cloud-init user data: a first part that gives the kubelet the group's labels and taints
/// (`KUBELET_EXTRA_ARGS`), then the group's own `userData` (which joins the cluster).
pub fn user_data(group: &NodeGroup, instance_type: &str) -> String {
    let labels: Vec<String> = node_labels(group, instance_type)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let taints: Vec<String> = group
        .spec
        .taints
        .iter()
        .map(|t| match t.value.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => format!("{}={v}:{}", t.key, t.effect),
            None => format!("{}:{}", t.key, t.effect),
        })
        .collect();
    let mut args = format!("--node-labels={}", labels.join(","));
    if !taints.is_empty() {
        args.push_str(&format!(" --register-with-taints={}", taints.join(",")));
    }
    let own = group.spec.user_data.as_str();
    let own_type = if own.trim_start().starts_with("#cloud-config") {
        "text/cloud-config"
    } else {
        "text/x-shellscript"
    };
    let boundary = "==VPSIE-AUTOSCALER==";
    let mut out = format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\nMIME-Version: 1.0\n\n\
         --{boundary}\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\n\n\
         #!/bin/sh\n# kubelet settings of NodeGroup {}, written by vpsie-autoscaler\nmkdir -p /etc/default\n\
         echo 'KUBELET_EXTRA_ARGS={args}' >> /etc/default/kubelet\n",
        group.name_any()
    );
    if !own.trim().is_empty() {
        out.push_str(&format!(
            "\n--{boundary}\nContent-Type: {own_type}; charset=\"us-ascii\"\n\n{own}\n"
        ));
    }
    out.push_str(&format!("--{boundary}--\n"));
    out
}

/// The Node name of the record's VPS: `spec.nodeName` once known (a managed-Kubernetes node
/// is named by VPSie), else its hostname's first label, lower-cased (on the VM path the
/// hostname is the record's name).
pub fn node_name_of(vn: &VPSieNode) -> String {
    if let Some(n) = vn.spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return n.to_string();
    }
    let host = vn
        .status
        .as_ref()
        .and_then(|s| s.hostname.clone())
        .unwrap_or_else(|| vn.name_any());
    crate::managed::node_name(&host)
}

/// What the cloud says of the record's VPS, and whether a "no VPS with this hostname" can be
/// trusted without another look-up (see [`Context::unlisted`]), looked at as `look` says
/// ([`VmLook::None`]: not at all).
async fn observe_vm(vn: &VPSieNode, ctx: &Context, look: VmLook) -> Result<(VmObservation, bool)> {
    if look == VmLook::None {
        return Ok((VmObservation::Unobserved, false));
    }
    let id = vn.spec.vpsie_instance_id;
    let name = vn.name_any();
    if id <= 0 && crate::managed::is_managed_record(vn) {
        // a managed-Kubernetes add was sent: its node is found in its group, not by hostname
        return Ok(match crate::managed::observe_waiting(vn, ctx).await? {
            Some(v) => (VmObservation::Present(Box::new(v)), true),
            None => (VmObservation::Absent, true),
        });
    }
    // the shared snapshot answers most looks; a VPS created after it is answered by what its
    // create returned, and a known id missing from a list newer than its create is confirmed
    // by a direct call, so a VPS is never taken for gone on a stale list
    let snapshot = if look == VmLook::Fresh {
        ctx.vm_snapshot().await?
    } else {
        ctx.recent_vm_snapshot().await?
    };
    let hit = snapshot.vms.iter().find(|v| {
        if id > 0 {
            v.id == id
        } else {
            v.hostname
                .as_deref()
                .is_some_and(|h| h.eq_ignore_ascii_case(&name))
        }
    });
    if let Some(v) = hit {
        return Ok((VmObservation::Present(Box::new(v.clone())), true));
    }
    match ctx.unlisted(&snapshot, &name) {
        Unlisted::Created(v) if id <= 0 || v.id == id => {
            return Ok((VmObservation::Present(v), true));
        }
        Unlisted::Absent if id <= 0 => return Ok((VmObservation::Absent, true)),
        _ => {}
    }
    if id > 0 {
        return match ctx.cloud.get_vm(id).await {
            Ok(v) => Ok((VmObservation::Present(Box::new(v)), true)),
            Err(e) if e.class() == ErrorClass::NotFound => Ok((VmObservation::Absent, true)),
            Err(e) => Err(e.into()),
        };
    }
    Ok(match ctx.cloud.find_vm_by_hostname(&name).await? {
        Some(v) => (VmObservation::Present(Box::new(v)), true),
        None => (VmObservation::Absent, false),
    })
}

use vpsie_autoscaler::scaling::fit::node_ready;

async fn observe_node(vn: &VPSieNode, ctx: &Context) -> Result<Option<(NodeObservation, Node)>> {
    let api: Api<Node> = Api::all(ctx.kube.clone());
    let name = node_name_of(vn);
    Ok(api.get_opt(&name).await?.map(|node| {
        let ready = node_ready(&node);
        (NodeObservation { name, ready }, node)
    }))
}

/// Reconciles one VPSieNode.
pub async fn reconcile(vn: Arc<VPSieNode>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_inner(&vn, &ctx).await;
    ctx.metrics.observe_reconcile(
        "vpsienode",
        started.elapsed().as_secs_f64(),
        result.is_err(),
    );
    result
}

/// What to do after an error: wait as the error suggests (Retry-After, the breaker's next
/// probe), or the poll interval.
pub fn error_policy(vn: Arc<VPSieNode>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(vpsienode = %vn.name_any(), error = %error, "reconcile failed");
    let wait = match error {
        Error::Cloud(e) => e
            .suggested_requeue(ctx.now())
            .unwrap_or(ctx.config.poll_interval),
        _ => ctx.config.poll_interval,
    };
    Action::requeue(ctx.real(wait))
}

async fn reconcile_inner(vn: &VPSieNode, ctx: &Context) -> Result<Action> {
    let ns = vn
        .namespace()
        .unwrap_or_else(|| ctx.config.namespace.clone());
    let api: Api<VPSieNode> = Api::namespaced(ctx.kube.clone(), &ns);
    let name = vn.name_any();
    let poll = ctx.real(ctx.config.poll_interval);

    if vn.metadata.deletion_timestamp.is_some() {
        if !vn.finalizers().iter().any(|f| f == FINALIZER) {
            return Ok(Action::await_change());
        }
        if ctx.config.dry_run {
            return remove_finalizer(&api, vn).await;
        }
        let vm = observe_vm(vn, ctx, VmLook::Fresh).await?.0;
        return match lifecycle::finalize(&vm) {
            Step::DeleteVm(id) => {
                delete_vps(vn, &vm, id, ctx).await?;
                Ok(Action::requeue(poll))
            }
            _ => {
                delete_node(vn, ctx).await?;
                remove_finalizer(&api, vn).await
            }
        };
    }
    if !vn.finalizers().iter().any(|f| f == FINALIZER) {
        let mut finalizers = vn.finalizers().to_vec();
        finalizers.push(FINALIZER.to_string());
        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": finalizers}})),
        )
        .await?;
        return Ok(Action::requeue(std::time::Duration::ZERO));
    }

    let phase = vn.phase();
    if phase == VPSieNodePhase::Terminating {
        return crate::drain::drain(vn, ctx).await;
    }
    // the Node first: what it shows decides how recent a look at the VPS is needed
    let node = match phase {
        VPSieNodePhase::Provisioned | VPSieNodePhase::Joining => observe_node(vn, ctx).await?,
        _ => None,
    };
    let seen = match phase {
        // a registered Node says the VPS runs: the watch cache tells, without a request
        VPSieNodePhase::Provisioning => ctx.cached_node(&node_name_of(vn)),
        _ => node.as_ref().map(|n| n.0.clone()),
    };
    let (vm, absence_checked) =
        observe_vm(vn, ctx, lifecycle::vm_look(phase, seen.as_ref())).await?;
    let now = ctx.now();
    let mut step = lifecycle::step(vn, &vm, seen.as_ref(), now, &ctx.config.timeouts());
    if step == Step::CreateVm {
        if ctx.config.dry_run {
            return Ok(Action::await_change());
        }
        let created = create_vm(vn, ctx, absence_checked).await;
        if !matches!(created, Ok(None) | Ok(Some(Created::Later))) {
            let vps = match &created {
                Ok(Some(Created::Vps(v))) => Some(v.as_ref()),
                _ => None,
            };
            ctx.create_returned(&name, vps);
        }
        match created {
            Ok(Some(Created::Later)) => return Ok(Action::requeue(poll)),
            Ok(Some(Created::Vps(vps))) => {
                step = lifecycle::step(
                    vn,
                    &VmObservation::Present(vps),
                    None,
                    now,
                    &ctx.config.timeouts(),
                );
            }
            Ok(None) => {
                // the NodeGroup is gone: nothing to create for
                api.delete(&name, &DeleteParams::default()).await?;
                return Ok(Action::await_change());
            }
            Err(e) => return provisioning_error(&api, vn, ctx, e).await,
        }
    }
    if let Some((_, node)) = &node {
        ensure_node_labels(vn, node, ctx).await?;
    }
    match step {
        Step::CreateVm => Ok(Action::requeue(poll)),
        Step::Wait(d) => Ok(Action::requeue(ctx.real(d))),
        Step::Update {
            status,
            spec,
            events,
            requeue,
        } => {
            if let Some(spec) = spec {
                patch_spec(&api, &name, &spec).await?;
            }
            if status.phase == VPSieNodePhase::Failed {
                ctx.back_off(&vn.spec.node_group_name, &vn.spec.instance_type);
            }
            api.patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await?;
            for (reason, message) in events {
                ctx.recorder.publish(vn, reason, &message, now).await;
            }
            Ok(match requeue {
                Some(d) => Action::requeue(ctx.real(d)),
                None => Action::requeue(ctx.real(std::time::Duration::from_secs(60))),
            })
        }
        Step::DeleteVm(id) => {
            if !ctx.config.dry_run {
                delete_vps(vn, &vm, id, ctx).await?;
            }
            Ok(Action::requeue(poll))
        }
        Step::Release => {
            delete_node(vn, ctx).await?;
            api.delete(&name, &DeleteParams::default()).await?;
            Ok(Action::await_change())
        }
    }
}

/// Deletes the record's VPS: through its managed cluster when it was added to one, else
/// `DELETE /vm/{id}`.
async fn delete_vps(vn: &VPSieNode, vm: &VmObservation, id: i64, ctx: &Context) -> Result<()> {
    if crate::managed::is_managed_record(vn) {
        let vps = match vm {
            VmObservation::Present(v) => (**v).clone(),
            VmObservation::Absent | VmObservation::Unobserved => vpsie_autoscaler::cloud::Vps {
                id,
                ..Default::default()
            },
        };
        return crate::managed::remove(vn, &vps, ctx).await;
    }
    ctx.cloud.delete_vm(id).await?;
    Ok(())
}

/// What asking for the record's VPS gave.
#[derive(Debug)]
enum Created {
    /// The VPS.
    Vps(Box<vpsie_autoscaler::cloud::Vps>),
    /// Asked, not yet known which VPS it is (a managed add's answer was lost): look later.
    Later,
}

/// CreateVM (or, for a managed-Kubernetes NodeGroup, adds a node to its cluster) for the
/// record: `None` when its NodeGroup no longer exists.
async fn create_vm(
    vn: &VPSieNode,
    ctx: &Context,
    absence_checked: bool,
) -> Result<Option<Created>> {
    let ns = vn
        .namespace()
        .unwrap_or_else(|| ctx.config.namespace.clone());
    let groups: Api<NodeGroup> = Api::namespaced(ctx.kube.clone(), &ns);
    let Some(group) = groups.get_opt(&vn.spec.node_group_name).await? else {
        return Ok(None);
    };
    if crate::managed::is_managed(&group, ctx) || crate::managed::is_managed_record(vn) {
        return Ok(Some(match crate::managed::add(vn, &group, ctx).await? {
            crate::managed::Added::Node(v) => Created::Vps(v),
            crate::managed::Added::Later => Created::Later,
        }));
    }
    let name = vn.name_any();
    let request = CreateVpsRequest {
        name: name.clone(),
        hostname: name.clone(),
        offering_id: vn.spec.instance_type.clone(),
        datacenter_id: vn.spec.datacenter_id.clone(),
        os_image_id: group.spec.os_image_id.clone(),
        ssh_key_ids: group.spec.ssh_key_ids.clone(),
        tags: vm_tags(&ctx.config.cluster_name, &group, &name),
        notes: format!(
            "Node of NodeGroup {ns}/{} (cluster {}), managed by vpsie-autoscaler",
            group.name_any(),
            ctx.config.cluster_name
        ),
        user_data: user_data(&group, &vn.spec.instance_type),
        ..CreateVpsRequest::default()
    };
    ctx.create_sent(&name);
    let vps = if absence_checked {
        ctx.cloud.create_vm_after_lookup(&request).await?
    } else {
        ctx.cloud.create_vm(&request).await?
    };
    Ok(Some(Created::Vps(Box::new(vps))))
}

/// A failed CreateVM: permanent errors fail the record (the offering is backed off); the others
/// are recorded and retried.
async fn provisioning_error(
    api: &Api<VPSieNode>,
    vn: &VPSieNode,
    ctx: &Context,
    error: Error,
) -> Result<Action> {
    let now = ctx.now();
    let message = error.to_string();
    let permanent =
        matches!(&error, Error::Cloud(e) if is_permanent(e)) || matches!(error, Error::Config(_));
    let mut status = vn.status.clone().unwrap_or_default();
    status.last_error = Some(message.clone());
    status.set_condition(VPSieNodeCondition::new(
        VPSieNodeCondition::ERROR,
        ConditionStatus::True,
        EventReason::ProvisioningFailed.as_str(),
        &message,
        vpsie_autoscaler::api::k8s_time(now),
    ));
    if permanent {
        status.phase = VPSieNodePhase::Failed;
        let quota = matches!(&error, Error::Cloud(e) if e.class() == ErrorClass::QuotaExceeded);
        if quota {
            // the account's quota, not the offering, refused: it comes back when other VPS go
            // or VPSie raises it, so the group tries again soon instead of after the back-off
            ctx.back_off_for(
                &vn.spec.node_group_name,
                &vn.spec.instance_type,
                QUOTA_HOLD.min(ctx.config.offering_backoff),
            );
        } else {
            ctx.back_off(&vn.spec.node_group_name, &vn.spec.instance_type);
        }
    }
    api.patch_status(
        &vn.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await?;
    ctx.recorder
        .publish(vn, EventReason::ProvisioningFailed, &message, now)
        .await;
    if permanent {
        return Ok(Action::requeue(std::time::Duration::ZERO));
    }
    Err(error)
}

/// How long an offering is avoided after the account's quota refused a VPS of it.
pub const QUOTA_HOLD: std::time::Duration = std::time::Duration::from_secs(30);

/// Errors that retrying cannot fix: the offering, datacenter or image does not exist, the
/// request is refused, the quota is exhausted.
fn is_permanent(e: &CloudError) -> bool {
    matches!(
        e.class(),
        ErrorClass::NotFound
            | ErrorClass::BadRequest
            | ErrorClass::QuotaExceeded
            | ErrorClass::Forbidden
    )
}

async fn patch_spec(api: &Api<VPSieNode>, name: &str, spec: &SpecUpdate) -> Result<()> {
    let mut patch = serde_json::Map::new();
    if let Some(id) = spec.vpsie_instance_id {
        patch.insert("vpsieInstanceID".into(), json!(id));
    }
    if let Some(ip) = &spec.ip_address {
        patch.insert("ipAddress".into(), json!(ip));
    }
    if let Some(ip) = &spec.ipv6_address {
        patch.insert("ipv6Address".into(), json!(ip));
    }
    if let Some(n) = &spec.node_name {
        patch.insert("nodeName".into(), json!(n));
    }
    if !patch.is_empty() {
        api.patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": patch})),
        )
        .await?;
    }
    Ok(())
}

/// Gives a joined node its group's labels and taints, when the kubelet did not.
async fn ensure_node_labels(vn: &VPSieNode, node: &Node, ctx: &Context) -> Result<()> {
    let ns = vn
        .namespace()
        .unwrap_or_else(|| ctx.config.namespace.clone());
    let groups: Api<NodeGroup> = Api::namespaced(ctx.kube.clone(), &ns);
    let Some(group) = groups.get_opt(&vn.spec.node_group_name).await? else {
        return Ok(());
    };
    let want = node_labels(&group, &vn.spec.instance_type);
    let have = node.metadata.labels.clone().unwrap_or_default();
    let missing_labels = want.iter().any(|(k, v)| have.get(k) != Some(v));
    let mut taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let before = taints.len();
    for t in &group.spec.taints {
        if !taints
            .iter()
            .any(|x| x.key == t.key && x.effect == t.effect)
        {
            taints.push(t.clone());
        }
    }
    if !missing_labels && taints.len() == before {
        return Ok(());
    }
    let api: Api<Node> = Api::all(ctx.kube.clone());
    let mut patch = json!({"metadata": {"labels": want}});
    if taints.len() != before {
        patch["spec"] = json!({"taints": taints});
    }
    api.patch(
        &node.name_any(),
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await?;
    Ok(())
}

async fn delete_node(vn: &VPSieNode, ctx: &Context) -> Result<()> {
    let api: Api<Node> = Api::all(ctx.kube.clone());
    match api
        .delete(&node_name_of(vn), &DeleteParams::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn remove_finalizer(api: &Api<VPSieNode>, vn: &VPSieNode) -> Result<Action> {
    let finalizers: Vec<String> = vn
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    match api
        .patch(
            &vn.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": finalizers}})),
        )
        .await
    {
        Ok(_) => Ok(Action::await_change()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(Action::await_change()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpsie_autoscaler::api::NodeGroupSpec;

    fn group() -> NodeGroup {
        let mut g = NodeGroup::new(
            "web",
            NodeGroupSpec {
                min_nodes: 0,
                max_nodes: 5,
                datacenter_id: "dc-us-east-1".into(),
                offering_ids: vec!["small-2cpu-4gb".into()],
                os_image_id: "ubuntu-22.04-lts".into(),
                user_data: "#cloud-config\nruncmd: [kubeadm join]\n".into(),
                tags: vec!["prod".into()],
                ..NodeGroupSpec::default()
            },
        );
        g.spec.labels.insert("env".into(), "prod".into());
        g.spec.taints.push(k8s_openapi::api::core::v1::Taint {
            key: "dedicated".into(),
            value: Some("web".into()),
            effect: "NoSchedule".into(),
            ..Default::default()
        });
        g
    }

    #[test]
    fn user_data_passes_labels_and_taints_to_the_kubelet_then_runs_the_groups_own() {
        let ud = user_data(&group(), "small-2cpu-4gb");
        assert!(ud.contains("--node-labels=autoscaler.vpsie.com/datacenter=dc-us-east-1,autoscaler.vpsie.com/instance-type=small-2cpu-4gb,autoscaler.vpsie.com/nodegroup=web,env=prod"), "{ud}");
        assert!(
            ud.contains("--register-with-taints=dedicated=web:NoSchedule"),
            "{ud}"
        );
        assert!(
            ud.contains("Content-Type: text/cloud-config") && ud.contains("kubeadm join"),
            "{ud}"
        );
        assert!(ud.trim_end().ends_with("--==VPSIE-AUTOSCALER==--"));
    }

    #[test]
    fn tags_name_cluster_group_and_record() {
        let tags = vm_tags("prod-eu", &group(), "web-abcde");
        assert_eq!(
            tags,
            [
                "prod",
                "vpsie-autoscaler",
                "cluster:prod-eu",
                "nodegroup:web",
                "vpsienode:web-abcde"
            ]
        );
    }
}
