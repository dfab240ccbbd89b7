//! Named network namespaces: create, enter, delete — the only module of the
//! workspace allowed `unsafe` (DESIGN §5, CONVENTIONS "Hygiene").
//!
//! Owns the files under `/run/netns` that the pod network creates. A named
//! netns is, as with `ip netns add`, an empty file bind-mounted over a thread's
//! `/proc/thread-self/ns/net`, so `ip netns list`/`exec` see our pods.
//!
//! Invariants:
//! - A thread whose network namespace is changed here is either the caller of
//!   [`enter_netns`] (the pod runtime, on a pod's own thread) or a short-lived
//!   thread spawned here that exits right after; no pooled or runtime thread is
//!   ever moved to another namespace.
//! - Every `unsafe` block is a single libc call whose pointer arguments are
//!   `CString`s or stack values that outlive the call.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Where named network namespaces live (as for iproute2's `ip netns`).
pub const NETNS_RUN_DIR: &str = "/run/netns";

/// `statfs(2)` type of an nsfs file (a mounted namespace), from `linux/magic.h`.
const NSFS_MAGIC: i64 = 0x6e73_6673;

/// Moves the **calling thread** into the network namespace at `path` (e.g.
/// `/run/netns/regatta-<uid>`), with `setns(CLONE_NEWNET)`. Sockets the
/// thread opens afterwards live in that namespace, and threads it spawns
/// afterwards inherit it; other threads of the process are not affected.
///
/// The pod runtime calls this first thing on each pod thread. Do not call it
/// on a tokio worker or `spawn_blocking` thread: those are reused.
pub fn enter_netns(path: &Path) -> io::Result<()> {
    let file = File::open(path)?;
    // SAFETY: `setns` reads only its two integer arguments; the fd belongs to
    // `file`, which stays open until after the call returns. It changes only
    // the calling thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Makes [`NETNS_RUN_DIR`] exist and be a shared mount point, exactly as
/// `ip netns add` does, so the namespaces we mount there propagate to (and
/// can be deleted from) other mount namespaces that iproute2 users create.
pub(crate) fn prepare_run_dir() -> io::Result<()> {
    fs::create_dir_all(NETNS_RUN_DIR)?;
    let dir = cstring(Path::new(NETNS_RUN_DIR))?;
    let none = c"none";
    let shared = || {
        // SAFETY: all pointers are NUL-terminated strings that outlive the
        // call (or null for `data`); remounting with MS_SHARED|MS_REC only
        // changes the propagation type of the /run/netns mount.
        let rc = unsafe {
            libc::mount(
                none.as_ptr(),
                dir.as_ptr(),
                none.as_ptr(),
                libc::MS_SHARED | libc::MS_REC,
                std::ptr::null(),
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    match shared() {
        Ok(()) => Ok(()),
        // Not a mount point yet: bind it onto itself first (iproute2 does the same).
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            // SAFETY: as above; a recursive bind of /run/netns onto itself.
            let rc = unsafe {
                libc::mount(
                    dir.as_ptr(),
                    dir.as_ptr(),
                    none.as_ptr(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            shared()
        }
        Err(e) => Err(e),
    }
}

/// Creates a new network namespace bind-mounted at `path` (which must not
/// exist) and runs `inside` on a thread that is in it, returning its result.
/// The thread exits afterwards; the namespace lives on through the mount.
/// Blocking: call from `spawn_blocking`.
pub(crate) fn create<T, F>(path: &Path, inside: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    // The mount target must exist; create_new refuses to adopt a stray file.
    OpenOptions::new().write(true).create_new(true).open(path)?;
    let target = cstring(path)?;
    let result = std::thread::Builder::new()
        .name("netns-create".into())
        .spawn(move || -> io::Result<T> {
            // SAFETY: `unshare` takes only a flag; CLONE_NEWNET moves just
            // this short-lived thread into a fresh network namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            let source = c"/proc/thread-self/ns/net";
            // SAFETY: NUL-terminated strings that outlive the call; a plain
            // bind mount of this thread's netns file onto our empty file.
            let rc = unsafe {
                libc::mount(
                    source.as_ptr(),
                    target.as_ptr(),
                    c"none".as_ptr(),
                    libc::MS_BIND,
                    std::ptr::null(),
                )
            };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            // Pods are IPv4-only: an eth0 without IPv6 spares the kernel its
            // link-local address, DAD and MLD work per pod (`lo` keeps ::1,
            // it exists already). Best effort: a host without IPv6 has no file.
            let _ = std::fs::write("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
            Ok(inside())
        })?
        .join()
        .map_err(|_| io::Error::other("netns creation thread panicked"))
        .and_then(|r| r);
    if result.is_err() {
        let _ = delete(path);
    }
    result
}

/// Runs `inside` on a short-lived thread that has entered the network
/// namespace at `path`. Blocking: call from `spawn_blocking`.
pub(crate) fn run_in<T, F>(path: &Path, inside: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let path = path.to_owned();
    std::thread::Builder::new()
        .name("netns-enter".into())
        .spawn(move || -> io::Result<T> {
            enter_netns(&path)?;
            Ok(inside())
        })?
        .join()
        .map_err(|_| io::Error::other("netns thread panicked"))?
}

/// Whether `path` is a mounted namespace (not a stray file left by a crash
/// between creating the file and mounting over it).
pub(crate) fn is_mounted(path: &Path) -> io::Result<bool> {
    let p = cstring(path)?;
    // SAFETY: an all-zero `statfs` is a valid value of that plain C struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `p` is NUL-terminated and `st` is a valid, writable statfs that
    // outlives the call.
    let rc = unsafe { libc::statfs(p.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)] // f_type's width differs between libcs
    Ok(st.f_type as i64 == NSFS_MAGIC)
}

/// Unmounts and removes the named netns at `path`; missing is fine. The
/// namespace itself disappears when no thread or socket holds it any more.
pub(crate) fn delete(path: &Path) -> io::Result<()> {
    let p = cstring(path)?;
    // SAFETY: `p` is NUL-terminated and outlives the call; MNT_DETACH only
    // detaches the mount at this exact path.
    let rc = unsafe { libc::umount2(p.as_ptr(), libc::MNT_DETACH) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        // EINVAL: not a mount point (stray file); ENOENT: already gone.
        if !matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) {
            return Err(e);
        }
    }
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether this process runs as root (tests that need it skip otherwise).
#[cfg(test)]
pub(crate) fn euid_is_root() -> bool {
    // SAFETY: geteuid takes no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}
