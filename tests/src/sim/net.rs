//! The virtual network: datagrams and signaling texts delivered after a seeded delay, with optional
//! loss, jitter, duplication and reordering.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct Impairment {
    pub latency: Duration,
    pub jitter: Duration,
    /// 0.0..1.0
    pub loss: f64,
    pub duplicate: f64,
}

impl Default for Impairment {
    fn default() -> Self {
        Impairment { latency: Duration::from_millis(10), jitter: Duration::ZERO, loss: 0.0, duplicate: 0.0 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

/// A time-ordered queue with a stable order for equal times (same seed, same run).
pub struct Scheduled<T> {
    heap: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    items: Vec<Option<T>>,
    seq: u64,
}

impl<T> Default for Scheduled<T> {
    fn default() -> Self {
        Scheduled { heap: BinaryHeap::new(), items: Vec::new(), seq: 0 }
    }
}

impl<T> Scheduled<T> {
    pub fn push(&mut self, at: Instant, item: T) {
        let slot = self.items.len();
        self.items.push(Some(item));
        self.heap.push(Reverse((at, self.seq, slot)));
        self.seq += 1;
    }

    pub fn next_time(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        let Reverse((at, _, slot)) = *self.heap.peek()?;
        if at > now {
            return None;
        }
        self.heap.pop();
        let item = self.items[slot].take();
        if self.heap.is_empty() {
            self.items.clear();
        }
        item
    }
}

pub struct Network {
    pub impairment: Impairment,
    rng: fastrand::Rng,
    queue: Scheduled<Datagram>,
    pub sent: u64,
    pub dropped: u64,
}

impl Network {
    pub fn new(seed: u64, impairment: Impairment) -> Network {
        Network { impairment, rng: fastrand::Rng::with_seed(seed), queue: Scheduled::default(), sent: 0, dropped: 0 }
    }

    pub fn send(&mut self, now: Instant, datagram: Datagram) {
        self.sent += 1;
        if self.rng.f64() < self.impairment.loss {
            self.dropped += 1;
            return;
        }
        let copies = if self.rng.f64() < self.impairment.duplicate { 2 } else { 1 };
        for _ in 0..copies {
            let jitter = self.impairment.jitter.mul_f64(self.rng.f64());
            self.queue.push(now + self.impairment.latency + jitter, datagram.clone());
        }
    }

    pub fn next_time(&self) -> Option<Instant> {
        self.queue.next_time()
    }

    pub fn pop_due(&mut self, now: Instant) -> Option<Datagram> {
        self.queue.pop_due(now)
    }
}
