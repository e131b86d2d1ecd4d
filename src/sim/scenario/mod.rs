//! Scenarios for `kubectl vpsie sim` and `kubectl vpsie simulate`: a VPSie offering catalogue
//! with prices, NodeGroups, workloads arriving and leaving over time, and faults.
//!
//! # The format (YAML)
//!
//! ```yaml
//! name: burst-and-drain              # required
//! description: "..."                 # optional, shown when the scenario starts
//! duration: 14m                      # simulated time to play (s, m, h, ms; a number is seconds)
//! speed: 25                          # default speed (times real time); --speed overrides it
//! bootTime: 8s                       # VPS boot time (default 8s)
//! reconciler:                        # optional: serve's settings
//!   joinTimeout: 2m                  # --join-timeout (default 10m)
//!   provisionTimeout: 5m             # --provision-timeout (default 15m)
//! offerings:                         # optional: the catalogue (default: the sim's own)
//!   - id: small-2cpu-4gb
//!     cpu: 2                         # cores
//!     memory: 4Gi                    # a Kubernetes quantity
//!     hourlyPrice: 0.0164            # USD per hour
//!     disk: 80                       # GB (default 80)
//!     available: true                # default true
//! nodeGroups:                        # NodeGroup objects, as the CRD (apiVersion/kind optional)
//!   - metadata: {name: web}          # namespace: the controller's (kube-system)
//!     spec: {minNodes: 1, maxNodes: 10, datacenterID: dc-us-east-1, ...}
//! workloads:                         # each becomes a Deployment (and a PodDisruptionBudget)
//!   - name: web
//!     namespace: default             # default "default"
//!     at: 0s                         # when it arrives
//!     until: 8m                      # when it leaves (optional: stays to the end)
//!     replicas: 20
//!     cpu: 500m                      # requests of each pod
//!     memory: 512Mi
//!     nodeSelector: {tier: web}      # optional
//!     tolerations: [{key: dedicated, operator: Equal, value: batch, effect: NoSchedule}]
//!     pdb: {minAvailable: 2}         # or {maxUnavailable: 1}; optional
//!     scale: [{at: 3m, replicas: 40}]  # replica changes over time; optional
//! faults:                            # optional; `kind` picks one of:
//!   - {kind: vpsie-errors, at: 2m, for: 1m, code: 503, operation: CreateVM, probability: 1}
//!   - {kind: rate-limit, at: 4m, for: 30s, retryAfter: 5s, operation: CreateVM}
//!   - {kind: slow-boot, at: 0s, for: 3m, bootTime: 90s}
//!   - {kind: boot-failure, at: 1m, count: 1}        # the next VPS to boot ends `failed`
//!   - {kind: join-failure, at: 1m, count: 1}        # the next VPS to boot never joins
//!   - {kind: reconciler-restart, at: 5m}            # the reconciler stops and starts again
//! ```
//!
//! Field names are exact (unknown ones are an error); every error names the line, the field,
//! the value and the fix. [`Scenario::parse`] reads and checks a file.

pub mod locate;
pub mod summary;

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::api::NodeGroup;
use crate::scaling::quantity;
use crate::sim::cloud::catalogue::{Catalogue, Offering};
use crate::sim::cloud::ops::Operation;

use self::locate::{locate, Seg};

/// The built-in scenario `kubectl vpsie sim` plays with no arguments.
pub const DEFAULT_SCENARIO: &str = include_str!("../../../examples/scenarios/burst-and-drain.yaml");

/// The namespace of the NodeGroups (the controller's).
pub const NAMESPACE: &str = "kube-system";

/// The label every workload pod carries: its workload's name.
pub const WORKLOAD_LABEL: &str = "scenario.vpsie.com/workload";

/// A scenario file that cannot be played: the line (1-based, when known), the field path, what
/// is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{field}: {message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct ScenarioError {
    /// The line of the field, when known.
    pub line: Option<usize>,
    /// The field, e.g. `workloads[1].until`.
    pub field: String,
    /// The value, what is wrong and the fix.
    pub message: String,
}

/// A length of simulated time: `90s`, `14m`, `1.5h`, `500ms` or a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct SimDuration(pub Duration);

impl SimDuration {
    /// Seconds, as a float.
    pub fn secs(self) -> f64 {
        self.0.as_secs_f64()
    }

    /// Parses `text`; the error names the value and the fix.
    pub fn parse(text: &str) -> Result<Self, String> {
        crate::clock::parse_duration(text).map(Self)
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs_f64();
        if s >= 60.0 && (s % 60.0).abs() < 1e-9 {
            write!(f, "{}m", s / 60.0)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(f64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => SimDuration::parse(&n.to_string()),
            Raw::S(s) => SimDuration::parse(&s),
        }
        .map_err(serde::de::Error::custom)
    }
}

impl Serialize for SimDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A Kubernetes quantity, kept as written and as an exact integer (millicores or bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    /// As written.
    pub text: String,
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            I(i64),
            F(f64),
            S(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::I(i) => i.to_string(),
            Raw::F(f) => f.to_string(),
            Raw::S(s) => s,
        };
        quantity::parse_milli(&text).map_err(serde::de::Error::custom)?;
        Ok(Quantity { text })
    }
}

impl Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl Quantity {
    /// Millicores.
    pub fn cpu_millis(&self) -> i64 {
        quantity::parse_cpu_millis(&self.text).unwrap_or(0)
    }

    /// Bytes.
    pub fn bytes(&self) -> i64 {
        quantity::parse_bytes(&self.text).unwrap_or(0)
    }
}

/// An offering of the scenario's catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScenarioOffering {
    /// The offering id (`offeringIDs` of a NodeGroup name it).
    pub id: String,
    /// Cores.
    pub cpu: u32,
    /// Memory, a quantity (`8Gi`).
    pub memory: Quantity,
    /// USD per hour.
    pub hourly_price: f64,
    /// Disk in GB.
    #[serde(default = "default_disk")]
    pub disk: u64,
    /// Whether it can be ordered.
    #[serde(default = "yes")]
    pub available: bool,
}

fn default_disk() -> u64 {
    80
}

fn yes() -> bool {
    true
}

/// A PodDisruptionBudget of a workload: one of the two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PdbSpec {
    /// `minAvailable` (a number or a percentage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<serde_json::Value>,
    /// `maxUnavailable` (a number or a percentage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<serde_json::Value>,
}

/// A change of a workload's replicas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScaleStep {
    /// When.
    pub at: SimDuration,
    /// The new replica count.
    pub replicas: i32,
}

/// A workload: a Deployment that arrives, may change size, and may leave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Workload {
    /// Name of the Deployment.
    pub name: String,
    /// Namespace.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Arrival.
    #[serde(default)]
    pub at: SimDuration,
    /// Departure (none: stays).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<SimDuration>,
    /// Pods.
    pub replicas: i32,
    /// CPU request of each pod.
    pub cpu: Quantity,
    /// Memory request of each pod.
    pub memory: Quantity,
    /// `nodeSelector` of the pods.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub node_selector: std::collections::BTreeMap<String, String>,
    /// `tolerations` of the pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<k8s_openapi::api::core::v1::Toleration>,
    /// A PodDisruptionBudget over the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdb: Option<PdbSpec>,
    /// Replica changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scale: Vec<ScaleStep>,
}

fn default_namespace() -> String {
    "default".into()
}

/// A fault, by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// VPSie answers `code` (5xx or 4xx) to matching calls during the window.
    #[serde(rename_all = "camelCase")]
    VpsieErrors {
        /// Start.
        at: SimDuration,
        /// Length of the window.
        #[serde(rename = "for")]
        for_: SimDuration,
        /// HTTP status (400-599; default 503).
        #[serde(default = "default_code")]
        code: u16,
        /// Only this operation (`CreateVM`, `ListVMs`...); default every call but the login.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation: Option<Operation>,
        /// Chance (0-1) each matching call fails; default 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        probability: Option<f64>,
    },
    /// VPSie answers 429 with `Retry-After` to matching calls during the window.
    #[serde(rename_all = "camelCase")]
    RateLimit {
        /// Start.
        at: SimDuration,
        /// Length of the window.
        #[serde(rename = "for")]
        for_: SimDuration,
        /// The `Retry-After` (default 5s).
        #[serde(default = "default_retry_after")]
        retry_after: SimDuration,
        /// Only this operation; default every call but the login.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        operation: Option<Operation>,
    },
    /// VPS created during the window take `bootTime` to boot.
    #[serde(rename_all = "camelCase")]
    SlowBoot {
        /// Start.
        at: SimDuration,
        /// Length of the window.
        #[serde(rename = "for")]
        for_: SimDuration,
        /// The boot time meanwhile.
        boot_time: SimDuration,
    },
    /// The next `count` VPS to boot end `failed`.
    #[serde(rename_all = "camelCase")]
    BootFailure {
        /// When.
        at: SimDuration,
        /// How many.
        #[serde(default = "one")]
        count: u32,
    },
    /// The next `count` VPS to boot never join the cluster.
    #[serde(rename_all = "camelCase")]
    JoinFailure {
        /// When.
        at: SimDuration,
        /// How many.
        #[serde(default = "one")]
        count: u32,
    },
    /// The reconciler stops (as a crashed pod) and starts again.
    #[serde(rename_all = "camelCase")]
    ReconcilerRestart {
        /// When.
        at: SimDuration,
    },
}

fn default_code() -> u16 {
    503
}

fn default_retry_after() -> SimDuration {
    SimDuration(Duration::from_secs(5))
}

fn one() -> u32 {
    1
}

impl Fault {
    /// When it starts.
    pub fn at(&self) -> SimDuration {
        match self {
            Fault::VpsieErrors { at, .. }
            | Fault::RateLimit { at, .. }
            | Fault::SlowBoot { at, .. }
            | Fault::BootFailure { at, .. }
            | Fault::JoinFailure { at, .. }
            | Fault::ReconcilerRestart { at } => *at,
        }
    }

    /// How long it lasts, for the kinds that have a window.
    pub fn window(&self) -> Option<SimDuration> {
        match self {
            Fault::VpsieErrors { for_, .. }
            | Fault::RateLimit { for_, .. }
            | Fault::SlowBoot { for_, .. } => Some(*for_),
            _ => None,
        }
    }

    /// The `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::VpsieErrors { .. } => "vpsie-errors",
            Fault::RateLimit { .. } => "rate-limit",
            Fault::SlowBoot { .. } => "slow-boot",
            Fault::BootFailure { .. } => "boot-failure",
            Fault::JoinFailure { .. } => "join-failure",
            Fault::ReconcilerRestart { .. } => "reconciler-restart",
        }
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Fault::VpsieErrors {
                for_,
                code,
                operation,
                probability,
                ..
            } => format!(
                "VPSie answers {code} to {}{} for {for_}",
                operation
                    .map(|o| format!("{o:?}"))
                    .unwrap_or_else(|| "every call".into()),
                probability
                    .map(|p| format!(" ({:.0}% of them)", p * 100.0))
                    .unwrap_or_default()
            ),
            Fault::RateLimit {
                for_,
                retry_after,
                operation,
                ..
            } => format!(
                "VPSie rate-limits {} (429, Retry-After {retry_after}) for {for_}",
                operation
                    .map(|o| format!("{o:?}"))
                    .unwrap_or_else(|| "every call".into())
            ),
            Fault::SlowBoot {
                for_, boot_time, ..
            } => format!("VPS boot in {boot_time} for {for_}"),
            Fault::BootFailure { count, .. } => format!("the next {count} VPS fail to boot"),
            Fault::JoinFailure { count, .. } => {
                format!("the next {count} VPS never join the cluster")
            }
            Fault::ReconcilerRestart { .. } => "the reconciler restarts".into(),
        }
    }
}

/// The reconciler's settings a scenario may change (the rest are `serve`'s defaults).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReconcilerSettings {
    /// `--join-timeout`: from the VPS running to its node Ready (default 10m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_timeout: Option<SimDuration>,
    /// `--provision-timeout`: from the VPSieNode's creation to its VPS running (default 15m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provision_timeout: Option<SimDuration>,
}

/// A scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// Simulated time to play.
    pub duration: SimDuration,
    /// Default speed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// VPS boot time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_time: Option<SimDuration>,
    /// Settings of the reconciler (as `serve`'s flags).
    #[serde(default)]
    pub reconciler: ReconcilerSettings,
    /// The catalogue's offerings (none: the sim's default catalogue).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offerings: Vec<ScenarioOffering>,
    /// The NodeGroups.
    #[serde(default)]
    pub node_groups: Vec<NodeGroup>,
    /// The workloads.
    #[serde(default)]
    pub workloads: Vec<Workload>,
    /// The faults.
    #[serde(default)]
    pub faults: Vec<Fault>,
}

/// The most speed a scenario may ask for: beyond it the reconciler's API calls (on the wall
/// clock) take too much simulated time for the timings to mean anything.
pub const MAX_SPEED: f64 = 100.0;

impl Scenario {
    /// Reads and checks a scenario file's text.
    pub fn parse(text: &str) -> Result<Self, ScenarioError> {
        let mut s: Scenario =
            crate::yaml::from_str_with_path(text).map_err(|b| path_error(text, &b.0, &b.1))?;
        s.check(text)?;
        for ng in &mut s.node_groups {
            ng.metadata
                .namespace
                .get_or_insert_with(|| NAMESPACE.into());
        }
        Ok(s)
    }

    /// The catalogue the simulated cloud sells: the sim's default with the scenario's
    /// offerings in place of its own, when it has any.
    pub fn catalogue(&self) -> Catalogue {
        let mut c = Catalogue::default();
        if !self.offerings.is_empty() {
            c.offerings = self
                .offerings
                .iter()
                .map(|o| Offering {
                    id: o.id.clone(),
                    boxsize_id: None,
                    name: o.id.clone(),
                    cpu: o.cpu,
                    ram: (o.memory.bytes() / (1024 * 1024)).max(1) as u64,
                    disk: o.disk,
                    bandwidth: 1000,
                    price: (o.hourly_price * 730.0 * 100.0).round() / 100.0,
                    hourly_price: o.hourly_price,
                    available: o.available,
                    datacenter_ids: Vec::new(),
                    category: "standard".into(),
                })
                .collect();
        }
        c
    }

    /// The hourly price of an offering of [`Scenario::catalogue`].
    pub fn hourly_price(catalogue: &Catalogue, offering: &str) -> f64 {
        catalogue
            .offerings
            .iter()
            .find(|o| o.id == offering)
            .map(|o| o.hourly_price)
            .unwrap_or(0.0)
    }

    /// Replaces the NodeGroups (for `simulate --nodegroups`); checks them as `parse` does.
    pub fn with_node_groups(mut self, text: &str) -> Result<Self, ScenarioError> {
        let mut groups = Vec::new();
        // empty documents (a trailing `---`, comments only) are skipped: `document N` counts
        // the others
        let docs: Vec<serde_json::Value> =
            crate::yaml::documents(text).map_err(|e| yaml_error(text, &e))?;
        let not_a_group = |i: usize, e: serde_json::Error| ScenarioError {
            line: None,
            field: format!("document {}", i + 1),
            message: format!("not a NodeGroup: {e}"),
        };
        for (i, v) in docs.into_iter().enumerate() {
            match v {
                serde_json::Value::Array(items) => {
                    for item in items {
                        groups.push(
                            serde_json::from_value::<NodeGroup>(item)
                                .map_err(|e| not_a_group(i, e))?,
                        );
                    }
                }
                other => groups.push(
                    serde_json::from_value::<NodeGroup>(other).map_err(|e| not_a_group(i, e))?,
                ),
            }
        }
        if groups.is_empty() {
            return Err(ScenarioError {
                line: None,
                field: "nodeGroups".into(),
                message: "the file has no NodeGroup: write one or more NodeGroup documents (separated by ---)".into(),
            });
        }
        for ng in &mut groups {
            ng.metadata
                .namespace
                .get_or_insert_with(|| NAMESPACE.into());
        }
        self.node_groups = groups;
        let yaml = crate::yaml::to_string(&self).map_err(|e| ScenarioError {
            line: None,
            field: "nodeGroups".into(),
            message: e.to_string(),
        })?;
        self.check(&yaml)?;
        Ok(self)
    }

    /// The checks serde cannot make: cross-field rules and the NodeGroups' validation.
    fn check(&self, text: &str) -> Result<(), ScenarioError> {
        let err = |path: Vec<Seg>, message: String| {
            let field = locate::render(&path);
            Err(ScenarioError {
                line: locate(text, &path),
                field,
                message,
            })
        };
        let key = |k: &str| Seg::Key(k.to_string());
        let end = self.duration;
        if self.name.trim().is_empty() {
            return err(
                vec![key("name")],
                "is empty: give the scenario a name".into(),
            );
        }
        if end.0.is_zero() {
            return err(
                vec![key("duration")],
                "is 0: give the simulated time to play, e.g. 10m".into(),
            );
        }
        if let Some(speed) = self.speed {
            if !(speed.is_finite() && speed > 0.0 && speed <= MAX_SPEED) {
                return err(
                    vec![key("speed")],
                    format!("{speed} is out of range: use a speed above 0 and at most {MAX_SPEED}"),
                );
            }
        }
        let mut ids = BTreeSet::new();
        for (i, o) in self.offerings.iter().enumerate() {
            let at = |f: &str| vec![key("offerings"), Seg::Index(i), key(f)];
            if o.id.trim().is_empty() {
                return err(at("id"), "is empty: give every offering an id".into());
            }
            if !ids.insert(o.id.as_str()) {
                return err(
                    at("id"),
                    format!("{:?} is used twice: offering ids must be unique", o.id),
                );
            }
            if o.cpu == 0 {
                return err(at("cpu"), "is 0: an offering has at least one core".into());
            }
            if o.memory.bytes() < 256 * 1024 * 1024 {
                return err(
                    at("memory"),
                    format!("{} is too small: give at least 256Mi", o.memory.text),
                );
            }
            if !(o.hourly_price.is_finite() && o.hourly_price >= 0.0) {
                return err(
                    at("hourlyPrice"),
                    format!(
                        "{} is not a price: give USD per hour, e.g. 0.0164",
                        o.hourly_price
                    ),
                );
            }
        }
        let catalogue = self.catalogue();
        let mut names = BTreeSet::new();
        for (i, ng) in self.node_groups.iter().enumerate() {
            let at = |f: &[&str]| {
                let mut p = vec![key("nodeGroups"), Seg::Index(i)];
                p.extend(f.iter().map(|x| key(x)));
                p
            };
            let name = ng.metadata.name.clone().unwrap_or_default();
            if name.is_empty() {
                return err(
                    at(&["metadata"]),
                    "has no name: give the NodeGroup metadata.name".into(),
                );
            }
            if let Some(ns) = ng.metadata.namespace.as_deref().filter(|n| *n != NAMESPACE) {
                return err(
                    at(&["metadata", "namespace"]),
                    format!("{ns:?}: the sim's controller watches {NAMESPACE}; remove the field or write {NAMESPACE}"),
                );
            }
            if !names.insert(name.clone()) {
                return err(
                    at(&["metadata", "name"]),
                    format!("{name:?} is used twice: NodeGroup names must be unique"),
                );
            }
            if let Err(e) = ng.validate() {
                return err(at(&["spec"]), format!("NodeGroup {name}: {e}"));
            }
            for (j, id) in ng.spec.offering_ids.iter().enumerate() {
                if !catalogue.offerings.iter().any(|o| &o.id == id) {
                    let known: Vec<&str> =
                        catalogue.offerings.iter().map(|o| o.id.as_str()).collect();
                    let mut p = at(&["spec", "offeringIDs"]);
                    p.push(Seg::Index(j));
                    return err(
                        p,
                        format!(
                            "{id:?} is not in the catalogue: use one of {}",
                            known.join(", ")
                        ),
                    );
                }
            }
        }
        let mut workloads = BTreeSet::new();
        for (i, w) in self.workloads.iter().enumerate() {
            let at = |f: &str| vec![key("workloads"), Seg::Index(i), key(f)];
            if w.name.is_empty()
                || w.name.len() > 50
                || !w
                    .name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return err(
                    at("name"),
                    format!("{:?} is not a Deployment name: use lowercase letters, digits and '-', at most 50", w.name),
                );
            }
            if !workloads.insert((w.namespace.clone(), w.name.clone())) {
                return err(
                    at("name"),
                    format!(
                        "{:?} is used twice in namespace {}: workload names must be unique",
                        w.name, w.namespace
                    ),
                );
            }
            if w.replicas < 0 {
                return err(
                    at("replicas"),
                    format!("{} is negative: give 0 or more", w.replicas),
                );
            }
            if w.cpu.cpu_millis() <= 0 {
                return err(
                    at("cpu"),
                    format!("{} is not a positive request: e.g. 500m", w.cpu.text),
                );
            }
            if w.memory.bytes() <= 0 {
                return err(
                    at("memory"),
                    format!("{} is not a positive request: e.g. 512Mi", w.memory.text),
                );
            }
            if w.at >= end {
                return err(
                    at("at"),
                    format!(
                        "{} is not before the end ({end}): make it earlier or the duration longer",
                        w.at
                    ),
                );
            }
            if let Some(u) = w.until {
                if u <= w.at {
                    return err(
                        at("until"),
                        format!(
                            "{u} is not after `at` ({}): a workload leaves after it arrives",
                            w.at
                        ),
                    );
                }
            }
            if let Some(p) = &w.pdb {
                if p.min_available.is_some() == p.max_unavailable.is_some() {
                    return err(
                        at("pdb"),
                        "give exactly one of minAvailable and maxUnavailable".into(),
                    );
                }
            }
            for (j, s) in w.scale.iter().enumerate() {
                let p = vec![key("workloads"), Seg::Index(i), key("scale"), Seg::Index(j)];
                if s.replicas < 0 {
                    let mut p = p.clone();
                    p.push(key("replicas"));
                    return err(p, format!("{} is negative: give 0 or more", s.replicas));
                }
                let leaves = w.until.unwrap_or(end);
                if s.at <= w.at || s.at >= leaves {
                    let mut p = p.clone();
                    p.push(key("at"));
                    return err(
                        p,
                        format!(
                            "{} is not while the workload is there ({} to {leaves})",
                            s.at, w.at
                        ),
                    );
                }
            }
        }
        for (i, f) in self.faults.iter().enumerate() {
            let at = |k: &str| vec![key("faults"), Seg::Index(i), key(k)];
            if f.at() >= end {
                return err(
                    at("at"),
                    format!(
                        "{} is not before the end ({end}): make it earlier or the duration longer",
                        f.at()
                    ),
                );
            }
            if let Some(w) = f.window() {
                if w.0.is_zero() {
                    return err(
                        at("for"),
                        "is 0: give how long the fault lasts, e.g. 1m".into(),
                    );
                }
            }
            match f {
                Fault::VpsieErrors {
                    code, probability, ..
                } => {
                    if !(400..=599).contains(code) {
                        return err(
                            at("code"),
                            format!(
                                "{code} is not an error status: use 400-599 (5xx: server errors)"
                            ),
                        );
                    }
                    if let Some(p) = probability {
                        if !(0.0..=1.0).contains(p) {
                            return err(
                                at("probability"),
                                format!("{p} is not a probability: use 0 to 1"),
                            );
                        }
                    }
                }
                Fault::SlowBoot { boot_time, .. } if boot_time.0.is_zero() => {
                    return err(
                        at("bootTime"),
                        "is 0: give the slow boot time, e.g. 90s".into(),
                    );
                }
                Fault::BootFailure { count, .. } | Fault::JoinFailure { count, .. }
                    if *count == 0 =>
                {
                    return err(
                        at("count"),
                        "is 0: give how many VPS fail (1 or more)".into(),
                    );
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// A serde error with the path of the field it is about: the field named in full, and the
/// line of that field when serde only knew the line of its enclosing mapping.
fn path_error(
    text: &str,
    e: &crate::yaml::Error,
    path: &serde_path_to_error::Path,
) -> ScenarioError {
    use serde_path_to_error::Segment;
    let mut base = yaml_error(text, e);
    let mut segs: Vec<Seg> = path
        .iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(Seg::Index(*index)),
            Segment::Map { key } => Some(Seg::Key(key.clone())),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect();
    // a duplicate key is reported in its mapping: name the key itself
    if let crate::yaml::Error::DuplicateMappingKey { key: Some(k), .. } = e.without_snippet() {
        segs.push(Seg::Key(k.clone()));
    }
    if !segs.is_empty() {
        base.field = locate::render(&segs);
        if let Some(l) = locate(text, &segs) {
            base.line = Some(base.line.map_or(l, |b| b.max(l)));
        }
    }
    base
}

/// A YAML error as a [`ScenarioError`]: its line, what is wrong with the value found, and the
/// fix where the message is serde's. The field is `(file)` until [`path_error`] names it.
fn yaml_error(text: &str, e: &crate::yaml::Error) -> ScenarioError {
    let message = crate::yaml::message(e, text);
    let message = if message.starts_with("unknown field") {
        format!("{message}; fix the spelling (names are camelCase) or remove it")
    } else if message.starts_with("missing field") {
        format!("{message}; add it")
    } else if matches!(e.without_snippet(), crate::yaml::Error::Eof { .. }) {
        format!("{message}; a scenario needs at least `name:` and `duration:`")
    } else {
        message
    };
    ScenarioError {
        line: crate::yaml::line(e),
        field: "(file)".to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_scenario_parses() {
        let s = Scenario::parse(DEFAULT_SCENARIO).expect("default scenario");
        assert!(s.node_groups.len() >= 2, "two NodeGroups");
        assert!(!s.workloads.is_empty());
        assert!(s
            .node_groups
            .iter()
            .all(|g| g.metadata.namespace.as_deref() == Some(NAMESPACE)));
    }

    #[test]
    fn every_example_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scenarios");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).expect("examples/scenarios") {
            let path = e.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            Scenario::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
        assert!(n >= 3, "several examples");
    }

    fn base() -> String {
        DEFAULT_SCENARIO.to_string()
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        // a typo in a field name
        let text = base().replacen("replicas:", "replics:", 1);
        let e = Scenario::parse(&text).unwrap_err();
        let line = text.lines().position(|l| l.contains("replics:")).unwrap() + 1;
        assert_eq!(e.line, Some(line), "{e}");
        assert!(e.to_string().contains("unknown field `replics`"), "{e}");
        // a bad quantity
        let text = base().replacen("cpu: 500m", "cpu: lots", 1);
        let e = Scenario::parse(&text).unwrap_err();
        let line = text.lines().position(|l| l.contains("cpu: lots")).unwrap() + 1;
        assert_eq!(e.line, Some(line), "{e}");
        assert!(e.to_string().contains("invalid quantity \"lots\""), "{e}");
    }

    #[test]
    fn cross_field_errors_name_the_line_too() {
        let text = "name: t\nduration: 5m\nworkloads:\n  - name: a\n    at: 1m\n    replicas: 1\n    cpu: 1\n    memory: 1Gi\n  - name: b\n    at: 2m\n    until: 1m\n    replicas: 1\n    cpu: 1\n    memory: 1Gi\n";
        let e = Scenario::parse(text).unwrap_err();
        assert_eq!(e.line, Some(11), "{e}");
        assert_eq!(e.field, "workloads[1].until");
        assert!(e.message.contains("not after `at`"), "{e}");
        let text = "name: t\nduration: 5m\nfaults:\n  - kind: vpsie-errors\n    at: 1m\n    for: 1m\n    code: 200\n";
        let e = Scenario::parse(text).unwrap_err();
        assert_eq!(
            (e.line, e.field.as_str()),
            (Some(7), "faults[0].code"),
            "{e}"
        );
        let text = "name: t\nduration: 5m\nfaults:\n  - {kind: reconciler-restart, at: 9m}\n";
        let e = Scenario::parse(text).unwrap_err();
        assert_eq!((e.line, e.field.as_str()), (Some(4), "faults[0].at"), "{e}");
        let text = "name: t\nduration: 5m\nfaults:\n  - {kind: meteor, at: 1m}\n";
        let e = Scenario::parse(text).unwrap_err();
        assert!(e.to_string().contains("unknown variant `meteor`"), "{e}");
        assert_eq!(e.line, Some(4), "{e}");
    }

    #[test]
    fn nodegroups_are_validated_against_the_catalogue() {
        let text = base().replacen(
            "offeringIDs: [small-2cpu-4gb, medium-4cpu-8gb",
            "offeringIDs: [small-2cpu-4gb, huge-99cpu",
            1,
        );
        let e = Scenario::parse(&text).unwrap_err();
        assert!(
            e.field.starts_with("nodeGroups[") && e.field.contains("offeringIDs["),
            "{e}"
        );
        assert!(
            e.message.contains("\"huge-99cpu\" is not in the catalogue"),
            "{e}"
        );
        let line = text.lines().position(|l| l.contains("huge-99cpu")).unwrap() + 1;
        assert_eq!(e.line, Some(line), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(SimDuration::parse("90").unwrap().0, Duration::from_secs(90));
        assert_eq!(
            SimDuration::parse("1.5m").unwrap().0,
            Duration::from_secs(90)
        );
        assert_eq!(
            SimDuration::parse("250ms").unwrap().0,
            Duration::from_millis(250)
        );
        assert!(SimDuration::parse("soon").is_err());
        assert_eq!(SimDuration(Duration::from_secs(600)).to_string(), "10m");
    }

    #[test]
    fn replacing_the_nodegroups() {
        let s = Scenario::parse(DEFAULT_SCENARIO).unwrap();
        let groups = "apiVersion: autoscaler.vpsie.com/v1alpha1\nkind: NodeGroup\nmetadata: {name: only}\nspec: {minNodes: 0, maxNodes: 5, datacenterID: dc-us-east-1, offeringIDs: [large-8cpu-16gb], osImageID: ubuntu-22.04-lts}\n";
        let s = s.with_node_groups(groups).expect("groups");
        assert_eq!(s.node_groups.len(), 1);
        assert_eq!(
            s.node_groups[0].metadata.namespace.as_deref(),
            Some(NAMESPACE)
        );
        let e = Scenario::parse(DEFAULT_SCENARIO)
            .unwrap()
            .with_node_groups("")
            .unwrap_err();
        assert!(e.message.contains("no NodeGroup"), "{e}");
    }

    mod fuzz {
        use super::super::locate::{locate, Seg};
        use super::super::{Scenario, DEFAULT_SCENARIO};
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            #[test]
            fn any_text_is_read_or_refused_without_a_panic(text in "(?s).{0,300}") {
                let _ = Scenario::parse(&text);
            }

            #[test]
            fn a_mangled_default_scenario_is_refused_with_a_field_and_a_message(
                line in 0usize..200,
                junk in "[a-zA-Z0-9:{}\\[\\], -]{0,16}",
            ) {
                let mut lines: Vec<String> = DEFAULT_SCENARIO.lines().map(str::to_string).collect();
                let i = line % lines.len();
                lines[i] = junk;
                let text = lines.join("\n");
                if let Err(e) = Scenario::parse(&text) {
                    prop_assert!(!e.field.is_empty() && !e.message.is_empty(), "{e:?}");
                    if let Some(l) = e.line {
                        prop_assert!(l >= 1 && l <= lines.len() + 1, "line {l} of {}", lines.len());
                    }
                }
            }

            #[test]
            fn locating_never_panics(
                text in "(?s)[a-z:\\- \n{}\\[\\]]{0,200}",
                keys in proptest::collection::vec("[a-z]{1,3}", 0..4),
                index in 0usize..4,
            ) {
                let mut path: Vec<Seg> = keys.into_iter().map(Seg::Key).collect();
                path.insert(path.len() / 2, Seg::Index(index));
                if let Some(l) = locate(&text, &path) {
                    prop_assert!(l >= 1 && l <= text.lines().count().max(1));
                }
            }
        }
    }
}
