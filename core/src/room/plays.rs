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
    /// Wire stream id -> its pending request.
    pending: BTreeMap<String, Pending>,
    /// Longest pause between two `play`s; None = [`MAX_BACKOFF`].
    cap: Option<Duration>,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    /// When to ask again.
    due: Instant,
    /// How often we asked.
    attempts: u32,
    /// When the last `play` went out (None: only scheduled so far).
    last_sent: Option<Instant>,
}

impl Plays {
    /// Retries never wait longer than `cap` (single-stream mode polls for its one publisher).
    pub fn capped(cap: Duration) -> Plays {
        Plays {
            cap: Some(cap),
            ..Plays::default()
        }
    }

    pub fn sent(&mut self, now: Instant, stream: &str) {
        let attempts = self.attempts(stream);
        let backoff = PLAY_RETRY
            .saturating_mul(1 << attempts.min(3))
            .min(self.cap.unwrap_or(MAX_BACKOFF));
        let pending = Pending {
            due: now + backoff,
            attempts: attempts + 1,
            last_sent: Some(now),
        };
        self.pending.insert(stream.to_string(), pending);
    }

    /// A `play` for `stream` went out within the last few seconds and no offer answered it yet.
    pub fn recently_sent(&self, now: Instant, stream: &str) -> bool {
        self.pending
            .get(stream)
            .and_then(|p| p.last_sent)
            .is_some_and(|at| now < at + REPEAT_WINDOW)
    }

    pub fn retry_later(&mut self, now: Instant, stream: &str) {
        let pending = Pending {
            due: now + AFTER_FAILURE,
            attempts: self.attempts(stream),
            last_sent: self.pending.get(stream).and_then(|p| p.last_sent),
        };
        self.pending.insert(stream.to_string(), pending);
    }

    pub fn due(&self, now: Instant) -> Vec<String> {
        self.pending
            .iter()
            .filter(|(_, p)| p.due <= now)
            .map(|(s, _)| s.clone())
            .collect()
    }

    pub fn next_due(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.due).min()
    }

    pub fn remove(&mut self, stream: &str) {
        self.pending.remove(stream);
    }

    /// Streams with a pending `play`.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn clear(&mut self) {
        self.pending.clear();
    }

    fn attempts(&self, stream: &str) -> u32 {
        self.pending.get(stream).map_or(0, |p| p.attempts)
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
    fn a_capped_backoff_stays_under_its_cap() {
        let mut plays = Plays::capped(Duration::from_secs(15));
        let mut now = Instant::now();
        let mut gaps = Vec::new();
        for _ in 0..4 {
            plays.sent(now, "s");
            let next = plays.next_due().unwrap();
            gaps.push((next - now).as_secs());
            now = next;
        }
        assert_eq!(gaps, vec![10, 15, 15, 15]);
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
