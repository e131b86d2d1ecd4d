//! Plays a [`Scenario`] in the simulated world with the real reconciler: applies its
//! timeline (workloads arriving, scaling, leaving; faults starting and ending; reconciler
//! restarts) on the sim's clock, samples the world every simulated second, and records what
//! the summary and the chart are made of.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use vpsie_autoscaler::sim::apiserver::{
    DeleteOptions, Gvr, ListOptions, PatchKind, Store, WriteOptions,
};
use vpsie_autoscaler::sim::cloud::catalogue::Catalogue;
use vpsie_autoscaler::sim::cloud::faults::{FaultAction, FaultMatcher, FaultRule};
use vpsie_autoscaler::sim::scenario::summary::{
    self, PodRecord, Recording, Sample, Summary, VmRecord,
};
use vpsie_autoscaler::sim::scenario::{
    Fault, ReconcilerSettings, Scenario, Workload, NAMESPACE, WORKLOAD_LABEL,
};
use vpsie_autoscaler::sim::world::{SimWorld, SimWorldConfig};
use vpsie_reconciler::config::ReconcilerConfig;
use vpsie_reconciler::runtime::{self, Running, ServeOptions};

use crate::error::PluginError;

/// How to play.
#[derive(Debug, Clone)]
pub struct PlayOptions {
    /// Times real time.
    pub speed: f64,
    /// Stop after this much wall time even when the scenario is longer.
    pub wall_limit: Option<Duration>,
    /// Ports on 127.0.0.1 (0: any free one).
    pub api_port: u16,
    /// The VPSie API's port.
    pub cloud_port: u16,
    /// The reconciler's metrics port.
    pub metrics_port: u16,
    /// Where to write the world's kubeconfig once it is up.
    pub kubeconfig: Option<std::path::PathBuf>,
}

/// What the live view shows at one moment.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Seconds since the start.
    pub t: f64,
    /// The scenario's length.
    pub end: f64,
    /// The world now.
    pub sample: Sample,
    /// Live VPS by offering.
    pub vps_by_offering: BTreeMap<String, u32>,
    /// The latest autoscaler events and timeline notes, newest last.
    pub recent: VecDeque<String>,
}

/// Receives the timeline as it is played.
pub trait Observer {
    /// A timeline step was applied, or the autoscaler recorded an event.
    fn note(&mut self, t: f64, text: &str);
    /// The world was sampled.
    fn frame(&mut self, frame: &Frame);
}

/// An observer that shows nothing (`simulate`, `-o json`).
pub struct Quiet;

impl Observer for Quiet {
    fn note(&mut self, _: f64, _: &str) {}
    fn frame(&mut self, _: &Frame) {}
}

/// A played scenario: the world (still running, for `--keep`), the reconciler, and the record.
pub struct Played {
    /// The world.
    pub world: SimWorld,
    /// The reconciler.
    pub reconciler: Running,
    /// What was recorded.
    pub recording: Recording,
    /// The summary.
    pub summary: Summary,
}

/// One step of the timeline.
#[derive(Debug, Clone)]
enum Step {
    Arrive(usize),
    Scale(usize, i32),
    Leave(usize),
    FaultStart(usize),
    FaultEnd(usize),
}

/// The timeline of `s`: (seconds, step), in time order (stable for equal times). Pure.
fn timeline(s: &Scenario) -> Vec<(f64, Step)> {
    let mut steps = Vec::new();
    for (i, w) in s.workloads.iter().enumerate() {
        steps.push((w.at.secs(), Step::Arrive(i)));
        for st in &w.scale {
            steps.push((st.at.secs(), Step::Scale(i, st.replicas)));
        }
        if let Some(u) = w.until {
            steps.push((u.secs(), Step::Leave(i)));
        }
    }
    for (i, f) in s.faults.iter().enumerate() {
        steps.push((f.at().secs(), Step::FaultStart(i)));
        if let Some(w) = f.window() {
            steps.push(((f.at().secs() + w.secs()), Step::FaultEnd(i)));
        }
    }
    steps.sort_by(|a, b| a.0.total_cmp(&b.0));
    steps
}

fn sim_err(what: &str, e: impl std::fmt::Display) -> PluginError {
    PluginError::Sim(format!("{what}: {e}"))
}

/// The reconciler as `sim` runs it, on the world's clock.
pub async fn start_reconciler(
    world: &SimWorld,
    metrics_port: u16,
    settings: &ReconcilerSettings,
) -> Result<Running, PluginError> {
    let kube = world
        .reconciler_client()
        .map_err(|e| sim_err("kube client", e))?;
    let mut config = ReconcilerConfig {
        cluster_name: "sim".into(),
        ..ReconcilerConfig::default()
    };
    if let Some(d) = settings.join_timeout {
        config.join_timeout = d.0;
    }
    if let Some(d) = settings.provision_timeout {
        config.provision_timeout = d.0;
    }
    let mut options = ServeOptions::new(config, "vpsie-autoscaler-sim");
    options.metrics_addr = ([127, 0, 0, 1], metrics_port).into();
    runtime::start(kube, world.clock.clone(), options)
        .await
        .map_err(|e| PluginError::Io("binding the metrics port".into(), e))
}

fn deployment(w: &Workload, replicas: i32) -> Value {
    let labels = json!({"app": w.name, WORKLOAD_LABEL: w.name});
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": w.name, "namespace": w.namespace, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {WORKLOAD_LABEL: w.name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "name": "app",
                        "image": "registry.k8s.io/pause:3.10",
                        "resources": {"requests": {"cpu": w.cpu.text, "memory": w.memory.text}}
                    }],
                    "nodeSelector": w.node_selector,
                    "tolerations": w.tolerations,
                }
            }
        }
    })
}

fn pdb(w: &Workload) -> Option<Value> {
    let p = w.pdb.as_ref()?;
    let mut spec = json!({"selector": {"matchLabels": {WORKLOAD_LABEL: w.name}}});
    if let Some(v) = &p.min_available {
        spec["minAvailable"] = v.clone();
    }
    if let Some(v) = &p.max_unavailable {
        spec["maxUnavailable"] = v.clone();
    }
    Some(json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": w.name, "namespace": w.namespace},
        "spec": spec
    }))
}

fn ensure_namespace(store: &Store, ns: &str) {
    let gvr = Gvr::core("namespaces");
    if store.get(&gvr, None, ns).is_err() {
        let _ = store.create(
            &gvr,
            None,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            &WriteOptions::default(),
        );
    }
}

fn time_of(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.to_utc())
}

/// The fault rule of a VPSie error window.
fn rule_of(f: &Fault) -> Option<FaultRule> {
    let matcher = |op: &Option<vpsie_autoscaler::sim::cloud::ops::Operation>| match op {
        Some(o) => FaultMatcher {
            operation: Some(*o),
            ..FaultMatcher::default()
        },
        // every VM call; logins and catalogue reads stay up
        None => FaultMatcher {
            path_prefix: Some("/vm".into()),
            ..FaultMatcher::default()
        },
    };
    match f {
        Fault::VpsieErrors {
            code,
            operation,
            probability,
            ..
        } => Some(FaultRule {
            matcher: matcher(operation),
            probability: *probability,
            count: None,
            action: FaultAction::Status {
                code: *code,
                message: "simulated VPSie outage (scenario fault)".into(),
            },
        }),
        Fault::RateLimit {
            retry_after,
            operation,
            ..
        } => Some(FaultRule {
            matcher: matcher(operation),
            probability: None,
            count: None,
            action: FaultAction::RateLimited {
                retry_after_secs: retry_after.0.as_secs().max(1),
            },
        }),
        _ => None,
    }
}

struct Player<'a> {
    scenario: &'a Scenario,
    world: SimWorld,
    store: Arc<Store>,
    catalogue: Catalogue,
    t0: DateTime<Utc>,
    boot_time: Duration,
    pods: HashMap<String, PodRecord>,
    seen_events: HashSet<String>,
    recent: VecDeque<String>,
    active_rules: Vec<(usize, FaultRule)>,
    faults_played: Vec<String>,
    samples: Vec<Sample>,
}

const DEPLOYMENTS: (&str, &str, &str) = ("apps", "v1", "deployments");

impl Player<'_> {
    fn secs(&self, at: DateTime<Utc>) -> f64 {
        (at - self.t0).num_milliseconds() as f64 / 1000.0
    }

    fn now(&self) -> f64 {
        self.secs(self.world.clock.now())
    }

    fn remember(&mut self, text: String) {
        self.recent.push_back(text);
        while self.recent.len() > 6 {
            self.recent.pop_front();
        }
    }

    async fn apply(
        &mut self,
        step: &Step,
        reconciler: &mut Option<Running>,
        metrics_port: u16,
        observer: &mut dyn Observer,
    ) -> Result<(), PluginError> {
        let t = self.now();
        let deployments = Gvr::new(DEPLOYMENTS.0, DEPLOYMENTS.1, DEPLOYMENTS.2);
        let pdbs = Gvr::new("policy", "v1", "poddisruptionbudgets");
        let note = match step {
            Step::Arrive(i) => {
                let w = &self.scenario.workloads[*i];
                ensure_namespace(&self.store, &w.namespace);
                if let Some(p) = pdb(w) {
                    self.store
                        .create(&pdbs, Some(&w.namespace), p, &WriteOptions::default())
                        .map_err(|e| {
                            sim_err(&format!("PodDisruptionBudget {}", w.name), e.message)
                        })?;
                }
                self.store
                    .create(
                        &deployments,
                        Some(&w.namespace),
                        deployment(w, w.replicas),
                        &WriteOptions::default(),
                    )
                    .map_err(|e| sim_err(&format!("Deployment {}", w.name), e.message))?;
                format!(
                    "workload {} arrives: {} pods of {} cpu / {}",
                    w.name, w.replicas, w.cpu.text, w.memory.text
                )
            }
            Step::Scale(i, replicas) => {
                let w = &self.scenario.workloads[*i];
                let body = json!({"spec": {"replicas": replicas}}).to_string();
                self.store
                    .patch(
                        &deployments,
                        Some(&w.namespace),
                        &w.name,
                        PatchKind::Merge,
                        body.as_bytes(),
                        None,
                        &WriteOptions::default(),
                    )
                    .map_err(|e| sim_err(&format!("scaling Deployment {}", w.name), e.message))?;
                format!("workload {} scales to {replicas} pods", w.name)
            }
            Step::Leave(i) => {
                let w = &self.scenario.workloads[*i];
                self.store
                    .delete(
                        &deployments,
                        Some(&w.namespace),
                        &w.name,
                        &DeleteOptions::default(),
                    )
                    .map_err(|e| sim_err(&format!("deleting Deployment {}", w.name), e.message))?;
                if w.pdb.is_some() {
                    let _ = self.store.delete(
                        &pdbs,
                        Some(&w.namespace),
                        &w.name,
                        &DeleteOptions::default(),
                    );
                }
                format!("workload {} leaves", w.name)
            }
            Step::FaultStart(i) => {
                let f = &self.scenario.faults[*i];
                match f {
                    Fault::VpsieErrors { .. } | Fault::RateLimit { .. } => {
                        if let Some(rule) = rule_of(f) {
                            self.world
                                .cloud
                                .add_fault(rule.clone())
                                .map_err(|e| sim_err("fault", e))?;
                            self.active_rules.push((*i, rule));
                        }
                    }
                    Fault::SlowBoot { boot_time, .. } => {
                        self.world.cloud.set_boot_time(boot_time.0)
                    }
                    Fault::BootFailure { count, .. } => self.world.cloud.fail_next_boots(*count),
                    Fault::JoinFailure { count, .. } => self.world.cluster.fail_next_joins(*count),
                    Fault::ReconcilerRestart { .. } => {
                        if let Some(r) = reconciler.take() {
                            r.stop().await;
                        }
                        let r = match start_reconciler(
                            &self.world,
                            metrics_port,
                            &self.scenario.reconciler,
                        )
                        .await
                        {
                            Ok(r) => r,
                            // the old metrics listener may still hold a fixed port
                            Err(_) => {
                                start_reconciler(&self.world, 0, &self.scenario.reconciler).await?
                            }
                        };
                        *reconciler = Some(r);
                    }
                }
                let text = format!("fault: {}", f.describe());
                self.faults_played
                    .push(format!("{} at {}", f.describe(), f.at()));
                text
            }
            Step::FaultEnd(i) => {
                let f = &self.scenario.faults[*i];
                match f {
                    Fault::SlowBoot { .. } => self.world.cloud.set_boot_time(self.boot_time),
                    _ => {
                        // only this fault's rule: others (the scenario's, or an operator's
                        // through the admin API) stay
                        if let Some(k) = self.active_rules.iter().position(|(j, _)| j == i) {
                            let (_, rule) = self.active_rules.remove(k);
                            self.world.cloud.remove_fault(&rule);
                        }
                    }
                }
                format!("fault over: {}", f.kind())
            }
        };
        observer.note(t, &note);
        self.remember(format!("{} {note}", clock_text(t)));
        Ok(())
    }

    /// Reads the world into a sample; updates the pod records and the recent events.
    fn sample(&mut self, observer: &mut dyn Observer) -> Frame {
        let t = self.now();
        let all = ListOptions::default();
        let pods = self
            .store
            .list(
                &Gvr::core("pods"),
                None,
                &ListOptions {
                    label_selector: Some(WORKLOAD_LABEL.to_string()),
                    ..ListOptions::default()
                },
            )
            .map(|l| l.items)
            .unwrap_or_default();
        let mut present = HashSet::new();
        let (mut pending, mut running) = (0, 0);
        for p in &pods {
            let uid = p["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            present.insert(uid.clone());
            let phase = p["status"]["phase"].as_str().unwrap_or("Pending");
            let is_running = phase == "Running";
            if p["metadata"]["deletionTimestamp"].is_null() {
                if is_running {
                    running += 1;
                } else if phase == "Pending" {
                    pending += 1;
                }
            }
            let created = time_of(&p["metadata"]["creationTimestamp"])
                .map(|c| self.secs(c))
                .unwrap_or(t);
            let started = is_running.then(|| {
                time_of(&p["status"]["startTime"])
                    .map(|s| self.secs(s))
                    .unwrap_or(t)
            });
            let rec = self.pods.entry(uid).or_insert_with(|| PodRecord {
                pod: format!(
                    "{}/{}",
                    p["metadata"]["namespace"].as_str().unwrap_or_default(),
                    p["metadata"]["name"].as_str().unwrap_or_default()
                ),
                workload: p["metadata"]["labels"][WORKLOAD_LABEL]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                created,
                started: None,
                gone: None,
            });
            if rec.started.is_none() {
                rec.started = started;
            }
        }
        for (uid, rec) in self.pods.iter_mut() {
            if rec.gone.is_none() && !present.contains(uid) {
                rec.gone = Some(t);
            }
        }
        let mut nodes_by_phase = BTreeMap::new();
        for vn in self
            .store
            .list(
                &Gvr::new("autoscaler.vpsie.com", "v1alpha1", "vpsienodes"),
                Some(NAMESPACE),
                &all,
            )
            .map(|l| l.items)
            .unwrap_or_default()
        {
            let phase = vn["status"]["phase"]
                .as_str()
                .unwrap_or("Pending")
                .to_string();
            *nodes_by_phase.entry(phase).or_insert(0) += 1;
        }
        let ready_nodes = self
            .store
            .list(&Gvr::core("nodes"), None, &all)
            .map(|l| l.items)
            .unwrap_or_default()
            .iter()
            .filter(|n| {
                n["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
            })
            .count() as u32;
        let mut vps_by_offering = BTreeMap::new();
        let mut cost = 0.0;
        for vm in self.world.cloud.vms() {
            *vps_by_offering.entry(vm.offering_id.clone()).or_insert(0) += 1;
            cost += Scenario::hourly_price(&self.catalogue, &vm.offering_id);
        }
        // the autoscaler's events, as they come
        let mut new_events: Vec<(f64, String)> = Vec::new();
        for e in self
            .store
            .list(&Gvr::core("events"), Some(NAMESPACE), &all)
            .map(|l| l.items)
            .unwrap_or_default()
        {
            let kind = e["involvedObject"]["kind"].as_str().unwrap_or_default();
            if kind != "NodeGroup" && kind != "VPSieNode" {
                continue;
            }
            let key = format!(
                "{}/{}",
                e["metadata"]["name"].as_str().unwrap_or_default(),
                e["count"].as_i64().unwrap_or(1)
            );
            if self.seen_events.insert(key) {
                let at = time_of(&e["lastTimestamp"])
                    .or_else(|| time_of(&e["eventTime"]))
                    .map(|x| self.secs(x))
                    .unwrap_or(t);
                new_events.push((
                    at.max(0.0),
                    format!(
                        "{}/{} {}: {}",
                        kind,
                        e["involvedObject"]["name"].as_str().unwrap_or_default(),
                        e["reason"].as_str().unwrap_or_default(),
                        e["message"].as_str().unwrap_or_default()
                    ),
                ));
            }
        }
        new_events.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        for (at, text) in new_events {
            observer.note(at, &text);
            self.remember(format!("{} {text}", clock_text(at)));
        }
        let sample = Sample {
            t,
            pending_pods: pending,
            running_pods: running,
            nodes_by_phase,
            ready_nodes,
            cost_per_hour: (cost * 10_000.0_f64).round() / 10_000.0,
        };
        self.samples.push(sample.clone());
        Frame {
            t,
            end: self.scenario.duration.secs(),
            sample,
            vps_by_offering,
            recent: self.recent.clone(),
        }
    }
}

/// `mm:ss` of `t` seconds.
pub fn clock_text(t: f64) -> String {
    let s = t.max(0.0) as u64;
    format!("{:02}:{:02}", s / 60, s % 60)
}

/// Plays `scenario`; the world and the reconciler are still running when it returns.
pub async fn play(
    scenario: &Scenario,
    opts: &PlayOptions,
    observer: &mut dyn Observer,
) -> Result<Played, PluginError> {
    let boot_time = scenario
        .boot_time
        .map(|d| d.0)
        .unwrap_or(Duration::from_secs(8));
    let catalogue = scenario.catalogue();
    let world = SimWorld::start(SimWorldConfig {
        speed: opts.speed,
        api_port: opts.api_port,
        cloud_port: opts.cloud_port,
        boot_time,
        example_nodegroup: false,
        catalogue: Some(catalogue.clone()),
        ..SimWorldConfig::default()
    })
    .await
    .map_err(|e| PluginError::Sim(e.to_string()))?;
    if let Some(path) = &opts.kubeconfig {
        world
            .write_kubeconfig(path)
            .map_err(|e| PluginError::Sim(e.to_string()))?;
    }
    let store = world.api.store();
    let groups = Gvr::new("autoscaler.vpsie.com", "v1alpha1", "nodegroups");
    for ng in &scenario.node_groups {
        let mut obj = serde_json::to_value(ng).map_err(|e| sim_err("NodeGroup", e))?;
        obj["apiVersion"] = json!("autoscaler.vpsie.com/v1alpha1");
        obj["kind"] = json!("NodeGroup");
        store
            .create(&groups, Some(NAMESPACE), obj, &WriteOptions::default())
            .map_err(|e| {
                sim_err(
                    &format!(
                        "NodeGroup {}",
                        ng.metadata.name.as_deref().unwrap_or_default()
                    ),
                    e.message,
                )
            })?;
    }
    let mut reconciler =
        Some(start_reconciler(&world, opts.metrics_port, &scenario.reconciler).await?);
    let t0 = world.clock.now();
    let wall0 = Instant::now();
    let mut player = Player {
        scenario,
        world: world.clone(),
        store,
        catalogue,
        t0,
        boot_time,
        pods: HashMap::new(),
        seen_events: HashSet::new(),
        recent: VecDeque::new(),
        active_rules: Vec::new(),
        faults_played: Vec::new(),
        samples: Vec::new(),
    };
    let steps = timeline(scenario);
    let mut next = 0;
    let end = scenario.duration.secs();
    let tick = 1.0; // simulated seconds between samples
    let mut next_sample = 0.0;
    loop {
        let t = player.now();
        while next < steps.len() && steps[next].0 <= t {
            let step = steps[next].1.clone();
            player
                .apply(&step, &mut reconciler, opts.metrics_port, observer)
                .await?;
            next += 1;
        }
        if t >= next_sample {
            let frame = player.sample(observer);
            observer.frame(&frame);
            next_sample = t + tick;
        }
        let over_wall = opts.wall_limit.is_some_and(|l| wall0.elapsed() >= l);
        if t >= end || over_wall {
            break;
        }
        let due = steps
            .get(next)
            .map(|s| s.0)
            .unwrap_or(f64::MAX)
            .min(next_sample)
            .min(end);
        let wait = ((due - player.now()).max(0.0) / opts.speed).clamp(0.005, 0.25);
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
    let end_t = player.now();
    let frame = player.sample(observer);
    observer.frame(&frame);
    // every VPS of the scenario, and the live ones no VPSieNode tracks
    let vms: Vec<VmRecord> = world
        .cloud
        .vm_history()
        .into_iter()
        .filter(|v| v.created_on >= t0 - chrono::Duration::seconds(1))
        .map(|v| VmRecord {
            id: v.id,
            hostname: v.hostname.clone(),
            hourly_price: Scenario::hourly_price(&player.catalogue, &v.offering_id),
            offering: v.offering_id.clone(),
            created: player.secs(v.created_on),
            deleted: v.deleted_at.map(|d| player.secs(d)),
        })
        .collect();
    let tracked: HashSet<i64> = player
        .store
        .list(
            &Gvr::new("autoscaler.vpsie.com", "v1alpha1", "vpsienodes"),
            Some(NAMESPACE),
            &ListOptions::default(),
        )
        .map(|l| l.items)
        .unwrap_or_default()
        .iter()
        .filter_map(|vn| vn["spec"]["vpsieInstanceID"].as_i64())
        .collect();
    let now = world.clock.now();
    let leaked: Vec<u64> = world
        .cloud
        .vms()
        .iter()
        // a VPS created in the last minute may not be recorded on its VPSieNode yet
        .filter(|v| {
            !tracked.contains(&(v.id as i64)) && now - v.created_on > chrono::Duration::seconds(60)
        })
        .map(|v| v.id)
        .collect();
    let mut pods: Vec<PodRecord> = player.pods.values().cloned().collect();
    pods.sort_by(|a, b| a.pod.cmp(&b.pod));
    let recording = Recording {
        scenario: scenario.name.clone(),
        end: end_t,
        wall_seconds: wall0.elapsed().as_secs_f64(),
        speed: opts.speed,
        samples: player.samples.clone(),
        pods,
        vms,
        leaked,
        faults: player.faults_played.clone(),
    };
    let summary = summary::summarize(&recording);
    let reconciler = match reconciler {
        Some(r) => r,
        None => start_reconciler(&world, 0, &scenario.reconciler).await?,
    };
    Ok(Played {
        world,
        reconciler,
        recording,
        summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_is_in_time_order() {
        let s = Scenario::parse(vpsie_autoscaler::sim::scenario::DEFAULT_SCENARIO).unwrap();
        let t = timeline(&s);
        assert!(t.windows(2).all(|w| w[0].0 <= w[1].0));
        let arrivals = t
            .iter()
            .filter(|(_, s)| matches!(s, Step::Arrive(_)))
            .count();
        assert_eq!(arrivals, s.workloads.len());
        assert_eq!(clock_text(75.4), "01:15");
    }
}
