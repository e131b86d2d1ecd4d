//! `reconcile <ng> [--no-wait] [--timeout 60s]`: forces a reconcile the runbook's way
//! (`kubectl annotate nodegroup <name> reconcile-trigger=<fresh value> --overwrite`), waits until
//! the controller records the value in `status.observedReconcileTrigger`, then prints the
//! group's last decision from the status report.

use std::time::Duration;

use chrono::Utc;
use kube::api::{Patch, PatchParams};
use vpsie_autoscaler::api::annotations::{RECONCILE_TRIGGER, RECONCILE_TRIGGER_NAMESPACED};
use vpsie_autoscaler::api::NodeGroup;
use vpsie_reconciler::report::StatusReport;

use crate::commands::common::{self, Cluster, Op, Spinner};
use crate::commands::status::decision_lines;
use crate::error::PluginError;

/// The annotation to write and a value that differs from the one set now: the Unix time in
/// seconds (as `date +%s`), moved past the current value when that is not older. When the
/// namespaced annotation is set it wins in the controller, so that one is written. Pure.
pub fn next_trigger(group: &NodeGroup, now_secs: i64) -> (&'static str, String) {
    let annotations = group.metadata.annotations.clone().unwrap_or_default();
    let key = if annotations.contains_key(RECONCILE_TRIGGER_NAMESPACED) {
        RECONCILE_TRIGGER_NAMESPACED
    } else {
        RECONCILE_TRIGGER
    };
    let observed = group
        .status
        .as_ref()
        .and_then(|s| s.observed_reconcile_trigger.clone());
    let mut value = now_secs;
    for old in [annotations.get(key).cloned(), observed]
        .into_iter()
        .flatten()
    {
        if let Ok(v) = old.trim().parse::<i64>() {
            if v >= value {
                value = v + 1;
            }
        }
    }
    (key, value.to_string())
}

fn decision_at(report: Option<&StatusReport>, group: &str) -> Option<chrono::DateTime<Utc>> {
    report?
        .node_groups
        .get(group)?
        .last_decision
        .as_ref()
        .map(|d| d.at)
}

/// `reconcile`.
pub async fn run(
    cluster: &Cluster,
    name: &str,
    no_wait: bool,
    timeout: Duration,
) -> Result<(), PluginError> {
    let group = cluster.get_nodegroup(name).await?;
    let before = cluster.report().await.ok();
    let (key, value) = next_trigger(&group, Utc::now().timestamp());
    let patch = serde_json::json!({"metadata": {"annotations": {key: value}}});
    cluster
        .nodegroups()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| {
            cluster.err(
                e,
                Op {
                    verb: "patch",
                    resource: "nodegroups",
                },
                Some(name),
            )
        })?;
    crate::outln!("nodegroup/{name} annotated {key}={value}");
    if no_wait {
        return Ok(());
    }
    let spinner = Spinner::start(format!(
        "waiting for the controller to reconcile nodegroup/{name} (status.observedReconcileTrigger={value})..."
    ));
    let seen = common::wait_for_object(cluster.nodegroups(), name, timeout, |ng: &NodeGroup| {
        ng.status
            .as_ref()
            .and_then(|s| s.observed_reconcile_trigger.as_deref())
            == Some(value.as_str())
    })
    .await
    .map_err(|e| {
        cluster.err(
            e,
            Op {
                verb: "watch",
                resource: "nodegroups",
            },
            Some(name),
        )
    });
    let seen = match seen {
        Ok(s) => s,
        Err(e) => {
            spinner.stop();
            return Err(e);
        }
    };
    if seen.is_none() {
        spinner.stop();
        return Err(PluginError::Timeout(format!(
            "nodegroup/{name} was not reconciled within {}s (status.observedReconcileTrigger is not {value}): check that the controller runs and leads (`kubectl vpsie status`, `kubectl logs -n {ns} deployment/vpsie-autoscaler`); retry with a longer --timeout",
            timeout.as_secs(),
            ns = cluster.namespace
        )));
    }
    spinner.stop();
    crate::outln!("nodegroup/{name} reconciled (status.observedReconcileTrigger={value})");
    // the decisions are in the report: one read (a reconcile with nothing to do decides nothing new)
    match cluster.report().await {
        Ok(r) => match r
            .node_groups
            .get(name)
            .and_then(|g| g.last_decision.as_ref())
        {
            Some(d) => {
                let now = common::reference_now(Utc::now(), [r.generated_at]);
                crate::out!("{}", decision_lines(now, d));
                if Some(d.at) == decision_at(before.as_ref(), name) {
                    crate::outln!("(the same decision as before the reconcile: nothing new to do)");
                }
            }
            None => crate::outln!("no decision published for {name} yet (nothing to do so far)"),
        },
        Err(e) => crate::outln!("{e}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ng(annotations: &[(&str, &str)], observed: Option<&str>) -> NodeGroup {
        let mut v = serde_json::json!({
            "apiVersion": "autoscaler.vpsie.com/v1alpha1", "kind": "NodeGroup",
            "metadata": {"name": "g", "annotations": {}},
            "spec": {"minNodes": 1, "maxNodes": 2, "datacenterID": "dc", "offeringIDs": ["o"], "osImageID": "i"},
            "status": {}
        });
        for (k, val) in annotations {
            v["metadata"]["annotations"][*k] = serde_json::json!(val);
        }
        if let Some(o) = observed {
            v["status"]["observedReconcileTrigger"] = serde_json::json!(o);
        }
        serde_json::from_value(v).expect("nodegroup")
    }

    #[test]
    fn the_trigger_is_always_fresh() {
        assert_eq!(
            next_trigger(&ng(&[], None), 100),
            (RECONCILE_TRIGGER, "100".into())
        );
        assert_eq!(
            next_trigger(&ng(&[(RECONCILE_TRIGGER, "100")], Some("100")), 100).1,
            "101"
        );
        assert_eq!(
            next_trigger(&ng(&[(RECONCILE_TRIGGER, "50")], Some("50")), 100).1,
            "100"
        );
        assert_eq!(
            next_trigger(&ng(&[(RECONCILE_TRIGGER, "junk")], Some("200")), 100).1,
            "201"
        );
        assert_eq!(
            next_trigger(&ng(&[(RECONCILE_TRIGGER_NAMESPACED, "7")], None), 5),
            (RECONCILE_TRIGGER_NAMESPACED, "8".into())
        );
    }
}
