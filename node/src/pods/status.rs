//! What the node knows about one pod, and how it reads as a `PodStatus`.
//!
//! A container's state is an enum ([`State`]); the pod phase and conditions
//! are derived from the containers every time, never stored, so they cannot
//! disagree with them. The phase follows kubelet's `getPhase` and the
//! conditions its `Generate*Condition`s (reasons and messages included), so
//! kubectl's STATUS column (`Init:0/2`, `Init:Error`, `PodInitializing`,
//! `CrashLoopBackOff`…) reads what it would on a kubelet node.
//!
//! Invariants: `lastTransitionTime` of a condition moves only when its
//! status flips; a container is `started` only while running and past its
//! startup probe, `ready` only while started and past its readiness probe.

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
    /// The startup probe has succeeded (or there is none) in the current
    /// run. Only meaningful while `state` is `Running`.
    pub started: bool,
    /// The readiness probe passes (or there is none) in the current run.
    /// Only meaningful while `state` is `Running` and `started`.
    pub ready: bool,
}

impl ContainerView {
    /// A container not created yet: `ContainerCreating`, or `PodInitializing`
    /// in a pod with init containers (as kubelet shows both).
    pub fn new(name: &str, image: &str, waiting_reason: &str) -> ContainerView {
        ContainerView {
            name: name.into(),
            image: image.into(),
            image_id: None,
            restart_count: 0,
            state: State::waiting(waiting_reason, None),
            last_state: None,
            started: false,
            ready: false,
        }
    }

    fn running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    fn is_started(&self) -> bool {
        self.running() && self.started
    }

    fn is_ready(&self) -> bool {
        self.is_started() && self.ready
    }

    /// An init container that has finished its job.
    fn completed(&self) -> bool {
        matches!(self.state, State::Terminated { exit_code: 0, .. })
    }

    /// Has run before and ended with a non-zero code (now or in `lastState`).
    fn failed_last(&self) -> bool {
        let failed =
            |s: &State| matches!(s, State::Terminated { exit_code, .. } if *exit_code != 0);
        match &self.state {
            State::Terminated { .. } => failed(&self.state),
            State::Waiting { .. } => self.last_state.as_ref().is_some_and(failed),
            State::Running { .. } => false,
        }
    }

    fn to_k8s(&self, init: bool) -> ContainerStatus {
        ContainerStatus {
            name: self.name.clone(),
            image: self.image.clone(),
            image_id: self.image_id.clone().unwrap_or_default(),
            // kubelet marks a completed init container ready.
            ready: if init {
                self.completed()
            } else {
                self.is_ready()
            },
            started: Some(self.is_started()),
            restart_count: self.restart_count,
            state: Some(self.state.to_k8s()),
            last_state: self.last_state.as_ref().map(State::to_k8s),
            ..Default::default()
        }
    }
}

/// The node's view of one pod.
#[derive(Clone, Debug)]
pub struct PodView {
    pub scheduled_at: DateTime<Utc>,
    pub start_time: DateTime<Utc>,
    pub host_ip: Option<String>,
    pub pod_ip: Option<Ipv4Addr>,
    /// `spec.restartPolicy`: `Always`, `OnFailure` or `Never`.
    pub restart_policy: String,
    pub init_containers: Vec<ContainerView>,
    pub containers: Vec<ContainerView>,
    /// `status.qosClass`, fixed at creation (BestEffort until set).
    pub qos_class: Option<String>,
    /// Last (status, transition time) of each condition, for `lastTransitionTime`.
    transitions: BTreeMap<&'static str, (bool, DateTime<Utc>)>,
}

impl PodView {
    pub fn new(
        scheduled_at: DateTime<Utc>,
        host_ip: Option<String>,
        restart_policy: &str,
        init_containers: Vec<ContainerView>,
        containers: Vec<ContainerView>,
    ) -> PodView {
        PodView {
            scheduled_at,
            start_time: Utc::now(),
            host_ip,
            pod_ip: None,
            restart_policy: restart_policy.into(),
            init_containers,
            containers,
            qos_class: None,
            transitions: BTreeMap::new(),
        }
    }

    /// Every init container has completed (vacuously true without any).
    fn initialized(&self) -> bool {
        self.init_containers.iter().all(ContainerView::completed)
    }

    /// kubelet's `getPhase`: `Failed` once an init container failed for good
    /// (`restartPolicy: Never`); `Pending` while initialising or while an app
    /// container has never run; `Running` while one runs or will be
    /// restarted; `Succeeded`/`Failed` once all have terminated for good.
    pub fn phase(&self) -> &'static str {
        let never = self.restart_policy == "Never";
        let mut pending_init = 0;
        let mut failed_init = 0;
        for c in &self.init_containers {
            if c.completed() {
                continue;
            }
            if c.failed_last() {
                failed_init += 1;
            } else {
                pending_init += 1;
            }
        }
        if failed_init > 0 && never {
            return "Failed";
        }
        if pending_init > 0 || failed_init > 0 || self.containers.is_empty() {
            return "Pending";
        }
        let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
        for c in &self.containers {
            match &c.state {
                State::Running { .. } => running += 1,
                State::Terminated { exit_code, .. } => {
                    stopped += 1;
                    if *exit_code == 0 {
                        succeeded += 1;
                    }
                }
                State::Waiting { .. } if c.last_state.is_some() => stopped += 1,
                State::Waiting { .. } => waiting += 1,
            }
        }
        if waiting > 0 {
            "Pending"
        } else if running > 0 {
            "Running"
        } else if stopped > 0 {
            let all_terminated = self
                .containers
                .iter()
                .all(|c| matches!(c.state, State::Terminated { .. }));
            if !all_terminated || self.restart_policy == "Always" {
                // Some will be restarted.
                "Running"
            } else if stopped == succeeded {
                "Succeeded"
            } else {
                "Failed"
            }
        } else {
            "Pending"
        }
    }

    fn condition(
        &mut self,
        type_: &'static str,
        ok: bool,
        reason: Option<&str>,
        message: Option<String>,
        now: DateTime<Utc>,
    ) -> PodCondition {
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
        PodCondition {
            type_: type_.into(),
            status: if ok { "True" } else { "False" }.into(),
            last_transition_time: Some(Time(at)),
            reason: reason.map(str::to_owned),
            message,
            ..Default::default()
        }
    }

    /// The status to report now.
    pub fn status(&mut self) -> PodStatus {
        let now = Utc::now();
        let phase = self.phase();
        let initialized = self.initialized();
        let unready: Vec<&str> = self
            .containers
            .iter()
            .filter(|c| !c.is_ready())
            .map(|c| c.name.as_str())
            .collect();
        let ready = !self.containers.is_empty() && unready.is_empty();
        let (ready_reason, ready_message) = if ready {
            (None, None)
        } else if phase == "Succeeded" {
            (Some("PodCompleted"), None)
        } else {
            (
                Some("ContainersNotReady"),
                Some(format!(
                    "containers with unready status: [{}]",
                    unready.join(" ")
                )),
            )
        };
        let incomplete: Vec<&str> = self
            .init_containers
            .iter()
            .filter(|c| !c.completed())
            .map(|c| c.name.as_str())
            .collect();
        let (init_reason, init_message) = if initialized {
            (None, None)
        } else {
            (
                Some("ContainersNotInitialized"),
                Some(format!(
                    "containers with incomplete status: [{}]",
                    incomplete.join(" ")
                )),
            )
        };
        let conditions = vec![
            self.condition("PodScheduled", true, None, None, now),
            self.condition("Initialized", initialized, init_reason, init_message, now),
            self.condition(
                "ContainersReady",
                ready,
                ready_reason,
                ready_message.clone(),
                now,
            ),
            self.condition("Ready", ready, ready_reason, ready_message, now),
        ];
        let init_container_statuses = (!self.init_containers.is_empty()).then(|| {
            self.init_containers
                .iter()
                .map(|c| c.to_k8s(true))
                .collect()
        });
        let container_statuses = self.containers.iter().map(|c| c.to_k8s(false)).collect();
        PodStatus {
            phase: Some(phase.into()),
            conditions: Some(conditions),
            init_container_statuses,
            container_statuses: Some(container_statuses),
            host_ip: self.host_ip.clone(),
            host_ips: self
                .host_ip
                .as_ref()
                .map(|ip| vec![HostIP { ip: ip.clone() }]),
            pod_ip: self.pod_ip.map(|ip| ip.to_string()),
            pod_ips: self.pod_ip.map(|ip| vec![PodIP { ip: ip.to_string() }]),
            start_time: Some(Time(self.start_time)),
            qos_class: Some(
                self.qos_class
                    .clone()
                    .unwrap_or_else(|| "BestEffort".into()),
            ),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn views(states: &[State]) -> Vec<ContainerView> {
        states
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut c =
                    ContainerView::new(&format!("c{i}"), "file:///x.wasm", "ContainerCreating");
                c.state = s.clone();
                c.started = true;
                c.ready = true;
                c
            })
            .collect()
    }

    fn view(policy: &str, init: &[State], states: &[State]) -> PodView {
        PodView::new(
            Utc::now(),
            Some("192.0.2.2".into()),
            policy,
            views(init),
            views(states),
        )
    }

    fn term(code: i32) -> State {
        State::Terminated {
            exit_code: code,
            reason: if code == 0 { "Completed" } else { "Error" }.into(),
            message: None,
            started_at: Utc::now(),
            finished_at: Utc::now(),
        }
    }

    fn running() -> State {
        State::Running {
            started_at: Utc::now(),
        }
    }

    /// A container waiting to be restarted after `last`.
    fn backing_off(v: &mut PodView, i: usize, last: State) {
        v.containers[i].state = State::waiting("CrashLoopBackOff", None);
        v.containers[i].last_state = Some(last);
    }

    #[test]
    fn phases() {
        let creating = State::waiting("ContainerCreating", None);
        let init_wait = State::waiting("PodInitializing", None);
        let cases: &[(&str, &[State], &[State], &str)] = &[
            ("Always", &[], std::slice::from_ref(&creating), "Pending"),
            ("Always", &[], &[running(), creating.clone()], "Pending"),
            ("Always", &[], &[running()], "Running"),
            ("Always", &[], &[running(), term(0)], "Running"),
            ("Never", &[], &[term(0), term(0)], "Succeeded"),
            ("OnFailure", &[], &[term(0), term(0)], "Succeeded"),
            ("Never", &[], &[term(0), term(3)], "Failed"),
            ("Always", &[], &[term(0), term(0)], "Running"),
            (
                "Always",
                &[running()],
                std::slice::from_ref(&init_wait),
                "Pending",
            ),
            (
                "Always",
                &[term(0), running()],
                std::slice::from_ref(&init_wait),
                "Pending",
            ),
            (
                "Never",
                &[term(1)],
                std::slice::from_ref(&init_wait),
                "Failed",
            ),
            (
                "OnFailure",
                &[term(1)],
                std::slice::from_ref(&init_wait),
                "Pending",
            ),
            ("Always", &[term(0)], &[running()], "Running"),
        ];
        for (policy, init, states, want) in cases {
            assert_eq!(
                view(policy, init, states).phase(),
                *want,
                "{policy} {init:?} {states:?}"
            );
        }
        // Crash-looping containers keep an Always pod Running.
        let mut v = view("Always", &[], &[running()]);
        backing_off(&mut v, 0, term(1));
        assert_eq!(v.phase(), "Running");
    }

    fn cond(s: &PodStatus, t: &str) -> PodCondition {
        s.conditions
            .as_ref()
            .unwrap()
            .iter()
            .find(|c| c.type_ == t)
            .unwrap()
            .clone()
    }

    #[test]
    fn ready_follows_started_and_readiness() {
        let mut v = view("Always", &[], &[running()]);
        v.containers[0].ready = false;
        let s = v.status();
        let r = cond(&s, "Ready");
        assert_eq!(
            (r.status.as_str(), r.reason.as_deref(), r.message.as_deref()),
            (
                "False",
                Some("ContainersNotReady"),
                Some("containers with unready status: [c0]")
            )
        );
        assert_eq!(cond(&s, "ContainersReady").status, "False");
        let cs = &s.container_statuses.as_ref().unwrap()[0];
        assert_eq!((cs.ready, cs.started), (false, Some(true)));

        v.containers[0].ready = true;
        let s = v.status();
        assert_eq!(cond(&s, "Ready").status, "True");
        assert!(s.container_statuses.as_ref().unwrap()[0].ready);

        // Not started (startup probe pending): neither started nor ready.
        v.containers[0].started = false;
        let s = v.status();
        let cs = &s.container_statuses.as_ref().unwrap()[0];
        assert_eq!((cs.ready, cs.started), (false, Some(false)));
    }

    #[test]
    fn transition_time_moves_only_on_change() {
        let mut v = view("Always", &[], &[running()]);
        let t0 = cond(&v.status(), "Ready").last_transition_time;
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(cond(&v.status(), "Ready").last_transition_time, t0);
        v.containers[0].ready = false;
        let t1 = cond(&v.status(), "Ready").last_transition_time;
        assert_ne!(t1, t0);
        assert_eq!(
            cond(&v.status(), "PodScheduled").last_transition_time,
            Some(Time(v.scheduled_at))
        );
    }

    #[test]
    fn init_containers_report_initialized() {
        let init_wait = State::waiting("PodInitializing", None);
        let mut v = view("Always", &[term(0), running()], &[init_wait]);
        let s = v.status();
        let c = cond(&s, "Initialized");
        assert_eq!(
            (c.status.as_str(), c.reason.as_deref(), c.message.as_deref()),
            (
                "False",
                Some("ContainersNotInitialized"),
                Some("containers with incomplete status: [c1]")
            )
        );
        let init = s.init_container_statuses.as_ref().unwrap();
        assert!(init[0].ready && !init[1].ready, "{init:?}");
        v.init_containers[1].state = term(0);
        assert_eq!(cond(&v.status(), "Initialized").status, "True");
    }
}
