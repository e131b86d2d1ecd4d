//! The simulated API server driven by kube-rs over real HTTP on 127.0.0.1.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, EvictParams, GroupVersionKind, ListParams,
    Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::watcher::{self, Event};
use kube::Client;
use serde_json::{json, Value};
use vpsie_autoscaler::sim::apiserver::{ApiServerConfig, SimApiServer, StoreConfig};

const DEADLINE: Duration = Duration::from_secs(10);

async fn start() -> (SimApiServer, Client) {
    start_with(ApiServerConfig::default()).await
}

async fn start_with(config: ApiServerConfig) -> (SimApiServer, Client) {
    let server = SimApiServer::start(config).await.expect("server starts");
    let client = server.client().expect("client");
    (server, client)
}

fn cm(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    let mut c = ConfigMap::default();
    c.metadata.name = Some(name.to_string());
    c.data = Some(
        data.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    );
    c
}

fn api_status(e: kube::Error) -> kube::core::Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

async fn install_crds(client: &Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let text = include_str!("fixtures/apiserver/crds.yaml");
    let crds: Vec<CustomResourceDefinition> =
        vpsie_autoscaler::yaml::documents(text).expect("fixture CRDs parse");
    for crd in crds {
        let name = crd.metadata.name.clone().expect("named");
        api.patch(
            &name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(&crd),
        )
        .await
        .expect("CRD applies");
    }
}

fn ng_api(client: &Client, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("autoscaler.vpsie.com", "v1alpha1", "NodeGroup");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "nodegroups");
    Api::namespaced_with(client.clone(), ns, &ar)
}

fn vn_api(client: &Client, ns: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("autoscaler.vpsie.com", "v1alpha1", "VPSieNode");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "vpsienodes");
    Api::namespaced_with(client.clone(), ns, &ar)
}

fn nodegroup(name: &str, min: i64, max: i64) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
        "metadata": {"name": name},
        "spec": {"minNodes": min, "maxNodes": max, "datacenterID": "dc-1", "offeringIDs": ["small"]}
    }))
    .expect("nodegroup json")
}

fn rv_of<K: kube::Resource>(k: &K) -> String {
    k.meta().resource_version.clone().unwrap_or_default()
}

#[tokio::test]
async fn configmap_crud_and_stale_update_conflicts() {
    let (server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = api
        .create(&PostParams::default(), &cm("one", &[("a", "1")]))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    let rv1 = rv_of(&created);
    assert!(!rv1.is_empty());

    let err = api
        .create(&PostParams::default(), &cm("one", &[]))
        .await
        .unwrap_err();
    let s = api_status(err);
    assert_eq!((s.code, s.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(s.message, "configmaps \"one\" already exists");

    let mut changed = created.clone();
    changed.data = Some(BTreeMap::from([("a".to_string(), "2".to_string())]));
    let updated = api
        .replace("one", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert!(rv_of(&updated).parse::<u64>().unwrap() > rv1.parse::<u64>().unwrap());

    // The same stale object again: 409 Conflict.
    let err = api
        .replace("one", &PostParams::default(), &changed)
        .await
        .unwrap_err();
    let s = api_status(err);
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"));
    assert!(
        s.message.contains("the object has been modified"),
        "{}",
        s.message
    );

    let got = api.get("one").await.unwrap();
    assert_eq!(got.data.unwrap()["a"], "2");

    let deleted = api.delete("one", &DeleteParams::default()).await.unwrap();
    assert!(deleted.is_right(), "a deleted configmap answers a Status");
    let s = api_status(api.get("one").await.unwrap_err());
    assert_eq!(s.code, 404);
    assert_eq!(s.message, "configmaps \"one\" not found");
    server.shutdown().await;
}

#[tokio::test]
async fn generate_name_and_missing_namespace() {
    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut c = cm("", &[]);
    c.metadata.name = None;
    c.metadata.generate_name = Some("gen-".into());
    let a = api.create(&PostParams::default(), &c).await.unwrap();
    let b = api.create(&PostParams::default(), &c).await.unwrap();
    let (na, nb) = (a.metadata.name.unwrap(), b.metadata.name.unwrap());
    assert!(na.starts_with("gen-") && na.len() == 9, "{na}");
    assert_ne!(na, nb);
    let nowhere: Api<ConfigMap> = Api::namespaced(client, "nowhere");
    let s = api_status(
        nowhere
            .create(&PostParams::default(), &cm("x", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, 404);
    assert_eq!(s.message, "namespaces \"nowhere\" not found");
}

#[tokio::test]
async fn merge_json_and_apply_patches() {
    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("p", &[("a", "1")]))
        .await
        .unwrap();

    let merged = api
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"b": "2", "a": null}})),
        )
        .await
        .unwrap();
    let data = merged.data.unwrap();
    assert_eq!(data.get("b").map(String::as_str), Some("2"));
    assert!(!data.contains_key("a"));

    let ok: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/b", "value": "2"},
        {"op": "replace", "path": "/data/b", "value": "3"}
    ]))
    .unwrap();
    let patched = api
        .patch("p", &PatchParams::default(), &Patch::Json::<()>(ok))
        .await
        .unwrap();
    assert_eq!(patched.data.unwrap()["b"], "3");

    let failing: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/b", "value": "nope"},
        {"op": "remove", "path": "/data/b"}
    ]))
    .unwrap();
    let s = api_status(
        api.patch("p", &PatchParams::default(), &Patch::Json::<()>(failing))
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, 422);
    assert_eq!(api.get("p").await.unwrap().data.unwrap()["b"], "3");

    // Server-side apply creates a missing object, and re-applying it changes nothing.
    let applied = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"k": "v"}});
    let pp = PatchParams::apply("tester").force();
    let first = api
        .patch("applied", &pp, &Patch::Apply(&applied))
        .await
        .unwrap();
    let second = api
        .patch("applied", &pp, &Patch::Apply(&applied))
        .await
        .unwrap();
    assert_eq!(rv_of(&first), rv_of(&second), "re-applying is a no-op");
    let changed = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"k": "w"}});
    let third = api
        .patch("applied", &pp, &Patch::Apply(&changed))
        .await
        .unwrap();
    assert_ne!(rv_of(&third), rv_of(&second));
    assert_eq!(third.data.unwrap()["k"], "w");

    // A merge patch carrying a stale resourceVersion is a conflict.
    let stale = json!({"metadata": {"resourceVersion": rv_of(&first)}, "data": {"k": "x"}});
    let s = api_status(
        api.patch("applied", &PatchParams::default(), &Patch::Merge(stale))
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, 409);

    // Dry run answers without storing.
    let dry = api
        .patch(
            "applied",
            &PatchParams::default().dry_run(),
            &Patch::Merge(json!({"data": {"k": "dry"}})),
        )
        .await
        .unwrap();
    assert_eq!(dry.data.unwrap()["k"], "dry");
    assert_eq!(api.get("applied").await.unwrap().data.unwrap()["k"], "w");
}

#[tokio::test]
async fn strategic_merge_patch_merges_containers_by_name() {
    let (_server, client) = start().await;
    let api: Api<Pod> = Api::namespaced(client, "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "a", "image": "img:1"}, {"name": "b", "image": "img:1"}]}
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &pod).await.unwrap();
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));
    let patched = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"containers": [{"name": "b", "image": "img:2"}]}})),
        )
        .await
        .unwrap();
    let containers = patched.spec.unwrap().containers;
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[0].image.as_deref(), Some("img:1"));
    assert_eq!(containers[1].image.as_deref(), Some("img:2"));
}

#[tokio::test]
async fn watcher_sees_every_change_once_and_in_order() {
    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("before", &[]))
        .await
        .unwrap();
    let mut stream = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    let mut initial = Vec::new();
    loop {
        match tokio::time::timeout(DEADLINE, stream.try_next()).await {
            Ok(Ok(Some(Event::InitApply(o)))) => initial.push(o.metadata.name.unwrap()),
            Ok(Ok(Some(Event::InitDone))) => break,
            Ok(Ok(Some(_))) => {}
            other => panic!("watcher init failed: {other:?}"),
        }
    }
    assert_eq!(initial, vec!["before"]);

    api.create(&PostParams::default(), &cm("w", &[("v", "1")]))
        .await
        .unwrap();
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await
    .unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();
    api.create(&PostParams::default(), &cm("sentinel", &[]))
        .await
        .unwrap();

    let mut seen = Vec::new();
    loop {
        let ev = tokio::time::timeout(DEADLINE, stream.try_next())
            .await
            .expect("event before the deadline")
            .expect("watch ok")
            .expect("stream open");
        match ev {
            Event::Apply(o) => {
                let name = o.metadata.name.clone().unwrap();
                if name == "sentinel" {
                    break;
                }
                let v = o
                    .data
                    .unwrap_or_default()
                    .get("v")
                    .cloned()
                    .unwrap_or_default();
                seen.push(format!("apply {name} v={v}"));
            }
            Event::Delete(o) => seen.push(format!("delete {}", o.metadata.name.unwrap())),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, vec!["apply w v=1", "apply w v=2", "delete w"]);
}

#[tokio::test]
async fn too_old_resource_version_is_gone_and_watcher_relists() {
    let config = ApiServerConfig {
        store: StoreConfig {
            watch_window: 5,
            ..StoreConfig::default()
        },
        bookmark_interval: Duration::from_secs(3600),
        ..ApiServerConfig::default()
    };
    let (_server, client) = start_with(config).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let list = api.list(&ListParams::default()).await.unwrap();
    let old_rv = list.metadata.resource_version.unwrap();
    for i in 0..10 {
        api.create(&PostParams::default(), &cm(&format!("fill-{i}"), &[]))
            .await
            .unwrap();
    }
    // A raw watch from the old version gets a 410 Expired ERROR event.
    let mut raw = api
        .watch(&WatchParams::default().timeout(5), &old_rv)
        .await
        .unwrap()
        .boxed();
    match tokio::time::timeout(DEADLINE, raw.next()).await {
        Ok(Some(Ok(WatchEvent::Error(e)))) => assert_eq!(e.code, 410),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }

    // A watcher whose last seen version falls out of the window relists.
    let wc = watcher::Config::default()
        .labels("watched=yes")
        .timeout(1)
        .disable_bookmarks();
    let mut stream = watcher::watcher(api.clone(), wc).boxed();
    let mut watched = cm("a", &[]);
    watched.metadata.labels = Some(BTreeMap::from([("watched".into(), "yes".into())]));
    let mut inits = 0;
    let mut created_a = false;
    let mut filled = false;
    let mut relisted_with_a = false;
    while !relisted_with_a {
        let ev = tokio::time::timeout(DEADLINE, stream.next())
            .await
            .expect("event before the deadline")
            .expect("stream open");
        match ev {
            Ok(Event::Init) => inits += 1,
            Ok(Event::InitDone) if !created_a => {
                created_a = true;
                api.create(&PostParams::default(), &watched).await.unwrap();
            }
            Ok(Event::Apply(o)) if o.metadata.name.as_deref() == Some("a") && !filled => {
                filled = true;
                // Unwatched writes push "a"'s version out of the 5-event window.
                for i in 0..10 {
                    api.create(&PostParams::default(), &cm(&format!("more-{i}"), &[]))
                        .await
                        .unwrap();
                }
            }
            Ok(Event::InitApply(o)) if inits >= 2 => {
                relisted_with_a = o.metadata.name.as_deref() == Some("a");
            }
            Ok(_) => {}
            Err(e) => {
                // The 410 surfaces as a watch error before the relist.
                assert!(format!("{e:?}").contains("410"), "{e:?}");
            }
        }
    }
    assert!(inits >= 2, "the watcher listed again after 410");
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut c = cm("held", &[]);
    c.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &c).await.unwrap();
    let pending = api.delete("held", &DeleteParams::default()).await.unwrap();
    let obj = pending
        .left()
        .expect("still present while finalizers remain");
    assert!(obj.metadata.deletion_timestamp.is_some());
    let still = api.get("held").await.unwrap();
    assert!(still.metadata.deletion_timestamp.is_some());
    // No new finalizers on an object being deleted.
    let s = api_status(
        api.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}),
            ),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(s.code, 422);
    assert!(
        s.message
            .contains("metadata.finalizers: Forbidden: no new finalizers"),
        "{}",
        s.message
    );

    // Remove the finalizer the way kube-rs' finalizer helper does: a JSON patch with a test op.
    let remove: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": "example.com/hold"},
        {"op": "remove", "path": "/metadata/finalizers/0"}
    ]))
    .unwrap();
    api.patch("held", &PatchParams::default(), &Patch::Json::<()>(remove))
        .await
        .unwrap();
    assert_eq!(api_status(api.get("held").await.unwrap_err()).code, 404);
}

#[tokio::test]
async fn owner_references_cascade_on_delete() {
    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let owner = api
        .create(&PostParams::default(), &cm("owner", &[]))
        .await
        .unwrap();
    let owner_ref = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid.clone().unwrap()}]);
    for name in ["dep-1", "dep-2"] {
        let dep: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": name, "ownerReferences": owner_ref}}),
        )
        .unwrap();
        api.create(&PostParams::default(), &dep).await.unwrap();
    }
    let orphan_owner = api
        .create(&PostParams::default(), &cm("owner2", &[]))
        .await
        .unwrap();
    let ref2 = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner2", "uid": orphan_owner.metadata.uid.unwrap()}]);
    let dep: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "dep-3", "ownerReferences": ref2}}))
            .unwrap();
    api.create(&PostParams::default(), &dep).await.unwrap();

    api.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    assert_eq!(api_status(api.get("dep-1").await.unwrap_err()).code, 404);
    assert_eq!(api_status(api.get("dep-2").await.unwrap_err()).code, 404);

    api.delete("owner2", &DeleteParams::orphan()).await.unwrap();
    let kept = api.get("dep-3").await.unwrap();
    assert!(kept
        .metadata
        .owner_references
        .unwrap_or_default()
        .is_empty());
}

#[tokio::test]
async fn crd_is_served_with_status_subresource_and_generation() {
    let (_server, client) = start().await;
    install_crds(&client).await;
    let api = ng_api(&client, "kube-system");
    let created = api
        .create(&PostParams::default(), &nodegroup("web", 1, 3))
        .await
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    // Defaults from the schema, including nested defaults inside a defaulted object.
    assert_eq!(created.data["spec"]["allowMixedInstances"], json!(false));
    assert_eq!(
        created.data["spec"]["scaleDownPolicy"]["cooldownSeconds"],
        json!(600)
    );

    // Status write through /status: no generation bump.
    let st = api
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"currentNodes": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(st.data["status"]["currentNodes"], json!(2));
    assert_eq!(st.metadata.generation, Some(1));

    // Spec change: generation bumps.
    let spec = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"maxNodes": 4}})),
        )
        .await
        .unwrap();
    assert_eq!(spec.metadata.generation, Some(2));

    // Status through the main resource is ignored; spec through /status is ignored.
    let ignored = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"currentNodes": 99}})),
        )
        .await
        .unwrap();
    assert_eq!(ignored.data["status"]["currentNodes"], json!(2));
    let ignored = api
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"maxNodes": 9}, "status": {"currentNodes": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(ignored.data["spec"]["maxNodes"], json!(4));
    assert_eq!(ignored.data["status"]["currentNodes"], json!(3));
    assert_eq!(ignored.metadata.generation, Some(2));

    // Strategic merge patches are refused for custom resources, like the real server.
    let s = api_status(
        api.patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"maxNodes": 5}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(s.code, 415);

    let list = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let s = api_status(api.get("nope").await.unwrap_err());
    assert_eq!(
        s.message,
        "nodegroups.autoscaler.vpsie.com \"nope\" not found"
    );

    // Deleting the CRD stops serving the resource.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.delete("nodegroups.autoscaler.vpsie.com", &DeleteParams::default())
        .await
        .unwrap();
    assert_eq!(
        api_status(api.list(&ListParams::default()).await.unwrap_err()).code,
        404
    );
}

#[tokio::test]
async fn schema_and_cel_violations_answer_422_naming_fields() {
    let (_server, client) = start().await;
    install_crds(&client).await;
    let api = ng_api(&client, "kube-system");

    let s = api_status(
        api.create(&PostParams::default(), &nodegroup("bad", 5, 2))
            .await
            .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    let causes = s.details.unwrap().causes;
    assert_eq!(causes[0].field, "spec.maxNodes");
    assert!(
        s.message
            .contains("maxNodes must be greater than or equal to minNodes"),
        "{}",
        s.message
    );

    let s = api_status(
        api.create(&PostParams::default(), &nodegroup("bad", 0, 0))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        s.message,
        "NodeGroup.autoscaler.vpsie.com \"bad\" is invalid: spec.maxNodes: Invalid value: 0: spec.maxNodes in body should be greater than or equal to 1"
    );

    let mut missing = nodegroup("bad", 1, 2);
    missing.data["spec"]
        .as_object_mut()
        .unwrap()
        .remove("offeringIDs");
    let s = api_status(
        api.create(&PostParams::default(), &missing)
            .await
            .unwrap_err(),
    );
    assert!(
        s.message.contains("spec.offeringIDs: Required value"),
        "{}",
        s.message
    );

    // Transition rule with oldSelf: nodeGroupName is immutable on update only.
    let vns = vn_api(&client, "kube-system");
    let vn: DynamicObject = serde_json::from_value(json!({"apiVersion": "autoscaler.vpsie.com/v1alpha1",
        "kind": "VPSieNode", "metadata": {"name": "vn-1"}, "spec": {"nodeGroupName": "web", "instanceType": "small"}}))
    .unwrap();
    vns.create(&PostParams::default(), &vn).await.unwrap();
    let s = api_status(
        vns.patch(
            "vn-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"nodeGroupName": "other"}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(s.code, 422);
    assert!(
        s.message.contains("nodeGroupName is immutable"),
        "{}",
        s.message
    );

    // Enum on the status subresource.
    let s = api_status(
        vns.patch_status(
            "vn-1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Exploding"}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(s.code, 422);
    assert!(
        s.message
            .contains("status.phase: Unsupported value: \"Exploding\""),
        "{}",
        s.message
    );

    // Without strict field validation, unknown fields are pruned.
    let mut unknown = nodegroup("extra", 1, 2);
    unknown.data["spec"]["bogus"] = json!(1);
    let created = api.create(&PostParams::default(), &unknown).await.unwrap();
    assert!(created.data["spec"].get("bogus").is_none());
}

#[tokio::test]
async fn selectors_and_paging() {
    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..1200 {
        let mut c = cm(&format!("cm-{i:04}"), &[]);
        let parity = if i % 2 == 0 { "even" } else { "odd" };
        c.metadata.labels = Some(BTreeMap::from([("parity".into(), parity.into())]));
        api.create(&PostParams::default(), &c).await.unwrap();
    }
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut lp = ListParams::default().limit(500);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.unwrap();
        pages += 1;
        names.extend(page.items.into_iter().map(|c| c.metadata.name.unwrap()));
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names.len(), 1200);
    let mut sorted = names.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 1200, "no duplicates across pages");

    let odd = api
        .list(&ListParams::default().labels("parity=odd"))
        .await
        .unwrap();
    assert_eq!(odd.items.len(), 600);
    let one = api
        .list(&ListParams::default().fields("metadata.name=cm-0007"))
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    let s = api_status(
        api.list(&ListParams::default().fields("data.x=1"))
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, 400);
    assert_eq!(s.message, "field label not supported: data.x");

    // Pods by node and phase.
    let pods: Api<Pod> = Api::namespaced(client, "default");
    for (name, node) in [("p1", "n1"), ("p2", "n2"), ("p3", "n1")] {
        let p: Pod = serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}}))
        .unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    let on_n1 = pods
        .list(&ListParams::default().fields("spec.nodeName=n1,status.phase=Pending"))
        .await
        .unwrap();
    assert_eq!(on_n1.items.len(), 2);
}

#[tokio::test]
async fn crd_selectable_fields_filter_lists() {
    let (_server, client) = start().await;
    install_crds(&client).await;
    let vns = vn_api(&client, "kube-system");
    for (name, phase) in [("a", "Provisioning"), ("b", "Ready"), ("c", "Provisioning")] {
        let vn: DynamicObject =
            serde_json::from_value(json!({"apiVersion": "autoscaler.vpsie.com/v1alpha1",
            "kind": "VPSieNode", "metadata": {"name": name, "labels": {"nodegroup": "web"}},
            "spec": {"nodeGroupName": "web", "instanceType": "small"}}))
            .unwrap();
        vns.create(&PostParams::default(), &vn).await.unwrap();
        vns.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": phase}})),
        )
        .await
        .unwrap();
    }
    let prov = vns
        .list(&ListParams::default().fields("status.phase=Provisioning"))
        .await
        .unwrap();
    let names: Vec<String> = prov
        .items
        .into_iter()
        .map(|o| o.metadata.name.unwrap())
        .collect();
    assert_eq!(names, vec!["a", "c"]);
}

#[tokio::test]
async fn leases_honour_resource_version_preconditions() {
    let (_server, client) = start().await;
    let api: Api<Lease> = Api::namespaced(client, "kube-system");
    let lease: Lease = serde_json::from_value(json!({"metadata": {"name": "leader"},
        "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}))
    .unwrap();
    let l = api.create(&PostParams::default(), &lease).await.unwrap();
    let mut mine = l.clone();
    mine.spec.as_mut().unwrap().holder_identity = Some("b".into());
    let taken = api
        .replace("leader", &PostParams::default(), &mine)
        .await
        .unwrap();
    assert_eq!(taken.spec.unwrap().holder_identity.as_deref(), Some("b"));
    // A competitor with the old resourceVersion loses.
    let mut theirs = l;
    theirs.spec.as_mut().unwrap().holder_identity = Some("c".into());
    let s = api_status(
        api.replace("leader", &PostParams::default(), &theirs)
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, 409);
}

#[tokio::test]
async fn binding_and_eviction_respect_disruption_budgets() {
    let (_server, client) = start().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for name in ["a", "b"] {
        let p: Pod =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}))
            .unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}, "target": {"kind": "Node", "name": "n1"}});
        let _: Value = pods
            .create_subresource("binding", name, &PostParams::default(), &binding)
            .await
            .unwrap();
        pods.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]}})),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        pods.get("a")
            .await
            .unwrap()
            .spec
            .unwrap()
            .node_name
            .as_deref(),
        Some("n1")
    );
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "a"}, "target": {"kind": "Node", "name": "n2"}});
    let err = pods
        .create_subresource::<Value, Value>("binding", "a", &PostParams::default(), &binding)
        .await
        .unwrap_err();
    assert_eq!(api_status(err).code, 409);

    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client, "default");
    let pdb: PodDisruptionBudget = serde_json::from_value(json!({"metadata": {"name": "web"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}}))
    .unwrap();
    pdbs.create(&PostParams::default(), &pdb).await.unwrap();

    pods.evict("a", &EvictParams::default()).await.unwrap();
    assert_eq!(api_status(pods.get("a").await.unwrap_err()).code, 404);
    let s = api_status(pods.evict("b", &EvictParams::default()).await.unwrap_err());
    assert_eq!((s.code, s.reason.as_str()), (429, "TooManyRequests"));
    assert_eq!(
        s.message,
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    assert!(pods.get("b").await.is_ok());
}

#[tokio::test]
async fn in_process_store_shares_versions_and_watches_with_http() {
    use vpsie_autoscaler::sim::apiserver::{EventType, Gvr, WatchOptions, WriteOptions};
    let (server, client) = start().await;
    let store = server.store();
    let gvr = Gvr::core("nodes");
    let mut watch = store.watch(&gvr, None, &WatchOptions::default()).unwrap();
    store
        .create(
            &gvr,
            None,
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}),
            &WriteOptions::default(),
        )
        .unwrap();
    let (kind, obj) = tokio::time::timeout(DEADLINE, watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(kind, EventType::Added);
    assert_eq!(obj["metadata"]["name"], "n1");
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client);
    let n = nodes.get("n1").await.unwrap();
    assert_eq!(
        rv_of(&n),
        obj["metadata"]["resourceVersion"].as_str().unwrap()
    );
    nodes.delete("n1", &DeleteParams::default()).await.unwrap();
    let (kind, _) = tokio::time::timeout(DEADLINE, watch.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(kind, EventType::Deleted);
}

#[tokio::test]
async fn metadata_lists_and_watches() {
    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("m", &[("big", "value")]))
        .await
        .unwrap();
    let list = api.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].metadata.name.as_deref(), Some("m"));
    let meta_api: Api<kube::core::PartialObjectMeta<ConfigMap>> =
        Api::namespaced(api.clone().into_client(), "default");
    let mut stream = watcher::watcher(meta_api, watcher::Config::default()).boxed();
    loop {
        match tokio::time::timeout(DEADLINE, stream.try_next()).await {
            Ok(Ok(Some(Event::InitDone))) => break,
            Ok(Ok(Some(_))) => {}
            other => panic!("metadata watcher init failed: {other:?}"),
        }
    }
    api.create(&PostParams::default(), &cm("n", &[]))
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(DEADLINE, stream.try_next()).await {
            Ok(Ok(Some(Event::Apply(m)))) => {
                assert_eq!(m.metadata.name.as_deref(), Some("n"));
                break;
            }
            Ok(Ok(Some(_))) => {}
            other => panic!("metadata watcher failed: {other:?}"),
        }
    }
}

#[tokio::test]
async fn label_selected_watch_sees_objects_enter_and_leave() {
    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = api
        .watch(&WatchParams::default().labels("team=a").timeout(30), &rv)
        .await
        .unwrap()
        .boxed();
    let mut c = cm("x", &[]);
    c.metadata.labels = Some(BTreeMap::from([("team".into(), "a".into())]));
    api.create(&PostParams::default(), &c).await.unwrap();
    let label = |v: &str| Patch::Merge(json!({"metadata": {"labels": {"team": v}}}));
    api.patch("x", &PatchParams::default(), &label("b"))
        .await
        .unwrap();
    api.patch("x", &PatchParams::default(), &label("a"))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("unlabelled", &[]))
        .await
        .unwrap();
    api.delete("x", &DeleteParams::default()).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let ev = tokio::time::timeout(DEADLINE, stream.next())
            .await
            .expect("event before the deadline")
            .expect("stream open")
            .expect("event ok");
        match ev {
            WatchEvent::Added(o) => seen.push(format!("added {}", o.metadata.name.unwrap())),
            WatchEvent::Modified(o) => seen.push(format!("modified {}", o.metadata.name.unwrap())),
            WatchEvent::Deleted(o) => seen.push(format!("deleted {}", o.metadata.name.unwrap())),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        }
    }
    assert_eq!(seen, ["added x", "deleted x", "added x", "deleted x"]);
}

#[tokio::test]
async fn watches_send_bookmarks_and_end_at_their_timeout() {
    let config = ApiServerConfig {
        bookmark_interval: Duration::from_millis(50),
        ..ApiServerConfig::default()
    };
    let (_server, client) = start_with(config).await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let created = api
        .create(&PostParams::default(), &cm("b", &[]))
        .await
        .unwrap();
    let mut stream = api
        .watch(&WatchParams::default().timeout(1), &rv_of(&created))
        .await
        .unwrap()
        .boxed();
    let mut bookmark = None;
    loop {
        let next = tokio::time::timeout(DEADLINE, stream.next())
            .await
            .expect("the watch ends by itself after timeoutSeconds");
        match next {
            Some(Ok(WatchEvent::Bookmark(b))) => bookmark = Some(b.metadata.resource_version),
            Some(other) => panic!("unexpected {other:?}"),
            None => break,
        }
    }
    let bookmark = bookmark.expect("a bookmark within a second");
    assert!(bookmark.parse::<u64>().unwrap() >= rv_of(&created).parse::<u64>().unwrap());
}

#[tokio::test]
async fn namespace_deletion_removes_its_objects_and_dry_run_stores_nothing() {
    let (_server, client) = start().await;
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap();
    let dry = nss
        .create(
            &PostParams {
                dry_run: true,
                field_manager: None,
            },
            &ns,
        )
        .await
        .unwrap();
    assert_eq!(dry.metadata.name.as_deref(), Some("team"));
    assert_eq!(api_status(nss.get("team").await.unwrap_err()).code, 404);
    nss.create(&PostParams::default(), &ns).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "team");
    api.create(&PostParams::default(), &cm("inside", &[]))
        .await
        .unwrap();
    nss.delete("team", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_status(api.get("inside").await.unwrap_err()).code, 404);
    let other: Api<ConfigMap> = Api::namespaced(client, "default");
    assert!(other
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test]
async fn dependents_of_a_finalized_owner_go_when_it_goes() {
    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let mut owner = cm("owner", &[]);
    owner.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    let owner = api.create(&PostParams::default(), &owner).await.unwrap();
    let dep: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "dep",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid.unwrap()}]}}))
    .unwrap();
    api.create(&PostParams::default(), &dep).await.unwrap();
    api.delete("owner", &DeleteParams::default()).await.unwrap();
    assert!(
        api.get("dep").await.is_ok(),
        "dependents wait for the owner to be gone"
    );
    api.patch(
        "owner",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(api_status(api.get("owner").await.unwrap_err()).code, 404);
    assert_eq!(api_status(api.get("dep").await.unwrap_err()).code, 404);
}

#[tokio::test]
async fn a_kube_runtime_controller_reconciles_against_the_sim() {
    use kube::runtime::controller::{Action, Controller};
    use std::sync::Arc;

    #[derive(Debug, thiserror::Error)]
    #[error("reconcile failed: {0}")]
    struct ReconcileError(#[from] kube::Error);

    async fn reconcile(
        obj: Arc<ConfigMap>,
        api: Arc<Api<ConfigMap>>,
    ) -> Result<Action, ReconcileError> {
        let name = obj.metadata.name.clone().unwrap_or_default();
        let done = obj
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key("reconciled"));
        if !done {
            api.patch(
                &name,
                &PatchParams::apply("sim-controller"),
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": name, "annotations": {"reconciled": "yes"}}})),
            )
            .await?;
        }
        Ok(Action::await_change())
    }
    fn error_policy(_: Arc<ConfigMap>, _: &ReconcileError, _: Arc<Api<ConfigMap>>) -> Action {
        Action::requeue(Duration::from_millis(100))
    }

    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let controller = Controller::new(api.clone(), watcher::Config::default())
        .run(reconcile, error_policy, Arc::new(api.clone()))
        .for_each(|_| async {});
    let handle = tokio::spawn(controller);
    api.create(&PostParams::default(), &cm("target", &[]))
        .await
        .unwrap();
    let mut watch = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    loop {
        let ev = tokio::time::timeout(DEADLINE, watch.try_next())
            .await
            .expect("the controller annotates before the deadline")
            .expect("watch ok")
            .expect("stream open");
        if let Event::Apply(o) | Event::InitApply(o) = ev {
            let annotated = o
                .metadata
                .annotations
                .is_some_and(|a| a.get("reconciled").map(String::as_str) == Some("yes"));
            if o.metadata.name.as_deref() == Some("target") && annotated {
                break;
            }
        }
    }
    handle.abort();
}

#[tokio::test]
async fn bound_pods_are_deleted_gracefully_when_configured() {
    let config = ApiServerConfig {
        store: StoreConfig {
            graceful_pod_deletion: true,
            ..StoreConfig::default()
        },
        ..ApiServerConfig::default()
    };
    let (_server, client) = start_with(config).await;
    let pods: Api<Pod> = Api::namespaced(client, "default");
    for (name, node) in [("bound", Some("n1")), ("pending", None)] {
        let p: Pod = serde_json::from_value(json!({"metadata": {"name": name},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 20, "containers": [{"name": "c", "image": "i"}]}}))
        .unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    // An unbound pod goes at once.
    assert!(pods
        .delete("pending", &DeleteParams::default())
        .await
        .unwrap()
        .is_right());
    // A bound pod gets a deletionTimestamp and waits for its kubelet.
    let terminating = pods
        .delete("bound", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("a bound pod stays while it terminates");
    assert_eq!(terminating.metadata.deletion_grace_period_seconds, Some(20));
    assert!(terminating.metadata.deletion_timestamp.is_some());
    // The kubelet still reports status meanwhile.
    pods.patch_status(
        "bound",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running"}})),
    )
    .await
    .unwrap();
    assert!(pods.get("bound").await.is_ok());
    // The kubelet's final delete with grace period 0 removes it.
    pods.delete("bound", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert_eq!(api_status(pods.get("bound").await.unwrap_err()).code, 404);
}

#[tokio::test]
async fn invalid_names_are_refused() {
    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    let s = api_status(
        api.create(&PostParams::default(), &cm("Bad_Name", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!(s.code, 422);
    assert!(
        s.message.starts_with("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"),
        "{}",
        s.message
    );
    assert!(api
        .create(&PostParams::default(), &cm("ok.name-1", &[]))
        .await
        .is_ok());
}

#[tokio::test]
async fn concurrent_writers_serialise_through_conflicts() {
    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &cm("counter", &[("n", "0")]))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0u32;
            for _ in 0..10 {
                loop {
                    let mut c = api.get("counter").await.unwrap();
                    let n: u64 = c.data.as_ref().unwrap()["n"].parse().unwrap();
                    c.data = Some(BTreeMap::from([("n".to_string(), (n + 1).to_string())]));
                    match api.replace("counter", &PostParams::default(), &c).await {
                        Ok(_) => break,
                        Err(kube::Error::Api(s)) if s.code == 409 => conflicts += 1,
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
            }
            conflicts
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n = api.get("counter").await.unwrap().data.unwrap()["n"].clone();
    assert_eq!(n, "80", "every increment landed exactly once");
}

#[tokio::test]
async fn status_server_side_apply_through_the_subresource() {
    let (_server, client) = start().await;
    install_crds(&client).await;
    let api = ng_api(&client, "kube-system");
    api.create(&PostParams::default(), &nodegroup("ssa", 1, 3))
        .await
        .unwrap();
    let status = json!({"apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
        "metadata": {"name": "ssa"}, "status": {"currentNodes": 1, "observedGeneration": 1,
        "conditions": [{"type": "Ready", "status": "True", "reason": "Scaled"}]}});
    let pp = PatchParams::apply("vpsie-autoscaler").force();
    let first = api
        .patch_status("ssa", &pp, &Patch::Apply(&status))
        .await
        .unwrap();
    assert_eq!(first.data["status"]["currentNodes"], json!(1));
    assert_eq!(first.metadata.generation, Some(1));
    let again = api
        .patch_status("ssa", &pp, &Patch::Apply(&status))
        .await
        .unwrap();
    assert_eq!(
        rv_of(&first),
        rv_of(&again),
        "same status applied twice is a no-op"
    );
    // Another manager's conditions merge by type.
    let other = json!({"apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
        "metadata": {"name": "ssa"}, "status": {"conditions": [{"type": "Scaling", "status": "False"}]}});
    let merged = api
        .patch_status(
            "ssa",
            &PatchParams::apply("someone-else"),
            &Patch::Apply(&other),
        )
        .await
        .unwrap();
    let types = |o: &DynamicObject| -> Vec<String> {
        o.data["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(types(&merged), ["Ready", "Scaling"]);

    // The first manager drops what it applied before: Ready and currentNodes go, the other
    // manager's condition stays.
    let fewer = json!({"apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
        "metadata": {"name": "ssa"}, "status": {"conditions": [{"type": "ScalingUp", "status": "True"}]}});
    let now = api
        .patch_status("ssa", &pp, &Patch::Apply(&fewer))
        .await
        .unwrap();
    assert_eq!(types(&now), ["Scaling", "ScalingUp"]);
    assert!(
        now.data["status"].get("currentNodes").is_none(),
        "no longer applied"
    );
    assert_eq!(
        now.data["spec"]["minNodes"],
        json!(1),
        "spec untouched by status applies"
    );
}

#[tokio::test]
async fn errors_are_status_objects_over_http() {
    let (server, _client) = start().await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{}{path}", server.url())).send();
    let r = get("/api/v1/namespaces/default/configmaps/missing")
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "configmaps \"missing\" not found", "reason": "NotFound",
            "details": {"name": "missing", "group": "", "kind": "configmaps"}, "code": 404})
    );
    let r = get("/apis/nothing.example.com/v1/things").await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["reason"], "NotFound");
    let r = http
        .put(format!(
            "{}/api/v1/namespaces/default/configmaps",
            server.url()
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["reason"], "MethodNotAllowed");
    let r = http
        .post(format!(
            "{}/api/v1/namespaces/default/configmaps",
            server.url()
        ))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["reason"], "BadRequest");
    let r = http
        .patch(format!(
            "{}/api/v1/namespaces/default/configmaps/x",
            server.url()
        ))
        .header("Content-Type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    // Discovery lists subresources as separate entries without short names.
    let doc: Value = get("/api/v1").await.unwrap().json().await.unwrap();
    let names: Vec<&str> = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for want in [
        "pods",
        "pods/status",
        "pods/binding",
        "pods/eviction",
        "nodes/status",
        "namespaces",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let status_entry = doc["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "pods/status")
        .unwrap();
    assert!(status_entry.get("shortNames").is_none());
}

#[tokio::test]
async fn crd_versions_share_storage() {
    let (_server, client) = start().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Cluster",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [
                {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}},
                {"name": "v1beta1", "served": true, "storage": false, "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}
            ]}}))
    .unwrap();
    let created = crds.create(&PostParams::default(), &crd).await.unwrap();
    let conditions = created.status.unwrap().conditions.unwrap();
    assert!(conditions
        .iter()
        .any(|c| c.type_ == "Established" && c.status == "True"));
    let api_for = |v: &str| {
        let gvk = GroupVersionKind::gvk("example.com", v, "Widget");
        Api::<DynamicObject>::all_with(
            client.clone(),
            &ApiResource::from_gvk_with_plural(&gvk, "widgets"),
        )
    };
    let w: DynamicObject =
        serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w1"}, "spec": {"size": 3}}))
        .unwrap();
    api_for("v1")
        .create(&PostParams::default(), &w)
        .await
        .unwrap();
    let old = api_for("v1beta1").get("w1").await.unwrap();
    assert_eq!(old.types.unwrap().api_version, "example.com/v1beta1");
    assert_eq!(old.data["spec"]["size"], json!(3));
}

#[tokio::test]
async fn streaming_list_watchers_get_initial_events_then_changes() {
    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    for name in ["s1", "s2"] {
        api.create(&PostParams::default(), &cm(name, &[]))
            .await
            .unwrap();
    }
    let mut stream =
        watcher::watcher(api.clone(), watcher::Config::default().streaming_lists()).boxed();
    let mut initial = Vec::new();
    loop {
        match tokio::time::timeout(DEADLINE, stream.try_next()).await {
            Ok(Ok(Some(Event::InitApply(o)))) => initial.push(o.metadata.name.unwrap()),
            Ok(Ok(Some(Event::InitDone))) => break,
            Ok(Ok(Some(_))) => {}
            other => panic!("streaming list failed: {other:?}"),
        }
    }
    assert_eq!(initial, ["s1", "s2"]);
    api.create(&PostParams::default(), &cm("s3", &[]))
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(DEADLINE, stream.try_next()).await {
            Ok(Ok(Some(Event::Apply(o)))) => {
                assert_eq!(o.metadata.name.as_deref(), Some("s3"));
                break;
            }
            Ok(Ok(Some(_))) => {}
            other => panic!("streaming watch failed: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_namespace_with_finalized_content_stays_terminating() {
    let (_server, client) = start().await;
    let nss: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": "held-ns"}})).unwrap();
    nss.create(&PostParams::default(), &ns).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "held-ns");
    let mut held = cm("held", &[]);
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &held).await.unwrap();
    api.create(&PostParams::default(), &cm("free", &[]))
        .await
        .unwrap();

    let pending = nss
        .delete("held-ns", &DeleteParams::default())
        .await
        .unwrap();
    let terminating = pending.left().expect("the namespace waits for its content");
    assert_eq!(
        terminating.status.unwrap().phase.as_deref(),
        Some("Terminating")
    );
    assert_eq!(api_status(api.get("free").await.unwrap_err()).code, 404);
    assert!(api
        .get("held")
        .await
        .unwrap()
        .metadata
        .deletion_timestamp
        .is_some());
    let s = api_status(
        api.create(&PostParams::default(), &cm("late", &[]))
            .await
            .unwrap_err(),
    );
    assert_eq!((s.code, s.reason.as_str()), (403, "Forbidden"));
    assert!(
        s.message.contains("because it is being terminated"),
        "{}",
        s.message
    );

    api.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(api_status(nss.get("held-ns").await.unwrap_err()).code, 404);
}

#[tokio::test]
async fn await_condition_sees_a_crd_established() {
    use kube::runtime::wait::{await_condition, conditions};
    let (_server, client) = start().await;
    install_crds(&client).await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let established = tokio::time::timeout(
        DEADLINE,
        await_condition(
            crds,
            "nodegroups.autoscaler.vpsie.com",
            conditions::is_crd_established(),
        ),
    )
    .await
    .expect("established before the deadline")
    .expect("watch ok");
    assert!(established.is_some());
    // Re-applying the same CRD changes nothing.
    let before = Api::<CustomResourceDefinition>::all(client.clone())
        .get("nodegroups.autoscaler.vpsie.com")
        .await
        .unwrap();
    install_crds(&client).await;
    let after = Api::<CustomResourceDefinition>::all(client)
        .get("nodegroups.autoscaler.vpsie.com")
        .await
        .unwrap();
    assert_eq!(rv_of(&before), rv_of(&after));
}
