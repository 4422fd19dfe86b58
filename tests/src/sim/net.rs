//! The virtual network: datagrams and signaling texts delivered after a seeded delay, with optional
//! loss, jitter, duplication and reordering.

use std::cmp::Reverse;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, BinaryHeap};
use std::hash::{Hash, Hasher};
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
        Impairment {
            latency: Duration::from_millis(10),
            jitter: Duration::ZERO,
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// What the signaling hop (WebSocket via the relay) does to each message. A real WebSocket keeps
/// order per connection, but messages relayed from different peers, through server restarts or
/// re-sent by the app arrive late, twice or overtaken.
#[derive(Clone, Debug, Default)]
pub struct SignalingImpairment {
    /// Extra delay per message, uniform in 0..=jitter (order per target is kept).
    pub jitter: Duration,
    /// Probability that a message is delivered twice (the copy up to `late` later).
    pub duplicate: f64,
    /// Probability that a message is held back up to `late` and overtaken by later ones.
    pub reorder: f64,
    pub late: Duration,
}

impl SignalingImpairment {
    pub fn is_none(&self) -> bool {
        self.jitter.is_zero() && self.duplicate == 0.0 && self.reorder == 0.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub contents: Vec<u8>,
}

/// A time-ordered queue with a stable order for equal times (same seed, same run): by key, then
/// by insertion.
pub struct Scheduled<T> {
    heap: BinaryHeap<Reverse<(Instant, u64, u64, usize)>>,
    items: Vec<Option<T>>,
    seq: u64,
}

impl<T> Default for Scheduled<T> {
    fn default() -> Self {
        Scheduled {
            heap: BinaryHeap::new(),
            items: Vec::new(),
            seq: 0,
        }
    }
}

impl<T> Scheduled<T> {
    pub fn push(&mut self, at: Instant, item: T) {
        self.push_keyed(at, 0, item);
    }

    pub fn push_keyed(&mut self, at: Instant, key: u64, item: T) {
        let slot = self.items.len();
        self.items.push(Some(item));
        self.heap.push(Reverse((at, key, self.seq, slot)));
        self.seq += 1;
    }

    pub fn next_time(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _, _))| *at)
    }

    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        let Reverse((at, _, _, slot)) = *self.heap.peek()?;
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

/// Delivery times for one signaling message: `in_order` respects the target's FIFO, the others
/// may overtake or be overtaken.
pub struct SignalingPlan {
    pub in_order: Option<Duration>,
    pub out_of_order: Vec<Duration>,
}

/// Seeded decisions for the signaling hop.
pub struct SignalingDice {
    pub impairment: SignalingImpairment,
    rng: fastrand::Rng,
}

impl SignalingDice {
    pub fn new(seed: u64, impairment: SignalingImpairment) -> SignalingDice {
        SignalingDice {
            impairment,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Extra delays (beyond the base latency) for one message.
    pub fn plan(&mut self) -> SignalingPlan {
        let imp = &self.impairment;
        if imp.is_none() {
            return SignalingPlan {
                in_order: Some(Duration::ZERO),
                out_of_order: Vec::new(),
            };
        }
        let jitter = imp.jitter.mul_f64(self.rng.f64());
        let mut plan = if self.rng.f64() < imp.reorder {
            SignalingPlan {
                in_order: None,
                out_of_order: vec![jitter + imp.late.mul_f64(self.rng.f64())],
            }
        } else {
            SignalingPlan {
                in_order: Some(jitter),
                out_of_order: Vec::new(),
            }
        };
        if self.rng.f64() < imp.duplicate {
            plan.out_of_order
                .push(jitter + imp.late.mul_f64(self.rng.f64()));
        }
        plan
    }
}

/// Datagrams with seeded loss, jitter and duplication. Each datagram's fate is drawn from its own
/// identity (STUN transaction, DTLS record number, RTP SSRC and sequence number, RTCP send
/// time), not from the order of sends: str0m iterates hash maps with random seeds, so the order of
/// datagrams sent at one instant varies between runs while their identities do not.
/// A 1:1 NAT in front of one host: its `private` address is reachable from outside only as
/// `public`, port for port, and what it sends leaves from `public`.
#[derive(Clone, Copy, Debug)]
pub struct Nat1to1 {
    pub private: std::net::IpAddr,
    pub public: std::net::IpAddr,
}

impl Nat1to1 {
    /// The datagram as it arrives, or None where the NAT hides its destination.
    fn translate(&self, mut d: Datagram) -> Option<Datagram> {
        let from_inside = d.source.ip() == self.private;
        if from_inside {
            d.source.set_ip(self.public);
        }
        if d.destination.ip() == self.public {
            d.destination.set_ip(self.private);
        } else if d.destination.ip() == self.private && !from_inside {
            return None;
        }
        Some(d)
    }
}

/// A stateful firewall in front of the hosts on `inside`, filtering like a port-restricted cone
/// NAT: a datagram from outside gets in only if the inside socket has sent to that exact address.
#[derive(Clone, Debug)]
pub struct Firewall {
    pub inside: std::net::IpAddr,
    opened: std::collections::BTreeSet<(SocketAddr, SocketAddr)>,
}

impl Firewall {
    pub fn new(inside: std::net::IpAddr) -> Firewall {
        Firewall {
            inside,
            opened: Default::default(),
        }
    }

    /// Whether the datagram passes; outgoing datagrams open the way back.
    fn pass(&mut self, d: &Datagram) -> bool {
        if d.source.ip() == self.inside {
            self.opened.insert((d.source, d.destination));
            return true;
        }
        d.destination.ip() != self.inside || self.opened.contains(&(d.destination, d.source))
    }
}

pub struct Network {
    pub impairment: Impairment,
    pub nat: Option<Nat1to1>,
    pub firewall: Option<Firewall>,
    seed: u64,
    queue: Scheduled<Datagram>,
    /// Per-flow counters for datagrams without a stable identity of their own.
    counters: BTreeMap<(SocketAddr, SocketAddr), u64>,
    /// Time of the first send: identities use times relative to it.
    epoch: Option<Instant>,
    pub sent: u64,
    pub dropped: u64,
    /// When set, one line per send (for finding where two runs part).
    pub trace: Option<Vec<String>>,
}

impl Network {
    pub fn new(seed: u64, impairment: Impairment) -> Network {
        Network {
            impairment,
            nat: None,
            firewall: None,
            seed,
            queue: Scheduled::default(),
            counters: BTreeMap::new(),
            epoch: None,
            sent: 0,
            dropped: 0,
            trace: None,
        }
    }

    pub fn send(&mut self, now: Instant, datagram: Datagram) {
        self.sent += 1;
        let epoch = *self.epoch.get_or_insert(now);
        let (fate, order) = self.identity(now - epoch, &datagram);
        let mut rng = fastrand::Rng::with_seed(self.seed ^ fate);
        if let Some(trace) = &mut self.trace {
            let (c, t) = (&datagram.contents, (now - epoch).as_micros());
            let (from, to) = (datagram.source, datagram.destination);
            trace.push(format!(
                "{t} {from}->{to} {} {:02x?} {order:x}",
                c.len(),
                &c[..c.len().min(12)]
            ));
        }
        // The trace shows datagrams as sent, before the NAT.
        let Some(datagram) = self.route(datagram) else {
            self.dropped += 1;
            return;
        };
        if rng.f64() < self.impairment.loss {
            self.dropped += 1;
            return;
        }
        let doubled = rng.f64() < self.impairment.duplicate;
        let copies = if doubled { 2 } else { 1 };
        for copy in 0..copies {
            let jitter = self.impairment.jitter.mul_f64(rng.f64());
            self.queue.push_keyed(
                now + self.impairment.latency + jitter,
                order.wrapping_add(copy),
                datagram.clone(),
            );
        }
    }

    /// The datagram after the NAT and the firewall, or None where one of them drops it. Each sees
    /// it from its own side: the firewall's hosts send through the firewall, then the NAT.
    fn route(&mut self, datagram: Datagram) -> Option<Datagram> {
        let firewalled = |f: &Firewall| datagram.source.ip() == f.inside;
        let outgoing = self.firewall.as_ref().is_some_and(firewalled);
        if outgoing {
            self.firewall.as_mut()?.pass(&datagram);
        }
        let datagram = match self.nat {
            Some(nat) => nat.translate(datagram)?,
            None => datagram,
        };
        let blocked = !outgoing && self.firewall.as_mut().is_some_and(|f| !f.pass(&datagram));
        (!blocked).then_some(datagram)
    }

    /// (what decides the datagram's fate, what orders it among datagrams due at the same time).
    fn identity(&mut self, since_epoch: Duration, d: &Datagram) -> (u64, u64) {
        let c = &d.contents;
        let mut h = DefaultHasher::new();
        (d.source, d.destination).hash(&mut h);
        match c.first().copied() {
            // STUN: the transaction id.
            Some(0..=3) if c.len() >= 20 => (0u8, &c[8..20]).hash(&mut h),
            // DTLS: content type, epoch and record sequence number.
            Some(20..=63) if c.len() >= 13 => (1u8, c[0], &c[3..11]).hash(&mut h),
            // SRTCP: str0m packs reports in hash-map order, so only the send time is stable; all
            // RTCP of one flow and instant share a fate and are ordered by their clear header.
            Some(128..=191) if c.len() >= 12 && (192..=223).contains(&c[1]) => {
                (2u8, since_epoch).hash(&mut h);
                let fate = h.finish();
                c[..8].hash(&mut h);
                return (fate, h.finish());
            }
            // RTP: SSRC and sequence number.
            Some(128..=191) if c.len() >= 12 => (3u8, &c[8..12], &c[2..4]).hash(&mut h),
            _ => {
                let n = self.counters.entry((d.source, d.destination)).or_default();
                *n += 1;
                (4u8, *n).hash(&mut h);
            }
        }
        let id = h.finish();
        (id, id)
    }

    pub fn next_time(&self) -> Option<Instant> {
        self.queue.next_time()
    }

    pub fn pop_due(&mut self, now: Instant) -> Option<Datagram> {
        self.queue.pop_due(now)
    }
}
