//! Injected Kubernetes API faults: rules that make the simulated API server misbehave on chosen
//! requests, as a real control plane does under load or during an upgrade.
//!
//! The model is the simulated cloud's ([`crate::sim::cloud::faults`]): each [`KubeFaultRule`]
//! has a [`KubeFaultMatcher`] (verbs, resource, namespace, who asks; all given parts must
//! match), an optional probability (drawn from a seeded RNG, so a run is reproducible for a
//! seed and a request sequence), an optional count of remaining hits, an optional end of its
//! window on the server's clock, and a [`KubeFaultAction`]:
//!
//! - `conflict`: `409 Conflict` on an update, patch or delete (the real "the object has been
//!   modified" answer; the write has no effect). It never fires on other verbs.
//! - `unavailable`: `503 ServiceUnavailable` with `Retry-After` (the request has no effect).
//! - `expire_watch`: a watch resumed from a resourceVersion (not empty, not `"0"`) is answered
//!   with the `ERROR` event `410 Expired` ("too old resource version"), so the client relists.
//!
//! Cutting every open watch stream is an action of its own ([`super::SimApiServer::cut_watches`],
//! `POST /admin/watches/cut`): the streams end as when the server restarts, and clients
//! re-watch from their last resourceVersion.
//!
//! The first firing rule decides the answer. Answers are `Status` objects with the real
//! server's `reason` and wording, so kube-rs and kubectl handle them as in a cluster.
//!
//! The admin endpoints (`/admin/faults`, `/admin/watches/cut`) answer only the unrestricted
//! admin identity (a request without a bearer token) and are never themselves faulted.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::error::StatusError;

/// Who a rule applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityScope {
    /// Every request.
    #[default]
    All,
    /// Every request but the unrestricted admin's (tests and the simulated controllers keep
    /// working while the clients under test see the fault).
    NonAdmin,
}

/// Which requests a rule applies to. Unset parts match everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeFaultMatcher {
    /// Verbs as RBAC names them (`get`, `list`, `watch`, `create`, `update`, `patch`,
    /// `delete`, `deletecollection`); empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verbs: Vec<String>,
    /// Resource (plural), e.g. `vpsienodes`, `pods`; `pods/eviction` for a subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Who asks.
    #[serde(default)]
    pub identity: IdentityScope,
}

/// One request as the rules see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFacts<'a> {
    /// RBAC verb (`get` for non-resource paths such as discovery).
    pub verb: &'a str,
    /// Resource plural (empty for non-resource paths).
    pub resource: &'a str,
    /// Subresource.
    pub subresource: Option<&'a str>,
    /// Namespace.
    pub namespace: Option<&'a str>,
    /// Whether the unrestricted admin asks.
    pub admin: bool,
    /// For a watch: whether it resumes from a resourceVersion (not empty, not `"0"`).
    pub resumed_watch: bool,
}

impl KubeFaultMatcher {
    /// Whether a request matches.
    pub fn matches(&self, r: &RequestFacts<'_>) -> bool {
        if self.identity == IdentityScope::NonAdmin && r.admin {
            return false;
        }
        if !self.verbs.is_empty() && !self.verbs.iter().any(|v| v.eq_ignore_ascii_case(r.verb)) {
            return false;
        }
        if let Some(res) = &self.resource {
            let (plural, sub) = match res.split_once('/') {
                Some((p, s)) => (p, Some(s)),
                None => (res.as_str(), None),
            };
            if plural != r.resource || (sub.is_some() && sub != r.subresource) {
                return false;
            }
        }
        if let Some(ns) = &self.namespace {
            if Some(ns.as_str()) != r.namespace {
                return false;
            }
        }
        true
    }
}

/// What a firing rule does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum KubeFaultAction {
    /// `409 Conflict` on update, patch and delete (no effect).
    Conflict,
    /// `503 ServiceUnavailable` with `Retry-After` (no effect).
    Unavailable {
        /// The `Retry-After` seconds (default 1).
        #[serde(default = "one")]
        retry_after_secs: u64,
    },
    /// A resumed watch gets the `410 Expired` ERROR event.
    ExpireWatch,
}

fn one() -> u64 {
    1
}

impl KubeFaultAction {
    /// A short name for the counters (`conflict`, `unavailable`, `expire_watch`).
    pub fn label(&self) -> &'static str {
        match self {
            KubeFaultAction::Conflict => "conflict",
            KubeFaultAction::Unavailable { .. } => "unavailable",
            KubeFaultAction::ExpireWatch => "expire_watch",
        }
    }

    /// Whether it can fire on this request at all (a conflict needs a write to an existing
    /// object, an expired watch a resumed watch).
    fn applies(&self, r: &RequestFacts<'_>) -> bool {
        match self {
            KubeFaultAction::Conflict => matches!(r.verb, "update" | "patch" | "delete"),
            KubeFaultAction::Unavailable { .. } => true,
            KubeFaultAction::ExpireWatch => r.verb == "watch" && r.resumed_watch,
        }
    }
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeFaultRule {
    /// Which requests it applies to.
    #[serde(default)]
    pub matcher: KubeFaultMatcher,
    /// Chance (0..=1) that it fires on a matching request; unset means always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// How many more times it may fire; unset means unlimited. A rule at 0 is dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// The end of its window (server clock); unset means until removed. Over the admin API,
    /// `for_secs` sets it relative to now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    /// What it does.
    pub action: KubeFaultAction,
}

impl KubeFaultRule {
    /// A rule that fires `action` on every request it applies to.
    pub fn new(action: KubeFaultAction) -> Self {
        Self {
            matcher: KubeFaultMatcher::default(),
            probability: None,
            count: None,
            until: None,
            action,
        }
    }

    /// Only on these verbs.
    pub fn on_verbs(mut self, verbs: &[&str]) -> Self {
        self.matcher.verbs = verbs.iter().map(|v| v.to_string()).collect();
        self
    }

    /// Only on this resource (`pods`, `pods/eviction`).
    pub fn on_resource(mut self, resource: impl Into<String>) -> Self {
        self.matcher.resource = Some(resource.into());
        self
    }

    /// Not for the unrestricted admin.
    pub fn except_admin(mut self) -> Self {
        self.matcher.identity = IdentityScope::NonAdmin;
        self
    }

    /// Fires with probability `p` on a matching request.
    pub fn with_probability(mut self, p: f64) -> Self {
        self.probability = Some(p);
        self
    }

    /// Fires at most `n` times.
    pub fn times(mut self, n: u32) -> Self {
        self.count = Some(n);
        self
    }

    /// Only until `t` (server clock).
    pub fn until(mut self, t: DateTime<Utc>) -> Self {
        self.until = Some(t);
        self
    }

    /// Checks the rule's values, naming the bad field.
    pub fn validate(&self) -> Result<(), StatusError> {
        let bad = |field: &str, value: String, fix: &str| {
            Err(StatusError::bad_request(format!(
                "fault rule field `{field}` = {value} is invalid: {fix}"
            )))
        };
        if let Some(p) = self.probability {
            if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
                return bad(
                    "probability",
                    p.to_string(),
                    "give a number between 0 and 1",
                );
            }
        }
        const VERBS: [&str; 8] = [
            "get",
            "list",
            "watch",
            "create",
            "update",
            "patch",
            "delete",
            "deletecollection",
        ];
        for v in &self.matcher.verbs {
            if !VERBS.iter().any(|k| k.eq_ignore_ascii_case(v)) {
                return bad(
                    "matcher.verbs",
                    format!("{v:?}"),
                    "give RBAC verbs: get, list, watch, create, update, patch, delete, deletecollection",
                );
            }
        }
        if let Some(r) = &self.matcher.resource {
            if r.is_empty() || r.starts_with('/') || r.ends_with('/') || r.contains(' ') {
                return bad(
                    "matcher.resource",
                    format!("{r:?}"),
                    "give a resource plural such as pods or pods/eviction",
                );
            }
        }
        if let KubeFaultAction::Unavailable { retry_after_secs } = self.action {
            if retry_after_secs > 3600 {
                return bad(
                    "action.retry_after_secs",
                    retry_after_secs.to_string(),
                    "give at most 3600 seconds",
                );
            }
        }
        Ok(())
    }

    fn live(&self, now: DateTime<Utc>) -> bool {
        self.count != Some(0) && self.until.is_none_or(|u| now < u)
    }
}

/// The rules, their RNG and how often each action fired.
#[derive(Debug)]
pub struct FaultState {
    rules: Vec<KubeFaultRule>,
    rng: StdRng,
    fired: BTreeMap<String, u64>,
}

impl FaultState {
    /// No rules; the RNG seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rules: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
            fired: BTreeMap::new(),
        }
    }

    /// Re-seeds the RNG (a campaign run starts from its own seed).
    pub fn reseed(&mut self, seed: u64) {
        self.rng = StdRng::seed_from_u64(seed);
    }

    /// Adds a validated rule.
    pub fn add(&mut self, rule: KubeFaultRule) -> Result<(), StatusError> {
        rule.validate()?;
        self.rules.push(rule);
        Ok(())
    }

    /// Removes the first rule equal to `rule`; whether there was one.
    pub fn remove(&mut self, rule: &KubeFaultRule) -> bool {
        match self.rules.iter().position(|r| r == rule) {
            Some(i) => {
                self.rules.remove(i);
                true
            }
            None => false,
        }
    }

    /// Removes every rule; how many there were.
    pub fn clear(&mut self) -> usize {
        std::mem::take(&mut self.rules).len()
    }

    /// The rules still live at `now`.
    pub fn rules(&self, now: DateTime<Utc>) -> Vec<KubeFaultRule> {
        self.rules.iter().filter(|r| r.live(now)).cloned().collect()
    }

    /// How often each action fired (by [`KubeFaultAction::label`]), plus `watches_cut`.
    pub fn fired(&self) -> BTreeMap<String, u64> {
        self.fired.clone()
    }

    /// Counts `n` under `label` (e.g. cut watches).
    pub fn count(&mut self, label: &str, n: u64) {
        *self.fired.entry(label.to_string()).or_default() += n;
    }

    /// Evaluates the rules for one request: the action of the first firing rule, if any.
    /// Consumes counts, draws from the RNG; rules used up or past their window are dropped.
    pub fn evaluate(
        &mut self,
        r: &RequestFacts<'_>,
        now: DateTime<Utc>,
    ) -> Option<KubeFaultAction> {
        self.rules.retain(|rule| rule.live(now));
        let mut out = None;
        for rule in self.rules.iter_mut() {
            if !rule.matcher.matches(r) || !rule.action.applies(r) {
                continue;
            }
            if let Some(p) = rule.probability {
                if !self.rng.random_bool(p.clamp(0.0, 1.0)) {
                    continue;
                }
            }
            if let Some(n) = rule.count.as_mut() {
                *n -= 1;
            }
            *self
                .fired
                .entry(rule.action.label().to_string())
                .or_default() += 1;
            out = Some(rule.action.clone());
            break;
        }
        self.rules.retain(|rule| rule.live(now));
        out
    }
}

/// The answer of a firing `conflict` on `qualified` (`pods`, `vpsienodes.autoscaler.vpsie.com`)
/// object `name`: the real server's wording and details.
pub fn conflict(qualified: &str, kind: &str, group: &str, name: &str) -> StatusError {
    StatusError::conflict(qualified, (kind, group), name)
}

/// The answer of a firing `unavailable`: `503 ServiceUnavailable`, with `details.retryAfterSeconds`.
pub fn unavailable(retry_after_secs: u64) -> StatusError {
    StatusError::new(
        503,
        "ServiceUnavailable",
        "the server is currently unable to handle the request",
    )
    .with_details(serde_json::json!({"retryAfterSeconds": retry_after_secs}))
}

/// The `ERROR` event of a firing `expire_watch` for a watch from `rv`.
pub fn expired(rv: &str, current: u64) -> StatusError {
    StatusError::gone(format!("too old resource version: {rv} ({current})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts<'a>(verb: &'a str, resource: &'a str) -> RequestFacts<'a> {
        RequestFacts {
            verb,
            resource,
            ..RequestFacts::default()
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_conflict_fires_only_on_writes_to_existing_objects() {
        let mut s = FaultState::new(1);
        s.add(KubeFaultRule::new(KubeFaultAction::Conflict))
            .unwrap();
        for verb in ["get", "list", "watch", "create"] {
            assert_eq!(s.evaluate(&facts(verb, "pods"), now()), None, "{verb}");
        }
        for verb in ["update", "patch", "delete"] {
            assert_eq!(
                s.evaluate(&facts(verb, "pods"), now()),
                Some(KubeFaultAction::Conflict),
                "{verb}"
            );
        }
        assert_eq!(s.fired()["conflict"], 3);
    }

    #[test]
    fn matchers_filter_by_resource_subresource_namespace_and_identity() {
        let m = KubeFaultMatcher {
            verbs: vec!["CREATE".into()],
            resource: Some("pods/eviction".into()),
            namespace: Some("default".into()),
            identity: IdentityScope::NonAdmin,
        };
        let mut r = RequestFacts {
            verb: "create",
            resource: "pods",
            subresource: Some("eviction"),
            namespace: Some("default"),
            admin: false,
            resumed_watch: false,
        };
        assert!(m.matches(&r));
        r.admin = true;
        assert!(!m.matches(&r), "the admin is exempt");
        r.admin = false;
        r.namespace = Some("kube-system");
        assert!(!m.matches(&r));
        r.namespace = Some("default");
        r.subresource = None;
        assert!(!m.matches(&r), "pods/eviction is not pods");
        let pods = KubeFaultMatcher {
            resource: Some("pods".into()),
            ..Default::default()
        };
        r.subresource = Some("eviction");
        assert!(pods.matches(&r), "a plural matches its subresources too");
    }

    #[test]
    fn a_window_ends_on_the_clock_and_counts_run_out() {
        let mut s = FaultState::new(1);
        let end = now() + chrono::Duration::seconds(10);
        s.add(
            KubeFaultRule::new(KubeFaultAction::Unavailable {
                retry_after_secs: 1,
            })
            .until(end),
        )
        .unwrap();
        s.add(KubeFaultRule::new(KubeFaultAction::Conflict).times(1))
            .unwrap();
        assert!(s.evaluate(&facts("get", ""), now()).is_some());
        assert!(s.evaluate(&facts("get", ""), end).is_none(), "window over");
        assert!(s
            .rules(end)
            .iter()
            .all(|r| r.action == KubeFaultAction::Conflict));
        assert!(s.evaluate(&facts("patch", "pods"), end).is_some());
        assert!(
            s.evaluate(&facts("patch", "pods"), end).is_none(),
            "count used"
        );
        assert!(s.rules(end).is_empty());
    }

    #[test]
    fn expire_watch_needs_a_resumed_watch() {
        let mut s = FaultState::new(1);
        s.add(KubeFaultRule::new(KubeFaultAction::ExpireWatch))
            .unwrap();
        let mut r = facts("watch", "pods");
        assert!(
            s.evaluate(&r, now()).is_none(),
            "a fresh watch is not expired"
        );
        r.resumed_watch = true;
        assert_eq!(s.evaluate(&r, now()), Some(KubeFaultAction::ExpireWatch));
        let e = expired("41", 900);
        assert_eq!((e.code, e.reason), (410, "Expired"));
        assert_eq!(e.to_status()["reason"], "Expired");
    }

    #[test]
    fn probability_is_reproducible_with_a_seed() {
        let run = |seed| {
            let mut s = FaultState::new(seed);
            s.add(KubeFaultRule::new(KubeFaultAction::Conflict).with_probability(0.5))
                .unwrap();
            (0..64)
                .map(|_| s.evaluate(&facts("update", "leases"), now()).is_some())
                .collect::<Vec<bool>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        let fired = a.iter().filter(|f| **f).count();
        assert!((16..=48).contains(&fired), "fired {fired} of 64 at p=0.5");
        assert_ne!(a, run(8));
    }

    #[test]
    fn answers_are_shaped_as_the_real_server_s() {
        let c = conflict(
            "vpsienodes.autoscaler.vpsie.com",
            "vpsienodes",
            "autoscaler.vpsie.com",
            "n1",
        )
        .to_status();
        assert_eq!(c["kind"], "Status");
        assert_eq!(c["code"], 409);
        assert_eq!(c["reason"], "Conflict");
        assert!(c["message"]
            .as_str()
            .unwrap()
            .contains("the object has been modified"));
        let u = unavailable(3).to_status();
        assert_eq!(
            (u["code"].as_u64(), u["reason"].as_str()),
            (Some(503), Some("ServiceUnavailable"))
        );
        assert_eq!(u["details"]["retryAfterSeconds"], 3);
    }

    #[test]
    fn validation_names_the_field() {
        let err = KubeFaultRule::new(KubeFaultAction::Conflict)
            .with_probability(2.0)
            .validate()
            .unwrap_err();
        assert!(err.message.contains("probability"), "{err}");
        let err = KubeFaultRule::new(KubeFaultAction::Conflict)
            .on_verbs(&["frob"])
            .validate()
            .unwrap_err();
        assert!(
            err.message.contains("matcher.verbs") && err.message.contains("frob"),
            "{err}"
        );
        let err = KubeFaultRule::new(KubeFaultAction::Conflict)
            .on_resource("/pods")
            .validate()
            .unwrap_err();
        assert!(err.message.contains("matcher.resource"), "{err}");
    }

    #[test]
    fn rules_round_trip_through_json() {
        let json = r#"{"matcher": {"verbs": ["patch"], "resource": "vpsienodes", "identity": "non_admin"},
                       "probability": 0.25, "action": {"type": "conflict"}}"#;
        let rule: KubeFaultRule = serde_json::from_str(json).unwrap();
        assert_eq!(
            rule,
            KubeFaultRule::new(KubeFaultAction::Conflict)
                .on_verbs(&["patch"])
                .on_resource("vpsienodes")
                .except_admin()
                .with_probability(0.25)
        );
        let u: KubeFaultRule =
            serde_json::from_str(r#"{"action": {"type": "unavailable"}}"#).unwrap();
        assert_eq!(
            u.action,
            KubeFaultAction::Unavailable {
                retry_after_secs: 1
            }
        );
    }

    /// Through HTTP with kube-rs: the answers are what a client of a real cluster gets.
    #[tokio::test]
    async fn kube_rs_sees_the_real_errors_and_cut_watches() {
        use futures::{StreamExt, TryStreamExt};
        use k8s_openapi::api::core::v1::ConfigMap;
        use kube::api::{Api, PostParams, WatchParams};

        let server = crate::sim::apiserver::SimApiServer::start(Default::default())
            .await
            .unwrap();
        let client = server.client().unwrap();
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("c".into());
        cms.create(&PostParams::default(), &cm).await.unwrap();

        server
            .add_fault(
                KubeFaultRule::new(KubeFaultAction::Conflict)
                    .on_resource("configmaps")
                    .times(1),
            )
            .unwrap();
        let got = cms.get("c").await.unwrap();
        let err = cms
            .replace("c", &PostParams::default(), &got)
            .await
            .unwrap_err();
        match err {
            kube::Error::Api(s) => assert_eq!((s.code, s.reason.as_str()), (409, "Conflict")),
            other => panic!("not a Status: {other}"),
        }
        cms.replace("c", &PostParams::default(), &got)
            .await
            .expect("the conflict fired once");

        server
            .add_fault_for(
                KubeFaultRule::new(KubeFaultAction::Unavailable {
                    retry_after_secs: 2,
                }),
                std::time::Duration::from_secs(3600),
            )
            .unwrap();
        let raw = reqwest::get(format!(
            "{}/api/v1/namespaces/default/configmaps",
            server.url()
        ))
        .await
        .unwrap();
        assert_eq!(raw.status().as_u16(), 503);
        assert_eq!(raw.headers()["retry-after"], "2");
        match cms.get("c").await.unwrap_err() {
            kube::Error::Api(s) => {
                assert_eq!((s.code, s.reason.as_str()), (503, "ServiceUnavailable"))
            }
            other => panic!("not a Status: {other}"),
        }
        // the admin API itself is never faulted
        let rules: serde_json::Value = reqwest::get(format!("{}/admin/faults", server.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(rules["fired"]["unavailable"], 2, "{rules}");
        let cleared = reqwest::Client::new()
            .delete(format!("{}/admin/faults", server.url()))
            .send()
            .await
            .unwrap();
        assert!(cleared.status().is_success());
        let rv = cms
            .get("c")
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap();

        // an open watch is cut: its stream ends
        let mut stream = cms
            .watch(&WatchParams::default().timeout(290), &rv)
            .await
            .unwrap()
            .boxed();
        crate::sim::apiserver::tests_support_wait(|| server.open_watches() == 1).await;
        assert_eq!(server.cut_watches(), 1);
        let end = tokio::time::timeout(std::time::Duration::from_secs(10), stream.try_next())
            .await
            .expect("the stream ends at once");
        assert!(matches!(end, Ok(None)), "{end:?}");

        // a resumed watch is expired with 410
        let add = reqwest::Client::new()
            .post(format!("{}/admin/faults", server.url()))
            .body(r#"{"action": {"type": "expire_watch"}, "count": 1}"#)
            .send()
            .await
            .unwrap();
        assert!(add.status().is_success());
        let mut stream = cms
            .watch(&WatchParams::default().timeout(290), &rv)
            .await
            .unwrap()
            .boxed();
        match stream.try_next().await.unwrap() {
            Some(kube::api::WatchEvent::Error(e)) => {
                assert_eq!((e.code, e.reason.as_str()), (410, "Expired"))
            }
            other => panic!("expected a 410 ERROR event, got {other:?}"),
        }
        // bad rules are refused naming the field
        let bad = reqwest::Client::new()
            .post(format!("{}/admin/faults", server.url()))
            .body(r#"{"action": {"type": "conflict"}, "probability": 7}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status().as_u16(), 400);
        assert!(bad.text().await.unwrap().contains("probability"));
        // only the admin may use it
        let token = server.issue_token(&crate::sim::apiserver::rbac::Identity::service_account(
            "kube-system",
            "x",
        ));
        let denied = reqwest::Client::new()
            .delete(format!("{}/admin/faults", server.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(denied.status().as_u16(), 403);
    }
}
