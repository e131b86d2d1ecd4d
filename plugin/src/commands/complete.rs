//! `__complete WORDS...`: shell completion for `kubectl vpsie <TAB>`, in cobra's protocol.
//!
//! kubectl (1.26+) completes a plugin by running `kubectl_complete-vpsie` from PATH with the
//! words after `vpsie` (the last one is the word being completed, possibly empty) and expects
//! cobra's `__complete` answer: one candidate a line (`value<TAB>description`), then
//! `:<directive>` (4: no file completion, 0: default). `completions/kubectl_complete-vpsie`
//! calls `kubectl-vpsie __complete "$@"`.
//!
//! Subcommands and flags come from the clap definition itself (so they never drift); NodeGroup
//! names (status, nodes, reconcile, pause, resume) and pod names (why) are read from the
//! cluster with a short timeout. Completion never fails loudly: without a cluster there are
//! simply no names.

use std::time::Duration;

use clap::CommandFactory;

use crate::cli::{Cli, GlobalArgs, OutputFormat};

/// cobra's `ShellCompDirectiveNoFileComp`.
pub const NO_FILE_COMP: u32 = 4;
/// cobra's `ShellCompDirectiveDefault` (files).
pub const DEFAULT: u32 = 0;

/// The commands whose positional argument is a NodeGroup.
pub const GROUP_COMMANDS: &[&str] = &["status", "nodes", "reconcile", "pause", "resume"];

/// What the words ask for. Pure result of [`analyze`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// Fixed candidates (subcommands, flags, flag values).
    Fixed(Vec<(String, String)>, u32),
    /// NodeGroup names, except those already given.
    Groups {
        /// Already on the command line.
        given: Vec<String>,
    },
    /// Pod names of the namespace.
    Pods {
        /// `--pod-namespace`, when given.
        namespace: Option<String>,
    },
    /// Nothing (a free value: a duration, a reason).
    Nothing(u32),
}

/// The connection flags on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    /// `--kubeconfig`.
    pub kubeconfig: Option<String>,
    /// `--context`.
    pub context: Option<String>,
    /// `-n/--namespace`.
    pub namespace: Option<String>,
}

fn flag_value(words: &[String], i: usize) -> Option<&str> {
    words.get(i + 1).map(String::as_str)
}

/// Reads the words (the last one is being completed). Pure.
pub fn analyze(words: &[String]) -> (Want, Connection) {
    let root = Cli::command();
    let (done, current) = match words.split_last() {
        Some((last, rest)) => (rest, last.as_str()),
        None => (&[][..], ""),
    };
    let mut conn = Connection::default();
    let mut path: Vec<clap::Command> = vec![root.clone()];
    let mut positionals: Vec<String> = Vec::new();
    let mut pod_namespace = None;
    let mut i = 0;
    let find_arg = |cmds: &[clap::Command], word: &str| -> Option<clap::Arg> {
        let (name, _) = word.split_once('=').unwrap_or((word, ""));
        cmds.iter().rev().find_map(|c| {
            c.get_arguments()
                .find(|a| {
                    if let Some(l) = name.strip_prefix("--") {
                        a.get_long() == Some(l)
                    } else if let Some(s) = name.strip_prefix('-') {
                        s.len() == 1 && a.get_short() == s.chars().next()
                    } else {
                        false
                    }
                })
                .cloned()
        })
    };
    while i < done.len() {
        let w = done[i].as_str();
        if w.starts_with('-') && w != "-" {
            let arg = find_arg(&path, w);
            let takes =
                arg.as_ref().is_some_and(|a| a.get_action().takes_values()) && !w.contains('=');
            let value = if w.contains('=') {
                w.split_once('=').map(|(_, v)| v.to_string())
            } else if takes {
                flag_value(done, i).map(String::from)
            } else {
                None
            };
            if let Some(a) = &arg {
                match a.get_id().as_str() {
                    "kubeconfig" => conn.kubeconfig = value.clone(),
                    "context" => conn.context = value.clone(),
                    "namespace" => conn.namespace = value.clone(),
                    "pod_namespace" => pod_namespace = value.clone(),
                    _ => {}
                }
            }
            i += if takes { 2 } else { 1 };
            continue;
        }
        let sub = path
            .last()
            .expect("root")
            .get_subcommands()
            .find(|s| positionals.is_empty() && s.get_name() == w)
            .cloned();
        if let Some(sub) = sub {
            path.push(sub);
        } else {
            positionals.push(w.to_string());
        }
        i += 1;
    }
    // the value of a flag?
    if let Some(prev) = done
        .last()
        .filter(|p| p.starts_with('-') && !p.contains('='))
    {
        if let Some(a) = find_arg(&path, prev).filter(|a| a.get_action().takes_values()) {
            return (value_of(&a, current), conn);
        }
    }
    let cmd = path.last().expect("root");
    if current.starts_with('-') {
        let mut flags = Vec::new();
        for c in &path {
            for a in c.get_arguments() {
                if a.is_hide_set() || (c.get_name() != cmd.get_name() && !a.is_global_set()) {
                    continue;
                }
                let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                if let Some(l) = a.get_long() {
                    flags.push((format!("--{l}"), help.clone()));
                }
                if let Some(s) = a.get_short() {
                    flags.push((format!("-{s}"), help));
                }
            }
        }
        flags.push(("--help".into(), "Print help".into()));
        flags.sort();
        flags.dedup_by(|a, b| a.0 == b.0);
        return (
            Want::Fixed(
                flags
                    .into_iter()
                    .filter(|(f, _)| f.starts_with(current))
                    .collect(),
                NO_FILE_COMP,
            ),
            conn,
        );
    }
    let subs: Vec<(String, String)> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .map(|s| {
            (
                s.get_name().to_string(),
                s.get_about().map(|h| h.to_string()).unwrap_or_default(),
            )
        })
        .filter(|(n, _)| n.starts_with(current))
        .collect();
    if positionals.is_empty() && cmd.has_subcommands() {
        return (Want::Fixed(subs, NO_FILE_COMP), conn);
    }
    let name = cmd.get_name();
    let want = if GROUP_COMMANDS.contains(&name) && (name == "status" || positionals.is_empty()) {
        Want::Groups { given: positionals }
    } else if name == "why" && positionals.is_empty() {
        Want::Pods {
            namespace: pod_namespace,
        }
    } else if matches!(name, "completions") && positionals.is_empty() {
        Want::Fixed(
            ["bash", "zsh", "fish", "powershell", "elvish"]
                .iter()
                .filter(|s| s.starts_with(current))
                .map(|s| (s.to_string(), String::new()))
                .collect(),
            NO_FILE_COMP,
        )
    } else {
        Want::Nothing(NO_FILE_COMP)
    };
    (want, conn)
}

fn value_of(a: &clap::Arg, current: &str) -> Want {
    let possible: Vec<(String, String)> = a
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| {
            (
                v.get_name().to_string(),
                v.get_help().map(|h| h.to_string()).unwrap_or_default(),
            )
        })
        .filter(|(n, _)| n.starts_with(current))
        .collect();
    if !possible.is_empty() || !a.get_possible_values().is_empty() {
        return Want::Fixed(possible, NO_FILE_COMP);
    }
    let is_path = matches!(
        a.get_value_hint(),
        clap::ValueHint::FilePath | clap::ValueHint::DirPath | clap::ValueHint::AnyPath
    ) || matches!(a.get_id().as_str(), "kubeconfig" | "write" | "dir");
    Want::Nothing(if is_path { DEFAULT } else { NO_FILE_COMP })
}

/// The answer in cobra's format. Pure.
pub fn render(candidates: &[(String, String)], directive: u32) -> String {
    let mut out = String::new();
    for (value, help) in candidates {
        out.push_str(value);
        let help = help.lines().next().unwrap_or("").trim();
        if !help.is_empty() {
            out.push('\t');
            out.push_str(help);
        }
        out.push('\n');
    }
    out.push_str(&format!(":{directive}\n"));
    out
}

async fn names(want: &Want, conn: &Connection, current: &str) -> Vec<String> {
    let global = GlobalArgs {
        kubeconfig: conn
            .kubeconfig
            .clone()
            .or_else(|| std::env::var("KUBECONFIG").ok().filter(|k| !k.is_empty()))
            .map(Into::into),
        context: conn.context.clone(),
        namespace: conn
            .namespace
            .clone()
            .unwrap_or_else(|| "kube-system".into()),
        all_namespaces: false,
        output: OutputFormat::Table,
        no_color: true,
        verbose: 0,
    };
    let Ok(cluster) = crate::cluster(&global).await else {
        return Vec::new();
    };
    let mut out: Vec<String> = match want {
        Want::Groups { given } => match cluster.list_nodegroups().await {
            Ok(l) => l
                .items
                .iter()
                .filter_map(|g| g.metadata.name.clone())
                .filter(|n| !given.contains(n))
                .collect(),
            Err(_) => Vec::new(),
        },
        Want::Pods { namespace } => {
            let ns = namespace.clone().unwrap_or_else(|| "default".into());
            let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
                kube::Api::namespaced(cluster.client.clone(), &ns);
            let lp = kube::api::ListParams::default().fields("status.phase=Pending");
            match pods.list_metadata(&lp).await {
                Ok(l) => l
                    .items
                    .into_iter()
                    .filter_map(|p| p.metadata.name)
                    .collect(),
                Err(_) => Vec::new(),
            }
        }
        _ => Vec::new(),
    };
    out.retain(|n| n.starts_with(current));
    out.sort();
    out
}

/// Answers the completion request `words` on stdout; never fails.
pub fn main(words: &[String]) {
    let (want, conn) = analyze(words);
    let current = words.last().map(String::as_str).unwrap_or("");
    let text = match want {
        Want::Fixed(c, d) => render(&c, d),
        Want::Nothing(d) => render(&[], d),
        dynamic => {
            let found = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()
                .and_then(|rt| {
                    rt.block_on(async {
                        tokio::time::timeout(
                            Duration::from_secs(3),
                            names(&dynamic, &conn, current),
                        )
                        .await
                        .ok()
                    })
                })
                .unwrap_or_default();
            let c: Vec<(String, String)> = found.into_iter().map(|n| (n, String::new())).collect();
            render(&c, NO_FILE_COMP)
        }
    };
    crate::commands::common::emit(&text);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    fn fixed(w: &[&str]) -> Vec<String> {
        match analyze(&words(w)).0 {
            Want::Fixed(c, _) => c.into_iter().map(|(v, _)| v).collect(),
            other => panic!("{w:?}: {other:?}"),
        }
    }

    #[test]
    fn subcommands_complete_by_prefix_without_hidden_ones() {
        assert_eq!(fixed(&["re"]), ["reconcile", "resume"]);
        let all = fixed(&[""]);
        assert!(all.contains(&"why".to_string()) && all.contains(&"status".to_string()));
        assert!(!all
            .iter()
            .any(|c| c.starts_with("__") || c == "krew-manifest" || c == "help"));
        assert_eq!(fixed(&["breaker", ""]), ["status", "reset"]);
        // global flags before the subcommand are skipped with their values
        assert_eq!(fixed(&["-n", "ops", "--context", "x", "st"]), ["status"]);
    }

    #[test]
    fn nodegroup_commands_want_group_names() {
        for cmd in GROUP_COMMANDS {
            assert_eq!(
                analyze(&words(&[cmd, ""])).0,
                Want::Groups { given: vec![] },
                "{cmd}"
            );
        }
        // reconcile takes one group; status several
        assert_eq!(
            analyze(&words(&["reconcile", "a", ""])).0,
            Want::Nothing(NO_FILE_COMP)
        );
        assert_eq!(
            analyze(&words(&["status", "a", ""])).0,
            Want::Groups {
                given: vec!["a".into()]
            }
        );
        let (want, conn) = analyze(&words(&[
            "--kubeconfig",
            "/k",
            "-n",
            "ops",
            "pause",
            "--reason",
            "x",
            "",
        ]));
        assert_eq!(want, Want::Groups { given: vec![] });
        assert_eq!(conn.kubeconfig.as_deref(), Some("/k"));
        assert_eq!(conn.namespace.as_deref(), Some("ops"));
        assert_eq!(
            analyze(&words(&["why", "--pod-namespace", "web", ""])).0,
            Want::Pods {
                namespace: Some("web".into())
            }
        );
    }

    #[test]
    fn flags_and_their_values() {
        assert_eq!(
            fixed(&["status", "-o", ""]),
            ["table", "wide", "json", "yaml"]
        );
        assert_eq!(fixed(&["status", "--output", "j"]), ["json"]);
        let flags = fixed(&["reconcile", "--"]);
        assert!(flags.contains(&"--timeout".to_string()), "{flags:?}");
        assert!(flags.contains(&"--kubeconfig".to_string()), "{flags:?}");
        assert!(!flags.contains(&"--all".to_string()), "{flags:?}");
        assert_eq!(
            analyze(&words(&["reconcile", "--timeout", ""])).0,
            Want::Nothing(NO_FILE_COMP)
        );
        assert_eq!(
            analyze(&words(&["--kubeconfig", ""])).0,
            Want::Nothing(DEFAULT)
        );
    }

    #[test]
    fn the_answer_is_cobras_format() {
        assert_eq!(
            render(
                &[
                    ("reconcile".into(), "Force a reconcile\nmore".into()),
                    ("x".into(), String::new())
                ],
                4
            ),
            "reconcile\tForce a reconcile\nx\n:4\n"
        );
    }
}
