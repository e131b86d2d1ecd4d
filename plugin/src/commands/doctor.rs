//! `doctor`: the VPSie API errors runbook, automated. Each check gives a finding (ok, warning,
//! error) and, when not ok, its fix:
//!
//! - `crds`: the NodeGroup and VPSieNode CRDs are installed;
//! - `controller`: the status report (ConfigMap `vpsie-autoscaler-status`) is published, fresh
//!   (written within [`STALE_AFTER`]) and names a leader;
//! - `secret`: Secret `vpsie-secret` exists with keys `clientId` and `clientSecret`;
//! - `credentials`: the controller loaded the Secret's pair, and (unless `--no-live`) VPSie
//!   accepts a login with it;
//! - `breaker`: the circuit breaker is closed;
//! - `api-errors/<type>`: VPSie API errors in the report's window, by type, with the runbook's
//!   fix for that type;
//! - `rate-limit`: not blocked by a 429, the client-side limiter not saturated;
//! - `nodegroup/<name>`: no Error condition (InvalidConfiguration...), no annotation problem;
//! - `nodegroup/<namespace>/<name>`: a NodeGroup in another namespace, which the controller
//!   does not watch (a warning: nothing scales it);
//! - `vpsienode/<name>`: not stuck in a phase (the rules of `nodes`);
//! - `pending-pods`: no pod unschedulable for longer than `--pending-for`, and no group whose
//!   last decision says no offering fits.
//!
//! Collect -> [`compute`] (pure) -> table or `-o json|yaml` of [`DoctorView`]; exit 1 when a
//! finding is an error.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use serde::{Deserialize, Serialize};
use vpsie_autoscaler::api::{chrono_time, NodeGroup, NodeGroupCondition, VPSieNode};
use vpsie_autoscaler::cloud::VpsieSecret;
use vpsie_reconciler::report::{BreakerStatus, CredentialsStatus, StatusReport};

use crate::cli::{DoctorArgs, OutputFormat};
use crate::commands::common::{self, short_duration, Cluster};
use crate::commands::creds::{self, LiveCheck};
use crate::commands::nodes;
use crate::commands::status::{plain_table, table_text};
use crate::error::PluginError;

/// The version of [`DoctorView`]'s JSON.
pub const SCHEMA_VERSION: u32 = 1;

/// A report older than this (the controller writes it at least every 10 s) means the controller
/// stopped publishing.
pub const STALE_AFTER: Duration = Duration::from_secs(120);

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fine.
    Ok,
    /// Worth a look; autoscaling still works.
    Warning,
    /// Autoscaling is impaired: fix it.
    Error,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The check (`secret`, `nodegroup/web`...).
    pub check: String,
    /// The verdict.
    pub severity: Severity,
    /// What was found.
    pub message: String,
    /// What to do, when not ok.
    pub fix: Option<String>,
}

fn ok(check: &str, message: impl Into<String>) -> Finding {
    Finding {
        check: check.to_string(),
        severity: Severity::Ok,
        message: message.into(),
        fix: None,
    }
}

fn bad(
    check: &str,
    severity: Severity,
    message: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        check: check.to_string(),
        severity,
        message: message.into(),
        fix: Some(fix.into()),
    }
}

/// `doctor -o json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DoctorView {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The namespace checked.
    pub namespace: String,
    /// The time ages were measured against.
    pub generated_at: DateTime<Utc>,
    /// Every finding, in check order.
    pub findings: Vec<Finding>,
    /// How many are errors.
    pub errors: usize,
    /// How many are warnings.
    pub warnings: usize,
}

/// What `doctor` read.
#[derive(Debug, Clone)]
pub struct DoctorInput {
    /// `Err(message)` when a CRD is not installed.
    pub crds: Result<(), String>,
    /// The NodeGroups of the namespace.
    pub nodegroups: Vec<NodeGroup>,
    /// NodeGroups of other namespaces (none when they cannot be listed).
    pub elsewhere: Vec<NodeGroup>,
    /// The VPSieNodes.
    pub vpsienodes: Vec<VPSieNode>,
    /// The status report, or why there is none.
    pub report: Result<StatusReport, String>,
    /// `namespace/name` of the Secret.
    pub secret_ref: String,
    /// The Secret as serve parses it, or what is wrong with it.
    pub secret: Result<VpsieSecret, String>,
    /// This identity may not read the Secret (RBAC): its checks are skipped, not failed, since
    /// only the controller needs to read it.
    pub secret_forbidden: bool,
    /// The live login (`None` with `--no-live` or without a usable Secret).
    pub live: Option<LiveCheck>,
    /// The pods of every namespace, or why they could not be listed.
    pub pods: Result<Vec<Pod>, String>,
}

/// The runbook's fix for VPSie API errors of `error_type`, and whether they make autoscaling
/// fail (error) or only slow it (warning). Pure.
pub fn api_error_fix(error_type: &str, secret_ref: &str) -> (Severity, String) {
    match error_type {
        "unauthorized" => (
            Severity::Error,
            format!("the credentials in Secret {secret_ref} are refused: `kubectl vpsie creds check`, then `kubectl vpsie creds rotate` with working ones"),
        ),
        "forbidden" => (
            Severity::Error,
            "the API client lacks a permission: grant it in the VPSie console, or generate credentials with the needed scopes and `kubectl vpsie creds rotate`".into(),
        ),
        "rate_limited" => (
            Severity::Warning,
            "wait for the rate limit window to pass; reduce scaling frequency or look for a runaway reconcile loop; ask VPSie for a higher limit".into(),
        ),
        "server_error" | "network" => (
            Severity::Warning,
            "check https://status.vpsie.com and the controller's connectivity to the VPSie API; the breaker retries after its timeout".into(),
        ),
        "not_found" => (
            Severity::Warning,
            "a NodeGroup names an unknown offering, datacenter or image: check offeringIDs, datacenterID and osImageID (`kubectl get ng -A -o yaml`)".into(),
        ),
        "quota_exceeded" => (
            Severity::Error,
            "the VPSie account's quota is exhausted: lower maxNodes or ask VPSie support for more quota".into(),
        ),
        _ => (
            Severity::Warning,
            "see the controller's logs (`kubectl logs -n kube-system deployment/vpsie-autoscaler`)".into(),
        ),
    }
}

/// Pods whose PodScheduled condition is False/Unschedulable since before `now - pending_for`:
/// `(namespace/name, since)`. Pure.
pub fn unschedulable_pods(
    pods: &[Pod],
    now: DateTime<Utc>,
    pending_for: Duration,
) -> Vec<(String, DateTime<Utc>)> {
    let limit = chrono::Duration::from_std(pending_for).unwrap_or(chrono::Duration::MAX);
    let mut out: Vec<(String, DateTime<Utc>)> = pods
        .iter()
        .filter(|p| p.spec.as_ref().is_none_or(|s| s.node_name.is_none()))
        .filter_map(|p| {
            let c = p.status.as_ref()?.conditions.as_ref()?.iter().find(|c| {
                c.type_ == "PodScheduled"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("Unschedulable")
            })?;
            let since = c
                .last_transition_time
                .as_ref()
                .map(chrono_time)
                .or_else(|| p.metadata.creation_timestamp.as_ref().map(chrono_time))?;
            (now - since > limit).then(|| {
                (
                    format!(
                        "{}/{}",
                        p.metadata.namespace.as_deref().unwrap_or("default"),
                        p.metadata.name.as_deref().unwrap_or("?")
                    ),
                    since,
                )
            })
        })
        .collect();
    out.sort();
    out
}

/// Every check. Pure.
pub fn compute(
    input: &DoctorInput,
    wall_now: DateTime<Utc>,
    pending_for: Duration,
    drain_timeout: Duration,
    namespace: &str,
) -> DoctorView {
    let report = input.report.as_ref().ok();
    // a cluster clock ahead of ours (the sim) moves "now" forward; staleness uses our clock
    let now = common::reference_now(wall_now, report.map(|r| r.generated_at));
    let ns = namespace;
    let secret_ref = &input.secret_ref;
    let mut f: Vec<Finding> = Vec::new();

    // crds
    match &input.crds {
        Ok(()) => f.push(ok("crds", "NodeGroup and VPSieNode CRDs installed")),
        Err(m) => f.push(bad(
            "crds",
            Severity::Error,
            m.clone(),
            "install them: `kubectl-vpsie crds | kubectl apply -f -`",
        )),
    }

    // controller
    match &input.report {
        Err(m) => f.push(bad(
            "controller",
            Severity::Error,
            m.clone(),
            format!("check `kubectl get deployment vpsie-autoscaler -n {ns}` and `kubectl logs -n {ns} deployment/vpsie-autoscaler`"),
        )),
        Ok(r) => {
            let age = wall_now - r.generated_at;
            let stale = chrono::Duration::from_std(STALE_AFTER).unwrap_or_default();
            if age > stale {
                f.push(bad(
                    "controller",
                    Severity::Error,
                    format!(
                        "the status report was last written {} ago (controller {}): the controller stopped publishing",
                        short_duration(age),
                        r.controller.identity
                    ),
                    format!("check the pods of deployment vpsie-autoscaler (`kubectl get pods -n {ns}`) and their logs; restart with `kubectl rollout restart deployment/vpsie-autoscaler -n {ns}`"),
                ));
            } else {
                match &r.controller.leader {
                    None => f.push(bad(
                        "controller",
                        Severity::Error,
                        format!(
                            "controller {} runs but no replica leads (Lease vpsie-autoscaler-leader)",
                            r.controller.identity
                        ),
                        format!("check `kubectl get lease vpsie-autoscaler-leader -n {ns}` and the controller's logs"),
                    )),
                    Some(l) if r.controller.dry_run => f.push(bad(
                        "controller",
                        Severity::Warning,
                        format!("leader {l} runs in dry-run mode: it decides but does not act"),
                        "run serve without --dry-run to autoscale",
                    )),
                    Some(l) => f.push(ok(
                        "controller",
                        format!(
                            "leader {l}, version {}, report written {} ago",
                            r.controller.version,
                            short_duration(age)
                        ),
                    )),
                }
            }
        }
    }

    // secret
    let create = format!(
        "`kubectl vpsie creds rotate` (or `kubectl create secret generic vpsie-secret -n {ns} --from-literal=clientId=... --from-literal=clientSecret=...`)"
    );
    match &input.secret {
        Err(m) if input.secret_forbidden => f.push(bad(
            "secret",
            Severity::Warning,
            format!("not checked: {m}; the credentials are judged from the controller's report alone"),
            format!("to check the Secret's keys and a live login, run doctor (or `kubectl vpsie creds check`) as an identity that may get secrets/{} in {ns}, such as one bound to the vpsie-autoscaler-operator ClusterRole", secret_ref.rsplit('/').next().unwrap_or("vpsie-secret")),
        )),
        Err(m) => f.push(bad("secret", Severity::Error, m.clone(), create.clone())),
        Ok(s) => match &s.credentials {
            vpsie_autoscaler::cloud::Credentials::ClientCredentials { .. } => f.push(ok(
                "secret",
                format!(
                    "Secret {secret_ref} has clientId and clientSecret (fingerprint {}), API {}",
                    s.credentials.fingerprint(),
                    s.base_url_or_default()
                ),
            )),
            vpsie_autoscaler::cloud::Credentials::StaticToken(_) => f.push(bad(
                "secret",
                Severity::Warning,
                format!(
                    "Secret {secret_ref} holds a static token (fingerprint {}), not clientId/clientSecret: it is never refreshed",
                    s.credentials.fingerprint()
                ),
                create.clone(),
            )),
        },
    }

    // credentials
    let mut cred_problems: Vec<(Severity, String, String)> = Vec::new();
    if let Some(r) = report {
        let c = &r.credentials;
        if c.state != CredentialsStatus::Loaded {
            cred_problems.push((
                Severity::Error,
                format!(
                    "the controller has no usable credentials: {}",
                    c.message.as_deref().unwrap_or("(no message)")
                ),
                create.clone(),
            ));
        } else if let (Ok(s), Some(lf)) = (&input.secret, &c.fingerprint) {
            let sf = s.credentials.fingerprint();
            if sf != *lf {
                cred_problems.push((
                    Severity::Warning,
                    format!("the controller uses fingerprint {lf}, Secret {secret_ref} holds {sf}: not loaded yet"),
                    "wait a few seconds and run doctor again; if it stays, read the controller's logs (a changed `url` key needs `kubectl rollout restart deployment/vpsie-autoscaler`)".into(),
                ));
            }
        }
    }
    if let Some(l) = &input.live {
        if !l.ok {
            let refused = l.error_type.as_deref() == Some("unauthorized");
            cred_problems.push((
                Severity::Error,
                format!(
                    "{} a login with the Secret's credentials at {}: {}",
                    if refused { "VPSie refused" } else { "could not complete" },
                    l.base_url,
                    l.message.as_deref().unwrap_or("-")
                ),
                if refused {
                    "get working credentials from the VPSie console and `kubectl vpsie creds rotate`".to_string()
                } else {
                    "check connectivity to the VPSie API (https://status.vpsie.com) and the Secret's `url` key".to_string()
                },
            ));
        }
    }
    if cred_problems.is_empty() {
        let fp = report
            .and_then(|r| r.credentials.fingerprint.clone())
            .unwrap_or_else(|| "-".into());
        let live = match &input.live {
            Some(_) => ", VPSie accepts them",
            None => "",
        };
        if report.is_some() || input.live.is_some() {
            f.push(ok(
                "credentials",
                format!("loaded (fingerprint {fp}){live}"),
            ));
        }
    } else {
        for (sev, m, fix) in cred_problems {
            f.push(bad("credentials", sev, m, fix));
        }
    }

    if let Some(r) = report {
        // breaker
        match &r.breaker {
            None => f.push(bad(
                "breaker",
                Severity::Warning,
                "no VPSie client yet (the credentials were never loaded)",
                "fix the Secret (see above)",
            )),
            Some(b) => match b.state {
                BreakerStatus::Closed => f.push(ok("breaker", "closed")),
                BreakerStatus::Open => f.push(bad(
                    "breaker",
                    Severity::Error,
                    format!(
                        "OPEN since {} after {} consecutive failures{}: VPSie API calls are refused",
                        b.since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        b.consecutive_failures,
                        b.last_failure
                            .as_deref()
                            .map(|l| format!(" (last: {l})"))
                            .unwrap_or_default()
                    ),
                    "find the cause in the API errors below and https://status.vpsie.com; the breaker half-opens by itself after its timeout, or `kubectl vpsie breaker reset` once the cause is gone",
                )),
                BreakerStatus::HalfOpen => f.push(bad(
                    "breaker",
                    Severity::Warning,
                    "half-open: probing VPSie after failures",
                    "wait for the probe; if it fails again see the API errors",
                )),
            },
        }

        // API errors by type
        let window = short_duration(chrono::Duration::seconds(
            i64::try_from(r.api_errors.window_seconds).unwrap_or(i64::MAX),
        ));
        let errors: BTreeMap<&String, &u64> = r
            .api_errors
            .by_type
            .iter()
            .filter(|(_, n)| **n > 0)
            .collect();
        if errors.is_empty() {
            f.push(ok(
                "api-errors",
                format!("no VPSie API errors in the last {window}"),
            ));
        }
        for (t, n) in errors {
            let (sev, fix) = api_error_fix(t, secret_ref);
            f.push(bad(
                &format!("api-errors/{t}"),
                sev,
                format!("{n} VPSie API {t} errors in the last {window}"),
                fix,
            ));
        }

        // rate limit
        match &r.rate_limit {
            Some(rl) if rl.blocked_until.is_some_and(|b| b > now) => f.push(bad(
                "rate-limit",
                Severity::Warning,
                format!(
                    "VPSie rate-limited the controller (429): calls wait until {} ({} 429s since start)",
                    rl.blocked_until
                        .map(|b| b.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                        .unwrap_or_default(),
                    rl.rate_limited_total
                ),
                api_error_fix("rate_limited", secret_ref).1,
            )),
            Some(rl) if rl.waiting > 0 && rl.tokens < 1.0 => f.push(bad(
                "rate-limit",
                Severity::Warning,
                format!(
                    "the client-side limiter is saturated: {} calls waiting for a token (capacity {})",
                    rl.waiting, rl.capacity
                ),
                "look for a runaway reconcile loop (many NodeGroups changing at once)",
            )),
            Some(rl) => f.push(ok(
                "rate-limit",
                format!(
                    "not limited ({:.0}/{} tokens, {} waits since start)",
                    rl.tokens, rl.capacity, rl.waits_total
                ),
            )),
            None => {}
        }
    }

    // NodeGroups
    if input.crds.is_ok() {
        if input.nodegroups.is_empty() {
            f.push(bad(
                "nodegroups",
                Severity::Warning,
                format!("no NodeGroups in namespace {ns}: nothing is autoscaled"),
                "create one (see `kubectl explain nodegroup.spec`)",
            ));
        }
        let mut invalid = 0;
        for ng in &input.nodegroups {
            let name = ng.metadata.name.clone().unwrap_or_default();
            let check = format!("nodegroup/{name}");
            let fix = format!("fix the spec or annotations: `kubectl edit ng {name} -n {ns}` (see `kubectl describe ng {name} -n {ns}`)");
            let error = ng
                .condition(NodeGroupCondition::ERROR)
                .filter(|c| c.status == vpsie_autoscaler::api::ConditionStatus::True);
            let problem = report
                .and_then(|r| r.node_groups.get(&name))
                .and_then(|g| g.problem.clone());
            if let Some(c) = error {
                invalid += 1;
                f.push(bad(
                    &check,
                    Severity::Error,
                    format!("{}: {}", c.reason, c.message),
                    fix,
                ));
            } else if let Some(p) = problem {
                invalid += 1;
                f.push(bad(&check, Severity::Error, p, fix));
            }
        }
        for ng in &input.elsewhere {
            let other = ng.metadata.namespace.clone().unwrap_or_default();
            let name = ng.metadata.name.clone().unwrap_or_default();
            f.push(bad(
                &format!("nodegroup/{other}/{name}"),
                Severity::Warning,
                crate::commands::status::unwatched_problem(&other, ns),
                format!(
                    "`kubectl get ng {name} -n {other} -o yaml`, change metadata.namespace to {ns} and apply it, then delete the old one"
                ),
            ));
        }
        if invalid == 0 && !input.nodegroups.is_empty() {
            f.push(ok(
                "nodegroups",
                format!("{} NodeGroup(s), none invalid", input.nodegroups.len()),
            ));
        }

        // VPSieNodes
        let view = nodes::compute(&input.vpsienodes, now, drain_timeout, ns, false);
        for n in view.nodes.iter().filter(|n| n.stuck.is_some()) {
            f.push(bad(
                &format!("vpsienode/{}", n.name),
                Severity::Error,
                n.stuck.clone().unwrap_or_default(),
                format!(
                    "`kubectl describe vn {} -n {ns}`; delete the VPSieNode to have it replaced",
                    n.name
                ),
            ));
        }
        if view.stuck == 0 {
            f.push(ok(
                "vpsienodes",
                format!("{} VPSieNode(s), none stuck", view.nodes.len()),
            ));
        }
    }

    // pending pods
    let no_fit: Vec<String> = report
        .map(|r| {
            r.node_groups
                .iter()
                .filter_map(|(g, rep)| {
                    let d = rep.last_decision.as_ref()?;
                    matches!(d.reason.as_str(), "NoOfferingFits" | "NoOfferingAvailable")
                        .then(|| format!("{g}: {} ({})", d.message, d.reason))
                })
                .collect()
        })
        .unwrap_or_default();
    for m in &no_fit {
        f.push(bad(
            "pending-pods",
            Severity::Error,
            m.clone(),
            "add a larger offering to the group's offeringIDs, or lower the pods' requests",
        ));
    }
    match &input.pods {
        Err(e) => f.push(bad(
            "pending-pods",
            Severity::Warning,
            format!("cannot list pods: {e}"),
            "grant list on pods in all namespaces to check them",
        )),
        Ok(pods) => {
            let stuck = unschedulable_pods(pods, now, pending_for);
            if !stuck.is_empty() {
                let shown: Vec<String> = stuck
                    .iter()
                    .take(5)
                    .map(|(p, since)| format!("{p} ({})", short_duration(now - *since)))
                    .collect();
                let more = stuck.len().saturating_sub(shown.len());
                f.push(bad(
                    "pending-pods",
                    Severity::Warning,
                    format!(
                        "{} pods unschedulable for over {}: {}{}",
                        stuck.len(),
                        short_duration(chrono::Duration::from_std(pending_for).unwrap_or_default()),
                        shown.join(", "),
                        if more > 0 { format!(" and {more} more") } else { String::new() }
                    ),
                    "see `kubectl vpsie status` for each group's last decision (at maxNodes? no offering fits? paused?) and `kubectl describe pod`",
                ));
            } else if no_fit.is_empty() {
                f.push(ok(
                    "pending-pods",
                    format!(
                        "no pod unschedulable for over {}",
                        short_duration(chrono::Duration::from_std(pending_for).unwrap_or_default())
                    ),
                ));
            }
        }
    }

    DoctorView {
        schema_version: SCHEMA_VERSION,
        namespace: ns.to_string(),
        generated_at: now,
        errors: f.iter().filter(|x| x.severity == Severity::Error).count(),
        warnings: f.iter().filter(|x| x.severity == Severity::Warning).count(),
        findings: f,
    }
}

/// The table and the fixes. Pure.
pub fn render(v: &DoctorView) -> String {
    let mut t = plain_table(&["CHECK", "RESULT", "FINDING"]);
    for x in &v.findings {
        t.add_row(vec![
            x.check.clone(),
            match x.severity {
                Severity::Ok => "ok".to_string(),
                Severity::Warning => "WARNING".to_string(),
                Severity::Error => "ERROR".to_string(),
            },
            x.message.clone(),
        ]);
    }
    let mut out = table_text(&t);
    let fixes: Vec<&Finding> = v.findings.iter().filter(|x| x.fix.is_some()).collect();
    if !fixes.is_empty() {
        out.push_str("\nTo fix:\n");
        for x in fixes {
            out.push_str(&format!(
                "  {}: {}\n",
                x.check,
                x.fix.as_deref().unwrap_or_default()
            ));
        }
    }
    out.push_str(&format!("\n{} errors, {} warnings\n", v.errors, v.warnings));
    out
}

/// Reads everything the checks need. Errors of the cluster connection itself end the command;
/// everything else becomes a finding.
pub async fn collect(
    cluster: &Cluster,
    secret_name: &str,
    no_live: bool,
) -> Result<DoctorInput, PluginError> {
    // the namespace's own objects; every namespace is looked at only for stray NodeGroups
    let own = Cluster {
        all_namespaces: false,
        ..cluster.clone()
    };
    let all_groups: Api<NodeGroup> = Api::all(cluster.client.clone());
    let list_all = ListParams::default();
    let (ngs, vns, cm, secret, all_groups) = tokio::join!(
        own.list_nodegroups(),
        own.list_vpsienodes(None),
        own.status_configmap(),
        creds::get_secret(&own, secret_name),
        all_groups.list(&list_all)
    );
    let elsewhere: Vec<NodeGroup> = all_groups
        .map(|l| l.items)
        .unwrap_or_default()
        .into_iter()
        .filter(|ng| ng.metadata.namespace.as_deref() != Some(cluster.namespace.as_str()))
        .collect();
    let (crds, nodegroups, vpsienodes) = match (ngs, vns) {
        (Ok(g), Ok(n)) => (Ok(()), g.items, n),
        (Err(e @ PluginError::CrdsMissing { .. }), _)
        | (_, Err(e @ PluginError::CrdsMissing { .. })) => {
            (Err(e.to_string()), Vec::new(), Vec::new())
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let report = match cm? {
        None => Err(PluginError::ControllerAbsent {
            namespace: cluster.namespace.clone(),
        }
        .to_string()),
        Some(cm) => common::parse_report(&cluster.namespace, &cm).map_err(|e| e.to_string()),
    };
    let secret_ref = format!("{}/{secret_name}", cluster.namespace);
    let (secret, secret_forbidden) = match secret {
        Err(e @ PluginError::Forbidden { .. }) => (
            Err(format!(
                "this identity may not read Secret {secret_ref} ({e})"
            )),
            true,
        ),
        other => (
            creds::secret_credentials(&secret_ref, other?.as_ref()),
            false,
        ),
    };
    let live = match (&secret, no_live) {
        (Ok(s), false) => {
            Some(creds::live_check(&s.base_url_or_default(), &secret_ref, &s.credentials).await)
        }
        _ => None,
    };
    let pods: Api<Pod> = Api::all(cluster.client.clone());
    let pods = pods
        .list(&ListParams::default())
        .await
        .map(|l| l.items)
        .map_err(|e| common::error_chain(&e));
    Ok(DoctorInput {
        crds,
        nodegroups,
        elsewhere,
        vpsienodes,
        report,
        secret_ref,
        secret,
        secret_forbidden,
        live,
        pods,
    })
}

/// `doctor`.
pub async fn run(
    cluster: &Cluster,
    args: &DoctorArgs,
    format: OutputFormat,
) -> Result<(), PluginError> {
    let input = collect(cluster, &args.secret_name, args.no_live).await?;
    let v = compute(
        &input,
        Utc::now(),
        args.pending_for,
        args.drain_timeout,
        &cluster.namespace,
    );
    match common::structured(format, &v) {
        Some(t) => crate::out!("{}", t?),
        None => crate::out!("{}", render(&v)),
    }
    if v.errors > 0 {
        Err(PluginError::Check(format!(
            "doctor found {} error{} (see the fixes above)",
            v.errors,
            if v.errors == 1 { "" } else { "s" }
        )))
    } else {
        Ok(())
    }
}
