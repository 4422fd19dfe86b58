//! The publisher state machine: one str0m connection per viewer that asks for the stream.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use roomrec_core::media::TrackKind;
use roomrec_core::signaling::{
    datachannel, random_iv, Dialect, IceCandidate, Password, RoomSecrets,
};
use serde_json::json;

use crate::conn::{ConnEvent, Muted, SentCounts, ViewerConn};
use crate::wire::{PublisherIncoming, PublisherWire};
use crate::Track;

/// Who the publisher is and what it sends.
#[derive(Clone, Debug)]
pub struct PublisherConfig {
    /// Room name as typed (hashed with the password on the wire). Empty: publish outside any
    /// room, like a `?push=ID` link without `&room` (`seed` instead of `joinroom`).
    pub room: String,
    /// The room password; also the key of sealed SDP and candidates.
    pub password: Password,
    /// Salt of the hashes and the key, `vdo.ninja` in the web app.
    pub salt: String,
    /// Which signaling server the publisher talks to.
    pub dialect: Dialect,
    /// Stream id without suffix.
    pub stream_id: String,
    /// Display name sent in `info.label`.
    pub label: String,
    /// The UDP address the caller delivers our datagrams from/to.
    pub local_addr: SocketAddr,
    /// That address as a STUN server saw it (behind NAT), announced as a server-reflexive
    /// candidate next to the host one.
    pub reflexive_addr: Option<SocketAddr>,
    /// Video source, looping.
    pub video: Option<Track>,
    /// Audio source (Opus), looping.
    pub audio: Option<Track>,
    /// Send the candidate bundle before the offer (real networks reorder signaling).
    pub candidates_first: bool,
    /// Behave like a `&scene`/viewer page: no streamID in joinroom, `isScene: true`, no tracks.
    pub scene: bool,
    /// Seed of the publisher's own ids, session ids and IVs. str0m's ids come from fastrand's
    /// thread-local generator, which the caller seeds if it wants reproducible runs.
    pub seed: u64,
}

/// What happens to the publisher from outside; passed to [`Publisher::handle_input`].
#[derive(Clone, Copy, Debug)]
pub enum PublisherInput<'a> {
    /// The WebSocket is open: join the room.
    SignalingUp,
    /// The WebSocket closed; nothing is sent on it until the next `SignalingUp`.
    SignalingDown,
    /// A text frame from the signaling server.
    SignalingText(&'a str),
    /// A UDP datagram for one of our connections.
    Datagram {
        /// Where it came from.
        source: SocketAddr,
        /// Our address it arrived on.
        destination: SocketAddr,
        /// The datagram's bytes.
        contents: &'a [u8],
    },
    /// The time from [`Publisher::poll_timeout`] has come.
    Timeout,
}

/// What the publisher wants done; drained with [`Publisher::poll_output`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublisherOutput {
    /// Send this text frame on the WebSocket.
    SendSignaling(String),
    /// Send this UDP datagram.
    Transmit {
        /// Our address to send from.
        source: SocketAddr,
        /// The peer's address.
        destination: SocketAddr,
        /// The datagram's bytes.
        contents: Vec<u8>,
    },
}

/// A synthetic VDO.Ninja publisher: joins the room, offers its stream to every viewer that asks,
/// and sends its looping tracks once the viewer's data channel requested them.
///
/// # Call contract
///
/// Time enters only as the `now` of each call; the publisher reads no clock. After every
/// [`handle_input`](Self::handle_input) and after every command that takes `&mut self`
/// ([`hang_up`](Self::hang_up), [`renegotiate`](Self::renegotiate), ...):
///
/// 1. call [`poll_output`](Self::poll_output) until it returns `None` ("drained"), sending each
///    output in order;
/// 2. then call [`poll_timeout`](Self::poll_timeout) and feed [`PublisherInput::Timeout`] once
///    that time has come (`None`: no connection, nothing to wait for).
///
/// Handing in `Timeout` early is harmless. With the same seed, the same calls at the same times
/// give the same outputs, provided the caller also seeds fastrand's thread-local generator
/// (str0m draws its ids from it).
pub struct Publisher {
    config: PublisherConfig,
    wire: PublisherWire,
    rng: fastrand::Rng,
    tracks: Vec<Track>,
    conns: Vec<ViewerConn>,
    out: VecDeque<PublisherOutput>,
    signaling_up: bool,
    muted: Muted,
    hung_up: bool,
    answers_of_closed: u32,
    counts_of_closed: SentCounts,
}

impl Publisher {
    /// A publisher with its WebSocket still down (see [`PublisherInput::SignalingUp`]).
    pub fn new(config: PublisherConfig) -> Publisher {
        let secrets = RoomSecrets::new(&config.room, &config.password, &config.salt);
        let mut rng = fastrand::Rng::with_seed(config.seed);
        let own_id: String = (0..20).map(|_| rng.alphanumeric()).collect();
        let wire = PublisherWire {
            dialect: config.dialect,
            own_id,
            room_wire: match config.room.is_empty() {
                true => String::new(),
                false => secrets.room_wire.clone(),
            },
            wire_stream: secrets.wire_stream_id(&config.stream_id),
            cipher: secrets.cipher.clone(),
            scene: false,
        };
        let tracks = config
            .video
            .iter()
            .chain(config.audio.iter())
            .cloned()
            .collect();
        let mut publisher = Publisher {
            config,
            wire,
            rng,
            tracks,
            conns: Vec::new(),
            out: VecDeque::new(),
            signaling_up: false,
            muted: Muted::default(),
            hung_up: false,
            answers_of_closed: 0,
            counts_of_closed: SentCounts::default(),
        };
        if publisher.config.scene {
            publisher.make_scene();
        }
        publisher
    }

    /// Feed one input at `now`; then drain (see the [call contract](Self)).
    pub fn handle_input(&mut self, now: Instant, input: PublisherInput<'_>) {
        match input {
            PublisherInput::SignalingUp => self.signaling_up(),
            PublisherInput::SignalingDown => self.signaling_up = false,
            PublisherInput::SignalingText(text) => self.signaling_text(now, text),
            PublisherInput::Datagram {
                source,
                destination,
                contents,
            } => self.datagram(now, source, destination, contents),
            PublisherInput::Timeout => self.timeout(now),
        }
    }

    /// The next thing to send; `None` once drained.
    pub fn poll_output(&mut self) -> Option<PublisherOutput> {
        self.out.pop_front()
    }

    /// When to hand in [`PublisherInput::Timeout`] next; `None` while there is no connection.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conns
            .iter()
            .filter(|c| !c.closed)
            .map(|c| c.next_timeout(&self.tracks))
            .min()
    }

    /// Turn into a scene/viewer page (see [`PublisherConfig::scene`]).
    pub fn make_scene(&mut self) {
        self.config.scene = true;
        self.wire.scene = true;
        self.tracks.clear();
        // Scenes offer with a random stream id nobody announced.
        self.wire.wire_stream = (0..8).map(|_| self.rng.alphanumeric()).collect();
    }

    /// Our peer id in the relay dialect (`from`); the official server assigns its own.
    pub fn own_id(&self) -> &str {
        &self.wire.own_id
    }

    /// Stop (true) or resume (false) sending video; resumes on the next keyframe, like a camera.
    pub fn set_video_muted(&mut self, muted: bool) {
        self.muted.video = muted;
    }

    /// Stop (true) or resume (false) sending audio.
    pub fn set_audio_muted(&mut self, muted: bool) {
        self.muted.audio = muted;
    }

    /// Hang up like the web app: `videoMuted`+`bye`, then `bye`, on every data channel.
    pub fn hang_up(&mut self, now: Instant) {
        let mut out = VecDeque::new();
        for c in self.conns.iter_mut() {
            c.send_control(
                now,
                &json!({"videoMuted": true, "bye": true}).to_string(),
                &mut out,
            );
            c.send_control(now, &datachannel::encode_bye(), &mut out);
            c.close(now, &mut out);
        }
        self.out.extend(out);
        self.hung_up = true;
    }

    /// Swap the video source mid-stream (e.g. a resolution change); the codec must stay the same
    /// because it was negotiated. Returns whether the track was taken.
    pub fn set_video_track(&mut self, track: Track) -> bool {
        let Some(current) = self
            .config
            .video
            .as_ref()
            .filter(|v| v.codec == track.codec)
        else {
            return false;
        };
        if self.config.scene || self.tracks.is_empty() {
            return false;
        }
        // The video track, when there is one, is the first of `tracks`.
        let old = current.clone();
        for c in &mut self.conns {
            c.switch_source(0, &old);
        }
        self.tracks[0] = track.clone();
        self.config.video = Some(track);
        true
    }

    /// Re-negotiate every established connection with an offer on the data channel, as the web
    /// app does; `ice_restart` asks for new ICE credentials in it.
    pub fn renegotiate(&mut self, now: Instant, ice_restart: bool) {
        let mut out = VecDeque::new();
        for i in 0..self.conns.len() {
            if self.conns[i].closed {
                continue;
            }
            if let Some(sdp) = self.conns[i].reoffer(now, ice_restart, &mut out) {
                let (viewer, session) =
                    (self.conns[i].viewer.clone(), self.conns[i].session.clone());
                let iv = random_iv(&mut self.rng);
                let text = self
                    .wire
                    .dc_offer(&viewer, &self.config.stream_id, &session, &sdp, iv);
                self.conns[i].send_control(now, &text, &mut out);
            }
        }
        self.out.extend(out);
    }

    /// Trickle our candidates again on the WebSocket for every open connection (browsers send
    /// late candidate bundles, e.g. after gathering more interfaces).
    pub fn resend_candidates(&mut self) {
        let targets: Vec<(String, String, Vec<IceCandidate>)> = self
            .conns
            .iter()
            .filter(|c| !c.closed)
            .map(|c| {
                (
                    c.viewer.clone(),
                    c.session.clone(),
                    c.local_candidates(self.config.local_addr, self.config.reflexive_addr),
                )
            })
            .collect();
        for (viewer, session, cands) in targets {
            let iv = random_iv(&mut self.rng);
            let text = self.wire.candidates(&viewer, &session, &cands, iv);
            self.send(text);
        }
    }

    /// Answers accepted over all connections ever made (closed ones included).
    pub fn answers_accepted(&self) -> u32 {
        self.answers_of_closed + self.conns.iter().map(|c| c.answers).sum::<u32>()
    }

    /// Send a raw text on every open data channel (tests: unusual or hostile peers).
    pub fn send_data_channel(&mut self, now: Instant, text: &str) {
        let mut out = VecDeque::new();
        for c in self.conns.iter_mut().filter(|c| !c.closed) {
            c.send_control(now, text, &mut out);
        }
        self.out.extend(out);
    }

    /// Frames handed to str0m so far, over all connections and tracks.
    pub fn frames_sent(&self) -> u64 {
        self.conns.iter().map(|c| c.frames_sent()).sum()
    }

    /// Frames handed to str0m so far by kind, over all connections ever made.
    pub fn sent_counts(&self) -> SentCounts {
        let mut total = self.counts_of_closed;
        for c in &self.conns {
            total.add(c.counts);
        }
        total
    }

    fn signaling_up(&mut self) {
        self.signaling_up = true;
        if !self.hung_up {
            let text = self.wire.announce();
            self.send(text);
        }
    }

    fn signaling_text(&mut self, now: Instant, text: &str) {
        if self.hung_up {
            return;
        }
        match self.wire.decode(text) {
            PublisherIncoming::WantsStream { viewer } => self.offer_to(now, viewer),
            PublisherIncoming::Answer {
                viewer,
                session,
                sdp,
            } => {
                if let Some(c) = self.conn_mut(&viewer, Some(&session)) {
                    let mut out = VecDeque::new();
                    c.accept_answer(now, &sdp, true, &mut out);
                    self.out.extend(out);
                }
            }
            PublisherIncoming::Candidates {
                viewer,
                session,
                candidates,
            } => {
                if let Some(c) = self.conn_mut(&viewer, session.as_deref()) {
                    let mut out = VecDeque::new();
                    c.add_candidates(now, &candidates, &mut out);
                    self.out.extend(out);
                }
            }
            PublisherIncoming::Left { viewer } => {
                let mut out = VecDeque::new();
                for c in self.conns.iter_mut().filter(|c| c.viewer == viewer) {
                    c.close(now, &mut out);
                }
                self.out.extend(out);
            }
            PublisherIncoming::Other => {}
        }
        self.process_conn_events(now);
    }

    fn datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) {
        let mut out = VecDeque::new();
        if let Some(c) = self
            .conns
            .iter_mut()
            .find(|c| !c.closed && c.accepts(source, destination, contents))
        {
            c.receive(now, source, destination, contents, &mut out);
        }
        self.out.extend(out);
        self.process_conn_events(now);
    }

    fn timeout(&mut self, now: Instant) {
        let mut out = VecDeque::new();
        for c in self.conns.iter_mut().filter(|c| !c.closed) {
            c.timeout(now, &self.tracks, self.muted, &mut out);
        }
        self.out.extend(out);
        self.process_conn_events(now);
        self.drop_closed();
    }

    fn offer_to(&mut self, now: Instant, viewer: String) {
        let mut out = VecDeque::new();
        for c in self.conns.iter_mut().filter(|c| c.viewer == viewer) {
            c.close(now, &mut out);
        }
        self.out.extend(out);
        self.drop_closed();
        let session: String = (0..10).map(|_| self.rng.alphanumeric()).collect();
        let codec = self.config.video.as_ref().map(|t| t.codec);
        let (conn, sdp) = ViewerConn::new(
            now,
            viewer.clone(),
            session.clone(),
            codec,
            self.config.local_addr,
            self.wire.cipher.clone(),
        );
        let (iv1, iv2) = (random_iv(&mut self.rng), random_iv(&mut self.rng));
        let offer = self.wire.offer(&viewer, &session, &sdp, iv1);
        let cands = conn.local_candidates(self.config.local_addr, self.config.reflexive_addr);
        let cands = self.wire.candidates(&viewer, &session, &cands, iv2);
        if self.config.candidates_first {
            self.send(cands);
            self.send(offer);
        } else {
            self.send(offer);
            self.send(cands);
        }
        self.conns.push(conn);
    }

    fn process_conn_events(&mut self, now: Instant) {
        for i in 0..self.conns.len() {
            while let Some(event) = self.conns[i].events.pop_front() {
                self.handle_conn_event(now, i, event);
            }
        }
    }

    fn handle_conn_event(&mut self, now: Instant, i: usize, event: ConnEvent) {
        let mut out = VecDeque::new();
        match event {
            ConnEvent::Request { audio, video } => {
                let info = json!({"info": {"label": self.config.label, "video_init_width": 320}, "miniInfo": {}});
                self.conns[i].send_control(now, &info.to_string(), &mut out);
                let wanted: Vec<(usize, TrackKind)> = self
                    .tracks
                    .iter()
                    .enumerate()
                    .map(|(idx, t)| (idx, t.codec.kind()))
                    .filter(|(_, kind)| {
                        if *kind == TrackKind::Audio {
                            audio
                        } else {
                            video
                        }
                    })
                    .collect();
                if let Some(sdp) = self.conns[i].add_tracks(now, &wanted, &mut out) {
                    let (viewer, session) =
                        (self.conns[i].viewer.clone(), self.conns[i].session.clone());
                    let iv = random_iv(&mut self.rng);
                    let text =
                        self.wire
                            .dc_offer(&viewer, &self.config.stream_id, &session, &sdp, iv);
                    self.conns[i].send_control(now, &text, &mut out);
                }
            }
            ConnEvent::Description { sdp } => {
                self.conns[i].accept_answer(now, &sdp, false, &mut out)
            }
            ConnEvent::Ping(v) => {
                self.conns[i].send_control(now, &datachannel::encode_pong(&v), &mut out)
            }
            ConnEvent::Bye => self.conns[i].close(now, &mut out),
        }
        self.out.extend(out);
    }

    fn conn_mut(&mut self, viewer: &str, session: Option<&str>) -> Option<&mut ViewerConn> {
        self.conns
            .iter_mut()
            .find(|c| !c.closed && c.viewer == viewer && session.is_none_or(|s| s == c.session))
    }

    fn drop_closed(&mut self) {
        self.answers_of_closed += self
            .conns
            .iter()
            .filter(|c| c.closed)
            .map(|c| c.answers)
            .sum::<u32>();
        for c in self.conns.iter().filter(|c| c.closed) {
            self.counts_of_closed.add(c.counts);
        }
        self.conns.retain(|c| !c.closed);
    }

    fn send(&mut self, text: String) {
        if self.signaling_up {
            self.out.push_back(PublisherOutput::SendSignaling(text));
        }
    }
}
