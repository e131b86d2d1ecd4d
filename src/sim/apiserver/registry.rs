//! The resource registry: which resources the server serves, builtin and CRD-defined.
//!
//! Each served group/version/resource has a [`ResourceInfo`]. Storage is shared by all versions
//! of a resource ([`ResKey`] = group + plural), so a CRD with two served versions stores each
//! object once.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::error::StatusError;
use super::table;

/// Storage key of a resource: (group, plural).
pub type ResKey = Arc<(String, String)>;

/// How a table cell is computed.
#[derive(Clone)]
pub enum ColumnSource {
    /// A simple JSONPath like `.spec.minNodes` (CRD `additionalPrinterColumns`).
    Path(String),
    /// Age since `metadata.creationTimestamp`, humanised (`5m`, `3d4h`).
    Age,
    /// A computed cell for builtin kinds.
    Func(fn(&Value, DateTime<Utc>) -> Value),
}

impl std::fmt::Debug for ColumnSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Path(p) => write!(f, "Path({p})"),
            Self::Age => write!(f, "Age"),
            Self::Func(_) => write!(f, "Func"),
        }
    }
}

/// One printer column of `kubectl get`.
#[derive(Debug, Clone)]
pub struct Column {
    /// Header, e.g. `MIN`.
    pub name: String,
    /// OpenAPI type: `string`, `integer`, `number`, `boolean`, `date`.
    pub type_: String,
    /// Description shown by `kubectl get -o wide` help.
    pub description: String,
    /// 0 = always shown; >0 = only with `-o wide`.
    pub priority: i32,
    /// Where the value comes from.
    pub source: ColumnSource,
}

impl Column {
    fn new(name: &str, type_: &str, priority: i32, source: ColumnSource) -> Self {
        Self {
            name: name.to_string(),
            type_: type_.to_string(),
            description: String::new(),
            priority,
            source,
        }
    }
}

/// Everything the server knows about one served group/version/resource.
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    /// API group (`""` for core).
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Pod`.
    pub kind: String,
    /// List kind, e.g. `PodList`.
    pub list_kind: String,
    /// Plural resource name, e.g. `pods`.
    pub plural: String,
    /// Singular name, e.g. `pod`.
    pub singular: String,
    /// Short names, e.g. `po`.
    pub short_names: Vec<String>,
    /// Categories, e.g. `all`.
    pub categories: Vec<String>,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Has a `status` subresource (status writes through the main resource are ignored).
    pub has_status: bool,
    /// Extra subresources served (e.g. `binding`, `eviction`).
    pub extra_subresources: Vec<String>,
    /// Printer columns after NAME.
    pub columns: Vec<Column>,
    /// Field selector labels accepted besides `metadata.name`/`metadata.namespace`.
    pub field_selectors: Vec<String>,
    /// For custom resources: the version's `openAPIV3Schema`.
    pub schema: Option<Arc<Value>>,
    /// A custom resource (refuses strategic merge patches like the real server).
    pub custom: bool,
    /// Where the objects live: (group, plural) of the storage, shared by every version and by
    /// `events.k8s.io` events with core events.
    pub storage: (String, String),
    /// A create-only review (`selfsubjectaccessreviews`): answered, never stored.
    pub review: bool,
}

impl ResourceInfo {
    /// `apiVersion` of the objects: `v1` or `group/version`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group` (or `plural` for core), as in error messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Storage key.
    pub fn key(&self) -> ResKey {
        Arc::new(self.storage.clone())
    }

    /// Whether objects are stored in another API's form (`events.k8s.io` events).
    pub fn converts(&self) -> bool {
        self.group == "events.k8s.io"
    }

    /// `404 NotFound` for `name` of this resource.
    pub fn not_found(&self, name: &str) -> StatusError {
        StatusError::not_found(&self.qualified(), (&self.plural, &self.group), name)
    }

    /// The verbs advertised in discovery.
    pub fn verbs(&self) -> Vec<&'static str> {
        if self.review {
            return vec!["create"];
        }
        vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}

/// All served resources, indexed by (group, version, plural).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    by_gvr: BTreeMap<(String, String, String), Arc<ResourceInfo>>,
    /// Group order for discovery (core first, then builtin groups, then CRD groups).
    group_order: Vec<String>,
    /// Preferred version per group.
    preferred: BTreeMap<String, String>,
}

impl Registry {
    /// The registry with every builtin resource.
    pub fn builtin() -> Self {
        let mut r = Self::default();
        for info in builtin_resources() {
            r.insert(info);
        }
        r
    }

    /// Adds or replaces a resource.
    pub fn insert(&mut self, info: ResourceInfo) {
        if !self.group_order.contains(&info.group) {
            self.group_order.push(info.group.clone());
        }
        self.preferred
            .entry(info.group.clone())
            .or_insert_with(|| info.version.clone());
        self.by_gvr.insert(
            (
                info.group.clone(),
                info.version.clone(),
                info.plural.clone(),
            ),
            Arc::new(info),
        );
    }

    /// Removes every version of `group`/`plural`.
    pub fn remove(&mut self, group: &str, plural: &str) {
        self.by_gvr
            .retain(|(g, _, p), _| !(g == group && p == plural));
        if !self.by_gvr.keys().any(|(g, _, _)| g == group) {
            self.group_order.retain(|g| g != group);
            self.preferred.remove(group);
        } else if let Some(v) = self.preferred.get(group).cloned() {
            if !self
                .by_gvr
                .keys()
                .any(|(g, ver, _)| g == group && *ver == v)
            {
                if let Some((_, ver, _)) = self.by_gvr.keys().find(|(g, _, _)| g == group) {
                    self.preferred.insert(group.to_string(), ver.clone());
                }
            }
        }
    }

    /// The resource served at `group`/`version`/`plural`.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceInfo>> {
        self.by_gvr
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// The resource of kind `kind` in `group`/`version`.
    pub fn by_kind(&self, group: &str, version: &str, kind: &str) -> Option<Arc<ResourceInfo>> {
        self.by_gvr
            .values()
            .find(|i| i.group == group && i.version == version && i.kind == kind)
            .cloned()
    }

    /// Every served resource of one group/version.
    pub fn resources_of(&self, group: &str, version: &str) -> Vec<Arc<ResourceInfo>> {
        self.by_gvr
            .values()
            .filter(|i| i.group == group && i.version == version)
            .cloned()
            .collect()
    }

    /// Every served resource.
    pub fn all(&self) -> impl Iterator<Item = &Arc<ResourceInfo>> {
        self.by_gvr.values()
    }

    /// Groups in discovery order with their versions (preferred first).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        self.group_order
            .iter()
            .map(|g| {
                let mut versions: Vec<String> = Vec::new();
                if let Some(p) = self.preferred.get(g) {
                    versions.push(p.clone());
                }
                for (gg, v, _) in self.by_gvr.keys() {
                    if gg == g && !versions.contains(v) {
                        versions.push(v.clone());
                    }
                }
                (g.clone(), versions)
            })
            .collect()
    }

    /// Whether any resource of `group`/`version` is served.
    pub fn has_group_version(&self, group: &str, version: &str) -> bool {
        self.by_gvr
            .keys()
            .any(|(g, v, _)| g == group && v == version)
    }
}

fn base(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    short: &[&str],
    namespaced: bool,
) -> ResourceInfo {
    ResourceInfo {
        group: group.to_string(),
        version: version.to_string(),
        kind: kind.to_string(),
        list_kind: format!("{kind}List"),
        plural: plural.to_string(),
        singular: kind.to_lowercase(),
        short_names: short.iter().map(|s| s.to_string()).collect(),
        categories: Vec::new(),
        namespaced,
        has_status: false,
        extra_subresources: Vec::new(),
        columns: vec![Column::new("Age", "string", 0, ColumnSource::Age)],
        field_selectors: Vec::new(),
        schema: None,
        custom: false,
        storage: (group.to_string(), plural.to_string()),
        review: false,
    }
}

fn cols(list: Vec<Column>) -> Vec<Column> {
    list
}

fn f(name: &str, priority: i32, func: fn(&Value, DateTime<Utc>) -> Value) -> Column {
    Column::new(name, "string", priority, ColumnSource::Func(func))
}

fn age() -> Column {
    Column::new("Age", "string", 0, ColumnSource::Age)
}

/// The builtin resources of the simulated cluster.
pub fn builtin_resources() -> Vec<ResourceInfo> {
    let mut out = Vec::new();

    let mut ns = base("", "v1", "Namespace", "namespaces", &["ns"], false);
    ns.has_status = true;
    ns.columns = cols(vec![f("Status", 0, table::namespace_status), age()]);
    ns.field_selectors = vec!["status.phase".into()];
    out.push(ns);

    let mut node = base("", "v1", "Node", "nodes", &["no"], false);
    node.has_status = true;
    node.columns = cols(vec![
        f("Status", 0, table::node_status),
        f("Roles", 0, table::node_roles),
        age(),
        f("Version", 0, |o, _| {
            table::path_value(o, ".status.nodeInfo.kubeletVersion").unwrap_or(json!(""))
        }),
        f("Internal-IP", 1, table::node_internal_ip),
    ]);
    node.field_selectors = vec!["spec.unschedulable".into(), "spec.providerID".into()];
    out.push(node);

    let mut pod = base("", "v1", "Pod", "pods", &["po"], true);
    pod.has_status = true;
    pod.categories = vec!["all".into()];
    pod.extra_subresources = vec!["binding".into(), "eviction".into()];
    pod.columns = cols(vec![
        f("Ready", 0, table::pod_ready),
        f("Status", 0, table::pod_status),
        Column::new(
            "Restarts",
            "string",
            0,
            ColumnSource::Func(table::pod_restarts),
        ),
        age(),
        f("IP", 1, |o, _| {
            table::path_value(o, ".status.podIP").unwrap_or(json!("<none>"))
        }),
        f("Node", 1, |o, _| {
            table::path_value(o, ".spec.nodeName").unwrap_or(json!("<none>"))
        }),
    ]);
    pod.field_selectors = vec![
        "spec.nodeName".into(),
        "spec.restartPolicy".into(),
        "spec.schedulerName".into(),
        "spec.serviceAccountName".into(),
        "spec.hostNetwork".into(),
        "status.phase".into(),
        "status.podIP".into(),
        "status.nominatedNodeName".into(),
    ];
    out.push(pod);

    let event_selectors: Vec<String> = [
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut ev = base("", "v1", "Event", "events", &["ev"], true);
    ev.columns = cols(vec![
        f("Last Seen", 0, table::event_last_seen),
        f("Type", 0, |o, _| {
            table::path_value(o, ".type").unwrap_or(json!(""))
        }),
        f("Reason", 0, |o, _| {
            table::path_value(o, ".reason").unwrap_or(json!(""))
        }),
        f("Object", 0, table::event_object),
        f("Message", 0, |o, _| {
            table::path_value(o, ".message").unwrap_or(json!(""))
        }),
    ]);
    ev.field_selectors = event_selectors.clone();
    out.push(ev);

    let mut secret = base("", "v1", "Secret", "secrets", &[], true);
    secret.columns = cols(vec![
        f("Type", 0, |o, _| {
            table::path_value(o, ".type").unwrap_or(json!("Opaque"))
        }),
        f("Data", 0, table::data_count),
        age(),
    ]);
    secret.field_selectors = vec!["type".into()];
    out.push(secret);

    let mut cm = base("", "v1", "ConfigMap", "configmaps", &["cm"], true);
    cm.columns = cols(vec![f("Data", 0, table::data_count), age()]);
    out.push(cm);

    let mut svc = base("", "v1", "Service", "services", &["svc"], true);
    svc.has_status = true;
    svc.categories = vec!["all".into()];
    svc.columns = cols(vec![
        f("Type", 0, |o, _| {
            table::path_value(o, ".spec.type").unwrap_or(json!("ClusterIP"))
        }),
        f("Cluster-IP", 0, |o, _| {
            table::path_value(o, ".spec.clusterIP").unwrap_or(json!("<none>"))
        }),
        age(),
    ]);
    out.push(svc);

    let mut sa = base("", "v1", "ServiceAccount", "serviceaccounts", &["sa"], true);
    sa.columns = cols(vec![age()]);
    // TokenRequest (`kubectl create token`)
    sa.extra_subresources = vec!["token".into()];
    out.push(sa);

    let mut lease = base("coordination.k8s.io", "v1", "Lease", "leases", &[], true);
    lease.columns = cols(vec![
        f("Holder", 0, |o, _| {
            table::path_value(o, ".spec.holderIdentity").unwrap_or(json!(""))
        }),
        age(),
    ]);
    out.push(lease);

    let mut ev2 = base("events.k8s.io", "v1", "Event", "events", &["ev"], true);
    ev2.columns = cols(vec![
        f("Type", 0, |o, _| {
            table::path_value(o, ".type").unwrap_or(json!(""))
        }),
        f("Reason", 0, |o, _| {
            table::path_value(o, ".reason").unwrap_or(json!(""))
        }),
        f("Note", 0, |o, _| {
            table::path_value(o, ".note").unwrap_or(json!(""))
        }),
        age(),
    ]);
    ev2.storage = (String::new(), "events".to_string());
    ev2.field_selectors = [
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "reason",
        "reportingController",
        "type",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    out.push(ev2);

    let mut pdb = base(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        &["pdb"],
        true,
    );
    pdb.has_status = true;
    pdb.columns = cols(vec![
        f("Min Available", 0, |o, _| {
            table::path_value(o, ".spec.minAvailable").unwrap_or(json!("N/A"))
        }),
        f("Max Unavailable", 0, |o, _| {
            table::path_value(o, ".spec.maxUnavailable").unwrap_or(json!("N/A"))
        }),
        f("Allowed Disruptions", 0, |o, _| {
            table::path_value(o, ".status.disruptionsAllowed").unwrap_or(json!(0))
        }),
        age(),
    ]);
    out.push(pdb);

    let mut deploy = base("apps", "v1", "Deployment", "deployments", &["deploy"], true);
    deploy.has_status = true;
    deploy.categories = vec!["all".into()];
    deploy.columns = cols(vec![
        f("Ready", 0, |o, _| {
            let ready = table::path_value(o, ".status.readyReplicas").unwrap_or(json!(0));
            let want = table::path_value(o, ".spec.replicas").unwrap_or(json!(1));
            json!(format!("{ready}/{want}"))
        }),
        f("Up-to-date", 0, |o, _| {
            table::path_value(o, ".status.updatedReplicas").unwrap_or(json!(0))
        }),
        f("Available", 0, |o, _| {
            table::path_value(o, ".status.availableReplicas").unwrap_or(json!(0))
        }),
        age(),
    ]);
    out.push(deploy);

    let mut rs = base("apps", "v1", "ReplicaSet", "replicasets", &["rs"], true);
    rs.has_status = true;
    rs.categories = vec!["all".into()];
    rs.columns = cols(vec![
        f("Desired", 0, |o, _| {
            table::path_value(o, ".spec.replicas").unwrap_or(json!(1))
        }),
        f("Current", 0, |o, _| {
            table::path_value(o, ".status.replicas").unwrap_or(json!(0))
        }),
        f("Ready", 0, |o, _| {
            table::path_value(o, ".status.readyReplicas").unwrap_or(json!(0))
        }),
        age(),
    ]);
    out.push(rs);

    let mut ds = base("apps", "v1", "DaemonSet", "daemonsets", &["ds"], true);
    ds.has_status = true;
    ds.categories = vec!["all".into()];
    ds.columns = cols(vec![
        f("Desired", 0, |o, _| {
            table::path_value(o, ".status.desiredNumberScheduled").unwrap_or(json!(0))
        }),
        f("Current", 0, |o, _| {
            table::path_value(o, ".status.currentNumberScheduled").unwrap_or(json!(0))
        }),
        f("Ready", 0, |o, _| {
            table::path_value(o, ".status.numberReady").unwrap_or(json!(0))
        }),
        age(),
    ]);
    out.push(ds);

    let mut crd = base(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        &["crd", "crds"],
        false,
    );
    crd.has_status = true;
    crd.columns = cols(vec![f("Created At", 0, |o, _| {
        table::path_value(o, ".metadata.creationTimestamp").unwrap_or(json!(""))
    })]);
    out.push(crd);

    // RBAC (rbac.authorization.k8s.io/v1): stored, and enforced for identities that are not
    // the admin (see `rbac.rs`).
    for (kind, plural, namespaced) in [
        ("Role", "roles", true),
        ("ClusterRole", "clusterroles", false),
        ("RoleBinding", "rolebindings", true),
        ("ClusterRoleBinding", "clusterrolebindings", false),
    ] {
        let mut r = base(
            "rbac.authorization.k8s.io",
            "v1",
            kind,
            plural,
            &[],
            namespaced,
        );
        r.columns = cols(vec![age()]);
        if kind.ends_with("Binding") {
            r.columns = cols(vec![
                f("Role", 0, |o, _| {
                    let kind = table::path_value(o, ".roleRef.kind").unwrap_or(json!(""));
                    let name = table::path_value(o, ".roleRef.name").unwrap_or(json!(""));
                    json!(format!(
                        "{}/{}",
                        kind.as_str().unwrap_or(""),
                        name.as_str().unwrap_or("")
                    ))
                }),
                age(),
            ]);
        }
        out.push(r);
    }

    // `kubectl auth can-i`: answered from the RBAC objects for identities that are not the admin.
    let mut ssar = base(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        &[],
        false,
    );
    ssar.review = true;
    ssar.columns = Vec::new();
    out.push(ssar);
    // `kubectl auth can-i --list`
    let mut ssrr = base(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        &[],
        false,
    );
    ssrr.review = true;
    ssrr.columns = Vec::new();
    out.push(ssrr);
    // `kubectl auth whoami`
    let mut ssr = base(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        &[],
        false,
    );
    ssr.review = true;
    ssr.columns = Vec::new();
    out.push(ssr);

    out
}

/// The [`ResourceInfo`]s a CRD object defines (one per served version).
pub fn from_crd(crd: &Value) -> Result<Vec<ResourceInfo>, String> {
    let spec = crd
        .get("spec")
        .ok_or("spec: Required value: a CustomResourceDefinition needs a spec")?;
    let s = |v: &Value, p: &str| v.get(p).and_then(Value::as_str).map(str::to_string);
    let group = s(spec, "group").ok_or("spec.group: Required value")?;
    let names = spec.get("names").ok_or("spec.names: Required value")?;
    let plural = s(names, "plural").ok_or("spec.names.plural: Required value")?;
    let kind = s(names, "kind").ok_or("spec.names.kind: Required value")?;
    let singular = s(names, "singular").unwrap_or_else(|| kind.to_lowercase());
    let list_kind = s(names, "listKind").unwrap_or_else(|| format!("{kind}List"));
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let short_names = strings(names.get("shortNames"));
    let categories = strings(names.get("categories"));
    let namespaced = match s(spec, "scope").as_deref() {
        Some("Namespaced") => true,
        Some("Cluster") => false,
        other => {
            return Err(format!(
                "spec.scope: Unsupported value: {other:?}: supported values: \"Cluster\", \"Namespaced\""
            ))
        }
    };
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name != format!("{plural}.{group}") {
        return Err(format!(
            "metadata.name: Invalid value: \"{name}\": must be spec.names.plural+\".\"+spec.group"
        ));
    }
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
        .ok_or("spec.versions: Invalid value: null: must have exactly one version marked as storage version")?;
    let mut out = Vec::new();
    for v in versions {
        let vname = s(v, "name").ok_or("spec.versions[].name: Required value")?;
        if v.get("served").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let has_status = v.pointer("/subresources/status").is_some();
        let mut columns = Vec::new();
        if let Some(apc) = v.get("additionalPrinterColumns").and_then(Value::as_array) {
            for c in apc {
                let cname = s(c, "name").unwrap_or_default();
                let path = s(c, "jsonPath").unwrap_or_default();
                let type_ = s(c, "type").unwrap_or_else(|| "string".into());
                columns.push(Column {
                    name: cname,
                    type_,
                    description: s(c, "description").unwrap_or_default(),
                    priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0) as i32,
                    source: ColumnSource::Path(path),
                });
            }
        }
        if v.get("additionalPrinterColumns").is_none() {
            columns.push(Column::new("Age", "date", 0, ColumnSource::Age));
        }
        let field_selectors = v
            .get("selectableFields")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.get("jsonPath").and_then(Value::as_str))
                    .map(|p| p.trim_start_matches('.').to_string())
                    .collect()
            })
            .unwrap_or_default();
        let schema = v.pointer("/schema/openAPIV3Schema").cloned().map(Arc::new);
        out.push(ResourceInfo {
            group: group.clone(),
            version: vname,
            kind: kind.clone(),
            list_kind: list_kind.clone(),
            plural: plural.clone(),
            singular: singular.clone(),
            short_names: short_names.clone(),
            categories: categories.clone(),
            namespaced,
            has_status,
            extra_subresources: Vec::new(),
            columns,
            field_selectors,
            schema,
            custom: true,
            storage: (group.clone(), plural.clone()),
            review: false,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_served_and_found_by_kind() {
        let r = Registry::builtin();
        let pods = r.get("", "v1", "pods").expect("pods");
        assert!(pods.namespaced && pods.has_status);
        assert_eq!(
            r.by_kind("coordination.k8s.io", "v1", "Lease")
                .map(|l| l.plural.clone()),
            Some("leases".into())
        );
        assert_eq!(r.groups()[0].0, "");
    }

    #[test]
    fn crd_with_wrong_name_is_refused_naming_the_field() {
        let crd = json!({"metadata": {"name": "wrong"}, "spec": {"group": "g.io", "scope": "Namespaced",
            "names": {"plural": "things", "kind": "Thing"}, "versions": [{"name": "v1", "served": true, "storage": true}]}});
        let err = from_crd(&crd).unwrap_err();
        assert!(err.starts_with("metadata.name"), "{err}");
    }
}
