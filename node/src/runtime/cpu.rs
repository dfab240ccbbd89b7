//! `limits.cpu`: throttling a guest to a share of one core with epoch
//! deadlines.
//!
//! Owns the accounting only. Call hooks mark when the guest enters and
//! leaves Wasm, so time it spends waiting in host calls (sockets, sleeps,
//! files) is not charged; at each epoch tick the deadline callback asks
//! [`CpuThrottle::on_tick`] how long to sleep so that over time the guest
//! runs `millis / 1000` of wall time.
//!
//! Invariant: the sleep is an async yield on the pod's runtime, so the
//! other containers of the pod (and the pod thread's I/O) keep running while
//! a throttled guest waits.

use std::time::{Duration, Instant};

/// The longest single pause, so a burst of CPU is paid back in bounded steps
/// and a pending `kill()` is noticed soon.
const MAX_PAUSE: Duration = Duration::from_millis(500);

pub(crate) struct CpuThrottle {
    millis: u32,
    /// When the guest last entered Wasm, if it is in Wasm now.
    in_wasm_since: Option<Instant>,
    /// Wasm time not yet paid for with a pause.
    used: Duration,
}

impl CpuThrottle {
    /// `None` when the limit is at least a whole core: one pod thread cannot
    /// use more than that, so there is nothing to throttle.
    pub(super) fn new(millis: u32) -> Option<CpuThrottle> {
        (millis < 1000).then_some(CpuThrottle {
            millis: millis.max(1),
            in_wasm_since: None,
            used: Duration::ZERO,
        })
    }

    /// From the store's call hook: the guest enters Wasm.
    pub(super) fn enter_wasm(&mut self, now: Instant) {
        self.in_wasm_since = Some(now);
    }

    /// From the store's call hook: the guest leaves Wasm (returns, or calls
    /// the host).
    pub(super) fn leave_wasm(&mut self, now: Instant) {
        if let Some(since) = self.in_wasm_since.take() {
            self.used += now.saturating_duration_since(since);
        }
    }

    /// At an epoch deadline (the guest is in Wasm): how long to pause, if at
    /// all. Running `used` at a share of `millis/1000` means pausing
    /// `used × (1000 − millis) / millis`.
    pub(super) fn on_tick(&mut self, now: Instant) -> Option<Duration> {
        self.leave_wasm(now);
        let used = std::mem::take(&mut self.used);
        let idle_share = f64::from(1000 - self.millis) / f64::from(self.millis);
        let pause = used.mul_f64(idle_share).min(MAX_PAUSE);
        // Whatever the pause does not cover is carried over.
        let covered = pause.div_f64(idle_share);
        self.used = used.saturating_sub(covered);
        // The guest resumes in Wasm once the pause is over.
        self.in_wasm_since = Some(now + pause);
        (pause >= Duration::from_micros(100)).then_some(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_cores_are_not_throttled() {
        assert!(CpuThrottle::new(1000).is_none());
        assert!(CpuThrottle::new(2500).is_none());
        assert!(CpuThrottle::new(999).is_some());
    }

    #[test]
    fn pause_is_proportional_to_wasm_time_only() {
        let t0 = Instant::now();
        let mut cpu = CpuThrottle::new(100).unwrap();
        cpu.enter_wasm(t0);
        // 4 ms in Wasm, then 50 ms blocked in a host call (not charged),
        // then 6 ms more in Wasm.
        cpu.leave_wasm(t0 + Duration::from_millis(4));
        cpu.enter_wasm(t0 + Duration::from_millis(54));
        let pause = cpu.on_tick(t0 + Duration::from_millis(60)).unwrap();
        assert_eq!(pause, Duration::from_millis(90));
    }

    #[test]
    fn long_bursts_are_paid_back_in_bounded_steps() {
        let t0 = Instant::now();
        let mut cpu = CpuThrottle::new(100).unwrap();
        cpu.enter_wasm(t0);
        // 200 ms in Wasm at 100m owes 1.8 s of pause, paid at most
        // MAX_PAUSE at a time at the ticks that follow each resume.
        let mut now = t0 + Duration::from_millis(200);
        let mut total = Duration::ZERO;
        while let Some(pause) = cpu.on_tick(now) {
            assert!(pause <= MAX_PAUSE);
            total += pause;
            now += pause;
        }
        let owed = Duration::from_millis(1800);
        assert!(total.abs_diff(owed) < Duration::from_millis(1), "{total:?}");
    }
}
