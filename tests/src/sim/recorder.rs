//! The recorder as the simulation drives it: the core `Room` plus one core `Connection` per
//! publisher connection, built and drained exactly as the tokio shell does, with files kept in
//! memory instead of on disk. Connection reports reach the room after the room's current outputs
//! are handled (and `report_delay` later, so candidates can arrive between an offer and its
//! answer), as through the shell's channel. Everything the core emits passes the [`Observer`].

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

use roomrec_core::connection::{
    Connection, ConnectionEvent, ConnectionHandle, ConnectionInput, ConnectionOutput,
    ConnectionReport, ConnectionStats, FileOp, ReceivedFrame, SessionKey,
};
use roomrec_core::media::recorder::FileRecord;
use roomrec_core::media::FileId;
use roomrec_core::room::{Room, RoomConfig, RoomInput, RoomOutput};

use super::net::Datagram;
use super::observe::{Cause, Observer};
use super::wire::WireView;

/// A frame as str0m handed it to a connection.
pub struct RecordedFrame {
    pub stream_id: String,
    pub key: SessionKey,
    pub at: Instant,
    pub frame: ReceivedFrame,
}

pub struct SimConnection {
    pub connection: Connection,
    pub key: SessionKey,
    pub stream_id: String,
    pub addr: SocketAddr,
}

/// A file the recorder wrote, in memory.
pub struct MemFile {
    pub handle: ConnectionHandle,
    pub name: String,
    pub bytes: Vec<u8>,
    pub finalized: bool,
    /// The latest manifest record.
    pub record: Option<FileRecord>,
}

pub struct RecorderNode {
    pub room: Room,
    pub connections: BTreeMap<ConnectionHandle, SimConnection>,
    pub frames: Vec<RecordedFrame>,
    /// Every connection ever started, in order, with its stream id.
    pub started: Vec<(SessionKey, String)>,
    pub closed: Vec<(SessionKey, String)>,
    pub labels: BTreeMap<SessionKey, String>,
    pub files: BTreeMap<FileId, MemFile>,
    pub signaling_out: Vec<String>,
    pub datagrams_out: Vec<Datagram>,
    pub observer: Observer,
    /// Keep frames in `frames` (long runs may only want the observer's counts).
    pub keep_frames: bool,
    /// Frames per stream id.
    pub frame_count: BTreeMap<String, u64>,
    /// Every `ConnectionEvent::Stats`, with when and from whom, and the bytes its open
    /// in-memory files held at that point.
    pub stats: Vec<(Instant, ConnectionHandle, ConnectionStats, u64)>,
    /// `Disconnected` (false) and `Reconnected` (true), with when and from whom.
    pub ice_changes: Vec<(Instant, ConnectionHandle, bool)>,
    /// How long a connection report takes to reach the room (the shell's channel and task switch).
    pub report_delay: Duration,
    reports: VecDeque<(Instant, ConnectionHandle, ConnectionReport)>,
    ip: IpAddr,
    next_port: u16,
}

/// Wall clock of the simulation's start (file names and manifest times).
fn wall(start: Instant, now: Instant) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + (now - start)
}

impl RecorderNode {
    /// `config.connection` is used with `observe_frames` on: the observer checks every frame.
    pub fn new(now: Instant, mut config: RoomConfig, ip: IpAddr) -> RecorderNode {
        config.connection.observe_frames = true;
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
            connections: BTreeMap::new(),
            frames: Vec::new(),
            started: Vec::new(),
            closed: Vec::new(),
            labels: BTreeMap::new(),
            files: BTreeMap::new(),
            signaling_out: Vec::new(),
            datagrams_out: Vec::new(),
            observer: Observer::new(view, now),
            keep_frames: true,
            frame_count: BTreeMap::new(),
            stats: Vec::new(),
            ice_changes: Vec::new(),
            report_delay: Duration::ZERO,
            reports: VecDeque::new(),
            ip,
            next_port: 40_000,
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
            RoomInput::Timeout => Some(Cause::Timeout),
            RoomInput::FromConnection(handle, _) => {
                Some(Cause::Report(self.observer.key_of(*handle)))
            }
        };
        if let Some(cause) = cause {
            self.observer.set_cause(cause);
        }
        self.room.handle_input(now, input);
        self.settle(now);
    }

    pub fn receive(&mut self, now: Instant, datagram: Datagram) {
        let Some(handle) = self
            .connections
            .iter()
            .find(|(_, c)| c.addr == datagram.destination)
            .map(|(h, _)| *h)
        else {
            return;
        };
        let input = ConnectionInput::Datagram {
            source: datagram.source,
            destination: datagram.destination,
            contents: datagram.contents,
        };
        self.connection_input(now, handle, input);
        self.settle(now);
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        let connections = self
            .connections
            .values()
            .filter_map(|c| c.connection.poll_timeout());
        let reports = self.reports.front().map(|(due, _, _)| *due);
        connections
            .chain(self.room.poll_timeout())
            .chain(reports)
            .min()
    }

    pub fn handle_timeouts(&mut self, now: Instant) {
        if self.room.poll_timeout().is_some_and(|t| t <= now) {
            self.room_input(now, RoomInput::Timeout);
        }
        let due: Vec<ConnectionHandle> = self
            .connections
            .iter()
            .filter(|(_, c)| c.connection.poll_timeout().is_some_and(|t| t <= now))
            .map(|(h, _)| *h)
            .collect();
        for handle in due {
            self.connection_input(now, handle, ConnectionInput::Timeout);
        }
        self.settle(now);
    }

    /// Hands the room's outputs out, then feeds queued connection reports back one at a time.
    fn settle(&mut self, now: Instant) {
        loop {
            self.drain_room(now);
            if self.reports.front().is_none_or(|(due, _, _)| *due > now) {
                break;
            }
            let Some((_, handle, report)) = self.reports.pop_front() else {
                break;
            };
            self.observer
                .set_cause(Cause::Report(self.observer.key_of(handle)));
            self.room
                .handle_input(now, RoomInput::FromConnection(handle, report));
        }
        self.observer.set_cause(Cause::Idle);
    }

    fn connection_input(&mut self, now: Instant, handle: ConnectionHandle, input: ConnectionInput) {
        if let Some(c) = self.connections.get_mut(&handle) {
            let wall = wall(self.observer.start(), now);
            c.connection.handle_input(now, wall, input);
        }
        self.drain_connection(now, handle);
    }

    fn drain_room(&mut self, now: Instant) {
        while let Some(output) = self.room.poll_output() {
            self.observer.room_output(now, &output);
            match output {
                RoomOutput::SendSignaling(text) => self.signaling_out.push(text),
                RoomOutput::StartConnection(start) => {
                    let addr = SocketAddr::new(self.ip, self.next_port);
                    self.next_port = self.next_port.wrapping_add(1).max(40_000);
                    let (handle, key, stream_id) =
                        (start.handle, start.key.clone(), start.stream_id.clone());
                    self.started.push((key.clone(), stream_id.clone()));
                    self.observer
                        .session_started(now, handle, &key, &stream_id, addr);
                    // str0m draws its ids from this thread's generator: the simulation owns the
                    // thread, so it seeds it for a reproducible run.
                    fastrand::seed(start.seed);
                    let wall = wall(self.observer.start(), now);
                    let connection = Connection::new(now, wall, *start, &[addr]);
                    let c = SimConnection {
                        connection,
                        key,
                        stream_id,
                        addr,
                    };
                    self.connections.insert(handle, c);
                    self.drain_connection(now, handle);
                }
                RoomOutput::ToConnection(handle, command) => {
                    self.connection_input(now, handle, ConnectionInput::Command(command));
                }
            }
        }
    }

    fn drain_connection(&mut self, now: Instant, handle: ConnectionHandle) {
        let Some(c) = self.connections.get_mut(&handle) else {
            return;
        };
        let key = c.key.clone();
        let mut closed = false;
        while let Some(output) = c.connection.poll_output() {
            match output {
                ConnectionOutput::Transmit {
                    source,
                    destination,
                    contents,
                } => self.datagrams_out.push(Datagram {
                    source,
                    destination,
                    contents,
                }),
                // The simulated network has no TURN servers over TCP.
                ConnectionOutput::Stream(op) => {
                    tracing::warn!(%handle, ?op, "stream operation in the simulation ignored")
                }
                ConnectionOutput::File(op) => {
                    self.observer.file_op(now, handle, &op);
                    apply_file_op(&mut self.files, handle, op);
                }
                ConnectionOutput::Report(report) => {
                    self.observer.session_report(now, handle, &report);
                    if let ConnectionReport::Closed(reason) = &report {
                        self.closed.push((key.clone(), reason.to_string()));
                        closed = true;
                    }
                    self.reports
                        .push_back((now + self.report_delay, handle, report));
                }
                ConnectionOutput::Event(event) => {
                    self.observer.event(now, handle, &c.stream_id, &event);
                    match event {
                        ConnectionEvent::FrameReceived(frame) => {
                            *self.frame_count.entry(c.stream_id.clone()).or_default() += 1;
                            if self.keep_frames {
                                self.frames.push(RecordedFrame {
                                    stream_id: c.stream_id.clone(),
                                    key: key.clone(),
                                    at: now,
                                    frame,
                                });
                            }
                        }
                        ConnectionEvent::Label(label) => {
                            self.labels.insert(key.clone(), label);
                        }
                        ConnectionEvent::Stats(stats) => {
                            let open = self.files.values().filter(|f| f.handle == handle);
                            let open = open.filter(|f| !f.finalized);
                            let bytes = open.map(|f| f.bytes.len() as u64).sum();
                            self.stats.push((now, handle, stats, bytes));
                        }
                        ConnectionEvent::Disconnected => {
                            self.ice_changes.push((now, handle, false))
                        }
                        ConnectionEvent::Reconnected => self.ice_changes.push((now, handle, true)),
                        _ => {}
                    }
                }
            }
        }
        if closed {
            self.connections.remove(&handle);
            self.observer.session_ended(now, handle);
        }
    }
}

/// Carries out one file operation on the in-memory files.
fn apply_file_op(files: &mut BTreeMap<FileId, MemFile>, handle: ConnectionHandle, op: FileOp) {
    match op {
        FileOp::Open {
            file,
            base_name,
            extension,
        } => {
            let name = format!("{base_name}.{extension}");
            let mem = MemFile {
                handle,
                name,
                bytes: Vec::new(),
                finalized: false,
                record: None,
            };
            files.insert(file, mem);
        }
        FileOp::Write { file, bytes } => {
            if let Some(f) = files.get_mut(&file) {
                f.bytes.extend_from_slice(&bytes);
            }
        }
        FileOp::Flush { .. } => {}
        FileOp::Finalize { file, patches } => {
            if let Some(f) = files.get_mut(&file) {
                for p in patches {
                    let at = usize::try_from(p.offset).expect("patch offset fits");
                    f.bytes[at..at + p.bytes.len()].copy_from_slice(&p.bytes);
                }
                f.finalized = true;
            }
        }
        FileOp::Record(record) => {
            if let Some(f) = files.get_mut(&FileId(record.file_id)) {
                f.record = Some(*record);
            }
        }
    }
}
