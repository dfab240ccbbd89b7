//! A pod's volumes on this node: `<data-dir>/volumes/<uid>/<volume>` for
//! emptyDir, configMap, secret, downwardAPI and projected; hostPath is the
//! host path itself, after kubelet's `type` check.
//!
//! configMap, secret, downwardAPI and projected volumes are written the way
//! kubelet's `AtomicWriter` writes them, so a reader never sees half an
//! update: the files go into a fresh `..<timestamp>` directory, the symlink
//! `..data` is pointed at it by `rename` (atomic), and every user-visible
//! top-level name is a symlink `name -> ..data/name`. A re-render whose
//! content and modes equal what is there changes nothing. While a source is
//! gone after the first mount, the last content stays (as kubelet does).
//!
//! Decision (a WASI preopen is a directory): a hostPath volume that is a
//! file, socket or device (types File, FileOrCreate, Socket, CharDevice,
//! BlockDevice, or "" naming a non-directory) passes its type check like on
//! kubelet, but a container that mounts it waits with
//! `CreateContainerConfigError` saying so — we do not preopen the parent
//! directory, which would expose its siblings. Mount the directory instead.
//!
//! Must not touch: anything outside the pod's volume directory but the
//! hostPath the pod names (created only for the `*OrCreate` types).
//! Secret content never reaches a log line or an error message.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use regatta_api::k8s_openapi::api::core::v1::{
    Container, DownwardAPIVolumeFile, KeyToPath, Pod, Volume as VolumeSpec,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::sources::{self, Sources};
use super::spec::{self, PodFacts};
use super::{Ctx, EventKind};
use crate::agent::pods::{DesiredState, pod_ref};
use crate::runtime::Preopen;

/// kubelet's default file mode of configMap, secret, downwardAPI and projected volumes.
const DEFAULT_MODE: u32 = 0o644;
/// Rendered volumes are re-rendered as soon as the objects they read or the
/// pod change, and re-checked against the disk at least this often.
pub const REFRESH_PERIOD: Duration = Duration::from_secs(60);
/// A pod whose volumes cannot be set up retries at least this often.
const RETRY_PERIOD: Duration = Duration::from_secs(10);

/// Files of a rendered volume: relative path → (content, mode).
pub type Payload = BTreeMap<String, (Vec<u8>, u32)>;

/// Where a volume lives on the host, and what a container may do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostVolume {
    pub path: PathBuf,
    /// configMap, secret, downwardAPI and projected are always read-only.
    pub read_only: bool,
    /// Why it cannot be a preopen (a hostPath that is not a directory).
    pub not_a_directory: Option<String>,
}

/// A volume could not be set up: kubelet's `FailedMount`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MountVolume.SetUp failed for volume {volume:?} : {message}")]
pub struct MountError {
    pub volume: String,
    pub message: String,
}

fn kind_of(v: &VolumeSpec) -> &'static str {
    if v.empty_dir.is_some() {
        "emptyDir"
    } else if v.host_path.is_some() {
        "hostPath"
    } else if v.config_map.is_some() {
        "configMap"
    } else if v.secret.is_some() {
        "secret"
    } else if v.downward_api.is_some() {
        "downwardAPI"
    } else if v.projected.is_some() {
        "projected"
    } else {
        "other"
    }
}

fn unsupported_kind(v: &VolumeSpec) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| {
            j.as_object()
                .and_then(|o| o.keys().find(|k| *k != "name").cloned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn mode_of(m: Option<i32>, default: u32) -> u32 {
    m.map_or(default, |m| (m as u32) & 0o7777)
}

/// A payload path must stay inside the volume: relative, no `..`, and not
/// starting with `..` (kubelet's reserved names).
fn check_path(p: &str) -> Result<(), String> {
    let path = Path::new(p);
    if p.is_empty()
        || path.is_absolute()
        || p.starts_with("..")
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(format!(
            "invalid path {p:?}: must be relative, must not contain '..' and must not start with '..'"
        ));
    }
    Ok(())
}

fn from_items(
    entries: Vec<(String, Vec<u8>)>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: u32,
    optional: bool,
    what: &str,
    out: &mut Payload,
) -> Result<(), String> {
    match items.filter(|i| !i.is_empty()) {
        None => {
            for (k, v) in entries {
                check_path(&k)?;
                out.insert(k, (v, default_mode));
            }
        }
        Some(items) => {
            let m: BTreeMap<String, Vec<u8>> = entries.into_iter().collect();
            for it in items {
                let Some(v) = m.get(&it.key) else {
                    if optional {
                        continue;
                    }
                    return Err(format!(
                        "{what} references non-existent {} key: {}",
                        if what == "configmap" {
                            "config"
                        } else {
                            "secret"
                        },
                        it.key
                    ));
                };
                check_path(&it.path)?;
                out.insert(it.path.clone(), (v.clone(), mode_of(it.mode, default_mode)));
            }
        }
    }
    Ok(())
}

fn downward_files(
    files: &[DownwardAPIVolumeFile],
    default_mode: u32,
    facts: &PodFacts<'_>,
    out: &mut Payload,
) -> Result<(), String> {
    for f in files {
        check_path(&f.path)?;
        let value = if let Some(r) = &f.field_ref {
            spec::field_value(&r.field_path, facts, false).ok_or_else(|| {
                format!(
                    "unsupported fieldPath {:?} in a downwardAPI volume (supported: metadata.name, metadata.namespace, metadata.uid, metadata.labels, metadata.annotations)",
                    r.field_path
                )
            })?
        } else if let Some(r) = &f.resource_field_ref {
            let name = r.container_name.as_deref().unwrap_or_default();
            let c = facts
                .pod
                .spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .find(|c| c.name == name)
                .ok_or_else(|| format!("resourceFieldRef: container {name:?} not found in pod"))?;
            spec::resource_value(r, c, facts)?
        } else {
            return Err(format!("downwardAPI item {:?} names no source", f.path));
        };
        out.insert(
            f.path.clone(),
            (value.into_bytes(), mode_of(f.mode, default_mode)),
        );
    }
    Ok(())
}

/// A configMap or secret source's files: its entries (see [`from_items`]),
/// or, when the object is missing, none if `optional` and the lookup's error
/// if not.
fn from_source(
    entries: Result<Vec<(String, Vec<u8>)>, sources::SourceError>,
    items: Option<&Vec<KeyToPath>>,
    default_mode: u32,
    optional: bool,
    what: &str,
    out: &mut Payload,
) -> Result<(), String> {
    match entries {
        Ok(entries) => from_items(entries, items, default_mode, optional, what, out),
        Err(_) if optional => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// The files of a configMap, secret, downwardAPI or projected volume; `None`
/// for the kinds that are not rendered.
pub fn payload(
    v: &VolumeSpec,
    facts: &PodFacts<'_>,
    src: &Sources<'_>,
) -> Result<Option<Payload>, String> {
    let mut out = Payload::new();
    if let Some(cm) = &v.config_map {
        let optional = cm.optional == Some(true);
        let mode = mode_of(cm.default_mode, DEFAULT_MODE);
        from_source(
            src.config_map(&cm.name).map(sources::config_map_entries),
            cm.items.as_ref(),
            mode,
            optional,
            "configmap",
            &mut out,
        )?;
    } else if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        let optional = s.optional == Some(true);
        let mode = mode_of(s.default_mode, DEFAULT_MODE);
        from_source(
            src.secret(&name).map(sources::secret_entries),
            s.items.as_ref(),
            mode,
            optional,
            "secret",
            &mut out,
        )?;
    } else if let Some(d) = &v.downward_api {
        let mode = mode_of(d.default_mode, DEFAULT_MODE);
        downward_files(
            d.items.as_deref().unwrap_or_default(),
            mode,
            facts,
            &mut out,
        )?;
    } else if let Some(p) = &v.projected {
        let mode = mode_of(p.default_mode, DEFAULT_MODE);
        for (i, s) in p.sources.iter().flatten().enumerate() {
            if let Some(cm) = &s.config_map {
                let optional = cm.optional == Some(true);
                from_source(
                    src.config_map(&cm.name).map(sources::config_map_entries),
                    cm.items.as_ref(),
                    mode,
                    optional,
                    "configmap",
                    &mut out,
                )?;
            } else if let Some(sec) = &s.secret {
                let optional = sec.optional == Some(true);
                from_source(
                    src.secret(&sec.name).map(sources::secret_entries),
                    sec.items.as_ref(),
                    mode,
                    optional,
                    "secret",
                    &mut out,
                )?;
            } else if let Some(d) = &s.downward_api {
                downward_files(
                    d.items.as_deref().unwrap_or_default(),
                    mode,
                    facts,
                    &mut out,
                )?;
            } else if s.service_account_token.is_some() {
                return Err(format!(
                    "projected source [{i}]: serviceAccountToken is not supported on this node (no token issuer yet)"
                ));
            } else if s.cluster_trust_bundle.is_some() {
                return Err(format!(
                    "projected source [{i}]: clusterTrustBundle is not supported on this node"
                ));
            }
        }
    } else {
        return Ok(None);
    }
    Ok(Some(out))
}

/// kubelet's hostPath type check (pkg/volume/hostpath: `checkTypeInternal`),
/// creating the path for the `*OrCreate` types. Returns whether the path is a
/// directory (a preopen) and, if not, why a container cannot mount it.
pub fn check_host_path(path: &Path, type_: &str) -> Result<Option<String>, String> {
    let shown = path.display();
    let meta = || std::fs::metadata(path).ok();
    let ft = match type_ {
        "DirectoryOrCreate" if meta().is_none() => {
            std::fs::create_dir_all(path).map_err(|e| format!("creating {shown}: {e}"))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("chmod {shown}: {e}"))?;
            None
        }
        "FileOrCreate" if meta().is_none() => {
            // Like kubelet, the parent directory is not created.
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| format!("creating {shown}: {e}"))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
                .map_err(|e| format!("chmod {shown}: {e}"))?;
            None
        }
        // No check: like docker, a missing path becomes a directory.
        "" if meta().is_none() => {
            std::fs::create_dir_all(path).map_err(|e| format!("creating {shown}: {e}"))?;
            None
        }
        _ => meta().map(|m| m.file_type()),
    };
    let ft = ft.or_else(|| meta().map(|m| m.file_type()));
    let is = |f: fn(&std::fs::FileType) -> bool| ft.as_ref().is_some_and(f);
    let fail = |what: &str| Err(format!("hostPath type check failed: {shown} is not {what}"));
    match type_ {
        "" => {}
        "Directory" | "DirectoryOrCreate" if !is(|f| f.is_dir()) => return fail("a directory"),
        "File" | "FileOrCreate" if !is(|f| f.is_file()) => return fail("a file"),
        "Socket" if !is(|f| f.is_socket()) => return fail("a socket file"),
        "CharDevice" if !is(|f| f.is_char_device()) => return fail("a character device"),
        "BlockDevice" if !is(|f| f.is_block_device()) => return fail("a block device"),
        "Directory" | "DirectoryOrCreate" | "File" | "FileOrCreate" | "Socket" | "CharDevice"
        | "BlockDevice" => {}
        other => return Err(format!("{other} is an invalid volume type")),
    }
    Ok((!is(|f| f.is_dir())).then(|| {
        format!(
            "hostPath {shown} is not a directory: a WASI preopen must be a directory, so a file, socket or device cannot be mounted; mount the directory that holds it instead"
        )
    }))
}

/// Where each volume of the pod lives, without touching the disk.
pub fn host_paths(pod: &Pod, root: &Path) -> BTreeMap<String, HostVolume> {
    let mut out = BTreeMap::new();
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let (path, read_only) = match &v.host_path {
            Some(h) => (PathBuf::from(&h.path), false),
            None => (root.join(&v.name), kind_of(v) != "emptyDir"),
        };
        let not_a_directory = v
            .host_path
            .as_ref()
            .filter(|_| !Path::new(&path).is_dir())
            .map(|_| {
                format!(
                    "hostPath {} is not a directory: a WASI preopen must be a directory, so a file, socket or device cannot be mounted; mount the directory that holds it instead",
                    path.display()
                )
            });
        out.insert(
            v.name.clone(),
            HostVolume {
                path,
                read_only,
                not_a_directory,
            },
        );
    }
    out
}

/// Sets up every volume of the pod once: emptyDirs made, hostPaths checked,
/// rendered volumes written. The first failure is returned (kubelet's
/// `FailedMount`); what succeeded stays.
pub fn setup(
    pod: &Pod,
    root: &Path,
    facts: &PodFacts<'_>,
    src: &Sources<'_>,
) -> Result<(), MountError> {
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        let err = |message: String| MountError {
            volume: v.name.clone(),
            message,
        };
        let dir = root.join(&v.name);
        match kind_of(v) {
            "emptyDir" => std::fs::create_dir_all(&dir)
                .map_err(|e| err(format!("creating {}: {e}", dir.display())))?,
            "hostPath" => {
                let h = v.host_path.as_ref().expect("hostPath");
                check_host_path(Path::new(&h.path), h.type_.as_deref().unwrap_or_default())
                    .map_err(err)?;
            }
            "other" => {
                return Err(err(format!(
                    "volume type {} is not supported (supported: emptyDir, hostPath, configMap, secret, downwardAPI, projected)",
                    unsupported_kind(v)
                )));
            }
            _ => {
                let files = payload(v, facts, src).map_err(err)?.unwrap_or_default();
                write_atomic(&dir, &files)
                    .map_err(|e| err(format!("writing {}: {e}", dir.display())))?;
            }
        }
    }
    Ok(())
}

/// Re-renders the configMap, secret, downwardAPI and projected volumes;
/// returns the names of those whose content changed. A volume whose source
/// is gone keeps its last content.
pub fn refresh(pod: &Pod, root: &Path, facts: &PodFacts<'_>, src: &Sources<'_>) -> Vec<String> {
    let mut changed = Vec::new();
    for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
        if !matches!(
            kind_of(v),
            "configMap" | "secret" | "downwardAPI" | "projected"
        ) {
            continue;
        }
        let dir = root.join(&v.name);
        match payload(v, facts, src) {
            Ok(Some(files)) => match write_atomic(&dir, &files) {
                Ok(true) => changed.push(v.name.clone()),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(volume = %v.name, "refreshing {}: {e}", dir.display())
                }
            },
            Ok(None) => {}
            Err(e) => tracing::debug!(volume = %v.name, "volume not refreshed: {e}"),
        }
    }
    changed
}

/// The preopens of container `c` from its `volumeMounts`.
pub fn mounts_for(
    c: &Container,
    volumes: &BTreeMap<String, HostVolume>,
) -> Result<Vec<Preopen>, String> {
    let mut out = Vec::new();
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let Some(v) = volumes.get(&m.name) else {
            return Err(format!(
                "container {:?}: volumeMounts[{i}]: volume {:?} not found in spec.volumes",
                c.name, m.name
            ));
        };
        if m.sub_path.as_deref().is_some_and(|s| !s.is_empty())
            || m.sub_path_expr.as_deref().is_some_and(|s| !s.is_empty())
        {
            return Err(format!(
                "container {:?}: volumeMounts[{i}] ({}): subPath is not supported yet",
                c.name, m.name
            ));
        }
        if let Some(why) = &v.not_a_directory {
            return Err(format!(
                "container {:?}: volumeMounts[{i}] ({}): {why}",
                c.name, m.name
            ));
        }
        out.push(Preopen {
            host: v.path.clone(),
            guest: m.mount_path.clone(),
            read_only: v.read_only || m.read_only.unwrap_or(false),
        });
    }
    Ok(out)
}

/// The timestamped directory name kubelet's AtomicWriter uses.
fn ts_dir_name() -> String {
    let now = chrono::Utc::now();
    format!(
        "..{}.{:09}",
        now.format("%Y_%m_%d_%H_%M_%S"),
        now.timestamp_subsec_nanos()
    )
}

/// The files under `dir` (recursively), relative, with content and mode.
fn read_tree(dir: &Path) -> io::Result<Payload> {
    let mut out = Payload::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(dir.join(&rel))? {
            let e = e?;
            let r = rel.join(e.file_name());
            let ft = e.file_type()?;
            if ft.is_dir() {
                stack.push(r);
            } else {
                let meta = e.metadata()?;
                let content = std::fs::read(e.path())?;
                out.insert(
                    r.to_string_lossy().into_owned(),
                    (content, meta.permissions().mode() & 0o7777),
                );
            }
        }
    }
    Ok(out)
}

fn top_of(p: &str) -> &str {
    p.split('/').next().unwrap_or(p)
}

/// Writes `payload` into `dir` atomically (kubelet's AtomicWriter); returns
/// false when what is there already equals it.
pub fn write_atomic(dir: &Path, payload: &Payload) -> io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    let data = dir.join("..data");
    let old = std::fs::read_link(&data).ok();
    if let Some(old) = &old
        && read_tree(&dir.join(old)).is_ok_and(|t| &t == payload)
    {
        return Ok(false);
    }
    let name = ts_dir_name();
    let ts = dir.join(&name);
    std::fs::create_dir(&ts)?;
    std::fs::set_permissions(&ts, std::fs::Permissions::from_mode(0o755))?;
    let written = (|| {
        for (rel, (content, mode)) in payload {
            let f = ts.join(rel);
            if let Some(parent) = f.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&f, content)?;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(*mode))?;
        }
        let tmp = dir.join("..data_tmp");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&name, &tmp)?;
        std::fs::rename(&tmp, &data)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&ts);
        return Err(e);
    }
    let wanted: BTreeSet<&str> = payload.keys().map(|k| top_of(k)).collect();
    for top in &wanted {
        let link = dir.join(top);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new("..data").join(top), &link)?;
        }
    }
    // Names of the old payload that the new one lacks go.
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let n = e.file_name().to_string_lossy().into_owned();
        if !n.starts_with("..") && !wanted.contains(n.as_str()) && e.file_type()?.is_symlink() {
            std::fs::remove_file(e.path())?;
        }
    }
    if let Some(old) = old
        && old != Path::new(&name)
    {
        let _ = std::fs::remove_dir_all(dir.join(old));
    }
    Ok(true)
}

/// Facts for rendering: the pod as currently desired (labels and
/// annotations change), and the node's allocatable.
fn facts_for<'a>(pod: &'a Pod, ctx: &'a Ctx, alloc: (i128, i128)) -> PodFacts<'a> {
    PodFacts {
        pod,
        node_name: &ctx.cfg.node_name,
        pod_ip: String::new(),
        host_ip: ctx.cfg.host_ip.clone().unwrap_or_default(),
        allocatable_cpu_millis: alloc.0,
        allocatable_memory: alloc.1,
    }
}

/// The pod as the desired state has it now (its first version if gone).
fn current_pod(state: &DesiredState, pod: &Pod) -> Pod {
    pod.metadata
        .uid
        .as_ref()
        .and_then(|u| state.pods.get(u))
        .cloned()
        .unwrap_or_else(|| pod.clone())
}

/// Waits until the objects pods read change, `max` passes, or `stop` fires
/// (false then).
pub(crate) async fn wait_for_change(
    desired: &mut watch::Receiver<DesiredState>,
    stop: &CancellationToken,
    seen: u64,
    max: Duration,
) -> bool {
    let deadline = tokio::time::sleep(max);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return false,
            _ = &mut deadline => return true,
            r = desired.changed() => {
                if r.is_err() {
                    tokio::select! {
                        _ = stop.cancelled() => return false,
                        _ = &mut deadline => return true,
                    }
                }
                if sources::version(&desired.borrow_and_update()) != seen {
                    return true;
                }
            }
        }
    }
}

/// Sets up the pod's volumes, retrying (on every change of the objects, and
/// every [`RETRY_PERIOD`]) until it works; each failure is reported through
/// `waiting` and a `FailedMount` Warning event. False when stopped first.
pub(crate) async fn mount_all(
    ctx: &Arc<Ctx>,
    pod: &Pod,
    root: &Path,
    stop: &CancellationToken,
    waiting: impl Fn(&MountError),
) -> bool {
    let mut desired = ctx.desired();
    let alloc = spec::node_allocatable();
    loop {
        let state = desired.borrow_and_update().clone();
        let seen = sources::version(&state);
        let (pod2, root2, ctx2) = (current_pod(&state, pod), root.to_owned(), ctx.clone());
        let r = tokio::task::spawn_blocking(move || {
            let ns = pod2.metadata.namespace.clone().unwrap_or_default();
            let src = Sources::new(&state, &ns);
            setup(&pod2, &root2, &facts_for(&pod2, &ctx2, alloc), &src)
        })
        .await
        .unwrap_or_else(|e| {
            Err(MountError {
                volume: String::new(),
                message: format!("volume setup panicked: {e}"),
            })
        });
        match r {
            Ok(()) => return true,
            Err(e) => {
                tracing::warn!(pod = %format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or(""), pod.metadata.name.as_deref().unwrap_or("")), "{e}");
                waiting(&e);
                ctx.sink.event(
                    pod_ref(pod),
                    EventKind::Warning,
                    "FailedMount",
                    e.to_string(),
                );
                if !wait_for_change(&mut desired, stop, seen, RETRY_PERIOD).await {
                    return false;
                }
            }
        }
    }
}

/// Keeps the pod's rendered volumes current until `stop`: re-rendered when
/// the objects pods read or the pod itself change (at most twice a second),
/// and every [`REFRESH_PERIOD`]; only a changed content is swapped in.
pub(crate) async fn keep_fresh(ctx: Arc<Ctx>, pod: Pod, root: PathBuf, stop: CancellationToken) {
    let renders = pod
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .any(|v| {
            matches!(
                kind_of(v),
                "configMap" | "secret" | "downwardAPI" | "projected"
            )
        });
    if !renders {
        return;
    }
    let fingerprint = |state: &DesiredState| {
        let rv = current_pod(state, &pod).metadata.resource_version;
        (sources::version(state), rv)
    };
    let mut desired = ctx.desired();
    let mut seen = fingerprint(&desired.borrow_and_update());
    let alloc = spec::node_allocatable();
    loop {
        let periodic = tokio::time::sleep(REFRESH_PERIOD);
        tokio::pin!(periodic);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = &mut periodic => break,
                r = desired.changed() => {
                    if r.is_err() {
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            _ = &mut periodic => break,
                        }
                    }
                    if fingerprint(&desired.borrow_and_update()) != seen {
                        break;
                    }
                }
            }
        }
        let state = desired.borrow_and_update().clone();
        seen = fingerprint(&state);
        let (pod2, root2, ctx2) = (current_pod(&state, &pod), root.clone(), ctx.clone());
        let changed = tokio::task::spawn_blocking(move || {
            let ns = pod2.metadata.namespace.clone().unwrap_or_default();
            let src = Sources::new(&state, &ns);
            refresh(&pod2, &root2, &facts_for(&pod2, &ctx2, alloc), &src)
        })
        .await
        .unwrap_or_default();
        if !changed.is_empty() {
            tracing::info!(pod_uid = %pod.metadata.uid.as_deref().unwrap_or(""), volumes = ?changed, "volumes updated in place");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::test_fixtures::{facts, pod, state};

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn atomic_writer_swaps_data_and_keeps_links() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("cfg");
        let mut p = Payload::new();
        p.insert("a".into(), (b"1".to_vec(), 0o644));
        p.insert("sub/b".into(), (b"2".to_vec(), 0o600));
        assert!(write_atomic(&dir, &p).unwrap());
        assert_eq!(read(&dir.join("a")), "1");
        assert_eq!(read(&dir.join("sub/b")), "2");
        assert_eq!(
            std::fs::read_link(dir.join("a")).unwrap(),
            Path::new("..data/a")
        );
        let first = std::fs::read_link(dir.join("..data")).unwrap();
        assert!(first.to_string_lossy().starts_with("..20"), "{first:?}");
        assert_eq!(mode(&dir.join("sub/b")), 0o600);
        // Same content: nothing is swapped.
        assert!(!write_atomic(&dir, &p).unwrap());
        assert_eq!(std::fs::read_link(dir.join("..data")).unwrap(), first);
        // New content: a new directory, the old one and the dropped key gone.
        let mut q = Payload::new();
        q.insert("a".into(), (b"one".to_vec(), 0o644));
        assert!(write_atomic(&dir, &q).unwrap());
        assert_eq!(read(&dir.join("a")), "one");
        assert!(std::fs::symlink_metadata(dir.join("sub")).is_err());
        assert!(!dir.join(&first).exists());
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}"); // a, ..data, ..<ts>
        // A mode change alone is a change.
        q.insert("a".into(), (b"one".to_vec(), 0o400));
        assert!(write_atomic(&dir, &q).unwrap());
        assert_eq!(mode(&dir.join("a")), 0o400);
    }

    #[test]
    fn config_map_items_modes_and_optional() {
        let st = state(serde_json::json!({"configMaps": [
            {"metadata": {"name": "app", "namespace": "ns"}, "data": {"a.conf": "A", "b": "B"}, "binaryData": {"bin": "AAE="}},
        ]}));
        let src = Sources::new(&st, "ns");
        let p = pod(
            serde_json::json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": []}}),
        );
        let f = facts(&p);
        let vol = |v: serde_json::Value| -> VolumeSpec { serde_json::from_value(v).unwrap() };
        let all = payload(&vol(serde_json::json!({"name": "c", "configMap": {"name": "app", "defaultMode": 0o440}})), &f, &src).unwrap().unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all["a.conf"], (b"A".to_vec(), 0o440));
        assert_eq!(all["bin"].0, vec![0u8, 1]);
        let items = payload(
            &vol(
                serde_json::json!({"name": "c", "configMap": {"name": "app", "items": [
                    {"key": "b", "path": "dir/b.txt", "mode": 0o600},
                ]}}),
            ),
            &f,
            &src,
        )
        .unwrap()
        .unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items["dir/b.txt"], (b"B".to_vec(), 0o600));
        let e = payload(&vol(serde_json::json!({"name": "c", "configMap": {"name": "app", "items": [{"key": "zz", "path": "z"}]}})), &f, &src).unwrap_err();
        assert_eq!(e, "configmap references non-existent config key: zz");
        let e = payload(
            &vol(serde_json::json!({"name": "c", "configMap": {"name": "nope"}})),
            &f,
            &src,
        )
        .unwrap_err();
        assert_eq!(e, "configmap \"nope\" not found");
        let empty = payload(
            &vol(serde_json::json!({"name": "c", "configMap": {"name": "nope", "optional": true}})),
            &f,
            &src,
        )
        .unwrap()
        .unwrap();
        assert!(empty.is_empty());
        let e = payload(&vol(serde_json::json!({"name": "c", "configMap": {"name": "app", "items": [{"key": "b", "path": "../x"}]}})), &f, &src).unwrap_err();
        assert!(e.contains("'..'"), "{e}");
    }

    #[test]
    fn secret_downward_and_projected_volumes() {
        let st = state(serde_json::json!({
            "configMaps": [{"metadata": {"name": "cm", "namespace": "ns"}, "data": {"k": "v"}}],
            "secrets": [{"metadata": {"name": "s", "namespace": "ns"}, "data": {"pw": "aHVudGVyMg=="}}],
        }));
        let src = Sources::new(&st, "ns");
        let p = pod(serde_json::json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "labels": {"b": "2", "a": "x\"y"}},
            "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "64Mi", "cpu": "250m"}}}]},
        }));
        let f = facts(&p);
        let vol = |v: serde_json::Value| -> VolumeSpec { serde_json::from_value(v).unwrap() };
        let s = payload(
            &vol(serde_json::json!({"name": "s", "secret": {"secretName": "s"}})),
            &f,
            &src,
        )
        .unwrap()
        .unwrap();
        assert_eq!(s["pw"], (b"hunter2".to_vec(), 0o644));
        let e = payload(
            &vol(serde_json::json!({"name": "s", "secret": {"secretName": "gone"}})),
            &f,
            &src,
        )
        .unwrap_err();
        assert_eq!(e, "secret \"gone\" not found");
        let d = payload(&vol(serde_json::json!({"name": "d", "downwardAPI": {"items": [
            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}},
            {"path": "cpu", "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu", "divisor": "1"}},
        ]}})), &f, &src).unwrap().unwrap();
        let text = |k: &str| String::from_utf8(d[k].0.clone()).unwrap();
        assert_eq!(text("name"), "web");
        assert_eq!(text("labels"), "a=\"x\\\"y\"\nb=\"2\"");
        assert_eq!(text("mem"), "64");
        assert_eq!(text("cpu"), "1");
        let pr = payload(&vol(serde_json::json!({"name": "p", "projected": {"defaultMode": 0o400, "sources": [
            {"configMap": {"name": "cm"}},
            {"secret": {"name": "s", "items": [{"key": "pw", "path": "creds/pw"}]}},
            {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
        ]}})), &f, &src).unwrap().unwrap();
        assert_eq!(pr.keys().collect::<Vec<_>>(), vec!["creds/pw", "k", "ns"]);
        assert_eq!(pr["k"].1, 0o400);
        let e = payload(
            &vol(serde_json::json!({"name": "p", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token"}},
            ]}})),
            &f,
            &src,
        )
        .unwrap_err();
        assert!(e.contains("serviceAccountToken is not supported"), "{e}");
    }

    #[test]
    fn host_path_type_checks_follow_kubelet() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("d");
        let file = t.path().join("f");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(&file, "x").unwrap();
        assert_eq!(check_host_path(&dir, "Directory"), Ok(None));
        assert_eq!(
            check_host_path(&file, "Directory").unwrap_err(),
            format!(
                "hostPath type check failed: {} is not a directory",
                file.display()
            )
        );
        let missing = t.path().join("missing");
        assert_eq!(
            check_host_path(&missing, "Directory").unwrap_err(),
            format!(
                "hostPath type check failed: {} is not a directory",
                missing.display()
            )
        );
        assert!(
            check_host_path(&dir, "File")
                .unwrap_err()
                .ends_with("is not a file")
        );
        assert!(
            check_host_path(&file, "Socket")
                .unwrap_err()
                .ends_with("is not a socket file")
        );
        assert!(
            check_host_path(&file, "CharDevice")
                .unwrap_err()
                .ends_with("is not a character device")
        );
        assert!(
            check_host_path(&file, "BlockDevice")
                .unwrap_err()
                .ends_with("is not a block device")
        );
        assert!(check_host_path(Path::new("/dev/null"), "CharDevice").is_ok());
        // A file passes its check but cannot be a preopen.
        let why = check_host_path(&file, "File").unwrap().unwrap();
        assert!(why.contains("WASI preopen must be a directory"), "{why}");
        let made = t.path().join("made/deep");
        assert_eq!(check_host_path(&made, "DirectoryOrCreate"), Ok(None));
        assert!(made.is_dir());
        let newfile = t.path().join("new.txt");
        assert!(check_host_path(&newfile, "FileOrCreate").unwrap().is_some());
        assert!(newfile.is_file());
        assert!(check_host_path(&t.path().join("no/parent.txt"), "FileOrCreate").is_err());
        assert_eq!(
            check_host_path(&file, "Bogus").unwrap_err(),
            "Bogus is an invalid volume type"
        );
    }

    #[test]
    fn mounts_are_read_only_for_rendered_volumes_and_refuse_files() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let p = pod(serde_json::json!({
            "metadata": {"name": "web", "uid": "u"},
            "spec": {"containers": [{"name": "c", "volumeMounts": [
                {"name": "cfg", "mountPath": "/etc/cfg"},
                {"name": "data", "mountPath": "/data"},
            ]}, {"name": "f", "volumeMounts": [{"name": "file", "mountPath": "/x"}]}],
            "volumes": [
                {"name": "cfg", "configMap": {"name": "x"}},
                {"name": "data", "emptyDir": {}},
                {"name": "file", "hostPath": {"path": file.display().to_string(), "type": "File"}},
            ]},
        }));
        let vols = host_paths(&p, Path::new("/v"));
        let cs = &p.spec.as_ref().unwrap().containers;
        let m = mounts_for(&cs[0], &vols).unwrap();
        assert_eq!(
            m,
            vec![
                Preopen {
                    host: "/v/cfg".into(),
                    guest: "/etc/cfg".into(),
                    read_only: true
                },
                Preopen {
                    host: "/v/data".into(),
                    guest: "/data".into(),
                    read_only: false
                },
            ]
        );
        let e = mounts_for(&cs[1], &vols).unwrap_err();
        assert!(
            e.contains("is not a directory") && e.contains("volumeMounts[0] (file)"),
            "{e}"
        );
    }

    #[test]
    fn setup_reports_the_missing_source_like_kubelet() {
        let t = tempfile::tempdir().unwrap();
        let p = pod(serde_json::json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u"},
            "spec": {"containers": [], "volumes": [
                {"name": "data", "emptyDir": {}},
                {"name": "cfg", "configMap": {"name": "x"}},
            ]},
        }));
        let st = DesiredState::default();
        let e = setup(&p, t.path(), &facts(&p), &Sources::new(&st, "ns")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "MountVolume.SetUp failed for volume \"cfg\" : configmap \"x\" not found"
        );
        let st = state(serde_json::json!({"configMaps": [
            {"metadata": {"name": "x", "namespace": "ns"}, "data": {"k": "v1"}},
        ]}));
        setup(&p, t.path(), &facts(&p), &Sources::new(&st, "ns")).unwrap();
        assert_eq!(read(&t.path().join("cfg/k")), "v1");
        assert!(t.path().join("data").is_dir());
        let st2 = state(serde_json::json!({"configMaps": [
            {"metadata": {"name": "x", "namespace": "ns"}, "data": {"k": "v2"}},
        ]}));
        assert_eq!(
            refresh(&p, t.path(), &facts(&p), &Sources::new(&st2, "ns")),
            vec!["cfg"]
        );
        assert_eq!(read(&t.path().join("cfg/k")), "v2");
        // The source gone: the last content stays.
        let none = DesiredState::default();
        assert!(refresh(&p, t.path(), &facts(&p), &Sources::new(&none, "ns")).is_empty());
        assert_eq!(read(&t.path().join("cfg/k")), "v2");
    }
}
