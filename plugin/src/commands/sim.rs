//! `sim`: the simulated world on loopback, with a kubeconfig for kubectl.

use std::path::PathBuf;
use std::time::Duration;

use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig};

use crate::cli::SimArgs;
use crate::error::PluginError;

/// Where the kubeconfig goes when `--kubeconfig` is not given: the user's cache directory.
pub fn default_kubeconfig_path() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("kubectl-vpsie").join("sim").join("kubeconfig")
}

/// Plays the scenario (the built-in one unless `--scenario`), or with `--no-scenario` runs the
/// world with the example NodeGroup until Ctrl-C or `--for`.
pub async fn run(
    args: &SimArgs,
    kubeconfig: Option<PathBuf>,
    format: crate::cli::OutputFormat,
) -> Result<(), PluginError> {
    let path = kubeconfig.unwrap_or_else(default_kubeconfig_path);
    if !args.no_scenario {
        return crate::commands::scenario::run_sim(args, path, format).await;
    }
    vpsie_autoscaler::sim::world::check_overwrite(&path)
        .map_err(|e| PluginError::Sim(e.to_string()))?;
    let speed = args.speed.unwrap_or(1.0);
    let world = SimWorld::start(SimWorldConfig {
        speed,
        api_port: args.api_port,
        cloud_port: args.cloud_port,
        ..SimWorldConfig::default()
    })
    .await
    .map_err(|e| PluginError::Sim(e.to_string()))?;
    world
        .write_kubeconfig(&path)
        .map_err(|e| PluginError::Sim(e.to_string()))?;
    let reconciler_path = world
        .write_reconciler_kubeconfig(&path)
        .map_err(|e| PluginError::Sim(e.to_string()))?;
    let creds = world.cloud.credentials();
    let mut reconciler = None;
    if !args.no_reconciler {
        reconciler = Some(
            crate::commands::scenario::player::start_reconciler(
                &world,
                args.metrics_port,
                &Default::default(),
            )
            .await?,
        );
    }
    let metrics_addr = reconciler.as_ref().map(|r| r.metrics_addr);
    println!("Simulated world is up ({speed}x real time).");
    println!("  Kubernetes API:  {}", world.api.url());
    println!(
        "  VPSie API:       {} (client id {})",
        world.cloud.base_url(),
        creds.client_id
    );
    println!("  kubeconfig:      {}", path.display());
    println!(
        "  as the reconciler: {} (ServiceAccount vpsie-autoscaler, deploy/'s RBAC; for `kubectl-vpsie serve --kubeconfig`)",
        reconciler_path.display()
    );
    match metrics_addr {
        Some(a) => println!("  reconciler:      running; metrics at http://{a}/metrics"),
        None => println!("  reconciler:      off (--no-reconciler)"),
    }
    println!();
    println!("Point kubectl at it:");
    println!("  export KUBECONFIG={}", path.display());
    println!("  kubectl get nodegroups,vpsienodes -n kube-system");
    println!("  kubectl describe ng production-workers -n kube-system");
    println!();
    match args.run_for {
        Some(d) => println!("Running for {}s (Ctrl-C stops it sooner).", d.as_secs()),
        None => println!("Running until Ctrl-C."),
    }
    let wait_for = args.run_for.unwrap_or(Duration::MAX);
    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("Stopping (Ctrl-C)."),
        _ = tokio::time::sleep(wait_for) => println!("Stopping (--for elapsed)."),
    }
    if let Some(r) = reconciler {
        r.stop().await;
    }
    world.shutdown().await;
    Ok(())
}
