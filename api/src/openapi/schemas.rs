//! The component schemas: generated from k8s-openapi's `schemars` impls, then
//! corrected to read like kube-apiserver's (GVK and patch extensions, list
//! types, `required`, int-or-string).
//!
//! Invariant: every schema is stored under its Kubernetes name
//! (`io.k8s.api.core.v1.Pod`) and refers to others only as
//! `#/components/schemas/<name>`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::{
    admissionregistration, apps, autoscaling, batch, certificates, coordination, core, discovery,
    events, networking, node, policy, rbac, scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::{ListableResource, Resource};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

use crate::patch::meta as patch_meta;
use crate::registry::{self, ResourceType};

pub(super) const REF_PREFIX: &str = "#/components/schemas/";

/// A built-in kind whose schema we can generate.
pub(super) struct KindSchema {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// `PodList`; `None` for kinds without a collection (Binding, Scale).
    pub list_kind: Option<&'static str>,
    name: fn() -> Cow<'static, str>,
    generate: fn(&mut SchemaGenerator) -> Schema,
}

impl KindSchema {
    /// `io.k8s.api.core.v1.Pod`.
    pub fn name(&self) -> String {
        (self.name)().into_owned()
    }

    /// `io.k8s.api.core.v1.PodList`: upstream names the list beside its item.
    pub fn list_name(&self) -> Option<String> {
        let name = self.name();
        let prefix = name.strip_suffix(self.kind).unwrap_or(&name);
        self.list_kind.map(|l| format!("{prefix}{l}"))
    }
}

fn subschema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

const fn single<T: Resource + JsonSchema>() -> KindSchema {
    KindSchema {
        group: T::GROUP,
        version: T::VERSION,
        kind: T::KIND,
        list_kind: None,
        name: T::schema_name,
        generate: subschema::<T>,
    }
}

const fn listable<T: ListableResource + JsonSchema>() -> KindSchema {
    KindSchema {
        list_kind: Some(T::LIST_KIND),
        ..single::<T>()
    }
}

/// Kinds the registry may serve. Wider than today's registry so that adding a
/// built-in type there needs no change here; only the rows the registry
/// serves are generated.
static KINDS: &[KindSchema] = &[
    single::<core::v1::Binding>(),
    listable::<core::v1::ComponentStatus>(),
    listable::<core::v1::ConfigMap>(),
    listable::<core::v1::Endpoints>(),
    listable::<core::v1::Event>(),
    listable::<core::v1::LimitRange>(),
    listable::<core::v1::Namespace>(),
    listable::<core::v1::Node>(),
    listable::<core::v1::PersistentVolume>(),
    listable::<core::v1::PersistentVolumeClaim>(),
    listable::<core::v1::Pod>(),
    listable::<core::v1::PodTemplate>(),
    listable::<core::v1::ReplicationController>(),
    listable::<core::v1::ResourceQuota>(),
    listable::<core::v1::Secret>(),
    listable::<core::v1::Service>(),
    listable::<core::v1::ServiceAccount>(),
    listable::<apps::v1::ControllerRevision>(),
    listable::<apps::v1::DaemonSet>(),
    listable::<apps::v1::Deployment>(),
    listable::<apps::v1::ReplicaSet>(),
    listable::<apps::v1::StatefulSet>(),
    listable::<batch::v1::CronJob>(),
    listable::<batch::v1::Job>(),
    listable::<autoscaling::v1::HorizontalPodAutoscaler>(),
    single::<autoscaling::v1::Scale>(),
    listable::<autoscaling::v2::HorizontalPodAutoscaler>(),
    listable::<coordination::v1::Lease>(),
    listable::<discovery::v1::EndpointSlice>(),
    listable::<events::v1::Event>(),
    listable::<networking::v1::Ingress>(),
    listable::<networking::v1::IngressClass>(),
    listable::<networking::v1::NetworkPolicy>(),
    single::<policy::v1::Eviction>(),
    listable::<policy::v1::PodDisruptionBudget>(),
    listable::<rbac::v1::ClusterRole>(),
    listable::<rbac::v1::ClusterRoleBinding>(),
    listable::<rbac::v1::Role>(),
    listable::<rbac::v1::RoleBinding>(),
    listable::<scheduling::v1::PriorityClass>(),
    listable::<storage::v1::CSIDriver>(),
    listable::<storage::v1::CSINode>(),
    listable::<storage::v1::CSIStorageCapacity>(),
    listable::<storage::v1::StorageClass>(),
    listable::<storage::v1::VolumeAttachment>(),
    listable::<node::v1::RuntimeClass>(),
    listable::<certificates::v1::CertificateSigningRequest>(),
    listable::<admissionregistration::v1::MutatingWebhookConfiguration>(),
    listable::<admissionregistration::v1::ValidatingAdmissionPolicy>(),
    listable::<admissionregistration::v1::ValidatingAdmissionPolicyBinding>(),
    listable::<admissionregistration::v1::ValidatingWebhookConfiguration>(),
    listable::<apiextensions::v1::CustomResourceDefinition>(),
];

pub(super) fn kind_schema(group: &str, version: &str, kind: &str) -> Option<&'static KindSchema> {
    KINDS
        .iter()
        .find(|k| k.group == group && k.version == version && k.kind == kind)
}

pub(super) fn for_type(t: &ResourceType) -> Option<&'static KindSchema> {
    kind_schema(t.group, t.version, t.kind)
}

/// Schemas of the subresources' bodies.
pub(super) fn scale() -> &'static KindSchema {
    kind_schema("autoscaling", "v1", "Scale").expect("Scale is in KINDS")
}

pub(super) fn binding() -> &'static KindSchema {
    kind_schema("", "v1", "Binding").expect("Binding is in KINDS")
}

/// Names of the meta types every group version document carries.
pub(super) fn delete_options() -> String {
    meta::DeleteOptions::schema_name().into_owned()
}
pub(super) fn status() -> String {
    meta::Status::schema_name().into_owned()
}
pub(super) fn watch_event() -> String {
    <meta::WatchEvent<core::v1::Pod>>::schema_name().into_owned()
}
pub(super) fn patch() -> String {
    meta::Patch::schema_name().into_owned()
}
pub(super) fn api_resource_list() -> String {
    meta::APIResourceList::schema_name().into_owned()
}
pub(super) fn api_versions() -> String {
    meta::APIVersions::schema_name().into_owned()
}
pub(super) fn api_group_list() -> String {
    meta::APIGroupList::schema_name().into_owned()
}
pub(super) fn api_group() -> String {
    meta::APIGroup::schema_name().into_owned()
}
pub(super) fn version_info() -> String {
    k8s_openapi::apimachinery::pkg::version::Info::schema_name().into_owned()
}

/// Upstream marks `metadata` required only where the Go field lacks
/// `omitempty`; k8s-openapi marks it required on every resource because its
/// Rust field is not optional. These are the upstream exceptions.
const METADATA_REQUIRED: &[&str] = &["io.k8s.api.core.v1.Event"];

/// Every schema the served types reach, keyed by name, corrected.
pub(super) fn generate() -> Map<String, Value> {
    let mut g = SchemaSettings::openapi3().into_generator();
    let served: Vec<&KindSchema> = registry::RESOURCE_TYPES
        .iter()
        .filter_map(for_type)
        .collect();
    for k in &served {
        (k.generate)(&mut g);
    }
    if registry::RESOURCE_TYPES
        .iter()
        .any(|t| t.has_subresource("scale"))
    {
        (scale().generate)(&mut g);
    }
    if registry::RESOURCE_TYPES
        .iter()
        .any(|t| t.has_subresource("binding"))
    {
        (binding().generate)(&mut g);
    }
    g.subschema_for::<meta::DeleteOptions>();
    g.subschema_for::<meta::Status>();
    g.subschema_for::<meta::WatchEvent<core::v1::Pod>>();
    g.subschema_for::<meta::Patch>();
    g.subschema_for::<meta::ListMeta>();
    g.subschema_for::<meta::APIResourceList>();
    g.subschema_for::<meta::APIVersions>();
    g.subschema_for::<meta::APIGroupList>();
    g.subschema_for::<meta::APIGroup>();
    g.subschema_for::<k8s_openapi::apimachinery::pkg::version::Info>();
    let mut defs = g.take_definitions(true);

    for k in &served {
        add_list_schema(&mut defs, k);
    }
    fix_required_metadata(&mut defs);
    fix_int_or_string(&mut defs);
    add_group_version_kinds(&mut defs, &served);
    add_patch_extensions(&mut defs);
    defs
}

/// k8s-openapi's `List<T>` has no schema; build the one upstream serves.
fn add_list_schema(defs: &mut Map<String, Value>, k: &KindSchema) {
    let (Some(list_name), Some(list_kind)) = (k.list_name(), k.list_kind) else {
        return;
    };
    let item = defs.get(&k.name());
    let prop = |p: &str| {
        item.and_then(|i| i.pointer(&format!("/properties/{p}")))
            .cloned()
            .unwrap_or_else(|| json!({"type": "string"}))
    };
    let (api_version, kind) = (prop("apiVersion"), prop("kind"));
    defs.insert(
        list_name,
        json!({
            "description": format!("{list_kind} is a list of {} objects.", k.kind),
            "type": "object",
            "properties": {
                "apiVersion": api_version,
                "items": {
                    "description": format!("List of {} objects.", k.kind),
                    "type": "array",
                    "items": {"$ref": format!("{REF_PREFIX}{}", k.name())},
                },
                "kind": kind,
                "metadata": {
                    "allOf": [{"$ref": format!("{REF_PREFIX}{}", meta::ListMeta::schema_name())}],
                    "description": "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
                },
            },
            "required": ["items"],
        }),
    );
}

fn fix_required_metadata(defs: &mut Map<String, Value>) {
    for (name, schema) in defs.iter_mut() {
        if METADATA_REQUIRED.contains(&name.as_str()) {
            continue;
        }
        let Some(obj) = schema.as_object_mut() else {
            continue;
        };
        let Some(Value::Array(required)) = obj.get_mut("required") else {
            continue;
        };
        required.retain(|r| r != "metadata");
        if required.is_empty() {
            obj.remove("required");
        }
    }
}

pub(super) const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
pub(super) const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// Upstream's v3 documents give IntOrString and Quantity a `oneOf` and no
/// `type`, which is what makes `kubectl explain` print `<IntOrString>` rather
/// than `<string>`; k8s-openapi emits a CRD-style extension instead.
fn fix_int_or_string(defs: &mut Map<String, Value>) {
    let fixes = [
        (INT_OR_STRING, Some("int-or-string"), ["integer", "string"]),
        (QUANTITY, None, ["string", "number"]),
    ];
    for (name, format, types) in fixes {
        if let Some(Value::Object(obj)) = defs.get_mut(name) {
            obj.remove("x-kubernetes-int-or-string");
            obj.remove("type");
            obj.insert(
                "oneOf".into(),
                types.map(|t| json!({"type": t})).into_iter().collect(),
            );
            if let Some(f) = format {
                obj.insert("format".into(), f.into());
            }
        }
    }
}

pub(super) fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

fn set_gvks(defs: &mut Map<String, Value>, name: &str, gvks: Vec<Value>) {
    if let Some(Value::Object(obj)) = defs.get_mut(name) {
        obj.insert("x-kubernetes-group-version-kind".into(), Value::Array(gvks));
    }
}

/// kubectl finds a kind's schema by this extension, not by name.
fn add_group_version_kinds(defs: &mut Map<String, Value>, served: &[&KindSchema]) {
    for k in served {
        set_gvks(defs, &k.name(), vec![gvk(k.group, k.version, k.kind)]);
        if let (Some(list_name), Some(list_kind)) = (k.list_name(), k.list_kind) {
            set_gvks(defs, &list_name, vec![gvk(k.group, k.version, list_kind)]);
        }
    }
    for k in [scale(), binding()] {
        set_gvks(defs, &k.name(), vec![gvk(k.group, k.version, k.kind)]);
    }
    // The meta types are registered in every group version, as upstream lists them.
    let mut gvs: BTreeSet<(&str, &str)> = registry::group_versions().into_iter().collect();
    gvs.insert(("", "v1"));
    for (name, kind) in [
        (delete_options(), "DeleteOptions"),
        (watch_event(), "WatchEvent"),
    ] {
        let list = gvs.iter().map(|(g, v)| gvk(g, v, kind)).collect();
        set_gvks(defs, &name, list);
    }
    set_gvks(defs, &status(), vec![gvk("", "v1", "Status")]);
}

/// The strategic-merge-patch tags kubectl reads from the document.
fn add_patch_extensions(defs: &mut Map<String, Value>) {
    for (schema, field, fp) in patch_meta::all() {
        let Some(Value::Object(prop)) = defs
            .get_mut(*schema)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(*field))
        else {
            continue;
        };
        // A `$ref` may have no siblings in OpenAPI 3.0.
        if let Some(r) = prop.remove("$ref") {
            prop.insert("allOf".into(), json!([{"$ref": r}]));
        }
        prop.insert("x-kubernetes-patch-strategy".into(), fp.strategy.into());
        if let Some(key) = fp.merge_key {
            prop.insert("x-kubernetes-patch-merge-key".into(), key.into());
        }
    }
}

/// Calls `f` on every `$ref` target name under `v`.
pub(super) fn for_each_ref(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::Object(obj) => {
            for (k, child) in obj {
                match (k.as_str(), child) {
                    ("$ref", Value::String(r)) => f(r.strip_prefix(REF_PREFIX).unwrap_or(r)),
                    _ => for_each_ref(child, f),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|c| for_each_ref(c, f)),
        _ => {}
    }
}

/// The schemas reachable from `roots`, sorted by name as upstream serves them.
pub(super) fn closure<'a>(
    defs: &Map<String, Value>,
    roots: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut pending: Vec<String> = roots.into_iter().map(str::to_owned).collect();
    while let Some(name) = pending.pop() {
        if out.contains_key(&name) {
            continue;
        }
        let Some(schema) = defs.get(&name) else {
            continue;
        };
        for_each_ref(schema, &mut |r| {
            if !out.contains_key(r) {
                pending.push(r.to_owned());
            }
        });
        out.insert(name, schema.clone());
    }
    out
}
