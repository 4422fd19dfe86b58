//! Deterministic in-memory simulation: fake publishers (str0m), the pure relay routing in either
//! dialect and the recorder core, on virtual time. Same seed, same run, DTLS included ([`dtls`]),
//! with one known leak: str0m's SCTP draws OS randomness, and for some seeds the data channel's
//! timing then differs by a few milliseconds between runs.
//!
//! - [`scenario`]: the scenario language (participants, steps at times, impairments) and its
//!   outcome (presences, frames, violations, digest); [`strategy`] generates scenarios for proptest.
//! - [`observe`]: checks every output of the recorder core against the properties and keeps a
//!   digest of them; [`wire`] is the test's own reading of signaling texts.
//! - [`net`]: datagrams and signaling hops with seeded loss, jitter, duplication and reordering.
//! - [`hostile`]: malformed and hostile input injected into a running simulation.
//!
//! Debugging a run: `SIM_TRACE=1` prints every step's timers; `observer.keep_log = true` keeps
//! the event log; `net.trace = Some(vec![])` logs every datagram sent.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use roomrec_core::connection::{ConnectionSettings, SessionKey};
use roomrec_core::media::{Codec, TrackKind};
use roomrec_core::room::{RoomConfig, RoomInput};
use roomrec_core::signaling::{Dialect, Password};
use roomrec_relay::{ClientId, Relay};
use roomrec_testpeer::{Publisher, PublisherConfig, PublisherInput, PublisherOutput, Track};

mod control;
pub mod dtls;
pub mod files_check;
pub mod hostile;
pub mod net;
pub mod observe;
pub mod observe_media;
pub mod recorder;
pub mod scenario;
pub mod strategy;
pub mod wire;

use net::{Datagram, Impairment, Network, Scheduled, SignalingDice, SignalingImpairment};
use recorder::RecorderNode;

pub const SALT: &str = "vdo.ninja";

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub room: String,
    pub dialect: Dialect,
    pub password: Password,
    pub seed: u64,
    pub impairment: Impairment,
    pub signaling_latency: Duration,
    /// Applied to every message the relay delivers (client to relay stays in order, as over TCP).
    pub signaling: SignalingImpairment,
    /// How long a session's report (its answer, its end) takes to reach the room.
    pub report_delay: Duration,
    pub record_streams: Option<Vec<String>>,
    pub video_codecs: Vec<Codec>,
    /// The recorder's own address (publishers are on 127.0.0.2).
    pub recorder_ip: IpAddr,
    /// The recorder's `--public-ip`.
    pub public_ips: Vec<IpAddr>,
}

impl SimConfig {
    pub fn new(dialect: Dialect, password: Password, seed: u64) -> SimConfig {
        SimConfig {
            room: "simroom".into(),
            dialect,
            password,
            seed,
            impairment: Impairment::default(),
            signaling_latency: Duration::from_millis(20),
            signaling: SignalingImpairment::default(),
            report_delay: Duration::ZERO,
            record_streams: None,
            video_codecs: Vec::new(),
            recorder_ip: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            public_ips: Vec::new(),
        }
    }
}

/// What a fake publisher sends.
#[derive(Clone, Debug)]
pub struct PublisherSpec {
    pub stream_id: String,
    pub label: String,
    pub video: Option<Track>,
    pub audio: Option<Track>,
    pub candidates_first: bool,
}

impl PublisherSpec {
    pub fn new(stream_id: &str, video: Option<Track>, audio: Option<Track>) -> PublisherSpec {
        PublisherSpec {
            stream_id: stream_id.into(),
            label: stream_id.into(),
            video,
            audio,
            candidates_first: false,
        }
    }
}

/// Who a signaling text is travelling to.
#[derive(Clone, Copy, Debug)]
enum Hop {
    ToRelay(ClientId),
    ToClient(ClientId),
}

pub struct PublisherNode {
    pub publisher: Publisher,
    pub client: Option<ClientId>,
    pub addr: SocketAddr,
    pub spec: PublisherSpec,
    /// The peer id others see (set on join; the relay assigns it in the official dialect).
    pub peer_id: Option<String>,
    /// False after a crash: the node neither sends nor receives anything any more.
    pub alive: bool,
}

pub struct Sim {
    pub config: SimConfig,
    pub start: Instant,
    pub now: Instant,
    pub relay: Relay,
    pub recorder: RecorderNode,
    pub recorder_client: Option<ClientId>,
    pub publishers: Vec<PublisherNode>,
    pub net: Network,
    signaling: Scheduled<(Hop, String)>,
    signaling_dice: SignalingDice,
    /// Last delivery time per hop target, so one client's messages stay in order.
    last_delivery: BTreeMap<(bool, u64), Instant>,
    next_seed: u64,
}

impl Sim {
    pub fn new(config: SimConfig) -> Sim {
        dtls::install();
        let start = Instant::now();
        let room_config = RoomConfig {
            room: config.room.clone(),
            password: config.password.clone(),
            salt: SALT.into(),
            dialect: config.dialect,
            record_streams: config.record_streams.clone(),
            view: None,
            seed: config.seed,
            connection: ConnectionSettings {
                video_codecs: config.video_codecs.clone(),
                public_ips: config.public_ips.clone(),
                ..ConnectionSettings::default()
            },
        };
        let mut recorder = RecorderNode::new(start, room_config, config.recorder_ip);
        recorder.report_delay = config.report_delay;
        Sim {
            relay: Relay::new(config.dialect, config.seed ^ 0xa5a5),
            recorder,
            recorder_client: None,
            publishers: Vec::new(),
            net: Network::new(config.seed ^ 0x11, config.impairment.clone()),
            signaling: Scheduled::default(),
            signaling_dice: SignalingDice::new(config.seed ^ 0x5167, config.signaling.clone()),
            last_delivery: BTreeMap::new(),
            next_seed: config.seed.wrapping_mul(1_000_003),
            start,
            now: start,
            config,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    pub fn recorder_connect(&mut self) {
        let client = self.relay.connect();
        self.recorder_client = Some(client);
        self.recorder.room_input(self.now, RoomInput::SignalingUp);
        self.flush();
    }

    /// The signaling server drops the recorder's WebSocket (media keeps flowing).
    pub fn recorder_disconnect(&mut self) {
        if let Some(client) = self.recorder_client.take() {
            self.relay.disconnect(client);
        }
        self.recorder.room_input(self.now, RoomInput::SignalingDown);
        self.flush();
    }

    pub fn add_publisher(&mut self, spec: PublisherSpec) -> usize {
        let index = self.publishers.len();
        let addr = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            20_000 + index as u16,
        );
        self.next_seed += 1;
        let config = PublisherConfig {
            room: self.config.room.clone(),
            password: self.config.password.clone(),
            salt: SALT.into(),
            dialect: self.config.dialect,
            stream_id: spec.stream_id.clone(),
            label: spec.label.clone(),
            local_addr: addr,
            reflexive_addr: None,
            video: spec.video.clone(),
            audio: spec.audio.clone(),
            candidates_first: spec.candidates_first,
            scene: false,
            seed: self.next_seed,
        };
        // str0m draws its ids from fastrand's thread-local generator; this thread is the
        // simulation's, so it seeds it for reproducible runs (apart from the publisher's own seed).
        fastrand::seed(self.next_seed ^ 0x5eed_5eed);
        let publisher = Publisher::new(config);
        self.publishers.push(PublisherNode {
            publisher,
            client: None,
            addr,
            spec,
            peer_id: None,
            alive: true,
        });
        index
    }

    pub fn run_for(&mut self, duration: Duration) {
        let end = self.now + duration;
        let mut same_instant = 0u32;
        loop {
            let next = [
                self.recorder.next_timeout(),
                self.net.next_time(),
                self.signaling.next_time(),
                self.publishers
                    .iter()
                    .filter(|p| p.alive)
                    .filter_map(|p| p.publisher.poll_timeout())
                    .min(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next.filter(|t| *t <= end) else {
                self.now = end;
                break;
            };
            if std::env::var_os("SIM_TRACE").is_some() {
                eprintln!(
                    "t={:?} rec={:?} net={:?} sig={:?} pubs={:?}",
                    next - self.start,
                    self.recorder.next_timeout().map(|t| t - self.start),
                    self.net.next_time().map(|t| t - self.start),
                    self.signaling.next_time().map(|t| t - self.start),
                    self.publishers
                        .iter()
                        .filter_map(|p| p.publisher.poll_timeout())
                        .min()
                        .map(|t| t - self.start)
                );
            }
            // A state machine that keeps asking for "now" must not stall virtual time.
            if next <= self.now {
                same_instant += 1;
                if same_instant > 20 {
                    self.now += Duration::from_millis(1);
                    same_instant = 0;
                    if self.now > end {
                        break;
                    }
                }
            } else {
                self.now = next;
                same_instant = 0;
            }
            self.step();
        }
    }

    fn step(&mut self) {
        let now = self.now;
        while let Some((hop, text)) = self.signaling.pop_due(now) {
            self.deliver_signaling(hop, text);
        }
        while let Some(datagram) = self.net.pop_due(now) {
            self.deliver_datagram(datagram);
        }
        self.recorder.handle_timeouts(now);
        for p in self.publishers.iter_mut().filter(|p| p.alive) {
            if p.publisher.poll_timeout().is_some_and(|t| t <= now) {
                p.publisher.handle_input(now, PublisherInput::Timeout);
            }
        }
        self.flush();
    }

    fn deliver_signaling(&mut self, hop: Hop, text: String) {
        let now = self.now;
        match hop {
            Hop::ToRelay(client) => {
                self.relay.receive(client, &text);
            }
            Hop::ToClient(client) => {
                if self.recorder_client == Some(client) {
                    self.recorder
                        .room_input(now, RoomInput::SignalingText(text));
                } else if let Some(p) = self
                    .publishers
                    .iter_mut()
                    .find(|p| p.alive && p.client == Some(client))
                {
                    p.publisher
                        .handle_input(now, PublisherInput::SignalingText(&text));
                }
            }
        }
    }

    fn deliver_datagram(&mut self, d: Datagram) {
        let now = self.now;
        if let Some(p) = self.publishers.iter_mut().find(|p| p.addr == d.destination) {
            if p.alive {
                let input = PublisherInput::Datagram {
                    source: d.source,
                    destination: d.destination,
                    contents: &d.contents,
                };
                p.publisher.handle_input(now, input);
            }
        } else {
            self.recorder.receive(now, d);
        }
    }

    /// Moves everything the nodes want to send into the network and signaling queues.
    fn flush(&mut self) {
        let now = self.now;
        let mut hops = Vec::new();
        if let Some(client) = self.recorder_client {
            hops.extend(
                self.recorder
                    .signaling_out
                    .drain(..)
                    .map(|t| (Hop::ToRelay(client), t)),
            );
        } else {
            self.recorder.signaling_out.clear();
        }
        for d in self.recorder.datagrams_out.drain(..) {
            self.net.send(now, d);
        }
        for p in self.publishers.iter_mut().filter(|p| p.alive) {
            while let Some(output) = p.publisher.poll_output() {
                match output {
                    PublisherOutput::SendSignaling(text) => {
                        if let Some(client) = p.client {
                            hops.push((Hop::ToRelay(client), text));
                        }
                    }
                    PublisherOutput::Transmit {
                        source,
                        destination,
                        contents,
                    } => self.net.send(
                        now,
                        Datagram {
                            source,
                            destination,
                            contents,
                        },
                    ),
                }
            }
        }
        while let Some((client, text)) = self.relay.poll_output() {
            hops.push((Hop::ToClient(client), text));
        }
        for (hop, text) in hops {
            let (target, plan) = match hop {
                Hop::ToRelay(c) => ((true, c.as_u64()), None),
                Hop::ToClient(c) => ((false, c.as_u64()), Some(self.signaling_dice.plan())),
            };
            let base = now + self.config.signaling_latency;
            let (in_order, out_of_order) = match plan {
                Some(plan) => (plan.in_order, plan.out_of_order),
                None => (Some(Duration::ZERO), Vec::new()),
            };
            for extra in out_of_order {
                self.signaling.push(base + extra, (hop, text.clone()));
            }
            if let Some(extra) = in_order {
                let at =
                    (base + extra).max(self.last_delivery.get(&target).copied().unwrap_or(now));
                self.last_delivery.insert(target, at);
                self.signaling.push(at, (hop, text));
            }
        }
    }

    /// Frames str0m handed to the stream's connections, per track kind (needs `keep_frames`).
    pub fn frame_counts(&self, stream_id: &str) -> (usize, usize) {
        let frames = self
            .recorder
            .frames
            .iter()
            .filter(|f| f.stream_id == stream_id);
        frames.fold((0, 0), |(v, a), f| match f.frame.codec.kind() {
            TrackKind::Video => (v + 1, a),
            TrackKind::Audio => (v, a + 1),
        })
    }

    /// Distinct connections that delivered frames for a stream, in order of first frame.
    pub fn sessions_with_frames(&self, stream_id: &str) -> Vec<SessionKey> {
        let mut keys: Vec<SessionKey> = Vec::new();
        for f in self
            .recorder
            .frames
            .iter()
            .filter(|f| f.stream_id == stream_id)
        {
            if !keys.contains(&f.key) {
                keys.push(f.key.clone());
            }
        }
        keys
    }
}
