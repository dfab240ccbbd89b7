//! Type and shape checks of a JSON body against its Kubernetes type, worded
//! as kube-apiserver's decoder words them.
//!
//! Owns the walk of an object against the type's JSON schema (generated from
//! k8s-openapi's `schemars` impls, built once): it finds the first type error
//! the way Go's `encoding/json` reports it (`json: cannot unmarshal string
//! into Go struct field DeploymentSpec.spec.replicas of type int32`), the
//! errors of kube's own unmarshallers (quantities, times, base64 bytes), and
//! every field the type does not have, for strict field validation.
//!
//! Invariant: an object that passes `decode_check` also deserializes into
//! the k8s-openapi type (checked at the end), so `validate` can rely on it.

use std::collections::HashMap;
use std::sync::LazyLock;

use schemars::{JsonSchema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::quantity::parse_json_quantity;
use crate::registry::ResourceType;

/// One servable type: how to get its schema and how to decode it.
struct Entry {
    group: &'static str,
    kind: &'static str,
    schema: fn(&mut SchemaGenerator) -> String,
    decode: fn(&ResourceType, &Value) -> Result<(), String>,
}

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> String {
    generator.subschema_for::<T>();
    T::schema_name().into_owned()
}

fn decodes<T: DeserializeOwned>(rt: &ResourceType, obj: &Value) -> Result<(), String> {
    typed::<T>(rt, obj).map(|_| ())
}

const fn entry<T: JsonSchema + DeserializeOwned>(group: &'static str, kind: &'static str) -> Entry {
    Entry {
        group,
        kind,
        schema: schema_of::<T>,
        decode: decodes::<T>,
    }
}

mod types {
    pub(super) use k8s_openapi::api::{
        apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch,
        coordination::v1 as coordination, core::v1 as core, discovery::v1 as discovery,
        networking::v1 as networking,
    };
}
use types::*;

static ENTRIES: &[Entry] = &[
    entry::<core::Namespace>("", "Namespace"),
    entry::<core::Pod>("", "Pod"),
    entry::<core::Service>("", "Service"),
    entry::<core::Endpoints>("", "Endpoints"),
    entry::<core::ConfigMap>("", "ConfigMap"),
    entry::<core::Secret>("", "Secret"),
    entry::<core::Node>("", "Node"),
    entry::<core::Event>("", "Event"),
    entry::<core::ServiceAccount>("", "ServiceAccount"),
    entry::<core::PersistentVolume>("", "PersistentVolume"),
    entry::<core::PersistentVolumeClaim>("", "PersistentVolumeClaim"),
    entry::<apps::Deployment>("apps", "Deployment"),
    entry::<apps::ReplicaSet>("apps", "ReplicaSet"),
    entry::<apps::StatefulSet>("apps", "StatefulSet"),
    entry::<apps::DaemonSet>("apps", "DaemonSet"),
    entry::<apps::ControllerRevision>("apps", "ControllerRevision"),
    entry::<batch::Job>("batch", "Job"),
    entry::<batch::CronJob>("batch", "CronJob"),
    entry::<discovery::EndpointSlice>("discovery.k8s.io", "EndpointSlice"),
    entry::<coordination::Lease>("coordination.k8s.io", "Lease"),
    entry::<networking::Ingress>("networking.k8s.io", "Ingress"),
    entry::<autoscaling::HorizontalPodAutoscaler>("autoscaling", "HorizontalPodAutoscaler"),
];

struct Schemas {
    defs: Map<String, Value>,
    roots: HashMap<(&'static str, &'static str), String>,
}

static SCHEMAS: LazyLock<Schemas> = LazyLock::new(|| {
    let mut generator = SchemaGenerator::default();
    let mut roots = HashMap::new();
    for e in ENTRIES {
        roots.insert((e.group, e.kind), (e.schema)(&mut generator));
    }
    let mut defs = generator.take_definitions(false);
    for schema in defs.values_mut() {
        strip_descriptions(schema);
    }
    Schemas { defs, roots }
});

/// Descriptions are most of the schema's size and none of its meaning here.
fn strip_descriptions(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    obj.remove("description");
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        for p in props.values_mut() {
            strip_descriptions(p);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(s) = obj.get_mut(key) {
            strip_descriptions(s);
        }
    }
}

/// Decodes `obj` as `T`, supplying `apiVersion`/`kind` when absent (the
/// k8s-openapi decoders insist on them; the URL already fixed the type).
pub(crate) fn typed<T: DeserializeOwned>(rt: &ResourceType, obj: &Value) -> Result<T, String> {
    let mut obj = obj.clone();
    if let Some(m) = obj.as_object_mut() {
        m.entry("apiVersion")
            .or_insert_with(|| Value::String(rt.api_version()));
        m.entry("kind")
            .or_insert_with(|| Value::String(rt.kind.to_string()));
    }
    serde_json::from_value(obj).map_err(|e| e.to_string())
}

fn prefix(rt: &ResourceType) -> String {
    format!(
        "{} in version {:?} cannot be handled as a {}",
        rt.kind, rt.version, rt.kind
    )
}

pub(crate) fn decode_check(rt: &ResourceType, obj: &Value) -> Result<Vec<String>, String> {
    let schemas = &*SCHEMAS;
    let Some(root) = schemas.roots.get(&(rt.group, rt.kind)) else {
        return Ok(Vec::new());
    };
    let walker = Walker {
        defs: &schemas.defs,
    };
    let mut unknown = Vec::new();
    let root_schema = serde_json::json!({ "$ref": format!("#/$defs/{root}") });
    let ctx = Ctx {
        path: String::new(),
        go_path: String::new(),
        go_struct: String::new(),
    };
    walker
        .walk(obj, &root_schema, &ctx, &mut unknown)
        .map_err(|e| format!("{}: {e}", prefix(rt)))?;
    let entry = ENTRIES
        .iter()
        .find(|e| e.group == rt.group && e.kind == rt.kind)
        .expect("entry for a known root");
    (entry.decode)(rt, obj).map_err(|e| format!("{}: {e}", prefix(rt)))?;
    Ok(unknown)
}

struct Ctx {
    /// JSON path with indices: `spec.containers[0].image`.
    path: String,
    /// Go's field stack: `spec.containers.image`.
    go_path: String,
    /// The Go struct the current field belongs to: `Container`.
    go_struct: String,
}

impl Ctx {
    fn field(&self, name: &str, go_struct: &str) -> Ctx {
        let join = |base: &str| {
            if base.is_empty() {
                name.to_string()
            } else {
                format!("{base}.{name}")
            }
        };
        Ctx {
            path: join(&self.path),
            go_path: join(&self.go_path),
            go_struct: go_struct.to_string(),
        }
    }

    fn index(&self, i: usize) -> Ctx {
        Ctx {
            path: format!("{}[{i}]", self.path),
            go_path: self.go_path.clone(),
            go_struct: self.go_struct.clone(),
        }
    }
}

struct Walker<'a> {
    defs: &'a Map<String, Value>,
}

const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime";

/// `v1.DeploymentSpec` for `io.k8s.api.apps.v1.DeploymentSpec`: the Go package's last element and the type.
fn go_type_of_def(def: &str) -> String {
    let mut parts = def.rsplit('.');
    let name = parts.next().unwrap_or(def);
    match def {
        QUANTITY => "resource.Quantity".into(),
        INT_OR_STRING => "intstr.IntOrString".into(),
        "io.k8s.apimachinery.pkg.runtime.RawExtension" => "runtime.RawExtension".into(),
        _ => format!("{}.{name}", parts.next().unwrap_or("v1")),
    }
}

fn short_name(def: &str) -> &str {
    def.rsplit('.').next().unwrap_or(def)
}

/// What Go's decoder calls a JSON value in its errors.
fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn schema_type(s: &Map<String, Value>) -> Option<&str> {
    match s.get("type") {
        Some(Value::String(t)) => Some(t),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

/// The first byte Go's strict standard base64 decoder rejects, if any.
fn base64_error(s: &str) -> Option<usize> {
    let bytes: Vec<(usize, u8)> = s
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b != b'\r' && *b != b'\n')
        .collect();
    let valid = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    let mut i = 0;
    while i < bytes.len() {
        let quantum: Vec<(usize, u8)> = bytes[i..bytes.len().min(i + 4)].to_vec();
        for (j, (pos, b)) in quantum.iter().enumerate() {
            if *b == b'=' {
                // Padding may only close the final quantum, after at least two symbols.
                let rest_is_padding = quantum[j..].iter().all(|(_, b)| *b == b'=');
                if j < 2 || !rest_is_padding || quantum.len() != 4 || i + 4 != bytes.len() {
                    return Some(*pos);
                }
                return None;
            }
            if !valid(*b) {
                return Some(*pos);
            }
        }
        if quantum.len() < 4 {
            // Unpadded tail: Go reports the offset where the missing padding should be.
            return Some(
                quantum
                    .last()
                    .map(|(p, _)| p + 1)
                    .unwrap_or(s.len())
                    .min(s.len()),
            );
        }
        i += 4;
    }
    None
}

impl Walker<'_> {
    fn resolve<'s>(
        &'s self,
        schema: &'s Value,
    ) -> (Option<&'s Map<String, Value>>, Option<&'s str>) {
        let Some(obj) = schema.as_object() else {
            return (None, None);
        };
        match obj.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or(r);
                (self.defs.get(name).and_then(Value::as_object), Some(name))
            }
            None => (Some(obj), None),
        }
    }

    /// The Go type a schema decodes into, for error messages.
    fn go_type(&self, schema: &Value) -> String {
        let (s, def) = self.resolve(schema);
        if let Some(def) = def {
            return go_type_of_def(def);
        }
        let Some(s) = s else {
            return "interface {}".into();
        };
        match schema_type(s) {
            Some("string") if s.get("format").and_then(Value::as_str) == Some("byte") => {
                "[]uint8".into()
            }
            Some("string") => "string".into(),
            Some("integer") => s
                .get("format")
                .and_then(Value::as_str)
                .unwrap_or("int64")
                .to_string(),
            Some("number") => "float64".into(),
            Some("boolean") => "bool".into(),
            Some("array") => format!(
                "[]{}",
                s.get("items")
                    .map(|i| self.go_type(i))
                    .unwrap_or_else(|| "interface {}".into())
            ),
            Some("object") => match s.get("additionalProperties") {
                Some(v @ Value::Object(_)) => format!("map[string]{}", self.go_type(v)),
                _ => "map[string]interface {}".into(),
            },
            _ => "interface {}".into(),
        }
    }

    fn type_error(&self, value_desc: &str, schema: &Value, ctx: &Ctx) -> String {
        let ty = self.go_type(schema);
        if ctx.go_struct.is_empty() {
            format!("json: cannot unmarshal {value_desc} into Go value of type {ty}")
        } else {
            format!(
                "json: cannot unmarshal {value_desc} into Go struct field {}.{} of type {ty}",
                ctx.go_struct, ctx.go_path
            )
        }
    }

    fn walk(
        &self,
        v: &Value,
        schema: &Value,
        ctx: &Ctx,
        unknown: &mut Vec<String>,
    ) -> Result<(), String> {
        // Go leaves the zero value for a null, whatever the type.
        if v.is_null() {
            return Ok(());
        }
        let (s, def) = self.resolve(schema);
        match def {
            Some(QUANTITY) => {
                return parse_json_quantity(v)
                    .map(|_| ())
                    .map_err(|e| e.to_string());
            }
            Some(INT_OR_STRING) => {
                return match v {
                    Value::String(_) => Ok(()),
                    Value::Number(n) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => {
                        Ok(())
                    }
                    Value::Number(n) => Err(format!(
                        "json: cannot unmarshal number {n} into Go value of type int32"
                    )),
                    other => Err(format!(
                        "json: cannot unmarshal {} into Go value of type int32",
                        json_kind(other)
                    )),
                };
            }
            Some(TIME) | Some(MICRO_TIME) => {
                let layout = if def == Some(TIME) {
                    "2006-01-02T15:04:05Z07:00"
                } else {
                    "2006-01-02T15:04:05.000000Z07:00"
                };
                return match v {
                    Value::String(t)
                        if t.is_empty() || chrono::DateTime::parse_from_rfc3339(t).is_ok() =>
                    {
                        Ok(())
                    }
                    Value::String(t) => Err(format!(
                        "parsing time {t:?} as {layout:?}: cannot parse {t:?} as \"2006\""
                    )),
                    other => Err(format!(
                        "json: cannot unmarshal {} into Go value of type string",
                        json_kind(other)
                    )),
                };
            }
            _ => {}
        }
        let Some(s) = s else {
            return Ok(());
        };
        match schema_type(s) {
            Some("object") => {
                let Value::Object(obj) = v else {
                    return Err(self.type_error(json_kind(v), schema, ctx));
                };
                if let Some(Value::Object(props)) = s.get("properties") {
                    let go_struct = def.map(short_name).unwrap_or(&ctx.go_struct).to_string();
                    for (k, child) in obj {
                        match props.get(k) {
                            Some(child_schema) => {
                                self.walk(child, child_schema, &ctx.field(k, &go_struct), unknown)?
                            }
                            None => unknown.push(ctx.field(k, &go_struct).path),
                        }
                    }
                } else if let Some(item @ Value::Object(_)) = s.get("additionalProperties") {
                    for (k, child) in obj {
                        // Go's field stack does not grow for map keys.
                        let child_ctx = Ctx {
                            path: format!("{}.{k}", ctx.path),
                            go_path: ctx.go_path.clone(),
                            go_struct: ctx.go_struct.clone(),
                        };
                        self.walk(child, item, &child_ctx, unknown)?;
                    }
                }
                Ok(())
            }
            Some("array") => {
                let Value::Array(items) = v else {
                    return Err(self.type_error(json_kind(v), schema, ctx));
                };
                if let Some(item_schema) = s.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.walk(item, item_schema, &ctx.index(i), unknown)?;
                    }
                }
                Ok(())
            }
            Some("string") => match v {
                Value::String(text) => {
                    if s.get("format").and_then(Value::as_str) == Some("byte")
                        && let Some(pos) = base64_error(text)
                    {
                        return Err(format!("illegal base64 data at input byte {pos}"));
                    }
                    Ok(())
                }
                other => Err(self.type_error(json_kind(other), schema, ctx)),
            },
            Some("integer") => match v {
                Value::Number(n) => {
                    let fits = match s.get("format").and_then(Value::as_str) {
                        Some("int32") => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()),
                        _ => n.as_i64().is_some(),
                    };
                    if fits {
                        Ok(())
                    } else {
                        Err(self.type_error(&format!("number {n}"), schema, ctx))
                    }
                }
                other => Err(self.type_error(json_kind(other), schema, ctx)),
            },
            Some("number") => match v {
                Value::Number(_) => Ok(()),
                other => Err(self.type_error(json_kind(other), schema, ctx)),
            },
            Some("boolean") => match v {
                Value::Bool(_) => Ok(()),
                other => Err(self.type_error(json_kind(other), schema, ctx)),
            },
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::by_kind;
    use serde_json::json;

    fn check(api_version: &str, kind: &str, obj: Value) -> Result<Vec<String>, String> {
        decode_check(by_kind(api_version, kind).unwrap(), &obj)
    }

    #[test]
    fn type_errors() {
        let cases = [
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": "3"}}),
                "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": "x"}),
                "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field Deployment.spec of type v1.DeploymentSpec",
            ),
            (
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1.5}}),
                "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32",
            ),
            (
                json!({"kind": "Pod", "spec": {"containers": [{"name": "a", "image": 5}]}}),
                "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal number into Go struct field Container.spec.containers.image of type string",
            ),
            (
                json!({"kind": "Pod", "spec": {"containers": {"name": "a"}}}),
                "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container",
            ),
            (
                json!({"kind": "Pod", "metadata": {"labels": {"a": 1}}}),
                "Pod in version \"v1\" cannot be handled as a Pod: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
            ),
            (
                json!({"kind": "Pod", "spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "lots"}}}]}}),
                "Pod in version \"v1\" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            ),
            (
                json!({"kind": "Secret", "data": {"a": "not base64!"}}),
                "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at input byte 3",
            ),
            (
                json!({"kind": "Pod", "metadata": {"creationTimestamp": "yesterday"}}),
                "Pod in version \"v1\" cannot be handled as a Pod: parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\"",
            ),
            (
                json!({"kind": "Service", "spec": {"ports": [{"port": 80, "targetPort": true}]}}),
                "Service in version \"v1\" cannot be handled as a Service: json: cannot unmarshal bool into Go value of type int32",
            ),
        ];
        for (obj, want) in cases {
            let kind = obj["kind"].as_str().unwrap().to_string();
            let av = obj
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("v1")
                .to_string();
            assert_eq!(check(&av, &kind, obj), Err(want.to_string()));
        }
    }

    #[test]
    fn unknown_fields() {
        let obj = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "bogus": 1},
            "spec": {"foo": true, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                    {"name": "a", "image": "nginx", "imagee": "x", "resources": {"limits": {"cpu": 1}}},
                    {"name": "b", "image": "nginx", "ports": [{"containerPort": 80, "protocl": "TCP"}]},
                ]}}},
            "status": {},
        });
        assert_eq!(
            check("apps/v1", "Deployment", obj),
            Ok(vec![
                "metadata.bogus".to_string(),
                "spec.foo".to_string(),
                "spec.template.spec.containers[0].imagee".to_string(),
                "spec.template.spec.containers[1].ports[0].protocl".to_string(),
            ])
        );
        let clean = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c",
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:data": {".": {}}}}]}, "data": {"a": "b"}});
        assert_eq!(check("v1", "ConfigMap", clean), Ok(vec![]));
        let secret = json!({"kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "YWJj", "b": "YQ=="}, "stringData": {"c": "x"}});
        assert_eq!(check("v1", "Secret", secret), Ok(vec![]));
    }

    #[test]
    fn base64() {
        assert_eq!(base64_error("YWJj"), None);
        assert_eq!(base64_error("YQ=="), None);
        assert_eq!(base64_error("YWI="), None);
        assert_eq!(base64_error(""), None);
        assert_eq!(base64_error("YQ"), Some(2));
        assert_eq!(base64_error("Y!=="), Some(1));
        assert_eq!(base64_error("YQ==YQ=="), Some(2));
    }
}
