//! OpenAPI v3 (and v2) documents for the served types, generated from k8s-openapi's schemas.
//!
//! Owns what kube-apiserver serves under `/openapi/v3` and `/openapi/v2`:
//! a root listing one document per group version (plus the discovery
//! documents `api`, `apis`, `apis/<group>`, `version`), each with the
//! routes of its resources and every schema they reach. kubectl reads these
//! for `explain`, for the strategic-merge-patch keys of `apply`, and to see
//! whether the server takes `fieldValidation`.
//!
//! Invariants: documents are generated once per process and never change, so
//! a document's hash (in the root's URLs) identifies its content; every
//! `$ref` in a document resolves inside that document.

mod paths;
mod schemas;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock};

use serde_json::{Map, Value, json};

use crate::registry;
use paths::PathItem;

struct Document {
    doc: Arc<Value>,
    hash: String,
}

/// Every component schema the served types reach.
static SCHEMAS: LazyLock<Map<String, Value>> = LazyLock::new(schemas::generate);

/// The v3 documents by path (`api/v1`, `apis/apps/v1`, ...).
static V3: LazyLock<BTreeMap<String, Document>> = LazyLock::new(|| {
    documents()
        .into_iter()
        .map(|(path, items)| {
            let doc = v3_document(&items);
            let hash = content_hash(&serde_json::to_vec(&doc).unwrap_or_default());
            (
                path,
                Document {
                    doc: Arc::new(doc),
                    hash,
                },
            )
        })
        .collect()
});

static V2: LazyLock<Arc<Value>> = LazyLock::new(|| Arc::new(v2_document()));

/// `GET /openapi/v3`: `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=<HEX>"}, ...}}`.
pub fn v3_root() -> Value {
    let paths: Map<String, Value> = V3
        .iter()
        .map(|(path, d)| {
            let url = format!("/openapi/v3/{path}?hash={}", d.hash);
            (path.clone(), json!({"serverRelativeURL": url}))
        })
        .collect();
    json!({"paths": paths})
}

/// `GET /openapi/v3/<path>` for `api/v1`, `apis/apps/v1`, `api`, `apis`,
/// `apis/apps` or `version`; `None` for a path not served.
pub fn v3_group_version(path: &str) -> Option<Arc<Value>> {
    V3.get(path.trim_matches('/')).map(|d| d.doc.clone())
}

/// The hash in [`v3_root`]'s URL for `path`: an ETag for that document.
pub fn v3_hash(path: &str) -> Option<String> {
    V3.get(path.trim_matches('/')).map(|d| d.hash.clone())
}

/// `GET /openapi/v2`: one Swagger 2.0 document for everything served.
pub fn v2() -> Arc<Value> {
    V2.clone()
}

/// The path items of each v3 document, keyed as in the root.
fn documents() -> Vec<(String, Vec<PathItem>)> {
    let mut docs = vec![
        ("api".to_owned(), vec![paths::core_versions_path()]),
        ("apis".to_owned(), vec![paths::groups_path()]),
        ("version".to_owned(), vec![paths::version_path()]),
    ];
    let gvs = registry::group_versions();
    let groups: BTreeSet<&str> = gvs
        .iter()
        .map(|(g, _)| *g)
        .filter(|g| !g.is_empty())
        .collect();
    for group in groups {
        docs.push((format!("apis/{group}"), vec![paths::group_path(group)]));
    }
    for (group, version) in gvs {
        let mut items = vec![paths::resources_path(group, version)];
        let types = registry::RESOURCE_TYPES
            .iter()
            .filter(|t| t.group == group && t.version == version);
        for t in types {
            if let Some(k) = schemas::for_type(t) {
                items.extend(paths::resource_paths(t, k));
            }
        }
        docs.push((gv_key(group, version), items));
    }
    docs
}

fn gv_key(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Schemas a document must carry: what its operations name, the kinds they
/// serve and everything those reach.
fn document_schemas(items: &[PathItem]) -> BTreeMap<String, Value> {
    let roots = items.iter().flat_map(paths::referenced_schemas);
    schemas::closure(&SCHEMAS, roots)
}

fn info() -> Value {
    json!({"title": "Kubernetes", "version": "unversioned"})
}

fn v3_document(items: &[PathItem]) -> Value {
    let paths: Map<String, Value> = items
        .iter()
        .map(|i| (i.path.clone(), paths::to_v3(i)))
        .collect();
    let schemas: Map<String, Value> = document_schemas(items).into_iter().collect();
    let mut doc = json!({
        "components": {"schemas": schemas},
        "info": info(),
        "openapi": "3.0.0",
        "paths": paths,
    });
    sort_keys(&mut doc);
    doc
}

fn v2_document() -> Value {
    let items: Vec<PathItem> = documents().into_iter().flat_map(|(_, i)| i).collect();
    let paths: Map<String, Value> = items
        .iter()
        .map(|i| (i.path.clone(), paths::to_v2(i)))
        .collect();
    let definitions: Map<String, Value> = document_schemas(&items)
        .into_iter()
        .map(|(name, mut schema)| {
            to_v2_schema(&mut schema);
            // Swagger 2.0 has no oneOf: upstream's v2 calls both scalars strings.
            if (name == schemas::INT_OR_STRING || name == schemas::QUANTITY)
                && let Value::Object(obj) = &mut schema
            {
                obj.remove("oneOf");
                obj.insert("type".into(), "string".into());
            }
            (name, schema)
        })
        .collect();
    let mut doc = json!({
        "definitions": definitions,
        "info": info(),
        "paths": paths,
        "swagger": "2.0",
    });
    sort_keys(&mut doc);
    doc
}

/// Swagger 2.0 has no `nullable` and tolerates `$ref` siblings; kubectl's v2
/// parser reads a property's type only from a bare `$ref`, so the 3.0
/// `allOf: [{$ref}]` wrappers are unwrapped.
fn to_v2_schema(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            obj.remove("nullable");
            let single_ref = match obj.get("allOf") {
                Some(Value::Array(all)) if all.len() == 1 => all[0]
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .and_then(|o| o.get("$ref"))
                    .cloned(),
                _ => None,
            };
            if let Some(r) = single_ref {
                obj.remove("allOf");
                obj.insert("$ref".into(), r);
            }
            if let Some(Value::String(r)) = obj.get_mut("$ref")
                && let Some(name) = r.strip_prefix(schemas::REF_PREFIX)
            {
                *r = format!("#/definitions/{name}");
            }
            obj.values_mut().for_each(to_v2_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(to_v2_schema),
        _ => {}
    }
}

/// Upstream serves its documents with every object's keys sorted; so do we,
/// which also makes the bytes (and so the hash) independent of build order.
fn sort_keys(v: &mut Value) {
    match v {
        Value::Object(obj) => {
            obj.sort_keys();
            obj.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// FNV-1a, 128 bits: a cache key, not a security boundary (kube-apiserver
/// uses SHA-512 for the same purpose; clients treat the value as opaque).
fn content_hash(bytes: &[u8]) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let h = bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u128::from(*b)).wrapping_mul(PRIME));
    format!("{h:032X}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(path: &str) -> Arc<Value> {
        v3_group_version(path).unwrap_or_else(|| panic!("no document for {path}"))
    }

    fn gvk_of(schema: &Value) -> Vec<Value> {
        schema["x-kubernetes-group-version-kind"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn walk(v: &Value, f: &mut impl FnMut(&Map<String, Value>)) {
        match v {
            Value::Object(o) => {
                f(o);
                o.values().for_each(|c| walk(c, f));
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, f)),
            _ => {}
        }
    }

    #[test]
    fn root_lists_every_group_version() {
        let root = v3_root();
        let paths = root["paths"].as_object().unwrap();
        let mut expected: Vec<String> = registry::group_versions()
            .into_iter()
            .map(|(g, v)| gv_key(g, v))
            .collect();
        expected.extend(["api", "apis", "apis/apps", "version"].map(String::from));
        for key in expected {
            let url = paths[&key]["serverRelativeURL"].as_str().unwrap();
            let hash = v3_hash(&key).unwrap();
            assert_eq!(url, format!("/openapi/v3/{key}?hash={hash}"));
            assert!(v3_group_version(&key).is_some(), "{key}");
        }
        assert!(v3_group_version("apis/nope/v1").is_none());
        assert!(v3_hash("apis/nope/v1").is_none());
    }

    #[test]
    fn every_served_kind_has_a_schema_with_its_gvk() {
        for t in registry::RESOURCE_TYPES {
            let k = schemas::for_type(t)
                .unwrap_or_else(|| panic!("no schema for {}/{}", t.api_version(), t.kind));
            let d = doc(&gv_key(t.group, t.version));
            let schemas = &d["components"]["schemas"];
            let want = |kind: &str| vec![schemas::gvk(t.group, t.version, kind)];
            assert_eq!(gvk_of(&schemas[k.name()]), want(t.kind), "{}", t.kind);
            let list = k.list_name().unwrap();
            let list_kind = format!("{}List", t.kind);
            assert_eq!(gvk_of(&schemas[&list]), want(&list_kind), "{list}");
            assert_eq!(schemas[&list]["properties"]["items"]["type"], "array");
            for meta in [schemas::delete_options(), schemas::watch_event()] {
                let gvks = gvk_of(&schemas[&meta]);
                assert!(
                    gvks.contains(&schemas::gvk(
                        t.group,
                        t.version,
                        &meta[meta.rfind('.').unwrap() + 1..]
                    )),
                    "{meta}"
                );
            }
            assert!(schemas.get(schemas::status()).is_some());
        }
        let apps = doc("apis/apps/v1");
        let scale = &apps["components"]["schemas"]["io.k8s.api.autoscaling.v1.Scale"];
        assert_eq!(
            gvk_of(scale),
            vec![schemas::gvk("autoscaling", "v1", "Scale")]
        );
    }

    #[test]
    fn every_ref_resolves_inside_its_document() {
        for key in V3.keys() {
            let d = doc(key);
            let schemas = d["components"]["schemas"].as_object().unwrap();
            walk(&d, &mut |o| {
                if let Some(r) = o.get("$ref") {
                    let r = r.as_str().unwrap();
                    let name = r
                        .strip_prefix("#/components/schemas/")
                        .unwrap_or_else(|| panic!("{key}: {r}"));
                    assert!(schemas.contains_key(name), "{key}: dangling {r}");
                }
            });
        }
        let v2 = v2();
        let defs = v2["definitions"].as_object().unwrap();
        walk(&v2, &mut |o| {
            if let Some(r) = o.get("$ref") {
                let r = r.as_str().unwrap();
                let name = r
                    .strip_prefix("#/definitions/")
                    .unwrap_or_else(|| panic!("v2: {r}"));
                assert!(defs.contains_key(name), "v2: dangling {r}");
            }
        });
    }

    #[test]
    fn documents_are_openapi_3_0() {
        for key in V3.keys() {
            let d = doc(key);
            assert_eq!(d["openapi"], "3.0.0");
            walk(&d["components"], &mut |o| {
                for bad in [
                    "$schema",
                    "$defs",
                    "definitions",
                    "const",
                    "prefixItems",
                    "examples",
                ] {
                    assert!(!o.contains_key(bad), "{key}: {bad}");
                }
                // A type array is JSON Schema, not OpenAPI 3.0 (an object
                // here is a property that happens to be called "type").
                if let Some(ty) = o.get("type") {
                    assert!(!ty.is_array(), "{key}: type {ty}");
                }
                if o.contains_key("$ref") {
                    assert_eq!(o.len(), 1, "{key}: $ref with siblings {o:?}");
                }
            });
        }
    }

    #[test]
    fn v2_is_swagger_2_0() {
        let v2 = v2();
        assert_eq!(v2["swagger"], "2.0");
        walk(&v2["definitions"], &mut |o| {
            for bad in ["nullable", "oneOf", "anyOf", "$schema"] {
                assert!(!o.contains_key(bad), "{bad}");
            }
        });
        let pods = &v2["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        let names: Vec<&str> = pods["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"body") && names.contains(&"fieldValidation"));
        let containers =
            &v2["definitions"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(
            containers["items"]["$ref"],
            "#/definitions/io.k8s.api.core.v1.Container"
        );
    }

    #[test]
    fn patch_keys_reach_the_property_schemas() {
        let core = doc("api/v1");
        let schemas = &core["components"]["schemas"];
        let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["type"], "array");
        let ports = &schemas["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"];
        assert_eq!(ports["x-kubernetes-patch-merge-key"], "port");
    }

    /// A row naming a field the schema lacks would silently turn a merge into
    /// a replace on the client side.
    #[test]
    fn every_patch_meta_row_of_a_published_schema_finds_its_field() {
        for (schema, field, _) in crate::patch::meta::all() {
            if let Some(s) = SCHEMAS.get(*schema) {
                assert!(s["properties"].get(*field).is_some(), "{schema}.{field}");
            }
        }
    }

    #[test]
    fn metadata_is_required_only_where_upstream_requires_it() {
        let core = doc("api/v1");
        let schemas = &core["components"]["schemas"];
        assert!(schemas["io.k8s.api.core.v1.Pod"].get("required").is_none());
        let event = schemas["io.k8s.api.core.v1.Event"]["required"]
            .as_array()
            .unwrap();
        assert!(event.contains(&json!("metadata")));
        assert_eq!(
            schemas["io.k8s.api.core.v1.PodSpec"]["required"],
            json!(["containers"])
        );
    }

    /// What kubectl's QueryParamVerifierV3 does: find a PATCH whose GVK
    /// extension is the kind and look for the parameter on it.
    #[test]
    fn every_patch_takes_field_validation_and_dry_run() {
        for t in registry::RESOURCE_TYPES {
            let d = doc(&gv_key(t.group, t.version));
            let want = schemas::gvk(t.group, t.version, t.kind);
            let mut found = false;
            for (path, item) in d["paths"].as_object().unwrap() {
                let Some(patch) = item.get("patch") else {
                    continue;
                };
                let names: Vec<&str> = patch["parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                assert!(names.contains(&"fieldValidation"), "{path}");
                assert!(names.contains(&"dryRun"), "{path}");
                found |= patch["x-kubernetes-group-version-kind"] == want;
            }
            assert!(found, "no PATCH for {}", t.kind);
        }
    }

    #[test]
    fn paths_cover_collections_items_and_subresources() {
        let core = doc("api/v1");
        let paths = core["paths"].as_object().unwrap();
        for p in [
            "/api/v1/",
            "/api/v1/pods",
            "/api/v1/namespaces/{namespace}/pods",
            "/api/v1/namespaces/{namespace}/pods/{name}",
            "/api/v1/namespaces/{namespace}/pods/{name}/status",
            "/api/v1/namespaces/{namespace}/pods/{name}/log",
            "/api/v1/namespaces/{namespace}/pods/{name}/binding",
            "/api/v1/namespaces/{namespace}/pods/{name}/exec",
            "/api/v1/watch/namespaces/{namespace}/pods",
            "/api/v1/nodes",
            "/api/v1/nodes/{name}",
            "/api/v1/namespaces/{name}/finalize",
        ] {
            assert!(paths.contains_key(p), "{p}");
        }
        assert!(!paths.contains_key("/api/v1/namespaces/{namespace}/nodes"));
        let list = &paths["/api/v1/namespaces/{namespace}/pods"]["get"];
        assert_eq!(list["operationId"], "listCoreV1NamespacedPod");
        assert_eq!(list["x-kubernetes-action"], "list");
        assert_eq!(
            list["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.PodList"
        );
        assert_eq!(
            paths["/api/v1/pods"]["get"]["operationId"],
            "listCoreV1PodForAllNamespaces"
        );
        let apps = doc("apis/apps/v1");
        let scale = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
        assert_eq!(
            scale["put"]["operationId"],
            "replaceAppsV1NamespacedDeploymentScale"
        );
        assert_eq!(
            scale["get"]["x-kubernetes-group-version-kind"]["kind"],
            "Scale"
        );
        let items = documents();
        let (_, core_items) = items.iter().find(|(k, _)| k == "api/v1").unwrap();
        let pod = core_items
            .iter()
            .find(|i| i.path == "/api/v1/namespaces/{namespace}/pods/{name}")
            .unwrap();
        assert!(paths::has_param(pod, "patch", "force"));
        assert!(paths::has_param(pod, "delete", "propagationPolicy"));
    }

    #[test]
    fn hashes_identify_content() {
        let a = v3_hash("api/v1").unwrap();
        assert_eq!(
            a,
            content_hash(&serde_json::to_vec(&*doc("api/v1")).unwrap())
        );
        assert_ne!(a, v3_hash("apis/apps/v1").unwrap());
        assert_eq!(a.len(), 32);
    }
}
