//! Leader election against the simulated API server over HTTP with the real kube-rs client:
//! two electors never lead at once, a release hands over at once, a crashed leader is replaced
//! once its Lease expires, a leader cut off from the API server steps down before anybody
//! else can take over, and racing writes (409) never make two leaders.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::Api;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use vpsie_autoscaler::sim::apiserver::{ApiServerConfig, SimApiServer};
use vpsie_reconciler::leader::{LeaderConfig, LeaderElector, LeaderHandle, LeaderState};

const NS: &str = "kube-system";

fn config(
    identity: &str,
    lease: &str,
    duration_ms: u64,
    deadline_ms: u64,
    retry_ms: u64,
) -> LeaderConfig {
    let mut c = LeaderConfig::new(identity);
    c.lease_name = lease.to_string();
    c.lease_duration = Duration::from_millis(duration_ms);
    c.renew_deadline = Duration::from_millis(deadline_ms);
    c.retry_period = Duration::from_millis(retry_ms);
    c
}

async fn wait_state(
    rx: &mut watch::Receiver<LeaderState>,
    within: Duration,
    what: &str,
    pred: impl Fn(&LeaderState) -> bool,
) -> LeaderState {
    let got = tokio::time::timeout(within, rx.wait_for(|s| pred(s)))
        .await
        .map(|r| r.map(|s| s.clone()));
    match got {
        Ok(Ok(s)) => s,
        Ok(Err(_)) => panic!("the elector stopped while waiting for {what}"),
        Err(_) => panic!("no {what} within {within:?}; state {:?}", *rx.borrow()),
    }
}

/// Watches two electors and records every moment both claimed to lead.
struct Monitor {
    violations: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Monitor {
    fn start(mut a: watch::Receiver<LeaderState>, mut b: watch::Receiver<LeaderState>) -> Self {
        let violations = Arc::new(Mutex::new(Vec::new()));
        let v = violations.clone();
        let task = tokio::spawn(async move {
            loop {
                let (sa, sb) = (a.borrow_and_update().clone(), b.borrow_and_update().clone());
                if sa.is_leader && sb.is_leader {
                    v.lock().unwrap().push(format!("both lead: {sa:?} {sb:?}"));
                }
                tokio::select! {
                    r = a.changed() => if r.is_err() { break },
                    r = b.changed() => if r.is_err() { break },
                }
            }
        });
        Self { violations, task }
    }

    fn finish(self) {
        self.task.abort();
        let v = self.violations.lock().unwrap().clone();
        assert!(v.is_empty(), "two leaders at once: {v:#?}");
    }
}

async fn lease(api: &Api<Lease>, name: &str) -> LeaseSpec {
    api.get(name).await.expect("lease").spec.expect("spec")
}

fn micro(t: &MicroTime) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.0.as_microsecond()).expect("in range")
}

/// Starts two electors and returns (leader, follower) once one leads and the other follows it.
async fn elect(
    client: &kube::Client,
    lease: &str,
    ms: (u64, u64, u64),
) -> (LeaderHandle, LeaderHandle) {
    let a = LeaderElector::spawn(client.clone(), config("replica-a", lease, ms.0, ms.1, ms.2))
        .expect("valid config");
    let b = LeaderElector::spawn(client.clone(), config("replica-b", lease, ms.0, ms.1, ms.2))
        .expect("valid config");
    let (mut ra, mut rb) = (a.subscribe(), b.subscribe());
    let within = Duration::from_secs(5);
    tokio::time::timeout(within, async {
        loop {
            let (sa, sb) = (
                ra.borrow_and_update().clone(),
                rb.borrow_and_update().clone(),
            );
            if sa.is_leader && sb.holder.as_deref() == Some("replica-a") {
                return;
            }
            if sb.is_leader && sa.holder.as_deref() == Some("replica-b") {
                return;
            }
            tokio::select! {
                _ = ra.changed() => {},
                _ = rb.changed() => {},
            }
        }
    })
    .await
    .expect("a leader and a follower within 5 s");
    if a.state().is_leader {
        (a, b)
    } else {
        (b, a)
    }
}

#[tokio::test]
async fn release_hands_over_at_once() {
    let server = SimApiServer::start(ApiServerConfig::default())
        .await
        .expect("sim");
    let client = server.client().expect("client");
    let api: Api<Lease> = Api::namespaced(client.clone(), NS);
    // A long Lease (10 s): a takeover within 1.5 s can only come from the release.
    let (leader, follower) = elect(&client, "vpsie-autoscaler-leader", (10_000, 6_000, 200)).await;
    let monitor = Monitor::start(leader.subscribe(), follower.subscribe());
    let leader_id = leader.state().holder.expect("holder");
    let spec = lease(&api, "vpsie-autoscaler-leader").await;
    assert_eq!(spec.holder_identity.as_deref(), Some(leader_id.as_str()));
    assert_eq!(spec.lease_transitions, Some(0));
    assert_eq!(spec.lease_duration_seconds, Some(10));
    assert!(spec.renew_time.is_some() && spec.acquire_time.is_some());

    let mut rf = follower.subscribe();
    let rl = leader.subscribe();
    let released_at = Utc::now();
    leader.release().await.expect("release");
    let ended = rl.borrow().clone();
    assert!(!ended.is_leader, "{ended:?}");
    let took = wait_state(
        &mut rf,
        Duration::from_millis(1500),
        "a takeover after release",
        |s| s.is_leader,
    )
    .await;
    assert!(took.since >= released_at);
    let spec = lease(&api, "vpsie-autoscaler-leader").await;
    let follower_id = follower.state().holder.expect("holder");
    assert_ne!(follower_id, leader_id);
    assert_eq!(spec.holder_identity.as_deref(), Some(follower_id.as_str()));
    assert_eq!(spec.lease_transitions, Some(1), "one change of holder");
    assert!(micro(spec.acquire_time.as_ref().expect("acquireTime")) >= released_at);
    monitor.finish();

    // The first replica comes back (a new process, a new identity) and follows; the second
    // shuts down and hands over: a second transition.
    let back = LeaderElector::spawn(
        client.clone(),
        config("replica-a-2", "vpsie-autoscaler-leader", 10_000, 6_000, 200),
    )
    .expect("valid");
    let mut rb = back.subscribe();
    wait_state(
        &mut rb,
        Duration::from_secs(3),
        "the new replica to follow",
        |s| s.holder.as_deref() == Some(follower_id.as_str()),
    )
    .await;
    let monitor = Monitor::start(back.subscribe(), follower.subscribe());
    follower.release().await.expect("release");
    wait_state(
        &mut rb,
        Duration::from_millis(1500),
        "the second hand-over",
        |s| s.is_leader,
    )
    .await;
    monitor.finish();
    let spec = lease(&api, "vpsie-autoscaler-leader").await;
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-a-2"));
    assert_eq!(spec.lease_transitions, Some(2), "two changes of holder");
    back.release().await.expect("release");
    let spec = lease(&api, "vpsie-autoscaler-leader").await;
    assert_eq!(spec.holder_identity, None);
    assert_eq!(
        spec.lease_transitions,
        Some(2),
        "a release is not a transition"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_crashed_leader_is_replaced_once_its_lease_expires() {
    let server = SimApiServer::start(ApiServerConfig::default())
        .await
        .expect("sim");
    let client = server.client().expect("client");
    let api: Api<Lease> = Api::namespaced(client.clone(), NS);
    let (leader, follower) = elect(&client, "crash", (1_000, 600, 150)).await;
    let monitor = Monitor::start(leader.subscribe(), follower.subscribe());
    let leader_id = leader.state().holder.expect("holder");
    // Let it renew a few times, then crash it.
    let mut renewed = lease(&api, "crash").await.renew_time.expect("renewTime");
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                let now = lease(&api, "crash").await.renew_time.expect("renewTime");
                if now != renewed {
                    renewed = now;
                    return;
                }
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the leader renews");
    }
    leader.abort();
    let crashed_at = Utc::now();
    let last_renew = micro(&lease(&api, "crash").await.renew_time.expect("renewTime"));
    let mut rf = follower.subscribe();
    let took = wait_state(
        &mut rf,
        Duration::from_millis(3_000),
        "a takeover after the crash",
        |s| s.is_leader,
    )
    .await;
    assert!(
        took.since >= last_renew + chrono::Duration::seconds(1),
        "took over at {} before the Lease renewed at {last_renew} expired",
        took.since
    );
    // Expected after about a lease duration (1 s) plus a retry period or two; the margin is
    // for a loaded machine.
    assert!(
        took.since - crashed_at < chrono::Duration::milliseconds(2_500),
        "took over {} after the crash",
        took.since - crashed_at
    );
    let spec = lease(&api, "crash").await;
    assert_ne!(spec.holder_identity.as_deref(), Some(leader_id.as_str()));
    assert_eq!(spec.lease_transitions, Some(1));
    drop(leader);
    // The crashed elector's channel is gone; only the follower remains to check.
    monitor.finish();
    follower.release().await.expect("release");
    server.shutdown().await;
}

/// A TCP relay to the API server that can be cut: existing connections are dropped and new
/// ones closed at once, as when a node loses its network.
struct Relay {
    addr: SocketAddr,
    cut: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (cut, rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    break;
                };
                if *rx.borrow() {
                    continue; // dropped: connection closed
                }
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = rx.wait_for(|c| *c) => {}
                    }
                });
            }
        });
        Self { addr, cut, task }
    }

    fn client(&self) -> kube::Client {
        let uri: axum::http::Uri = format!("http://{}", self.addr).parse().expect("uri");
        kube::Client::try_from(kube::Config::new(uri)).expect("client")
    }
}

#[tokio::test]
async fn a_leader_cut_off_steps_down_before_anybody_takes_over() {
    let server = SimApiServer::start(ApiServerConfig::default())
        .await
        .expect("sim");
    let relay = Relay::start(server.addr()).await;
    let (duration, deadline, retry) = (2_000, 1_200, 150);
    let a = LeaderElector::spawn(
        relay.client(),
        config("cut-off", "cut", duration, deadline, retry),
    )
    .expect("valid");
    let mut ra = a.subscribe();
    wait_state(&mut ra, Duration::from_secs(3), "the first leader", |s| {
        s.is_leader
    })
    .await;
    let b = LeaderElector::spawn(
        server.client().expect("client"),
        config("connected", "cut", duration, deadline, retry),
    )
    .expect("valid");
    let mut rb = b.subscribe();
    wait_state(
        &mut rb,
        Duration::from_secs(3),
        "the follower to see the leader",
        |s| s.holder.as_deref() == Some("cut-off"),
    )
    .await;
    let monitor = Monitor::start(a.subscribe(), b.subscribe());
    relay.cut.send_replace(true);
    let stepped_down = wait_state(&mut ra, Duration::from_secs(3), "the step-down", |s| {
        !s.is_leader
    })
    .await;
    let took_over = wait_state(&mut rb, Duration::from_secs(4), "the takeover", |s| {
        s.is_leader
    })
    .await;
    assert!(
        stepped_down.since < took_over.since,
        "the cut-off leader stepped down at {} but the other led from {}",
        stepped_down.since,
        took_over.since
    );
    assert!(!a.state().is_leader);
    monitor.finish();
    a.abort();
    relay.task.abort();
    b.release().await.expect("release");
    server.shutdown().await;
}

#[tokio::test]
async fn racing_takeovers_make_exactly_one_leader() {
    let server = SimApiServer::start(ApiServerConfig::default())
        .await
        .expect("sim");
    let client = server.client().expect("client");
    let api: Api<Lease> = Api::namespaced(client.clone(), NS);
    let long_ago = Utc::now() - chrono::Duration::minutes(10);
    let stale = |name: &str| Lease {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("ghost".into()),
            lease_duration_seconds: Some(1),
            lease_transitions: Some(4),
            renew_time: Some(MicroTime(
                k8s_openapi::jiff::Timestamp::from_microsecond(long_ago.timestamp_micros())
                    .expect("ts"),
            )),
            ..Default::default()
        }),
    };
    let mut rounds = Vec::new();
    for round in 0..4 {
        let name = format!("race-{round}");
        api.create(&PostParams::default(), &stale(&name))
            .await
            .expect("stale lease");
        // Both see the same expired record and write with the same resourceVersion once it has
        // been unchanged for a lease duration: one write wins, the other gets 409.
        let a = LeaderElector::spawn(
            client.clone(),
            config(&format!("a{round}"), &name, 1_000, 600, 100),
        )
        .expect("valid");
        let b = LeaderElector::spawn(
            client.clone(),
            config(&format!("b{round}"), &name, 1_000, 600, 100),
        )
        .expect("valid");
        let monitor = Monitor::start(a.subscribe(), b.subscribe());
        rounds.push((name, a, b, monitor));
    }
    for (name, a, b, monitor) in rounds {
        let (mut ra, mut rb) = (a.subscribe(), b.subscribe());
        tokio::time::timeout(Duration::from_secs(4), async {
            loop {
                let (sa, sb) = (
                    ra.borrow_and_update().clone(),
                    rb.borrow_and_update().clone(),
                );
                if sa.is_leader != sb.is_leader && sa.holder.is_some() && sa.holder == sb.holder {
                    return;
                }
                tokio::select! { _ = ra.changed() => {}, _ = rb.changed() => {} }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{name}: no single leader: {:?} {:?}", a.state(), b.state()));
        let spec = lease(&api, &name).await;
        let winner = if a.state().is_leader { "a" } else { "b" };
        assert!(
            spec.holder_identity
                .as_deref()
                .is_some_and(|h| h.starts_with(winner)),
            "{name}: {spec:?}"
        );
        assert_eq!(
            spec.lease_transitions,
            Some(5),
            "{name}: exactly one takeover was written"
        );
        monitor.finish();
        a.release().await.expect("release");
        b.release().await.expect("release");
    }
    server.shutdown().await;
}

/// A proxy in front of the API server that lets another writer ("ghost", the holder) renew the
/// Lease between the elector's read and its takeover write, so that write carries a stale
/// resourceVersion and gets 409.
struct Interferer {
    addr: SocketAddr,
    conflicts: watch::Receiver<u32>,
    task: tokio::task::JoinHandle<()>,
}

impl Interferer {
    async fn start(server: &SimApiServer, lease: &str) -> Self {
        use axum::body::Bytes;
        use axum::extract::State;
        use axum::http::{Method, StatusCode, Uri};
        use axum::response::IntoResponse;
        use vpsie_autoscaler::sim::apiserver::{Gvr, PatchKind, WriteOptions};

        #[derive(Clone)]
        struct S {
            target: String,
            http: reqwest::Client,
            store: Arc<vpsie_autoscaler::sim::apiserver::Store>,
            lease_path: String,
            lease: String,
            conflicts: Arc<watch::Sender<u32>>,
        }
        async fn forward(
            State(s): State<S>,
            method: Method,
            uri: Uri,
            headers: axum::http::HeaderMap,
            body: Bytes,
        ) -> axum::response::Response {
            if method == Method::PUT && uri.path() == s.lease_path {
                // The holder renews first (it bumps the resourceVersion).
                let renew = serde_json::json!({"metadata": {"annotations": {"renewed-by": "ghost", "n": s.conflicts.borrow().to_string()}}});
                s.store
                    .patch(
                        &Gvr::new("coordination.k8s.io", "v1", "leases"),
                        Some(NS),
                        &s.lease,
                        PatchKind::Merge,
                        renew.to_string().as_bytes(),
                        None,
                        &WriteOptions::default(),
                    )
                    .expect("ghost renews");
            }
            let url = format!(
                "{}{}",
                s.target,
                uri.path_and_query().map(|p| p.as_str()).unwrap_or("/")
            );
            let mut req = s.http.request(
                reqwest::Method::from_bytes(method.as_str().as_bytes()).expect("method"),
                url,
            );
            for name in ["content-type", "accept"] {
                if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
                    req = req.header(name, v);
                }
            }
            let resp = req.body(body.to_vec()).send().await.expect("forward");
            let status = StatusCode::from_u16(resp.status().as_u16()).expect("status");
            if method == Method::PUT && uri.path() == s.lease_path && status == StatusCode::CONFLICT
            {
                s.conflicts.send_modify(|n| *n += 1);
            }
            let ct = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/json")
                .to_string();
            let bytes = resp.bytes().await.expect("body");
            (status, [("content-type", ct)], bytes).into_response()
        }
        let (tx, conflicts) = watch::channel(0);
        let state = S {
            target: server.url(),
            http: reqwest::Client::new(),
            store: server.store(),
            lease_path: format!("/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/{lease}"),
            lease: lease.to_string(),
            conflicts: Arc::new(tx),
        };
        let app = axum::Router::new().fallback(forward).with_state(state);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            conflicts,
            task,
        }
    }
}

#[tokio::test]
async fn a_takeover_that_loses_with_409_never_leads() {
    let server = SimApiServer::start(ApiServerConfig::default())
        .await
        .expect("sim");
    let client = server.client().expect("client");
    let api: Api<Lease> = Api::namespaced(client.clone(), NS);
    let long_ago = Utc::now() - chrono::Duration::minutes(10);
    api.create(
        &PostParams::default(),
        &Lease {
            metadata: ObjectMeta {
                name: Some("contested".into()),
                ..Default::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some("ghost".into()),
                lease_duration_seconds: Some(1),
                lease_transitions: Some(7),
                renew_time: Some(MicroTime(
                    k8s_openapi::jiff::Timestamp::from_microsecond(long_ago.timestamp_micros())
                        .expect("ts"),
                )),
                ..Default::default()
            }),
        },
    )
    .await
    .expect("lease");
    let proxy = Interferer::start(&server, "contested").await;
    let uri: axum::http::Uri = format!("http://{}", proxy.addr).parse().expect("uri");
    let via_proxy = kube::Client::try_from(kube::Config::new(uri)).expect("client");
    let elector = LeaderElector::spawn(
        via_proxy,
        config("challenger", "contested", 1_000, 600, 100),
    )
    .expect("valid");
    let mut rx = elector.subscribe();
    let ever_led = Arc::new(Mutex::new(false));
    let flag = ever_led.clone();
    let mut seen = elector.subscribe();
    let spy = tokio::spawn(async move {
        loop {
            if seen.borrow_and_update().is_leader {
                *flag.lock().unwrap() = true;
            }
            if seen.changed().await.is_err() {
                break;
            }
        }
    });
    // Wait for two takeovers that lost with 409.
    let mut conflicts = proxy.conflicts.clone();
    tokio::time::timeout(Duration::from_secs(6), conflicts.wait_for(|n| *n >= 2))
        .await
        .expect("two conflicting takeovers within 6 s")
        .expect("proxy alive");
    assert!(
        !*ever_led.lock().unwrap(),
        "a takeover that got 409 claimed leadership"
    );
    assert!(!rx.borrow_and_update().is_leader);
    let spec = lease(&api, "contested").await;
    assert_eq!(spec.holder_identity.as_deref(), Some("ghost"));
    assert_eq!(spec.lease_transitions, Some(7), "no takeover was written");
    spy.abort();
    proxy.task.abort();
    elector.abort();
    server.shutdown().await;
}
