//! The simulated API server's store used in-process (as the simulated kubelets and scheduler do).

use std::time::Duration;

use serde_json::{json, Value};
use vpsie_autoscaler::clock::ManualClock;
use vpsie_autoscaler::sim::apiserver::{
    ApiServerConfig, DeleteOptions, EventType, Gvr, ListOptions, PatchKind, SimApiServer,
    StoreConfig, WatchOptions, WriteOptions,
};

const DEADLINE: Duration = Duration::from_secs(10);

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": "1"}})
}

async fn server(config: ApiServerConfig) -> SimApiServer {
    SimApiServer::start(config).await.expect("server starts")
}

#[tokio::test]
async fn watch_replays_exactly_the_events_after_a_version() {
    let s = server(ApiServerConfig::default()).await;
    let store = s.store();
    let gvr = Gvr::core("configmaps");
    let w = WriteOptions::default();
    let a = store.create(&gvr, Some("default"), cm("a"), &w).unwrap();
    let from = a["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    store
        .patch(
            &gvr,
            Some("default"),
            "a",
            PatchKind::Merge,
            br#"{"data":{"v":"2"}}"#,
            None,
            &w,
        )
        .unwrap();
    store.create(&gvr, Some("default"), cm("b"), &w).unwrap();
    store
        .delete(&gvr, Some("default"), "a", &DeleteOptions::default())
        .unwrap();
    let mut watch = store
        .watch(
            &gvr,
            Some("default"),
            &WatchOptions {
                resource_version: Some(from),
                ..Default::default()
            },
        )
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (kind, obj) = tokio::time::timeout(DEADLINE, watch.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push(format!(
            "{} {}",
            kind.as_str(),
            obj["metadata"]["name"].as_str().unwrap()
        ));
    }
    assert_eq!(seen, ["MODIFIED a", "ADDED b", "DELETED a"]);
    assert!(watch.idle());
}

#[tokio::test]
async fn a_watcher_that_falls_behind_gets_gone() {
    let config = ApiServerConfig {
        store: StoreConfig {
            watch_channel: 16,
            ..StoreConfig::default()
        },
        ..ApiServerConfig::default()
    };
    let s = server(config).await;
    let store = s.store();
    let gvr = Gvr::core("configmaps");
    let rv = store.current_rv().to_string();
    let mut watch = store
        .watch(
            &gvr,
            None,
            &WatchOptions {
                resource_version: Some(rv),
                ..Default::default()
            },
        )
        .unwrap();
    for i in 0..40 {
        store
            .create(
                &gvr,
                Some("default"),
                cm(&format!("c{i}")),
                &WriteOptions::default(),
            )
            .unwrap();
    }
    let err = tokio::time::timeout(DEADLINE, watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!((err.code, err.reason), (410, "Expired"));
}

#[tokio::test]
async fn dry_runs_and_no_op_writes_keep_the_resource_version() {
    let s = server(ApiServerConfig::default()).await;
    let store = s.store();
    let gvr = Gvr::core("configmaps");
    let w = WriteOptions::default();
    let created = store.create(&gvr, Some("default"), cm("a"), &w).unwrap();
    let rv = store.current_rv();
    let dry = WriteOptions {
        dry_run: true,
        ..WriteOptions::default()
    };
    let out = store
        .patch(
            &gvr,
            Some("default"),
            "a",
            PatchKind::Merge,
            br#"{"data":{"v":"9"}}"#,
            None,
            &dry,
        )
        .unwrap();
    assert_eq!(out["data"]["v"], "9");
    assert_eq!(store.current_rv(), rv);
    // Writing back the same object changes nothing.
    let same = store
        .update(&gvr, Some("default"), "a", (*created).clone(), None, &w)
        .unwrap();
    assert_eq!(
        same["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    assert_eq!(store.current_rv(), rv);
    let got = store.get(&gvr, Some("default"), "a").unwrap();
    assert_eq!(got["data"]["v"], "1");
    let listed = store
        .list(&gvr, Some("default"), &ListOptions::default())
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0]["data"]["v"], "1");
    let raw = store
        .list_json(&gvr, Some("default"), &ListOptions::default())
        .unwrap();
    assert_eq!(raw.objects()[0]["metadata"]["name"], "a");
}

#[tokio::test]
async fn stale_updates_and_renames_are_refused() {
    let s = server(ApiServerConfig::default()).await;
    let store = s.store();
    let gvr = Gvr::core("configmaps");
    let w = WriteOptions::default();
    let created = store.create(&gvr, Some("default"), cm("a"), &w).unwrap();
    store
        .patch(
            &gvr,
            Some("default"),
            "a",
            PatchKind::Merge,
            br#"{"data":{"v":"2"}}"#,
            None,
            &w,
        )
        .unwrap();
    let err = store
        .update(&gvr, Some("default"), "a", (*created).clone(), None, &w)
        .unwrap_err();
    assert_eq!(err.code, 409);
    let err = store
        .patch(
            &gvr,
            Some("default"),
            "a",
            PatchKind::Merge,
            br#"{"metadata":{"name":"b"}}"#,
            None,
            &w,
        )
        .unwrap_err();
    assert_eq!(err.code, 400);
    let err = store
        .list(
            &gvr,
            None,
            &ListOptions {
                continue_token: Some("garbage".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code, 400);
}

#[tokio::test]
async fn timestamps_and_ages_follow_the_given_clock() {
    let start = chrono::DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let clock = ManualClock::new(start);
    let config = ApiServerConfig {
        clock: clock.clone(),
        ..ApiServerConfig::default()
    };
    let s = server(config).await;
    let store = s.store();
    let gvr = Gvr::core("nodes");
    let node = store
        .create(
            &gvr,
            None,
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}),
            &WriteOptions::default(),
        )
        .unwrap();
    assert_eq!(
        node["metadata"]["creationTimestamp"],
        "2030-01-01T00:00:00Z"
    );
    clock.advance(Duration::from_secs(3 * 3600));
    let http = reqwest::Client::new();
    let table: Value = http
        .get(format!("{}/api/v1/nodes", s.url()))
        .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let age = columns.iter().position(|c| *c == "Age").unwrap();
    assert_eq!(table["rows"][0]["cells"][age], "3h");
    assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
}

#[tokio::test]
async fn deleting_a_crd_removes_its_objects_and_ends_watches() {
    let s = server(ApiServerConfig::default()).await;
    let store = s.store();
    let crds = Gvr::new("apiextensions.k8s.io", "v1", "customresourcedefinitions");
    store
        .create(&crds, None, json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "gizmos.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced", "names": {"plural": "gizmos", "kind": "Gizmo"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}}),
            &WriteOptions::default())
        .unwrap();
    let gizmos = Gvr::new("example.com", "v1", "gizmos");
    store
        .create(
            &gizmos,
            Some("default"),
            json!({"apiVersion": "example.com/v1", "kind": "Gizmo", "metadata": {"name": "g"}}),
            &WriteOptions::default(),
        )
        .unwrap();
    let rv = store.current_rv().to_string();
    let mut watch = store
        .watch(
            &gizmos,
            None,
            &WatchOptions {
                resource_version: Some(rv),
                ..Default::default()
            },
        )
        .unwrap();
    store
        .delete(&crds, None, "gizmos.example.com", &DeleteOptions::default())
        .unwrap();
    let (kind, obj) = tokio::time::timeout(DEADLINE, watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        (kind, obj["metadata"]["name"].as_str()),
        (EventType::Deleted, Some("g"))
    );
    assert!(
        tokio::time::timeout(DEADLINE, watch.next())
            .await
            .unwrap()
            .is_none(),
        "the watch ends"
    );
    assert_eq!(
        store.get(&gizmos, Some("default"), "g").unwrap_err().code,
        404
    );
}

#[tokio::test]
async fn new_pods_get_the_real_servers_defaults() {
    let s = server(ApiServerConfig::default()).await;
    let store = s.store();
    let pods = Gvr::core("pods");
    let w = WriteOptions::default();
    let make = |name: &str, resources: Value| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "i", "resources": resources}]}})
    };
    let best = store
        .create(&pods, Some("default"), make("best", json!({})), &w)
        .unwrap();
    assert_eq!(best["status"]["qosClass"], "BestEffort");
    assert_eq!(best["status"]["phase"], "Pending");
    assert_eq!(best["spec"]["schedulerName"], "default-scheduler");
    assert_eq!(best["spec"]["terminationGracePeriodSeconds"], 30);
    let keys: Vec<&str> = best["spec"]["tolerations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable"
        ]
    );
    let fixed =
        json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}});
    let g = store
        .create(&pods, Some("default"), make("guaranteed", fixed), &w)
        .unwrap();
    assert_eq!(g["status"]["qosClass"], "Guaranteed");
    let some = json!({"requests": {"cpu": "100m"}});
    let b = store
        .create(&pods, Some("default"), make("burstable", some), &w)
        .unwrap();
    assert_eq!(b["status"]["qosClass"], "Burstable");
}
