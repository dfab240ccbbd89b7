//! Namespaces, Nodes, ServiceAccounts, Events and Leases: types whose rules
//! are mostly about names and a few fields.

use std::collections::BTreeMap;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Namespace, Node, ServiceAccount, Taint};
use serde_json::json;

use super::meta::{validate_kube_finalizer_name, validate_label_name, validate_object_meta};
use super::names::{INVALID_CIDR, NameRule, is_valid_cidr, is_valid_label_value, parse_ip};
use super::pod::validate_taint_effect;
use super::{Errs, FieldError, FieldPath, IS_NEGATIVE, golit};

fn meta_path() -> FieldPath {
    FieldPath::new("metadata")
}

pub(crate) fn validate_namespace(ns: &Namespace, _old: Option<&Namespace>) -> Errs {
    let mut errs = validate_object_meta(&ns.metadata, false, NameRule::Label, &meta_path());
    let path = FieldPath::new("spec").child("finalizers");
    for f in ns.spec.iter().flat_map(|s| s.finalizers.iter().flatten()) {
        errs.extend(validate_kube_finalizer_name(f, &path));
    }
    errs
}

pub(crate) fn validate_service_account(sa: &ServiceAccount, _old: Option<&ServiceAccount>) -> Errs {
    validate_object_meta(&sa.metadata, true, NameRule::Subdomain, &meta_path())
}

pub(crate) fn validate_event(ev: &Event, _old: Option<&Event>) -> Errs {
    let mut errs = validate_object_meta(&ev.metadata, true, NameRule::Subdomain, &meta_path());
    if let Some(c) = ev.count.filter(|c| *c < 0) {
        errs.push(FieldError::invalid("count", c, IS_NEGATIVE));
    }
    errs
}

pub(crate) fn validate_lease(lease: &Lease, _old: Option<&Lease>) -> Errs {
    let mut errs = validate_object_meta(&lease.metadata, true, NameRule::Subdomain, &meta_path());
    let p = FieldPath::new("spec");
    if let Some(spec) = &lease.spec {
        if let Some(d) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
            errs.push(FieldError::invalid(
                p.child("leaseDurationSeconds"),
                d,
                "must be greater than 0",
            ));
        }
        if let Some(t) = spec.lease_transitions.filter(|t| *t < 0) {
            errs.push(FieldError::invalid(
                p.child("leaseTransitions"),
                t,
                IS_NEGATIVE,
            ));
        }
        if let Some(st) = &spec.strategy
            && st != "OldestEmulationVersion"
        {
            errs.push(FieldError::not_supported(
                p.child("strategy"),
                st.as_str(),
                &["OldestEmulationVersion"],
            ));
        }
    }
    errs
}

fn taint_literal(t: &Taint) -> serde_json::Value {
    golit::go(format!(
        "core.Taint{{Key:{}, Value:{}, Effect:{}, TimeAdded:{}}}",
        golit::quote(&t.key),
        golit::quote(t.value.as_deref().unwrap_or("")),
        golit::quote(&t.effect),
        golit::pointer("v1.Time", t.time_added.is_some()),
    ))
}

pub(crate) fn validate_node(node: &Node, old: Option<&Node>) -> Errs {
    let mp = meta_path();
    let mut errs = validate_object_meta(&node.metadata, false, NameRule::Subdomain, &mp);
    let default_spec = Default::default();
    let spec = node.spec.as_ref().unwrap_or(&default_spec);
    // kube reports node taints under `metadata.taints`, a long-standing quirk.
    let taints_path = mp.child("taints");
    let mut unique: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (i, t) in spec.taints.iter().flatten().enumerate() {
        let p = taints_path.index(i);
        errs.extend(validate_label_name(&t.key, &p.child("key")));
        let value = t.value.as_deref().unwrap_or("");
        let msgs = is_valid_label_value(value);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(p.child("value"), value, msgs.join(";")));
        }
        if t.effect.is_empty() {
            errs.push(FieldError::required(p.child("effect"), ""));
        } else {
            errs.extend(validate_taint_effect(&t.effect, &p.child("effect")));
        }
        let keys = unique.entry(t.effect.as_str()).or_default();
        if keys.contains(&t.key.as_str()) {
            let mut e = FieldError::duplicate(&p, taint_literal(t));
            e.detail = "taints must be unique by key and effect pair".into();
            errs.push(e);
            continue;
        }
        keys.push(t.key.as_str());
    }
    let cidrs_path = FieldPath::new("spec").child("podCIDRs");
    let cidrs = spec.pod_cidrs.as_deref().unwrap_or_default();
    for (i, c) in cidrs.iter().enumerate() {
        if !is_valid_cidr(c) {
            errs.push(FieldError::invalid(
                cidrs_path.index(i),
                c.as_str(),
                INVALID_CIDR,
            ));
        }
    }
    if cidrs.len() > 1 {
        let v4 = cidrs
            .iter()
            .filter(|c| {
                c.split('/')
                    .next()
                    .and_then(parse_ip)
                    .is_some_and(|ip| ip.is_ipv4())
            })
            .count();
        if cidrs.len() > 2 || v4 != 1 {
            errs.push(FieldError::invalid(
                &cidrs_path,
                json!(cidrs),
                "may specify no more than one CIDR for each IP family",
            ));
        }
    }
    if let Some(old) = old {
        let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
        let old_cidrs = old_spec.pod_cidrs.as_deref().unwrap_or_default();
        const WHY: &str = "node updates may not change podCIDR except from \"\" to valid";
        if !old_cidrs.is_empty() {
            if old_cidrs.len() != cidrs.len() {
                errs.push(FieldError::forbidden(&cidrs_path, WHY));
            } else {
                for (i, c) in old_cidrs.iter().enumerate() {
                    if *c != cidrs[i] {
                        errs.push(FieldError::forbidden(cidrs_path.index(i), WHY));
                    }
                }
            }
        }
        let old_provider = old_spec.provider_id.as_deref().unwrap_or("");
        if !old_provider.is_empty() && Some(old_provider) != spec.provider_id.as_deref() {
            errs.push(FieldError::forbidden(
                FieldPath::new("spec").child("providerID"),
                "node updates may not change providerID except from \"\" to valid",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn msgs(errs: Errs) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn namespaces() {
        let ok: Namespace =
            from(json!({"metadata": {"name": "team-a"}, "spec": {"finalizers": ["kubernetes"]}}));
        assert!(validate_namespace(&ok, None).is_empty());
        let bad: Namespace =
            from(json!({"metadata": {"name": "team.a"}, "spec": {"finalizers": ["mine"]}}));
        assert_eq!(
            msgs(validate_namespace(&bad, None)),
            vec![
                "metadata.name: Invalid value: \"team.a\": must not contain dots",
                "spec.finalizers: Invalid value: \"mine\": name is neither a standard finalizer name nor is it fully qualified",
            ]
        );
    }

    #[test]
    fn service_accounts_events_leases() {
        let sa: ServiceAccount =
            from(json!({"metadata": {"name": "default", "namespace": "default"}}));
        assert!(validate_service_account(&sa, None).is_empty());
        let sa: ServiceAccount =
            from(json!({"metadata": {"name": "Default", "namespace": "default"}}));
        assert_eq!(validate_service_account(&sa, None).len(), 1);
        let ev: Event = from(
            json!({"metadata": {"name": "web.17a", "namespace": "default"}, "involvedObject": {}, "count": -1}),
        );
        assert_eq!(
            msgs(validate_event(&ev, None)),
            vec!["count: Invalid value: -1: must be greater than or equal to 0"]
        );
        let lease: Lease = from(
            json!({"metadata": {"name": "n1", "namespace": "kube-node-lease"}, "spec": {"leaseDurationSeconds": 40}}),
        );
        assert!(validate_lease(&lease, None).is_empty());
        let lease: Lease = from(
            json!({"metadata": {"name": "n1", "namespace": "kube-node-lease"},
            "spec": {"leaseDurationSeconds": 0, "leaseTransitions": -1}}),
        );
        assert_eq!(
            msgs(validate_lease(&lease, None)),
            vec![
                "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
                "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0",
            ]
        );
    }

    #[test]
    fn nodes() {
        let ok: Node = from(
            json!({"metadata": {"name": "node-1"}, "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"],
            "taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]}}),
        );
        assert!(validate_node(&ok, None).is_empty());
        let bad: Node = from(
            json!({"metadata": {"name": "node-1"}, "spec": {"podCIDRs": ["10.244.1.0/33"],
            "taints": [{"key": "a", "effect": "Sometimes"}, {"key": "b", "effect": "NoSchedule"}, {"key": "b", "effect": "NoSchedule"}]}}),
        );
        assert_eq!(
            msgs(validate_node(&bad, None)),
            vec![
                "metadata.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
                "metadata.taints[2]: Duplicate value: core.Taint{Key:\"b\", Value:\"\", Effect:\"NoSchedule\", TimeAdded:(*v1.Time)(nil)}: taints must be unique by key and effect pair",
                "spec.podCIDRs[0]: Invalid value: \"10.244.1.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            ]
        );
        let moved: Node =
            from(json!({"metadata": {"name": "node-1"}, "spec": {"podCIDRs": ["10.244.2.0/24"]}}));
        assert_eq!(
            msgs(validate_node(&moved, Some(&ok))),
            vec![
                "spec.podCIDRs[0]: Forbidden: node updates may not change podCIDR except from \"\" to valid"
            ]
        );
    }
}
