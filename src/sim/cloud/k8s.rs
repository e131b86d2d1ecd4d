//! The managed-Kubernetes endpoints (`/k8s/...`), which the original autoscaler uses as its
//! production scale path: clusters, node groups, offers, and adding or deleting a node
//! ("slave") in a group. A node is a VM like any other (same boot lifecycle, quota, history),
//! tagged with its cluster and group. Answers use the `{"error", "code", "message", "data"}`
//! envelope, errors included.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State as AxState};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::config::K8sClusterSpec;
use super::layer::Principal;
use super::state::State;
use super::vm::{CreateVm, VmRecord};
use super::wire::{body_bytes, ApiError};
use super::Shared;

/// A node group of a managed cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct K8sNodeGroup {
    /// Numeric id (used in the add-node path).
    pub id: u64,
    /// Name, unique in its cluster.
    pub name: String,
    /// The cluster's identifier.
    pub cluster: String,
    /// The offering its nodes use.
    pub offering_id: String,
    /// That offering's numeric box-size id (`KubeSizeID`).
    pub kube_size_id: u64,
    /// Creation time.
    pub created_on: DateTime<Utc>,
}

/// Clusters and node groups.
#[derive(Debug, Clone, Default)]
pub struct K8sState {
    clusters: Vec<K8sClusterSpec>,
    groups: BTreeMap<u64, K8sNodeGroup>,
    next_group: u64,
}

impl K8sState {
    /// The state for the configured clusters.
    pub fn new(clusters: &[K8sClusterSpec]) -> Self {
        Self {
            clusters: clusters.to_vec(),
            groups: BTreeMap::new(),
            next_group: 1,
        }
    }

    /// The node groups, by id.
    pub fn groups(&self) -> Vec<K8sNodeGroup> {
        self.groups.values().cloned().collect()
    }

    fn cluster(&self, identifier: &str) -> Result<&K8sClusterSpec, ApiError> {
        self.clusters
            .iter()
            .find(|c| c.identifier == identifier)
            .ok_or_else(|| ApiError::not_found(format!("Cluster not found: {identifier}")))
    }
}

/// Creates a node group whose nodes use the offering with box-size id `kube_size_id`.
pub fn create_group(
    st: &mut State,
    cluster: &str,
    name: &str,
    kube_size_id: u64,
    now: DateTime<Utc>,
) -> Result<K8sNodeGroup, ApiError> {
    st.k8s.cluster(cluster)?;
    if name.trim().is_empty() {
        return Err(ApiError::bad_request(
            "field `groupName` is empty: give a name",
        ));
    }
    if st
        .k8s
        .groups
        .values()
        .any(|g| g.cluster == cluster && g.name == name)
    {
        return Err(ApiError::new(
            409,
            format!("Node group {name} already exists in cluster {cluster}"),
        ));
    }
    let offering = st
        .catalogue
        .offerings
        .iter()
        .find(|o| o.boxsize_id == Some(kube_size_id) && o.available)
        .ok_or_else(|| {
            ApiError::not_found(format!("Instance type not available: {kube_size_id}"))
        })?;
    let group = K8sNodeGroup {
        id: st.k8s.next_group,
        name: name.to_owned(),
        cluster: cluster.to_owned(),
        offering_id: offering.id.clone(),
        kube_size_id,
        created_on: now,
    };
    st.k8s.next_group += 1;
    st.k8s.groups.insert(group.id, group.clone());
    Ok(group)
}

/// Adds a node to group `group_id` of `cluster`: a VM of the group's offering in the cluster's
/// datacenter, named `<cluster>-<group>-<8 hex>`.
pub fn add_node(
    st: &mut State,
    cluster: &str,
    group_id: u64,
    principal: Option<String>,
    now: DateTime<Utc>,
) -> Result<VmRecord, ApiError> {
    let spec = st.k8s.cluster(cluster)?.clone();
    let group = st
        .k8s
        .groups
        .get(&group_id)
        .filter(|g| g.cluster == cluster)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Node group {group_id} not found in cluster {cluster}"
            ))
        })?;
    let image = st
        .catalogue
        .images
        .iter()
        .find(|i| i.available)
        .map(|i| i.id.clone())
        .ok_or_else(|| ApiError::new(503, "No OS image available for Kubernetes nodes"))?;
    let suffix = Uuid::new_v4().simple().to_string();
    let name = format!("{}-{}-{}", spec.name, group.name, &suffix[..8]);
    let req = CreateVm {
        name: name.clone(),
        hostname: name,
        offering_id: group.offering_id.clone(),
        datacenter_id: spec.datacenter_id.clone(),
        os_image_id: image,
        tags: vec![
            format!("k8s-cluster:{cluster}"),
            format!("k8s-group:{}", group.name),
        ],
        ..CreateVm::default()
    };
    let vm = st.create_vm(req, principal, now)?;
    let id = vm.id;
    let record = st
        .live_vm_mut_opt(id)
        .ok_or_else(|| ApiError::new(500, format!("VM {id} vanished while being created")))?;
    record.k8s_node_group = Some((cluster.to_owned(), group_id));
    Ok(record.clone())
}

/// Deletes the node with UUID `identifier` from `cluster`.
pub fn delete_node(
    st: &mut State,
    cluster: &str,
    identifier: &str,
    now: DateTime<Utc>,
) -> Result<VmRecord, ApiError> {
    st.k8s.cluster(cluster)?;
    let id = st
        .live_vms()
        .into_iter()
        .find(|v| {
            v.identifier.to_string() == identifier
                && v.k8s_node_group.as_ref().is_some_and(|(c, _)| c == cluster)
        })
        .map(|v| v.id)
        .ok_or_else(|| ApiError::not_found(format!("Node not found: {identifier}")))?;
    st.delete_vm(id, now)
}

/// An error in the `/k8s` envelope: `{"error": true, "code", "message", "data": null}`.
pub(crate) struct K8sError(ApiError);

impl From<ApiError> for K8sError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl IntoResponse for K8sError {
    fn into_response(self) -> Response {
        let status = axum::http::StatusCode::from_u16(self.0.status)
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            Json(json!({"error": true, "code": self.0.status, "message": self.0.message, "data": null})),
        )
            .into_response()
    }
}

fn ok(data: Value) -> Json<Value> {
    Json(json!({"error": false, "code": 200, "message": "OK", "data": data}))
}

type K8sResult = Result<Json<Value>, K8sError>;

/// The `/k8s` routes (merged into the `/v2` router).
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/k8s/cluster/all", get(list_clusters))
        .route("/k8s/cluster/byId/{cluster}", get(get_cluster))
        .route("/k8s/offers", post(offers))
        .route("/k8s/node/groups/byClusterId/{cluster}", get(list_groups))
        .route("/k8s/cluster/add/group", post(add_group))
        .route(
            "/k8s/cluster/byId/{cluster}/add/slave/group/{group}",
            post(add_slave),
        )
        .route(
            "/k8s/cluster/byId/{cluster}/delete/slave",
            delete(delete_slave),
        )
}

fn node_wire(v: &VmRecord, now: DateTime<Utc>) -> Value {
    json!({
        "id": v.id,
        "identifier": v.identifier.to_string(),
        "name": v.name,
        "hostname": v.hostname,
        "status": v.status_at(now).as_str(),
        "default_ip": v.default_ip.to_string(),
        "group_id": v.k8s_node_group.as_ref().map(|(_, g)| *g),
        "created_on": super::wire::timestamp(v.created_on),
    })
}

fn nodes_of(st: &State, cluster: &str, group: Option<u64>, now: DateTime<Utc>) -> Vec<Value> {
    st.live_vms()
        .iter()
        .filter(|v| {
            v.k8s_node_group
                .as_ref()
                .is_some_and(|(c, g)| c == cluster && group.is_none_or(|want| want == *g))
        })
        .map(|v| node_wire(v, now))
        .collect()
}

fn cluster_wire(st: &State, c: &K8sClusterSpec, now: DateTime<Utc>) -> Value {
    let nodes = nodes_of(st, &c.identifier, None, now);
    json!({
        "identifier": c.identifier,
        "cluster_name": c.name,
        "datacenter_id": c.datacenter_id,
        "nodes_count": nodes.len(),
        "nodes": nodes,
    })
}

fn group_wire(st: &State, g: &K8sNodeGroup, now: DateTime<Utc>) -> Value {
    let nodes = nodes_of(st, &g.cluster, Some(g.id), now);
    json!({
        "id": g.id,
        "group_name": g.name,
        "cluster_identifier": g.cluster,
        "KubeSizeID": g.kube_size_id,
        "offering_id": g.offering_id,
        "nodes_count": nodes.len(),
        "nodes": nodes,
        "created_on": super::wire::timestamp(g.created_on),
    })
}

fn path_of<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(v)| v)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

fn json_object(
    body: Result<Bytes, BytesRejection>,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    let bytes = body_bytes(body)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("Invalid JSON body: {e}"))),
    }
}

fn str_field(obj: &serde_json::Map<String, Value>, field: &str) -> Result<String, ApiError> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(ApiError::bad_request(format!("field `{field}` is empty"))),
        Some(_) => Err(ApiError::bad_request(format!(
            "field `{field}` must be a string"
        ))),
        None => Err(ApiError::bad_request(format!(
            "missing required field `{field}`"
        ))),
    }
}

async fn list_clusters(AxState(shared): AxState<Arc<Shared>>) -> K8sResult {
    shared.observe();
    let now = shared.clock.now();
    let st = shared.lock();
    let data: Vec<Value> = st
        .k8s
        .clusters
        .iter()
        .map(|c| cluster_wire(&st, c, now))
        .collect();
    Ok(ok(Value::Array(data)))
}

async fn get_cluster(
    AxState(shared): AxState<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> K8sResult {
    let cluster = path_of(path)?;
    shared.observe();
    let now = shared.clock.now();
    let st = shared.lock();
    let spec = st.k8s.cluster(&cluster)?;
    Ok(ok(cluster_wire(&st, spec, now)))
}

async fn offers(
    AxState(shared): AxState<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> K8sResult {
    let obj = json_object(body)?;
    let dc = str_field(&obj, "dcIdentifier")?;
    let st = shared.lock();
    if st.catalogue.datacenter(&dc).is_none() {
        return Err(ApiError::not_found(format!("Datacenter not found: {dc}")).into());
    }
    let data: Vec<Value> = st
        .catalogue
        .offerings
        .iter()
        .filter(|o| o.available && o.sold_in(&dc))
        .map(|o| {
            json!({
                "id": o.boxsize_id, "name": o.name, "offering_id": o.id, "cpu": o.cpu,
                "ram": o.ram, "disk": o.disk, "price": o.price, "hourly_price": o.hourly_price,
            })
        })
        .collect();
    Ok(ok(Value::Array(data)))
}

async fn list_groups(
    AxState(shared): AxState<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> K8sResult {
    let cluster = path_of(path)?;
    shared.observe();
    let now = shared.clock.now();
    let st = shared.lock();
    st.k8s.cluster(&cluster)?;
    let data: Vec<Value> = st
        .k8s
        .groups
        .values()
        .filter(|g| g.cluster == cluster)
        .map(|g| group_wire(&st, g, now))
        .collect();
    Ok(ok(Value::Array(data)))
}

async fn add_group(
    AxState(shared): AxState<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> K8sResult {
    let obj = json_object(body)?;
    let cluster = str_field(&obj, "clusterIdentifier")?;
    let name = str_field(&obj, "groupName")?;
    let size = match obj.get("KubeSizeID") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::bad_request(
            "field `KubeSizeID` must be the numeric id of an offer from POST /k8s/offers",
        )
    })?;
    let now = shared.clock.now();
    let mut st = shared.lock();
    let group = create_group(&mut st, &cluster, &name, size, now)?;
    Ok(ok(group_wire(&st, &group, now)))
}

async fn add_slave(
    AxState(shared): AxState<Arc<Shared>>,
    Extension(Principal(principal)): Extension<Principal>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> K8sResult {
    let (cluster, group) = path_of(path)?;
    let group: u64 = group.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "node group id {group:?} is invalid: use the numeric `id` of the group"
        ))
    })?;
    let now = shared.clock.now();
    let vm = add_node(&mut shared.lock(), &cluster, group, Some(principal), now)?;
    shared.bump();
    Ok(ok(json!({
        "id": vm.id,
        "identifier": vm.identifier.to_string(),
        "status": vm.status_at(now).as_str(),
        "hostname": vm.hostname,
    })))
}

async fn delete_slave(
    AxState(shared): AxState<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> K8sResult {
    let cluster = path_of(path)?;
    let obj = json_object(body)?;
    let identifier = str_field(&obj, "identifier")?;
    let now = shared.clock.now();
    let vm = delete_node(&mut shared.lock(), &cluster, &identifier, now)?;
    shared.bump();
    Ok(ok(
        json!({"id": vm.id, "identifier": vm.identifier.to_string()}),
    ))
}
