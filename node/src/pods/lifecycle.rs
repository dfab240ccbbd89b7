//! Lifecycle hooks (`postStart`, `preStop`) of a container, run the way
//! kubelet's handler runner does, with its failure messages.
//!
//! Owns: reading `lifecycle` into [`Hooks`] and running one hook
//! ([`run_hook`]) through a probe [`Runner`]. When a hook runs and what its
//! failure means (kill after `postStart`, stop after `preStop`) is the pod
//! worker's business, not this module's.

use std::net::IpAddr;
use std::time::Duration;

use regatta_api::k8s_openapi::api::core::v1::Container;

use super::probes::{self, Handler, Outcome, Runner};

/// The hooks of one container.
#[derive(Clone, Debug, Default)]
pub struct Hooks {
    pub post_start: Option<Handler>,
    pub pre_stop: Option<Handler>,
}

impl Hooks {
    pub fn of(c: &Container, pod_ip: IpAddr) -> Result<Hooks, String> {
        let Some(l) = &c.lifecycle else {
            return Ok(Hooks::default());
        };
        Ok(Hooks {
            post_start: l
                .post_start
                .as_ref()
                .map(|h| probes::hook_handler(c, h, pod_ip, "lifecycle.postStart"))
                .transpose()?,
            pre_stop: l
                .pre_stop
                .as_ref()
                .map(|h| probes::hook_handler(c, h, pod_ip, "lifecycle.preStop"))
                .transpose()?,
        })
    }
}

/// Runs hook `h` of container `container` in pod `pod` (kubelet's
/// `name_namespace(uid)`), bounded by `timeout`. The error is the event
/// message kubelet would record.
pub async fn run_hook(
    runner: &Runner,
    h: &Handler,
    container: &str,
    pod: &str,
    timeout: Duration,
) -> Result<(), String> {
    match runner.run(h, timeout).await {
        Outcome::Success => Ok(()),
        Outcome::Failure(msg) => Err(match h {
            // Go's %v of a []string: `[a b c]`.
            Handler::Exec { command } => format!(
                "Exec lifecycle hook ([{}]) for Container {container:?} in Pod {pod:?} failed - error: {msg}",
                command.join(" ")
            ),
            Handler::HttpGet { path, .. } => format!(
                "HTTP lifecycle hook ({path}) for Container {container:?} in Pod {pod:?} failed - error: {msg}"
            ),
            Handler::TcpSocket { .. } | Handler::Sleep { .. } => format!(
                "Lifecycle hook for Container {container:?} in Pod {pod:?} failed - error: {msg}"
            ),
        }),
    }
}
