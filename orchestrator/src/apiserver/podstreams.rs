//! `GET …/pods/{name}/log` and `GET|POST …/pods/{name}/exec` (WebSocket,
//! subprotocols `v5.channel.k8s.io` and `v4.channel.k8s.io`), served through
//! the pod's node over the node link.
//!
//! Owns: the `PodLogOptions`/`PodExecOptions` query rules, container
//! resolution (kube-apiserver's wording), and the channel framing of the
//! Kubernetes remotecommand WebSocket protocol: every binary message starts
//! with a channel byte — 0 stdin, 1 stdout, 2 stderr, 3 error (a `Status`,
//! written once at the end), 4 resize — and in v5 a message `[255, ch]` closes
//! channel `ch` (the client's stdin EOF).
//!
//! Errors found before the upgrade (bad options, unknown container, pod not
//! scheduled, node not connected, the node's refusal) are plain HTTP
//! `Status` answers, as kube-apiserver gives them.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http::{HeaderValue, Request, header};
use regatta_api::node_protocol::PodRef;
use regatta_api::stream_protocol::{
    EXEC_HEADER, ExecExit, ExecFrame, ExecRequest, LogsRequest, StreamRequest,
};
use serde_json::{Value, json};

use super::route::{self, Route};
use super::status::{ApiError, ApiResult};
use super::{ApiServer, Identity};
use crate::nodelink::streams::{NodeStream, OpenError};

/// Channel bytes of the remotecommand protocol.
const CH_STDIN: u8 = 0;
const CH_STDOUT: u8 = 1;
const CH_STDERR: u8 = 2;
const CH_ERROR: u8 = 3;
const CH_RESIZE: u8 = 4;
/// v5: `[255, ch]` closes channel `ch`.
const CH_CLOSE: u8 = 255;

const V5: &str = "v5.channel.k8s.io";
const V4: &str = "v4.channel.k8s.io";

fn pods_rt() -> &'static regatta_api::registry::ResourceType {
    regatta_api::registry::by_plural("", "v1", "pods").expect("pods registered")
}

fn invalid(kind: &str, name: &str, errs: &[String]) -> ApiError {
    ApiError::new(
        422,
        "Invalid",
        format!("{kind} {name:?} is invalid: {}", errs.join(", ")),
    )
}

/// The pod's node and uid, and the container a request names (or the only one).
async fn resolve(
    server: &ApiServer,
    ns: &str,
    name: &str,
    container: Option<&str>,
) -> ApiResult<(String, PodRef, String, Value)> {
    let pod = server.rest.get(pods_rt(), Some(ns), name).await?;
    let names = |key: &str| -> Vec<String> {
        pod["spec"][key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (containers, inits) = (names("containers"), names("initContainers"));
    let container = match container.filter(|c| !c.is_empty()) {
        Some(c) if containers.iter().chain(&inits).any(|n| n == c) => c.to_string(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        None if containers.len() == 1 => containers[0].clone(),
        None if containers.is_empty() => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}"
            )));
        }
        None => {
            let mut m = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !inits.is_empty() {
                m.push_str(&format!(
                    " or one of the init containers: [{}]",
                    inits.join(" ")
                ));
            }
            return Err(ApiError::bad_request(m));
        }
    };
    let node = pod["spec"]["nodeName"].as_str().unwrap_or("").to_string();
    if node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let pod_ref = PodRef {
        namespace: ns.to_string(),
        name: name.to_string(),
        uid: pod["metadata"]["uid"].as_str().unwrap_or("").to_string(),
    };
    Ok((node, pod_ref, container, pod))
}

fn open_error(e: OpenError, name: &str) -> ApiError {
    match e {
        OpenError::NotConnected(node) => ApiError::new(
            503,
            "ServiceUnavailable",
            format!("node {node:?} of pod {name} is not connected to the control plane"),
        ),
        OpenError::Refused(f) => {
            let reason = match f.code {
                400 => "BadRequest",
                403 => "Forbidden",
                404 => "NotFound",
                503 => "ServiceUnavailable",
                _ => "InternalError",
            };
            ApiError::new(f.code, reason, f.message)
        }
        OpenError::Link { .. } => ApiError::internal(e.to_string()),
    }
}

fn int_param(q: &HashMap<String, String>, key: &str) -> ApiResult<Option<i64>> {
    match q.get(key).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(s) => s.parse::<i64>().map(Some).map_err(|_| {
            ApiError::bad_request(format!("{key}: invalid value {s:?}: must be an integer"))
        }),
    }
}

fn bool_param(q: &HashMap<String, String>, key: &str) -> ApiResult<bool> {
    match q.get(key).map(String::as_str) {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(s) => Err(ApiError::bad_request(format!(
            "{key}: invalid value {s:?}: must be true or false"
        ))),
    }
}

/// `GET /api/v1/namespaces/{ns}/pods/{name}/log`.
pub async fn logs(
    server: &Arc<ApiServer>,
    ns: &str,
    name: &str,
    q: &HashMap<String, String>,
) -> ApiResult<Response> {
    let mut errs = Vec::new();
    let tail = int_param(q, "tailLines")?;
    let since_seconds = int_param(q, "sinceSeconds")?;
    let limit = int_param(q, "limitBytes")?;
    let since_time = match q.get("sinceTime").map(String::as_str) {
        None | Some("") => None,
        Some(s) => Some(
            chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|e| ApiError::bad_request(format!("sinceTime: invalid value {s:?}: {e}")))?
                .with_timezone(&chrono::Utc),
        ),
    };
    if let Some(t) = tail.filter(|t| *t < 0) {
        errs.push(format!(
            "tailLines: Invalid value: {t}: must be greater than or equal to 0"
        ));
    }
    if let Some(s) = since_seconds.filter(|s| *s < 1) {
        errs.push(format!(
            "sinceSeconds: Invalid value: {s}: must be greater than 0"
        ));
    }
    if let Some(l) = limit.filter(|l| *l < 1) {
        errs.push(format!(
            "limitBytes: Invalid value: {l}: must be greater than 0"
        ));
    }
    if since_seconds.is_some() && since_time.is_some() {
        errs.push("sinceSeconds: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified".into());
    }
    if !errs.is_empty() {
        return Err(invalid("PodLogOptions", name, &errs));
    }
    let follow = bool_param(q, "follow")?;
    let previous = bool_param(q, "previous")?;
    let timestamps = bool_param(q, "timestamps")?;
    let (node, pod, container, _) =
        resolve(server, ns, name, q.get("container").map(String::as_str)).await?;
    let since_time = since_time
        .or_else(|| since_seconds.map(|s| chrono::Utc::now() - chrono::Duration::seconds(s)));
    let req = StreamRequest::Logs(LogsRequest {
        pod,
        container,
        follow,
        previous,
        timestamps,
        tail_lines: tail.map(|t| t as u64),
        since_time,
        limit_bytes: limit.map(|l| l as u64),
    });
    let NodeStream { send, recv } = server
        .node_streams
        .open(&node, &req)
        .await
        .map_err(|e| open_error(e, name))?;
    let chunks = futures::stream::unfold((recv, send), |(mut recv, send)| async move {
        match recv.read_chunk(64 * 1024, true).await {
            Ok(Some(c)) => Some((Ok::<Bytes, std::io::Error>(c.bytes), (recv, send))),
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(error = %e, "log stream from the node ended");
                None
            }
        }
    })
    .take_until(server.shutdown.clone().cancelled_owned());
    let mut resp = Response::new(Body::from_stream(chunks));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}

/// Whether `req` is for `pods/exec`, served by [`exec`] before its body is
/// read (an upgrade has none).
pub fn is_exec<B>(req: &Request<B>) -> bool {
    matches!(
        route::parse(req.uri().path()),
        Route::Resource(r) if r.rt.plural == "pods" && r.subresource.as_deref() == Some("exec")
    )
}

fn is_websocket<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// `pods/exec`: checks what the API server can (options, pod, container,
/// node connected) and answers a failure as a plain HTTP `Status` — so a
/// client's SPDY fallback gets the same error as its WebSocket attempt.
/// Then upgrades (WebSocket only), asks the node to start the command and
/// bridges channels; the node's refusal comes on the error channel, as a
/// kubelet's does.
pub async fn exec<B>(
    server: Arc<ApiServer>,
    identity: Option<Identity>,
    req: Request<B>,
) -> Response {
    match exec_inner(server, identity, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

struct ExecOpts {
    stdin: bool,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

async fn exec_inner<B>(
    server: Arc<ApiServer>,
    identity: Option<Identity>,
    req: Request<B>,
) -> ApiResult<Response> {
    if identity.is_none() {
        return Err(ApiError::unauthorized());
    }
    let Route::Resource(r) = route::parse(req.uri().path()) else {
        return Err(ApiError::no_route());
    };
    let (Some(ns), Some(name)) = (r.namespace.clone(), r.name.clone()) else {
        return Err(ApiError::no_route());
    };
    let pairs: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let single: HashMap<String, String> = pairs.iter().cloned().collect();
    let command: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .collect();
    let opts = ExecOpts {
        stdin: bool_param(&single, "stdin")?,
        stdout: bool_param(&single, "stdout")?,
        stderr: bool_param(&single, "stderr")?,
        tty: bool_param(&single, "tty")?,
    };
    let mut errs = Vec::new();
    if command.is_empty() {
        errs.push("command: Required value".to_string());
    }
    if !(opts.stdin || opts.stdout || opts.stderr) {
        errs.push("you must specify at least 1 of stdin, stdout, stderr".into());
    }
    if opts.tty && opts.stderr {
        // kube-apiserver refuses this combination too.
        errs.push("stderr: Forbidden: may not be true if tty is true".into());
    }
    if !errs.is_empty() {
        return Err(invalid("PodExecOptions", &name, &errs));
    }
    let (node, pod, container, obj) = resolve(
        &server,
        &ns,
        &name,
        single.get("container").map(String::as_str),
    )
    .await?;
    if let Some(phase @ ("Succeeded" | "Failed")) = obj["status"]["phase"].as_str() {
        return Err(ApiError::bad_request(format!(
            "cannot exec into a container in a completed pod; current phase is {phase}"
        )));
    }
    if !server.node_streams.is_connected(&node) {
        return Err(open_error(OpenError::NotConnected(node), &name));
    }
    if !is_websocket(&req) {
        return Err(ApiError::bad_request(format!(
            "Upgrade request required: this server streams exec over WebSocket ({V5}, {V4}) only"
        )));
    }
    let (mut parts, _) = req.into_parts();
    let ws = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("Upgrade request required: {e}")))?
        .protocols([V5, V4]);
    let v5 = match ws.selected_protocol().and_then(|p| p.to_str().ok()) {
        Some(V5) => true,
        Some(_) => false,
        None => {
            return Err(ApiError::bad_request(format!(
                "unsupported WebSocket subprotocol: the server speaks {V5} and {V4}"
            )));
        }
    };
    let exec_req = StreamRequest::Exec(ExecRequest {
        pod,
        container,
        command,
        stdin: opts.stdin,
        tty: opts.tty,
    });
    let shutdown = server.shutdown.clone();
    Ok(ws
        .max_message_size(16 << 20)
        .on_upgrade(move |mut socket| async move {
            let stream = match server.node_streams.open(&node, &exec_req).await {
                Ok(s) => s,
                Err(e) => {
                    let status = open_error(e, &name).status();
                    let _ = socket.send(error_message(&status)).await;
                    let _ = socket.send(normal_close()).await;
                    return;
                }
            };
            tokio::select! {
                _ = bridge(socket, stream, opts, v5) => {}
                _ = shutdown.cancelled() => {}
            }
        }))
}

/// The final `Status` on the error channel.
fn error_message(status: &Value) -> Message {
    channel_message(CH_ERROR, &serde_json::to_vec(status).unwrap_or_default())
}

/// A normal closure: client-go reads it as the end of every channel (a
/// close without a code is an error to it).
fn normal_close() -> Message {
    Message::Close(Some(axum::extract::ws::CloseFrame {
        code: axum::extract::ws::close_code::NORMAL,
        reason: "".into(),
    }))
}

/// kubelet's final `Status` on the error channel for an exec's outcome.
pub fn exit_status(exit: &ExecExit) -> Value {
    match exit {
        ExecExit::Code(0) => json!({"metadata": {}, "status": "Success"}),
        ExecExit::Code(code) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: exit status {code}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
        ExecExit::Error(m) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("error executing command in container: {m}"),
            "reason": "InternalError",
            "code": 500,
        }),
    }
}

/// A message on `channel`.
fn channel_message(channel: u8, data: &[u8]) -> Message {
    let mut m = Vec::with_capacity(data.len() + 1);
    m.push(channel);
    m.extend_from_slice(data);
    Message::Binary(m.into())
}

/// What a client message means for the exec.
#[derive(Debug, PartialEq, Eq)]
enum ClientInput {
    Stdin(Vec<u8>),
    StdinClosed,
    Ignore,
    Gone,
}

fn client_input(m: &Message, v5: bool) -> ClientInput {
    match m {
        Message::Binary(b) => match b.first() {
            Some(&CH_STDIN) => ClientInput::Stdin(b[1..].to_vec()),
            Some(&CH_CLOSE) if v5 && b.get(1) == Some(&CH_STDIN) => ClientInput::StdinClosed,
            Some(&CH_RESIZE) | Some(_) | None => ClientInput::Ignore,
        },
        Message::Close(_) => ClientInput::Gone,
        _ => ClientInput::Ignore,
    }
}

async fn bridge(socket: WebSocket, stream: NodeStream, opts: ExecOpts, v5: bool) {
    let NodeStream { mut send, mut recv } = stream;
    let (mut ws_tx, mut ws_rx) = socket.split();
    // Client → node: stdin until closed; a client that leaves ends the run.
    let input = async {
        let mut stdin_open = opts.stdin;
        while let Some(m) = ws_rx.next().await {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!(error = %e, "exec: the client's socket failed");
                    return;
                }
            };
            match client_input(&m, v5) {
                // A node that stopped reading is done with stdin (the run is
                // ending): drop further input, but the client is still there.
                ClientInput::Stdin(data) if stdin_open && !data.is_empty() => {
                    for chunk in data.chunks(regatta_api::stream_protocol::MAX_DATA_FRAME) {
                        if send
                            .write_all(&ExecFrame::Stdin(chunk.to_vec()).encode())
                            .await
                            .is_err()
                        {
                            stdin_open = false;
                            break;
                        }
                    }
                }
                ClientInput::StdinClosed if stdin_open => {
                    stdin_open = false;
                    let _ = send.write_all(&ExecFrame::StdinClosed.encode()).await;
                }
                ClientInput::Gone => {
                    tracing::debug!("exec: the client closed the socket");
                    return;
                }
                _ => {}
            }
        }
        tracing::debug!("exec: the client's socket ended");
    };
    // Node → client: output, then the exit status on the error channel.
    let output = async {
        let exit = loop {
            let mut h = [0u8; EXEC_HEADER];
            if recv.read_exact(&mut h).await.is_err() {
                break ExecExit::Error("the node ended the exec without an exit status".into());
            }
            let frame = match ExecFrame::header(h) {
                Ok((tag, len)) => {
                    let mut payload = vec![0u8; len];
                    if recv.read_exact(&mut payload).await.is_err() {
                        break ExecExit::Error("the node's exec stream was cut".into());
                    }
                    ExecFrame::from_parts(tag, payload)
                }
                Err(e) => Err(e),
            };
            let msg = match frame {
                Ok(ExecFrame::Stdout(d)) if opts.stdout => channel_message(CH_STDOUT, &d),
                Ok(ExecFrame::Stderr(d)) if opts.stderr => channel_message(CH_STDERR, &d),
                Ok(ExecFrame::Stderr(d)) if opts.tty && opts.stdout => {
                    channel_message(CH_STDOUT, &d)
                }
                Ok(ExecFrame::Exit(e)) => break e,
                Ok(_) => continue,
                Err(e) => break ExecExit::Error(format!("bad frame from the node: {e}")),
            };
            if let Err(e) = ws_tx.send(msg).await {
                tracing::debug!(error = %e, "exec: writing to the client failed");
                return false;
            }
        };
        let _ = ws_tx.send(error_message(&exit_status(&exit))).await;
        let _ = ws_tx.send(normal_close()).await;
        true
    };
    let finished = {
        tokio::pin!(input);
        tokio::pin!(output);
        tokio::select! {
            // A finished run wins over a client leaving at the same moment.
            biased;
            ok = &mut output => ok,
            () = &mut input => {
                // The client left (or its socket failed): stop the run.
                false
            }
        }
    };
    tracing::debug!(finished, "exec: bridge ended");
    if !finished {
        let _ = send.reset(0u8.into());
        let _ = recv.stop(0u8.into());
        return;
    }
    // The closing handshake: wait (briefly) for the client's Close.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Some(Ok(m)) = ws_rx.next().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_are_kubelets() {
        assert_eq!(
            exit_status(&ExecExit::Code(0)),
            json!({"metadata": {}, "status": "Success"})
        );
        let s = exit_status(&ExecExit::Code(3));
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert_eq!(
            s["details"]["causes"],
            json!([{"reason": "ExitCode", "message": "3"}])
        );
        assert_eq!(exit_status(&ExecExit::Error("x".into()))["code"], 500);
    }

    #[test]
    fn channel_framing() {
        assert_eq!(
            channel_message(CH_STDOUT, b"hi"),
            Message::Binary(vec![1, b'h', b'i'].into())
        );
        let bin = |v: &[u8]| Message::Binary(v.to_vec().into());
        assert_eq!(
            client_input(&bin(&[0, b'x']), true),
            ClientInput::Stdin(b"x".to_vec())
        );
        assert_eq!(
            client_input(&bin(&[255, 0]), true),
            ClientInput::StdinClosed
        );
        // v4 has no close channel.
        assert_eq!(client_input(&bin(&[255, 0]), false), ClientInput::Ignore);
        assert_eq!(
            client_input(&bin(&[4, b'{', b'}']), true),
            ClientInput::Ignore
        );
        assert_eq!(client_input(&bin(&[]), true), ClientInput::Ignore);
        assert_eq!(client_input(&Message::Close(None), true), ClientInput::Gone);
    }
}
