//! http-proxy: a `wasi:http/proxy` component.
//!
//! The host owns the listening socket and calls `incoming-handler.handle` once
//! per request, each time in a fresh instance:
//!
//! - `/env/<NAME>` → the value of env var `NAME` (404 when it is unset)
//! - anything else → `hello from a wasi:http component` and the request path
//!
//! Env vars come from `wasi:cli/environment`, which the `wasi:http/proxy` world
//! itself does not import; hosts that serve proxies (`wasmtime serve`, the
//! Regatta node) link the WASI command interfaces as well.

use std::io::Write as _;

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Handler;

wasi::http::proxy::export!(Handler);

impl Guest for Handler {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_else(|| "/".to_string());
        let (status, body) = respond(&request.method(), &path);
        let headers = Fields::new();
        // Only fails for forbidden or malformed header names; this one is neither.
        let _ = headers.set("content-type", &[b"text/plain; charset=utf-8".to_vec()]);
        let _ = headers.set("content-length", &[body.len().to_string().into_bytes()]);
        let response = OutgoingResponse::new(headers);
        let _ = response.set_status_code(status);
        let Ok(out_body) = response.body() else {
            return;
        };
        ResponseOutparam::set(response_out, Ok(response));
        let Ok(mut stream) = out_body.write() else {
            return;
        };
        // A client that went away makes these fail; there is no one to tell.
        let _ = stream.write_all(body.as_bytes());
        let _ = stream.flush();
        drop(stream);
        let _ = OutgoingBody::finish(out_body, None);
    }
}

fn respond(method: &Method, path_with_query: &str) -> (u16, String) {
    let path = path_with_query.split('?').next().unwrap_or("/");
    if !matches!(method, Method::Get | Method::Head) {
        return (405, "method not allowed\n".to_string());
    }
    match path.strip_prefix("/env/") {
        Some(name) if !name.is_empty() => match std::env::var(name) {
            Ok(value) => (200, format!("{value}\n")),
            Err(_) => (404, format!("env var {name} is not set\n")),
        },
        _ => (
            200,
            format!("hello from a wasi:http component, path {path_with_query}\n"),
        ),
    }
}
