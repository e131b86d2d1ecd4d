//! The credential watcher against the simulated API server over HTTP, with the real kube-rs
//! client: initial load, rotation, deletion, a Secret without `clientSecret`, and the
//! hand-over to a real `VpsieClient` pointed at the simulated VPSie cloud.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::Api;
use tokio::sync::watch;
use vpsie_autoscaler::clock;
use vpsie_autoscaler::cloud::{ClientConfig, CloudMetrics, VpsieClient};
use vpsie_autoscaler::sim::apiserver::{ApiServerConfig, SimApiServer};
use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig};
use vpsie_reconciler::creds::{
    apply_to, follow, ApplyOutcome, CredentialsState, CredentialsWatcher,
};

const NS: &str = "kube-system";
const NAME: &str = "vpsie-secret";
const DEADLINE: Duration = Duration::from_secs(5);

fn secret(pairs: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(NAME.into()),
            namespace: Some(NS.into()),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..Default::default()
    }
}

/// Waits until the state satisfies `pred`, failing after [`DEADLINE`].
async fn wait_for(
    rx: &mut watch::Receiver<CredentialsState>,
    what: &str,
    pred: impl Fn(&CredentialsState) -> bool,
) -> CredentialsState {
    let got = tokio::time::timeout(DEADLINE, rx.wait_for(|s| pred(s)))
        .await
        .map(|r| r.map(|s| s.clone()));
    match got {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => panic!("the watcher stopped while waiting for {what}"),
        Err(_) => panic!("no {what} within {DEADLINE:?}; state: {:?}", *rx.borrow()),
    }
}

/// `kubectl create secret generic ... --dry-run=client -o yaml | kubectl apply -f -`.
async fn apply_secret(api: &Api<Secret>, pairs: &[(&str, &str)]) {
    let mut s = secret(pairs);
    s.metadata.namespace = None;
    let mut v = serde_json::to_value(&s).expect("serializes");
    v["apiVersion"] = "v1".into();
    v["kind"] = "Secret".into();
    api.patch(
        NAME,
        &PatchParams::apply("kubectl").force(),
        &Patch::Apply(&v),
    )
    .await
    .expect("apply");
}

#[tokio::test]
async fn loads_rotates_goes_missing_and_comes_back() {
    let server = SimApiServer::start(ApiServerConfig::default())
        .await
        .expect("sim starts");
    let client = server.client().expect("client");
    let api: Api<Secret> = Api::namespaced(client.clone(), NS);
    api.create(
        &PostParams::default(),
        &secret(&[("clientId", "id-1"), ("clientSecret", "first-s3cret")]),
    )
    .await
    .expect("create");
    let handle = CredentialsWatcher::spawn(client.clone(), NS, NAME, clock::system());
    let mut rx = handle.subscribe();
    let first = wait_for(&mut rx, "the initial load", |s| s.kind() == "loaded").await;
    let fp1 = first.fingerprint().expect("fingerprint").to_string();
    let CredentialsState::Loaded {
        resource_version, ..
    } = &first
    else {
        unreachable!("waited for loaded")
    };
    assert!(!resource_version.is_empty());

    // Rotation without a restart.
    apply_secret(
        &api,
        &[("clientId", "id-1"), ("clientSecret", "second-s3cret")],
    )
    .await;
    let second = wait_for(&mut rx, "the rotated credentials", |s| {
        s.fingerprint().is_some_and(|f| f != fp1)
    })
    .await;
    let fp2 = second.fingerprint().expect("fingerprint").to_string();

    // Deleted -> Missing, with the message of the spec.
    api.delete(NAME, &DeleteParams::default())
        .await
        .expect("delete");
    let missing = wait_for(&mut rx, "Missing", |s| s.kind() == "missing").await;
    assert_eq!(
        missing.message().as_deref(),
        Some("Secret kube-system/vpsie-secret not found: create it with keys clientId and clientSecret")
    );
    assert!(missing.to_string().contains("not found"), "{missing}");

    // A Secret without clientSecret -> Invalid naming the key.
    api.create(&PostParams::default(), &secret(&[("clientId", "id-1")]))
        .await
        .expect("create");
    let invalid = wait_for(&mut rx, "Invalid", |s| s.kind() == "invalid").await;
    let m = invalid.message().expect("message");
    assert!(
        m.contains("clientSecret") && m.contains("kube-system/vpsie-secret"),
        "{m}"
    );

    // Fixed -> Loaded again.
    apply_secret(
        &api,
        &[("clientId", "id-1"), ("clientSecret", "second-s3cret")],
    )
    .await;
    let back = wait_for(&mut rx, "the fixed Secret", |s| s.kind() == "loaded").await;
    assert_eq!(back.fingerprint(), Some(fp2.as_str()));

    // No state ever prints a secret.
    for s in [&first, &second, &missing, &invalid, &back] {
        let text = format!("{s:?} {s}");
        for secret in ["first-s3cret", "second-s3cret"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
    handle.stop();
    server.shutdown().await;
}

#[tokio::test]
async fn an_absent_secret_is_missing_from_the_start() {
    let server = SimApiServer::start(ApiServerConfig::default())
        .await
        .expect("sim starts");
    let client = server.client().expect("client");
    let handle = CredentialsWatcher::spawn(client, NS, NAME, clock::system());
    let mut rx = handle.subscribe();
    let s = wait_for(&mut rx, "Missing", |s| s.kind() == "missing").await;
    assert!(matches!(s, CredentialsState::Missing { .. }));
    server.shutdown().await;
}

#[tokio::test]
async fn a_rotation_reaches_the_vpsie_client() {
    let world = SimWorld::start(SimWorldConfig {
        example_nodegroup: false,
        ..Default::default()
    })
    .await
    .expect("world starts");
    let kube = world.client().expect("client");
    // the watcher as the reconciler runs it: the ServiceAccount, allowed only vpsie-secret
    let handle = CredentialsWatcher::spawn(
        world.reconciler_client().expect("client"),
        NS,
        NAME,
        world.clock.clone(),
    );
    let mut rx = handle.subscribe();
    let state = wait_for(&mut rx, "the initial load", |s| s.kind() == "loaded").await;
    let CredentialsState::Loaded { secret, .. } = &state else {
        unreachable!("waited for loaded")
    };
    let client = VpsieClient::from_secret(
        secret.clone(),
        ClientConfig::default(),
        world.clock.clone(),
        CloudMetrics::unregistered(),
    )
    .expect("client");
    assert_eq!(apply_to(&client, &state), ApplyOutcome::Unchanged);
    client
        .list_vms()
        .await
        .expect("the seeded credentials work");

    // A second account, rotated in through the Secret.
    world
        .cloud
        .add_account("rotated-id", "rotated-s3cret")
        .expect("account");
    let url = world.cloud.base_url();
    let api: Api<Secret> = Api::namespaced(kube.clone(), NS);
    apply_secret(
        &api,
        &[
            ("clientId", "rotated-id"),
            ("clientSecret", "rotated-s3cret"),
            ("url", url.as_str()),
        ],
    )
    .await;
    let old = state.fingerprint().expect("fp").to_string();
    let rotated = wait_for(&mut rx, "the rotation", |s| {
        s.fingerprint().is_some_and(|f| f != old)
    })
    .await;
    let outcome = apply_to(&client, &rotated);
    assert_eq!(
        outcome,
        ApplyOutcome::Applied {
            fingerprint: rotated.fingerprint().expect("fp").to_string()
        }
    );
    assert_eq!(
        client.credentials_fingerprint(),
        rotated.fingerprint().expect("fp")
    );
    world
        .cloud
        .revoke_account(&world.cloud.credentials().client_id)
        .expect("revoke the old account");
    client
        .list_vms()
        .await
        .expect("the rotated credentials work");
    assert_eq!(apply_to(&client, &rotated), ApplyOutcome::Unchanged);

    // A Secret pointing at another URL is not applied: the new secret must not go to the old
    // endpoint.
    apply_secret(
        &api,
        &[
            ("clientId", "third"),
            ("clientSecret", "third-s3cret"),
            ("url", "https://api.example.invalid/v2"),
        ],
    )
    .await;
    let moved = wait_for(&mut rx, "the moved Secret", |s| {
        s.fingerprint()
            .is_some_and(|f| f != rotated.fingerprint().unwrap_or(""))
    })
    .await;
    match apply_to(&client, &moved) {
        ApplyOutcome::Kept { reason } => assert!(reason.contains("restart"), "{reason}"),
        other => panic!("applied credentials for another URL: {other:?}"),
    }

    // Missing: the client keeps what it has.
    api.delete(NAME, &DeleteParams::default())
        .await
        .expect("delete");
    let missing = wait_for(&mut rx, "Missing", |s| s.kind() == "missing").await;
    assert!(matches!(
        apply_to(&client, &missing),
        ApplyOutcome::Kept { .. }
    ));
    assert_eq!(
        client.credentials_fingerprint(),
        rotated.fingerprint().expect("fp")
    );
    drop(handle);
    world.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_api_server_is_reported_while_pending() {
    // Nothing listens on this port once the listener is dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let uri: axum::http::Uri = format!("http://127.0.0.1:{port}").parse().expect("uri");
    let client = kube::Client::try_from(kube::Config::new(uri)).expect("client");
    let handle = CredentialsWatcher::spawn(client, NS, NAME, clock::system());
    let mut rx = handle.subscribe();
    let s = wait_for(&mut rx, "the error while pending", |s| {
        matches!(
            s,
            CredentialsState::Pending {
                last_error: Some(_),
                ..
            }
        )
    })
    .await;
    let m = s.message().expect("message");
    assert!(
        m.contains("cannot be read") && m.contains("ServiceAccount"),
        "{m}"
    );
    assert_eq!(s.kind(), "pending");
}

#[tokio::test]
async fn follow_keeps_the_client_on_the_secret() {
    let world = SimWorld::start(SimWorldConfig {
        example_nodegroup: false,
        ..Default::default()
    })
    .await
    .expect("world starts");
    let kube = world.client().expect("client");
    // the watcher as the reconciler runs it: the ServiceAccount, allowed only vpsie-secret
    let handle = CredentialsWatcher::spawn(
        world.reconciler_client().expect("client"),
        NS,
        NAME,
        world.clock.clone(),
    );
    let mut rx = handle.subscribe();
    let state = wait_for(&mut rx, "the initial load", |s| s.kind() == "loaded").await;
    let CredentialsState::Loaded { secret, .. } = &state else {
        unreachable!("waited for loaded")
    };
    let client = VpsieClient::from_secret(
        secret.clone(),
        ClientConfig::default(),
        world.clock.clone(),
        CloudMetrics::unregistered(),
    )
    .expect("client");
    let task = follow(handle.subscribe(), client.clone());
    world
        .cloud
        .add_account("followed-id", "followed-s3cret")
        .expect("account");
    let url = world.cloud.base_url();
    let api: Api<Secret> = Api::namespaced(kube.clone(), NS);
    apply_secret(
        &api,
        &[
            ("clientId", "followed-id"),
            ("clientSecret", "followed-s3cret"),
            ("url", url.as_str()),
        ],
    )
    .await;
    let want = vpsie_autoscaler::cloud::Credentials::client("followed-id", "followed-s3cret")
        .fingerprint();
    tokio::time::timeout(DEADLINE, async {
        // The follow task applies the state it receives; give it turns until it has.
        while client.credentials_fingerprint() != want {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the client follows the rotation");
    client
        .list_vms()
        .await
        .expect("the followed credentials work");
    task.abort();
    world.shutdown().await;
}
