//! The managed-Kubernetes endpoints (`/k8s/...`): clusters, their node groups and the sizes
//! offered, and adding or removing one node of a group. Every answer uses the
//! `{"error", "code", "message", "data"}` envelope; the shapes are lenient as for VMs (ids as
//! numbers or strings, absent lists).
//!
//! Adding a node has no body, and VPSie picks the node's name: the answer's `data` is the node
//! (`{id, identifier, status, hostname}`) or just `true`. [`AddedNode::Accepted`] is that
//! `true`, and the caller must then find the node itself (see the reconciler's managed backend).

use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use super::client::{path_segment, Body, RequestSpec, VpsieClient};
use super::decode::{self, ErrorContext, Reply};
use super::error::CloudError;
use super::lenient;
use super::op::Operation;

fn vec_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A managed-Kubernetes cluster (`GET /k8s/cluster/all`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct K8sCluster {
    /// The cluster's UUID.
    #[serde(deserialize_with = "lenient::string_req")]
    pub identifier: String,
    /// Its name.
    #[serde(default, alias = "name", deserialize_with = "lenient::string_opt")]
    pub cluster_name: Option<String>,
    /// Its datacenter.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub datacenter_id: Option<String>,
    /// Its nodes, when the answer lists them.
    #[serde(default, deserialize_with = "vec_or_null")]
    pub nodes: Vec<K8sNode>,
}

/// A node of a managed cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct K8sNode {
    /// The node's VPS id (as in `/vm/{id}`).
    #[serde(deserialize_with = "lenient::i64_req")]
    pub id: i64,
    /// Its UUID, which removing it needs.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub identifier: Option<String>,
    /// Its hostname (the Kubernetes node name).
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub hostname: Option<String>,
    /// Its VPS status.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub status: Option<String>,
    /// Its IPv4 address.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub default_ip: Option<String>,
    /// The node group it belongs to.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub group_id: Option<i64>,
    /// When it was created, as the API writes it.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub created_on: Option<String>,
}

/// A node group of a managed cluster (`GET /k8s/node/groups/byClusterId/{cluster}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct K8sNodeGroup {
    /// Numeric id (used in the add-node path).
    #[serde(deserialize_with = "lenient::i64_req")]
    pub id: i64,
    /// Its name.
    #[serde(default, alias = "name", deserialize_with = "lenient::string_opt")]
    pub group_name: Option<String>,
    /// The size of its nodes: the id of a `/k8s/offers` entry.
    #[serde(default, rename = "KubeSizeID", deserialize_with = "lenient::i64_opt")]
    pub kube_size_id: Option<i64>,
    /// The offering of its nodes, when the answer names it.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub offering_id: Option<String>,
    /// Its nodes.
    #[serde(default, deserialize_with = "vec_or_null")]
    pub nodes: Vec<K8sNode>,
}

/// A node size offered for managed Kubernetes in a datacenter (`POST /k8s/offers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct K8sOffer {
    /// Numeric id (`KubeSizeID`).
    #[serde(deserialize_with = "lenient::i64_req")]
    pub id: i64,
    /// Its name.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub name: Option<String>,
    /// The VM offering it is, when the answer names it.
    #[serde(default, deserialize_with = "lenient::string_opt")]
    pub offering_id: Option<String>,
    /// CPU cores.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub cpu: Option<i64>,
    /// Memory in MB.
    #[serde(default, deserialize_with = "lenient::i64_opt")]
    pub ram: Option<i64>,
    /// Hourly price.
    #[serde(default, deserialize_with = "lenient::f64_opt")]
    pub hourly_price: Option<f64>,
}

impl K8sOffer {
    /// Whether this offer is the VM offering `offering` (by its offering id, its name, or its
    /// numeric id written as text).
    pub fn is_offering(&self, offering: &str) -> bool {
        self.offering_id.as_deref() == Some(offering)
            || self.name.as_deref() == Some(offering)
            || self.id.to_string() == offering
    }
}

/// What adding a node answered.
#[derive(Debug, Clone, PartialEq)]
pub enum AddedNode {
    /// The new node.
    Node(K8sNode),
    /// `data: true`: accepted, but which node is not said.
    Accepted,
}

fn decode_added(ctx: &ErrorContext, reply: &Reply) -> Result<AddedNode, CloudError> {
    let value: Value = decode::decode_object(ctx, reply)?;
    match value {
        Value::Bool(true) | Value::Null => Ok(AddedNode::Accepted),
        Value::Object(_) => serde_json::from_value::<K8sNode>(value)
            .map(AddedNode::Node)
            .map_err(|e| CloudError::Decode {
                op: ctx.op,
                status: Some(reply.status),
                detail: format!("answer is not a node {{id, identifier, hostname}} ({e})"),
                request_id: reply.request_id.clone(),
            }),
        other => Err(CloudError::Decode {
            op: ctx.op,
            status: Some(reply.status),
            detail: format!(
                "answer's data is {}, neither a node nor true",
                match other {
                    Value::Bool(_) => "false",
                    Value::Number(_) => "a number",
                    Value::String(_) => "a string",
                    _ => "a list",
                }
            ),
            request_id: reply.request_id.clone(),
        }),
    }
}

impl VpsieClient {
    fn k8s_spec(method: Method, path: String, body: Option<Value>) -> RequestSpec {
        RequestSpec {
            method,
            path,
            body: body.map(|b| Body::Json(b.to_string().into_bytes())),
            auth: true,
        }
    }

    /// `GET /k8s/cluster/all`.
    pub async fn list_k8s_clusters(&self) -> Result<Vec<K8sCluster>, CloudError> {
        let spec = || Self::k8s_spec(Method::GET, "/k8s/cluster/all".into(), None);
        let list = self
            .call(Operation::ListK8sClusters, None, spec, decode::decode_list)
            .await?;
        Ok(list.data)
    }

    /// `GET /k8s/node/groups/byClusterId/{cluster}`: the groups, each with its nodes.
    pub async fn list_k8s_node_groups(
        &self,
        cluster: &str,
    ) -> Result<Vec<K8sNodeGroup>, CloudError> {
        let path = format!("/k8s/node/groups/byClusterId/{}", path_segment(cluster));
        let spec = || Self::k8s_spec(Method::GET, path.clone(), None);
        let list = self
            .call(
                Operation::ListK8sNodeGroups,
                Some(cluster),
                spec,
                decode::decode_list,
            )
            .await?;
        Ok(list.data)
    }

    /// `POST /k8s/offers` for datacenter `dc`.
    pub async fn list_k8s_offers(&self, dc: &str) -> Result<Vec<K8sOffer>, CloudError> {
        let body = json!({ "dcIdentifier": dc });
        let spec = || Self::k8s_spec(Method::POST, "/k8s/offers".into(), Some(body.clone()));
        let list = self
            .call(
                Operation::ListK8sOffers,
                Some(dc),
                spec,
                decode::decode_list,
            )
            .await?;
        Ok(list.data)
    }

    /// `POST /k8s/cluster/add/group`: a node group `name` of size `kube_size_id`. Sent once; an
    /// ambiguous failure is resolved by looking the name up, so no second group is made.
    pub async fn create_k8s_node_group(
        &self,
        cluster: &str,
        name: &str,
        kube_size_id: i64,
    ) -> Result<K8sNodeGroup, CloudError> {
        let body = json!({
            "clusterIdentifier": cluster,
            "groupName": name,
            "KubeSizeID": kube_size_id,
        });
        let spec = || {
            Self::k8s_spec(
                Method::POST,
                "/k8s/cluster/add/group".into(),
                Some(body.clone()),
            )
        };
        match self
            .call(
                Operation::CreateK8sNodeGroup,
                Some(name),
                spec,
                decode::decode_object::<K8sNodeGroup>,
            )
            .await
        {
            Ok(g) => Ok(g),
            Err(e) if e.is_ambiguous() => {
                let groups = self
                    .list_k8s_node_groups(cluster)
                    .await
                    .map_err(|_| e.clone())?;
                groups
                    .into_iter()
                    .find(|g| g.group_name.as_deref() == Some(name))
                    .ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /k8s/cluster/byId/{cluster}/add/slave/group/{group}` (no body), sent once: never
    /// retried after an ambiguous failure, which the caller resolves by finding the node.
    pub async fn add_k8s_node(&self, cluster: &str, group: i64) -> Result<AddedNode, CloudError> {
        let path = format!(
            "/k8s/cluster/byId/{}/add/slave/group/{group}",
            path_segment(cluster)
        );
        let target = group.to_string();
        let spec = || Self::k8s_spec(Method::POST, path.clone(), None);
        self.call(Operation::AddK8sNode, Some(&target), spec, decode_added)
            .await
    }

    /// `DELETE /k8s/cluster/byId/{cluster}/delete/slave` with `{"identifier": ...}`; a 404
    /// means the node is already gone, which is a success.
    pub async fn delete_k8s_node(&self, cluster: &str, identifier: &str) -> Result<(), CloudError> {
        let path = format!("/k8s/cluster/byId/{}/delete/slave", path_segment(cluster));
        let body = json!({ "identifier": identifier });
        let spec = || Self::k8s_spec(Method::DELETE, path.clone(), Some(body.clone()));
        self.call(
            Operation::DeleteK8sNode,
            Some(identifier),
            spec,
            decode::decode_delete,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_read_leniently() {
        let g: K8sNodeGroup = serde_json::from_str(
            r#"{"id":"7","name":"web","KubeSizeID":3,"nodes":null,"extra":1}"#,
        )
        .unwrap();
        assert_eq!(g.id, 7);
        assert_eq!(g.group_name.as_deref(), Some("web"));
        assert_eq!(g.kube_size_id, Some(3));
        assert!(g.nodes.is_empty());
        let n: K8sNode = serde_json::from_str(
            r#"{"id":12,"identifier":"u-1","hostname":"c-web-1","status":"running"}"#,
        )
        .unwrap();
        assert_eq!(n.id, 12);
        assert_eq!(n.hostname.as_deref(), Some("c-web-1"));
        let o: K8sOffer =
            serde_json::from_str(r#"{"id":3,"name":"small-2cpu-4gb","hourly_price":"0.02"}"#)
                .unwrap();
        assert!(o.is_offering("small-2cpu-4gb") && o.is_offering("3") && !o.is_offering("x"));
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.as_bytes().to_vec(),
            retry_after: None,
            request_id: None,
        }
    }

    #[test]
    fn an_add_answers_a_node_or_just_true() {
        let ctx = ErrorContext::new(Operation::AddK8sNode);
        let node = decode_added(
            &ctx,
            &reply(
                200,
                r#"{"error":false,"code":200,"message":"OK","data":{"id":5,"identifier":"u","hostname":"h","status":"creating"}}"#,
            ),
        )
        .unwrap();
        assert!(matches!(node, AddedNode::Node(n) if n.id == 5));
        let accepted = decode_added(
            &ctx,
            &reply(
                200,
                r#"{"error":false,"code":200,"message":"OK","data":true}"#,
            ),
        )
        .unwrap();
        assert_eq!(accepted, AddedNode::Accepted);
        let refused = decode_added(
            &ctx,
            &reply(
                200,
                r#"{"error":true,"code":404,"message":"Node group 9 not found","data":null}"#,
            ),
        )
        .unwrap_err();
        assert!(
            refused.to_string().contains("Node group 9 not found"),
            "{refused}"
        );
        let odd = decode_added(&ctx, &reply(200, r#"{"error":false,"data":"yes"}"#)).unwrap_err();
        assert!(odd.to_string().contains("neither a node nor true"), "{odd}");
    }
}
