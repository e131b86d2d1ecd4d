//! Helpers of the end-to-end client tests (`tests/cloud_client.rs`):
//!
//! - [`World`]: a simulated VPSie cloud on 127.0.0.1:0 and a real [`VpsieClient`] pointed at
//!   it, sharing one [`ManualClock`] (time moves only when a test says so: backoff, Retry-After
//!   and breaker timeouts cost no real time), with the client's own metrics registry and a
//!   TRACE-level capture of the `tracing` output of the test's thread.
//! - [`World::finish`]: the redaction sweep: every text a test produced (errors, `Debug` and
//!   `Display` of client, config and credentials, metrics, the sim's request log over Rust and
//!   over `GET /admin/requests`, the captured logs) must hold no client secret, no static
//!   token and no access or refresh token the sim issued (they all start with `sim-at-` /
//!   `sim-rt-`, so even the tokens the client got and never showed are covered).
//! - [`OddServer`]: a loopback server that misbehaves in ways the sim cannot (a non-JSON 200
//!   body, a wrong JSON shape, answers echoing the credentials it was sent).

use std::cell::{Cell, RefCell};
use std::fmt::Debug;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;
use vpsie_autoscaler::clock::{ManualClock, SharedClock};
use vpsie_autoscaler::cloud::{
    BaseUrl, ClientConfig, CloudError, CloudMetrics, CreateVpsRequest, Credentials, ErrorClass,
    VpsieClient,
};
use vpsie_autoscaler::sim::cloud::{SimCloud, SimCloudConfig};

/// Prefixes of every access and refresh token the sim issues.
pub const ISSUED_TOKEN_PREFIXES: [&str; 2] = ["sim-at-", "sim-rt-"];

/// A `Write` into a shared buffer: where the captured `tracing` output goes.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

/// Captures every `tracing` event of this thread at TRACE level until the guard drops. The
/// tests run on tokio's current-thread runtime, so the client, the sim and their tasks all log
/// here.
pub fn capture_logs() -> (LogBuffer, tracing::subscriber::DefaultGuard) {
    let buf = LogBuffer::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (buf, tracing::subscriber::set_default(subscriber))
}

/// A client with its own metrics registry.
pub struct Api {
    /// The client under test.
    pub client: VpsieClient,
    /// The credentials it was built with.
    pub credentials: Credentials,
    registry: Registry,
}

impl Api {
    /// A client for `base_url` with `credentials`; `tweak` adjusts the settings (the base are
    /// the defaults with the client-side bucket off, so that request counts do not depend on it;
    /// server pauses still apply).
    pub fn new(
        base_url: &str,
        credentials: Credentials,
        clock: SharedClock,
        tweak: impl FnOnce(&mut ClientConfig),
    ) -> Api {
        let mut registry = Registry::default();
        let metrics = CloudMetrics::new(&mut registry);
        let mut config = ClientConfig {
            base_url: BaseUrl::parse(base_url).expect("the sim's base URL is loopback http"),
            ..ClientConfig::default()
        };
        config.rate_limit.requests_per_minute = 0;
        tweak(&mut config);
        let client = VpsieClient::new(config, credentials.clone(), clock, metrics)
            .expect("a valid client config");
        Api {
            client,
            credentials,
            registry,
        }
    }

    /// The encoded metrics (Prometheus text format).
    pub fn metrics(&self) -> String {
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("metrics encode");
        text
    }

    /// The value of one series, e.g. `vpsie_api_errors_total{error_type="network"}`; `None`
    /// when it was never touched.
    pub fn metric(&self, series: &str) -> Option<f64> {
        self.metrics().lines().find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    }

    /// `vpsie_api_errors_total{error_type=<class>}` (0 when never counted).
    pub fn errors(&self, class: ErrorClass) -> f64 {
        self.metric(&format!(
            "vpsie_api_errors_total{{error_type=\"{}\"}}",
            class.as_str()
        ))
        .unwrap_or(0.0)
    }

    /// `vpsie_api_requests_total{method, status}` (0 when never counted).
    pub fn requests(&self, method: &str, status: &str) -> f64 {
        self.metric(&format!(
            "vpsie_api_requests_total{{method=\"{method}\",status=\"{status}\"}}"
        ))
        .unwrap_or(0.0)
    }

    /// `vpsie_api_token_refreshes_total{reason}` (0 when never counted).
    pub fn refreshes(&self, reason: &str) -> f64 {
        self.metric(&format!(
            "vpsie_api_token_refreshes_total{{reason=\"{reason}\"}}"
        ))
        .unwrap_or(0.0)
    }

    /// `vpsie_api_circuit_breaker_state`.
    pub fn breaker_gauge(&self) -> Option<f64> {
        self.metric("vpsie_api_circuit_breaker_state")
    }
}

/// A sim, a manual clock and a client, plus everything the redaction sweep needs.
pub struct World {
    /// The simulated cloud.
    pub sim: SimCloud,
    /// The clock shared by the sim and the client.
    pub clock: Arc<ManualClock>,
    /// The client, logged in as the sim's default account.
    pub api: Api,
    logs: LogBuffer,
    _log_guard: tracing::subscriber::DefaultGuard,
    seen: RefCell<Vec<String>>,
    secrets: RefCell<Vec<String>>,
    sim_up: Cell<bool>,
}

impl World {
    /// Starts a sim (its config adjusted by `sim`, after the manual clock was set) and a
    /// client with the sim's default credentials (its config adjusted by `tweak`).
    pub async fn start(
        sim: impl FnOnce(SimCloudConfig) -> SimCloudConfig,
        tweak: impl FnOnce(&mut ClientConfig),
    ) -> World {
        let (logs, guard) = capture_logs();
        let clock = ManualClock::starting_now();
        let config = sim(SimCloudConfig::default().with_clock(clock.clone()));
        let mut secrets: Vec<String> = config
            .accounts
            .iter()
            .map(|a| a.client_secret.clone())
            .collect();
        secrets.extend(config.static_tokens.iter().map(|t| t.token.clone()));
        let sim = SimCloud::start(config).await.expect("the sim starts");
        let c = sim.credentials();
        let api = Api::new(
            &sim.base_url(),
            Credentials::client(c.client_id, c.client_secret.as_str()),
            clock.clone(),
            tweak,
        );
        World {
            sim,
            clock,
            api,
            logs,
            _log_guard: guard,
            seen: RefCell::new(Vec::new()),
            secrets: RefCell::new(secrets),
            sim_up: Cell::new(true),
        }
    }

    /// The default world: default sim, default client settings (bucket off).
    pub async fn default() -> World {
        World::start(|c| c, |_| {}).await
    }

    /// The client.
    pub fn client(&self) -> &VpsieClient {
        &self.api.client
    }

    /// Another client on the same sim and clock, with its own metrics.
    pub fn another_client(
        &self,
        credentials: Credentials,
        tweak: impl FnOnce(&mut ClientConfig),
    ) -> Api {
        Api::new(&self.sim.base_url(), credentials, self.clock.clone(), tweak)
    }

    /// Adds a value that must never show up in any output.
    pub fn secret(&self, s: impl Into<String>) {
        self.secrets.borrow_mut().push(s.into());
    }

    /// Keeps a text for the redaction sweep.
    pub fn note(&self, text: impl Into<String>) {
        self.seen.borrow_mut().push(text.into());
    }

    /// The error of `r` (a test failure if it succeeded), kept for the redaction sweep.
    pub fn err<T: Debug>(&self, r: Result<T, CloudError>) -> CloudError {
        match r {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => {
                self.note(format!("{e}"));
                self.note(format!("{e:?}"));
                e
            }
        }
    }

    /// The value of `r` (a test failure, with the error, if it failed).
    pub fn ok<T: Debug>(&self, r: Result<T, CloudError>) -> T {
        match r {
            Ok(v) => {
                self.note(format!("{v:?}"));
                v
            }
            Err(e) => panic!("expected success, got {e} ({:?})", e.class()),
        }
    }

    /// The captured logs so far.
    pub fn logs(&self) -> String {
        self.logs.text()
    }

    /// Collects the sim's outputs (request log over Rust and over the admin API), then stops
    /// it: later calls find the port closed.
    pub async fn shut_sim_down(&self) {
        self.collect_sim_outputs().await;
        self.sim.shutdown().await;
        self.sim_up.set(false);
    }

    async fn collect_sim_outputs(&self) {
        let records = self.sim.requests();
        self.note(format!("{records:?}"));
        self.note(serde_json::to_string(&records).expect("records serialize"));
        self.note(format!("{:?}", self.sim));
        let http = reqwest::Client::new();
        for path in ["requests", "state", "accounts", "faults"] {
            let url = format!("{}/{path}", self.sim.admin_url());
            let resp = http.get(&url).send().await.expect("admin API answers");
            assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
            self.note(resp.text().await.expect("admin body"));
        }
    }

    /// The redaction sweep over everything this world (and `others`) produced; also checks the
    /// log capture worked, so the sweep is not vacuous.
    pub async fn finish(&self, others: &[&Api]) {
        if self.sim_up.get() {
            self.collect_sim_outputs().await;
        }
        let mut texts = self.seen.borrow().clone();
        for api in std::iter::once(&self.api).chain(others.iter().copied()) {
            texts.push(format!("{:?}", api.client));
            texts.push(format!("{:?}", api.client.config()));
            texts.push(format!("{:?} / {}", api.credentials, api.credentials));
            texts.push(api.metrics());
            let breaker = api.client.breaker_snapshot();
            texts.push(format!("{breaker:?}"));
            texts.push(serde_json::to_string(&breaker).expect("snapshot serializes"));
            texts.push(format!("{:?}", api.client.rate_limit_snapshot()));
        }
        let logs = self.logs.text();
        assert!(
            logs.contains("VPSie API answered"),
            "the log capture saw no client event:\n{logs}"
        );
        texts.push(logs);
        let secrets = self.secrets.borrow();
        assert_no_secret(&texts, &secrets);
    }
}

/// Fails when any of `texts` holds any of `secrets` or an issued token; the failure message
/// shows the text with the secret masked, never the secret.
pub fn assert_no_secret(texts: &[String], secrets: &[String]) {
    let needles: Vec<&str> = secrets
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .chain(ISSUED_TOKEN_PREFIXES)
        .collect();
    assert!(texts.iter().any(|t| !t.is_empty()), "nothing was collected");
    for (i, text) in texts.iter().enumerate() {
        for (j, needle) in needles.iter().enumerate() {
            if text.contains(needle) {
                panic!(
                    "output #{i} leaks secret #{j}:\n{}",
                    text.replace(needle, "<SECRET>")
                );
            }
        }
    }
}

/// A create request for the sim's default catalogue.
pub fn vm_request(hostname: &str, tags: &[&str]) -> CreateVpsRequest {
    CreateVpsRequest {
        name: hostname.to_string(),
        hostname: hostname.to_string(),
        offering_id: "small-2cpu-4gb".to_string(),
        datacenter_id: "dc-us-east-1".to_string(),
        os_image_id: "ubuntu-22.04-lts".to_string(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        notes: "created by tests/cloud_client.rs".to_string(),
        ..CreateVpsRequest::default()
    }
}

/// A loopback server answering the VPSie paths in ways the sim cannot: a non-JSON `200`
/// (`GET /vm`), a JSON `200` of the wrong shape (`GET /offerings`), and answers that echo the
/// credentials sent (`POST /auth/from/api` echoes the form with the client secret,
/// `GET /images` answers 500 quoting the `Authorization` header, `GET /datacenters` answers a
/// non-JSON 200 quoting it).
pub struct OddServer {
    /// `http://127.0.0.1:PORT/v2`.
    pub base_url: String,
    /// Requests received.
    pub hits: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for OddServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn authorization(headers: &HeaderMap) -> String {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string()
}

impl OddServer {
    /// Starts it on 127.0.0.1:0.
    pub async fn start() -> OddServer {
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = |hits: &Arc<AtomicUsize>| {
            hits.fetch_add(1, Ordering::SeqCst);
        };
        let (h1, h2, h3, h4, h5) = (
            hits.clone(),
            hits.clone(),
            hits.clone(),
            hits.clone(),
            hits.clone(),
        );
        let app = Router::new()
            .route(
                "/v2/auth/from/api",
                post(move |body: Bytes| async move {
                    counted(&h1);
                    let echoed = String::from_utf8_lossy(&body).into_owned();
                    let body = serde_json::json!({
                        "error": true, "code": 401,
                        "message": format!("refused login {echoed}"),
                    });
                    (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
                }),
            )
            .route(
                "/v2/vm",
                get(move || async move {
                    counted(&h2);
                    (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "text/html")],
                        "<html><body>Scheduled maintenance</body></html>",
                    )
                        .into_response()
                }),
            )
            .route(
                "/v2/offerings",
                get(move || async move {
                    counted(&h3);
                    axum::Json(serde_json::json!({"data": "none today", "pagination": null}))
                        .into_response()
                }),
            )
            .route(
                "/v2/images",
                get(move |headers: HeaderMap| async move {
                    counted(&h4);
                    let body = serde_json::json!({
                        "error": "server_error", "code": 500,
                        "message": format!("backend refused {}", authorization(&headers)),
                    });
                    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
                }),
            )
            .route(
                "/v2/datacenters",
                get(move |headers: HeaderMap| async move {
                    counted(&h5);
                    let text: Response = (
                        StatusCode::OK,
                        format!("auth={} (proxy page)", authorization(&headers)),
                    )
                        .into_response();
                    text
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        OddServer {
            base_url: format!("http://{addr}/v2"),
            hits,
            task,
        }
    }

    /// Requests received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}
