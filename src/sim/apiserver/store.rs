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

/// A group/version/resource, e.g. `("", "v1", "pods")`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Gvr {
    /// API group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural resource name.
    pub resource: String,
}

impl Gvr {
    /// A resource of `group`/`version`.
    pub fn new(group: &str, version: &str, resource: &str) -> Self {
        Self {
            group: group.to_string(),
            version: version.to_string(),
            resource: resource.to_string(),
        }
    }

    /// A core/v1 resource (`pods`, `nodes`...).
    pub fn core(resource: &str) -> Self {
        Self::new("", "v1", resource)
    }
}

/// Options of a list.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `limit` (0 or absent = all).
    pub limit: Option<usize>,
    /// `continue` token from a previous page.
    pub continue_token: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct ObjectList {
    /// The resource listed.
    pub info: Arc<ResourceInfo>,
    /// The objects as served (JSON), sorted by namespace and name.
    pub items: Vec<Bytes>,
    /// `metadata.resourceVersion` of the list.
    pub resource_version: String,
    /// `metadata.continue`, when more pages follow.
    pub continue_token: Option<String>,
    /// `metadata.remainingItemCount`, when more pages follow.
    pub remaining: Option<usize>,
}

impl ObjectList {
    /// The objects, parsed.
    pub fn objects(&self) -> Vec<Value> {
        self.items
            .iter()
            .map(|b| serde_json::from_slice(b).unwrap_or(Value::Null))
            .collect()
    }
}

/// Options shared by writes.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: validate and answer without storing.
    pub dry_run: bool,
    /// `fieldValidation=Strict`: unknown fields are an error instead of being dropped.
    pub strict: bool,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `force` (server-side apply).
    pub force: bool,
}

/// `propagationPolicy` of a delete.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Propagation {
    /// Dependents are deleted after the owner is gone.
    #[default]
    Background,
    /// Dependents are deleted before the owner.
    Foreground,
    /// Dependents lose their owner reference and stay.
    Orphan,
}

/// Options of a delete.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `dryRun=All`.
    pub dry_run: bool,
    /// `propagationPolicy`.
    pub propagation: Propagation,
    /// `preconditions.resourceVersion`.
    pub precondition_rv: Option<String>,
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
    /// `gracePeriodSeconds` (pods with graceful deletion; 0 = now).
    pub grace_period_seconds: Option<i64>,
}

/// What a delete did.
#[derive(Debug, Clone)]
pub enum DeleteOutcome {
    /// The object is gone; this is its last state.
    Deleted(Arc<Value>),
    /// The object has finalizers: it now has a deletionTimestamp and stays until they are removed.
    Pending(Arc<Value>),
}

/// Type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created (or started matching the selector).
    Added,
    /// Changed.
    Modified,
    /// Deleted (or stopped matching the selector).
    Deleted,
}

impl EventType {
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change in the store.
#[derive(Debug, Clone)]
pub struct WatchEvent {
    /// What happened.
    pub kind: EventType,
    /// The resourceVersion of the change.
    pub rv: u64,
    /// The object after the change (its last state for a delete).
    pub object: Arc<Stored>,
    /// The object before the change, if any (for selector transitions).
    pub prev: Option<Arc<Stored>>,
}

/// Options of a watch.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// `resourceVersion`: start after this version; absent or `"0"` = current objects as ADDED, then changes.
    pub resource_version: Option<String>,
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
}

/// Store configuration.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Watch events kept per resource; a watch from an older resourceVersion gets 410 Gone.
    pub watch_window: usize,
    /// Capacity of each live watch channel; a watcher that falls further behind gets 410 Gone.
    pub watch_channel: usize,
    /// Pods bound to a node are deleted gracefully, as on a real cluster: a delete sets
    /// `deletionTimestamp` (now + grace period) and the pod stays until a delete with
    /// `gracePeriodSeconds=0` (the simulated kubelet's). Off by default: deletes are immediate.
    pub graceful_pod_deletion: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            watch_window: 10_000,
            watch_channel: 8_192,
            graceful_pod_deletion: false,
        }
    }
}

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
            items.push(view_bytes(&info, o));
            last = Some(k.clone());
        }
        if remaining > 0 {
            if let Some(l) = &last {
                continue_token = Some(encode_continue(list_rv, l));
            }
        }
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
        let Some(old) = inner.lookup(&info, &key) else {
            if kind == PatchKind::Apply && subresource.is_none() {
                let mut obj = patch::parse_apply(body)?;
                meta_mut(&mut obj).insert("name".into(), json!(name));
                return inner.create(&info, ns, obj, opts, &now, &self.config);
            }
            return Err(info.not_found(name));
        };
        let view = versioned(&info, &old);
        let mut target = (*view).clone();
        patch::apply_patch(kind, &mut target, body)?;
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
        inner.commit(&info, &key, Some(old), new, opts, &now, &self.config)
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
        let items = self.list(gvr, ns, list)?.objects();
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
        })
    }

    /// Binds a pod to a node (`pods/binding`): sets `spec.nodeName`; 409 if already bound.
    pub fn bind_pod(
        &self,
        ns: &str,
        name: &str,
        node: &str,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, StatusError> {
        let now = self.now();
        let mut inner = self.lock();
        let info = resolve(&inner.registry, &Gvr::core("pods"))?;
        let key = obj_key(&info, Some(ns), name);
        let old = inner
            .lookup(&info, &key)
            .ok_or_else(|| info.not_found(name))?;
        if let Some(bound) = old
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            return Err(StatusError::new(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node \"{bound}\""),
            ));
        }
        if old.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(StatusError::new(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is being deleted, cannot be assigned to a host"),
            ));
        }
        let mut new = (*old).clone();
        new["spec"]["nodeName"] = json!(node);
        let conds = new["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut conds: Vec<Value> = conds
            .into_iter()
            .filter(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"))
            .collect();
        conds.push(json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": now}));
        new["status"]["conditions"] = Value::Array(conds);
        inner.commit(&info, &key, Some(old), new, opts, &now, &self.config)
    }

    /// Evicts a pod (`pods/eviction`): 429 TooManyRequests when a matching PodDisruptionBudget
    /// allows no more disruptions, else deletes the pod and updates the budgets' status.
    pub fn evict_pod(
        &self,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<DeleteOutcome, StatusError> {
        let now = self.now();
        let mut inner = self.lock();
        let pods = resolve(&inner.registry, &Gvr::core("pods"))?;
        let pdbs = resolve(
            &inner.registry,
            &Gvr::new("policy", "v1", "poddisruptionbudgets"),
        )?;
        let key = obj_key(&pods, Some(ns), name);
        let pod = inner
            .lookup(&pods, &key)
            .ok_or_else(|| pods.not_found(name))?;
        let terminal = matches!(
            pod.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        );
        let budgets: Vec<Arc<Stored>> = inner
            .data
            .get(&res_key(&pdbs))
            .map(|r| {
                r.objects
                    .range((ns.to_string(), String::new())..)
                    .take_while(|(k, _)| k.0 == ns)
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default();
        // Parse only the pods some budget of the namespace selects.
        let ns_pods: Vec<Value> = if budgets.is_empty() {
            Vec::new()
        } else {
            let sels: Vec<Value> = budgets
                .iter()
                .filter_map(|b| b.decode().pointer("/spec/selector").cloned())
                .collect();
            inner
                .data
                .get(&res_key(&pods))
                .map(|r| {
                    r.objects
                        .range((ns.to_string(), String::new())..)
                        .take_while(|(k, _)| k.0 == ns)
                        .filter(|(_, v)| sels.iter().any(|s| selector_meta_matches(s, v.meta())))
                        .map(|(_, v)| v.decode())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut updates = Vec::new();
        for pdb in budgets {
            let pdb = Arc::new(pdb.decode());
            let Some(sel) = pdb.pointer("/spec/selector") else {
                continue;
            };
            if !selector_object_matches(sel, &pod) || terminal {
                continue;
            }
            let matching: Vec<&Value> = ns_pods
                .iter()
                .filter(|p| selector_object_matches(sel, p))
                .collect();
            let expected = matching.len() as i64;
            let healthy = matching.iter().filter(|p| pod_healthy(p)).count() as i64;
            let desired = desired_healthy(&pdb, expected);
            let allowed = healthy - desired;
            let healthy_pod = pod_healthy(&pod);
            if (healthy_pod && allowed < 1) || (!healthy_pod && allowed < 0) {
                let pdb_name = meta_str(&pdb, "name").unwrap_or("");
                return Err(StatusError::new(
                    429,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                )
                .with_details(json!({"causes": [{"reason": "DisruptionBudget",
                    "message": format!("The disruption budget {pdb_name} needs {desired} healthy pods and has {healthy} currently")}]})));
            }
            let mut status = pdb.get("status").cloned().unwrap_or(json!({}));
            status["currentHealthy"] = json!(healthy - i64::from(pod_healthy(&pod)));
            status["desiredHealthy"] = json!(desired);
            status["expectedPods"] = json!(expected);
            status["disruptionsAllowed"] = json!((allowed - i64::from(healthy_pod)).max(0));
            updates.push((pdb, status));
        }
        let outcome = inner.delete(&pods, Some(ns), name, opts, &now, &self.config)?;
        if !opts.dry_run {
            for (pdb, status) in updates {
                let pname = meta_str(&pdb, "name").unwrap_or("").to_string();
                let pkey = obj_key(&pdbs, Some(ns), &pname);
                let mut new = (*pdb).clone();
                new["status"] = status;
                inner.commit(
                    &pdbs,
                    &pkey,
                    Some(pdb),
                    new,
                    &WriteOptions::default(),
                    &now,
                    &self.config,
                )?;
            }
        }
        Ok(outcome)
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

fn pod_healthy(p: &Value) -> bool {
    if p.pointer("/metadata/deletionTimestamp").is_some() {
        return false;
    }
    let running = p.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
    let ready = p
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        });
    running && ready
}

/// Healthy pods a budget requires, from `minAvailable` or `maxUnavailable` (int or percent).
fn desired_healthy(pdb: &Value, expected: i64) -> i64 {
    let scaled = |v: &Value, round_up: bool| -> i64 {
        match v {
            Value::Number(n) => n.as_i64().unwrap_or(0),
            Value::String(s) => {
                let pct = s.trim_end_matches('%').parse::<f64>().unwrap_or(0.0);
                let x = pct * expected as f64 / 100.0;
                if round_up {
                    x.ceil() as i64
                } else {
                    x.floor() as i64
                }
            }
            _ => 0,
        }
    };
    if let Some(min) = pdb.pointer("/spec/minAvailable") {
        scaled(min, true)
    } else if let Some(max) = pdb.pointer("/spec/maxUnavailable") {
        (expected - scaled(max, true)).max(0)
    } else {
        expected
    }
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

impl Inner {
    /// The stored object at `key`, parsed (in storage form).
    fn lookup(&self, info: &ResourceInfo, key: &Key) -> Option<Arc<Value>> {
        self.data
            .get(&res_key(info))
            .and_then(|r| r.objects.get(key))
            .map(|s| Arc::new(s.decode()))
    }

    /// Every field selector path of the resources stored with `info`.
    fn field_paths(&self, info: &ResourceInfo) -> Vec<String> {
        let mut paths: Vec<String> = Vec::new();
        for i in self.registry.all().filter(|i| i.storage == info.storage) {
            for f in &i.field_selectors {
                if !paths.contains(f) {
                    paths.push(f.clone());
                }
            }
        }
        paths
    }

    fn create(
        &mut self,
        info: &Arc<ResourceInfo>,
        ns: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
        now: &str,
        config: &StoreConfig,
    ) -> Result<Arc<Value>, StatusError> {
        if !obj.is_object() {
            return Err(StatusError::bad_request(
                "the body of a create must be a JSON object with apiVersion, kind and metadata",
            ));
        }
        let want = info.api_version();
        match obj.get("apiVersion").and_then(Value::as_str) {
            Some(v) if v != want => {
                return Err(StatusError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({want})"
                )))
            }
            _ => obj["apiVersion"] = json!(want),
        }
        match obj.get("kind").and_then(Value::as_str) {
            Some(k) if k != info.kind => {
                return Err(StatusError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    info.kind
                )))
            }
            _ => obj["kind"] = json!(info.kind),
        }
        let ns = if info.namespaced {
            let path_ns = ns.filter(|n| !n.is_empty());
            let body_ns = meta_str(&obj, "namespace")
                .filter(|n| !n.is_empty())
                .map(str::to_string);
            let ns = match (path_ns, body_ns.as_deref()) {
                (Some(p), Some(b)) if p != b => {
                    return Err(StatusError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                (Some(p), _) => p.to_string(),
                (None, Some(b)) => b.to_string(),
                (None, None) => "default".to_string(),
            };
            let nskey = (String::new(), ns.clone());
            let exists = self
                .data
                .get(&(String::new(), "namespaces".to_string()))
                .is_some_and(|r| r.objects.contains_key(&nskey));
            if !exists {
                return Err(StatusError::not_found(
                    "namespaces",
                    ("namespaces", ""),
                    &ns,
                ));
            }
            Some(ns)
        } else {
            None
        };
        let m = meta_mut(&mut obj);
        if let Some(n) = &ns {
            m.insert("namespace".into(), json!(n));
        } else {
            m.remove("namespace");
        }
        let name = match m
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            Some(n) => n.to_string(),
            None => match m.get("generateName").and_then(Value::as_str) {
                Some(prefix) if !prefix.is_empty() => format!("{prefix}{}", random_suffix()),
                _ => {
                    return Err(StatusError::invalid(
                        &info.kind,
                        &info.group,
                        "",
                        vec![super::error::FieldCause {
                            reason: "FieldValueRequired",
                            field: "metadata.name".into(),
                            value: None,
                            detail: "name or generateName is required".into(),
                        }],
                    ))
                }
            },
        };
        if let Some(detail) = invalid_name(info, &name) {
            return Err(StatusError::invalid(
                &info.kind,
                &info.group,
                &name,
                vec![super::error::FieldCause::invalid(
                    "metadata.name",
                    Some(json!(name)),
                    detail,
                )],
            ));
        }
        m.insert("name".into(), json!(name));
        m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        m.insert("creationTimestamp".into(), json!(now));
        m.insert("generation".into(), json!(1));
        for f in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            m.remove(f);
        }
        if info.custom && info.has_status {
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
        }
        if info.group.is_empty() && info.plural == "pods" && obj.pointer("/status/phase").is_none()
        {
            obj["status"]["phase"] = json!("Pending");
        }
        if info.group.is_empty() && info.plural == "namespaces" {
            obj["status"]["phase"] = json!("Active");
        }
        let obj = to_storage(info, obj);
        let key = obj_key(info, ns.as_deref(), &name);
        if self.lookup(info, &key).is_some() {
            return Err(StatusError::already_exists(
                &info.qualified(),
                (&info.plural, &info.group),
                &name,
            ));
        }
        self.commit(info, &key, None, obj, opts, now, config)
    }

    /// The common end of every write: admission (CRD schemas, CRD objects), generation,
    /// no-op detection, finalizer completion, resourceVersion, storage and the watch event.
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &mut self,
        info: &Arc<ResourceInfo>,
        key: &Key,
        old: Option<Arc<Value>>,
        mut new: Value,
        opts: &WriteOptions,
        now: &str,
        config: &StoreConfig,
    ) -> Result<Arc<Value>, StatusError> {
        if info.custom {
            schema::admit(&self.cel, info, &mut new, old.as_deref(), opts.strict)?;
        }
        let is_crd =
            info.group == "apiextensions.k8s.io" && info.plural == "customresourcedefinitions";
        let mut crd_infos = Vec::new();
        if is_crd {
            crd_infos = registry::from_crd(&new).map_err(|msg| {
                let (field, detail) = msg.split_once(": ").unwrap_or(("spec", msg.as_str()));
                StatusError::invalid(
                    &info.kind,
                    &info.group,
                    meta_str(&new, "name").unwrap_or(""),
                    vec![super::error::FieldCause::invalid(field, None, detail)],
                )
            })?;
            let mut rule_errors = Vec::new();
            if let Some(versions) = new.pointer("/spec/versions").and_then(Value::as_array) {
                for (i, v) in versions.iter().enumerate() {
                    if let Some(schema) = v.pointer("/schema/openAPIV3Schema") {
                        rule_errors.extend(schema::crd_rule_errors(i, schema));
                    }
                }
            }
            if !rule_errors.is_empty() {
                return Err(StatusError::invalid(
                    &info.kind,
                    &info.group,
                    meta_str(&new, "name").unwrap_or(""),
                    rule_errors,
                ));
            }
            if let Some(existing) = crd_infos.first() {
                let names = &new["spec"]["names"];
                let accepted = json!({
                    "plural": existing.plural, "singular": existing.singular, "kind": existing.kind,
                    "listKind": existing.list_kind,
                    "shortNames": names.get("shortNames").cloned().unwrap_or(json!([])),
                    "categories": names.get("categories").cloned().unwrap_or(json!([])),
                });
                let since = old
                    .as_ref()
                    .and_then(|o| {
                        o.pointer("/status/conditions/0/lastTransitionTime")
                            .cloned()
                    })
                    .unwrap_or(json!(now));
                new["status"] = json!({
                    "acceptedNames": accepted,
                    "storedVersions": new["spec"]["versions"].as_array().map(|vs| vs.iter()
                        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                        .filter_map(|v| v.get("name").cloned()).collect::<Vec<_>>()).unwrap_or_default(),
                    "conditions": [
                        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": since},
                        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": since},
                    ],
                });
            }
        }
        if let Some(old) = &old {
            let gen = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let gen = if spec_changed(info, old, &new) {
                gen + 1
            } else {
                gen
            };
            let m = meta_mut(&mut new);
            m.insert("generation".into(), json!(gen));
            if let Some(rv) = old.pointer("/metadata/resourceVersion") {
                m.insert("resourceVersion".into(), rv.clone());
            }
            if **old == new {
                return Ok(versioned(info, old));
            }
            let grace_over = new
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                == 0;
            if new.pointer("/metadata/deletionTimestamp").is_some()
                && finalizers_of(&new) == 0
                && grace_over
            {
                if opts.dry_run {
                    return Ok(Arc::new(new));
                }
                let obj = self.remove(info, key, Some(new), config);
                self.after_removal(info, &obj, now, config);
                return Ok(versioned(info, &obj));
            }
        }
        if opts.dry_run {
            return Ok(Arc::new(new));
        }
        self.rv += 1;
        let rv = self.rv;
        meta_mut(&mut new).insert("resourceVersion".into(), json!(rv.to_string()));
        let obj = Arc::new(new);
        let kind = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        if is_crd {
            let keys: Vec<(String, String)> = crd_infos
                .iter()
                .map(|i| (i.group.clone(), i.plural.clone()))
                .collect();
            if let Some((g, p)) = keys.first() {
                self.registry.remove(g, p);
            }
            for i in crd_infos {
                self.registry.insert(i);
            }
            for k in keys {
                self.data
                    .entry(k)
                    .or_insert_with(|| Res::new(rv, config.watch_channel));
            }
        }
        self.publish(info, key, kind, &obj, config);
        Ok(versioned(info, &obj))
    }

    fn publish(
        &mut self,
        info: &ResourceInfo,
        key: &Key,
        kind: EventType,
        obj: &Value,
        config: &StoreConfig,
    ) {
        let rv = self.rv;
        let stored = Arc::new(Stored::encode(obj, &self.field_paths(info)));
        let res = self
            .data
            .entry(res_key(info))
            .or_insert_with(|| Res::new(rv, config.watch_channel));
        let prev = match kind {
            EventType::Deleted => res.objects.remove(key),
            _ => res.objects.insert(key.clone(), stored.clone()),
        };
        let storage = res_key(info);
        if let Some(p) = &prev {
            for uid in owner_uids(p) {
                if let Some(set) = self.owners.get_mut(uid) {
                    set.remove(&(storage.clone(), key.clone()));
                    if set.is_empty() {
                        self.owners.remove(uid);
                    }
                }
            }
        }
        if kind != EventType::Deleted {
            for uid in owner_uids(&stored) {
                self.owners
                    .entry(uid.to_string())
                    .or_default()
                    .insert((storage.clone(), key.clone()));
            }
        }
        let res = self
            .data
            .entry(storage)
            .or_insert_with(|| Res::new(rv, config.watch_channel));
        let obj = stored;
        let ev = Arc::new(WatchEvent {
            kind,
            rv,
            object: obj,
            prev,
        });
        res.events.push_back(ev.clone());
        while res.events.len() > config.watch_window.max(1) {
            if let Some(e) = res.events.pop_front() {
                res.oldest_watchable = e.rv;
            }
        }
        let _ = res.tx.send(ev);
    }

    /// Removes an object for good (DELETED event), then handles its dependents.
    fn remove(
        &mut self,
        info: &Arc<ResourceInfo>,
        key: &Key,
        last: Option<Value>,
        config: &StoreConfig,
    ) -> Arc<Value> {
        let prev = self.lookup(info, key);
        let mut last = match (last, &prev) {
            (Some(l), _) => l,
            (None, Some(p)) => (**p).clone(),
            (None, None) => json!({}),
        };
        self.rv += 1;
        meta_mut(&mut last).insert("resourceVersion".into(), json!(self.rv.to_string()));
        self.publish(info, key, EventType::Deleted, &last, config);
        Arc::new(last)
    }

    fn delete(
        &mut self,
        info: &Arc<ResourceInfo>,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
        now: &str,
        config: &StoreConfig,
    ) -> Result<DeleteOutcome, StatusError> {
        let key = obj_key(info, ns, name);
        let old = self
            .lookup(info, &key)
            .ok_or_else(|| info.not_found(name))?;
        if let Some(uid) = &opts.precondition_uid {
            let have = meta_str(&old, "uid").unwrap_or("");
            if have != uid {
                return Err(StatusError::new(409, "Conflict", format!(
                    "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {have}",
                    info.qualified())));
            }
        }
        if let Some(rv) = &opts.precondition_rv {
            let have = meta_str(&old, "resourceVersion").unwrap_or("");
            if have != rv {
                return Err(StatusError::new(409, "Conflict", format!(
                    "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {have}",
                    info.qualified())));
            }
        }
        if opts.dry_run {
            return Ok(if finalizers_of(&old) > 0 {
                DeleteOutcome::Pending(old)
            } else {
                DeleteOutcome::Deleted(old)
            });
        }
        let uid = meta_str(&old, "uid").unwrap_or("").to_string();
        match opts.propagation {
            Propagation::Orphan => self.orphan_dependents(&uid, now, config),
            Propagation::Foreground => self.delete_dependents(&uid, now, config),
            Propagation::Background => {}
        }
        let bound_pod = config.graceful_pod_deletion
            && info.group.is_empty()
            && info.plural == "pods"
            && old
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty())
            && !matches!(
                old.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            );
        let grace = opts
            .grace_period_seconds
            .or_else(|| {
                old.pointer("/spec/terminationGracePeriodSeconds")
                    .and_then(Value::as_i64)
            })
            .unwrap_or(30);
        if bound_pod && grace > 0 {
            let current = old
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64);
            if old.pointer("/metadata/deletionTimestamp").is_some()
                && current.is_some_and(|c| c <= grace)
            {
                return Ok(DeleteOutcome::Pending(versioned(info, &old)));
            }
            let at = chrono::DateTime::parse_from_rfc3339(now)
                .map(|t| t + chrono::Duration::seconds(grace))
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
                .unwrap_or_else(|_| now.to_string());
            let mut new = (*old).clone();
            let m = meta_mut(&mut new);
            m.insert("deletionTimestamp".into(), json!(at));
            m.insert("deletionGracePeriodSeconds".into(), json!(grace));
            let obj = self.commit(
                info,
                &key,
                Some(old),
                new,
                &WriteOptions::default(),
                now,
                config,
            )?;
            return Ok(DeleteOutcome::Pending(obj));
        }
        if finalizers_of(&old) > 0 {
            if old.pointer("/metadata/deletionTimestamp").is_some()
                && old
                    .pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    == 0
            {
                return Ok(DeleteOutcome::Pending(versioned(info, &old)));
            }
            let mut new = (*old).clone();
            let m = meta_mut(&mut new);
            m.insert("deletionTimestamp".into(), json!(now));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
            let obj = self.commit(
                info,
                &key,
                Some(old),
                new,
                &WriteOptions::default(),
                now,
                config,
            )?;
            return Ok(DeleteOutcome::Pending(obj));
        }
        let mut last = (*old).clone();
        if last.pointer("/metadata/deletionTimestamp").is_none() {
            let m = meta_mut(&mut last);
            m.insert("deletionTimestamp".into(), json!(now));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        let obj = self.remove(info, &key, Some(last), config);
        self.after_removal(info, &obj, now, config);
        Ok(DeleteOutcome::Deleted(versioned(info, &obj)))
    }

    /// Side effects of an object being gone: dependents, namespace content, CRD resources.
    fn after_removal(
        &mut self,
        info: &Arc<ResourceInfo>,
        obj: &Value,
        now: &str,
        config: &StoreConfig,
    ) {
        let uid = meta_str(obj, "uid").unwrap_or("").to_string();
        self.delete_dependents(&uid, now, config);
        let name = meta_str(obj, "name").unwrap_or("").to_string();
        if info.group.is_empty() && info.plural == "namespaces" {
            let namespaced: Vec<Arc<ResourceInfo>> = self
                .registry
                .all()
                .filter(|i| i.namespaced)
                .cloned()
                .collect();
            let mut seen = std::collections::HashSet::new();
            for i in namespaced {
                if !seen.insert(res_key(&i)) {
                    continue;
                }
                let names: Vec<String> = self
                    .data
                    .get(&res_key(&i))
                    .map(|r| {
                        r.objects
                            .range((name.clone(), String::new())..)
                            .take_while(|(k, _)| k.0 == name)
                            .map(|(k, _)| k.1.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                for n in names {
                    let _ =
                        self.delete(&i, Some(&name), &n, &DeleteOptions::default(), now, config);
                }
            }
        }
        if info.group == "apiextensions.k8s.io" && info.plural == "customresourcedefinitions" {
            let group = obj
                .pointer("/spec/group")
                .and_then(Value::as_str)
                .unwrap_or("");
            let plural = obj
                .pointer("/spec/names/plural")
                .and_then(Value::as_str)
                .unwrap_or("");
            let key = (group.to_string(), plural.to_string());
            let found = self
                .registry
                .all()
                .find(|i| i.group == group && i.plural == plural)
                .cloned();
            if let Some(ri) = found {
                let keys: Vec<Key> = self
                    .data
                    .get(&key)
                    .map(|r| r.objects.keys().cloned().collect())
                    .unwrap_or_default();
                for k in keys {
                    self.remove(&ri, &k, None, config);
                }
            }
            self.registry.remove(group, plural);
            self.data.remove(&key);
        }
    }

    /// Every (resource, key) whose ownerReferences name `uid`.
    fn dependents(&self, uid: &str) -> Vec<(Arc<ResourceInfo>, Key)> {
        let Some(set) = self.owners.get(uid) else {
            return Vec::new();
        };
        set.iter()
            .filter_map(|(storage, key)| {
                self.registry
                    .all()
                    .find(|i| &i.storage == storage)
                    .map(|i| (i.clone(), key.clone()))
            })
            .collect()
    }

    fn delete_dependents(&mut self, uid: &str, now: &str, config: &StoreConfig) {
        for (info, key) in self.dependents(uid) {
            let ns = (!key.0.is_empty()).then_some(key.0.as_str());
            let _ = self.delete(&info, ns, &key.1, &DeleteOptions::default(), now, config);
        }
    }

    fn orphan_dependents(&mut self, uid: &str, now: &str, config: &StoreConfig) {
        for (info, key) in self.dependents(uid) {
            if let Some(old) = self.lookup(&info, &key) {
                let mut new = (*old).clone();
                if let Some(refs) = new
                    .pointer_mut("/metadata/ownerReferences")
                    .and_then(Value::as_array_mut)
                {
                    refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
                }
                let _ = self.commit(
                    &info,
                    &key,
                    Some(old),
                    new,
                    &WriteOptions::default(),
                    now,
                    config,
                );
            }
        }
    }
}

/// A live watch on one resource (see [`Store::watch`]).
pub struct Watch {
    info: Arc<ResourceInfo>,
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    backlog: VecDeque<Arc<WatchEvent>>,
    rx: broadcast::Receiver<Arc<WatchEvent>>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("resource", &self.info.qualified())
            .field("namespace", &self.ns)
            .finish()
    }
}

impl Watch {
    /// The resource watched.
    pub fn info(&self) -> &Arc<ResourceInfo> {
        &self.info
    }

    /// Whether every event published so far has been handed out (a bookmark is safe).
    pub fn idle(&self) -> bool {
        self.backlog.is_empty() && self.rx.is_empty()
    }

    fn selects(&self, s: &Stored) -> bool {
        if self
            .ns
            .as_deref()
            .is_some_and(|n| s.meta_str("namespace") != Some(n))
        {
            return false;
        }
        if self.info.converts() {
            let v = view(&self.info, s);
            self.labels.matches(&v) && self.fields.matches(&v)
        } else {
            self.labels.matches_meta(s.meta()) && self.fields.matches_stored(s)
        }
    }

    /// The next event as stored (selector transitions become ADDED/DELETED), `Err(410)` when
    /// the watcher fell too far behind, `None` when the store is gone. Serve it with
    /// [`Watch::json`] or [`Watch::value`].
    pub async fn next_stored(&mut self) -> Option<Result<(EventType, Arc<Stored>), StatusError>> {
        loop {
            let ev = match self.backlog.pop_front() {
                Some(e) => e,
                None => match self.rx.recv().await {
                    Ok(e) => e,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        return Some(Err(StatusError::gone(format!(
                            "too old resource version: the watcher fell {n} events behind"
                        ))))
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            };
            let now_sel = self.selects(&ev.object);
            let was_sel = ev.prev.as_ref().is_some_and(|p| self.selects(p));
            let kind = match (ev.kind, was_sel, now_sel) {
                (EventType::Deleted, true, _) | (EventType::Deleted, _, true) => EventType::Deleted,
                (EventType::Deleted, false, false) => continue,
                (EventType::Added, _, true) => EventType::Added,
                (EventType::Modified, true, true) => EventType::Modified,
                (EventType::Modified, false, true) => EventType::Added,
                (EventType::Modified, true, false) => EventType::Deleted,
                _ => continue,
            };
            return Some(Ok((kind, ev.object.clone())));
        }
    }

    /// The next event with its object parsed (see [`Watch::next_stored`]).
    pub async fn next(&mut self) -> Option<Result<(EventType, Arc<Value>), StatusError>> {
        match self.next_stored().await? {
            Ok((kind, s)) => Some(Ok((kind, self.value(&s)))),
            Err(e) => Some(Err(e)),
        }
    }

    /// A stored object's JSON as this watch serves it.
    pub fn json(&self, s: &Stored) -> Bytes {
        view_bytes(&self.info, s)
    }

    /// A stored object, parsed, as this watch serves it.
    pub fn value(&self, s: &Stored) -> Arc<Value> {
        view(&self.info, s)
    }
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
