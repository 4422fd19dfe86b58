//! Watches everything the recorder core emits during a simulation: keeps a normalized event log
//! (its digest proves that the same seed gives the same run) and checks the invariants the
//! property tests assert. Violations are collected, not panicked on, so a failing property
//! reports all of them with the scenario that caused them. Each violation starts with the letter
//! of the property it breaks:
//! (a) candidates reach the connection of their (peer, session) and no other;
//! (b) answers go to the peer and session of a live offer, sealed like it;
//! (c) never two live connections for one stream;
//! (f), (g): frames and files, see [`super::observe_media`].

use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use roomrec_core::connection::{
    ConnectionCommand, ConnectionEvent, ConnectionHandle, ConnectionReport, FileOp, SessionKey,
};
use roomrec_core::room::RoomOutput;

use super::observe_media::{MediaChecks, Violation};
use super::wire::{candidate_ports, normalize_sdp, Seen, WireView};

/// How long the room keeps candidates that arrive before their offer (core `room/queue.rs`).
pub const EARLY_CANDIDATES_KEPT: Duration = Duration::from_secs(30);

/// What the room is reacting to while it emits outputs.
#[derive(Clone, Debug)]
pub enum Cause {
    Idle,
    Signaling(Seen),
    Report(SessionKey),
    Timeout,
    Control(&'static str),
}

/// A candidates message that reached the room.
#[derive(Debug)]
struct Delivery {
    at: Instant,
    peer: String,
    session: Option<String>,
    candidates: Vec<String>,
    routed: bool,
}

/// One connection the recorder created.
#[derive(Debug)]
pub struct SessionSeen {
    pub handle: ConnectionHandle,
    pub key: SessionKey,
    pub stream: String,
    pub addr: SocketAddr,
    pub started: Instant,
    pub ended: Option<Instant>,
    answers: u32,
}

pub struct Observer {
    pub view: WireView,
    start: Instant,
    /// Keep every log line (for diffing two runs); the digest is always kept.
    pub keep_log: bool,
    pub log: Vec<String>,
    /// With `keep_log`: every signaling text given to the room, with its time.
    pub received: Vec<(Instant, String)>,
    hasher: DefaultHasher,
    pub events: u64,
    pub violations: Vec<String>,
    cause: Cause,
    /// Offers the room was given: key -> encrypted.
    offers: BTreeMap<SessionKey, bool>,
    deliveries: Vec<Delivery>,
    pub sessions: Vec<SessionSeen>,
    /// Every RemoteCandidates command the room gave: when, to whom, how many.
    pub candidate_commands: Vec<(Instant, SessionKey, usize)>,
    /// Which connection each handle the room gave out belongs to.
    handles: BTreeMap<ConnectionHandle, SessionKey>,
    /// Properties (f) and (g).
    pub media: MediaChecks,
}

impl Observer {
    pub fn new(view: WireView, start: Instant) -> Observer {
        Observer {
            view,
            start,
            keep_log: false,
            log: Vec::new(),
            received: Vec::new(),
            hasher: DefaultHasher::new(),
            events: 0,
            violations: Vec::new(),
            cause: Cause::Idle,
            offers: BTreeMap::new(),
            deliveries: Vec::new(),
            sessions: Vec::new(),
            candidate_commands: Vec::new(),
            handles: BTreeMap::new(),
            media: MediaChecks::default(),
        }
    }

    /// When the run started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// The connection a handle was given to (a made-up key for one the room never gave out).
    pub fn key_of(&self, handle: ConnectionHandle) -> SessionKey {
        self.handles
            .get(&handle)
            .cloned()
            .unwrap_or_else(|| SessionKey {
                peer: format!("unknown{handle}"),
                session: String::new(),
            })
    }

    fn violations(&mut self, now: Instant, found: Vec<Violation>) {
        for (property, what) in found {
            self.violation(property, now, what);
        }
    }

    pub fn digest(&self) -> u64 {
        self.hasher.finish()
    }

    fn record(&mut self, now: Instant, line: String) {
        let line = format!("{:>8} {line}", (now - self.start).as_millis());
        line.hash(&mut self.hasher);
        self.events += 1;
        if self.keep_log {
            self.log.push(line);
        }
    }

    /// `property`: the letter of the property it breaks (see the module docs of `observe`).
    fn violation(&mut self, property: char, now: Instant, what: String) {
        let what = format!(
            "({property}) t={}ms: {what}",
            (now - self.start).as_millis()
        );
        if self.violations.len() < 50 {
            self.violations.push(what);
        }
    }

    pub fn set_cause(&mut self, cause: Cause) {
        self.cause = cause;
    }

    /// A signaling text is handed to the room.
    pub fn signaling_in(&mut self, now: Instant, text: &str) {
        if self.keep_log {
            self.received.push((now, text.to_string()));
        }
        let seen = self.view.incoming(text);
        match &seen {
            Seen::Candidates {
                peer,
                session,
                candidates,
            } => self.deliveries.push(Delivery {
                at: now,
                peer: peer.clone(),
                session: session.clone(),
                candidates: candidates.clone(),
                routed: false,
            }),
            Seen::Offer {
                peer,
                session,
                encrypted,
                ..
            } => {
                let key = SessionKey {
                    peer: peer.clone(),
                    session: session.clone(),
                };
                self.offers.entry(key).or_insert(*encrypted);
            }
            _ => {}
        }
        self.cause = Cause::Signaling(seen);
    }

    pub fn live(&self) -> impl Iterator<Item = &SessionSeen> {
        self.sessions.iter().filter(|s| s.ended.is_none())
    }

    /// Keys of the live connections for `stream`, but for `except`: property (c) wants none.
    fn live_for_stream(&self, stream: &str, except: Option<&SessionKey>) -> Vec<String> {
        self.live()
            .filter(|s| s.stream == stream && Some(&s.key) != except)
            .map(|s| s.key.to_string())
            .collect()
    }

    fn live_session(&self, key: &SessionKey) -> Option<usize> {
        self.sessions
            .iter()
            .rposition(|s| s.key == *key && s.ended.is_none())
    }

    /// Every output of the room, in order.
    pub fn room_output(&mut self, now: Instant, output: &RoomOutput) {
        match output {
            RoomOutput::SendSignaling(text) => self.signaling_out(now, text),
            RoomOutput::StartConnection(start) => {
                let line = format!("start {} {} {}", start.handle, start.key, start.stream_id);
                self.record(now, line);
                if self.handles.contains_key(&start.handle) {
                    let what = format!("handle {} given out twice", start.handle);
                    self.violation('b', now, what);
                }
                self.handles.insert(start.handle, start.key.clone());
                if !self.offers.contains_key(&start.key) {
                    let what = format!("connection {} started without an offer", start.key);
                    self.violation('b', now, what);
                }
            }
            RoomOutput::ToConnection(handle, ConnectionCommand::RemoteCandidates(list)) => {
                let key = self.key_of(*handle);
                let cands: Vec<String> = list.iter().map(|c| strip(&c.candidate)).collect();
                self.record(now, format!("candidates {key} {cands:?}"));
                self.candidate_commands
                    .push((now, key.clone(), cands.len()));
                self.check_candidates(now, &key, cands);
            }
            RoomOutput::ToConnection(handle, ConnectionCommand::Close) => {
                let key = self.key_of(*handle);
                self.record(now, format!("close {key}"))
            }
        }
    }

    /// Property (a): candidates go to the connection of the (peer, session) they came with.
    fn check_candidates(&mut self, now: Instant, key: &SessionKey, cands: Vec<String>) {
        match self.cause.clone() {
            Cause::Signaling(Seen::Candidates {
                peer,
                session,
                candidates,
            }) => {
                let right = peer == key.peer && session.as_ref().is_none_or(|s| *s == key.session);
                if !right {
                    let from = format!("{peer}/{}", session.as_deref().unwrap_or("-"));
                    self.violation(
                        'a',
                        now,
                        format!("candidates of {from} routed to connection {key}"),
                    );
                }
                if candidates != cands {
                    self.violation(
                        'a',
                        now,
                        format!(
                            "candidates changed on the way to {key}: {candidates:?} -> {cands:?}"
                        ),
                    );
                }
                if let Some(d) = self.deliveries.last_mut() {
                    d.routed = true;
                }
            }
            Cause::Signaling(Seen::Offer { peer, session, .. })
                if peer == key.peer && session == key.session =>
            {
                // Early candidates flushed with their offer: each must have arrived for this key.
                for cand in &cands {
                    let found = self.deliveries.iter_mut().find(|d| {
                        !d.routed
                            && d.peer == key.peer
                            && d.session.as_deref() == Some(key.session.as_str())
                            && d.candidates.contains(cand)
                    });
                    match found {
                        Some(d) => d.routed = true,
                        None => {
                            self.violation('a', now, format!("candidate {cand:?} given to {key} at its offer never arrived for it"))
                        }
                    }
                }
            }
            other => self.violation(
                'a',
                now,
                format!("candidates sent to {key} while handling {other:?}"),
            ),
        }
    }

    /// Property (b): every answer goes to the peer and session of a live offer, sealed like it.
    fn signaling_out(&mut self, now: Instant, text: &str) {
        let seen = self.view.outgoing(text);
        match &seen {
            Seen::Answer {
                peer,
                session,
                encrypted,
                sdp,
            } => {
                self.record(
                    now,
                    format!(
                        "answer {peer}/{session} enc={encrypted} {}",
                        normalize_sdp(sdp)
                    ),
                );
                let key = SessionKey {
                    peer: peer.clone(),
                    session: session.clone(),
                };
                if !matches!(&self.cause, Cause::Report(k) if *k == key) {
                    let cause = self.cause.clone();
                    self.violation(
                        'b',
                        now,
                        format!("answer for {key} sent while handling {cause:?}"),
                    );
                }
                let Some(i) = self.live_session(&key) else {
                    self.violation(
                        'b',
                        now,
                        format!("answer for {key}, which is not a live connection"),
                    );
                    return;
                };
                if self.offers.get(&key) != Some(encrypted) {
                    self.violation(
                        'b',
                        now,
                        format!("answer for {key} encrypted={encrypted}, unlike its offer"),
                    );
                }
                let port = self.sessions[i].addr.port();
                if !candidate_ports(sdp).contains(&port) {
                    self.violation(
                        'b',
                        now,
                        format!("answer for {key} does not carry its own candidate (port {port})"),
                    );
                }
                self.sessions[i].answers += 1;
                if self.sessions[i].answers > 1 {
                    self.violation('b', now, format!("second answer for {key}"));
                }
            }
            Seen::Unreadable => {
                self.record(now, format!("send {text}"));
                self.violation(
                    'b',
                    now,
                    format!("recorder sent an unreadable message: {text}"),
                );
            }
            other => self.record(now, format!("send {other:?}")),
        }
    }

    /// The recorder created a connection (after the room's StartConnection).
    pub fn session_started(
        &mut self,
        now: Instant,
        handle: ConnectionHandle,
        key: &SessionKey,
        stream: &str,
        addr: SocketAddr,
    ) {
        // Property (c): never two live connections for one stream.
        let others = self.live_for_stream(stream, None);
        if !others.is_empty() {
            self.violation(
                'c',
                now,
                format!("connection {key} for {stream:?} started while {others:?} live"),
            );
        }
        self.sessions.push(SessionSeen {
            handle,
            key: key.clone(),
            stream: stream.to_string(),
            addr,
            started: now,
            ended: None,
            answers: 0,
        });
    }

    pub fn session_ended(&mut self, now: Instant, handle: ConnectionHandle) {
        if let Some(s) = self
            .sessions
            .iter_mut()
            .rev()
            .find(|s| s.handle == handle && s.ended.is_none())
        {
            s.ended = Some(now);
        }
    }

    pub fn session_report(
        &mut self,
        now: Instant,
        handle: ConnectionHandle,
        report: &ConnectionReport,
    ) {
        let key = self.key_of(handle);
        match report {
            ConnectionReport::Answer { sdp } => {
                self.record(now, format!("session answer {key} {}", normalize_sdp(sdp)))
            }
            ConnectionReport::LocalCandidates(candidates) => {
                for c in candidates {
                    self.record(now, format!("local candidate {key} {}", c.candidate));
                }
            }
            ConnectionReport::Closed(reason) => {
                self.record(now, format!("closed {key}: {reason}"));
                let found = self.media.closed(handle);
                self.violations(now, found);
            }
        }
    }

    pub fn file_op(&mut self, now: Instant, handle: ConnectionHandle, op: &FileOp) {
        let line = match op {
            FileOp::Open {
                file, base_name, ..
            } => format!("open {handle} {file:?} {base_name}"),
            // Not the bytes: a file's start time comes from the publisher's sender reports, and
            // str0m maps their NTP time from the real clock.
            FileOp::Write { file, bytes } => format!("write {file:?} len={}", bytes.len()),
            FileOp::Flush { file } => format!("flush {file:?}"),
            FileOp::Finalize { file, patches } => format!("finalize {file:?} {}", patches.len()),
            FileOp::Record(r) => format!("record {} {} {:?}", r.file_id, r.event, r.frames),
        };
        self.record(now, line);
        let found = self.media.file_op(handle, op);
        self.violations(now, found);
    }

    /// Everything a connection reports as an event.
    pub fn event(
        &mut self,
        now: Instant,
        handle: ConnectionHandle,
        stream: &str,
        event: &ConnectionEvent,
    ) {
        let key = self.key_of(handle);
        let found = match event {
            ConnectionEvent::Connected => {
                self.record(now, format!("connected {key}"));
                Vec::new()
            }
            ConnectionEvent::Label(label) => {
                self.record(now, format!("label {key} {label:?}"));
                Vec::new()
            }
            // Live-view previews: no bearing on what is recorded.
            ConnectionEvent::AudioLevel { .. } | ConnectionEvent::Keyframe(_) => Vec::new(),
            ConnectionEvent::KeyframeRequested { track } => {
                self.record(now, format!("keyframe request {key} {track}"));
                self.media.keyframe_requested(now, handle, track)
            }
            ConnectionEvent::FrameReceived(frame) => {
                let line = format!(
                    "frame {key} {} {:?} rtp={} key={} contiguous={} len={} {:016x}",
                    frame.track,
                    frame.codec,
                    frame.rtp_time,
                    frame.keyframe,
                    frame.contiguous,
                    frame.bytes,
                    frame.digest
                );
                self.record(now, line);
                // Property (c) again, where it matters: frames only from the one live connection.
                let others = self.live_for_stream(stream, Some(&key));
                if !others.is_empty() {
                    self.violation(
                        'c',
                        now,
                        format!("frame from {key} for {stream:?} while {others:?} also live"),
                    );
                }
                self.media.received(now, handle, frame)
            }
            ConnectionEvent::FrameWritten { file, frame } => {
                self.media.written(now, handle, *file, frame)
            }
            ConnectionEvent::Disconnected
            | ConnectionEvent::Reconnected
            | ConnectionEvent::Stats(_) => Vec::new(),
        };
        self.violations(now, found);
    }

    /// Property (a), the other half: candidates that arrived for a connection that existed (or
    /// was offered soon after) were applied to it.
    pub fn finish(&mut self, now: Instant) {
        let mut missing = Vec::new();
        for d in self.deliveries.iter().filter(|d| !d.routed) {
            let Some(session) = &d.session else { continue };
            let owner = self.sessions.iter().find(|s| {
                s.key.peer == d.peer && s.key.session == *session && {
                    let live_then = s.started <= d.at && s.ended.is_none_or(|e| e > d.at);
                    let offered_soon = s.started > d.at && s.started - d.at < EARLY_CANDIDATES_KEPT;
                    live_then || offered_soon
                }
            });
            if let Some(s) = owner {
                let at = (d.at - self.start).as_millis();
                missing.push(format!(
                    "candidates for {} that arrived at {at}ms were never applied",
                    s.key
                ));
            }
        }
        for m in missing {
            self.violation('a', now, m);
        }
        let found = self.media.finish(now);
        self.violations(now, found);
    }
}

fn strip(candidate: &str) -> String {
    let c = candidate.trim();
    c.strip_prefix("a=").unwrap_or(c).to_string()
}
