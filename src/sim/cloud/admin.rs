//! The admin API under `/admin` (no auth; the sim only listens on loopback). See the module
//! documentation of [`crate::sim::cloud`] for the list of endpoints.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::http::Method;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::faults::FaultRule;
use super::wire::ApiError;
use super::Shared;

/// The `/admin` router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/state", get(state))
        .route("/requests", get(requests))
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/tokens/expire", post(expire_tokens))
        .route("/accounts", get(accounts).post(add_account))
        .route("/accounts/{id}", delete(revoke_account))
        .route("/boot", post(boot))
        .route("/vms/{id}/boot", post(vm_boot))
        .route("/quota", post(quota))
        .fallback(not_found)
        .with_state(shared)
}

fn parse<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid {what} JSON body: {e}")))
}

fn ok(message: impl Into<String>) -> Json<Value> {
    Json(json!({"error": false, "code": 200, "message": message.into()}))
}

async fn not_found(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("No such admin endpoint: {method} {}", uri.path()))
}

async fn state(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared.observe();
    let st = shared.lock();
    Json(json!({
        "vms": st.live_vms(),
        "history": st.history(),
        "accounts": st.accounts(),
        "faults": st.faults,
        "quota": {"max_vms": st.max_vms, "live_vms": st.live_count()},
        "boot_time_secs": st.boot_time.as_secs_f64(),
        "fail_next_boots": st.fail_next_boots,
        "counters": st.log.counts(),
        "total_requests": st.log.total(),
    }))
}

async fn requests(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({"data": shared.lock().log.records()}))
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({"data": shared.lock().faults}))
}

async fn add_fault(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let rule: FaultRule = parse(&body, "fault rule")?;
    rule.validate()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut st = shared.lock();
    st.faults.push(rule);
    Ok(Json(json!({
        "error": false, "code": 200, "message": "fault rule added", "rules": st.faults.len(),
    })))
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let n = {
        let mut st = shared.lock();
        std::mem::take(&mut st.faults).len()
    };
    ok(format!("{n} fault rules removed"))
}

async fn expire_tokens(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let now = shared.clock.now();
    shared.lock().expire_tokens(now);
    ok("all access tokens expired")
}

async fn accounts(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({"data": shared.lock().accounts()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    #[serde(alias = "clientId")]
    client_id: String,
    #[serde(alias = "clientSecret")]
    client_secret: String,
}

async fn add_account(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let a: NewAccount = parse(&body, "account")?;
    if a.client_id.trim().is_empty() || a.client_secret.is_empty() {
        return Err(ApiError::bad_request(
            "fields `client_id` and `client_secret` must not be empty",
        ));
    }
    shared.lock().add_account(&a.client_id, &a.client_secret);
    Ok(ok(format!("account {} added", a.client_id)))
}

async fn revoke_account(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if shared.lock().revoke_account(&id) {
        Ok(ok(format!("account {id} revoked")))
    } else {
        Err(ApiError::not_found(format!("Account not found: {id}")))
    }
}

fn duration_of(field: &str, secs: f64) -> Result<Duration, ApiError> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        ApiError::bad_request(format!(
            "field `{field}` = {secs} is invalid: give a non-negative number of seconds"
        ))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Boot {
    #[serde(default)]
    boot_time_secs: Option<f64>,
    #[serde(default)]
    fail_next: Option<u32>,
}

async fn boot(State(shared): State<Arc<Shared>>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let b: Boot = parse(&body, "boot")?;
    let d = b
        .boot_time_secs
        .map(|s| duration_of("boot_time_secs", s))
        .transpose()?;
    let mut st = shared.lock();
    if let Some(d) = d {
        st.boot_time = d;
    }
    if let Some(n) = b.fail_next {
        st.fail_next_boots = n;
    }
    Ok(ok("boot settings updated"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VmBoot {
    #[serde(default)]
    boot_time_secs: Option<f64>,
    #[serde(default)]
    fail: Option<bool>,
}

async fn vm_boot(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<u64>, PathRejection>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let b: VmBoot = parse(&body, "VM boot")?;
    let d = b
        .boot_time_secs
        .map(|s| duration_of("boot_time_secs", s))
        .transpose()?;
    if !shared.lock().set_vm_boot(id, d, b.fail) {
        return Err(ApiError::not_found(format!("VM not found: {id}")));
    }
    shared.observe();
    Ok(ok(format!("boot of VM {id} updated")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Quota {
    max_vms: usize,
}

async fn quota(State(shared): State<Arc<Shared>>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let q: Quota = parse(&body, "quota")?;
    shared.lock().max_vms = q.max_vms;
    Ok(ok(format!("quota set to {} VMs", q.max_vms)))
}
