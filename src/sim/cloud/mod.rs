//! The simulated VPSie cloud: an HTTP server on loopback that speaks the VPSie API's shapes,
//! keeps state (accounts, tokens, VMs, a catalogue) and misbehaves on demand.
//!
//! Start it with [`SimCloud::start`]; point a client at [`SimCloud::base_url`]
//! (`http://127.0.0.1:PORT/v2`, like `https://api.vpsie.com/v2`) and log in with
//! [`SimCloud::credentials`]. Time comes from the configured [`SharedClock`]: with a
//! [`ManualClock`](crate::clock::ManualClock) a test moves time to expire tokens and finish boots.
//!
//! # API (under `/v2`, JSON)
//! - `POST /auth/from/api` (form `clientId`, `clientSecret`) -> `{"error": false, "code": 200,
//!   "message", "accessToken": {"token", "expires"}, "refreshToken": {...}}`; bad credentials ->
//!   401 `{"error": true, "code": 401, "message": "Invalid client credentials"}`.
//! - `GET /health` (no token needed: it is the runbook's connectivity probe).
//! - `GET /vm?page=&per_page=`, `POST /vm`, `GET /vm/{id}`, `DELETE /vm/{id}`,
//!   `POST /vm/{id}/action` (`{"action": "start|stop|restart"}`), `GET /offerings`
//!   (optional `?datacenter_id=`), `GET /offerings/{id}`, `GET /datacenters`, `GET /images`.
//!   Lists use `{"data": [...], "pagination": {"total", "count", "per_page", "current_page",
//!   "total_pages"}}` (default `per_page` 25, clamped to 100).
//! - Everything but login and health needs `Authorization: Bearer <token>`; errors are
//!   `{"error": "<class>", "message", "code"}`. Every answer carries `X-Request-ID`.
//!
//! Managed Kubernetes (the original autoscaler's production path), same envelope
//! `{"error", "code", "message", "data"}` for answers and errors: `GET /k8s/cluster/all`,
//! `GET /k8s/cluster/byId/{cluster}`, `POST /k8s/offers` (`{"dcIdentifier"}`; offer `id` is the
//! numeric box-size id), `GET /k8s/node/groups/byClusterId/{cluster}`,
//! `POST /k8s/cluster/add/group` (`{"clusterIdentifier", "groupName", "KubeSizeID"}`),
//! `POST /k8s/cluster/byId/{cluster}/add/slave/group/{groupId}` (no body; `data` is
//! `{id, identifier, status, hostname}`), `DELETE /k8s/cluster/byId/{cluster}/delete/slave`
//! (`{"identifier"}`; 404 when unknown). Nodes are VMs (tagged `k8s-cluster:<id>`,
//! `k8s-group:<name>`) and share the boot lifecycle, quota and history. The default config
//! has one cluster, [`DEFAULT_K8S_CLUSTER`] (`sim-cluster` in `dc-us-east-1`).
//!
//! A new VM is `creating` until the boot time has passed on the clock, then `running` (or
//! `failed` when a boot failure was injected). Deleted VMs disappear from the API but stay in
//! [`SimCloud::vm_history`].
//!
//! # Admin API (under `/admin`, no auth: the sim only binds loopback)
//! - `GET /admin/state`: live VMs, the full VM history, accounts (ids only), fault rules, quota,
//!   boot settings, per-operation counters.
//! - `GET /admin/requests`: the request log (`{"data": [RequestRecord...]}`).
//! - `GET /admin/faults`; `POST /admin/faults` with a [`FaultRule`] as JSON, e.g.
//!   `{"matcher": {"operation": "CreateVM"}, "count": 1, "probability": 0.5,
//!   "action": {"type": "status", "code": 503, "message": "down"}}` (action types: `status`,
//!   `rate_limited` + `retry_after_secs`, `latency` + `ms`, `lose_response`, `expire_tokens`);
//!   `DELETE /admin/faults` removes them all.
//! - `POST /admin/tokens/expire`: expire every issued access token.
//! - `GET /admin/accounts`; `POST /admin/accounts` `{"client_id", "client_secret"}` adds or
//!   rotates one; `DELETE /admin/accounts/{id}` revokes one.
//! - `POST /admin/boot` `{"boot_time_secs"?, "fail_next"?}`; `POST /admin/vms/{id}/boot`
//!   `{"boot_time_secs"?, "fail"?}`; `POST /admin/quota` `{"max_vms"}`.

mod admin;
mod api;
pub mod catalogue;
pub mod config;
mod error;
pub mod faults;
pub mod k8s;
mod layer;
pub mod log;
pub mod ops;
mod state;
pub mod vm;
pub mod wire;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::Method;
use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SharedClock;

pub use api::BASE_PATH;
pub use catalogue::{Catalogue, CatalogueError, Datacenter, Offering, OsImage};
pub use config::{
    Credentials, K8sClusterSpec, SimCloudConfig, StaticToken, DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET, DEFAULT_K8S_CLUSTER,
};
pub use error::SimCloudError;
pub use faults::{FaultAction, FaultMatcher, FaultRule};
pub use log::RequestRecord;
pub use ops::Operation;
pub use state::{AccountInfo, FIRST_VM_ID};
pub use vm::{VmRecord, VmStatus};

use state::State;

/// What the server tasks and the handle share.
pub(crate) struct Shared {
    pub(crate) clock: SharedClock,
    state: Mutex<State>,
    changes: watch::Sender<u64>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Signals a state change to subscribers.
    pub(crate) fn bump(&self) {
        self.changes.send_modify(|v| *v += 1);
    }

    /// Brings observed VM statuses up to the clock, signalling if any changed.
    pub(crate) fn observe(&self) {
        let now = self.clock.now();
        let changed = self.lock().observe(now);
        if changed {
            self.bump();
        }
    }
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    credentials: Credentials,
    stop: watch::Sender<bool>,
    server: Mutex<Option<JoinHandle<()>>>,
    observer: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.observer.abort();
    }
}

/// A handle on a running simulated cloud. Clones share the same server; it stops on
/// [`SimCloud::shutdown`] or when the last handle is dropped.
#[derive(Clone)]
pub struct SimCloud {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SimCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCloud")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

fn check_config(config: &SimCloudConfig) -> Result<(), SimCloudError> {
    if !config.bind.ip().is_loopback() {
        return Err(SimCloudError::NotLoopback(config.bind));
    }
    if config.accounts.is_empty() {
        return Err(SimCloudError::InvalidConfig {
            field: "accounts",
            value: "[]".into(),
            fix: "give at least one account (the first is the default account)",
        });
    }
    if let Some(a) = config
        .accounts
        .iter()
        .find(|a| a.client_id.trim().is_empty() || a.client_secret.is_empty())
    {
        return Err(SimCloudError::InvalidConfig {
            field: "accounts",
            value: format!("client_id {:?}", a.client_id),
            fix: "give every account a non-empty client id and secret",
        });
    }
    if config.token_ttl.is_zero() {
        return Err(SimCloudError::InvalidConfig {
            field: "token_ttl",
            value: "0s".into(),
            fix: "give a positive token lifetime",
        });
    }
    Ok(())
}

fn check_clusters(clusters: &[K8sClusterSpec], catalogue: &Catalogue) -> Result<(), SimCloudError> {
    let mut seen = std::collections::HashSet::new();
    for c in clusters {
        if c.identifier.trim().is_empty() || !seen.insert(c.identifier.as_str()) {
            return Err(SimCloudError::InvalidConfig {
                field: "k8s_clusters.identifier",
                value: format!("{:?}", c.identifier),
                fix: "give every cluster a unique, non-empty identifier",
            });
        }
        if catalogue.datacenter(&c.datacenter_id).is_none() {
            return Err(SimCloudError::InvalidConfig {
                field: "k8s_clusters.datacenter_id",
                value: format!("{:?}", c.datacenter_id),
                fix: "use a datacenter id of the catalogue",
            });
        }
    }
    Ok(())
}

impl SimCloud {
    /// Validates `config`, binds its address and starts serving.
    pub async fn start(config: SimCloudConfig) -> Result<SimCloud, SimCloudError> {
        check_config(&config)?;
        let catalogue = config.catalogue.clone().validated()?;
        check_clusters(&config.k8s_clusters, &catalogue)?;
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| SimCloudError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimCloudError::Bind {
                addr: config.bind,
                source,
            })?;
        let (changes, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            clock: config.clock.clone(),
            state: Mutex::new(State::new(&config, catalogue)),
            changes,
        });
        let app = Router::new()
            .nest(BASE_PATH, api::router(shared.clone()))
            .nest("/admin", admin::router(shared.clone()))
            .fallback(|method: Method, uri: axum::http::Uri| async move {
                wire::ApiError::not_found(format!(
                    "No such endpoint: {method} {}: the API is under {BASE_PATH}, the admin API under /admin",
                    uri.path()
                ))
            });
        let (stop, mut stop_rx) = watch::channel(false);
        let mut stop_server = stop_rx.clone();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stop_server.wait_for(|s| *s).await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "sim cloud server stopped with an error");
            }
        });
        let observer_shared = shared.clone();
        let observer = tokio::spawn(async move {
            loop {
                let wait = observer_wait(&observer_shared);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => observer_shared.observe(),
                    _ = stop_rx.wait_for(|s| *s) => break,
                }
            }
        });
        let credentials = config.accounts[0].clone();
        Ok(SimCloud {
            inner: Arc::new(Inner {
                shared,
                addr,
                credentials,
                stop,
                server: Mutex::new(Some(server)),
                observer,
            }),
        })
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The API base URL, `http://127.0.0.1:PORT/v2`.
    pub fn base_url(&self) -> String {
        format!("http://{}{BASE_PATH}", self.inner.addr)
    }

    /// The admin API URL, `http://127.0.0.1:PORT/admin`.
    pub fn admin_url(&self) -> String {
        format!("http://{}/admin", self.inner.addr)
    }

    /// The default account's credentials (the first configured account).
    pub fn credentials(&self) -> Credentials {
        self.inner.credentials.clone()
    }

    /// The sim's clock.
    pub fn clock(&self) -> SharedClock {
        self.shared().clock.clone()
    }

    /// Live VMs with their current status, by id.
    pub fn vms(&self) -> Vec<VmRecord> {
        self.shared().observe();
        self.shared().lock().live_vms()
    }

    /// One live VM with its current status.
    pub fn vm(&self, id: u64) -> Option<VmRecord> {
        self.shared().observe();
        self.shared().lock().live_vm(id).cloned()
    }

    /// Every VM ever created, deleted ones included (status `deleted`), by id.
    pub fn vm_history(&self) -> Vec<VmRecord> {
        self.shared().observe();
        self.shared().lock().history()
    }

    /// The cloud-init user data a live VM was created with (may hold join tokens: only for the
    /// simulated kubelet, never logged).
    pub fn vm_user_data(&self, id: u64) -> Option<String> {
        self.shared().lock().user_data(id)
    }

    /// The request log, oldest first (at most [`log::LOG_CAPACITY`] records).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared().lock().log.records()
    }

    /// How many requests were handled in all (the last request log sequence number).
    pub fn request_total(&self) -> u64 {
        self.shared().lock().log.total()
    }

    /// How many requests of `op` were handled (exact, even past the log's capacity).
    pub fn count(&self, op: Operation) -> u64 {
        self.shared().lock().log.count(op)
    }

    /// Adds a fault rule (after the existing ones).
    pub fn add_fault(&self, rule: FaultRule) -> Result<(), SimCloudError> {
        rule.validate()?;
        self.shared().lock().faults.push(rule);
        Ok(())
    }

    /// The fault rules still active, with their remaining counts.
    pub fn faults(&self) -> Vec<FaultRule> {
        self.shared().lock().faults.clone()
    }

    /// Removes the first rule equal to `rule`; whether there was one.
    pub fn remove_fault(&self, rule: &FaultRule) -> bool {
        let mut state = self.shared().lock();
        match state.faults.iter().position(|r| r == rule) {
            Some(i) => {
                state.faults.remove(i);
                true
            }
            None => false,
        }
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared().lock().faults.clear();
    }

    /// Expires every issued access token now (static tokens keep working).
    pub fn expire_all_tokens(&self) {
        let now = self.shared().clock.now();
        self.shared().lock().expire_tokens(now);
    }

    /// Adds an account, or rotates the secret of an existing one (and un-revokes it).
    pub fn add_account(&self, client_id: &str, client_secret: &str) -> Result<(), SimCloudError> {
        if client_id.trim().is_empty() || client_secret.is_empty() {
            return Err(SimCloudError::InvalidConfig {
                field: "client_id/client_secret",
                value: format!("client_id {client_id:?}"),
                fix: "give a non-empty client id and secret",
            });
        }
        self.shared().lock().add_account(client_id, client_secret);
        Ok(())
    }

    /// Revokes an account: logins fail and its tokens get 401.
    pub fn revoke_account(&self, client_id: &str) -> Result<(), SimCloudError> {
        if self.shared().lock().revoke_account(client_id) {
            Ok(())
        } else {
            Err(SimCloudError::UnknownAccount(client_id.to_owned()))
        }
    }

    /// Adds a static API token acting as `principal`.
    pub fn add_static_token(&self, token: &str, principal: &str) {
        self.shared().lock().add_static_token(token, principal);
    }

    /// The accounts (ids and revocation, never secrets).
    pub fn accounts(&self) -> Vec<AccountInfo> {
        self.shared().lock().accounts()
    }

    /// Sets the boot time of VMs created from now on.
    pub fn set_boot_time(&self, boot_time: Duration) {
        self.shared().lock().boot_time = boot_time;
    }

    /// Makes one live VM finish booting `boot_time` after its creation.
    pub fn set_vm_boot_time(&self, id: u64, boot_time: Duration) -> Result<(), SimCloudError> {
        let found = self.shared().lock().set_vm_boot(id, Some(boot_time), None);
        self.shared().observe();
        found.then_some(()).ok_or(SimCloudError::UnknownVm(id))
    }

    /// Makes the boot of one live VM fail (it ends `failed` once its boot time has passed).
    pub fn fail_vm_boot(&self, id: u64) -> Result<(), SimCloudError> {
        let found = self.shared().lock().set_vm_boot(id, None, Some(true));
        self.shared().observe();
        found.then_some(()).ok_or(SimCloudError::UnknownVm(id))
    }

    /// Creates a VM in-process, as `POST /vm` would for `principal` (tests and the campaign
    /// use it to put a VPS behind the autoscaler's back).
    pub fn create_vm(
        &self,
        req: vm::CreateVm,
        principal: Option<String>,
    ) -> Result<VmRecord, SimCloudError> {
        let now = self.clock().now();
        let made = self.shared().lock().create_vm(req, principal, now);
        self.shared().observe();
        made.map_err(|e| SimCloudError::Refused {
            status: e.status,
            message: e.message,
        })
    }

    /// Makes the boots of the next `n` created VMs fail.
    pub fn fail_next_boots(&self, n: u32) {
        self.shared().lock().fail_next_boots = n;
    }

    /// Sets the maximum number of live VMs.
    pub fn set_quota(&self, max_vms: usize) {
        self.shared().lock().max_vms = max_vms;
    }

    /// A receiver whose value is bumped on every VM change (created, deleted, booted, failed,
    /// powered on/off).
    ///
    /// Do not call this handle's methods inside the closure of
    /// [`watch::Receiver::wait_for`] or while holding a [`watch::Receiver::borrow`]: they may
    /// signal a change, which waits for that borrow to end. Await `changed()` and then read.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared().changes.subscribe()
    }

    /// Brings VM statuses up to the clock now (the sim also does this on its own within 100 ms
    /// of real time, and on every request); useful right after moving a manual clock.
    pub fn refresh(&self) {
        self.shared().observe();
    }

    /// The managed-Kubernetes node groups created so far.
    pub fn k8s_node_groups(&self) -> Vec<k8s::K8sNodeGroup> {
        self.shared().lock().k8s.groups()
    }

    /// Stops serving and waits (at most 5 s) for the server to finish.
    pub async fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
        let server = self
            .inner
            .server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut server) = server {
            if tokio::time::timeout(Duration::from_secs(5), &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
    }
}

/// How long the observer sleeps: until the next pending boot in real time, between 5 and 100 ms.
fn observer_wait(shared: &Shared) -> Duration {
    let now = shared.clock.now();
    let next = shared.lock().next_boot(now);
    let until = next
        .and_then(|t| (t - now).to_std().ok())
        .map(|d| shared.clock.real_duration(d))
        .unwrap_or(Duration::from_millis(100));
    until.clamp(Duration::from_millis(5), Duration::from_millis(100))
}
