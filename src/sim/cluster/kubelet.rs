//! Simulated kubelets: Nodes for running VMs, pods started on Ready nodes.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::world::{gvr_nodes, gvr_pods, KubeletState, World};
use crate::scaling::capacity;
use crate::sim::apiserver::{DeleteOptions, PatchKind, WriteOptions};
use crate::sim::cloud::{VmRecord, VmStatus};

/// The taint a node carries until its kubelet reports Ready.
pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";

/// The Node name a VM's kubelet registers: the hostname's first DNS label, lower-cased.
pub fn node_name(hostname: &str) -> String {
    hostname
        .split('.')
        .next()
        .unwrap_or(hostname)
        .to_ascii_lowercase()
}

/// The `spec.providerID` of a VM's node.
pub fn provider_id(vm_id: u64) -> String {
    format!("vpsie://{vm_id}")
}

/// The value of a `--flag=value` kubelet argument in cloud-init user data.
fn flag_value<'a>(user_data: &'a str, flag: &str) -> Option<&'a str> {
    let start = user_data.find(flag)? + flag.len();
    let rest = &user_data[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Labels from `--node-labels=a=b,c=d`.
pub fn user_data_labels(user_data: &str) -> BTreeMap<String, String> {
    flag_value(user_data, "--node-labels=")
        .map(|v| {
            v.split(',')
                .filter_map(|kv| kv.split_once('='))
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Taints from `--register-with-taints=key=value:Effect,key:Effect`.
pub fn user_data_taints(user_data: &str) -> Vec<Value> {
    flag_value(user_data, "--register-with-taints=")
        .map(|v| {
            v.split(',')
                .filter_map(|t| {
                    let (kv, effect) = t.rsplit_once(':')?;
                    let (key, value) = kv.split_once('=').unwrap_or((kv, ""));
                    if key.is_empty()
                        || !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute")
                    {
                        return None;
                    }
                    let mut taint = json!({"key": key, "effect": effect});
                    if !value.is_empty() {
                        taint["value"] = json!(value);
                    }
                    Some(taint)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn resources_json(r: crate::scaling::fit::Resources) -> Value {
    json!({
        "cpu": crate::scaling::quantity::format_cpu_millis(r.cpu_millis),
        "memory": format!("{}Ki", r.memory_bytes / 1024),
        "pods": r.pods.to_string(),
        "ephemeral-storage": "100Gi",
    })
}

fn ready_condition(ready: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": "Ready",
        "status": ready,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    })
}

fn node_object(w: &World, vm: &VmRecord, name: &str, now: &str) -> Value {
    let user_data = w.cloud.vm_user_data(vm.id).unwrap_or_default();
    let mut labels: BTreeMap<String, String> = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.to_string()),
        ("kubernetes.io/os".to_string(), "linux".to_string()),
        ("kubernetes.io/arch".to_string(), "amd64".to_string()),
        ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
        ("beta.kubernetes.io/arch".to_string(), "amd64".to_string()),
        (
            "node.kubernetes.io/instance-type".to_string(),
            vm.offering_id.clone(),
        ),
        (
            "topology.kubernetes.io/region".to_string(),
            vm.datacenter_id.clone(),
        ),
    ]);
    labels.extend(user_data_labels(&user_data));
    let mut taints =
        vec![json!({"key": NOT_READY_TAINT, "effect": "NoSchedule", "timeAdded": now})];
    taints.extend(user_data_taints(&user_data));
    let cap = capacity::capacity(i64::from(vm.cpu), vm.ram as i64);
    let alloc = capacity::allocatable(i64::from(vm.cpu), vm.ram as i64);
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"providerID": provider_id(vm.id), "taints": taints},
        "status": {
            "capacity": resources_json(cap),
            "allocatable": resources_json(alloc),
            "conditions": [ready_condition("False", "KubeletNotReady", "container runtime network not ready", now)],
            "addresses": [
                {"type": "InternalIP", "address": vm.default_ip.to_string()},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": w.config.kubelet_version,
                "kubeProxyVersion": w.config.kubelet_version,
                "osImage": format!("{} {}", vm.os_name, vm.os_version),
                "operatingSystem": "linux",
                "architecture": "amd64",
                "containerRuntimeVersion": "containerd://1.7.0",
                "kernelVersion": "6.8.0",
                "machineID": vm.identifier.simple().to_string(),
                "systemUUID": vm.identifier.to_string(),
                "bootID": vm.identifier.to_string(),
            },
        },
    })
}

fn delay(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Registers, readies and retires nodes as their VMs come and go.
pub(crate) fn pass(w: &mut World, now: DateTime<Utc>) {
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let vms = w.cloud.vms();
    let live: std::collections::HashSet<u64> = vms.iter().map(|v| v.id).collect();
    for vm in &vms {
        if vm.status_at(now) != VmStatus::Running {
            if vm.status_at(now) == VmStatus::Creating {
                w.due(vm.boots_at);
            }
            continue;
        }
        let name = node_name(&vm.hostname);
        let join_at = vm.boots_at.max(vm.created_on) + delay(w.config.join_delay);
        let mut state = w.kubelets.remove(&vm.id).unwrap_or_else(|| KubeletState {
            node: name.clone(),
            ..KubeletState::default()
        });
        if !state.registered && !state.failed_join {
            if now < join_at {
                w.due(join_at);
            } else {
                let fail = {
                    let mut c = w.controls();
                    if c.fail_join_hosts.contains(&vm.hostname) || c.fail_join_hosts.contains(&name)
                    {
                        true
                    } else if c.fail_next_joins > 0 {
                        c.fail_next_joins -= 1;
                        true
                    } else {
                        false
                    }
                };
                if fail {
                    state.failed_join = true;
                    w.stat(|s| s.joins_failed += 1);
                } else {
                    register(w, vm, &name, &stamp, &mut state);
                }
            }
        }
        if state.registered && !state.ready {
            let ready_at = join_at + delay(w.config.ready_delay);
            if now < ready_at {
                w.due(ready_at);
            } else if make_ready(w, &name, &stamp) {
                state.ready = true;
                w.stat(|s| s.nodes_ready += 1);
            } else {
                // a concurrent write won: try again on the next pass
                w.due(now + chrono::Duration::milliseconds(50));
            }
        }
        w.kubelets.insert(vm.id, state);
    }
    // VMs that are gone: NotReady, then the Node is deleted.
    let gone: Vec<u64> = w
        .kubelets
        .keys()
        .copied()
        .filter(|id| !live.contains(id))
        .collect();
    for id in gone {
        let Some(mut state) = w.kubelets.remove(&id) else {
            continue;
        };
        if !state.registered {
            continue;
        }
        let since = *state.gone_since.get_or_insert_with(|| {
            not_ready(w, &state.node, &stamp);
            now
        });
        let delete_at = since + delay(w.config.node_gone_delay);
        if now < delete_at {
            w.due(delete_at);
            w.kubelets.insert(id, state);
            continue;
        }
        match w
            .store
            .delete(&gvr_nodes(), None, &state.node, &DeleteOptions::default())
        {
            Ok(_) => w.stat(|s| s.nodes_deleted += 1),
            Err(e) if e.code == 404 => {}
            Err(e) => {
                tracing::warn!(node = %state.node, error = %e.message, "simulated cluster cannot delete node");
                w.kubelets.insert(id, state);
            }
        }
    }
}

fn register(w: &mut World, vm: &VmRecord, name: &str, stamp: &str, state: &mut KubeletState) {
    let node = node_object(w, vm, name, stamp);
    let status = node["status"].clone();
    let created = match w
        .store
        .create(&gvr_nodes(), None, node, &WriteOptions::default())
    {
        Ok(o) => o,
        Err(e) if e.code == 409 => match w.store.get(&gvr_nodes(), None, name) {
            Ok(o) => o,
            Err(_) => return,
        },
        Err(e) => {
            tracing::warn!(node = %name, error = %e.message, "simulated kubelet cannot register");
            return;
        }
    };
    // Status goes through the status subresource, as a kubelet writes it.
    let body = json!({"status": status}).to_string();
    let stored = w
        .store
        .patch(
            &gvr_nodes(),
            None,
            name,
            PatchKind::Merge,
            body.as_bytes(),
            Some("status"),
            &WriteOptions::default(),
        )
        .unwrap_or(created);
    w.upsert_node(stored);
    state.registered = true;
    w.stat(|s| s.nodes_registered += 1);
}

fn set_ready_condition(w: &World, name: &str, condition: Value) -> Option<Arc<Value>> {
    let current = w.store.get(&gvr_nodes(), None, name).ok()?;
    let mut conditions: Vec<Value> = current
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    conditions.retain(|c| c.get("type").and_then(Value::as_str) != Some("Ready"));
    conditions.push(condition);
    let body = json!({"status": {"conditions": conditions}}).to_string();
    w.store
        .patch(
            &gvr_nodes(),
            None,
            name,
            PatchKind::Merge,
            body.as_bytes(),
            Some("status"),
            &WriteOptions::default(),
        )
        .ok()
}

/// Ready=True and the not-ready taint removed. False when a concurrent write must be retried.
fn make_ready(w: &mut World, name: &str, stamp: &str) -> bool {
    let Ok(current) = w.store.get(&gvr_nodes(), None, name) else {
        return true;
    };
    let taints: Vec<Value> = current
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .map(|ts| {
            ts.iter()
                .filter(|t| t.get("key").and_then(Value::as_str) != Some(NOT_READY_TAINT))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut updated = (*current).clone();
    updated["spec"]["taints"] = Value::Array(taints);
    match w.store.update(
        &gvr_nodes(),
        None,
        name,
        updated,
        None,
        &WriteOptions::default(),
    ) {
        Ok(o) => w.upsert_node(o),
        Err(e) if e.code == 409 => return false,
        Err(e) => {
            tracing::warn!(node = %name, error = %e.message, "simulated kubelet cannot update node");
            return false;
        }
    }
    if let Some(o) = set_ready_condition(
        w,
        name,
        ready_condition(
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
            stamp,
        ),
    ) {
        w.upsert_node(o);
    }
    true
}

fn not_ready(w: &mut World, name: &str, stamp: &str) {
    let cond = ready_condition(
        "Unknown",
        "NodeStatusUnknown",
        "Kubelet stopped posting node status.",
        stamp,
    );
    if let Some(o) = set_ready_condition(w, name, cond) {
        w.upsert_node(o);
    }
}

/// Starts pods bound to Ready nodes once `pod_start_delay` has passed since they were bound.
pub(crate) fn start_pods(w: &mut World, now: DateTime<Utc>) {
    let start_delay = delay(w.config.pod_start_delay);
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut later: Option<DateTime<Utc>> = None;
    let mut due: Vec<(String, String, String)> = Vec::new();
    for (k, p) in &w.pods {
        let (Some(node), Some(bound)) = (p.node.as_ref(), p.bound_seen) else {
            continue;
        };
        if !p.active() || p.phase != "Pending" || !w.nodes.get(node).is_some_and(|n| n.facts.ready)
        {
            continue;
        }
        let at = bound + start_delay;
        if at <= now {
            due.push((k.0.clone(), k.1.clone(), node.clone()));
        } else {
            later = Some(later.map_or(at, |l| l.min(at)));
        }
    }
    if let Some(at) = later {
        w.due(at);
    }
    let mut next = 0u32;
    for (ns, name, node) in due {
        let ip = w
            .nodes
            .get(&node)
            .and_then(|n| {
                n.object
                    .pointer("/status/addresses/0/address")
                    .and_then(Value::as_str)
            })
            .unwrap_or("10.0.0.1")
            .to_string();
        next = next.wrapping_add(1);
        let containers: Vec<Value> = w
            .pods
            .get(&(ns.clone(), name.clone()))
            .and_then(|p| {
                p.object
                    .pointer("/spec/containers")
                    .and_then(Value::as_array)
                    .cloned()
            })
            .unwrap_or_default()
            .iter()
            .map(|c| {
                json!({
                    "name": c.get("name").cloned().unwrap_or(json!("main")),
                    "image": c.get("image").cloned().unwrap_or(json!("")),
                    "imageID": "",
                    "ready": true,
                    "started": true,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": stamp}},
                })
            })
            .collect();
        let conditions: Vec<Value> = ["PodScheduled", "Initialized", "ContainersReady", "Ready"]
            .iter()
            .map(|t| json!({"type": t, "status": "True", "lastTransitionTime": stamp}))
            .collect();
        let body = json!({"status": {
            "phase": "Running",
            "conditions": conditions,
            "hostIP": ip,
            "podIP": format!("10.244.{}.{}", (next / 250) % 250, next % 250 + 2),
            "startTime": stamp,
            "containerStatuses": containers,
        }})
        .to_string();
        match w.store.patch(
            &gvr_pods(),
            Some(&ns),
            &name,
            PatchKind::Merge,
            body.as_bytes(),
            Some("status"),
            &WriteOptions::default(),
        ) {
            Ok(o) => {
                w.upsert_pod(o);
                w.stat(|s| s.pods_started += 1);
            }
            Err(e) if e.code == 404 => {}
            Err(e) => {
                tracing::warn!(pod = %format!("{ns}/{name}"), error = %e.message, "simulated kubelet cannot start pod")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kubelet_flags_from_user_data() {
        let ud = "#cloud-config\nruncmd:\n  - kubeadm join --node-labels=autoscaler.vpsie.com/nodegroup=web,env=prod --register-with-taints=dedicated=web:NoSchedule,spot:PreferNoSchedule,bad:Nope \"x\"\n";
        let labels = user_data_labels(ud);
        assert_eq!(
            labels
                .get("autoscaler.vpsie.com/nodegroup")
                .map(String::as_str),
            Some("web")
        );
        assert_eq!(labels.get("env").map(String::as_str), Some("prod"));
        let taints = user_data_taints(ud);
        assert_eq!(taints.len(), 2);
        assert_eq!(
            taints[0],
            json!({"key": "dedicated", "value": "web", "effect": "NoSchedule"})
        );
        assert_eq!(
            taints[1],
            json!({"key": "spot", "effect": "PreferNoSchedule"})
        );
        assert!(user_data_labels("").is_empty());
    }

    #[test]
    fn node_names_come_from_hostnames() {
        assert_eq!(
            node_name("vpsie-prod-workers-abc123.vpsie.local"),
            "vpsie-prod-workers-abc123"
        );
        assert_eq!(node_name("Web-1"), "web-1");
        assert_eq!(provider_id(42), "vpsie://42");
    }
}
