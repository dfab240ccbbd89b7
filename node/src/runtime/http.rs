//! `wasi:http` proxy containers: the node serves HTTP/1.1 on the container's
//! port inside the pod netns and runs each request in a fresh instance.
//!
//! Owns the listener, one task per connection and one per request (the
//! guest may keep streaming a body after it has sent the response head), on
//! the pod's runtime. Each request gets its own store, so `limits.memory`
//! applies per request and a trap fails only that request (a 500), not the
//! container.
//!
//! Invariant: every connection and request task ends when the container's
//! kill token fires; the container's run ends only by kill (or a listener
//! failure), as a server process's would.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use wasmtime::Store;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::engine::NodeEngine;
use super::image::Artifact;
use super::logs::LogSink;
use super::pod::{memory_limit, wasi_builder};
use super::state::{CommandState, Common, configure_store};
use super::{ContainerSpec, ExitStatus, RuntimeError};

struct Proxy {
    engine: Arc<NodeEngine>,
    pre: ProxyPre<CommandState>,
    spec: ContainerSpec,
    stdout: super::logs::GuestOutput,
    stderr: super::logs::GuestOutput,
    kill: CancellationToken,
}

pub(super) async fn serve(
    engine: &Arc<NodeEngine>,
    spec: &ContainerSpec,
    stdout: &LogSink,
    stderr: &LogSink,
    kill: CancellationToken,
) -> Result<ExitStatus, RuntimeError> {
    let serve_error = |reason: String| RuntimeError::Serve {
        container: spec.name.clone(),
        reason,
    };
    let Artifact::Component(component) = &spec.module.artifact else {
        unreachable!("an HttpProxy is a component");
    };
    let Some(port) = spec.http_port else {
        return Err(serve_error(
            "a wasi:http proxy needs a containerPort to serve on".into(),
        ));
    };
    let pre = engine
        .component_linker()
        .instantiate_pre(component)
        .and_then(ProxyPre::new)
        .map_err(|e| RuntimeError::Instantiate {
            container: spec.name.clone(),
            digest: spec.module.image_id(),
            reason: format!("{e:#}"),
        })?;
    let addr = SocketAddr::new(engine.config().http_bind, port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| serve_error(format!("binding {addr}: {e}")))?;
    let proxy = Arc::new(Proxy {
        engine: engine.clone(),
        pre,
        spec: spec.clone(),
        stdout: stdout.stream(),
        stderr: stderr.stream(),
        kill: kill.clone(),
    });
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            () = kill.cancelled() => return Ok(ExitStatus::Killed),
            accepted = listener.accept() => accepted,
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (socket, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and friends: back off a little instead of spinning.
                tracing::warn!(container = %spec.name, error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let proxy = proxy.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let proxy = proxy.clone();
                async move { Ok::<_, std::convert::Infallible>(proxy.handle(request).await) }
            });
            if let Err(e) = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(socket), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
            }
        });
    }
}

impl Proxy {
    async fn handle(
        self: Arc<Self>,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<HyperOutgoingBody> {
        match self.clone().try_handle(request).await {
            Ok(response) => response,
            Err(message) => {
                tracing::warn!(container = %self.spec.name, error = %message, "wasi:http request failed");
                error_response(500, "the container failed to handle the request\n")
            }
        }
    }

    async fn try_handle(
        self: Arc<Self>,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, String> {
        let mut builder = wasi_builder(&self.spec, self.stdout.clone(), self.stderr.clone())
            .await
            .map_err(|e| e.to_string())?;
        let common = Common::new(
            memory_limit(&self.engine, &self.spec),
            self.spec.cpu_limit_millis,
            self.kill.clone(),
        );
        let mut store = Store::new(
            self.engine.wasmtime(),
            CommandState::new(builder.build(), common),
        );
        configure_store(&mut store);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .map_err(|e| format!("{e:#}"))?;
        let outparam = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(|e| format!("{e:#}"))?;
        let pre = self.pre.clone();
        let kill = self.kill.clone();
        let guest = tokio::spawn(async move {
            let run = async {
                let called = match pre.instantiate_async(&mut store).await {
                    Ok(proxy) => {
                        proxy
                            .wasi_http_incoming_handler()
                            .call_handle(&mut store, incoming, outparam)
                            .await
                    }
                    Err(e) => Err(e),
                };
                called.map_err(|e| {
                    let outcome = store.data().common.outcome_of_error(&e);
                    format!("{outcome:?}")
                })
            };
            tokio::select! {
                () = kill.cancelled() => Ok(()),
                result = run => result,
            }
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(format!("the guest answered with error {code:?}")),
            Err(_) => match guest.await {
                Ok(Ok(())) => Err("the guest never set a response".into()),
                Ok(Err(outcome)) => Err(outcome),
                Err(e) => Err(format!("request task failed: {e}")),
            },
        }
    }
}

fn error_response(status: u16, body: &'static str) -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from_static(body.as_bytes()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response
}
