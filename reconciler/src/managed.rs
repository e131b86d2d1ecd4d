//! The managed-Kubernetes backend: a NodeGroup whose backend is `managedKubernetes` gets its
//! nodes by adding them to a node group of a VPSie managed cluster
//! (`POST /k8s/cluster/byId/{cluster}/add/slave/group/{group}`), and gives them back with
//! `DELETE /k8s/cluster/byId/{cluster}/delete/slave`. Once added, a node is a VPS like any
//! other: the record follows it through `/vm` and its Kubernetes node, as on the VM path.
//!
//! The guarantees of the VM path hold, though VPSie names the node, not we:
//! - **Intent first.** Before the add is sent the VPSieNode records the cluster, the group,
//!   the time and the highest VPS id known (annotations `k8s-*`).
//! - **A lost answer** (`data: true`, a timeout, a cut reply, a crash before the answer was
//!   written) is resolved by finding the node: in the group, claimed by no VPSieNode, with an
//!   id above the one recorded. Records still waiting are paired with such nodes in order (the
//!   oldest request with the lowest id), so two waiting records never take one node, and
//!   nothing is added for them meanwhile. A request that made nothing within
//!   [`ADD_RESOLVE_GRACE`] is forgotten and the node added again.
//! - **One add per VPSie group at a time**, from writing the intent to writing the answer's id
//!   into the record: a resolution always sees every answered node as claimed.
//!
//! The cluster is `spec.managedKubernetes.clusterID`, else `--vpsie-cluster-id`, else the
//! account's only one. Each offering of the NodeGroup has its own VPSie group (a VPSie group
//! has one size): named `spec.managedKubernetes.groupName` or the NodeGroup's name, plus
//! `-<offering>` when there are several offerings; created (`POST /k8s/cluster/add/group`)
//! when missing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;
use vpsie_autoscaler::api::{
    annotations, Backend, ManagedKubernetesGroup, ManagedKubernetesStatus, NodeGroup, VPSieNode,
};
use vpsie_autoscaler::cloud::{AddedNode, ErrorClass, K8sCluster, K8sNode, Vps};

use crate::context::Context;
use crate::error::{Error, Result};

/// How long a sent add may stay without a node found for it before it is taken as having made
/// nothing (and the node is added again).
pub const ADD_RESOLVE_GRACE: Duration = Duration::from_secs(60);

/// Where one offering of a NodeGroup is added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The cluster's identifier.
    pub cluster: String,
    /// The cluster's name.
    pub cluster_name: String,
    /// The VPSie node group's id.
    pub group_id: i64,
    /// Its name.
    pub group_name: String,
}

/// The VPSie group name of `offering` in NodeGroup `group`.
pub fn group_name_for(group: &NodeGroup, offering: &str) -> String {
    let base = group
        .spec
        .managed_kubernetes
        .as_ref()
        .and_then(|m| m.group_name.clone())
        .unwrap_or_else(|| group.name_any());
    if group.spec.offering_ids.len() > 1 {
        format!("{base}-{offering}")
    } else {
        base
    }
}

/// The cluster to use: the one `wanted` names (by identifier or name), else the only one.
/// `field` names where `wanted` came from, for the message.
pub fn choose_cluster<'a>(
    clusters: &'a [K8sCluster],
    wanted: Option<&str>,
    field: &str,
) -> std::result::Result<&'a K8sCluster, String> {
    let listed = || {
        clusters
            .iter()
            .map(|c| {
                format!(
                    "{} ({})",
                    c.identifier,
                    c.cluster_name.as_deref().unwrap_or("unnamed")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match wanted {
        Some(w) => clusters
            .iter()
            .find(|c| c.identifier == w || c.cluster_name.as_deref() == Some(w))
            .ok_or_else(|| {
                format!(
                    "{field} {w:?}: no such managed Kubernetes cluster on this VPSie account; fix: use one of: {}",
                    if clusters.is_empty() { "none exist".to_string() } else { listed() }
                )
            }),
        None => match clusters {
            [one] => Ok(one),
            [] => Err("backend managedKubernetes: this VPSie account has no managed Kubernetes cluster; fix: create one on VPSie, or set spec.backend to vm".to_string()),
            _ => Err(format!(
                "backend managedKubernetes: this VPSie account has {} managed Kubernetes clusters; fix: set spec.managedKubernetes.clusterID (or serve's --vpsie-cluster-id) to one of: {}",
                clusters.len(),
                listed()
            )),
        },
    }
}

/// A record whose add was sent and not yet answered into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The record's name.
    pub name: String,
    /// When the add was sent.
    pub requested_at: DateTime<Utc>,
    /// The highest VPS id known then.
    pub after_id: i64,
}

impl Waiting {
    /// The waiting add of `vn` in `cluster`/`group`, if it has one.
    pub fn of(vn: &VPSieNode) -> Option<(String, i64, Waiting)> {
        if vn.spec.vpsie_instance_id > 0 {
            return None;
        }
        let a = vn.annotations();
        let cluster = a.get(annotations::K8S_CLUSTER)?.clone();
        let group = a.get(annotations::K8S_NODE_GROUP)?.parse().ok()?;
        let requested_at = DateTime::parse_from_rfc3339(a.get(annotations::K8S_ADD_REQUESTED_AT)?)
            .ok()?
            .with_timezone(&Utc);
        let after_id = a
            .get(annotations::K8S_ADD_AFTER_ID)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Some((
            cluster,
            group,
            Waiting {
                name: vn.name_any(),
                requested_at,
                after_id,
            },
        ))
    }
}

/// Pairs the waiting records of one VPSie group with the nodes that can be theirs: in the
/// group, claimed by no record, with an id above the record's `after_id`. The oldest request
/// takes the lowest such id. Pure.
pub fn pair_lost_nodes(
    waiting: &[Waiting],
    nodes: &[K8sNode],
    claimed: &HashSet<i64>,
) -> BTreeMap<String, K8sNode> {
    let mut free: Vec<&K8sNode> = nodes.iter().filter(|n| !claimed.contains(&n.id)).collect();
    free.sort_by_key(|n| n.id);
    let mut order: Vec<&Waiting> = waiting.iter().collect();
    order.sort_by(|a, b| {
        a.requested_at
            .cmp(&b.requested_at)
            .then(a.name.cmp(&b.name))
    });
    let mut out = BTreeMap::new();
    for w in order {
        if let Some(pos) = free.iter().position(|n| n.id > w.after_id) {
            out.insert(w.name.clone(), free.remove(pos).clone());
        }
    }
    out
}

/// A VPS as far as a node listing or an add's answer tells it.
pub fn vps_of(node: &K8sNode) -> Vps {
    Vps {
        id: node.id,
        identifier: node.identifier.clone(),
        name: node.hostname.clone(),
        hostname: node.hostname.clone(),
        status: node.status.clone(),
        default_ip: node.default_ip.clone(),
        created_on: node.created_on.clone(),
        ..Vps::default()
    }
}

/// One lock per VPSie group (cluster, group id).
type GroupLocks = HashMap<(String, i64), Arc<tokio::sync::Mutex<()>>>;

/// The managed backend's state: resolved targets and one lock per VPSie group.
#[derive(Default)]
pub struct Managed {
    targets: Mutex<HashMap<(String, String, String), Target>>,
    locks: Mutex<GroupLocks>,
}

impl std::fmt::Debug for Managed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Managed").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Managed {
    fn group_lock(&self, cluster: &str, group: i64) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.locks)
            .entry((cluster.to_string(), group))
            .or_default()
            .clone()
    }

    fn key(group: &NodeGroup, offering: &str) -> (String, String, String) {
        (
            group.namespace().unwrap_or_default(),
            group.name_any(),
            offering.to_string(),
        )
    }

    /// Forgets where `offering` of `group` goes (its VPSie group vanished).
    pub fn forget(&self, group: &NodeGroup, offering: &str) {
        lock(&self.targets).remove(&Self::key(group, offering));
    }

    /// What `status.managedKubernetes` shows of `group`: the cluster and the groups resolved
    /// so far.
    pub fn status_of(&self, group: &NodeGroup) -> Option<ManagedKubernetesStatus> {
        let targets = lock(&self.targets);
        let mut groups: Vec<(String, &Target)> = group
            .spec
            .offering_ids
            .iter()
            .filter_map(|o| targets.get(&Self::key(group, o)).map(|t| (o.clone(), t)))
            .collect();
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        let first = groups.first()?.1.clone();
        Some(ManagedKubernetesStatus {
            cluster_id: first.cluster,
            cluster_name: first.cluster_name,
            groups: groups
                .into_iter()
                .map(|(o, t)| ManagedKubernetesGroup {
                    offering_id: o,
                    group_id: t.group_id,
                    group_name: t.group_name.clone(),
                })
                .collect(),
        })
    }
}

/// Whether `group` provisions through the managed backend.
pub fn is_managed(group: &NodeGroup, ctx: &Context) -> bool {
    group.spec.backend_or(ctx.config.backend) == Backend::ManagedKubernetes
}

/// Where `offering` of `group` is added: found once, then remembered; the VPSie group is
/// created when missing. A configuration that cannot work is [`Error::Config`].
pub async fn target(ctx: &Context, group: &NodeGroup, offering: &str) -> Result<Target> {
    let key = Managed::key(group, offering);
    if let Some(t) = lock(&ctx.managed.targets).get(&key) {
        return Ok(t.clone());
    }
    let spec_cluster = group
        .spec
        .managed_kubernetes
        .as_ref()
        .and_then(|m| m.cluster_id.clone());
    let (wanted, field) = match (&spec_cluster, &ctx.config.vpsie_cluster_id) {
        (Some(c), _) => (Some(c.clone()), "spec.managedKubernetes.clusterID"),
        (None, Some(c)) => (Some(c.clone()), "--vpsie-cluster-id"),
        (None, None) => (None, ""),
    };
    let clusters = ctx.cloud.list_k8s_clusters().await?;
    let cluster = choose_cluster(&clusters, wanted.as_deref(), field).map_err(Error::Config)?;
    let dc = cluster
        .datacenter_id
        .clone()
        .unwrap_or_else(|| group.spec.datacenter_id.clone());
    if dc != group.spec.datacenter_id {
        return Err(Error::Config(format!(
            "spec.datacenterID {:?}: managed Kubernetes cluster {} is in datacenter {dc:?}; fix: set datacenterID to {dc:?}",
            group.spec.datacenter_id, cluster.identifier
        )));
    }
    let name = group_name_for(group, offering);
    let offers = ctx.cloud.list_k8s_offers(&dc).await?;
    let offer = offers.iter().find(|o| o.is_offering(offering)).ok_or_else(|| {
        Error::Config(format!(
            "spec.offeringIDs {offering:?}: not offered for managed Kubernetes in datacenter {dc:?}; fix: use one of: {}",
            offers
                .iter()
                .map(|o| o.offering_id.clone().or_else(|| o.name.clone()).unwrap_or_else(|| o.id.to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let groups = ctx.cloud.list_k8s_node_groups(&cluster.identifier).await?;
    let found = match groups
        .into_iter()
        .find(|g| g.group_name.as_deref() == Some(name.as_str()))
    {
        Some(g) => {
            let same = g.offering_id.as_deref() == Some(offering)
                || g.kube_size_id.is_none_or(|k| k == offer.id);
            if !same {
                return Err(Error::Config(format!(
                    "spec.managedKubernetes.groupName {name:?}: VPSie node group {} of cluster {} has nodes of size {}, not offering {offering:?}; fix: name a group of that size, or remove the group on VPSie so it is created",
                    g.id,
                    cluster.identifier,
                    g.offering_id.clone().unwrap_or_else(|| g.kube_size_id.unwrap_or(0).to_string())
                )));
            }
            g
        }
        None => {
            tracing::info!(cluster = %cluster.identifier, group = %name, offering, "creating VPSie node group");
            ctx.cloud
                .create_k8s_node_group(&cluster.identifier, &name, offer.id)
                .await?
        }
    };
    let t = Target {
        cluster: cluster.identifier.clone(),
        cluster_name: cluster.cluster_name.clone().unwrap_or_default(),
        group_id: found.id,
        group_name: name,
    };
    lock(&ctx.managed.targets).insert(key, t.clone());
    Ok(t)
}

/// What adding a node came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Added {
    /// The node, now the record's.
    Node(Box<Vps>),
    /// Sent, not yet known which node it made: look again later.
    Later,
}

fn ns_of(vn: &VPSieNode, ctx: &Context) -> String {
    vn.namespace()
        .unwrap_or_else(|| ctx.config.namespace.clone())
}

/// Merges `values` into the record's annotations; returns the record as written.
async fn set_annotations(
    vn: &VPSieNode,
    ctx: &Context,
    values: serde_json::Value,
) -> Result<VPSieNode> {
    let api: Api<VPSieNode> = Api::namespaced(ctx.kube.clone(), &ns_of(vn, ctx));
    Ok(api
        .patch(
            &vn.name_any(),
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": values}})),
        )
        .await?)
}

async fn forget_request(vn: &VPSieNode, ctx: &Context) -> Result<()> {
    set_annotations(
        vn,
        ctx,
        json!({
            annotations::K8S_ADD_REQUESTED_AT: null,
            annotations::K8S_ADD_AFTER_ID: null,
        }),
    )
    .await
    .map(|_| ())
}

/// Writes the node's id and name into the record (under the group's lock, so a resolution
/// never takes an answered node for a lost one).
async fn claim(vn: &VPSieNode, ctx: &Context, node: &K8sNode) -> Result<()> {
    let api: Api<VPSieNode> = Api::namespaced(ctx.kube.clone(), &ns_of(vn, ctx));
    let mut spec = serde_json::Map::new();
    spec.insert("vpsieInstanceID".into(), json!(node.id));
    if let Some(h) = &node.hostname {
        spec.insert("nodeName".into(), json!(node_name(h)));
    }
    api.patch(
        &vn.name_any(),
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": spec})),
    )
    .await?;
    Ok(())
}

/// The Kubernetes node name of a hostname: its first label, lower-cased.
pub fn node_name(hostname: &str) -> String {
    hostname
        .split('.')
        .next()
        .unwrap_or(hostname)
        .to_ascii_lowercase()
}

/// Looks for the node a sent add of `vn` made. `Some` when found (and claimed); `None` when
/// not (yet).
async fn resolve(vn: &VPSieNode, ctx: &Context, cluster: &str, group: i64) -> Result<Option<Vps>> {
    let groups = ctx.cloud.list_k8s_node_groups(cluster).await?;
    let nodes: Vec<K8sNode> = groups
        .into_iter()
        .filter(|g| g.id == group)
        .flat_map(|g| g.nodes)
        .collect();
    let api: Api<VPSieNode> = Api::namespaced(ctx.kube.clone(), &ns_of(vn, ctx));
    let records = api.list(&ListParams::default()).await?.items;
    let claimed: HashSet<i64> = records
        .iter()
        .map(|r| r.spec.vpsie_instance_id)
        .filter(|id| *id > 0)
        .collect();
    let waiting: Vec<Waiting> = records
        .iter()
        .filter_map(Waiting::of)
        .filter(|(c, g, _)| c == cluster && *g == group)
        .map(|(_, _, w)| w)
        .collect();
    let paired = pair_lost_nodes(&waiting, &nodes, &claimed);
    let Some(node) = paired.get(&vn.name_any()) else {
        return Ok(None);
    };
    tracing::warn!(vpsienode = %vn.name_any(), id = node.id, hostname = node.hostname.as_deref().unwrap_or(""), "the add's answer was lost; found its node");
    claim(vn, ctx, node).await?;
    Ok(Some(vps_of(node)))
}

/// For a record with no VPS id yet: the node its sent add made, when found; `None` when no
/// add is waiting, or when one is and its node is not found (yet).
pub async fn observe_waiting(vn: &VPSieNode, ctx: &Context) -> Result<Option<Vps>> {
    let Some((cluster, group, _)) = Waiting::of(vn) else {
        return Ok(None);
    };
    let lock = ctx.managed.group_lock(&cluster, group);
    let _one = lock.lock().await;
    resolve(vn, ctx, &cluster, group).await
}

/// Adds a node for `vn` to its group's VPSie group.
pub async fn add(vn: &VPSieNode, group: &NodeGroup, ctx: &Context) -> Result<Added> {
    let offering = vn.spec.instance_type.as_str();
    if let Some((cluster, gid, w)) = Waiting::of(vn) {
        // an add was sent and its node is not found: wait for it, or give up on it
        let lock = ctx.managed.group_lock(&cluster, gid);
        let _one = lock.lock().await;
        if let Some(v) = resolve(vn, ctx, &cluster, gid).await? {
            return Ok(Added::Node(Box::new(v)));
        }
        let waited = (ctx.now() - w.requested_at).to_std().unwrap_or_default();
        if waited < ADD_RESOLVE_GRACE {
            return Ok(Added::Later);
        }
        tracing::warn!(vpsienode = %vn.name_any(), waited_s = waited.as_secs(), "no node appeared for the add sent; adding again");
        forget_request(vn, ctx).await?;
    }
    let t = target(ctx, group, offering).await?;
    let lock = ctx.managed.group_lock(&t.cluster, t.group_id);
    let _one = lock.lock().await;
    let after_id = ctx.highest_vps_id().await?;
    // the intent, before the call
    let fresh = set_annotations(
        vn,
        ctx,
        json!({
            annotations::K8S_CLUSTER: t.cluster,
            annotations::K8S_NODE_GROUP: t.group_id.to_string(),
            annotations::K8S_ADD_REQUESTED_AT: ctx.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            annotations::K8S_ADD_AFTER_ID: after_id.to_string(),
        }),
    )
    .await?;
    match ctx.cloud.add_k8s_node(&t.cluster, t.group_id).await {
        Ok(AddedNode::Node(node)) => {
            claim(&fresh, ctx, &node).await?;
            Ok(Added::Node(Box::new(vps_of(&node))))
        }
        Ok(AddedNode::Accepted) => Ok(match resolve(&fresh, ctx, &t.cluster, t.group_id).await? {
            Some(v) => Added::Node(Box::new(v)),
            None => Added::Later,
        }),
        Err(e) if e.is_ambiguous() => {
            tracing::warn!(vpsienode = %vn.name_any(), error = %e, "the add failed ambiguously; looking for its node");
            match resolve(&fresh, ctx, &t.cluster, t.group_id).await {
                Ok(Some(v)) => Ok(Added::Node(Box::new(v))),
                Ok(None) | Err(_) => Err(e.into()),
            }
        }
        Err(e) => {
            // refused: nothing was made
            if e.class() == ErrorClass::NotFound {
                ctx.managed.forget(group, offering);
            }
            forget_request(&fresh, ctx).await?;
            Err(e.into())
        }
    }
}

/// Removes the record's node from its cluster (404: already gone).
pub async fn remove(vn: &VPSieNode, vps: &Vps, ctx: &Context) -> Result<()> {
    let cluster = vn
        .annotations()
        .get(annotations::K8S_CLUSTER)
        .cloned()
        .ok_or_else(|| {
            Error::Missing(format!(
                "VPSieNode {} has no {} annotation",
                vn.name_any(),
                annotations::K8S_CLUSTER
            ))
        })?;
    let identifier = match &vps.identifier {
        Some(i) => i.clone(),
        None => ctx.cloud.get_vm(vps.id).await?.identifier.ok_or_else(|| {
            Error::Missing(format!(
                "VPS {} has no identifier to remove it from cluster {cluster} by",
                vps.id
            ))
        })?,
    };
    ctx.cloud.delete_k8s_node(&cluster, &identifier).await?;
    Ok(())
}

/// Whether `vn`'s node was added through the managed backend.
pub fn is_managed_record(vn: &VPSieNode) -> bool {
    vn.annotations().contains_key(annotations::K8S_CLUSTER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpsie_autoscaler::api::{ManagedKubernetesSpec, NodeGroupSpec};

    fn node(id: i64) -> K8sNode {
        K8sNode {
            id,
            identifier: Some(format!("u-{id}")),
            hostname: Some(format!("c-web-{id}")),
            status: Some("running".into()),
            default_ip: None,
            group_id: Some(1),
            created_on: None,
        }
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn waiting(name: &str, s: i64, after: i64) -> Waiting {
        Waiting {
            name: name.into(),
            requested_at: at(s),
            after_id: after,
        }
    }

    #[test]
    fn a_lost_answer_is_paired_with_the_new_unclaimed_node_only() {
        // 1 and 2 existed before (1 is a record's, 2 an operator's), 3 is claimed, 4 is new
        let nodes = [node(1), node(2), node(3), node(4)];
        let claimed = HashSet::from([1, 3]);
        let p = pair_lost_nodes(&[waiting("a", 10, 3)], &nodes, &claimed);
        assert_eq!(p.get("a").map(|n| n.id), Some(4));
        // nothing new: nothing taken, not even the operator's unclaimed node
        let p = pair_lost_nodes(&[waiting("a", 10, 4)], &nodes, &claimed);
        assert!(p.is_empty());
    }

    #[test]
    fn two_waiting_records_never_take_one_node() {
        let nodes = [node(5), node(6)];
        let claimed = HashSet::new();
        let p = pair_lost_nodes(
            &[waiting("late", 20, 4), waiting("early", 10, 4)],
            &nodes,
            &claimed,
        );
        assert_eq!(p.get("early").map(|n| n.id), Some(5));
        assert_eq!(p.get("late").map(|n| n.id), Some(6));
        let p = pair_lost_nodes(
            &[waiting("late", 20, 4), waiting("early", 10, 4)],
            &nodes[..1],
            &claimed,
        );
        assert_eq!(p.len(), 1);
        assert_eq!(p.get("early").map(|n| n.id), Some(5));
    }

    fn cluster(id: &str, name: &str) -> K8sCluster {
        K8sCluster {
            identifier: id.into(),
            cluster_name: Some(name.into()),
            datacenter_id: Some("dc-us-east-1".into()),
            nodes: Vec::new(),
        }
    }

    #[test]
    fn the_cluster_is_the_named_one_or_the_only_one() {
        let one = [cluster("u1", "prod")];
        assert_eq!(choose_cluster(&one, None, "").unwrap().identifier, "u1");
        assert_eq!(
            choose_cluster(&one, Some("prod"), "f").unwrap().identifier,
            "u1"
        );
        let e = choose_cluster(&one, Some("u9"), "spec.managedKubernetes.clusterID").unwrap_err();
        assert!(
            e.contains("spec.managedKubernetes.clusterID \"u9\"") && e.contains("u1 (prod)"),
            "{e}"
        );
        let two = [cluster("u1", "prod"), cluster("u2", "dev")];
        let e = choose_cluster(&two, None, "").unwrap_err();
        assert!(
            e.contains("2 managed Kubernetes clusters") && e.contains("--vpsie-cluster-id"),
            "{e}"
        );
        let e = choose_cluster(&[], None, "").unwrap_err();
        assert!(
            e.contains("no managed Kubernetes cluster") && e.contains("spec.backend"),
            "{e}"
        );
    }

    #[test]
    fn group_names_follow_the_nodegroup_and_its_offerings() {
        let mut g = NodeGroup::new(
            "web",
            NodeGroupSpec {
                offering_ids: vec!["small-2cpu-4gb".into()],
                ..NodeGroupSpec::default()
            },
        );
        assert_eq!(group_name_for(&g, "small-2cpu-4gb"), "web");
        g.spec.offering_ids.push("large-8cpu-16gb".into());
        assert_eq!(group_name_for(&g, "large-8cpu-16gb"), "web-large-8cpu-16gb");
        g.spec.managed_kubernetes = Some(ManagedKubernetesSpec {
            cluster_id: None,
            group_name: Some("workers".into()),
        });
        assert_eq!(
            group_name_for(&g, "small-2cpu-4gb"),
            "workers-small-2cpu-4gb"
        );
    }
}
