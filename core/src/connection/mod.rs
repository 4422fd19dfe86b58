//! One publisher's connection, from datagram to file bytes: a str0m `Rtc` with the VDO.Ninja
//! data-channel protocol (`webrtc`) feeding the stream's recorder ([`StreamRecorder`]). Keyframe
//! requests, labels and frames pass between the two inside; the caller only moves datagrams, time
//! and file operations.
//!
//! # Call contract
//!
//! Like str0m's `Rtc` and quinn-proto's `Connection`:
//!
//! 1. Build it with [`Connection::new`] from the room's [`ConnectionStart`] and the local
//!    addresses the caller listens on (one UDP socket each).
//! 2. After `new` and after every [`Connection::handle_input`], call [`Connection::poll_output`]
//!    until it returns `None` ("drained"), carrying out each output in order: send `Transmit`s,
//!    apply `File` operations, pass `Report`s to the room, show or ignore `Event`s.
//! 3. Then ask [`Connection::poll_timeout`]; at that instant (or when a datagram or room command
//!    arrives first) call `handle_input` again, with `ConnectionInput::Timeout` for the timer.
//! 4. `Report(Closed)` is the last output; every file the connection opened has been finalized
//!    before it. After it, `poll_timeout` is `None` and input is ignored: drop the connection.
//!
//! Time is only what the caller passes: `now` for protocol timers, `wall_now` for file start
//! times and names. Nothing here blocks, spawns, reads a clock or draws OS randomness.

mod api;
mod preview;
mod sdp;
mod stats;
mod webrtc;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use crate::ice::{BindingClient, BindingEvent, RelayOutput, TurnRelays};
use crate::media::{MediaFrame, RecorderOutput, StreamRecorder, StreamRecorderConfig};
use stats::StatsClock;
use str0m::Candidate;
use webrtc::{Webrtc, WebrtcOutput, WebrtcStart};

pub use crate::media::recorder::FileOp;
pub use api::{
    CandidateSummary, CloseReason, ConnectionCommand, ConnectionEvent, ConnectionHandle,
    ConnectionInput, ConnectionOutput, ConnectionReport, ConnectionSettings, ConnectionStart,
    KeyframePreview, ReceivedFrame, SessionKey, StreamOp, AUDIO_LEVEL_INTERVAL,
    PREVIEW_KEYFRAME_INTERVAL,
};
use preview::Preview;
pub use sdp::MAX_ICE_UFRAG_LEN;
pub use stats::{ConnectionStats, TrackStats, STATS_INTERVAL};

/// One publisher's connection and recording. See the module docs for the call contract.
pub struct Connection {
    key: SessionKey,
    observe_frames: bool,
    webrtc: Webrtc,
    recorder: StreamRecorder,
    stats: StatsClock,
    /// Audio levels and keyframe copies for the live views.
    preview: Preview,
    /// Server-reflexive candidates (STUN), when configured.
    stun: Option<BindingClient>,
    /// Relay candidates (TURN), when configured.
    relays: Option<TurnRelays>,
    out: VecDeque<ConnectionOutput>,
    closed: bool,
}

impl Connection {
    /// Accepts the offer in `start`, answering through `poll_output`. A refused offer (or no
    /// local address) gives `Report(Closed(..))` as the first output instead.
    pub fn new(
        now: Instant,
        wall_now: SystemTime,
        start: ConnectionStart,
        local_addrs: &[SocketAddr],
    ) -> Connection {
        let settings = start.settings;
        let observe_frames = settings.observe_frames;
        let preview = Preview::new(settings.preview_keyframes);
        let recorder = StreamRecorder::new(
            StreamRecorderConfig {
                prefix: settings.prefix.clone(),
                stream_id: start.stream_id.clone(),
                audio: settings.audio,
                video: settings.video,
                first_file_id: start.first_file_id,
                observe_frames,
            },
            now,
        );
        tracing::debug!(session = %start.key, stream = %start.stream_id, handle = %start.handle, addrs = ?local_addrs, "connection started");
        let mut rng = fastrand::Rng::with_seed(start.seed ^ 0x57_0a);
        let stun = (!settings.relay_only && !settings.stun_servers.is_empty()).then(|| {
            let pairs = local_addrs.iter().flat_map(|local| {
                settings
                    .stun_servers
                    .iter()
                    .map(move |server| (*local, *server))
            });
            BindingClient::new(now, pairs, &mut rng)
        });
        let relays = (!settings.turn_servers.is_empty())
            .then(|| TurnRelays::new(now, &settings.turn_servers, local_addrs));
        let webrtc = Webrtc::new(
            now,
            WebrtcStart {
                key: start.key.clone(),
                stream_id: start.stream_id,
                cipher: start.cipher,
                settings,
                seed: start.seed,
                local_addrs,
                offer_sdp: &start.offer_sdp,
            },
        );
        let mut connection = Connection {
            key: start.key,
            observe_frames,
            webrtc,
            recorder,
            stats: StatsClock::new(now),
            preview,
            stun,
            relays,
            out: VecDeque::new(),
            closed: false,
        };
        connection.drain(now, wall_now);
        connection
    }

    /// Feeds one input; then drain `poll_output`.
    pub fn handle_input(&mut self, now: Instant, wall_now: SystemTime, input: ConnectionInput) {
        if self.closed {
            return;
        }
        match input {
            ConnectionInput::Datagram {
                source,
                destination,
                contents,
            } => self.handle_datagram(now, source, destination, &contents),
            ConnectionInput::StreamOpened { remote, local } => {
                if let Some(relays) = &mut self.relays {
                    relays.stream_opened(now, remote, local);
                }
            }
            ConnectionInput::StreamData { remote, contents } => {
                if let Some(relays) = &mut self.relays {
                    relays.stream_data(now, remote, &contents);
                }
            }
            ConnectionInput::StreamClosed { remote, error } => {
                if let Some(relays) = &mut self.relays {
                    relays.stream_closed(now, remote, &error);
                }
            }
            ConnectionInput::Command(ConnectionCommand::RemoteCandidates(candidates)) => {
                self.webrtc.add_remote_candidates(now, &candidates)
            }
            ConnectionInput::Command(ConnectionCommand::Close) => {
                self.webrtc.close(now, CloseReason::ClosedByRoom)
            }
            ConnectionInput::Timeout => {
                if let Some(relays) = &self.relays {
                    // Before a connect timeout can fire: what TURN said belongs in its diagnosis.
                    self.webrtc.set_pending_problems(relays.pending_problems());
                }
                if self.webrtc.poll_timeout().is_some_and(|t| t <= now) {
                    self.webrtc.handle_timeout(now);
                }
                if self.recorder.poll_timeout().is_some_and(|t| t <= now) {
                    self.recorder.handle_timeout(now, wall_now);
                }
                if let Some(stun) = &mut self.stun {
                    if stun.poll_timeout().is_some_and(|t| t <= now) {
                        stun.handle_timeout(now);
                    }
                }
                if let Some(relays) = &mut self.relays {
                    if relays.poll_timeout().is_some_and(|t| t <= now) {
                        relays.handle_timeout(now);
                    }
                }
                if self.stats.is_due(now) {
                    let recorded = self.recorder.recorded();
                    let report = self.stats.report(now, self.webrtc.ingress(), recorded);
                    self.out
                        .push_back(ConnectionOutput::Event(ConnectionEvent::Stats(report)));
                }
            }
        }
        self.drain(now, wall_now);
    }

    /// Like `handle_input` with `ConnectionInput::Datagram`, without handing over a `Vec` (for
    /// callers that receive into one buffer for many connections); then drain `poll_output`.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        wall_now: SystemTime,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) {
        if self.closed {
            return;
        }
        self.handle_datagram(now, source, destination, contents);
        self.drain(now, wall_now);
    }

    /// The next output, or `None` when drained.
    pub fn poll_output(&mut self) -> Option<ConnectionOutput> {
        self.out.pop_front()
    }

    /// When to call `handle_input(.., ConnectionInput::Timeout)`; `None` once closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        [
            self.webrtc.poll_timeout(),
            self.recorder.poll_timeout(),
            self.stun.as_ref().and_then(|s| s.poll_timeout()),
            self.relays.as_ref().and_then(|r| r.poll_timeout()),
            Some(self.stats.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Who offered.
    pub fn key(&self) -> &SessionKey {
        &self.key
    }

    /// `Report(Closed)` has been emitted.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Our ICE username fragment: publishers' STUN checks name it (see [`crate::demux`]).
    /// `None` when the offer was refused.
    pub fn local_ufrag(&self) -> Option<&str> {
        self.webrtc.local_ufrag()
    }

    /// Whether this datagram belongs to this connection (for callers that share a socket).
    pub fn accepts(&self, source: SocketAddr, destination: SocketAddr, contents: &[u8]) -> bool {
        self.webrtc.accepts(source, destination, contents)
    }

    /// Test hook (trace replays): handles `text` as if it arrived on the control data channel
    /// and returns what we send back on it; drain `poll_output` afterwards.
    #[cfg(feature = "test-hooks")]
    pub fn handle_control_text(
        &mut self,
        now: Instant,
        wall_now: SystemTime,
        text: &str,
    ) -> Vec<String> {
        let replies = self.webrtc.handle_control_text(now, text);
        self.drain(now, wall_now);
        replies
    }

    /// STUN answers and TURN traffic are ours; everything else is the publisher's.
    fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) {
        if let Some(stun) = &mut self.stun {
            if stun.asks(source) && stun.handle_datagram(source, destination, contents) {
                return;
            }
        }
        match &mut self.relays {
            Some(relays) if relays.is_server(source) => {
                if let Some(inner) =
                    relays.handle_datagram(now, source, destination, contents.to_vec())
                {
                    self.webrtc
                        .handle_datagram(now, source, destination, &inner);
                }
            }
            _ => self
                .webrtc
                .handle_datagram(now, source, destination, contents),
        }
    }

    /// Moves outputs between the parts (WebRTC, STUN, TURN, recorder) until all are quiet.
    fn drain(&mut self, now: Instant, wall_now: SystemTime) {
        loop {
            let mut busy = false;
            while let Some(event) = self.stun.as_mut().and_then(|s| s.poll_event()) {
                busy = true;
                self.on_binding(now, event);
            }
            while let Some(t) = self.stun.as_mut().and_then(|s| s.poll_transmit()) {
                self.out.push_back(ConnectionOutput::Transmit {
                    source: t.source,
                    destination: t.destination,
                    contents: t.contents,
                });
            }
            while let Some(output) = self.relays.as_mut().and_then(|r| r.poll_output()) {
                busy = true;
                self.on_relay(now, output);
            }
            while let Some(output) = self.webrtc.poll_output() {
                busy = true;
                self.on_webrtc(now, wall_now, output);
            }
            while let Some(output) = self.recorder.poll_output() {
                busy = true;
                self.on_recorder(now, output);
            }
            if !busy {
                return;
            }
        }
    }

    fn on_webrtc(&mut self, now: Instant, wall_now: SystemTime, output: WebrtcOutput) {
        let event = ConnectionOutput::Event;
        match output {
            WebrtcOutput::Transmit {
                source,
                destination,
                contents,
            } => match &mut self.relays {
                Some(relays) if relays.is_relayed(source) => {
                    relays.send(now, source, destination, &contents)
                }
                _ => self.out.push_back(ConnectionOutput::Transmit {
                    source,
                    destination,
                    contents,
                }),
            },
            WebrtcOutput::RemoteAddress(addr) => {
                if let Some(relays) = &mut self.relays {
                    relays.permit(now, addr.ip());
                }
            }
            WebrtcOutput::Answer(sdp) => self
                .out
                .push_back(ConnectionOutput::Report(ConnectionReport::Answer { sdp })),
            WebrtcOutput::Connected => self.out.push_back(event(ConnectionEvent::Connected)),
            WebrtcOutput::Disconnected => self.out.push_back(event(ConnectionEvent::Disconnected)),
            WebrtcOutput::Reconnected => self.out.push_back(event(ConnectionEvent::Reconnected)),
            WebrtcOutput::Frame(frame) => {
                if self.observe_frames {
                    self.out
                        .push_back(event(ConnectionEvent::FrameReceived(received(&frame))));
                }
                if let Some(keyframe) = self.preview.frame(now, &frame) {
                    self.out.push_back(event(keyframe));
                }
                self.recorder.handle_frame(now, wall_now, frame);
            }
            WebrtcOutput::AudioLevel { track, dbov } => {
                if let Some(level) = self.preview.audio_level(now, &track, dbov) {
                    self.out.push_back(event(level));
                }
            }
            WebrtcOutput::Label(label) => {
                self.recorder.set_label(&label);
                self.out.push_back(event(ConnectionEvent::Label(label)));
            }
            WebrtcOutput::Closed(reason) => {
                // Free the relays (the deallocations go out before the report).
                if let Some(mut relays) = self.relays.take() {
                    relays.close(now);
                    while let Some(output) = relays.poll_output() {
                        self.on_relay(now, output);
                    }
                }
                self.stun = None;
                // However it ended, the files are finalized before the room hears of it.
                self.recorder.finish(now, wall_now);
                while let Some(output) = self.recorder.poll_output() {
                    self.on_recorder(now, output);
                }
                self.out
                    .push_back(ConnectionOutput::Report(ConnectionReport::Closed(reason)));
                self.closed = true;
            }
        }
    }

    fn on_binding(&mut self, now: Instant, event: BindingEvent) {
        match event {
            BindingEvent::Mapped {
                local,
                server,
                mapped,
            } => {
                tracing::debug!(session = %self.key, %local, %server, %mapped, "STUN mapped address");
                if mapped == local {
                    return; // not behind NAT: the host candidate says it all
                }
                match Candidate::server_reflexive(mapped, local, "udp") {
                    Ok(candidate) => self.announce(now, candidate, "srflx"),
                    Err(e) => tracing::debug!(%mapped, "unusable mapped address: {e}"),
                }
            }
            BindingEvent::Failed {
                local,
                server,
                reason,
            } => {
                tracing::info!(session = %self.key, %local, %server, "STUN server gave no address: {reason}");
                self.webrtc.note_problem(format!("STUN {server}: {reason}"));
            }
        }
    }

    fn on_relay(&mut self, now: Instant, output: RelayOutput) {
        match output {
            RelayOutput::Transmit {
                source,
                destination,
                contents,
            } => self.out.push_back(ConnectionOutput::Transmit {
                source,
                destination,
                contents,
            }),
            RelayOutput::OpenStream { remote } => self
                .out
                .push_back(ConnectionOutput::Stream(StreamOp::Open { remote })),
            RelayOutput::StreamSend { remote, contents } => {
                self.out.push_back(ConnectionOutput::Stream(StreamOp::Send {
                    remote,
                    contents,
                }))
            }
            RelayOutput::Allocated {
                server,
                local,
                relayed,
            } => {
                tracing::info!(session = %self.key, %server, %relayed, "relay candidate");
                match Candidate::relayed(relayed, local, "udp") {
                    Ok(candidate) => self.announce(now, candidate, "relay"),
                    Err(e) => tracing::warn!(%relayed, "unusable relayed address: {e}"),
                }
            }
            RelayOutput::Failed { server, reason } => {
                tracing::warn!(session = %self.key, "TURN {server}: {reason}");
                self.webrtc.note_problem(format!("TURN {server}: {reason}"));
            }
            RelayOutput::PeerData {
                peer,
                relayed,
                contents,
            } => self.webrtc.handle_datagram(now, peer, relayed, &contents),
        }
    }

    /// Adds a local candidate found after the answer and trickles it to the publisher.
    fn announce(&mut self, now: Instant, candidate: Candidate, kind: &str) {
        if let Some(trickled) = self.webrtc.add_local_candidate(now, candidate, kind) {
            self.out
                .push_back(ConnectionOutput::Report(ConnectionReport::LocalCandidates(
                    vec![trickled],
                )));
        }
    }

    fn on_recorder(&mut self, now: Instant, output: RecorderOutput) {
        let output = match output {
            RecorderOutput::File(op) => {
                self.stats.file_op(&op);
                ConnectionOutput::File(op)
            }
            RecorderOutput::RequestKeyframe { track } => {
                self.stats.keyframe_requested();
                self.webrtc.request_keyframe(now, &track);
                ConnectionOutput::Event(ConnectionEvent::KeyframeRequested { track })
            }
            RecorderOutput::FrameWritten { file, frame } => {
                ConnectionOutput::Event(ConnectionEvent::FrameWritten { file, frame })
            }
        };
        self.out.push_back(output);
    }
}

fn received(frame: &MediaFrame) -> ReceivedFrame {
    ReceivedFrame {
        track: frame.track.clone(),
        codec: frame.codec,
        keyframe: frame.keyframe,
        contiguous: frame.contiguous,
        rtp_time: frame.rtp_time,
        bytes: frame.data.len(),
        digest: fnv1a(&frame.data),
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
