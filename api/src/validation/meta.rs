//! Object metadata, labels, annotations and label selectors.
//!
//! Mirrors apimachinery's `api/validation/objectmeta.go` and
//! `apis/meta/v1/validation`: the checks every object's `metadata` gets, and
//! the selector rules workloads share. Also evaluates `metav1.LabelSelector`s
//! against label sets, with kube's convention that an absent selector selects
//! nothing and an empty one selects everything.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use serde_json::{Value, json};

use super::names::{NameRule, is_qualified_name, is_valid_label_value, name_errors};
use super::{Errs, FieldError, FieldPath, IS_NEGATIVE, golit};

const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
const STANDARD_FINALIZERS: &[&str] = &["kubernetes", "orphan", "foregroundDeletion"];

/// Validates `metadata` on create and update: name (by `rule`), namespace,
/// labels, annotations, owner references and finalizers.
pub(crate) fn validate_object_meta(
    meta: &ObjectMeta,
    namespaced: bool,
    rule: NameRule,
    path: &FieldPath,
) -> Errs {
    let mut errs = Vec::new();
    if let Some(gen_name) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        for msg in name_errors(rule, gen_name, true) {
            errs.push(FieldError::invalid(
                path.child("generateName"),
                gen_name,
                msg,
            ));
        }
    }
    match meta.name.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(
            path.child("name"),
            "name or generateName is required",
        )),
        name => {
            for msg in name_errors(rule, name, false) {
                errs.push(FieldError::invalid(path.child("name"), name, msg));
            }
        }
    }
    // Cluster-scoped objects get their namespace cleared before validation, so
    // only the namespaced case can fail here.
    if namespaced {
        match meta.namespace.as_deref().unwrap_or("") {
            "" => errs.push(FieldError::required(path.child("namespace"), "")),
            ns => {
                for msg in name_errors(NameRule::Label, ns, false) {
                    errs.push(FieldError::invalid(path.child("namespace"), ns, msg));
                }
            }
        }
    }
    if let Some(g) = meta.generation.filter(|g| *g < 0) {
        errs.push(FieldError::invalid(
            path.child("generation"),
            g,
            IS_NEGATIVE,
        ));
    }
    errs.extend(validate_labels(meta.labels.as_ref(), &path.child("labels")));
    errs.extend(validate_annotations(
        meta.annotations.as_ref(),
        &path.child("annotations"),
    ));
    errs.extend(validate_owner_references(
        meta.owner_references.as_deref(),
        &path.child("ownerReferences"),
    ));
    errs.extend(validate_finalizers(
        meta.finalizers.as_deref(),
        &path.child("finalizers"),
    ));
    errs
}

pub(crate) fn validate_label_name(key: &str, path: &FieldPath) -> Errs {
    is_qualified_name(key)
        .into_iter()
        .map(|m| FieldError::invalid(path, key, m))
        .collect()
}

/// Label keys must be qualified names and values valid label values; both
/// errors are reported at the map's path, as kube does.
pub(crate) fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        errs.extend(validate_label_name(k, path));
        for msg in is_valid_label_value(v) {
            errs.push(FieldError::invalid(path, v.as_str(), msg));
        }
    }
    errs
}

pub(crate) fn validate_annotations(
    annotations: Option<&BTreeMap<String, String>>,
    path: &FieldPath,
) -> Errs {
    let mut errs = Vec::new();
    let Some(annotations) = annotations else {
        return errs;
    };
    let mut total = 0;
    for (k, v) in annotations {
        for msg in is_qualified_name(&k.to_lowercase()) {
            errs.push(FieldError::invalid(path, k.as_str(), msg));
        }
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

fn owner_reference_literal(r: &OwnerReference) -> String {
    format!(
        "v1.OwnerReference{{APIVersion:{}, Kind:{}, Name:{}, UID:{}, Controller:{}, BlockOwnerDeletion:{}}}",
        golit::quote(&r.api_version),
        golit::quote(&r.kind),
        golit::quote(&r.name),
        golit::quote(&r.uid),
        golit::pointer("bool", r.controller.is_some()),
        golit::pointer("bool", r.block_owner_deletion.is_some()),
    )
}

fn validate_owner_references(refs: Option<&[OwnerReference]>, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for r in refs.into_iter().flatten() {
        let version = r.api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            errs.push(FieldError::invalid(
                path.child("apiVersion"),
                r.api_version.as_str(),
                "version must not be empty",
            ));
        }
        if r.kind.is_empty() {
            errs.push(FieldError::invalid(
                path.child("kind"),
                r.kind.as_str(),
                "kind must not be empty",
            ));
        }
        if r.name.is_empty() {
            errs.push(FieldError::invalid(
                path.child("name"),
                r.name.as_str(),
                "name must not be empty",
            ));
        }
        if r.uid.is_empty() {
            errs.push(FieldError::invalid(
                path.child("uid"),
                r.uid.as_str(),
                "uid must not be empty",
            ));
        }
        if r.api_version == "v1" && r.kind == "Event" {
            errs.push(FieldError::invalid(
                path,
                golit::go(owner_reference_literal(r)),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.controller == Some(true) {
            let current = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    serde_json::to_value(refs.unwrap_or_default()).unwrap_or(Value::Null),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

/// apimachinery's checks at `metadata.finalizers` plus core's per-index check
/// that unqualified names are standard ones.
fn validate_finalizers(finalizers: Option<&[String]>, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    let Some(finalizers) = finalizers else {
        return errs;
    };
    for f in finalizers {
        for msg in is_qualified_name(f) {
            errs.push(FieldError::invalid(path, f.as_str(), msg));
        }
    }
    if finalizers.iter().any(|f| f == "orphan")
        && finalizers.iter().any(|f| f == "foregroundDeletion")
    {
        errs.push(FieldError::invalid(
            path,
            json!(finalizers),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    for (i, f) in finalizers.iter().enumerate() {
        errs.extend(validate_kube_finalizer_name(f, &path.index(i)));
    }
    errs
}

/// A finalizer name as core types require: qualified, and standard when it has no prefix.
pub(crate) fn validate_kube_finalizer_name(f: &str, path: &FieldPath) -> Errs {
    let mut errs: Errs = is_qualified_name(f)
        .into_iter()
        .map(|m| FieldError::invalid(path, f, m))
        .collect();
    if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f) {
        errs.push(FieldError::invalid(
            path,
            f,
            "name is neither a standard finalizer name nor is it fully qualified",
        ));
    }
    errs
}

/// `metav1.LabelSelector` rules: valid label keys and values, operators that
/// exist, values present exactly when the operator needs them.
pub(crate) fn validate_label_selector(sel: Option<&LabelSelector>, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    let Some(sel) = sel else {
        return errs;
    };
    errs.extend(validate_labels(
        sel.match_labels.as_ref(),
        &path.child("matchLabels"),
    ));
    for (i, req) in sel.match_expressions.iter().flatten().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let values = req.values.as_deref().unwrap_or_default();
        match req.operator.as_str() {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        p.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        p.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            op => errs.push(FieldError::invalid(
                p.child("operator"),
                op,
                "not a valid selector operator",
            )),
        }
        errs.extend(validate_label_name(&req.key, &p.child("key")));
        for (j, v) in values.iter().enumerate() {
            for msg in is_valid_label_value(v) {
                errs.push(FieldError::invalid(
                    p.child("values").index(j),
                    v.as_str(),
                    msg,
                ));
            }
        }
    }
    errs
}

/// What a `metav1.LabelSelector` selects, as kube's `LabelSelectorAsSelector` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selection {
    /// The selector is absent: it selects nothing.
    Nothing,
    /// The selector is present but empty: it selects everything.
    Everything,
    /// The selector has requirements; whether they match the labels.
    Matches(bool),
    /// The selector cannot be turned into requirements.
    Invalid,
}

pub(crate) fn evaluate_selector(
    sel: Option<&LabelSelector>,
    labels: Option<&BTreeMap<String, String>>,
) -> Selection {
    let Some(sel) = sel else {
        return Selection::Nothing;
    };
    let match_labels = sel.match_labels.as_ref().map(|m| m.len()).unwrap_or(0);
    let exprs = sel.match_expressions.as_deref().unwrap_or_default();
    if match_labels == 0 && exprs.is_empty() {
        return Selection::Everything;
    }
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let mut matches = true;
    for (k, v) in sel.match_labels.iter().flatten() {
        if !is_qualified_name(k).is_empty() || !is_valid_label_value(v).is_empty() {
            return Selection::Invalid;
        }
        matches &= labels.get(k) == Some(v);
    }
    for req in exprs {
        if !is_qualified_name(&req.key).is_empty() {
            return Selection::Invalid;
        }
        let values = req.values.as_deref().unwrap_or_default();
        if values.iter().any(|v| !is_valid_label_value(v).is_empty()) {
            return Selection::Invalid;
        }
        let got = labels.get(&req.key);
        let ok = match req.operator.as_str() {
            "In" if !values.is_empty() => got.is_some_and(|g| values.contains(g)),
            "NotIn" if !values.is_empty() => got.is_none_or(|g| !values.contains(g)),
            "Exists" if values.is_empty() => got.is_some(),
            "DoesNotExist" if values.is_empty() => got.is_none(),
            _ => return Selection::Invalid,
        };
        matches &= ok;
    }
    Selection::Matches(matches)
}

/// The bad value kube shows for a template's labels: `map[string]string{"app":"x"}`.
pub(crate) fn labels_value(labels: Option<&BTreeMap<String, String>>) -> Value {
    golit::go(golit::string_map(labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn meta(name: &str, ns: &str) -> ObjectMeta {
        ObjectMeta {
            name: (!name.is_empty()).then(|| name.to_string()),
            namespace: (!ns.is_empty()).then(|| ns.to_string()),
            ..Default::default()
        }
    }

    fn messages(errs: &Errs) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    #[test]
    fn object_meta_names() {
        let p = FieldPath::new("metadata");
        assert!(
            validate_object_meta(&meta("web", "default"), true, NameRule::Subdomain, &p).is_empty()
        );
        assert_eq!(
            messages(&validate_object_meta(
                &meta("", "default"),
                true,
                NameRule::Subdomain,
                &p
            )),
            vec!["metadata.name: Required value: name or generateName is required"]
        );
        assert_eq!(
            messages(&validate_object_meta(
                &meta("web", ""),
                true,
                NameRule::Subdomain,
                &p
            )),
            vec!["metadata.namespace: Required value"]
        );
        let errs = validate_object_meta(&meta("Web_1", "default"), true, NameRule::Subdomain, &p);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].message().starts_with(
            "metadata.name: Invalid value: \"Web_1\": a lowercase RFC 1123 subdomain"
        ));
        let mut m = meta("", "default");
        m.generate_name = Some("web-".into());
        assert_eq!(
            messages(&validate_object_meta(&m, true, NameRule::Subdomain, &p)),
            vec!["metadata.name: Required value: name or generateName is required"]
        );
        m.generate_name = Some("Web-".into());
        assert_eq!(
            validate_object_meta(&m, true, NameRule::Subdomain, &p).len(),
            2
        );
    }

    #[test]
    fn labels_annotations_finalizers() {
        let p = FieldPath::new("metadata");
        let mut m = meta("web", "default");
        m.labels = Some(labels(&[
            ("app", "web"),
            ("bad key!", "ok"),
            ("k", "bad value"),
        ]));
        let msgs = messages(&validate_object_meta(&m, true, NameRule::Subdomain, &p));
        assert_eq!(msgs.len(), 2);
        assert!(msgs[0].starts_with(
            "metadata.labels: Invalid value: \"bad key!\": name part must consist of"
        ));
        assert!(
            msgs[1].starts_with(
                "metadata.labels: Invalid value: \"bad value\": a valid label must be"
            )
        );

        let mut m = meta("web", "default");
        m.annotations = Some(labels(&[
            ("Example.com/Note", "x"),
            ("big", &"x".repeat(300 * 1024)),
        ]));
        assert_eq!(
            messages(&validate_object_meta(&m, true, NameRule::Subdomain, &p)),
            vec!["metadata.annotations: Too long: may not be more than 262144 bytes"]
        );

        let mut m = meta("web", "");
        m.finalizers = Some(vec![
            "kubernetes".into(),
            "example.com/x".into(),
            "custom".into(),
        ]);
        assert_eq!(
            messages(&validate_object_meta(&m, false, NameRule::Label, &p)),
            vec![
                "metadata.finalizers[2]: Invalid value: \"custom\": name is neither a standard finalizer name nor is it fully qualified"
            ]
        );
    }

    #[test]
    fn owner_references() {
        let p = FieldPath::new("metadata");
        let mut m = meta("web", "default");
        let owner = |kind: &str, name: &str| OwnerReference {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: name.into(),
            uid: "u".into(),
            controller: Some(true),
            ..Default::default()
        };
        m.owner_references = Some(vec![owner("ReplicaSet", "a")]);
        assert!(validate_object_meta(&m, true, NameRule::Subdomain, &p).is_empty());
        m.owner_references = Some(vec![owner("ReplicaSet", "a"), owner("ReplicaSet", "")]);
        let msgs = messages(&validate_object_meta(&m, true, NameRule::Subdomain, &p));
        assert_eq!(
            msgs[0],
            "metadata.ownerReferences.name: Invalid value: \"\": name must not be empty"
        );
        assert!(msgs[1].ends_with(
            "Only one reference can have Controller set to true. Found \"true\" in references for ReplicaSet/a and ReplicaSet/"
        ));
    }

    #[test]
    fn selectors() {
        let p = FieldPath::new("spec").child("selector");
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: None,
                },
                LabelSelectorRequirement {
                    key: "x".into(),
                    operator: "Exists".into(),
                    values: Some(vec!["a".into()]),
                },
                LabelSelectorRequirement {
                    key: "y".into(),
                    operator: "Near".into(),
                    values: None,
                },
            ]),
        };
        assert_eq!(
            messages(&validate_label_selector(Some(&sel), &p)),
            vec![
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                "spec.selector.matchExpressions[2].operator: Invalid value: \"Near\": not a valid selector operator",
            ]
        );
        assert_eq!(evaluate_selector(Some(&sel), None), Selection::Invalid);
        assert_eq!(evaluate_selector(None, None), Selection::Nothing);
        assert_eq!(
            evaluate_selector(Some(&LabelSelector::default()), None),
            Selection::Everything
        );
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "NotIn".into(),
                    values: Some(vec!["db".into()]),
                },
                LabelSelectorRequirement {
                    key: "gone".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        let web = labels(&[("app", "web"), ("tier", "fe")]);
        assert_eq!(
            evaluate_selector(Some(&sel), Some(&web)),
            Selection::Matches(true)
        );
        let db = labels(&[("app", "web"), ("tier", "db")]);
        assert_eq!(
            evaluate_selector(Some(&sel), Some(&db)),
            Selection::Matches(false)
        );
        assert_eq!(
            evaluate_selector(Some(&sel), None),
            Selection::Matches(false)
        );
    }
}
