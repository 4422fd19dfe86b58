//! The shared state of the server: the routing [`Relay`], every client's outbox and rate limits.
//! The sender pays: each message is charged to its sender (count, and bytes times recipients)
//! before anything is queued, so a flood is dropped at its source and never fills the queues
//! of members who are reading.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::json;
use tracing::{info, warn};

use roomrec_relay::{ClientId, Relay};

use super::bucket::TokenBucket;
use super::outbox::Outbox;
use super::ServerOptions;

/// What the client task should do after a message.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Keep,
    /// Kept flooding after its messages were dropped.
    CutOff,
}

pub(super) struct Hub {
    state: Mutex<HubState>,
    total: Arc<AtomicUsize>,
    opts: ServerOptions,
}

struct HubState {
    relay: Relay,
    clients: HashMap<ClientId, Member>,
}

struct Member {
    outbox: Arc<Outbox>,
    msgs: TokenBucket,
    bytes: TokenBucket,
    /// Drops it may still cause before being cut off.
    drops: TokenBucket,
    throttled: bool,
}

impl Hub {
    pub(super) fn new(opts: ServerOptions) -> Self {
        let mut relay = Relay::new(opts.dialect, opts.seed);
        relay.set_limits(opts.limits);
        Self {
            state: Mutex::new(HubState {
                relay,
                clients: HashMap::new(),
            }),
            total: Arc::default(),
            opts,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A poisoned lock only means another task panicked mid-update; routing state stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes queued for all clients.
    pub(super) fn queued_bytes(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    pub(super) fn connect(&self) -> (ClientId, Arc<Outbox>) {
        let o = &self.opts;
        let now = Instant::now();
        let outbox = Arc::new(Outbox::new(self.total.clone()));
        let member = Member {
            outbox: outbox.clone(),
            msgs: TokenBucket::new(o.msg_burst, o.msg_rate, now),
            bytes: TokenBucket::new(o.byte_burst, o.byte_rate, now),
            drops: TokenBucket::new(o.max_dropped, o.msg_rate / 10.0, now),
            throttled: false,
        };
        let mut st = self.lock();
        let id = st.relay.connect();
        st.clients.insert(id, member);
        (id, outbox)
    }

    pub(super) fn in_room(&self, client: ClientId) -> bool {
        self.lock().relay.is_settled(client)
    }

    pub(super) fn receive(&self, from: ClientId, text: &str) -> Verdict {
        let now = Instant::now();
        let mut guard = self.lock();
        let st = &mut *guard;
        let Some(m) = st.clients.get_mut(&from) else {
            return Verdict::Keep;
        };
        let len = text.len() as f64;
        // Checked before routing so a flood costs no parsing.
        if !(m.msgs.try_take(now, 1.0) && m.bytes.has(now, len)) {
            return st.dropped(from, now);
        }
        st.relay.receive(from, text);
        let out: Vec<(ClientId, String)> = std::iter::from_fn(|| st.relay.poll_output()).collect();
        let cost = out
            .iter()
            .map(|(_, t)| t.len())
            .sum::<usize>()
            .max(text.len());
        let Some(m) = st.clients.get_mut(&from) else {
            return Verdict::Keep;
        };
        // Routing state (a join, an id) stands even when its fan-out is dropped: the client is
        // over its limits and gets told so.
        if !m.bytes.try_take(now, cost as f64) {
            return st.dropped(from, now);
        }
        if self.queued_bytes() + cost > self.opts.max_queued_bytes {
            // Logged once per episode of this sender, like its other drops.
            if !m.throttled {
                warn!(client = %from, queued = self.queued_bytes(), "relay: total queue cap reached, message dropped");
            }
            return st.dropped(from, now);
        }
        if m.throttled {
            m.throttled = false;
            info!(client = %from, "relay: client back under its rate limits");
        }
        st.deliver(out, self.opts.max_queued_bytes_per_client);
        Verdict::Keep
    }

    pub(super) fn disconnect(&self, client: ClientId) {
        let mut st = self.lock();
        st.remove(client);
        let out: Vec<_> = std::iter::from_fn(|| st.relay.poll_output()).collect();
        st.deliver(out, self.opts.max_queued_bytes_per_client);
    }
}

impl HubState {
    fn remove(&mut self, client: ClientId) {
        if let Some(m) = self.clients.remove(&client) {
            m.outbox.close();
        }
        self.relay.disconnect(client);
    }

    /// A message of `from` was dropped: tell it once per episode, cut it off if it persists.
    fn dropped(&mut self, from: ClientId, now: Instant) -> Verdict {
        let Some(m) = self.clients.get_mut(&from) else {
            return Verdict::Keep;
        };
        if !m.drops.try_take(now, 1.0) {
            warn!(client = %from, "relay: client kept flooding, disconnecting it");
            return Verdict::CutOff;
        }
        if !m.throttled {
            m.throttled = true;
            warn!(client = %from, "relay: client over its rate limits, dropping its messages");
            let notice = json!({"error": "rate limit exceeded, messages dropped"}).to_string();
            m.outbox.push(notice, usize::MAX);
        }
        Verdict::Keep
    }

    /// Queue each frame for its recipient. Only a recipient whose own queue is full is dropped
    /// (it is not reading); its leaving may route more frames, hence the loop.
    fn deliver(&mut self, mut out: Vec<(ClientId, String)>, cap: usize) {
        while !out.is_empty() {
            let mut stuck = Vec::new();
            for (to, text) in out.drain(..) {
                let Some(m) = self.clients.get(&to) else {
                    continue;
                };
                if !m.outbox.push(text, cap) && !stuck.contains(&to) {
                    warn!(client = %to, "relay: client not reading (its queue is full), dropping it");
                    stuck.push(to);
                }
            }
            for client in stuck {
                self.remove(client);
            }
            out.extend(std::iter::from_fn(|| self.relay.poll_output()));
        }
    }
}
