//! HTTP glue: one dispatcher that turns a request into a [`Route`], decodes the
//! body, calls [`Rest`], and encodes the answer (JSON, Table, watch stream).
//!
//! Owns content negotiation and query parameters; every rule about objects
//! lives in `rest.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use regatta_api::patch::PatchType;
use regatta_api::registry::ResourceType;
use regatta_api::selector::{FieldSelector, LabelSelector};
use serde_json::{Value, json};

use super::rest::{DeleteOpts, Deleted, FieldValidation, ListOpts, WriteOpts, Written};
use super::route::{self, ResourceRef, Route};
use super::status::{ApiError, ApiResult, success_status};
use super::watch::{self, WatchParams};
use super::{ApiServer, Identity, discovery, objects};

/// Kubernetes' request body limit.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

pub async fn dispatch(
    server: Arc<ApiServer>,
    identity: Option<Identity>,
    method: Method,
    path: String,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let route = route::parse(&path);
    let public = matches!(route, Route::Health(_) | Route::Version);
    if identity.is_none() && !public {
        return ApiError::unauthorized().into_response();
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let result = match route {
        Route::Api if discovery::wants_aggregated(&accept) => {
            Ok(aggregated(discovery::aggregated(true)))
        }
        Route::Apis if discovery::wants_aggregated(&accept) => {
            Ok(aggregated(discovery::aggregated(false)))
        }
        Route::Api => Ok(json_response(StatusCode::OK, &discovery::api_versions())),
        Route::Apis => Ok(json_response(StatusCode::OK, &discovery::api_group_list())),
        Route::ApiGroup(g) => Ok(json_response(StatusCode::OK, &discovery::api_group(&g))),
        Route::GroupVersion { group, version } => Ok(json_response(
            StatusCode::OK,
            &discovery::resource_list(&group, &version),
        )),
        Route::Version => Ok(json_response(StatusCode::OK, &version_info())),
        Route::Health(which) => Ok(health(&server, which)),
        Route::Metrics => Ok(server.metrics.render_response()),
        // kubectl asks for v2 only as protobuf, which we do not encode: a 406
        // tells it so cleanly; JSON clients get the document.
        Route::OpenApiV2
            if accept.is_empty() || accept.contains("json") || accept.contains("*/*") =>
        {
            Ok(json_response(StatusCode::OK, &regatta_api::openapi::v2()))
        }
        Route::OpenApiV2 => Ok(openapi_v2_protobuf()),
        Route::OpenApiV3Root => Ok(json_response(
            StatusCode::OK,
            &regatta_api::openapi::v3_root(),
        )),
        Route::OpenApiV3(p) => match regatta_api::openapi::v3_group_version(&p) {
            Some(doc) => Ok(json_response(StatusCode::OK, &doc)),
            None => Err(ApiError::no_route()),
        },
        Route::Resource(r) => {
            let verb = method.as_str().to_string();
            let res = resource(&server, &method, r, &query, &headers, &accept, body).await;
            server.metrics.observe(
                &verb,
                res.as_ref()
                    .map(|r| r.status().as_u16())
                    .unwrap_or_else(|e| e.code),
            );
            res
        }
        Route::Unknown => Err(ApiError::no_route()),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// kubectl only takes `/openapi/v2` as protobuf (gnostic `openapi_v2.Document`),
/// and only consults it for kinds the v3 documents lack — which we do not
/// serve. A valid document with no paths or definitions says exactly that, so
/// kubectl skips client-side validation of such a kind and reports the
/// unknown kind itself, as against Kubernetes. Schemas live in v3.
fn openapi_v2_protobuf() -> Response {
    fn field(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
        out.push(tag << 3 | 2);
        out.push(bytes.len() as u8);
        out.extend_from_slice(bytes);
    }
    let mut info = Vec::new();
    field(&mut info, 1, b"Kubernetes");
    field(&mut info, 2, b"v1.32.0");
    let mut doc = Vec::new();
    field(&mut doc, 1, b"2.0");
    field(&mut doc, 2, &info);
    let mut resp = (StatusCode::OK, doc).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
    );
    resp
}

fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": concat!("v1.32.0-regatta.", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": "linux/amd64",
    })
}

fn health(server: &ApiServer, which: &str) -> Response {
    let ok = which != "readyz" || server.is_ready();
    let (code, text) = if ok {
        (StatusCode::OK, "ok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "[-]regatta-ready failed: not ready yet\nreadyz check failed",
        )
    };
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

pub fn json_response(code: StatusCode, v: &Value) -> Response {
    let mut resp = (code, serde_json::to_vec(v).unwrap_or_default()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn aggregated(v: Value) -> Response {
    let mut resp = json_response(StatusCode::OK, &v);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(discovery::AGGREGATED_V2),
    );
    resp
}

fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

fn wants_table(accept: &str) -> bool {
    accept
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Decodes a create/update body: JSON (also when no Content-Type is given, as
/// the Python client sends), YAML, or Kubernetes protobuf.
fn decode_body(rt: &ResourceType, headers: &HeaderMap, body: &[u8]) -> ApiResult<Value> {
    let ct = content_type(headers);
    let base = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let v = match base.as_str() {
        "" | "application/json" | "*/*" => serde_json::from_slice::<Value>(body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            serde_yaml::from_slice::<Value>(body)
                .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))?
        }
        "application/vnd.kubernetes.protobuf" => super::protobuf::decode(rt, body)?,
        _ => return Err(ApiError::unsupported_media_type(&ct)),
    };
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "couldn't get version/kind; json parse error: the body is not a JSON object",
        ));
    }
    Ok(v)
}

fn write_opts(query: &HashMap<String, String>) -> ApiResult<WriteOpts> {
    let dry_run = match query.get("dryRun").map(String::as_str) {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid dryRun value {other:?}: only \"All\" is supported"
            )));
        }
    };
    Ok(WriteOpts {
        dry_run,
        field_validation: FieldValidation::parse(query.get("fieldValidation").map(String::as_str))?,
    })
}

fn list_opts(query: &HashMap<String, String>) -> ApiResult<ListOpts> {
    let label_selector =
        LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let field_selector =
        FieldSelector::parse(query.get("fieldSelector").map(String::as_str).unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let limit = match query.get("limit").map(String::as_str) {
        None | Some("") | Some("0") => None,
        Some(s) => Some(
            s.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit {s:?}")))?,
        ),
    };
    Ok(ListOpts {
        label_selector,
        field_selector,
        limit,
        continue_token: query.get("continue").filter(|s| !s.is_empty()).cloned(),
    })
}

fn is_true(query: &HashMap<String, String>, k: &str) -> bool {
    matches!(query.get(k).map(String::as_str), Some("true" | "1"))
}

async fn resource(
    server: &Arc<ApiServer>,
    method: &Method,
    r: ResourceRef,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    accept: &str,
    body: Bytes,
) -> ApiResult<Response> {
    let rest = &server.rest;
    let rt = r.rt;
    let ns = r.namespace.as_deref();
    let table = wants_table(accept);
    let include_object = query
        .get("includeObject")
        .map(String::as_str)
        .unwrap_or("Metadata");
    let single = |obj: &Value| -> Value {
        if table {
            let rv = objects::resource_version(obj).unwrap_or("").to_string();
            regatta_api::table::to_table(
                rt,
                std::slice::from_ref(obj),
                include_object,
                &rv,
                chrono::Utc::now(),
            )
        } else {
            obj.clone()
        }
    };
    let written = |code: StatusCode, w: Written| {
        with_warnings(json_response(code, &single(&w.object)), &w.warnings)
    };
    match (method, r.name.as_deref(), r.subresource.as_deref()) {
        (&Method::GET, None, None) => {
            if is_true(query, "watch") {
                return watch_response(
                    server,
                    rt,
                    r.namespace.clone(),
                    query,
                    table,
                    include_object,
                )
                .await;
            }
            let opts = list_opts(query)?;
            let out = rest.list(rt, ns, &opts).await?;
            let rv = out.resource_version.to_string();
            let body = if table {
                let mut t = regatta_api::table::to_table(
                    rt,
                    &out.items,
                    include_object,
                    &rv,
                    chrono::Utc::now(),
                );
                if let Some(c) = &out.continue_token {
                    t["metadata"]["continue"] = json!(c);
                }
                t
            } else {
                let mut meta = json!({"resourceVersion": rv});
                if let Some(c) = &out.continue_token {
                    meta["continue"] = json!(c);
                }
                json!({
                    "kind": format!("{}List", rt.kind),
                    "apiVersion": rt.api_version(),
                    "metadata": meta,
                    "items": out.items,
                })
            };
            Ok(json_response(StatusCode::OK, &body))
        }
        (&Method::POST, None, None) => {
            let obj = decode_body(rt, headers, &body)?;
            let w = rest.create(rt, ns, obj, &write_opts(query)?).await?;
            Ok(written(StatusCode::CREATED, w))
        }
        (&Method::DELETE, None, None) => {
            let opts = DeleteOpts::parse(&body, query)?;
            let lopts = list_opts(query)?;
            let out = rest.list(rt, ns, &lopts).await?;
            let mut deleted = Vec::new();
            for o in out.items {
                let name = objects::name(&o).unwrap_or("").to_string();
                let ons = objects::str_field(&o, "namespace").map(str::to_string);
                match rest.delete(rt, ons.as_deref(), &name, &opts).await {
                    Ok(Deleted::Now(o) | Deleted::Pending(o)) => deleted.push(o),
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(json_response(
                StatusCode::OK,
                &json!({
                    "kind": format!("{}List", rt.kind),
                    "apiVersion": rt.api_version(),
                    "metadata": {"resourceVersion": server.rest.store.revision().to_string()},
                    "items": deleted,
                }),
            ))
        }
        (&Method::GET, Some(name), None) => {
            let obj = rest.get(rt, ns, name).await?;
            Ok(json_response(StatusCode::OK, &single(&obj)))
        }
        (&Method::GET, Some(name), Some("status")) => {
            let obj = rest.get(rt, ns, name).await?;
            Ok(json_response(StatusCode::OK, &obj))
        }
        (&Method::GET, Some(name), Some("scale")) => {
            let obj = rest.get(rt, ns, name).await?;
            Ok(json_response(StatusCode::OK, &objects::scale_of(&obj)))
        }
        (&Method::PUT, Some(name), sub @ (None | Some("status" | "scale" | "finalize"))) => {
            let obj = decode_body(rt, headers, &body)?;
            let sub = match sub {
                Some("finalize") => None,
                s => s,
            };
            let w = rest
                .update(rt, ns, name, sub, obj, &write_opts(query)?)
                .await?;
            Ok(written(StatusCode::OK, w))
        }
        (&Method::PATCH, Some(name), sub @ (None | Some("status" | "scale"))) => {
            let ct = content_type(headers);
            let Some(pt) = PatchType::from_content_type(&ct) else {
                return Err(ApiError::unsupported_media_type(&ct));
            };
            let w = rest
                .patch(rt, ns, name, sub, pt, &body, &write_opts(query)?)
                .await?;
            Ok(written(StatusCode::OK, w))
        }
        (&Method::DELETE, Some(name), None) => {
            let opts = DeleteOpts::parse(&body, query)?;
            match rest.delete(rt, ns, name, &opts).await? {
                Deleted::Now(o) => Ok(json_response(StatusCode::OK, &o)),
                Deleted::Pending(o) => Ok(json_response(StatusCode::ACCEPTED, &o)),
            }
        }
        (&Method::POST, Some(name), Some("binding")) => {
            let b = decode_body(rt, headers, &body)?;
            let Some(node) = b["target"]["name"].as_str().map(str::to_string) else {
                return Err(ApiError::bad_request("binding target name is required"));
            };
            let opts = write_opts(query)?;
            rest.update_with(rt, ns, name, None, &opts, true, |cur| {
                if cur["spec"]["nodeName"]
                    .as_str()
                    .is_some_and(|n| !n.is_empty())
                {
                    return Err(ApiError::conflict_msg(
                        rt,
                        name,
                        &format!(
                            "pod {name} is already assigned to node {:?}",
                            cur["spec"]["nodeName"].as_str().unwrap_or("")
                        ),
                    ));
                }
                let mut out = cur.clone();
                out["spec"]["nodeName"] = json!(node);
                Ok(out)
            })
            .await?;
            Ok(json_response(
                StatusCode::CREATED,
                &success_status(json!({})),
            ))
        }
        (&Method::GET, Some(name), Some("log")) => {
            super::podstreams::logs(server, ns.unwrap_or_default(), name, query).await
        }
        // Upgrades are served before the body is read (see `podstreams`).
        (&Method::GET | &Method::POST, Some(_), Some("exec")) => {
            Err(ApiError::bad_request("Upgrade request required"))
        }
        (_, Some(_), Some(_)) | (_, Some(_), None) | (_, None, _) => {
            Err(ApiError::method_not_allowed())
        }
    }
}

async fn watch_response(
    server: &Arc<ApiServer>,
    rt: &'static ResourceType,
    ns: Option<String>,
    query: &HashMap<String, String>,
    table: bool,
    include_object: &str,
) -> ApiResult<Response> {
    let params = WatchParams {
        resource_version: query.get("resourceVersion").cloned(),
        timeout: watch::timeout_from(query),
        bookmarks: is_true(query, "allowWatchBookmarks"),
        send_initial_events: is_true(query, "sendInitialEvents"),
        list: list_opts(query)?,
        bookmark_interval: Duration::from_secs(30),
    };
    let events = watch::watch(&server.rest, rt, ns, params).await?;
    let include_object = include_object.to_string();
    let mut first = true;
    let lines = events
        .map(move |ev| {
            let object = if table && ev.kind != "ERROR" && ev.kind != "BOOKMARK" {
                let rv = objects::resource_version(&ev.object)
                    .unwrap_or("")
                    .to_string();
                let mut t = regatta_api::table::to_table(
                    rt,
                    std::slice::from_ref(&ev.object),
                    &include_object,
                    &rv,
                    chrono::Utc::now(),
                );
                // As upstream: column definitions only on the first event.
                if !first && let Some(o) = t.as_object_mut() {
                    o.insert("columnDefinitions".into(), json!([]));
                }
                first = false;
                t
            } else {
                ev.object
            };
            let mut line =
                serde_json::to_vec(&json!({"type": ev.kind, "object": object})).unwrap_or_default();
            line.push(b'\n');
            Ok::<_, std::convert::Infallible>(Bytes::from(line))
        })
        .take_until(server.shutdown.clone().cancelled_owned());
    let mut resp = Response::new(Body::from_stream(lines));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}
