//! What every controller shares: clients, settings, the clock, metrics, events, caches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use vpsie_autoscaler::api::{k8s_time, EventReason, NodeGroup, VPSieNode};
use vpsie_autoscaler::clock::SharedClock;
use vpsie_autoscaler::cloud::{Offering, Vps, VpsieClient};

use crate::config::ReconcilerConfig;
use crate::error::Result;
use crate::events::Recorder;
use crate::metrics::ControllerMetrics;
use crate::report::{Decision, DecisionAction, StatusBoard};

/// A list of every VPS, shared by the records that poll.
#[derive(Debug, Clone)]
pub struct VmSnapshot {
    /// When it was listed.
    pub at: DateTime<Utc>,
    /// The VPS instances.
    pub vms: Arc<Vec<Vps>>,
    /// Create attempts that had returned when the listing began.
    pub creates_done: u64,
}

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
    vms: tokio::sync::Mutex<Option<VmSnapshot>>,
    /// Create attempts that have returned (success or not).
    creates_done: std::sync::atomic::AtomicU64,
    /// Offerings a group avoids until a time, after a node of them failed: (group, offering).
    pub backoff: Mutex<HashMap<(String, String), DateTime<Utc>>>,
    /// What the status report shows of each NodeGroup (its last decision).
    pub board: StatusBoard,
    /// VPSieNodes this process created that the watch caches may not show yet: name -> (when,
    /// the created object).
    recent: Mutex<HashMap<String, Recent>>,
    /// Held by whatever decides to add nodes (minNodes, pending pods, headroom) from reading
    /// the records to creating them: two decisions never count the same need twice.
    pub scale_lock: tokio::sync::Mutex<()>,
}

/// A VPSieNode this process created: when, and the object the API server returned.
type Recent = (DateTime<Utc>, Arc<VPSieNode>);

/// How long a created VPSieNode is remembered while the caches do not show it.
pub const RECENT_TTL: chrono::TimeDelta = chrono::TimeDelta::seconds(120);

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
            vms: tokio::sync::Mutex::new(None),
            creates_done: std::sync::atomic::AtomicU64::new(0),
            backoff: Mutex::new(HashMap::new()),
            board: StatusBoard::new(),
            recent: Mutex::new(HashMap::new()),
            scale_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Creates a VPSieNode record and remembers it until the watch caches show it, so a plan
    /// made in between counts it (see [`Context::with_recent`]).
    pub async fn create_vpsienode(
        &self,
        api: &Api<VPSieNode>,
        vn: &VPSieNode,
    ) -> std::result::Result<VPSieNode, kube::Error> {
        let created = api.create(&PostParams::default(), vn).await?;
        let name = created.name_any();
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, (self.now(), Arc::new(created.clone())));
        Ok(created)
    }

    /// `seen` (a watch cache's VPSieNodes) plus those this process created that `seen` does not
    /// show yet; forgets the ones `seen` shows and those older than [`RECENT_TTL`]. Without it
    /// two plans a few milliseconds apart (minNodes and pending pods, say) would each add a node
    /// for the same need.
    pub fn with_recent(&self, mut seen: Vec<Arc<VPSieNode>>) -> Vec<Arc<VPSieNode>> {
        let now = self.now();
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let names: std::collections::HashSet<String> = seen.iter().map(|v| v.name_any()).collect();
        recent.retain(|name, (at, _)| !names.contains(name) && now - *at < RECENT_TTL);
        seen.extend(recent.values().map(|(_, v)| v.clone()));
        seen
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

    /// Every VPS, listed at most once per poll interval and shared by all the records that
    /// wait on the cloud: one ListVMs instead of a GetVM per record, so polling stays far below
    /// the API's rate limit however many nodes are on their way.
    pub async fn vm_snapshot(&self) -> Result<VmSnapshot> {
        let mut guard = self.vms.lock().await;
        let now = self.now();
        let fresh_for = chrono::Duration::from_std(self.config.poll_interval).unwrap_or_default();
        if let Some(snapshot) = guard.as_ref() {
            if now - snapshot.at < fresh_for {
                return Ok(snapshot.clone());
            }
        }
        let creates_done = self.creates_done.load(std::sync::atomic::Ordering::SeqCst);
        let vms = Arc::new(self.cloud.list_vms().await?);
        let snapshot = VmSnapshot {
            at: now,
            vms,
            creates_done,
        };
        *guard = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// Whether no create attempt has returned since `snapshot` began listing: then a hostname
    /// absent from it is really absent (a lost reply of an earlier attempt would show in it),
    /// and CreateVM may skip its own look-up.
    pub fn covers_every_attempt(&self, snapshot: &VmSnapshot) -> bool {
        self.creates_done.load(std::sync::atomic::Ordering::SeqCst) == snapshot.creates_done
    }

    /// Records that a create attempt returned, and forgets the snapshot.
    pub async fn create_returned(&self) {
        self.creates_done
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        *self.vms.lock().await = None;
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

    /// Records a scale action the group took: `status.lastScaleTime`, the event on the
    /// NodeGroup, and the decision in the status report.
    pub async fn record_scale(
        &self,
        group: &NodeGroup,
        event: EventReason,
        action: DecisionAction,
        reason: &str,
        message: String,
        details: Vec<String>,
    ) -> Result<()> {
        let now = self.now();
        let name = group.name_any();
        let ns = group
            .namespace()
            .unwrap_or_else(|| self.config.namespace.clone());
        Api::<NodeGroup>::namespaced(self.kube.clone(), &ns)
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(serde_json::json!({"status": {"lastScaleTime": k8s_time(now)}})),
            )
            .await?;
        self.recorder.publish(group, event, &message, now).await;
        self.decide(&name, action, reason, message, details);
        Ok(())
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
