//! What the operator commands share: the cluster connection, turning API errors into one line
//! an operator can act on, output formats, and how times are written.

use std::io::IsTerminal;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, ObjectList};
use serde::Serialize;
use vpsie_autoscaler::api::{NodeGroup, VPSieNode};
use vpsie_reconciler::report::{ReportError, ReportReader, StatusReport, STATUS_CONFIGMAP};

use crate::cli::OutputFormat;
use crate::error::PluginError;

/// A connection to the cluster plus the namespace of the autoscaler's objects.
#[derive(Clone)]
pub struct Cluster {
    /// The client.
    pub client: kube::Client,
    /// The API server URL (for error messages).
    pub url: String,
    /// The namespace (`-n`, default kube-system).
    pub namespace: String,
    /// `-A`: list NodeGroups and VPSieNodes of every namespace.
    pub all_namespaces: bool,
}

/// What a failed request was doing, so its error can say so.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// `get`, `list`, `watch`, `patch`.
    pub verb: &'static str,
    /// `nodegroups`, `vpsienodes`, `configmaps`.
    pub resource: &'static str,
}

/// `kube::Error` -> one line with the fix. A 404 on a list of our CRDs means the CRD is not
/// installed; a 404 on a named NodeGroup is "not found" when the server names the object,
/// else the CRD is missing too. Pure.
pub fn classify(
    e: kube::Error,
    op: Op,
    name: Option<&str>,
    cluster_url: &str,
    namespace: &str,
) -> PluginError {
    match e {
        kube::Error::Api(status) => match status.code {
            403 => PluginError::Forbidden {
                verb: op.verb,
                resource: match name {
                    Some(n) => format!("{}/{n}", op.resource),
                    None => op.resource.to_string(),
                },
                namespace: namespace.to_string(),
                message: status.message.clone(),
            },
            401 => PluginError::Api(format!(
                "the Kubernetes API server at {cluster_url} refused the credentials of the kubeconfig (401 Unauthorized): log in again or pick another --context"
            )),
            404 => {
                let named = status
                    .details
                    .as_ref()
                    .is_some_and(|d| !d.name.is_empty());
                match (name, op.resource) {
                    (Some(n), "nodegroups") if named => PluginError::NotFound {
                        kind: "NodeGroup",
                        short: "ng",
                        name: n.to_string(),
                        namespace: namespace.to_string(),
                    },
                    (_, "nodegroups") => PluginError::CrdsMissing {
                        resource: "nodegroups",
                    },
                    (_, "vpsienodes") => PluginError::CrdsMissing {
                        resource: "vpsienodes",
                    },
                    (Some(n), r) => PluginError::Api(format!("{r}/{n} not found in namespace {namespace}")),
                    (None, r) => PluginError::Api(format!("the server does not serve {r} (404)")),
                }
            }
            code => PluginError::Api(format!(
                "{} {} in namespace {namespace} failed: {} ({code} {}); retry, or check the API server (`kubectl get --raw /readyz`)",
                op.verb, op.resource, status.message, status.reason
            )),
        },
        kube::Error::SerdeError(err) => PluginError::Api(format!(
            "{} {}: the server's answer is not what this kubectl-vpsie reads ({err}); use the kubectl-vpsie of the same release as the CRDs",
            op.verb, op.resource
        )),
        other => PluginError::Unreachable {
            url: cluster_url.to_string(),
            problem: error_chain(&other),
        },
    }
}

/// An error and its sources on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ").replace('\n', " ")
}

impl Cluster {
    /// A refused (401/403) watch of the status report as the plugin's error, naming the verbs
    /// to grant; `None` for a wait that ran out of time (the caller says what did not happen).
    pub fn refused_report_wait(&self, e: ReportError) -> Option<PluginError> {
        match e {
            ReportError::Api { source, .. } => Some(self.err(
                source,
                Op {
                    verb: "watch",
                    resource: "configmaps",
                },
                Some(STATUS_CONFIGMAP),
            )),
            _ => None,
        }
    }

    /// Turns `e` of `op` on `name` into the plugin's error.
    pub fn err(&self, e: kube::Error, op: Op, name: Option<&str>) -> PluginError {
        classify(e, op, name, &self.url, &self.namespace)
    }

    /// NodeGroups of the namespace.
    pub fn nodegroups(&self) -> Api<NodeGroup> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// VPSieNodes of the namespace.
    pub fn vpsienodes(&self) -> Api<VPSieNode> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The error of a failed list of `resource`: with `-A`, a 403 says that a cluster-wide
    /// list was refused.
    fn list_err(&self, e: kube::Error, resource: &'static str) -> PluginError {
        if self.all_namespaces {
            if let kube::Error::Api(status) = &e {
                if status.code == 403 {
                    return PluginError::Api(format!(
                        "forbidden: cannot list {resource} in all namespaces ({}); drop -A and pass -n NAMESPACE, or ask your cluster admin for cluster-wide read access (check with `kubectl auth can-i list {resource} -A`)",
                        status.message
                    ));
                }
            }
        }
        self.err(
            e,
            Op {
                verb: "list",
                resource,
            },
            None,
        )
    }

    /// NodeGroups to list and watch: of every namespace with `-A`, else of the namespace.
    pub fn nodegroups_listed(&self) -> Api<NodeGroup> {
        if self.all_namespaces {
            Api::all(self.client.clone())
        } else {
            self.nodegroups()
        }
    }

    /// VPSieNodes to list and watch: of every namespace with `-A`, else of the namespace.
    pub fn vpsienodes_listed(&self) -> Api<VPSieNode> {
        if self.all_namespaces {
            Api::all(self.client.clone())
        } else {
            self.vpsienodes()
        }
    }

    /// ConfigMaps of the namespace.
    pub fn configmaps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Every NodeGroup (of every namespace with `-A`).
    pub async fn list_nodegroups(&self) -> Result<ObjectList<NodeGroup>, PluginError> {
        self.nodegroups_listed()
            .list(&ListParams::default())
            .await
            .map_err(|e| self.list_err(e, "nodegroups"))
    }

    /// One NodeGroup; a clear error when it does not exist.
    pub async fn get_nodegroup(&self, name: &str) -> Result<NodeGroup, PluginError> {
        self.nodegroups().get(name).await.map_err(|e| {
            self.err(
                e,
                Op {
                    verb: "get",
                    resource: "nodegroups",
                },
                Some(name),
            )
        })
    }

    /// VPSieNodes, of one group when `group` is set (label `nodegroup`).
    pub async fn list_vpsienodes(
        &self,
        group: Option<&str>,
    ) -> Result<Vec<VPSieNode>, PluginError> {
        let mut lp = ListParams::default();
        if let Some(g) = group {
            lp = lp.labels(&format!(
                "{}={g}",
                vpsie_autoscaler::api::annotations::LABEL_NODEGROUP
            ));
        }
        self.vpsienodes_listed()
            .list(&lp)
            .await
            .map(|l| l.items)
            .map_err(|e| self.list_err(e, "vpsienodes"))
    }

    /// The status ConfigMap, `None` when absent.
    pub async fn status_configmap(&self) -> Result<Option<ConfigMap>, PluginError> {
        self.configmaps()
            .get_opt(STATUS_CONFIGMAP)
            .await
            .map_err(|e| {
                self.err(
                    e,
                    Op {
                        verb: "get",
                        resource: "configmaps",
                    },
                    Some(STATUS_CONFIGMAP),
                )
            })
    }

    /// The status report; [`PluginError::ControllerAbsent`] when not published.
    pub async fn report(&self) -> Result<StatusReport, PluginError> {
        match self.status_configmap().await? {
            None => Err(PluginError::ControllerAbsent {
                namespace: self.namespace.clone(),
            }),
            Some(cm) => parse_report(&self.namespace, &cm),
        }
    }
}

/// The report of a fetched ConfigMap, its problems as the plugin's errors. Pure.
pub fn parse_report(namespace: &str, cm: &ConfigMap) -> Result<StatusReport, PluginError> {
    ReportReader::parse(namespace, cm).map_err(|e| report_error(namespace, e))
}

/// A [`ReportError`] as the plugin's error.
pub fn report_error(namespace: &str, e: ReportError) -> PluginError {
    match e {
        ReportError::NotPublished { .. } => PluginError::ControllerAbsent {
            namespace: namespace.to_string(),
        },
        ReportError::Timeout(m) => PluginError::Timeout(m),
        ReportError::Api {
            op,
            source: kube::Error::Api(status),
            ..
        } if status.code == 403 => PluginError::Forbidden {
            // the report is read with get and a watch, changed with a patch (annotate, apply)
            verb: match op {
                "get" => "get",
                "watch" => "watch",
                _ => "patch",
            },
            resource: format!("configmaps/{STATUS_CONFIGMAP}"),
            namespace: namespace.to_string(),
            message: status.message.clone(),
        },
        ReportError::Api {
            op,
            source: kube::Error::Api(status),
            ..
        } => PluginError::Report(format!(
            "ConfigMap {namespace}/{STATUS_CONFIGMAP}: {op} failed: {} ({} {})",
            status.message, status.code, status.reason
        )),
        other => PluginError::Report(error_chain(&other)),
    }
}

/// Checks a NodeGroup name given on the command line: a DNS-1123 label (it becomes a label
/// value). Used as a clap value parser.
pub fn parse_group_name(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-');
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "invalid NodeGroup name {text:?}: a NodeGroup name is 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit; fix: pass the name as `kubectl get ng -n kube-system` lists it"
        ))
    }
}

/// Writes `text` to stdout and flushes; a closed pipe (`... | head`) ends the process quietly
/// instead of a panic.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to stdout: {e}");
        std::process::exit(1);
    }
}

/// `print!` through [`emit`].
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::commands::common::emit(&format!($($t)*)) };
}

/// `println!` through [`emit`].
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => { $crate::commands::common::emit(&(format!($($t)*) + "\n")) };
}

/// Whether stdout is a terminal.
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// Whether stdin and stderr are terminals (a prompt can be answered).
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Serializes `value` as JSON (pretty) or YAML; `None` for the table formats.
pub fn structured<T: Serialize>(
    format: OutputFormat,
    value: &T,
) -> Option<Result<String, PluginError>> {
    match format {
        OutputFormat::Json => Some(
            serde_json::to_string_pretty(value)
                .map(|mut s| {
                    s.push('\n');
                    s
                })
                .map_err(|e| PluginError::Api(format!("encoding JSON: {e}"))),
        ),
        OutputFormat::Yaml => Some(
            vpsie_autoscaler::yaml::to_string(value)
                .map_err(|e| PluginError::Api(format!("encoding YAML: {e}"))),
        ),
        OutputFormat::Table | OutputFormat::Wide => None,
    }
}

/// A duration like kubectl writes ages: `45s`, `12m`, `3h`, `5d`; `0s` for negative. Pure.
pub fn short_duration(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    if s < 120 {
        format!("{s}s")
    } else if s < 2 * 3600 {
        let (m, r) = (s / 60, s % 60);
        if m < 10 && r != 0 {
            format!("{m}m{r}s")
        } else {
            format!("{m}m")
        }
    } else if s < 48 * 3600 {
        let (h, m) = (s / 3600, (s % 3600) / 60);
        if h < 8 && m != 0 {
            format!("{h}h{m}m")
        } else {
            format!("{h}h")
        }
    } else {
        format!("{}d", s / 86400)
    }
}

/// `<age> ago`, or `-` when unknown. Pure.
pub fn ago(now: DateTime<Utc>, t: Option<DateTime<Utc>>) -> String {
    match t {
        Some(t) => format!("{} ago", short_duration(now - t)),
        None => "-".to_string(),
    }
}

/// The time to measure ages against: this machine's clock, or the newest time the cluster
/// wrote when that is later (a cluster clock ahead of ours, e.g. the simulator running faster
/// than real time), so ages are never negative. Pure.
pub fn reference_now(
    wall: DateTime<Utc>,
    seen: impl IntoIterator<Item = DateTime<Utc>>,
) -> DateTime<Utc> {
    seen.into_iter().fold(wall, DateTime::max)
}

/// Progress while waiting: an indicatif spinner on a terminal (stderr), one plain line
/// otherwise.
pub struct Spinner {
    bar: Option<indicatif::ProgressBar>,
}

impl Spinner {
    /// Starts showing `message`.
    pub fn start(message: String) -> Spinner {
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_message(message);
            bar.enable_steady_tick(std::time::Duration::from_millis(100));
            Spinner { bar: Some(bar) }
        } else {
            eprintln!("{message}");
            Spinner { bar: None }
        }
    }

    /// Stops and removes the spinner.
    pub fn stop(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}

/// Watches the object `name` of `api` until `pred` holds, for at most `within` (real time).
/// Watch errors are retried with backoff, but a 401 or 403 is returned at once (waiting cannot
/// mend it); `Ok(None)` on timeout.
pub async fn wait_for_object<K>(
    api: kube::Api<K>,
    name: &str,
    within: std::time::Duration,
    pred: impl Fn(&K) -> bool,
) -> Result<Option<K>, kube::Error>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    use futures::StreamExt;
    use kube::runtime::watcher::{self, Event};
    use kube::runtime::WatchStreamExt;
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let wait = async {
        let stream = watcher::watcher(api, config).default_backoff();
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::Apply(o)) | Ok(Event::InitApply(o)) if pred(&o) => return Ok(Some(o)),
                Ok(_) => {}
                Err(e) => match vpsie_reconciler::report::watch_refusal(&e) {
                    Some(status) => return Err(kube::Error::Api(Box::new(status.clone()))),
                    None => tracing::debug!(error = %e, "watch failed; retrying"),
                },
            }
        }
        Ok(None)
    };
    tokio::time::timeout(within, wait).await.unwrap_or(Ok(None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::response::StatusDetails;
    use kube::core::Status;

    fn api_error(code: u16, reason: &str, named: Option<&str>) -> kube::Error {
        let mut s = Status::failure("the server said no", reason).with_code(code);
        if let Some(n) = named {
            let details: StatusDetails = serde_json::from_value(
                serde_json::json!({"name": n, "kind": "nodegroups", "group": "autoscaler.vpsie.com"}),
            )
            .expect("details");
            s = s.with_details(details);
        }
        kube::Error::Api(s.boxed())
    }

    const NG_GET: Op = Op {
        verb: "get",
        resource: "nodegroups",
    };

    #[test]
    fn errors_are_one_line_with_the_fix() {
        let e = classify(
            api_error(404, "NotFound", Some("web")),
            NG_GET,
            Some("web"),
            "http://x",
            "kube-system",
        );
        assert_eq!(
            e.to_string(),
            "NodeGroup \"web\" not found in namespace kube-system: list them with `kubectl get ng -n kube-system`, or pass -n NAMESPACE"
        );
        let e = classify(
            api_error(404, "NotFound", None),
            NG_GET,
            Some("web"),
            "http://x",
            "kube-system",
        );
        assert!(
            matches!(
                e,
                PluginError::CrdsMissing {
                    resource: "nodegroups"
                }
            ),
            "{e}"
        );
        assert!(e
            .to_string()
            .contains("kubectl-vpsie crds | kubectl apply -f -"));
        let e = classify(
            api_error(403, "Forbidden", None),
            Op {
                verb: "list",
                resource: "vpsienodes",
            },
            None,
            "http://x",
            "kube-system",
        );
        let text = e.to_string();
        assert!(
            text.starts_with("forbidden: cannot list vpsienodes in namespace kube-system")
                && text.contains("kubectl auth can-i list vpsienodes -n kube-system"),
            "{text}"
        );
        let e = classify(
            api_error(500, "InternalError", None),
            NG_GET,
            None,
            "http://x",
            "ns",
        );
        assert!(e.to_string().contains("500 InternalError"), "{e}");
        for e in [
            classify(
                api_error(401, "Unauthorized", None),
                NG_GET,
                None,
                "http://x",
                "ns",
            ),
            e,
        ] {
            let text = e.to_string();
            assert!(!text.contains('\n') && !text.contains("Status {"), "{text}");
        }
    }

    #[test]
    fn group_names_are_checked() {
        assert_eq!(
            parse_group_name("production-workers").unwrap(),
            "production-workers"
        );
        for bad in ["", "Prod", "a_b", "-a", "a-", &"x".repeat(64)] {
            let e = parse_group_name(bad).unwrap_err();
            assert!(
                e.contains("invalid NodeGroup name") && e.contains("fix:"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn durations_read_like_kubectl() {
        let d = chrono::Duration::seconds;
        assert_eq!(short_duration(d(-5)), "0s");
        assert_eq!(short_duration(d(59)), "59s");
        assert_eq!(short_duration(d(150)), "2m30s");
        assert_eq!(short_duration(d(900)), "15m");
        assert_eq!(short_duration(d(3 * 3600 + 60 * 5)), "3h5m");
        assert_eq!(short_duration(d(20 * 3600)), "20h");
        assert_eq!(short_duration(d(3 * 86400)), "3d");
    }

    #[test]
    fn the_reference_time_never_goes_back() {
        let wall = DateTime::parse_from_rfc3339("2025-10-12T10:00:00Z")
            .unwrap()
            .to_utc();
        let ahead = wall + chrono::Duration::minutes(5);
        assert_eq!(
            reference_now(wall, [wall - chrono::Duration::hours(1)]),
            wall
        );
        assert_eq!(reference_now(wall, [ahead]), ahead);
    }
}
