//! A token bucket on an explicit clock, so tests need no sleeping.

use std::time::Instant;

#[derive(Debug)]
pub(super) struct TokenBucket {
    capacity: f64,
    per_sec: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// Starts full.
    pub(super) fn new(capacity: f64, per_sec: f64, now: Instant) -> Self {
        Self {
            capacity,
            per_sec,
            tokens: capacity,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let secs = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + secs * self.per_sec).min(self.capacity);
        self.last = now;
    }

    /// Whether `cost` tokens are there, without taking them.
    pub(super) fn has(&mut self, now: Instant, cost: f64) -> bool {
        self.refill(now);
        self.tokens >= cost
    }

    /// Take `cost` tokens if they are all there.
    pub(super) fn try_take(&mut self, now: Instant, cost: f64) -> bool {
        let ok = self.has(now, cost);
        if ok {
            self.tokens -= cost;
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3.0, 2.0, t0);
        assert!((0..3).all(|_| b.try_take(t0, 1.0)));
        assert!(!b.try_take(t0, 1.0), "burst spent");
        let t1 = t0 + Duration::from_millis(500);
        assert!(b.try_take(t1, 1.0), "one token per half second");
        assert!(!b.try_take(t1, 1.0));
        let t2 = t1 + Duration::from_secs(60);
        assert!(
            b.has(t2, 3.0) && !b.has(t2, 3.5),
            "refill stops at capacity"
        );
        assert!(!b.try_take(t2, 4.0), "a cost above capacity never passes");
    }
}
