//! Patching: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and Kubernetes strategic merge
//! patch, applied to objects held as JSON.
//!
//! Owns: the semantics of `PATCH` bodies. It may call [`meta`] (the struct-tag table) and the
//! k8s-openapi `schemars` schemas, which say which type sits at each path of an object so that
//! the table can be consulted there. No I/O.
//!
//! The strategic merge follows k8s.io/apimachinery/pkg/util/strategicpatch as the kube-apiserver
//! runs it (server side: parallel lists merged, unmatched nulls ignored), including its quirks
//! that kubectl users can see: a list item the live object lacks is placed *before* the live
//! items unless `$setElementOrder` says otherwise, and `$patch: delete` on a map leaves `{}`.
//!
//! Invariants:
//! - the original is never mutated; every patch works on a copy.
//! - no result carries a patch directive (`$patch`, `$retainKeys`, `$setElementOrder/…`,
//!   `$deleteFromPrimitiveList/…`) or a `null` that came from the patch. Upstream gets this for
//!   free by decoding into Go structs, which drop unknown keys; we store the JSON itself.

pub mod meta;

use std::sync::LazyLock;

use k8s_openapi::Resource;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value};

use meta::FieldPatch;

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// kube-apiserver's `maxJSONPatchOperations`.
const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    Strategic,
}

impl PatchType {
    /// From a Content-Type: application/json-patch+json, application/merge-patch+json,
    /// application/strategic-merge-patch+json (parameters like `;charset=utf-8` are ignored).
    /// None for anything else (the server answers 415).
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        let media = ct.split(';').next().unwrap_or_default().trim();
        [PatchType::Json, PatchType::Merge, PatchType::Strategic]
            .into_iter()
            .find(|t| media.eq_ignore_ascii_case(t.content_type()))
    }

    /// The media type clients send for this patch type.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::Strategic => "application/strategic-merge-patch+json",
        }
    }
}

/// Why a patch could not be applied, worded as the kube-apiserver words it where it has words.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The body is not JSON, or not the JSON shape its patch type needs.
    #[error("error decoding patch: {0}")]
    Decode(String),
    /// A JSON patch longer than Kubernetes accepts.
    #[error("The allowed maximum operations in a JSON patch is {max}, got {got}")]
    TooManyOperations { max: usize, got: usize },
    /// A JSON patch operation does not apply: a failed `test`, a path that does not exist.
    #[error("the server rejected our request due to an error in our request: {0}")]
    JsonPatch(String),
    /// A malformed strategic merge directive (upstream's `mergepatch.ErrBadPatchFormatFor…`).
    #[error("{0}")]
    BadDirective(&'static str),
    /// A list of lists in a strategic merge patch, which Kubernetes cannot merge.
    #[error("lists of lists are not supported")]
    ListOfLists,
    /// Any other strategic merge failure: a list item without its merge key, an unknown `$patch`
    /// value, a `$setElementOrder` that contradicts its list. The kube-apiserver does not map
    /// these to a status, so they reach clients as 500 with the merge error as the message.
    #[error("{0}")]
    Strategic(String),
    /// The stored object is not a JSON object; a server bug rather than a client one.
    #[error("invalid JSON document")]
    BadDocument,
}

impl PatchError {
    /// The HTTP status the kube-apiserver answers with for this error.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::Decode(_) | PatchError::BadDirective(_) => 400,
            PatchError::TooManyOperations { .. } => 413,
            PatchError::JsonPatch(_) | PatchError::ListOfLists => 422,
            PatchError::Strategic(_) | PatchError::BadDocument => 500,
        }
    }

    /// The `reason` of the `Status` object carrying this error.
    pub fn reason(&self) -> &'static str {
        match self.code() {
            400 => "BadRequest",
            413 => "RequestEntityTooLarge",
            422 => "Invalid",
            _ => "InternalError",
        }
    }
}

const BAD_PRIMITIVE_LIST: &str = "invalid patch format of primitive list";
const BAD_RETAIN_KEYS: &str = "invalid patch format of retainKeys";
const BAD_SET_ELEMENT_ORDER: &str = "invalid patch format of setElementOrder list";

/// Applies `patch` (raw body bytes) of `patch_type` to `original` (a full object as JSON, of type
/// `api_version`/`kind`, e.g. "apps/v1","Deployment"). Returns the patched object.
///
/// A strategic merge patch of a kind we have no schema for merges maps and replaces lists, as a
/// JSON merge patch would, but still honours the directives.
pub fn apply_patch(
    api_version: &str,
    kind: &str,
    patch_type: PatchType,
    original: &Value,
    patch: &[u8],
) -> Result<Value, PatchError> {
    match patch_type {
        PatchType::Json => apply_json_patch(original, patch),
        PatchType::Merge => {
            let patch = decode_object(patch)?;
            let mut doc = original.clone();
            json_patch::merge(&mut doc, &Value::Object(patch));
            Ok(doc)
        }
        PatchType::Strategic => {
            let patch = decode_object(patch)?;
            let Value::Object(doc) = original.clone() else {
                return Err(PatchError::BadDocument);
            };
            merge_map(doc, patch, root_type(api_version, kind)).map(Value::Object)
        }
    }
}

/// The OpenAPI schema name of a kind we know the schema of, e.g. "io.k8s.api.apps.v1.Deployment".
pub fn schema_name(api_version: &str, kind: &str) -> Option<&'static str> {
    CATALOG
        .roots
        .iter()
        .find(|r| r.api_version == api_version && r.kind == kind)
        .map(|r| r.schema.as_str())
}

fn decode_object(body: &[u8]) -> Result<Map<String, Value>, PatchError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(PatchError::Decode(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            go_kind(&other)
        ))),
        Err(e) => Err(PatchError::Decode(e.to_string())),
    }
}

/// The word Go's encoding/json uses for a JSON value's kind, so our messages read like upstream's.
fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn apply_json_patch(original: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let ops: json_patch::Patch =
        serde_json::from_slice(body).map_err(|e| PatchError::Decode(e.to_string()))?;
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            max: MAX_JSON_PATCH_OPERATIONS,
            got: ops.len(),
        });
    }
    let mut doc = original.clone();
    json_patch::patch(&mut doc, &ops).map_err(|e| {
        let op = &ops[e.operation];
        let name = match op {
            json_patch::PatchOperation::Add(_) => "add",
            json_patch::PatchOperation::Remove(_) => "remove",
            json_patch::PatchOperation::Replace(_) => "replace",
            json_patch::PatchOperation::Move(_) => "move",
            json_patch::PatchOperation::Copy(_) => "copy",
            json_patch::PatchOperation::Test(_) => "test",
        };
        let from = match op {
            json_patch::PatchOperation::Move(m) => m.from.as_str(),
            json_patch::PatchOperation::Copy(c) => c.from.as_str(),
            _ => "",
        };
        let path = e.path.as_str();
        PatchError::JsonPatch(match e.kind {
            json_patch::PatchErrorKind::TestFailed => {
                format!("testing value {path} failed: test failed")
            }
            json_patch::PatchErrorKind::InvalidPointer => {
                format!("{name} operation does not apply: doc is missing path: \"{path}\"")
            }
            json_patch::PatchErrorKind::InvalidFromPointer => {
                format!("{name} operation does not apply: doc is missing from path: \"{from}\"")
            }
            json_patch::PatchErrorKind::CannotMoveInsideItself => {
                format!("move operation does not apply: \"{from}\" is a prefix of \"{path}\"")
            }
            _ => format!("{name} operation at \"{path}\" does not apply: {}", e.kind),
        })
    })?;
    Ok(doc)
}

// ---------------------------------------------------------------------------------------------
// Schemas: which type sits where.

struct Root {
    api_version: &'static str,
    kind: &'static str,
    schema: String,
    /// `{"$ref": …}` to the kind's definition: a walk that starts at a reference knows the name
    /// of the type it is in, which the patch metadata is keyed by.
    reference: Value,
}

/// The schemas of every kind we serve, generated once into one set of definitions: the kinds share
/// most of their types (ObjectMeta, PodSpec), so one generator does that work once for all.
struct Catalog {
    definitions: Map<String, Value>,
    roots: Vec<Root>,
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(Catalog::build);

impl Catalog {
    fn build() -> Catalog {
        use k8s_openapi::api::{
            apps, autoscaling, batch, coordination, core, discovery, networking,
        };

        fn add<T: JsonSchema + Resource>(generator: &mut SchemaGenerator, roots: &mut Vec<Root>) {
            generator.subschema_for::<T>();
            let schema = T::schema_name().into_owned();
            roots.push(Root {
                api_version: T::API_VERSION,
                kind: T::KIND,
                reference: serde_json::json!({ "$ref": format!("#/$defs/{schema}") }),
                schema,
            });
        }

        let mut g = SchemaGenerator::default();
        let mut r = Vec::new();
        add::<core::v1::Namespace>(&mut g, &mut r);
        add::<core::v1::Pod>(&mut g, &mut r);
        add::<core::v1::Service>(&mut g, &mut r);
        add::<core::v1::Endpoints>(&mut g, &mut r);
        add::<core::v1::ConfigMap>(&mut g, &mut r);
        add::<core::v1::Secret>(&mut g, &mut r);
        add::<core::v1::Node>(&mut g, &mut r);
        add::<core::v1::Event>(&mut g, &mut r);
        add::<core::v1::ServiceAccount>(&mut g, &mut r);
        add::<core::v1::PersistentVolume>(&mut g, &mut r);
        add::<core::v1::PersistentVolumeClaim>(&mut g, &mut r);
        add::<apps::v1::Deployment>(&mut g, &mut r);
        add::<apps::v1::ReplicaSet>(&mut g, &mut r);
        add::<apps::v1::StatefulSet>(&mut g, &mut r);
        add::<apps::v1::DaemonSet>(&mut g, &mut r);
        add::<apps::v1::ControllerRevision>(&mut g, &mut r);
        add::<batch::v1::Job>(&mut g, &mut r);
        add::<batch::v1::CronJob>(&mut g, &mut r);
        add::<discovery::v1::EndpointSlice>(&mut g, &mut r);
        add::<coordination::v1::Lease>(&mut g, &mut r);
        add::<networking::v1::Ingress>(&mut g, &mut r);
        add::<autoscaling::v2::HorizontalPodAutoscaler>(&mut g, &mut r);
        // The /scale subresource of Deployments, ReplicaSets and StatefulSets.
        add::<autoscaling::v1::Scale>(&mut g, &mut r);
        Catalog {
            definitions: g.definitions().clone(),
            roots: r,
        }
    }
}

fn root_type(api_version: &str, kind: &str) -> Ty {
    Ty(CATALOG
        .roots
        .iter()
        .find(|r| r.api_version == api_version && r.kind == kind)
        .map(|r| &r.reference))
}

/// The schema of the value at some point of the walk; `None` where we know nothing, which makes
/// the merge fall back to plain merge-patch semantics below that point.
#[derive(Debug, Clone, Copy)]
struct Ty(Option<&'static Value>);

impl Ty {
    const UNKNOWN: Ty = Ty(None);

    /// The schema object behind any `$ref`s, with the name of the definition it is.
    fn resolve(self) -> Option<(Option<&'static str>, &'static Map<String, Value>)> {
        let mut schema = self.0?;
        let mut name = None;
        // k8s-openapi never chains references, but a bound costs nothing against a bad schema.
        for _ in 0..4 {
            let obj = schema.as_object()?;
            let Some(reference) = obj.get("$ref").and_then(Value::as_str) else {
                return Some((name, obj));
            };
            let (key, def) = CATALOG
                .definitions
                .get_key_value(reference.strip_prefix("#/$defs/")?)?;
            name = Some(key.as_str());
            schema = def;
        }
        None
    }

    /// The type of `field` of this object type and the field's patch metadata.
    fn field(self, field: &str) -> (Ty, Option<FieldPatch>) {
        let Some((name, obj)) = self.resolve() else {
            return (Ty::UNKNOWN, None);
        };
        if let Some(prop) = obj.get("properties").and_then(|p| p.get(field)) {
            (
                Ty(Some(prop)),
                name.and_then(|n| meta::patch_strategy(n, field)),
            )
        } else if let Some(values) = obj.get("additionalProperties").filter(|v| v.is_object()) {
            (Ty(Some(values)), None)
        } else {
            (Ty::UNKNOWN, None)
        }
    }

    /// The type of the items of this array type.
    fn items(self) -> Ty {
        Ty(self.resolve().and_then(|(_, obj)| obj.get("items")))
    }

    fn name(self) -> &'static str {
        self.resolve()
            .and_then(|(name, _)| name)
            .unwrap_or("unknown type")
    }
}

// ---------------------------------------------------------------------------------------------
// Strategic merge.

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ty: Ty,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.shift_remove(DIRECTIVE) {
        match directive.as_str() {
            Some("replace") => return Ok(strip_map(patch).unwrap_or_default()),
            Some("delete") => return Ok(Map::new()),
            // Upstream rejects `merge` here although it is what happens anyway; accepting it
            // costs nothing and matches the documented meaning of the directive.
            Some("merge") => {}
            _ => {
                patch.shift_insert(0, DIRECTIVE.to_owned(), directive.clone());
                return Err(unknown_patch_type(&directive, &patch));
            }
        }
    }
    if let Some(keep) = patch.shift_remove(RETAIN_KEYS) {
        retain_keys(&mut original, &patch, &keep)?;
    }
    apply_element_orders(&mut original, &mut patch, ty)?;

    // Deletions go last so that a patch listing a value both to add and to delete (which kubectl
    // never sends) ends without it, as it does when `$setElementOrder` is present upstream.
    let mut deletions = Vec::new();
    for (key, value) in patch {
        if let Some(rest) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            let field = rest
                .strip_prefix('/')
                .ok_or(PatchError::BadDirective(BAD_PRIMITIVE_LIST))?;
            deletions.push((field.to_owned(), value));
            continue;
        }
        if value.is_null() {
            original.shift_remove(&key);
            continue;
        }
        let merged = match original.get_mut(&key) {
            None => strip(value),
            Some(slot) => merge_value(slot.take(), value, ty, &key)?,
        };
        match merged {
            Some(v) => original.insert(key, v),
            None => original.shift_remove(&key),
        };
    }
    for (field, value) in deletions {
        // Upstream ignores a deletion list that is not a list, or whose field is not one.
        if let (Value::Array(remove), Some(Value::Array(items))) = (value, original.get_mut(&field))
        {
            items.retain(|item| !remove.iter().any(|r| same(item, r)));
        }
    }
    Ok(original)
}

/// Merges the patch value of `key` into the live one. `None` drops the key.
fn merge_value(
    current: Value,
    patch: Value,
    parent: Ty,
    key: &str,
) -> Result<Option<Value>, PatchError> {
    match (current, patch) {
        (Value::Object(current), Value::Object(patch)) => {
            let (ty, _) = parent.field(key);
            Ok(Some(Value::Object(merge_map(current, patch, ty)?)))
        }
        (Value::Array(current), Value::Array(patch)) => {
            let (ty, field) = parent.field(key);
            match field {
                Some(f) if f.merges() => Ok(Some(Value::Array(merge_list(
                    current,
                    patch,
                    ty.items(),
                    f.merge_key,
                )?))),
                _ => Ok(Some(Value::Array(strip_items(patch)))),
            }
        }
        // An integer the patch spells `80.0` stays `80`, as Go's typed decoding would leave it.
        (current, patch) if same(&current, &patch) => Ok(Some(current)),
        // Scalars, and values whose JSON type changed, are replaced.
        (_, patch) => Ok(strip(patch)),
    }
}

/// `$retainKeys`: the live map keeps only the listed keys, and the patch may set no others.
fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    keep: &Value,
) -> Result<(), PatchError> {
    let keep = keep
        .as_array()
        .ok_or(PatchError::BadDirective(BAD_RETAIN_KEYS))?;
    let kept = |k: &str| keep.iter().any(|x| x.as_str() == Some(k));
    for (k, v) in patch {
        let directive =
            k.starts_with(DELETE_FROM_PRIMITIVE_LIST) || k.starts_with(SET_ELEMENT_ORDER);
        if !v.is_null() && !directive && !kept(k) {
            return Err(PatchError::BadDirective(BAD_RETAIN_KEYS));
        }
    }
    original.retain(|k, _| kept(k));
    Ok(())
}

/// `$setElementOrder/<field>`: merges the field's list (if the patch has one) and then orders the
/// result as the directive lists, live-only items staying near their live neighbours.
fn apply_element_orders(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    ty: Ty,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for directive in keys {
        let order = patch.shift_remove(&directive).unwrap_or_default();
        let field = directive
            .strip_prefix(SET_ELEMENT_ORDER)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or(PatchError::BadDirective(BAD_SET_ELEMENT_ORDER))?;
        let Value::Array(order) = order else {
            return Err(PatchError::BadDirective(BAD_SET_ELEMENT_ORDER));
        };
        let (list_ty, meta) = ty.field(field);
        let merge_key = meta.and_then(|m| m.merge_key);

        let current = match original.get_mut(field) {
            None => None,
            Some(Value::Array(items)) => Some(std::mem::take(items)),
            Some(other) => return Err(not_a_list(field, other)),
        };
        let incoming = match patch.shift_remove(field) {
            None => None,
            Some(Value::Array(items)) => Some(items),
            Some(other) => return Err(not_a_list(field, &other)),
        };
        if let Some(incoming) = &incoming {
            validate_element_order(incoming, &order, merge_key)?;
        }
        let live_order = match &current {
            Some(items) => identities(items, merge_key)?,
            None => Vec::new(),
        };
        let merged = match (current, incoming) {
            (None, None) => continue,
            (Some(current), None) => current,
            (None, Some(incoming)) => strip_items(incoming),
            (Some(current), Some(incoming)) => match meta {
                Some(m) if m.merges() => merge_list(current, incoming, list_ty.items(), merge_key)?,
                _ => strip_items(incoming),
            },
        };
        let wanted = identities(&order, merge_key)?;
        let ordered = order_items(merged, &wanted, &live_order, merge_key)?;
        original.insert(field.to_owned(), Value::Array(ordered));
    }
    Ok(())
}

/// Checks that the patch list names its items in the order `$setElementOrder` does, and names no
/// item that the directive leaves out (items being deleted aside).
fn validate_element_order(
    items: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
) -> Result<(), PatchError> {
    if items.is_empty() || order.is_empty() {
        return Ok(());
    }
    let (mut i, mut o) = (0, 0);
    let listed: Vec<&Value> = items
        .iter()
        .filter(|v| directive_of(v) != Some("delete"))
        .collect();
    while i < listed.len() && o < order.len() {
        if directive_of(listed[i]).is_some() {
            i += 1;
            continue;
        }
        let equal = match merge_key {
            Some(key) => same(merge_key_of(listed[i], key)?, merge_key_of(&order[o], key)?),
            None => same(listed[i], &order[o]),
        };
        if equal {
            i += 1;
        }
        o += 1;
    }
    if i < listed.len() {
        return Err(PatchError::Strategic(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ELEMENT_ORDER} list:\n{}\n",
            Value::Array(items.to_vec()),
            Value::Array(order.to_vec()),
        )));
    }
    Ok(())
}

/// Merges two lists under a `merge` strategy: primitives are unioned, maps are matched by
/// `merge_key` and merged, with `$patch: delete` and `$patch: replace` items honoured.
fn merge_list(
    current: Vec<Value>,
    patch: Vec<Value>,
    item_ty: Ty,
    merge_key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    if current.is_empty() && patch.is_empty() {
        return Ok(current);
    }
    if !items_are_maps(&current, &patch)? {
        let live_order = current.clone();
        let mut merged: Vec<Value> = Vec::with_capacity(current.len() + patch.len());
        for v in current.into_iter().chain(patch.iter().cloned()) {
            if !merged.iter().any(|m| same(m, &v)) {
                merged.push(v);
            }
        }
        return order_items(merged, &patch, &live_order, None);
    }
    let Some(key) = merge_key else {
        return Err(PatchError::Strategic(format!(
            "cannot merge lists without merge key for {}",
            item_ty.name()
        )));
    };

    let mut current = current;
    let mut items = Vec::with_capacity(patch.len());
    let mut replace = false;
    for item in patch {
        let Value::Object(mut obj) = item else {
            unreachable!("items_are_maps checked every item")
        };
        match obj.get(DIRECTIVE).map(|d| d.as_str()) {
            None => items.push(obj),
            Some(Some("delete")) => {
                let id = obj.get(key).ok_or_else(|| no_merge_key(&obj, key))?;
                current.retain(|c| !c.get(key).is_some_and(|v| same(v, id)));
            }
            // Kept scanning so that every other directive item is still dropped.
            Some(Some("replace")) => replace = true,
            Some(Some("merge")) => {
                obj.shift_remove(DIRECTIVE);
                items.push(obj);
            }
            Some(_) => return Err(unknown_patch_type(&obj[DIRECTIVE], &obj)),
        }
    }
    if replace {
        return Ok(items
            .into_iter()
            .filter_map(strip_map)
            .map(Value::Object)
            .collect());
    }

    let live_order = identities(&current, Some(key))?;
    let mut wanted = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .get(key)
            .ok_or_else(|| no_merge_key(&item, key))?
            .clone();
        match current
            .iter()
            .position(|c| c.get(key).is_some_and(|v| same(v, &id)))
        {
            Some(i) => {
                let Value::Object(live) = current[i].take() else {
                    unreachable!("items_are_maps")
                };
                current[i] = Value::Object(merge_map(live, item, item_ty)?);
            }
            None => {
                if let Some(new) = strip_map(item) {
                    current.push(Value::Object(new));
                }
            }
        }
        wanted.push(id);
    }
    order_items(current, &wanted, &live_order, Some(key))
}

/// Orders a merged list the way upstream does: items named by the patch (or `$setElementOrder`)
/// in the order `wanted` gives them, live-only items in their live order, the two interleaved by
/// live position wherever both sides have one. An item the live list lacks has no live position,
/// so it is placed before the remaining live-only items.
fn order_items(
    merged: Vec<Value>,
    wanted: &[Value],
    live: &[Value],
    merge_key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    let position = |list: &[Value], id: &Value| list.iter().position(|v| same(v, id));
    let mut named = Vec::new();
    let mut live_only = Vec::new();
    for item in merged {
        let id = identity(&item, merge_key)?;
        let live_at = position(live, id);
        match position(wanted, id) {
            Some(at) => named.push((at, live_at, item)),
            None => live_only.push((live_at.unwrap_or(usize::MAX), live_at, item)),
        }
    }
    named.sort_by_key(|(at, _, _)| *at);
    live_only.sort_by_key(|(at, _, _)| *at);

    let mut out = Vec::with_capacity(named.len() + live_only.len());
    let mut named = named.into_iter().peekable();
    let mut live_only = live_only.into_iter().peekable();
    loop {
        let take_live_only = match (live_only.peek(), named.peek()) {
            (Some((_, Some(l), _)), Some((_, Some(n), _))) => l < n,
            (Some(_), Some(_)) => false,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_live_only {
            live_only.next()
        } else {
            named.next()
        };
        out.extend(next.map(|(_, _, item)| item));
    }
    Ok(out)
}

/// What identifies a list item: its merge key's value, or the item itself for primitives.
fn identity<'a>(item: &'a Value, merge_key: Option<&str>) -> Result<&'a Value, PatchError> {
    match merge_key {
        Some(key) => merge_key_of(item, key),
        None => Ok(item),
    }
}

fn identities(items: &[Value], merge_key: Option<&str>) -> Result<Vec<Value>, PatchError> {
    items
        .iter()
        .map(|i| identity(i, merge_key).cloned())
        .collect()
}

fn merge_key_of<'a>(item: &'a Value, key: &str) -> Result<&'a Value, PatchError> {
    match item {
        Value::Object(m) => m.get(key).ok_or_else(|| no_merge_key(m, key)),
        other => Err(PatchError::Strategic(format!(
            "expected a map, but received a {}",
            go_kind(other)
        ))),
    }
}

/// Whether the items of both lists are maps; an error if they are lists or of mixed kinds.
fn items_are_maps(current: &[Value], patch: &[Value]) -> Result<bool, PatchError> {
    let mut kind = None;
    for v in current.iter().chain(patch) {
        match kind {
            None if v.is_array() => return Err(PatchError::ListOfLists),
            None => kind = Some(go_kind(v)),
            Some(k) if k != go_kind(v) => {
                return Err(PatchError::Strategic(format!(
                    "list element types are not identical: [{} {}]",
                    Value::Array(current.to_vec()),
                    Value::Array(patch.to_vec()),
                )));
            }
            Some(_) => {}
        }
    }
    Ok(kind == Some("object"))
}

/// JSON equality as Go's `==` on decoded values sees it: `80` and `80.0` are one number.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn directive_of(v: &Value) -> Option<&str> {
    v.as_object()?
        .get(DIRECTIVE)
        .map(|d| d.as_str().unwrap_or_default())
}

fn is_directive_key(k: &str) -> bool {
    k == DIRECTIVE
        || k == RETAIN_KEYS
        || k.starts_with(SET_ELEMENT_ORDER)
        || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

/// A patch value taken whole (nothing live to merge it with) becomes plain data: nulls and
/// directives go, a map marked `$patch: delete` goes entirely. `None` means "no value".
fn strip(v: Value) -> Option<Value> {
    match v {
        Value::Object(m) => strip_map(m).map(Value::Object),
        Value::Array(items) => Some(Value::Array(strip_items(items))),
        v => Some(v),
    }
}

fn strip_map(mut m: Map<String, Value>) -> Option<Map<String, Value>> {
    if m.shift_remove(DIRECTIVE).is_some_and(|d| d == "delete") {
        return None;
    }
    Some(
        m.into_iter()
            .filter(|(k, v)| !v.is_null() && !is_directive_key(k))
            .filter_map(|(k, v)| strip(v).map(|v| (k, v)))
            .collect(),
    )
}

/// In a list, `$patch: replace` and `$patch: delete` items are markers, not data.
fn strip_items(items: Vec<Value>) -> Vec<Value> {
    items
        .into_iter()
        .filter(|v| !matches!(directive_of(v), Some("replace" | "delete")))
        .filter_map(strip)
        .collect()
}

fn no_merge_key(m: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::Strategic(format!(
        "map: {} does not contain declared merge key: {key}",
        Value::Object(m.clone())
    ))
}

fn unknown_patch_type(directive: &Value, m: &Map<String, Value>) -> PatchError {
    let directive = directive
        .as_str()
        .map_or_else(|| directive.to_string(), str::to_owned);
    PatchError::Strategic(format!(
        "unknown patch type: {directive} in map: {}",
        Value::Object(m.clone())
    ))
}

fn not_a_list(field: &str, v: &Value) -> PatchError {
    PatchError::Strategic(format!(
        "expected a list for {field}, but received a {}",
        go_kind(v)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "namespace": "default",
                "labels": {"app": "web", "tier": "frontend"},
                "finalizers": ["a.example.com/x", "b.example.com/y"],
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "X", "name": "o1", "uid": "u1"},
                    {"apiVersion": "v1", "kind": "X", "name": "o2", "uid": "u2"}
                ]
            },
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
                },
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "nginx:1",
                                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                                "ports": [{"containerPort": 80, "protocol": "TCP"}]
                            },
                            {"name": "sidecar", "image": "envoy:1"}
                        ],
                        "tolerations": [{"key": "k1", "operator": "Exists"}],
                        "volumes": [{"name": "data", "emptyDir": {}}]
                    }
                }
            }
        })
    }

    fn pod_spec(v: &Value) -> &Value {
        v.pointer("/spec/template/spec").unwrap()
    }

    enum Want {
        /// JSON pointer → expected value; `None` means the path must be absent.
        Fields(Vec<(&'static str, Option<Value>)>),
        Code(u16),
    }
    use Want::*;

    struct Case {
        name: &'static str,
        api_version: &'static str,
        kind: &'static str,
        patch_type: PatchType,
        original: Value,
        patch: &'static str,
        want: Want,
    }

    fn smp(name: &'static str, patch: &'static str, want: Want) -> Case {
        Case {
            name,
            api_version: "apps/v1",
            kind: "Deployment",
            patch_type: PatchType::Strategic,
            original: deployment(),
            patch,
            want,
        }
    }

    fn with(case: Case, patch_type: PatchType) -> Case {
        Case { patch_type, ..case }
    }

    fn on(case: Case, api_version: &'static str, kind: &'static str, original: Value) -> Case {
        Case {
            api_version,
            kind,
            original,
            ..case
        }
    }

    fn names(v: &Value) -> Vec<&str> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn patches() {
        let cases = vec![
            smp(
                "kubectl set image changes one container and keeps the other",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2"}]}}}}"#,
                Fields(vec![
                    ("/spec/template/spec/containers/0/name", Some(json!("web"))),
                    (
                        "/spec/template/spec/containers/0/image",
                        Some(json!("nginx:2")),
                    ),
                    (
                        "/spec/template/spec/containers/0/env/1/value",
                        Some(json!("2")),
                    ),
                    (
                        "/spec/template/spec/containers/1",
                        Some(json!({"name": "sidecar", "image": "envoy:1"})),
                    ),
                    ("/spec/template/spec/containers/2", None),
                ]),
            ),
            smp(
                "env merges by name; new variables go before the live-only ones",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","env":[{"name":"B","value":"3"},{"name":"C","value":"4"}]}]}}}}"#,
                Fields(vec![(
                    "/spec/template/spec/containers/0/env",
                    Some(
                        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}]),
                    ),
                )]),
            ),
            smp(
                "an item the live list lacks is placed first, as upstream does",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"metrics","image":"prom:1"}]}}}}"#,
                Fields(vec![
                    (
                        "/spec/template/spec/containers/0/name",
                        Some(json!("metrics")),
                    ),
                    ("/spec/template/spec/containers/1/name", Some(json!("web"))),
                    (
                        "/spec/template/spec/containers/2/name",
                        Some(json!("sidecar")),
                    ),
                ]),
            ),
            smp(
                "$patch: delete removes a container",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}"#,
                Fields(vec![
                    ("/spec/template/spec/containers/0/name", Some(json!("web"))),
                    ("/spec/template/spec/containers/1", None),
                ]),
            ),
            smp(
                "$patch: delete of an absent item changes nothing",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"nope","$patch":"delete"}]}}}}"#,
                Fields(vec![(
                    "/spec/template/spec/containers/1/name",
                    Some(json!("sidecar")),
                )]),
            ),
            smp(
                "$patch: replace in a list replaces the list",
                r#"{"spec":{"template":{"spec":{"containers":[{"$patch":"replace"},{"name":"only","image":"i"}]}}}}"#,
                Fields(vec![(
                    "/spec/template/spec/containers",
                    Some(json!([{"name": "only", "image": "i"}])),
                )]),
            ),
            smp(
                "$patch: replace on a map replaces the map",
                r#"{"metadata":{"labels":{"$patch":"replace","x":"1"}}}"#,
                Fields(vec![("/metadata/labels", Some(json!({"x": "1"})))]),
            ),
            smp(
                "$patch: delete on a map empties it",
                r#"{"metadata":{"labels":{"$patch":"delete"}}}"#,
                Fields(vec![("/metadata/labels", Some(json!({})))]),
            ),
            smp(
                "$patch: merge on a map is an ordinary merge",
                r#"{"metadata":{"labels":{"$patch":"merge","x":"1"}}}"#,
                Fields(vec![(
                    "/metadata/labels",
                    Some(json!({"app": "web", "tier": "frontend", "x": "1"})),
                )]),
            ),
            smp(
                "an unknown $patch value is an error",
                r#"{"metadata":{"labels":{"$patch":"explode"}}}"#,
                Code(500),
            ),
            smp(
                "$setElementOrder reorders without other changes",
                r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"sidecar"},{"name":"web"}]}}}}"#,
                Fields(vec![
                    (
                        "/spec/template/spec/containers/0",
                        Some(json!({"name": "sidecar", "image": "envoy:1"})),
                    ),
                    ("/spec/template/spec/containers/1/name", Some(json!("web"))),
                    ("/spec/template/spec/$setElementOrder~1containers", None),
                ]),
            ),
            smp(
                "kubectl apply: change an image with $setElementOrder",
                r#"{"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{}"}},
                    "spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"},{"name":"sidecar"}],
                    "containers":[{"image":"nginx:3","name":"web"}]}}}}"#,
                Fields(vec![
                    (
                        "/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration",
                        Some(json!("{}")),
                    ),
                    (
                        "/spec/template/spec/containers/0/image",
                        Some(json!("nginx:3")),
                    ),
                    (
                        "/spec/template/spec/containers/0/ports/0/containerPort",
                        Some(json!(80)),
                    ),
                    (
                        "/spec/template/spec/containers/1/name",
                        Some(json!("sidecar")),
                    ),
                ]),
            ),
            smp(
                "kubectl apply: add a container in the middle",
                r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"},{"name":"metrics"},{"name":"sidecar"}],
                    "containers":[{"image":"prom:1","name":"metrics"}]}}}}"#,
                Fields(vec![
                    ("/spec/template/spec/containers/0/name", Some(json!("web"))),
                    (
                        "/spec/template/spec/containers/1",
                        Some(json!({"image": "prom:1", "name": "metrics"})),
                    ),
                    (
                        "/spec/template/spec/containers/2/name",
                        Some(json!("sidecar")),
                    ),
                ]),
            ),
            smp(
                "kubectl apply: remove a container and an env var",
                r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],
                    "containers":[{"$setElementOrder/env":[{"name":"B"}],"env":[{"$patch":"delete","name":"A"}],"name":"web"},
                                  {"$patch":"delete","name":"sidecar"}]}}}}"#,
                Fields(vec![
                    (
                        "/spec/template/spec/containers/0/env",
                        Some(json!([{"name": "B", "value": "2"}])),
                    ),
                    ("/spec/template/spec/containers/1", None),
                ]),
            ),
            smp(
                "$setElementOrder contradicting its list is an error",
                r#"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"web"}],
                    "containers":[{"name":"metrics","image":"prom:1"}]}}}}"#,
                Code(500),
            ),
            smp(
                "$retainKeys: RollingUpdate to Recreate drops rollingUpdate",
                r#"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}"#,
                Fields(vec![("/spec/strategy", Some(json!({"type": "Recreate"})))]),
            ),
            smp(
                "$retainKeys as kubectl apply sends it, with a null for the cleared member",
                r#"{"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":null,"type":"Recreate"}}}"#,
                Fields(vec![("/spec/strategy", Some(json!({"type": "Recreate"})))]),
            ),
            smp(
                "$retainKeys must list every key the patch sets",
                r#"{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate","rollingUpdate":{"maxSurge":1}}}}"#,
                Code(400),
            ),
            smp(
                "$retainKeys inside a volume switches its source",
                r#"{"spec":{"template":{"spec":{"volumes":[{"name":"data","$retainKeys":["configMap","name"],"configMap":{"name":"cm"}}]}}}}"#,
                Fields(vec![(
                    "/spec/template/spec/volumes",
                    Some(json!([{"name": "data", "configMap": {"name": "cm"}}])),
                )]),
            ),
            smp(
                "null removes a label",
                r#"{"metadata":{"labels":{"tier":null,"new":"x"}}}"#,
                Fields(vec![(
                    "/metadata/labels",
                    Some(json!({"app": "web", "new": "x"})),
                )]),
            ),
            smp(
                "null for an absent key is ignored",
                r#"{"metadata":{"annotations":{"a":null}}}"#,
                Fields(vec![("/metadata/annotations", Some(json!({})))]),
            ),
            smp(
                "finalizers union, with $deleteFromPrimitiveList",
                r#"{"metadata":{"finalizers":["c.example.com/z"],"$deleteFromPrimitiveList/finalizers":["a.example.com/x"]}}"#,
                Fields(vec![
                    (
                        "/metadata/finalizers",
                        Some(json!(["c.example.com/z", "b.example.com/y"])),
                    ),
                    ("/metadata/$deleteFromPrimitiveList~1finalizers", None),
                ]),
            ),
            smp(
                "finalizers as kubectl apply sends them, with $setElementOrder",
                r#"{"metadata":{"$setElementOrder/finalizers":["b.example.com/y","c.example.com/z"],
                    "finalizers":["c.example.com/z"],"$deleteFromPrimitiveList/finalizers":["a.example.com/x"]}}"#,
                Fields(vec![(
                    "/metadata/finalizers",
                    Some(json!(["b.example.com/y", "c.example.com/z"])),
                )]),
            ),
            smp(
                "a duplicate finalizer is not added twice",
                r#"{"metadata":{"finalizers":["b.example.com/y"]}}"#,
                Fields(vec![(
                    "/metadata/finalizers",
                    Some(json!(["a.example.com/x", "b.example.com/y"])),
                )]),
            ),
            smp(
                "$deleteFromPrimitiveList of an absent list adds nothing",
                r#"{"spec":{"template":{"metadata":{"$deleteFromPrimitiveList/finalizers":["x"]}}}}"#,
                Fields(vec![(
                    "/spec/template/metadata",
                    Some(json!({"labels": {"app": "web"}})),
                )]),
            ),
            smp(
                "a $deleteFromPrimitiveList that is not a list is ignored, as upstream does",
                r#"{"metadata":{"$deleteFromPrimitiveList/finalizers":"a.example.com/x"}}"#,
                Fields(vec![(
                    "/metadata/finalizers",
                    Some(json!(["a.example.com/x", "b.example.com/y"])),
                )]),
            ),
            smp(
                "a $deleteFromPrimitiveList key without its field is a 400",
                r#"{"metadata":{"$deleteFromPrimitiveListfinalizers":["a.example.com/x"]}}"#,
                Code(400),
            ),
            smp(
                "ownerReferences merge by uid",
                r#"{"metadata":{"ownerReferences":[{"uid":"u2","name":"renamed"}]}}"#,
                Fields(vec![
                    ("/metadata/ownerReferences/0/uid", Some(json!("u1"))),
                    ("/metadata/ownerReferences/1/name", Some(json!("renamed"))),
                    ("/metadata/ownerReferences/1/kind", Some(json!("X"))),
                ]),
            ),
            smp(
                "container ports merge by containerPort, 80.0 matching 80",
                r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","ports":[{"containerPort":80.0,"name":"http"}]}]}}}}"#,
                Fields(vec![(
                    "/spec/template/spec/containers/0/ports",
                    Some(json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}])),
                )]),
            ),
            smp(
                "tolerations have no strategy and are replaced",
                r#"{"spec":{"template":{"spec":{"tolerations":[{"key":"k2","operator":"Exists"}]}}}}"#,
                Fields(vec![(
                    "/spec/template/spec/tolerations",
                    Some(json!([{"key": "k2", "operator": "Exists"}])),
                )]),
            ),
            smp(
                "a list item without its merge key is an error",
                r#"{"spec":{"template":{"spec":{"containers":[{"image":"nginx:2"}]}}}}"#,
                Code(500),
            ),
            on(
                smp(
                    "a list of lists cannot be merged",
                    r#"{"metadata":{"finalizers":[["x"]]}}"#,
                    Code(422),
                ),
                "v1",
                "ConfigMap",
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": []}}),
            ),
            smp(
                "a list mixing kinds of items cannot be merged",
                r#"{"metadata":{"finalizers":[["x"]]}}"#,
                Code(500),
            ),
            smp(
                "scalars are replaced and new keys added",
                r#"{"spec":{"replicas":5,"paused":true}}"#,
                Fields(vec![
                    ("/spec/replicas", Some(json!(5))),
                    ("/spec/paused", Some(json!(true))),
                ]),
            ),
            smp(
                "a new subtree is taken without its directives or nulls",
                r#"{"spec":{"template":{"spec":{"dnsConfig":{"nameservers":["1.1.1.1"],"options":null,"$retainKeys":["nameservers"]}}}}}"#,
                Fields(vec![(
                    "/spec/template/spec/dnsConfig",
                    Some(json!({"nameservers": ["1.1.1.1"]})),
                )]),
            ),
            smp(
                "a new list is taken without its marker items",
                r#"{"spec":{"template":{"spec":{"initContainers":[{"$patch":"replace"},{"name":"init","image":"busybox"}]}}}}"#,
                Fields(vec![(
                    "/spec/template/spec/initContainers",
                    Some(json!([{"name": "init", "image": "busybox"}])),
                )]),
            ),
            smp(
                "a malformed strategic merge patch is a 400",
                r#"{"spec":"#,
                Code(400),
            ),
            smp(
                "a strategic merge patch must be an object",
                r#"[1,2]"#,
                Code(400),
            ),
            smp("an empty body is a 400", "", Code(400)),
            // JSON merge patch.
            with(
                smp(
                    "merge patch replaces lists whole",
                    r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2"}]}}}}"#,
                    Fields(vec![(
                        "/spec/template/spec/containers",
                        Some(json!([{"name": "web", "image": "nginx:2"}])),
                    )]),
                ),
                PatchType::Merge,
            ),
            with(
                smp(
                    "merge patch null removes a label",
                    r#"{"metadata":{"labels":{"tier":null}}}"#,
                    Fields(vec![("/metadata/labels", Some(json!({"app": "web"})))]),
                ),
                PatchType::Merge,
            ),
            with(
                smp(
                    "merge patch of replicas (kubectl scale)",
                    r#"{"spec":{"replicas":7}}"#,
                    Fields(vec![
                        ("/spec/replicas", Some(json!(7))),
                        ("/spec/strategy/type", Some(json!("RollingUpdate"))),
                    ]),
                ),
                PatchType::Merge,
            ),
            with(
                smp("malformed merge patch is a 400", r#"{"spec":}"#, Code(400)),
                PatchType::Merge,
            ),
            with(
                smp("merge patch must be an object", r#""x""#, Code(400)),
                PatchType::Merge,
            ),
            // JSON patch.
            with(
                smp(
                    "json patch add, replace, remove, copy, move and a passing test",
                    r#"[{"op":"test","path":"/spec/replicas","value":2},
                        {"op":"replace","path":"/spec/replicas","value":3},
                        {"op":"add","path":"/metadata/labels/new","value":"x"},
                        {"op":"remove","path":"/metadata/labels/tier"},
                        {"op":"copy","from":"/metadata/labels/app","path":"/metadata/labels/copied"},
                        {"op":"move","from":"/metadata/labels/new","path":"/metadata/labels/moved"},
                        {"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"c3","image":"i"}}]"#,
                    Fields(vec![
                        ("/spec/replicas", Some(json!(3))),
                        (
                            "/metadata/labels",
                            Some(json!({"app": "web", "copied": "web", "moved": "x"})),
                        ),
                        ("/spec/template/spec/containers/2/name", Some(json!("c3"))),
                    ]),
                ),
                PatchType::Json,
            ),
            with(
                smp(
                    "json patch test failure is a 422",
                    r#"[{"op":"test","path":"/spec/replicas","value":9}]"#,
                    Code(422),
                ),
                PatchType::Json,
            ),
            with(
                smp(
                    "json patch remove of a missing path is a 422",
                    r#"[{"op":"remove","path":"/metadata/labels/nope"}]"#,
                    Code(422),
                ),
                PatchType::Json,
            ),
            with(
                smp(
                    "json patch replace under a missing parent is a 422",
                    r#"[{"op":"replace","path":"/nope/x","value":1}]"#,
                    Code(422),
                ),
                PatchType::Json,
            ),
            with(
                smp(
                    "malformed json patch is a 400",
                    r#"[{"op":"add","#,
                    Code(400),
                ),
                PatchType::Json,
            ),
            with(
                smp(
                    "a json patch must be an array",
                    r#"{"op":"add"}"#,
                    Code(400),
                ),
                PatchType::Json,
            ),
            with(
                smp(
                    "an unknown json patch op is a 400",
                    r#"[{"op":"frob","path":"/a"}]"#,
                    Code(400),
                ),
                PatchType::Json,
            ),
            // Other kinds.
            on(
                smp(
                    "Service ports merge by port",
                    r#"{"spec":{"ports":[{"port":443,"targetPort":8443},{"port":80,"nodePort":30080}]}}"#,
                    Fields(vec![(
                        "/spec/ports",
                        Some(json!([
                            {"port": 443, "targetPort": 8443},
                            {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080}
                        ])),
                    )]),
                ),
                "v1",
                "Service",
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                       "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}),
            ),
            on(
                smp(
                    "Node conditions merge by type",
                    r#"{"status":{"conditions":[{"type":"Ready","status":"False","reason":"Down"}]}}"#,
                    Fields(vec![(
                        "/status/conditions",
                        Some(json!([
                            {"type": "MemoryPressure", "status": "False"},
                            {"type": "Ready", "status": "False", "reason": "Down"}
                        ])),
                    )]),
                ),
                "v1",
                "Node",
                json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
                       "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                                 {"type": "Ready", "status": "True", "reason": "Up"}]}}),
            ),
            on(
                smp(
                    "Pod spec containers merge by name at the root of a Pod",
                    r#"{"spec":{"containers":[{"name":"c","image":"b"}]}}"#,
                    Fields(vec![(
                        "/spec/containers",
                        Some(json!([{"name": "c", "image": "b", "env": []}])),
                    )]),
                ),
                "v1",
                "Pod",
                json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                       "spec": {"containers": [{"name": "c", "image": "a", "env": []}]}}),
            ),
            on(
                smp(
                    "ServiceAccount secrets merge by name at the root",
                    r#"{"secrets":[{"name":"t2"}]}"#,
                    Fields(vec![(
                        "/secrets",
                        Some(json!([{"name": "t2"}, {"name": "t1"}])),
                    )]),
                ),
                "v1",
                "ServiceAccount",
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"},
                       "secrets": [{"name": "t1"}]}),
            ),
            on(
                smp(
                    "CronJob reaches the pod template through jobTemplate",
                    r#"{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"b"}]}}}}}}"#,
                    Fields(vec![(
                        "/spec/jobTemplate/spec/template/spec/containers",
                        Some(json!([{"name": "c", "image": "b"}, {"name": "d", "image": "d"}])),
                    )]),
                ),
                "batch/v1",
                "CronJob",
                json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
                       "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
                           {"name": "c", "image": "a"}, {"name": "d", "image": "d"}]}}}}}}),
            ),
            on(
                smp(
                    "Ingress rules have no strategy and are replaced",
                    r#"{"spec":{"rules":[{"host":"b"}]}}"#,
                    Fields(vec![("/spec/rules", Some(json!([{"host": "b"}])))]),
                ),
                "networking.k8s.io/v1",
                "Ingress",
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i"},
                       "spec": {"rules": [{"host": "a"}]}}),
            ),
            on(
                smp(
                    "an unknown kind merges maps and replaces lists",
                    r#"{"spec":{"containers":[{"name":"web","image":"nginx:2"}],"extra":{"a":1}}}"#,
                    Fields(vec![
                        (
                            "/spec/containers",
                            Some(json!([{"name": "web", "image": "nginx:2"}])),
                        ),
                        ("/spec/extra", Some(json!({"a": 1, "b": 2}))),
                    ]),
                ),
                "example.com/v1",
                "Widget",
                json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                       "spec": {"containers": [{"name": "web", "image": "nginx:1"}, {"name": "x"}], "extra": {"b": 2}}}),
            ),
        ];

        for case in cases {
            let got = apply_patch(
                case.api_version,
                case.kind,
                case.patch_type,
                &case.original,
                case.patch.as_bytes(),
            );
            match (&case.want, got) {
                (Fields(fields), Ok(doc)) => {
                    for (pointer, want) in fields {
                        assert_eq!(
                            doc.pointer(pointer),
                            want.as_ref(),
                            "{}: {pointer} in {doc:#}",
                            case.name
                        );
                    }
                }
                (Code(code), Err(e)) => assert_eq!(e.code(), *code, "{}: {e}", case.name),
                (Fields(_), Err(e)) => panic!("{}: unexpected error {e}", case.name),
                (Code(code), Ok(doc)) => panic!("{}: wanted {code}, got {doc:#}", case.name),
            }
        }
    }

    #[test]
    fn the_original_is_untouched_and_unpatched_fields_survive() {
        let original = deployment();
        let patch =
            br#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:2"}]}}}}"#;
        let got = apply_patch(
            "apps/v1",
            "Deployment",
            PatchType::Strategic,
            &original,
            patch,
        )
        .unwrap();
        assert_eq!(original, deployment());
        let mut want = deployment();
        want["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
        assert_eq!(got, want);
        assert_eq!(names(&pod_spec(&got)["containers"]), ["web", "sidecar"]);
    }

    #[test]
    fn key_order_of_maps_is_kept() {
        let got = apply_patch(
            "apps/v1",
            "Deployment",
            PatchType::Strategic,
            &deployment(),
            br#"{"metadata":{"labels":{"app":null,"z":"1"}}}"#,
        )
        .unwrap();
        let keys: Vec<&String> = got["metadata"].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "name",
                "namespace",
                "labels",
                "finalizers",
                "ownerReferences"
            ]
        );
        let labels: Vec<&String> = got["metadata"]["labels"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(labels, ["tier", "z"]);
    }

    #[test]
    fn errors_read_like_kubernetes() {
        let d = deployment();
        let err = |t, body: &str| {
            apply_patch("apps/v1", "Deployment", t, &d, body.as_bytes()).unwrap_err()
        };
        let e = err(
            PatchType::Json,
            r#"[{"op":"test","path":"/spec/replicas","value":9}]"#,
        );
        assert_eq!(
            e.to_string(),
            "the server rejected our request due to an error in our request: testing value /spec/replicas failed: test failed"
        );
        assert_eq!(e.reason(), "Invalid");
        let e = err(
            PatchType::Strategic,
            r#"{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}"#,
        );
        assert_eq!(
            e.to_string(),
            r#"map: {"image":"x"} does not contain declared merge key: name"#
        );
        let e = err(
            PatchType::Strategic,
            r#"{"spec":{"strategy":{"$retainKeys":"type"}}}"#,
        );
        assert_eq!(e.to_string(), "invalid patch format of retainKeys");
        assert_eq!(e.reason(), "BadRequest");
        let e = err(PatchType::Merge, "[]");
        assert_eq!(
            e.to_string(),
            "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}"
        );
        let ops = format!(
            "[{}]",
            vec![r#"{"op":"test","path":"/kind","value":"Deployment"}"#; 10_001].join(",")
        );
        let e = err(PatchType::Json, &ops);
        assert_eq!(e.code(), 413);
    }

    #[test]
    fn content_types() {
        let cases = [
            ("application/json-patch+json", Some(PatchType::Json)),
            ("application/merge-patch+json", Some(PatchType::Merge)),
            (
                "application/strategic-merge-patch+json",
                Some(PatchType::Strategic),
            ),
            (
                "application/strategic-merge-patch+json; charset=utf-8",
                Some(PatchType::Strategic),
            ),
            ("Application/Merge-Patch+JSON", Some(PatchType::Merge)),
            ("application/apply-patch+yaml", None),
            ("application/json", None),
            ("", None),
        ];
        for (ct, want) in cases {
            assert_eq!(PatchType::from_content_type(ct), want, "{ct}");
        }
        for t in [PatchType::Json, PatchType::Merge, PatchType::Strategic] {
            assert_eq!(PatchType::from_content_type(t.content_type()), Some(t));
        }
    }

    #[test]
    fn every_served_kind_has_a_schema() {
        for t in crate::registry::RESOURCE_TYPES {
            let name = schema_name(&t.api_version(), t.kind);
            assert!(name.is_some(), "{} {}", t.api_version(), t.kind);
            assert!(CATALOG.definitions.contains_key(name.unwrap()), "{name:?}");
        }
        assert_eq!(
            schema_name("apps/v1", "Deployment"),
            Some("io.k8s.api.apps.v1.Deployment")
        );
        assert_eq!(schema_name("example.com/v1", "Widget"), None);
    }

    #[test]
    fn the_walk_finds_nested_types() {
        let containers = root_type("apps/v1", "Deployment")
            .field("spec")
            .0
            .field("template")
            .0
            .field("spec")
            .0
            .field("containers");
        assert_eq!(
            containers.1,
            meta::patch_strategy("io.k8s.api.core.v1.PodSpec", "containers")
        );
        assert_eq!(containers.0.items().name(), "io.k8s.api.core.v1.Container");
        let labels = root_type("v1", "Pod").field("metadata").0.field("labels").0;
        assert_eq!(labels.field("app").1, None);
        assert_eq!(
            root_type("example.com/v1", "Widget").field("spec").0.name(),
            "unknown type"
        );
    }

    /// Every row of the table must name a property the published schema has, of the JSON type
    /// its strategy works on; a typo here would silently turn a merge into a replace.
    #[test]
    fn every_patch_meta_row_names_a_real_field() {
        for (schema, field, patch) in meta::all() {
            let def = CATALOG
                .definitions
                .get(*schema)
                .unwrap_or_else(|| panic!("no schema {schema}"));
            let prop = def
                .pointer(&format!("/properties/{field}"))
                .unwrap_or_else(|| panic!("{schema} has no field {field}"));
            if patch.merges() {
                assert_eq!(prop["type"], "array", "{schema}.{field}");
                let items = Ty(Some(prop)).items();
                let is_map = items.name() != "unknown type";
                assert_eq!(is_map, patch.merge_key.is_some(), "{schema}.{field}");
                if let (Some(key), Some((_, item))) = (patch.merge_key, items.resolve()) {
                    assert!(
                        item["properties"].get(key).is_some(),
                        "{schema}.{field} items lack {key}"
                    );
                }
            } else {
                assert!(
                    prop.get("$ref").is_some(),
                    "{schema}.{field} should be an object"
                );
            }
        }
    }
}
