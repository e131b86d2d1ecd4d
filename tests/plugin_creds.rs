//! `creds rotate` and `creds check` end to end: the real `kubectl-vpsie` binary against
//! `kubectl-vpsie sim` with the reconciler running. Non-interactive (`--from-env`, `--stdin`),
//! interactive under a pseudo-terminal (util-linux `script`), refusals that leave the Secret as
//! it was, and no secret in any output.

mod e2e_support;

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e_support::{assert_one_error_line, text, until, Sim};
use serde_json::Value;

/// Every secret used here: none may appear in any output.
const SECRETS: [&str; 5] = [
    "sim-client-secret",
    "wrong-secret-9f3a",
    "rotated-secret-41c7",
    "stdin-secret-77b2",
    "pty-secret-5d0e",
];

/// Runs `kubectl-vpsie <args>` against the sim with `env` and `stdin`; checks the outputs hold
/// no secret.
fn plugin(sim: &Sim, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut c = sim.plugin_command(args);
    c.env_remove("VPSIE_CLIENT_ID")
        .env_remove("VPSIE_CLIENT_SECRET")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("run kubectl-vpsie");
    if let Some(s) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(s.as_bytes())
            .expect("write stdin");
    }
    let out = child.wait_with_output().expect("kubectl-vpsie output");
    assert_no_secret(&format!("{args:?}"), &out.stdout);
    assert_no_secret(&format!("{args:?}"), &out.stderr);
    out
}

fn assert_no_secret(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for s in SECRETS {
        assert!(
            !text.contains(s),
            "{what}: secret {s:?} in the output:\n{text}"
        );
    }
}

fn ok_json(sim: &Sim, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Value {
    let out = plugin(sim, args, env, stdin);
    e2e_support::assert_success(&out, &format!("kubectl-vpsie {}", args.join(" ")));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out.stdout)))
}

/// The Secret's data and resourceVersion.
fn secret(sim: &Sim) -> (Value, String) {
    let s = sim.json(&["get", "secret", "vpsie-secret", "-n", "kube-system"]);
    (
        s["data"].clone(),
        s["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

fn decoded(data: &Value, key: &str) -> String {
    let b64 = data[key]
        .as_str()
        .unwrap_or_else(|| panic!("key {key} in {data}"));
    let out = Command::new("base64")
        .arg("-d")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().expect("stdin").write_all(b64.as_bytes())?;
            c.wait_with_output()
        })
        .expect("base64 -d");
    text(&out.stdout)
}

fn principals_of(sim: &Sim, op: &str) -> Vec<String> {
    let r = sim.admin("GET", "requests", None);
    r["data"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| x["operation"] == op)
                .filter_map(|x| x["principal"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn loaded_fingerprint(sim: &Sim) -> String {
    until(
        "the controller's credentials loaded (`creds check`)",
        Duration::from_secs(90),
        || {
            let out = plugin(sim, &["creds", "check", "-o", "json"], &[], None);
            let v: Value = serde_json::from_slice(&out.stdout).ok()?;
            (out.status.success() && v["ok"] == true)
                .then(|| v["loaded"]["fingerprint"].as_str().map(str::to_string))
                .flatten()
        },
    )
}

#[test]
fn rotate_from_env_and_stdin_refuses_bad_credentials_and_revokes_the_old_account() {
    let sim = Sim::start(&["--speed", "20"]);
    let first = loaded_fingerprint(&sim);
    let (data0, rv0) = secret(&sim);
    let url = decoded(&data0, "url");

    // wrong credentials: refused at the token endpoint, the Secret untouched
    let out = plugin(
        &sim,
        &["creds", "rotate", "--from-env", "--yes"],
        &[
            ("VPSIE_CLIENT_ID", "wrong-id"),
            ("VPSIE_CLIENT_SECRET", "wrong-secret-9f3a"),
        ],
        None,
    );
    assert_one_error_line(
        &out,
        &["refused the new credentials", "was not changed", &url],
    );
    assert_eq!(
        secret(&sim),
        (data0.clone(), rv0.clone()),
        "Secret unchanged"
    );
    // no --yes without a terminal: refused after validation, the Secret untouched
    sim.admin(
        "POST",
        "accounts",
        Some(r#"{"client_id": "rotated-id", "client_secret": "rotated-secret-41c7"}"#),
    );
    let env = [
        ("VPSIE_CLIENT_ID", "rotated-id"),
        ("VPSIE_CLIENT_SECRET", "rotated-secret-41c7"),
    ];
    let out = plugin(&sim, &["creds", "rotate", "--from-env"], &env, None);
    assert_one_error_line(
        &out,
        &["refusing to write Secret kube-system/vpsie-secret", "--yes"],
    );
    assert_eq!(secret(&sim), (data0.clone(), rv0), "Secret unchanged");
    // a missing variable names it
    let out = plugin(
        &sim,
        &["creds", "rotate", "--from-env", "--yes"],
        &[("VPSIE_CLIENT_ID", "rotated-id")],
        None,
    );
    assert_one_error_line(&out, &["VPSIE_CLIENT_SECRET is not set"]);

    // the real rotation: validated, written, loaded without a restart
    let v = ok_json(
        &sim,
        &["creds", "rotate", "--from-env", "--yes", "-o", "json"],
        &env,
        None,
    );
    assert_eq!(v["loaded"], true, "{v}");
    assert_eq!(v["previousFingerprint"], first.as_str(), "{v}");
    assert_eq!(v["validatedAgainst"], url.as_str(), "{v}");
    let second = v["fingerprint"].as_str().expect("fingerprint").to_string();
    assert_ne!(second, first);
    let (data1, _) = secret(&sim);
    assert_eq!(decoded(&data1, "clientId"), "rotated-id");
    assert_eq!(decoded(&data1, "url"), url, "other keys kept");
    let report = sim.kubectl_ok(&[
        "get",
        "cm",
        "vpsie-autoscaler-status",
        "-n",
        "kube-system",
        "-o",
        "jsonpath={.data.status\\.json}",
    ]);
    let report: Value = serde_json::from_str(&report).expect("report");
    assert_eq!(report["credentials"]["fingerprint"], second.as_str());
    assert_eq!(report["credentials"]["state"], "loaded");

    // the old account goes; new VPSie calls are signed by the new client id
    sim.admin("DELETE", "accounts/sim-client-id", None);
    sim.kubectl_ok(&[
        "annotate",
        "ng",
        "production-workers",
        "-n",
        "kube-system",
        "autoscaler.vpsie.com/min-nodes-override=4",
        "--overwrite",
    ]);
    until(
        "a CreateVM signed by rotated-id",
        Duration::from_secs(90),
        || {
            principals_of(&sim, "CreateVM")
                .iter()
                .any(|p| p == "rotated-id")
                .then_some(())
        },
    );
    let check = ok_json(&sim, &["creds", "check", "-o", "json"], &[], None);
    assert_eq!(check["live"]["ok"], true, "{check}");
    assert_eq!(check["secretFingerprint"], second.as_str());
    // a login with the revoked pair is refused by the cloud
    let out = plugin(
        &sim,
        &["creds", "rotate", "--from-env", "--yes"],
        &[
            ("VPSIE_CLIENT_ID", "sim-client-id"),
            ("VPSIE_CLIENT_SECRET", "sim-client-secret"),
        ],
        None,
    );
    assert_one_error_line(&out, &["refused the new credentials"]);

    // --stdin
    sim.admin(
        "POST",
        "accounts",
        Some(r#"{"client_id": "stdin-id", "client_secret": "stdin-secret-77b2"}"#),
    );
    let out = plugin(
        &sim,
        &["creds", "rotate", "--stdin", "--yes"],
        &[],
        Some("# from the vault\nclientId=stdin-id\nclientSecret=stdin-secret-77b2\n"),
    );
    e2e_support::assert_success(&out, "creds rotate --stdin --yes");
    let line = text(&out.stdout);
    assert!(
        line.starts_with(
            "credentials rotated: Secret kube-system/vpsie-secret now holds fingerprint"
        ) && line.contains(&format!("(was {second})"))
            && line.contains("loaded by the controller at"),
        "{line}"
    );
    assert_eq!(decoded(&secret(&sim).0, "clientId"), "stdin-id");
    let out = plugin(
        &sim,
        &["creds", "rotate", "--stdin", "--yes"],
        &[],
        Some("clientId=x\nclientSecret\n"),
    );
    assert_one_error_line(&out, &["stdin line 2", "KEY=VALUE"]);

    // creds check fails when the loaded pair is revoked
    sim.admin("DELETE", "accounts/stdin-id", None);
    let out = plugin(&sim, &["creds", "check"], &[], None);
    assert!(!out.status.success());
    let t = text(&out.stdout);
    assert!(
        t.contains("login FAILED") && t.contains("problem: VPSie at"),
        "{t}"
    );
    assert_one_error_line(&out, &["the credentials are not working"]);
}

/// A command under a pseudo-terminal (util-linux `script`): what it printed so far, and its
/// stdin to type into.
struct Pty {
    child: std::process::Child,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    fn spawn(shell_command: &str, home: &std::path::Path) -> Pty {
        let mut child = Command::new("script")
            .args(["-qfec", shell_command, "/dev/null"])
            .env("HOME", home)
            .env("TERM", "xterm")
            .env_remove("KUBECONFIG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("util-linux `script` runs the command under a pty");
        let mut out = child.stdout.take().expect("stdout");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty { child, seen }
    }

    fn text(&self) -> String {
        text(&self.seen.lock().unwrap())
    }

    /// Waits (polling what the terminal shows) until `needle` appears after `from`; returns the
    /// position after it.
    fn expect(&self, needle: &str, from: usize, limit: Duration) -> usize {
        let start = Instant::now();
        loop {
            let t = self.text();
            if let Some(i) = t.get(from..).and_then(|rest| rest.find(needle)) {
                return from + i + needle.len();
            }
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for {needle:?}; the terminal shows:\n{t}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&mut self, keys: &str) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(keys.as_bytes()).expect("type");
        stdin.flush().expect("flush");
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn rotate_interactively_hides_the_secret() {
    let sim = Sim::start(&["--speed", "20"]);
    let first = loaded_fingerprint(&sim);
    sim.admin(
        "POST",
        "accounts",
        Some(r#"{"client_id": "pty-id", "client_secret": "pty-secret-5d0e"}"#),
    );
    // as `kubectl vpsie`: kubectl execs the plugin, which keeps the terminal
    let cmd = format!(
        "PATH={} kubectl vpsie creds rotate --kubeconfig {}",
        quote(&e2e_support::plugin_path(sim.dir.path())),
        quote(&sim.kubeconfig.to_string_lossy())
    );
    let mut pty = Pty::spawn(&cmd, sim.dir.path());
    let limit = Duration::from_secs(30);
    let at = pty.expect("VPSie client id", 0, limit);
    pty.send("pty-id\r");
    let at = pty.expect("VPSie client secret (hidden)", at, limit);
    pty.send("pty-secret-5d0e\r");
    let at = pty.expect("accepted the new credentials", at, limit);
    let at = pty.expect(
        "Update Secret kube-system/vpsie-secret with the credentials of fingerprint",
        at,
        limit,
    );
    pty.expect(&format!("replacing {first}?"), at, limit);
    pty.send("y");
    let done = pty.expect("loaded by the controller at", at, Duration::from_secs(90));
    let shown = pty.text();
    assert!(
        shown[..done].contains("credentials rotated: Secret kube-system/vpsie-secret"),
        "{shown}"
    );
    assert!(shown.contains("pty-id"), "the client id is echoed: {shown}");
    assert_no_secret("the interactive terminal", shown.as_bytes());
    let status = until("creds rotate to exit", Duration::from_secs(30), || {
        pty.child.try_wait().ok().flatten()
    });
    assert!(status.success(), "{shown}");
    assert_eq!(decoded(&secret(&sim).0, "clientId"), "pty-id");

    // answering no leaves the Secret as it is
    let (data, rv) = secret(&sim);
    let mut pty = Pty::spawn(&format!("{cmd} --client-id pty-id"), sim.dir.path());
    let at = pty.expect("VPSie client secret (hidden)", 0, limit);
    pty.send("pty-secret-5d0e\r");
    pty.expect("Update Secret kube-system/vpsie-secret", at, limit);
    pty.send("n");
    pty.expect("not changed: Secret kube-system/vpsie-secret", at, limit);
    assert_no_secret("the interactive terminal", pty.text().as_bytes());
    assert_eq!(secret(&sim), (data, rv));

    // without a terminal and without --from-env/--stdin: a clear refusal
    let out = plugin(&sim, &["creds", "rotate"], &[], None);
    assert_one_error_line(&out, &["stdin is not a terminal", "--from-env", "--stdin"]);
}
