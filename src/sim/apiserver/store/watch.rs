//! A live watch on one resource.

use std::collections::VecDeque;
use std::sync::Arc;

use axum::body::Bytes;
use serde_json::Value;
use tokio::sync::broadcast;

use super::*;

/// A live watch on one resource (see [`Store::watch`]).
pub struct Watch {
    pub(super) info: Arc<ResourceInfo>,
    pub(super) ns: Option<String>,
    pub(super) labels: LabelSelector,
    pub(super) fields: FieldSelector,
    pub(super) backlog: VecDeque<Arc<WatchEvent>>,
    pub(super) rx: broadcast::Receiver<Arc<WatchEvent>>,
    pub(super) start_rv: u64,
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

    /// Whether the replayed (or synthetic ADDED) events are all handed out.
    pub fn backlog_empty(&self) -> bool {
        self.backlog.is_empty()
    }

    /// The store's resourceVersion when the watch started.
    pub fn start_rv(&self) -> u64 {
        self.start_rv
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
