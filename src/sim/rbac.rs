//! The reconciler's identity in the simulated world: the ServiceAccount, Roles and bindings of
//! `deploy/` (the same files `kubectl vpsie install` applies), seeded into the API server, and
//! a client that authenticates as that ServiceAccount so every request of the reconciler is
//! authorized by them.

use serde_json::Value;

use crate::sim::apiserver::{ApiServerError, Gvr, SimApiServer, WriteOptions};

/// The reconciler's ServiceAccount (in [`crate::sim::world::NAMESPACE`]).
pub const SERVICE_ACCOUNT: &str = "vpsie-autoscaler";

/// The user name RBAC sees for it.
pub const SERVICE_ACCOUNT_USER: &str = "system:serviceaccount:kube-system:vpsie-autoscaler";

/// `deploy/`'s identity manifests, as (file, text).
pub const MANIFESTS: &[(&str, &str)] = &[
    (
        "serviceaccount.yaml",
        include_str!("../../deploy/serviceaccount.yaml"),
    ),
    (
        "rbac-cluster.yaml",
        include_str!("../../deploy/rbac-cluster.yaml"),
    ),
    (
        "rbac-namespace.yaml",
        include_str!("../../deploy/rbac-namespace.yaml"),
    ),
];

/// Every object of [`MANIFESTS`], with where it is stored. Pure.
pub fn objects() -> Result<Vec<(Gvr, Option<String>, Value)>, String> {
    let mut out = Vec::new();
    for (file, text) in MANIFESTS {
        let docs: Vec<Value> =
            crate::yaml::documents(text).map_err(|e| format!("deploy/{file}: {e}"))?;
        for v in docs {
            let kind = v["kind"].as_str().unwrap_or("");
            let (gvr, namespaced) = match kind {
                "ServiceAccount" => (Gvr::core("serviceaccounts"), true),
                "ClusterRole" => (
                    Gvr::new("rbac.authorization.k8s.io", "v1", "clusterroles"),
                    false,
                ),
                "ClusterRoleBinding" => (
                    Gvr::new("rbac.authorization.k8s.io", "v1", "clusterrolebindings"),
                    false,
                ),
                "Role" => (Gvr::new("rbac.authorization.k8s.io", "v1", "roles"), true),
                "RoleBinding" => (
                    Gvr::new("rbac.authorization.k8s.io", "v1", "rolebindings"),
                    true,
                ),
                other => return Err(format!("deploy/{file}: unexpected kind {other:?}")),
            };
            let ns = namespaced.then(|| {
                v.pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(crate::sim::world::NAMESPACE)
                    .to_string()
            });
            out.push((gvr, ns, v));
        }
    }
    Ok(out)
}

/// Creates the ServiceAccount, Roles and bindings of `deploy/` in `api`.
pub fn seed(api: &SimApiServer) -> Result<(), String> {
    for (gvr, ns, v) in objects()? {
        let what = format!(
            "{} {}",
            v["kind"].as_str().unwrap_or(""),
            v.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
        );
        api.store()
            .create(&gvr, ns.as_deref(), v, &WriteOptions::default())
            .map_err(|e| format!("{what}: {}", e.message))?;
    }
    Ok(())
}

/// A client of `api` that is the reconciler's ServiceAccount.
pub fn reconciler_client(api: &SimApiServer) -> Result<kube::Client, ApiServerError> {
    api.service_account_client(crate::sim::world::NAMESPACE, SERVICE_ACCOUNT)
}
