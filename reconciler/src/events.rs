//! Kubernetes events (core/v1, as `kubectl describe` lists them) with the API reference's
//! reasons. Repeats of the same reason and message on the same object within ten minutes
//! bump the count of one event instead of adding another, as the kubelet and scheduler do.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Event;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use vpsie_autoscaler::api::EventReason;

/// The component named in every event.
pub const COMPONENT: &str = "vpsie-autoscaler";

#[derive(Debug)]
struct Seen {
    name: String,
    namespace: String,
    count: i32,
    last: DateTime<Utc>,
}

/// Writes events, aggregating repeats.
pub struct Recorder {
    client: Client,
    instance: String,
    seen: Mutex<HashMap<(String, &'static str, String), Seen>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("instance", &self.instance)
            .finish()
    }
}

impl Recorder {
    /// A recorder writing as `instance` (the pod name of this replica).
    pub fn new(client: Client, instance: &str) -> Self {
        Self {
            client,
            instance: instance.to_string(),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Records `reason` with `message` on `obj`. Failures are logged, never returned: an event
    /// is never worth failing a reconcile for.
    pub async fn publish<K>(&self, obj: &K, reason: EventReason, message: &str, now: DateTime<Utc>)
    where
        K: Resource<DynamicType = ()>,
    {
        self.publish_raw(
            obj,
            reason.as_str(),
            reason.event_type().as_str(),
            message,
            now,
        )
        .await
    }

    /// Records an event whose reason is not one of the API reference's (`event_type` is
    /// `Normal` or `Warning`).
    pub async fn publish_raw<K>(
        &self,
        obj: &K,
        reason: &'static str,
        event_type: &'static str,
        message: &str,
        now: DateTime<Utc>,
    ) where
        K: Resource<DynamicType = ()>,
    {
        let uid = obj.uid().unwrap_or_default();
        let key = (uid.clone(), reason, message.to_string());
        let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let repeat = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.retain(|_, s| now - s.last < chrono::Duration::minutes(10));
            seen.get_mut(&key).map(|s| {
                s.count += 1;
                s.last = now;
                (s.name.clone(), s.namespace.clone(), s.count)
            })
        };
        if let Some((name, namespace, count)) = repeat {
            let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
            let patch = json!({"count": count, "lastTimestamp": stamp});
            if api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .is_ok()
            {
                return;
            }
        }
        let namespace = obj.namespace().unwrap_or_else(|| "default".to_string());
        // unique even for several events of one object at the same instant
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!(
            "{}.{:x}{:04x}",
            obj.name_any(),
            now.timestamp_nanos_opt().unwrap_or_default(),
            seq & 0xffff
        );
        let event: Event = match serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": K::api_version(&()),
                "kind": K::kind(&()),
                "name": obj.name_any(),
                "namespace": obj.namespace(),
                "uid": uid,
                "resourceVersion": obj.resource_version(),
            },
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.instance,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        })) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "cannot build event");
                return;
            }
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {
                self.seen.lock().unwrap_or_else(|e| e.into_inner()).insert(
                    key,
                    Seen {
                        name,
                        namespace,
                        count: 1,
                        last: now,
                    },
                );
            }
            Err(e) => tracing::warn!(reason, error = %e, "cannot write event"),
        }
    }
}
