//! `serve`: the reconciler in a cluster.

use kube::Client;
use vpsie_reconciler::runtime::{self, ServeOptions};

use crate::cli::ServeArgs;
use crate::error::PluginError;

/// Runs the reconciler until SIGTERM or Ctrl-C, then releases the Lease.
pub async fn run(args: ServeArgs, kube: Client) -> Result<(), PluginError> {
    let identity = vpsie_reconciler::leader::default_identity();
    let mut options = ServeOptions::new(args.reconciler, &identity);
    options.secret_name = args.secret_name;
    options.metrics_addr = args.metrics_addr;
    options.leader_election = args.leader_elect;
    options.lease_duration = args.lease_duration;
    options.orphan_grace = args.orphan_grace;
    let running = runtime::start(kube, vpsie_autoscaler::clock::system(), options)
        .await
        .map_err(|e| PluginError::Io(format!("binding {}", args.metrics_addr), e))?;
    tracing::info!(addr = %running.metrics_addr, identity = %identity, "serving /metrics, /healthz, /readyz");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| PluginError::Io("installing the SIGTERM handler".into(), e))?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    running.stop().await;
    Ok(())
}
