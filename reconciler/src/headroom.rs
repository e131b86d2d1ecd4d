//! Headroom scale-up (`scaleUpPolicy.cpuThreshold` / `memoryThreshold`): checked in every
//! utilization round, from the same plain data scale-down reads ([`crate::scaledown::collect`]),
//! decided by the core's pure
//! [`scaling::headroom`](vpsie_autoscaler::scaling::headroom::headroom), acted on like the
//! minimum size: VPSieNode records of the group's offering, which the VPSieNode controller
//! provisions. Held back while the group is paused, scale-up is disabled, the breaker is open,
//! or within `scaleUpPolicy.stabilizationWindowSeconds` of the group's last scale action.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::DaemonSet;
use kube::{Api, ResourceExt};
use vpsie_autoscaler::api::{chrono_time, EventReason, NodeGroup, VPSieNode};
use vpsie_autoscaler::scaling::fit::Resources;
use vpsie_autoscaler::scaling::headroom::{headroom, Headroom, HeadroomInput};
use vpsie_autoscaler::scaling::plan::OfferingFacts;

use crate::context::Context;
use crate::error::Result;
use crate::report::DecisionAction;
use crate::scaledown::Collected;
use crate::scaleup::{
    blocked, counts, daemonset_overhead, in_flight, offering_for_new_nodes, suffix,
};
use crate::vpsienode::FINALIZER;

/// A headroom scale-up to make.
#[derive(Debug, Clone, PartialEq)]
pub struct HeadroomPlan {
    /// The offering of the new nodes.
    pub offering: String,
    /// The verdict (how many, the utilization).
    pub headroom: Headroom,
    /// The thresholds.
    pub thresholds: (i32, i32),
}

/// Whether `group` needs headroom now (pure). `offerings` are its usable offerings, `catalogue`
/// every offering by id (for the size of nodes on their way).
pub fn plan(
    group: &NodeGroup,
    records: &[Arc<VPSieNode>],
    collected: &Collected,
    offerings: &[OfferingFacts],
    catalogue: &BTreeMap<String, OfferingFacts>,
    overhead: Resources,
    now: DateTime<Utc>,
) -> Option<HeadroomPlan> {
    let name = group.name_any();
    let policy = &group.spec.scale_up_policy;
    if !policy.enabled || group.validate().is_err() || group.metadata.deletion_timestamp.is_some() {
        return None;
    }
    if let Some(last) = group
        .status
        .as_ref()
        .and_then(|s| s.last_scale_time.as_ref())
    {
        let until = chrono_time(last)
            + chrono::Duration::seconds(i64::from(policy.stabilization_window_seconds));
        if until > now {
            return None;
        }
    }
    let mine: Vec<&VPSieNode> = records
        .iter()
        .map(|v| v.as_ref())
        .filter(|v| v.spec.node_group_name == name)
        .collect();
    let (mut requested, mut allocatable) = (Resources::default(), Resources::default());
    for n in collected
        .nodes
        .iter()
        .filter(|n| n.group == name && n.facts.ready)
    {
        allocatable = allocatable.plus(n.facts.allocatable);
        requested = n
            .pods
            .iter()
            .fold(requested, |a, p| a.plus(p.requirements.requests));
    }
    let incoming = mine
        .iter()
        .filter(|v| in_flight(v))
        .filter_map(|v| catalogue.get(&v.spec.instance_type))
        .fold(Resources::default(), |a, o| a.plus(o.allocatable));
    let (_, max) = group.effective_min_max().ok()?;
    let current = mine.iter().filter(|v| counts(v)).count() as i32;
    let choice = offering_for_new_nodes(group, &mine, offerings)?;
    let h = headroom(&HeadroomInput {
        requested,
        allocatable,
        incoming,
        cpu_threshold: policy.cpu_threshold,
        memory_threshold: policy.memory_threshold,
        per_node: choice.allocatable.minus(overhead),
        room: u32::try_from(max - current).unwrap_or(0),
    });
    (h.add > 0).then(|| HeadroomPlan {
        offering: choice.id.clone(),
        headroom: h,
        thresholds: (policy.cpu_threshold, policy.memory_threshold),
    })
}

/// Checks every group and adds the nodes headroom asks for; returns how many groups it
/// decided to grow (in a dry run too).
pub async fn act(
    ctx: &Context,
    groups: &[Arc<NodeGroup>],
    records: &[Arc<VPSieNode>],
    daemonsets: &[Arc<DaemonSet>],
    collected: &Collected,
    offerings: &BTreeMap<String, Vec<OfferingFacts>>,
    catalogue: &BTreeMap<String, OfferingFacts>,
) -> Result<usize> {
    let now = ctx.now();
    let mut decided = 0;
    for group in groups {
        if blocked(ctx, group).is_some() {
            continue;
        }
        let name = group.name_any();
        let usable = offerings.get(&name).map(Vec::as_slice).unwrap_or_default();
        let Some(p) = plan(
            group,
            records,
            collected,
            usable,
            catalogue,
            daemonset_overhead(daemonsets, group),
            now,
        ) else {
            continue;
        };
        decided += 1;
        let h = p.headroom;
        let message = format!(
            "Scaling up by {} node(s) of {} for headroom: pods request cpu {:.0}%, memory {:.0}% of the group's allocatable, at or above scaleUpPolicy thresholds {}%/{}%{}",
            h.add,
            p.offering,
            h.cpu_percent,
            h.memory_percent,
            p.thresholds.0,
            p.thresholds.1,
            if h.short > 0 {
                format!(" ({} more would be needed: maxNodes reached)", h.short)
            } else {
                String::new()
            }
        );
        if ctx.config.dry_run {
            ctx.decide(
                &name,
                DecisionAction::ScaleUp,
                "UtilizationAboveThreshold",
                format!("dry run: {message}"),
                Vec::new(),
            );
            continue;
        }
        let ns = group
            .namespace()
            .unwrap_or_else(|| ctx.config.namespace.clone());
        let api: Api<VPSieNode> = Api::namespaced(ctx.kube.clone(), &ns);
        for _ in 0..h.add {
            let mut vn = VPSieNode::planned(&format!("{name}-{}", suffix()), group, &p.offering);
            vn.metadata.finalizers = Some(vec![FINALIZER.to_string()]);
            ctx.create_vpsienode(&api, &vn).await?;
        }
        ctx.record_scale(
            group,
            EventReason::ScalingUp,
            DecisionAction::ScaleUp,
            "UtilizationAboveThreshold",
            message,
            Vec::new(),
        )
        .await?;
    }
    Ok(decided)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use vpsie_autoscaler::scaling::capacity::allocatable;
    use vpsie_autoscaler::scaling::fit::{NodeFacts, PodRequirements};
    use vpsie_autoscaler::scaling::scaledown::{NodeState, PodKind, PodOnNode};

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn group(extra: Value) -> NodeGroup {
        let mut v = serde_json::json!({
            "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
            "metadata": {"name": "web", "namespace": "kube-system"},
            "spec": {"minNodes": 0, "maxNodes": 4, "datacenterID": "dc-us-east-1",
                "offeringIDs": ["medium-4cpu-8gb"], "osImageID": "ubuntu-22.04-lts"}
        });
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            for (k, x) in e {
                o.insert(k.clone(), x.clone());
            }
        }
        serde_json::from_value(v).unwrap()
    }

    fn record(name: &str, phase: &str) -> Arc<VPSieNode> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "VPSieNode",
                "metadata": {"name": name, "namespace": "kube-system"},
                "spec": {"vpsieInstanceID": 1, "instanceType": "medium-4cpu-8gb",
                    "nodeGroupName": "web", "datacenterID": "dc-us-east-1"},
                "status": {"phase": phase}
            }))
            .unwrap(),
        )
    }

    fn node(name: &str, cpu: i64) -> NodeState {
        NodeState {
            facts: NodeFacts {
                name: name.into(),
                allocatable: allocatable(4, 8192),
                ready: true,
                ..NodeFacts::default()
            },
            group: "web".into(),
            pods: vec![PodOnNode {
                key: format!("default/{name}-pod"),
                requirements: std::sync::Arc::new(PodRequirements {
                    requests: Resources::new(cpu, 1 << 28, 1),
                    ..PodRequirements::default()
                }),
                kind: PodKind::Controlled,
                safe_to_evict: None,
                pdbs: Vec::new(),
            }],
            do_not_delete: false,
            unneeded_since: None,
            hourly_price: 0.04,
            drain_failed_at: None,
        }
    }

    fn medium() -> OfferingFacts {
        OfferingFacts {
            id: "medium-4cpu-8gb".into(),
            allocatable: allocatable(4, 8192),
            hourly_price: 0.04,
        }
    }

    #[test]
    fn a_busy_group_gets_one_more_node_of_its_offering_once() {
        let collected = Collected {
            nodes: vec![node("web-a", 3500), node("web-b", 3500)],
            ..Collected::default()
        };
        let records = vec![record("web-a", "Ready"), record("web-b", "Ready")];
        let catalogue = BTreeMap::from([(medium().id, medium())]);
        let g = group(serde_json::json!({}));
        let p = plan(
            &g,
            &records,
            &collected,
            &[medium()],
            &catalogue,
            Resources::default(),
            t(0),
        )
        .expect("90% of cpu requested: headroom");
        assert_eq!(
            (p.offering.as_str(), p.headroom.add),
            ("medium-4cpu-8gb", 1)
        );

        // the node on its way is the headroom: nothing more
        let mut coming = records.clone();
        coming.push(record("web-c", "Provisioning"));
        assert_eq!(
            plan(
                &g,
                &coming,
                &collected,
                &[medium()],
                &catalogue,
                Resources::default(),
                t(0)
            ),
            None
        );
        // within the window after the last scale action: wait
        let recent =
            group(serde_json::json!({"status": {"lastScaleTime": "2027-01-15T07:59:30Z"}}));
        assert_eq!(
            plan(
                &recent,
                &records,
                &collected,
                &[medium()],
                &catalogue,
                Resources::default(),
                t(0)
            ),
            None
        );
        // thresholds at 0: off
        let off = group(serde_json::json!({"spec": {"minNodes": 0, "maxNodes": 4,
            "datacenterID": "dc-us-east-1", "offeringIDs": ["medium-4cpu-8gb"],
            "osImageID": "ubuntu-22.04-lts", "scaleUpPolicy": {"cpuThreshold": 0, "memoryThreshold": 0}}}));
        assert_eq!(
            plan(
                &off,
                &records,
                &collected,
                &[medium()],
                &catalogue,
                Resources::default(),
                t(0)
            ),
            None
        );
    }
}
