//! What every controller shares: clients, settings, the clock, metrics, events, caches.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::Client;
use vpsie_autoscaler::clock::SharedClock;
use vpsie_autoscaler::cloud::{Offering, VpsieClient};

use crate::config::ReconcilerConfig;
use crate::error::Result;
use crate::events::Recorder;
use crate::metrics::ControllerMetrics;
use crate::report::{Decision, DecisionAction, StatusBoard};

/// Shared by every controller.
pub struct Context {
    /// The Kubernetes client.
    pub kube: Client,
    /// The VPSie client.
    pub cloud: VpsieClient,
    /// Settings.
    pub config: ReconcilerConfig,
    /// Time.
    pub clock: SharedClock,
    /// Metrics.
    pub metrics: ControllerMetrics,
    /// Events.
    pub recorder: Recorder,
    catalogue: Mutex<Option<(DateTime<Utc>, Vec<Offering>)>>,
    /// Offerings a group avoids until a time, after a node of them failed: (group, offering).
    pub backoff: Mutex<HashMap<(String, String), DateTime<Utc>>>,
    /// What the status report shows of each NodeGroup (its last decision).
    pub board: StatusBoard,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A context.
    pub fn new(
        kube: Client,
        cloud: VpsieClient,
        config: ReconcilerConfig,
        clock: SharedClock,
        metrics: ControllerMetrics,
        instance: &str,
    ) -> Self {
        let recorder = Recorder::new(kube.clone(), instance);
        Self {
            kube,
            cloud,
            config,
            clock,
            metrics,
            recorder,
            catalogue: Mutex::new(None),
            backoff: Mutex::new(HashMap::new()),
            board: StatusBoard::new(),
        }
    }

    /// Now, by the shared clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The real time to wait for `d` of the clock's time (requeues follow virtual time).
    pub fn real(&self, d: Duration) -> Duration {
        let r = self.clock.real_duration(d);
        if r.is_zero() && !d.is_zero() {
            // a manual clock: poll quickly, the test moves time
            Duration::from_millis(50)
        } else {
            r
        }
    }

    /// The VPSie catalogue, cached for five minutes.
    pub async fn offerings(&self) -> Result<Vec<Offering>> {
        let now = self.now();
        if let Some((at, list)) = self
            .catalogue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            if now - *at < chrono::Duration::minutes(5) {
                return Ok(list.clone());
            }
        }
        let list = self.cloud.list_offerings().await?;
        *self.catalogue.lock().unwrap_or_else(|e| e.into_inner()) = Some((now, list.clone()));
        Ok(list)
    }

    /// Records a NodeGroup's decision (`reason` is machine-readable: `PendingPods`,
    /// `BelowMinNodes`, `AtMaxNodes`, `Blocked`...).
    pub fn decide(
        &self,
        group: &str,
        action: DecisionAction,
        reason: &str,
        message: String,
        details: Vec<String>,
    ) {
        self.board.record_decision(
            group,
            Decision {
                at: self.now(),
                action,
                reason: reason.to_string(),
                message,
                details,
            },
        );
    }

    /// Whether `group` avoids `offering` now.
    pub fn backed_off(&self, group: &str, offering: &str) -> bool {
        let now = self.now();
        self.backoff
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(group.to_string(), offering.to_string()))
            .is_some_and(|until| *until > now)
    }

    /// Makes `group` avoid `offering` for the configured backoff.
    pub fn back_off(&self, group: &str, offering: &str) {
        let until = self.now()
            + chrono::Duration::from_std(self.config.offering_backoff).unwrap_or_default();
        self.backoff
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((group.to_string(), offering.to_string()), until);
    }
}
