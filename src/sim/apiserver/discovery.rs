//! Discovery documents (`/version`, `/api`, `/apis`, `/apis/<g>`, resource lists) and the
//! OpenAPI v3 documents kubectl needs for `apply` (field validation support, GVK lookup,
//! `kubectl explain`), all generated from the [`Registry`].

use std::hash::{Hash, Hasher};

use serde_json::{json, Value};

use super::registry::{Registry, ResourceInfo};

/// `GET /version`.
pub fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.0-vpsie-sim",
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.24.0", "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `GET /api`.
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions", "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    })
}

fn group_json(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": vs,
        "preferredVersion": vs.first().cloned().unwrap_or(json!({})),
    })
}

/// `GET /apis`.
pub fn group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry
        .groups()
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, vs)| group_json(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/<group>`, `None` when the group is not served.
pub fn group(registry: &Registry, group: &str) -> Option<Value> {
    registry
        .groups()
        .iter()
        .find(|(g, _)| g == group && !g.is_empty())
        .map(|(g, vs)| {
            let mut v = group_json(g, vs);
            v["kind"] = json!("APIGroup");
            v["apiVersion"] = json!("v1");
            v
        })
}

fn resource_entries(info: &ResourceInfo) -> Vec<Value> {
    let mut main = json!({
        "name": info.plural, "singularName": info.singular, "namespaced": info.namespaced,
        "kind": info.kind, "verbs": info.verbs(),
    });
    if !info.short_names.is_empty() {
        main["shortNames"] = json!(info.short_names);
    }
    if !info.categories.is_empty() {
        main["categories"] = json!(info.categories);
    }
    let mut out = vec![main];
    if info.has_status {
        out.push(json!({
            "name": format!("{}/status", info.plural), "singularName": "", "namespaced": info.namespaced,
            "kind": info.kind, "verbs": ["get", "patch", "update"],
        }));
    }
    for sub in &info.extra_subresources {
        let (kind, group, version) = match sub.as_str() {
            "binding" => ("Binding", "", "v1"),
            "eviction" => ("Eviction", "policy", "v1"),
            _ => (info.kind.as_str(), "", ""),
        };
        let mut e = json!({
            "name": format!("{}/{sub}", info.plural), "singularName": "", "namespaced": info.namespaced,
            "kind": kind, "verbs": ["create"],
        });
        if !group.is_empty() {
            e["group"] = json!(group);
            e["version"] = json!(version);
        }
        out.push(e);
    }
    out
}

/// `GET /api/v1` or `/apis/<g>/<v>`, `None` when not served.
pub fn resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    if !registry.has_group_version(group, version) {
        return None;
    }
    let resources: Vec<Value> = registry
        .resources_of(group, version)
        .iter()
        .flat_map(|i| resource_entries(i))
        .collect();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

/// Path key of a group/version in the OpenAPI v3 index (`api/v1`, `apis/g/v`).
fn openapi_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Name of a kind's schema in `components.schemas` (`io.k8s.api.core.v1.Pod`-like).
fn schema_name(info: &ResourceInfo) -> String {
    if info.custom {
        let rev: Vec<&str> = info.group.split('.').rev().collect();
        format!("{}.{}.{}", rev.join("."), info.version, info.kind)
    } else {
        let g = if info.group.is_empty() {
            "core".to_string()
        } else {
            info.group.split('.').next().unwrap_or("").to_string()
        };
        format!("io.k8s.api.{g}.{}.{}", info.version, info.kind)
    }
}

/// `GET /openapi/v3`: the index of group/version documents.
pub fn openapi_index(registry: &Registry) -> Value {
    let mut paths = serde_json::Map::new();
    for (g, vs) in registry.groups() {
        for v in vs {
            let doc = openapi_gv(registry, &g, &v).unwrap_or(Value::Null);
            let mut h = std::collections::hash_map::DefaultHasher::new();
            doc.to_string().hash(&mut h);
            let key = openapi_key(&g, &v);
            paths.insert(
                key.clone(),
                json!({"serverRelativeURL": format!("/openapi/v3/{key}?hash={:016X}", h.finish())}),
            );
        }
    }
    json!({"paths": paths})
}

fn param(name: &str, kind: &str) -> Value {
    json!({"name": name, "in": "query", "description": name, "schema": {"type": kind, "uniqueItems": true}})
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/<g>/<v>`.
pub fn openapi_gv(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    if !registry.has_group_version(group, version) {
        return None;
    }
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    for info in registry.resources_of(group, version) {
        let gvk = json!({"group": info.group, "version": info.version, "kind": info.kind});
        let sname = schema_name(&info);
        let reference = json!({"$ref": format!("#/components/schemas/{sname}")});
        let body = json!({"content": {"application/json": {"schema": reference}}});
        let ok = json!({"200": {"description": "OK", "content": {"application/json": {"schema": reference}}}});
        let write_params = vec![
            param("dryRun", "string"),
            param("fieldManager", "string"),
            param("fieldValidation", "string"),
        ];
        let mut patch_params = write_params.clone();
        patch_params.push(param("force", "boolean"));
        let mut patch_content = serde_json::Map::new();
        for ct in [
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml",
        ] {
            patch_content.insert(ct.into(), json!({"schema": {"type": "object"}}));
        }
        let item = |action: &str, extra: Value| -> Value {
            let mut op = json!({
                "operationId": format!("{action}{}", info.kind),
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
                "responses": ok,
            });
            if let (Some(o), Some(e)) = (op.as_object_mut(), extra.as_object()) {
                for (k, v) in e {
                    o.insert(k.clone(), v.clone());
                }
            }
            op
        };
        let (coll, one) = if info.namespaced {
            (
                format!("{prefix}/namespaces/{{namespace}}/{}", info.plural),
                format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", info.plural),
            )
        } else {
            (
                format!("{prefix}/{}", info.plural),
                format!("{prefix}/{}/{{name}}", info.plural),
            )
        };
        paths.insert(
            coll,
            json!({
                "get": item("list", json!({})),
                "post": item("post", json!({"requestBody": body, "parameters": write_params})),
            }),
        );
        paths.insert(
            one.clone(),
            json!({
                "get": item("get", json!({})),
                "put": item("put", json!({"requestBody": body, "parameters": write_params})),
                "patch": item("patch", json!({"requestBody": {"content": patch_content}, "parameters": patch_params})),
                "delete": item("delete", json!({})),
            }),
        );
        if info.has_status {
            paths.insert(
                format!("{one}/status"),
                json!({
                    "get": item("get", json!({})),
                    "put": item("put", json!({"requestBody": body, "parameters": write_params})),
                    "patch": item("patch", json!({"requestBody": {"content": patch_content}, "parameters": patch_params})),
                }),
            );
        }
        let mut schema = match &info.schema {
            Some(s) => (**s).clone(),
            None => json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        };
        if let Some(o) = schema.as_object_mut() {
            o.insert("x-kubernetes-group-version-kind".into(), json!([gvk]));
            if info.custom {
                let props = o
                    .entry("properties")
                    .or_insert(json!({}))
                    .as_object_mut()
                    .map(|p| {
                        p.entry("apiVersion").or_insert(json!({"type": "string"}));
                        p.entry("kind").or_insert(json!({"type": "string"}));
                        p.insert("metadata".into(), json!({"type": "object"}));
                    });
                let _ = props;
            }
        }
        schemas.insert(sname, schema);
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}
