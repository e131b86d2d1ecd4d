//! Pod subresources: `binding` and `eviction` (PodDisruptionBudget checks).

use std::sync::Arc;

use serde_json::{json, Value};

use super::*;

impl Store {
    /// Binds a pod to a node (`pods/binding`): sets `spec.nodeName`; 409 if already bound.
    pub fn bind_pod(
        &self,
        ns: &str,
        name: &str,
        node: &str,
        opts: &WriteOptions,
    ) -> Result<Arc<Value>, StatusError> {
        let now = self.now();
        let mut inner = self.lock();
        let info = resolve(&inner.registry, &Gvr::core("pods"))?;
        let key = obj_key(&info, Some(ns), name);
        let old = inner
            .lookup(&info, &key)
            .ok_or_else(|| info.not_found(name))?;
        if let Some(bound) = old
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            return Err(StatusError::new(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node \"{bound}\""),
            ));
        }
        if old.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(StatusError::new(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is being deleted, cannot be assigned to a host"),
            ));
        }
        let mut new = (*old).clone();
        new["spec"]["nodeName"] = json!(node);
        let conds = new["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut conds: Vec<Value> = conds
            .into_iter()
            .filter(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"))
            .collect();
        conds.push(json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": now}));
        new["status"]["conditions"] = Value::Array(conds);
        inner.commit(&info, &key, Some(old), new, opts, &now, &self.config)
    }

    /// Evicts a pod (`pods/eviction`): 429 TooManyRequests when a matching PodDisruptionBudget
    /// allows no more disruptions, else deletes the pod and updates the budgets' status.
    pub fn evict_pod(
        &self,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<DeleteOutcome, StatusError> {
        let now = self.now();
        let mut inner = self.lock();
        let pods = resolve(&inner.registry, &Gvr::core("pods"))?;
        let pdbs = resolve(
            &inner.registry,
            &Gvr::new("policy", "v1", "poddisruptionbudgets"),
        )?;
        let key = obj_key(&pods, Some(ns), name);
        let pod = inner
            .lookup(&pods, &key)
            .ok_or_else(|| pods.not_found(name))?;
        let terminal = matches!(
            pod.pointer("/status/phase").and_then(Value::as_str),
            Some("Succeeded" | "Failed")
        );
        let budgets: Vec<Arc<Stored>> = inner
            .data
            .get(&res_key(&pdbs))
            .map(|r| {
                r.objects
                    .range((ns.to_string(), String::new())..)
                    .take_while(|(k, _)| k.0 == ns)
                    .map(|(_, v)| v.clone())
                    .collect()
            })
            .unwrap_or_default();
        // Parse only the pods some budget of the namespace selects.
        let ns_pods: Vec<Value> = if budgets.is_empty() {
            Vec::new()
        } else {
            let sels: Vec<Value> = budgets
                .iter()
                .filter_map(|b| b.decode().pointer("/spec/selector").cloned())
                .collect();
            inner
                .data
                .get(&res_key(&pods))
                .map(|r| {
                    r.objects
                        .range((ns.to_string(), String::new())..)
                        .take_while(|(k, _)| k.0 == ns)
                        .filter(|(_, v)| sels.iter().any(|s| selector_meta_matches(s, v.meta())))
                        .map(|(_, v)| v.decode())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut updates = Vec::new();
        for pdb in budgets {
            let pdb = Arc::new(pdb.decode());
            let Some(sel) = pdb.pointer("/spec/selector") else {
                continue;
            };
            if !selector_object_matches(sel, &pod) || terminal {
                continue;
            }
            let pdb_name = meta_str(&pdb, "name").unwrap_or("").to_string();
            let refuse = |message: String| {
                StatusError::new(
                    429,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                )
                .with_details(
                    json!({"causes": [{"reason": "DisruptionBudget", "message": message}]}),
                )
            };
            let healthy_pod = pod_healthy(&pod);
            let mut status = pdb.get("status").cloned().unwrap_or(json!({}));
            if let Some(allowed) = status.get("disruptionsAllowed").and_then(Value::as_i64) {
                // The disruption controller keeps the budget (as in a real cluster): spend one
                // disruption and remember the pod, so the controller counts it as gone.
                let healthy = status
                    .get("currentHealthy")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let desired = status
                    .get("desiredHealthy")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if healthy_pod {
                    if allowed < 1 {
                        return Err(refuse(format!("The disruption budget {pdb_name} needs {desired} healthy pods and has {healthy} currently")));
                    }
                    status["disruptionsAllowed"] = json!(allowed - 1);
                    status["currentHealthy"] = json!(healthy - 1);
                    status["disruptedPods"][name] = json!(now);
                } else if healthy < desired {
                    return Err(refuse(format!("The disruption budget {pdb_name} needs {desired} healthy pods and has {healthy} currently")));
                }
                updates.push((pdb, status));
                continue;
            }
            // No disruption controller has written a status: count the pods now.
            let matching: Vec<&Value> = ns_pods
                .iter()
                .filter(|p| selector_object_matches(sel, p))
                .collect();
            let expected = matching.len() as i64;
            let healthy = matching.iter().filter(|p| pod_healthy(p)).count() as i64;
            let desired = desired_healthy(&pdb, expected);
            let allowed = healthy - desired;
            if (healthy_pod && allowed < 1) || (!healthy_pod && allowed < 0) {
                return Err(refuse(format!("The disruption budget {pdb_name} needs {desired} healthy pods and has {healthy} currently")));
            }
            status["currentHealthy"] = json!(healthy - i64::from(healthy_pod));
            status["desiredHealthy"] = json!(desired);
            status["expectedPods"] = json!(expected);
            status["disruptionsAllowed"] = json!((allowed - i64::from(healthy_pod)).max(0));
            updates.push((pdb, status));
        }
        let outcome = inner.delete(&pods, Some(ns), name, opts, &now, &self.config)?;
        if !opts.dry_run {
            for (pdb, status) in updates {
                let pname = meta_str(&pdb, "name").unwrap_or("").to_string();
                let pkey = obj_key(&pdbs, Some(ns), &pname);
                let mut new = (*pdb).clone();
                new["status"] = status;
                inner.commit(
                    &pdbs,
                    &pkey,
                    Some(pdb),
                    new,
                    &WriteOptions::default(),
                    &now,
                    &self.config,
                )?;
            }
        }
        Ok(outcome)
    }
}

/// Whether a pod counts as healthy for a PodDisruptionBudget: Running, Ready, not being deleted.
pub fn pod_healthy(p: &Value) -> bool {
    if p.pointer("/metadata/deletionTimestamp").is_some() {
        return false;
    }
    let running = p.pointer("/status/phase").and_then(Value::as_str) == Some("Running");
    let ready = p
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        });
    running && ready
}

/// Healthy pods a budget requires, from `minAvailable` or `maxUnavailable` (int or percent).
pub fn desired_healthy(pdb: &Value, expected: i64) -> i64 {
    let scaled = |v: &Value, round_up: bool| -> i64 {
        match v {
            Value::Number(n) => n.as_i64().unwrap_or(0),
            Value::String(s) => {
                let pct = s.trim_end_matches('%').parse::<f64>().unwrap_or(0.0);
                let x = pct * expected as f64 / 100.0;
                if round_up {
                    x.ceil() as i64
                } else {
                    x.floor() as i64
                }
            }
            _ => 0,
        }
    };
    if let Some(min) = pdb.pointer("/spec/minAvailable") {
        scaled(min, true)
    } else if let Some(max) = pdb.pointer("/spec/maxUnavailable") {
        (expected - scaled(max, true)).max(0)
    } else {
        expected
    }
}
