//! The reconciler under the RBAC of deploy/: the simulated API server authenticates it as
//! `system:serviceaccount:kube-system:vpsie-autoscaler` and authorizes every request against
//! deploy/rbac-*.yaml (seeded by the sim world). A whole scale-up and scale-down needs no
//! request RBAC refuses; removing one rule makes exactly that operation Forbidden.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Secret};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client, ResourceExt};
use vpsie_autoscaler::api::{NodeGroup, VPSieNode, VPSieNodePhase};
use vpsie_autoscaler::sim::apiserver::rbac::Denial;
use vpsie_autoscaler::sim::rbac::SERVICE_ACCOUNT_USER;
use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig};
use vpsie_reconciler::config::ReconcilerConfig;
use vpsie_reconciler::runtime::{self, Running, ServeOptions};

const NS: &str = "kube-system";

async fn world() -> SimWorld {
    SimWorld::start(SimWorldConfig {
        speed: 20.0,
        example_nodegroup: false,
        ..SimWorldConfig::default()
    })
    .await
    .expect("sim world")
}

async fn reconciler(world: &SimWorld) -> Running {
    let config = ReconcilerConfig {
        cluster_name: "sim".into(),
        join_timeout: Duration::from_secs(60),
        ..ReconcilerConfig::default()
    };
    let mut options = ServeOptions::new(config, "test-reconciler");
    options.metrics_addr = ([127, 0, 0, 1], 0).into();
    runtime::start(
        world.reconciler_client().expect("client"),
        world.clock.clone(),
        options,
    )
    .await
    .expect("reconciler")
}

async fn group(client: &Client, name: &str, min: i32) {
    let ng: NodeGroup = serde_json::from_value(serde_json::json!({
        "apiVersion": "autoscaler.vpsie.com/v1alpha1",
        "kind": "NodeGroup",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "minNodes": min, "maxNodes": 5, "datacenterID": "dc-us-east-1",
            "offeringIDs": ["small-2cpu-4gb"], "osImageID": "ubuntu-22.04-lts",
        }
    }))
    .expect("nodegroup");
    Api::<NodeGroup>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &ng)
        .await
        .expect("create nodegroup");
}

async fn records(client: &Client) -> Vec<VPSieNode> {
    Api::<VPSieNode>::namespaced(client.clone(), NS)
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
}

/// Polls (each poll a real read) until `check` holds, for at most 60 s.
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn reconciler_denials(world: &SimWorld) -> Vec<Denial> {
    world
        .api
        .denials()
        .into_iter()
        .filter(|d| d.user == SERVICE_ACCOUNT_USER)
        .collect()
}

fn status_code(e: kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(s) => (s.code, s.message),
        other => panic!("expected an API error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_deploy_rbac_a_scale_up_and_down_needs_no_refused_request() {
    let world = world().await;
    let admin = world.client().unwrap();
    let running = reconciler(&world).await;
    group(&admin, "web", 2).await;
    until("two Ready nodes", || async {
        let vns = records(&admin).await;
        vns.len() == 2
            && vns
                .iter()
                .all(|v| v.phase() == VPSieNodePhase::Ready && v.status.is_some())
    })
    .await;
    // the status report and the leader Lease are written as the ServiceAccount too
    until("the status report", || async {
        Api::<ConfigMap>::namespaced(admin.clone(), NS)
            .get_opt(vpsie_reconciler::report::STATUS_CONFIGMAP)
            .await
            .unwrap()
            .is_some()
    })
    .await;
    Api::<NodeGroup>::namespaced(admin.clone(), NS)
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete the group");
    until("every record, VM and node gone", || async {
        records(&admin).await.is_empty()
            && world.cloud.vms().is_empty()
            && Api::<Node>::all(admin.clone())
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .is_empty()
    })
    .await;
    assert_eq!(reconciler_denials(&world), Vec::new());
    running.stop().await;
    world.shutdown().await;
}

/// Removes `verb` from the ClusterRole rule on `resource`; returns the role as it was.
async fn remove_verb(admin: &Client, resource: &str, verb: &str) -> ClusterRole {
    let api: Api<ClusterRole> = Api::all(admin.clone());
    let before = api.get("vpsie-autoscaler").await.expect("the ClusterRole");
    let mut role = before.clone();
    let mut found = false;
    for rule in role.rules.iter_mut().flatten() {
        if rule.resources.iter().flatten().any(|r| r == resource) {
            let n = rule.verbs.len();
            rule.verbs.retain(|v| v != verb);
            found |= rule.verbs.len() < n;
        }
    }
    assert!(found, "deploy/rbac-cluster.yaml grants {verb} {resource}");
    api.replace("vpsie-autoscaler", &PostParams::default(), &role)
        .await
        .expect("replace the ClusterRole");
    before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_delete_on_nodes_the_reconciler_is_forbidden_deleting_exactly_its_node() {
    let world = world().await;
    let admin = world.client().unwrap();
    let running = reconciler(&world).await;
    group(&admin, "web", 1).await;
    until("a Ready node", || async {
        records(&admin)
            .await
            .iter()
            .any(|v| v.phase() == VPSieNodePhase::Ready)
    })
    .await;
    let vn = records(&admin).await.remove(0);
    let node = vn
        .status
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .expect("the record names its node");
    let with_delete = remove_verb(&admin, "nodes", "delete").await;

    // retiring the record: the VM goes, then the reconciler deletes the Node, and is refused
    Api::<VPSieNode>::namespaced(admin.clone(), NS)
        .delete(&vn.name_any(), &DeleteParams::default())
        .await
        .expect("delete the record");
    until("a refused request", || async {
        !reconciler_denials(&world).is_empty()
    })
    .await;
    let denials = reconciler_denials(&world);
    for d in &denials {
        assert_eq!(
            (
                d.attributes.verb.as_str(),
                d.attributes.group.as_str(),
                d.attributes.resource.as_str(),
                d.attributes.name.as_deref(),
                d.attributes.namespace.as_deref()
            ),
            ("delete", "", "nodes", Some(node.as_str()), None),
            "only the Node's deletion is refused: {denials:?}"
        );
        assert_eq!(
            d.message,
            format!(
                "nodes \"{node}\" is forbidden: User \"system:serviceaccount:kube-system:vpsie-autoscaler\" cannot delete resource \"nodes\" in API group \"\" at the cluster scope"
            )
        );
    }
    // the record is held (its finalizer stays) while the Node cannot be deleted
    let held = Api::<VPSieNode>::namespaced(admin.clone(), NS)
        .get_opt(&vn.name_any())
        .await
        .unwrap();
    assert!(
        held.is_some_and(|h| h.metadata.deletion_timestamp.is_some()),
        "the record waits for its Node"
    );

    // the rule back: the next retry deletes the Node and lets the record go
    let api: Api<ClusterRole> = Api::all(admin.clone());
    let mut restored = with_delete;
    restored.metadata.resource_version = None;
    api.replace("vpsie-autoscaler", &PostParams::default(), &restored)
        .await
        .expect("restore the ClusterRole");
    until("the record gone", || async {
        Api::<VPSieNode>::namespaced(admin.clone(), NS)
            .get_opt(&vn.name_any())
            .await
            .unwrap()
            .is_none()
    })
    .await;
    running.stop().await;
    world.shutdown().await;
}

#[tokio::test]
async fn the_service_account_gets_what_deploy_grants_and_nothing_else() {
    let world = world().await;
    let sa = world.reconciler_client().unwrap();

    // cluster scope: nodes yes, deployments no
    Api::<Node>::all(sa.clone())
        .list(&ListParams::default())
        .await
        .expect("list nodes");
    let (code, message) = status_code(
        Api::<Deployment>::all(sa.clone())
            .list(&ListParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 403);
    assert_eq!(
        message,
        "deployments.apps is forbidden: User \"system:serviceaccount:kube-system:vpsie-autoscaler\" cannot list resource \"deployments\" in API group \"apps\" at the cluster scope"
    );

    // resourceNames: the one Secret, listed by name; not another, not all of them
    let secrets: Api<Secret> = Api::namespaced(sa.clone(), NS);
    secrets
        .list(&ListParams::default().fields("metadata.name=vpsie-secret"))
        .await
        .expect("list the Secret by name");
    let (code, message) = status_code(secrets.list(&ListParams::default()).await.unwrap_err());
    assert_eq!(code, 403);
    assert!(
        message.ends_with(
            "cannot list resource \"secrets\" in API group \"\" in the namespace \"kube-system\""
        ),
        "{message}"
    );
    let (code, _) = status_code(secrets.get("vpsie-secret").await.unwrap_err());
    assert_eq!(code, 403, "list and watch were granted, not get");

    // a Role is only for its namespace
    let (code, message) = status_code(
        Api::<ConfigMap>::namespaced(sa.clone(), "default")
            .list(&ListParams::default().fields("metadata.name=vpsie-autoscaler-status"))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 403);
    assert!(
        message.contains("in the namespace \"default\""),
        "{message}"
    );

    // a subresource needs its own rule: nodegroups/status patch yes, nodegroups create no
    let (code, _) = status_code(
        Api::<NodeGroup>::namespaced(sa.clone(), NS)
            .create(
                &PostParams::default(),
                &serde_json::from_value(serde_json::json!({
                    "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
                    "metadata": {"name": "x", "namespace": NS},
                    "spec": {"minNodes": 0, "maxNodes": 1, "datacenterID": "dc-us-east-1",
                             "offeringIDs": ["small-2cpu-4gb"], "osImageID": "ubuntu-22.04-lts"}
                }))
                .unwrap(),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 403);

    // a token the server never issued is not anyone
    let stranger = world.api.client_with_token("not-a-token").unwrap();
    let (code, _) = status_code(
        Api::<Node>::all(stranger)
            .list(&ListParams::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 401);
    world.shutdown().await;
}
