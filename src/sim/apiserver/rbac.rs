//! Authentication by bearer token and RBAC authorization, as the real API server does them
//! for the identities that matter here.
//!
//! - A request without an `Authorization` header is the admin (`system:admin`, group
//!   `system:masters`): the kubeconfigs the simulator writes carry no credentials, so kubectl,
//!   the plugin and the tests stay unrestricted. A bearer token must be one the server issued
//!   ([`Tokens::issue`]); any other answers 401 Unauthorized.
//! - Any other identity (e.g. `system:serviceaccount:kube-system:vpsie-autoscaler`, with the
//!   groups `system:serviceaccounts`, `system:serviceaccounts:kube-system` and
//!   `system:authenticated`) is authorized against the Roles, ClusterRoles, RoleBindings and
//!   ClusterRoleBindings stored in the server, read at each request (so changing them takes
//!   effect at once): a ClusterRoleBinding grants its ClusterRole's rules everywhere, a
//!   RoleBinding grants its Role's (or ClusterRole's) rules in its own namespace only. Rules
//!   match on apiGroups, resources (`pods/eviction`, `nodegroups/status` for subresources,
//!   `*` and `*/sub`), verbs (`get` a named object, `list` and `watch` a collection, `create`,
//!   `update`, `patch`, `delete`, `deletecollection`) and resourceNames (a list or watch names
//!   its object with `fieldSelector=metadata.name=<name>`, as kube-runtime's watcher does).
//!   A server-side apply that creates its object must also be allowed to `create` it.
//! - Discovery, OpenAPI, `/version` and the health endpoints are open to every authenticated
//!   identity (the real `system:discovery` and `system:public-info-viewer` bindings).
//! - A refusal is the real 403: `nodes "x" is forbidden: User "..." cannot delete resource
//!   "nodes" in API group "" at the cluster scope`.
//!
//! - Impersonation (`kubectl --as`, `--as-group`, `--as-uid`: the `Impersonate-User`,
//!   `Impersonate-Group` and `Impersonate-Uid` headers) is allowed when RBAC lets the caller
//!   `impersonate` the `users` (or, for a service account's name, its `serviceaccounts`
//!   object), `groups` and `uids` named, as the real server checks it; the request then acts
//!   as that identity, with the service account's groups when no group is named, and
//!   `system:authenticated`. So `kubectl auth can-i ... --as system:serviceaccount:ns:name`
//!   answers as that account's RBAC does.
//!
//! Not done: aggregated ClusterRoles (`aggregationRule`), nonResourceURLs rules,
//! `Impersonate-Extra-*` (ignored), escalation checks on writing RBAC objects, and client
//! certificates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::error::StatusError;
use super::store::{Gvr, ListOptions, Store};

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user name, e.g. `system:serviceaccount:kube-system:vpsie-autoscaler`.
    pub user: String,
    /// Its groups.
    pub groups: Vec<String>,
}

impl Identity {
    /// The unrestricted admin (requests without credentials).
    pub fn admin() -> Self {
        Self {
            user: "system:admin".into(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        }
    }

    /// The service account `namespace/name`, with the groups the real token authenticator
    /// gives it.
    pub fn service_account(namespace: &str, name: &str) -> Self {
        Self {
            user: format!("system:serviceaccount:{namespace}:{name}"),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
        }
    }

    /// Members of `system:masters` pass every authorization check.
    pub fn is_admin(&self) -> bool {
        self.groups.iter().any(|g| g == "system:masters")
    }
}

/// The bearer tokens the server issued, and whose they are. Clones share them.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    by_token: Arc<Mutex<HashMap<String, Identity>>>,
}

impl Tokens {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Identity>> {
        self.by_token.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A token for `identity`: the one already issued to it, else a new random one.
    pub fn issue(&self, identity: &Identity) -> String {
        let mut tokens = self.lock();
        if let Some((t, _)) = tokens.iter().find(|(_, i)| *i == identity) {
            return t.clone();
        }
        let token = format!("sim-{}", uuid::Uuid::new_v4().simple());
        tokens.insert(token.clone(), identity.clone());
        token
    }

    /// Who the `Authorization` header value names: the admin without one, `Err` (401) for a
    /// token the server did not issue.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Identity, StatusError> {
        let Some(value) = header else {
            return Ok(Identity::admin());
        };
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .map(str::trim)
            .unwrap_or("");
        self.lock()
            .get(token)
            .cloned()
            .ok_or_else(|| StatusError::new(401, "Unauthorized", "Unauthorized"))
    }
}

/// One refused request, as an audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// Who asked.
    pub user: String,
    /// What was asked.
    pub attributes: Attributes,
    /// The 403's message.
    pub message: String,
}

/// The requests RBAC refused (the newest [`Denials::LIMIT`]). Clones share them.
#[derive(Debug, Clone, Default)]
pub struct Denials {
    log: Arc<Mutex<std::collections::VecDeque<Denial>>>,
}

impl Denials {
    /// How many are kept.
    pub const LIMIT: usize = 1000;

    /// Records one.
    pub fn record(&self, d: Denial) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() == Self::LIMIT {
            log.pop_front();
        }
        log.push_back(d);
    }

    /// Every one kept, oldest first.
    pub fn all(&self) -> Vec<Denial> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.iter().cloned().collect()
    }
}

/// What a resource request does, as the authorizer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: String,
    /// API group (`""` for core).
    pub group: String,
    /// Plural resource, e.g. `pods`.
    pub resource: String,
    /// Subresource, e.g. `eviction`, `status`.
    pub subresource: Option<String>,
    /// Namespace of the request (none: cluster scope, or all namespaces).
    pub namespace: Option<String>,
    /// Name of the object (from the path, or a list's `metadata.name` field selector).
    pub name: Option<String>,
}

impl Attributes {
    /// `pods/eviction`, or `pods`.
    pub fn combined_resource(&self) -> String {
        match &self.subresource {
            Some(s) => format!("{}/{s}", self.resource),
            None => self.resource.clone(),
        }
    }
}

/// The name a list or watch asks for with `metadata.name=<name>` (or `==`) in its field
/// selector. Pure.
pub fn field_selector_name(selector: &str) -> Option<String> {
    selector.split(',').find_map(|req| {
        let req = req.trim();
        let rest = req.strip_prefix("metadata.name")?;
        let value = rest.strip_prefix("==").or_else(|| rest.strip_prefix('='))?;
        (!value.is_empty()).then(|| value.to_string())
    })
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Whether one PolicyRule allows the request. Pure.
pub fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    let groups = strings(rule, "apiGroups");
    let resources = strings(rule, "resources");
    let verbs = strings(rule, "verbs");
    let names = strings(rule, "resourceNames");
    let combined = a.combined_resource();
    let group_ok = groups.iter().any(|g| g == "*" || *g == a.group);
    let resource_ok = resources.iter().any(|r| {
        r == "*"
            || *r == combined
            || (a
                .subresource
                .as_ref()
                .is_some_and(|s| *r == format!("*/{s}")))
    });
    let verb_ok = verbs.iter().any(|v| v == "*" || *v == a.verb);
    let name_ok = names.is_empty()
        || a.name
            .as_ref()
            .is_some_and(|n| names.iter().any(|x| x == n));
    group_ok && resource_ok && verb_ok && name_ok
}

/// Whether a binding's subject is `id`. Pure.
pub fn subject_matches(subject: &Value, id: &Identity) -> bool {
    let s = |k: &str| subject.get(k).and_then(Value::as_str).unwrap_or("");
    match s("kind") {
        "User" => s("name") == id.user,
        "Group" => id.groups.iter().any(|g| g == s("name")),
        "ServiceAccount" => {
            id.user == format!("system:serviceaccount:{}:{}", s("namespace"), s("name"))
        }
        _ => false,
    }
}

fn rbac_gvr(plural: &str) -> Gvr {
    Gvr::new("rbac.authorization.k8s.io", "v1", plural)
}

fn all(store: &Store, plural: &str, ns: Option<&str>) -> Vec<Arc<Value>> {
    store
        .list(&rbac_gvr(plural), ns, &ListOptions::default())
        .map(|l| l.items)
        .unwrap_or_default()
}

/// The rules of the role a binding refers to (`ns` for a Role: the binding's namespace).
fn role_rules(store: &Store, role_ref: &Value, ns: Option<&str>) -> Vec<Value> {
    let kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = role_ref.get("name").and_then(Value::as_str).unwrap_or("");
    let role = match (kind, ns) {
        ("ClusterRole", _) => store.get(&rbac_gvr("clusterroles"), None, name),
        ("Role", Some(ns)) => store.get(&rbac_gvr("roles"), Some(ns), name),
        _ => return Vec::new(),
    };
    role.ok()
        .and_then(|r| r.get("rules").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

fn bound(binding: &Value, id: &Identity) -> bool {
    binding
        .get("subjects")
        .and_then(Value::as_array)
        .is_some_and(|subjects| subjects.iter().any(|s| subject_matches(s, id)))
}

/// Whether RBAC allows `a` for `id` (the admin always). Reads the RBAC objects of `store`.
pub fn allowed(store: &Store, id: &Identity, a: &Attributes) -> bool {
    if id.is_admin() {
        return true;
    }
    for b in all(store, "clusterrolebindings", None) {
        if bound(&b, id)
            && role_rules(store, &b["roleRef"], None)
                .iter()
                .any(|r| rule_allows(r, a))
        {
            return true;
        }
    }
    if let Some(ns) = a.namespace.as_deref() {
        for b in all(store, "rolebindings", Some(ns)) {
            if bound(&b, id)
                && role_rules(store, &b["roleRef"], Some(ns))
                    .iter()
                    .any(|r| rule_allows(r, a))
            {
                return true;
            }
        }
    }
    false
}

/// The real API server's 403 for `a`. Pure.
pub fn forbidden(id: &Identity, a: &Attributes) -> StatusError {
    let qualified = if a.group.is_empty() {
        a.resource.clone()
    } else {
        format!("{}.{}", a.resource, a.group)
    };
    let scope = match &a.namespace {
        Some(ns) => format!("in the namespace {ns:?}"),
        None => "at the cluster scope".to_string(),
    };
    let why = format!(
        "User {:?} cannot {} resource {:?} in API group {:?} {scope}",
        id.user,
        a.verb,
        a.combined_resource(),
        a.group
    );
    let message = match &a.name {
        Some(n) => format!("{qualified} {n:?} is forbidden: {why}"),
        None => format!("{qualified} is forbidden: {why}"),
    };
    let mut e = StatusError::new(403, "Forbidden", message);
    e.details = Some(json!({
        "name": a.name.clone().unwrap_or_default(),
        "group": a.group,
        "kind": a.resource,
    }));
    e
}

/// `Ok` when RBAC allows `a` for `id`, else the 403.
pub fn authorize(store: &Store, id: &Identity, a: &Attributes) -> Result<(), StatusError> {
    if allowed(store, id, a) {
        Ok(())
    } else {
        Err(forbidden(id, a))
    }
}

/// What a request's impersonation headers ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Impersonation {
    /// `Impersonate-User`.
    pub user: Option<String>,
    /// Every `Impersonate-Group`.
    pub groups: Vec<String>,
    /// `Impersonate-Uid`.
    pub uid: Option<String>,
}

impl Impersonation {
    /// Whether the request asks for any.
    pub fn is_empty(&self) -> bool {
        self.user.is_none() && self.groups.is_empty() && self.uid.is_none()
    }
}

/// Who a request acts as: `actor` itself without impersonation headers, else the identity
/// they name, once RBAC lets `actor` `impersonate` each part of it (the real server's
/// checks: `users` by name, or `serviceaccounts` in the account's namespace by name for a
/// `system:serviceaccount:<ns>:<name>` user; `groups` by name; `uids` in
/// `authentication.k8s.io`). Refused: the 403 of the first part not allowed, or 400 for
/// groups or a uid without a user.
pub fn impersonate(
    store: &Store,
    actor: Identity,
    asked: &Impersonation,
) -> Result<Identity, StatusError> {
    if asked.is_empty() {
        return Ok(actor);
    }
    let Some(user) = asked.user.as_deref().filter(|u| !u.is_empty()) else {
        return Err(StatusError::bad_request(
            "Impersonate-Group and Impersonate-Uid need Impersonate-User: name the user too (kubectl --as)",
        ));
    };
    let check = |a: Attributes| authorize(store, &actor, &a);
    let attrs = |group: &str, resource: &str, namespace: Option<&str>, name: &str| Attributes {
        verb: "impersonate".into(),
        group: group.into(),
        resource: resource.into(),
        subresource: None,
        namespace: namespace.map(str::to_string),
        name: Some(name.to_string()),
    };
    let service_account = user
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains(':'));
    match service_account {
        Some((ns, name)) => check(attrs("", "serviceaccounts", Some(ns), name))?,
        None => check(attrs("", "users", None, user))?,
    }
    for g in &asked.groups {
        check(attrs("", "groups", None, g))?;
    }
    if let Some(uid) = &asked.uid {
        check(attrs("authentication.k8s.io", "uids", None, uid))?;
    }
    let mut groups = asked.groups.clone();
    if groups.is_empty() {
        if let Some((ns, name)) = service_account {
            groups = Identity::service_account(ns, name).groups;
        }
    }
    let anonymous = user == "system:anonymous";
    let everyone = if anonymous {
        "system:unauthenticated"
    } else {
        "system:authenticated"
    };
    if !groups.iter().any(|g| g == everyone) {
        groups.push(everyone.to_string());
    }
    Ok(Identity {
        user: user.to_string(),
        groups,
    })
}

/// The answer to a SelfSubjectAccessReview of `id`: its `status`. Pure but for the store read.
pub fn review_status(store: &Store, id: &Identity, review: &Value) -> Value {
    if id.is_admin() {
        return json!({"allowed": true, "reason": "the admin identity (system:masters) is not restricted"});
    }
    let Some(ra) = review.pointer("/spec/resourceAttributes") else {
        return json!({"allowed": false, "reason": "only resourceAttributes are evaluated here"});
    };
    let s = |k: &str| {
        ra.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let a = Attributes {
        verb: s("verb").unwrap_or_default(),
        group: s("group").unwrap_or_default(),
        resource: s("resource").unwrap_or_default(),
        subresource: s("subresource"),
        namespace: s("namespace"),
        name: s("name"),
    };
    if allowed(store, id, &a) {
        json!({"allowed": true, "reason": "allowed by a RoleBinding or ClusterRoleBinding"})
    } else {
        json!({"allowed": false})
    }
}

/// The rules every authenticated identity has (the real `system:basic-user`,
/// `system:discovery` and `system:public-info-viewer` bindings), as a rules review lists them.
fn basic_rules() -> (Vec<Value>, Vec<Value>) {
    (
        vec![
            json!({"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
                   "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]}),
            json!({"verbs": ["create"], "apiGroups": ["authentication.k8s.io"],
                   "resources": ["selfsubjectreviews"]}),
        ],
        vec![json!({"verbs": ["get"], "nonResourceURLs": [
            "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
            "/openapi/*", "/readyz", "/version", "/version/"]})],
    )
}

/// The answer to a SelfSubjectRulesReview of `id` (`kubectl auth can-i --list`): the rules of
/// every ClusterRoleBinding and of every RoleBinding in `spec.namespace` naming it, plus the
/// basic ones. Pure but for the store reads.
pub fn rules_review_status(store: &Store, id: &Identity, review: &Value) -> Value {
    let (mut resource, non_resource) = basic_rules();
    if id.is_admin() {
        resource.insert(
            0,
            json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}),
        );
    } else {
        for b in all(store, "clusterrolebindings", None) {
            if bound(&b, id) {
                resource.extend(role_rules(store, &b["roleRef"], None));
            }
        }
        let ns = review
            .pointer("/spec/namespace")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty());
        if let Some(ns) = ns {
            for b in all(store, "rolebindings", Some(ns)) {
                if bound(&b, id) {
                    resource.extend(role_rules(store, &b["roleRef"], Some(ns)));
                }
            }
        }
        // nonResourceURLs rules are not evaluated here (see the module's "Not done")
        resource.retain(|r| r.get("resources").is_some());
    }
    json!({"resourceRules": resource, "nonResourceRules": non_resource, "incomplete": false})
}

/// The answer to a SelfSubjectReview (`kubectl auth whoami`): who `id` is.
pub fn self_review_status(id: &Identity) -> Value {
    json!({"userInfo": {"username": id.user, "groups": id.groups}})
}

/// The `status` a review object (`info.review`) of kind `kind` gets for `id`.
pub fn review_answer(store: &Store, id: &Identity, kind: &str, review: &Value) -> Value {
    match kind {
        "SelfSubjectRulesReview" => rules_review_status(store, id, review),
        "SelfSubjectReview" => self_review_status(id),
        _ => review_status(store, id, review),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(
        verb: &str,
        group: &str,
        res: &str,
        sub: Option<&str>,
        ns: Option<&str>,
        name: Option<&str>,
    ) -> Attributes {
        Attributes {
            verb: verb.into(),
            group: group.into(),
            resource: res.into(),
            subresource: sub.map(Into::into),
            namespace: ns.map(Into::into),
            name: name.map(Into::into),
        }
    }

    fn empty_store() -> Store {
        Store::new(crate::clock::system(), Default::default())
    }

    fn store_with(rules: Value, subject: Value) -> Store {
        let store = empty_store();
        store
            .create(
                &rbac_gvr("clusterroles"),
                None,
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                       "metadata": {"name": "r"}, "rules": rules}),
                &Default::default(),
            )
            .expect("role");
        store
            .create(
                &rbac_gvr("clusterrolebindings"),
                None,
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                       "metadata": {"name": "b"},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
                       "subjects": [subject]}),
                &Default::default(),
            )
            .expect("binding");
        store
    }

    fn asking(user: Option<&str>, groups: &[&str], uid: Option<&str>) -> Impersonation {
        Impersonation {
            user: user.map(Into::into),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            uid: uid.map(Into::into),
        }
    }

    #[test]
    fn a_rules_review_lists_the_bound_rules_and_whoami_names_the_identity() {
        let sa = Identity::service_account("default", "helper");
        let store = store_with(
            json!([{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]}]),
            json!({"kind": "ServiceAccount", "name": "helper", "namespace": "default"}),
        );
        let review = json!({"spec": {"namespace": "default"}});
        let st = review_answer(&store, &sa, "SelfSubjectRulesReview", &review);
        let rules = st["resourceRules"].as_array().unwrap();
        assert!(
            rules
                .iter()
                .any(|r| r["resources"] == json!(["nodes"]) && r["verbs"] == json!(["list"])),
            "{st}"
        );
        assert!(
            !rules.iter().any(|r| r["resources"] == json!(["*"])),
            "{st}"
        );
        let other = review_answer(
            &store,
            &Identity::service_account("default", "nobody"),
            "SelfSubjectRulesReview",
            &review,
        );
        assert!(
            !other["resourceRules"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["resources"] == json!(["nodes"])),
            "{other}"
        );
        let admin = review_answer(
            &store,
            &Identity::admin(),
            "SelfSubjectRulesReview",
            &review,
        );
        assert_eq!(admin["resourceRules"][0]["resources"], json!(["*"]));
        let who = review_answer(&store, &sa, "SelfSubjectReview", &json!({}));
        assert_eq!(
            who["userInfo"]["username"],
            "system:serviceaccount:default:helper"
        );
        assert_eq!(who["userInfo"]["groups"][0], "system:serviceaccounts");
    }

    #[test]
    fn the_admin_impersonates_anyone_and_gets_their_groups() {
        let store = empty_store();
        let none = impersonate(&store, Identity::admin(), &Impersonation::default()).unwrap();
        assert_eq!(none, Identity::admin(), "no headers: the caller itself");
        let sa = impersonate(
            &store,
            Identity::admin(),
            &asking(
                Some("system:serviceaccount:kube-system:vpsie-autoscaler"),
                &[],
                None,
            ),
        )
        .unwrap();
        assert_eq!(
            sa,
            Identity::service_account("kube-system", "vpsie-autoscaler")
        );
        assert!(!sa.is_admin());
        let jane = impersonate(
            &store,
            Identity::admin(),
            &asking(Some("jane"), &["dev"], None),
        )
        .unwrap();
        assert_eq!(jane.user, "jane");
        assert_eq!(jane.groups, vec!["dev", "system:authenticated"]);
        let anon = impersonate(
            &store,
            Identity::admin(),
            &asking(Some("system:anonymous"), &[], None),
        )
        .unwrap();
        assert_eq!(anon.groups, vec!["system:unauthenticated"]);
        let masters = impersonate(
            &store,
            Identity::admin(),
            &asking(Some("ops"), &["system:masters"], None),
        )
        .unwrap();
        assert!(masters.is_admin(), "a group named is the identity's");
        let e = impersonate(&store, Identity::admin(), &asking(None, &["dev"], None)).unwrap_err();
        assert_eq!(e.code, 400);
        assert!(e.message.contains("Impersonate-User"), "{}", e.message);
    }

    #[test]
    fn others_impersonate_only_what_rbac_lets_them() {
        let sa = Identity::service_account("default", "helper");
        let subject = json!({"kind": "ServiceAccount", "name": "helper", "namespace": "default"});
        let store = empty_store();
        let e = impersonate(&store, sa.clone(), &asking(Some("jane"), &[], None)).unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            r#"users "jane" is forbidden: User "system:serviceaccount:default:helper" cannot impersonate resource "users" in API group "" at the cluster scope"#
        );
        let users = store_with(
            json!([{"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["jane"]}]),
            subject.clone(),
        );
        assert_eq!(
            impersonate(&users, sa.clone(), &asking(Some("jane"), &[], None))
                .unwrap()
                .user,
            "jane"
        );
        let e = impersonate(&users, sa.clone(), &asking(Some("joe"), &[], None)).unwrap_err();
        assert!(e.message.contains(r#"users "joe""#), "{}", e.message);
        let e =
            impersonate(&users, sa.clone(), &asking(Some("jane"), &["admins"], None)).unwrap_err();
        assert!(
            e.message.contains(r#"groups "admins" is forbidden"#),
            "each group is checked: {}",
            e.message
        );
        let e =
            impersonate(&users, sa.clone(), &asking(Some("jane"), &[], Some("u-1"))).unwrap_err();
        assert!(
            e.message
                .contains(r#"uids.authentication.k8s.io "u-1" is forbidden"#),
            "{}",
            e.message
        );
        let e = impersonate(
            &users,
            sa.clone(),
            &asking(
                Some("system:serviceaccount:kube-system:vpsie-autoscaler"),
                &[],
                None,
            ),
        )
        .unwrap_err();
        assert!(
            e.message
                .contains(r#"serviceaccounts "vpsie-autoscaler" is forbidden"#)
                && e.message.contains(r#"in the namespace "kube-system""#),
            "a service account is impersonated through its object: {}",
            e.message
        );
        let accounts = store_with(
            json!([{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}]),
            subject,
        );
        let as_sa = impersonate(
            &accounts,
            sa,
            &asking(
                Some("system:serviceaccount:kube-system:vpsie-autoscaler"),
                &[],
                None,
            ),
        )
        .unwrap();
        assert_eq!(
            as_sa,
            Identity::service_account("kube-system", "vpsie-autoscaler")
        );
    }

    #[test]
    fn rules_match_groups_resources_subresources_verbs_and_names() {
        let pods = json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["list", "watch"]});
        assert!(rule_allows(
            &pods,
            &attrs("list", "", "pods", None, None, None)
        ));
        assert!(
            !rule_allows(&pods, &attrs("get", "", "pods", None, None, Some("p"))),
            "get is not list"
        );
        assert!(
            !rule_allows(
                &pods,
                &attrs("create", "", "pods", Some("eviction"), Some("d"), Some("p"))
            ),
            "a subresource needs its own rule"
        );
        assert!(
            !rule_allows(&pods, &attrs("list", "apps", "pods", None, None, None)),
            "another group"
        );
        let evict = json!({"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]});
        assert!(rule_allows(
            &evict,
            &attrs("create", "", "pods", Some("eviction"), Some("d"), Some("p"))
        ));
        assert!(!rule_allows(
            &evict,
            &attrs("create", "", "pods", None, Some("d"), None)
        ));
        let any_status = json!({"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["*"]});
        assert!(rule_allows(
            &any_status,
            &attrs("patch", "x.io", "things", Some("status"), None, Some("a"))
        ));
        assert!(!rule_allows(
            &any_status,
            &attrs("patch", "x.io", "things", None, None, Some("a"))
        ));
        let named = json!({"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s"], "verbs": ["list", "get"]});
        assert!(rule_allows(
            &named,
            &attrs("get", "", "secrets", None, Some("n"), Some("s"))
        ));
        assert!(!rule_allows(
            &named,
            &attrs("get", "", "secrets", None, Some("n"), Some("t"))
        ));
        assert!(
            !rule_allows(&named, &attrs("list", "", "secrets", None, Some("n"), None)),
            "an unnamed list is not allowed by a named rule"
        );
    }

    #[test]
    fn field_selectors_name_the_object_of_a_list() {
        assert_eq!(
            field_selector_name("metadata.name=vpsie-secret").as_deref(),
            Some("vpsie-secret")
        );
        assert_eq!(
            field_selector_name("a=b,metadata.name==x").as_deref(),
            Some("x")
        );
        assert_eq!(field_selector_name("metadata.namespace=x"), None);
        assert_eq!(field_selector_name("metadata.name!=x"), None);
    }

    #[test]
    fn subjects_match_users_groups_and_service_accounts() {
        let sa = Identity::service_account("kube-system", "vpsie-autoscaler");
        assert!(subject_matches(
            &json!({"kind": "ServiceAccount", "name": "vpsie-autoscaler", "namespace": "kube-system"}),
            &sa
        ));
        assert!(!subject_matches(
            &json!({"kind": "ServiceAccount", "name": "vpsie-autoscaler", "namespace": "default"}),
            &sa
        ));
        assert!(subject_matches(
            &json!({"kind": "Group", "name": "system:serviceaccounts:kube-system"}),
            &sa
        ));
        assert!(subject_matches(
            &json!({"kind": "User", "name": "system:serviceaccount:kube-system:vpsie-autoscaler"}),
            &sa
        ));
        assert!(!sa.is_admin());
        assert!(Identity::admin().is_admin());
    }

    #[test]
    fn forbidden_reads_like_the_real_server() {
        let sa = Identity::service_account("kube-system", "vpsie-autoscaler");
        let e = forbidden(&sa, &attrs("delete", "", "nodes", None, None, Some("x")));
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            r#"nodes "x" is forbidden: User "system:serviceaccount:kube-system:vpsie-autoscaler" cannot delete resource "nodes" in API group "" at the cluster scope"#
        );
        let e = forbidden(
            &sa,
            &attrs(
                "create",
                "",
                "pods",
                Some("eviction"),
                Some("default"),
                Some("p"),
            ),
        );
        assert_eq!(
            e.message,
            r#"pods "p" is forbidden: User "system:serviceaccount:kube-system:vpsie-autoscaler" cannot create resource "pods/eviction" in API group "" in the namespace "default""#
        );
        let e = forbidden(&sa, &attrs("list", "apps", "deployments", None, None, None));
        assert!(
            e.message.starts_with("deployments.apps is forbidden: "),
            "{}",
            e.message
        );
    }

    #[test]
    fn tokens_authenticate_only_what_was_issued() {
        let t = Tokens::default();
        let sa = Identity::service_account("kube-system", "a");
        let token = t.issue(&sa);
        assert_eq!(t.issue(&sa), token, "one token per identity");
        assert_eq!(
            t.authenticate(Some(&format!("Bearer {token}"))).unwrap(),
            sa
        );
        assert_eq!(t.authenticate(None).unwrap(), Identity::admin());
        assert_eq!(t.authenticate(Some("Bearer nope")).unwrap_err().code, 401);
    }
}
