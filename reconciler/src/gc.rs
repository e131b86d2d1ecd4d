//! Garbage collection of leaked VPS instances: a VPS tagged as this cluster's
//! (`vpsie-autoscaler` and `cluster:<name>`) that no VPSieNode records, for longer than a grace
//! period, is deleted — with a Warning event and the `vpsie_orphan_vms_deleted_total` metric.
//!
//! Records are created before their VPS (the intent comes first), so a VPS without a record is
//! a leak: a record deleted by hand, or a crash of an older version. The grace period covers
//! caches that lag.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use prometheus_client::metrics::counter::Counter;
use vpsie_autoscaler::api::{NodeGroup, VPSieNode};
use vpsie_autoscaler::cloud::Vps;

use crate::context::Context;
use crate::error::Result;
use crate::vpsienode::MANAGED_TAG;

/// Which VPS are orphans to delete now. `seen` remembers since when each VPS has been without
/// a record (updated in place: records found again are forgotten).
pub fn orphans(
    vms: &[Vps],
    records: &HashSet<String>,
    record_ids: &HashSet<i64>,
    seen: &mut HashMap<i64, DateTime<Utc>>,
    now: DateTime<Utc>,
    grace: Duration,
) -> Vec<i64> {
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    let mut live = HashSet::new();
    let mut out = Vec::new();
    for vm in vms {
        let host = vm.hostname.as_deref().or(vm.name.as_deref()).unwrap_or("");
        let host = host.split('.').next().unwrap_or(host);
        if records.contains(host) || record_ids.contains(&vm.id) {
            continue;
        }
        live.insert(vm.id);
        let since = *seen.entry(vm.id).or_insert(now);
        if now - since >= grace {
            out.push(vm.id);
        }
    }
    seen.retain(|id, _| live.contains(id));
    out
}

/// The GC loop: every `interval`, finds and deletes orphans.
pub async fn run(ctx: Arc<Context>, grace: Duration, interval: Duration, deleted: Counter) {
    let mut seen = HashMap::new();
    loop {
        tokio::time::sleep(ctx.real(interval)).await;
        let started = Instant::now();
        let result = pass(&ctx, grace, &mut seen, &deleted).await;
        ctx.metrics
            .observe_reconcile("gc", started.elapsed().as_secs_f64(), result.is_err());
        if let Err(e) = result {
            tracing::warn!(error = %e, "orphan VPS collection failed; trying again later");
        }
    }
}

async fn pass(
    ctx: &Context,
    grace: Duration,
    seen: &mut HashMap<i64, DateTime<Utc>>,
    deleted: &Counter,
) -> Result<()> {
    let cluster_tag = format!("cluster:{}", ctx.config.cluster_name);
    let vms: Vec<Vps> = ctx
        .cloud
        .list_vms_by_tag(MANAGED_TAG)
        .await?
        .into_iter()
        .filter(|v| v.has_tag(&cluster_tag))
        .collect();
    if vms.is_empty() {
        seen.clear();
        return Ok(());
    }
    // fresh from the API server, not a cache
    let records = Api::<VPSieNode>::namespaced(ctx.kube.clone(), &ctx.config.namespace)
        .list(&ListParams::default())
        .await?
        .items;
    let names: HashSet<String> = records.iter().map(|r| r.name_any()).collect();
    let ids: HashSet<i64> = records
        .iter()
        .map(|r| r.spec.vpsie_instance_id)
        .filter(|i| *i > 0)
        .collect();
    let now = ctx.now();
    for id in orphans(&vms, &names, &ids, seen, now, grace) {
        let Some(vm) = vms.iter().find(|v| v.id == id) else {
            continue;
        };
        let host = vm.hostname.clone().unwrap_or_default();
        if ctx.config.dry_run {
            tracing::warn!(vps = id, hostname = %host, "dry run: would delete orphan VPS");
            continue;
        }
        ctx.cloud.delete_vm(id).await?;
        deleted.inc();
        seen.remove(&id);
        let message = format!(
            "Deleted VPS {id} ({host}): tagged for cluster {} but no VPSieNode recorded it for {}s",
            ctx.config.cluster_name,
            grace.as_secs()
        );
        tracing::warn!(vps = id, hostname = %host, "{message}");
        let group = vm
            .tags
            .iter()
            .find_map(|t| t.strip_prefix("nodegroup:"))
            .map(str::to_string);
        if let Some(group) = group {
            let api: Api<NodeGroup> = Api::namespaced(ctx.kube.clone(), &ctx.config.namespace);
            if let Ok(Some(ng)) = api.get_opt(&group).await {
                ctx.recorder
                    .publish_raw(&ng, "OrphanVPSDeleted", "Warning", &message, now)
                    .await;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(id: i64, host: &str) -> Vps {
        Vps {
            id,
            hostname: Some(host.into()),
            ..Vps::default()
        }
    }

    #[test]
    fn only_vps_without_a_record_for_the_grace_period_go() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let grace = Duration::from_secs(600);
        let vms = vec![
            vm(1, "web-aaaaa"),
            vm(2, "web-bbbbb.vpsie.local"),
            vm(3, "web-ccccc"),
        ];
        let records: HashSet<String> = ["web-aaaaa".to_string()].into();
        let ids: HashSet<i64> = [3].into();
        let mut seen = HashMap::new();
        assert!(orphans(&vms, &records, &ids, &mut seen, t0, grace).is_empty());
        assert_eq!(seen.keys().copied().collect::<Vec<_>>(), vec![2]);
        let later = t0 + chrono::Duration::seconds(599);
        assert!(orphans(&vms, &records, &ids, &mut seen, later, grace).is_empty());
        let later = t0 + chrono::Duration::seconds(600);
        assert_eq!(
            orphans(&vms, &records, &ids, &mut seen, later, grace),
            vec![2]
        );
        // a record that appears (a lagging cache) saves it
        let records: HashSet<String> = ["web-aaaaa".to_string(), "web-bbbbb".to_string()].into();
        assert!(orphans(&vms, &records, &ids, &mut seen, later, grace).is_empty());
        assert!(seen.is_empty());
    }
}
