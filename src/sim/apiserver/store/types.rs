//! The option and result types of the store's operations.

use std::sync::Arc;

use axum::body::Bytes;
use serde_json::Value;

use super::super::object::Stored;
use super::super::registry::ResourceInfo;

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

/// One page of a list: parsed objects ([`Store::list`](super::Store::list)) or their JSON as
/// served ([`Store::list_json`](super::Store::list_json)).
#[derive(Clone)]
pub struct ObjectList<T = Arc<Value>> {
    /// The resource listed.
    pub info: Arc<ResourceInfo>,
    /// The objects, sorted by namespace and name.
    pub items: Vec<T>,
    /// `metadata.resourceVersion` of the list.
    pub resource_version: String,
    /// `metadata.continue`, when more pages follow.
    pub continue_token: Option<String>,
    /// `metadata.remainingItemCount`, when more pages follow.
    pub remaining: Option<usize>,
}

impl<T> std::fmt::Debug for ObjectList<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Counts only: the items may be Secrets.
        f.debug_struct("ObjectList")
            .field("resource", &self.info.qualified())
            .field("items", &self.items.len())
            .field("resource_version", &self.resource_version)
            .field("continue_token", &self.continue_token)
            .finish()
    }
}

impl ObjectList<Bytes> {
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

/// What a delete did. `Debug` names the object without its content.
#[derive(Clone)]
pub enum DeleteOutcome {
    /// The object is gone; this is its last state.
    Deleted(Arc<Value>),
    /// The object has finalizers: it now has a deletionTimestamp and stays until they are removed.
    Pending(Arc<Value>),
}

fn name_of(o: &Value) -> String {
    super::super::object::describe(
        o.get("metadata").unwrap_or(&Value::Null),
        o.get("apiVersion").and_then(Value::as_str).unwrap_or(""),
    )
}

impl std::fmt::Debug for DeleteOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Deleted(o) => write!(f, "Deleted({})", name_of(o)),
            Self::Pending(o) => write!(f, "Pending({})", name_of(o)),
        }
    }
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
