//! The HTTP face of the server: one axum fallback handler that parses Kubernetes API paths,
//! calls the [`Store`], and answers JSON, `Table`s or a chunked watch stream.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use super::discovery;
use super::error::StatusError;
use super::faults::{self, FaultState, KubeFaultAction, KubeFaultRule, RequestFacts};
use super::patch::PatchKind;
use super::rbac::{self, Attributes, Denial, Denials, Identity, Tokens};
use super::registry::ResourceInfo;
use super::store::{
    DeleteOptions, DeleteOutcome, Gvr, ListOptions, ObjectList, Propagation, Store, WatchOptions,
    WriteOptions,
};
use super::table::{self, IncludeObject};

/// Shared state of the handlers.
#[derive(Clone)]
pub(crate) struct AppState {
    pub store: Arc<Store>,
    pub address: String,
    pub bookmark_interval: Duration,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    pub tokens: Tokens,
    pub denials: Denials,
    pub faults: Arc<std::sync::Mutex<FaultState>>,
    /// Bumped to cut every open watch stream.
    pub cut_watches: Arc<tokio::sync::watch::Sender<u64>>,
    /// How many watch streams are open.
    pub open_watches: Arc<std::sync::atomic::AtomicUsize>,
}

impl AppState {
    fn fault(&self, facts: &RequestFacts<'_>) -> Option<KubeFaultAction> {
        let now = self.store.clock().now();
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .evaluate(facts, now)
    }
}

/// Largest request body accepted (the real server's limit is about 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// The router serving everything.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .fallback(handle)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

fn json_response(code: u16, v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    (
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn error_response(e: &StatusError) -> Response {
    let mut r = json_response(e.code, &e.to_status());
    if let Some(secs) = e
        .details
        .as_ref()
        .and_then(|d| d.get("retryAfterSeconds"))
        .and_then(Value::as_u64)
    {
        if let Ok(v) = header::HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    r
}

/// A watch answered by one `ERROR` event (the stream then ends), as the real server answers
/// a watch from a compacted resourceVersion.
fn watch_error_response(e: &StatusError) -> Response {
    let mut line =
        serde_json::to_vec(&json!({"type": "ERROR", "object": e.to_status()})).unwrap_or_default();
    line.push(b'\n');
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache, private"),
        ],
        line,
    )
        .into_response()
}

fn not_found_path() -> Response {
    error_response(&StatusError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    ))
}

/// The impersonation a request asks for (`kubectl --as`, `--as-group`, `--as-uid`).
fn impersonation(headers: &HeaderMap) -> rbac::Impersonation {
    let one = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    rbac::Impersonation {
        user: one("impersonate-user"),
        groups: headers
            .get_all("impersonate-group")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect(),
        uid: one("impersonate-uid"),
    }
}

async fn handle(
    State(st): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query = match Query::<HashMap<String, String>>::try_from_uri(&uri) {
        Ok(Query(q)) => q,
        Err(e) => {
            return error_response(&StatusError::bad_request(format!(
                "the query string could not be parsed: {e}: percent-encode parameter values"
            )))
        }
    };
    let path = uri.path().to_string();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    tracing::debug!(%method, %uri, "sim apiserver request");
    let identity = match st.tokens.authenticate(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    ) {
        Ok(id) => id,
        Err(e) => return error_response(&e),
    };
    let identity = match rbac::impersonate(&st.store, identity, &impersonation(&headers)) {
        Ok(id) => id,
        Err(e) => return error_response(&e),
    };
    if segs.first() == Some(&"admin") {
        return admin(&st, &identity, &method, &segs[1..], &body);
    }
    let non_resource = !matches!(segs.as_slice(), ["api", _, _, ..] | ["apis", _, _, _, ..]);
    if non_resource {
        let facts = RequestFacts {
            verb: "get",
            admin: identity.is_admin(),
            ..RequestFacts::default()
        };
        if let Some(KubeFaultAction::Unavailable { retry_after_secs }) = st.fault(&facts) {
            return error_response(&faults::unavailable(retry_after_secs));
        }
    }
    let registry = || st.store.registry();
    match segs.as_slice() {
        [] => json_response(
            200,
            &json!({"paths": ["/api", "/api/v1", "/apis", "/openapi/v3", "/version"]}),
        ),
        ["version"] => json_response(200, &discovery::version()),
        ["healthz" | "readyz" | "livez"] => (StatusCode::OK, "ok").into_response(),
        ["api"] => json_response(200, &discovery::api_versions(&st.address)),
        ["apis"] => json_response(200, &discovery::group_list(&registry())),
        ["apis", g] => match discovery::group(&registry(), g) {
            Some(v) => json_response(200, &v),
            None => not_found_path(),
        },
        ["api", v] => match discovery::resource_list(&registry(), "", v) {
            Some(doc) => json_response(200, &doc),
            None => not_found_path(),
        },
        ["apis", g, v] => match discovery::resource_list(&registry(), g, v) {
            Some(doc) => json_response(200, &doc),
            None => not_found_path(),
        },
        ["openapi", "v3"] => json_response(200, &discovery::openapi_index(&registry())),
        ["openapi", "v3", "api", v] => match discovery::openapi_gv(&registry(), "", v) {
            Some(doc) => json_response(200, &doc),
            None => not_found_path(),
        },
        ["openapi", "v3", "apis", g, v] => match discovery::openapi_gv(&registry(), g, v) {
            Some(doc) => json_response(200, &doc),
            None => not_found_path(),
        },
        ["api", v, rest @ ..] => {
            resource(&st, &identity, &method, &headers, &query, body, "", v, rest).await
        }
        ["apis", g, v, rest @ ..] => {
            resource(&st, &identity, &method, &headers, &query, body, g, v, rest).await
        }
        _ => not_found_path(),
    }
}

struct Target<'a> {
    gvr: Gvr,
    ns: Option<&'a str>,
    name: Option<&'a str>,
    sub: Option<&'a str>,
}

fn parse_target<'a>(
    st: &AppState,
    group: &str,
    version: &str,
    rest: &[&'a str],
) -> Option<Target<'a>> {
    let registry = st.store.registry();
    if rest.first() == Some(&"namespaces") && rest.len() >= 3 {
        if let Some(info) = registry.get(group, version, rest[2]) {
            if info.namespaced && rest.len() <= 5 {
                return Some(Target {
                    gvr: Gvr::new(group, version, rest[2]),
                    ns: Some(rest[1]),
                    name: rest.get(3).copied(),
                    sub: rest.get(4).copied(),
                });
            }
        }
    }
    if rest.is_empty() || rest.len() > 3 {
        return None;
    }
    Some(Target {
        gvr: Gvr::new(group, version, rest[0]),
        ns: None,
        name: rest.get(1).copied(),
        sub: rest.get(2).copied(),
    })
}

fn write_options(q: &HashMap<String, String>) -> WriteOptions {
    WriteOptions {
        dry_run: q.get("dryRun").is_some_and(|d| d == "All"),
        strict: q.get("fieldValidation").is_some_and(|v| v == "Strict"),
        field_manager: q.get("fieldManager").cloned(),
        force: q.get("force").is_some_and(|f| f == "true"),
    }
}

fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, StatusError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if ct.contains("yaml") {
        crate::yaml::from_slice(body)
            .map_err(|e| StatusError::bad_request(format!("error decoding YAML body: {e}")))
    } else if ct.contains("protobuf") {
        super::protobuf::decode(body)
    } else {
        serde_json::from_slice(body).map_err(|e| {
            StatusError::bad_request(format!(
                "the body of the request is not valid JSON: {e}: send a JSON object"
            ))
        })
    }
}

/// `Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1` (kube-rs metadata
/// watchers): objects are answered as their metadata only.
fn wants_metadata(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=PartialObjectMetadata"))
}

fn partial(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or(json!({}))})
}

fn partial_bytes(json_bytes: &[u8]) -> Vec<u8> {
    let v: Value = serde_json::from_slice(json_bytes).unwrap_or(Value::Null);
    serde_json::to_vec(&partial(&v)).unwrap_or_default()
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"))
}

#[allow(clippy::too_many_arguments)]
/// The authorizer's view of a request on `t`. Pure.
fn attributes(method: &Method, q: &HashMap<String, String>, t: &Target<'_>) -> Attributes {
    let watch = q.get("watch").is_some_and(|w| w == "true" || w == "1");
    let verb = match (method.as_str(), t.name) {
        ("GET" | "HEAD", None) if watch => "watch",
        ("GET" | "HEAD", None) => "list",
        ("GET" | "HEAD", Some(_)) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", Some(_)) => "delete",
        ("DELETE", None) => "deletecollection",
        (other, _) => other,
    };
    let name = match t.name {
        Some(n) => Some(n.to_string()),
        None if verb == "list" || verb == "watch" => q
            .get("fieldSelector")
            .and_then(|f| rbac::field_selector_name(f)),
        None => None,
    };
    Attributes {
        verb: verb.to_lowercase(),
        group: t.gvr.group.clone(),
        resource: t.gvr.resource.clone(),
        subresource: t.sub.map(str::to_string),
        namespace: t.ns.map(str::to_string),
        name,
    }
}

#[allow(clippy::too_many_arguments)]
async fn resource(
    st: &AppState,
    identity: &Identity,
    method: &Method,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    body: Bytes,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Response {
    let Some(t) = parse_target(st, group, version, rest) else {
        return not_found_path();
    };
    let a = attributes(method, q, &t);
    let resumed = q.get("sendInitialEvents").is_none_or(|v| v != "true")
        && q.get("resourceVersion")
            .is_some_and(|rv| !rv.is_empty() && rv != "0");
    let facts = RequestFacts {
        verb: &a.verb,
        resource: &a.resource,
        subresource: a.subresource.as_deref(),
        namespace: a.namespace.as_deref(),
        admin: identity.is_admin(),
        resumed_watch: resumed,
    };
    match st.fault(&facts) {
        None => {}
        Some(KubeFaultAction::Unavailable { retry_after_secs }) => {
            return error_response(&faults::unavailable(retry_after_secs))
        }
        Some(KubeFaultAction::Conflict) => {
            if let Ok(info) = st.store.resolve(&t.gvr) {
                return error_response(&faults::conflict(
                    &info.qualified(),
                    &info.plural,
                    &info.group,
                    t.name.unwrap_or(""),
                ));
            }
        }
        Some(KubeFaultAction::ExpireWatch) => {
            let rv = q.get("resourceVersion").map(String::as_str).unwrap_or("");
            return watch_error_response(&faults::expired(rv, st.store.current_rv()));
        }
    }
    let is_review = st.store.resolve(&t.gvr).is_ok_and(|i| i.review);
    if !is_review {
        // every identity may ask what it may do (the real system:basic-user binding)
        let a = attributes(method, q, &t);
        if let Err(e) = rbac::authorize(&st.store, identity, &a) {
            st.denials.record(Denial {
                user: identity.user.clone(),
                attributes: a,
                message: e.message.clone(),
            });
            return error_response(&e);
        }
    }
    match serve(st, identity, method, headers, q, body, &t).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

async fn serve(
    st: &AppState,
    identity: &Identity,
    method: &Method,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    body: Bytes,
    t: &Target<'_>,
) -> Result<Response, StatusError> {
    let store = &st.store;
    let info = store.resolve(&t.gvr)?;
    if info.namespaced && t.ns.is_none() && t.name.is_some() {
        return Err(StatusError::not_found(
            &info.qualified(),
            (&info.plural, &info.group),
            t.name.unwrap_or(""),
        ));
    }
    let sub = match t.sub {
        None => None,
        Some("status") if info.has_status => Some("status"),
        Some(s) if info.extra_subresources.iter().any(|x| x == s) => Some(s),
        Some(_) => {
            return Err(StatusError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ))
        }
    };
    let table = wants_table(headers);
    let metadata_only = !table && wants_metadata(headers);
    match (method.as_str(), t.name) {
        ("GET", None) => {
            if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
                return watch_response(st, &info, t, q, table, metadata_only);
            }
            let list = store.list_json(&t.gvr, t.ns, &list_options(q)?)?;
            Ok(list_response(store, &info, list, q, table, metadata_only))
        }
        ("GET", Some(name)) => {
            let obj = store.get(&t.gvr, t.ns, name)?;
            if table {
                let now = store.clock().now();
                let include = IncludeObject::parse(q.get("includeObject").map(String::as_str));
                let tbl = table::table(
                    &info,
                    std::iter::once(&*obj),
                    now,
                    include,
                    json!({"resourceVersion": obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""))}),
                    true,
                );
                return Ok(json_response(200, &tbl));
            }
            if metadata_only {
                return Ok(json_response(200, &partial(&obj)));
            }
            Ok(json_response(200, &obj))
        }
        ("POST", None) => {
            let obj = parse_body(headers, &body)?;
            let created = store.create(&t.gvr, t.ns, obj, &write_options(q))?;
            if info.review {
                let mut review = (*created).clone();
                review["status"] = rbac::review_answer(store, identity, &info.kind, &review);
                return Ok(json_response(201, &review));
            }
            Ok(json_response(201, &created))
        }
        ("POST", Some(name)) => match sub {
            Some("binding") => {
                let b = parse_body(headers, &body)?;
                let node = b
                    .pointer("/target/name")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| {
                        StatusError::invalid(
                            "Binding",
                            "",
                            name,
                            vec![super::error::FieldCause::required("target.name")],
                        )
                    })?;
                store.bind_pod(t.ns.unwrap_or("default"), name, node, &write_options(q))?;
                Ok(json_response(
                    201,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
                ))
            }
            Some("token") => {
                // TokenRequest: a bearer token of the ServiceAccount, which RBAC then
                // authorizes as system:serviceaccount:<ns>:<name>
                let ns = t.ns.unwrap_or("default");
                store.get(&t.gvr, Some(ns), name)?;
                let b = parse_body(headers, &body)?;
                let seconds = b
                    .pointer("/spec/expirationSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(3600);
                let token = st.tokens.issue(&Identity::service_account(ns, name));
                let expires = chrono::Utc::now() + chrono::Duration::seconds(seconds);
                Ok(json_response(
                    201,
                    &json!({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                        "metadata": {"name": name, "namespace": ns},
                        "spec": {"audiences": b.pointer("/spec/audiences").cloned().unwrap_or(json!([])),
                            "expirationSeconds": seconds},
                        "status": {"token": token,
                            "expirationTimestamp": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}}),
                ))
            }
            Some("eviction") => {
                let b = parse_body(headers, &body)?;
                let mut opts = delete_options(q, b.get("deleteOptions"))?;
                if b.pointer("/deleteOptions/dryRun").is_some() {
                    opts.dry_run = true;
                }
                store.evict_pod(t.ns.unwrap_or("default"), name, &opts)?;
                Ok(json_response(
                    201,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
                ))
            }
            _ => Err(StatusError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource: POST {}/{name}",
                info.plural
            ))),
        },
        ("PUT", Some(name)) => {
            let obj = parse_body(headers, &body)?;
            let updated = store.update(&t.gvr, t.ns, name, obj, sub, &write_options(q))?;
            Ok(json_response(200, &updated))
        }
        ("PATCH", Some(name)) => {
            let ct = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let kind = PatchKind::from_content_type(ct)?;
            let existed = kind == PatchKind::Apply && store.get(&t.gvr, t.ns, name).is_ok();
            if kind == PatchKind::Apply && !existed && sub.is_none() {
                // an apply that creates must be allowed to create (the real "create on update")
                let mut a = attributes(method, q, t);
                a.verb = "create".into();
                if let Err(e) = rbac::authorize(store, identity, &a) {
                    st.denials.record(Denial {
                        user: identity.user.clone(),
                        attributes: a,
                        message: e.message.clone(),
                    });
                    return Err(e);
                }
            }
            let patched = store.patch(&t.gvr, t.ns, name, kind, &body, sub, &write_options(q))?;
            let code = if kind == PatchKind::Apply && !existed {
                201
            } else {
                200
            };
            Ok(json_response(code, &patched))
        }
        ("DELETE", Some(name)) => {
            let b: Option<Value> = if body.is_empty() {
                None
            } else {
                Some(parse_body(headers, &body)?)
            };
            let opts = delete_options(q, b.as_ref())?;
            match store.delete(&t.gvr, t.ns, name, &opts)? {
                DeleteOutcome::Pending(o) => Ok(json_response(200, &o)),
                DeleteOutcome::Deleted(o) => {
                    let uid = o.pointer("/metadata/uid").cloned().unwrap_or(json!(""));
                    Ok(json_response(
                        200,
                        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                            "details": {"name": name, "group": info.group, "kind": info.plural, "uid": uid}}),
                    ))
                }
            }
        }
        ("DELETE", None) => {
            let b: Option<Value> = if body.is_empty() {
                None
            } else {
                Some(parse_body(headers, &body)?)
            };
            let opts = delete_options(q, b.as_ref())?;
            let deleted = store.delete_collection(&t.gvr, t.ns, &list_options(q)?, &opts)?;
            let items: Vec<Value> = deleted.iter().map(|o| (**o).clone()).collect();
            Ok(json_response(
                200,
                &json!({"kind": info.list_kind, "apiVersion": info.api_version(), "metadata": {"resourceVersion": store.current_rv().to_string()}, "items": items}),
            ))
        }
        (m, _) => Err(StatusError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({m})"
        ))),
    }
}

fn list_options(q: &HashMap<String, String>) -> Result<ListOptions, StatusError> {
    let limit = match q.get("limit").filter(|l| !l.is_empty()) {
        Some(l) => Some(l.parse::<usize>().map_err(|_| {
            StatusError::bad_request(format!(
                "limit: Invalid value: {l:?}: must be a non-negative integer"
            ))
        })?),
        None => None,
    };
    Ok(ListOptions {
        label_selector: q.get("labelSelector").cloned(),
        field_selector: q.get("fieldSelector").cloned(),
        limit,
        continue_token: q.get("continue").cloned(),
    })
}

fn delete_options(
    q: &HashMap<String, String>,
    body: Option<&Value>,
) -> Result<DeleteOptions, StatusError> {
    let policy = body
        .and_then(|b| b.get("propagationPolicy"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| q.get("propagationPolicy").cloned());
    let propagation = match policy.as_deref() {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(StatusError::bad_request(format!(
                "propagationPolicy: Unsupported value: {other:?}: supported values: \"Background\", \"Foreground\", \"Orphan\""
            )))
        }
    };
    let body_dry = body
        .and_then(|b| b.get("dryRun"))
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|d| d == "All"));
    let orphan = body
        .and_then(|b| b.get("orphanDependents"))
        .and_then(Value::as_bool)
        == Some(true);
    Ok(DeleteOptions {
        dry_run: body_dry || q.get("dryRun").is_some_and(|d| d == "All"),
        propagation: if orphan {
            Propagation::Orphan
        } else {
            propagation
        },
        precondition_rv: body
            .and_then(|b| b.pointer("/preconditions/resourceVersion"))
            .and_then(Value::as_str)
            .map(str::to_string),
        grace_period_seconds: body
            .and_then(|b| b.get("gracePeriodSeconds"))
            .and_then(Value::as_i64)
            .or_else(|| q.get("gracePeriodSeconds").and_then(|g| g.parse().ok())),
        precondition_uid: body
            .and_then(|b| b.pointer("/preconditions/uid"))
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

fn list_response(
    store: &Store,
    info: &ResourceInfo,
    list: ObjectList<Bytes>,
    q: &HashMap<String, String>,
    table: bool,
    metadata_only: bool,
) -> Response {
    let mut meta = json!({"resourceVersion": list.resource_version});
    if let Some(c) = &list.continue_token {
        meta["continue"] = json!(c);
    }
    if let Some(r) = list.remaining {
        meta["remainingItemCount"] = json!(r);
    }
    if table {
        let include = IncludeObject::parse(q.get("includeObject").map(String::as_str));
        let now = store.clock().now();
        let objects = list.objects();
        let t = table::table(info, objects.iter(), now, include, meta, true);
        return json_response(200, &t);
    }
    // Serialize item by item: no copy of the objects.
    let mut out = Vec::with_capacity(256 + list.items.len() * 1024);
    out.extend_from_slice(b"{\"kind\":");
    if metadata_only {
        out.extend_from_slice(b"\"PartialObjectMetadataList\",\"apiVersion\":\"meta.k8s.io/v1\"");
    } else {
        let _ = serde_json::to_writer(&mut out, &info.list_kind);
        out.extend_from_slice(b",\"apiVersion\":");
        let _ = serde_json::to_writer(&mut out, &info.api_version());
    }
    out.extend_from_slice(b",\"metadata\":");
    let _ = serde_json::to_writer(&mut out, &meta);
    out.extend_from_slice(b",\"items\":[");
    for (i, item) in list.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if metadata_only {
            out.extend_from_slice(&partial_bytes(item));
        } else {
            out.extend_from_slice(item);
        }
    }
    out.extend_from_slice(b"]}");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        out,
    )
        .into_response()
}

fn watch_response(
    st: &AppState,
    info: &Arc<ResourceInfo>,
    t: &Target<'_>,
    q: &HashMap<String, String>,
    table: bool,
    metadata_only: bool,
) -> Result<Response, StatusError> {
    // Streaming lists (`sendInitialEvents=true`): current objects as ADDED, then a bookmark
    // annotated `k8s.io/initial-events-end`.
    let send_initial = q.get("sendInitialEvents").is_some_and(|v| v == "true");
    let opts = WatchOptions {
        resource_version: if send_initial {
            None
        } else {
            q.get("resourceVersion").cloned()
        },
        label_selector: q.get("labelSelector").cloned(),
        field_selector: q.get("fieldSelector").cloned(),
    };
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|b| b == "true");
    let timeout = match q.get("timeoutSeconds").filter(|s| !s.is_empty()) {
        Some(s) => Duration::from_secs(s.parse::<u64>().map_err(|_| {
            StatusError::bad_request(format!(
                "timeoutSeconds: Invalid value: {s:?}: must be a whole number of seconds"
            ))
        })?),
        None => Duration::from_secs(1800),
    };
    let include = IncludeObject::parse(q.get("includeObject").map(String::as_str));
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let store = st.store.clone();
    let info = info.clone();
    let mut shutdown = st.shutdown.clone();
    let interval = st.bookmark_interval;
    let watch = store.watch(&t.gvr, t.ns, &opts);
    let mut cut = st.cut_watches.subscribe();
    let open = st.open_watches.clone();
    open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    tokio::spawn(async move {
        struct Open(Arc<std::sync::atomic::AtomicUsize>);
        impl Drop for Open {
            fn drop(&mut self) {
                self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let _open = Open(open);
        let line = |v: &Value| {
            let mut b = serde_json::to_vec(v).unwrap_or_default();
            b.push(b'\n');
            Bytes::from(b)
        };
        let mut watch = match watch {
            Ok(w) => w,
            Err(e) => {
                let _ = tx
                    .send(line(&json!({"type": "ERROR", "object": e.to_status()})))
                    .await;
                return;
            }
        };
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(interval);
        ticker.tick().await;
        let mut first = true;
        let mut initial_end_pending = send_initial;
        let bookmark = |rv: u64, initial_end: bool| {
            let (kind, api_version) = if metadata_only {
                (
                    "PartialObjectMetadata".to_string(),
                    "meta.k8s.io/v1".to_string(),
                )
            } else {
                (info.kind.clone(), info.api_version())
            };
            let mut meta = json!({"resourceVersion": rv.to_string()});
            if initial_end {
                meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            }
            line(
                &json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version, "metadata": meta}}),
            )
        };
        loop {
            if initial_end_pending && watch.backlog_empty() {
                initial_end_pending = false;
                if tx.send(bookmark(watch.start_rv(), true)).await.is_err() {
                    break;
                }
            }
            tokio::select! {
                _ = &mut deadline => break,
                _ = shutdown.changed() => break,
                _ = cut.changed() => break,
                _ = tx.closed() => break,
                _ = ticker.tick(), if bookmarks => {
                    let rv = store.current_rv();
                    if watch.idle() && !initial_end_pending && tx.send(bookmark(rv, false)).await.is_err() {
                        break;
                    }
                }
                ev = watch.next_stored() => {
                    match ev {
                        None => break,
                        Some(Err(e)) => {
                            let _ = tx.send(line(&json!({"type": "ERROR", "object": e.to_status()}))).await;
                            break;
                        }
                        Some(Ok((kind, stored))) => {
                            let bytes = if table {
                                let obj = watch.value(&stored);
                                let rvv = obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""));
                                let t = table::table(&info, std::iter::once(&*obj), store.clock().now(), include,
                                    json!({"resourceVersion": rvv}), first);
                                first = false;
                                line(&json!({"type": kind.as_str(), "object": t}))
                            } else {
                                let mut object = watch.json(&stored);
                                if metadata_only {
                                    object = Bytes::from(partial_bytes(&object));
                                }
                                let mut b = Vec::with_capacity(object.len() + 32);
                                b.extend_from_slice(b"{\"type\":\"");
                                b.extend_from_slice(kind.as_str().as_bytes());
                                b.extend_from_slice(b"\",\"object\":");
                                b.extend_from_slice(&object);
                                b.extend_from_slice(b"}\n");
                                Bytes::from(b)
                            };
                            if tx.send(bytes).await.is_err() { break; }
                        }
                    }
                }
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, Infallible>(b), rx))
    });
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache, private"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// `/admin/...` of the API server: fault rules and cutting watches, for the unrestricted admin
/// only (see [`super::faults`]).
fn admin(
    st: &AppState,
    identity: &Identity,
    method: &Method,
    rest: &[&str],
    body: &Bytes,
) -> Response {
    if !identity.is_admin() {
        return error_response(&StatusError::new(
            403,
            "Forbidden",
            format!(
                "User \"{}\" cannot use the simulator's admin API: send the request without a bearer token (as the admin)",
                identity.user
            ),
        ));
    }
    let now = st.store.clock().now();
    let lock = || st.faults.lock().unwrap_or_else(|e| e.into_inner());
    match (method.as_str(), rest) {
        ("GET", ["faults"]) => {
            let f = lock();
            json_response(200, &json!({"rules": f.rules(now), "fired": f.fired()}))
        }
        ("POST", ["faults"]) => {
            let mut v: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => {
                    return error_response(&StatusError::bad_request(format!(
                        "the fault rule is not valid JSON: {e}: send e.g. {{\"action\": {{\"type\": \"conflict\"}}}}"
                    )))
                }
            };
            let for_secs = v.as_object_mut().and_then(|o| o.remove("for_secs"));
            let mut rule: KubeFaultRule = match serde_json::from_value(v) {
                Ok(r) => r,
                Err(e) => {
                    return error_response(&StatusError::bad_request(format!(
                        "the fault rule is invalid: {e}"
                    )))
                }
            };
            if let Some(secs) = for_secs {
                match secs.as_f64().filter(|s| s.is_finite() && *s > 0.0 && *s < 1e7) {
                    Some(s) => {
                        rule.until = Some(now + chrono::Duration::milliseconds((s * 1000.0) as i64))
                    }
                    None => {
                        return error_response(&StatusError::bad_request(format!(
                            "fault rule field `for_secs` = {secs} is invalid: give a positive number of seconds"
                        )))
                    }
                }
            }
            match lock().add(rule) {
                Ok(()) => json_response(200, &json!({"kind": "Status", "status": "Success", "message": "fault rule added"})),
                Err(e) => error_response(&e),
            }
        }
        ("DELETE", ["faults"]) => {
            let n = lock().clear();
            json_response(200, &json!({"kind": "Status", "status": "Success", "message": format!("{n} fault rules removed")}))
        }
        ("POST", ["watches", "cut"]) => {
            let n = cut_watches(st);
            json_response(200, &json!({"kind": "Status", "status": "Success", "message": format!("{n} watches cut"), "cut": n}))
        }
        _ => error_response(&StatusError::new(
            404,
            "NotFound",
            format!(
                "no such admin endpoint: {method} /admin/{}: the API server's admin API has GET/POST/DELETE /admin/faults and POST /admin/watches/cut",
                rest.join("/")
            ),
        )),
    }
}

/// Cuts every open watch stream; how many were open.
pub(crate) fn cut_watches(st: &AppState) -> usize {
    let n = st.open_watches.load(std::sync::atomic::Ordering::SeqCst);
    st.faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .count("watches_cut", n as u64);
    st.cut_watches.send_modify(|g| *g += 1);
    n
}
