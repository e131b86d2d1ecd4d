//! The object store: every object of every resource, one global resourceVersion, a bounded
//! watch-event window per resource, and every write path (create, update, patch, delete, status)
//! used by both the HTTP handlers and in-process callers (simulated kubelets, scheduler).
//!
//! Objects are kept as `Arc<serde_json::Value>` in a `BTreeMap` keyed by (namespace, name) per
//! resource; a list only clones `Arc`s. Writes take one short lock, bump the resourceVersion, and
//! publish the event to a per-resource broadcast channel, so watchers see every change in order.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::SecondsFormat;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::convert;
use super::error::StatusError;
use super::object::Stored;
use super::patch::{self, PatchKind};
use super::registry::{self, Registry, ResourceInfo};
use super::schema::{self, CelEngine};
use super::selectors::{
    selector_meta_matches, selector_object_matches, FieldSelector, LabelSelector,
};
use crate::clock::SharedClock;
use axum::body::Bytes;

mod inner;
mod pods;
mod types;
mod watch;

pub use pods::{desired_healthy, pod_healthy};
pub use types::*;
pub use watch::Watch;

type Key = (String, String);

struct Res {
    objects: BTreeMap<Key, Arc<Stored>>,
    events: VecDeque<Arc<WatchEvent>>,
    /// A watch may start at any resourceVersion >= this one.
    oldest_watchable: u64,
    tx: broadcast::Sender<Arc<WatchEvent>>,
}

impl Res {
    fn new(rv: u64, channel: usize) -> Self {
        Self {
            objects: BTreeMap::new(),
            events: VecDeque::new(),
            oldest_watchable: rv,
            tx: broadcast::channel(channel.max(16)).0,
        }
    }
}

struct Inner {
    rv: u64,
    registry: Registry,
    data: HashMap<Key, Res>,
    cel: CelEngine,
    /// Owner uid -> (storage, key) of every object whose ownerReferences name it.
    owners: HashMap<String, BTreeSet<(Key, Key)>>,
    /// (storage, key) -> field manager -> its last server-side applied configuration.
    applied: HashMap<(Key, Key), BTreeMap<String, Value>>,
}

fn owner_uids(s: &Stored) -> impl Iterator<Item = &str> {
    s.meta()
        .get("ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uid").and_then(Value::as_str))
}

/// The store. Cheap to share (`Arc<Store>`).
pub struct Store {
    inner: Mutex<Inner>,
    clock: SharedClock,
    config: StoreConfig,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("resource_version", &self.current_rv())
            .finish()
    }
}

fn meta_str<'a>(o: &'a Value, field: &str) -> Option<&'a str> {
    o.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
}

fn meta_mut(o: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !o.get("metadata").is_some_and(Value::is_object) {
        o["metadata"] = json!({});
    }
    match o.get_mut("metadata").and_then(Value::as_object_mut) {
        Some(m) => m,
        None => unreachable!("metadata was just made an object"),
    }
}

fn finalizers_of(o: &Value) -> usize {
    o.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0)
}

fn random_suffix() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The continue token of a page ending at `last`, for a list served at `rv`.
fn encode_continue(rv: u64, last: &Key) -> String {
    format!("{rv}/{}/{}", last.0, last.1)
}

fn decode_continue(token: &str) -> Result<(u64, Key), StatusError> {
    let bad = || {
        StatusError::bad_request(format!(
            "continue key is not valid: {token:?}: pass the metadata.continue of the previous page unchanged"
        ))
    };
    let mut parts = token.splitn(3, '/');
    let rv = parts.next().and_then(|r| r.parse().ok()).ok_or_else(bad)?;
    let ns = parts.next().ok_or_else(bad)?.to_string();
    let name = parts.next().ok_or_else(bad)?.to_string();
    Ok((rv, (ns, name)))
}

/// Every namespace present at start.
pub const BUILTIN_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

impl Store {
    /// An empty store with the builtin resources registered.
    pub fn new(clock: SharedClock, config: StoreConfig) -> Self {
        let registry = Registry::builtin();
        let mut data = HashMap::new();
        for info in registry.all() {
            data.entry(info.storage.clone())
                .or_insert_with(|| Res::new(1, config.watch_channel));
        }
        Self {
            inner: Mutex::new(Inner {
                rv: 1,
                registry,
                data,
                cel: CelEngine::default(),
                owners: HashMap::new(),
                applied: HashMap::new(),
            }),
            clock,
            config,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The clock stamping creation and deletion times.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The current global resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// A snapshot of the registry (for discovery and OpenAPI).
    pub fn registry(&self) -> Registry {
        self.lock().registry.clone()
    }

    /// The resource served at `gvr`, or 404 like the real server.
    pub fn resolve(&self, gvr: &Gvr) -> Result<Arc<ResourceInfo>, StatusError> {
        resolve(&self.lock().registry, gvr)
    }

    /// Gets one object.
    pub fn get(&self, gvr: &Gvr, ns: Option<&str>, name: &str) -> Result<Arc<Value>, StatusError> {
        let inner = self.lock();
        let info = resolve(&inner.registry, gvr)?;
        let key = obj_key(&info, ns, name);
        inner
            .data
            .get(&res_key(&info))
            .and_then(|r| r.objects.get(&key))
            .map(|o| view(&info, o))
            .ok_or_else(|| info.not_found(name))
    }

    /// Lists objects (all namespaces when `ns` is `None`), filtered and paged.
    pub fn list(
        &self,
        gvr: &Gvr,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<ObjectList, StatusError> {
        self.list_with(gvr, ns, opts, view)
    }

    /// Like [`Store::list`], with each object's JSON as served (no parsing when stored in the
    /// served form): what the HTTP list answers are made of.
    pub fn list_json(
        &self,
        gvr: &Gvr,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<ObjectList<Bytes>, StatusError> {
        self.list_with(gvr, ns, opts, view_bytes)
    }

    fn list_with<T>(
        &self,
        gvr: &Gvr,
        ns: Option<&str>,
        opts: &ListOptions,
        serve: fn(&ResourceInfo, &Stored) -> T,
    ) -> Result<ObjectList<T>, StatusError> {
        let inner = self.lock();
        let info = resolve(&inner.registry, gvr)?;
        let labels = LabelSelector::parse(opts.label_selector.as_deref().unwrap_or(""))?;
        let fields = FieldSelector::parse(opts.field_selector.as_deref().unwrap_or(""), &info)?;
        let (list_rv, start) = match opts.continue_token.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => {
                let (rv, key) = decode_continue(t)?;
                (rv, Some(key))
            }
            None => (inner.rv, None),
        };
        let limit = opts.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let Some(res) = inner.data.get(&res_key(&info)) else {
            return Err(info.not_found(""));
        };
        use std::ops::Bound;
        let lower = match (&start, ns.filter(|_| info.namespaced)) {
            (Some(k), _) => Bound::Excluded(k.clone()),
            (None, Some(n)) => Bound::Included((n.to_string(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        let mut items = Vec::new();
        let mut continue_token = None;
        let mut remaining = 0usize;
        let mut last: Option<Key> = None;
        for (k, o) in res.objects.range((lower, Bound::Unbounded)) {
            if let Some(n) = ns.filter(|_| info.namespaced) {
                if k.0 != n {
                    break;
                }
            }
            let selected = if info.converts() {
                let v = view(&info, o);
                labels.matches(&v) && fields.matches(&v)
            } else {
                labels.matches_meta(o.meta()) && fields.matches_stored(o)
            };
            if !selected {
                continue;
            }
            if items.len() >= limit {
                remaining += 1;
                continue;
            }
            items.push(o.clone());
            last = Some(k.clone());
        }
        if remaining > 0 {
            if let Some(l) = &last {
                continue_token = Some(encode_continue(list_rv, l));
            }
        }
        drop(inner);
        // Parse or copy outside the lock.
        let items = items.iter().map(|o| serve(&info, o)).collect();
        Ok(ObjectList {
            info,
            items,
            resource_version: list_rv.to_string(),
            continue_token,
            remaining: (remaining > 0).then_some(remaining),
        })
    }

    /// Creates an object (`generateName`, uid, creationTimestamp, resourceVersion, generation).
    pub fn create(
        &self,
        gvr: &Gvr,
        ns: Option<&str>,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, StatusError> {
        let now = self.now();
        let mut inner = self.lock();
        let info = resolve(&inner.registry, gvr)?;
        inner.create(&info, ns, obj, opts, &now, &self.config)
    }

    /// Replaces an object (`PUT`). `subresource` is `Some("status")` for `/status`.
    /// A non-empty `metadata.resourceVersion` that is not the live one answers 409 Conflict.
    pub fn update(
        &self,
        gvr: &Gvr,
        ns: Option<&str>,
        name: &str,
        obj: Value,
        subresource: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, StatusError> {
        let now = self.now();
        let mut inner = self.lock();
        let info = resolve(&inner.registry, gvr)?;
        if !obj.is_object() {
            return Err(StatusError::bad_request("the body must be a JSON object"));
        }
        if let Some(body_name) = meta_str(&obj, "name") {
            if body_name != name {
                return Err(StatusError::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
        }
        let key = obj_key(&info, ns, name);
        let old = inner
            .lookup(&info, &key)
            .ok_or_else(|| info.not_found(name))?;
        if let Some(rv) = meta_str(&obj, "resourceVersion").filter(|r| !r.is_empty()) {
            if Some(rv) != meta_str(&old, "resourceVersion") {
                return Err(conflict(&info, name));
            }
        }
        let view = versioned(&info, &old);
        let new = to_storage(&info, prepare_update(&info, &view, obj, subresource));
        inner.commit(&info, &key, Some(old), new, opts, &now, &self.config)
    }

    /// Patches an object. A server-side apply (`PatchKind::Apply`) of a missing object creates it.
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        gvr: &Gvr,
        ns: Option<&str>,
        name: &str,
        kind: PatchKind,
        body: &[u8],
        subresource: Option<&str>,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, StatusError> {
        let now = self.now();
        let mut inner = self.lock();
        let info = resolve(&inner.registry, gvr)?;
        if kind == PatchKind::Strategic && info.custom {
            return Err(StatusError::unsupported_media_type(
                "application/strategic-merge-patch+json",
            ));
        }
        let key = obj_key(&info, ns, name);
        // Server-side apply remembers each manager's last applied configuration.
        let manager = format!(
            "{}{}",
            opts.field_manager.as_deref().unwrap_or(""),
            subresource.map(|s| format!("/{s}")).unwrap_or_default()
        );
        let akey = (res_key(&info), key.clone());
        let Some(old) = inner.lookup(&info, &key) else {
            if kind == PatchKind::Apply && subresource.is_none() {
                let mut obj = patch::parse_apply(body)?;
                meta_mut(&mut obj).insert("name".into(), json!(name));
                let applied = obj.clone();
                let created = inner.create(&info, ns, obj, opts, &now, &self.config)?;
                if !opts.dry_run {
                    inner
                        .applied
                        .entry(akey)
                        .or_default()
                        .insert(manager, applied);
                }
                return Ok(created);
            }
            return Err(info.not_found(name));
        };
        let view = versioned(&info, &old);
        let mut target = (*view).clone();
        let mut applied = None;
        if kind == PatchKind::Apply {
            let config = patch::parse_apply(body)?;
            if let Some(managers) = inner.applied.get(&akey) {
                if let Some(prev) = managers.get(&manager) {
                    let others: Vec<&Value> = managers
                        .iter()
                        .filter(|(m, _)| **m != manager)
                        .map(|(_, v)| v)
                        .collect();
                    patch::remove_unapplied(&mut target, prev, &config, &others);
                }
            }
            patch::apply_merge(&mut target, &config);
            applied = Some(config);
        } else {
            patch::apply_patch(kind, &mut target, body)?;
        }
        let old_rv = meta_str(&old, "resourceVersion").unwrap_or("");
        match meta_str(&target, "resourceVersion") {
            Some(rv) if !rv.is_empty() && rv != old_rv => return Err(conflict(&info, name)),
            _ => {}
        }
        if meta_str(&target, "name").is_some_and(|n| n != name) {
            return Err(StatusError::bad_request(format!(
                "metadata.name: Invalid value: the patch changes the name to {:?}; names are immutable",
                meta_str(&target, "name").unwrap_or("")
            )));
        }
        let new = to_storage(&info, prepare_update(&info, &view, target, subresource));
        let out = inner.commit(&info, &key, Some(old), new, opts, &now, &self.config)?;
        if let (Some(config), false) = (applied, opts.dry_run) {
            if inner.lookup(&info, &key).is_some() {
                inner
                    .applied
                    .entry(akey)
                    .or_default()
                    .insert(manager, config);
            }
        }
        Ok(out)
    }

    /// Deletes an object: objects with finalizers get a deletionTimestamp and stay; dependents
    /// (by ownerReference uid) follow the propagation policy.
    pub fn delete(
        &self,
        gvr: &Gvr,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<DeleteOutcome, StatusError> {
        let now = self.now();
        let mut inner = self.lock();
        let info = resolve(&inner.registry, gvr)?;
        inner.delete(&info, ns, name, opts, &now, &self.config)
    }

    /// Deletes every object a list with `opts` would return (`deletecollection`).
    pub fn delete_collection(
        &self,
        gvr: &Gvr,
        ns: Option<&str>,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> Result<Vec<Arc<Value>>, StatusError> {
        let items = self.list(gvr, ns, list)?.items;
        let now = self.now();
        let mut inner = self.lock();
        let info = resolve(&inner.registry, gvr)?;
        let mut out = Vec::new();
        for o in items {
            let name = meta_str(&o, "name").unwrap_or("").to_string();
            let ns = meta_str(&o, "namespace").map(str::to_string);
            match inner.delete(&info, ns.as_deref(), &name, opts, &now, &self.config) {
                Ok(DeleteOutcome::Deleted(o) | DeleteOutcome::Pending(o)) => out.push(o),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Starts a watch. Events after `resourceVersion` are replayed from the window; an older
    /// version answers 410 Gone. Without a version (or `"0"`), current objects come first as ADDED.
    pub fn watch(
        &self,
        gvr: &Gvr,
        ns: Option<&str>,
        opts: &WatchOptions,
    ) -> Result<Watch, StatusError> {
        let inner = self.lock();
        let info = resolve(&inner.registry, gvr)?;
        let labels = LabelSelector::parse(opts.label_selector.as_deref().unwrap_or(""))?;
        let fields = FieldSelector::parse(opts.field_selector.as_deref().unwrap_or(""), &info)?;
        let res = inner
            .data
            .get(&res_key(&info))
            .ok_or_else(|| info.not_found(""))?;
        let from = match opts.resource_version.as_deref() {
            None | Some("") | Some("0") => None,
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                StatusError::bad_request(format!(
                    "resourceVersion: Invalid value: {v:?}: must be the resourceVersion of a list or object"
                ))
            })?),
        };
        let mut backlog = VecDeque::new();
        match from {
            None => {
                for o in res.objects.values() {
                    if ns.is_none_or(|n| o.meta_str("namespace") == Some(n)) {
                        backlog.push_back(Arc::new(WatchEvent {
                            kind: EventType::Added,
                            rv: inner.rv,
                            object: o.clone(),
                            prev: None,
                        }));
                    }
                }
            }
            Some(v) => {
                if v < res.oldest_watchable {
                    return Err(StatusError::gone(format!(
                        "too old resource version: {v} ({})",
                        res.oldest_watchable
                    )));
                }
                for e in res.events.iter().filter(|e| e.rv > v) {
                    backlog.push_back(e.clone());
                }
            }
        }
        Ok(Watch {
            info,
            ns: ns.map(str::to_string),
            labels,
            fields,
            backlog,
            rx: res.tx.subscribe(),
            start_rv: inner.rv,
        })
    }

    fn now(&self) -> String {
        self.clock.now().to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// Why `name` is not a valid object name, like the real server: namespaces need an RFC 1123
/// label, everything else an RFC 1123 subdomain.
pub fn invalid_name(info: &ResourceInfo, name: &str) -> Option<String> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if info.group.is_empty() && info.plural == "namespaces" {
        if name.len() > 63 || !label_ok(name) {
            return Some("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".into());
        }
        return None;
    }
    if name.len() > 253 || !name.split('.').all(label_ok) {
        return Some("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into());
    }
    None
}

fn conflict(info: &ResourceInfo, name: &str) -> StatusError {
    StatusError::conflict(&info.qualified(), (&info.plural, &info.group), name)
}

fn resolve(registry: &Registry, gvr: &Gvr) -> Result<Arc<ResourceInfo>, StatusError> {
    registry
        .get(&gvr.group, &gvr.version, &gvr.resource)
        .ok_or_else(|| {
            StatusError::new(
                404,
                "NotFound",
                "the server could not find the requested resource",
            )
            .with_details(json!({"group": gvr.group, "kind": gvr.resource}))
        })
}

fn res_key(info: &ResourceInfo) -> Key {
    info.storage.clone()
}

/// The object in storage form (events.k8s.io events are stored as core events).
fn to_storage(info: &ResourceInfo, obj: Value) -> Value {
    if info.converts() {
        convert::events_v1_to_core(&obj)
    } else {
        obj
    }
}

fn obj_key(info: &ResourceInfo, ns: Option<&str>, name: &str) -> Key {
    let ns = if info.namespaced {
        ns.unwrap_or("")
    } else {
        ""
    };
    (ns.to_string(), name.to_string())
}

/// The object as served at `info`'s version (CRDs with several versions share storage).
fn versioned(info: &ResourceInfo, o: &Arc<Value>) -> Arc<Value> {
    if info.converts() {
        return Arc::new(convert::core_to_events_v1(o));
    }
    let want = info.api_version();
    if o.get("apiVersion").and_then(Value::as_str) == Some(want.as_str()) {
        o.clone()
    } else {
        let mut v = (**o).clone();
        v["apiVersion"] = json!(want);
        Arc::new(v)
    }
}

/// A stored object as served at `info`'s version.
fn view(info: &ResourceInfo, s: &Stored) -> Arc<Value> {
    versioned(info, &Arc::new(s.decode()))
}

/// A stored object's JSON as served at `info`'s version (no parsing when it is already in form).
fn view_bytes(info: &ResourceInfo, s: &Stored) -> Bytes {
    if !info.converts() && s.api_version() == info.api_version() {
        s.json().clone()
    } else {
        Bytes::from(serde_json::to_vec(&*view(info, s)).unwrap_or_default())
    }
}

/// Applies the status-subresource rules and keeps immutable metadata from `old`.
fn prepare_update(info: &ResourceInfo, old: &Value, mut new: Value, sub: Option<&str>) -> Value {
    if sub == Some("status") {
        let mut merged = old.clone();
        match new.get_mut("status").map(Value::take) {
            Some(s) => merged["status"] = s,
            None => {
                if let Some(o) = merged.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        return merged;
    }
    if info.has_status {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
    let m = meta_mut(&mut new);
    for f in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "name",
        "namespace",
    ] {
        match old.get("metadata").and_then(|om| om.get(f)) {
            Some(v) => {
                m.insert(f.to_string(), v.clone());
            }
            None => {
                m.remove(f);
            }
        }
    }
    new
}

/// Whether anything besides metadata (and status, when it is a subresource) differs.
fn spec_changed(info: &ResourceInfo, old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("metadata");
            if info.has_status {
                o.remove("status");
            }
        }
        v
    };
    strip(old) != strip(new)
}

impl Store {
    /// Creates the builtin namespaces.
    pub fn seed(&self) -> Result<(), StatusError> {
        for ns in BUILTIN_NAMESPACES {
            self.create(
                &Gvr::core("namespaces"),
                None,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                &WriteOptions::default(),
            )?;
        }
        Ok(())
    }
}
