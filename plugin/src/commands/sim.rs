//! `sim`: the simulated world on loopback, with a kubeconfig for kubectl.

use std::path::PathBuf;
use std::time::Duration;

use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig};
use vpsie_reconciler::config::ReconcilerConfig;
use vpsie_reconciler::runtime::{self, ServeOptions};

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

/// Runs the world until Ctrl-C or `--for`.
pub async fn run(args: &SimArgs, kubeconfig: Option<PathBuf>) -> Result<(), PluginError> {
    let path = kubeconfig.unwrap_or_else(default_kubeconfig_path);
    vpsie_autoscaler::sim::world::check_overwrite(&path)
        .map_err(|e| PluginError::Sim(e.to_string()))?;
    let world = SimWorld::start(SimWorldConfig {
        speed: args.speed,
        api_port: args.api_port,
        cloud_port: args.cloud_port,
        ..SimWorldConfig::default()
    })
    .await
    .map_err(|e| PluginError::Sim(e.to_string()))?;
    world
        .write_kubeconfig(&path)
        .map_err(|e| PluginError::Sim(e.to_string()))?;
    let creds = world.cloud.credentials();
    let mut reconciler = None;
    if !args.no_reconciler {
        let kube = world
            .reconciler_client()
            .map_err(|e| PluginError::Sim(e.to_string()))?;
        let config = ReconcilerConfig {
            cluster_name: "sim".into(),
            ..ReconcilerConfig::default()
        };
        let mut options = ServeOptions::new(config, "vpsie-autoscaler-sim");
        options.metrics_addr = ([127, 0, 0, 1], args.metrics_port).into();
        let running = runtime::start(kube, world.clock.clone(), options)
            .await
            .map_err(|e| PluginError::Io("binding the metrics port".into(), e))?;
        reconciler = Some(running);
    }
    let metrics_addr = reconciler.as_ref().map(|r| r.metrics_addr);
    println!("Simulated world is up ({}x real time).", args.speed);
    println!("  Kubernetes API:  {}", world.api.url());
    println!(
        "  VPSie API:       {} (client id {})",
        world.cloud.base_url(),
        creds.client_id
    );
    println!("  kubeconfig:      {}", path.display());
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
