//! Conversion between the two Event APIs, which share one storage like on a real cluster:
//! `events.k8s.io/v1` events (what kube-rs' `Recorder` writes) are stored as `core/v1` events
//! (what `kubectl describe` lists), and served back in either form.

use serde_json::{Map, Value};

/// Field pairs: (events.k8s.io/v1 name, core/v1 name).
const RENAMES: [(&str, &str); 6] = [
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(obj: &Value, api_version: &str, from_new: bool) -> Value {
    let Some(map) = obj.as_object() else {
        return obj.clone();
    };
    let mut out = Map::with_capacity(map.len());
    for (k, v) in map {
        let renamed = RENAMES.iter().find_map(|(new, old)| {
            if from_new && k == new {
                Some(*old)
            } else if !from_new && k == old {
                Some(*new)
            } else {
                None
            }
        });
        out.insert(renamed.unwrap_or(k).to_string(), v.clone());
    }
    out.insert("apiVersion".into(), Value::String(api_version.to_string()));
    out.insert("kind".into(), Value::String("Event".into()));
    Value::Object(out)
}

/// An `events.k8s.io/v1` Event as the `core/v1` Event it is stored as.
pub fn events_v1_to_core(obj: &Value) -> Value {
    let mut core = rename(obj, "v1", true);
    // kubectl describe shows "From" from source.component or reportingComponent.
    if let Some(ctrl) = obj.get("reportingController").cloned() {
        core["reportingComponent"] = ctrl.clone();
        if core.pointer("/source/component").is_none() {
            core["source"]["component"] = ctrl;
        }
    }
    if let Some(m) = core.as_object_mut() {
        m.remove("reportingController");
    }
    if core.get("count").is_none() {
        if let Some(c) = obj.pointer("/series/count").cloned() {
            core["count"] = c;
        }
    }
    if core.get("lastTimestamp").is_none() {
        if let Some(t) = obj.pointer("/series/lastObservedTime").cloned() {
            core["lastTimestamp"] = t;
        }
    }
    core
}

/// A stored `core/v1` Event as served by `events.k8s.io/v1`.
pub fn core_to_events_v1(obj: &Value) -> Value {
    let mut ev = rename(obj, "events.k8s.io/v1", false);
    if let Some(m) = ev.as_object_mut() {
        if let Some(rc) = m.remove("reportingComponent") {
            m.insert("reportingController".into(), rc);
        }
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_round_trip_through_core() {
        let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"kind": "NodeGroup", "name": "web"}, "note": "scaled", "reason": "ScalingUp",
            "reportingController": "vpsie", "reportingInstance": "pod-1", "type": "Normal", "action": "Scale",
            "eventTime": "2025-01-01T00:00:00.000000Z"});
        let core = events_v1_to_core(&ev);
        assert_eq!(core["involvedObject"]["name"], "web");
        assert_eq!(core["message"], "scaled");
        assert_eq!(core["source"]["component"], "vpsie");
        assert_eq!(core["apiVersion"], "v1");
        let back = core_to_events_v1(&core);
        assert_eq!(back["regarding"], ev["regarding"]);
        assert_eq!(back["note"], "scaled");
        assert_eq!(back["reportingController"], "vpsie");
    }
}
