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
mod sdp;
mod webrtc;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use crate::media::{MediaFrame, RecorderOutput, StreamRecorder, StreamRecorderConfig};
use webrtc::{Webrtc, WebrtcOutput, WebrtcStart};

pub use crate::media::recorder::FileOp;
pub use api::{
    CandidateSummary, CloseReason, ConnectionCommand, ConnectionEvent, ConnectionHandle,
    ConnectionInput, ConnectionOutput, ConnectionReport, ConnectionSettings, ConnectionStart,
    ReceivedFrame, SessionKey,
};
pub use sdp::MAX_ICE_UFRAG_LEN;

/// One publisher's connection and recording. See the module docs for the call contract.
pub struct Connection {
    key: SessionKey,
    observe_frames: bool,
    webrtc: Webrtc,
    recorder: StreamRecorder,
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
            } => self
                .webrtc
                .handle_datagram(now, source, destination, &contents),
            ConnectionInput::Command(ConnectionCommand::RemoteCandidates(candidates)) => {
                self.webrtc.add_remote_candidates(now, &candidates)
            }
            ConnectionInput::Command(ConnectionCommand::Close) => {
                self.webrtc.close(now, CloseReason::ClosedByRoom)
            }
            ConnectionInput::Timeout => {
                if self.webrtc.poll_timeout().is_some_and(|t| t <= now) {
                    self.webrtc.handle_timeout(now);
                }
                if self.recorder.poll_timeout().is_some_and(|t| t <= now) {
                    self.recorder.handle_timeout(now, wall_now);
                }
            }
        }
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
        [self.webrtc.poll_timeout(), self.recorder.poll_timeout()]
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

    /// Moves outputs between the WebRTC half and the recorder until both are quiet.
    fn drain(&mut self, now: Instant, wall_now: SystemTime) {
        loop {
            let mut busy = false;
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
            } => self.out.push_back(ConnectionOutput::Transmit {
                source,
                destination,
                contents,
            }),
            WebrtcOutput::Answer(sdp) => self
                .out
                .push_back(ConnectionOutput::Report(ConnectionReport::Answer { sdp })),
            WebrtcOutput::Connected => self.out.push_back(event(ConnectionEvent::Connected)),
            WebrtcOutput::Frame(frame) => {
                if self.observe_frames {
                    self.out
                        .push_back(event(ConnectionEvent::FrameReceived(received(&frame))));
                }
                self.recorder.handle_frame(now, wall_now, frame);
            }
            WebrtcOutput::Label(label) => {
                self.recorder.set_label(&label);
                self.out.push_back(event(ConnectionEvent::Label(label)));
            }
            WebrtcOutput::Closed(reason) => {
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

    fn on_recorder(&mut self, now: Instant, output: RecorderOutput) {
        let output = match output {
            RecorderOutput::File(op) => ConnectionOutput::File(op),
            RecorderOutput::RequestKeyframe { track } => {
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
