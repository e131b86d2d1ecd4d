//! [`VpsieClient`]: the VPSie API client.
//!
//! Every call goes through, in order: the access token (a login when needed, itself a call),
//! the circuit breaker, the rate limiter (client-side bucket and server-imposed pauses), the
//! HTTP exchange (30 s timeout, 10 MiB body cap), the decoder, the metrics, and the retry
//! policy. `create_vm` is never blindly retried (see [`VpsieClient::create_vm`]).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::breaker::{Admission, BreakerConfig, BreakerSnapshot, CircuitBreaker, Outcome};
use super::credentials::{BaseUrl, Credentials, SecretString, VpsieSecret, DEFAULT_SECRET_REF};
use super::decode::{self, ErrorContext, LoginToken, Reply, MAX_BODY_BYTES};
use super::error::{CloudError, ErrorClass};
use super::metrics::CloudMetrics;
use super::op::Operation;
use super::ratelimit::{RateLimitConfig, RateLimitSnapshot, RateLimiter};
use super::retry::{RetryDecision, RetryPolicy};
use super::token::{Bearer, TokenCache};
use super::types::{CreateVpsRequest, Datacenter, ListResponse, Offering, OsImage, Vps};
use crate::clock::{self, SharedClock};

/// The most pages `list_vms` follows before deciding the pagination is broken.
const MAX_PAGES: u32 = 10_000;

/// Settings of the client. Holds no secret.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// API base URL (default `https://api.vpsie.com/v2`).
    pub base_url: BaseUrl,
    /// HTTP timeout of one exchange (default 30 s).
    pub timeout: Duration,
    /// User-Agent (default `kubectl-vpsie/<version>`).
    pub user_agent: String,
    /// Client-side rate limit.
    pub rate_limit: RateLimitConfig,
    /// Retries.
    pub retry: RetryPolicy,
    /// Circuit breaker.
    pub breaker: BreakerConfig,
    /// The Secret the credentials come from, `namespace/name`, named in 401 messages.
    pub secret_ref: String,
    /// Page size of `GET /vm` (default 100).
    pub page_size: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: BaseUrl::default(),
            timeout: Duration::from_secs(30),
            user_agent: format!("kubectl-vpsie/{}", env!("CARGO_PKG_VERSION")),
            rate_limit: RateLimitConfig::default(),
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
            secret_ref: DEFAULT_SECRET_REF.to_string(),
            page_size: 100,
        }
    }
}

/// The result of [`VpsieClient::check_credentials`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialCheck {
    /// `client-credentials` or `static-token`.
    pub kind: String,
    /// [`Credentials::fingerprint`].
    pub fingerprint: String,
    /// The base URL checked against.
    pub base_url: String,
    /// The new access token's expiry, when the login gave one.
    pub token_expires: Option<DateTime<Utc>>,
}

struct Inner {
    config: ClientConfig,
    http: reqwest::Client,
    clock: SharedClock,
    metrics: CloudMetrics,
    creds: Mutex<TokenCache>,
    login_lock: tokio::sync::Mutex<()>,
    breaker: Mutex<CircuitBreaker>,
    limiter: Mutex<RateLimiter>,
}

/// The VPSie API client. Cheap to clone (an `Arc` inside); `Debug` shows no secret.
#[derive(Clone)]
pub struct VpsieClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for VpsieClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let creds = lock(&self.inner.creds);
        f.debug_struct("VpsieClient")
            .field("base_url", &self.inner.config.base_url.as_str())
            .field("credentials", creds.credentials())
            .field("has_token", &creds.has_token())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What one request sends.
pub(super) struct RequestSpec {
    pub(super) method: Method,
    pub(super) path: String,
    pub(super) body: Option<Body>,
    pub(super) auth: bool,
}

pub(super) enum Body {
    Json(Vec<u8>),
    Login,
}

/// Gives a half-open probe back when a call is cancelled before its outcome is recorded.
struct ProbeGuard<'a> {
    inner: &'a Inner,
    admission: Admission,
    armed: bool,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            lock(&self.inner.breaker).abandon(self.admission);
        }
    }
}

/// Counts a caller waiting for the limiter, also when the wait is cancelled.
struct WaitGuard<'a>(&'a Inner);

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        lock(&self.0.limiter).end_wait();
    }
}

/// Percent-encodes one path segment.
pub(super) fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The message of a transport error, with its causes (never a header: reqwest errors carry the
/// URL only).
fn transport_detail(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {}s (timeout)", timeout.as_secs_f64());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    let mut depth = 0;
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
        depth += 1;
        if depth > 5 {
            break;
        }
    }
    if e.is_connect() {
        format!("connection failed ({text})")
    } else {
        text
    }
}

impl VpsieClient {
    /// A client for `config.base_url` with `credentials`.
    pub fn new(
        config: ClientConfig,
        credentials: Credentials,
        clock: SharedClock,
        metrics: CloudMetrics,
    ) -> Result<Self, CloudError> {
        if config.timeout.is_zero() {
            return Err(CloudError::Config(
                "ClientConfig.timeout is 0s; set a positive HTTP timeout (default 30s)".to_string(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            .build()
            .map_err(|e| {
                CloudError::Config(format!(
                    "cannot build the HTTP client ({e}); check the TLS setup of this build"
                ))
            })?;
        let now = clock.now();
        metrics.set_breaker_state(super::breaker::BreakerState::Closed);
        metrics.set_rate_limit_tokens(f64::from(config.rate_limit.burst.max(1)));
        Ok(VpsieClient {
            inner: Arc::new(Inner {
                breaker: Mutex::new(CircuitBreaker::new(config.breaker, now)),
                limiter: Mutex::new(RateLimiter::new(config.rate_limit, now)),
                creds: Mutex::new(TokenCache::new(credentials, now)),
                login_lock: tokio::sync::Mutex::new(()),
                config,
                http,
                clock,
                metrics,
            }),
        })
    }

    /// A client from the Secret's contents: its `url` (when set) replaces `config.base_url`.
    pub fn from_secret(
        secret: VpsieSecret,
        mut config: ClientConfig,
        clock: SharedClock,
        metrics: CloudMetrics,
    ) -> Result<Self, CloudError> {
        if let Some(url) = secret.base_url {
            config.base_url = url;
        }
        Self::new(config, secret.credentials, clock, metrics)
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// The metrics the client counts in.
    pub fn metrics(&self) -> &CloudMetrics {
        &self.inner.metrics
    }

    /// The base URL.
    pub fn base_url(&self) -> &BaseUrl {
        &self.inner.config.base_url
    }

    /// Replaces the credentials (the Secret was rotated) and drops the cached token. Returns
    /// whether they changed; unchanged credentials keep the token.
    pub fn set_credentials(&self, credentials: Credentials) -> bool {
        let mut c = lock(&self.inner.creds);
        let changed = c.replace(credentials, self.inner.clock.now());
        if changed {
            tracing::info!(
                fingerprint = %c.credentials().fingerprint(),
                kind = c.credentials().kind(),
                "VPSie credentials replaced"
            );
        }
        changed
    }

    /// The fingerprint of the credentials in use.
    pub fn credentials_fingerprint(&self) -> String {
        lock(&self.inner.creds).credentials().fingerprint()
    }

    /// When the credentials in use were loaded.
    pub fn credentials_loaded_at(&self) -> DateTime<Utc> {
        lock(&self.inner.creds).loaded_at()
    }

    /// The circuit breaker's state.
    pub fn breaker_snapshot(&self) -> BreakerSnapshot {
        let s = lock(&self.inner.breaker).snapshot(self.inner.clock.now());
        self.inner.metrics.set_breaker_state(s.state);
        s
    }

    /// Forces the circuit breaker closed (`kubectl vpsie breaker reset`).
    pub fn reset_breaker(&self) -> BreakerSnapshot {
        let now = self.inner.clock.now();
        let mut b = lock(&self.inner.breaker);
        b.reset(now);
        let s = b.snapshot(now);
        self.inner.metrics.set_breaker_state(s.state);
        tracing::warn!("VPSie API circuit breaker reset by request");
        s
    }

    /// The rate limiter's state.
    pub fn rate_limit_snapshot(&self) -> RateLimitSnapshot {
        let s = lock(&self.inner.limiter).snapshot(self.inner.clock.now());
        self.inner.metrics.set_rate_limit_tokens(s.tokens);
        s
    }

    fn context(&self, op: Operation, target: Option<&str>) -> ErrorContext {
        let keys = lock(&self.inner.creds)
            .credentials()
            .secret_keys()
            .to_string();
        ErrorContext {
            op,
            target: target.map(str::to_string),
            secret: self.inner.config.secret_ref.clone(),
            keys,
        }
    }

    // ----- operations -------------------------------------------------------------------

    /// `GET /health` (no credentials needed): whether the API answers.
    pub async fn health(&self) -> Result<(), CloudError> {
        let spec = || RequestSpec {
            method: Method::GET,
            path: "/health".to_string(),
            body: None,
            auth: false,
        };
        self.call(Operation::Health, None, spec, decode::decode_empty)
            .await
    }

    /// `GET /offerings`.
    pub async fn list_offerings(&self) -> Result<Vec<Offering>, CloudError> {
        self.get_list(Operation::ListOfferings, "/offerings").await
    }

    /// `GET /offerings/{id}`; a 404 is `Instance type not available`.
    pub async fn get_offering(&self, id: &str) -> Result<Offering, CloudError> {
        let path = format!("/offerings/{}", path_segment(id));
        self.get_object(Operation::GetOffering, Some(id), path)
            .await
    }

    /// `GET /datacenters`.
    pub async fn list_datacenters(&self) -> Result<Vec<Datacenter>, CloudError> {
        self.get_list(Operation::ListDatacenters, "/datacenters")
            .await
    }

    /// `GET /images`.
    pub async fn list_images(&self) -> Result<Vec<OsImage>, CloudError> {
        self.get_list(Operation::ListImages, "/images").await
    }

    /// Every VM, following `GET /vm?page=N&per_page=M` through all pages.
    pub async fn list_vms(&self) -> Result<Vec<Vps>, CloudError> {
        let per_page = self.inner.config.page_size.max(1);
        let mut all = Vec::new();
        let mut page = 1u32;
        loop {
            let path = format!("/vm?page={page}&per_page={per_page}");
            let spec = || RequestSpec {
                method: Method::GET,
                path: path.clone(),
                body: None,
                auth: true,
            };
            let list: ListResponse<Vps> = self
                .call(Operation::ListVMs, None, spec, decode::decode_list)
                .await?;
            let got = list.data.len();
            all.extend(list.data);
            let more = match list.pagination {
                Some(p) => match p.total_pages {
                    Some(total) => i64::from(page) < total,
                    None => got >= per_page as usize && got > 0,
                },
                None => false,
            };
            if !more || got == 0 {
                return Ok(all);
            }
            page += 1;
            if page > MAX_PAGES {
                return Err(CloudError::Decode {
                    op: Operation::ListVMs,
                    status: None,
                    detail: format!("pagination did not end after {MAX_PAGES} pages"),
                    request_id: None,
                });
            }
        }
    }

    /// The VMs carrying `tag` (filtered here: the API has no tag filter).
    pub async fn list_vms_by_tag(&self, tag: &str) -> Result<Vec<Vps>, CloudError> {
        Ok(self
            .list_vms()
            .await?
            .into_iter()
            .filter(|v| v.has_tag(tag))
            .collect())
    }

    /// The VM whose hostname is `hostname` (case-insensitive), if any. When several match
    /// (someone created one by hand), the lowest id wins and a warning is logged.
    pub async fn find_vm_by_hostname(&self, hostname: &str) -> Result<Option<Vps>, CloudError> {
        let mut matches: Vec<Vps> = self
            .list_vms()
            .await?
            .into_iter()
            .filter(|v| {
                v.hostname
                    .as_deref()
                    .is_some_and(|h| h.eq_ignore_ascii_case(hostname))
            })
            .collect();
        matches.sort_by_key(|v| v.id);
        if matches.len() > 1 {
            tracing::warn!(
                hostname,
                count = matches.len(),
                "several VPSie VMs share one hostname; using the lowest id"
            );
        }
        Ok(matches.into_iter().next())
    }

    /// `GET /vm/{id}`; a 404 is a `not_found` error.
    pub async fn get_vm(&self, id: i64) -> Result<Vps, CloudError> {
        let id_text = id.to_string();
        self.get_object(Operation::GetVM, Some(&id_text), format!("/vm/{id}"))
            .await
    }

    /// Creates a VM without ever creating two for one request:
    ///
    /// 1. looks the (deterministic) hostname up; an existing VM is returned as is;
    /// 2. sends `POST /vm` once (a 429 is retried: it did nothing; a 401 is retried once after
    ///    a fresh login);
    /// 3. on an ambiguous failure (network error, timeout, reply cut off, 5xx) looks the
    ///    hostname up again and returns the VM if it now exists, else the error.
    pub async fn create_vm(&self, req: &CreateVpsRequest) -> Result<Vps, CloudError> {
        if req.hostname.trim().is_empty() {
            return Err(CloudError::Config(
                "CreateVpsRequest.hostname is empty; the autoscaler needs a deterministic hostname to create VMs safely".to_string(),
            ));
        }
        if let Some(existing) = self.find_vm_by_hostname(&req.hostname).await? {
            tracing::info!(hostname = %req.hostname, id = existing.id, "VPSie VM already exists; not creating another");
            return Ok(existing);
        }
        self.create_vm_after_lookup(req).await
    }

    /// CreateVM when the caller has just looked the hostname up itself and found no VM, in a
    /// list taken after any earlier attempt for this hostname (so a lost reply of that attempt
    /// would have shown). Saves the list [`create_vm`](Self::create_vm) makes first; an
    /// ambiguous failure is still resolved by looking the hostname up.
    pub async fn create_vm_after_lookup(&self, req: &CreateVpsRequest) -> Result<Vps, CloudError> {
        if req.hostname.trim().is_empty() {
            return Err(CloudError::Config(
                "CreateVpsRequest.hostname is empty; the autoscaler needs a deterministic hostname to create VMs safely".to_string(),
            ));
        }
        let body = serde_json::to_vec(req)
            .map_err(|e| CloudError::Config(format!("cannot encode the CreateVM request ({e})")))?;
        let spec = || RequestSpec {
            method: Method::POST,
            path: "/vm".to_string(),
            body: Some(Body::Json(body.clone())),
            auth: true,
        };
        match self
            .call(
                Operation::CreateVM,
                None,
                spec,
                decode::decode_object::<Vps>,
            )
            .await
        {
            Ok(vm) => Ok(vm),
            Err(e) if e.is_ambiguous() => match self.find_vm_by_hostname(&req.hostname).await {
                Ok(Some(vm)) => {
                    tracing::warn!(hostname = %req.hostname, id = vm.id, error = %e, "CreateVM failed ambiguously but the VM exists; using it");
                    Ok(vm)
                }
                Ok(None) => Err(e),
                Err(lookup) => {
                    tracing::warn!(hostname = %req.hostname, error = %lookup, "could not check whether the failed CreateVM created a VM");
                    Err(e)
                }
            },
            Err(e) => Err(e),
        }
    }

    /// `DELETE /vm/{id}`; a 404 means already gone and is a success.
    pub async fn delete_vm(&self, id: i64) -> Result<(), CloudError> {
        let id_text = id.to_string();
        let spec = || RequestSpec {
            method: Method::DELETE,
            path: format!("/vm/{id}"),
            body: None,
            auth: true,
        };
        self.call(
            Operation::DeleteVM,
            Some(&id_text),
            spec,
            decode::decode_delete,
        )
        .await
    }

    /// Checks the credentials now (`kubectl vpsie creds check`): a fresh login for client
    /// credentials (the new token is kept), an authenticated `GET /vm` of one item for a
    /// static token.
    pub async fn check_credentials(&self) -> Result<CredentialCheck, CloudError> {
        let credentials = lock(&self.inner.creds).credentials().clone();
        let token_expires = match &credentials {
            Credentials::ClientCredentials { .. } => {
                let _single = self.inner.login_lock.lock().await;
                let token = self.login(&credentials).await?;
                let expires = token.expires;
                self.store_token(&credentials, token);
                expires
            }
            Credentials::StaticToken(_) => {
                let spec = || RequestSpec {
                    method: Method::GET,
                    path: "/vm?page=1&per_page=1".to_string(),
                    body: None,
                    auth: true,
                };
                let _: ListResponse<Vps> = self
                    .call(Operation::ListVMs, None, spec, decode::decode_list)
                    .await?;
                None
            }
        };
        Ok(CredentialCheck {
            kind: credentials.kind().to_string(),
            fingerprint: credentials.fingerprint(),
            base_url: self.inner.config.base_url.to_string(),
            token_expires,
        })
    }

    async fn get_list<T: DeserializeOwned>(
        &self,
        op: Operation,
        path: &str,
    ) -> Result<Vec<T>, CloudError> {
        let spec = || RequestSpec {
            method: Method::GET,
            path: path.to_string(),
            body: None,
            auth: true,
        };
        let list: ListResponse<T> = self.call(op, None, spec, decode::decode_list).await?;
        Ok(list.data)
    }

    async fn get_object<T: DeserializeOwned>(
        &self,
        op: Operation,
        target: Option<&str>,
        path: String,
    ) -> Result<T, CloudError> {
        let spec = || RequestSpec {
            method: Method::GET,
            path: path.clone(),
            body: None,
            auth: true,
        };
        self.call(op, target, spec, decode::decode_object::<T>)
            .await
    }

    // ----- the machinery ----------------------------------------------------------------

    /// One logical call: attempts with retries (policy), and one fresh login after a 401.
    pub(super) async fn call<T>(
        &self,
        op: Operation,
        target: Option<&str>,
        spec: impl Fn() -> RequestSpec,
        decode: fn(&ErrorContext, &Reply) -> Result<T, CloudError>,
    ) -> Result<T, CloudError> {
        let mut retries = 0u32;
        let mut relogged = false;
        loop {
            let s = spec();
            let token = if s.auth {
                Some(self.bearer().await?)
            } else {
                None
            };
            let ctx = self.context(op, target);
            let result = self
                .attempt(&ctx, s, token.as_ref().map(|(t, _)| t), decode)
                .await;
            let err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if err.class() == ErrorClass::Unauthorized && !relogged {
                if let Some((_, Some(serial))) = &token {
                    relogged = true;
                    self.invalidate_token(*serial);
                    tracing::info!(op = %op, "VPSie API answered 401; logging in again once");
                    continue;
                }
            }
            let decision = {
                let mut rng = rand::rng();
                self.inner.config.retry.decide(op, &err, retries, &mut rng)
            };
            match decision {
                RetryDecision::GiveUp => return Err(err),
                RetryDecision::RetryAfter(delay) => {
                    retries += 1;
                    tracing::debug!(op = %op, retry = retries, delay_ms = delay.as_millis() as u64, error = %err, "retrying VPSie API call");
                    // A 429's Retry-After is already enforced by the limiter for every call.
                    let limiter_waits =
                        err.class() == ErrorClass::RateLimited && err.retry_after().is_some();
                    if !limiter_waits {
                        clock::sleep(&*self.inner.clock, delay).await;
                    }
                }
            }
        }
    }

    /// The bearer token to send, with the serial of the cached token (`None` for a static
    /// token). Logs in when there is no valid token; one login at a time.
    async fn bearer(&self) -> Result<Bearer, CloudError> {
        if let Some(t) = self.cached_token() {
            return Ok(t);
        }
        let _single = self.inner.login_lock.lock().await;
        if let Some(t) = self.cached_token() {
            return Ok(t);
        }
        let (credentials, reason) = {
            let c = lock(&self.inner.creds);
            (c.credentials().clone(), c.next_reason())
        };
        let token = self.login(&credentials).await?;
        self.inner.metrics.observe_token_refresh(reason);
        let stored = self.store_token(&credentials, token);
        Ok(stored)
    }

    fn cached_token(&self) -> Option<Bearer> {
        lock(&self.inner.creds).current(self.inner.clock.now())
    }

    /// Caches a fresh token, unless the credentials changed meanwhile (then it is used for
    /// this call only).
    fn store_token(&self, used: &Credentials, token: LoginToken) -> Bearer {
        lock(&self.inner.creds).store(used, token, self.inner.clock.now())
    }

    fn invalidate_token(&self, serial: u64) {
        lock(&self.inner.creds).invalidate(serial);
    }

    /// `POST /auth/from/api` with retries (it is safe to repeat).
    async fn login(&self, credentials: &Credentials) -> Result<LoginToken, CloudError> {
        let Credentials::ClientCredentials { .. } = credentials else {
            return Err(CloudError::Config(
                "a static token cannot log in; use keys clientId and clientSecret".to_string(),
            ));
        };
        let mut retries = 0u32;
        loop {
            let ctx = self.context(Operation::Login, None);
            let spec = RequestSpec {
                method: Method::POST,
                path: "/auth/from/api".to_string(),
                body: Some(Body::Login),
                auth: false,
            };
            let err = match self
                .attempt_with(&ctx, spec, None, Some(credentials), decode::decode_login)
                .await
            {
                Ok(t) => return Ok(t),
                Err(e) => e,
            };
            let decision = {
                let mut rng = rand::rng();
                self.inner
                    .config
                    .retry
                    .decide(Operation::Login, &err, retries, &mut rng)
            };
            match decision {
                RetryDecision::GiveUp => return Err(err),
                RetryDecision::RetryAfter(delay) => {
                    retries += 1;
                    let limiter_waits =
                        err.class() == ErrorClass::RateLimited && err.retry_after().is_some();
                    if !limiter_waits {
                        clock::sleep(&*self.inner.clock, delay).await;
                    }
                }
            }
        }
    }

    async fn attempt<T>(
        &self,
        ctx: &ErrorContext,
        spec: RequestSpec,
        token: Option<&SecretString>,
        decode: fn(&ErrorContext, &Reply) -> Result<T, CloudError>,
    ) -> Result<T, CloudError> {
        self.attempt_with(ctx, spec, token, None, decode).await
    }

    /// Waits for the rate limiter; refuses at once when the server-imposed pause is longer
    /// than the retry policy's longest delay.
    async fn wait_rate_limit(&self, op: Operation) -> Result<(), CloudError> {
        let inner = &*self.inner;
        let now = inner.clock.now();
        let wait = {
            let mut l = lock(&inner.limiter);
            let pause = l.pause_left(now);
            if pause > inner.config.retry.max_delay {
                return Err(CloudError::RateLimited {
                    op,
                    retry_after: Some(pause),
                    message: "held back by the client: the API asked to pause".to_string(),
                    request_id: None,
                });
            }
            let wait = l.reserve(now);
            inner.metrics.set_rate_limit_tokens(l.tokens(now));
            if !wait.is_zero() {
                l.begin_wait();
            }
            wait
        };
        if !wait.is_zero() {
            let _guard = WaitGuard(inner);
            inner.metrics.observe_rate_limit_wait(wait.as_secs_f64());
            tracing::debug!(op = %op, wait_ms = wait.as_millis() as u64, "waiting for the VPSie API rate limit");
            clock::sleep(&*inner.clock, wait).await;
        }
        Ok(())
    }

    /// One HTTP exchange through the limiter, the breaker and the metrics.
    async fn attempt_with<T>(
        &self,
        ctx: &ErrorContext,
        spec: RequestSpec,
        token: Option<&SecretString>,
        login: Option<&Credentials>,
        decode: fn(&ErrorContext, &Reply) -> Result<T, CloudError>,
    ) -> Result<T, CloudError> {
        let inner = &*self.inner;
        let op = ctx.op;
        let admission = {
            let mut b = lock(&inner.breaker);
            let r = b.try_acquire(op, inner.clock.now());
            inner.metrics.set_breaker_state(b.state(inner.clock.now()));
            r
        };
        let admission = match admission {
            Ok(a) => a,
            Err(e) => {
                inner.metrics.observe_error(e.class());
                return Err(e);
            }
        };
        let mut guard = ProbeGuard {
            inner,
            admission,
            armed: true,
        };
        // The breaker is asked first so that an outage refuses calls at once instead of
        // spending rate-limit tokens on them.
        if let Err(e) = self.wait_rate_limit(op).await {
            inner.metrics.observe_refusal(e.class());
            lock(&inner.breaker).record(admission, Outcome::Neutral, inner.clock.now());
            guard.armed = false;
            return Err(e);
        }

        let started = Instant::now();
        let exchanged = self.exchange(ctx, &spec, token, login).await;
        let seconds = started.elapsed().as_secs_f64();
        let result = match exchanged {
            Ok(reply) => {
                inner
                    .metrics
                    .observe_request(op, Some(reply.status), seconds);
                tracing::debug!(
                    op = %op,
                    status = reply.status,
                    request_id = reply.request_id.as_deref().unwrap_or("-"),
                    "VPSie API answered"
                );
                if reply.status == 429 {
                    if let Some(after) = reply.retry_after {
                        lock(&inner.limiter).block_for(inner.clock.now(), after);
                    }
                }
                decode(ctx, &reply)
            }
            Err(e) => {
                let status = match &e {
                    CloudError::Decode { status, .. } => *status,
                    _ => None,
                };
                inner.metrics.observe_request(op, status, seconds);
                Err(e)
            }
        };
        let result = result.map_err(|e| self.scrub(e, token, login));
        if let Err(e) = &result {
            inner.metrics.observe_error(e.class());
            if e.class().is_availability_failure() {
                tracing::warn!(op = %op, error = %e, "VPSie API call failed");
            }
        }
        {
            let mut b = lock(&inner.breaker);
            b.record(admission, Outcome::of(&result), inner.clock.now());
            inner.metrics.set_breaker_state(b.state(inner.clock.now()));
        }
        guard.armed = false;
        result
    }

    /// Removes the token and the client secret from an error's texts.
    fn scrub(
        &self,
        e: CloudError,
        token: Option<&SecretString>,
        login: Option<&Credentials>,
    ) -> CloudError {
        let creds = lock(&self.inner.creds).credentials().clone();
        let mut secrets: Vec<&str> = Vec::new();
        if let Some(t) = token {
            secrets.push(t.expose());
        }
        for c in [Some(&creds), login].into_iter().flatten() {
            match c {
                Credentials::ClientCredentials { client_secret, .. } => {
                    secrets.push(client_secret.expose())
                }
                Credentials::StaticToken(t) => secrets.push(t.expose()),
            }
        }
        e.redact(&secrets)
    }

    /// Sends the request and reads the answer (at most [`MAX_BODY_BYTES`]).
    async fn exchange(
        &self,
        ctx: &ErrorContext,
        spec: &RequestSpec,
        token: Option<&SecretString>,
        login: Option<&Credentials>,
    ) -> Result<Reply, CloudError> {
        let inner = &*self.inner;
        let op = ctx.op;
        let url = inner.config.base_url.join(&spec.path);
        let mut req = inner
            .http
            .request(spec.method.clone(), &url)
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                .map_err(|_| {
                    CloudError::Config(format!(
                        "the VPSie access token has characters not allowed in an HTTP header; check Secret {} (keys {})",
                        ctx.secret, ctx.keys
                    ))
                })?;
            value.set_sensitive(true);
            req = req.header(AUTHORIZATION, value);
        }
        match (&spec.body, login) {
            (Some(Body::Json(bytes)), _) => {
                req = req
                    .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                    .body(bytes.clone());
            }
            (
                Some(Body::Login),
                Some(Credentials::ClientCredentials {
                    client_id,
                    client_secret,
                }),
            ) => {
                req = req.form(&[
                    ("clientId", client_id.as_str()),
                    ("clientSecret", client_secret.expose()),
                ]);
            }
            (Some(Body::Login), _) => {
                return Err(CloudError::Config(
                    "login needs client credentials (keys clientId, clientSecret)".to_string(),
                ))
            }
            (None, _) => {}
        }
        let mut resp = req.send().await.map_err(|e| {
            if e.is_builder() {
                CloudError::Config(format!(
                    "cannot build the request to {url} ({e}); check the base URL"
                ))
            } else {
                CloudError::Network {
                    op,
                    detail: transport_detail(&e, inner.config.timeout),
                }
            }
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        if let Some(len) = resp.content_length() {
            if len > MAX_BODY_BYTES as u64 {
                return Err(CloudError::Decode {
                    op,
                    status: Some(status),
                    detail: format!(
                        "answer body of {len} bytes is larger than the {} MiB cap",
                        MAX_BODY_BYTES / (1024 * 1024)
                    ),
                    request_id,
                });
            }
        }
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err(CloudError::Decode {
                            op,
                            status: Some(status),
                            detail: format!(
                                "answer body is larger than the {} MiB cap",
                                MAX_BODY_BYTES / (1024 * 1024)
                            ),
                            request_id,
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(CloudError::Network {
                        op,
                        detail: format!(
                            "reply cut off after {} bytes of the body ({})",
                            body.len(),
                            transport_detail(&e, inner.config.timeout)
                        ),
                    })
                }
            }
        }
        Ok(Reply::from_parts(status, &headers, body, inner.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn client(creds: Credentials) -> (VpsieClient, Arc<ManualClock>) {
        let clock = ManualClock::starting_now();
        let config = ClientConfig {
            base_url: BaseUrl::parse("http://127.0.0.1:9").expect("loopback"),
            ..ClientConfig::default()
        };
        let c = VpsieClient::new(config, creds, clock.clone(), CloudMetrics::unregistered())
            .expect("client");
        (c, clock)
    }

    #[test]
    fn bad_config_is_refused() {
        let clock = ManualClock::starting_now();
        let e = VpsieClient::new(
            ClientConfig {
                timeout: Duration::ZERO,
                ..ClientConfig::default()
            },
            Credentials::token("t"),
            clock.clone(),
            CloudMetrics::unregistered(),
        )
        .expect_err("zero timeout");
        assert!(e.to_string().contains("ClientConfig.timeout"), "{e}");
        let e = VpsieClient::new(
            ClientConfig {
                user_agent: "bad\nagent".into(),
                ..ClientConfig::default()
            },
            Credentials::token("t"),
            clock,
            CloudMetrics::unregistered(),
        )
        .expect_err("bad user agent");
        assert_eq!(e.class(), ErrorClass::Config);
    }

    /// The reconciler spawns these futures on a multi-threaded runtime: they must be `Send`.
    #[test]
    fn futures_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let (c, _clock) = client(Credentials::token("t"));
        let req = CreateVpsRequest::default();
        assert_send(&c.create_vm(&req));
        assert_send(&c.delete_vm(1));
        assert_send(&c.list_vms());
        assert_send(&c.get_vm(1));
        assert_send(&c.check_credentials());
        assert_send(&c.health());
        fn assert_sync<T: Send + Sync>() {}
        assert_sync::<VpsieClient>();
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(path_segment("small-2cpu-4gb"), "small-2cpu-4gb");
        assert_eq!(path_segment("a/b?c"), "a%2Fb%3Fc");
        assert_eq!(path_segment("../x"), "..%2Fx");
    }

    #[test]
    fn defaults() {
        let c = ClientConfig::default();
        assert_eq!(c.base_url.as_str(), "https://api.vpsie.com/v2");
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert!(c.user_agent.starts_with("kubectl-vpsie/"));
        assert_eq!(c.rate_limit.requests_per_minute, 100);
        assert_eq!(c.retry.max_retries, 3);
        assert_eq!(c.breaker.failure_threshold, 5);
    }

    #[test]
    fn debug_shows_no_secret_and_rotation_works() {
        let (c, clock) = client(Credentials::client("the-id", "the-secret-value"));
        let text = format!("{c:?} {:?}", c.config());
        assert!(!text.contains("the-secret-value"), "{text}");
        let before = c.credentials_fingerprint();
        let loaded = c.credentials_loaded_at();
        clock.advance(Duration::from_secs(10));
        assert!(!c.set_credentials(Credentials::client("the-id", "the-secret-value")));
        assert_eq!(c.credentials_loaded_at(), loaded);
        assert!(c.set_credentials(Credentials::token("tok-value")));
        assert_ne!(c.credentials_fingerprint(), before);
        assert_eq!(c.credentials_loaded_at(), clock.now());
        assert!(!format!("{c:?}").contains("tok-value"));
    }

    #[test]
    fn from_secret_takes_the_url() {
        let clock = ManualClock::starting_now();
        let secret = VpsieSecret {
            credentials: Credentials::token("t"),
            base_url: Some(BaseUrl::parse("http://localhost:1234/v2").expect("ok")),
        };
        let c = VpsieClient::from_secret(
            secret,
            ClientConfig::default(),
            clock,
            CloudMetrics::unregistered(),
        )
        .expect("client");
        assert_eq!(c.base_url().as_str(), "http://localhost:1234/v2");
    }

    #[test]
    fn breaker_reset_and_snapshots() {
        let (c, _clock) = client(Credentials::token("t"));
        let s = c.breaker_snapshot();
        assert_eq!(s.state, super::super::breaker::BreakerState::Closed);
        assert_eq!(c.reset_breaker().state, s.state);
        let r = c.rate_limit_snapshot();
        assert_eq!(r.capacity, 20);
        assert_eq!(r.waiting, 0);
    }

    #[tokio::test]
    async fn create_vm_refuses_an_empty_hostname_without_calling() {
        let (c, _clock) = client(Credentials::token("t"));
        let e = c
            .create_vm(&CreateVpsRequest::default())
            .await
            .expect_err("empty hostname");
        assert_eq!(e.class(), ErrorClass::Config);
        assert!(e.to_string().contains("hostname"), "{e}");
    }
}

/// Tests over real sockets on 127.0.0.1 where nothing listens: every exchange fails with a
/// network error, which exercises retries, the breaker, the metrics and create_vm's safety
/// without any server.
#[cfg(test)]
mod offline_tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::cloud::breaker::BreakerState;
    use prometheus_client::encoding::text::encode;
    use prometheus_client::registry::Registry;

    /// A loopback port with nothing listening.
    fn closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = l.local_addr().expect("addr").port();
        drop(l);
        port
    }

    struct Fixture {
        client: VpsieClient,
        clock: Arc<ManualClock>,
        registry: Registry,
    }

    impl Fixture {
        fn new(creds: Credentials, tweak: impl FnOnce(&mut ClientConfig)) -> Self {
            let clock = ManualClock::starting_now();
            let mut registry = Registry::default();
            let metrics = CloudMetrics::new(&mut registry);
            let mut config = ClientConfig {
                base_url: BaseUrl::parse(&format!("http://127.0.0.1:{}/v2", closed_port()))
                    .expect("loopback"),
                timeout: Duration::from_secs(5),
                ..ClientConfig::default()
            };
            tweak(&mut config);
            let client = VpsieClient::new(config, creds, clock.clone(), metrics).expect("client");
            Fixture {
                client,
                clock,
                registry,
            }
        }

        fn metrics(&self) -> String {
            let mut text = String::new();
            encode(&mut text, &self.registry).expect("encode");
            text
        }

        fn metric(&self, line_prefix: &str) -> Option<f64> {
            self.metrics()
                .lines()
                .find_map(|l| l.strip_prefix(line_prefix))
                .and_then(|v| v.trim().parse().ok())
        }
    }

    #[tokio::test]
    async fn idempotent_calls_are_retried_then_fail_as_network() {
        let f = Fixture::new(Credentials::token("static-secret-token"), |_| {});
        let e = f
            .client
            .list_datacenters()
            .await
            .expect_err("nothing listens");
        assert_eq!(e.class(), ErrorClass::Network);
        assert_eq!(e.operation(), Some(Operation::ListDatacenters));
        assert!(
            e.to_string()
                .contains("VPSie API unreachable on ListDatacenters"),
            "{e}"
        );
        assert!(!e.to_string().contains("static-secret-token"));
        // One try and three retries.
        assert_eq!(
            f.metric("vpsie_api_requests_total{method=\"ListDatacenters\",status=\"error\"} "),
            Some(4.0)
        );
        assert_eq!(
            f.metric("vpsie_api_errors_total{error_type=\"network\"} "),
            Some(4.0)
        );
        let s = f.client.breaker_snapshot();
        assert_eq!(s.state, BreakerState::Closed);
        assert_eq!(s.consecutive_failures, 4);
        assert!(s.last_failure.is_some());
    }

    #[tokio::test]
    async fn breaker_opens_refuses_then_probes_after_timeout() {
        let f = Fixture::new(Credentials::token("t"), |_| {});
        let _ = f.client.list_images().await.expect_err("network");
        let e = f.client.list_images().await.expect_err("opens");
        // The fifth failure opened it; the sixth attempt was refused.
        assert_eq!(e.class(), ErrorClass::CircuitOpen, "{e}");
        assert_eq!(f.client.breaker_snapshot().state, BreakerState::Open);
        assert_eq!(f.metric("vpsie_api_circuit_breaker_state "), Some(1.0));
        let before = f.metric("vpsie_api_requests_total{method=\"ListImages\",status=\"error\"} ");
        let e = f.client.get_vm(7).await.expect_err("refused");
        assert_eq!(e.class(), ErrorClass::CircuitOpen);
        assert!(
            e.to_string()
                .contains("reset with kubectl vpsie breaker reset"),
            "{e}"
        );
        assert_eq!(
            f.metric("vpsie_api_requests_total{method=\"GetVM\",status=\"error\"} "),
            None,
            "a refused call sends nothing"
        );
        assert!(
            f.metric("vpsie_api_errors_total{error_type=\"circuit_open\"} ")
                .unwrap_or(0.0)
                >= 2.0
        );
        // After the timeout one probe goes out; it fails and the breaker opens again.
        f.clock.advance(Duration::from_secs(30));
        assert_eq!(f.client.breaker_snapshot().state, BreakerState::HalfOpen);
        let _ = f.client.health().await.expect_err("probe fails");
        let s = f.client.breaker_snapshot();
        assert_eq!(s.state, BreakerState::Open);
        assert_eq!(s.opened_count, 2);
        assert_eq!(s.since, f.clock.now());
        assert_eq!(
            f.metric("vpsie_api_requests_total{method=\"Health\",status=\"error\"} "),
            Some(1.0)
        );
        assert_eq!(
            before,
            f.metric("vpsie_api_requests_total{method=\"ListImages\",status=\"error\"} ")
        );
        // A manual reset closes it.
        assert_eq!(f.client.reset_breaker().state, BreakerState::Closed);
        assert_eq!(f.metric("vpsie_api_circuit_breaker_state "), Some(0.0));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn half_open_lets_one_concurrent_probe_out() {
        let f = Fixture::new(Credentials::token("t"), |c| {
            c.retry = RetryPolicy::none();
            c.breaker.failure_threshold = 1;
        });
        let _ = f.client.health().await.expect_err("opens");
        assert_eq!(f.client.breaker_snapshot().state, BreakerState::Open);
        f.clock.advance(Duration::from_secs(30));
        let calls: Vec<_> = (0..12)
            .map(|_| {
                let c = f.client.clone();
                tokio::spawn(async move { c.health().await })
            })
            .collect();
        let mut refused = 0;
        for call in futures::future::join_all(calls).await {
            let e = call.expect("task").expect_err("nothing listens");
            if e.class() == ErrorClass::CircuitOpen {
                refused += 1;
            }
        }
        // The probe went out (and failed); every other concurrent call was refused... unless
        // it came after the probe failed, when the breaker was open again: refused too.
        assert_eq!(refused, 11);
        assert_eq!(
            f.metric("vpsie_api_requests_total{method=\"Health\",status=\"error\"} "),
            Some(2.0)
        );
        assert_eq!(f.client.breaker_snapshot().opened_count, 2);
    }

    #[tokio::test]
    async fn create_vm_never_posts_when_the_lookup_fails() {
        let f = Fixture::new(Credentials::token("t"), |c| c.retry = RetryPolicy::none());
        let req = CreateVpsRequest {
            hostname: "ng-a-0001".into(),
            name: "ng-a-0001".into(),
            ..CreateVpsRequest::default()
        };
        let e = f.client.create_vm(&req).await.expect_err("network");
        assert_eq!(e.operation(), Some(Operation::ListVMs), "{e}");
        assert!(
            !f.metrics().contains("method=\"CreateVM\""),
            "no POST was sent"
        );
    }

    #[tokio::test]
    async fn login_failure_is_a_network_error_on_login_and_counts_no_refresh() {
        let f = Fixture::new(Credentials::client("id", "client-secret-value"), |c| {
            c.retry = RetryPolicy::none()
        });
        let e = f.client.list_offerings().await.expect_err("login fails");
        assert_eq!(e.operation(), Some(Operation::Login));
        assert_eq!(e.class(), ErrorClass::Network);
        assert!(!e.to_string().contains("client-secret-value"));
        assert_eq!(
            f.metric("vpsie_api_requests_total{method=\"Login\",status=\"error\"} "),
            Some(1.0)
        );
        assert!(
            !f.metrics().contains("method=\"ListOfferings\""),
            "no call without a token"
        );
        assert!(!f.metrics().contains("vpsie_api_token_refreshes_total{"));
        let e = f.client.check_credentials().await.expect_err("check fails");
        assert_eq!(e.operation(), Some(Operation::Login));
    }

    #[tokio::test]
    async fn delete_vm_network_errors_are_not_swallowed() {
        let f = Fixture::new(Credentials::token("t"), |c| c.retry = RetryPolicy::none());
        let e = f.client.delete_vm(3).await.expect_err("network");
        assert_eq!(e.class(), ErrorClass::Network);
    }

    #[tokio::test]
    async fn rate_limiter_makes_callers_wait() {
        let f = Fixture::new(Credentials::token("t"), |c| {
            c.retry = RetryPolicy::none();
            c.rate_limit = RateLimitConfig {
                requests_per_minute: 60,
                burst: 2,
            };
            c.breaker.failure_threshold = 100;
        });
        for _ in 0..4 {
            let _ = f.client.health().await;
        }
        // Two calls found a token, two waited 1 s and 2 s.
        assert_eq!(f.metric("vpsie_api_rate_limit_waits_total "), Some(2.0));
        assert_eq!(
            f.metric("vpsie_api_rate_limit_wait_seconds_total "),
            Some(3.0)
        );
        assert_eq!(f.metric("vpsie_api_rate_limit_tokens "), Some(-2.0));
        let s = f.client.rate_limit_snapshot();
        assert_eq!(s.waiting, 0);
        assert_eq!(s.tokens, -2.0);
    }

    #[tokio::test]
    async fn a_long_server_pause_refuses_without_sending() {
        let f = Fixture::new(Credentials::token("t"), |_| {});
        lock(&f.client.inner.limiter).block_for(f.clock.now(), Duration::from_secs(120));
        let e = f.client.list_vms().await.expect_err("paused");
        assert_eq!(e.class(), ErrorClass::RateLimited);
        assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
        assert!(e.to_string().contains("retry after 120s"), "{e}");
        assert!(
            !f.metrics().contains("vpsie_api_requests_total{"),
            "nothing was sent"
        );
        assert_eq!(f.client.breaker_snapshot().consecutive_failures, 0);
        assert!(f.client.rate_limit_snapshot().blocked_until.is_some());
    }
}
