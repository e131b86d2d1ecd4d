//! The named operations of the VPSie API client: the `method` label of the metrics and the name
//! that error messages use.

use std::fmt;

/// One kind of call to the VPSie API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Operation {
    /// `POST /auth/from/api`: exchange the client id and secret for an access token.
    Login,
    /// `GET /health`.
    Health,
    /// `GET /offerings`.
    ListOfferings,
    /// `GET /offerings/{id}`.
    GetOffering,
    /// `GET /datacenters`.
    ListDatacenters,
    /// `GET /images`.
    ListImages,
    /// `GET /vm?page=N&per_page=M` (every page).
    ListVMs,
    /// `GET /vm/{id}`.
    GetVM,
    /// `POST /vm`.
    CreateVM,
    /// `DELETE /vm/{id}`.
    DeleteVM,
    /// `GET /k8s/cluster/all`: the managed-Kubernetes clusters.
    ListK8sClusters,
    /// `GET /k8s/node/groups/byClusterId/{cluster}`: a cluster's node groups and their nodes.
    ListK8sNodeGroups,
    /// `POST /k8s/offers`: the node sizes a datacenter offers for managed Kubernetes.
    ListK8sOffers,
    /// `POST /k8s/cluster/add/group`: a new node group.
    CreateK8sNodeGroup,
    /// `POST /k8s/cluster/byId/{cluster}/add/slave/group/{group}`: one more node in a group.
    AddK8sNode,
    /// `DELETE /k8s/cluster/byId/{cluster}/delete/slave`: a node out of its cluster.
    DeleteK8sNode,
}

impl Operation {
    /// Every operation, in a stable order.
    pub const ALL: [Operation; 16] = [
        Operation::Login,
        Operation::Health,
        Operation::ListOfferings,
        Operation::GetOffering,
        Operation::ListDatacenters,
        Operation::ListImages,
        Operation::ListVMs,
        Operation::GetVM,
        Operation::CreateVM,
        Operation::DeleteVM,
        Operation::ListK8sClusters,
        Operation::ListK8sNodeGroups,
        Operation::ListK8sOffers,
        Operation::CreateK8sNodeGroup,
        Operation::AddK8sNode,
        Operation::DeleteK8sNode,
    ];

    /// The name used as the `method` metric label and in messages, e.g. `CreateVM`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Login => "Login",
            Operation::Health => "Health",
            Operation::ListOfferings => "ListOfferings",
            Operation::GetOffering => "GetOffering",
            Operation::ListDatacenters => "ListDatacenters",
            Operation::ListImages => "ListImages",
            Operation::ListVMs => "ListVMs",
            Operation::GetVM => "GetVM",
            Operation::CreateVM => "CreateVM",
            Operation::DeleteVM => "DeleteVM",
            Operation::ListK8sClusters => "ListK8sClusters",
            Operation::ListK8sNodeGroups => "ListK8sNodeGroups",
            Operation::ListK8sOffers => "ListK8sOffers",
            Operation::CreateK8sNodeGroup => "CreateK8sNodeGroup",
            Operation::AddK8sNode => "AddK8sNode",
            Operation::DeleteK8sNode => "DeleteK8sNode",
        }
    }

    /// Whether repeating the call cannot do anything twice (reads, deletes and the login), so
    /// it may be retried after a network error or a 5xx. `CreateVM`, `AddK8sNode` and
    /// `CreateK8sNodeGroup` are not: a retry after an ambiguous failure could create a second
    /// VM, node or group.
    pub fn is_idempotent(self) -> bool {
        !matches!(
            self,
            Operation::CreateVM | Operation::AddK8sNode | Operation::CreateK8sNodeGroup
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
