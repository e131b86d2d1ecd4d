//! The write path inside the lock: create, commit (admission, generation, no-op detection,
//! finalizers, resourceVersion, events), delete with its cascades.

use std::sync::Arc;

use serde_json::{json, Value};

use super::*;

impl Inner {
    /// The stored object at `key`, parsed (in storage form).
    pub(super) fn lookup(&self, info: &ResourceInfo, key: &Key) -> Option<Arc<Value>> {
        self.data
            .get(&res_key(info))
            .and_then(|r| r.objects.get(key))
            .map(|s| Arc::new(s.decode()))
    }

    /// Every field selector path of the resources stored with `info`.
    pub(super) fn field_paths(&self, info: &ResourceInfo) -> Vec<String> {
        let mut paths: Vec<String> = Vec::new();
        for i in self.registry.all().filter(|i| i.storage == info.storage) {
            for f in &i.field_selectors {
                if !paths.contains(f) {
                    paths.push(f.clone());
                }
            }
        }
        paths
    }

    pub(super) fn create(
        &mut self,
        info: &Arc<ResourceInfo>,
        ns: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
        now: &str,
        config: &StoreConfig,
    ) -> Result<Arc<Value>, StatusError> {
        if !obj.is_object() {
            return Err(StatusError::bad_request(
                "the body of a create must be a JSON object with apiVersion, kind and metadata",
            ));
        }
        let want = info.api_version();
        match obj.get("apiVersion").and_then(Value::as_str) {
            Some(v) if v != want => {
                return Err(StatusError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({want})"
                )))
            }
            _ => obj["apiVersion"] = json!(want),
        }
        match obj.get("kind").and_then(Value::as_str) {
            Some(k) if k != info.kind => {
                return Err(StatusError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    info.kind
                )))
            }
            _ => obj["kind"] = json!(info.kind),
        }
        if info.review {
            obj["status"] = json!({"allowed": true,
                "reason": "the admin identity (system:masters) is not restricted"});
            return Ok(Arc::new(obj));
        }
        let ns = if info.namespaced {
            let path_ns = ns.filter(|n| !n.is_empty());
            let body_ns = meta_str(&obj, "namespace")
                .filter(|n| !n.is_empty())
                .map(str::to_string);
            let ns = match (path_ns, body_ns.as_deref()) {
                (Some(p), Some(b)) if p != b => {
                    return Err(StatusError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                (Some(p), _) => p.to_string(),
                (None, Some(b)) => b.to_string(),
                (None, None) => "default".to_string(),
            };
            let nskey = (String::new(), ns.clone());
            let namespace = self
                .data
                .get(&(String::new(), "namespaces".to_string()))
                .and_then(|r| r.objects.get(&nskey));
            match namespace {
                None => {
                    return Err(StatusError::not_found(
                        "namespaces",
                        ("namespaces", ""),
                        &ns,
                    ))
                }
                Some(n) if n.meta().get("deletionTimestamp").is_some() => {
                    let name = meta_str(&obj, "name")
                        .or_else(|| meta_str(&obj, "generateName"))
                        .unwrap_or("");
                    return Err(StatusError::new(
                        403,
                        "Forbidden",
                        format!(
                            "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                            info.qualified()
                        ),
                    ));
                }
                Some(_) => {}
            }
            Some(ns)
        } else {
            None
        };
        let m = meta_mut(&mut obj);
        if let Some(n) = &ns {
            m.insert("namespace".into(), json!(n));
        } else {
            m.remove("namespace");
        }
        let name = match m
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            Some(n) => n.to_string(),
            None => match m.get("generateName").and_then(Value::as_str) {
                Some(prefix) if !prefix.is_empty() => generated_name(
                    prefix,
                    |n| {
                        self.lookup(info, &obj_key(info, ns.as_deref(), n))
                            .is_some()
                    },
                    random_suffix,
                ),
                _ => {
                    return Err(StatusError::invalid(
                        &info.kind,
                        &info.group,
                        "",
                        vec![crate::sim::apiserver::error::FieldCause {
                            reason: "FieldValueRequired",
                            field: "metadata.name".into(),
                            value: None,
                            detail: "name or generateName is required".into(),
                        }],
                    ))
                }
            },
        };
        if let Some(detail) = invalid_name(info, &name) {
            return Err(StatusError::invalid(
                &info.kind,
                &info.group,
                &name,
                vec![crate::sim::apiserver::error::FieldCause::invalid(
                    "metadata.name",
                    Some(json!(name)),
                    detail,
                )],
            ));
        }
        m.insert("name".into(), json!(name));
        m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        m.insert("creationTimestamp".into(), json!(now));
        m.insert("generation".into(), json!(1));
        for f in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            m.remove(f);
        }
        if info.custom && info.has_status {
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
        }
        if info.group.is_empty() && info.plural == "pods" {
            default_pod(&mut obj);
        }
        if info.group.is_empty() && info.plural == "namespaces" {
            obj["status"]["phase"] = json!("Active");
        }
        let obj = to_storage(info, obj);
        let key = obj_key(info, ns.as_deref(), &name);
        if self.lookup(info, &key).is_some() {
            return Err(StatusError::already_exists(
                &info.qualified(),
                (&info.plural, &info.group),
                &name,
            ));
        }
        self.commit(info, &key, None, obj, opts, now, config)
    }

    /// The common end of every write: admission (CRD schemas, CRD objects), generation,
    /// no-op detection, finalizer completion, resourceVersion, storage and the watch event.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn commit(
        &mut self,
        info: &Arc<ResourceInfo>,
        key: &Key,
        old: Option<Arc<Value>>,
        mut new: Value,
        opts: &WriteOptions,
        now: &str,
        config: &StoreConfig,
    ) -> Result<Arc<Value>, StatusError> {
        if info.custom {
            schema::admit(&self.cel, info, &mut new, old.as_deref(), opts.strict)?;
        }
        let is_crd =
            info.group == "apiextensions.k8s.io" && info.plural == "customresourcedefinitions";
        let mut crd_infos = Vec::new();
        if is_crd {
            crd_infos = registry::from_crd(&new).map_err(|msg| {
                let (field, detail) = msg.split_once(": ").unwrap_or(("spec", msg.as_str()));
                StatusError::invalid(
                    &info.kind,
                    &info.group,
                    meta_str(&new, "name").unwrap_or(""),
                    vec![crate::sim::apiserver::error::FieldCause::invalid(
                        field, None, detail,
                    )],
                )
            })?;
            let mut rule_errors = Vec::new();
            if let Some(versions) = new.pointer("/spec/versions").and_then(Value::as_array) {
                for (i, v) in versions.iter().enumerate() {
                    if let Some(schema) = v.pointer("/schema/openAPIV3Schema") {
                        rule_errors.extend(schema::crd_rule_errors(i, schema));
                    }
                }
            }
            if !rule_errors.is_empty() {
                return Err(StatusError::invalid(
                    &info.kind,
                    &info.group,
                    meta_str(&new, "name").unwrap_or(""),
                    rule_errors,
                ));
            }
            if let Some(existing) = crd_infos.first() {
                let names = &new["spec"]["names"];
                let accepted = json!({
                    "plural": existing.plural, "singular": existing.singular, "kind": existing.kind,
                    "listKind": existing.list_kind,
                    "shortNames": names.get("shortNames").cloned().unwrap_or(json!([])),
                    "categories": names.get("categories").cloned().unwrap_or(json!([])),
                });
                let since = old
                    .as_ref()
                    .and_then(|o| {
                        o.pointer("/status/conditions/0/lastTransitionTime")
                            .cloned()
                    })
                    .unwrap_or(json!(now));
                new["status"] = json!({
                    "acceptedNames": accepted,
                    "storedVersions": new["spec"]["versions"].as_array().map(|vs| vs.iter()
                        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                        .filter_map(|v| v.get("name").cloned()).collect::<Vec<_>>()).unwrap_or_default(),
                    "conditions": [
                        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": since},
                        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": since},
                    ],
                });
            }
        }
        if let Some(old) = &old {
            if old.pointer("/metadata/deletionTimestamp").is_some() {
                let before: Vec<&Value> = old
                    .pointer("/metadata/finalizers")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().collect())
                    .unwrap_or_default();
                let added: Vec<String> = new
                    .pointer("/metadata/finalizers")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter(|f| !before.contains(f))
                            .map(|f| f.as_str().unwrap_or("").to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                if !added.is_empty() {
                    return Err(StatusError::invalid(
                        &info.kind,
                        &info.group,
                        meta_str(&new, "name").unwrap_or(""),
                        vec![crate::sim::apiserver::error::FieldCause {
                            reason: "FieldValueForbidden",
                            field: "metadata.finalizers".into(),
                            value: None,
                            detail: format!(
                                "no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                            ),
                        }],
                    ));
                }
            }
            let gen = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let gen = if spec_changed(info, old, &new) {
                gen + 1
            } else {
                gen
            };
            let m = meta_mut(&mut new);
            m.insert("generation".into(), json!(gen));
            if let Some(rv) = old.pointer("/metadata/resourceVersion") {
                m.insert("resourceVersion".into(), rv.clone());
            }
            if **old == new {
                return Ok(versioned(info, old));
            }
            let grace_over = new
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                == 0;
            let is_namespace = info.group.is_empty() && info.plural == "namespaces";
            if new.pointer("/metadata/deletionTimestamp").is_some()
                && finalizers_of(&new) == 0
                && grace_over
                && !is_namespace
            {
                if opts.dry_run {
                    return Ok(Arc::new(new));
                }
                let obj = self.remove(info, key, Some(new), config);
                self.after_removal(info, &obj, now, config);
                return Ok(versioned(info, &obj));
            }
        }
        if opts.dry_run {
            return Ok(Arc::new(new));
        }
        self.rv += 1;
        let rv = self.rv;
        meta_mut(&mut new).insert("resourceVersion".into(), json!(rv.to_string()));
        let obj = Arc::new(new);
        let kind = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        if is_crd {
            let keys: Vec<(String, String)> = crd_infos
                .iter()
                .map(|i| (i.group.clone(), i.plural.clone()))
                .collect();
            if let Some((g, p)) = keys.first() {
                self.registry.remove(g, p);
            }
            for i in crd_infos {
                self.registry.insert(i);
            }
            for k in keys {
                self.data
                    .entry(k)
                    .or_insert_with(|| Res::new(rv, config.watch_channel));
            }
        }
        self.publish(info, key, kind, &obj, config);
        Ok(versioned(info, &obj))
    }

    pub(super) fn publish(
        &mut self,
        info: &ResourceInfo,
        key: &Key,
        kind: EventType,
        obj: &Value,
        config: &StoreConfig,
    ) {
        let rv = self.rv;
        let stored = Arc::new(Stored::encode(obj, &self.field_paths(info)));
        let res = self
            .data
            .entry(res_key(info))
            .or_insert_with(|| Res::new(rv, config.watch_channel));
        let prev = match kind {
            EventType::Deleted => res.objects.remove(key),
            _ => res.objects.insert(key.clone(), stored.clone()),
        };
        let storage = res_key(info);
        if let Some(p) = &prev {
            for uid in owner_uids(p) {
                if let Some(set) = self.owners.get_mut(uid) {
                    set.remove(&(storage.clone(), key.clone()));
                    if set.is_empty() {
                        self.owners.remove(uid);
                    }
                }
            }
        }
        if kind == EventType::Deleted {
            self.applied.remove(&(storage.clone(), key.clone()));
        } else {
            for uid in owner_uids(&stored) {
                self.owners
                    .entry(uid.to_string())
                    .or_default()
                    .insert((storage.clone(), key.clone()));
            }
        }
        let res = self
            .data
            .entry(storage)
            .or_insert_with(|| Res::new(rv, config.watch_channel));
        let obj = stored;
        let ev = Arc::new(WatchEvent {
            kind,
            rv,
            object: obj,
            prev,
        });
        res.events.push_back(ev.clone());
        while res.events.len() > config.watch_window.max(1) {
            if let Some(e) = res.events.pop_front() {
                res.oldest_watchable = e.rv;
            }
        }
        let _ = res.tx.send(ev);
    }

    /// Removes an object for good (DELETED event), then handles its dependents.
    pub(super) fn remove(
        &mut self,
        info: &Arc<ResourceInfo>,
        key: &Key,
        last: Option<Value>,
        config: &StoreConfig,
    ) -> Arc<Value> {
        let prev = self.lookup(info, key);
        let mut last = match (last, &prev) {
            (Some(l), _) => l,
            (None, Some(p)) => (**p).clone(),
            (None, None) => json!({}),
        };
        self.rv += 1;
        meta_mut(&mut last).insert("resourceVersion".into(), json!(self.rv.to_string()));
        self.publish(info, key, EventType::Deleted, &last, config);
        Arc::new(last)
    }

    pub(super) fn delete(
        &mut self,
        info: &Arc<ResourceInfo>,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
        now: &str,
        config: &StoreConfig,
    ) -> Result<DeleteOutcome, StatusError> {
        let key = obj_key(info, ns, name);
        let old = self
            .lookup(info, &key)
            .ok_or_else(|| info.not_found(name))?;
        if let Some(uid) = &opts.precondition_uid {
            let have = meta_str(&old, "uid").unwrap_or("");
            if have != uid {
                return Err(StatusError::new(409, "Conflict", format!(
                    "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {have}",
                    info.qualified())));
            }
        }
        if let Some(rv) = &opts.precondition_rv {
            let have = meta_str(&old, "resourceVersion").unwrap_or("");
            if have != rv {
                return Err(StatusError::new(409, "Conflict", format!(
                    "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {have}",
                    info.qualified())));
            }
        }
        if opts.dry_run {
            return Ok(if finalizers_of(&old) > 0 {
                DeleteOutcome::Pending(old)
            } else {
                DeleteOutcome::Deleted(old)
            });
        }
        if info.group.is_empty() && info.plural == "namespaces" && finalizers_of(&old) == 0 {
            return self.delete_namespace(info, name, now, config);
        }
        let uid = meta_str(&old, "uid").unwrap_or("").to_string();
        match opts.propagation {
            Propagation::Orphan => self.orphan_dependents(&uid, now, config),
            Propagation::Foreground => self.delete_dependents(&uid, now, config),
            Propagation::Background => {}
        }
        let bound_pod = config.graceful_pod_deletion
            && info.group.is_empty()
            && info.plural == "pods"
            && old
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty())
            && !matches!(
                old.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            );
        let grace = opts
            .grace_period_seconds
            .or_else(|| {
                old.pointer("/spec/terminationGracePeriodSeconds")
                    .and_then(Value::as_i64)
            })
            .unwrap_or(30);
        if bound_pod && grace > 0 {
            let current = old
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64);
            if old.pointer("/metadata/deletionTimestamp").is_some()
                && current.is_some_and(|c| c <= grace)
            {
                return Ok(DeleteOutcome::Pending(versioned(info, &old)));
            }
            let at = chrono::DateTime::parse_from_rfc3339(now)
                .map(|t| t + chrono::Duration::seconds(grace))
                .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
                .unwrap_or_else(|_| now.to_string());
            let mut new = (*old).clone();
            let m = meta_mut(&mut new);
            m.insert("deletionTimestamp".into(), json!(at));
            m.insert("deletionGracePeriodSeconds".into(), json!(grace));
            let obj = self.commit(
                info,
                &key,
                Some(old),
                new,
                &WriteOptions::default(),
                now,
                config,
            )?;
            return Ok(DeleteOutcome::Pending(obj));
        }
        if finalizers_of(&old) > 0 {
            if old.pointer("/metadata/deletionTimestamp").is_some()
                && old
                    .pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    == 0
            {
                return Ok(DeleteOutcome::Pending(versioned(info, &old)));
            }
            let mut new = (*old).clone();
            let m = meta_mut(&mut new);
            m.insert("deletionTimestamp".into(), json!(now));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
            let obj = self.commit(
                info,
                &key,
                Some(old),
                new,
                &WriteOptions::default(),
                now,
                config,
            )?;
            return Ok(DeleteOutcome::Pending(obj));
        }
        let mut last = (*old).clone();
        if last.pointer("/metadata/deletionTimestamp").is_none() {
            let m = meta_mut(&mut last);
            m.insert("deletionTimestamp".into(), json!(now));
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        let obj = self.remove(info, &key, Some(last), config);
        self.after_removal(info, &obj, now, config);
        Ok(DeleteOutcome::Deleted(versioned(info, &obj)))
    }

    /// Side effects of an object being gone: dependents, namespace content, CRD resources.
    pub(super) fn after_removal(
        &mut self,
        info: &Arc<ResourceInfo>,
        obj: &Value,
        now: &str,
        config: &StoreConfig,
    ) {
        let uid = meta_str(obj, "uid").unwrap_or("").to_string();
        self.delete_dependents(&uid, now, config);
        if info.namespaced {
            // The last object of a terminating namespace is gone: the namespace goes too.
            if let Some(ns) = meta_str(obj, "namespace").map(str::to_string) {
                self.finish_namespace(&ns, now, config);
            }
        }
        if info.group == "apiextensions.k8s.io" && info.plural == "customresourcedefinitions" {
            let group = obj
                .pointer("/spec/group")
                .and_then(Value::as_str)
                .unwrap_or("");
            let plural = obj
                .pointer("/spec/names/plural")
                .and_then(Value::as_str)
                .unwrap_or("");
            let key = (group.to_string(), plural.to_string());
            let found = self
                .registry
                .all()
                .find(|i| i.group == group && i.plural == plural)
                .cloned();
            if let Some(ri) = found {
                let keys: Vec<Key> = self
                    .data
                    .get(&key)
                    .map(|r| r.objects.keys().cloned().collect())
                    .unwrap_or_default();
                for k in keys {
                    self.remove(&ri, &k, None, config);
                }
            }
            self.registry.remove(group, plural);
            self.data.remove(&key);
        }
    }

    /// Every namespaced object of namespace `ns`.
    fn namespace_content(&self, ns: &str) -> Vec<(Arc<ResourceInfo>, String)> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for i in self.registry.all().filter(|i| i.namespaced) {
            if !seen.insert(res_key(i)) {
                continue;
            }
            if let Some(r) = self.data.get(&res_key(i)) {
                for (k, _) in r
                    .objects
                    .range((ns.to_string(), String::new())..)
                    .take_while(|(k, _)| k.0 == ns)
                {
                    out.push((i.clone(), k.1.clone()));
                }
            }
        }
        out
    }

    /// Whether any namespaced object lives in `ns` (one range probe per storage).
    fn namespace_has_content(&self, ns: &str) -> bool {
        let start = (ns.to_string(), String::new());
        self.registry.all().filter(|i| i.namespaced).any(|i| {
            self.data.get(&res_key(i)).is_some_and(|r| {
                r.objects
                    .range(start.clone()..)
                    .next()
                    .is_some_and(|(k, _)| k.0 == ns)
            })
        })
    }

    /// Deletes a namespace like the real namespace controller: it turns `Terminating`, its
    /// content is deleted, and it is removed once nothing is left (objects held by finalizers
    /// keep it `Terminating` until they go).
    pub(super) fn delete_namespace(
        &mut self,
        info: &Arc<ResourceInfo>,
        name: &str,
        now: &str,
        config: &StoreConfig,
    ) -> Result<DeleteOutcome, StatusError> {
        let key = (String::new(), name.to_string());
        let old = self
            .lookup(info, &key)
            .ok_or_else(|| info.not_found(name))?;
        if old.pointer("/metadata/deletionTimestamp").is_none() {
            let mut new = (*old).clone();
            meta_mut(&mut new).insert("deletionTimestamp".into(), json!(now));
            new["status"]["phase"] = json!("Terminating");
            self.commit(
                info,
                &key,
                Some(old),
                new,
                &WriteOptions::default(),
                now,
                config,
            )?;
        }
        let marked = self.lookup(info, &key);
        for (i, n) in self.namespace_content(name) {
            let _ = self.delete(&i, Some(name), &n, &DeleteOptions::default(), now, config);
        }
        if self.lookup(info, &key).is_none() {
            // Removed along with its last object.
            if let Some(m) = marked {
                return Ok(DeleteOutcome::Deleted(versioned(info, &m)));
            }
        }
        match self.finish_namespace(name, now, config) {
            Some(gone) => Ok(DeleteOutcome::Deleted(gone)),
            None => Ok(DeleteOutcome::Pending(
                self.lookup(info, &key)
                    .map(|o| versioned(info, &o))
                    .ok_or_else(|| info.not_found(name))?,
            )),
        }
    }

    /// Removes namespace `ns` if it is terminating and empty.
    fn finish_namespace(
        &mut self,
        ns: &str,
        now: &str,
        config: &StoreConfig,
    ) -> Option<Arc<Value>> {
        let info = self.registry.get("", "v1", "namespaces")?;
        let key = (String::new(), ns.to_string());
        let terminating = self
            .data
            .get(&res_key(&info))
            .and_then(|r| r.objects.get(&key))
            .is_some_and(|n| n.meta().get("deletionTimestamp").is_some());
        if !terminating || self.namespace_has_content(ns) {
            return None;
        }
        let gone = self.remove(&info, &key, None, config);
        self.after_removal(&info, &gone, now, config);
        Some(gone)
    }

    /// Every (resource, key) whose ownerReferences name `uid`.
    pub(super) fn dependents(&self, uid: &str) -> Vec<(Arc<ResourceInfo>, Key)> {
        let Some(set) = self.owners.get(uid) else {
            return Vec::new();
        };
        set.iter()
            .filter_map(|(storage, key)| {
                self.registry
                    .all()
                    .find(|i| &i.storage == storage)
                    .map(|i| (i.clone(), key.clone()))
            })
            .collect()
    }

    pub(super) fn delete_dependents(&mut self, uid: &str, now: &str, config: &StoreConfig) {
        for (info, key) in self.dependents(uid) {
            let ns = (!key.0.is_empty()).then_some(key.0.as_str());
            let _ = self.delete(&info, ns, &key.1, &DeleteOptions::default(), now, config);
        }
    }

    pub(super) fn orphan_dependents(&mut self, uid: &str, now: &str, config: &StoreConfig) {
        for (info, key) in self.dependents(uid) {
            if let Some(old) = self.lookup(&info, &key) {
                let mut new = (*old).clone();
                if let Some(refs) = new
                    .pointer_mut("/metadata/ownerReferences")
                    .and_then(Value::as_array_mut)
                {
                    refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
                }
                let _ = self.commit(
                    &info,
                    &key,
                    Some(old),
                    new,
                    &WriteOptions::default(),
                    now,
                    config,
                );
            }
        }
    }
}

/// The defaults and admission results a real server adds to a new pod: scheduler, restart and
/// DNS policy, grace period, service account, the not-ready/unreachable tolerations, priority,
/// `status.phase: Pending` and the QoS class.
fn default_pod(pod: &mut Value) {
    if !pod.get("spec").is_some_and(Value::is_object) {
        pod["spec"] = json!({});
    }
    let spec = &mut pod["spec"];
    for (field, value) in [
        ("schedulerName", json!("default-scheduler")),
        ("restartPolicy", json!("Always")),
        ("dnsPolicy", json!("ClusterFirst")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("serviceAccountName", json!("default")),
        ("priority", json!(0)),
        ("enableServiceLinks", json!(true)),
    ] {
        if spec.get(field).is_none() {
            spec[field] = value;
        }
    }
    let mut tolerations = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let has = tolerations
            .iter()
            .any(|t| t.get("key").and_then(Value::as_str) == Some(key));
        if !has {
            tolerations.push(
                json!({"key": key, "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": 300}),
            );
        }
    }
    spec["tolerations"] = Value::Array(tolerations);
    let qos = qos_class(spec);
    if pod.pointer("/status/phase").is_none() {
        pod["status"]["phase"] = json!("Pending");
    }
    if pod.pointer("/status/qosClass").is_none() {
        pod["status"]["qosClass"] = json!(qos);
    }
}

/// `Guaranteed` when every container's requests equal its limits for cpu and memory,
/// `BestEffort` when none sets any, `Burstable` otherwise.
fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = !containers.is_empty();
    for c in containers {
        let requests = c.pointer("/resources/requests").and_then(Value::as_object);
        let limits = c.pointer("/resources/limits").and_then(Value::as_object);
        if requests.is_some_and(|r| !r.is_empty()) || limits.is_some_and(|l| !l.is_empty()) {
            any = true;
        }
        for res in ["cpu", "memory"] {
            let limit = limits.and_then(|l| l.get(res));
            let request = requests.and_then(|r| r.get(res)).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// `prefix` and a drawn suffix; like the real server (KEP-4420), a name that is `taken` is
/// drawn again, up to 8 draws, before the last is used (and answers AlreadyExists). Pure but
/// for `draw`.
pub(super) fn generated_name(
    prefix: &str,
    taken: impl Fn(&str) -> bool,
    mut draw: impl FnMut() -> String,
) -> String {
    let mut name = format!("{prefix}{}", draw());
    for _ in 1..8 {
        if !taken(&name) {
            break;
        }
        name = format!("{prefix}{}", draw());
    }
    name
}

#[cfg(test)]
mod generated_name_tests {
    use super::generated_name;

    #[test]
    fn a_taken_generated_name_is_drawn_again() {
        let mut draws = ["aaaaa", "aaaaa", "bbbbb"].into_iter().map(String::from);
        let name = generated_name("web-", |n| n == "web-aaaaa", || draws.next().unwrap());
        assert_eq!(name, "web-bbbbb");
        let mut n = 0;
        let name = generated_name(
            "web-",
            |_| true,
            || {
                n += 1;
                format!("{n:05}")
            },
        );
        assert_eq!(name, "web-00008", "8 draws at most, then the last");
    }
}
