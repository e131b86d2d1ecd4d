//! The status report against the simulated API server over HTTP with the real kube-rs client
//! and the real kubectl: publish and read back, reader errors, and a breaker reset requested
//! by annotating the ConfigMap, acted on by a real `VpsieClient` pointed at the simulated VPSie
//! cloud.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{ObjectMeta, PostParams};
use kube::Api;
use prometheus_client::registry::Registry;
use vpsie_autoscaler::clock::{self, Clock, ManualClock, SharedClock};
use vpsie_autoscaler::cloud::{
    BreakerState, ClientConfig, CloudMetrics, RetryPolicy, VpsieClient, VpsieSecret,
};
use vpsie_autoscaler::sim::apiserver::{ApiServerConfig, SimApiServer};
use vpsie_autoscaler::sim::cloud::{FaultAction, FaultRule};
use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig};
use vpsie_reconciler::creds::CredentialsWatcher;
use vpsie_reconciler::report::*;

const NS: &str = "kube-system";

fn kubectl(dir: &Path, kubeconfig: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(dir.join("kube-cache"))
        .env("HOME", dir)
        .env_remove("KUBECONFIG")
        .args(args)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn kubectl_async(dir: PathBuf, kubeconfig: PathBuf, args: Vec<String>) -> String {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kubectl(&dir, &kubeconfig, &args)
    })
    .await
    .expect("kubectl task")
}

fn sample_report(at: DateTime<Utc>) -> StatusReport {
    let mut groups = BTreeMap::new();
    groups.insert(
        "production-workers".to_string(),
        GroupReport {
            last_decision: Some(Decision {
                at,
                action: DecisionAction::ScaleUp,
                reason: "PendingPods".into(),
                message: "3 pods do not fit: adding 2 medium-4cpu-8gb".into(),
                details: vec!["pod default/web-1 needs 2 CPU".into()],
            }),
            paused: false,
            min_nodes: 3,
            max_nodes: 20,
            effective_min: 3,
            effective_max: 15,
            current_nodes: 5,
            desired_nodes: 7,
            ready_nodes: 5,
            problem: None,
            scale_down: None,
        },
    );
    StatusReport {
        schema_version: SCHEMA_VERSION,
        generated_at: at,
        controller: ControllerReport {
            version: "0.1.0".into(),
            identity: "vpsie-autoscaler-abc_1".into(),
            leader: Some("vpsie-autoscaler-abc_1".into()),
            is_leader: true,
            started_at: at - chrono::Duration::minutes(5),
            dry_run: false,
        },
        breaker: Some(BreakerReport {
            state: BreakerStatus::HalfOpen,
            since: at,
            consecutive_failures: 5,
            opened_count: 2,
            next_probe_at: None,
            last_failure: Some("VPSie API answered 503".into()),
        }),
        api_errors: ApiErrorsReport {
            window_seconds: 300,
            by_type: [("server_error".to_string(), 5)].into(),
            total: 5,
            total_since_start: 9,
        },
        rate_limit: Some(RateLimitReport {
            tokens: 7.5,
            capacity: 10,
            waiting: 0,
            blocked_until: Some(at + chrono::Duration::seconds(30)),
            waits_total: 4,
            rate_limited_total: 1,
        }),
        credentials: CredentialsReport {
            fingerprint: Some("0123456789ab".into()),
            loaded_at: Some(at),
            state: CredentialsStatus::Loaded,
            message: None,
        },
        breaker_reset: BreakerResetReport {
            requested: Some("1764000000".into()),
            acknowledged: Some("1764000000".into()),
            at: Some(at),
        },
        node_groups: groups,
    }
}

#[tokio::test]
async fn a_published_report_reads_back_equal_with_kube_rs_and_kubectl() {
    let server = SimApiServer::start(ApiServerConfig::default())
        .await
        .expect("sim");
    let client = server.client().expect("client");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("config");
    server
        .write_kubeconfig(&kubeconfig, "sim")
        .expect("kubeconfig");

    let clock = ManualClock::starting_now();
    let shared: SharedClock = clock.clone();
    let mut publisher = ReportPublisher::new(client.clone(), NS, shared.clone());
    // Whole seconds: JSON keeps full precision, but keep the fixture simple to read.
    let at = DateTime::from_timestamp(clock.now().timestamp(), 0).expect("time");
    let report = sample_report(at);
    assert!(publisher.publish(&report).await.expect("publish"));
    let back = ReportReader::read(&client, NS).await.expect("read");
    assert_eq!(back, report);

    // Unchanged content is not rewritten, even with a new generatedAt...
    let mut again = report.clone();
    again.generated_at = at + chrono::Duration::seconds(1);
    clock.advance(Duration::from_secs(1));
    assert!(!publisher.publish(&again).await.expect("publish"));
    // ...until 10 s passed.
    clock.advance(Duration::from_secs(9));
    assert!(publisher.publish(&again).await.expect("publish"));
    // A change is written at once.
    let mut changed = again.clone();
    changed.api_errors.by_type.insert("rate_limited".into(), 1);
    changed.api_errors.total = 6;
    assert!(publisher.publish(&changed).await.expect("publish"));

    // What kubectl shows is the same report.
    let json = kubectl_async(
        dir.path().to_path_buf(),
        kubeconfig.clone(),
        [
            "-n",
            NS,
            "get",
            "configmap",
            STATUS_CONFIGMAP,
            "-o",
            "jsonpath={.data.status\\.json}",
        ]
        .map(String::from)
        .to_vec(),
    )
    .await;
    let seen = ReportReader::parse_json(NS, &json).expect("kubectl's copy parses");
    assert_eq!(seen, changed);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    for field in [
        "schemaVersion",
        "generatedAt",
        "controller",
        "breaker",
        "apiErrors",
        "rateLimit",
        "credentials",
        "breakerReset",
        "nodeGroups",
    ] {
        assert!(v.get(field).is_some(), "{field} missing in {json}");
    }
    assert_eq!(v["breaker"]["state"], "half-open");
    assert_eq!(v["credentials"]["state"], "loaded");
    assert_eq!(
        v["nodeGroups"]["production-workers"]["lastDecision"]["action"],
        "ScaleUp"
    );
    assert_eq!(v["apiErrors"]["byType"]["server_error"], 5);
    assert_eq!(v["controller"]["isLeader"], true);
    server.shutdown().await;
}

#[tokio::test]
async fn the_reader_says_what_is_wrong() {
    let server = SimApiServer::start(ApiServerConfig::default())
        .await
        .expect("sim");
    let client = server.client().expect("client");
    let e = ReportReader::read(&client, NS).await.expect_err("absent");
    assert_eq!(
        e.to_string(),
        "the autoscaler has not published its status (ConfigMap kube-system/vpsie-autoscaler-status not found): is the vpsie-autoscaler Deployment running?"
    );
    let e = request_breaker_reset(&client, NS, "1764000000")
        .await
        .expect_err("nothing to annotate");
    assert!(matches!(e, ReportError::NotPublished { .. }), "{e}");
    let e = wait_for_report(&client, NS, Duration::from_millis(300), |_| true)
        .await
        .expect_err("nothing to wait for");
    assert!(
        e.to_string().contains("did not show the expected change"),
        "{e}"
    );
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    let put = |data: Option<(&'static str, String)>| {
        let api = api.clone();
        async move {
            let _ = api.delete(STATUS_CONFIGMAP, &Default::default()).await;
            api.create(
                &PostParams::default(),
                &ConfigMap {
                    metadata: ObjectMeta {
                        name: Some(STATUS_CONFIGMAP.into()),
                        ..Default::default()
                    },
                    data: data.map(|(k, v)| [(k.to_string(), v)].into()),
                    ..Default::default()
                },
            )
            .await
            .expect("create");
        }
    };
    put(None).await;
    let e = ReportReader::read(&client, NS).await.expect_err("no key");
    assert!(matches!(e, ReportError::MissingKey { .. }), "{e}");
    assert!(e.to_string().contains("no key status.json"), "{e}");

    put(Some((STATUS_KEY, "{not json".into()))).await;
    let e = ReportReader::read(&client, NS).await.expect_err("bad json");
    let m = e.to_string();
    assert!(
        m.contains("key status.json") && m.contains("not JSON"),
        "{m}"
    );

    put(Some((STATUS_KEY, r#"{"schemaVersion": 2}"#.into()))).await;
    let e = ReportReader::read(&client, NS).await.expect_err("schema");
    assert!(
        matches!(e, ReportError::UnsupportedSchema { found: 2, .. }),
        "{e}"
    );

    let mut v = serde_json::to_value(sample_report(Utc::now())).expect("json");
    v.as_object_mut().expect("object").remove("controller");
    put(Some((STATUS_KEY, v.to_string()))).await;
    let e = ReportReader::read(&client, NS)
        .await
        .expect_err("missing field");
    let m = e.to_string();
    assert!(m.contains("status.json") && m.contains("controller"), "{m}");

    let mut v = serde_json::to_value(sample_report(Utc::now())).expect("json");
    v["breaker"]["state"] = "ajar".into();
    put(Some((STATUS_KEY, v.to_string()))).await;
    let m = ReportReader::read(&client, NS)
        .await
        .expect_err("bad state")
        .to_string();
    assert!(m.contains("ajar"), "{m}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_breaker_reset_requested_by_annotation_is_done_and_acknowledged() {
    let world = SimWorld::start(SimWorldConfig {
        example_nodegroup: false,
        ..Default::default()
    })
    .await
    .expect("world");
    let kube = world.client().expect("client");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("config");
    world.write_kubeconfig(&kubeconfig).expect("kubeconfig");

    // The VPSie client, as the serve runtime builds it from the Secret.
    let secrets: Api<Secret> = Api::namespaced(kube.clone(), NS);
    let secret = secrets.get("vpsie-secret").await.expect("secret");
    let parsed = VpsieSecret::from_byte_strings(
        "kube-system/vpsie-secret",
        secret.data.as_ref().expect("data"),
    )
    .expect("valid secret");
    let mut registry = Registry::default();
    let metrics = CloudMetrics::new(&mut registry);
    let config = ClientConfig {
        retry: RetryPolicy::none(),
        ..ClientConfig::default()
    };
    let vpsie =
        VpsieClient::from_secret(parsed, config, world.clock.clone(), metrics).expect("client");
    vpsie.list_vms().await.expect("login and list");

    // Open the breaker with 5xx answers.
    world
        .cloud
        .add_fault(FaultRule::new(FaultAction::Status {
            code: 503,
            message: "maintenance".into(),
        }))
        .expect("fault");
    for _ in 0..5 {
        vpsie.list_datacenters().await.expect_err("503");
    }
    assert_eq!(vpsie.breaker_snapshot().state, BreakerState::Open);

    let creds = CredentialsWatcher::spawn(kube.clone(), NS, "vpsie-secret", world.clock.clone());
    let board = StatusBoard::new();
    let mut sources = ReportSources::new("replica-1", Utc::now());
    sources.vpsie = Some(vpsie.clone());
    sources.registry = Some(Arc::new(registry));
    sources.credentials = Some(creds.subscribe());
    sources.board = board.clone();
    let _reporter = StatusReporter::spawn(
        kube.clone(),
        sources,
        ReporterConfig {
            tick: Duration::from_millis(100),
            clock: clock::system(),
            ..ReporterConfig::default()
        },
    );
    let _resets = BreakerResetWatcher::spawn(
        kube.clone(),
        NS,
        vpsie.clone(),
        board.clone(),
        world.clock.clone(),
    );
    let within = Duration::from_secs(5);
    let open = wait_for_report(&kube, NS, within, |r| {
        r.breaker
            .as_ref()
            .is_some_and(|b| b.state == BreakerStatus::Open)
            && r.credentials.state == CredentialsStatus::Loaded
    })
    .await
    .expect("the open breaker is reported");
    assert_eq!(open.api_errors.by_type.get("server_error"), Some(&5));
    assert_eq!(open.api_errors.total, 5);
    assert_eq!(
        open.credentials.fingerprint.as_deref(),
        Some(vpsie.credentials_fingerprint().as_str())
    );
    assert_eq!(open.controller.leader.as_deref(), Some("replica-1"));
    let b = open.breaker.as_ref().expect("breaker");
    assert_eq!(b.opened_count, 1);
    assert!(b.last_failure.as_deref().is_some_and(|m| m.contains("503")));
    assert!(open.breaker_reset.acknowledged.is_none());

    // The operator fixed the cause and resets the breaker the way the plugin does.
    world.cloud.clear_faults();
    let stamp = "2026-11-25T04:30:00Z";
    kubectl_async(
        dir.path().to_path_buf(),
        kubeconfig.clone(),
        vec![
            "-n".into(),
            NS.into(),
            "annotate".into(),
            "configmap".into(),
            STATUS_CONFIGMAP.into(),
            format!("{BREAKER_RESET_ANNOTATION}={stamp}"),
            "--overwrite".into(),
        ],
    )
    .await;
    let acked = wait_for_report(&kube, NS, within, |r| {
        r.breaker_reset.acknowledged.as_deref() == Some(stamp)
    })
    .await
    .expect("the reset is acknowledged");
    assert_eq!(acked.breaker_reset.requested.as_deref(), Some(stamp));
    assert!(acked.breaker_reset.at.is_some());
    assert_eq!(
        acked.breaker.as_ref().map(|b| b.state),
        Some(BreakerStatus::Closed)
    );
    assert_eq!(vpsie.breaker_snapshot().state, BreakerState::Closed);
    vpsie
        .list_datacenters()
        .await
        .expect("calls go through again");

    // The same annotation value is not acted on twice: a breaker that opens again stays open
    // while the report keeps being rewritten.
    world
        .cloud
        .add_fault(FaultRule::new(FaultAction::Status {
            code: 500,
            message: "again".into(),
        }))
        .expect("fault");
    for _ in 0..5 {
        vpsie.list_datacenters().await.expect_err("500");
    }
    let reopened = wait_for_report(&kube, NS, within, |r| {
        r.breaker.as_ref().is_some_and(|b| b.opened_count == 2)
    })
    .await
    .expect("the reopened breaker is reported");
    assert_eq!(
        reopened.breaker.as_ref().map(|b| b.state),
        Some(BreakerStatus::Open)
    );
    assert_eq!(reopened.breaker_reset.acknowledged.as_deref(), Some(stamp));
    assert_eq!(vpsie.breaker_snapshot().state, BreakerState::Open);

    // A new request with the plugin's helper resets it again.
    request_breaker_reset(&kube, NS, "2026-11-25T04:31:00Z")
        .await
        .expect("annotate");
    wait_for_report(&kube, NS, within, |r| {
        r.breaker_reset.acknowledged.as_deref() == Some("2026-11-25T04:31:00Z")
    })
    .await
    .expect("the second reset is acknowledged");
    assert_eq!(vpsie.breaker_snapshot().state, BreakerState::Closed);

    // Nothing secret in the ConfigMap, as kubectl shows it.
    let yaml = kubectl_async(
        dir.path().to_path_buf(),
        kubeconfig.clone(),
        ["-n", NS, "get", "configmap", STATUS_CONFIGMAP, "-o", "yaml"]
            .map(String::from)
            .to_vec(),
    )
    .await;
    let creds_of_world = world.cloud.credentials();
    assert!(
        !yaml.contains(&creds_of_world.client_secret),
        "the client secret leaked"
    );
    assert!(!yaml.to_lowercase().contains("bearer"), "{yaml}");
    assert!(
        !yaml.contains("accessToken") && !yaml.contains("access_token"),
        "{yaml}"
    );
    drop(creds);
    world.shutdown().await;
}

#[tokio::test]
async fn a_restart_does_not_repeat_an_old_reset() {
    let server = SimApiServer::start(ApiServerConfig::default())
        .await
        .expect("sim");
    let kube = server.client().expect("client");
    // A report published by a previous process that already acknowledged "old".
    let mut report = sample_report(Utc::now());
    report.breaker_reset = BreakerResetReport {
        requested: Some("old".into()),
        acknowledged: Some("old".into()),
        at: Some(Utc::now()),
    };
    ReportPublisher::new(kube.clone(), NS, clock::system())
        .write(&report)
        .await
        .expect("write");
    request_breaker_reset(&kube, NS, "old")
        .await
        .expect("annotate");
    let api: Api<ConfigMap> = Api::namespaced(kube.clone(), NS);
    let cm = api.get(STATUS_CONFIGMAP).await.expect("cm");

    // A fresh process (fresh board) with an open breaker sees the ConfigMap.
    let cloud = vpsie_autoscaler::sim::cloud::SimCloud::start(Default::default())
        .await
        .expect("cloud");
    let mut config = ClientConfig {
        retry: RetryPolicy::none(),
        ..ClientConfig::default()
    };
    config.base_url = vpsie_autoscaler::cloud::BaseUrl::parse(&cloud.base_url()).expect("url");
    let c = cloud.credentials();
    let vpsie = VpsieClient::new(
        config,
        vpsie_autoscaler::cloud::Credentials::client(c.client_id.clone(), c.client_secret.clone()),
        clock::system(),
        CloudMetrics::unregistered(),
    )
    .expect("client");
    cloud
        .add_fault(FaultRule::new(FaultAction::Status {
            code: 502,
            message: "bad gateway".into(),
        }))
        .expect("fault");
    for _ in 0..5 {
        vpsie.list_datacenters().await.expect_err("502");
    }
    let board = StatusBoard::new();
    assert_eq!(
        handle_status_configmap(&cm, &board, &vpsie, Utc::now()),
        None
    );
    assert_eq!(vpsie.breaker_snapshot().state, BreakerState::Open);
    assert_eq!(board.breaker_reset().acknowledged.as_deref(), Some("old"));
    request_breaker_reset(&kube, NS, "new")
        .await
        .expect("annotate");
    let cm = api.get(STATUS_CONFIGMAP).await.expect("cm");
    assert_eq!(
        handle_status_configmap(&cm, &board, &vpsie, Utc::now()).as_deref(),
        Some("new")
    );
    assert_eq!(vpsie.breaker_snapshot().state, BreakerState::Closed);
    cloud.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn only_the_leader_publishes() {
    use tokio::sync::watch;
    use vpsie_reconciler::leader::LeaderState;

    let server = SimApiServer::start(ApiServerConfig::default())
        .await
        .expect("sim");
    let kube = server.client().expect("client");
    let now = Utc::now();
    let state = |is_leader: bool, holder: &str| LeaderState {
        is_leader,
        holder: Some(holder.to_string()),
        since: now,
    };
    let (tx_a, rx_a) = watch::channel(state(true, "a"));
    let (tx_b, rx_b) = watch::channel(state(false, "a"));
    let config = ReporterConfig {
        tick: Duration::from_millis(20),
        every: Duration::from_millis(50),
        ..ReporterConfig::default()
    };
    let mut handles = Vec::new();
    for (id, rx) in [("a", rx_a), ("b", rx_b)] {
        let mut sources = ReportSources::new(id, now);
        sources.leader = Some(rx);
        handles.push(StatusReporter::spawn(kube.clone(), sources, config.clone()));
    }
    // Several successive versions, all written by the leader.
    let seen = std::sync::Mutex::new(Vec::new());
    wait_for_report(&kube, NS, Duration::from_secs(5), |r| {
        let mut s = seen.lock().unwrap();
        s.push(r.controller.identity.clone());
        s.len() >= 6
    })
    .await
    .expect("reports");
    let ids = seen.lock().unwrap().clone();
    assert!(
        ids.iter().all(|i| i == "a"),
        "a follower published: {ids:?}"
    );

    // Leadership moves to b: from then on only b writes.
    tx_a.send_replace(state(false, "b"));
    tx_b.send_replace(state(true, "b"));
    let r = wait_for_report(&kube, NS, Duration::from_secs(5), |r| {
        r.controller.identity == "b"
    })
    .await
    .expect("the new leader publishes");
    assert!(r.controller.is_leader);
    assert_eq!(r.controller.leader.as_deref(), Some("b"));
    let seen = std::sync::Mutex::new(Vec::new());
    wait_for_report(&kube, NS, Duration::from_secs(5), |r| {
        let mut s = seen.lock().unwrap();
        s.push(r.controller.identity.clone());
        s.len() >= 6
    })
    .await
    .expect("reports");
    let ids = seen.lock().unwrap().clone();
    assert!(
        ids.iter().all(|i| i == "b"),
        "the old leader still published: {ids:?}"
    );
    drop(handles);
    server.shutdown().await;
}

#[tokio::test]
async fn the_published_report_holds_no_token_or_secret() {
    let server = SimApiServer::start(ApiServerConfig::default())
        .await
        .expect("sim");
    let kube = server.client().expect("client");
    let cloud = vpsie_autoscaler::sim::cloud::SimCloud::start(Default::default())
        .await
        .expect("cloud");
    let token = "static-T0KEN-value-4242";
    cloud.add_static_token(token, "ops-test");
    let mut config = ClientConfig {
        retry: RetryPolicy::none(),
        ..ClientConfig::default()
    };
    config.base_url = vpsie_autoscaler::cloud::BaseUrl::parse(&cloud.base_url()).expect("url");
    let mut registry = Registry::default();
    let vpsie = VpsieClient::new(
        config,
        vpsie_autoscaler::cloud::Credentials::token(token),
        clock::system(),
        CloudMetrics::new(&mut registry),
    )
    .expect("client");
    vpsie.list_vms().await.expect("the token works");
    cloud
        .add_fault(FaultRule::new(FaultAction::Status {
            code: 503,
            message: "down".into(),
        }))
        .expect("fault");
    for _ in 0..5 {
        vpsie.list_vms().await.expect_err("503");
    }
    let mut sources = ReportSources::new("replica-1", Utc::now());
    sources.vpsie = Some(vpsie.clone());
    sources.registry = Some(Arc::new(registry));
    let mut window = ApiErrorWindow::new(DEFAULT_ERROR_WINDOW, sources.started_at);
    let report = sources.build(Utc::now(), &mut window);
    ReportPublisher::new(kube.clone(), NS, clock::system())
        .write(&report)
        .await
        .expect("write");
    let api: Api<ConfigMap> = Api::namespaced(kube.clone(), NS);
    let cm = api.get(STATUS_CONFIGMAP).await.expect("cm");
    let raw = serde_json::to_string(&cm).expect("json");
    assert!(!raw.contains(token), "the token leaked: {raw}");
    let read = ReportReader::parse(NS, &cm).expect("parses");
    assert_eq!(
        read.credentials.fingerprint.as_deref(),
        Some(vpsie.credentials_fingerprint().as_str())
    );
    assert_eq!(read.credentials.state, CredentialsStatus::Loaded);
    assert_eq!(read.api_errors.by_type.get("server_error"), Some(&5));
    assert_eq!(
        read.breaker.as_ref().map(|b| b.state),
        Some(BreakerStatus::Open)
    );
    cloud.shutdown().await;
    server.shutdown().await;
}
