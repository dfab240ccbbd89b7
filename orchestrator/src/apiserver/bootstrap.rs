//! What every cluster has from its first start: the namespaces `default`,
//! `kube-system`, `kube-public`, `kube-node-lease`, and the `kubernetes`
//! Service (first address of the Service CIDR) with its Endpoints.
//!
//! Idempotent: run at every start, it creates only what is missing and points
//! the `kubernetes` Endpoints at the current API address.

use std::net::SocketAddr;

use regatta_api::registry;
use serde_json::json;

use super::rest::{Rest, WriteOpts};
use super::status::ApiResult;

pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

pub async fn ensure(rest: &Rest, api_addr: SocketAddr) -> ApiResult<()> {
    let opts = WriteOpts::default();
    let ns_rt = registry::by_kind("v1", "Namespace").expect("registered");
    for ns in SYSTEM_NAMESPACES {
        create_if_missing(rest, ns_rt, None, json!({"metadata": {"name": ns}}), &opts).await?;
    }
    let svc_rt = registry::by_kind("v1", "Service").expect("registered");
    let cluster_ip = std::net::Ipv4Addr::from(u32::from(rest.cluster.service_cidr.network()) + 1);
    create_if_missing(
        rest,
        svc_rt,
        Some("default"),
        json!({
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {
                "clusterIP": cluster_ip.to_string(),
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": api_addr.port()}],
                "sessionAffinity": "None",
                "type": "ClusterIP",
            },
        }),
        &opts,
    )
    .await?;
    let ep_rt = registry::by_kind("v1", "Endpoints").expect("registered");
    let endpoints = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{
            "addresses": [{"ip": api_addr.ip().to_string()}],
            "ports": [{"name": "https", "port": api_addr.port(), "protocol": "TCP"}],
        }],
    });
    if !create_if_missing(rest, ep_rt, Some("default"), endpoints.clone(), &opts).await? {
        let want = endpoints["subsets"].clone();
        rest.update_with(
            ep_rt,
            Some("default"),
            "kubernetes",
            None,
            &opts,
            true,
            |cur| {
                let mut out = cur.clone();
                out["subsets"] = want.clone();
                Ok(out)
            },
        )
        .await?;
    }
    Ok(())
}

/// Creates `obj` unless it exists; true when it was created.
async fn create_if_missing(
    rest: &Rest,
    rt: &'static registry::ResourceType,
    ns: Option<&str>,
    obj: serde_json::Value,
    opts: &WriteOpts,
) -> ApiResult<bool> {
    match rest.create(rt, ns, obj, opts).await {
        Ok(_) => Ok(true),
        Err(e) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}
