//! The recorder as the simulation drives it: the core `Room` plus one core `Session` per
//! connection, wired exactly as the tokio shell wires them, minus sockets and tasks. Session
//! reports reach the room after the room's current outputs are handled (and `report_delay`
//! later, so candidates can arrive between an offer and its answer), as through the shell's
//! channel. Everything the core emits passes the [`Observer`].

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use roomrec_core::media::{Codec, MediaFrame};
use roomrec_core::room::{
    Room, RoomConfig, RoomInput, RoomOutput, SessionCommand, SessionKey, SessionReport,
};
use roomrec_core::session::{Session, SessionConfig, SessionInput, SessionOutput};

use super::net::Datagram;
use super::observe::{Cause, Observer};
use super::wire::WireView;

pub struct RecordedFrame {
    pub stream_id: String,
    pub key: SessionKey,
    pub at: Instant,
    pub frame: MediaFrame,
}

pub struct SimSession {
    pub session: Session,
    pub stream_id: String,
    pub addr: SocketAddr,
}

pub struct RecorderNode {
    pub room: Room,
    pub sessions: BTreeMap<SessionKey, SimSession>,
    pub frames: Vec<RecordedFrame>,
    /// Every session ever started, in order, with its stream id.
    pub started: Vec<(SessionKey, String)>,
    pub closed: Vec<(SessionKey, String)>,
    pub labels: BTreeMap<SessionKey, String>,
    pub signaling_out: Vec<String>,
    pub datagrams_out: Vec<Datagram>,
    pub observer: Observer,
    /// Keep frames in `frames` (long runs may only want the observer's counts).
    pub keep_frames: bool,
    /// Frames per stream id.
    pub frame_count: BTreeMap<String, u64>,
    /// How long a session report takes to reach the room (the shell's channel and task switch).
    pub report_delay: Duration,
    reports: VecDeque<(Instant, SessionKey, SessionReport)>,
    ip: IpAddr,
    next_port: u16,
    next_seed: u64,
    video_codecs: Vec<Codec>,
}

impl RecorderNode {
    pub fn new(
        now: Instant,
        config: RoomConfig,
        ip: IpAddr,
        video_codecs: Vec<Codec>,
    ) -> RecorderNode {
        let next_seed = config.seed.wrapping_mul(31).wrapping_add(7);
        let dialect = config.dialect;
        let room = Room::new(config, now);
        let view = WireView {
            dialect,
            own_id: room.own_id().to_string(),
            room_wire: room.secrets().room_wire.clone(),
            cipher: room.secrets().cipher.clone(),
        };
        RecorderNode {
            room,
            sessions: BTreeMap::new(),
            frames: Vec::new(),
            started: Vec::new(),
            closed: Vec::new(),
            labels: BTreeMap::new(),
            signaling_out: Vec::new(),
            datagrams_out: Vec::new(),
            observer: Observer::new(view, now),
            keep_frames: true,
            frame_count: BTreeMap::new(),
            report_delay: Duration::ZERO,
            reports: VecDeque::new(),
            ip,
            next_port: 40_000,
            next_seed,
            video_codecs,
        }
    }

    pub fn room_input(&mut self, now: Instant, input: RoomInput) {
        let cause = match &input {
            RoomInput::SignalingText(text) => {
                self.observer.signaling_in(now, text);
                None
            }
            RoomInput::SignalingUp => Some(Cause::Control("signaling up")),
            RoomInput::SignalingDown => Some(Cause::Control("signaling down")),
            RoomInput::Shutdown => Some(Cause::Control("shutdown")),
            RoomInput::FromSession(key, _) => Some(Cause::Report(key.clone())),
        };
        if let Some(cause) = cause {
            self.observer.set_cause(cause);
        }
        self.room.handle_input(now, input);
        self.settle(now);
    }

    pub fn receive(&mut self, now: Instant, datagram: Datagram) {
        let Some(key) = self
            .sessions
            .iter()
            .find(|(_, s)| s.addr == datagram.destination)
            .map(|(k, _)| k.clone())
        else {
            return;
        };
        let input = SessionInput::Datagram {
            source: datagram.source,
            destination: datagram.destination,
            contents: datagram.contents,
        };
        self.session_input(now, &key, input);
        self.settle(now);
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        let sessions = self.sessions.values().map(|s| s.session.poll_timeout());
        let reports = self.reports.front().map(|(due, _, _)| *due);
        sessions
            .chain(self.room.poll_timeout())
            .chain(reports)
            .min()
    }

    pub fn handle_timeouts(&mut self, now: Instant) {
        if self.room.poll_timeout().is_some_and(|t| t <= now) {
            self.observer.set_cause(Cause::Timeout);
            self.room.handle_timeout(now);
            self.settle(now);
        }
        let due: Vec<SessionKey> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.session.poll_timeout() <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some(s) = self.sessions.get_mut(&key) {
                s.session.handle_timeout(now);
            }
            self.drain_session(now, &key);
        }
        self.settle(now);
    }

    /// Hands the room's outputs out, then feeds queued session reports back one at a time.
    fn settle(&mut self, now: Instant) {
        loop {
            self.drain_room(now);
            if self.reports.front().is_none_or(|(due, _, _)| *due > now) {
                break;
            }
            let Some((_, key, report)) = self.reports.pop_front() else {
                break;
            };
            self.observer.set_cause(Cause::Report(key.clone()));
            self.room
                .handle_input(now, RoomInput::FromSession(key, report));
        }
        self.observer.set_cause(Cause::Idle);
    }

    fn session_input(&mut self, now: Instant, key: &SessionKey, input: SessionInput) {
        if let Some(s) = self.sessions.get_mut(key) {
            s.session.handle_input(now, input);
        }
        self.drain_session(now, key);
    }

    fn drain_room(&mut self, now: Instant) {
        while let Some(output) = self.room.poll_output() {
            self.observer.room_output(now, &output);
            match output {
                RoomOutput::SendSignaling(text) => self.signaling_out.push(text),
                RoomOutput::StartSession(start) => {
                    let addr = SocketAddr::new(self.ip, self.next_port);
                    self.next_port = self.next_port.wrapping_add(1).max(40_000);
                    self.next_seed += 1;
                    let config = SessionConfig {
                        key: start.key.clone(),
                        stream_id: start.stream_id.clone(),
                        cipher: self.room.secrets().cipher.clone(),
                        local_addrs: vec![addr],
                        video_codecs: self.video_codecs.clone(),
                        audio: true,
                        video: true,
                        label: "roomrec".into(),
                        connect_timeout: Duration::from_secs(10),
                        seed: self.next_seed,
                    };
                    self.started
                        .push((start.key.clone(), start.stream_id.clone()));
                    match Session::new(now, config, &start.offer_sdp) {
                        Ok(session) => {
                            if self.sessions.remove(&start.key).is_some() {
                                self.observer.session_ended(now, &start.key);
                            }
                            self.observer
                                .session_started(now, &start.key, &start.stream_id, addr);
                            let s = SimSession {
                                session,
                                stream_id: start.stream_id,
                                addr,
                            };
                            self.sessions.insert(start.key.clone(), s);
                            self.drain_session(now, &start.key);
                        }
                        Err(e) => {
                            let report = SessionReport::Closed {
                                reason: e.to_string(),
                            };
                            self.reports
                                .push_back((now + self.report_delay, start.key, report));
                        }
                    }
                }
                RoomOutput::ToSession(key, command) => {
                    let closing = command == SessionCommand::Close;
                    self.session_input(now, &key, SessionInput::Command(command));
                    if closing && self.sessions.remove(&key).is_some() {
                        self.observer.session_ended(now, &key);
                    }
                }
            }
        }
    }

    fn drain_session(&mut self, now: Instant, key: &SessionKey) {
        let Some(s) = self.sessions.get_mut(key) else {
            return;
        };
        let mut closed = false;
        while let Some(output) = s.session.poll_output() {
            match output {
                SessionOutput::Transmit {
                    source,
                    destination,
                    contents,
                } => self.datagrams_out.push(Datagram {
                    source,
                    destination,
                    contents,
                }),
                SessionOutput::Report(report) => {
                    self.observer.session_report(now, key, &report);
                    if let SessionReport::Closed { reason } = &report {
                        self.closed.push((key.clone(), reason.clone()));
                        closed = true;
                    }
                    self.reports
                        .push_back((now + self.report_delay, key.clone(), report));
                }
                SessionOutput::Frame(frame) => {
                    self.observer.frame(now, key, &s.stream_id, &frame);
                    *self.frame_count.entry(s.stream_id.clone()).or_default() += 1;
                    if self.keep_frames {
                        let stream_id = s.stream_id.clone();
                        self.frames.push(RecordedFrame {
                            stream_id,
                            key: key.clone(),
                            at: now,
                            frame,
                        });
                    }
                }
                SessionOutput::Label(label) => {
                    self.observer.label(now, key, &label);
                    self.labels.insert(key.clone(), label);
                }
            }
        }
        if closed {
            self.sessions.remove(key);
            self.observer.session_ended(now, key);
        }
    }
}
