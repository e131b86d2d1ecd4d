//! `kubectl-vpsie`: the kubectl plugin, the in-cluster reconciler and the simulator, in one binary.

mod cli;
mod commands;
mod error;
#[cfg(test)]
mod parse_props;

use clap::Parser;

use crate::cli::{BreakerAction, Cli, Command, CredsAction};
use crate::error::PluginError;

fn main() {
    // `__complete` must never fail loudly: kubectl shows whatever it prints
    if std::env::args().nth(1).as_deref() == Some("__complete") {
        let words: Vec<String> = std::env::args().skip(2).collect();
        commands::complete::main(&words);
        return;
    }
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
        // kube's client builder logs each failed connection at ERROR, and kube's watcher each
        // failed list or watch at WARN; the command's own error line says it once, with the fix
        0 => "warn,kube_client::client::builder=off,kube_runtime::watcher=error",
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
    if cli.global.all_namespaces && !takes_all_namespaces(&cli.command) {
        return Err(PluginError::Config(format!(
            "-A/--all-namespaces applies to status, nodes and doctor only; `{}` acts in one namespace: pass -n NAMESPACE instead",
            command_name(&cli.command)
        )));
    }
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
        Command::Bench(args) => commands::bench::run(&args).await,
        Command::Campaign(args) => {
            if let Some(dir) = &args.logs {
                std::fs::create_dir_all(dir).map_err(|e| {
                    PluginError::Io(
                        format!("--logs {}: creating the directory", dir.display()),
                        e,
                    )
                })?;
            }
            commands::campaign::run(&args, cli.global.output).await
        }
        Command::Sim(args) => {
            commands::sim::run(&args, cli.global.kubeconfig.clone(), cli.global.output).await
        }
        Command::Simulate(args) => commands::scenario::simulate(&args, cli.global.output).await,
        Command::Status(args) => {
            let c = cluster(&cli.global).await?;
            commands::status::run(&c, &args.groups, args.watch, cli.global.output).await
        }
        Command::Nodes(args) => {
            let c = cluster(&cli.global).await?;
            commands::nodes::run(
                &c,
                args.group.as_deref(),
                args.drain_timeout,
                cli.global.output,
            )
            .await
        }
        Command::Reconcile(args) => {
            let c = cluster(&cli.global).await?;
            commands::reconcile::run(&c, &args.group, args.no_wait, args.timeout).await
        }
        Command::Pause(args) => {
            let c = cluster(&cli.global).await?;
            commands::pause::run(
                &c,
                args.group.as_deref(),
                args.all,
                true,
                args.reason.as_deref(),
            )
            .await
        }
        Command::Resume(args) => {
            let c = cluster(&cli.global).await?;
            commands::pause::run(&c, args.group.as_deref(), args.all, false, None).await
        }
        Command::Breaker(args) => {
            let c = cluster(&cli.global).await?;
            match args.action {
                None | Some(BreakerAction::Status) => {
                    commands::breaker::status(&c, cli.global.output).await
                }
                Some(BreakerAction::Reset(r)) => {
                    commands::breaker::reset(&c, r.yes, r.timeout, cli.global.output).await
                }
            }
        }
        Command::Creds(args) => {
            let c = cluster(&cli.global).await?;
            match args.action {
                CredsAction::Rotate(r) => {
                    let opts = commands::creds::RotateOptions {
                        source: if r.from_env {
                            commands::creds::Source::Env
                        } else if r.stdin {
                            commands::creds::Source::Stdin
                        } else {
                            commands::creds::Source::Prompt
                        },
                        client_id: r.client_id,
                        skip_validate: r.skip_validate,
                        yes: r.yes,
                        no_wait: r.no_wait,
                        timeout: r.timeout,
                        secret_name: r.secret_name,
                    };
                    commands::creds::rotate(&c, &opts, cli.global.output).await
                }
                CredsAction::Check(k) => {
                    commands::creds::check(&c, &k.secret_name, k.no_live, cli.global.output).await
                }
            }
        }
        Command::Doctor(args) => {
            let c = cluster(&cli.global).await?;
            commands::doctor::run(&c, &args, cli.global.output).await
        }
        Command::Why(args) => {
            let c = cluster(&cli.global).await?;
            commands::why::run(
                &c,
                &args.pod,
                args.pod_namespace.as_deref(),
                cli.global.output,
            )
            .await
        }
        Command::Complete(args) => {
            commands::complete::main(&args.words);
            Ok(())
        }
        Command::KrewManifest(args) => {
            commands::krew::run(args.archives.as_deref(), args.write.as_deref())
        }
        Command::Install(args) => {
            let opts = commands::install::InstallOptions {
                version: args.version,
                dry_run: args.dry_run,
                no_wait: args.no_wait,
                timeout: args.timeout,
            };
            // a dry run touches no cluster, so it needs no kubeconfig either
            let c = if args.dry_run {
                None
            } else {
                Some(cluster(&cli.global).await?)
            };
            commands::install::install(c.as_ref(), &opts, cli.global.output).await
        }
        Command::Uninstall(args) => {
            let c = cluster(&cli.global).await?;
            let opts = commands::install::UninstallOptions {
                yes: args.yes,
                keep_crds: args.keep_crds,
                force: args.force,
                timeout: args.timeout,
            };
            commands::install::uninstall(&c, &opts, cli.global.output).await
        }
    }
}

/// Whether `-A` means something to `command`.
fn takes_all_namespaces(command: &Command) -> bool {
    matches!(
        command,
        Command::Status(_) | Command::Nodes(_) | Command::Doctor(_) | Command::Complete(_)
    )
}

/// The subcommand's name as typed.
fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Crds(_) => "crds",
        Command::Sim(_) => "sim",
        Command::Simulate(_) => "simulate",
        Command::Install(_) => "install",
        Command::Uninstall(_) => "uninstall",
        Command::Serve(_) => "serve",
        Command::Bench(_) => "bench",
        Command::Campaign(_) => "campaign",
        Command::Version => "version",
        Command::Completions(_) => "completions",
        Command::Man(_) => "man",
        Command::Status(_) => "status",
        Command::Nodes(_) => "nodes",
        Command::Reconcile(_) => "reconcile",
        Command::Pause(_) => "pause",
        Command::Resume(_) => "resume",
        Command::Breaker(_) => "breaker",
        Command::Creds(_) => "creds",
        Command::Doctor(_) => "doctor",
        Command::Why(_) => "why",
        Command::Complete(_) => "__complete",
        Command::KrewManifest(_) => "krew-manifest",
    }
}

/// The cluster of `--kubeconfig`/`--context` and the namespace of `-n`.
async fn cluster(global: &cli::GlobalArgs) -> Result<commands::common::Cluster, PluginError> {
    let config = kube_config(global).await?;
    let url = config.cluster_url.to_string();
    let client = kube::Client::try_from(config)
        .map_err(|e| PluginError::Config(format!("cannot build the Kubernetes client: {e}")))?;
    Ok(commands::common::Cluster {
        client,
        url,
        namespace: global.namespace.clone(),
        all_namespaces: global.all_namespaces,
    })
}

/// A Kubernetes client from `--kubeconfig`/`--context`, else `KUBECONFIG`, ~/.kube/config or the
/// in-cluster service account.
async fn kube_client(global: &cli::GlobalArgs) -> Result<kube::Client, PluginError> {
    let config = kube_config(global).await?;
    kube::Client::try_from(config)
        .map_err(|e| PluginError::Config(format!("cannot build the Kubernetes client: {e}")))
}

/// The client configuration of `--kubeconfig`/`--context`, else the usual places.
async fn kube_config(global: &cli::GlobalArgs) -> Result<kube::Config, PluginError> {
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
    Ok(config)
}
