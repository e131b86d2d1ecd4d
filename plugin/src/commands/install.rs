//! `install` and `uninstall`: the manifests of `deploy/` (embedded in the binary, the files
//! `deploy/kustomization.yaml` lists, in its order) applied with server-side apply as field
//! manager `kubectl-vpsie`, and removed again.
//!
//! - `install`: CRDs first, each waited for until `Established`; then the ServiceAccount,
//!   RBAC, Deployment, Service, PodDisruptionBudget, and the ServiceMonitor and PrometheusRule
//!   only when the cluster serves `monitoring.coreos.com/v1` (the Prometheus Operator's CRDs):
//!   without them they are skipped with a note, as an operator without Prometheus Operator
//!   expects (applying them would fail with "no matches for kind"). Then it waits until the
//!   Deployment's pods are ready (`--no-wait`, `--timeout`). Readiness is the Deployment's
//!   status (`observedGeneration`, `updatedReplicas`, `readyReplicas`), as `kubectl rollout
//!   status` reads it. In `kubectl vpsie sim` the simulated controllers and kubelets run the
//!   Deployment: its pods are scheduled on the simulated nodes and reported Ready by the
//!   simulated kubelet (the image itself is not run there, and its probes are not called).
//! - The image is `kubectl-vpsie:<--version>` (default: this binary's version).
//! - `--dry-run` touches no cluster: a list of what would be applied, or with `-o yaml|json`
//!   the manifests themselves.
//! - Running it twice changes nothing: the second run reports every object `unchanged`.
//! - `uninstall`: the reverse order; the controller's own objects (the status ConfigMap and the
//!   leader Lease) too; the CRDs last, after a confirmation (deleting them deletes every
//!   NodeGroup and VPSieNode), and not with `--keep-crds`. While VPSieNodes exist it refuses to
//!   delete the CRDs (their VPS would be left running, unmanaged) unless `--force`. The Secret
//!   with the credentials is never deleted.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::cli::OutputFormat;
use crate::commands::common::{self, Cluster, Spinner};
use crate::error::PluginError;

/// One embedded manifest file of `deploy/`.
#[derive(Debug, Clone, Copy)]
pub struct Manifest {
    /// Its path under `deploy/`, as `kustomization.yaml` lists it.
    pub file: &'static str,
    /// Its text.
    pub text: &'static str,
}

macro_rules! manifest {
    ($file:literal) => {
        Manifest {
            file: $file,
            text: include_str!(concat!("../../../deploy/", $file)),
        }
    };
}

/// The manifests, in the order of `deploy/kustomization.yaml` (a test checks it is the same
/// list).
pub const MANIFESTS: &[Manifest] = &[
    manifest!("crds/nodegroups.autoscaler.vpsie.com.yaml"),
    manifest!("crds/vpsienodes.autoscaler.vpsie.com.yaml"),
    manifest!("serviceaccount.yaml"),
    manifest!("rbac-cluster.yaml"),
    manifest!("rbac-namespace.yaml"),
    manifest!("rbac-plugin.yaml"),
    manifest!("deployment.yaml"),
    manifest!("service.yaml"),
    manifest!("poddisruptionbudget.yaml"),
    manifest!("servicemonitor.yaml"),
    manifest!("prometheusrule.yaml"),
];

/// The field manager of every apply.
pub const FIELD_MANAGER: &str = "kubectl-vpsie";

/// The namespace the manifests install into.
pub const NAMESPACE: &str = "kube-system";

/// The Deployment whose pods `install` waits for.
pub const DEPLOYMENT: &str = "vpsie-autoscaler";

/// The image repository of the Deployment (the tag is the version).
pub const IMAGE_REPOSITORY: &str = "kubectl-vpsie";

/// The API group of the Prometheus Operator's kinds.
pub const MONITORING_GROUP_VERSION: &str = "monitoring.coreos.com/v1";

/// One object of the manifests.
#[derive(Debug, Clone)]
pub struct Object {
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` (none for cluster-scoped kinds).
    pub namespace: Option<String>,
    /// Where it is served.
    pub resource: ApiResource,
    /// The object itself, as applied.
    pub value: Value,
}

impl Object {
    /// `kind/name` in lower case, as kubectl prints applied objects.
    pub fn display(&self) -> String {
        let group = self.resource.group.as_str();
        let kind = self.kind.to_lowercase();
        if group.is_empty() {
            format!("{kind}/{}", self.name)
        } else {
            format!("{kind}.{group}/{}", self.name)
        }
    }

    /// Whether this is one of the Prometheus Operator's kinds.
    pub fn is_monitoring(&self) -> bool {
        self.resource.api_version == MONITORING_GROUP_VERSION
    }

    fn is_crd(&self) -> bool {
        self.kind == "CustomResourceDefinition"
    }

    fn api(&self, client: &kube::Client) -> Api<DynamicObject> {
        match &self.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &self.resource),
            None => Api::all_with(client.clone(), &self.resource),
        }
    }
}

/// (kind, plural, namespaced) of every kind the manifests hold.
const KINDS: &[(&str, &str, bool)] = &[
    (
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
    ),
    ("ServiceAccount", "serviceaccounts", true),
    ("ClusterRole", "clusterroles", false),
    ("ClusterRoleBinding", "clusterrolebindings", false),
    ("Role", "roles", true),
    ("RoleBinding", "rolebindings", true),
    ("Deployment", "deployments", true),
    ("Service", "services", true),
    ("PodDisruptionBudget", "poddisruptionbudgets", true),
    ("ServiceMonitor", "servicemonitors", true),
    ("PrometheusRule", "prometheusrules", true),
];

/// Checks `--version`: an image tag (letters, digits, `_`, `.`, `-`; 1-128 characters, not
/// starting with `.` or `-`).
pub fn parse_version(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 128
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !text.starts_with(['.', '-']);
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "invalid version {text:?}: it is the image tag of {IMAGE_REPOSITORY}, 1-128 letters, digits, '_', '.' or '-' not starting with '.' or '-' (e.g. {})",
            env!("CARGO_PKG_VERSION")
        ))
    }
}

/// Every object of the manifests, in apply order, with the Deployment's image set to
/// `kubectl-vpsie:<version>`. Pure.
pub fn objects(version: &str) -> Result<Vec<Object>, PluginError> {
    let mut out = Vec::new();
    for m in MANIFESTS {
        let docs: Vec<Value> = vpsie_autoscaler::yaml::documents(m.text).map_err(|e| {
            PluginError::Config(format!("embedded manifest deploy/{}: {e}", m.file))
        })?;
        for mut value in docs {
            let field = |p: &str| value.pointer(p).and_then(Value::as_str).map(str::to_string);
            let (Some(api_version), Some(kind), Some(name)) = (
                field("/apiVersion"),
                field("/kind"),
                field("/metadata/name"),
            ) else {
                return Err(PluginError::Config(format!(
                    "embedded manifest deploy/{}: a document without apiVersion, kind or metadata.name",
                    m.file
                )));
            };
            let Some((_, plural, namespaced)) = KINDS.iter().find(|(k, _, _)| *k == kind) else {
                return Err(PluginError::Config(format!(
                    "embedded manifest deploy/{}: kind {kind} is not one install knows",
                    m.file
                )));
            };
            let (group, ver) = api_version.split_once('/').unwrap_or(("", &api_version));
            let resource = ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(group, ver, &kind),
                plural,
            );
            let namespace = if *namespaced {
                Some(field("/metadata/namespace").unwrap_or_else(|| NAMESPACE.to_string()))
            } else {
                None
            };
            if kind == "Deployment" {
                set_image_tag(&mut value, version);
            }
            out.push(Object {
                kind,
                name,
                namespace,
                resource,
                value,
            });
        }
    }
    Ok(out)
}

/// Sets the tag of every container image of the `kubectl-vpsie` repository. Pure.
fn set_image_tag(deployment: &mut Value, version: &str) {
    if let Some(containers) = deployment
        .pointer_mut("/spec/template/spec/containers")
        .and_then(Value::as_array_mut)
    {
        for c in containers {
            let is_ours = c
                .get("image")
                .and_then(Value::as_str)
                .is_some_and(|i| i.split(':').next() == Some(IMAGE_REPOSITORY));
            if is_ours {
                c["image"] = json!(format!("{IMAGE_REPOSITORY}:{version}"));
            }
        }
    }
}

/// The manifests as one YAML stream (`---` between documents) or a JSON `List`. Pure.
pub fn render(objects: &[Object], format: OutputFormat) -> Result<String, PluginError> {
    match format {
        OutputFormat::Json => {
            let list = json!({
                "apiVersion": "v1",
                "kind": "List",
                "items": objects.iter().map(|o| o.value.clone()).collect::<Vec<_>>(),
            });
            serde_json::to_string_pretty(&list)
                .map(|s| s + "\n")
                .map_err(|e| PluginError::Api(format!("encoding JSON: {e}")))
        }
        _ => {
            let mut out = String::new();
            for o in objects {
                out.push_str("---\n");
                out.push_str(
                    &vpsie_autoscaler::yaml::to_string(&o.value)
                        .map_err(|e| PluginError::Api(format!("encoding YAML: {e}")))?,
                );
            }
            Ok(out)
        }
    }
}

/// What happened to one object.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// `kind`.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `created`, `configured`, `unchanged`, `skipped`, `deleted`, `not found`, `would apply`.
    pub action: String,
    /// Why, when skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Outcome {
    fn of(o: &Object, action: &str, note: Option<String>) -> Self {
        Self {
            kind: o.kind.clone(),
            name: o.name.clone(),
            namespace: o.namespace.clone(),
            action: action.to_string(),
            note,
        }
    }
}

/// The object without what the server owns (status, resourceVersion, managedFields...), to
/// tell whether an apply changed anything. Pure.
fn comparable(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["resourceVersion", "managedFields", "generation"] {
            m.remove(k);
        }
    }
    v
}

/// `created`, `configured` or `unchanged`, from the object before and after the apply. Pure.
pub fn apply_action(before: Option<&Value>, after: &Value) -> &'static str {
    match before {
        None => "created",
        Some(b) if comparable(b) == comparable(after) => "unchanged",
        Some(_) => "configured",
    }
}

/// A failed request as one line: what was being done, the server's words and the fix.
fn request_error(e: kube::Error, verb: &str, what: &str, cluster: &Cluster) -> PluginError {
    match e {
        kube::Error::Api(s) if s.code == 403 => PluginError::Api(format!(
            "forbidden: cannot {verb} {what} ({}); install needs cluster-admin rights (it creates CRDs and ClusterRoles): use an admin kubeconfig/--context, check with `kubectl auth can-i {verb} {}`",
            s.message,
            what.split('/').next().unwrap_or(what)
        )),
        kube::Error::Api(s) => PluginError::Api(format!(
            "{verb} {what} failed: {} ({} {}); fix the cause and run the command again",
            s.message, s.code, s.reason
        )),
        other => PluginError::Unreachable {
            url: cluster.url.clone(),
            problem: common::error_chain(&other),
        },
    }
}

/// Whether the cluster serves ServiceMonitors and PrometheusRules.
async fn monitoring_served(cluster: &Cluster) -> Result<bool, PluginError> {
    match cluster
        .client
        .list_api_group_resources(MONITORING_GROUP_VERSION)
        .await
    {
        Ok(list) => Ok(["servicemonitors", "prometheusrules"]
            .iter()
            .all(|r| list.resources.iter().any(|x| x.name == *r))),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
        Err(e) => Err(request_error(
            e,
            "discover",
            MONITORING_GROUP_VERSION,
            cluster,
        )),
    }
}

async fn apply_one(cluster: &Cluster, o: &Object) -> Result<Outcome, PluginError> {
    let api = o.api(&cluster.client);
    let what = o.display();
    let before = api
        .get_opt(&o.name)
        .await
        .map_err(|e| request_error(e, "get", &what, cluster))?;
    let before = before
        .map(|b| serde_json::to_value(b).unwrap_or(Value::Null))
        .filter(|b| !b.is_null());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let after = api
        .patch(&o.name, &params, &Patch::Apply(&o.value))
        .await
        .map_err(|e| request_error(e, "apply", &what, cluster))?;
    let after = serde_json::to_value(after).unwrap_or(Value::Null);
    Ok(Outcome::of(o, apply_action(before.as_ref(), &after), None))
}

fn established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
}

/// Whether the Deployment has rolled out: its controller saw the newest spec and every
/// replica is updated and ready (what `kubectl rollout status` waits for). Pure.
pub fn rolled_out(d: &Deployment) -> bool {
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let generation = d.metadata.generation.unwrap_or(0);
    let Some(s) = d.status.as_ref() else {
        return false;
    };
    s.observed_generation.unwrap_or(0) >= generation
        && s.updated_replicas.unwrap_or(0) >= want
        && s.ready_replicas.unwrap_or(0) >= want
        && s.replicas.unwrap_or(0) <= s.updated_replicas.unwrap_or(0)
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

fn check_namespace(cluster: &Cluster, command: &str) -> Result<(), PluginError> {
    if cluster.namespace == NAMESPACE {
        Ok(())
    } else {
        Err(PluginError::Config(format!(
            "-n {}: {command} uses the namespace of deploy/'s manifests, {NAMESPACE}; drop -n (or use the Helm chart deploy/helm/vpsie-autoscaler, whose namespace is the release's)",
            cluster.namespace
        )))
    }
}

/// Options of `install`.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The image tag.
    pub version: String,
    /// Touch nothing; print what would be applied.
    pub dry_run: bool,
    /// Return once applied.
    pub no_wait: bool,
    /// How long to wait for the CRDs and the Deployment.
    pub timeout: Duration,
}

fn print_outcome(o: &Outcome, format: OutputFormat) {
    if common::structured(format, &()).is_some() {
        return;
    }
    let ns = o
        .namespace
        .as_deref()
        .map(|n| format!(" (namespace {n})"))
        .unwrap_or_default();
    let kind = o.kind.to_lowercase();
    match &o.note {
        Some(note) => crate::outln!("{kind}/{}{ns} {}: {note}", o.name, o.action),
        None => crate::outln!("{kind}/{}{ns} {}", o.name, o.action),
    }
}

/// `install`.
pub async fn install(
    cluster: Option<&Cluster>,
    opts: &InstallOptions,
    format: OutputFormat,
) -> Result<(), PluginError> {
    let objects = objects(&opts.version)?;
    if opts.dry_run {
        if let Some(text) = common::structured(format, &()) {
            text?;
            crate::out!("{}", render(&objects, format)?);
            return Ok(());
        }
        for o in &objects {
            let ns = o
                .namespace
                .as_deref()
                .map(|n| format!(" (namespace {n})"))
                .unwrap_or_default();
            let note = if o.is_monitoring() {
                format!(" [only when the cluster serves {MONITORING_GROUP_VERSION}]")
            } else {
                String::new()
            };
            crate::outln!("would apply {}/{}{ns}{note}", o.kind.to_lowercase(), o.name);
        }
        crate::outln!(
            "(dry run: nothing was sent to a cluster; image {IMAGE_REPOSITORY}:{}; server-side apply as field manager {FIELD_MANAGER})",
            opts.version
        );
        return Ok(());
    }
    let cluster = cluster.ok_or_else(|| PluginError::Config("no cluster".into()))?;
    check_namespace(cluster, "install")?;
    let deadline = Instant::now() + opts.timeout;
    let monitoring = monitoring_served(cluster).await?;
    let mut outcomes = Vec::new();

    // CRDs first, each until Established, so the NodeGroup/VPSieNode kinds are served
    // before the controller starts watching them.
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
    for o in objects.iter().filter(|o| o.is_crd()) {
        let outcome = apply_one(cluster, o).await?;
        print_outcome(&outcome, format);
        outcomes.push(outcome);
        let ok = common::wait_for_object(crds.clone(), &o.name, remaining(deadline), established)
            .await
            .map_err(|e| {
                request_error(
                    e,
                    "watch",
                    &format!("customresourcedefinitions/{}", o.name),
                    cluster,
                )
            })?;
        if ok.is_none() {
            return Err(PluginError::Timeout(format!(
                "CustomResourceDefinition {} was not Established within {}s: see its conditions with `kubectl get crd {} -o yaml` (a name conflict or an invalid schema), or raise --timeout",
                o.name,
                opts.timeout.as_secs(),
                o.name
            )));
        }
    }
    for o in objects.iter().filter(|o| !o.is_crd()) {
        let outcome = if o.is_monitoring() && !monitoring {
            Outcome::of(
                o,
                "skipped",
                Some(format!(
                    "the cluster does not serve {MONITORING_GROUP_VERSION} (no Prometheus Operator CRDs); install the operator and run install again to get it"
                )),
            )
        } else {
            apply_one(cluster, o).await?
        };
        print_outcome(&outcome, format);
        outcomes.push(outcome);
    }
    if let Some(text) = common::structured(format, &outcomes) {
        crate::out!("{}", text?);
    }

    let secrets: Api<k8s_openapi::api::core::v1::Secret> =
        Api::namespaced(cluster.client.clone(), NAMESPACE);
    let secret = vpsie_autoscaler::sim::world::SECRET_NAME;
    match secrets.get_metadata_opt(secret).await {
        Ok(Some(_)) => {}
        Ok(None) => eprintln!(
            "note: Secret {NAMESPACE}/{secret} (the VPSie credentials) does not exist: create it with `kubectl vpsie creds rotate` or from deploy/secret.example.yaml; the controller cannot manage VPS until it exists"
        ),
        Err(e) => tracing::debug!(error = %e, "cannot check the Secret"),
    }
    if opts.no_wait {
        return Ok(());
    }
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), NAMESPACE);
    let spinner = Spinner::start(format!(
        "waiting for deployment {NAMESPACE}/{DEPLOYMENT} to be ready (at most {}s)...",
        remaining(deadline).as_secs()
    ));
    let done = common::wait_for_object(
        deployments.clone(),
        DEPLOYMENT,
        remaining(deadline),
        rolled_out,
    )
    .await
    .map_err(|e| request_error(e, "watch", &format!("deployments/{DEPLOYMENT}"), cluster));
    spinner.stop();
    match done? {
        Some(d) => {
            let ready = d.status.and_then(|s| s.ready_replicas).unwrap_or(0);
            if common::structured(format, &()).is_none() {
                crate::outln!("deployment/{DEPLOYMENT} ready ({ready} ready replicas)");
            } else {
                eprintln!("deployment/{DEPLOYMENT} ready ({ready} ready replicas)");
            }
            Ok(())
        }
        None => {
            let now = deployments.get_opt(DEPLOYMENT).await.ok().flatten();
            let (ready, want) = now
                .map(|d| {
                    (
                        d.status.and_then(|s| s.ready_replicas).unwrap_or(0),
                        d.spec.and_then(|s| s.replicas).unwrap_or(1),
                    )
                })
                .unwrap_or((0, 0));
            Err(PluginError::Timeout(format!(
                "deployment {NAMESPACE}/{DEPLOYMENT} has {ready}/{want} ready replicas after {}s: see why with `kubectl get pods -n {NAMESPACE} -l app.kubernetes.io/name=vpsie-autoscaler` and `kubectl describe` them (image pull, the Secret, nodes to run on), raise --timeout, or pass --no-wait",
                opts.timeout.as_secs()
            )))
        }
    }
}

/// Options of `uninstall`.
#[derive(Debug, Clone)]
pub struct UninstallOptions {
    /// Do not ask before deleting the CRDs.
    pub yes: bool,
    /// Leave the CRDs (and so every NodeGroup and VPSieNode).
    pub keep_crds: bool,
    /// Delete the CRDs even though VPSieNodes exist (their VPS are left running).
    pub force: bool,
    /// How long to wait for the controller's pods and the CRDs to go.
    pub timeout: Duration,
}

/// The finalizers of the controller (NodeGroup, VPSieNode), removed before the CRDs go when
/// the controller no longer runs to remove them itself.
const FINALIZERS: &[&str] = &[
    vpsie_reconciler::nodegroup::FINALIZER,
    vpsie_reconciler::vpsienode::FINALIZER,
];

/// The CRD-served kind `plural` of `autoscaler.vpsie.com/v1alpha1`.
fn ours(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("autoscaler.vpsie.com", "v1alpha1", kind),
        plural,
    )
}

/// Names (namespace, name) of every object of `plural`; empty when the CRD is not installed.
async fn list_ours(
    cluster: &Cluster,
    kind: &str,
    plural: &str,
) -> Result<Vec<DynamicObject>, PluginError> {
    let api: Api<DynamicObject> = Api::all_with(cluster.client.clone(), &ours(kind, plural));
    match api.list(&ListParams::default()).await {
        Ok(l) => Ok(l.items),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Vec::new()),
        Err(e) => Err(request_error(e, "list", plural, cluster)),
    }
}

async fn delete_one(
    cluster: &Cluster,
    api: Api<DynamicObject>,
    what: &str,
    name: &str,
) -> Result<&'static str, PluginError> {
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok("deleted"),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok("not found"),
        Err(e) => Err(request_error(e, "delete", what, cluster)),
    }
}

fn confirm_crds(opts: &UninstallOptions, groups: usize) -> Result<bool, PluginError> {
    if opts.yes {
        return Ok(true);
    }
    let what = format!(
        "deleting the CRDs deletes every NodeGroup ({groups} now) and VPSieNode of the cluster"
    );
    if !common::interactive() {
        return Err(PluginError::Refused(format!(
            "{what}: pass --yes to confirm, or --keep-crds to keep them (no terminal to ask on)"
        )));
    }
    dialoguer::Confirm::new()
        .with_prompt(format!("Uninstall the VPSie autoscaler? {what}."))
        .default(false)
        .interact()
        .map_err(|e| {
            PluginError::Refused(format!(
                "no confirmation: {e}; pass --yes to uninstall without a prompt"
            ))
        })
}

/// `uninstall`.
pub async fn uninstall(
    cluster: &Cluster,
    opts: &UninstallOptions,
    format: OutputFormat,
) -> Result<(), PluginError> {
    check_namespace(cluster, "uninstall")?;
    let deadline = Instant::now() + opts.timeout;
    let objects = objects(env!("CARGO_PKG_VERSION"))?;
    let nodes = list_ours(cluster, "VPSieNode", "vpsienodes").await?;
    let groups = list_ours(cluster, "NodeGroup", "nodegroups").await?;
    if !nodes.is_empty() && !opts.keep_crds && !opts.force {
        return Err(PluginError::Refused(format!(
            "{} VPSieNode(s) exist: deleting the CRDs would leave their VPS running and unmanaged; scale every NodeGroup to zero first (delete the NodeGroups, `kubectl delete nodegroups --all -n {NAMESPACE}`, and wait until `kubectl get vpsienodes -A` lists none: the controller deletes their VPS), or pass --keep-crds to keep them, or --force to leave the VPS running",
            nodes.len()
        )));
    }
    if !opts.keep_crds && !confirm_crds(opts, groups.len())? {
        crate::outln!("not uninstalled");
        return Ok(());
    }
    if !nodes.is_empty() {
        eprintln!(
            "warning: {} VPSieNode(s) exist; their VPS keep running without a controller{}",
            nodes.len(),
            if opts.keep_crds {
                " until you install again (the NodeGroups and VPSieNodes are kept)"
            } else {
                " and are no longer tracked (--force)"
            }
        );
    }
    let mut outcomes = Vec::new();
    let mut record = |o: &Object, action: &str| {
        let outcome = Outcome::of(o, action, None);
        print_outcome(&outcome, format);
        outcomes.push(outcome);
    };
    for o in objects.iter().rev().filter(|o| !o.is_crd()) {
        let action = delete_one(cluster, o.api(&cluster.client), &o.display(), &o.name)
            .await
            .or_else(|e| match e {
                // the monitoring kinds are not served: nothing of theirs to delete
                _ if o.is_monitoring() => Ok("not found"),
                e => Err(e),
            })?;
        record(o, action);
    }
    // The controller's own objects: its status report and its leader Lease.
    for (kind, plural, group, version, name) in [
        (
            "ConfigMap",
            "configmaps",
            "",
            "v1",
            vpsie_reconciler::report::STATUS_CONFIGMAP,
        ),
        (
            "Lease",
            "leases",
            "coordination.k8s.io",
            "v1",
            "vpsie-autoscaler-leader",
        ),
    ] {
        let resource =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        let api = Api::namespaced_with(cluster.client.clone(), NAMESPACE, &resource);
        let action = delete_one(cluster, api, &format!("{plural}/{name}"), name).await?;
        let o = Object {
            kind: kind.to_string(),
            name: name.to_string(),
            namespace: Some(NAMESPACE.to_string()),
            resource,
            value: Value::Null,
        };
        record(&o, action);
    }
    if !opts.keep_crds {
        // The controller's pods must be gone before its finalizers are removed, or a
        // terminating replica could add them back.
        let pods: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(cluster.client.clone(), NAMESPACE);
        let selector = ListParams::default().labels("app.kubernetes.io/name=vpsie-autoscaler");
        loop {
            let left = pods
                .list_metadata(&selector)
                .await
                .map_err(|e| request_error(e, "list", "pods", cluster))?
                .items
                .len();
            if left == 0 {
                break;
            }
            if remaining(deadline).is_zero() {
                return Err(PluginError::Timeout(format!(
                    "{left} pod(s) of the controller are still terminating after {}s (`kubectl get pods -n {NAMESPACE} -l app.kubernetes.io/name=vpsie-autoscaler`); run uninstall again once they are gone, or raise --timeout",
                    opts.timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        for (kind, plural) in [("VPSieNode", "vpsienodes"), ("NodeGroup", "nodegroups")] {
            for obj in list_ours(cluster, kind, plural).await? {
                let kept: Vec<String> = obj
                    .metadata
                    .finalizers
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|f| !FINALIZERS.contains(&f.as_str()))
                    .collect();
                if kept.len() == obj.metadata.finalizers.as_ref().map_or(0, Vec::len) {
                    continue;
                }
                let ns = obj.metadata.namespace.clone().unwrap_or_default();
                let name = obj.metadata.name.clone().unwrap_or_default();
                let api: Api<DynamicObject> =
                    Api::namespaced_with(cluster.client.clone(), &ns, &ours(kind, plural));
                let patch = json!({"metadata": {"finalizers": kept}});
                match api
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => {
                        return Err(request_error(
                            e,
                            "patch",
                            &format!("{plural}/{name} (its finalizers)"),
                            cluster,
                        ))
                    }
                }
            }
        }
        let crds: Api<CustomResourceDefinition> = Api::all(cluster.client.clone());
        for o in objects.iter().rev().filter(|o| o.is_crd()) {
            let action = delete_one(cluster, o.api(&cluster.client), &o.display(), &o.name).await?;
            record(o, action);
        }
        for o in objects.iter().filter(|o| o.is_crd()) {
            loop {
                match crds.get_metadata_opt(&o.name).await {
                    Ok(None) => break,
                    Ok(Some(_)) if remaining(deadline).is_zero() => {
                        return Err(PluginError::Timeout(format!(
                            "CustomResourceDefinition {} is still terminating after {}s: see what holds it with `kubectl get crd {} -o yaml` (status.conditions), or raise --timeout",
                            o.name,
                            opts.timeout.as_secs(),
                            o.name
                        )))
                    }
                    Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(250)).await,
                    Err(e) => return Err(request_error(e, "get", &o.display(), cluster)),
                }
            }
        }
    }
    if let Some(text) = common::structured(format, &outcomes) {
        crate::out!("{}", text?);
    }
    eprintln!(
        "kept Secret {NAMESPACE}/{} (your VPSie credentials): delete it with `kubectl delete secret {} -n {NAMESPACE}` if you no longer need it",
        vpsie_autoscaler::sim::world::SECRET_NAME,
        vpsie_autoscaler::sim::world::SECRET_NAME
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_manifests_are_the_kustomization_resources_in_order() {
        let k: Value =
            vpsie_autoscaler::yaml::from_str(include_str!("../../../deploy/kustomization.yaml"))
                .expect("kustomization parses");
        let listed: Vec<&str> = k["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .map(|r| r.as_str().expect("a path"))
            .collect();
        let embedded: Vec<&str> = MANIFESTS.iter().map(|m| m.file).collect();
        assert_eq!(embedded, listed);
    }

    #[test]
    fn objects_are_in_apply_order_with_the_image_tag_of_the_version() {
        let objs = objects("9.8.7").expect("parse");
        let kinds: Vec<&str> = objs.iter().map(|o| o.kind.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "CustomResourceDefinition",
                "CustomResourceDefinition",
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "Role",
                "RoleBinding",
                "ClusterRole",
                "ClusterRole",
                "Deployment",
                "Service",
                "PodDisruptionBudget",
                "ServiceMonitor",
                "PrometheusRule"
            ]
        );
        let d = objs.iter().find(|o| o.kind == "Deployment").unwrap();
        assert_eq!(
            d.value["spec"]["template"]["spec"]["containers"][0]["image"],
            "kubectl-vpsie:9.8.7"
        );
        for o in &objs {
            assert_eq!(
                o.namespace.is_some(),
                !matches!(
                    o.kind.as_str(),
                    "CustomResourceDefinition" | "ClusterRole" | "ClusterRoleBinding"
                ),
                "{}",
                o.kind
            );
        }
        assert_eq!(
            objs.iter().filter(|o| o.is_monitoring()).count(),
            2,
            "ServiceMonitor and PrometheusRule"
        );
        assert_eq!(
            objs[0].display(),
            "customresourcedefinition.apiextensions.k8s.io/nodegroups.autoscaler.vpsie.com"
        );
    }

    #[test]
    fn versions_are_image_tags() {
        assert_eq!(parse_version("0.1.0").unwrap(), "0.1.0");
        assert_eq!(parse_version("v1.2.3-rc_1").unwrap(), "v1.2.3-rc_1");
        for bad in ["", "-x", ".x", "a b", "1.0:latest", &"x".repeat(129)] {
            let e = parse_version(bad).unwrap_err();
            assert!(
                e.contains("invalid version") && e.contains("image tag"),
                "{e}"
            );
        }
    }

    #[test]
    fn apply_actions_ignore_what_the_server_owns() {
        let a = json!({"metadata": {"name": "x", "resourceVersion": "1"}, "spec": {"a": 1}, "status": {"r": 0}});
        let b = json!({"metadata": {"name": "x", "resourceVersion": "2", "generation": 2}, "spec": {"a": 1}, "status": {"r": 2}});
        let c = json!({"metadata": {"name": "x", "resourceVersion": "3"}, "spec": {"a": 2}});
        assert_eq!(apply_action(None, &a), "created");
        assert_eq!(apply_action(Some(&a), &b), "unchanged");
        assert_eq!(apply_action(Some(&a), &c), "configured");
    }

    #[test]
    fn a_deployment_is_rolled_out_when_every_replica_is_updated_and_ready() {
        let d = |generation: i64, observed: i64, updated: i32, ready: i32, replicas: i32| {
            serde_json::from_value::<Deployment>(json!({
                "metadata": {"name": "d", "generation": generation},
                "spec": {"replicas": 2, "selector": {}, "template": {}},
                "status": {"observedGeneration": observed, "updatedReplicas": updated, "readyReplicas": ready, "replicas": replicas},
            }))
            .unwrap()
        };
        assert!(rolled_out(&d(1, 1, 2, 2, 2)));
        assert!(!rolled_out(&d(2, 1, 2, 2, 2)), "old generation observed");
        assert!(!rolled_out(&d(1, 1, 2, 1, 2)), "one not ready");
        assert!(!rolled_out(&d(1, 1, 2, 2, 3)), "an old replica left");
        assert!(!rolled_out(
            &serde_json::from_value::<Deployment>(json!({"metadata": {"name": "d"}})).unwrap()
        ));
    }

    #[test]
    fn dry_run_yaml_is_every_document_of_the_manifests() {
        let objs = objects(env!("CARGO_PKG_VERSION")).unwrap();
        let text = render(&objs, OutputFormat::Yaml).unwrap();
        assert_eq!(text.matches("---\n").count(), objs.len(), "{text}");
        let docs: Vec<Value> = vpsie_autoscaler::yaml::documents(&text).unwrap();
        assert_eq!(docs.len(), objs.len());
        let json: Value =
            serde_json::from_str(&render(&objs, OutputFormat::Json).unwrap()).unwrap();
        assert_eq!(json["kind"], "List");
        assert_eq!(json["items"].as_array().unwrap().len(), objs.len());
    }
}
