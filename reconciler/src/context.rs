//! What every controller shares: clients, settings, the clock, metrics, events, caches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use vpsie_autoscaler::api::{k8s_time, EventReason, NodeGroup, VPSieNode};
use vpsie_autoscaler::clock::SharedClock;
use vpsie_autoscaler::cloud::{Offering, Vps, VpsieClient};

use crate::config::ReconcilerConfig;
use crate::error::Result;
use crate::events::Recorder;
use crate::lifecycle::NodeObservation;
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
    /// The create attempts no snapshot has covered yet: hostname -> the attempt.
    attempts: Mutex<HashMap<String, Attempt>>,
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
    /// The managed-Kubernetes backend's targets and locks.
    pub managed: crate::managed::Managed,
    /// The Node watch cache of the controllers running now.
    nodes: Mutex<Option<Store<Node>>>,
}

/// What a list that began when `creates_done` attempts had returned says of a hostname it does
/// not show, given the hostname's last create attempt (pure).
fn unlisted(attempt: Option<&Attempt>, creates_done: u64) -> Unlisted {
    match attempt {
        Some(a) if a.seq > creates_done => match &a.vps {
            Some(v) => Unlisted::Created(Box::new(v.clone())),
            None => Unlisted::Unknown,
        },
        _ => Unlisted::Absent,
    }
}

/// The `seq` of an attempt sent that has not returned: newer than every list.
const SENT: u64 = u64::MAX;

/// A create attempt that returned: its place in the order of returns (`creates_done` after
/// it), and the VPS it created, when it did ([`SENT`] while it has not returned).
#[derive(Debug, Clone)]
struct Attempt {
    seq: u64,
    vps: Option<Vps>,
}

/// What a snapshot can say of a hostname it does not list.
#[derive(Debug, Clone, PartialEq)]
pub enum Unlisted {
    /// No create attempt for it returned after the listing began: it does not exist (or, with
    /// a known id, it is gone).
    Absent,
    /// An attempt returned after the listing began and created this VPS: the listing is just
    /// older than it.
    Created(Box<Vps>),
    /// An attempt returned after the listing began and failed: only a look-up can tell.
    Unknown,
}

/// The share of the VPSie rate limit that polling lists may use while nodes are on their way;
/// the rest is left to creates and deletes.
pub const LISTING_SHARE: f64 = 0.25;

/// How long a VPS list stays fresh: the poll interval, or longer when listing every VPS more
/// often would take more than [`LISTING_SHARE`] of the rate limit (a list of `pages` pages is
/// `pages` calls). `requests_per_minute` 0 is no limit.
pub fn listing_interval(poll: Duration, pages: u32, requests_per_minute: u32) -> Duration {
    if requests_per_minute == 0 {
        return poll;
    }
    let budget = f64::from(requests_per_minute) * LISTING_SHARE / 60.0; // calls a second
    poll.max(Duration::from_secs_f64(f64::from(pages.max(1)) / budget))
}

/// How many poll intervals a VPS list may be old for the records that only need it to catch a
/// failure (see [`check_interval`]).
pub const CHECK_POLLS: u32 = 10;

/// How old a VPS list may be for records whose progress shows in their Node (a VPS that runs
/// registers it): a VPS that failed or vanished is seen within this long. [`CHECK_POLLS`] poll
/// intervals (20 s at the default 2 s).
pub fn check_interval(poll: Duration) -> Duration {
    poll * CHECK_POLLS
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
            attempts: Mutex::new(HashMap::new()),
            backoff: Mutex::new(HashMap::new()),
            board: StatusBoard::new(),
            recent: Mutex::new(HashMap::new()),
            scale_lock: tokio::sync::Mutex::new(()),
            managed: crate::managed::Managed::default(),
            nodes: Mutex::new(None),
        }
    }

    /// Sets the Node watch cache (when the controllers start).
    pub fn set_node_cache(&self, nodes: Store<Node>) {
        *self.nodes.lock().unwrap_or_else(|e| e.into_inner()) = Some(nodes);
    }

    /// The Node named `name` as the watch cache holds it, without a request; `None` when it
    /// holds none (or there is no cache).
    pub fn cached_node(&self, name: &str) -> Option<NodeObservation> {
        let nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        let node = nodes.as_ref()?.get(&ObjectRef::new(name))?;
        Some(NodeObservation {
            name: name.to_string(),
            ready: vpsie_autoscaler::scaling::fit::node_ready(&node),
        })
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
        self.vm_snapshot_within(self.config.poll_interval).await
    }

    /// [`Self::vm_snapshot`], a list up to [`check_interval`] old doing: for records whose
    /// progress shows in their Node, the list only catches failures.
    pub async fn recent_vm_snapshot(&self) -> Result<VmSnapshot> {
        self.vm_snapshot_within(check_interval(self.config.poll_interval))
            .await
    }

    /// Every VPS, listed when the last list is older than `age` (or the listing interval, when
    /// longer).
    async fn vm_snapshot_within(&self, age: Duration) -> Result<VmSnapshot> {
        let mut guard = self.vms.lock().await;
        let now = self.now();
        if let Some(snapshot) = guard.as_ref() {
            let page = self.cloud.config().page_size.max(1) as usize;
            let pages = u32::try_from(snapshot.vms.len().div_ceil(page)).unwrap_or(u32::MAX);
            let fresh_for = listing_interval(age, pages, self.config.vpsie_requests_per_minute);
            if now - snapshot.at < chrono::Duration::from_std(fresh_for).unwrap_or_default() {
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
        // attempts that returned before this listing began show in it
        self.attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, a| a.seq > creates_done);
        *guard = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// What `snapshot` says of `hostname` when it does not list it. A create attempt that
    /// returned before the listing began would show in it (even one whose reply was lost), so
    /// then the VPS does not exist and CreateVM may skip its own look-up; an attempt that
    /// returned later is newer than the list, and the VPS it created stands for the list until
    /// the next one. So the records of a burst share one list per interval, whatever the
    /// number of creates in between.
    pub fn unlisted(&self, snapshot: &VmSnapshot, hostname: &str) -> Unlisted {
        let attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        unlisted(
            attempts.get(&hostname.to_ascii_lowercase()),
            snapshot.creates_done,
        )
    }

    /// Records that a create attempt for `hostname` is being sent: until it returns, no list
    /// proves the VPS absent (an attempt whose reconcile was cancelled may still create it), so
    /// a look at the hostname asks VPSie ([`Unlisted::Unknown`]).
    pub fn create_sent(&self, hostname: &str) {
        self.attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                hostname.to_ascii_lowercase(),
                Attempt {
                    seq: SENT,
                    vps: None,
                },
            );
    }

    /// The highest VPS id known: in the shared list, and among the VPS created since.
    pub async fn highest_vps_id(&self) -> Result<i64> {
        let snapshot = self.vm_snapshot().await?;
        let listed = snapshot.vms.iter().map(|v| v.id).max().unwrap_or(0);
        let created = self
            .attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter_map(|a| a.vps.as_ref().map(|v| v.id))
            .max()
            .unwrap_or(0);
        Ok(listed.max(created))
    }

    /// Records that a create attempt for `hostname` returned, with the VPS when it made one.
    pub fn create_returned(&self, hostname: &str, vps: Option<&Vps>) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let seq = self
            .creates_done
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        attempts.insert(
            hostname.to_ascii_lowercase(),
            Attempt {
                seq,
                vps: vps.cloned(),
            },
        );
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
        self.back_off_for(group, offering, self.config.offering_backoff);
    }

    /// Like [`Self::back_off`], for `length`.
    pub fn back_off_for(&self, group: &str, offering: &str, length: Duration) {
        let until = self.now() + chrono::Duration::from_std(length).unwrap_or_default();
        self.backoff
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((group.to_string(), offering.to_string()), until);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_not_returned_leaves_the_hostname_to_a_look_up() {
        let returned = |seq, vps: Option<Vps>| Attempt { seq, vps };
        let vps = Vps {
            id: 7,
            ..Vps::default()
        };
        // a list that began after the attempt returned would show its VPS: absent means gone
        assert_eq!(unlisted(None, 3), Unlisted::Absent);
        assert_eq!(
            unlisted(Some(&returned(3, Some(vps.clone()))), 3),
            Unlisted::Absent
        );
        // an attempt that returned after the list began stands for it, or asks
        assert_eq!(
            unlisted(Some(&returned(4, Some(vps.clone()))), 3),
            Unlisted::Created(Box::new(vps))
        );
        assert_eq!(unlisted(Some(&returned(4, None)), 3), Unlisted::Unknown);
        // sent, not returned (its reconcile cancelled, say): no list, however new, says absent
        for done in [0, 3, 1_000_000] {
            assert_eq!(
                unlisted(Some(&returned(SENT, None)), done),
                Unlisted::Unknown
            );
        }
    }

    #[test]
    fn a_list_is_fresh_for_the_poll_interval_while_it_is_cheap() {
        let poll = Duration::from_secs(2);
        // 100 a minute, a quarter for lists: one page every 2.4 s
        assert_eq!(listing_interval(poll, 1, 100), Duration::from_millis(2400));
        assert_eq!(listing_interval(poll, 1, 6000), poll);
        assert_eq!(listing_interval(poll, 0, 6000), poll);
        assert_eq!(listing_interval(poll, 7, 0), poll);
    }

    #[test]
    fn a_long_list_is_taken_less_often_so_creates_keep_most_of_the_rate_limit() {
        let poll = Duration::from_secs(2);
        // 1,000 VPS are 10 pages: at 100 calls a minute, one list every 24 s is 25 calls of 100
        assert_eq!(listing_interval(poll, 10, 100), Duration::from_secs(24));
        let pages = 10.0;
        let lists_a_minute = 60.0 / listing_interval(poll, 10, 100).as_secs_f64();
        assert!(pages * lists_a_minute <= 100.0 * LISTING_SHARE + 1e-9);
    }
}
