//! The whole simulated world in one call: the VPSie cloud, the Kubernetes API server with the
//! project's CRDs, the `vpsie-secret` Secret, an example NodeGroup, and the cluster's kubelets,
//! scheduler and controllers — all on loopback, all on one clock.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use thiserror::Error;

use crate::api;
use crate::clock::{ScaledClock, SharedClock};
use crate::sim::apiserver::{ApiServerConfig, Gvr, SimApiServer, WriteOptions};
use crate::sim::cloud::catalogue::Catalogue;
use crate::sim::cloud::{SimCloud, SimCloudConfig};
use crate::sim::cluster::{ClusterConfig, SimCluster};

/// The example NodeGroup of the API reference (`production-workers`), without its status.
pub const EXAMPLE_NODEGROUP: &str = include_str!("example-nodegroup.yaml");

/// The first line of every kubeconfig the simulator writes; it never overwrites a file without it.
pub const KUBECONFIG_MARKER: &str = "# written by kubectl-vpsie sim";

/// The namespace of the autoscaler's objects.
pub const NAMESPACE: &str = "kube-system";

/// The Secret holding the VPSie credentials.
pub const SECRET_NAME: &str = "vpsie-secret";

/// A simulated world that failed to start.
#[derive(Debug, Error)]
pub enum SimWorldError {
    /// The API server did not start.
    #[error("simulated API server: {0}")]
    ApiServer(#[from] crate::sim::apiserver::ApiServerError),
    /// The cloud did not start.
    #[error("simulated VPSie cloud: {0}")]
    Cloud(#[from] crate::sim::cloud::SimCloudError),
    /// An object could not be created.
    #[error("creating {what}: {message}")]
    Seed {
        /// The object.
        what: String,
        /// The API server's answer.
        message: String,
    },
    /// The kubeconfig could not be written.
    #[error("{0}")]
    Kubeconfig(String),
}

/// Fails when `path` holds a file the simulator did not write.
pub fn check_overwrite(path: &Path) -> Result<(), SimWorldError> {
    match std::fs::read_to_string(path) {
        Ok(existing) if !existing.starts_with(KUBECONFIG_MARKER) => Err(SimWorldError::Kubeconfig(format!(
            "refusing to overwrite {}: it is not a kubeconfig written by kubectl-vpsie sim; pass another --kubeconfig path",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// How to start the world.
#[derive(Debug, Clone)]
pub struct SimWorldConfig {
    /// How many times faster than real time (1 = real time).
    pub speed: f64,
    /// API server port on 127.0.0.1 (0 = any free one).
    pub api_port: u16,
    /// VPSie cloud port on 127.0.0.1 (0 = any free one).
    pub cloud_port: u16,
    /// VM boot time (simulated time).
    pub boot_time: Duration,
    /// Kubelet and pod delays.
    pub cluster: ClusterConfig,
    /// Whether to create the example NodeGroup.
    pub example_nodegroup: bool,
    /// What the cloud sells (default: [`Catalogue::default`]).
    pub catalogue: Option<Catalogue>,
    /// The API server's store (watch window and channel sizes).
    pub store: crate::sim::apiserver::StoreConfig,
    /// Seed of the cloud's and the API server's fault RNGs.
    pub fault_seed: u64,
}

impl Default for SimWorldConfig {
    fn default() -> Self {
        Self {
            speed: 1.0,
            api_port: 0,
            cloud_port: 0,
            boot_time: Duration::from_secs(8),
            cluster: ClusterConfig::default(),
            example_nodegroup: true,
            catalogue: None,
            store: crate::sim::apiserver::StoreConfig::default(),
            fault_seed: 0,
        }
    }
}

/// A running simulated world.
#[derive(Debug, Clone)]
pub struct SimWorld {
    /// The Kubernetes API server.
    pub api: SimApiServer,
    /// The VPSie cloud.
    pub cloud: SimCloud,
    /// Kubelets, scheduler, controllers.
    pub cluster: SimCluster,
    /// The shared clock.
    pub clock: SharedClock,
}

fn seed(
    api: &SimApiServer,
    gvr: &Gvr,
    ns: Option<&str>,
    obj: Value,
    what: &str,
) -> Result<(), SimWorldError> {
    api.store()
        .create(gvr, ns, obj, &WriteOptions::default())
        .map(|_| ())
        .map_err(|e| SimWorldError::Seed {
            what: what.to_string(),
            message: e.message,
        })
}

impl SimWorld {
    /// Starts everything and seeds the cluster.
    pub async fn start(config: SimWorldConfig) -> Result<Self, SimWorldError> {
        let clock: SharedClock = ScaledClock::new(config.speed);
        let api = SimApiServer::start(ApiServerConfig {
            port: config.api_port,
            clock: clock.clone(),
            store: config.store.clone(),
            fault_seed: config.fault_seed,
            ..ApiServerConfig::default()
        })
        .await?;
        let mut cloud_config = SimCloudConfig::default()
            .with_clock(clock.clone())
            .with_boot_time(config.boot_time)
            .with_fault_seed(config.fault_seed);
        cloud_config.bind = ([127, 0, 0, 1], config.cloud_port).into();
        if let Some(c) = &config.catalogue {
            cloud_config.catalogue = c.clone();
        }
        let cloud = SimCloud::start(cloud_config).await?;

        let crd_gvr = Gvr::new("apiextensions.k8s.io", "v1", "customresourcedefinitions");
        for crd in api::crds() {
            let name = crd.metadata.name.clone().unwrap_or_default();
            let obj = serde_json::to_value(&crd).map_err(|e| SimWorldError::Seed {
                what: format!("CustomResourceDefinition {name}"),
                message: e.to_string(),
            })?;
            seed(
                &api,
                &crd_gvr,
                None,
                obj,
                &format!("CustomResourceDefinition {name}"),
            )?;
        }
        // the reconciler's ServiceAccount and RBAC of deploy/ (enforced for its client)
        crate::sim::rbac::seed(&api).map_err(|message| SimWorldError::Seed {
            what: "the RBAC of deploy/".into(),
            message,
        })?;
        let creds = cloud.credentials();
        let secret = k8s_openapi::api::core::v1::Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(SECRET_NAME.into()),
                namespace: Some(NAMESPACE.into()),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(
                [
                    ("clientId", creds.client_id.clone()),
                    ("clientSecret", creds.client_secret.clone()),
                    ("url", cloud.base_url()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), k8s_openapi::ByteString(v.into_bytes())))
                .collect(),
            ),
            ..Default::default()
        };
        let mut secret = serde_json::to_value(&secret).map_err(|e| SimWorldError::Seed {
            what: "Secret kube-system/vpsie-secret".into(),
            message: e.to_string(),
        })?;
        secret["apiVersion"] = json!("v1");
        secret["kind"] = json!("Secret");
        seed(
            &api,
            &Gvr::core("secrets"),
            Some(NAMESPACE),
            secret,
            "Secret kube-system/vpsie-secret",
        )?;
        if config.example_nodegroup {
            let ng: Value =
                crate::yaml::from_str(EXAMPLE_NODEGROUP).map_err(|e| SimWorldError::Seed {
                    what: "the example NodeGroup".into(),
                    message: e.to_string(),
                })?;
            seed(
                &api,
                &Gvr::new("autoscaler.vpsie.com", "v1alpha1", "nodegroups"),
                Some(NAMESPACE),
                ng,
                "NodeGroup kube-system/production-workers",
            )?;
        }
        let cluster = SimCluster::start(api.store(), cloud.clone(), clock.clone(), config.cluster);
        Ok(Self {
            api,
            cloud,
            cluster,
            clock,
        })
    }

    /// A kubeconfig for this world (context `vpsie-sim`, namespace kube-system).
    pub fn kubeconfig_yaml(&self) -> String {
        let yaml = self.api.kubeconfig_yaml("vpsie-sim");
        format!(
            "{KUBECONFIG_MARKER}\n{}",
            yaml.replace("namespace: default", &format!("namespace: {NAMESPACE}"))
        )
    }

    /// Writes the kubeconfig to `path`, creating its directory. Refuses to overwrite a file the
    /// simulator did not write, so a real kubeconfig is never lost.
    pub fn write_kubeconfig(&self, path: &Path) -> Result<(), SimWorldError> {
        check_overwrite(path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                SimWorldError::Kubeconfig(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        std::fs::write(path, self.kubeconfig_yaml())
            .map_err(|e| SimWorldError::Kubeconfig(format!("cannot write {}: {e}", path.display())))
    }

    /// The kube client of the world's API server.
    pub fn client(&self) -> Result<kube::Client, SimWorldError> {
        Ok(self.api.client()?)
    }

    /// A kube client that is the reconciler's ServiceAccount
    /// (`system:serviceaccount:kube-system:vpsie-autoscaler`): its requests are authorized by
    /// the RBAC of deploy/. [`Self::client`] is the unrestricted admin.
    pub fn reconciler_client(&self) -> Result<kube::Client, SimWorldError> {
        Ok(crate::sim::rbac::reconciler_client(&self.api)?)
    }

    /// A kubeconfig that is the reconciler's ServiceAccount (a bearer token the API server
    /// authorizes with deploy/'s RBAC), for `kubectl-vpsie serve` run against the world.
    pub fn reconciler_kubeconfig_yaml(&self) -> String {
        let token = self
            .api
            .issue_token(&crate::sim::apiserver::rbac::Identity::service_account(
                NAMESPACE,
                crate::sim::rbac::SERVICE_ACCOUNT,
            ));
        let yaml = self
            .api
            .kubeconfig_yaml("vpsie-sim-reconciler")
            .replace("  user: {}\n", &format!("  user:\n    token: {token}\n"));
        format!(
            "{KUBECONFIG_MARKER}\n{}",
            yaml.replace("namespace: default", &format!("namespace: {NAMESPACE}"))
        )
    }

    /// Where [`Self::write_kubeconfig`]'s companion for the reconciler goes: `<path>.reconciler`.
    pub fn reconciler_kubeconfig_path(path: &Path) -> std::path::PathBuf {
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".reconciler");
        path.with_file_name(name)
    }

    /// Writes [`Self::reconciler_kubeconfig_yaml`] to [`Self::reconciler_kubeconfig_path`] of
    /// `path`, with the same care as [`Self::write_kubeconfig`].
    pub fn write_reconciler_kubeconfig(
        &self,
        path: &Path,
    ) -> Result<std::path::PathBuf, SimWorldError> {
        let target = Self::reconciler_kubeconfig_path(path);
        check_overwrite(&target)?;
        std::fs::write(&target, self.reconciler_kubeconfig_yaml()).map_err(|e| {
            SimWorldError::Kubeconfig(format!("cannot write {}: {e}", target.display()))
        })?;
        Ok(target)
    }

    /// Stops the cluster loop, the API server and the cloud.
    pub async fn shutdown(&self) {
        self.cluster.shutdown().await;
        self.api.shutdown().await;
        self.cloud.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_nodegroup_is_the_spec_example_and_valid() {
        let ng: crate::api::NodeGroup = crate::yaml::from_str(EXAMPLE_NODEGROUP).expect("parses");
        assert_eq!(ng.metadata.name.as_deref(), Some("production-workers"));
        ng.validate().expect("valid");
        assert!(ng.status.is_none());
    }

    #[test]
    fn kubeconfigs_of_others_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "apiVersion: v1\nkind: Config\n").unwrap();
        let err = check_overwrite(&path).unwrap_err().to_string();
        assert!(err.contains("refusing to overwrite"), "{err}");
    }
}
