//! Services, Endpoints, EndpointSlices and Ingresses.
//!
//! Mirrors core validation's `ValidateService`/`ValidateServiceUpdate`, the
//! NodePort allocator's range check (kube's default `30000-32767`),
//! `ValidateEndpoints`, discovery's `ValidateEndpointSlice` and networking's
//! `ValidateIngress`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Endpoints, Service, ServicePort, ServiceSpec};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, IngressBackend};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{Value, json};

use super::meta::{validate_labels, validate_object_meta};
use super::names::{
    INVALID_CIDR, INVALID_IP, NameRule, is_dns1035_label, is_dns1123_label, is_dns1123_subdomain,
    is_qualified_name, is_valid_cidr, is_valid_port_name, is_valid_port_num,
    is_wildcard_dns1123_subdomain, name_errors, parse_ip,
};
use super::pod::{validate_port_num_or_name, validate_protocol};
use super::{Errs, FieldError, FieldPath, golit};

/// kube-apiserver's default `--service-node-port-range`.
pub const NODE_PORT_RANGE: (i32, i32) = (30000, 32767);

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn cluster_ips(spec: &ServiceSpec) -> Vec<String> {
    match &spec.cluster_ips {
        Some(ips) if !ips.is_empty() => ips.clone(),
        _ => spec
            .cluster_ip
            .iter()
            .filter(|ip| !ip.is_empty())
            .cloned()
            .collect(),
    }
}

fn is_headless(spec: &ServiceSpec) -> bool {
    cluster_ips(spec).first().map(String::as_str) == Some("None")
}

fn externally_accessible(spec: &ServiceSpec) -> bool {
    let t = s(&spec.type_);
    t == "LoadBalancer"
        || t == "NodePort"
        || (t == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()))
}

fn needs_health_check(spec: &ServiceSpec) -> bool {
    s(&spec.type_) == "LoadBalancer" && s(&spec.external_traffic_policy) == "Local"
}

fn service_port_literal(protocol: &str, port: i32) -> Value {
    golit::go(format!(
        "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:{}, NodePort:0}}",
        golit::quote(protocol),
        golit::int_or_string(None)
    ))
}

pub(crate) fn validate_service(svc: &Service, old: Option<&Service>) -> Errs {
    let mut errs = validate_object_meta(
        &svc.metadata,
        true,
        NameRule::Dns1035,
        &FieldPath::new("metadata"),
    );
    let default_spec = ServiceSpec::default();
    let spec = svc.spec.as_ref().unwrap_or(&default_spec);
    let p = FieldPath::new("spec");
    if let Some(old) = old {
        errs.extend(validate_service_update(
            spec,
            old.spec.as_ref().unwrap_or(&default_spec),
            &p,
        ));
    }
    let svc_type = s(&spec.type_);
    let ports = spec.ports.as_deref().unwrap_or_default();
    let headless = is_headless(spec);
    if ports.is_empty() && !headless && svc_type != "ExternalName" {
        errs.push(FieldError::required(p.child("ports"), ""));
    }
    let ips = cluster_ips(spec);
    match svc_type {
        "LoadBalancer" | "NodePort" if headless => errs.push(FieldError::invalid(
            p.child("clusterIPs").index(0),
            ips[0].as_str(),
            format!("may not be set to 'None' for {svc_type} services"),
        )),
        "ExternalName" => {
            if !ips.is_empty() {
                errs.push(FieldError::forbidden(
                    p.child("clusterIPs"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_families.as_ref().is_some_and(|f| !f.is_empty()) {
                errs.push(FieldError::forbidden(
                    p.child("ipFamilies"),
                    "may not be set for ExternalName services",
                ));
            }
            if spec.ip_family_policy.is_some() {
                errs.push(FieldError::forbidden(
                    p.child("ipFamilyPolicy"),
                    "may not be set for ExternalName services",
                ));
            }
            let name = s(&spec.external_name);
            let cname = name.strip_suffix('.').unwrap_or(name);
            if cname.is_empty() {
                errs.push(FieldError::required(p.child("externalName"), ""));
            } else {
                for msg in is_dns1123_subdomain(cname) {
                    errs.push(FieldError::invalid(p.child("externalName"), cname, msg));
                }
            }
        }
        _ => {}
    }
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        errs.extend(validate_service_port(
            port,
            ports.len() > 1,
            &mut names,
            &p.child("ports").index(i),
        ));
    }
    if spec.selector.is_some() {
        errs.extend(validate_labels(
            spec.selector.as_ref(),
            &p.child("selector"),
        ));
    }
    match s(&spec.session_affinity) {
        "" => errs.push(FieldError::required(p.child("sessionAffinity"), "")),
        "ClientIP" => errs.extend(validate_client_ip_affinity(
            spec,
            &p.child("sessionAffinityConfig"),
        )),
        "None" => {
            if spec.session_affinity_config.is_some() {
                errs.push(FieldError::forbidden(
                    p.child("sessionAffinityConfig"),
                    "must not be set when session affinity is None",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(
            p.child("sessionAffinity"),
            other,
            &["ClientIP", "None"],
        )),
    }
    if svc_type != "ExternalName" {
        errs.extend(validate_cluster_ips(spec, &ips, &p));
    }
    for (i, ip) in spec.external_ips.iter().flatten().enumerate() {
        if parse_ip(ip).is_none() {
            errs.push(FieldError::invalid(
                p.child("externalIPs").index(i),
                ip.as_str(),
                INVALID_IP,
            ));
        }
    }
    match svc_type {
        "" => errs.push(FieldError::required(p.child("type"), "")),
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName" => {}
        other => errs.push(FieldError::not_supported(
            p.child("type"),
            other,
            &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        )),
    }
    let (lo, hi) = NODE_PORT_RANGE;
    for (i, port) in ports.iter().enumerate() {
        let np = port.node_port.unwrap_or(0);
        if np == 0 {
            continue;
        }
        let pp = p.child("ports").index(i).child("nodePort");
        match svc_type {
            "ClusterIP" => errs.push(FieldError::forbidden(pp, "may not be used when `type` is 'ClusterIP'")),
            "NodePort" | "LoadBalancer" if !(lo..=hi).contains(&np) => errs.push(FieldError::invalid(
                pp,
                np,
                format!("provided port is not in the valid range. The range of valid ports is {lo}-{hi}"),
            )),
            _ => {}
        }
    }
    let mut node_ports = BTreeSet::new();
    let mut port_keys = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let protocol = s(&port.protocol);
        let np = port.node_port.unwrap_or(0);
        if np != 0 && !node_ports.insert((protocol, np)) {
            errs.push(FieldError::duplicate(
                p.child("ports").index(i).child("nodePort"),
                np,
            ));
        }
    }
    for (i, port) in ports.iter().enumerate() {
        let protocol = s(&port.protocol);
        if !port_keys.insert((protocol, port.port)) {
            errs.push(FieldError::duplicate(
                p.child("ports").index(i),
                service_port_literal(protocol, port.port),
            ));
        }
    }
    if let Some(ranges) = spec
        .load_balancer_source_ranges
        .as_ref()
        .filter(|r| !r.is_empty())
    {
        // kube's path really is capitalised here.
        let rp = p.child("LoadBalancerSourceRanges");
        if svc_type != "LoadBalancer" {
            errs.push(FieldError::forbidden(
                &rp,
                "may only be used when `type` is 'LoadBalancer'",
            ));
        }
        for (i, r) in ranges.iter().enumerate() {
            let r = r.trim();
            if !is_valid_cidr(r) {
                errs.push(FieldError::invalid(rp.index(i), r, INVALID_CIDR));
            }
        }
    }
    if spec.allocate_load_balancer_node_ports.is_some() && svc_type != "LoadBalancer" {
        errs.push(FieldError::forbidden(
            p.child("allocateLoadBalancerNodePorts"),
            "may only be used when `type` is 'LoadBalancer'",
        ));
    }
    let etp = s(&spec.external_traffic_policy);
    if !externally_accessible(spec) {
        if !etp.is_empty() {
            errs.push(FieldError::invalid(
                p.child("externalTrafficPolicy"),
                etp,
                "may only be set for externally-accessible services",
            ));
        }
    } else if etp.is_empty() {
        errs.push(FieldError::required(p.child("externalTrafficPolicy"), ""));
    } else if etp != "Cluster" && etp != "Local" {
        errs.push(FieldError::not_supported(
            p.child("externalTrafficPolicy"),
            etp,
            &["Cluster", "Local"],
        ));
    }
    // A zero healthCheckNodePort on LoadBalancer+Local is left to the allocator
    // that fills it in; only misplaced or out-of-range values are errors here.
    let hc = spec.health_check_node_port.unwrap_or(0);
    if !needs_health_check(spec) {
        if hc != 0 {
            errs.push(FieldError::invalid(
                p.child("healthCheckNodePort"),
                hc,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        }
    } else if hc != 0 {
        for msg in is_valid_port_num(i64::from(hc)) {
            errs.push(FieldError::invalid(p.child("healthCheckNodePort"), hc, msg));
        }
    }
    match spec.internal_traffic_policy.as_deref() {
        None if matches!(svc_type, "ClusterIP" | "NodePort" | "LoadBalancer") => {
            errs.push(FieldError::required(p.child("internalTrafficPolicy"), ""))
        }
        Some(itp) if itp != "Cluster" && itp != "Local" => errs.push(FieldError::not_supported(
            p.child("internalTrafficPolicy"),
            itp,
            &["Cluster", "Local"],
        )),
        _ => {}
    }
    if let Some(td) = spec
        .traffic_distribution
        .as_deref()
        .filter(|td| *td != "PreferClose")
    {
        errs.push(FieldError::not_supported(
            p.child("trafficDistribution"),
            td,
            &["PreferClose"],
        ));
    }
    errs
}

fn validate_service_port(
    port: &ServicePort,
    require_name: bool,
    names: &mut BTreeSet<String>,
    path: &FieldPath,
) -> Errs {
    let mut errs = Vec::new();
    let name = s(&port.name);
    if require_name && name.is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    } else if !name.is_empty() {
        for msg in is_dns1123_label(name) {
            errs.push(FieldError::invalid(path.child("name"), name, msg));
        }
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(path.child("name"), name));
        }
    }
    for msg in is_valid_port_num(i64::from(port.port)) {
        errs.push(FieldError::invalid(path.child("port"), port.port, msg));
    }
    errs.extend(validate_protocol(
        s(&port.protocol),
        &path.child("protocol"),
    ));
    let target = port.target_port.clone().unwrap_or(IntOrString::Int(0));
    errs.extend(validate_port_num_or_name(
        &target,
        &path.child("targetPort"),
    ));
    if let Some(ap) = &port.app_protocol {
        for msg in is_qualified_name(ap) {
            errs.push(FieldError::invalid(
                path.child("appProtocol"),
                ap.as_str(),
                msg,
            ));
        }
    }
    errs
}

fn validate_client_ip_affinity(spec: &ServiceSpec, path: &FieldPath) -> Errs {
    const WHEN: &str = "when session affinity type is ClientIP";
    let Some(cfg) = &spec.session_affinity_config else {
        return vec![FieldError::required(path, WHEN)];
    };
    let Some(ip) = &cfg.client_ip else {
        return vec![FieldError::required(path.child("clientIP"), WHEN)];
    };
    let tp = path.child("clientIP").child("timeoutSeconds");
    match ip.timeout_seconds {
        None => vec![FieldError::required(tp, WHEN)],
        Some(t) if t <= 0 || t > 86400 => vec![FieldError::invalid(
            tp,
            t,
            "must be greater than 0 and less than 86400",
        )],
        _ => Vec::new(),
    }
}

fn validate_cluster_ips(spec: &ServiceSpec, ips: &[String], p: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    let ips_path = p.child("clusterIPs");
    let cluster_ip = s(&spec.cluster_ip);
    let listed = spec.cluster_ips.as_deref().unwrap_or_default();
    if !cluster_ip.is_empty() {
        if listed.is_empty() {
            errs.push(FieldError::required(&ips_path, ""));
        } else if listed[0] != cluster_ip {
            errs.push(FieldError::invalid(
                &ips_path,
                json!(listed),
                "first value must match `clusterIP`",
            ));
        }
    }
    if let Some(policy) = spec.ip_family_policy.as_deref()
        && !matches!(
            policy,
            "SingleStack" | "PreferDualStack" | "RequireDualStack"
        )
    {
        errs.push(FieldError::not_supported(
            p.child("ipFamilyPolicy"),
            policy,
            &["PreferDualStack", "RequireDualStack", "SingleStack"],
        ));
    }
    if ips.len() > 2 {
        errs.push(FieldError::invalid(
            &ips_path,
            json!(ips),
            "may only hold up to 2 values",
        ));
    }
    for (i, ip) in ips.iter().enumerate() {
        if ip == "None" {
            if i > 0 || ips.len() > 1 {
                errs.push(FieldError::invalid(
                    ips_path.index(i),
                    ip.as_str(),
                    "must be empty when the first value is 'None'",
                ));
            }
            continue;
        }
        if parse_ip(ip).is_none() {
            errs.push(FieldError::invalid(
                ips_path.index(i),
                ip.as_str(),
                INVALID_IP,
            ));
        }
    }
    let families = spec.ip_families.as_deref().unwrap_or_default();
    let mut seen = BTreeSet::new();
    for (i, f) in families.iter().enumerate() {
        let fp = p.child("ipFamilies").index(i);
        if f != "IPv4" && f != "IPv6" {
            errs.push(FieldError::not_supported(
                &fp,
                f.as_str(),
                &["IPv4", "IPv6"],
            ));
        }
        if !seen.insert(f.as_str()) {
            errs.push(FieldError::duplicate(&fp, f.as_str()));
        }
    }
    if families.len() > 2 {
        errs.push(FieldError::invalid(
            p.child("ipFamilies"),
            json!(families),
            "may only hold up to 2 values",
        ));
    }
    if spec.ip_family_policy.as_deref() == Some("SingleStack") {
        if families.len() > 1 {
            errs.push(FieldError::invalid(
                p.child("ipFamilies"),
                json!(families),
                "may not hold more than 1 value when `ipFamilyPolicy` is SingleStack",
            ));
        }
        if ips.len() > 1 {
            errs.push(FieldError::invalid(
                &ips_path,
                json!(ips),
                "may not hold more than 1 value when `ipFamilyPolicy` is SingleStack",
            ));
        }
    }
    for (i, ip) in ips.iter().enumerate() {
        let (Some(addr), Some(family)) = (parse_ip(ip), families.get(i)) else {
            continue;
        };
        let actual = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
        if actual != family {
            errs.push(FieldError::invalid(
                ips_path.index(i),
                ip.as_str(),
                format!("expected an {family} value as indicated by `ipFamilies[{i}]`"),
            ));
        }
    }
    errs
}

fn go_string_slice_value(type_name: &str, v: &[String]) -> Value {
    let items: Vec<String> = v.iter().map(|s| golit::quote(s)).collect();
    golit::go(format!("[]{type_name}{{{}}}", items.join(", ")))
}

/// Allocated values stay: cluster IPs and IP families may grow or shrink by a
/// secondary but not change, and a health-check port stays put.
///
/// An update that omits them entirely (a `kubectl replace` of the original
/// manifest) is not an error: kube copies allocated values over before
/// validating, which the caller is expected to do as well.
fn validate_service_update(new: &ServiceSpec, old: &ServiceSpec, p: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    let ips_path = p.child("clusterIPs");
    let (new_ips, old_ips) = (cluster_ips(new), cluster_ips(old));
    let external_name = s(&new.type_) == "ExternalName" || s(&old.type_) == "ExternalName";
    let both_headless = is_headless(new) && is_headless(old);
    if !(external_name || both_headless || new_ips.is_empty()) {
        let value = go_string_slice_value("string", &new_ips);
        if new_ips.len() == old_ips.len() {
            for (i, ip) in old_ips.iter().enumerate() {
                if *ip != new_ips[i] {
                    errs.push(FieldError::invalid(
                        ips_path.index(i),
                        value.clone(),
                        "may not change once set",
                    ));
                }
            }
        } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
            errs.push(FieldError::invalid(
                ips_path.index(0),
                value.clone(),
                "may not change once set",
            ));
        } else if new_ips.len() < old_ips.len()
            && new_ips.len() == 1
            && new.ip_family_policy.as_deref() != Some("SingleStack")
        {
            errs.push(FieldError::invalid(
                ips_path.index(0),
                value,
                "`ipFamilyPolicy` must be set to 'SingleStack' when releasing the secondary clusterIP",
            ));
        }
    }
    let new_fam = new.ip_families.as_deref().unwrap_or_default();
    let old_fam = old.ip_families.as_deref().unwrap_or_default();
    if !external_name && !new_fam.is_empty() && !old_fam.is_empty() {
        let value = go_string_slice_value("core.IPFamily", new_fam);
        let changed = if new_fam.len() == old_fam.len() {
            new_fam != old_fam
        } else {
            new_fam[0] != old_fam[0]
        };
        if changed {
            errs.push(FieldError::invalid(
                p.child("ipFamilies").index(0),
                value,
                "may not change once set",
            ));
        }
    }
    if needs_health_check(old) && needs_health_check(new) {
        let (n, o) = (
            new.health_check_node_port.unwrap_or(0),
            old.health_check_node_port.unwrap_or(0),
        );
        if n != 0 && n != o {
            errs.push(FieldError::forbidden(
                p.child("healthCheckNodePort"),
                "field is immutable",
            ));
        }
    }
    errs
}

pub(crate) fn validate_endpoints(ep: &Endpoints, _old: Option<&Endpoints>) -> Errs {
    let mut errs = validate_object_meta(
        &ep.metadata,
        true,
        NameRule::Subdomain,
        &FieldPath::new("metadata"),
    );
    for (i, subset) in ep.subsets.iter().flatten().enumerate() {
        let sp = FieldPath::new("subsets").index(i);
        for (field, addrs) in [
            ("addresses", &subset.addresses),
            ("notReadyAddresses", &subset.not_ready_addresses),
        ] {
            for (j, a) in addrs.iter().flatten().enumerate() {
                let ap = sp.child(field).index(j);
                if parse_ip(&a.ip).is_none() {
                    errs.push(FieldError::invalid(
                        ap.child("ip"),
                        a.ip.as_str(),
                        INVALID_IP,
                    ));
                }
                let host = s(&a.hostname);
                if !host.is_empty() {
                    for msg in is_dns1123_label(host) {
                        errs.push(FieldError::invalid(ap.child("hostname"), host, msg));
                    }
                }
                let node = s(&a.node_name);
                if !node.is_empty() {
                    for msg in name_errors(NameRule::Subdomain, node, false) {
                        errs.push(FieldError::invalid(ap.child("nodeName"), node, msg));
                    }
                }
            }
        }
        let ports = subset.ports.as_deref().unwrap_or_default();
        for (j, port) in ports.iter().enumerate() {
            let pp = sp.child("ports").index(j);
            let name = s(&port.name);
            if ports.len() > 1 && name.is_empty() {
                errs.push(FieldError::required(pp.child("name"), ""));
            } else if !name.is_empty() {
                for msg in is_dns1123_label(name) {
                    errs.push(FieldError::invalid(pp.child("name"), name, msg));
                }
            }
            for msg in is_valid_port_num(i64::from(port.port)) {
                errs.push(FieldError::invalid(pp.child("port"), port.port, msg));
            }
            errs.extend(validate_protocol(s(&port.protocol), &pp.child("protocol")));
        }
    }
    errs
}

const MAX_ENDPOINTS: usize = 1000;
const MAX_ADDRESSES: usize = 100;
const MAX_PORTS: usize = 20000;

pub(crate) fn validate_endpoint_slice(slice: &EndpointSlice, old: Option<&EndpointSlice>) -> Errs {
    let mut errs = validate_object_meta(
        &slice.metadata,
        true,
        NameRule::Subdomain,
        &FieldPath::new("metadata"),
    );
    let at = slice.address_type.as_str();
    let at_path = FieldPath::new("addressType");
    match at {
        "IPv4" | "IPv6" | "FQDN" => {}
        "" => errs.push(FieldError::required(&at_path, "")),
        other => errs.push(FieldError::not_supported(
            &at_path,
            other,
            &["FQDN", "IPv4", "IPv6"],
        )),
    }
    let ep_path = FieldPath::new("endpoints");
    if slice.endpoints.len() > MAX_ENDPOINTS {
        errs.push(FieldError::too_many(
            &ep_path,
            slice.endpoints.len(),
            MAX_ENDPOINTS,
        ));
    } else {
        for (i, ep) in slice.endpoints.iter().enumerate() {
            let p = ep_path.index(i);
            let ap = p.child("addresses");
            if ep.addresses.is_empty() {
                errs.push(FieldError::required(&ap, "must contain at least 1 address"));
            } else if ep.addresses.len() > MAX_ADDRESSES {
                errs.push(FieldError::too_many(&ap, ep.addresses.len(), MAX_ADDRESSES));
            }
            for (j, addr) in ep.addresses.iter().enumerate() {
                let parsed = parse_ip(addr);
                match at {
                    "IPv4" if !parsed.is_some_and(|ip| ip.is_ipv4()) => {
                        errs.push(FieldError::invalid(
                            ap.index(j),
                            addr.as_str(),
                            "must be a valid IPv4 address",
                        ))
                    }
                    "IPv6" if !parsed.is_some_and(|ip| ip.is_ipv6()) => {
                        errs.push(FieldError::invalid(
                            ap.index(j),
                            addr.as_str(),
                            "must be a valid IPv6 address",
                        ))
                    }
                    "FQDN" => {
                        let fqdn = addr.strip_suffix('.').unwrap_or(addr);
                        let msgs = is_dns1123_subdomain(fqdn);
                        if !msgs.is_empty() {
                            errs.push(FieldError::invalid(ap.index(j), fqdn, msgs.join(",")));
                        } else if !fqdn.contains('.') {
                            errs.push(FieldError::invalid(
                                ap.index(j),
                                fqdn,
                                "should be a domain with at least two segments separated by dots",
                            ));
                        }
                    }
                    _ => {}
                }
            }
            if let Some(node) = &ep.node_name {
                for msg in name_errors(NameRule::Subdomain, node, false) {
                    errs.push(FieldError::invalid(p.child("nodeName"), node.as_str(), msg));
                }
            }
            if let Some(h) = &ep.hostname {
                for msg in is_dns1123_label(h) {
                    errs.push(FieldError::invalid(p.child("hostname"), h.as_str(), msg));
                }
            }
            errs.extend(validate_labels(
                ep.deprecated_topology.as_ref(),
                &p.child("deprecatedTopology"),
            ));
        }
    }
    let ports = slice.ports.as_deref().unwrap_or_default();
    let ports_path = FieldPath::new("ports");
    if ports.len() > MAX_PORTS {
        errs.push(FieldError::too_many(&ports_path, ports.len(), MAX_PORTS));
    } else {
        let mut names = BTreeSet::new();
        for (i, port) in ports.iter().enumerate() {
            let p = ports_path.index(i);
            let name = s(&port.name);
            if !name.is_empty() {
                for msg in is_dns1123_label(name) {
                    errs.push(FieldError::invalid(p.child("name"), name, msg));
                }
            }
            if !names.insert(name) {
                errs.push(FieldError::duplicate(p.child("name"), name));
            }
            match port.protocol.as_deref() {
                None => errs.push(FieldError::required(p.child("protocol"), "")),
                Some(proto) => errs.extend(validate_protocol(proto, &p.child("protocol"))),
            }
            if let Some(ap) = &port.app_protocol {
                for msg in is_qualified_name(ap) {
                    errs.push(FieldError::invalid(
                        p.child("appProtocol"),
                        ap.as_str(),
                        msg,
                    ));
                }
            }
        }
    }
    if let Some(old) = old
        && old.address_type != slice.address_type
    {
        errs.push(FieldError::immutable(&at_path, slice.address_type.as_str()));
    }
    errs
}

const INVALID_PATH_SEQUENCES: &[&str] = &["//", "/./", "/../", "%2f", "%2F"];
const INVALID_PATH_SUFFIXES: &[&str] = &["/..", "/."];

pub(crate) fn validate_ingress(ing: &Ingress, _old: Option<&Ingress>) -> Errs {
    let mut errs = validate_object_meta(
        &ing.metadata,
        true,
        NameRule::Subdomain,
        &FieldPath::new("metadata"),
    );
    let p = FieldPath::new("spec");
    let default_spec = Default::default();
    let spec = ing.spec.as_ref().unwrap_or(&default_spec);
    let rules = spec.rules.as_deref().unwrap_or_default();
    if rules.is_empty() && spec.default_backend.is_none() {
        let value = if spec.rules.is_some() {
            "[]networking.IngressRule{}"
        } else {
            "[]networking.IngressRule(nil)"
        };
        errs.push(FieldError::invalid(
            &p,
            golit::go(value),
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = &spec.default_backend {
        errs.extend(validate_ingress_backend(b, &p.child("defaultBackend")));
    }
    for (i, rule) in rules.iter().enumerate() {
        let rp = p.child("rules").index(i);
        let host = s(&rule.host);
        if !host.is_empty() {
            if parse_ip(host).is_some() {
                errs.push(FieldError::invalid(
                    rp.child("host"),
                    host,
                    "must be a DNS name, not an IP address",
                ));
            }
            let msgs = if host.contains('*') {
                is_wildcard_dns1123_subdomain(host)
            } else {
                is_dns1123_subdomain(host)
            };
            for msg in msgs {
                errs.push(FieldError::invalid(rp.child("host"), host, msg));
            }
        }
        if let Some(http) = &rule.http {
            let hp = rp.child("http");
            if http.paths.is_empty() {
                errs.push(FieldError::required(hp.child("paths"), ""));
            }
            for (j, path) in http.paths.iter().enumerate() {
                let pp = hp.child("paths").index(j);
                let value = s(&path.path);
                match path.path_type.as_str() {
                    "" => {
                        errs.push(FieldError::required(
                            pp.child("pathType"),
                            "pathType must be specified",
                        ));
                        continue;
                    }
                    "Exact" | "Prefix" => {
                        if !value.starts_with('/') {
                            errs.push(FieldError::invalid(
                                pp.child("path"),
                                value,
                                "must be an absolute path",
                            ));
                        }
                        if !value.is_empty() {
                            for seq in INVALID_PATH_SEQUENCES {
                                if value.contains(seq) {
                                    errs.push(FieldError::invalid(
                                        pp.child("path"),
                                        value,
                                        format!("must not contain '{seq}'"),
                                    ));
                                }
                            }
                            for suffix in INVALID_PATH_SUFFIXES {
                                if value.ends_with(suffix) {
                                    errs.push(FieldError::invalid(
                                        pp.child("path"),
                                        value,
                                        format!("cannot end with '{suffix}'"),
                                    ));
                                }
                            }
                        }
                    }
                    "ImplementationSpecific" => {
                        if !value.is_empty() && !value.starts_with('/') {
                            errs.push(FieldError::invalid(
                                pp.child("path"),
                                value,
                                "must be an absolute path",
                            ));
                        }
                    }
                    other => errs.push(FieldError::not_supported(
                        pp.child("pathType"),
                        other,
                        &["Exact", "ImplementationSpecific", "Prefix"],
                    )),
                }
                errs.extend(validate_ingress_backend(
                    &path.backend,
                    &pp.child("backend"),
                ));
            }
        }
    }
    for (i, tls) in spec.tls.iter().flatten().enumerate() {
        let tp = p.child("tls").index(i);
        for (j, host) in tls.hosts.iter().flatten().enumerate() {
            let msgs = if host.contains('*') {
                is_wildcard_dns1123_subdomain(host)
            } else {
                is_dns1123_subdomain(host)
            };
            for msg in msgs {
                errs.push(FieldError::invalid(
                    tp.child("hosts").index(j),
                    host.as_str(),
                    msg,
                ));
            }
        }
        let secret = s(&tls.secret_name);
        if !secret.is_empty() {
            for msg in name_errors(NameRule::Subdomain, secret, false) {
                errs.push(FieldError::invalid(tp.child("secretName"), secret, msg));
            }
        }
    }
    if let Some(class) = &spec.ingress_class_name {
        for msg in name_errors(NameRule::Subdomain, class, false) {
            errs.push(FieldError::invalid(
                p.child("ingressClassName"),
                class.as_str(),
                msg,
            ));
        }
    }
    errs
}

fn validate_ingress_backend(b: &IngressBackend, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    match (&b.resource, &b.service) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        )),
        (Some(r), None) => {
            let rp = path.child("resource");
            if r.kind.is_empty() {
                errs.push(FieldError::required(rp.child("kind"), ""));
            }
            if r.name.is_empty() {
                errs.push(FieldError::required(rp.child("name"), ""));
            }
        }
        (None, Some(svc)) => {
            let sp = path.child("service");
            if svc.name.is_empty() {
                errs.push(FieldError::required(sp.child("name"), ""));
            } else {
                for msg in is_dns1035_label(&svc.name) {
                    errs.push(FieldError::invalid(
                        sp.child("name"),
                        svc.name.as_str(),
                        msg,
                    ));
                }
            }
            let port = svc.port.as_ref();
            let name = port.and_then(|p| p.name.as_deref()).unwrap_or("");
            let number = port.and_then(|p| p.number).unwrap_or(0);
            match (name.is_empty(), number == 0) {
                (false, false) => errs.push(FieldError::invalid(
                    path,
                    "",
                    "cannot set both port name & port number",
                )),
                (false, true) => {
                    for msg in is_valid_port_name(name) {
                        errs.push(FieldError::invalid(
                            sp.child("port").child("name"),
                            name,
                            msg,
                        ));
                    }
                }
                (true, false) => {
                    for msg in is_valid_port_num(i64::from(number)) {
                        errs.push(FieldError::invalid(
                            sp.child("port").child("number"),
                            number,
                            msg,
                        ));
                    }
                }
                (true, true) => errs.push(FieldError::required(
                    path,
                    "port name or number is required",
                )),
            }
        }
        (None, None) => errs.push(FieldError::invalid(
            path,
            "",
            "resource or service backend is required",
        )),
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(spec: Value) -> Service {
        serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": spec,
        }))
        .unwrap()
    }

    /// A defaulted ClusterIP service spec, overridden by `patch`.
    fn spec(patch: Value) -> Value {
        let mut s = json!({
            "type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
            "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"],
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}],
            "selector": {"app": "web"},
        });
        for (k, v) in patch.as_object().unwrap() {
            s[k] = v.clone();
        }
        s
    }

    fn msgs(new: &Service, old: Option<&Service>) -> Vec<String> {
        validate_service(new, old)
            .iter()
            .map(FieldError::message)
            .collect()
    }

    #[test]
    fn services() {
        assert!(msgs(&svc(spec(json!({}))), None).is_empty());
        let mut bad_name = svc(spec(json!({})));
        bad_name.metadata.name = Some("1web".into());
        assert!(
            msgs(&bad_name, None)[0].starts_with(
                "metadata.name: Invalid value: \"1web\": a DNS-1035 label must consist"
            )
        );
        assert_eq!(
            msgs(&svc(spec(json!({"ports": []}))), None),
            vec!["spec.ports: Required value"]
        );
        assert_eq!(
            msgs(
                &svc(spec(json!({"ports": [
                    {"port": 80, "protocol": "TCP", "targetPort": 80},
                    {"port": 80, "protocol": "TCP", "targetPort": 80, "name": "b"},
                    {"port": 70000, "protocol": "HTTP", "targetPort": "Bad_Port", "name": "b"},
                ]}))),
                None
            ),
            vec![
                "spec.ports[0].name: Required value",
                "spec.ports[2].name: Duplicate value: \"b\"",
                "spec.ports[2].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.ports[2].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "spec.ports[2].targetPort: Invalid value: \"Bad_Port\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "spec.ports[1]: Duplicate value: core.ServicePort{Name:\"\", Protocol:\"TCP\", AppProtocol:(*string)(nil), Port:80, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, NodePort:0}",
            ]
        );
        assert_eq!(
            msgs(&svc(spec(json!({"type": "Balanced"}))), None),
            vec![
                "spec.type: Unsupported value: \"Balanced\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""
            ]
        );
        assert_eq!(
            msgs(
                &svc(spec(
                    json!({"ports": [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30001}]})
                )),
                None
            ),
            vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
        );
        let np = spec(
            json!({"type": "NodePort", "externalTrafficPolicy": "Cluster",
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 80}]}),
        );
        assert_eq!(
            msgs(&svc(np), None),
            vec![
                "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"
            ]
        );
        let np = spec(
            json!({"type": "NodePort", "externalTrafficPolicy": "Cluster",
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 30080}]}),
        );
        assert!(msgs(&svc(np), None).is_empty());
        assert_eq!(
            msgs(&svc(spec(json!({"type": "NodePort"}))), None),
            vec!["spec.externalTrafficPolicy: Required value"]
        );
        assert_eq!(
            msgs(&svc(spec(json!({"sessionAffinity": "Sticky"}))), None),
            vec![
                "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\""
            ]
        );
        let headless = spec(json!({"clusterIP": "None", "clusterIPs": ["None"], "ports": []}));
        assert!(msgs(&svc(headless), None).is_empty());
        let ext = json!({"type": "ExternalName", "externalName": "example.com.", "sessionAffinity": "None"});
        assert!(msgs(&svc(ext), None).is_empty());
        let ext = json!({"type": "ExternalName", "sessionAffinity": "None", "ipFamilyPolicy": "SingleStack"});
        assert_eq!(
            msgs(&svc(ext), None),
            vec![
                "spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services",
                "spec.externalName: Required value",
            ]
        );
        assert_eq!(
            msgs(
                &svc(spec(
                    json!({"clusterIP": "10.96.0.300", "clusterIPs": ["10.96.0.300"]})
                )),
                None
            ),
            vec![
                "spec.clusterIPs[0]: Invalid value: \"10.96.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
            ]
        );
    }

    #[test]
    fn service_updates() {
        let old = svc(spec(
            json!({"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"]}),
        ));
        let same = svc(spec(
            json!({"clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "selector": {"app": "v2"}}),
        ));
        assert!(msgs(&same, Some(&old)).is_empty());
        let changed = svc(spec(
            json!({"clusterIP": "10.96.0.11", "clusterIPs": ["10.96.0.11"]}),
        ));
        assert_eq!(
            msgs(&changed, Some(&old)),
            vec![
                "spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.11\"}: may not change once set"
            ]
        );
        let omitted = svc(spec(json!({})));
        assert!(msgs(&omitted, Some(&old)).is_empty());
        let v6 = svc(spec(json!({"ipFamilies": ["IPv6"]})));
        assert_eq!(
            msgs(&v6, Some(&old)),
            vec![
                "spec.ipFamilies[0]: Invalid value: []core.IPFamily{\"IPv6\"}: may not change once set"
            ]
        );
    }

    fn slice(v: Value) -> EndpointSlice {
        let mut obj = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-abc", "namespace": "default"}});
        for (k, val) in v.as_object().unwrap() {
            obj[k] = val.clone();
        }
        serde_json::from_value(obj).unwrap()
    }

    #[test]
    fn endpoint_slices() {
        let ok = slice(
            json!({"addressType": "IPv4", "endpoints": [{"addresses": ["10.244.0.5"], "nodeName": "n1"}],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}),
        );
        assert!(validate_endpoint_slice(&ok, None).is_empty());
        let bad = slice(
            json!({"addressType": "IPv5", "endpoints": [{"addresses": []}, {"addresses": ["::1"]}],
            "ports": [{"name": "http", "protocol": "TCP"}, {"name": "http", "protocol": "TCP"}]}),
        );
        let m: Vec<String> = validate_endpoint_slice(&bad, None)
            .iter()
            .map(FieldError::message)
            .collect();
        assert_eq!(
            m,
            vec![
                "addressType: Unsupported value: \"IPv5\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"",
                "endpoints[0].addresses: Required value: must contain at least 1 address",
                "ports[1].name: Duplicate value: \"http\"",
            ]
        );
        let v4 = slice(json!({"addressType": "IPv4", "endpoints": [{"addresses": ["::1"]}]}));
        assert_eq!(
            validate_endpoint_slice(&v4, None)[0].message(),
            "endpoints[0].addresses[0]: Invalid value: \"::1\": must be a valid IPv4 address"
        );
        let v6 = slice(json!({"addressType": "IPv6", "endpoints": []}));
        assert_eq!(
            validate_endpoint_slice(&v6, Some(&ok))[0].message(),
            "addressType: Invalid value: \"IPv6\": field is immutable"
        );
    }

    #[test]
    fn endpoints() {
        let ep: Endpoints = serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": "10.244.0.5"}, {"ip": "nope"}], "ports": [{"port": 80, "protocol": "TCP"}, {"port": 0, "protocol": "TCP", "name": "b"}]}]}))
        .unwrap();
        let m: Vec<String> = validate_endpoints(&ep, None)
            .iter()
            .map(FieldError::message)
            .collect();
        assert_eq!(
            m,
            vec![
                "subsets[0].addresses[1].ip: Invalid value: \"nope\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                "subsets[0].ports[0].name: Required value",
                "subsets[0].ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            ]
        );
    }

    fn ingress(spec: Value) -> Ingress {
        serde_json::from_value(
            json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec}),
        )
        .unwrap()
    }

    #[test]
    fn ingresses() {
        let ok = ingress(
            json!({"ingressClassName": "nginx", "rules": [{"host": "example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}],
            "tls": [{"hosts": ["*.example.com"], "secretName": "tls"}]}),
        );
        assert!(validate_ingress(&ok, None).is_empty());
        assert_eq!(
            validate_ingress(&ingress(json!({})), None)[0].message(),
            "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"
        );
        let bad = ingress(json!({"rules": [{"host": "10.0.0.1", "http": {"paths": [
            {"path": "api", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {}}}},
            {"path": "/", "pathType": "Regex", "backend": {}},
            {"path": "/", "backend": {"service": {"name": "web", "port": {"name": "http"}}}},
        ]}}]}));
        let m: Vec<String> = validate_ingress(&bad, None)
            .iter()
            .map(FieldError::message)
            .collect();
        assert_eq!(
            m,
            vec![
                "spec.rules[0].host: Invalid value: \"10.0.0.1\": must be a DNS name, not an IP address",
                "spec.rules[0].http.paths[0].path: Invalid value: \"api\": must be an absolute path",
                "spec.rules[0].http.paths[0].backend: Required value: port name or number is required",
                "spec.rules[0].http.paths[1].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\"",
                "spec.rules[0].http.paths[1].backend: Invalid value: \"\": resource or service backend is required",
                "spec.rules[0].http.paths[2].pathType: Required value: pathType must be specified",
            ]
        );
    }
}
