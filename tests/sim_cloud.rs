//! The simulated VPSie cloud, exercised over HTTP with plain reqwest on 127.0.0.1.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use vpsie_autoscaler::clock::{ManualClock, ScaledClock};
use vpsie_autoscaler::sim::cloud::{
    FaultAction, FaultRule, Operation, SimCloud, SimCloudConfig, VmStatus, DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET, FIRST_VM_ID,
};

const WAIT: Duration = Duration::from_secs(5);

async fn start_manual() -> (SimCloud, Arc<ManualClock>) {
    start_with(SimCloudConfig::default()).await
}

async fn start_with(config: SimCloudConfig) -> (SimCloud, Arc<ManualClock>) {
    let clock = ManualClock::starting_now();
    let sim = SimCloud::start(config.with_clock(clock.clone()))
        .await
        .expect("sim cloud starts");
    (sim, clock)
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .expect("client")
}

async fn login_as(c: &Client, sim: &SimCloud, id: &str, secret: &str) -> reqwest::Response {
    c.post(format!("{}/auth/from/api", sim.base_url()))
        .form(&[("clientId", id), ("clientSecret", secret)])
        .send()
        .await
        .expect("login request")
}

async fn token(c: &Client, sim: &SimCloud) -> String {
    let creds = sim.credentials();
    let v: Value = login_as(c, sim, &creds.client_id, &creds.client_secret)
        .await
        .json()
        .await
        .expect("login json");
    v["accessToken"]["token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

fn vm_body(name: &str) -> Value {
    json!({
        "name": name,
        "hostname": name,
        "offering_id": "small-2cpu-4gb",
        "datacenter_id": "dc-us-east-1",
        "os_image_id": "ubuntu-22.04-lts",
        "ssh_key_ids": ["key-1"],
        "tags": ["nodegroup:workers"],
        "notes": "made by a test",
        "user_data": "#cloud-config\nruncmd: [kubeadm join --token abcdef.0123456789abcdef]",
    })
}

async fn get(c: &Client, sim: &SimCloud, tok: &str, path: &str) -> (StatusCode, Value) {
    let r = c
        .get(format!("{}{path}", sim.base_url()))
        .bearer_auth(tok)
        .send()
        .await
        .expect("get");
    let status = r.status();
    (status, r.json().await.expect("json body"))
}

async fn create(c: &Client, sim: &SimCloud, tok: &str, body: &Value) -> (StatusCode, Value) {
    let r = c
        .post(format!("{}/vm", sim.base_url()))
        .bearer_auth(tok)
        .json(body)
        .send()
        .await
        .expect("create");
    let status = r.status();
    (status, r.json().await.expect("json body"))
}

fn assert_error(body: &Value, class: &str, code: u16) {
    assert_eq!(body["error"], json!(class), "{body}");
    assert_eq!(body["code"], json!(code), "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn login_good_and_bad() {
    let (sim, clock) = start_manual().await;
    let c = client();
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    assert!(sim.base_url().ends_with("/v2"));

    let r = login_as(&c, &sim, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("x-request-id"));
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["error"], json!(false));
    assert_eq!(v["code"], json!(200));
    assert_eq!(v["message"], json!("Login successful"));
    for key in ["accessToken", "refreshToken"] {
        assert!(
            v[key]["token"].as_str().is_some_and(|t| !t.is_empty()),
            "{v}"
        );
        let expires = v[key]["expires"].as_str().expect("expires");
        assert!(expires.ends_with('Z'), "{expires}");
        chrono::DateTime::parse_from_rfc3339(expires).expect("RFC3339 expiry");
    }
    let expires = chrono::DateTime::parse_from_rfc3339(
        v["accessToken"]["expires"].as_str().expect("expires"),
    )
    .expect("RFC3339");
    let ttl = expires.with_timezone(&chrono::Utc) - vpsie_autoscaler::clock::Clock::now(&*clock);
    assert!(
        ttl <= chrono::Duration::hours(1) && ttl > chrono::Duration::seconds(3598),
        "{ttl}"
    );

    let r = login_as(&c, &sim, DEFAULT_CLIENT_ID, "wrong").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        v,
        json!({"error": true, "code": 401, "message": "Invalid client credentials"})
    );

    let r = c
        .post(format!("{}/auth/from/api", sim.base_url()))
        .form(&[("clientId", DEFAULT_CLIENT_ID)])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let v: Value = r.json().await.expect("json");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("clientSecret")),
        "{v}"
    );
    assert_eq!(sim.count(Operation::Login), 3);
}

#[tokio::test]
async fn token_expires_when_the_clock_passes_its_ttl() {
    let (sim, clock) =
        start_with(SimCloudConfig::default().with_token_ttl(Duration::from_secs(600))).await;
    let c = client();
    let tok = token(&c, &sim).await;
    assert_eq!(get(&c, &sim, &tok, "/vm").await.0, StatusCode::OK);
    clock.advance(Duration::from_secs(599));
    assert_eq!(get(&c, &sim, &tok, "/vm").await.0, StatusCode::OK);
    clock.advance(Duration::from_secs(2));
    let (status, body) = get(&c, &sim, &tok, "/vm").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unauthorized", 401);
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("expired")));
    let fresh = token(&c, &sim).await;
    assert_eq!(get(&c, &sim, &fresh, "/vm").await.0, StatusCode::OK);
}

#[tokio::test]
async fn missing_unknown_and_revoked_tokens_get_401() {
    let (sim, _clock) = start_manual().await;
    let c = client();
    let r = c
        .get(format!("{}/vm", sim.base_url()))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("x-request-id"));
    assert_error(&r.json().await.expect("json"), "unauthorized", 401);

    let (status, body) = get(&c, &sim, "not-a-token", "/offerings").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unauthorized", 401);

    let tok = token(&c, &sim).await;
    sim.revoke_account(DEFAULT_CLIENT_ID).expect("revoke");
    let (status, body) = get(&c, &sim, &tok, "/vm").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "unauthorized", 401);
    let r = login_as(&c, &sim, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(sim.revoke_account("nobody").is_err());
}

#[tokio::test]
async fn credential_rotation_shows_in_the_request_log() {
    let (sim, _clock) = start_manual().await;
    let c = client();
    let old = token(&c, &sim).await;
    assert_eq!(get(&c, &sim, &old, "/vm").await.0, StatusCode::OK);
    sim.add_account("rotated-id", "rotated-secret")
        .expect("add");
    let v: Value = login_as(&c, &sim, "rotated-id", "rotated-secret")
        .await
        .json()
        .await
        .expect("json");
    let new = v["accessToken"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    sim.revoke_account(DEFAULT_CLIENT_ID).expect("revoke");
    assert_eq!(get(&c, &sim, &new, "/vm").await.0, StatusCode::OK);
    assert_eq!(get(&c, &sim, &old, "/vm").await.0, StatusCode::UNAUTHORIZED);

    let lists: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.operation == Operation::ListVMs)
        .map(|r| (r.principal.unwrap_or_default(), r.status))
        .collect();
    assert_eq!(
        lists,
        vec![
            (DEFAULT_CLIENT_ID.to_owned(), 200),
            ("rotated-id".to_owned(), 200),
            (DEFAULT_CLIENT_ID.to_owned(), 401),
        ]
    );
}

#[tokio::test]
async fn static_tokens_act_as_their_principal() {
    let (sim, _clock) =
        start_with(SimCloudConfig::default().with_static_token("static-tok-1", "ci-bot")).await;
    let c = client();
    assert_eq!(get(&c, &sim, "static-tok-1", "/vm").await.0, StatusCode::OK);
    sim.expire_all_tokens();
    assert_eq!(get(&c, &sim, "static-tok-1", "/vm").await.0, StatusCode::OK);
    assert!(sim
        .requests()
        .iter()
        .all(|r| r.principal.as_deref() == Some("ci-bot")));
}

#[tokio::test]
async fn catalogue_endpoints_have_the_real_field_names() {
    let (sim, _clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;

    let (status, v) = get(&c, &sim, &tok, "/offerings").await;
    assert_eq!(status, StatusCode::OK);
    let offerings = v["data"].as_array().expect("data");
    assert!(offerings.len() >= 3);
    for key in ["total", "count", "per_page", "current_page", "total_pages"] {
        assert!(v["pagination"][key].is_u64(), "pagination.{key}: {v}");
    }
    let small = offerings
        .iter()
        .find(|o| o["id"] == json!("small-2cpu-4gb"))
        .expect("small offering");
    for key in [
        "id",
        "name",
        "cpu",
        "ram",
        "disk",
        "bandwidth",
        "price",
        "hourly_price",
        "available",
        "datacenter_id",
        "category",
    ] {
        assert!(!small[key].is_null(), "offering.{key}: {small}");
    }
    assert_eq!(
        (
            small["cpu"].clone(),
            small["ram"].clone(),
            small["disk"].clone()
        ),
        (json!(2), json!(4096), json!(80))
    );

    let (status, one) = get(&c, &sim, &tok, "/offerings/medium-4cpu-8gb").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["cpu"], json!(4));
    let (status, body) = get(&c, &sim, &tok, "/offerings/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", 404);

    let (_, v) = get(&c, &sim, &tok, "/offerings?datacenter_id=dc-eu-west-1").await;
    assert!(v["data"]
        .as_array()
        .expect("data")
        .iter()
        .all(|o| o["datacenter_id"] == json!("dc-eu-west-1")));

    let (status, v) = get(&c, &sim, &tok, "/datacenters").await;
    assert_eq!(status, StatusCode::OK);
    let dc = &v["data"][0];
    for key in [
        "id",
        "name",
        "code",
        "country",
        "city",
        "continent",
        "available",
        "featured_dc",
    ] {
        assert!(!dc[key].is_null(), "datacenter.{key}: {dc}");
    }
    assert!(v["data"]
        .as_array()
        .expect("dcs")
        .iter()
        .any(|d| d["id"] == json!("dc-us-east-1")));

    let (status, v) = get(&c, &sim, &tok, "/images").await;
    assert_eq!(status, StatusCode::OK);
    let img = &v["data"][0];
    for key in [
        "id",
        "name",
        "version",
        "distribution",
        "architecture",
        "min_disk",
        "available",
    ] {
        assert!(!img[key].is_null(), "image.{key}: {img}");
    }
    assert!(v["data"]
        .as_array()
        .expect("imgs")
        .iter()
        .any(|i| i["id"] == json!("ubuntu-22.04-lts")));

    let r = c
        .get(format!("{}/health", sim.base_url()))
        .send()
        .await
        .expect("health");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.expect("json")["status"],
        json!("ok")
    );
}

#[tokio::test]
async fn vps_objects_have_the_real_field_names_and_unique_addresses() {
    let (sim, _clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    let (status, a) = create(&c, &sim, &tok, &vm_body("node-a")).await;
    assert_eq!(status, StatusCode::OK, "{a}");
    for key in [
        "id",
        "identifier",
        "name",
        "hostname",
        "status",
        "cpu",
        "ram",
        "ssd",
        "traffic",
        "default_ip",
        "default_ipv6",
        "boxsize_id",
        "datacenter_id",
        "os_name",
        "os_version",
        "created_on",
        "last_updated",
        "tags",
        "notes",
        "offering_id",
    ] {
        assert!(!a[key].is_null(), "vps.{key}: {a}");
    }
    assert_eq!(a["id"], json!(FIRST_VM_ID));
    assert!(uuid::Uuid::parse_str(a["identifier"].as_str().expect("uuid")).is_ok());
    assert_eq!(a["status"], json!("creating"));
    assert_eq!(
        (a["cpu"].clone(), a["ram"].clone(), a["ssd"].clone()),
        (json!(2), json!(4096), json!(80))
    );
    assert_eq!(a["tags"], json!(["nodegroup:workers"]));
    assert_eq!(a["default_ip"], json!("192.0.2.1"));
    assert!(a["default_ipv6"]
        .as_str()
        .is_some_and(|s| s.starts_with("2001:db8:")));
    assert!(a.get("user_data").is_none(), "user data is not echoed");

    let (_, b) = create(&c, &sim, &tok, &vm_body("node-b")).await;
    assert_eq!(b["id"], json!(FIRST_VM_ID + 1));
    assert_ne!(a["default_ip"], b["default_ip"]);
    assert_ne!(a["identifier"], b["identifier"]);

    let (status, got) = get(&c, &sim, &tok, &format!("/vm/{FIRST_VM_ID}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["name"], json!("node-a"));
    let (status, body) = get(&c, &sim, &tok, "/vm/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "bad_request", 400);
    assert!(sim
        .vm_user_data(FIRST_VM_ID)
        .is_some_and(|u| u.contains("kubeadm join")));
    assert_eq!(sim.vms()[0].created_by.as_deref(), Some(DEFAULT_CLIENT_ID));
}

#[tokio::test]
async fn vm_list_is_paginated() {
    let (sim, _clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    for i in 0..27 {
        assert_eq!(
            create(&c, &sim, &tok, &vm_body(&format!("n{i}"))).await.0,
            StatusCode::OK
        );
    }
    let (_, v) = get(&c, &sim, &tok, "/vm").await;
    assert_eq!(v["data"].as_array().map(Vec::len), Some(25));
    assert_eq!(
        v["pagination"],
        json!({"total": 27, "count": 25, "per_page": 25, "current_page": 1, "total_pages": 2})
    );
    let (_, v) = get(&c, &sim, &tok, "/vm?page=2").await;
    assert_eq!(v["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["data"][0]["name"], json!("n25"));
    let (_, v) = get(&c, &sim, &tok, "/vm?page=3&per_page=10").await;
    assert_eq!(v["pagination"]["count"], json!(7));
    let (_, v) = get(&c, &sim, &tok, "/vm?per_page=1000").await;
    assert_eq!(v["pagination"]["per_page"], json!(100));
    let (status, body) = get(&c, &sim, &tok, "/vm?per_page=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("per_page")),
        "{body}"
    );
}

#[tokio::test]
async fn create_validation_errors() {
    let (sim, _clock) = start_with(SimCloudConfig::default().with_max_vms(1)).await;
    let c = client();
    let tok = token(&c, &sim).await;

    let mut bad = vm_body("x");
    bad["offering_id"] = json!("huge-99cpu");
    let (status, body) = create(&c, &sim, &tok, &bad).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({"error": "not_found", "message": "Instance type not available: huge-99cpu", "code": 404})
    );
    let mut bad = vm_body("x");
    bad["datacenter_id"] = json!("dc-mars-1");
    let (status, body) = create(&c, &sim, &tok, &bad).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], json!("Datacenter not found: dc-mars-1"));
    let mut bad = vm_body("x");
    bad["os_image_id"] = json!("windows-3.11");
    let (status, body) = create(&c, &sim, &tok, &bad).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("windows-3.11")));

    let mut bad = vm_body("x");
    bad.as_object_mut().expect("object").remove("hostname");
    let (status, body) = create(&c, &sim, &tok, &bad).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "bad_request", 400);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("hostname")),
        "{body}"
    );

    let r = c
        .post(format!("{}/vm", sim.base_url()))
        .bearer_auth(&tok)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.expect("json error body, not plain text");
    assert_error(&body, "bad_request", 400);
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("Invalid JSON")));

    assert_eq!(
        create(&c, &sim, &tok, &vm_body("one")).await.0,
        StatusCode::OK
    );
    let (status, body) = create(&c, &sim, &tok, &vm_body("two")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], json!("quota_exceeded"));
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("Insufficient VPSie quota")));
    sim.set_quota(2);
    assert_eq!(
        create(&c, &sim, &tok, &vm_body("two")).await.0,
        StatusCode::OK
    );
    assert_eq!(sim.vm_history().len(), 2, "failed creates leave no VM");
}

#[tokio::test]
async fn boot_goes_from_creating_to_running_on_the_clock() {
    let (sim, clock) = start_manual().await;
    let mut changes = sim.subscribe();
    let c = client();
    let tok = token(&c, &sim).await;
    let (_, vm) = create(&c, &sim, &tok, &vm_body("boot")).await;
    tokio::time::timeout(WAIT, changes.changed())
        .await
        .expect("created is signalled")
        .expect("sender alive");
    let path = format!("/vm/{}", vm["id"]);
    clock.advance(Duration::from_secs(7));
    assert_eq!(
        get(&c, &sim, &tok, &path).await.1["status"],
        json!("creating")
    );
    changes.borrow_and_update();
    clock.advance(Duration::from_secs(1));
    // No request and no handle call happens now: the sim notices the boot on its own and tells
    // subscribers.
    tokio::time::timeout(WAIT, changes.changed())
        .await
        .expect("boot is signalled")
        .expect("sender alive");
    assert_eq!(sim.vms()[0].status, VmStatus::Running);
    let (_, got) = get(&c, &sim, &tok, &path).await;
    assert_eq!(got["status"], json!("running"));
    assert_ne!(got["last_updated"], got["created_on"]);
}

#[tokio::test]
async fn boot_failures_and_overrides_can_be_injected() {
    let (sim, clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    sim.fail_next_boots(1);
    let (_, failing) = create(&c, &sim, &tok, &vm_body("fails")).await;
    let (_, slow) = create(&c, &sim, &tok, &vm_body("slow")).await;
    let slow_id = slow["id"].as_u64().expect("id");
    sim.set_vm_boot_time(slow_id, Duration::from_secs(60))
        .expect("override");
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        get(&c, &sim, &tok, &format!("/vm/{}", failing["id"]))
            .await
            .1["status"],
        json!("failed")
    );
    assert_eq!(
        get(&c, &sim, &tok, &format!("/vm/{slow_id}")).await.1["status"],
        json!("creating")
    );
    clock.advance(Duration::from_secs(50));
    assert_eq!(sim.vm(slow_id).map(|v| v.status), Some(VmStatus::Running));
    assert!(sim.set_vm_boot_time(9999, Duration::from_secs(1)).is_err());
}

#[tokio::test]
async fn delete_and_power_actions() {
    let (sim, clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    let (_, vm) = create(&c, &sim, &tok, &vm_body("act")).await;
    let id = vm["id"].as_u64().expect("id");
    let action = |a: &'static str| {
        c.post(format!("{}/vm/{id}/action", sim.base_url()))
            .bearer_auth(&tok)
            .json(&json!({"action": a}))
            .send()
    };
    let r = action("stop").await.expect("send");
    assert_eq!(r.status(), StatusCode::CONFLICT, "still creating");
    clock.advance(Duration::from_secs(8));
    let r = action("stop").await.expect("send");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.json::<Value>().await.expect("json")["data"]["status"],
        json!("stopped")
    );
    let r = action("start").await.expect("send");
    assert_eq!(
        r.json::<Value>().await.expect("json")["data"]["status"],
        json!("running")
    );
    let r = action("explode").await.expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.json::<Value>().await.expect("json")["message"]
        .as_str()
        .is_some_and(|m| m.contains("action")));

    let del = |id: u64| {
        c.delete(format!("{}/vm/{id}", sim.base_url()))
            .bearer_auth(&tok)
            .send()
    };
    assert_eq!(
        del(424242).await.expect("send").status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(del(id).await.expect("send").status(), StatusCode::OK);
    assert_eq!(
        get(&c, &sim, &tok, &format!("/vm/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(del(id).await.expect("send").status(), StatusCode::NOT_FOUND);
    assert!(sim.vms().is_empty());
    let history = sim.vm_history();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, VmStatus::Deleted);
    assert!(history[0].deleted_at.is_some());
}

#[tokio::test]
async fn status_fault_fires_count_times_then_stops() {
    let (sim, _clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    sim.add_fault(
        FaultRule::new(FaultAction::Status {
            code: 503,
            message: "maintenance".into(),
        })
        .on_operation(Operation::CreateVM)
        .times(2),
    )
    .expect("rule");
    for _ in 0..2 {
        let (status, body) = create(&c, &sim, &tok, &vm_body("f")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            json!({"error": "server_error", "message": "maintenance", "code": 503})
        );
    }
    assert!(sim.vms().is_empty(), "a refused create has no effect");
    assert_eq!(
        get(&c, &sim, &tok, "/vm").await.0,
        StatusCode::OK,
        "other operations unaffected"
    );
    assert_eq!(
        create(&c, &sim, &tok, &vm_body("f")).await.0,
        StatusCode::OK
    );
    assert!(sim.faults().is_empty());
    let faulted: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| !r.faults.is_empty())
        .collect();
    assert_eq!(faulted.len(), 2);
    assert_eq!(faulted[0].faults, vec!["status_503".to_owned()]);
}

#[tokio::test]
async fn rate_limit_fault_sends_retry_after() {
    let (sim, _clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    sim.add_fault(
        FaultRule::new(FaultAction::RateLimited {
            retry_after_secs: 7,
        })
        .on_method("GET")
        .on_path_prefix("/vm")
        .times(1),
    )
    .expect("rule");
    let r = c
        .get(format!("{}/vm", sim.base_url()))
        .bearer_auth(&tok)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("7")
    );
    assert_error(&r.json().await.expect("json"), "rate_limited", 429);
    assert_eq!(get(&c, &sim, &tok, "/vm").await.0, StatusCode::OK);
}

async fn fault_pattern(seed: u64) -> Vec<u16> {
    let (sim, _clock) = start_with(SimCloudConfig::default().with_fault_seed(seed)).await;
    let c = client();
    let tok = token(&c, &sim).await;
    sim.add_fault(
        FaultRule::new(FaultAction::Status {
            code: 500,
            message: "flaky".into(),
        })
        .on_operation(Operation::ListVMs)
        .with_probability(0.5),
    )
    .expect("rule");
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(get(&c, &sim, &tok, "/vm").await.0.as_u16());
    }
    sim.shutdown().await;
    out
}

#[tokio::test]
async fn probabilistic_faults_are_reproducible_with_a_seed() {
    let a = fault_pattern(42).await;
    let b = fault_pattern(42).await;
    assert_eq!(a, b);
    let failures = a.iter().filter(|s| **s == 500).count();
    assert!((8..=32).contains(&failures), "{failures} of 40 at p=0.5");
    assert_ne!(a, fault_pattern(43).await);
}

#[tokio::test]
async fn lost_response_creates_the_vm_but_the_client_sees_an_error() {
    lost_response_case().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_response_behaves_the_same_on_a_multi_threaded_runtime() {
    lost_response_case().await;
}

async fn lost_response_case() {
    let (sim, _clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    sim.add_fault(
        FaultRule::new(FaultAction::LoseResponse)
            .on_operation(Operation::CreateVM)
            .times(1),
    )
    .expect("rule");
    let sent = c
        .post(format!("{}/vm", sim.base_url()))
        .bearer_auth(&tok)
        .json(&vm_body("lost"))
        .send()
        .await;
    // What a reqwest client sees: the status line and headers arrive (200, with X-Request-ID),
    // then reading the body fails (hyper reports an unexpected EOF in the chunked body, which
    // `json()` surfaces as a decode error whose source is a body error).
    let r = sent.expect("headers arrive");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().contains_key("x-request-id"));
    let err = r
        .json::<Value>()
        .await
        .expect_err("the client must not get a usable answer");
    assert!(err.is_decode() || err.is_body(), "{err:?}");
    let vms = sim.vms();
    assert_eq!(vms.len(), 1, "the VM was created anyway");
    assert_eq!(vms[0].name, "lost");
    // The next list shows it, so a careful client can adopt it instead of creating a duplicate.
    let (_, list) = get(&c, &sim, &tok, "/vm").await;
    assert_eq!(list["data"][0]["name"], json!("lost"));
    let rec = sim
        .requests()
        .into_iter()
        .find(|r| r.operation == Operation::CreateVM)
        .expect("logged");
    assert_eq!(
        (rec.status, rec.faults),
        (200, vec!["lose_response".to_owned()])
    );
}

#[tokio::test]
async fn expire_tokens_fault_forces_a_new_login() {
    let (sim, _clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    sim.add_fault(
        FaultRule::new(FaultAction::ExpireTokens)
            .on_operation(Operation::ListVMs)
            .times(1),
    )
    .expect("rule");
    let (status, body) = get(&c, &sim, &tok, "/vm").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("expired")));
    let fresh = token(&c, &sim).await;
    assert_eq!(get(&c, &sim, &fresh, "/vm").await.0, StatusCode::OK);

    sim.expire_all_tokens();
    assert_eq!(
        get(&c, &sim, &fresh, "/vm").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn latency_fault_waits_in_the_sims_time() {
    // 100x faster clock: 60 s of virtual latency takes about 0.6 s of real time.
    let sim = SimCloud::start(SimCloudConfig::default().with_clock(ScaledClock::new(100.0)))
        .await
        .expect("start");
    let c = client();
    let tok = token(&c, &sim).await;
    sim.add_fault(
        FaultRule::new(FaultAction::Latency { ms: 60_000 })
            .on_operation(Operation::ListVMs)
            .times(1),
    )
    .expect("rule");
    let started = Instant::now();
    assert_eq!(get(&c, &sim, &tok, "/vm").await.0, StatusCode::OK);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(590), "{took:?}");
    assert!(
        took < Duration::from_secs(30),
        "waited virtual, not real, time: {took:?}"
    );
}

#[tokio::test]
async fn request_log_never_holds_tokens_or_secrets() {
    let (sim, _clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    let _ = login_as(&c, &sim, DEFAULT_CLIENT_ID, "a-wrong-secret").await;
    create(&c, &sim, &tok, &vm_body("n")).await;
    get(&c, &sim, &tok, "/vm").await;
    let in_rust = serde_json::to_string(&sim.requests()).expect("ser");
    let over_http = c
        .get(format!("{}/requests", sim.admin_url()))
        .send()
        .await
        .expect("admin")
        .text()
        .await
        .expect("text");
    let state = c
        .get(format!("{}/state", sim.admin_url()))
        .send()
        .await
        .expect("admin")
        .text()
        .await
        .expect("text");
    let debug = format!(
        "{:?} {:?} {:?}",
        sim.requests(),
        sim.vm_history(),
        sim.credentials()
    );
    for text in [&in_rust, &over_http, &state, &debug] {
        for secret in [
            tok.as_str(),
            DEFAULT_CLIENT_SECRET,
            "a-wrong-secret",
            "abcdef.0123456789abcdef",
        ] {
            assert!(!text.contains(secret), "leaked {secret} in {text}");
        }
    }
    assert!(in_rust.contains(DEFAULT_CLIENT_ID));
    assert_eq!(sim.count(Operation::CreateVM), 1);
    assert_eq!(sim.count(Operation::Login), 2);
    assert!(sim.requests().iter().all(|r| r.path.starts_with("/v2/")));
}

#[tokio::test]
async fn admin_endpoint_adds_and_clears_faults() {
    let (sim, _clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    let admin = sim.admin_url();
    let r = c
        .post(format!("{admin}/faults"))
        .json(&json!({"matcher": {"operation": "CreateVM"},
                      "action": {"type": "status", "code": 502, "message": "bad gateway"}}))
        .send()
        .await
        .expect("add");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        create(&c, &sim, &tok, &vm_body("x")).await.0,
        StatusCode::BAD_GATEWAY
    );
    let faults: Value = c
        .get(format!("{admin}/faults"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(faults["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        c.delete(format!("{admin}/faults"))
            .send()
            .await
            .expect("clear")
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        create(&c, &sim, &tok, &vm_body("x")).await.0,
        StatusCode::OK
    );

    let r = c
        .post(format!("{admin}/faults"))
        .json(&json!({"probability": 2.0, "action": {"type": "lose_response"}}))
        .send()
        .await
        .expect("bad rule");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.json::<Value>().await.expect("json")["message"]
        .as_str()
        .is_some_and(|m| m.contains("probability")));
    let r = c
        .post(format!("{admin}/faults"))
        .body("{")
        .send()
        .await
        .expect("bad json");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Tokens, accounts, boot and quota over HTTP.
    assert_eq!(
        c.post(format!("{admin}/tokens/expire"))
            .send()
            .await
            .expect("expire")
            .status(),
        StatusCode::OK
    );
    assert_eq!(get(&c, &sim, &tok, "/vm").await.0, StatusCode::UNAUTHORIZED);
    let r = c
        .post(format!("{admin}/accounts"))
        .json(&json!({"clientId": "second", "clientSecret": "s2"}))
        .send()
        .await
        .expect("account");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        login_as(&c, &sim, "second", "s2").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        c.delete(format!("{admin}/accounts/second"))
            .send()
            .await
            .expect("revoke")
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        login_as(&c, &sim, "second", "s2").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        c.delete(format!("{admin}/accounts/ghost"))
            .send()
            .await
            .expect("revoke")
            .status(),
        StatusCode::NOT_FOUND
    );
    let r = c
        .post(format!("{admin}/quota"))
        .json(&json!({"max_vms": 0}))
        .send()
        .await
        .expect("quota");
    assert_eq!(r.status(), StatusCode::OK);
    let tok = token(&c, &sim).await;
    assert_eq!(
        create(&c, &sim, &tok, &vm_body("y")).await.1["error"],
        json!("quota_exceeded")
    );

    let state: Value = c
        .get(format!("{admin}/state"))
        .send()
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    assert_eq!(state["history"].as_array().map(Vec::len), Some(1));
    assert_eq!(state["quota"]["max_vms"], json!(0));
    let ids: Vec<&str> = state["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .filter_map(|a| a["client_id"].as_str())
        .collect();
    assert_eq!(ids, vec!["second", DEFAULT_CLIENT_ID]);
    assert!(state["counters"]["CreateVM"]
        .as_u64()
        .is_some_and(|n| n >= 3));
}

#[tokio::test]
async fn unknown_routes_answer_json_errors() {
    let (sim, _clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    let (status, body) = get(&c, &sim, &tok, "/no/such/thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "not_found", 404);
    let r = c
        .put(format!("{}/vm", sim.base_url()))
        .bearer_auth(&tok)
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&r.json().await.expect("json"), "method_not_allowed", 405);
}

#[tokio::test]
async fn refuses_bad_config_and_stops_on_shutdown() {
    let err = SimCloud::start(SimCloudConfig::default().with_accounts(vec![]))
        .await
        .expect_err("no accounts");
    assert!(err.to_string().contains("accounts"), "{err}");
    let err =
        SimCloud::start(SimCloudConfig::default().with_bind("0.0.0.0:0".parse().expect("addr")))
            .await
            .expect_err("not loopback");
    assert!(err.to_string().contains("loopback"), "{err}");
    let mut cat = vpsie_autoscaler::sim::cloud::Catalogue::default();
    cat.offerings[0].ram = 0;
    let err = SimCloud::start(SimCloudConfig::default().with_catalogue(cat))
        .await
        .expect_err("catalogue");
    assert!(err.to_string().contains("`ram`"), "{err}");

    let (sim, _clock) = start_manual().await;
    let c = client();
    assert_eq!(
        c.get(format!("{}/health", sim.base_url()))
            .send()
            .await
            .expect("up")
            .status(),
        StatusCode::OK
    );
    sim.shutdown().await;
    assert!(client()
        .get(format!("{}/health", sim.base_url()))
        .send()
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_creates_get_unique_ids_and_addresses() {
    let (sim, _clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let (c, sim, tok) = (c.clone(), sim.clone(), tok.clone());
        tasks.spawn(async move { create(&c, &sim, &tok, &vm_body(&format!("p{i}"))).await });
    }
    let mut ids = std::collections::HashSet::new();
    let mut ips = std::collections::HashSet::new();
    while let Some(done) = tasks.join_next().await {
        let (status, vm) = done.expect("task");
        assert_eq!(status, StatusCode::OK, "{vm}");
        assert!(ids.insert(vm["id"].as_u64().expect("id")));
        assert!(ips.insert(vm["default_ip"].as_str().expect("ip").to_owned()));
    }
    assert_eq!(sim.vms().len(), 40);
    assert_eq!(sim.count(Operation::CreateVM), 40);
}

#[tokio::test]
async fn oversized_and_non_object_bodies_get_json_errors() {
    let (sim, _clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    let r = c
        .post(format!("{}/vm", sim.base_url()))
        .bearer_auth(&tok)
        .body(vec![b' '; 3 * 1024 * 1024])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_error(&r.json().await.expect("json"), "payload_too_large", 413);
    let (status, body) = create(&c, &sim, &tok, &json!(["not", "an", "object"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("JSON object")),
        "{body}"
    );
    let r = c
        .post(format!("{}/vm/{FIRST_VM_ID}/action", sim.base_url()))
        .bearer_auth(&tok)
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

async fn k8s(
    c: &Client,
    sim: &SimCloud,
    tok: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = c
        .request(method, format!("{}{path}", sim.base_url()))
        .bearer_auth(tok);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("send");
    let status = r.status();
    (status, r.json().await.expect("json"))
}

#[tokio::test]
async fn managed_kubernetes_node_lifecycle() {
    use reqwest::Method;
    use vpsie_autoscaler::sim::cloud::DEFAULT_K8S_CLUSTER;
    let (sim, clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    let cl = DEFAULT_K8S_CLUSTER;

    let (status, v) = k8s(&c, &sim, &tok, Method::GET, "/k8s/cluster/all", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (v["error"].clone(), v["code"].clone()),
        (json!(false), json!(200))
    );
    assert_eq!(v["data"][0]["identifier"], json!(cl));

    let (_, offers) = k8s(
        &c,
        &sim,
        &tok,
        Method::POST,
        "/k8s/offers",
        Some(json!({"dcIdentifier": "dc-us-east-1"})),
    )
    .await;
    let medium = offers["data"]
        .as_array()
        .expect("offers")
        .iter()
        .find(|o| o["offering_id"] == json!("medium-4cpu-8gb"))
        .expect("medium offer")
        .clone();
    for key in ["id", "name", "cpu", "ram", "disk", "price", "hourly_price"] {
        assert!(!medium[key].is_null(), "offer.{key}: {medium}");
    }
    assert!(medium["id"].is_u64());

    let (status, group) = k8s(
        &c,
        &sim,
        &tok,
        Method::POST,
        "/k8s/cluster/add/group",
        Some(json!({"clusterIdentifier": cl, "groupName": "workers", "KubeSizeID": medium["id"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{group}");
    let gid = group["data"]["id"].as_u64().expect("group id");

    let (status, node) = k8s(
        &c,
        &sim,
        &tok,
        Method::POST,
        &format!("/k8s/cluster/byId/{cl}/add/slave/group/{gid}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{node}");
    let data = &node["data"];
    assert_eq!(data["status"], json!("creating"));
    let identifier = data["identifier"].as_str().expect("identifier").to_owned();
    assert!(data["hostname"]
        .as_str()
        .is_some_and(|h| h.starts_with("sim-cluster-workers-")));
    let vm = &sim.vms()[0];
    assert_eq!((vm.offering_id.as_str(), vm.cpu), ("medium-4cpu-8gb", 4));
    assert_eq!(vm.k8s_node_group, Some((cl.to_owned(), gid)));

    clock.advance(Duration::from_secs(8));
    let (_, groups) = k8s(
        &c,
        &sim,
        &tok,
        Method::GET,
        &format!("/k8s/node/groups/byClusterId/{cl}"),
        None,
    )
    .await;
    assert_eq!(groups["data"][0]["nodes"][0]["status"], json!("running"));
    assert_eq!(groups["data"][0]["KubeSizeID"], medium["id"]);

    let del = Some(json!({"identifier": identifier}));
    let path = format!("/k8s/cluster/byId/{cl}/delete/slave");
    assert_eq!(
        k8s(&c, &sim, &tok, Method::DELETE, &path, del.clone())
            .await
            .0,
        StatusCode::OK
    );
    assert!(sim.vms().is_empty());
    let (status, body) = k8s(&c, &sim, &tok, Method::DELETE, &path, del).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], json!(true));
    assert_eq!(body["code"], json!(404));
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains(&identifier)));

    let (status, body) = k8s(&c, &sim, &tok, Method::GET, "/k8s/cluster/byId/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], json!("Cluster not found: nope"));
    let (status, body) = k8s(
        &c,
        &sim,
        &tok,
        Method::POST,
        "/k8s/cluster/add/group",
        Some(json!({"clusterIdentifier": cl, "groupName": "g2", "KubeSizeID": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("KubeSizeID")));
    assert_eq!(sim.count(Operation::AddK8sNode), 1);
    assert_eq!(sim.count(Operation::DeleteK8sNode), 2);
}

#[tokio::test]
async fn admin_endpoint_steers_boots() {
    let (sim, clock) = start_manual().await;
    let c = client();
    let tok = token(&c, &sim).await;
    let admin = sim.admin_url();
    let r = c
        .post(format!("{admin}/boot"))
        .json(&json!({"boot_time_secs": 30, "fail_next": 1}))
        .send()
        .await
        .expect("boot");
    assert_eq!(r.status(), StatusCode::OK);
    let (_, doomed) = create(&c, &sim, &tok, &vm_body("doomed")).await;
    let (_, fine) = create(&c, &sim, &tok, &vm_body("fine")).await;
    let fine_id = fine["id"].as_u64().expect("id");
    let r = c
        .post(format!("{admin}/vms/{fine_id}/boot"))
        .json(&json!({"boot_time_secs": 5}))
        .send()
        .await
        .expect("vm boot");
    assert_eq!(r.status(), StatusCode::OK);
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        get(&c, &sim, &tok, &format!("/vm/{fine_id}")).await.1["status"],
        json!("running")
    );
    assert_eq!(
        get(&c, &sim, &tok, &format!("/vm/{}", doomed["id"]))
            .await
            .1["status"],
        json!("creating")
    );
    clock.advance(Duration::from_secs(20));
    assert_eq!(
        get(&c, &sim, &tok, &format!("/vm/{}", doomed["id"]))
            .await
            .1["status"],
        json!("failed")
    );

    let r = c
        .post(format!("{admin}/boot"))
        .json(&json!({"boot_time_secs": -1}))
        .send()
        .await
        .expect("bad boot");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.json::<Value>().await.expect("json")["message"]
        .as_str()
        .is_some_and(|m| m.contains("boot_time_secs")));
    let r = c
        .post(format!("{admin}/vms/77/boot"))
        .json(&json!({"fail": true}))
        .send()
        .await
        .expect("unknown vm");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = c
        .post(format!("{admin}/quota"))
        .json(&json!({"max": 3}))
        .send()
        .await
        .expect("unknown field");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Admin calls are not API requests: they are not logged and faults do not touch them.
    sim.add_fault(FaultRule::new(FaultAction::Status {
        code: 500,
        message: "x".into(),
    }))
    .expect("rule");
    assert_eq!(
        c.get(format!("{admin}/state"))
            .send()
            .await
            .expect("state")
            .status(),
        StatusCode::OK
    );
    assert!(sim.requests().iter().all(|r| r.path.starts_with("/v2/")));
}
