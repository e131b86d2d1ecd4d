//! Shared helpers of the end-to-end tests: build and run the real `kubectl-vpsie` binary, and
//! run the real `kubectl` against what it serves.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

/// The `kubectl-vpsie` binary, built once per test process.
pub fn binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        escargot::CargoBuild::new()
            .package("kubectl-vpsie")
            .bin("kubectl-vpsie")
            .current_release()
            .run()
            .expect("build kubectl-vpsie")
            .path()
            .to_path_buf()
    })
    .clone()
}

/// A running `kubectl-vpsie sim`, stopped when dropped.
pub struct Sim {
    child: Child,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    /// The kubeconfig of the reconciler's ServiceAccount (deploy/'s RBAC applies), for `serve`.
    pub reconciler_kubeconfig: PathBuf,
    pub stdout: Vec<String>,
}

impl Sim {
    /// Starts `kubectl-vpsie sim --no-scenario` (the example NodeGroup, no workload, until
    /// stopped) with `args` and waits until it says it is up.
    pub fn start(args: &[&str]) -> Sim {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = Command::new(binary())
            .arg("sim")
            .arg("--no-scenario")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .env("HOME", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn kubectl-vpsie sim");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    let up = line.starts_with("Running");
                    lines.push(line);
                    if up {
                        break;
                    }
                }
                Err(e) => panic!("kubectl-vpsie sim did not come up ({e}); it printed {lines:?}"),
            }
        }
        Sim {
            child,
            dir,
            reconciler_kubeconfig: kubeconfig.with_file_name("kubeconfig.reconciler"),
            kubeconfig,
            stdout: lines,
        }
    }

    /// A `kubectl` command against the sim, with its own discovery cache and HOME.
    pub fn kubectl(&self) -> Command {
        let mut c = Command::new("kubectl");
        c.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("kube-cache"))
            .env("HOME", self.dir.path())
            .env_remove("KUBECONFIG");
        c
    }

    /// Runs kubectl with `args`, asserting success; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl().args(args).output().expect("run kubectl");
        assert_success(&out, &format!("kubectl {}", args.join(" ")));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl with `args` and stdin; returns the whole output.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .kubectl()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kubectl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("kubectl output")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts a command succeeded, printing its output when not.
pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `content` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("write file");
    p
}

/// Polls `check` (each poll a real observation: a kubectl or HTTP call) until it returns
/// `Some`, or fails after `limit` naming `what`.
pub fn until<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = std::time::Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Sim {
    /// `kubectl <args> -o json`, parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        serde_json::from_str(&self.kubectl_ok(&all)).expect("kubectl json")
    }

    /// The simulated VPSie cloud's root URL (without `/v2`), as the sim printed it.
    pub fn cloud_url(&self) -> String {
        self.stdout
            .iter()
            .find_map(|l| l.trim().strip_prefix("VPSie API:"))
            .and_then(|rest| rest.split_whitespace().next())
            .expect("the sim prints its VPSie API URL")
            .trim_end_matches("/v2")
            .to_string()
    }

    /// A call to the simulated cloud's admin API (`GET /admin/state`...), parsed.
    pub fn admin(&self, method: &str, path: &str, body: Option<&str>) -> serde_json::Value {
        let mut c = Command::new("curl");
        c.args([
            "-sf",
            "-X",
            method,
            &format!("{}/admin/{path}", self.cloud_url()),
        ]);
        if let Some(b) = body {
            c.args(["-H", "Content-Type: application/json", "-d", b]);
        }
        let out = c.output().expect("curl");
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }
}

/// The `items` of a list.
pub fn items(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v["items"].as_array().cloned().unwrap_or_default()
}

impl Sim {
    /// `kubectl vpsie <args>` against this sim: see [`kubectl_plugin`].
    pub fn plugin_command(&self, args: &[&str]) -> Command {
        kubectl_plugin(self.dir.path(), &self.kubeconfig, args)
    }

    /// The binary under test itself, not through kubectl (for what kubectl would get in the
    /// way of, like `kubectl-vpsie __complete`).
    pub fn binary_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(binary());
        c.args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env("HOME", self.dir.path())
            .env_remove("KUBECONFIG");
        c
    }

    /// Runs `kubectl vpsie <args>` against this sim with stdin closed.
    pub fn plugin(&self, args: &[&str]) -> Output {
        self.plugin_command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run kubectl-vpsie")
    }
}

/// `<dir>/bin`, holding only `kubectl-vpsie` (a link to the binary under test), to put first
/// on PATH as krew would.
pub fn plugin_bin_dir(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    let link = bin.join("kubectl-vpsie");
    if !link.exists() {
        std::fs::create_dir_all(&bin).expect("bin dir");
        std::os::unix::fs::symlink(binary(), &link).expect("link kubectl-vpsie");
    }
    bin
}

/// PATH with [`plugin_bin_dir`] of `dir` first.
pub fn plugin_path(dir: &Path) -> String {
    format!(
        "{}:{}",
        plugin_bin_dir(dir).display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `kubectl vpsie <args> --kubeconfig <kubeconfig>`: the real kubectl finds the binary under
/// test on PATH (its plugin discovery) and execs it, so every plugin test also proves the
/// command works as a kubectl plugin. `--kubeconfig` goes after the arguments (kubectl takes
/// no flags before a plugin's name and passes everything after it on). HOME is `home`, no
/// KUBECONFIG from the environment. Stdin, stdout and stderr are the caller's to set.
pub fn kubectl_plugin(home: &Path, kubeconfig: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("kubectl");
    c.arg("vpsie")
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .env("PATH", plugin_path(home))
        .env("HOME", home)
        .env_remove("KUBECONFIG");
    c
}

/// Bytes as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts a failure reported as one clear `error:` line (no Debug dump, no panic) that
/// contains every `needle`.
pub fn assert_one_error_line(out: &Output, needles: &[&str]) {
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "expected a failure, got {stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {stderr}");
    for n in needles {
        assert!(errors[0].contains(n), "{n:?} not in {stderr}");
    }
    for bad in ["panicked", "Status {", "Error {", "Api(", "backtrace"] {
        assert!(!stderr.contains(bad), "{bad:?} in {stderr}");
    }
}

/// The flags `kubectl-vpsie serve --help` documents.
pub fn serve_flags() -> std::collections::BTreeSet<String> {
    let out = Command::new(binary())
        .args(["serve", "--help"])
        .output()
        .expect("run kubectl-vpsie serve --help");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|w| w.starts_with('-') && w.len() > 1)
        .map(|w| w.split('=').next().unwrap().to_string())
        .collect()
}

impl Sim {
    /// The message of NodeGroup `name`'s `Error=True` condition of reason
    /// InvalidConfiguration, when it has one.
    pub fn invalid_configuration(&self, name: &str) -> Option<String> {
        let ng = self.json(&["get", "ng", name, "-n", "kube-system"]);
        ng["status"]["conditions"].as_array().and_then(|cs| {
            cs.iter()
                .find(|c| {
                    c["type"] == "Error"
                        && c["status"] == "True"
                        && c["reason"] == "InvalidConfiguration"
                })
                .map(|c| c["message"].as_str().unwrap_or("").to_string())
        })
    }
}

impl Sim {
    /// `kubectl-vpsie serve` as its own process against this sim, as the reconciler's
    /// ServiceAccount (deploy/'s RBAC applies): cluster name `sim`, the API polled every 500ms,
    /// metrics on a free loopback port unless `extra` names `--metrics-addr`, `HOME` in the
    /// sim's directory and stdout discarded. `extra` adds flags; the caller sets stderr and env.
    pub fn serve_command(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(binary());
        cmd.args(["serve", "--kubeconfig"])
            .arg(&self.reconciler_kubeconfig)
            .args(["--cluster-name", "sim", "--poll-interval", "500ms"]);
        if !extra.contains(&"--metrics-addr") {
            cmd.args(["--metrics-addr", "127.0.0.1:0"]);
        }
        cmd.args(extra)
            .env("HOME", self.dir.path())
            .stdout(Stdio::null());
        cmd
    }

    /// `kubectl apply` of `yaml`, written to `name` in the sim's directory.
    pub fn apply_file(&self, name: &str, yaml: &str) {
        let file = write(self.dir.path(), name, yaml);
        self.kubectl_ok(&["apply", "-f", file.to_str().unwrap()]);
    }

    /// The pods of Deployment `app` in `default`.
    pub fn app_pods(&self, app: &str) -> Vec<serde_json::Value> {
        items(&self.json(&["get", "pods", "-n", "default", "-l", &format!("app={app}")]))
    }

    /// The VPSieNodes of NodeGroup `group`.
    pub fn vpsienodes(&self, group: &str) -> Vec<serde_json::Value> {
        items(&self.json(&[
            "get",
            "vn",
            "-n",
            "kube-system",
            "-l",
            &format!("nodegroup={group}"),
        ]))
    }
}

/// How many of `pods` are Running.
pub fn running(pods: &[serde_json::Value]) -> usize {
    pods.iter()
        .filter(|p| p["status"]["phase"] == "Running")
        .count()
}

/// A Deployment `name` in `default` of `replicas` pods requesting `cpu` and `memory`, placed
/// by `nodeSelector: {pool: <pool>}`.
pub fn deployment(name: &str, replicas: u32, cpu: &str, memory: &str, pool: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: default
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      nodeSelector: {{pool: {pool}}}
      containers:
      - name: app
        image: nginx
        resources:
          requests: {{cpu: \"{cpu}\", memory: {memory}}}
"
    )
}
