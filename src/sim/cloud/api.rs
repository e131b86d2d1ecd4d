//! The VPSie API routes under the base path (`/v2`); the layer in front of them is in
//! `layer.rs`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FormRejection, PathRejection, QueryRejection};
use axum::extract::{Form, OriginalUri, Path, Query, State};
use axum::http::Method;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use super::layer::{self, Principal};
use super::vm::parse_create;
use super::wire::{body_bytes, envelope, ApiError, Page};
use super::Shared;

/// The path the API is served under, like `https://api.vpsie.com/v2`.
pub const BASE_PATH: &str = "/v2";

/// The `/v2` router.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/auth/from/api", post(login))
        .route("/health", get(health))
        .route("/vm", get(list_vms).post(create_vm))
        .route("/vm/{id}", get(get_vm).delete(delete_vm))
        .route("/vm/{id}/action", post(vm_action))
        .route("/offerings", get(list_offerings))
        .route("/offerings/{id}", get(get_offering))
        .route("/datacenters", get(list_datacenters))
        .route("/images", get(list_images))
        .merge(super::k8s::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            layer::api_layer,
        ))
        .with_state(shared)
}

async fn not_found(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::not_found(format!("No such endpoint: {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(
        405,
        format!("Method {method} is not allowed on {}", uri.path()),
    )
}

fn auth_error(status: u16, message: &str) -> Response {
    let code =
        axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_REQUEST);
    (
        code,
        Json(json!({"error": true, "code": status, "message": message})),
    )
        .into_response()
}

async fn login(
    State(shared): State<Arc<Shared>>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let Form(fields) = match form {
        Ok(f) => f,
        Err(e) => {
            return auth_error(
                400,
                &format!(
                    "Invalid login body ({}): send application/x-www-form-urlencoded with clientId and clientSecret",
                    e.body_text()
                ),
            )
        }
    };
    let field = |name: &str| fields.get(name).filter(|v| !v.is_empty());
    let (Some(client_id), Some(secret)) = (field("clientId"), field("clientSecret")) else {
        let missing = if field("clientId").is_none() {
            "clientId"
        } else {
            "clientSecret"
        };
        return auth_error(400, &format!("Missing form field `{missing}`"));
    };
    let now = shared.clock.now();
    let tokens = shared.lock().login(client_id, secret, now);
    let mut response = match tokens {
        Some(t) => Json(json!({
            "error": false,
            "code": 200,
            "message": "Login successful",
            "accessToken": {"token": t.access, "expires": super::wire::timestamp(t.access_expires)},
            "refreshToken": {"token": t.refresh, "expires": super::wire::timestamp(t.refresh_expires)},
        }))
        .into_response(),
        None => auth_error(401, "Invalid client credentials"),
    };
    response
        .extensions_mut()
        .insert(Principal(client_id.clone()));
    response
}

async fn health(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({
        "error": false,
        "code": 200,
        "message": "OK",
        "status": "ok",
        "time": super::wire::timestamp(shared.clock.now()),
    }))
}

fn page_of(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<(Page, Vec<(String, String)>), ApiError> {
    let Query(params) = query
        .map_err(|e| ApiError::bad_request(format!("Invalid query string: {}", e.body_text())))?;
    let page = Page::from_query(params.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    Ok((page, params))
}

fn vm_id(path: Result<Path<String>, PathRejection>) -> Result<u64, ApiError> {
    let Path(raw) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    raw.parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!(
            "VM id {raw:?} is invalid: use the numeric `id` of the VPS"
        ))
    })
}

async fn list_vms(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (page, _) = page_of(query)?;
    shared.observe();
    let now = shared.clock.now();
    let items = shared
        .lock()
        .live_vms()
        .iter()
        .map(|v| v.to_wire(now))
        .collect();
    Ok(Json(envelope(items, page)))
}

async fn create_vm(
    State(shared): State<Arc<Shared>>,
    Extension(Principal(principal)): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body)?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "Invalid JSON body: {e}: send a CreateVPS JSON object"
        ))
    })?;
    let req = parse_create(&value).map_err(ApiError::bad_request)?;
    let now = shared.clock.now();
    let vm = shared.lock().create_vm(req, Some(principal), now)?;
    shared.bump();
    let mut response = Json(vm.to_wire(now)).into_response();
    response.extensions_mut().insert(layer::CreatedVm(vm.id));
    Ok(response)
}

async fn get_vm(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = vm_id(path)?;
    shared.observe();
    let now = shared.clock.now();
    let st = shared.lock();
    let vm = st
        .live_vm(id)
        .ok_or_else(|| ApiError::not_found(format!("VM not found: {id}")))?;
    Ok(Json(vm.to_wire(now)))
}

async fn delete_vm(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = vm_id(path)?;
    let now = shared.clock.now();
    let vm = shared.lock().delete_vm(id, now)?;
    shared.bump();
    Ok(Json(json!({
        "error": false,
        "code": 200,
        "message": format!("VM {id} deleted"),
        "data": {"id": vm.id, "identifier": vm.identifier.to_string()},
    })))
}

async fn vm_action(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body_bytes(body)?;
    let id = vm_id(path)?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "Invalid JSON body: {e}: send {{\"action\": \"start|stop|restart\"}}"
        ))
    })?;
    let action = match value.get("action") {
        Some(Value::String(a)) => a.clone(),
        Some(_) => {
            return Err(ApiError::bad_request(
                "field `action` must be a string: start, stop or restart",
            ))
        }
        None => {
            return Err(ApiError::bad_request(
                "missing required field `action`: start, stop or restart",
            ))
        }
    };
    let now = shared.clock.now();
    let vm = shared.lock().vm_action(id, &action, now)?;
    shared.bump();
    Ok(Json(json!({
        "error": false,
        "code": 200,
        "message": format!("Action {action} done on VM {id}"),
        "data": vm.to_wire(now),
    })))
}

fn offering_wire(o: &super::catalogue::Offering, dc: Option<&str>) -> Value {
    let datacenter_id = dc
        .map(str::to_owned)
        .or_else(|| o.datacenter_ids.first().cloned())
        .unwrap_or_default();
    json!({
        "id": o.id,
        "boxsize_id": o.boxsize_id,
        "name": o.name,
        "cpu": o.cpu,
        "ram": o.ram,
        "disk": o.disk,
        "bandwidth": o.bandwidth,
        "price": o.price,
        "hourly_price": o.hourly_price,
        "available": o.available,
        "datacenter_id": datacenter_id,
        "datacenter_ids": o.datacenter_ids,
        "category": o.category,
    })
}

async fn list_offerings(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (page, params) = page_of(query)?;
    let dc = params
        .iter()
        .find(|(k, _)| k == "datacenter_id")
        .map(|(_, v)| v.as_str());
    let st = shared.lock();
    if let Some(dc) = dc {
        if st.catalogue.datacenter(dc).is_none() {
            return Err(ApiError::not_found(format!("Datacenter not found: {dc}")));
        }
    }
    let items = st
        .catalogue
        .offerings
        .iter()
        .filter(|o| dc.is_none_or(|d| o.sold_in(d)))
        .map(|o| offering_wire(o, dc))
        .collect();
    Ok(Json(envelope(items, page)))
}

async fn get_offering(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let st = shared.lock();
    let o = st
        .catalogue
        .offering(&id)
        .ok_or_else(|| ApiError::not_found(format!("Instance type not available: {id}")))?;
    Ok(Json(offering_wire(o, None)))
}

async fn list_datacenters(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (page, _) = page_of(query)?;
    let items = shared
        .lock()
        .catalogue
        .datacenters
        .iter()
        .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
        .collect();
    Ok(Json(envelope(items, page)))
}

async fn list_images(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (page, _) = page_of(query)?;
    let items = shared
        .lock()
        .catalogue
        .images
        .iter()
        .map(|i| serde_json::to_value(i).unwrap_or(Value::Null))
        .collect();
    Ok(Json(envelope(items, page)))
}
