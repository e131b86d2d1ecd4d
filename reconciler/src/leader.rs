//! Leader election over a `coordination.k8s.io/v1` Lease, so that two replicas of the
//! autoscaler are safe: only the leader runs the controllers.
//!
//! A small own loop (kube-runtime has none), with client-go's rules:
//!
//! - **Acquire** when the Lease is absent (create it; a concurrent create loses with 409),
//!   released (`holderIdentity` empty), or expired: `renewTime + leaseDurationSeconds` has
//!   passed *and* this replica has seen the same Lease record unchanged for
//!   `leaseDurationSeconds` (client-go's observed-time rule, so a replica whose clock runs ahead
//!   cannot steal a live Lease). Takeover is an update carrying the observed
//!   `resourceVersion`, so of two racing replicas one loses with 409 and stays a follower.
//! - **Renew** as the holder every `retry_period` (an update with the resourceVersion).
//! - **Step down** when no renewal succeeded within `renew_deadline` of the last one's
//!   `renewTime`: `is_leader` goes false at that deadline, which is before the Lease can expire
//!   for the others (`renew_deadline < lease_duration`).
//! - Times are `MicroTime` (`renewTime`, `acquireTime`); `leaseTransitions` grows by one each
//!   time the holder changes; `acquireTime` is set when a replica takes the Lease.
//! - [`LeaderHandle::release`] (on shutdown) clears `holderIdentity` so another replica takes
//!   over at its next retry instead of waiting for the Lease to expire.
//!
//! The state is published on a `tokio::sync::watch` channel ([`LeaderState`]); the serve
//! runtime starts its controllers when `is_leader` becomes true and stops them when it becomes
//! false. Time comes from the config's [`SharedClock`]; the elector needs a clock that moves
//! by itself (system or scaled), not a `ManualClock`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::Api;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use vpsie_autoscaler::clock::{self, SharedClock};

/// Default Lease name.
pub const DEFAULT_LEASE_NAME: &str = "vpsie-autoscaler-leader";
/// Default Lease namespace.
pub const DEFAULT_NAMESPACE: &str = "kube-system";

/// Errors of leader election.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// A setting is unusable.
    #[error("leader election setting {field} = {value} is invalid: {fix}")]
    Config {
        /// The setting.
        field: &'static str,
        /// Its value.
        value: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// An API call on the Lease failed.
    #[error("Lease {lease}: {op} failed: {source}")]
    Api {
        /// `namespace/name`.
        lease: String,
        /// `get`, `create`, `update` or `release`.
        op: &'static str,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// An API call on the Lease did not answer in time.
    #[error("Lease {lease}: {op} did not answer within {secs:.1}s")]
    Timeout {
        /// `namespace/name`.
        lease: String,
        /// The call.
        op: &'static str,
        /// The time allowed.
        secs: f64,
    },
    /// The election task panicked or was aborted.
    #[error("the leader election task ended abnormally: {0}")]
    Task(String),
}

/// Settings of the elector.
#[derive(Debug, Clone)]
pub struct LeaderConfig {
    /// Namespace of the Lease (default `kube-system`).
    pub namespace: String,
    /// Name of the Lease (default `vpsie-autoscaler-leader`).
    pub lease_name: String,
    /// This replica's identity, written to `holderIdentity` (unique per replica: the pod name).
    pub identity: String,
    /// How long a Lease is valid after its last renewal (default 15 s; whole seconds, rounded up).
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it steps down (default 10 s; less than
    /// `lease_duration`).
    pub renew_deadline: Duration,
    /// How often to try to acquire or renew (default 2 s; less than `renew_deadline`).
    pub retry_period: Duration,
    /// The time source.
    pub clock: SharedClock,
}

impl LeaderConfig {
    /// The defaults with `identity`.
    pub fn new(identity: impl Into<String>) -> Self {
        Self {
            namespace: DEFAULT_NAMESPACE.to_string(),
            lease_name: DEFAULT_LEASE_NAME.to_string(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            clock: clock::system(),
        }
    }

    /// Checks the settings, naming the bad one.
    pub fn validate(&self) -> Result<(), LeaderError> {
        let bad = |field, value: String, fix| Err(LeaderError::Config { field, value, fix });
        if self.identity.trim().is_empty() {
            return bad(
                "identity",
                format!("{:?}", self.identity),
                "give each replica a unique identity, e.g. its pod name",
            );
        }
        if self.lease_name.trim().is_empty() || self.namespace.trim().is_empty() {
            return bad(
                "lease_name/namespace",
                format!("{:?}/{:?}", self.namespace, self.lease_name),
                "give the Lease a namespace and a name",
            );
        }
        if self.lease_duration < Duration::from_secs(1)
            || self.lease_duration > Duration::from_secs(i32::MAX as u64)
        {
            return bad(
                "lease_duration",
                format!("{:?}", self.lease_duration),
                "give at least 1s (the Lease stores whole seconds)",
            );
        }
        if self.retry_period.is_zero() {
            return bad(
                "retry_period",
                format!("{:?}", self.retry_period),
                "give a positive period, e.g. 2s",
            );
        }
        if self.renew_deadline >= self.lease_duration {
            return bad(
                "renew_deadline",
                format!("{:?}", self.renew_deadline),
                "must be less than lease_duration, so the leader steps down before the Lease expires",
            );
        }
        if self.retry_period >= self.renew_deadline {
            return bad(
                "retry_period",
                format!("{:?}", self.retry_period),
                "must be less than renew_deadline, so the leader tries to renew more than once",
            );
        }
        Ok(())
    }

    /// `leaseDurationSeconds`: the duration in whole seconds, rounded up.
    pub fn lease_duration_seconds(&self) -> i32 {
        let d = self.lease_duration;
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        i32::try_from(secs).unwrap_or(i32::MAX)
    }

    fn lease_ref(&self) -> String {
        format!("{}/{}", self.namespace, self.lease_name)
    }
}

/// A default identity: `$POD_NAME`, else `$HOSTNAME`, else `vpsie-autoscaler`, followed by the
/// process id (so two processes on one host differ).
pub fn default_identity() -> String {
    let base = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "vpsie-autoscaler".to_string());
    format!("{base}_{}", std::process::id())
}

/// What one replica knows about the election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderState {
    /// Whether this replica leads (runs the controllers).
    pub is_leader: bool,
    /// The holder of the Lease as last seen (`None`: nobody, or unknown).
    pub holder: Option<String>,
    /// Since when this state holds.
    pub since: DateTime<Utc>,
}

/// What the elector does next, given the Lease. Pure: see [`next_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseAction {
    /// The Lease does not exist: create it.
    Create,
    /// We hold it: renew it.
    Renew,
    /// It is free (released or expired): take it.
    Acquire,
    /// Somebody else holds it.
    Follow {
        /// The holder.
        holder: String,
    },
}

fn to_chrono(t: &MicroTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(t.0.as_microsecond())
}

fn to_micro(t: DateTime<Utc>) -> MicroTime {
    // Within jiff's range for any clock we run on; fall back to the epoch rather than panic.
    MicroTime(
        k8s_openapi::jiff::Timestamp::from_microsecond(t.timestamp_micros()).unwrap_or_default(),
    )
}

/// The holder of a Lease spec, `None` when empty.
pub fn holder_of(spec: Option<&LeaseSpec>) -> Option<String> {
    spec.and_then(|s| s.holder_identity.clone())
        .filter(|h| !h.is_empty())
}

/// Decides what to do with `lease` (`None`: absent). `observed_since` is when this replica
/// first saw the Lease's current record (its resourceVersion); `default_duration` applies when
/// the Lease has no `leaseDurationSeconds`.
pub fn next_action(
    lease: Option<&LeaseSpec>,
    identity: &str,
    now: DateTime<Utc>,
    observed_since: DateTime<Utc>,
    default_duration: Duration,
) -> LeaseAction {
    let Some(spec) = lease else {
        return LeaseAction::Create;
    };
    let Some(holder) = holder_of(Some(spec)) else {
        return LeaseAction::Acquire;
    };
    if holder == identity {
        return LeaseAction::Renew;
    }
    let duration = spec
        .lease_duration_seconds
        .filter(|s| *s > 0)
        .map(|s| chrono::Duration::seconds(i64::from(s)))
        .unwrap_or_else(|| chrono::Duration::from_std(default_duration).unwrap_or_default());
    let renewed = spec
        .renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .and_then(to_chrono);
    let expired_by_time = renewed.is_none_or(|r| r + duration < now);
    let expired_as_observed = observed_since + duration < now;
    if expired_by_time && expired_as_observed {
        LeaseAction::Acquire
    } else {
        LeaseAction::Follow { holder }
    }
}

/// The spec this replica writes to create, take or renew the Lease (`prev`: the current one).
/// Pure.
pub fn claimed_spec(
    prev: Option<&LeaseSpec>,
    identity: &str,
    now: DateTime<Utc>,
    duration_seconds: i32,
) -> LeaseSpec {
    let prev_holder = holder_of(prev);
    let ours = prev_holder.as_deref() == Some(identity);
    let transitions = prev.and_then(|p| p.lease_transitions).unwrap_or(0);
    LeaseSpec {
        holder_identity: Some(identity.to_string()),
        lease_duration_seconds: Some(duration_seconds),
        renew_time: Some(to_micro(now)),
        acquire_time: if ours {
            prev.and_then(|p| p.acquire_time.clone())
                .or_else(|| Some(to_micro(now)))
        } else {
            Some(to_micro(now))
        },
        lease_transitions: Some(match prev {
            // A new Lease starts at 0; every change of holder (including from "nobody") counts.
            None => 0,
            Some(_) if ours => transitions,
            Some(_) => transitions.saturating_add(1),
        }),
        ..prev.cloned().unwrap_or_default()
    }
}

/// The spec written on release: no holder, so the next replica need not wait. Pure.
pub fn released_spec(prev: &LeaseSpec, now: DateTime<Utc>) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        renew_time: Some(to_micro(now)),
        acquire_time: Some(to_micro(now)),
        ..prev.clone()
    }
}

/// The running elector. Dropping it aborts the loop without releasing the Lease (as a crash
/// would): call [`LeaderHandle::release`] on shutdown.
#[derive(Debug)]
pub struct LeaderHandle {
    rx: watch::Receiver<LeaderState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), LeaderError>>>,
}

impl LeaderHandle {
    /// A receiver of the state (`changed()` fires on each change).
    pub fn subscribe(&self) -> watch::Receiver<LeaderState> {
        self.rx.clone()
    }

    /// The current state.
    pub fn state(&self) -> LeaderState {
        self.rx.borrow().clone()
    }

    /// Stops the loop and, when this replica holds the Lease, clears `holderIdentity` so
    /// another replica takes over at once. The state ends with `is_leader = false`.
    pub async fn release(mut self) -> Result<(), LeaderError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => match task.await {
                Ok(r) => r,
                Err(e) => Err(LeaderError::Task(e.to_string())),
            },
            None => Ok(()),
        }
    }

    /// Stops the loop at once without releasing (a crash, for tests and fatal errors): the
    /// others take over when the Lease expires. The state is not updated.
    pub fn abort(&self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl Drop for LeaderHandle {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// The elector.
#[derive(Debug)]
pub struct LeaderElector;

/// The outcome of one try.
enum Attempt {
    /// We hold the Lease; `renewed` is the renewTime written.
    Leading { renewed: DateTime<Utc> },
    /// Somebody else holds it.
    Following { holder: Option<String> },
    /// Our write lost a race (409): nothing changes until the next try (a leader keeps
    /// leading until its renew deadline, a follower stays a follower).
    Conflict,
}

struct Loop {
    api: Api<Lease>,
    config: LeaderConfig,
    tx: watch::Sender<LeaderState>,
    /// The last renewTime we wrote successfully, while leading.
    leading_since_renew: Option<DateTime<Utc>>,
    /// The resourceVersion of the Lease last seen and when it was first seen.
    observed: Option<(String, DateTime<Utc>)>,
    /// Set when stopping: stepping down is then expected, not a warning.
    stopping: bool,
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

impl LeaderElector {
    /// Validates `config` and starts the election loop.
    pub fn spawn(client: kube::Client, config: LeaderConfig) -> Result<LeaderHandle, LeaderError> {
        config.validate()?;
        let now = config.clock.now();
        let (tx, rx) = watch::channel(LeaderState {
            is_leader: false,
            holder: None,
            since: now,
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let api: Api<Lease> = Api::namespaced(client, &config.namespace);
        let mut state = Loop {
            api,
            config,
            tx,
            leading_since_renew: None,
            observed: None,
            stopping: false,
        };
        let task = tokio::spawn(async move { state.run(stop_rx).await });
        Ok(LeaderHandle {
            rx,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }
}

impl Loop {
    fn publish(&self, is_leader: bool, holder: Option<String>) {
        let now = self.config.clock.now();
        self.tx.send_if_modified(|s| {
            if s.is_leader == is_leader && s.holder == holder {
                return false;
            }
            if s.is_leader != is_leader {
                if is_leader {
                    tracing::info!(identity = %self.config.identity, lease = %self.config.lease_ref(), "became the leader");
                } else {
                    if self.stopping {
                        tracing::info!(identity = %self.config.identity, lease = %self.config.lease_ref(), "stepping down: stopping");
                    } else {
                        tracing::warn!(identity = %self.config.identity, lease = %self.config.lease_ref(), holder = ?holder, "no longer the leader");
                    }
                }
            }
            *s = LeaderState {
                is_leader,
                holder,
                since: now,
            };
            true
        });
    }

    /// The leader's deadline to renew by, when leading.
    fn deadline(&self) -> Option<DateTime<Utc>> {
        self.leading_since_renew
            .map(|r| r + chrono::Duration::from_std(self.config.renew_deadline).unwrap_or_default())
    }

    /// The real time `d` of the clock's time takes; `d` itself for a clock that does not move
    /// by itself (its waits take no real time).
    fn real(&self, d: Duration) -> Duration {
        let r = self.config.clock.real_duration(d);
        if r.is_zero() {
            d
        } else {
            r
        }
    }

    async fn run(&mut self, mut stop: oneshot::Receiver<()>) -> Result<(), LeaderError> {
        loop {
            // The leader steps down once its renew deadline has passed.
            let now = self.config.clock.now();
            if let Some(deadline) = self.deadline() {
                if now >= deadline {
                    self.leading_since_renew = None;
                    self.publish(false, None);
                }
            }
            let budget = match self.deadline() {
                Some(d) => (d - now).to_std().unwrap_or_default(),
                None => self.config.renew_deadline,
            };
            let attempt = tokio::select! {
                _ = &mut stop => return self.release().await,
                r = tokio::time::timeout(self.real(budget).max(Duration::from_millis(1)), self.try_once()) => r,
            };
            match attempt {
                Ok(Ok(Attempt::Leading { renewed })) => {
                    self.leading_since_renew = Some(renewed);
                    // A write that answered only after its own renew deadline claims nothing:
                    // the top of the loop steps down.
                    if self.deadline().is_some_and(|d| self.config.clock.now() < d) {
                        self.publish(true, Some(self.config.identity.clone()));
                    }
                }
                Ok(Ok(Attempt::Following { holder })) => {
                    self.leading_since_renew = None;
                    self.publish(false, holder);
                }
                Ok(Ok(Attempt::Conflict)) => {
                    tracing::debug!(identity = %self.config.identity, "leader election: lost a write race on the Lease (409)");
                }
                Ok(Err(e)) => {
                    tracing::warn!(identity = %self.config.identity, error = %e, "leader election: could not acquire or renew the Lease");
                }
                Err(_) => {
                    tracing::warn!(identity = %self.config.identity, lease = %self.config.lease_ref(), "leader election: the API server did not answer in time");
                }
            }
            // Sleep a retry period, but wake up for the renew deadline.
            let now = self.config.clock.now();
            let mut wait = self.config.retry_period;
            if let Some(d) = self.deadline() {
                wait = wait.min((d - now).to_std().unwrap_or_default());
            }
            tokio::select! {
                _ = &mut stop => return self.release().await,
                _ = pause(&*self.config.clock, wait) => {}
            }
        }
    }

    fn api_err(&self, op: &'static str, source: kube::Error) -> LeaderError {
        LeaderError::Api {
            lease: self.config.lease_ref(),
            op,
            source,
        }
    }

    async fn try_once(&mut self) -> Result<Attempt, LeaderError> {
        let name = self.config.lease_name.clone();
        let identity = self.config.identity.clone();
        let duration = self.config.lease_duration_seconds();
        let current = self
            .api
            .get_opt(&name)
            .await
            .map_err(|e| self.api_err("get", e))?;
        let now = self.config.clock.now();
        let Some(mut lease) = current else {
            self.observed = None;
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(self.config.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(claimed_spec(None, &identity, now, duration)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(Attempt::Leading { renewed: now }),
                Err(e) if is_conflict(&e) => Ok(Attempt::Conflict),
                Err(e) => Err(self.api_err("create", e)),
            };
        };
        let rv = lease.metadata.resource_version.clone().unwrap_or_default();
        let observed_since = match &self.observed {
            Some((seen, at)) if *seen == rv => *at,
            _ => {
                self.observed = Some((rv.clone(), now));
                now
            }
        };
        match next_action(
            lease.spec.as_ref(),
            &identity,
            now,
            observed_since,
            self.config.lease_duration,
        ) {
            LeaseAction::Follow { holder } => Ok(Attempt::Following {
                holder: Some(holder),
            }),
            LeaseAction::Create | LeaseAction::Renew | LeaseAction::Acquire => {
                lease.spec = Some(claimed_spec(lease.spec.as_ref(), &identity, now, duration));
                match self
                    .api
                    .replace(&name, &PostParams::default(), &lease)
                    .await
                {
                    Ok(_) => Ok(Attempt::Leading { renewed: now }),
                    Err(e) if is_conflict(&e) => Ok(Attempt::Conflict),
                    Err(e) => Err(self.api_err("update", e)),
                }
            }
        }
    }

    /// Clears the holder when it is us, then publishes `is_leader = false`.
    async fn release(&mut self) -> Result<(), LeaderError> {
        self.stopping = true;
        self.leading_since_renew = None;
        self.publish(false, None);
        let name = self.config.lease_name.clone();
        let timeout = self.real(self.config.renew_deadline);
        let op = async {
            let Some(mut lease) = self
                .api
                .get_opt(&name)
                .await
                .map_err(|e| self.api_err("get", e))?
            else {
                return Ok(());
            };
            if holder_of(lease.spec.as_ref()).as_deref() != Some(self.config.identity.as_str()) {
                return Ok(());
            }
            let now = self.config.clock.now();
            let prev = lease.spec.clone().unwrap_or_default();
            lease.spec = Some(released_spec(&prev, now));
            self.api
                .replace(&name, &PostParams::default(), &lease)
                .await
                .map_err(|e| self.api_err("release", e))?;
            tracing::info!(identity = %self.config.identity, lease = %self.config.lease_ref(), "released the Lease");
            Ok(())
        };
        if timeout.is_zero() {
            return op.await;
        }
        match tokio::time::timeout(timeout, op).await {
            Ok(r) => r,
            Err(_) => Err(LeaderError::Timeout {
                lease: self.config.lease_ref(),
                op: "release",
                secs: timeout.as_secs_f64(),
            }),
        }
    }
}

/// Waits `d` of `clock`'s time; a clock that does not move by itself (a `ManualClock`, whose
/// waits take no real time) waits `d` of real time instead, so the loop never spins.
async fn pause(clock: &dyn vpsie_autoscaler::clock::Clock, d: Duration) {
    if clock.real_duration(d).is_zero() && !d.is_zero() {
        tokio::time::sleep(d).await;
    } else {
        clock::sleep(clock, d).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(
        holder: Option<&str>,
        renewed: DateTime<Utc>,
        secs: i32,
        transitions: i32,
    ) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            renew_time: Some(to_micro(renewed)),
            acquire_time: Some(to_micro(renewed)),
            lease_duration_seconds: Some(secs),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    #[test]
    fn decisions_follow_client_go() {
        let t0 = Utc::now();
        let d = Duration::from_secs(15);
        let s = |n| t0 + chrono::Duration::seconds(n);
        assert_eq!(next_action(None, "a", t0, t0, d), LeaseAction::Create);
        let held = spec(Some("b"), t0, 15, 0);
        assert_eq!(
            next_action(Some(&held), "a", s(10), t0, d),
            LeaseAction::Follow { holder: "b".into() }
        );
        assert_eq!(
            next_action(Some(&held), "b", s(10), t0, d),
            LeaseAction::Renew
        );
        // Expired by renewTime and as observed.
        assert_eq!(
            next_action(Some(&held), "a", s(16), t0, d),
            LeaseAction::Acquire
        );
        // Expired by renewTime, but only just observed (our clock may run ahead): wait.
        assert_eq!(
            next_action(Some(&held), "a", s(16), s(10), d),
            LeaseAction::Follow { holder: "b".into() }
        );
        // Released: take at once.
        let released = spec(None, t0, 1, 3);
        assert_eq!(
            next_action(Some(&released), "a", t0, t0, d),
            LeaseAction::Acquire
        );
        let empty = spec(Some(""), t0, 15, 3);
        assert_eq!(
            next_action(Some(&empty), "a", t0, t0, d),
            LeaseAction::Acquire
        );
    }

    #[test]
    fn claimed_specs_count_transitions() {
        let t0 = Utc::now();
        let created = claimed_spec(None, "a", t0, 15);
        assert_eq!(created.lease_transitions, Some(0));
        assert_eq!(created.holder_identity.as_deref(), Some("a"));
        let later = t0 + chrono::Duration::seconds(2);
        let renewed = claimed_spec(Some(&created), "a", later, 15);
        assert_eq!(renewed.lease_transitions, Some(0));
        assert_eq!(renewed.acquire_time, created.acquire_time);
        assert_eq!(renewed.renew_time, Some(to_micro(later)));
        let taken = claimed_spec(Some(&renewed), "b", later, 15);
        assert_eq!(taken.lease_transitions, Some(1));
        assert_eq!(taken.acquire_time, Some(to_micro(later)));
        let released = released_spec(&taken, later);
        assert_eq!(released.holder_identity, None);
        assert_eq!(released.lease_transitions, Some(1));
        assert_eq!(
            claimed_spec(Some(&released), "a", later, 15).lease_transitions,
            Some(2)
        );
    }

    #[test]
    fn bad_settings_are_named() {
        let mut c = LeaderConfig::new("me");
        c.validate().expect("defaults are valid");
        assert_eq!(c.lease_duration_seconds(), 15);
        c.renew_deadline = Duration::from_secs(20);
        let e = c.validate().expect_err("deadline").to_string();
        assert!(
            e.contains("renew_deadline") && e.contains("lease_duration"),
            "{e}"
        );
        let mut c = LeaderConfig::new(" ");
        assert!(c
            .validate()
            .expect_err("id")
            .to_string()
            .contains("identity"));
        c.identity = "x".into();
        c.lease_duration = Duration::from_millis(1500);
        c.renew_deadline = Duration::from_secs(1);
        c.retry_period = Duration::from_millis(200);
        c.validate().expect("valid");
        assert_eq!(c.lease_duration_seconds(), 2);
        c.retry_period = Duration::from_secs(1);
        assert!(c
            .validate()
            .expect_err("retry")
            .to_string()
            .contains("retry_period"));
    }

    #[test]
    fn micro_time_round_trips() {
        let t = DateTime::from_timestamp_micros(1_760_000_000_123_456).expect("valid");
        assert_eq!(to_chrono(&to_micro(t)), Some(t));
    }
}
