//! A simulated Kubernetes API server: in-process, plain HTTP on 127.0.0.1, faithful where
//! kubectl 1.32 and kube-rs depend on the semantics.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vpsie_autoscaler::sim::apiserver::ApiServerError> {
//! use vpsie_autoscaler::sim::apiserver::{ApiServerConfig, SimApiServer};
//! let server = SimApiServer::start(ApiServerConfig::default()).await?;
//! let client = server.client()?; // a kube::Client for it
//! server.write_kubeconfig("/tmp/kubeconfig", "sim")?; // for kubectl --kubeconfig
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! In-process (simulated kubelets, scheduler, controllers): [`SimApiServer::store`] gives the
//! [`Store`] behind the HTTP handlers, so resourceVersions and watch events stay coherent:
//! `store.create(&Gvr::core("pods"), Some("default"), json, &WriteOptions::default())`,
//! `store.patch(&gvr, ns, name, PatchKind::Merge, body, Some("status"), &opts)`,
//! `store.watch(&gvr, None, &WatchOptions::default())?.next().await`.
//!
//! [`SimApiServer::client`] has kube-rs' automatic 429/503 retries off; dropping the last
//! [`SimApiServer`] handle stops the server.
//!
//! Tests: `cargo test -p vpsie-autoscaler --lib apiserver` (unit) and `--test sim_apiserver`
//! (kube-rs), `--test sim_apiserver_kubectl` (real `/usr/bin/kubectl`), `--test
//! sim_apiserver_store` (in-process), `--test sim_apiserver_scale` (30,000 pods).
//!
//! # What is served (kept true)
//! - Discovery: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/<g>`, `/apis/<g>/<v>` (legacy
//!   JSON; kubectl falls back from aggregated discovery), subresources as separate entries.
//! - OpenAPI v3 (`/openapi/v3`, `/openapi/v3/api/v1`, `/openapi/v3/apis/<g>/<v>`): paths with
//!   `x-kubernetes-group-version-kind` and the `fieldValidation` parameter (so kubectl leaves
//!   validation to the server), CRD schemas under `components.schemas`. No `/openapi/v2`.
//! - Builtin resources: namespaces, nodes, pods (+`binding`, `eviction`), events, secrets,
//!   configmaps, services, serviceaccounts, leases, events.k8s.io events (stored as core events
//!   and converted, so kube-rs `Recorder` events show in `kubectl describe`),
//!   poddisruptionbudgets, deployments, replicasets, daemonsets (stored only) and
//!   customresourcedefinitions. Creating a CRD serves its resources at once (status Established);
//!   a CRD whose CEL rules do not compile is refused; deleting it removes its objects.
//!   `selfsubjectaccessreviews` and `selfsubjectrulesreviews` answer for the admin and by RBAC
//!   for other identities, and `selfsubjectreviews` name the identity, so `kubectl auth can-i`
//!   (with `--list`, and with `--as` to ask for another identity) and `kubectl auth whoami`
//!   work. Roles, ClusterRoles, RoleBindings and ClusterRoleBindings are served and stored.
//! - Authentication and RBAC ([`rbac`]): a request without credentials is the unrestricted
//!   admin (the kubeconfigs written here carry none); a bearer token from
//!   [`SimApiServer::issue_token`] (or [`SimApiServer::service_account_client`]) is its
//!   identity, authorized against the stored RBAC objects, with the real 403 message; an
//!   unknown token is 401. [`SimApiServer::denials`] is the audit log of refusals.
//! - Verbs: get, list (label selectors; field selectors for metadata.name/namespace, a per-kind
//!   allow-list, CRD `selectableFields`; `limit`/`continue`), watch (resourceVersion replay from a
//!   bounded window, 410 `Expired` ERROR event when too old or when a watcher lags, bookmarks,
//!   `timeoutSeconds`), create (generateName, uid, timestamps, generation), update (409 on a
//!   stale resourceVersion), patch (merge, JSON patch with `test`, strategic merge for builtins,
//!   415 for custom resources, server-side apply that creates, is idempotent and is field-manager
//!   aware for removals),
//!   delete (finalizers + deletionTimestamp, ownerReference cascade Background/Foreground/Orphan,
//!   CRD objects; a namespace turns Terminating, refuses new content with 403 and goes once its
//!   content is gone), deletecollection, `dryRun=All`. New pods get the real defaults
//!   (scheduler, policies, grace period, tolerations, QoS class).
//! - Status subresource: spec changes bump generation; status writes through the main resource
//!   are ignored, and non-status changes through `/status` are ignored.
//! - Tables for `kubectl get` (builtin columns, CRD additionalPrinterColumns, watch tables);
//!   `PartialObjectMetadata` answers for metadata-only clients (kube-rs metadata watchers).
//! - Pods: `binding` (409 when bound), `eviction` (429 when a PodDisruptionBudget allows no
//!   disruption, else delete + budget status), optional graceful deletion of bound pods
//!   ([`StoreConfig::graceful_pod_deletion`]). `kubectl cordon`/`drain`/`uncordon` work.
//! - Storage: one serialized JSON per object plus its parsed metadata and selectable-field
//!   values; lists and watches copy bytes (30,000 pods list in well under a second).
//! - CRD schemas: defaulting, pruning (strict field validation answers 400), type/enum/min/max/
//!   length/items/required checks and `x-kubernetes-validations` CEL (kube-cel), as 422 Invalid
//!   whose causes name the fields.
//!
//! - Fault injection ([`faults`]): 409 Conflict on writes, 503 ServiceUnavailable for a window
//!   (everyone, or all but the admin), 410 Expired for resumed watches, cutting every open
//!   watch; seeded, set in-process ([`SimApiServer::add_fault`], [`SimApiServer::cut_watches`])
//!   or over `/admin/faults` and `/admin/watches/cut` (admin identity only).
//!
//! # Not done
//! - Server-side apply is simplified: the applied configuration merges into the live object
//!   (maps recurse, `conditions`/`containers`... merge by key, other lists are replaced); each
//!   field manager's last applied configuration is remembered, so fields and keyed items it no
//!   longer applies are removed unless another manager applies them. No `managedFields` in
//!   objects and no apply conflicts (`force` is accepted and ignored).
//! - Protobuf request bodies only for ConfigMap, Secret, Namespace, ServiceAccount and
//!   SelfSubjectAccessReview (what `kubectl create namespace|configmap|secret|serviceaccount`
//!   and `kubectl auth can-i` send); other kinds answer 415
//!   (e.g. `kubectl create deployment`). Answers are always JSON. No aggregated discovery, no
//!   `/openapi/v2`, no admission webhooks, no scale subresource. RBAC without aggregated
//!   ClusterRoles, nonResourceURLs rules, impersonation or escalation checks.
//! - Pod deletion is immediate unless the pod has finalizers or graceful pod deletion is on.
//! - List `resourceVersion`/`resourceVersionMatch` are ignored (lists are always current);
//!   `continue` pages read live data (keyed by name). Streaming lists (`sendInitialEvents=true`)
//!   are served: current objects as ADDED, then an `initial-events-end` bookmark.
//! - No conversion between CRD versions (objects are served with the requested apiVersion).
//! - Watch timeouts and bookmarks follow real time, not the simulated clock; timestamps follow
//!   the clock.

pub mod convert;
pub mod discovery;
pub mod error;
pub mod faults;
mod http;
pub mod object;
pub mod patch;
pub mod protobuf;
pub mod rbac;
pub mod registry;
pub mod schema;
pub mod selectors;
pub mod store;
pub mod table;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use error::{ApiServerError, FieldCause, StatusError};
pub use patch::PatchKind;
pub use store::{
    DeleteOptions, DeleteOutcome, EventType, Gvr, ListOptions, ObjectList, Propagation, Store,
    StoreConfig, Watch, WatchOptions, WriteOptions,
};

use crate::clock::{self, SharedClock};

/// How to start the server.
#[derive(Debug, Clone)]
pub struct ApiServerConfig {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Clock for creation/deletion timestamps and table ages.
    pub clock: SharedClock,
    /// Store sizing (watch window).
    pub store: StoreConfig,
    /// How often a watch asked for bookmarks gets one (real time).
    pub bookmark_interval: Duration,
    /// Seed of the fault rules' RNG ([`faults`]).
    pub fault_seed: u64,
}

impl Default for ApiServerConfig {
    fn default() -> Self {
        Self {
            port: 0,
            clock: clock::system(),
            store: StoreConfig::default(),
            bookmark_interval: Duration::from_secs(1),
            fault_seed: 0,
        }
    }
}

struct Inner {
    addr: SocketAddr,
    store: Arc<Store>,
    tokens: rbac::Tokens,
    denials: rbac::Denials,
    state: http::AppState,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle is gone: stop serving (open watches end).
        let _ = self.shutdown.send(true);
    }
}

/// A running simulated API server. Clones share it; dropping the last clone stops it.
#[derive(Clone)]
pub struct SimApiServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SimApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimApiServer")
            .field("url", &self.url())
            .finish()
    }
}

impl SimApiServer {
    /// Binds 127.0.0.1 (`config.port`, 0 = any), seeds the builtin namespaces and serves.
    pub async fn start(config: ApiServerConfig) -> Result<Self, ApiServerError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| ApiServerError::Bind {
                port: config.port,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ApiServerError::Bind {
                port: config.port,
                source,
            })?;
        let store = Arc::new(Store::new(config.clock.clone(), config.store.clone()));
        store.seed()?;
        let (shutdown, rx) = tokio::sync::watch::channel(false);
        let tokens = rbac::Tokens::default();
        let denials = rbac::Denials::default();
        let state = http::AppState {
            store: store.clone(),
            address: addr.to_string(),
            bookmark_interval: config.bookmark_interval,
            shutdown: rx.clone(),
            tokens: tokens.clone(),
            denials: denials.clone(),
            faults: Arc::new(Mutex::new(faults::FaultState::new(config.fault_seed))),
            cut_watches: Arc::new(tokio::sync::watch::channel(0).0),
            open_watches: Arc::default(),
        };
        let app = http::router(state.clone());
        let mut stop = rx;
        // No Nagle delay: watch events are small writes that must reach clients at once.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "simulated API server stopped with an error");
            }
        });
        Ok(Self {
            inner: Arc::new(Inner {
                addr,
                store,
                tokens,
                denials,
                state,
                shutdown,
                task: Mutex::new(Some(task)),
            }),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The socket address served.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// A kubeconfig whose current context `context` points at this server (namespace `default`).
    pub fn kubeconfig_yaml(&self, context: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {context}\n  cluster:\n    server: {url}\ncontexts:\n- name: {context}\n  context:\n    cluster: {context}\n    user: {context}\n    namespace: default\ncurrent-context: {context}\nusers:\n- name: {context}\n  user: {{}}\npreferences: {{}}\n",
            url = self.url()
        )
    }

    /// Writes [`Self::kubeconfig_yaml`] to `path`.
    pub fn write_kubeconfig(
        &self,
        path: impl AsRef<Path>,
        context: &str,
    ) -> Result<(), ApiServerError> {
        let path = path.as_ref();
        std::fs::write(path, self.kubeconfig_yaml(context)).map_err(|source| {
            ApiServerError::WriteKubeconfig {
                path: path.display().to_string(),
                source,
            }
        })
    }

    /// A kube client pointed at this server. Its automatic retry of 429/503/504 answers is off
    /// (kube-rs would otherwise back off for minutes on a PDB-blocked eviction): callers see
    /// `TooManyRequests` at once and decide themselves.
    pub fn client(&self) -> Result<kube::Client, ApiServerError> {
        let url = self.url();
        let uri: axum::http::Uri =
            url.parse()
                .map_err(|e: axum::http::uri::InvalidUri| ApiServerError::Client {
                    url: url.clone(),
                    message: e.to_string(),
                })?;
        let mut config = kube::Config::new(uri);
        config.default_retry = false;
        kube::Client::try_from(config).map_err(|e| ApiServerError::Client {
            url,
            message: e.to_string(),
        })
    }

    /// A bearer token for `identity` (the same one each time); requests carrying it are
    /// authorized by RBAC (see [`rbac`]).
    pub fn issue_token(&self, identity: &rbac::Identity) -> String {
        self.inner.tokens.issue(identity)
    }

    /// The requests RBAC refused, oldest first (the newest 1,000), as an audit log has them.
    pub fn denials(&self) -> Vec<rbac::Denial> {
        self.inner.denials.all()
    }

    /// Like [`Self::client`], authenticating with `token` (so RBAC applies to its requests).
    pub fn client_with_token(&self, token: &str) -> Result<kube::Client, ApiServerError> {
        let url = self.url();
        let uri: axum::http::Uri =
            url.parse()
                .map_err(|e: axum::http::uri::InvalidUri| ApiServerError::Client {
                    url: url.clone(),
                    message: e.to_string(),
                })?;
        let mut config = kube::Config::new(uri);
        config.default_retry = false;
        config.auth_info.token = Some(token.to_string().into());
        kube::Client::try_from(config).map_err(|e| ApiServerError::Client {
            url,
            message: e.to_string(),
        })
    }

    /// A kube client acting as the service account `namespace/name`: every request is
    /// authorized against the RBAC objects in the server.
    pub fn service_account_client(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<kube::Client, ApiServerError> {
        self.client_with_token(&self.issue_token(&rbac::Identity::service_account(namespace, name)))
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, faults::FaultState> {
        self.inner
            .state
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a fault rule ([`faults`]); a bad rule is refused naming the field.
    pub fn add_fault(&self, rule: faults::KubeFaultRule) -> Result<(), StatusError> {
        self.faults().add(rule)
    }

    /// Adds a fault rule that lasts `window` of the server's clock from now.
    pub fn add_fault_for(
        &self,
        rule: faults::KubeFaultRule,
        window: Duration,
    ) -> Result<(), StatusError> {
        let end = self.inner.store.clock().now()
            + chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        self.faults().add(rule.until(end))
    }

    /// Removes the first rule equal to `rule`; whether there was one.
    pub fn remove_fault(&self, rule: &faults::KubeFaultRule) -> bool {
        self.faults().remove(rule)
    }

    /// Removes every fault rule; how many there were.
    pub fn clear_faults(&self) -> usize {
        self.faults().clear()
    }

    /// The fault rules still in force.
    pub fn fault_rules(&self) -> Vec<faults::KubeFaultRule> {
        let now = self.inner.store.clock().now();
        self.faults().rules(now)
    }

    /// How often each fault fired (`conflict`, `unavailable`, `expire_watch`, `watches_cut`).
    pub fn faults_fired(&self) -> std::collections::BTreeMap<String, u64> {
        self.faults().fired()
    }

    /// Re-seeds the fault RNG.
    pub fn seed_faults(&self, seed: u64) {
        self.faults().reseed(seed)
    }

    /// Ends every open watch stream (clients re-watch from their last resourceVersion); how
    /// many were open.
    pub fn cut_watches(&self) -> usize {
        http::cut_watches(&self.inner.state)
    }

    /// How many watch streams are open.
    pub fn open_watches(&self) -> usize {
        self.inner
            .state
            .open_watches
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Direct access to the store (same code paths as HTTP, so watches stay coherent).
    pub fn store(&self) -> Arc<Store> {
        self.inner.store.clone()
    }

    /// Stops serving: open watches end, the listener closes.
    pub async fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Polls `cond` (an in-process observation) every 10 ms for up to 10 s.
#[cfg(test)]
pub(crate) async fn tests_support_wait(mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "condition not met in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
