//! The `paths` of the documents: the routes kube-apiserver's installer
//! registers for each served resource, with the operation ids, actions, GVK
//! extensions and query parameters it declares.
//!
//! Operations are built once as [`PathItem`]s and rendered either as OpenAPI
//! 3.0 or as Swagger 2.0, so the two documents cannot disagree.
//! Invariant: every operation that takes a body declares `fieldValidation`
//! (kubectl's QueryParamVerifierV3 looks for it on the PATCH of each GVK).

use serde_json::{Map, Value, json};

use super::schemas::{self, KindSchema};
use crate::registry::ResourceType;

#[derive(Clone, Copy)]
enum Ty {
    String,
    Integer,
    Boolean,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::String => "string",
            Ty::Integer => "integer",
            Ty::Boolean => "boolean",
        }
    }
}

pub(super) struct QueryParam {
    name: &'static str,
    ty: Ty,
    description: &'static str,
}

macro_rules! query_params {
    ($($id:ident = $name:literal, $ty:ident, $desc:literal;)*) => {
        $(static $id: QueryParam = QueryParam { name: $name, ty: Ty::$ty, description: $desc };)*
    };
}

query_params! {
    ALLOW_WATCH_BOOKMARKS = "allowWatchBookmarks", Boolean, "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored.";
    CONTINUE = "continue", String, "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize. If the specified continue value is no longer valid whether due to expiration (generally five to fifteen minutes) or a configuration change on the server, the server will respond with a 410 ResourceExpired error together with a continue token. If the client needs a consistent list, it must restart their list without the continue field. Otherwise, the client may send another list request with the token received with the 410 error, the server will respond with a list starting from the next key, but from the latest snapshot, which is inconsistent from the previous list results - objects that are created, modified, or deleted after the first list request will be included in the response, as long as their keys are after the \"next key\".\n\nThis field is not supported when watch is true. Clients may start a watch from the last resourceVersion value returned by the server and not miss any modifications.";
    DRY_RUN = "dryRun", String, "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed";
    FIELD_MANAGER = "fieldManager", String, "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.";
    FIELD_MANAGER_PATCH = "fieldManager", String, "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint. This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).";
    FIELD_SELECTOR = "fieldSelector", String, "A selector to restrict the list of returned objects by their fields. Defaults to everything.";
    FIELD_VALIDATION = "fieldValidation", String, "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.";
    FORCE = "force", Boolean, "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.";
    GRACE_PERIOD_SECONDS = "gracePeriodSeconds", Integer, "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.";
    IGNORE_STORE_READ_ERROR = "ignoreStoreReadErrorWithClusterBreakingPotential", Boolean, "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error. A resource is considered corrupt if it can not be retrieved from the underlying storage successfully because of a) its data can not be transformed e.g. decryption failure, or b) it fails to decode into an object. NOTE: unsafe deletion ignores finalizer constraints, skips precondition checks, and removes the object from the storage. WARNING: This may potentially break the cluster if the workload associated with the resource being unsafe-deleted relies on normal deletion flow. Use only if you REALLY know what you are doing. The default value is false, and the user must opt in to enable it";
    LABEL_SELECTOR = "labelSelector", String, "A selector to restrict the list of returned objects by their labels. Defaults to everything.";
    LIMIT = "limit", Integer, "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results. Setting a limit may return fewer than the requested amount of items (up to zero items) in the event all requested objects are filtered out and clients should only use the presence of the continue field to determine whether more results are available. Servers may choose not to support the limit argument and will return all of the available results. If limit is specified and the continue field is empty, clients may assume that no more results are available. This field is not supported if watch is true.\n\nThe server guarantees that the objects returned when using continue will be identical to issuing a single list call without a limit - that is, no objects created, modified, or deleted after the first request is issued will be included in any subsequent continued requests. This is sometimes referred to as a consistent snapshot, and ensures that a client that is using limit to receive smaller chunks of a very large result can ensure they see all possible objects. If objects are updated during a chunked list the version of the object that was present at the time the first list result was calculated is returned.";
    ORPHAN_DEPENDENTS = "orphanDependents", Boolean, "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.";
    PRETTY = "pretty", String, "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).";
    PROPAGATION_POLICY = "propagationPolicy", String, "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.";
    RESOURCE_VERSION = "resourceVersion", String, "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset";
    RESOURCE_VERSION_MATCH = "resourceVersionMatch", String, "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset";
    SEND_INITIAL_EVENTS = "sendInitialEvents", Boolean, "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic \"Bookmark\" event  will be sent. The bookmark will report the ResourceVersion (RV) corresponding to the set of objects, and be marked with `\"k8s.io/initial-events-end\": \"true\"` annotation. Afterwards, the watch stream will proceed as usual, sending watch events corresponding to changes (subsequent to the RV) to objects watched.\n\nWhen `sendInitialEvents` option is set, we require `resourceVersionMatch` option to also be set. The semantic of the watch request is as following: - `resourceVersionMatch` = NotOlderThan\n  is interpreted as \"data at least as new as the provided `resourceVersion`\"\n  and the bookmark event is send when the state is synced\n  to a `resourceVersion` at least as fresh as the one provided by the ListOptions.\n  If `resourceVersion` is unset, this is interpreted as \"consistent read\" and the\n  bookmark event is send when the state is synced at least to the moment\n  when request started being processed.\n- `resourceVersionMatch` set to any other value or unset\n  Invalid error is returned.\n\nDefaults to true if `resourceVersion=\"\"` or `resourceVersion=\"0\"` (for backward compatibility reasons) and to false otherwise.";
    TIMEOUT_SECONDS = "timeoutSeconds", Integer, "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.";
    WATCH = "watch", Boolean, "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.";

    LOG_CONTAINER = "container", String, "The container for which to stream logs. Defaults to only container if there is one container in the pod.";
    LOG_FOLLOW = "follow", Boolean, "Follow the log stream of the pod. Defaults to false.";
    LOG_INSECURE_SKIP_TLS = "insecureSkipTLSVerifyBackend", Boolean, "insecureSkipTLSVerifyBackend indicates that the apiserver should not confirm the validity of the serving certificate of the backend it is connecting to.  This will make the HTTPS connection between the apiserver and the backend insecure. This means the apiserver cannot verify the log data it is receiving came from the real kubelet.  If the kubelet is configured to verify the apiserver's TLS credentials, it does not mean the connection to the real kubelet is vulnerable to a man in the middle attack (e.g. an attacker could not intercept the actual log data coming from the real kubelet).";
    LOG_LIMIT_BYTES = "limitBytes", Integer, "If set, the number of bytes to read from the server before terminating the log output. This may not display a complete final line of logging, and may return slightly more or slightly less than the specified limit.";
    LOG_PREVIOUS = "previous", Boolean, "Return previous terminated container logs. Defaults to false.";
    LOG_SINCE_SECONDS = "sinceSeconds", Integer, "A relative time in seconds before the current time from which to show logs. If this value precedes the time a pod was started, only logs since the pod start will be returned. If this value is in the future, no logs will be returned. Only one of sinceSeconds or sinceTime may be specified.";
    LOG_STREAM = "stream", String, "Specify which container log stream to return to the client. Acceptable values are \"All\", \"Stdout\" and \"Stderr\". If not specified, \"All\" is used, and both stdout and stderr are returned interleaved. Note that when \"TailLines\" is specified, \"Stream\" can only be set to nil or \"All\".";
    LOG_TAIL_LINES = "tailLines", Integer, "If set, the number of lines from the end of the logs to show. If not specified, logs are shown from the creation of the container or sinceSeconds or sinceTime";
    LOG_TIMESTAMPS = "timestamps", Boolean, "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log output. Defaults to false.";

    EXEC_COMMAND = "command", String, "Command is the remote command to execute. argv array. Not executed within a shell.";
    EXEC_CONTAINER = "container", String, "Container in which to execute the command. Defaults to only container if there is only one container in the pod.";
    EXEC_STDERR = "stderr", Boolean, "Redirect the standard error stream of the pod for this call.";
    EXEC_STDIN = "stdin", Boolean, "Redirect the standard input stream of the pod for this call. Defaults to false.";
    EXEC_STDOUT = "stdout", Boolean, "Redirect the standard output stream of the pod for this call.";
    EXEC_TTY = "tty", Boolean, "TTY if true indicates that a tty will be allocated for the exec call. Defaults to false.";
}

/// Query parameters of a list, also the path-level parameters of watch and
/// all-namespaces paths (with `pretty` added).
static LIST_PARAMS: &[&QueryParam] = &[
    &ALLOW_WATCH_BOOKMARKS,
    &CONTINUE,
    &FIELD_SELECTOR,
    &LABEL_SELECTOR,
    &LIMIT,
    &RESOURCE_VERSION,
    &RESOURCE_VERSION_MATCH,
    &SEND_INITIAL_EVENTS,
    &TIMEOUT_SECONDS,
    &WATCH,
];
static WRITE_PARAMS: &[&QueryParam] = &[&DRY_RUN, &FIELD_MANAGER, &FIELD_VALIDATION];
static PATCH_PARAMS: &[&QueryParam] = &[&DRY_RUN, &FIELD_MANAGER_PATCH, &FIELD_VALIDATION, &FORCE];
static DELETE_PARAMS: &[&QueryParam] = &[
    &DRY_RUN,
    &GRACE_PERIOD_SECONDS,
    &IGNORE_STORE_READ_ERROR,
    &ORPHAN_DEPENDENTS,
    &PROPAGATION_POLICY,
];
static DELETE_COLLECTION_PARAMS: &[&QueryParam] = &[
    &CONTINUE,
    &DRY_RUN,
    &FIELD_SELECTOR,
    &GRACE_PERIOD_SECONDS,
    &IGNORE_STORE_READ_ERROR,
    &LABEL_SELECTOR,
    &LIMIT,
    &ORPHAN_DEPENDENTS,
    &PROPAGATION_POLICY,
    &RESOURCE_VERSION,
    &RESOURCE_VERSION_MATCH,
    &SEND_INITIAL_EVENTS,
    &TIMEOUT_SECONDS,
];
static LOG_PARAMS: &[&QueryParam] = &[
    &LOG_CONTAINER,
    &LOG_FOLLOW,
    &LOG_INSECURE_SKIP_TLS,
    &LOG_LIMIT_BYTES,
    &LOG_PREVIOUS,
    &LOG_SINCE_SECONDS,
    &LOG_STREAM,
    &LOG_TAIL_LINES,
    &LOG_TIMESTAMPS,
];
static EXEC_PARAMS: &[&QueryParam] = &[
    &EXEC_COMMAND,
    &EXEC_CONTAINER,
    &EXEC_STDERR,
    &EXEC_STDIN,
    &EXEC_STDOUT,
    &EXEC_TTY,
];

const OBJECT_TYPES: &[&str] = &[
    "application/json",
    "application/vnd.kubernetes.protobuf",
    "application/yaml",
];
const STREAM_TYPES: &[&str] = &[
    "application/json",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf",
    "application/vnd.kubernetes.protobuf;stream=watch",
    "application/yaml",
];
const TEXT_TYPES: &[&str] = &[
    "application/json",
    "application/vnd.kubernetes.protobuf",
    "application/yaml",
    "text/plain",
];
const ANY_TYPE: &[&str] = &["*/*"];
const PATCH_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
];

/// Kinds whose DELETE answers with the deleted object rather than a Status
/// (their registries set `ReturnDeletedObject`).
const DELETE_RETURNS_OBJECT: &[(&str, &str)] = &[
    ("", "Pod"),
    ("", "Service"),
    ("", "PersistentVolume"),
    ("", "PersistentVolumeClaim"),
];

enum Param {
    Path {
        name: &'static str,
        description: String,
    },
    Query(&'static QueryParam),
}

#[derive(Clone)]
enum Payload {
    Schema(String),
    Text,
}

struct Body {
    schema: String,
    consumes: &'static [&'static str],
    required: bool,
}

struct Response {
    code: &'static str,
    payload: Payload,
}

struct Operation {
    method: &'static str,
    id: String,
    description: String,
    /// `x-kubernetes-action` and `x-kubernetes-group-version-kind`; absent on
    /// discovery operations.
    action: Option<&'static str>,
    gvk: Option<Value>,
    params: Vec<Param>,
    body: Option<Body>,
    responses: Vec<Response>,
    produces: &'static [&'static str],
    tag: String,
}

pub(super) struct PathItem {
    pub path: String,
    params: Vec<Param>,
    ops: Vec<Operation>,
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Group name segments as upstream's friendly names use them: `rbac.authorization.k8s.io`
/// is `rbac authorization`; a non-k8s.io domain reads backwards like a Go package.
fn group_words(group: &str) -> Vec<&str> {
    if group.is_empty() {
        return vec!["core"];
    }
    match group.strip_suffix(".k8s.io") {
        Some(g) => g.split('.').collect(),
        None => group.split('.').rev().collect(),
    }
}

/// `CoreV1`, `AppsV1`, `RbacAuthorizationV1`: the middle of an operationId.
fn gv_ident(group: &str, version: &str) -> String {
    let mut s: String = group_words(group).into_iter().map(capitalize).collect();
    s.push_str(&capitalize(version));
    s
}

/// `core`, `apps`, `rbacAuthorization`.
fn group_tag(group: &str) -> String {
    let words = group_words(group);
    let mut s = words[0].to_owned();
    for w in &words[1..] {
        s.push_str(&capitalize(w));
    }
    s
}

fn gv_tag(group: &str, version: &str) -> String {
    format!("{}_{version}", group_tag(group))
}

fn path_param(name: &'static str, description: impl Into<String>) -> Param {
    Param::Path {
        name,
        description: description.into(),
    }
}

fn namespace_param() -> Param {
    path_param(
        "namespace",
        "object name and auth scope, such as for teams and projects",
    )
}

fn query(params: &[&'static QueryParam]) -> Vec<Param> {
    params.iter().map(|p| Param::Query(p)).collect()
}

/// `name`, `namespace` (when namespaced), then `pretty`: upstream's order.
fn item_params(namespaced: bool, of: &str) -> Vec<Param> {
    let mut v = vec![path_param("name", format!("name of the {of}"))];
    if namespaced {
        v.push(namespace_param());
    }
    v.push(Param::Query(&PRETTY));
    v
}

/// Path-level parameters of watch and all-namespaces lists: the list
/// parameters and the path parameters, merged in name order.
fn listing_path_params(path_params: Vec<Param>) -> Vec<Param> {
    let mut v = path_params;
    v.extend(query(LIST_PARAMS));
    v.push(Param::Query(&PRETTY));
    v.sort_by_key(param_name);
    v
}

fn ok(payload: &Payload) -> Vec<Response> {
    vec![Response {
        code: "200",
        payload: payload.clone(),
    }]
}

fn created(payload: &Payload, accepted: bool) -> Vec<Response> {
    let mut v = ok(payload);
    v.push(Response {
        code: "201",
        payload: payload.clone(),
    });
    if accepted {
        v.push(Response {
            code: "202",
            payload: payload.clone(),
        });
    }
    v
}

/// What the operations of one resource share.
struct Resource<'a> {
    t: &'a ResourceType,
    gvk: Value,
    gv: String,
    ns: &'static str,
    tag: String,
    object: Payload,
}

impl Resource<'_> {
    fn op(
        &self,
        method: &'static str,
        action: &'static str,
        id: String,
        description: String,
    ) -> Operation {
        Operation {
            method,
            id,
            description,
            action: Some(action),
            gvk: Some(self.gvk.clone()),
            params: Vec::new(),
            body: None,
            responses: Vec::new(),
            produces: OBJECT_TYPES,
            tag: self.tag.clone(),
        }
    }

    fn read(&self, suffix: &str, what: &str, payload: &Payload) -> Operation {
        let (gv, ns, kind) = (&self.gv, self.ns, self.t.kind);
        Operation {
            responses: ok(payload),
            ..self.op(
                "get",
                "get",
                format!("read{gv}{ns}{kind}{suffix}"),
                format!("read {what}the specified {kind}"),
            )
        }
    }

    fn replace(&self, suffix: &str, what: &str, body: &str, payload: &Payload) -> Operation {
        let (gv, ns, kind) = (&self.gv, self.ns, self.t.kind);
        Operation {
            params: query(WRITE_PARAMS),
            body: Some(Body {
                schema: body.to_owned(),
                consumes: ANY_TYPE,
                required: true,
            }),
            responses: created(payload, false),
            ..self.op(
                "put",
                "put",
                format!("replace{gv}{ns}{kind}{suffix}"),
                format!("replace {what}the specified {kind}"),
            )
        }
    }

    fn patch(&self, suffix: &str, what: &str, payload: &Payload) -> Operation {
        let (gv, ns, kind) = (&self.gv, self.ns, self.t.kind);
        Operation {
            params: query(PATCH_PARAMS),
            body: Some(Body {
                schema: schemas::patch(),
                consumes: PATCH_TYPES,
                required: true,
            }),
            responses: created(payload, false),
            ..self.op(
                "patch",
                "patch",
                format!("patch{gv}{ns}{kind}{suffix}"),
                format!("partially update {what}the specified {kind}"),
            )
        }
    }
}

fn meta_payload(name: String) -> Payload {
    Payload::Schema(name)
}

/// Every path of one resource type.
pub(super) fn resource_paths(t: &ResourceType, k: &KindSchema) -> Vec<PathItem> {
    let r = Resource {
        t,
        gvk: schemas::gvk(t.group, t.version, t.kind),
        gv: gv_ident(t.group, t.version),
        ns: if t.namespaced { "Namespaced" } else { "" },
        tag: gv_tag(t.group, t.version),
        object: Payload::Schema(k.name()),
    };
    let (gv, ns, kind) = (&r.gv, r.ns, t.kind);
    let base = t.gv_path();
    let collection = if t.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", t.plural)
    } else {
        format!("{base}/{}", t.plural)
    };
    let item = format!("{collection}/{{name}}");
    let status = meta_payload(schemas::status());
    let watch_event = meta_payload(schemas::watch_event());
    let mut out = Vec::new();

    // Collection: list, create, delete collection.
    let mut collection_params = Vec::new();
    if t.namespaced {
        collection_params.push(namespace_param());
    }
    collection_params.push(Param::Query(&PRETTY));
    let mut ops = Vec::new();
    // Namespaces are deleted one at a time; their registry has no collection delete.
    if !(t.group.is_empty() && t.kind == "Namespace") {
        ops.push(Operation {
            params: query(DELETE_COLLECTION_PARAMS),
            body: Some(Body {
                schema: schemas::delete_options(),
                consumes: ANY_TYPE,
                required: false,
            }),
            responses: ok(&status),
            ..r.op(
                "delete",
                "deletecollection",
                format!("delete{gv}Collection{ns}{kind}"),
                format!("delete collection of {kind}"),
            )
        });
    }
    if let Some(list) = k.list_name() {
        ops.push(Operation {
            params: query(LIST_PARAMS),
            responses: ok(&Payload::Schema(list.clone())),
            produces: STREAM_TYPES,
            ..r.op(
                "get",
                "list",
                format!("list{gv}{ns}{kind}"),
                format!("list or watch objects of kind {kind}"),
            )
        });
        if t.namespaced {
            out.push(PathItem {
                path: format!("{base}/{}", t.plural),
                params: listing_path_params(Vec::new()),
                ops: vec![Operation {
                    responses: ok(&Payload::Schema(list)),
                    produces: STREAM_TYPES,
                    ..r.op(
                        "get",
                        "list",
                        format!("list{gv}{kind}ForAllNamespaces"),
                        format!("list or watch objects of kind {kind}"),
                    )
                }],
            });
        }
    }
    ops.push(Operation {
        params: query(WRITE_PARAMS),
        body: Some(Body {
            schema: k.name(),
            consumes: ANY_TYPE,
            required: true,
        }),
        responses: created(&r.object, true),
        ..r.op(
            "post",
            "post",
            format!("create{gv}{ns}{kind}"),
            format!("create a {kind}"),
        )
    });
    out.push(PathItem {
        path: collection.clone(),
        params: collection_params,
        ops,
    });

    // Item: read, replace, patch, delete.
    let deleted = if DELETE_RETURNS_OBJECT.contains(&(t.group, t.kind)) {
        r.object.clone()
    } else {
        status.clone()
    };
    out.push(PathItem {
        path: item.clone(),
        params: item_params(t.namespaced, kind),
        ops: vec![
            Operation {
                params: query(DELETE_PARAMS),
                body: Some(Body {
                    schema: schemas::delete_options(),
                    consumes: ANY_TYPE,
                    required: false,
                }),
                responses: vec![
                    Response {
                        code: "200",
                        payload: deleted.clone(),
                    },
                    Response {
                        code: "202",
                        payload: deleted,
                    },
                ],
                ..r.op(
                    "delete",
                    "delete",
                    format!("delete{gv}{ns}{kind}"),
                    format!("delete a {kind}"),
                )
            },
            r.read("", "", &r.object),
            r.patch("", "", &r.object),
            r.replace("", "", &k.name(), &r.object),
        ],
    });

    // Deprecated watch paths: client-go no longer uses them, but upstream still serves them.
    let watch_base = format!("{base}/watch");
    let (watch_collection, watch_collection_params) = if t.namespaced {
        (
            format!("{watch_base}/namespaces/{{namespace}}/{}", t.plural),
            vec![namespace_param()],
        )
    } else {
        (format!("{watch_base}/{}", t.plural), Vec::new())
    };
    let watch_op = |action: &'static str, id: String, description: String| Operation {
        responses: ok(&watch_event),
        produces: STREAM_TYPES,
        ..r.op("get", action, id, description)
    };
    let mut watch_item_params = vec![path_param("name", format!("name of the {kind}"))];
    if t.namespaced {
        watch_item_params.push(namespace_param());
    }
    out.push(PathItem {
        path: format!("{watch_collection}/{{name}}"),
        params: listing_path_params(watch_item_params),
        ops: vec![watch_op(
            "watch",
            format!("watch{gv}{ns}{kind}"),
            format!("watch changes to an object of kind {kind}. deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter."),
        )],
    });
    out.push(PathItem {
        path: watch_collection,
        params: listing_path_params(watch_collection_params),
        ops: vec![watch_op(
            "watchlist",
            format!("watch{gv}{ns}{kind}List"),
            format!("watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."),
        )],
    });
    if t.namespaced {
        out.push(PathItem {
            path: format!("{watch_base}/{}", t.plural),
            params: listing_path_params(Vec::new()),
            ops: vec![watch_op(
                "watchlist",
                format!("watch{gv}{kind}ListForAllNamespaces"),
                format!("watch individual changes to a list of {kind}. deprecated: use the 'watch' parameter with a list operation instead."),
            )],
        });
    }

    for sub in t.subresources {
        if let Some(p) = subresource_path(&r, &item, k, sub) {
            out.push(p);
        }
    }
    out
}

fn subresource_path(r: &Resource, item: &str, k: &KindSchema, sub: &str) -> Option<PathItem> {
    let t = r.t;
    let (gv, ns, kind) = (&r.gv, r.ns, t.kind);
    let path = format!("{item}/{sub}");
    let item = match sub {
        "status" => PathItem {
            path,
            params: item_params(t.namespaced, kind),
            ops: vec![
                r.read("Status", "status of ", &r.object),
                r.patch("Status", "status of ", &r.object),
                r.replace("Status", "status of ", &k.name(), &r.object),
            ],
        },
        "scale" => {
            let s = schemas::scale();
            let scale = Payload::Schema(s.name());
            let with_gvk = |op: Operation| Operation {
                gvk: Some(schemas::gvk(s.group, s.version, s.kind)),
                ..op
            };
            PathItem {
                path,
                params: item_params(t.namespaced, s.kind),
                ops: vec![
                    with_gvk(r.read("Scale", "scale of ", &scale)),
                    with_gvk(r.patch("Scale", "scale of ", &scale)),
                    with_gvk(r.replace("Scale", "scale of ", &s.name(), &scale)),
                ],
            }
        }
        "finalize" => PathItem {
            path,
            params: item_params(t.namespaced, kind),
            ops: vec![Operation {
                params: query(WRITE_PARAMS),
                body: Some(Body {
                    schema: k.name(),
                    consumes: ANY_TYPE,
                    required: true,
                }),
                responses: created(&r.object, false),
                ..r.op(
                    "put",
                    "put",
                    format!("replace{gv}{ns}{kind}Finalize"),
                    format!("replace finalize of the specified {kind}"),
                )
            }],
        },
        "log" => {
            let mut params = item_params(t.namespaced, kind);
            params.extend(query(LOG_PARAMS));
            params.sort_by_key(param_name);
            PathItem {
                path,
                params,
                ops: vec![Operation {
                    responses: ok(&Payload::Text),
                    produces: TEXT_TYPES,
                    ..r.op(
                        "get",
                        "get",
                        format!("read{gv}{ns}{kind}Log"),
                        format!("read log of the specified {kind}"),
                    )
                }],
            }
        }
        "binding" => {
            let b = schemas::binding();
            let binding = Payload::Schema(b.name());
            PathItem {
                path,
                params: item_params(t.namespaced, b.kind),
                ops: vec![Operation {
                    params: query(WRITE_PARAMS),
                    body: Some(Body {
                        schema: b.name(),
                        consumes: ANY_TYPE,
                        required: true,
                    }),
                    responses: created(&binding, true),
                    gvk: Some(schemas::gvk(b.group, b.version, b.kind)),
                    ..r.op(
                        "post",
                        "post",
                        format!("create{gv}{ns}{kind}Binding"),
                        format!("create binding of a {kind}"),
                    )
                }],
            }
        }
        "exec" => {
            let options = format!("{kind}ExecOptions");
            let mut params = vec![path_param("name", format!("name of the {options}"))];
            if t.namespaced {
                params.push(namespace_param());
            }
            params.extend(query(EXEC_PARAMS));
            params.sort_by_key(param_name);
            let connect = |method: &'static str, verb: &str| Operation {
                responses: ok(&Payload::Text),
                produces: ANY_TYPE,
                gvk: Some(schemas::gvk(t.group, t.version, &options)),
                ..r.op(
                    method,
                    "connect",
                    format!("connect{gv}{verb}{ns}{kind}Exec"),
                    format!("connect {} requests to exec of {kind}", verb.to_uppercase()),
                )
            };
            PathItem {
                path,
                params,
                ops: vec![connect("get", "Get"), connect("post", "Post")],
            }
        }
        _ => return None,
    };
    Some(item)
}

fn discovery_op(id: String, description: &str, schema: String, tag: String) -> Operation {
    Operation {
        method: "get",
        id,
        description: description.to_owned(),
        action: None,
        gvk: None,
        params: Vec::new(),
        body: None,
        responses: ok(&Payload::Schema(schema)),
        produces: OBJECT_TYPES,
        tag,
    }
}

/// `/api/v1/` or `/apis/apps/v1/`: the group version's APIResourceList.
pub(super) fn resources_path(group: &str, version: &str) -> PathItem {
    let base = if group.is_empty() {
        format!("/api/{version}/")
    } else {
        format!("/apis/{group}/{version}/")
    };
    PathItem {
        path: base,
        params: Vec::new(),
        ops: vec![discovery_op(
            format!("get{}APIResources", gv_ident(group, version)),
            "get available resources",
            schemas::api_resource_list(),
            gv_tag(group, version),
        )],
    }
}

/// `/apis/apps/`: the group's APIGroup.
pub(super) fn group_path(group: &str) -> PathItem {
    PathItem {
        path: format!("/apis/{group}/"),
        params: Vec::new(),
        ops: vec![discovery_op(
            format!("get{}APIGroup", gv_ident(group, "")),
            "get information of a group",
            schemas::api_group(),
            group_tag(group),
        )],
    }
}

/// `/api/`: the core group's APIVersions.
pub(super) fn core_versions_path() -> PathItem {
    PathItem {
        path: "/api/".into(),
        params: Vec::new(),
        ops: vec![discovery_op(
            "getCoreAPIVersions".into(),
            "get available API versions",
            schemas::api_versions(),
            "core".into(),
        )],
    }
}

/// `/apis/`: the APIGroupList.
pub(super) fn groups_path() -> PathItem {
    PathItem {
        path: "/apis/".into(),
        params: Vec::new(),
        ops: vec![discovery_op(
            "getAPIVersions".into(),
            "get available API versions",
            schemas::api_group_list(),
            "apis".into(),
        )],
    }
}

/// `/version/`: the build's version.Info.
pub(super) fn version_path() -> PathItem {
    let mut op = discovery_op(
        "getCodeVersion".into(),
        "get the code version",
        schemas::version_info(),
        "version".into(),
    );
    op.produces = &["application/json"];
    PathItem {
        path: "/version/".into(),
        params: Vec::new(),
        ops: vec![op],
    }
}

fn param_name(p: &Param) -> &'static str {
    match p {
        Param::Path { name, .. } => name,
        Param::Query(q) => q.name,
    }
}

fn v3_param(p: &Param) -> Value {
    match p {
        Param::Path { name, description } => json!({
            "description": description,
            "in": "path",
            "name": name,
            "required": true,
            "schema": {"type": "string", "uniqueItems": true},
        }),
        Param::Query(q) => json!({
            "description": q.description,
            "in": "query",
            "name": q.name,
            "schema": {"type": q.ty.name(), "uniqueItems": true},
        }),
    }
}

fn v2_param(p: &Param) -> Value {
    match p {
        Param::Path { name, description } => json!({
            "description": description,
            "in": "path",
            "name": name,
            "required": true,
            "type": "string",
            "uniqueItems": true,
        }),
        Param::Query(q) => json!({
            "description": q.description,
            "in": "query",
            "name": q.name,
            "type": q.ty.name(),
            "uniqueItems": true,
        }),
    }
}

fn payload_schema(p: &Payload, prefix: &str) -> Value {
    match p {
        Payload::Schema(name) => json!({"$ref": format!("{prefix}{name}")}),
        Payload::Text => json!({"type": "string"}),
    }
}

fn response_description(code: &str) -> &'static str {
    match code {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        _ => "Unauthorized",
    }
}

fn extensions(op: &Operation, out: &mut Map<String, Value>) {
    out.insert("tags".into(), json!([op.tag]));
    if let Some(a) = op.action {
        out.insert("x-kubernetes-action".into(), a.into());
    }
    if let Some(g) = &op.gvk {
        out.insert("x-kubernetes-group-version-kind".into(), g.clone());
    }
}

fn v3_operation(op: &Operation) -> Value {
    let mut out = Map::new();
    out.insert("description".into(), op.description.clone().into());
    out.insert("operationId".into(), op.id.clone().into());
    if !op.params.is_empty() {
        out.insert(
            "parameters".into(),
            op.params.iter().map(v3_param).collect(),
        );
    }
    if let Some(b) = &op.body {
        let schema = json!({"$ref": format!("{}{}", schemas::REF_PREFIX, b.schema)});
        let content: Map<String, Value> = b
            .consumes
            .iter()
            .map(|c| (c.to_string(), json!({"schema": schema})))
            .collect();
        let mut body = json!({"content": content});
        if b.required {
            body["required"] = true.into();
        }
        out.insert("requestBody".into(), body);
    }
    let mut responses = Map::new();
    for r in &op.responses {
        let schema = payload_schema(&r.payload, schemas::REF_PREFIX);
        let content: Map<String, Value> = op
            .produces
            .iter()
            .map(|c| (c.to_string(), json!({"schema": schema})))
            .collect();
        responses.insert(
            r.code.into(),
            json!({"content": content, "description": response_description(r.code)}),
        );
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    out.insert("responses".into(), responses.into());
    extensions(op, &mut out);
    Value::Object(out)
}

fn v2_operation(op: &Operation) -> Value {
    const V2_PREFIX: &str = "#/definitions/";
    let mut out = Map::new();
    if let Some(b) = &op.body {
        out.insert("consumes".into(), json!(b.consumes));
    }
    out.insert("description".into(), op.description.clone().into());
    out.insert("operationId".into(), op.id.clone().into());
    let mut params: Vec<Value> = Vec::new();
    if let Some(b) = &op.body {
        let mut p = json!({
            "in": "body",
            "name": "body",
            "schema": {"$ref": format!("{V2_PREFIX}{}", b.schema)},
        });
        if b.required {
            p["required"] = true.into();
        }
        params.push(p);
    }
    params.extend(op.params.iter().map(v2_param));
    if !params.is_empty() {
        out.insert("parameters".into(), params.into());
    }
    out.insert("produces".into(), json!(op.produces));
    let mut responses = Map::new();
    for r in &op.responses {
        responses.insert(
            r.code.into(),
            json!({
                "description": response_description(r.code),
                "schema": payload_schema(&r.payload, V2_PREFIX),
            }),
        );
    }
    responses.insert("401".into(), json!({"description": "Unauthorized"}));
    out.insert("responses".into(), responses.into());
    out.insert("schemes".into(), json!(["https"]));
    extensions(op, &mut out);
    Value::Object(out)
}

fn render(
    item: &PathItem,
    param: fn(&Param) -> Value,
    operation: fn(&Operation) -> Value,
) -> Value {
    let mut out = Map::new();
    if !item.params.is_empty() {
        out.insert("parameters".into(), item.params.iter().map(param).collect());
    }
    for op in &item.ops {
        out.insert(op.method.into(), operation(op));
    }
    Value::Object(out)
}

pub(super) fn to_v3(item: &PathItem) -> Value {
    render(item, v3_param, v3_operation)
}

pub(super) fn to_v2(item: &PathItem) -> Value {
    render(item, v2_param, v2_operation)
}

/// Schema names the operations of `item` refer to.
pub(super) fn referenced_schemas(item: &PathItem) -> impl Iterator<Item = &str> {
    item.ops.iter().flat_map(|op| {
        let bodies = op.body.iter().map(|b| b.schema.as_str());
        let responses = op.responses.iter().filter_map(|r| match &r.payload {
            Payload::Schema(s) => Some(s.as_str()),
            Payload::Text => None,
        });
        bodies.chain(responses)
    })
}

#[cfg(test)]
pub(super) fn has_param(item: &PathItem, method: &str, name: &str) -> bool {
    item.ops
        .iter()
        .filter(|op| op.method == method)
        .any(|op| op.params.iter().any(|p| param_name(p) == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_id_names_follow_upstream() {
        assert_eq!(gv_ident("", "v1"), "CoreV1");
        assert_eq!(
            gv_ident("rbac.authorization.k8s.io", "v1"),
            "RbacAuthorizationV1"
        );
        assert_eq!(gv_ident("apps", "v1beta1"), "AppsV1beta1");
        assert_eq!(gv_tag("discovery.k8s.io", "v1"), "discovery_v1");
        assert_eq!(
            gv_tag("flowcontrol.apiserver.k8s.io", "v1"),
            "flowcontrolApiserver_v1"
        );
        assert_eq!(gv_ident("stable.example.com", "v1"), "ComExampleStableV1");
    }

    #[test]
    fn path_level_params_are_sorted() {
        let params = listing_path_params(vec![path_param("name", "x"), namespace_param()]);
        let names: Vec<&str> = params.iter().map(param_name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }
}
