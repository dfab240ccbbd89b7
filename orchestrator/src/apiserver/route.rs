//! URL shapes of the Kubernetes API, parsed into a [`Route`].
//!
//! Owns the mapping from a request path to what it names; knows nothing of
//! methods or bodies. Every path kube-apiserver serves for the built-in types
//! parses here, or is `Route::Unknown` (404 in Kubernetes' wording).

use regatta_api::registry::{self, ResourceType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Api,
    Apis,
    ApiGroup(String),
    GroupVersion { group: String, version: String },
    Version,
    Health(&'static str),
    Metrics,
    OpenApiV2,
    OpenApiV3Root,
    OpenApiV3(String),
    Resource(ResourceRef),
    Unknown,
}

/// A resource URL: a collection, one object, or one object's subresource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRef {
    pub rt: &'static ResourceType,
    /// The namespace in the URL; `None` for cluster-scoped types and cluster-wide lists.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

pub fn parse(path: &str) -> Route {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["api"] => Route::Api,
        ["apis"] => Route::Apis,
        ["version"] => Route::Version,
        ["healthz"] | ["healthz", ..] => Route::Health("healthz"),
        ["readyz"] | ["readyz", ..] => Route::Health("readyz"),
        ["livez"] | ["livez", ..] => Route::Health("livez"),
        ["metrics"] => Route::Metrics,
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3Root,
        ["openapi", "v3", rest @ ..] if !rest.is_empty() => Route::OpenApiV3(rest.join("/")),
        ["api", version] => gv_route("", version),
        ["api", version, rest @ ..] => resource_route("", version, rest),
        ["apis", group] => {
            if registry::group_versions().iter().any(|(g, _)| g == group) {
                Route::ApiGroup(group.to_string())
            } else {
                Route::Unknown
            }
        }
        ["apis", group, version] => gv_route(group, version),
        ["apis", group, version, rest @ ..] => resource_route(group, version, rest),
        _ => Route::Unknown,
    }
}

fn gv_route(group: &str, version: &str) -> Route {
    if registry::group_versions().contains(&(group, version)) {
        Route::GroupVersion {
            group: group.to_string(),
            version: version.to_string(),
        }
    } else {
        Route::Unknown
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Route {
    let lookup = |plural: &str| registry::by_plural(group, version, plural);
    let make =
        |rt: &'static ResourceType, ns: Option<&str>, name: Option<&str>, sub: Option<&str>| {
            if name.is_some_and(str::is_empty) {
                return Route::Unknown;
            }
            if let Some(s) = sub
                && !rt.has_subresource(s)
            {
                return Route::Unknown;
            }
            Route::Resource(ResourceRef {
                rt,
                namespace: ns.map(str::to_string),
                name: name.map(str::to_string),
                subresource: sub.map(str::to_string),
            })
        };
    match rest {
        // Namespaced collection and below. `namespaces/{name}/status` is the
        // Namespace's own subresource, not a resource type called "status".
        ["namespaces", ns, plural, tail @ ..] if group.is_empty() || lookup(plural).is_some() => {
            let Some(rt) = lookup(plural) else {
                let ns_rt = lookup("namespaces").expect("namespaces registered");
                return match tail {
                    [] => make(ns_rt, None, Some(ns), Some(plural)),
                    _ => Route::Unknown,
                };
            };
            if !rt.namespaced {
                return Route::Unknown;
            }
            match tail {
                [] => make(rt, Some(ns), None, None),
                [name] => make(rt, Some(ns), Some(name), None),
                [name, sub] => make(rt, Some(ns), Some(name), Some(sub)),
                _ => Route::Unknown,
            }
        }
        [plural] => match lookup(plural) {
            Some(rt) => make(rt, None, None, None),
            None => Route::Unknown,
        },
        [plural, name] => match lookup(plural) {
            Some(rt) if !rt.namespaced => make(rt, None, Some(name), None),
            _ => Route::Unknown,
        },
        [plural, name, sub] => match lookup(plural) {
            Some(rt) if !rt.namespaced => make(rt, None, Some(name), Some(sub)),
            _ => Route::Unknown,
        },
        _ => Route::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> (String, Option<String>, Option<String>, Option<String>) {
        match parse(path) {
            Route::Resource(r) => (r.rt.plural.to_string(), r.namespace, r.name, r.subresource),
            other => panic!("{path}: {other:?}"),
        }
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn resource_paths() {
        assert_eq!(res("/api/v1/pods"), ("pods".into(), None, None, None));
        assert_eq!(
            res("/api/v1/namespaces/default/pods/web/log"),
            ("pods".into(), s("default"), s("web"), s("log"))
        );
        assert_eq!(
            res("/api/v1/namespaces"),
            ("namespaces".into(), None, None, None)
        );
        assert_eq!(
            res("/api/v1/namespaces/kube-system"),
            ("namespaces".into(), None, s("kube-system"), None)
        );
        assert_eq!(
            res("/api/v1/namespaces/x/status"),
            ("namespaces".into(), None, s("x"), s("status"))
        );
        assert_eq!(
            res("/apis/apps/v1/namespaces/d/deployments/web/scale"),
            ("deployments".into(), s("d"), s("web"), s("scale"))
        );
        assert_eq!(
            res("/api/v1/nodes/n1"),
            ("nodes".into(), None, s("n1"), None)
        );
        assert_eq!(
            res("/apis/apps/v1/deployments"),
            ("deployments".into(), None, None, None)
        );
    }

    #[test]
    fn unknown_paths() {
        for p in [
            "/api/v2",
            "/api/v1/widgets",
            "/apis/apps/v1/namespaces/d/widgets",
            "/api/v1/namespaces/d/nodes",
            "/api/v1/pods/x",
            "/api/v1/namespaces/d/pods/x/bogus",
            "/apis/nope",
            "/whatever",
        ] {
            assert_eq!(parse(p), Route::Unknown, "{p}");
        }
    }

    #[test]
    fn meta_paths() {
        assert_eq!(parse("/api"), Route::Api);
        assert_eq!(parse("/apis/apps"), Route::ApiGroup("apps".into()));
        assert_eq!(
            parse("/apis/apps/v1"),
            Route::GroupVersion {
                group: "apps".into(),
                version: "v1".into()
            }
        );
        assert_eq!(
            parse("/openapi/v3/apis/apps/v1"),
            Route::OpenApiV3("apis/apps/v1".into())
        );
        assert_eq!(parse("/readyz"), Route::Health("readyz"));
    }
}
