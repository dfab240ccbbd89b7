//! What the node knows about one pod, and how it reads as a `PodStatus`.
//!
//! A container's state is an enum ([`State`]); the pod phase and conditions
//! are derived from the containers every time, never stored, so they cannot
//! disagree with them.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use regatta_api::k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, PodCondition, PodIP, PodStatus,
};
use regatta_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// One container's current state, as `containerStatuses[].state` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Not running: being created, pulling, backing off, misconfigured.
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: DateTime<Utc>,
    },
    /// Ended and will not be restarted (or is the `lastState` of one that will).
    Terminated {
        exit_code: i32,
        reason: String,
        message: Option<String>,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
    },
}

impl State {
    pub fn waiting(reason: &str, message: Option<String>) -> State {
        State::Waiting {
            reason: reason.into(),
            message,
        }
    }

    fn to_k8s(&self) -> ContainerState {
        match self {
            State::Waiting { reason, message } => ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.clone()),
                    message: message.clone(),
                }),
                ..Default::default()
            },
            State::Running { started_at } => ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(*started_at)),
                }),
                ..Default::default()
            },
            State::Terminated {
                exit_code,
                reason,
                message,
                started_at,
                finished_at,
            } => ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: *exit_code,
                    reason: Some(reason.clone()),
                    message: message.clone(),
                    started_at: Some(Time(*started_at)),
                    finished_at: Some(Time(*finished_at)),
                    ..Default::default()
                }),
                ..Default::default()
            },
        }
    }
}

#[derive(Clone, Debug)]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    /// `sha256:<hex>` of the module, once pulled.
    pub image_id: Option<String>,
    pub restart_count: i32,
    pub state: State,
    /// The previous run, when the container has been restarted.
    pub last_state: Option<State>,
}

impl ContainerView {
    pub fn new(name: &str, image: &str) -> ContainerView {
        ContainerView {
            name: name.into(),
            image: image.into(),
            image_id: None,
            restart_count: 0,
            state: State::waiting("ContainerCreating", None),
            last_state: None,
        }
    }

    fn ready(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    /// Has never run yet (so the pod is still `Pending` for it).
    fn never_ran(&self) -> bool {
        matches!(self.state, State::Waiting { .. }) && self.last_state.is_none()
    }
}

/// The node's view of one pod.
#[derive(Clone, Debug)]
pub struct PodView {
    pub scheduled_at: DateTime<Utc>,
    pub start_time: DateTime<Utc>,
    pub host_ip: Option<String>,
    pub pod_ip: Option<Ipv4Addr>,
    pub containers: Vec<ContainerView>,
    /// Last (status, transition time) of each condition, for `lastTransitionTime`.
    transitions: BTreeMap<&'static str, (bool, DateTime<Utc>)>,
}

impl PodView {
    pub fn new(
        scheduled_at: DateTime<Utc>,
        host_ip: Option<String>,
        containers: Vec<ContainerView>,
    ) -> PodView {
        PodView {
            scheduled_at,
            start_time: Utc::now(),
            host_ip,
            pod_ip: None,
            containers,
            transitions: BTreeMap::new(),
        }
    }

    /// `Pending` until every container has run once, `Succeeded`/`Failed`
    /// once all have terminated for good, `Running` otherwise.
    pub fn phase(&self) -> &'static str {
        let all_terminated = !self.containers.is_empty()
            && self
                .containers
                .iter()
                .all(|c| matches!(c.state, State::Terminated { .. }));
        if all_terminated {
            let ok = self
                .containers
                .iter()
                .all(|c| matches!(c.state, State::Terminated { exit_code: 0, .. }));
            return if ok { "Succeeded" } else { "Failed" };
        }
        if self.containers.is_empty() || self.containers.iter().any(ContainerView::never_ran) {
            "Pending"
        } else {
            "Running"
        }
    }

    fn condition(&mut self, type_: &'static str, ok: bool, now: DateTime<Utc>) -> PodCondition {
        let at = match self.transitions.get(type_) {
            Some((was, at)) if *was == ok => *at,
            _ => {
                let at = if type_ == "PodScheduled" {
                    self.scheduled_at
                } else {
                    now
                };
                self.transitions.insert(type_, (ok, at));
                at
            }
        };
        let reason = match (type_, ok) {
            ("ContainersReady" | "Ready", false) if self.phase() == "Succeeded" => {
                Some("PodCompleted".to_string())
            }
            ("ContainersReady" | "Ready", false) => Some("ContainersNotReady".to_string()),
            _ => None,
        };
        PodCondition {
            type_: type_.into(),
            status: if ok { "True" } else { "False" }.into(),
            last_transition_time: Some(Time(at)),
            reason,
            ..Default::default()
        }
    }

    /// The status to report now.
    pub fn status(&mut self) -> PodStatus {
        let now = Utc::now();
        let ready = !self.containers.is_empty() && self.containers.iter().all(ContainerView::ready);
        let conditions = vec![
            self.condition("PodScheduled", true, now),
            self.condition("Initialized", true, now),
            self.condition("ContainersReady", ready, now),
            self.condition("Ready", ready, now),
        ];
        let container_statuses = self
            .containers
            .iter()
            .map(|c| ContainerStatus {
                name: c.name.clone(),
                image: c.image.clone(),
                image_id: c.image_id.clone().unwrap_or_default(),
                ready: c.ready(),
                started: Some(c.ready()),
                restart_count: c.restart_count,
                state: Some(c.state.to_k8s()),
                last_state: c.last_state.as_ref().map(State::to_k8s),
                ..Default::default()
            })
            .collect();
        PodStatus {
            phase: Some(self.phase().into()),
            conditions: Some(conditions),
            container_statuses: Some(container_statuses),
            host_ip: self.host_ip.clone(),
            host_ips: self
                .host_ip
                .as_ref()
                .map(|ip| vec![HostIP { ip: ip.clone() }]),
            pod_ip: self.pod_ip.map(|ip| ip.to_string()),
            pod_ips: self.pod_ip.map(|ip| vec![PodIP { ip: ip.to_string() }]),
            start_time: Some(Time(self.start_time)),
            qos_class: Some("BestEffort".into()),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(states: &[State]) -> PodView {
        let containers = states
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut c = ContainerView::new(&format!("c{i}"), "file:///x.wasm");
                c.state = s.clone();
                c
            })
            .collect();
        PodView::new(Utc::now(), Some("192.0.2.2".into()), containers)
    }

    fn term(code: i32) -> State {
        State::Terminated {
            exit_code: code,
            reason: "Error".into(),
            message: None,
            started_at: Utc::now(),
            finished_at: Utc::now(),
        }
    }

    #[test]
    fn phases() {
        let running = State::Running {
            started_at: Utc::now(),
        };
        let creating = State::waiting("ContainerCreating", None);
        let cases: &[(&[State], &str)] = &[
            (std::slice::from_ref(&creating), "Pending"),
            (&[running.clone(), creating.clone()], "Pending"),
            (std::slice::from_ref(&running), "Running"),
            (&[running.clone(), term(0)], "Running"),
            (&[term(0), term(0)], "Succeeded"),
            (&[term(0), term(3)], "Failed"),
        ];
        for (states, want) in cases {
            assert_eq!(view(states).phase(), *want, "{states:?}");
        }
    }

    #[test]
    fn ready_conditions_follow_containers() {
        let mut v = view(&[State::Running {
            started_at: Utc::now(),
        }]);
        let s = v.status();
        let conds = s.conditions.unwrap();
        let ready = conds.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "True");
        assert!(s.container_statuses.unwrap()[0].ready);
    }
}
