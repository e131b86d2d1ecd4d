//! Building a running reconciler from a Kubernetes client, the VPSie Secret's content and a
//! clock: what `kubectl-vpsie serve` does in a cluster and `kubectl-vpsie sim` does in-process.

use std::net::SocketAddr;
use std::sync::Arc;

use kube::Client;
use prometheus_client::registry::Registry;
use vpsie_autoscaler::clock::SharedClock;
use vpsie_autoscaler::cloud::{ClientConfig, CloudError, CloudMetrics, VpsieClient, VpsieSecret};

use crate::config::ReconcilerConfig;
use crate::context::Context;
use crate::http::{self, Readiness};
use crate::metrics::ControllerMetrics;

/// A reconciler ready to run.
pub struct Reconciler {
    /// What the controllers share.
    pub ctx: Arc<Context>,
    /// Every metric (controller and VPSie API).
    pub registry: Arc<Registry>,
    /// Readiness for `/readyz`.
    pub readiness: Readiness,
}

impl Reconciler {
    /// Builds the VPSie client from the Secret's content and the context around it.
    pub fn new(
        kube: Client,
        secret: VpsieSecret,
        clock: SharedClock,
        config: ReconcilerConfig,
        instance: &str,
    ) -> Result<Self, CloudError> {
        let mut registry = Registry::default();
        let cloud_metrics = CloudMetrics::new(&mut registry);
        let metrics = ControllerMetrics::new(&mut registry);
        let client_config = ClientConfig {
            base_url: secret.base_url.clone().unwrap_or_default(),
            ..ClientConfig::default()
        };
        let cloud = VpsieClient::new(
            client_config,
            secret.credentials,
            clock.clone(),
            cloud_metrics,
        )?;
        let ctx = Arc::new(Context::new(kube, cloud, config, clock, metrics, instance));
        Ok(Self {
            ctx,
            registry: Arc::new(registry),
            readiness: Readiness::new("starting"),
        })
    }

    /// Serves `/metrics`, `/healthz`, `/readyz` on `addr`; returns the bound address.
    pub async fn serve_http(&self, addr: SocketAddr) -> std::io::Result<SocketAddr> {
        let (bound, server) =
            http::bind(addr, self.registry.clone(), self.readiness.clone()).await?;
        tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!(error = %e, "metrics server stopped");
            }
        });
        Ok(bound)
    }

    /// Runs the controllers until `shutdown` completes.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) {
        self.readiness.ready();
        crate::serve::run(self.ctx, shutdown).await;
    }
}
