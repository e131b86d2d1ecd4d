//! Whether a pod fits a node: the scheduler's filters as a pure function.
//!
//! The simulated scheduler, the scale-up planner and the scale-down reschedulability check all
//! ask the same question through [`check`], so they can never disagree. The rules are those of
//! kube-scheduler's default filters: NodeUnschedulable, NodeAffinity (nodeSelector and required
//! node affinity), TaintToleration (NoSchedule and NoExecute taints) and NodeResourcesFit (cpu,
//! memory, pod count). Messages are worded as kube-scheduler words them.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, Pod, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::quantity::{parse_bytes, parse_cpu_millis, QuantityError};

/// An amount of the resources the scheduler counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Resources {
    /// CPU in millicores.
    pub cpu_millis: i64,
    /// Memory in bytes.
    pub memory_bytes: i64,
    /// Pod slots.
    pub pods: i64,
}

impl Resources {
    /// A resource amount.
    pub const fn new(cpu_millis: i64, memory_bytes: i64, pods: i64) -> Self {
        Self {
            cpu_millis,
            memory_bytes,
            pods,
        }
    }

    /// Element-wise sum.
    pub fn plus(self, other: Self) -> Self {
        Self {
            cpu_millis: self.cpu_millis.saturating_add(other.cpu_millis),
            memory_bytes: self.memory_bytes.saturating_add(other.memory_bytes),
            pods: self.pods.saturating_add(other.pods),
        }
    }

    /// Element-wise difference.
    pub fn minus(self, other: Self) -> Self {
        Self {
            cpu_millis: self.cpu_millis.saturating_sub(other.cpu_millis),
            memory_bytes: self.memory_bytes.saturating_sub(other.memory_bytes),
            pods: self.pods.saturating_sub(other.pods),
        }
    }

    /// Element-wise maximum.
    pub fn max(self, other: Self) -> Self {
        Self {
            cpu_millis: self.cpu_millis.max(other.cpu_millis),
            memory_bytes: self.memory_bytes.max(other.memory_bytes),
            pods: self.pods.max(other.pods),
        }
    }

    /// Whether `self` holds at least `need` in every dimension.
    pub fn covers(&self, need: &Self) -> bool {
        self.cpu_millis >= need.cpu_millis
            && self.memory_bytes >= need.memory_bytes
            && self.pods >= need.pods
    }
}

/// A requirement of required node affinity (one `matchExpressions` or `matchFields` entry).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabelRequirement {
    /// Label key, or `metadata.name` for a field requirement.
    pub key: String,
    /// The operator.
    pub operator: SelectorOperator,
    /// The values.
    pub values: Vec<String>,
    /// Whether this is a `matchFields` requirement (on the node's name).
    pub field: bool,
}

/// Operators of node selector requirements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SelectorOperator {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
    /// The label's value, an integer, is greater than the single value.
    Gt,
    /// The label's value, an integer, is less than the single value.
    Lt,
}

/// A taint, reduced to what filtering needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaintFact {
    /// Key.
    pub key: String,
    /// Value (may be empty).
    pub value: String,
    /// NoSchedule, PreferNoSchedule or NoExecute.
    pub effect: String,
}

impl From<&Taint> for TaintFact {
    fn from(t: &Taint) -> Self {
        Self {
            key: t.key.clone(),
            value: t.value.clone().unwrap_or_default(),
            effect: t.effect.clone(),
        }
    }
}

/// A toleration, reduced to what filtering needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TolerationFact {
    /// Key; empty with `Exists` tolerates every taint.
    pub key: String,
    /// `Equal` (default) or `Exists`.
    pub exists: bool,
    /// Value for `Equal`.
    pub value: String,
    /// Effect; empty matches every effect.
    pub effect: String,
}

impl From<&Toleration> for TolerationFact {
    fn from(t: &Toleration) -> Self {
        Self {
            key: t.key.clone().unwrap_or_default(),
            exists: t.operator.as_deref() == Some("Exists"),
            value: t.value.clone().unwrap_or_default(),
            effect: t.effect.clone().unwrap_or_default(),
        }
    }
}

impl TolerationFact {
    /// Whether this toleration tolerates `taint` (the rule of `v1.Toleration.ToleratesTaint`).
    pub fn tolerates(&self, taint: &TaintFact) -> bool {
        if !self.effect.is_empty() && self.effect != taint.effect {
            return false;
        }
        if self.key.is_empty() {
            return self.exists;
        }
        if self.key != taint.key {
            return false;
        }
        self.exists || self.value == taint.value
    }
}

/// Everything about a pod that decides where it can run. Pods with equal requirements are
/// interchangeable for scheduling, so planners group them by this value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodRequirements {
    /// What the pod requests (pods = 1).
    pub requests: Resources,
    /// `spec.nodeSelector`.
    pub node_selector: BTreeMap<String, String>,
    /// Required node affinity: the pod fits a node matching ANY of these terms, a term matching
    /// when ALL its requirements do. Empty: no constraint.
    pub affinity_terms: Vec<Vec<LabelRequirement>>,
    /// Tolerations.
    pub tolerations: Vec<TolerationFact>,
}

/// Everything about a node that decides what can run on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeFacts {
    /// Node name.
    pub name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Taints.
    pub taints: Vec<TaintFact>,
    /// Allocatable resources.
    pub allocatable: Resources,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// The Ready condition is True.
    pub ready: bool,
}

/// Why a pod does not fit a node.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unfit {
    /// The node is cordoned.
    Unschedulable,
    /// The node is not Ready (the scheduler sees the `node.kubernetes.io/not-ready` taint).
    NotReady,
    /// nodeSelector or required node affinity do not match.
    Affinity,
    /// A NoSchedule/NoExecute taint is not tolerated.
    Taint(TaintFact),
    /// Not enough cpu left.
    Cpu,
    /// Not enough memory left.
    Memory,
    /// No pod slot left.
    Pods,
}

impl fmt::Display for Unfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unfit::Unschedulable => f.write_str("node(s) were unschedulable"),
            Unfit::NotReady => {
                f.write_str("node(s) had untolerated taint {node.kubernetes.io/not-ready: }")
            }
            Unfit::Affinity => f.write_str("node(s) didn't match Pod's node affinity/selector"),
            Unfit::Taint(t) => write!(
                f,
                "node(s) had untolerated taint {{{}: {}}}",
                t.key, t.value
            ),
            Unfit::Cpu => f.write_str("Insufficient cpu"),
            Unfit::Memory => f.write_str("Insufficient memory"),
            Unfit::Pods => f.write_str("Too many pods"),
        }
    }
}

/// Whether the node's labels (and name) satisfy the pod's nodeSelector and required affinity.
pub fn matches_labels(
    pod: &PodRequirements,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    if pod
        .node_selector
        .iter()
        .any(|(k, v)| labels.get(k) != Some(v))
    {
        return false;
    }
    pod.affinity_terms.is_empty()
        || pod.affinity_terms.iter().any(|term| {
            !term.is_empty()
                && term
                    .iter()
                    .all(|req| requirement_matches(req, name, labels))
        })
}

fn requirement_matches(
    req: &LabelRequirement,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    let value = if req.field {
        (req.key == "metadata.name").then_some(name)
    } else {
        labels.get(&req.key).map(String::as_str)
    };
    match req.operator {
        SelectorOperator::In => value.is_some_and(|v| req.values.iter().any(|x| x == v)),
        SelectorOperator::NotIn => value.is_none_or(|v| !req.values.iter().any(|x| x == v)),
        SelectorOperator::Exists => value.is_some(),
        SelectorOperator::DoesNotExist => value.is_none(),
        SelectorOperator::Gt | SelectorOperator::Lt => {
            let (Some(v), Some(bound)) = (value, req.values.first()) else {
                return false;
            };
            match (v.parse::<i64>(), bound.parse::<i64>()) {
                (Ok(v), Ok(b)) if req.operator == SelectorOperator::Gt => v > b,
                (Ok(v), Ok(b)) => v < b,
                _ => false,
            }
        }
    }
}

/// The first NoSchedule/NoExecute taint of `taints` that `tolerations` do not tolerate.
pub fn untolerated<'a>(
    tolerations: &[TolerationFact],
    taints: &'a [TaintFact],
) -> Option<&'a TaintFact> {
    taints.iter().find(|taint| {
        (taint.effect == "NoSchedule" || taint.effect == "NoExecute")
            && !tolerations.iter().any(|t| t.tolerates(taint))
    })
}

/// Checks the pod against a node that already has `used` requested. On failure, every reason of
/// the first failing filter (only resources can give more than one), as kube-scheduler reports.
pub fn check(pod: &PodRequirements, node: &NodeFacts, used: &Resources) -> Result<(), Vec<Unfit>> {
    compatible(pod, node).map_err(|reason| vec![reason])?;
    let free = node.allocatable.minus(*used);
    let mut short = Vec::new();
    if pod.requests.cpu_millis > free.cpu_millis {
        short.push(Unfit::Cpu);
    }
    if pod.requests.memory_bytes > free.memory_bytes {
        short.push(Unfit::Memory);
    }
    if pod.requests.pods > free.pods {
        short.push(Unfit::Pods);
    }
    if short.is_empty() {
        Ok(())
    } else {
        Err(short)
    }
}

/// The filters other than resources: cordon, node affinity/selector, Ready, taints.
pub fn compatible(pod: &PodRequirements, node: &NodeFacts) -> Result<(), Unfit> {
    if node.unschedulable {
        return Err(Unfit::Unschedulable);
    }
    if !matches_labels(pod, &node.name, &node.labels) {
        return Err(Unfit::Affinity);
    }
    if !node.ready {
        let not_ready = TaintFact {
            key: "node.kubernetes.io/not-ready".into(),
            value: String::new(),
            effect: "NoSchedule".into(),
        };
        if !pod.tolerations.iter().any(|t| t.tolerates(&not_ready)) {
            return Err(Unfit::NotReady);
        }
    }
    if let Some(taint) = untolerated(&pod.tolerations, &node.taints) {
        return Err(Unfit::Taint(taint.clone()));
    }
    Ok(())
}

/// How many pods needing `each` fit into `free` (pods with no request of a kind are limited by
/// the others; every pod takes one pod slot).
pub fn fit_count(free: &Resources, each: &Resources) -> u64 {
    let per = |free: i64, need: i64| {
        if need <= 0 {
            u64::MAX
        } else if free <= 0 {
            0
        } else {
            (free / need) as u64
        }
    };
    per(free.cpu_millis, each.cpu_millis)
        .min(per(free.memory_bytes, each.memory_bytes))
        .min(per(free.pods, each.pods.max(1)))
}

/// The `FailedScheduling` message kube-scheduler writes, from each node's reasons:
/// `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector.`
pub fn failed_scheduling_message<'a>(
    total_nodes: usize,
    reasons: impl IntoIterator<Item = &'a Unfit>,
) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for reason in reasons {
        *counts.entry(reason.to_string()).or_default() += 1;
    }
    if total_nodes == 0 {
        return "no nodes available to schedule pods".to_string();
    }
    let parts: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    format!(
        "0/{total_nodes} nodes are available: {}. preemption: 0/{total_nodes} nodes are available: {total_nodes} Preemption is not helpful for scheduling.",
        parts.join(", ")
    )
}

/// A pod or node field that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object}: {field}: {source}")]
pub struct FactError {
    /// `pod ns/name` or `node name`.
    pub object: String,
    /// The field path.
    pub field: String,
    /// The quantity error.
    #[source]
    pub source: QuantityError,
}

fn quantity_map(
    map: Option<&BTreeMap<String, Quantity>>,
    object: &str,
    field: &str,
) -> Result<Resources, FactError> {
    let mut r = Resources::default();
    let Some(map) = map else { return Ok(r) };
    let wrap = |key: &str, source| FactError {
        object: object.to_string(),
        field: format!("{field}.{key}"),
        source,
    };
    if let Some(q) = map.get("cpu") {
        r.cpu_millis = parse_cpu_millis(&q.0).map_err(|e| wrap("cpu", e))?;
    }
    if let Some(q) = map.get("memory") {
        r.memory_bytes = parse_bytes(&q.0).map_err(|e| wrap("memory", e))?;
    }
    if let Some(q) = map.get("pods") {
        r.pods = parse_milli_count(&q.0).map_err(|e| wrap("pods", e))?;
    }
    Ok(r)
}

fn parse_milli_count(text: &str) -> Result<i64, QuantityError> {
    super::quantity::parse_milli(text).map(|m| m / 1000)
}

impl PodRequirements {
    /// Reads a pod: requests are the sum over containers (a limit stands in for a missing
    /// request, as the API server defaults it), at least each init container's, plus overhead.
    pub fn from_pod(pod: &Pod) -> Result<Self, FactError> {
        let object = format!(
            "pod {}/{}",
            pod.metadata.namespace.as_deref().unwrap_or("default"),
            pod.metadata.name.as_deref().unwrap_or("")
        );
        let Some(spec) = pod.spec.as_ref() else {
            return Ok(Self {
                requests: Resources::new(0, 0, 1),
                ..Self::default()
            });
        };
        let mut sum = Resources::default();
        for (i, c) in spec.containers.iter().enumerate() {
            sum = sum.plus(container_requests(
                c,
                &object,
                &format!("spec.containers[{i}]"),
            )?);
        }
        let mut init_max = Resources::default();
        for (i, c) in spec.init_containers.iter().flatten().enumerate() {
            let r = container_requests(c, &object, &format!("spec.initContainers[{i}]"))?;
            init_max = init_max.max(r);
        }
        let overhead = quantity_map(spec.overhead.as_ref(), &object, "spec.overhead")?;
        let mut requests = sum.max(init_max).plus(overhead);
        requests.pods = 1;

        let node_selector = spec.node_selector.clone().unwrap_or_default();
        let affinity_terms = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| {
                na.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(|sel| {
                sel.node_selector_terms
                    .iter()
                    .map(|term| {
                        let exprs = term
                            .match_expressions
                            .iter()
                            .flatten()
                            .map(|r| requirement(r, false));
                        let fields = term
                            .match_fields
                            .iter()
                            .flatten()
                            .map(|r| requirement(r, true));
                        exprs.chain(fields).collect()
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut tolerations: Vec<TolerationFact> = spec
            .tolerations
            .iter()
            .flatten()
            .map(TolerationFact::from)
            .collect();
        tolerations.sort();
        tolerations.dedup();
        Ok(Self {
            requests,
            node_selector,
            affinity_terms,
            tolerations,
        })
    }
}

fn requirement(r: &NodeSelectorRequirement, field: bool) -> LabelRequirement {
    let operator = match r.operator.as_str() {
        "In" => SelectorOperator::In,
        "NotIn" => SelectorOperator::NotIn,
        "Exists" => SelectorOperator::Exists,
        "DoesNotExist" => SelectorOperator::DoesNotExist,
        "Gt" => SelectorOperator::Gt,
        "Lt" => SelectorOperator::Lt,
        // The API server rejects other operators; a requirement nobody can meet is the safe reading.
        _ => SelectorOperator::In,
    };
    let values = if matches!(operator, SelectorOperator::In) && !matches!(r.operator.as_str(), "In")
    {
        Vec::new()
    } else {
        r.values.clone().unwrap_or_default()
    };
    LabelRequirement {
        key: r.key.clone(),
        operator,
        values,
        field,
    }
}

fn container_requests(
    c: &k8s_openapi::api::core::v1::Container,
    object: &str,
    field: &str,
) -> Result<Resources, FactError> {
    let Some(res) = c.resources.as_ref() else {
        return Ok(Resources::default());
    };
    let requests = quantity_map(
        res.requests.as_ref(),
        object,
        &format!("{field}.resources.requests"),
    )?;
    let limits = quantity_map(
        res.limits.as_ref(),
        object,
        &format!("{field}.resources.limits"),
    )?;
    let has = |map: Option<&BTreeMap<String, Quantity>>, key: &str| {
        map.is_some_and(|m| m.contains_key(key))
    };
    Ok(Resources {
        cpu_millis: if has(res.requests.as_ref(), "cpu") {
            requests.cpu_millis
        } else {
            limits.cpu_millis
        },
        memory_bytes: if has(res.requests.as_ref(), "memory") {
            requests.memory_bytes
        } else {
            limits.memory_bytes
        },
        pods: 0,
    })
}

/// The node's Ready condition is True (the first `Ready` condition counts, as the scheduler
/// reads it; a node without one is not Ready).
pub fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

impl NodeFacts {
    /// Reads a node: allocatable (capacity when allocatable is absent; 110 pods when neither
    /// says), labels, taints, cordon and Ready.
    pub fn from_node(node: &Node) -> Result<Self, FactError> {
        let name = node.metadata.name.clone().unwrap_or_default();
        let object = format!("node {name}");
        let status = node.status.as_ref();
        let allocatable = match status.and_then(|s| s.allocatable.as_ref()) {
            Some(a) => quantity_map(Some(a), &object, "status.allocatable")?,
            None => quantity_map(
                status.and_then(|s| s.capacity.as_ref()),
                &object,
                "status.capacity",
            )?,
        };
        let allocatable = Resources {
            pods: if allocatable.pods == 0 {
                110
            } else {
                allocatable.pods
            },
            ..allocatable
        };
        let ready = node_ready(node);
        let spec = node.spec.as_ref();
        Ok(Self {
            name,
            labels: node.metadata.labels.clone().unwrap_or_default(),
            taints: spec
                .and_then(|s| s.taints.as_ref())
                .map(|ts| ts.iter().map(TaintFact::from).collect())
                .unwrap_or_default(),
            allocatable,
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            ready,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, cpu: i64, mem_gi: i64) -> NodeFacts {
        NodeFacts {
            name: name.into(),
            allocatable: Resources::new(cpu, mem_gi << 30, 110),
            ready: true,
            ..NodeFacts::default()
        }
    }

    fn pod(cpu: i64, mem_mi: i64) -> PodRequirements {
        PodRequirements {
            requests: Resources::new(cpu, mem_mi << 20, 1),
            ..PodRequirements::default()
        }
    }

    fn taint(key: &str, value: &str, effect: &str) -> TaintFact {
        TaintFact {
            key: key.into(),
            value: value.into(),
            effect: effect.into(),
        }
    }

    #[test]
    fn resources_decide_and_report_every_shortage() {
        let n = node("a", 2000, 4);
        assert!(check(&pod(2000, 4096), &n, &Resources::default()).is_ok());
        assert_eq!(
            check(&pod(2001, 4097), &n, &Resources::default()),
            Err(vec![Unfit::Cpu, Unfit::Memory])
        );
        let used = Resources::new(1500, 0, 110);
        assert_eq!(check(&pod(100, 1), &n, &used), Err(vec![Unfit::Pods]));
    }

    #[test]
    fn taints_need_tolerations_but_prefer_no_schedule_does_not_block() {
        let mut n = node("a", 4000, 8);
        n.taints = vec![taint("dedicated", "gpu", "NoSchedule")];
        let mut p = pod(100, 100);
        assert_eq!(
            check(&p, &n, &Resources::default()),
            Err(vec![Unfit::Taint(taint("dedicated", "gpu", "NoSchedule"))])
        );
        p.tolerations = vec![TolerationFact {
            key: "dedicated".into(),
            exists: false,
            value: "gpu".into(),
            effect: "NoSchedule".into(),
        }];
        assert!(check(&p, &n, &Resources::default()).is_ok());
        p.tolerations[0].value = "cpu".into();
        assert!(check(&p, &n, &Resources::default()).is_err());
        // Exists with an empty key tolerates everything
        p.tolerations = vec![TolerationFact {
            key: String::new(),
            exists: true,
            value: String::new(),
            effect: String::new(),
        }];
        assert!(check(&p, &n, &Resources::default()).is_ok());
        n.taints = vec![taint("soft", "", "PreferNoSchedule")];
        assert!(check(&pod(1, 1), &n, &Resources::default()).is_ok());
    }

    #[test]
    fn selectors_and_affinity() {
        let mut n = node("a", 4000, 8);
        n.labels.insert("zone".into(), "a".into());
        n.labels.insert("cores".into(), "8".into());
        let mut p = pod(1, 1);
        p.node_selector.insert("zone".into(), "b".into());
        assert_eq!(
            check(&p, &n, &Resources::default()),
            Err(vec![Unfit::Affinity])
        );
        p.node_selector.insert("zone".into(), "a".into());
        assert!(check(&p, &n, &Resources::default()).is_ok());
        let req = |key: &str, operator, values: &[&str]| LabelRequirement {
            key: key.into(),
            operator,
            values: values.iter().map(|s| s.to_string()).collect(),
            field: false,
        };
        p.affinity_terms = vec![
            vec![req("zone", SelectorOperator::In, &["b"])],
            vec![
                req("cores", SelectorOperator::Gt, &["4"]),
                req("gpu", SelectorOperator::DoesNotExist, &[]),
            ],
        ];
        assert!(
            check(&p, &n, &Resources::default()).is_ok(),
            "second term matches"
        );
        p.affinity_terms = vec![vec![req("cores", SelectorOperator::Lt, &["4"])]];
        assert!(check(&p, &n, &Resources::default()).is_err());
        p.affinity_terms = vec![vec![LabelRequirement {
            key: "metadata.name".into(),
            operator: SelectorOperator::NotIn,
            values: vec!["a".into()],
            field: true,
        }]];
        assert!(check(&p, &n, &Resources::default()).is_err());
    }

    #[test]
    fn cordoned_and_not_ready_nodes_refuse() {
        let mut n = node("a", 4000, 8);
        n.unschedulable = true;
        assert_eq!(
            check(&pod(1, 1), &n, &Resources::default()),
            Err(vec![Unfit::Unschedulable])
        );
        n.unschedulable = false;
        n.ready = false;
        assert_eq!(
            check(&pod(1, 1), &n, &Resources::default()),
            Err(vec![Unfit::NotReady])
        );
    }

    #[test]
    fn message_is_worded_like_kube_scheduler() {
        let reasons = [Unfit::Cpu, Unfit::Affinity, Unfit::Affinity];
        assert_eq!(
            failed_scheduling_message(3, &reasons),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
        assert_eq!(
            failed_scheduling_message(0, []),
            "no nodes available to schedule pods"
        );
    }

    #[test]
    fn reads_pods_and_nodes_from_the_api_types() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "containers": [
                    {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}},
                    {"name": "b", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}
                ],
                "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}}],
                "nodeSelector": {"zone": "a"},
                "tolerations": [{"key": "k", "operator": "Exists"}]
            }
        }))
        .unwrap();
        let r = PodRequirements::from_pod(&pod).unwrap();
        assert_eq!(r.requests, Resources::new(2000, (256 << 20) + (1 << 30), 1));
        assert_eq!(r.node_selector.get("zone").map(String::as_str), Some("a"));
        assert!(r.tolerations[0].exists);

        let bad: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "bad", "namespace": "ns"},
            "spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "lots"}}}]}
        }))
        .unwrap();
        let e = PodRequirements::from_pod(&bad).unwrap_err().to_string();
        assert!(
            e.contains("pod ns/bad")
                && e.contains("spec.containers[0].resources.requests.cpu")
                && e.contains("lots"),
            "{e}"
        );

        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1", "labels": {"a": "b"}},
            "spec": {"taints": [{"key": "t", "effect": "NoSchedule"}], "unschedulable": true},
            "status": {
                "allocatable": {"cpu": "3900m", "memory": "7Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True"}]
            }
        }))
        .unwrap();
        let n = NodeFacts::from_node(&node).unwrap();
        assert_eq!(n.allocatable, Resources::new(3900, 7 << 30, 110));
        assert!(n.ready && n.unschedulable);
        assert_eq!(n.taints[0].key, "t");
    }

    #[test]
    fn a_node_is_ready_only_when_its_ready_condition_is_true() {
        let with = |conditions: serde_json::Value| -> Node {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "n"},
                "status": {"conditions": conditions}
            }))
            .unwrap()
        };
        assert!(node_ready(&with(serde_json::json!([
            {"type": "MemoryPressure", "status": "False"},
            {"type": "Ready", "status": "True"}
        ]))));
        assert!(!node_ready(&with(
            serde_json::json!([{"type": "Ready", "status": "False"}])
        )));
        assert!(!node_ready(&with(
            serde_json::json!([{"type": "Ready", "status": "Unknown"}])
        )));
        assert!(!node_ready(&with(serde_json::json!([
            {"type": "MemoryPressure", "status": "True"}
        ]))));
        assert!(!node_ready(&Node::default()), "no status: not Ready");
    }
}
