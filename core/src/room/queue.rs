//! Candidates that arrive before the offer they belong to, kept per (peer, session) until the offer
//! comes. Bounded, and forgotten after a while, so a hostile peer cannot grow it without limit.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::SessionKey;
use crate::signaling::IceCandidate;

const KEEP_FOR: Duration = Duration::from_secs(30);
const MAX_SESSIONS: usize = 256;
const MAX_PER_SESSION: usize = 64;

#[derive(Debug)]
pub struct CandidateQueue {
    waiting: BTreeMap<SessionKey, (Instant, Vec<IceCandidate>)>,
}

impl CandidateQueue {
    pub fn new(_now: Instant) -> CandidateQueue {
        CandidateQueue {
            waiting: BTreeMap::new(),
        }
    }

    pub fn push(&mut self, now: Instant, key: SessionKey, candidates: Vec<IceCandidate>) {
        if !self.waiting.contains_key(&key) && self.waiting.len() >= MAX_SESSIONS {
            tracing::warn!(session = %key, "too many sessions with early candidates, dropping");
            return;
        }
        let (_, list) = self.waiting.entry(key).or_insert_with(|| (now, Vec::new()));
        let room = MAX_PER_SESSION.saturating_sub(list.len());
        list.extend(candidates.into_iter().take(room));
    }

    pub fn take(&mut self, key: &SessionKey, now: Instant) -> Vec<IceCandidate> {
        self.expire(now);
        self.waiting
            .remove(key)
            .map(|(_, list)| list)
            .unwrap_or_default()
    }

    pub fn expire(&mut self, now: Instant) {
        self.waiting.retain(|_, (since, _)| now < *since + KEEP_FOR);
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.waiting
            .values()
            .map(|(since, _)| *since + KEEP_FOR)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(n: usize) -> IceCandidate {
        IceCandidate {
            candidate: format!("candidate:{n} 1 udp 1 127.0.0.1 {n} typ host"),
            sdp_mid: None,
            sdp_mline_index: None,
            username_fragment: None,
        }
    }

    fn key(s: &str) -> SessionKey {
        SessionKey {
            peer: "p".into(),
            session: s.into(),
        }
    }

    #[test]
    fn keeps_per_session_and_bounds() {
        let t0 = Instant::now();
        let mut q = CandidateQueue::new(t0);
        q.push(t0, key("a"), (0..100).map(cand).collect());
        q.push(t0, key("b"), vec![cand(1)]);
        assert_eq!(q.take(&key("a"), t0).len(), MAX_PER_SESSION);
        assert_eq!(q.take(&key("a"), t0).len(), 0);
        assert_eq!(q.take(&key("b"), t0 + KEEP_FOR), vec![]);
    }
}
