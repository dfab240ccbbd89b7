//! Kubernetes protobuf request bodies: the `k8s\0` envelope around a `runtime.Unknown`, decoded into the JSON shape of the built-in types.
//!
//! Owns [`decode`], which the API server calls for bodies sent as
//! `application/vnd.kubernetes.protobuf` (what `kubectl create <kind>`
//! sends). No conversion is written per type: the typed message is decoded
//! with its prost type from k8s-pb, read back through its derived `Debug`
//! output ([`debug_tree`]), and turned into JSON by walking the k8s-openapi
//! schema of the same type ([`to_json`]), with Go's `omitempty` and pointer
//! rules from [`go_fields`].
//!
//! Invariant: the result is what kube-apiserver's JSON encoder would write
//! for the object the client built, less Go's `null`s: every field the Go
//! client set, zero values kept exactly where Go's JSON keeps them (so
//! `replicas: 0` survives and an unset `imagePullPolicy` does not become `""`).

mod debug_tree;
mod go_fields;
mod to_json;

use std::sync::LazyLock;

use k8s_openapi::Resource;
use prost::Message;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value};

/// The four bytes before every Kubernetes protobuf message.
const MAGIC: &[u8; 4] = b"k8s\0";

/// One type that can arrive as protobuf.
struct Kind {
    api_version: &'static str,
    kind: &'static str,
    /// The k8s-openapi schema name: `io.k8s.api.core.v1.ConfigMap`.
    schema: String,
    /// Decodes the typed message and returns its `Debug` dump.
    dump: fn(&[u8]) -> Result<String, prost::DecodeError>,
}

struct Kinds {
    kinds: Vec<Kind>,
    defs: Map<String, Value>,
}

fn dump<M: Message + Default + std::fmt::Debug>(raw: &[u8]) -> Result<String, prost::DecodeError> {
    M::decode(raw).map(|m| format!("{m:?}"))
}

/// `kinds!(core::v1::ConfigMap, ...)`: the same path names the prost type in
/// k8s-pb and the schema type in k8s-openapi.
macro_rules! kinds {
    ($($group:ident :: $version:ident :: $kind:ident),* $(,)?) => {{
        let mut generator = SchemaGenerator::default();
        let mut kinds = Vec::new();
        $(
            generator.subschema_for::<k8s_openapi::api::$group::$version::$kind>();
            kinds.push(Kind {
                api_version: <k8s_openapi::api::$group::$version::$kind as Resource>::API_VERSION,
                kind: <k8s_openapi::api::$group::$version::$kind as Resource>::KIND,
                schema: <k8s_openapi::api::$group::$version::$kind as JsonSchema>::schema_name().into_owned(),
                dump: dump::<k8s_pb::api::$group::$version::$kind>,
            });
        )*
        let defs = generator.definitions().clone();
        Kinds { kinds, defs }
    }};
}

static KINDS: LazyLock<Kinds> = LazyLock::new(|| {
    kinds!(
        core::v1::Namespace,
        core::v1::Pod,
        core::v1::Service,
        core::v1::Endpoints,
        core::v1::ConfigMap,
        core::v1::Secret,
        core::v1::Node,
        core::v1::Event,
        core::v1::ServiceAccount,
        core::v1::PersistentVolume,
        core::v1::PersistentVolumeClaim,
        core::v1::Binding,
        apps::v1::Deployment,
        apps::v1::ReplicaSet,
        apps::v1::StatefulSet,
        apps::v1::DaemonSet,
        apps::v1::ControllerRevision,
        batch::v1::Job,
        batch::v1::CronJob,
        discovery::v1::EndpointSlice,
        coordination::v1::Lease,
        networking::v1::Ingress,
        autoscaling::v2::HorizontalPodAutoscaler,
        policy::v1::Eviction,
    )
});

/// Decodes a `application/vnd.kubernetes.protobuf` request body for the type (api_version, kind), e.g. ("v1","ConfigMap"), ("apps/v1","Deployment").
/// Returns the object in Kubernetes JSON form (with apiVersion and kind set), or Err(message) for a malformed body, a wrong magic, or a runtime.Unknown whose typeMeta names another kind (message in kube-apiserver's style, the server answers 400 with it).
pub fn decode(api_version: &str, kind: &str, body: &[u8]) -> Result<serde_json::Value, String> {
    let kinds = &*KINDS;
    let Some(target) = kinds
        .kinds
        .iter()
        .find(|k| k.api_version == api_version && k.kind == kind)
    else {
        return Err(format!(
            "no protobuf serialization is available for {kind} in version {api_version:?}"
        ));
    };
    // kube-apiserver's wording when it cannot tell what the body is.
    let unrecognized = |err: &str| {
        format!(
            "the object provided is unrecognized (must be of type {kind}): {err} ({})",
            summarize(body)
        )
    };
    let Some(envelope) = body.strip_prefix(MAGIC) else {
        return Err(unrecognized(
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]",
        ));
    };
    let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(envelope)
        .map_err(|e| unrecognized(&e.to_string()))?;
    let type_meta = unknown.type_meta.unwrap_or_default();
    // Like upstream, an empty apiVersion or kind defaults to the target's.
    let body_version = type_meta.api_version.filter(|v| !v.is_empty());
    let body_kind = type_meta.kind.filter(|k| !k.is_empty());
    let body_version = body_version.as_deref().unwrap_or(api_version);
    let body_kind = body_kind.as_deref().unwrap_or(kind);
    let version_only = body_version.rsplit('/').next().unwrap_or(body_version);
    let cannot_handle = |err: &str| {
        format!("{body_kind} in version {version_only:?} cannot be handled as a {kind}: {err}")
    };
    if body_version != api_version {
        return Err(format!(
            "the API version in the data ({body_version}) does not match the expected API version ({api_version})"
        ));
    }
    if body_kind != kind {
        return Err(cannot_handle(&format!(
            "the kind in the data ({body_kind}) does not match the expected kind ({kind})"
        )));
    }
    let raw = unknown.raw.unwrap_or_default();
    let text = (target.dump)(&raw).map_err(|e| cannot_handle(&e.to_string()))?;
    let tree = debug_tree::parse(&text).map_err(|e| cannot_handle(&e))?;
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(api_version.to_string()));
    out.insert("kind".into(), Value::String(kind.to_string()));
    to_json::Converter { defs: &kinds.defs }
        .object(&target.schema, &tree, &mut out)
        .map_err(|e| cannot_handle(&e))?;
    Ok(Value::Object(out))
}

/// The start of a body as kube-apiserver quotes it in errors: hex, or the
/// text itself when it looks like JSON.
fn summarize(body: &[u8]) -> String {
    const MAX: usize = 30;
    let head = &body[..body.len().min(MAX)];
    let more = if body.len() > MAX { " ..." } else { "" };
    match body.first() {
        None => "<empty>".to_string(),
        Some(b'{') => format!("{}{more}", String::from_utf8_lossy(head)),
        Some(_) => {
            let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
            format!("{hex}{more}")
        }
    }
}

#[cfg(test)]
mod tests;
