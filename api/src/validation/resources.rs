//! Resource names and quantities in `resources.requests`/`limits`.
//!
//! Mirrors core validation's `ValidateContainerResourceRequirements`: names
//! are standard (`cpu`, `memory`, `ephemeral-storage`, `hugepages-*`) or
//! fully qualified extended resources; quantities are non-negative; requests
//! do not exceed limits, and equal them for resources that cannot be
//! overcommitted (extended resources and hugepages).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity as KubeQuantity;

use super::names::is_qualified_name;
use super::{Errs, FieldError, FieldPath, IS_NEGATIVE};
use crate::quantity::{Quantity, parse_quantity};

const STANDARD_CONTAINER_RESOURCES: &[&str] = &["cpu", "memory", "ephemeral-storage"];
const STANDARD_RESOURCES: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
    "storage",
    "requests.storage",
];
const INTEGER_RESOURCES: &[&str] = &[
    "pods",
    "resourcequotas",
    "services",
    "replicationcontrollers",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
];

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// Native resources are unprefixed or live under `kubernetes.io/`.
fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_extended(name: &str) -> bool {
    if is_native(name) || name.starts_with("requests.") {
        return false;
    }
    is_qualified_name(&format!("requests.{name}")).is_empty()
}

fn overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_hugepages(name)
}

fn is_integer_resource(name: &str) -> bool {
    INTEGER_RESOURCES.contains(&name) || is_extended(name)
}

/// A container resource name: a qualified name that is standard when unprefixed.
pub(crate) fn validate_container_resource_name(name: &str, path: &FieldPath) -> Errs {
    let mut errs: Errs = is_qualified_name(name)
        .into_iter()
        .map(|m| FieldError::invalid(path, name, m))
        .collect();
    if !errs.is_empty() {
        return errs;
    }
    if !name.contains('/') {
        if !STANDARD_RESOURCES.contains(&name)
            && !is_hugepages(name)
            && !name.starts_with("requests.hugepages-")
        {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource type or fully qualified",
            ));
        }
        if !STANDARD_CONTAINER_RESOURCES.contains(&name) && !is_hugepages(name) {
            errs.push(FieldError::invalid(
                path,
                name,
                "must be a standard resource for containers",
            ));
        }
    } else if !is_native(name) && !is_extended(name) {
        errs.push(FieldError::invalid(
            path,
            name,
            "doesn't follow extended resource name standard",
        ));
    }
    errs
}

/// The quantity of one resource: non-negative, and whole for countable resources.
pub(crate) fn validate_resource_quantity(name: &str, q: &Quantity, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    if q.signum() < 0 {
        errs.push(FieldError::invalid(path, q.to_string(), IS_NEGATIVE));
    }
    if is_integer_resource(name) && q.milli_value() % 1000 != 0 {
        errs.push(FieldError::invalid(
            path,
            q.to_string(),
            "must be an integer",
        ));
    }
    errs
}

/// Parses a resource list; quantities that do not parse were already refused
/// by `decode_check`, so they are skipped rather than reported twice.
pub(crate) fn parse_list(
    list: Option<&BTreeMap<String, KubeQuantity>>,
) -> BTreeMap<String, Quantity> {
    list.into_iter()
        .flatten()
        .filter_map(|(k, v)| parse_quantity(v.0.trim()).ok().map(|q| (k.clone(), q)))
        .collect()
}

/// `resources.limits` and `resources.requests` of a container (or pod overhead).
pub(crate) fn validate_requirements(
    limits: Option<&BTreeMap<String, KubeQuantity>>,
    requests: Option<&BTreeMap<String, KubeQuantity>>,
    path: &FieldPath,
) -> Errs {
    let mut errs = Vec::new();
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let limits = parse_list(limits);
    let requests = parse_list(requests);
    for (name, q) in &limits {
        let p = lim_path.key(name);
        errs.extend(validate_container_resource_name(name, &p));
        errs.extend(validate_resource_quantity(name, q, &p));
    }
    for (name, q) in &requests {
        let p = req_path.key(name);
        errs.extend(validate_container_resource_name(name, &p));
        errs.extend(validate_resource_quantity(name, q, &p));
        match limits.get(name) {
            Some(limit) if q != limit && !overcommit_allowed(name) => {
                errs.push(FieldError::invalid(
                    &req_path,
                    q.to_string(),
                    format!("must be equal to {name} limit of {limit}"),
                ))
            }
            Some(limit) if q > limit => errs.push(FieldError::invalid(
                &req_path,
                q.to_string(),
                format!("must be less than or equal to {name} limit of {limit}"),
            )),
            None if !overcommit_allowed(name) => errs.push(FieldError::required(
                &lim_path,
                "Limit must be set for non overcommitable resources",
            )),
            _ => {}
        }
    }
    let has_hugepages = limits
        .keys()
        .chain(requests.keys())
        .any(|k| is_hugepages(k));
    let has_cpu_mem = limits
        .keys()
        .chain(requests.keys())
        .any(|k| k == "cpu" || k == "memory");
    if has_hugepages && !has_cpu_mem {
        errs.push(FieldError::forbidden(
            path,
            "HugePages require cpu or memory",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(pairs: &[(&str, &str)]) -> BTreeMap<String, KubeQuantity> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), KubeQuantity(v.to_string())))
            .collect()
    }

    fn check(limits: &[(&str, &str)], requests: &[(&str, &str)]) -> Vec<String> {
        let p = FieldPath::new("spec")
            .child("containers")
            .index(0)
            .child("resources");
        validate_requirements(Some(&list(limits)), Some(&list(requests)), &p)
            .iter()
            .map(FieldError::message)
            .collect()
    }

    #[test]
    fn requests_and_limits() {
        assert!(
            check(
                &[("cpu", "1"), ("memory", "1Gi")],
                &[("cpu", "500m"), ("memory", "512Mi")]
            )
            .is_empty()
        );
        assert!(check(&[("cpu", "1")], &[("cpu", "1000m")]).is_empty());
        assert_eq!(
            check(&[("cpu", "1")], &[("cpu", "2")]),
            vec![
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"
            ]
        );
        assert_eq!(
            check(&[], &[("memory", "-1")]),
            vec![
                "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0"
            ]
        );
        assert_eq!(
            check(&[("example.com/gpu", "2")], &[("example.com/gpu", "1")]),
            vec![
                "spec.containers[0].resources.requests: Invalid value: \"1\": must be equal to example.com/gpu limit of 2"
            ]
        );
        assert_eq!(
            check(&[], &[("example.com/gpu", "1")]),
            vec![
                "spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources"
            ]
        );
        assert_eq!(
            check(&[("example.com/gpu", "500m")], &[]),
            vec![
                "spec.containers[0].resources.limits[example.com/gpu]: Invalid value: \"500m\": must be an integer"
            ]
        );
        assert_eq!(
            check(&[("gpu", "1")], &[]),
            vec![
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource type or fully qualified",
                "spec.containers[0].resources.limits[gpu]: Invalid value: \"gpu\": must be a standard resource for containers",
            ]
        );
        assert_eq!(
            check(&[("hugepages-2Mi", "2Mi")], &[("hugepages-2Mi", "2Mi")]),
            vec!["spec.containers[0].resources: Forbidden: HugePages require cpu or memory"]
        );
    }
}
