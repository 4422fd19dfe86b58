//! Keyframe discipline for one video track: nothing passes before the first keyframe or after
//! loss broke the reference chain, and keyframe requests (PLI) go out at once, then about once a
//! second while we still wait and the track is sending.

use std::time::{Duration, Instant};

/// Minimum spacing of keyframe requests.
pub const KEYFRAME_RETRY: Duration = Duration::from_secs(1);
/// Timer-driven retries stop when the track has been silent this long (muted camera): the next
/// frame that arrives asks again right away.
const ACTIVE_SPAN: Duration = Duration::from_secs(2);

#[derive(Clone, Debug)]
pub(crate) struct KeyframeGate {
    /// Frames are dropped until the next keyframe.
    dropping: bool,
    /// A keyframe is wanted (dropping, or a file restart waits for one).
    wanted: bool,
    last_request: Option<Instant>,
}

impl Default for KeyframeGate {
    fn default() -> Self {
        KeyframeGate {
            dropping: true,
            wanted: true,
            last_request: None,
        }
    }
}

/// What to do with one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub pass: bool,
    pub request: bool,
}

impl KeyframeGate {
    pub fn on_frame(&mut self, now: Instant, keyframe: bool, contiguous: bool) -> Verdict {
        if keyframe {
            self.dropping = false;
            self.wanted = false;
            return Verdict {
                pass: true,
                request: false,
            };
        }
        if !contiguous && !self.dropping {
            tracing::debug!("loss broke the reference chain; dropping video until a keyframe");
            self.dropping = true;
            self.wanted = true;
        }
        Verdict {
            pass: !self.dropping,
            request: self.wanted && self.take_request(now),
        }
    }

    /// Start over (codec change): drop until a keyframe.
    pub fn reset(&mut self) {
        self.dropping = true;
        self.wanted = true;
    }

    /// A keyframe would help (file restart) without dropping frames. True: send a request now.
    pub fn want(&mut self, now: Instant) -> bool {
        self.wanted = true;
        self.take_request(now)
    }

    fn take_request(&mut self, now: Instant) -> bool {
        let due = self
            .last_request
            .is_none_or(|at| now >= at + KEYFRAME_RETRY);
        if due {
            self.last_request = Some(now);
        }
        due
    }

    /// When the timer should retry, if the track is still sending.
    pub fn retry_at(&self, last_seen: Instant) -> Option<Instant> {
        let at = self.last_request? + KEYFRAME_RETRY;
        (self.wanted && last_seen + ACTIVE_SPAN >= at).then_some(at)
    }

    pub fn on_timeout(&mut self, now: Instant, last_seen: Instant) -> bool {
        match self.retry_at(last_seen) {
            Some(at) if now >= at => self.take_request(now),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_delta_requests_then_throttles() {
        let t0 = Instant::now();
        let mut g = KeyframeGate::default();
        assert_eq!(
            g.on_frame(t0, false, true),
            Verdict {
                pass: false,
                request: true
            }
        );
        let t = t0 + Duration::from_millis(500);
        assert_eq!(
            g.on_frame(t, false, true),
            Verdict {
                pass: false,
                request: false
            }
        );
        assert_eq!(g.retry_at(t), Some(t0 + KEYFRAME_RETRY));
        assert!(g.on_timeout(t0 + KEYFRAME_RETRY, t));
        assert_eq!(
            g.on_frame(t0 + KEYFRAME_RETRY, true, true),
            Verdict {
                pass: true,
                request: false
            }
        );
        assert_eq!(g.retry_at(t), None);
    }

    #[test]
    fn loss_drops_until_keyframe() {
        let t0 = Instant::now();
        let mut g = KeyframeGate::default();
        assert!(g.on_frame(t0, true, true).pass);
        assert!(g.on_frame(t0, false, true).pass);
        let v = g.on_frame(t0, false, false);
        assert_eq!(
            v,
            Verdict {
                pass: false,
                request: true
            }
        );
        assert!(!g.on_frame(t0, false, true).pass);
        assert!(g.on_frame(t0, true, false).pass);
    }

    #[test]
    fn silent_track_stops_timer_retries() {
        let t0 = Instant::now();
        let mut g = KeyframeGate::default();
        g.on_frame(t0, false, true);
        assert_eq!(g.retry_at(t0), Some(t0 + KEYFRAME_RETRY));
        assert!(g.on_timeout(t0 + KEYFRAME_RETRY, t0));
        assert!(g.on_timeout(t0 + 2 * KEYFRAME_RETRY, t0));
        // nothing heard for 2 s: the track has gone quiet, the next frame asks again
        assert_eq!(g.retry_at(t0), None);
        assert!(g.on_frame(t0 + 5 * KEYFRAME_RETRY, false, true).request);
    }
}
