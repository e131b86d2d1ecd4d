//! The pod cache: every pod of the cluster, as one watch reports it, in a table of its own.
//!
//! kube-runtime's reflector keeps a clone of each object it is handed, in a map keyed by a
//! whole `ObjectRef` (kind, name, namespace, version and uid: over 100 bytes a slot, and the
//! strings besides). For 30,000 pods that was 8 MiB of table and keys next to the pods, and a
//! pod copied on every event. This store takes each pod the watch hands over (moved, not
//! copied) and finds it by the hash of the namespace and name the pod itself holds: 8 bytes a
//! slot.
//!
//! It reads like the reflector's `Store`: after a (re)list, readers keep seeing the old set of
//! pods until the whole new list has arrived, and [`PodStore::wait_until_ready`] completes once
//! the first list has.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use hashbrown::hash_table::{Entry, HashTable};
use kube::runtime::watcher::Event;
use tokio::sync::watch;

use crate::pods::CachedPod;

type Table = HashTable<Arc<CachedPod>>;

struct Shared {
    table: RwLock<Table>,
    hasher: RandomState,
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, Table> {
        // a writer that panicked left a table that is whole (each change is one call)
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|p| p.into_inner())
    }

    fn hash(&self, namespace: &str, name: &str) -> u64 {
        self.hasher.hash_one((namespace, name))
    }

    fn hash_of(&self, pod: &CachedPod) -> u64 {
        let (namespace, name) = key_of(pod);
        self.hash(namespace, name)
    }
}

fn key_of(pod: &CachedPod) -> (&str, &str) {
    (
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default(),
    )
}

/// Puts `pod` in `table`, in place of the pod of the same namespace and name.
fn insert(shared: &Shared, table: &mut Table, pod: Arc<CachedPod>) {
    let hash = shared.hash_of(&pod);
    let key = key_of(&pod);
    match table.entry(hash, |p| key_of(p) == key, |p| shared.hash_of(p)) {
        Entry::Occupied(mut o) => *o.get_mut() = pod,
        Entry::Vacant(v) => {
            v.insert(pod);
        }
    }
}

/// The readers' side of the pod cache (cheap to clone).
#[derive(Clone)]
pub struct PodStore {
    shared: Arc<Shared>,
    ready: watch::Receiver<bool>,
}

/// The cache's writer went away before the first list was complete.
#[derive(Debug, thiserror::Error)]
#[error("the pod cache's writer stopped before the first list was complete")]
pub struct WriterGone;

impl PodStore {
    /// Every pod.
    pub fn state(&self) -> Vec<Arc<CachedPod>> {
        self.shared.read().iter().cloned().collect()
    }

    /// How many pods it holds.
    pub fn len(&self) -> usize {
        self.shared.read().len()
    }

    /// Whether it holds no pod.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The pod `namespace/name`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<CachedPod>> {
        let hash = self.shared.hash(namespace, name);
        self.shared
            .read()
            .find(hash, |p| key_of(p) == (namespace, name))
            .cloned()
    }

    /// Completes once the first list has been applied whole.
    pub async fn wait_until_ready(&self) -> Result<(), WriterGone> {
        let mut ready = self.ready.clone();
        ready
            .wait_for(|r| *r)
            .await
            .map(|_| ())
            .map_err(|_| WriterGone)
    }
}

/// The writing side: applies a watch's events in order.
pub struct PodWriter {
    shared: Arc<Shared>,
    ready: watch::Sender<bool>,
    /// The list under way, from its `Init` to its `InitDone`.
    relist: Option<Table>,
}

/// A new, empty pod cache.
pub fn store() -> (PodStore, PodWriter) {
    let shared = Arc::new(Shared {
        table: RwLock::new(Table::new()),
        hasher: RandomState::new(),
    });
    let (tx, rx) = watch::channel(false);
    (
        PodStore {
            shared: shared.clone(),
            ready: rx,
        },
        PodWriter {
            shared,
            ready: tx,
            relist: None,
        },
    )
}

impl PodWriter {
    /// Applies one watch event; returns the pod it was about (for an `Apply`, the copy now in
    /// the cache; for a `Delete`, the copy that left it, or the event's own).
    pub fn apply(&mut self, event: Event<CachedPod>) -> Option<Arc<CachedPod>> {
        match event {
            Event::Apply(pod) => {
                let pod = Arc::new(pod);
                insert(&self.shared, &mut self.shared.write(), pod.clone());
                Some(pod)
            }
            Event::Delete(pod) => {
                let hash = self.shared.hash_of(&pod);
                let key = key_of(&pod);
                let removed = match self.shared.write().find_entry(hash, |p| key_of(p) == key) {
                    Ok(o) => Some(o.remove().0),
                    Err(_) => None,
                };
                Some(removed.unwrap_or_else(|| Arc::new(pod)))
            }
            Event::Init => {
                self.relist = Some(Table::new());
                None
            }
            Event::InitApply(pod) => {
                let pod = Arc::new(pod);
                match &mut self.relist {
                    Some(list) => insert(&self.shared, list, pod.clone()),
                    // a watcher always starts a list with Init; without one, apply in place
                    None => insert(&self.shared, &mut self.shared.write(), pod.clone()),
                }
                Some(pod)
            }
            Event::InitDone => {
                if let Some(list) = self.relist.take() {
                    let old = std::mem::replace(&mut *self.shared.write(), list);
                    // the old pods are freed here, outside the lock
                    drop(old);
                }
                self.ready.send_replace(true);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(ns: &str, name: &str, node: Option<&str>) -> CachedPod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": ns},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]},
        }))
        .unwrap()
    }

    fn names(s: &PodStore) -> Vec<String> {
        let mut v: Vec<String> = s.state().iter().map(|p| p.key()).collect();
        v.sort();
        v
    }

    fn node_of(s: &PodStore, ns: &str, name: &str) -> Option<String> {
        s.get(ns, name)
            .and_then(|p| p.node_name.as_deref().map(str::to_string))
    }

    #[tokio::test]
    async fn applies_replaces_and_deletes_by_namespace_and_name() {
        let (s, mut w) = store();
        w.apply(Event::Init);
        w.apply(Event::InitApply(pod("a", "web", None)));
        w.apply(Event::InitApply(pod("b", "web", None)));
        // nothing is visible, and the store not ready, until the list is complete
        assert!(s.is_empty());
        assert!(!*s.ready.borrow());
        w.apply(Event::InitDone);
        s.wait_until_ready().await.unwrap();
        assert_eq!(names(&s), ["a/web", "b/web"]);

        // same namespace and name: replaced, not added
        let now = w.apply(Event::Apply(pod("a", "web", Some("n1")))).unwrap();
        assert_eq!(now.node_name.as_deref(), Some("n1"));
        assert_eq!(s.len(), 2);
        assert_eq!(node_of(&s, "a", "web").as_deref(), Some("n1"));
        assert_eq!(node_of(&s, "b", "web"), None);
        assert!(s.get("c", "web").is_none());

        // a delete hands back the cached copy (bound to n1), even from an older event
        let gone = w.apply(Event::Delete(pod("a", "web", None))).unwrap();
        assert_eq!(gone.node_name.as_deref(), Some("n1"));
        assert_eq!(names(&s), ["b/web"]);
        // a delete of a pod it never had is harmless
        let gone = w.apply(Event::Delete(pod("x", "y", None))).unwrap();
        assert_eq!(gone.key(), "x/y");
        assert_eq!(s.len(), 1);
    }

    #[tokio::test]
    async fn a_relist_shows_the_old_pods_until_the_new_list_is_whole() {
        let (s, mut w) = store();
        w.apply(Event::Init);
        w.apply(Event::InitApply(pod("a", "old", None)));
        w.apply(Event::InitApply(pod("a", "kept", None)));
        w.apply(Event::InitDone);
        assert_eq!(names(&s), ["a/kept", "a/old"]);

        w.apply(Event::Init);
        w.apply(Event::InitApply(pod("a", "kept", Some("n2"))));
        w.apply(Event::InitApply(pod("a", "new", None)));
        assert_eq!(names(&s), ["a/kept", "a/old"]);
        assert_eq!(node_of(&s, "a", "kept"), None);
        w.apply(Event::InitDone);
        // what the new list lacks is gone; what it has is as it says
        assert_eq!(names(&s), ["a/kept", "a/new"]);
        assert_eq!(node_of(&s, "a", "kept").as_deref(), Some("n2"));
    }

    #[tokio::test]
    async fn many_pods_are_each_found() {
        let (s, mut w) = store();
        w.apply(Event::Init);
        for i in 0..5_000 {
            w.apply(Event::InitApply(pod(
                &format!("ns{}", i % 7),
                &format!("p{i}"),
                None,
            )));
        }
        w.apply(Event::InitDone);
        assert_eq!(s.len(), 5_000);
        for i in 0..5_000 {
            assert!(
                s.get(&format!("ns{}", i % 7), &format!("p{i}")).is_some(),
                "p{i}"
            );
        }
        // the same name in another namespace is another pod
        assert!(s.get("ns1", "p0").is_none());
    }

    #[tokio::test]
    async fn waiting_fails_when_the_writer_is_gone() {
        let (s, w) = store();
        drop(w);
        assert!(s.wait_until_ready().await.is_err());
    }
}
