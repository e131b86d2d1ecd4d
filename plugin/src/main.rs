//! `kubectl-vpsie`: the kubectl plugin, the in-cluster reconciler and the simulator, in one binary.

mod cli;
mod commands;
mod error;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::PluginError;

fn main() {
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KUBECTL_VPSIE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cli: Cli) -> Result<(), PluginError> {
    match cli.command {
        Command::Version => {
            println!("kubectl-vpsie {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::Completions(args) => {
            commands::generate::completions(args.shell, args.dir.as_deref())
        }
        Command::Man(args) => commands::generate::man(args.dir.as_deref()),
        Command::Crds(args) => commands::crds::run(args.write.as_deref()),
        Command::Serve(args) => {
            let kube = kube_client(&cli.global).await?;
            commands::serve::run(*args, kube).await
        }
        Command::Sim(args) => commands::sim::run(&args, cli.global.kubeconfig.clone()).await,
    }
}

/// A Kubernetes client from `--kubeconfig`/`--context`, else `KUBECONFIG`, ~/.kube/config or the
/// in-cluster service account.
async fn kube_client(global: &cli::GlobalArgs) -> Result<kube::Client, PluginError> {
    let options = kube::config::KubeConfigOptions {
        context: global.context.clone(),
        ..Default::default()
    };
    let config = match &global.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| {
                PluginError::Config(format!("cannot read kubeconfig {}: {e}", path.display()))
            })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|e| PluginError::Config(format!("kubeconfig {}: {e}", path.display())))?
        }
        None if global.context.is_some() => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| PluginError::Config(format!("kubeconfig: {e}")))?,
        None => kube::Config::infer().await.map_err(|e| {
            PluginError::Config(format!(
                "no cluster: {e}; pass --kubeconfig or set KUBECONFIG (or try `kubectl vpsie sim`)"
            ))
        })?,
    };
    kube::Client::try_from(config)
        .map_err(|e| PluginError::Config(format!("cannot build the Kubernetes client: {e}")))
}
