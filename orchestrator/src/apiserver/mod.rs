//! The kubectl-compatible API server: TLS with client-certificate
//! authentication, discovery, OpenAPI, generic REST over the store, watch,
//! Table output, `/healthz` `/readyz` `/metrics`.
//!
//! Owns the HTTP surface. May call the store only through [`rest::Rest`]; knows
//! nothing of redb. Bodies are size-limited before they are read.

pub mod bootstrap;
pub mod discovery;
pub mod handlers;
pub mod objects;
pub mod podstreams;
pub mod protobuf;
pub mod rest;
pub mod route;
pub mod status;
pub mod watch;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::store::Store;
use rest::{ClusterInfo, Rest};
use status::ApiError;

/// Who made a request, from the client certificate (CN = user, O = groups).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    verb: String,
    code: String,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "apiserver_request",
            "Resource requests by HTTP verb and response code",
            requests.clone(),
        );
        Metrics { registry, requests }
    }

    pub fn observe(&self, verb: &str, code: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                verb: verb.to_string(),
                code: code.to_string(),
            })
            .inc();
    }

    pub fn render_response(&self) -> Response {
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response()
    }
}

pub struct ApiServer {
    pub rest: Rest,
    pub metrics: Metrics,
    pub shutdown: CancellationToken,
    /// Live node connections, for `pods/log` and `pods/exec`.
    pub node_streams: Arc<crate::nodelink::streams::NodeConnections>,
    ready: AtomicBool,
}

impl ApiServer {
    pub fn new(
        store: Arc<dyn Store>,
        cluster: ClusterInfo,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(ApiServer {
            rest: Rest::new(store, cluster),
            metrics: Metrics::new(),
            shutdown,
            node_streams: Default::default(),
            ready: AtomicBool::new(false),
        })
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}

fn identity_of(conn: &rustls::ServerConnection) -> Option<Identity> {
    let (user, groups) = crate::pki::subject_of(conn.peer_certificates()?.first()?.as_ref())?;
    Some(Identity { user, groups })
}

/// Serves HTTPS on `listener` until `server.shutdown` fires.
pub async fn serve(
    server: Arc<ApiServer>,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
) -> Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let tracker = TaskTracker::new();
    let shutdown = server.shutdown.clone();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let server = server.clone();
        tracker.spawn(async move {
            if let Err(e) = serve_connection(server, acceptor, tcp, peer).await {
                tracing::debug!(%peer, error = %e, "connection ended with error");
            }
        });
    }
    tracker.close();
    // Streams (watches) end on the same token; give in-flight requests a moment.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), tracker.wait()).await;
    Ok(())
}

async fn serve_connection(
    server: Arc<ApiServer>,
    acceptor: tokio_rustls::TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
) -> Result<()> {
    let tls =
        tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp)).await??;
    let identity = identity_of(tls.get_ref().1);
    tracing::trace!(%peer, user = ?identity.as_ref().map(|i| &i.user), "connection");
    let shutdown = server.shutdown.clone();
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let server = server.clone();
        let identity = identity.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(server, identity, req).await) }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), svc);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => r.map_err(|e| anyhow::anyhow!(e))?,
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), conn).await;
        }
    }
    Ok(())
}

async fn handle(
    server: Arc<ApiServer>,
    identity: Option<Identity>,
    req: Request<Incoming>,
) -> Response {
    if podstreams::is_exec(&req) {
        return podstreams::exec(server, identity, req).await;
    }
    let (parts, body) = req.into_parts();
    let body: Bytes = match Limited::new(body, handlers::MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return ApiError::too_large().into_response();
        }
        Err(e) => {
            return ApiError::bad_request(format!("reading request body: {e}")).into_response();
        }
    };
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let path = percent_encoding::percent_decode_str(parts.uri.path())
        .decode_utf8_lossy()
        .into_owned();
    let method = parts.method.clone();
    let started = std::time::Instant::now();
    let resp = handlers::dispatch(
        server,
        identity,
        parts.method,
        path.clone(),
        query,
        parts.headers,
        body,
    )
    .await;
    tracing::debug!(%method, %path, code = resp.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "request");
    resp
}
