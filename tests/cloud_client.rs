//! End-to-end tests of the real VPSie client ([`VpsieClient`]) against the simulated VPSie
//! cloud over HTTP on 127.0.0.1 (issue 3): login and token refresh (expiry and 401), retries and
//! Retry-After, every error class, breaker transitions (time moved with a `ManualClock`, never
//! slept), a lost create response never producing two VMs, pagination, credential rotation,
//! and redaction of secrets in every output.
//!
//! Every test starts its own sim on 127.0.0.1:0 with a `ManualClock` shared with the client
//! (see `common::World`), and ends with `World::finish`, the redaction sweep over everything
//! the test produced. The `decode` class needs answers the sim cannot give (a non-JSON 200);
//! those come from `common::OddServer`, also on loopback.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{vm_request, Api, OddServer, World};
use vpsie_autoscaler::clock::Clock;
use vpsie_autoscaler::cloud::{
    BreakerState, ClientConfig, CloudError, CloudMetrics, Credentials, ErrorClass, Operation,
    RateLimitConfig, RetryPolicy, VmPhase, VpsieClient, VpsieSecret,
};
use vpsie_autoscaler::sim::cloud::{
    FaultAction, FaultRule, Operation as SimOp, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
};

const MINUTE: Duration = Duration::from_secs(60);

fn status(code: u16, message: &str) -> FaultAction {
    FaultAction::Status {
        code,
        message: message.to_string(),
    }
}

/// The statuses the sim answered for `op`, oldest first.
fn statuses(w: &World, op: SimOp) -> Vec<u16> {
    w.sim
        .requests()
        .iter()
        .filter(|r| r.operation == op)
        .map(|r| r.status)
        .collect()
}

/// The principals of the sim's requests of `op`, oldest first.
fn principals(w: &World, op: SimOp) -> Vec<Option<String>> {
    w.sim
        .requests()
        .iter()
        .filter(|r| r.operation == op)
        .map(|r| r.principal.clone())
        .collect()
}

fn total_requests(w: &World) -> usize {
    w.sim.requests().len()
}

// ----- login --------------------------------------------------------------------------------

#[tokio::test]
async fn good_credentials_log_in_once_and_check_reports_the_expiry() {
    let w = World::default().await;
    let offerings = w.ok(w.client().list_offerings().await);
    assert!(offerings.iter().any(|o| o.id == "small-2cpu-4gb"));
    let dcs = w.ok(w.client().list_datacenters().await);
    assert!(dcs.iter().any(|d| d.id == "dc-us-east-1"));
    assert_eq!(w.sim.count(SimOp::Login), 1, "one login serves many calls");
    assert_eq!(
        principals(&w, SimOp::ListOfferings),
        vec![Some(DEFAULT_CLIENT_ID.to_string())]
    );
    assert_eq!(w.api.refreshes("initial"), 1.0);
    assert_eq!(w.api.requests("Login", "200"), 1.0);

    let check = w.ok(w.client().check_credentials().await);
    assert_eq!(check.kind, "client-credentials");
    assert_eq!(check.fingerprint, w.client().credentials_fingerprint());
    assert_eq!(check.base_url, w.sim.base_url());
    assert_eq!(
        check.token_expires.map(|t| t.timestamp()),
        Some((w.clock.now() + chrono::Duration::hours(1)).timestamp()),
        "the sim's tokens live one hour (to the second, as the wire carries them)"
    );
    assert_eq!(w.sim.count(SimOp::Login), 2, "a check is a fresh login");
    w.ok(w.client().health().await);
    w.finish(&[]).await;
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized_and_name_the_secret() {
    let w = World::default().await;
    w.secret("not-the-secret");
    let bad = w.another_client(
        Credentials::client(DEFAULT_CLIENT_ID, "not-the-secret"),
        |_| {},
    );
    let e = w.err(bad.client.list_vms().await);
    assert_eq!(e.class(), ErrorClass::Unauthorized);
    assert_eq!(e.operation(), Some(Operation::Login));
    let text = e.to_string();
    assert!(
        text.contains("VPSie API authentication failed"),
        "the API reference's message: {text}"
    );
    assert!(text.contains("Secret kube-system/vpsie-secret"), "{text}");
    assert!(text.contains("clientId, clientSecret"), "{text}");
    assert!(text.contains("Invalid client credentials"), "{text}");
    assert!(e.request_id().is_some_and(|id| id.starts_with("sim-")));
    assert!(!e.is_retryable());
    assert_eq!(
        w.sim.count(SimOp::Login),
        1,
        "a refused login is not retried"
    );
    assert_eq!(w.sim.count(SimOp::ListVMs), 0, "no call without a token");
    assert_eq!(bad.errors(ErrorClass::Unauthorized), 1.0);
    assert_eq!(bad.requests("Login", "401"), 1.0);
    assert!(!bad.metrics().contains("vpsie_api_token_refreshes_total{"));

    // An unknown client id, and a custom Secret name in the message.
    let stranger = w.another_client(Credentials::client("nobody", DEFAULT_CLIENT_SECRET), |c| {
        c.secret_ref = "ops/vpsie-creds".to_string()
    });
    let e = w.err(stranger.client.check_credentials().await);
    assert_eq!(e.class(), ErrorClass::Unauthorized);
    assert!(e.to_string().contains("Secret ops/vpsie-creds"), "{e}");
    w.finish(&[&bad, &stranger]).await;
}

#[tokio::test]
async fn static_tokens_work_and_are_never_refreshed() {
    const TOKEN: &str = "static-token-7f3a9c51";
    let w = World::start(|c| c.with_static_token(TOKEN, "svc-account"), |_| {}).await;
    let api = w.another_client(Credentials::token(TOKEN), |_| {});
    w.ok(api.client.list_vms().await);
    w.clock.advance(3 * 60 * MINUTE);
    w.sim.expire_all_tokens();
    w.ok(api.client.list_vms().await);
    let check = w.ok(api.client.check_credentials().await);
    assert_eq!(check.kind, "static-token");
    assert_eq!(check.token_expires, None);
    assert_eq!(w.sim.count(SimOp::Login), 0, "a static token never logs in");
    assert_eq!(
        principals(&w, SimOp::ListVMs),
        vec![Some("svc-account".to_string()); 3]
    );
    assert!(!api.metrics().contains("vpsie_api_token_refreshes_total{"));

    // A static token the API refuses: 401 naming the `token` key, and no login attempt.
    w.secret("static-token-unknown-42");
    let unknown = w.another_client(Credentials::token("static-token-unknown-42"), |_| {});
    let e = w.err(unknown.client.get_vm(1001).await);
    assert_eq!(e.class(), ErrorClass::Unauthorized);
    assert_eq!(e.operation(), Some(Operation::GetVM));
    assert!(e.to_string().contains("(keys token)"), "{e}");
    assert_eq!(w.sim.count(SimOp::Login), 0);
    assert_eq!(w.sim.count(SimOp::GetVM), 1, "no refresh, so no second try");
    w.finish(&[&api, &unknown]).await;
}

// ----- token refresh ------------------------------------------------------------------------

#[tokio::test]
async fn the_token_is_refreshed_five_minutes_before_expiry() {
    let w = World::default().await;
    w.ok(w.client().list_vms().await);
    assert_eq!(w.sim.count(SimOp::Login), 1);
    // 54 min 59 s after the login: the token (1 h) is still used.
    w.clock.advance(54 * MINUTE + Duration::from_secs(59));
    w.ok(w.client().list_vms().await);
    assert_eq!(w.sim.count(SimOp::Login), 1);
    // Past expiry - 5 min: the next call logs in first.
    w.clock.advance(Duration::from_secs(2));
    w.ok(w.client().list_vms().await);
    assert_eq!(w.sim.count(SimOp::Login), 2);
    assert_eq!(
        statuses(&w, SimOp::ListVMs),
        vec![200, 200, 200],
        "the refresh happened before the API refused anything"
    );
    assert_eq!(w.api.refreshes("initial"), 1.0);
    assert_eq!(w.api.refreshes("expiry"), 1.0);
    assert_eq!(w.api.refreshes("unauthorized"), 0.0);
    assert_eq!(w.api.errors(ErrorClass::Unauthorized), 0.0);
    w.finish(&[]).await;
}

#[tokio::test]
async fn an_expired_token_gets_401_then_one_refresh_and_success() {
    let w = World::default().await;
    w.ok(w.client().list_vms().await);
    // Expiry first, so that both reasons show in the metrics.
    w.clock.advance(56 * MINUTE);
    w.ok(w.client().list_vms().await);
    assert_eq!(w.sim.count(SimOp::Login), 2);

    w.sim.expire_all_tokens();
    let vms = w.ok(w.client().list_vms().await);
    assert!(vms.is_empty());
    assert_eq!(w.sim.count(SimOp::Login), 3, "exactly one refresh");
    assert_eq!(statuses(&w, SimOp::ListVMs), vec![200, 200, 401, 200]);
    assert_eq!(w.api.refreshes("initial"), 1.0);
    assert_eq!(w.api.refreshes("expiry"), 1.0);
    assert_eq!(w.api.refreshes("unauthorized"), 1.0);
    assert_eq!(w.api.errors(ErrorClass::Unauthorized), 1.0);
    assert_eq!(w.api.requests("ListVMs", "401"), 1.0);

    // A token refused again right after the refresh: one refresh only, then the error.
    w.sim
        .add_fault(FaultRule::new(FaultAction::ExpireTokens).on_operation(SimOp::GetOffering))
        .expect("valid rule");
    let e = w.err(w.client().get_offering("small-2cpu-4gb").await);
    assert_eq!(e.class(), ErrorClass::Unauthorized);
    assert_eq!(e.operation(), Some(Operation::GetOffering));
    assert!(e.to_string().contains("Access token expired"), "{e}");
    assert_eq!(w.sim.count(SimOp::Login), 4, "no login loop");
    assert_eq!(statuses(&w, SimOp::GetOffering), vec![401, 401]);
    assert_eq!(w.api.refreshes("unauthorized"), 2.0);
    w.finish(&[]).await;
}

#[tokio::test]
async fn a_short_lived_token_is_refreshed_halfway() {
    // Tokens of 10 minutes or less are refreshed at half their life, not 5 minutes before.
    let w = World::start(|c| c.with_token_ttl(8 * MINUTE), |_| {}).await;
    w.ok(w.client().list_vms().await);
    w.clock.advance(4 * MINUTE - Duration::from_secs(1));
    w.ok(w.client().list_vms().await);
    assert_eq!(w.sim.count(SimOp::Login), 1);
    w.clock.advance(Duration::from_secs(2));
    w.ok(w.client().list_vms().await);
    assert_eq!(w.sim.count(SimOp::Login), 2);
    assert_eq!(statuses(&w, SimOp::ListVMs), vec![200, 200, 200]);
    assert_eq!(w.api.refreshes("expiry"), 1.0);
    w.finish(&[]).await;
}

#[tokio::test]
async fn concurrent_callers_share_one_login_and_one_refresh() {
    let w = World::default().await;
    let calls = (0..8).map(|_| w.client().list_vms());
    for r in futures::future::join_all(calls).await {
        w.ok(r);
    }
    assert_eq!(
        w.sim.count(SimOp::Login),
        1,
        "one login for 8 concurrent calls"
    );
    w.sim.expire_all_tokens();
    let calls = (0..8).map(|_| w.client().list_datacenters());
    for r in futures::future::join_all(calls).await {
        w.ok(r);
    }
    assert_eq!(
        w.sim.count(SimOp::Login),
        2,
        "8 callers refused with the same token: one refresh"
    );
    let answers = statuses(&w, SimOp::ListDatacenters);
    assert_eq!(
        answers.iter().filter(|s| **s == 200).count(),
        8,
        "{answers:?}"
    );
    assert_eq!(w.api.refreshes("unauthorized"), 1.0);
    w.finish(&[]).await;
}

#[tokio::test]
async fn a_failing_login_is_retried_like_any_safe_call() {
    let w = World::default().await;
    w.sim
        .add_fault(
            FaultRule::new(status(503, "auth backend restarting"))
                .on_operation(SimOp::Login)
                .times(2),
        )
        .expect("valid rule");
    w.ok(w.client().list_vms().await);
    assert_eq!(statuses(&w, SimOp::Login), vec![503, 503, 200]);
    assert_eq!(
        w.api.refreshes("initial"),
        1.0,
        "one refresh, however many tries"
    );

    // A login that keeps failing is a server error on Login, and no call is sent.
    let fresh = w.another_client(w.api.credentials.clone(), |_| {});
    w.sim
        .add_fault(FaultRule::new(status(500, "auth down")).on_operation(SimOp::Login))
        .expect("valid rule");
    let before = w.sim.count(SimOp::ListVMs);
    let e = w.err(fresh.client.list_vms().await);
    assert_eq!(e.class(), ErrorClass::ServerError);
    assert_eq!(e.operation(), Some(Operation::Login));
    assert_eq!(w.sim.count(SimOp::Login), 3 + 4);
    assert_eq!(w.sim.count(SimOp::ListVMs), before);
    assert!(!fresh.metrics().contains("vpsie_api_token_refreshes_total{"));
    w.finish(&[&fresh]).await;
}

// ----- retries and Retry-After --------------------------------------------------------------

#[tokio::test]
async fn server_errors_are_retried_until_the_call_succeeds() {
    let w = World::default().await;
    w.sim
        .add_fault(
            FaultRule::new(status(503, "maintenance"))
                .on_operation(SimOp::ListVMs)
                .times(2),
        )
        .expect("valid rule");
    w.ok(w.client().list_vms().await);
    assert_eq!(statuses(&w, SimOp::ListVMs), vec![503, 503, 200]);
    assert_eq!(w.api.requests("ListVMs", "503"), 2.0);
    assert_eq!(w.api.requests("ListVMs", "200"), 1.0);
    assert_eq!(w.api.errors(ErrorClass::ServerError), 2.0);
    let b = w.client().breaker_snapshot();
    assert_eq!(b.state, BreakerState::Closed);
    assert_eq!(b.consecutive_failures, 0, "the success reset the count");
    assert!(w.logs().contains("retrying VPSie API call"));
    w.finish(&[]).await;
}

#[tokio::test]
async fn a_persistent_server_error_gives_up_after_the_retries() {
    let w = World::default().await;
    w.sim
        .add_fault(FaultRule::new(status(500, "database on fire")).on_operation(SimOp::ListImages))
        .expect("valid rule");
    let e = w.err(w.client().list_images().await);
    assert_eq!(e.class(), ErrorClass::ServerError);
    assert!(e.is_retryable());
    assert!(matches!(e, CloudError::Server { status: 500, .. }), "{e:?}");
    assert!(e.to_string().contains("database on fire"), "{e}");
    assert_eq!(w.sim.count(SimOp::ListImages), 4, "one try and 3 retries");
    assert_eq!(w.api.errors(ErrorClass::ServerError), 4.0);
    assert_eq!(w.api.requests("ListImages", "500"), 4.0);
    let b = w.client().breaker_snapshot();
    assert_eq!(b.state, BreakerState::Closed, "4 failures < threshold 5");
    assert_eq!(b.consecutive_failures, 4);

    // The retry count is a setting.
    let once = w.another_client(w.api.credentials.clone(), |c| c.retry.max_retries = 1);
    let e = w.err(once.client.list_images().await);
    assert_eq!(e.class(), ErrorClass::ServerError);
    assert_eq!(w.sim.count(SimOp::ListImages), 6);
    w.finish(&[&once]).await;
}

#[tokio::test]
async fn retry_after_is_honoured_through_the_limiter() {
    let w = World::default().await;
    w.ok(w.client().list_vms().await); // logged in
    let start = w.clock.now();
    w.sim
        .add_fault(
            FaultRule::new(FaultAction::RateLimited {
                retry_after_secs: 1,
            })
            .on_operation(SimOp::ListOfferings)
            .times(1),
        )
        .expect("valid rule");
    w.ok(w.client().list_offerings().await);
    assert_eq!(statuses(&w, SimOp::ListOfferings), vec![429, 200]);
    // The retry waited the Retry-After: on the manual clock, recorded but no real time.
    assert_eq!(w.api.metric("vpsie_api_rate_limit_waits_total"), Some(1.0));
    assert_eq!(
        w.api.metric("vpsie_api_rate_limit_wait_seconds_total"),
        Some(1.0)
    );
    assert_eq!(w.api.metric("vpsie_api_rate_limited_total"), Some(1.0));
    assert_eq!(w.api.errors(ErrorClass::RateLimited), 1.0);
    let s = w.client().rate_limit_snapshot();
    assert_eq!(
        s.blocked_until,
        Some(start + chrono::Duration::seconds(1)),
        "the pause is recorded until the clock passes it"
    );
    assert_eq!(s.waiting, 0);
    w.clock.advance(Duration::from_secs(2));
    assert_eq!(w.client().rate_limit_snapshot().blocked_until, None);
    // A 429 never counts against the breaker.
    assert_eq!(w.client().breaker_snapshot().consecutive_failures, 0);
    w.finish(&[]).await;
}

#[tokio::test]
async fn a_long_retry_after_fails_fast_and_holds_later_calls_back() {
    let w = World::default().await;
    w.ok(w.client().list_vms().await);
    w.sim
        .add_fault(
            FaultRule::new(FaultAction::RateLimited {
                retry_after_secs: 120,
            })
            .on_operation(SimOp::ListDatacenters)
            .times(1),
        )
        .expect("valid rule");
    let e = w.err(w.client().list_datacenters().await);
    assert_eq!(e.class(), ErrorClass::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(
        e.suggested_requeue(w.clock.now()),
        Some(Duration::from_secs(120))
    );
    assert!(e.to_string().contains("retry after 120s"), "{e}");
    assert_eq!(
        w.sim.count(SimOp::ListDatacenters),
        1,
        "120 s is over the 30 s longest delay: not waited for"
    );
    // Every call is held back by the client until the pause ends, without reaching the API.
    let before = total_requests(&w);
    let e = w.err(w.client().list_vms().await);
    assert_eq!(e.class(), ErrorClass::RateLimited);
    assert!(e
        .retry_after()
        .is_some_and(|d| d <= Duration::from_secs(120)));
    assert_eq!(total_requests(&w), before);
    assert_eq!(w.api.errors(ErrorClass::RateLimited), 2.0);
    assert_eq!(
        w.api.metric("vpsie_api_rate_limited_total"),
        Some(1.0),
        "one 429 answer was received; the held-back call got none"
    );
    w.clock.advance(121 * Duration::from_secs(1));
    w.ok(w.client().list_datacenters().await);
    assert_eq!(statuses(&w, SimOp::ListDatacenters), vec![429, 200]);
    w.finish(&[]).await;
}

#[tokio::test]
async fn every_429_retry_waits_and_the_last_one_is_returned() {
    let w = World::default().await;
    w.sim
        .add_fault(
            FaultRule::new(FaultAction::RateLimited {
                retry_after_secs: 2,
            })
            .on_operation(SimOp::ListImages),
        )
        .expect("valid rule");
    let e = w.err(w.client().list_images().await);
    assert_eq!(e.class(), ErrorClass::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
    assert_eq!(w.sim.count(SimOp::ListImages), 4);
    assert_eq!(w.api.metric("vpsie_api_rate_limit_waits_total"), Some(3.0));
    assert_eq!(
        w.api.metric("vpsie_api_rate_limit_wait_seconds_total"),
        Some(6.0)
    );
    w.finish(&[]).await;
}

// ----- every error class through the wire ---------------------------------------------------

#[tokio::test]
async fn forbidden_is_its_own_class_and_not_retried() {
    let w = World::default().await;
    w.sim
        .add_fault(
            FaultRule::new(status(403, "scope vm:read missing")).on_operation(SimOp::ListImages),
        )
        .expect("valid rule");
    let e = w.err(w.client().list_images().await);
    assert_eq!(e.class(), ErrorClass::Forbidden);
    assert!(e.to_string().contains("scope vm:read missing"), "{e}");
    assert!(e.to_string().contains("lacks the permission"), "{e}");
    assert_eq!(w.sim.count(SimOp::ListImages), 1);
    assert_eq!(w.api.errors(ErrorClass::Forbidden), 1.0);
    assert_eq!(w.client().breaker_snapshot().consecutive_failures, 0);
    w.finish(&[]).await;
}

#[tokio::test]
async fn not_found_for_an_unknown_vm_and_an_unknown_offering() {
    let w = World::default().await;
    let e = w.err(w.client().get_vm(424_242).await);
    assert_eq!(e.class(), ErrorClass::NotFound);
    assert_eq!(e.operation(), Some(Operation::GetVM));
    assert!(e.to_string().contains("VM not found: id '424242'"), "{e}");
    assert_eq!(w.sim.count(SimOp::GetVM), 1, "a 404 is not retried");

    let mut req = vm_request("nf-0001", &[]);
    req.offering_id = "no-such-offering".to_string();
    let e = w.err(w.client().create_vm(&req).await);
    assert_eq!(e.class(), ErrorClass::NotFound);
    assert_eq!(e.operation(), Some(Operation::CreateVM));
    assert!(
        e.to_string().contains("Instance type not available"),
        "the API reference's message: {e}"
    );
    assert!(e.to_string().contains("no-such-offering"), "{e}");
    assert!(w.sim.vm_history().is_empty());

    let e = w.err(w.client().get_offering("no-such-offering").await);
    assert!(
        e.to_string()
            .contains("Instance type not available: offering 'no-such-offering'"),
        "{e}"
    );
    // Deleting a VM that is not there is done, not an error.
    w.ok(w.client().delete_vm(424_242).await);
    assert_eq!(w.api.errors(ErrorClass::NotFound), 3.0);
    assert_eq!(w.api.requests("DeleteVM", "404"), 1.0);
    w.finish(&[]).await;
}

#[tokio::test]
async fn quota_exhaustion_is_quota_exceeded() {
    let w = World::default().await;
    w.sim.set_quota(1);
    w.ok(w.client().create_vm(&vm_request("q-0001", &[])).await);
    let e = w.err(w.client().create_vm(&vm_request("q-0002", &[])).await);
    assert_eq!(e.class(), ErrorClass::QuotaExceeded);
    assert!(e.to_string().starts_with("Insufficient VPSie quota"), "{e}");
    assert!(e.to_string().contains("1 of 1 VMs"), "{e}");
    w.sim.set_quota(0);
    let e = w.err(w.client().create_vm(&vm_request("q-0003", &[])).await);
    assert_eq!(e.class(), ErrorClass::QuotaExceeded);
    assert!(!e.is_retryable());
    assert_eq!(
        w.sim.count(SimOp::CreateVM),
        3,
        "quota refusals are not retried"
    );
    assert_eq!(w.sim.vm_history().len(), 1);
    assert_eq!(w.api.errors(ErrorClass::QuotaExceeded), 2.0);
    w.finish(&[]).await;
}

#[tokio::test]
async fn a_lost_reply_and_a_stopped_sim_are_network_errors() {
    let w = World::default().await;
    let vm = w.ok(w.client().create_vm(&vm_request("net-0001", &[])).await);
    // A read whose reply is cut off is retried.
    w.sim
        .add_fault(
            FaultRule::new(FaultAction::LoseResponse)
                .on_operation(SimOp::GetVM)
                .times(1),
        )
        .expect("valid rule");
    let got = w.ok(w.client().get_vm(vm.id).await);
    assert_eq!(got.id, vm.id);
    assert_eq!(w.sim.count(SimOp::GetVM), 2);
    assert_eq!(w.api.errors(ErrorClass::Network), 1.0);

    w.shut_sim_down().await;
    let e = w.err(w.client().list_vms().await);
    assert_eq!(e.class(), ErrorClass::Network);
    assert_eq!(e.operation(), Some(Operation::ListVMs));
    assert!(
        e.to_string().contains("VPSie API unreachable on ListVMs"),
        "{e}"
    );
    assert!(e.is_retryable());
    assert_eq!(
        w.api.errors(ErrorClass::Network),
        5.0,
        "one try and 3 retries"
    );
    assert_eq!(w.api.requests("ListVMs", "error"), 4.0);
    w.finish(&[]).await;
}

#[tokio::test]
async fn lost_replies_of_delete_and_login_are_retried_safely() {
    let w = World::default().await;
    w.sim
        .add_fault(
            FaultRule::new(FaultAction::LoseResponse)
                .on_operation(SimOp::Login)
                .times(1),
        )
        .expect("valid rule");
    let vm = w.ok(w.client().create_vm(&vm_request("lost-0001", &[])).await);
    assert_eq!(
        statuses(&w, SimOp::Login),
        vec![200, 200],
        "first reply lost"
    );
    assert_eq!(w.api.refreshes("initial"), 1.0);
    // The delete is done but its reply lost: the retry finds the VM gone, which is success.
    w.sim
        .add_fault(
            FaultRule::new(FaultAction::LoseResponse)
                .on_operation(SimOp::DeleteVM)
                .times(1),
        )
        .expect("valid rule");
    w.ok(w.client().delete_vm(vm.id).await);
    assert_eq!(statuses(&w, SimOp::DeleteVM), vec![200, 404]);
    assert!(w.sim.vms().is_empty());
    assert_eq!(w.api.errors(ErrorClass::Network), 2.0);
    assert_eq!(w.api.errors(ErrorClass::NotFound), 0.0);
    w.finish(&[]).await;
}

#[tokio::test]
async fn a_slow_answer_times_out_as_a_network_error() {
    // The sim runs on the system clock here so that its injected latency takes real time;
    // the client gives up after its 200 ms timeout.
    let w = World::start(
        |c| c.with_clock(vpsie_autoscaler::clock::system()),
        |c| {
            c.timeout = Duration::from_millis(200);
            c.retry = RetryPolicy::none();
        },
    )
    .await;
    w.ok(w.client().list_vms().await);
    w.sim
        .add_fault(
            FaultRule::new(FaultAction::Latency { ms: 2_000 }).on_operation(SimOp::ListImages),
        )
        .expect("valid rule");
    let e = w.err(w.client().list_images().await);
    assert_eq!(e.class(), ErrorClass::Network);
    assert!(e.to_string().contains("timeout"), "{e}");
    assert_eq!(w.api.requests("ListImages", "error"), 1.0);
    w.finish(&[]).await;
}

#[tokio::test]
async fn a_closed_port_is_a_network_error() {
    let w = World::default().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        l.local_addr().expect("addr").port()
    };
    let closed = Api::new(
        &format!("http://127.0.0.1:{port}/v2"),
        w.api.credentials.clone(),
        w.clock.clone(),
        |c| c.retry = RetryPolicy::none(),
    );
    let e = w.err(closed.client.health().await);
    assert_eq!(e.class(), ErrorClass::Network);
    assert!(e.to_string().contains("connection failed"), "{e}");
    assert_eq!(closed.errors(ErrorClass::Network), 1.0);
    assert_eq!(closed.requests("Health", "error"), 1.0);
    w.ok(w.client().health().await);
    w.finish(&[&closed]).await;
}

#[tokio::test]
async fn malformed_answers_are_decode_errors() {
    // The sim always answers well-formed JSON; this loopback server does not.
    let w = World::default().await;
    let odd = OddServer::start().await;
    w.secret("odd-static-token-1");
    let api = Api::new(
        &odd.base_url,
        Credentials::token("odd-static-token-1"),
        w.clock.clone(),
        |_| {},
    );
    let e = w.err(api.client.list_vms().await);
    assert_eq!(e.class(), ErrorClass::Decode);
    assert!(
        matches!(
            e,
            CloudError::Decode {
                status: Some(200),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("not valid JSON"), "{e}");
    assert!(e.to_string().contains("base URL"), "the fix: {e}");
    let e = w.err(api.client.list_offerings().await);
    assert_eq!(e.class(), ErrorClass::Decode);
    assert!(e.to_string().contains("list envelope"), "{e}");
    assert_eq!(odd.hits(), 2, "decode errors are not retried");
    assert_eq!(api.errors(ErrorClass::Decode), 2.0);
    assert_eq!(
        api.client.breaker_snapshot().consecutive_failures,
        0,
        "a malformed answer is still an answer"
    );
    w.finish(&[&api]).await;
}

#[tokio::test]
async fn every_error_class_is_counted_on_one_client() {
    let w = World::start(|c| c, |c| c.retry = RetryPolicy::none()).await;
    let c = w.client();
    w.ok(c.list_vms().await);
    let rules = [
        FaultRule::new(status(401, "token revoked"))
            .on_operation(SimOp::ListImages)
            .times(2),
        FaultRule::new(status(403, "forbidden")).on_operation(SimOp::ListDatacenters),
        FaultRule::new(status(503, "down")).on_operation(SimOp::ListOfferings),
        FaultRule::new(FaultAction::LoseResponse).on_operation(SimOp::GetVM),
    ];
    for rule in rules {
        w.sim.add_fault(rule).expect("valid rule");
    }
    let mut classes = BTreeSet::new();
    let mut seen = |e: CloudError| {
        classes.insert(e.class().as_str());
        e
    };
    seen(w.err(c.list_images().await));
    seen(w.err(c.list_datacenters().await));
    seen(w.err(c.list_offerings().await));
    seen(w.err(c.get_vm(1).await));
    seen(w.err(c.get_offering("nope").await));
    let bad = seen(w.err(c.create_vm(&vm_request("bad_host!", &[])).await));
    assert!(bad.to_string().contains("hostname"), "{bad}");
    w.sim.set_quota(0);
    seen(w.err(c.create_vm(&vm_request("quota-0001", &[])).await));
    w.sim.clear_faults();
    w.sim
        .add_fault(
            FaultRule::new(FaultAction::RateLimited {
                retry_after_secs: 300,
            })
            .on_operation(SimOp::ListImages)
            .times(1),
        )
        .expect("valid rule");
    seen(w.err(c.list_images().await));
    w.clock.advance(Duration::from_secs(301));
    // The 4xx answers above reset the breaker's count: five 5xx in a row open it.
    w.sim
        .add_fault(FaultRule::new(status(502, "bad gateway")).on_operation(SimOp::ListOfferings))
        .expect("valid rule");
    for _ in 0..5 {
        let e = seen(w.err(c.list_offerings().await));
        assert_eq!(e.class(), ErrorClass::ServerError, "{e}");
    }
    let open = seen(w.err(c.list_offerings().await));
    assert_eq!(open.class(), ErrorClass::CircuitOpen, "{open}");

    let expected = [
        ("unauthorized", 2.0),
        ("forbidden", 1.0),
        ("server_error", 6.0),
        ("network", 1.0),
        ("not_found", 1.0),
        ("bad_request", 1.0),
        ("quota_exceeded", 1.0),
        ("rate_limited", 1.0),
        ("circuit_open", 1.0),
    ];
    for (class, n) in expected {
        assert!(classes.contains(class), "{class} not produced: {classes:?}");
        assert_eq!(
            w.api
                .metric(&format!("vpsie_api_errors_total{{error_type=\"{class}\"}}")),
            Some(n),
            "{class} in\n{}",
            w.api.metrics()
        );
    }
    w.finish(&[]).await;
}

// ----- circuit breaker ----------------------------------------------------------------------

#[tokio::test]
async fn the_breaker_opens_refuses_without_sending_and_probes_after_30s() {
    let w = World::start(|c| c, |c| c.retry = RetryPolicy::none()).await;
    let c = w.client();
    w.ok(c.list_vms().await);
    assert_eq!(w.api.breaker_gauge(), Some(0.0));
    w.sim
        .add_fault(FaultRule::new(status(503, "down")).on_operation(SimOp::ListDatacenters))
        .expect("valid rule");
    for i in 1..=4 {
        let e = w.err(c.list_datacenters().await);
        assert_eq!(e.class(), ErrorClass::ServerError);
        assert_eq!(c.breaker_snapshot().consecutive_failures, i);
        assert_eq!(w.api.breaker_gauge(), Some(0.0));
    }
    let e = w.err(c.list_datacenters().await);
    assert_eq!(
        e.class(),
        ErrorClass::ServerError,
        "the fifth failure itself"
    );
    let opened_at = w.clock.now();
    let s = c.breaker_snapshot();
    assert_eq!(s.state, BreakerState::Open);
    assert_eq!(s.opened_count, 1);
    assert_eq!(
        s.next_probe_at,
        Some(opened_at + chrono::Duration::seconds(30))
    );
    assert!(s.last_failure.as_deref().is_some_and(|m| m.contains("503")));
    assert_eq!(w.api.breaker_gauge(), Some(1.0));

    // Open: calls are refused without reaching the sim, whatever the operation.
    let sent = total_requests(&w);
    for _ in 0..3 {
        let e = w.err(c.list_vms().await);
        assert_eq!(e.class(), ErrorClass::CircuitOpen);
        assert!(e.to_string().contains("kubectl vpsie breaker reset"), "{e}");
        assert_eq!(
            e.suggested_requeue(w.clock.now()),
            Some(Duration::from_secs(30))
        );
    }
    w.clock.advance(Duration::from_secs(29));
    let e = w.err(c.get_vm(1).await);
    assert_eq!(e.class(), ErrorClass::CircuitOpen);
    assert_eq!(total_requests(&w), sent, "nothing was sent while open");
    assert_eq!(w.api.errors(ErrorClass::CircuitOpen), 4.0);

    // 30 s after opening: half-open, one probe; it fails -> open again.
    w.clock.advance(Duration::from_secs(1));
    assert_eq!(c.breaker_snapshot().state, BreakerState::HalfOpen);
    assert_eq!(w.api.breaker_gauge(), Some(2.0));
    let e = w.err(c.list_datacenters().await);
    assert_eq!(e.class(), ErrorClass::ServerError);
    assert_eq!(total_requests(&w), sent + 1, "exactly one probe");
    let s = c.breaker_snapshot();
    assert_eq!(s.state, BreakerState::Open);
    assert_eq!(s.opened_count, 2);
    assert_eq!(s.since, w.clock.now());
    assert_eq!(w.api.breaker_gauge(), Some(1.0));
    let e = w.err(c.list_datacenters().await);
    assert_eq!(e.class(), ErrorClass::CircuitOpen);

    // Another 30 s: the API is back, the probe succeeds -> closed.
    w.sim.clear_faults();
    w.clock.advance(Duration::from_secs(30));
    assert_eq!(c.breaker_snapshot().state, BreakerState::HalfOpen);
    w.ok(c.list_datacenters().await);
    let s = c.breaker_snapshot();
    assert_eq!(s.state, BreakerState::Closed);
    assert_eq!(s.consecutive_failures, 0);
    assert_eq!(w.api.breaker_gauge(), Some(0.0));
    w.ok(c.list_vms().await);
    assert_eq!(total_requests(&w), sent + 3);
    w.finish(&[]).await;
}

#[tokio::test]
async fn reset_breaker_closes_it_at_once() {
    let w = World::start(|c| c, |c| c.retry = RetryPolicy::none()).await;
    let c = w.client();
    w.ok(c.list_vms().await);
    w.sim
        .add_fault(
            FaultRule::new(status(500, "down"))
                .on_operation(SimOp::ListImages)
                .times(5),
        )
        .expect("valid rule");
    for _ in 0..5 {
        w.err(c.list_images().await);
    }
    assert_eq!(c.breaker_snapshot().state, BreakerState::Open);
    assert_eq!(w.api.breaker_gauge(), Some(1.0));
    let e = w.err(c.list_images().await);
    assert_eq!(e.class(), ErrorClass::CircuitOpen);
    let s = c.reset_breaker();
    assert_eq!(s.state, BreakerState::Closed);
    assert_eq!(s.opened_count, 1, "the reset keeps the history");
    assert_eq!(w.api.breaker_gauge(), Some(0.0));
    w.ok(c.list_images().await);
    assert!(w.logs().contains("circuit breaker reset by request"));
    w.finish(&[]).await;
}

#[tokio::test]
async fn with_default_retries_the_breaker_opens_after_exactly_five_requests() {
    let w = World::default().await;
    let c = w.client();
    w.ok(c.list_vms().await);
    w.sim
        .add_fault(FaultRule::new(status(503, "down")).on_operation(SimOp::ListOfferings))
        .expect("valid rule");
    let e = w.err(c.list_offerings().await);
    assert_eq!(e.class(), ErrorClass::ServerError);
    // The second call fails once more (the fifth), then its retry is refused by the breaker.
    let e = w.err(c.list_offerings().await);
    assert_eq!(e.class(), ErrorClass::CircuitOpen, "{e}");
    assert_eq!(w.sim.count(SimOp::ListOfferings), 5);
    assert_eq!(c.breaker_snapshot().state, BreakerState::Open);
    w.finish(&[]).await;
}

#[tokio::test]
async fn answers_that_are_not_outages_never_trip_the_breaker() {
    let w = World::start(|c| c, |c| c.retry = RetryPolicy::none()).await;
    let c = w.client();
    for _ in 0..10 {
        let e = w.err(c.get_vm(77).await);
        assert_eq!(e.class(), ErrorClass::NotFound);
    }
    assert_eq!(c.breaker_snapshot().state, BreakerState::Closed);
    // Four 5xx, a 404, four 5xx: never five in a row.
    w.sim
        .add_fault(FaultRule::new(status(502, "flaky")).on_operation(SimOp::ListImages))
        .expect("valid rule");
    for _ in 0..4 {
        w.err(c.list_images().await);
    }
    w.err(c.get_vm(77).await);
    assert_eq!(c.breaker_snapshot().consecutive_failures, 0);
    for _ in 0..4 {
        w.err(c.list_images().await);
    }
    let s = c.breaker_snapshot();
    assert_eq!(s.state, BreakerState::Closed);
    assert_eq!(s.consecutive_failures, 4);
    assert_eq!(s.opened_count, 0);
    assert_eq!(w.api.breaker_gauge(), Some(0.0));
    w.finish(&[]).await;
}

#[tokio::test]
async fn half_open_sends_one_probe_while_concurrent_calls_are_refused() {
    let w = World::start(|c| c, |c| c.retry = RetryPolicy::none()).await;
    let c = w.client();
    w.ok(c.list_vms().await);
    w.sim
        .add_fault(
            FaultRule::new(status(500, "down"))
                .on_operation(SimOp::ListVMs)
                .times(5),
        )
        .expect("valid rule");
    for _ in 0..5 {
        w.err(c.list_vms().await);
    }
    assert_eq!(c.breaker_snapshot().state, BreakerState::Open);
    w.clock.advance(Duration::from_secs(30));
    let sent = total_requests(&w);
    let calls = (0..6).map(|_| c.list_vms());
    let mut refused = 0;
    for r in futures::future::join_all(calls).await {
        match r {
            Ok(v) => w.note(format!("{v:?}")),
            Err(e) => {
                assert_eq!(e.class(), ErrorClass::CircuitOpen, "{e}");
                assert!(e.to_string().contains("a probe call is in flight"), "{e}");
                w.note(format!("{e} {e:?}"));
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 5);
    assert_eq!(
        total_requests(&w),
        sent + 1,
        "exactly one probe reached the sim"
    );
    assert_eq!(c.breaker_snapshot().state, BreakerState::Closed);
    w.finish(&[]).await;
}

// ----- creating VMs safely ------------------------------------------------------------------

fn with_hostname(w: &World, hostname: &str) -> usize {
    w.sim
        .vm_history()
        .iter()
        .filter(|v| v.hostname == hostname)
        .count()
}

#[tokio::test]
async fn a_lost_create_response_does_not_produce_two_vms() {
    let w = World::default().await;
    w.sim
        .add_fault(
            FaultRule::new(FaultAction::LoseResponse)
                .on_operation(SimOp::CreateVM)
                .times(1),
        )
        .expect("valid rule");
    let req = vm_request("ng-a-0001", &["nodegroup:a"]);
    let vm = w.ok(w.client().create_vm(&req).await);
    assert_eq!(vm.hostname.as_deref(), Some("ng-a-0001"));
    assert!(vm.has_tag("nodegroup:a"));
    assert_eq!(w.sim.count(SimOp::CreateVM), 1, "the POST was not repeated");
    assert_eq!(with_hostname(&w, "ng-a-0001"), 1);
    assert_eq!(
        statuses(&w, SimOp::ListVMs).len(),
        2,
        "looked up before and after the POST"
    );
    assert!(w
        .logs()
        .contains("CreateVM failed ambiguously but the VM exists"));
    // Asking again for the same hostname returns the same VM.
    let again = w.ok(w.client().create_vm(&req).await);
    assert_eq!(again.id, vm.id);
    assert_eq!(w.sim.count(SimOp::CreateVM), 1);
    assert_eq!(w.sim.vm_history().len(), 1);
    w.finish(&[]).await;
}

#[tokio::test]
async fn every_create_response_lost_still_yields_one_vm_per_hostname() {
    let w = World::default().await;
    w.sim
        .add_fault(FaultRule::new(FaultAction::LoseResponse).on_operation(SimOp::CreateVM))
        .expect("valid rule");
    let mut ids = Vec::new();
    for _ in 0..3 {
        for host in ["ng-b-0001", "ng-b-0002"] {
            ids.push(w.ok(w.client().create_vm(&vm_request(host, &[])).await).id);
        }
    }
    assert_eq!(w.sim.count(SimOp::CreateVM), 2);
    assert_eq!(with_hostname(&w, "ng-b-0001"), 1);
    assert_eq!(with_hostname(&w, "ng-b-0002"), 1);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 2, "{ids:?}");
    w.finish(&[]).await;
}

#[tokio::test]
async fn a_server_error_on_create_is_never_blindly_retried() {
    let w = World::default().await;
    w.sim
        .add_fault(
            FaultRule::new(status(503, "try later"))
                .on_operation(SimOp::CreateVM)
                .times(1),
        )
        .expect("valid rule");
    let req = vm_request("ng-c-0001", &[]);
    let e = w.err(w.client().create_vm(&req).await);
    assert_eq!(e.class(), ErrorClass::ServerError);
    assert_eq!(e.operation(), Some(Operation::CreateVM));
    assert_eq!(
        w.sim.count(SimOp::CreateVM),
        1,
        "CreateVM is not retried on 5xx"
    );
    assert_eq!(
        w.sim.count(SimOp::ListVMs),
        2,
        "it looked whether the VM came"
    );
    assert!(w.sim.vm_history().is_empty());
    // The next reconcile creates it, once.
    w.ok(w.client().create_vm(&req).await);
    w.ok(w.client().create_vm(&req).await);
    assert_eq!(w.sim.count(SimOp::CreateVM), 2);
    assert_eq!(with_hostname(&w, "ng-c-0001"), 1);
    w.finish(&[]).await;
}

#[tokio::test]
async fn a_429_on_create_is_retried_because_nothing_was_done() {
    let w = World::default().await;
    w.sim
        .add_fault(
            FaultRule::new(FaultAction::RateLimited {
                retry_after_secs: 1,
            })
            .on_operation(SimOp::CreateVM)
            .times(1),
        )
        .expect("valid rule");
    let vm = w.ok(w.client().create_vm(&vm_request("ng-d-0001", &[])).await);
    assert_eq!(statuses(&w, SimOp::CreateVM), vec![429, 200]);
    assert_eq!(w.sim.vm_history().len(), 1);
    assert_eq!(w.sim.vm_history()[0].id, vm.id as u64);
    w.finish(&[]).await;
}

#[tokio::test]
async fn a_vm_boots_on_the_clock_and_deletes_idempotently() {
    let w = World::start(|c| c.with_boot_time(Duration::from_secs(8)), |_| {}).await;
    let vm = w.ok(w
        .client()
        .create_vm(&vm_request("life-0001", &["pool-x"]))
        .await);
    assert_eq!(vm.phase(), VmPhase::Provisioning);
    assert_eq!(vm.cpu, Some(2));
    assert_eq!(vm.datacenter_id.as_deref(), Some("dc-us-east-1"));
    w.clock.advance(Duration::from_secs(8));
    let booted = w.ok(w.client().get_vm(vm.id).await);
    assert_eq!(booted.phase(), VmPhase::Running);
    assert!(booted.default_ip.is_some());

    w.ok(w.client().delete_vm(vm.id).await);
    let e = w.err(w.client().get_vm(vm.id).await);
    assert_eq!(e.class(), ErrorClass::NotFound);
    w.ok(w.client().delete_vm(vm.id).await);
    assert_eq!(statuses(&w, SimOp::DeleteVM), vec![200, 404]);
    assert_eq!(
        w.api.errors(ErrorClass::NotFound),
        1.0,
        "the second delete is no error"
    );
    assert!(w.ok(w.client().list_vms().await).is_empty());
    let history = w.sim.vm_history();
    assert_eq!(history.len(), 1);
    assert!(history[0].deleted_at.is_some());
    // A deleted hostname may be created again: a new VM.
    let again = w.ok(w.client().create_vm(&vm_request("life-0001", &[])).await);
    assert_ne!(again.id, vm.id);
    w.finish(&[]).await;
}

#[tokio::test]
async fn errors_carry_the_request_id_the_sim_logged() {
    let w = World::default().await;
    w.sim
        .add_fault(FaultRule::new(status(403, "nope")).on_operation(SimOp::GetOffering))
        .expect("valid rule");
    let e = w.err(w.client().get_offering("small-2cpu-4gb").await);
    let logged = w
        .sim
        .requests()
        .into_iter()
        .rfind(|r| r.operation == SimOp::GetOffering)
        .expect("logged");
    assert_eq!(e.request_id(), Some(logged.request_id.as_str()));
    assert!(e.to_string().contains(&logged.request_id), "{e}");
    assert_eq!(logged.faults, vec!["status_403".to_string()]);
    w.finish(&[]).await;
}

// ----- pagination ---------------------------------------------------------------------------

#[tokio::test]
async fn list_vms_follows_every_page_and_filters_by_tag() {
    let w = World::start(|c| c, |c| c.page_size = 25).await;
    for i in 0..60 {
        let tag = if i % 3 == 0 { "pool-a" } else { "pool-b" };
        w.ok(w
            .client()
            .create_vm(&vm_request(&format!("pg-{i:04}"), &[tag]))
            .await);
    }
    assert_eq!(w.sim.count(SimOp::CreateVM), 60);
    let before = w.sim.count(SimOp::ListVMs);
    let all = w.ok(w.client().list_vms().await);
    assert_eq!(
        w.sim.count(SimOp::ListVMs) - before,
        3,
        "pages of 25, 25, 10"
    );
    assert_eq!(
        w.api
            .metric("vpsie_api_request_duration_seconds_count{method=\"ListVMs\"}"),
        Some(w.sim.count(SimOp::ListVMs) as f64),
        "one observation per page request"
    );
    assert_eq!(all.len(), 60);
    let ids: BTreeSet<i64> = all.iter().map(|v| v.id).collect();
    assert_eq!(ids.len(), 60, "no VM twice");
    let sim_ids: BTreeSet<i64> = w.sim.vms().iter().map(|v| v.id as i64).collect();
    assert_eq!(ids, sim_ids);

    let a = w.ok(w.client().list_vms_by_tag("pool-a").await);
    assert_eq!(a.len(), 20);
    assert!(a
        .iter()
        .all(|v| v.has_tag("pool-a") && !v.has_tag("pool-b")));
    assert_eq!(w.ok(w.client().list_vms_by_tag("pool-b").await).len(), 40);
    assert!(w.ok(w.client().list_vms_by_tag("pool-c").await).is_empty());
    // A VM on the last page is found by hostname (create_vm's lookup).
    let found = w.ok(w.client().find_vm_by_hostname("PG-0059").await);
    assert_eq!(found.and_then(|v| v.hostname), Some("pg-0059".to_string()));
    w.finish(&[]).await;
}

// ----- credential rotation ------------------------------------------------------------------

#[tokio::test]
async fn rotated_credentials_are_used_and_revoked_ones_refused() {
    const NEW_ID: &str = "rotated-client";
    const NEW_SECRET: &str = "rotated-secret-5b1e";
    let w = World::start(|c| c.with_account(NEW_ID, NEW_SECRET), |_| {}).await;
    let c = w.client();
    w.ok(c.list_vms().await);
    let old_fingerprint = c.credentials_fingerprint();
    assert!(!c.set_credentials(w.api.credentials.clone()), "unchanged");

    assert!(c.set_credentials(Credentials::client(NEW_ID, NEW_SECRET)));
    assert_ne!(c.credentials_fingerprint(), old_fingerprint);
    assert_eq!(c.credentials_loaded_at(), w.clock.now());
    w.ok(c.list_vms().await);
    assert_eq!(
        principals(&w, SimOp::Login),
        vec![
            Some(DEFAULT_CLIENT_ID.to_string()),
            Some(NEW_ID.to_string())
        ]
    );
    assert_eq!(
        principals(&w, SimOp::ListVMs),
        vec![
            Some(DEFAULT_CLIENT_ID.to_string()),
            Some(NEW_ID.to_string())
        ],
        "later requests carry the new principal"
    );
    assert_eq!(w.api.refreshes("rotated"), 1.0);
    assert!(w.logs().contains("VPSie credentials replaced"));

    // The old account is revoked: its credentials are refused, the rotated client goes on.
    w.sim
        .revoke_account(DEFAULT_CLIENT_ID)
        .expect("known account");
    let old = w.another_client(w.api.credentials.clone(), |_| {});
    let e = w.err(old.client.list_vms().await);
    assert_eq!(e.class(), ErrorClass::Unauthorized);
    assert_eq!(e.operation(), Some(Operation::Login));
    w.ok(c.list_vms().await);
    w.finish(&[&old]).await;
}

#[tokio::test]
async fn revoking_the_account_in_use_fails_after_one_refresh() {
    let w = World::default().await;
    let c = w.client();
    w.ok(c.list_vms().await);
    w.sim
        .revoke_account(DEFAULT_CLIENT_ID)
        .expect("known account");
    let e = w.err(c.list_vms().await);
    assert_eq!(e.class(), ErrorClass::Unauthorized);
    assert_eq!(
        e.operation(),
        Some(Operation::Login),
        "the refresh was refused"
    );
    assert!(
        e.to_string().contains("Secret kube-system/vpsie-secret"),
        "{e}"
    );
    assert_eq!(statuses(&w, SimOp::ListVMs), vec![200, 401]);
    assert_eq!(statuses(&w, SimOp::Login), vec![200, 401]);
    // The operator rotates the secret in the sim and the Secret: back to work.
    w.secret("fresh-secret-0c7d");
    w.sim
        .add_account(DEFAULT_CLIENT_ID, "fresh-secret-0c7d")
        .expect("valid account");
    assert!(c.set_credentials(Credentials::client(DEFAULT_CLIENT_ID, "fresh-secret-0c7d")));
    w.ok(c.list_vms().await);
    w.finish(&[]).await;
}

// ----- the operator's paths: the Secret, the admin API, the client-side bucket --------------

#[tokio::test]
async fn a_secret_naming_the_sim_builds_a_working_client() {
    let w = World::default().await;
    let data: BTreeMap<String, Vec<u8>> = [
        ("clientId", DEFAULT_CLIENT_ID.to_string()),
        // A stray newline, as `echo ... | base64` leaves it.
        ("clientSecret", format!("{DEFAULT_CLIENT_SECRET}\n")),
        ("url", w.sim.base_url()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_bytes()))
    .collect();
    let secret = VpsieSecret::from_data("kube-system/vpsie-secret", &data).expect("valid Secret");
    w.note(format!("{secret:?}"));
    let client = VpsieClient::from_secret(
        secret,
        ClientConfig::default(),
        w.clock.clone(),
        CloudMetrics::unregistered(),
    )
    .expect("client");
    assert_eq!(client.base_url().as_str(), w.sim.base_url());
    assert_eq!(
        client.credentials_fingerprint(),
        w.client().credentials_fingerprint()
    );
    w.ok(client.list_vms().await);
    assert_eq!(
        principals(&w, SimOp::Login),
        vec![Some(DEFAULT_CLIENT_ID.to_string())]
    );
    w.note(format!("{client:?}"));
    w.finish(&[]).await;
}

#[tokio::test]
async fn health_needs_no_credentials() {
    let w = World::default().await;
    w.secret("wrong-secret-for-health");
    let bad = w.another_client(Credentials::client("x", "wrong-secret-for-health"), |_| {});
    w.ok(bad.client.health().await);
    assert_eq!(w.sim.count(SimOp::Health), 1);
    assert_eq!(w.sim.count(SimOp::Login), 0, "the probe logs nobody in");
    assert_eq!(bad.requests("Health", "200"), 1.0);
    w.finish(&[&bad]).await;
}

#[tokio::test]
async fn faults_set_over_the_admin_api_reach_the_client() {
    let w = World::default().await;
    let http = reqwest::Client::new();
    let admin = w.sim.admin_url();
    w.ok(w.client().list_vms().await);
    let rule = serde_json::json!({
        "matcher": {"operation": "ListVMs"}, "count": 1,
        "action": {"type": "status", "code": 503, "message": "admin says down"},
    });
    let resp = http
        .post(format!("{admin}/faults"))
        .json(&rule)
        .send()
        .await
        .expect("admin answers");
    assert!(resp.status().is_success(), "{}", resp.status());
    w.ok(w.client().list_vms().await);
    assert_eq!(statuses(&w, SimOp::ListVMs), vec![200, 503, 200]);

    let resp = http
        .post(format!("{admin}/tokens/expire"))
        .send()
        .await
        .expect("admin answers");
    assert!(resp.status().is_success());
    w.ok(w.client().list_vms().await);
    assert_eq!(w.sim.count(SimOp::Login), 2);

    let resp = http
        .post(format!("{admin}/quota"))
        .json(&serde_json::json!({"max_vms": 0}))
        .send()
        .await
        .expect("admin answers");
    assert!(resp.status().is_success());
    let e = w.err(w.client().create_vm(&vm_request("adm-0001", &[])).await);
    assert_eq!(e.class(), ErrorClass::QuotaExceeded);

    let resp = http
        .delete(format!("{admin}/accounts/{DEFAULT_CLIENT_ID}"))
        .send()
        .await
        .expect("admin answers");
    assert!(resp.status().is_success());
    let e = w.err(w.client().list_vms().await);
    assert_eq!(e.class(), ErrorClass::Unauthorized);
    w.finish(&[]).await;
}

#[tokio::test]
async fn the_client_side_bucket_spaces_calls_on_the_clock() {
    let w = World::start(
        |c| c,
        |c| {
            c.rate_limit = RateLimitConfig {
                requests_per_minute: 60,
                burst: 2,
            }
        },
    )
    .await;
    // The login and three calls take four tokens: two are there, two are waited for (1 s and
    // 2 s of the manual clock, no real time).
    for _ in 0..3 {
        w.ok(w.client().list_datacenters().await);
    }
    assert_eq!(w.sim.count(SimOp::ListDatacenters), 3);
    assert_eq!(w.api.metric("vpsie_api_rate_limit_waits_total"), Some(2.0));
    assert_eq!(
        w.api.metric("vpsie_api_rate_limit_wait_seconds_total"),
        Some(3.0)
    );
    assert_eq!(w.api.metric("vpsie_api_rate_limit_tokens"), Some(-2.0));
    // A quiet minute refills the bucket: no more waiting.
    w.clock.advance(MINUTE);
    w.ok(w.client().list_datacenters().await);
    assert_eq!(w.api.metric("vpsie_api_rate_limit_waits_total"), Some(2.0));
    assert_eq!(w.client().rate_limit_snapshot().tokens, 1.0);
    w.finish(&[]).await;
}

// ----- redaction ----------------------------------------------------------------------------

#[tokio::test]
async fn secrets_and_tokens_never_leak_into_any_output() {
    let w = World::default().await;
    // A token the sim issued, got by logging in ourselves: used as a static token it works,
    // then expires, and the refusal must not quote it.
    let login: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/auth/from/api", w.sim.base_url()))
        .form(&[
            ("clientId", DEFAULT_CLIENT_ID),
            ("clientSecret", DEFAULT_CLIENT_SECRET),
        ])
        .send()
        .await
        .expect("login answers")
        .json()
        .await
        .expect("login JSON");
    let token = login["accessToken"]["token"]
        .as_str()
        .expect("an access token")
        .to_string();
    assert!(token.starts_with(common::ISSUED_TOKEN_PREFIXES[0]));
    w.secret(token.clone());
    let borrowed = w.another_client(Credentials::token(token.as_str()), |_| {});
    w.ok(borrowed.client.list_vms().await);
    w.sim.expire_all_tokens();
    let e = w.err(borrowed.client.list_vms().await);
    assert_eq!(e.class(), ErrorClass::Unauthorized);

    // The regular client through retries, 401 refresh, a lost reply, rotation and errors.
    let c = w.client();
    w.ok(c.create_vm(&vm_request("red-0001", &[])).await);
    w.sim
        .add_fault(
            FaultRule::new(status(503, "down"))
                .on_operation(SimOp::ListImages)
                .times(1),
        )
        .expect("valid rule");
    w.ok(c.list_images().await);
    w.err(c.get_vm(5).await);
    w.sim.set_quota(0);
    w.err(c.create_vm(&vm_request("red-0002", &[])).await);
    w.note(format!("{:?}", vm_request("red-0003", &[])));
    w.secret("rotated-secret-c0ffee");
    w.sim
        .add_account("second", "rotated-secret-c0ffee")
        .expect("valid account");
    c.set_credentials(Credentials::client("second", "rotated-secret-c0ffee"));
    w.ok(c.check_credentials().await);

    // A server that echoes what it was sent: the client scrubs its errors.
    let odd = OddServer::start().await;
    w.secret("odd-static-token-2");
    let echo = Api::new(
        &odd.base_url,
        Credentials::token("odd-static-token-2"),
        w.clock.clone(),
        |c| c.retry = RetryPolicy::none(),
    );
    let e = w.err(echo.client.list_images().await);
    assert_eq!(e.class(), ErrorClass::ServerError);
    // (Failure messages mask the secret: a test log is an output too.)
    let shown = |e: &CloudError| {
        e.to_string()
            .replace("odd-static-token-2", "<SECRET>")
            .replace(DEFAULT_CLIENT_SECRET, "<SECRET>")
    };
    assert!(
        e.to_string().contains("backend refused Bearer <redacted>"),
        "{}",
        shown(&e)
    );
    let e = w.err(echo.client.list_datacenters().await);
    assert_eq!(e.class(), ErrorClass::Decode);
    assert!(e.to_string().contains("<redacted>"), "{}", shown(&e));
    let login_echo = Api::new(
        &odd.base_url,
        Credentials::client("odd-id", DEFAULT_CLIENT_SECRET),
        w.clock.clone(),
        |c| c.retry = RetryPolicy::none(),
    );
    let e = w.err(login_echo.client.list_vms().await);
    assert_eq!(e.class(), ErrorClass::Unauthorized);
    assert!(
        e.to_string().contains("clientSecret=<redacted>"),
        "{}",
        shown(&e)
    );

    let logs = w.logs();
    for expected in [
        "VPSie API answered",
        "retrying VPSie API call",
        "VPSie credentials replaced",
        "VPSie API call failed",
    ] {
        assert!(
            logs.contains(expected),
            "no {expected:?} in the captured logs"
        );
    }
    w.finish(&[&borrowed, &echo, &login_echo]).await;
}

#[test]
fn the_sweep_catches_a_leak() {
    let caught = std::panic::catch_unwind(|| {
        common::assert_no_secret(
            &["answer: sim-at-0123".to_string()],
            &["unrelated".to_string()],
        )
    });
    assert!(caught.is_err(), "an issued token must be caught");
    let caught = std::panic::catch_unwind(|| {
        common::assert_no_secret(&["x my-secret y".to_string()], &["my-secret".to_string()])
    });
    assert!(caught.is_err(), "a listed secret must be caught");
    common::assert_no_secret(&["clean".to_string()], &["my-secret".to_string()]);
}
