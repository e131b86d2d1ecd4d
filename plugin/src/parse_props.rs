//! Property tests of what the binary reads from its user: every flag of every command given
//! any value, and kubeconfig files of any content. None may panic; each refusal is a message
//! that names what was wrong (the flag, or the kubeconfig's path).

use std::io::Write;

use clap::{CommandFactory, Parser};
use proptest::prelude::*;

use crate::cli::{Cli, GlobalArgs, OutputFormat};

/// Every (subcommand path, `--long` flag) that takes a value, in the whole command tree,
/// hidden ones included.
fn value_flags() -> Vec<(Vec<String>, String)> {
    fn walk(cmd: &clap::Command, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, String)>) {
        for arg in cmd.get_arguments() {
            let takes_value = arg.get_action().takes_values();
            // hidden flags too: they are parsed like the others
            if let (true, Some(long)) = (takes_value, arg.get_long()) {
                out.push((path.clone(), format!("--{long}")));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            path.push(sub.get_name().to_string());
            walk(sub, path, out);
            path.pop();
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), &mut Vec::new(), &mut out);
    out
}

/// Text an operator (or a script gone wrong) might pass: numbers, durations, units, signs,
/// spaces, unicode, control characters, very long strings.
fn junk() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,25}",
        "-?[0-9]{0,6}(\\.[0-9]{0,6})?(ns|us|ms|s|m|h|d|Mi|Gi|%|e300|e-9)?",
        "[a-zA-Z_:/.-]{0,30}",
        any::<String>(),
        prop::collection::vec(any::<char>(), 0..400).prop_map(|c| c.into_iter().collect()),
        Just(String::new()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("18446744073709551616".to_string()),
        Just("0.0.0.0:99999".to_string()),
    ]
}

#[test]
fn the_tree_has_value_flags_to_test() {
    let flags = value_flags();
    // serve's durations, sim's ports and speed, bench's sizes, campaign's seeds...
    for want in [
        "--poll-interval",
        "--speed",
        "--backend",
        "--seed",
        "--kubeconfig",
    ] {
        assert!(
            flags.iter().any(|(_, f)| f == want),
            "{want} not found among {} value flags",
            flags.len()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any value of any flag of any command is parsed or refused with clap's message, which
    /// names the flag; never a panic.
    #[test]
    fn any_value_of_any_flag_is_read_or_refused_naming_the_flag(
        pick in any::<prop::sample::Index>(),
        value in junk(),
    ) {
        let flags = value_flags();
        let (path, flag) = &flags[pick.index(flags.len())];
        let mut argv = vec!["kubectl-vpsie".to_string()];
        argv.extend(path.iter().cloned());
        argv.push(format!("{flag}={value}"));
        let parsed = std::panic::catch_unwind(|| Cli::try_parse_from(&argv));
        let Ok(result) = parsed else {
            panic!("parsing {argv:?} panicked");
        };
        if let Err(e) = result {
            let text = e.to_string();
            prop_assert!(!text.trim().is_empty(), "{argv:?}: an empty error");
            if e.kind() == clap::error::ErrorKind::InvalidValue
                || e.kind() == clap::error::ErrorKind::ValueValidation
            {
                prop_assert!(text.contains(flag.as_str()), "{argv:?}: {text}");
            }
        }
    }

    /// A kubeconfig of any content (a valid one with any values in its fields, or bytes) is
    /// loaded or refused with a message naming the file; never a panic.
    #[test]
    fn any_kubeconfig_is_loaded_or_refused_naming_the_file(
        server in junk(),
        ca in junk(),
        token in junk(),
        context in junk(),
        current in junk(),
        insecure in any::<bool>(),
        raw in prop::option::of(prop::collection::vec(any::<u8>(), 0..600)),
    ) {
        let yaml = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server:?}\n    certificate-authority-data: {ca:?}\n    insecure-skip-tls-verify: {insecure}\ncontexts:\n- name: {context:?}\n  context:\n    cluster: c\n    user: u\ncurrent-context: {current:?}\nusers:\n- name: u\n  user:\n    token: {token:?}\n"
        );
        let bytes = raw.unwrap_or_else(|| yaml.into_bytes());
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.write_all(&bytes).expect("write kubeconfig");
        let global = GlobalArgs {
            kubeconfig: Some(file.path().to_path_buf()),
            context: None,
            namespace: "kube-system".into(),
            all_namespaces: false,
            output: OutputFormat::Table,
            no_color: true,
            verbose: 0,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async {
                match crate::kube_config(&global).await {
                    Ok(config) => Ok(kube::Client::try_from(config).map(|_| ()).map_err(|e| e.to_string())),
                    Err(e) => Err(e.to_string()),
                }
            })
        }));
        let Ok(result) = outcome else {
            panic!("loading the kubeconfig panicked: {:?}", String::from_utf8_lossy(&bytes));
        };
        match result {
            // refused while reading: the message names the file
            Err(text) => prop_assert!(
                text.contains(&file.path().display().to_string()),
                "{text}"
            ),
            // read, but no client can be built from it: an error, not a panic
            Ok(Err(text)) => prop_assert!(!text.trim().is_empty()),
            Ok(Ok(())) => {}
        }
    }
}
