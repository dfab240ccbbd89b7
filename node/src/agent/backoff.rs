//! Jittered exponential backoff for reconnecting: 200 ms doubling to 2 s,
//! each delay drawn from the upper half of its step so a fleet of nodes does
//! not reconnect in lockstep after a control-plane restart. The cap is low
//! because a node finds a returned control plane only by trying: with 2 s,
//! statuses are current again within a few seconds of its return.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    step: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_millis(200), Duration::from_secs(2))
    }
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            step: base,
        }
    }

    /// The next delay, in `[step/2, step]`; the step doubles up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let step = self.step;
        self.step = (self.step * 2).min(self.max);
        let half = step / 2;
        half + step.mul_f64(rand::rng().random_range(0.0..=0.5))
    }

    /// After a session that worked: start from the base again.
    pub fn reset(&mut self) {
        self.step = self.base;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::default();
        let d = b.next_delay();
        assert!(
            d >= Duration::from_millis(100) && d <= Duration::from_millis(200),
            "{d:?}"
        );
        let mut last = Duration::ZERO;
        for _ in 0..20 {
            last = b.next_delay();
            assert!(last <= Duration::from_secs(2));
        }
        assert!(last >= Duration::from_secs(1), "{last:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(200));
    }
}
