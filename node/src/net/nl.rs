//! Thin rtnetlink helpers: look-ups that treat "not there" as `None`, route
//! and address dumps decoded to `ipnet` types, and the messages we build.
//!
//! Owns nothing; every function acts on the namespace of the `Handle` it is
//! given and changes only the object it names.

use std::net::{IpAddr, Ipv4Addr};

use futures::TryStreamExt;
use ipnet::Ipv4Net;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::packet_route::link::{InfoKind, LinkAttribute, LinkInfo, LinkMessage};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteType,
};
use rtnetlink::{Handle, LinkUnspec, RouteMessageBuilder};

use super::NetError;

/// The errno of a netlink NACK (`Some(libc::EEXIST)`…), if `e` is one.
pub(crate) fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| c.get().abs()),
        _ => None,
    }
}

pub(crate) fn nl_err(context: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetError {
    let context = context.into();
    move |source| NetError::Netlink { context, source }
}

/// The link called `name`, if any.
pub(crate) async fn link_by_name(h: &Handle, name: &str) -> Result<Option<LinkMessage>, NetError> {
    match h
        .link()
        .get()
        .match_name(name.to_owned())
        .execute()
        .try_next()
        .await
    {
        Ok(link) => Ok(link),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(nl_err(format!("looking up link {name}"))(e)),
    }
}

/// Every link of the namespace.
pub(crate) async fn links(h: &Handle) -> Result<Vec<LinkMessage>, NetError> {
    h.link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(nl_err("listing links"))
}

pub(crate) fn link_kind(link: &LinkMessage) -> Option<&InfoKind> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().find_map(|i| match i {
            LinkInfo::Kind(k) => Some(k),
            _ => None,
        }),
        _ => None,
    })
}

pub(crate) fn link_controller(link: &LinkMessage) -> Option<u32> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::Controller(i) => Some(*i),
        _ => None,
    })
}

/// Deletes the link with `index`; already gone is fine.
pub(crate) async fn del_link(h: &Handle, index: u32, what: &str) -> Result<(), NetError> {
    match h.link().del(index).execute().await {
        Err(e) if errno(&e) != Some(libc::ENODEV) => {
            Err(nl_err(format!("deleting link {what}"))(e))
        }
        _ => Ok(()),
    }
}

/// Deletes the link called `name`, if there is one.
pub(crate) async fn del_link_by_name(h: &Handle, name: &str) -> Result<(), NetError> {
    if let Some(link) = link_by_name(h, name).await? {
        del_link(h, link.header.index, name).await?;
    }
    Ok(())
}

pub(crate) async fn set_up(h: &Handle, index: u32, what: &str) -> Result<(), NetError> {
    h.link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(nl_err(format!("setting {what} up")))
}

/// An IPv4 address on a link, as seen in a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LinkAddr {
    pub index: u32,
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
}

impl LinkAddr {
    pub(crate) fn net(&self) -> Ipv4Net {
        Ipv4Net::new(self.addr, self.prefix_len)
            .expect("kernel prefix length ≤ 32")
            .trunc()
    }
}

/// Every IPv4 address of the namespace (optionally of one link).
pub(crate) async fn addrs(h: &Handle, index: Option<u32>) -> Result<Vec<LinkAddr>, NetError> {
    let mut req = h.address().get();
    if let Some(i) = index {
        req = req.set_link_index_filter(i);
    }
    let msgs: Vec<AddressMessage> = req
        .execute()
        .try_collect()
        .await
        .map_err(nl_err("listing addresses"))?;
    Ok(msgs
        .into_iter()
        .filter(|m| m.header.family == AddressFamily::Inet)
        .filter_map(|m| {
            // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the
            // peer's on point-to-point links.
            let local = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(IpAddr::V4(ip)) => Some(*ip),
                _ => None,
            });
            let addr = local.or_else(|| {
                m.attributes.iter().find_map(|a| match a {
                    AddressAttribute::Address(IpAddr::V4(ip)) => Some(*ip),
                    _ => None,
                })
            })?;
            Some(LinkAddr {
                index: m.header.index,
                addr,
                prefix_len: m.header.prefix_len,
            })
        })
        .collect())
}

/// The parts of an IPv4 route we reason about, plus the message itself so
/// that exactly this route can be deleted.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub dst: Ipv4Net,
    pub kind: RouteType,
    pub protocol: u8,
    pub table: u32,
    pub priority: u32,
    pub oif: Option<u32>,
    pub gateway: Option<Ipv4Addr>,
    pub msg: RouteMessage,
}

/// Every IPv4 route in every table of the namespace.
pub(crate) async fn routes(h: &Handle) -> Result<Vec<Route>, NetError> {
    let msgs: Vec<RouteMessage> = h
        .route()
        .get(RouteMessageBuilder::<Ipv4Addr>::new().table_id(0).build())
        .execute()
        .try_collect()
        .await
        .map_err(nl_err("listing routes"))?;
    Ok(msgs.into_iter().filter_map(decode_route).collect())
}

fn decode_route(msg: RouteMessage) -> Option<Route> {
    if msg.header.address_family != AddressFamily::Inet {
        return None;
    }
    let mut dst = Ipv4Addr::UNSPECIFIED;
    let mut table = u32::from(msg.header.table);
    let (mut priority, mut oif, mut gateway) = (0, None, None);
    for a in &msg.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(ip)) => dst = *ip,
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Priority(p) => priority = *p,
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Gateway(RouteAddress::Inet(ip)) => gateway = Some(*ip),
            _ => {}
        }
    }
    Some(Route {
        dst: Ipv4Net::new(dst, msg.header.destination_prefix_length).ok()?,
        kind: msg.header.kind,
        protocol: u8::from(msg.header.protocol),
        table,
        priority,
        oif,
        gateway,
        msg,
    })
}

/// A route in the main table tagged `proto` / `metric` as ours.
pub(crate) fn our_route(
    dst: Ipv4Net,
    kind: RouteType,
    proto: u8,
    metric: u32,
) -> RouteMessageBuilder<Ipv4Addr> {
    RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(dst.network(), dst.prefix_len())
        .kind(kind)
        .protocol(RouteProtocol::from(proto))
        .priority(metric)
}

/// Deletes exactly `route`; already gone is fine.
pub(crate) async fn del_route(h: &Handle, route: &Route) -> Result<(), NetError> {
    match h.route().del(route.msg.clone()).execute().await {
        Err(e) if errno(&e) != Some(libc::ESRCH) => Err(nl_err(format!(
            "deleting route {} ({:?})",
            route.dst, route.kind
        ))(e)),
        _ => Ok(()),
    }
}
