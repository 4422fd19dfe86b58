//! When to (re)send `play` for a stream: right away when a publisher appears, then with backoff
//! until an offer arrives.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::PLAY_RETRY;

const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Pause before asking again for a stream whose connection just ended.
const AFTER_FAILURE: Duration = Duration::from_secs(2);
/// A repeated announcement this soon after our `play` is the same arrival, not a new one.
const REPEAT_WINDOW: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub struct Plays {
    /// Wire stream id -> (when to ask again, how often we asked).
    pending: BTreeMap<String, (Instant, u32)>,
    /// Wire stream id -> when we last sent `play` for it.
    last_sent: BTreeMap<String, Instant>,
}

impl Plays {
    pub fn sent(&mut self, now: Instant, stream: &str) {
        let attempts = self.pending.get(stream).map_or(0, |(_, n)| *n);
        let backoff = PLAY_RETRY
            .saturating_mul(1 << attempts.min(3))
            .min(MAX_BACKOFF);
        self.pending
            .insert(stream.to_string(), (now + backoff, attempts + 1));
        self.last_sent.insert(stream.to_string(), now);
    }

    /// A `play` for `stream` went out within the last few seconds and no offer answered it yet.
    pub fn recently_sent(&self, now: Instant, stream: &str) -> bool {
        self.pending.contains_key(stream)
            && self
                .last_sent
                .get(stream)
                .is_some_and(|at| now < *at + REPEAT_WINDOW)
    }

    pub fn retry_later(&mut self, now: Instant, stream: &str) {
        let attempts = self.pending.get(stream).map_or(0, |(_, n)| *n);
        self.pending
            .insert(stream.to_string(), (now + AFTER_FAILURE, attempts));
    }

    pub fn due(&self, now: Instant) -> Vec<String> {
        self.pending
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(s, _)| s.clone())
            .collect()
    }

    pub fn next_due(&self) -> Option<Instant> {
        self.pending.values().map(|(at, _)| *at).min()
    }

    pub fn remove(&mut self, stream: &str) {
        self.pending.remove(stream);
        self.last_sent.remove(stream);
    }

    pub fn clear(&mut self) {
        self.pending.clear();
        self.last_sent.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let t0 = Instant::now();
        let mut plays = Plays::default();
        let mut gaps = Vec::new();
        let mut now = t0;
        for _ in 0..6 {
            plays.sent(now, "s");
            let next = plays.next_due().unwrap();
            gaps.push(next - now);
            now = next;
        }
        assert_eq!(gaps[0], Duration::from_secs(10));
        assert_eq!(gaps[1], Duration::from_secs(20));
        assert!(gaps.iter().all(|g| *g <= MAX_BACKOFF));
        assert_eq!(plays.due(now), vec!["s".to_string()]);
        plays.remove("s");
        assert!(plays.next_due().is_none());
    }

    #[test]
    fn a_play_is_recent_only_while_pending_and_fresh() {
        let t0 = Instant::now();
        let mut plays = Plays::default();
        assert!(!plays.recently_sent(t0, "s"));
        plays.sent(t0, "s");
        assert!(plays.recently_sent(t0 + Duration::from_secs(1), "s"));
        assert!(!plays.recently_sent(t0 + REPEAT_WINDOW, "s"));
        plays.remove("s");
        assert!(!plays.recently_sent(t0, "s"));
    }
}
