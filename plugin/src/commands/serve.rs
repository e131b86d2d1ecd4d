//! `serve`: the reconciler in a cluster.

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use vpsie_autoscaler::cloud::VpsieSecret;
use vpsie_reconciler::runtime::Reconciler;

use crate::cli::ServeArgs;
use crate::error::PluginError;

/// Runs the reconciler until SIGTERM or Ctrl-C.
pub async fn run(args: ServeArgs, kube: Client) -> Result<(), PluginError> {
    let ns = args.reconciler.namespace.clone();
    let secret_ref = format!("{ns}/{}", args.secret_name);
    let secret = Api::<Secret>::namespaced(kube.clone(), &ns)
        .get_opt(&args.secret_name)
        .await
        .map_err(|e| PluginError::Kube(format!("reading Secret {secret_ref}"), e.to_string()))?
        .ok_or_else(|| {
            PluginError::Config(format!(
                "Secret {secret_ref} not found: create it with keys clientId and clientSecret (see the runbook)"
            ))
        })?;
    let data = secret.data.unwrap_or_default();
    let secret = VpsieSecret::from_byte_strings(&secret_ref, &data)
        .map_err(|e| PluginError::Config(e.to_string()))?;
    let instance = std::env::var("POD_NAME").unwrap_or_else(|_| "vpsie-autoscaler".into());
    let reconciler = Reconciler::new(
        kube,
        secret,
        vpsie_autoscaler::clock::system(),
        args.reconciler,
        &instance,
    )
    .map_err(|e| PluginError::Config(e.to_string()))?;
    let addr = reconciler
        .serve_http(args.metrics_addr)
        .await
        .map_err(|e| PluginError::Io(format!("binding {}", args.metrics_addr), e))?;
    tracing::info!(%addr, "serving /metrics, /healthz, /readyz");
    reconciler
        .run(async {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                        return;
                    }
                };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        })
        .await;
    Ok(())
}
