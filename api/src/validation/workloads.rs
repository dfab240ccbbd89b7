//! Workload controllers: Deployments, ReplicaSets, StatefulSets, DaemonSets,
//! ControllerRevisions, Jobs, CronJobs and HorizontalPodAutoscalers.
//!
//! Mirrors `pkg/apis/apps/validation`, `pkg/apis/batch/validation` and
//! `pkg/apis/autoscaling/validation`: replicas and history limits are
//! non-negative, selectors are present, non-empty and match the template's
//! labels, templates restart as the controller requires, strategies are known
//! and sane, and what apps/v1 and batch/v1 freeze on update stays frozen.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec, DeploymentStrategy,
    ReplicaSet, ReplicaSetSpec, StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::autoscaling::v2::{HPAScalingRules, HorizontalPodAutoscaler, MetricTarget};
use k8s_openapi::api::batch::v1::{CronJob, Job, JobSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::cron::{looks_like_time_zone, parse_standard};
use super::meta::{
    Selection, evaluate_selector, labels_value, validate_label_selector, validate_labels,
    validate_object_meta,
};
use super::names::{NameRule, is_valid_percent, name_errors};
use super::pod::validate_pod_template_spec;
use super::{Errs, FieldError, FieldPath, IS_NEGATIVE, golit};
use crate::quantity::parse_quantity;

fn meta_path() -> FieldPath {
    FieldPath::new("metadata")
}

fn nonneg(v: Option<i32>, path: &FieldPath) -> Errs {
    match v {
        Some(n) if n < 0 => vec![FieldError::invalid(path, n, IS_NEGATIVE)],
        _ => Vec::new(),
    }
}

fn nonneg64(v: Option<i64>, path: &FieldPath) -> Errs {
    match v {
        Some(n) if n < 0 => vec![FieldError::invalid(path, n, IS_NEGATIVE)],
        _ => Vec::new(),
    }
}

fn template_labels(t: &PodTemplateSpec) -> Option<&BTreeMap<String, String>> {
    t.metadata.as_ref().and_then(|m| m.labels.as_ref())
}

fn restart_policy(t: &PodTemplateSpec) -> &str {
    t.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("")
}

fn active_deadline(t: &PodTemplateSpec) -> Option<i64> {
    t.spec.as_ref().and_then(|s| s.active_deadline_seconds)
}

/// The selector rules apps/v1 controllers share: present, valid, not empty,
/// matching the template.
fn validate_selector_and_template(
    selector: Option<&LabelSelector>,
    template: &PodTemplateSpec,
    kind: &str,
    spec_path: &FieldPath,
    extra_volumes: &[String],
) -> Errs {
    let mut errs = Vec::new();
    let sel_path = spec_path.child("selector");
    match selector {
        None => errs.push(FieldError::required(&sel_path, "")),
        Some(sel) => {
            errs.extend(validate_label_selector(Some(sel), &sel_path));
            let empty = sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && sel.match_expressions.as_ref().is_none_or(|e| e.is_empty());
            if empty {
                errs.push(FieldError::invalid(
                    &sel_path,
                    golit::label_selector_value(Some(sel)),
                    format!("empty selector is invalid for {kind}"),
                ));
            }
        }
    }
    let tp = spec_path.child("template");
    match evaluate_selector(selector, template_labels(template)) {
        Selection::Invalid => errs.push(FieldError::invalid(
            &sel_path,
            golit::label_selector_value(selector),
            "invalid label selector",
        )),
        Selection::Nothing | Selection::Matches(false) => errs.push(FieldError::invalid(
            tp.child("metadata").child("labels"),
            labels_value(template_labels(template)),
            "`selector` does not match template `labels`",
        )),
        Selection::Everything | Selection::Matches(true) => {}
    }
    errs.extend(validate_pod_template_spec(template, &tp, extra_volumes));
    let rp = restart_policy(template);
    if rp != "Always" {
        errs.push(FieldError::not_supported(
            tp.child("spec").child("restartPolicy"),
            rp,
            &["Always"],
        ));
    }
    errs
}

fn selector_immutable(
    new: Option<&LabelSelector>,
    old: Option<&LabelSelector>,
    path: &FieldPath,
) -> Errs {
    if new == old {
        Vec::new()
    } else {
        vec![FieldError::immutable(
            path,
            golit::label_selector_value(new),
        )]
    }
}

/// A value that is an integer or a percentage (`25%`), as rolling updates take.
fn validate_int_or_percent(v: &IntOrString, path: &FieldPath) -> Errs {
    match v {
        IntOrString::String(s) => is_valid_percent(s)
            .into_iter()
            .map(|m| FieldError::invalid(path, golit::go(golit::int_or_string(Some(v))), m))
            .collect(),
        IntOrString::Int(n) => nonneg(Some(*n), path),
    }
}

fn int_or_percent_value(v: &IntOrString) -> i64 {
    match v {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(s) => {
            let digits = if is_valid_percent(s).is_empty() {
                &s[..s.len() - 1]
            } else {
                s.as_str()
            };
            digits.parse().unwrap_or(0)
        }
    }
}

fn not_more_than_100_percent(v: &IntOrString, path: &FieldPath) -> Errs {
    match v {
        IntOrString::String(s)
            if is_valid_percent(s).is_empty() && int_or_percent_value(v) > 100 =>
        {
            vec![FieldError::invalid(
                path,
                golit::go(golit::int_or_string(Some(v))),
                "must not be greater than 100%",
            )]
        }
        _ => Vec::new(),
    }
}

fn strategy_literal(kind: &str, type_: &str, rolling: &str, present: bool) -> Value {
    golit::go(format!(
        "apps.{kind}{{Type:{}, RollingUpdate:{}}}",
        golit::quote(type_),
        golit::pointer(&format!("apps.{rolling}"), present)
    ))
}

pub(crate) fn validate_deployment(
    d: &Deployment,
    old: Option<&Deployment>,
    selector_set: bool,
) -> Errs {
    let mut errs = validate_object_meta(&d.metadata, true, NameRule::Subdomain, &meta_path());
    let p = FieldPath::new("spec");
    let default_spec = DeploymentSpec::default();
    let spec = d.spec.as_ref().unwrap_or(&default_spec);
    if let Some(old) = old {
        let old_sel = old.spec.as_ref().map(|s| &s.selector);
        errs.extend(selector_immutable(
            selector_set.then_some(&spec.selector),
            old_sel,
            &p.child("selector"),
        ));
    }
    errs.extend(nonneg(
        Some(spec.replicas.unwrap_or(0)),
        &p.child("replicas"),
    ));
    errs.extend(validate_selector_and_template(
        selector_set.then_some(&spec.selector),
        &spec.template,
        "deployment",
        &p,
        &[],
    ));
    if active_deadline(&spec.template).is_some() {
        errs.push(FieldError::forbidden(
            p.child("template")
                .child("spec")
                .child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    errs.extend(validate_deployment_strategy(
        spec.strategy.as_ref(),
        &p.child("strategy"),
    ));
    errs.extend(nonneg(spec.min_ready_seconds, &p.child("minReadySeconds")));
    errs.extend(nonneg(
        spec.revision_history_limit,
        &p.child("revisionHistoryLimit"),
    ));
    if let Some(pds) = spec.progress_deadline_seconds {
        if pds <= 0 {
            errs.push(FieldError::invalid(
                p.child("progressDeadlineSeconds"),
                pds,
                "must be greater than zero",
            ));
        }
        if pds <= spec.min_ready_seconds.unwrap_or(0) {
            errs.push(FieldError::invalid(
                p.child("progressDeadlineSeconds"),
                pds,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errs
}

fn validate_deployment_strategy(strategy: Option<&DeploymentStrategy>, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    let default = DeploymentStrategy::default();
    let strategy = strategy.unwrap_or(&default);
    let type_ = strategy.type_.as_deref().unwrap_or("");
    match type_ {
        "Recreate" => {
            if strategy.rolling_update.is_some() {
                errs.push(FieldError::forbidden(
                    path.child("rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        "RollingUpdate" => match &strategy.rolling_update {
            None => errs.push(FieldError::required(
                path.child("rollingUpdate"),
                "this should be defaulted and never be nil",
            )),
            Some(ru) => {
                let rp = path.child("rollingUpdate");
                let zero = IntOrString::Int(0);
                let mu = ru.max_unavailable.as_ref().unwrap_or(&zero);
                let ms = ru.max_surge.as_ref().unwrap_or(&zero);
                errs.extend(validate_int_or_percent(mu, &rp.child("maxUnavailable")));
                errs.extend(validate_int_or_percent(ms, &rp.child("maxSurge")));
                if int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0 {
                    errs.push(FieldError::invalid(
                        rp.child("maxUnavailable"),
                        golit::go(golit::int_or_string(Some(mu))),
                        "may not be 0 when `maxSurge` is 0",
                    ));
                }
                errs.extend(not_more_than_100_percent(mu, &rp.child("maxUnavailable")));
            }
        },
        _ => errs.push(FieldError::not_supported(
            path,
            strategy_literal(
                "DeploymentStrategy",
                type_,
                "RollingUpdateDeployment",
                strategy.rolling_update.is_some(),
            ),
            &["Recreate", "RollingUpdate"],
        )),
    }
    errs
}

pub(crate) fn validate_replica_set(
    rs: &ReplicaSet,
    old: Option<&ReplicaSet>,
    selector_set: bool,
) -> Errs {
    let mut errs = validate_object_meta(&rs.metadata, true, NameRule::Subdomain, &meta_path());
    let p = FieldPath::new("spec");
    let default_spec = ReplicaSetSpec::default();
    let spec = rs.spec.as_ref().unwrap_or(&default_spec);
    if let Some(old) = old {
        let old_sel = old.spec.as_ref().map(|s| &s.selector);
        errs.extend(selector_immutable(
            selector_set.then_some(&spec.selector),
            old_sel,
            &p.child("selector"),
        ));
    }
    errs.extend(nonneg(
        Some(spec.replicas.unwrap_or(0)),
        &p.child("replicas"),
    ));
    errs.extend(nonneg(spec.min_ready_seconds, &p.child("minReadySeconds")));
    let default_template = PodTemplateSpec::default();
    let template = spec.template.as_ref().unwrap_or(&default_template);
    // ReplicaSets share Deployments' wording for an empty selector.
    errs.extend(validate_selector_and_template(
        selector_set.then_some(&spec.selector),
        template,
        "deployment",
        &p,
        &[],
    ));
    if active_deadline(template).is_some() {
        errs.push(FieldError::forbidden(
            p.child("template")
                .child("spec")
                .child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    errs
}

pub(crate) fn validate_daemon_set(
    ds: &DaemonSet,
    old: Option<&DaemonSet>,
    selector_set: bool,
) -> Errs {
    let mut errs = validate_object_meta(&ds.metadata, true, NameRule::Subdomain, &meta_path());
    let p = FieldPath::new("spec");
    let default_spec = DaemonSetSpec::default();
    let spec = ds.spec.as_ref().unwrap_or(&default_spec);
    if let Some(old) = old {
        let old_sel = old.spec.as_ref().map(|s| &s.selector);
        errs.extend(selector_immutable(
            selector_set.then_some(&spec.selector),
            old_sel,
            &p.child("selector"),
        ));
    }
    errs.extend(validate_selector_and_template(
        selector_set.then_some(&spec.selector),
        &spec.template,
        "daemonset",
        &p,
        &[],
    ));
    if let Some(ads) = active_deadline(&spec.template) {
        errs.push(FieldError::invalid(
            p.child("template")
                .child("spec")
                .child("activeDeadlineSeconds"),
            ads,
            "activeDeadlineSeconds in DaemonSet is not Supported",
        ));
    }
    errs.extend(nonneg(spec.min_ready_seconds, &p.child("minReadySeconds")));
    errs.extend(nonneg(
        spec.revision_history_limit,
        &p.child("revisionHistoryLimit"),
    ));
    let up = p.child("updateStrategy");
    let default_strategy = Default::default();
    let strategy = spec.update_strategy.as_ref().unwrap_or(&default_strategy);
    let type_ = strategy.type_.as_deref().unwrap_or("");
    match type_ {
        "OnDelete" => {}
        "RollingUpdate" => match &strategy.rolling_update {
            None => errs.push(FieldError::required(up.child("rollingUpdate"), "")),
            Some(ru) => {
                let rp = up.child("rollingUpdate");
                let zero = IntOrString::Int(0);
                let mu = ru.max_unavailable.as_ref().unwrap_or(&zero);
                let ms = ru.max_surge.as_ref().unwrap_or(&zero);
                errs.extend(validate_int_or_percent(mu, &rp.child("maxUnavailable")));
                errs.extend(validate_int_or_percent(ms, &rp.child("maxSurge")));
                errs.extend(not_more_than_100_percent(mu, &rp.child("maxUnavailable")));
                errs.extend(not_more_than_100_percent(ms, &rp.child("maxSurge")));
                match (int_or_percent_value(mu) != 0, int_or_percent_value(ms) != 0) {
                    (true, true) => errs.push(FieldError::invalid(
                        rp.child("maxSurge"),
                        golit::go(golit::int_or_string(Some(ms))),
                        "may not be set when maxUnavailable is non-zero",
                    )),
                    (false, false) => errs.push(FieldError::required(
                        rp.child("maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    )),
                    _ => {}
                }
            }
        },
        _ => errs.push(FieldError::not_supported(
            &up,
            strategy_literal(
                "DaemonSetUpdateStrategy",
                type_,
                "RollingUpdateDaemonSet",
                strategy.rolling_update.is_some(),
            ),
            &["RollingUpdate", "OnDelete"],
        )),
    }
    errs
}

fn sts_strategy_literal(s: &StatefulSetUpdateStrategy) -> Value {
    strategy_literal(
        "StatefulSetUpdateStrategy",
        s.type_.as_deref().unwrap_or(""),
        "RollingUpdateStatefulSetStrategy",
        s.rolling_update.is_some(),
    )
}

pub(crate) fn validate_stateful_set(
    sts: &StatefulSet,
    old: Option<&StatefulSet>,
    selector_set: bool,
) -> Errs {
    let mut errs = validate_object_meta(&sts.metadata, true, NameRule::Subdomain, &meta_path());
    let p = FieldPath::new("spec");
    let default_spec = StatefulSetSpec::default();
    let spec = sts.spec.as_ref().unwrap_or(&default_spec);
    match spec.pod_management_policy.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(p.child("podManagementPolicy"), "")),
        "OrderedReady" | "Parallel" => {}
        other => errs.push(FieldError::invalid(
            p.child("podManagementPolicy"),
            other,
            "must be 'OrderedReady' or 'Parallel'",
        )),
    }
    let up = p.child("updateStrategy");
    let default_strategy = StatefulSetUpdateStrategy::default();
    let strategy = spec.update_strategy.as_ref().unwrap_or(&default_strategy);
    match strategy.type_.as_deref().unwrap_or("") {
        "" => errs.push(FieldError::required(&up, "")),
        "OnDelete" => {
            if let Some(ru) = &strategy.rolling_update {
                let literal = format!(
                    "apps.RollingUpdateStatefulSetStrategy{{Partition:{}, MaxUnavailable:{}}}",
                    ru.partition.unwrap_or(0),
                    golit::pointer("intstr.IntOrString", ru.max_unavailable.is_some())
                );
                errs.push(FieldError::invalid(
                    up.child("rollingUpdate"),
                    golit::go(literal),
                    "only allowed for updateStrategy 'RollingUpdate'",
                ));
            }
        }
        "RollingUpdate" => {
            if let Some(ru) = &strategy.rolling_update {
                let rp = up.child("rollingUpdate");
                errs.extend(nonneg(ru.partition, &rp.child("partition")));
                if let Some(mu) = &ru.max_unavailable {
                    errs.extend(validate_int_or_percent(mu, &rp.child("maxUnavailable")));
                    if int_or_percent_value(mu) == 0 {
                        errs.push(FieldError::invalid(
                            rp.child("maxUnavailable"),
                            golit::go(golit::int_or_string(Some(mu))),
                            "must be greater than 0",
                        ));
                    }
                    errs.extend(not_more_than_100_percent(mu, &rp.child("maxUnavailable")));
                }
            }
        }
        _ => errs.push(FieldError::invalid(
            &up,
            sts_strategy_literal(strategy),
            "must be 'RollingUpdate' or 'OnDelete'",
        )),
    }
    if let Some(policy) = &spec.persistent_volume_claim_retention_policy {
        let pp = p.child("persistentVolumeClaimRetentionPolicy");
        for (field, v) in [
            ("whenDeleted", &policy.when_deleted),
            ("whenScaled", &policy.when_scaled),
        ] {
            match v.as_deref().unwrap_or("") {
                "Retain" | "Delete" => {}
                other => errs.push(FieldError::not_supported(
                    pp.child(field),
                    other,
                    &["Retain", "Delete"],
                )),
            }
        }
    }
    errs.extend(nonneg(
        Some(spec.replicas.unwrap_or(0)),
        &p.child("replicas"),
    ));
    errs.extend(nonneg(spec.min_ready_seconds, &p.child("minReadySeconds")));
    if let Some(start) = spec.ordinals.as_ref().and_then(|o| o.start) {
        errs.extend(nonneg(Some(start), &p.child("ordinals").child("start")));
    }
    // Pods get the claim templates as volumes, so mounts may name them.
    let claim_names: Vec<String> = spec
        .volume_claim_templates
        .iter()
        .flatten()
        .filter_map(|t| t.metadata.name.clone())
        .collect();
    errs.extend(validate_selector_and_template(
        selector_set.then_some(&spec.selector),
        &spec.template,
        "statefulset",
        &p,
        &claim_names,
    ));
    if active_deadline(&spec.template).is_some() {
        errs.push(FieldError::forbidden(
            p.child("template")
                .child("spec")
                .child("activeDeadlineSeconds"),
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    if let Some(old) = old {
        let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
        let frozen = |s: &StatefulSetSpec| {
            let mut s = s.clone();
            s.replicas = None;
            s.ordinals = None;
            s.template = PodTemplateSpec::default();
            s.update_strategy = None;
            s.revision_history_limit = None;
            s.persistent_volume_claim_retention_policy = None;
            s.min_ready_seconds = None;
            serde_json::to_value(s).unwrap_or(Value::Null)
        };
        if frozen(spec) != frozen(old_spec) {
            errs.push(FieldError::forbidden(
                &p,
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
    errs
}

pub(crate) fn validate_controller_revision(
    cr: &ControllerRevision,
    old: Option<&ControllerRevision>,
) -> Errs {
    let mut errs = validate_object_meta(&cr.metadata, true, NameRule::Subdomain, &meta_path());
    if cr.data.is_none() {
        errs.push(FieldError::required("data", "data is mandatory"));
    }
    errs.extend(nonneg64(Some(cr.revision), &FieldPath::new("revision")));
    if let Some(old) = old
        && old.data != cr.data
    {
        errs.push(FieldError::immutable(
            "data",
            serde_json::to_value(&cr.data).unwrap_or(Value::Null),
        ));
    }
    errs
}

const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
const LEGACY_CONTROLLER_UID: &str = "controller-uid";
const JOB_NAME: &str = "batch.kubernetes.io/job-name";
const LEGACY_JOB_NAME: &str = "job-name";

/// The rules a Job spec and a CronJob's job template share.
fn validate_job_spec_common(spec: &JobSpec, p: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    errs.extend(nonneg(spec.parallelism, &p.child("parallelism")));
    errs.extend(nonneg(spec.completions, &p.child("completions")));
    errs.extend(nonneg64(
        spec.active_deadline_seconds,
        &p.child("activeDeadlineSeconds"),
    ));
    errs.extend(nonneg(spec.backoff_limit, &p.child("backoffLimit")));
    errs.extend(nonneg(
        spec.ttl_seconds_after_finished,
        &p.child("ttlSecondsAfterFinished"),
    ));
    errs.extend(nonneg(
        spec.backoff_limit_per_index,
        &p.child("backoffLimitPerIndex"),
    ));
    match spec.completion_mode.as_deref() {
        None | Some("NonIndexed") => {
            if spec.backoff_limit_per_index.is_some() {
                errs.push(FieldError::forbidden(
                    p.child("backoffLimitPerIndex"),
                    "requires indexed completion mode",
                ));
            }
        }
        Some("Indexed") => {
            if spec.completions.is_none() {
                errs.push(FieldError::required(
                    p.child("completions"),
                    "when completion mode is Indexed",
                ));
            }
        }
        Some(other) => errs.push(FieldError::not_supported(
            p.child("completionMode"),
            other,
            &["NonIndexed", "Indexed"],
        )),
    }
    if let Some(prp) = spec.pod_replacement_policy.as_deref() {
        match prp {
            "TerminatingOrFailed" if spec.pod_failure_policy.is_some() => errs.push(
                FieldError::not_supported(p.child("podReplacementPolicy"), prp, &["Failed"]),
            ),
            "TerminatingOrFailed" | "Failed" => {}
            other => errs.push(FieldError::not_supported(
                p.child("podReplacementPolicy"),
                other,
                &["Failed", "TerminatingOrFailed"],
            )),
        }
    }
    let tp = p.child("template");
    errs.extend(validate_pod_template_spec(&spec.template, &tp, &[]));
    let rp = restart_policy(&spec.template);
    if rp != "OnFailure" && rp != "Never" {
        errs.push(FieldError::not_supported(
            tp.child("spec").child("restartPolicy"),
            rp,
            &["OnFailure", "Never"],
        ));
    } else if rp == "OnFailure" && spec.pod_failure_policy.is_some() {
        errs.push(FieldError::invalid(
            tp.child("spec").child("restartPolicy"),
            rp,
            "only \"Never\" is supported when podFailurePolicy is specified",
        ));
    }
    errs
}

pub(crate) fn validate_job(job: &Job, old: Option<&Job>) -> Errs {
    let mut errs = validate_object_meta(&job.metadata, true, NameRule::Subdomain, &meta_path());
    let p = FieldPath::new("spec");
    let default_spec = JobSpec::default();
    let spec = job.spec.as_ref().unwrap_or(&default_spec);
    errs.extend(validate_generated_selector(job, spec));
    errs.extend(validate_job_spec_common(spec, &p));
    match &spec.selector {
        None => errs.push(FieldError::required(p.child("selector"), "")),
        Some(sel) => errs.extend(validate_label_selector(Some(sel), &p.child("selector"))),
    }
    if spec.selector.is_some()
        && evaluate_selector(spec.selector.as_ref(), template_labels(&spec.template))
            == Selection::Matches(false)
    {
        errs.push(FieldError::invalid(
            p.child("template").child("metadata").child("labels"),
            labels_value(template_labels(&spec.template)),
            "`selector` does not match template `labels`",
        ));
    }
    if let Some(old) = old {
        let old_spec = old.spec.as_ref().unwrap_or(&default_spec);
        errs.extend(validate_job_update(spec, old_spec, old, &p));
    }
    errs
}

/// A selector kube generated must still be the one it generated, and the
/// template must still carry the labels it selects on.
fn validate_generated_selector(job: &Job, spec: &JobSpec) -> Errs {
    let mut errs = Vec::new();
    if spec.manual_selector == Some(true) || spec.selector.is_none() {
        return errs;
    }
    let uid = job.metadata.uid.as_deref().unwrap_or("");
    let name = job.metadata.name.as_deref().unwrap_or("");
    // Without a uid there is nothing to compare against; kube always has one by now.
    if uid.is_empty() {
        return errs;
    }
    let tmp = FieldPath::new("spec").child("template").child("metadata");
    let labels = template_labels(&spec.template);
    for (key, want) in [
        (LEGACY_CONTROLLER_UID, uid),
        (LEGACY_JOB_NAME, name),
        (CONTROLLER_UID, uid),
        (JOB_NAME, name),
    ] {
        match labels.and_then(|l| l.get(key)) {
            None => errs.push(FieldError::required(
                tmp.child("labels").key(key),
                format!("must be '{want}'"),
            )),
            Some(got) if got != want => errs.push(FieldError::invalid(
                tmp.child("labels").key(key),
                labels_value(labels),
                format!("must be '{want}'"),
            )),
            Some(_) => {}
        }
    }
    let expected: BTreeMap<String, String> = [
        (CONTROLLER_UID, uid),
        (JOB_NAME, name),
        (LEGACY_CONTROLLER_UID, uid),
        (LEGACY_JOB_NAME, name),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if evaluate_selector(spec.selector.as_ref(), Some(&expected)) == Selection::Matches(false) {
        errs.push(FieldError::invalid(
            FieldPath::new("spec").child("selector"),
            golit::label_selector_value(spec.selector.as_ref()),
            "`selector` not auto-generated",
        ));
    }
    errs
}

fn pointer_value<T: serde::Serialize>(v: &Option<T>) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn validate_job_update(spec: &JobSpec, old_spec: &JobSpec, old: &Job, p: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    let elastic = spec.completion_mode.as_deref() == Some("Indexed")
        && old_spec.completion_mode.as_deref() == Some("Indexed");
    if spec.completions != old_spec.completions {
        if !elastic {
            errs.push(FieldError::immutable(
                p.child("completions"),
                pointer_value(&spec.completions),
            ));
        } else if spec.completions != spec.parallelism {
            errs.push(FieldError::invalid(
                p.child("completions"),
                pointer_value(&spec.completions),
                format!(
                    "can only be modified in tandem with {}",
                    p.child("parallelism")
                ),
            ));
        }
    }
    errs.extend(selector_immutable(
        spec.selector.as_ref(),
        old_spec.selector.as_ref(),
        &p.child("selector"),
    ));
    // A suspended Job that never started may still retarget its pods.
    let never_started = old_spec.suspend == Some(true)
        && old
            .status
            .as_ref()
            .and_then(|s| s.start_time.as_ref())
            .is_none();
    let frozen_template = |t: &PodTemplateSpec| {
        let mut t = t.clone();
        if never_started {
            if let Some(m) = t.metadata.as_mut() {
                m.labels = None;
                m.annotations = None;
            }
            if let Some(s) = t.spec.as_mut() {
                s.node_selector = None;
                s.affinity = None;
                s.tolerations = None;
                s.scheduling_gates = None;
            }
        }
        serde_json::to_value(t).unwrap_or(Value::Null)
    };
    let new_template = frozen_template(&spec.template);
    if new_template != frozen_template(&old_spec.template) {
        let value = serde_json::to_value(&spec.template).unwrap_or(Value::Null);
        errs.push(FieldError::immutable(p.child("template"), value));
    }
    for (field, n, o) in [
        (
            "completionMode",
            pointer_value(&spec.completion_mode),
            pointer_value(&old_spec.completion_mode),
        ),
        (
            "podFailurePolicy",
            pointer_value(&spec.pod_failure_policy),
            pointer_value(&old_spec.pod_failure_policy),
        ),
        (
            "backoffLimitPerIndex",
            pointer_value(&spec.backoff_limit_per_index),
            pointer_value(&old_spec.backoff_limit_per_index),
        ),
        (
            "managedBy",
            pointer_value(&spec.managed_by),
            pointer_value(&old_spec.managed_by),
        ),
        (
            "successPolicy",
            pointer_value(&spec.success_policy),
            pointer_value(&old_spec.success_policy),
        ),
    ] {
        if n != o {
            errs.push(FieldError::immutable(p.child(field), n));
        }
    }
    errs
}

pub(crate) fn validate_cron_job(cj: &CronJob, old: Option<&CronJob>) -> Errs {
    let mut errs = validate_object_meta(&cj.metadata, true, NameRule::Subdomain, &meta_path());
    let name = cj.metadata.name.as_deref().unwrap_or("");
    if old.is_none() && name.len() > 52 {
        errs.push(FieldError::invalid(
            meta_path().child("name"),
            name,
            "must be no more than 52 characters",
        ));
    }
    let p = FieldPath::new("spec");
    let Some(spec) = &cj.spec else {
        errs.push(FieldError::required(p.child("schedule"), ""));
        return errs;
    };
    let sp = p.child("schedule");
    if spec.schedule.is_empty() {
        errs.push(FieldError::required(&sp, ""));
    } else {
        if let Err(e) = parse_standard(&spec.schedule) {
            errs.push(FieldError::invalid(&sp, spec.schedule.as_str(), e));
        }
        // Schedules stored before the timeZone field existed may keep their TZ prefix.
        let old_had_tz = old
            .and_then(|o| o.spec.as_ref())
            .is_some_and(|s| s.schedule.contains("TZ"));
        if spec.schedule.contains("TZ") {
            if spec.time_zone.is_some() {
                errs.push(FieldError::invalid(
                    &sp,
                    spec.schedule.as_str(),
                    "cannot use both timeZone field and TZ or CRON_TZ in schedule",
                ));
            } else if !old_had_tz {
                errs.push(FieldError::invalid(
                    &sp,
                    spec.schedule.as_str(),
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                ));
            }
        }
    }
    if let Some(tz) = &spec.time_zone {
        let tzp = p.child("timeZone");
        if tz.eq_ignore_ascii_case("local") {
            errs.push(FieldError::invalid(
                &tzp,
                tz.as_str(),
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
            ));
        } else if !looks_like_time_zone(tz) {
            errs.push(FieldError::invalid(
                &tzp,
                tz.as_str(),
                format!("unknown time zone {tz}"),
            ));
        }
    }
    errs.extend(nonneg64(
        spec.starting_deadline_seconds,
        &p.child("startingDeadlineSeconds"),
    ));
    match spec.concurrency_policy.as_deref().unwrap_or("") {
        "Allow" | "Forbid" | "Replace" => {}
        "" => errs.push(FieldError::required(p.child("concurrencyPolicy"), "")),
        other => errs.push(FieldError::not_supported(
            p.child("concurrencyPolicy"),
            other,
            &["Allow", "Forbid", "Replace"],
        )),
    }
    errs.extend(nonneg(
        spec.successful_jobs_history_limit,
        &p.child("successfulJobsHistoryLimit"),
    ));
    errs.extend(nonneg(
        spec.failed_jobs_history_limit,
        &p.child("failedJobsHistoryLimit"),
    ));
    let jt = p.child("jobTemplate");
    if let Some(m) = &spec.job_template.metadata {
        errs.extend(validate_labels(
            m.labels.as_ref(),
            &jt.child("metadata").child("labels"),
        ));
        errs.extend(super::meta::validate_annotations(
            m.annotations.as_ref(),
            &jt.child("metadata").child("annotations"),
        ));
    }
    let default_spec = JobSpec::default();
    let job_spec = spec.job_template.spec.as_ref().unwrap_or(&default_spec);
    errs.extend(validate_job_spec_common(job_spec, &jt.child("spec")));
    if let Some(sel) = &job_spec.selector {
        errs.push(FieldError::invalid(
            jt.child("spec").child("selector"),
            golit::label_selector_value(Some(sel)),
            "`selector` will be auto-generated",
        ));
    }
    if job_spec.manual_selector == Some(true) {
        errs.push(FieldError::not_supported(
            jt.child("spec").child("manualSelector"),
            true,
            &["nil", "false"],
        ));
    }
    errs
}

fn validate_metric_target(t: &MetricTarget, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    if t.type_.is_empty() {
        errs.push(FieldError::required(
            path.child("type"),
            "must specify a metric target type",
        ));
    }
    if !matches!(t.type_.as_str(), "Utilization" | "Value" | "AverageValue") {
        errs.push(FieldError::invalid(
            path.child("type"),
            t.type_.as_str(),
            "must be either Utilization, Value, or AverageValue",
        ));
    }
    for (field, q) in [("value", &t.value), ("averageValue", &t.average_value)] {
        if let Some(q) = q
            && parse_quantity(q.0.trim()).is_ok_and(|v| v.signum() != 1)
        {
            errs.push(FieldError::invalid(
                path.child(field),
                q.0.as_str(),
                "must be positive",
            ));
        }
    }
    if let Some(u) = t.average_utilization.filter(|u| *u < 1) {
        errs.push(FieldError::invalid(
            path.child("averageUtilization"),
            u,
            "must be greater than 0",
        ));
    }
    errs
}

fn validate_scaling_rules(rules: Option<&HPAScalingRules>, path: &FieldPath) -> Errs {
    let mut errs = Vec::new();
    let Some(rules) = rules else {
        return errs;
    };
    if let Some(w) = rules.stabilization_window_seconds {
        if w < 0 {
            errs.push(FieldError::invalid(
                path.child("stabilizationWindowSeconds"),
                w,
                "must be greater than or equal to zero",
            ));
        }
        if w > 3600 {
            errs.push(FieldError::invalid(
                path.child("stabilizationWindowSeconds"),
                w,
                "must be less than or equal to 3600",
            ));
        }
    }
    if let Some(sp) = rules.select_policy.as_deref()
        && !matches!(sp, "Max" | "Min" | "Disabled")
    {
        errs.push(FieldError::not_supported(
            path.child("selectPolicy"),
            sp,
            &["Max", "Min", "Disabled"],
        ));
    }
    let pp = path.child("policies");
    let policies = rules.policies.as_deref().unwrap_or_default();
    if policies.is_empty() {
        errs.push(FieldError::required(
            &pp,
            "must specify at least one Policy",
        ));
    }
    for (i, policy) in policies.iter().enumerate() {
        let ip = pp.index(i);
        if policy.type_ != "Pods" && policy.type_ != "Percent" {
            errs.push(FieldError::not_supported(
                ip.child("type"),
                policy.type_.as_str(),
                &["Pods", "Percent"],
            ));
        }
        if policy.value <= 0 {
            errs.push(FieldError::invalid(
                ip.child("value"),
                policy.value,
                "must be greater than zero",
            ));
        }
        if policy.period_seconds <= 0 {
            errs.push(FieldError::invalid(
                ip.child("periodSeconds"),
                policy.period_seconds,
                "must be greater than zero",
            ));
        }
        if policy.period_seconds > 1800 {
            errs.push(FieldError::invalid(
                ip.child("periodSeconds"),
                policy.period_seconds,
                "must be less than or equal to 1800",
            ));
        }
    }
    errs
}

pub(crate) fn validate_hpa(
    hpa: &HorizontalPodAutoscaler,
    _old: Option<&HorizontalPodAutoscaler>,
) -> Errs {
    let mut errs = validate_object_meta(&hpa.metadata, true, NameRule::Subdomain, &meta_path());
    let p = FieldPath::new("spec");
    let default_spec = Default::default();
    let spec = hpa.spec.as_ref().unwrap_or(&default_spec);
    if let Some(min) = spec.min_replicas.filter(|m| *m < 1) {
        errs.push(FieldError::invalid(
            p.child("minReplicas"),
            min,
            "must be greater than or equal to 1",
        ));
    }
    if spec.max_replicas < 1 {
        errs.push(FieldError::invalid(
            p.child("maxReplicas"),
            spec.max_replicas,
            "must be greater than 0",
        ));
    }
    if let Some(min) = spec.min_replicas
        && spec.max_replicas < min
    {
        errs.push(FieldError::invalid(
            p.child("maxReplicas"),
            spec.max_replicas,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    let rp = p.child("scaleTargetRef");
    for (field, v) in [
        ("kind", &spec.scale_target_ref.kind),
        ("name", &spec.scale_target_ref.name),
    ] {
        if v.is_empty() {
            errs.push(FieldError::required(rp.child(field), ""));
        } else {
            for msg in name_errors(NameRule::PathSegment, v, false) {
                errs.push(FieldError::invalid(rp.child(field), v.as_str(), msg));
            }
        }
    }
    for (i, m) in spec.metrics.iter().flatten().enumerate() {
        let mp = p.child("metrics").index(i);
        let present = [
            ("object", m.object.is_some()),
            ("pods", m.pods.is_some()),
            ("resource", m.resource.is_some()),
            ("external", m.external.is_some()),
            ("containerResource", m.container_resource.is_some()),
        ];
        if m.type_.is_empty() {
            errs.push(FieldError::required(
                mp.child("type"),
                "must specify a metric source type",
            ));
        }
        let expected = match m.type_.as_str() {
            "Object" => "object",
            "Pods" => "pods",
            "Resource" => "resource",
            "External" => "external",
            "ContainerResource" => "containerResource",
            other => {
                errs.push(FieldError::not_supported(
                    mp.child("type"),
                    other,
                    &[
                        "Object",
                        "Pods",
                        "Resource",
                        "External",
                        "ContainerResource",
                    ],
                ));
                ""
            }
        };
        if !expected.is_empty() && !present.iter().any(|(n, set)| *n == expected && *set) {
            errs.push(FieldError::required(
                mp.child(expected),
                "must populate information for the given metric source",
            ));
        }
        if present.iter().filter(|(_, set)| *set).count() != 1 {
            for (name, set) in present {
                if set && name != expected {
                    errs.push(FieldError::forbidden(
                        mp.child(name),
                        "must populate the given metric source only",
                    ));
                }
            }
        }
        if let Some(r) = &m.resource {
            if r.name.is_empty() {
                errs.push(FieldError::required(
                    mp.child("resource").child("name"),
                    "must specify a resource name",
                ));
            }
            errs.extend(validate_metric_target(
                &r.target,
                &mp.child("resource").child("target"),
            ));
        }
        if let Some(r) = &m.container_resource {
            let cp = mp.child("containerResource");
            if r.name.is_empty() {
                errs.push(FieldError::required(
                    cp.child("name"),
                    "must specify a resource name",
                ));
            }
            if r.container.is_empty() {
                errs.push(FieldError::required(
                    cp.child("container"),
                    "must specify a container",
                ));
            }
            errs.extend(validate_metric_target(&r.target, &cp.child("target")));
        }
    }
    if let Some(b) = &spec.behavior {
        let bp = p.child("behavior");
        errs.extend(validate_scaling_rules(
            b.scale_up.as_ref(),
            &bp.child("scaleUp"),
        ));
        errs.extend(validate_scaling_rules(
            b.scale_down.as_ref(),
            &bp.child("scaleDown"),
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container() -> Value {
        json!({"name": "app", "image": "nginx", "imagePullPolicy": "Always", "terminationMessagePolicy": "File"})
    }

    fn template(labels: Value, restart: &str) -> Value {
        json!({"metadata": {"labels": labels}, "spec": {"containers": [container()], "restartPolicy": restart,
            "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30}})
    }

    fn deployment(spec_patch: Value) -> Value {
        let mut spec = json!({
            "replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": template(json!({"app": "web"}), "Always"),
        });
        for (k, v) in spec_patch.as_object().unwrap() {
            spec[k] = v.clone();
        }
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    fn msgs(errs: Errs) -> Vec<String> {
        errs.iter().map(FieldError::message).collect()
    }

    fn deploy_msgs(new: Value, old: Option<Value>) -> Vec<String> {
        let set = new.pointer("/spec/selector").is_some_and(|v| !v.is_null());
        let new: Deployment = serde_json::from_value(new).unwrap();
        let old: Option<Deployment> = old.map(|o| serde_json::from_value(o).unwrap());
        msgs(validate_deployment(&new, old.as_ref(), set))
    }

    #[test]
    fn deployments() {
        assert!(deploy_msgs(deployment(json!({})), None).is_empty());
        assert_eq!(
            deploy_msgs(deployment(json!({"replicas": -1})), None),
            vec!["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
        );
        assert_eq!(
            deploy_msgs(
                deployment(json!({"template": template(json!({"app": "x"}), "Always")})),
                None
            ),
            vec![
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"
            ]
        );
        assert_eq!(
            deploy_msgs(deployment(json!({"selector": null})), None),
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
            ]
        );
        assert_eq!(
            deploy_msgs(deployment(json!({"selector": {}})), None),
            vec![
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"
            ]
        );
        assert_eq!(
            deploy_msgs(
                deployment(json!({"template": template(json!({"app": "web"}), "Never")})),
                None
            ),
            vec![
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\""
            ]
        );
        assert_eq!(
            deploy_msgs(deployment(json!({"strategy": {"type": "Rolling"}})), None),
            vec![
                "spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:\"Rolling\", RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", \"RollingUpdate\""
            ]
        );
        assert_eq!(
            deploy_msgs(
                deployment(
                    json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}})
                ),
                None
            ),
            vec![
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"0%\"}: may not be 0 when `maxSurge` is 0"
            ]
        );
        assert_eq!(
            deploy_msgs(
                deployment(
                    json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "x", "maxUnavailable": "120%"}}})
                ),
                None
            ),
            vec![
                "spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"x\"}: a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"120%\"}: must not be greater than 100%",
            ]
        );
        assert_eq!(
            deploy_msgs(
                deployment(json!({"strategy": {"type": "Recreate", "rollingUpdate": {}}})),
                None
            ),
            vec![
                "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
            ]
        );
        assert_eq!(
            deploy_msgs(
                deployment(json!({"progressDeadlineSeconds": 5, "minReadySeconds": 10})),
                None
            ),
            vec![
                "spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"
            ]
        );
    }

    #[test]
    fn deployment_selector_is_immutable() {
        let old = deployment(json!({}));
        let new = deployment(
            json!({"selector": {"matchLabels": {"app": "web2"}}, "template": template(json!({"app": "web2"}), "Always")}),
        );
        assert_eq!(
            deploy_msgs(new, Some(old.clone())),
            vec![
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
            ]
        );
        assert!(deploy_msgs(deployment(json!({"replicas": 3})), Some(old)).is_empty());
    }

    #[test]
    fn replica_sets_and_daemon_sets() {
        let rs: ReplicaSet = serde_json::from_value(json!({"metadata": {"name": "rs", "namespace": "default"},
            "spec": {"replicas": -2, "selector": {"matchLabels": {"app": "web"}}, "template": template(json!({"app": "web"}), "Always")}}))
        .unwrap();
        assert_eq!(
            msgs(validate_replica_set(&rs, None, true)),
            vec!["spec.replicas: Invalid value: -2: must be greater than or equal to 0"]
        );
        let ds = |strategy: Value| -> DaemonSet {
            serde_json::from_value(json!({"metadata": {"name": "ds", "namespace": "default"},
                "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template(json!({"app": "agent"}), "Always"),
                         "updateStrategy": strategy, "revisionHistoryLimit": 10}}))
            .unwrap()
        };
        let ok = ds(
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
        );
        assert!(validate_daemon_set(&ok, None, true).is_empty());
        assert_eq!(
            msgs(validate_daemon_set(
                &ds(
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}})
                ),
                None,
                true
            )),
            vec![
                "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"
            ]
        );
        assert_eq!(
            msgs(validate_daemon_set(
                &ds(json!({"type": "Sometimes"})),
                None,
                true
            )),
            vec![
                "spec.updateStrategy: Unsupported value: apps.DaemonSetUpdateStrategy{Type:\"Sometimes\", RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}: supported values: \"RollingUpdate\", \"OnDelete\""
            ]
        );
    }

    fn sts(patch: Value) -> StatefulSet {
        let mut spec = json!({
            "replicas": 1, "podManagementPolicy": "OrderedReady", "serviceName": "db",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": {
                "containers": [{"name": "db", "image": "pg", "imagePullPolicy": "Always", "terminationMessagePolicy": "File",
                                "volumeMounts": [{"name": "data", "mountPath": "/var/lib/pg"}]}],
                "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}}}}],
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        });
        for (k, v) in patch.as_object().unwrap() {
            spec[k] = v.clone();
        }
        serde_json::from_value(
            json!({"metadata": {"name": "db", "namespace": "default"}, "spec": spec}),
        )
        .unwrap()
    }

    #[test]
    fn stateful_sets() {
        assert!(validate_stateful_set(&sts(json!({})), None, true).is_empty());
        assert_eq!(
            msgs(validate_stateful_set(
                &sts(
                    json!({"podManagementPolicy": "Random", "updateStrategy": {"type": "Sometimes"}})
                ),
                None,
                true
            )),
            vec![
                "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'",
                "spec.updateStrategy: Invalid value: apps.StatefulSetUpdateStrategy{Type:\"Sometimes\", RollingUpdate:(*apps.RollingUpdateStatefulSetStrategy)(nil)}: must be 'RollingUpdate' or 'OnDelete'",
            ]
        );
        assert_eq!(
            msgs(validate_stateful_set(
                &sts(
                    json!({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep", "whenScaled": "Retain"}})
                ),
                None,
                true
            )),
            vec![
                "spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: \"Keep\": supported values: \"Retain\", \"Delete\""
            ]
        );
        let old = sts(json!({}));
        assert!(validate_stateful_set(&sts(json!({"replicas": 3})), Some(&old), true).is_empty());
        assert_eq!(
            msgs(validate_stateful_set(
                &sts(json!({"serviceName": "other"})),
                Some(&old),
                true
            )),
            vec![
                "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
            ]
        );
    }

    fn job(patch: Value, uid: Option<&str>) -> Job {
        let mut spec = json!({
            "completions": 1, "parallelism": 1, "backoffLimit": 6, "completionMode": "NonIndexed", "suspend": false,
            "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
            "template": template(json!({"batch.kubernetes.io/controller-uid": "u1", "controller-uid": "u1",
                "batch.kubernetes.io/job-name": "pi", "job-name": "pi"}), "Never"),
        });
        for (k, v) in patch.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let mut meta = json!({"name": "pi", "namespace": "default"});
        if let Some(uid) = uid {
            meta["uid"] = json!(uid);
        }
        serde_json::from_value(json!({"metadata": meta, "spec": spec})).unwrap()
    }

    #[test]
    fn jobs() {
        assert!(validate_job(&job(json!({}), Some("u1")), None).is_empty());
        assert_eq!(
            msgs(validate_job(
                &job(json!({"parallelism": -1, "completions": -1}), Some("u1")),
                None
            )),
            vec![
                "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
                "spec.completions: Invalid value: -1: must be greater than or equal to 0",
            ]
        );
        let always = job(
            json!({"template": template(json!({"batch.kubernetes.io/controller-uid": "u1", "controller-uid": "u1",
            "batch.kubernetes.io/job-name": "pi", "job-name": "pi"}), "Always")}),
            Some("u1"),
        );
        assert_eq!(
            msgs(validate_job(&always, None)),
            vec![
                "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
            ]
        );
        assert_eq!(
            msgs(validate_job(
                &job(
                    json!({"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "other"}}}),
                    Some("u1")
                ),
                None
            )),
            vec![
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"batch.kubernetes.io/controller-uid\":\"other\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"batch.kubernetes.io/controller-uid\":\"u1\", \"batch.kubernetes.io/job-name\":\"pi\", \"controller-uid\":\"u1\", \"job-name\":\"pi\"}: `selector` does not match template `labels`",
            ]
        );
        let manual = job(
            json!({"manualSelector": true, "selector": {"matchLabels": {"app": "pi"}}, "template": template(json!({"app": "pi"}), "Never")}),
            Some("u1"),
        );
        assert!(validate_job(&manual, None).is_empty());
        assert_eq!(
            msgs(validate_job(
                &job(
                    json!({"completionMode": "Indexed", "completions": null}),
                    Some("u1")
                ),
                None
            )),
            vec!["spec.completions: Required value: when completion mode is Indexed"]
        );
    }

    #[test]
    fn job_updates() {
        let old = job(json!({}), Some("u1"));
        assert!(validate_job(&job(json!({"parallelism": 2}), Some("u1")), Some(&old)).is_empty());
        assert_eq!(
            msgs(validate_job(
                &job(json!({"completions": 3}), Some("u1")),
                Some(&old)
            )),
            vec!["spec.completions: Invalid value: 3: field is immutable"]
        );
        let manual = |sel: &str| {
            job(
                json!({"manualSelector": true, "selector": {"matchLabels": {"app": sel}},
                    "template": template(json!({"app": "pi", "tier": "x"}), "Never")}),
                Some("u1"),
            )
        };
        let m = msgs(validate_job(&manual("x"), Some(&manual("pi"))));
        assert_eq!(
            m,
            vec![
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"pi\", \"tier\":\"x\"}: `selector` does not match template `labels`",
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"x\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable",
            ]
        );
        let mut t = template(
            json!({"batch.kubernetes.io/controller-uid": "u1", "controller-uid": "u1",
            "batch.kubernetes.io/job-name": "pi", "job-name": "pi"}),
            "Never",
        );
        t["spec"]["containers"][0]["image"] = json!("busybox");
        let m = msgs(validate_job(
            &job(json!({"template": t}), Some("u1")),
            Some(&old),
        ));
        assert_eq!(m.len(), 1);
        assert!(m[0].starts_with("spec.template: Invalid value: {"));
        assert!(m[0].ends_with(": field is immutable"));
    }

    fn cron(patch: Value) -> CronJob {
        let mut spec = json!({
            "schedule": "*/5 * * * *", "concurrencyPolicy": "Allow", "suspend": false,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {"template": template(json!({}), "OnFailure")}},
        });
        for (k, v) in patch.as_object().unwrap() {
            spec[k] = v.clone();
        }
        serde_json::from_value(
            json!({"metadata": {"name": "tick", "namespace": "default"}, "spec": spec}),
        )
        .unwrap()
    }

    #[test]
    fn cron_jobs() {
        assert!(validate_cron_job(&cron(json!({})), None).is_empty());
        assert_eq!(
            msgs(validate_cron_job(
                &cron(json!({"schedule": "61 * * * *", "concurrencyPolicy": "Sometimes"})),
                None
            )),
            vec![
                "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61",
                "spec.concurrencyPolicy: Unsupported value: \"Sometimes\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
            ]
        );
        assert_eq!(
            msgs(validate_cron_job(
                &cron(json!({"schedule": "TZ=UTC 0 * * * *"})),
                None
            )),
            vec![
                "spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
            ]
        );
        assert_eq!(
            msgs(validate_cron_job(&cron(json!({"timeZone": "Local"})), None)),
            vec![
                "spec.timeZone: Invalid value: \"Local\": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
            ]
        );
        let with_selector = cron(
            json!({"jobTemplate": {"spec": {"selector": {"matchLabels": {"a": "b"}},
            "template": template(json!({"a": "b"}), "Never")}}}),
        );
        assert_eq!(
            msgs(validate_cron_job(&with_selector, None)),
            vec![
                "spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"a\":\"b\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated"
            ]
        );
        let mut long = cron(json!({}));
        long.metadata.name = Some("a".repeat(53));
        assert_eq!(
            msgs(validate_cron_job(&long, None))[0],
            format!(
                "metadata.name: Invalid value: \"{}\": must be no more than 52 characters",
                "a".repeat(53)
            )
        );
    }

    #[test]
    fn hpas() {
        let hpa = |spec: Value| -> HorizontalPodAutoscaler {
            serde_json::from_value(
                json!({"metadata": {"name": "web", "namespace": "default"}, "spec": spec}),
            )
            .unwrap()
        };
        let ok = hpa(
            json!({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}),
        );
        assert!(validate_hpa(&ok, None).is_empty());
        let bad = hpa(
            json!({"scaleTargetRef": {"kind": "", "name": "web"}, "minReplicas": 0, "maxReplicas": 0,
            "metrics": [{"type": "Resource"}],
            "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 15}]}}}),
        );
        assert_eq!(
            msgs(validate_hpa(&bad, None)),
            vec![
                "spec.minReplicas: Invalid value: 0: must be greater than or equal to 1",
                "spec.maxReplicas: Invalid value: 0: must be greater than 0",
                "spec.scaleTargetRef.kind: Required value",
                "spec.metrics[0].resource: Required value: must populate information for the given metric source",
                "spec.behavior.scaleUp.policies[0].value: Invalid value: 0: must be greater than zero",
            ]
        );
        let inverted = hpa(
            json!({"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 5, "maxReplicas": 2}),
        );
        assert_eq!(
            msgs(validate_hpa(&inverted, None)),
            vec![
                "spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"
            ]
        );
    }

    #[test]
    fn controller_revisions() {
        let cr: ControllerRevision = serde_json::from_value(
            json!({"metadata": {"name": "web-1", "namespace": "default"}, "revision": -1}),
        )
        .unwrap();
        assert_eq!(
            msgs(validate_controller_revision(&cr, None)),
            vec![
                "data: Required value: data is mandatory",
                "revision: Invalid value: -1: must be greater than or equal to 0"
            ]
        );
    }
}
