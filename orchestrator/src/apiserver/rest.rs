//! The generic REST storage behind every resource URL: create, get, list,
//! update, patch, delete — with Kubernetes' metadata semantics, defaulting,
//! validation, optimistic concurrency and deletion (finalizers, graceful
//! deletion, propagation policy).
//!
//! Owns the rules of a write; knows nothing of HTTP. Controllers call these
//! methods directly, so they get exactly the semantics clients get.

use std::sync::Arc;

use regatta_api::patch::PatchType;
use regatta_api::registry::{self, ResourceType};
use regatta_api::selector::{FieldSelector, LabelSelector};
use regatta_api::{defaults, validation};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::objects::{self, from_kv, key, prefix};
use super::status::{ApiError, ApiResult};
use crate::store::{Expect, Store, StoreError};

/// How unknown fields in a body are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    Ignore,
    #[default]
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn parse(s: Option<&str>) -> ApiResult<Self> {
        match s {
            None | Some("") | Some("Warn") => Ok(Self::Warn),
            Some("Strict") => Ok(Self::Strict),
            Some("Ignore") => Ok(Self::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct WriteOpts {
    pub dry_run: bool,
    pub field_validation: FieldValidation,
}

#[derive(Debug, Clone, Default)]
pub struct ListOpts {
    pub label_selector: LabelSelector,
    pub field_selector: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ListOut {
    pub items: Vec<Value>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Orphan,
    Background,
    Foreground,
}

#[derive(Debug, Clone, Default)]
pub struct DeleteOpts {
    pub grace_period_seconds: Option<i64>,
    pub propagation: Option<Propagation>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

impl DeleteOpts {
    /// Reads a `DeleteOptions` body (may be empty) and the query parameters.
    pub fn parse(
        body: &[u8],
        query: &std::collections::HashMap<String, String>,
    ) -> ApiResult<Self> {
        let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
        };
        let grace = v
            .get("gracePeriodSeconds")
            .and_then(Value::as_i64)
            .or_else(|| query.get("gracePeriodSeconds").and_then(|s| s.parse().ok()));
        let policy = v
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| query.get("propagationPolicy").cloned());
        let orphan = v
            .get("orphanDependents")
            .and_then(Value::as_bool)
            .or_else(|| query.get("orphanDependents").map(|s| s == "true"));
        let propagation = match policy.as_deref() {
            Some("Orphan") => Some(Propagation::Orphan),
            Some("Background") => Some(Propagation::Background),
            Some("Foreground") => Some(Propagation::Foreground),
            Some(other) => {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    format!(
                        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                    ),
                ));
            }
            None => match orphan {
                Some(true) => Some(Propagation::Orphan),
                Some(false) => Some(Propagation::Background),
                None => None,
            },
        };
        let dry_run = v
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
            || query.get("dryRun").is_some_and(|s| s == "All");
        Ok(DeleteOpts {
            grace_period_seconds: grace,
            propagation,
            precondition_uid: v["preconditions"]["uid"].as_str().map(str::to_string),
            precondition_rv: v["preconditions"]["resourceVersion"]
                .as_str()
                .map(str::to_string),
            dry_run,
        })
    }
}

/// The outcome of a delete: gone now, or marked and waiting (finalizers, grace).
#[derive(Debug, Clone)]
pub enum Deleted {
    Now(Value),
    Pending(Value),
}

/// What a write produced, plus warnings for the `Warning` header.
#[derive(Debug, Clone)]
pub struct Written {
    pub object: Value,
    pub warnings: Vec<String>,
}

/// The cluster facts the REST layer needs (allocations, the `kubernetes` Service).
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    pub service_cidr: ipnet::Ipv4Net,
}

pub struct Rest {
    pub store: Arc<dyn Store>,
    pub cluster: ClusterInfo,
    /// Serialises allocation of ClusterIPs and NodePorts (read-then-claim).
    alloc: Mutex<()>,
}

const MAX_RETRIES: usize = 8;

impl Rest {
    pub fn new(store: Arc<dyn Store>, cluster: ClusterInfo) -> Self {
        Rest {
            store,
            cluster,
            alloc: Mutex::new(()),
        }
    }

    pub async fn get(&self, rt: &ResourceType, ns: Option<&str>, name: &str) -> ApiResult<Value> {
        from_kv(&self.stored(rt, &key(rt, ns, name), name).await?)
    }

    /// The stored object at `key`, or NotFound naming `name`.
    async fn stored(
        &self,
        rt: &ResourceType,
        key: &str,
        name: &str,
    ) -> ApiResult<crate::store::KeyValue> {
        match self.store.get(key).await {
            Ok(Some(kv)) => Ok(kv),
            Ok(None) => Err(ApiError::not_found(rt, name)),
            Err(e) => Err(ApiError::from_store(e, rt, name)),
        }
    }

    pub async fn list(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        opts: &ListOpts,
    ) -> ApiResult<ListOut> {
        opts.field_selector
            .check_supported(rt.kind)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let pfx = prefix(rt, ns);
        let (mut start_after, first_rv) = match &opts.continue_token {
            Some(t) => {
                let (k, rv) = decode_continue(t)?;
                if !k.starts_with(&pfx) {
                    return Err(ApiError::bad_request(
                        "continue key is not valid for this list",
                    ));
                }
                (Some(k), Some(rv))
            }
            None => (None, None),
        };
        let page = opts.limit.map(|l| l.clamp(1, 5000));
        let mut items = Vec::new();
        let mut revision = None;
        let mut next = None;
        loop {
            let batch = self
                .store
                .list(
                    &pfx,
                    start_after.as_deref(),
                    Some(page.unwrap_or(1000).max(100)),
                )
                .await
                .map_err(|e| ApiError::from_store(e, rt, ""))?;
            revision.get_or_insert(batch.revision);
            let last_key = batch.items.last().map(|kv| kv.key.clone());
            for kv in &batch.items {
                let obj = from_kv(kv)?;
                if opts.label_selector.matches(&objects::labels(&obj))
                    && opts.field_selector.matches(rt.kind, &obj)
                {
                    items.push(obj);
                    if page.is_some_and(|l| items.len() >= l) {
                        break;
                    }
                }
            }
            if let Some(l) = page
                && items.len() >= l
            {
                // More may follow if the store had more, or the batch was cut short.
                let cut_key = items.last().map(|o| {
                    key(
                        rt,
                        objects::str_field(o, "namespace"),
                        objects::name(o).unwrap_or(""),
                    )
                });
                let more_in_batch = cut_key.as_ref() != last_key.as_ref();
                if more_in_batch || batch.more {
                    next = cut_key;
                }
                break;
            }
            if !batch.more {
                break;
            }
            start_after = last_key;
        }
        let rv = first_rv.unwrap_or_else(|| revision.unwrap_or(0));
        Ok(ListOut {
            items,
            resource_version: revision.unwrap_or(rv),
            continue_token: next.map(|k| encode_continue(&k, rv)),
        })
    }

    async fn namespace_ready_for_create(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
    ) -> ApiResult<()> {
        let Some(ns) = ns.filter(|_| rt.namespaced) else {
            return Ok(());
        };
        let ns_rt = registry::by_kind("v1", "Namespace").expect("registered");
        match self.store.get(&key(ns_rt, None, ns)).await {
            Ok(Some(kv)) => {
                let obj = from_kv(&kv)?;
                if objects::is_deleting(&obj) {
                    Err(ApiError::forbidden(format!(
                        "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                        rt.group_resource(),
                        "",
                    )))
                } else {
                    Ok(())
                }
            }
            Ok(None) => Err(ApiError::namespace_not_found(ns)),
            Err(e) => Err(ApiError::from_store(e, ns_rt, ns)),
        }
    }

    /// Checks the body's shape and unknown fields; returns warnings.
    fn decode(
        &self,
        rt: &ResourceType,
        obj: &Value,
        fv: FieldValidation,
    ) -> ApiResult<Vec<String>> {
        let unknown = validation::decode_check(rt, obj).map_err(ApiError::bad_request)?;
        match fv {
            FieldValidation::Ignore => Ok(vec![]),
            FieldValidation::Warn => Ok(unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect()),
            FieldValidation::Strict if unknown.is_empty() => Ok(vec![]),
            FieldValidation::Strict => {
                let list: Vec<String> = unknown
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect();
                Err(ApiError::bad_request(format!(
                    "strict decoding error: {}",
                    list.join(", ")
                )))
            }
        }
    }

    pub async fn create(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        mut obj: Value,
        opts: &WriteOpts,
    ) -> ApiResult<Written> {
        objects::check_type(rt, &mut obj)?;
        objects::check_namespace(rt, &mut obj, ns)?;
        let warnings = self.decode(rt, &obj, opts.field_validation)?;
        let generate = objects::str_field(&obj, "generateName").map(str::to_string);
        if objects::name(&obj).is_none()
            && let Some(g) = generate.filter(|g| !g.is_empty())
        {
            let name = format!("{g}{}", random_suffix());
            objects::meta_mut(&mut obj).insert("name".into(), json!(name));
        }
        let name = objects::name(&obj).unwrap_or("").to_string();
        self.namespace_ready_for_create(rt, ns).await?;
        objects::prepare_create(rt, &mut obj);
        defaults::apply_defaults(rt, &mut obj);
        objects::initial_status(rt, &mut obj);
        let errs = validation::validate(rt, &obj, None);
        if !errs.is_empty() {
            return Err(ApiError::invalid(rt, &name, &errs));
        }
        let _guard = if rt.kind == "Service" {
            Some(self.alloc.lock().await)
        } else {
            None
        };
        if rt.kind == "Service" {
            self.allocate_service(&mut obj, None).await?;
        }
        if opts.dry_run {
            return Ok(Written {
                object: obj,
                warnings,
            });
        }
        let k = key(rt, ns, &name);
        let kv = self
            .store
            .create(&k, objects::to_bytes(&obj))
            .await
            .map_err(|e| ApiError::from_store(e, rt, &name))?;
        Ok(Written {
            object: from_kv(&kv)?,
            warnings,
        })
    }

    /// Read-modify-write of one object, retried on conflicts when `retry`.
    /// `mutate` gets the current object (with resourceVersion) and returns the
    /// desired one; it runs again on each retry.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_with<F>(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        opts: &WriteOpts,
        retry: bool,
        mut mutate: F,
    ) -> ApiResult<Written>
    where
        F: FnMut(&Value) -> ApiResult<Value> + Send,
    {
        let k = key(rt, ns, name);
        for _ in 0..MAX_RETRIES {
            let kv = self.stored(rt, &k, name).await?;
            let old = from_kv(&kv)?;
            let mut new = mutate(&old)?;
            objects::check_type(rt, &mut new)?;
            objects::check_namespace(rt, &mut new, ns)?;
            match objects::name(&new) {
                Some(n) if n == name => {}
                Some(n) => {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({n}) does not match the name on the URL ({name})"
                    )));
                }
                None => {
                    objects::meta_mut(&mut new).insert("name".into(), json!(name));
                }
            }
            let warnings = self.decode(rt, &new, opts.field_validation)?;
            if let Some(rv) = objects::resource_version(&new)
                && rv != kv.mod_revision.to_string()
            {
                return Err(ApiError::conflict(rt, name));
            }
            objects::prepare_update(rt, &mut new, &old, subresource);
            defaults::apply_defaults(rt, &mut new);
            let errs = validation::validate(rt, &new, Some(&old));
            if !errs.is_empty() {
                return Err(ApiError::invalid(rt, name, &errs));
            }
            if rt.kind == "Service" {
                let _g = self.alloc.lock().await;
                self.allocate_service(&mut new, Some(&old)).await?;
            }
            if objects::same_content(&new, &old) {
                return Ok(Written {
                    object: old,
                    warnings,
                });
            }
            if opts.dry_run {
                return Ok(Written {
                    object: new,
                    warnings,
                });
            }
            // The last finalizer removed from an object being deleted: it goes now.
            if objects::is_deleting(&new)
                && objects::finalizers(&new).is_empty()
                && !namespace_finalizers_pending(rt, &new)
                && !pod_awaits_node(rt, &new)
            {
                match self
                    .store
                    .delete(&k, Expect::Revision(kv.mod_revision))
                    .await
                {
                    Ok(_) => {
                        return Ok(Written {
                            object: new,
                            warnings,
                        });
                    }
                    Err(StoreError::Conflict { .. }) if retry => continue,
                    Err(e) => return Err(ApiError::from_store(e, rt, name)),
                }
            }
            match self
                .store
                .update(
                    &k,
                    objects::to_bytes(&new),
                    Expect::Revision(kv.mod_revision),
                )
                .await
            {
                Ok(kv) => {
                    return Ok(Written {
                        object: from_kv(&kv)?,
                        warnings,
                    });
                }
                Err(StoreError::Conflict { .. }) if retry => continue,
                Err(e) => return Err(ApiError::from_store(e, rt, name)),
            }
        }
        Err(ApiError::conflict(rt, name))
    }

    /// PUT: replaces the object (or its status), honouring the body's resourceVersion.
    pub async fn update(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        body: Value,
        opts: &WriteOpts,
    ) -> ApiResult<Written> {
        if subresource == Some("scale") {
            return self
                .update_scale(rt, ns, name, opts, |_| Ok(body.clone()))
                .await;
        }
        self.update_with(rt, ns, name, subresource, opts, false, |_| Ok(body.clone()))
            .await
    }

    /// PATCH of the object, its status or its scale.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        patch_type: PatchType,
        patch: &[u8],
        opts: &WriteOpts,
    ) -> ApiResult<Written> {
        let apply = |target: &Value, api_version: &str, kind: &str| {
            regatta_api::patch::apply_patch(api_version, kind, patch_type, target, patch).map_err(
                |e| {
                    let code = e.code();
                    ApiError::new(
                        code,
                        if code == 422 { "Invalid" } else { "BadRequest" },
                        e.to_string(),
                    )
                },
            )
        };
        if subresource == Some("scale") {
            return self
                .update_scale(rt, ns, name, opts, |scale| {
                    apply(scale, "autoscaling/v1", "Scale")
                })
                .await;
        }
        let av = rt.api_version();
        // The precondition is the patch's own resourceVersion, if it carries one:
        // a patch without it is retried against the latest object, as upstream.
        self.update_with(rt, ns, name, subresource, opts, true, |cur| {
            let rv = objects::resource_version(cur).map(str::to_string);
            let mut out = apply(cur, &av, rt.kind)?;
            if objects::resource_version(&out) == rv.as_deref() {
                objects::meta_mut(&mut out).remove("resourceVersion");
            }
            Ok(out)
        })
        .await
    }

    async fn update_scale<F>(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        opts: &WriteOpts,
        mut change: F,
    ) -> ApiResult<Written>
    where
        F: FnMut(&Value) -> ApiResult<Value> + Send,
    {
        let w = self
            .update_with(rt, ns, name, None, opts, true, |cur| {
                let scale = objects::scale_of(cur);
                let new_scale = change(&scale)?;
                if let Some(rv) = objects::resource_version(&new_scale)
                    && Some(rv) != objects::resource_version(cur)
                {
                    return Err(ApiError::conflict(rt, name));
                }
                let Some(replicas) = new_scale["spec"]["replicas"].as_i64() else {
                    return Err(ApiError::new(
                        422,
                        "Invalid",
                        format!("Scale.autoscaling \"{name}\" is invalid: spec.replicas: Required value"),
                    ));
                };
                if replicas < 0 {
                    return Err(ApiError::new(
                        422,
                        "Invalid",
                        format!("Scale.autoscaling \"{name}\" is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"),
                    ));
                }
                let mut out = cur.clone();
                out["spec"]["replicas"] = json!(replicas);
                objects::meta_mut(&mut out).remove("resourceVersion");
                Ok(out)
            })
            .await?;
        Ok(Written {
            object: objects::scale_of(&w.object),
            warnings: w.warnings,
        })
    }

    pub async fn delete(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOpts,
    ) -> ApiResult<Deleted> {
        let k = key(rt, ns, name);
        for _ in 0..MAX_RETRIES {
            let kv = self.stored(rt, &k, name).await?;
            let obj = from_kv(&kv)?;
            if let Some(uid) = &opts.precondition_uid
                && objects::str_field(&obj, "uid") != Some(uid.as_str())
            {
                return Err(ApiError::conflict_msg(
                    rt,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        objects::str_field(&obj, "uid").unwrap_or("")
                    ),
                ));
            }
            if let Some(rv) = &opts.precondition_rv
                && rv != &kv.mod_revision.to_string()
            {
                return Err(ApiError::conflict_msg(
                    rt,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        kv.mod_revision
                    ),
                ));
            }
            let mut finalizers = objects::finalizers(&obj);
            match opts.propagation {
                Some(Propagation::Foreground) => add_once(&mut finalizers, "foregroundDeletion"),
                Some(Propagation::Orphan) => add_once(&mut finalizers, "orphan"),
                _ => {}
            }
            let grace = self.grace_period(rt, &obj, opts).await;
            let already = objects::is_deleting(&obj);
            let ns_pending = rt.kind == "Namespace"
                && obj["spec"]["finalizers"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty());
            if finalizers.is_empty() && grace == 0 && !ns_pending {
                if opts.dry_run {
                    return Ok(Deleted::Now(obj));
                }
                match self
                    .store
                    .delete(&k, Expect::Revision(kv.mod_revision))
                    .await
                {
                    Ok(_) => return Ok(Deleted::Now(obj)),
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(StoreError::NotFound(_)) => return Err(ApiError::not_found(rt, name)),
                    Err(e) => return Err(ApiError::from_store(e, rt, name)),
                }
            }
            if already && objects::finalizers(&obj) == finalizers {
                // Deleting again only ever shortens a pod's grace period.
                let cur = obj["metadata"]["deletionGracePeriodSeconds"]
                    .as_i64()
                    .unwrap_or(0);
                if rt.kind != "Pod" || grace >= cur {
                    return Ok(Deleted::Pending(obj));
                }
            }
            let mut new = obj.clone();
            let m = objects::meta_mut(&mut new);
            m.insert("finalizers".into(), json!(finalizers));
            if finalizers.is_empty() {
                m.remove("finalizers");
            }
            if !already || rt.kind == "Pod" {
                m.insert(
                    "deletionTimestamp".into(),
                    json!(objects::rfc3339_in(grace)),
                );
                m.insert("deletionGracePeriodSeconds".into(), json!(grace));
            }
            if objects::has_generation(rt) && !already {
                let g = m.get("generation").and_then(Value::as_i64).unwrap_or(1);
                m.insert("generation".into(), json!(g + 1));
            }
            if rt.kind == "Namespace" {
                new["status"]["phase"] = json!("Terminating");
            }
            if opts.dry_run {
                return Ok(Deleted::Pending(new));
            }
            match self
                .store
                .update(
                    &k,
                    objects::to_bytes(&new),
                    Expect::Revision(kv.mod_revision),
                )
                .await
            {
                Ok(kv) => return Ok(Deleted::Pending(from_kv(&kv)?)),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(ApiError::from_store(e, rt, name)),
            }
        }
        Err(ApiError::conflict(rt, name))
    }

    /// Seconds a deletion waits for a node to stop the pod; 0 = delete now.
    /// A pod no node will ever stop (unscheduled, its node gone, or finished)
    /// is deleted at once, as upstream's pod strategy does for unscheduled pods.
    async fn grace_period(&self, rt: &ResourceType, obj: &Value, opts: &DeleteOpts) -> i64 {
        if rt.kind != "Pod" {
            return 0;
        }
        let requested = opts
            .grace_period_seconds
            .or_else(|| obj["spec"]["terminationGracePeriodSeconds"].as_i64())
            .unwrap_or(30)
            .max(0);
        let Some(node) = obj["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) else {
            return 0;
        };
        if matches!(
            obj["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        ) {
            return 0;
        }
        let nodes = registry::by_kind("v1", "Node").expect("registered");
        match self.store.get(&key(nodes, None, node)).await {
            Ok(Some(_)) => requested,
            _ => 0,
        }
    }

    /// Assigns a ClusterIP (and NodePorts) to a Service that needs them, keeping
    /// what it already has. Callers hold `self.alloc`.
    async fn allocate_service(&self, svc: &mut Value, old: Option<&Value>) -> ApiResult<()> {
        let services = registry::by_kind("v1", "Service").expect("registered");
        let typ = svc["spec"]["type"]
            .as_str()
            .unwrap_or("ClusterIP")
            .to_string();
        if typ == "ExternalName" {
            return Ok(());
        }
        let wants_ip = match svc["spec"]["clusterIP"].as_str() {
            None | Some("") => true,
            Some(_) => false,
        };
        let wants_ports = matches!(typ.as_str(), "NodePort" | "LoadBalancer");
        let needs_ports = wants_ports
            && svc["spec"]["ports"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p.get("nodePort").is_none_or(Value::is_null))
            });
        if !wants_ip && !needs_ports {
            return Ok(());
        }
        let all = self
            .store
            .list(&prefix(services, None), None, None)
            .await
            .map_err(|e| ApiError::from_store(e, services, ""))?;
        let me = objects::str_field(svc, "uid").map(str::to_string);
        let mut used_ips = std::collections::HashSet::new();
        let mut used_ports = std::collections::HashSet::new();
        for kv in &all.items {
            let o = from_kv(kv)?;
            if objects::str_field(&o, "uid").map(str::to_string) == me {
                continue;
            }
            if let Some(ip) = o["spec"]["clusterIP"].as_str() {
                used_ips.insert(ip.to_string());
            }
            for p in o["spec"]["ports"].as_array().into_iter().flatten() {
                if let Some(np) = p["nodePort"].as_i64() {
                    used_ports.insert(np);
                }
            }
        }
        if wants_ip {
            if let Some(ip) = old
                .and_then(|o| o["spec"]["clusterIP"].as_str())
                .filter(|s| !s.is_empty())
            {
                svc["spec"]["clusterIP"] = json!(ip);
            } else {
                let net = self.cluster.service_cidr;
                // .1 is the `kubernetes` Service, .10 the cluster DNS by convention.
                let reserved = [1u32, 10];
                let base = u32::from(net.network());
                let size = 1u32 << (32 - net.prefix_len());
                let found = (2..size.saturating_sub(1))
                    .filter(|i| !reserved.contains(i))
                    .map(|i| std::net::Ipv4Addr::from(base + i).to_string())
                    .find(|ip| !used_ips.contains(ip));
                let Some(ip) = found else {
                    return Err(ApiError::internal(
                        "failed to allocate a serviceIP: range is full",
                    ));
                };
                svc["spec"]["clusterIP"] = json!(ip);
            }
            svc["spec"]["clusterIPs"] = json!([svc["spec"]["clusterIP"].clone()]);
        } else if svc["spec"]["clusterIP"].as_str() == Some("None") {
            svc["spec"]["clusterIPs"] = json!(["None"]);
        } else if svc["spec"].get("clusterIPs").is_none_or(Value::is_null) {
            svc["spec"]["clusterIPs"] = json!([svc["spec"]["clusterIP"].clone()]);
        }
        if needs_ports {
            let old_ports: Vec<Value> = old
                .and_then(|o| o["spec"]["ports"].as_array().cloned())
                .unwrap_or_default();
            let ports = svc["spec"]["ports"].as_array_mut().expect("checked above");
            for p in ports.iter_mut() {
                if p.get("nodePort").is_some_and(|v| !v.is_null()) {
                    continue;
                }
                let keep = old_ports
                    .iter()
                    .find(|o| o["port"] == p["port"] && o["protocol"] == p["protocol"])
                    .and_then(|o| o["nodePort"].as_i64());
                let np = keep.or_else(|| (30000..=32767).find(|n| !used_ports.contains(n)));
                let Some(np) = np else {
                    return Err(ApiError::internal(
                        "failed to allocate a nodePort: range is full",
                    ));
                };
                used_ports.insert(np);
                p["nodePort"] = json!(np);
            }
        }
        Ok(())
    }
}

fn add_once(list: &mut Vec<String>, f: &str) {
    if !list.iter().any(|x| x == f) {
        list.push(f.to_string());
    }
}

fn namespace_finalizers_pending(rt: &ResourceType, obj: &Value) -> bool {
    rt.kind == "Namespace"
        && obj["spec"]["finalizers"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
}

/// A bound pod in graceful deletion is removed by its node (a delete with grace 0),
/// not by losing its last finalizer.
fn pod_awaits_node(rt: &ResourceType, obj: &Value) -> bool {
    rt.kind == "Pod"
        && obj["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(0)
            > 0
}

fn random_suffix() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn encode_continue(key: &str, rv: u64) -> String {
    use base64::Engine as _;
    let doc = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": key});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(doc.to_string())
}

fn decode_continue(token: &str) -> ApiResult<(String, u64)> {
    use base64::Engine as _;
    let bad = || ApiError::bad_request("continue key is not valid");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    Ok((
        v["start"].as_str().ok_or_else(bad)?.to_string(),
        v["rv"].as_u64().ok_or_else(bad)?,
    ))
}
