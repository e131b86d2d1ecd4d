//! `pause <ng>|--all [--reason TEXT]` and `resume <ng>|--all`: the
//! `autoscaler.vpsie.com/pause` annotation (`"true"`; resume removes it) and the reason in
//! `autoscaler.vpsie.com/pause-reason`.

use kube::api::{Patch, PatchParams};
use vpsie_autoscaler::api::annotations::PAUSE;
use vpsie_autoscaler::api::NodeGroup;

use crate::commands::common::{Cluster, Op};
use crate::commands::status::PAUSE_REASON;
use crate::error::PluginError;

/// The merge patch of `pause` (with its reason; no reason removes an old one) or `resume`
/// (removes both). Pure.
pub fn patch(pause: bool, reason: Option<&str>) -> serde_json::Value {
    if pause {
        serde_json::json!({"metadata": {"annotations": {PAUSE: "true", PAUSE_REASON: reason}}})
    } else {
        serde_json::json!({"metadata": {"annotations": {PAUSE: null, PAUSE_REASON: null}}})
    }
}

/// What the object says after the patch, for the confirmation line. Pure.
pub fn confirmation(ng: &NodeGroup) -> String {
    let name = ng.metadata.name.clone().unwrap_or_default();
    let annotations = ng.metadata.annotations.clone().unwrap_or_default();
    match annotations.get(PAUSE).map(String::as_str) {
        Some("true") => match annotations.get(PAUSE_REASON) {
            Some(r) => format!("nodegroup/{name} paused ({PAUSE}=true, reason: {r})"),
            None => format!("nodegroup/{name} paused ({PAUSE}=true)"),
        },
        Some(other) => format!("nodegroup/{name}: {PAUSE}={other:?} (not \"true\": not paused)"),
        None => format!("nodegroup/{name} resumed ({PAUSE} removed)"),
    }
}

/// `pause` (`pause == true`) or `resume`.
pub async fn run(
    cluster: &Cluster,
    name: Option<&str>,
    all: bool,
    pause: bool,
    reason: Option<&str>,
) -> Result<(), PluginError> {
    if let Some(r) = reason {
        if r.trim().is_empty() {
            return Err(PluginError::Config(
                "invalid --reason \"\": the reason is empty; fix: pass a few words, e.g. --reason \"maintenance until 18:00\", or leave --reason out".into(),
            ));
        }
    }
    let names: Vec<String> = if all {
        cluster
            .list_nodegroups()
            .await?
            .items
            .into_iter()
            .filter_map(|ng| ng.metadata.name)
            .collect()
    } else {
        let n = name.unwrap_or_default();
        cluster.get_nodegroup(n).await?;
        vec![n.to_string()]
    };
    if names.is_empty() {
        crate::outln!("no NodeGroups in namespace {}", cluster.namespace);
        return Ok(());
    }
    let body = patch(pause, reason);
    for n in &names {
        let ng = cluster
            .nodegroups()
            .patch(n, &PatchParams::default(), &Patch::Merge(&body))
            .await
            .map_err(|e| {
                cluster.err(
                    e,
                    Op {
                        verb: "patch",
                        resource: "nodegroups",
                    },
                    Some(n),
                )
            })?;
        crate::outln!("{}", confirmation(&ng));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_set_and_remove_both_annotations() {
        assert_eq!(
            patch(true, Some("maintenance")),
            serde_json::json!({"metadata": {"annotations": {
                "autoscaler.vpsie.com/pause": "true",
                "autoscaler.vpsie.com/pause-reason": "maintenance"}}})
        );
        assert_eq!(
            patch(true, None)["metadata"]["annotations"][PAUSE_REASON],
            serde_json::Value::Null
        );
        assert_eq!(
            patch(false, Some("ignored")),
            serde_json::json!({"metadata": {"annotations": {
                "autoscaler.vpsie.com/pause": null,
                "autoscaler.vpsie.com/pause-reason": null}}})
        );
    }
}
