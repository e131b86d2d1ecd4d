//! The serve runtime as one call: `/metrics`, `/healthz`, `/readyz` at once; the credentials
//! from the Secret (reloaded when it changes); leader election; while leading, the controllers,
//! the scale-up loop and the orphan collector; the status report and breaker resets. What
//! `kubectl-vpsie serve` runs in a cluster and `kubectl-vpsie sim` runs in-process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use kube::Client;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;
use tokio::sync::watch;
use vpsie_autoscaler::clock::SharedClock;
use vpsie_autoscaler::cloud::{ClientConfig, CloudMetrics, VpsieClient};

use crate::config::ReconcilerConfig;
use crate::context::Context;
use crate::creds::{self, CredentialsState, CredentialsWatcher};
use crate::http::{self, Readiness};
use crate::leader::{LeaderConfig, LeaderElector};
use crate::metrics::ControllerMetrics;
use crate::report::{BreakerResetWatcher, ReportSources, ReporterConfig, StatusReporter};

/// How to run.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Controller settings.
    pub config: ReconcilerConfig,
    /// The Secret with the VPSie credentials, in `config.namespace`.
    pub secret_name: String,
    /// Where `/metrics`, `/healthz`, `/readyz` listen.
    pub metrics_addr: SocketAddr,
    /// This replica's name (events, the Lease, the report).
    pub identity: String,
    /// Elect a leader on the Lease (two replicas are safe); `false`: always lead.
    pub leader_election: bool,
    /// How long a Lease lasts without renewal.
    pub lease_duration: Duration,
    /// Grace period before a VPS with no VPSieNode is deleted.
    pub orphan_grace: Duration,
}

impl ServeOptions {
    /// Defaults for a config.
    pub fn new(config: ReconcilerConfig, identity: &str) -> Self {
        Self {
            config,
            secret_name: "vpsie-secret".into(),
            metrics_addr: ([0, 0, 0, 0], 8080).into(),
            identity: identity.to_string(),
            leader_election: true,
            lease_duration: Duration::from_secs(15),
            orphan_grace: Duration::from_secs(600),
        }
    }
}

/// The registry of every metric of the process.
pub struct Metrics {
    /// The registry served at `/metrics`.
    pub registry: Arc<Registry>,
    /// The VPSie API's.
    pub cloud: CloudMetrics,
    /// The controllers'.
    pub controllers: ControllerMetrics,
    /// `vpsie_orphan_vms_deleted_total`.
    pub orphans_deleted: Counter,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let cloud = CloudMetrics::new(&mut registry);
        let controllers = ControllerMetrics::new(&mut registry);
        let orphans_deleted = Counter::default();
        registry.register(
            "vpsie_orphan_vms_deleted",
            "VPS instances tagged for this cluster that no VPSieNode recorded, deleted after the grace period",
            orphans_deleted.clone(),
        );
        Self {
            registry: Arc::new(registry),
            cloud,
            controllers,
            orphans_deleted,
        }
    }
}

/// A started reconciler: its metrics address, and a handle to stop it.
pub struct Running {
    /// Where `/metrics` is served.
    pub metrics_addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the controllers, releases the Lease and waits.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the runtime ends by itself (it does not, unless it fails to start).
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }
}

async fn wait_loaded(
    rx: &mut watch::Receiver<CredentialsState>,
    readiness: &Readiness,
) -> Option<CredentialsState> {
    loop {
        let state = rx.borrow_and_update().clone();
        match &state {
            CredentialsState::Loaded { .. } => return Some(state),
            other => readiness.not_ready(
                &other
                    .message()
                    .unwrap_or_else(|| format!("credentials {}", other.kind())),
            ),
        }
        rx.changed().await.ok()?;
    }
}

/// Binds the HTTP endpoints and starts everything in the background.
pub async fn start(
    kube: Client,
    clock: SharedClock,
    options: ServeOptions,
) -> std::io::Result<Running> {
    let metrics = Metrics::new();
    let readiness = Readiness::new("waiting for the VPSie credentials");
    let (addr, server) = http::bind(
        options.metrics_addr,
        metrics.registry.clone(),
        readiness.clone(),
    )
    .await?;
    tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "the metrics server stopped");
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(run(kube, clock, options, metrics, readiness, stop_rx));
    Ok(Running {
        metrics_addr: addr,
        stop: Some(stop_tx),
        task,
    })
}

async fn run(
    kube: Client,
    clock: SharedClock,
    options: ServeOptions,
    metrics: Metrics,
    readiness: Readiness,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    let stop = stop.map(|_| ()).shared();
    let ns = options.config.namespace.clone();
    let started_at = clock.now();

    // Credentials first: nothing can be done on VPSie without them.
    let creds = CredentialsWatcher::spawn(kube.clone(), &ns, &options.secret_name, clock.clone());
    let mut creds_rx = creds.subscribe();
    let loaded = tokio::select! {
        s = wait_loaded(&mut creds_rx, &readiness) => s,
        _ = stop.clone() => None,
    };
    let Some(CredentialsState::Loaded { secret, .. }) = loaded else {
        return;
    };
    let client_config = ClientConfig {
        base_url: secret.base_url.clone().unwrap_or_default(),
        rate_limit: options.config.rate_limit(),
        ..ClientConfig::default()
    };
    let vpsie = match VpsieClient::new(
        client_config,
        secret.credentials.clone(),
        clock.clone(),
        metrics.cloud.clone(),
    ) {
        Ok(c) => c,
        Err(e) => {
            readiness.not_ready(&e.to_string());
            tracing::error!(error = %e, "cannot build the VPSie client");
            return;
        }
    };
    let _follow = creds::follow(creds.subscribe(), vpsie.clone());

    // Leader election.
    let leader = if options.leader_election {
        let mut lc = LeaderConfig::new(options.identity.clone());
        lc.namespace = ns.clone();
        lc.clock = clock.clone();
        lc.lease_duration = options.lease_duration;
        lc.renew_deadline = options.lease_duration.mul_f64(2.0 / 3.0);
        lc.retry_period = options.lease_duration / 7;
        match LeaderElector::spawn(kube.clone(), lc) {
            Ok(h) => Some(h),
            Err(e) => {
                readiness.not_ready(&e.to_string());
                tracing::error!(error = %e, "cannot start leader election");
                return;
            }
        }
    } else {
        None
    };

    let ctx = Arc::new(Context::new(
        kube.clone(),
        vpsie.clone(),
        options.config.clone(),
        clock.clone(),
        metrics.controllers.clone(),
        &options.identity,
    ));
    let mut sources = ReportSources::new(options.identity.clone(), started_at);
    sources.dry_run = options.config.dry_run;
    sources.vpsie = Some(vpsie.clone());
    sources.registry = Some(metrics.registry.clone());
    sources.leader = leader.as_ref().map(|l| l.subscribe());
    sources.credentials = Some(creds.subscribe());
    sources.board = ctx.board.clone();
    let _reporter = StatusReporter::spawn(
        kube.clone(),
        sources,
        ReporterConfig {
            namespace: ns.clone(),
            clock: clock.clone(),
            ..ReporterConfig::default()
        },
    );
    let _resets = BreakerResetWatcher::spawn(
        kube.clone(),
        &ns,
        vpsie.clone(),
        ctx.board.clone(),
        clock.clone(),
    );
    readiness.ready();

    // Lead, follow, lead again, until stopped.
    let mut leading = leader.as_ref().map(|l| l.subscribe());
    loop {
        if let Some(rx) = leading.as_mut() {
            tokio::select! {
                r = rx.wait_for(|s| s.is_leader) => if r.is_err() { break },
                _ = stop.clone() => break,
            }
            tracing::info!(identity = %options.identity, "leading: starting the controllers");
        }
        let lost = {
            let mut rx = leading.clone();
            async move {
                match rx.as_mut() {
                    Some(rx) => {
                        let _ = rx.wait_for(|s| !s.is_leader).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
        };
        let (until_tx, until_rx) = tokio::sync::oneshot::channel::<()>();
        let controllers = tokio::spawn(crate::serve::run(ctx.clone(), async move {
            let _ = until_rx.await;
        }));
        // an orphan waits out its grace anyway: listing every VPS more often than a quarter of
        // it only spends the rate limit (12 pages a list at 1,200 VPS)
        let gc_every = (options.config.resync * 2).max(options.orphan_grace / 4);
        let gc = tokio::spawn(crate::gc::run(
            ctx.clone(),
            options.orphan_grace,
            gc_every,
            metrics.orphans_deleted.clone(),
        ));
        let stopped = tokio::select! {
            _ = lost => false,
            _ = stop.clone() => true,
        };
        let _ = until_tx.send(());
        gc.abort();
        let _ = controllers.await;
        if stopped || leading.is_none() {
            break;
        }
        tracing::warn!(identity = %options.identity, "lost leadership: controllers stopped");
    }
    if let Some(l) = leader {
        if let Err(e) = l.release().await {
            tracing::warn!(error = %e, "could not release the Lease");
        }
    }
}
