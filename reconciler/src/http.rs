//! The serve runtime's HTTP endpoints: `/metrics`, `/healthz`, `/readyz` (port 8080 by default).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

/// Whether the process is ready to serve, and if not, why.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    inner: Arc<RwLock<Option<String>>>,
}

impl Readiness {
    /// Not ready, for `reason`.
    pub fn new(reason: &str) -> Self {
        let r = Self::default();
        r.not_ready(reason);
        r
    }

    /// Marks the process ready.
    pub fn ready(&self) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Marks the process not ready, for `reason`.
    pub fn not_ready(&self, reason: &str) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = Some(reason.to_string());
    }

    /// `None` when ready, else why not.
    pub fn reason(&self) -> Option<String> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    readiness: Readiness,
}

/// The router of the three endpoints.
pub fn router(registry: Arc<Registry>, readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(AppState {
            registry,
            readiness,
        })
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        crate::metrics::encode(&state.registry),
    )
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.readiness.reason() {
        None => (StatusCode::OK, "ok\n".to_string()),
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}

/// Binds `addr` and returns the bound address and the server future (run it until shutdown).
pub async fn bind(
    addr: SocketAddr,
    registry: Arc<Registry>,
    readiness: Readiness,
) -> std::io::Result<(
    SocketAddr,
    impl std::future::Future<Output = std::io::Result<()>>,
)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = router(registry, readiness);
    Ok((local, async move { axum::serve(listener, app).await }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ControllerMetrics;

    #[tokio::test]
    async fn serves_metrics_health_and_readiness() {
        let mut registry = Registry::default();
        let m = ControllerMetrics::new(&mut registry);
        m.set_group("g", 1, 1, 0);
        let readiness = Readiness::new("caches not synced");
        let (addr, server) = bind(
            "127.0.0.1:0".parse().unwrap(),
            Arc::new(registry),
            readiness.clone(),
        )
        .await
        .unwrap();
        let task = tokio::spawn(server);
        let get = |path: &str| {
            let url = format!("http://{addr}{path}");
            async move {
                let r = reqwest::get(url).await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            }
        };
        assert_eq!(get("/healthz").await, (200, "ok\n".to_string()));
        let (code, body) = get("/readyz").await;
        assert_eq!(code, 503);
        assert!(body.contains("caches not synced"));
        readiness.ready();
        assert_eq!(get("/readyz").await.0, 200);
        let (code, body) = get("/metrics").await;
        assert_eq!(code, 200);
        assert!(
            body.contains("nodegroup_current_nodes{nodegroup=\"g\"} 1"),
            "{body}"
        );
        task.abort();
    }
}
