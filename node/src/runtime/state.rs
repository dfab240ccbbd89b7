//! Per-container store state: the WASI contexts, and what every store
//! carries whatever its kind — the memory limiter (which remembers a denied
//! growth, for `OOMKilled`), the CPU throttle and the kill token — plus how a
//! store is wired to them (limiter, epoch deadline callback, call hooks).
//!
//! Invariant: every store has an epoch deadline of one tick, so a guest
//! returns to the pod's executor at least once per tick: a busy guest cannot
//! starve its neighbours, and `kill()` stops it at its next epoch check.

use std::time::Instant;

use tokio_util::sync::CancellationToken;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::ExitStatus;
use super::cpu::CpuThrottle;

/// `StoreLimits` that remembers whether it ever refused a memory growth.
pub(crate) struct MemoryLimiter {
    limits: StoreLimits,
    denied: bool,
}

impl MemoryLimiter {
    pub(crate) fn new(memory_bytes: usize) -> MemoryLimiter {
        MemoryLimiter {
            limits: StoreLimitsBuilder::new().memory_size(memory_bytes).build(),
            denied: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if !allowed {
            self.denied = true;
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.denied = true;
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// What every container store carries.
pub(crate) struct Common {
    pub(crate) limiter: MemoryLimiter,
    pub(crate) cpu: Option<CpuThrottle>,
    pub(crate) kill: CancellationToken,
}

impl Common {
    pub(crate) fn new(
        memory_bytes: usize,
        cpu_millis: Option<u32>,
        kill: CancellationToken,
    ) -> Common {
        Common {
            limiter: MemoryLimiter::new(memory_bytes),
            cpu: cpu_millis.and_then(CpuThrottle::new),
            kill,
        }
    }

    /// The guest's outcome when a call into it failed with `error`.
    pub(crate) fn outcome_of_error(&self, error: &wasmtime::Error) -> ExitStatus {
        if let Some(exit) = error.downcast_ref::<wasmtime_wasi::I32Exit>() {
            ExitStatus::Exited(exit.0)
        } else if self.kill.is_cancelled() {
            ExitStatus::Killed
        } else if self.limiter.denied {
            ExitStatus::OOMKilled
        } else {
            ExitStatus::Trapped(trap_message(error))
        }
    }

    /// Whether a failed instantiation is the memory limit's doing.
    pub(crate) fn memory_denied(&self) -> bool {
        self.limiter.denied
    }
}

/// `terminated.message` is capped at 4 KiB by Kubernetes.
fn trap_message(error: &wasmtime::Error) -> String {
    let mut message = format!("{error:#}");
    if message.len() > 4096 {
        let mut end = 4096;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    message
}

pub(crate) trait HasCommon: Send + 'static {
    fn common(&mut self) -> &mut Common;
}

/// Store state of a WASI p1 command.
pub(crate) struct P1State {
    pub(crate) wasi: WasiP1Ctx,
    pub(crate) common: Common,
}

impl HasCommon for P1State {
    fn common(&mut self) -> &mut Common {
        &mut self.common
    }
}

/// Store state of a component: p2 command or `wasi:http` proxy instance.
pub(crate) struct CommandState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) common: Common,
}

impl CommandState {
    pub(crate) fn new(wasi: WasiCtx, common: Common) -> CommandState {
        CommandState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            common,
        }
    }
}

impl HasCommon for CommandState {
    fn common(&mut self) -> &mut Common {
        &mut self.common
    }
}

impl WasiView for CommandState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CommandState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

/// Wires a fresh store to its limiter, epoch deadline and CPU accounting.
pub(crate) fn configure_store<T: HasCommon>(store: &mut Store<T>) {
    store.limiter(|state| &mut state.common().limiter);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut ctx| {
        let common = ctx.data_mut().common();
        if common.kill.is_cancelled() {
            return Ok(UpdateDeadline::Interrupt);
        }
        let pause = common
            .cpu
            .as_mut()
            .and_then(|cpu| cpu.on_tick(Instant::now()));
        Ok(match pause {
            Some(pause) => UpdateDeadline::YieldCustom(1, Box::pin(tokio::time::sleep(pause))),
            None => UpdateDeadline::Yield(1),
        })
    });
    if store.data_mut().common().cpu.is_some() {
        store.call_hook(|mut ctx, hook| {
            if let Some(cpu) = ctx.data_mut().common().cpu.as_mut() {
                let now = Instant::now();
                if hook.entering_host() {
                    cpu.leave_wasm(now);
                } else {
                    cpu.enter_wasm(now);
                }
            }
            Ok(())
        });
    }
}
