//! Puts the frames of one file's tracks into pts order before they reach the muxer. Audio and
//! video arrive on separate RTP streams (a big keyframe completes later than the audio captured
//! with it), so each frame waits briefly until every other track has caught up to its pts, or
//! at most `HOLD`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a frame waits for the other tracks.
pub const HOLD: Duration = Duration::from_millis(400);
/// Frames queued across tracks before the oldest goes out regardless (time may not advance).
const MAX_QUEUED: usize = 512;

#[derive(Clone, Debug)]
pub(crate) struct Queued {
    pub track: usize,
    pub pts: u64,
    pub keyframe: bool,
    /// The frame's RTP time (extended), for observers.
    pub rtp: u64,
    pub data: Arc<[u8]>,
    pub at: Instant,
}

#[derive(Debug)]
pub(crate) struct Interleaver {
    queues: Vec<VecDeque<Queued>>,
    /// Highest pts ever queued per track.
    seen: Vec<Option<u64>>,
    len: usize,
}

impl Interleaver {
    pub fn new(tracks: usize) -> Interleaver {
        Interleaver {
            queues: vec![VecDeque::new(); tracks],
            seen: vec![None; tracks],
            len: 0,
        }
    }

    /// Per track, pts must not decrease (the caller clamps).
    pub fn push(&mut self, q: Queued) {
        let Some(queue) = self.queues.get_mut(q.track) else {
            return;
        };
        self.seen[q.track] = Some(self.seen[q.track].map_or(q.pts, |s| s.max(q.pts)));
        queue.push_back(q);
        self.len += 1;
    }

    fn head(&self) -> Option<usize> {
        (0..self.queues.len())
            .filter(|&i| !self.queues[i].is_empty())
            .min_by_key(|&i| self.queues[i][0].pts)
    }

    fn ready(&self, i: usize, now: Instant) -> bool {
        let h = &self.queues[i][0];
        if now >= h.at + HOLD || self.len > MAX_QUEUED {
            return true;
        }
        (0..self.queues.len()).all(|j| {
            j == i || !self.queues[j].is_empty() || self.seen[j].is_some_and(|s| s >= h.pts)
        })
    }

    /// Next frame that may go to the muxer now (`flush`: everything, in pts order).
    pub fn pop(&mut self, now: Instant, flush: bool) -> Option<Queued> {
        let i = self.head()?;
        if !flush && !self.ready(i, now) {
            return None;
        }
        self.len -= 1;
        self.queues[i].pop_front()
    }

    /// When the waiting head frame must go out even if the other tracks stay silent.
    pub fn deadline(&self) -> Option<Instant> {
        self.head().map(|i| self.queues[i][0].at + HOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(track: usize, pts: u64, at: Instant) -> Queued {
        Queued {
            track,
            pts,
            keyframe: false,
            rtp: 0,
            data: Arc::from(&[][..]),
            at,
        }
    }

    #[test]
    fn orders_across_tracks_and_waits_for_laggards() {
        let t = Instant::now();
        let mut il = Interleaver::new(2);
        il.push(q(1, 10, t));
        il.push(q(1, 30, t));
        // video has sent nothing yet: audio waits
        assert!(il.pop(t, false).is_none());
        il.push(q(0, 20, t));
        assert_eq!(il.pop(t, false).map(|f| f.pts), Some(10));
        assert_eq!(il.pop(t, false).map(|f| f.pts), Some(20));
        // pts 30 waits for video to pass 30, or for the hold to expire
        assert!(il.pop(t, false).is_none());
        assert_eq!(il.deadline(), Some(t + HOLD));
        assert_eq!(il.pop(t + HOLD, false).map(|f| f.pts), Some(30));
        assert!(il.pop(t + HOLD, true).is_none());
    }
}
