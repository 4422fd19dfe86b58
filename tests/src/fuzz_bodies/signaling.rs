//! `signaling_room`: WebSocket text, connection reports and timeouts into a `Room`, with a mirror
//! of the connections it announced, checked after every step.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use roomrec_core::connection::{
    CloseReason, ConnectionCommand, ConnectionHandle, ConnectionReport, SessionKey,
};
use roomrec_core::room::{Room, RoomConfig, RoomInput, RoomOutput};
use roomrec_core::signaling::password::DEFAULT_SALT;
use roomrec_core::signaling::{datachannel, Dialect, Password};
use serde_json::Value;

/// Stream id the `record_streams` filter lets through (the traces' stream).
const WANTED: &str = "cam1";

/// Layout: byte 0 picks the room (bit 0: official dialect, else relay; bit 1: default password,
/// else none; bit 2: record only `cam1`; bit 3: signaling starts up). The rest is split on `\n`
/// into steps. A step starting with a byte below 0x08 is a directive:
/// `01` up, `02` down, `03` shutdown, `04 k sdp..` Answer report for handle k, `05 k reason..`
/// Closed report for handle k, `06 d` advance the clock by d² × 10 ms, `07 json..` the JSON with its
/// `description` / `candidates` sealed with the room's key. Any other step is a text frame in which
/// `$ME` and `$ROOM` become our peer id and the wire room id (so inputs can address us). Every text
/// also goes through the data-channel decoder.
pub fn signaling_room(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let config = RoomConfig {
        room: "e2eroom".into(),
        password: if flags & 2 != 0 {
            Password::Default
        } else {
            Password::Disabled
        },
        salt: DEFAULT_SALT.into(),
        dialect: if flags & 1 != 0 {
            Dialect::Official
        } else {
            Dialect::Relay
        },
        record_streams: (flags & 4 != 0).then(|| vec![WANTED.to_string()]),
        view: None,
        seed: 7,
        connection: Default::default(),
    };
    let mut h = Harness::new(config);
    if flags & 8 != 0 {
        h.input(RoomInput::SignalingUp);
    }
    for step in rest.split(|&b| b == b'\n') {
        h.step(step);
    }
    h.input(RoomInput::Shutdown);
    assert!(
        h.live.is_empty(),
        "connections left after shutdown: {:?}",
        h.live
    );
}

struct Harness {
    room: Room,
    now: Instant,
    filter: Option<Vec<String>>,
    /// Connections the room announced (StartConnection) and did not close yet.
    live: BTreeMap<ConnectionHandle, SessionKey>,
    /// Every handle ever started, for reports.
    handles: Vec<ConnectionHandle>,
    signaling_up: bool,
    shut_down: bool,
}

impl Harness {
    fn new(config: RoomConfig) -> Harness {
        let now = base_instant();
        Harness {
            filter: config.record_streams.clone(),
            room: Room::new(config, now),
            now,
            live: BTreeMap::new(),
            handles: Vec::new(),
            signaling_up: false,
            shut_down: false,
        }
    }

    fn step(&mut self, step: &[u8]) {
        match step.split_first() {
            None => {}
            Some((1, _)) => self.input(RoomInput::SignalingUp),
            Some((2, _)) => self.input(RoomInput::SignalingDown),
            Some((3, _)) => self.input(RoomInput::Shutdown),
            Some((4, rest)) => {
                let (handle, sdp) = self.handle(rest);
                self.input(RoomInput::FromConnection(
                    handle,
                    ConnectionReport::Answer { sdp },
                ));
            }
            Some((5, rest)) => {
                let (handle, reason) = self.handle(rest);
                // The connection is gone whether or not the room still knew it.
                self.live.remove(&handle);
                let reason = ConnectionReport::Closed(CloseReason::Rtc(reason));
                self.input(RoomInput::FromConnection(handle, reason));
            }
            Some((6, rest)) => {
                let d = u64::from(rest.first().copied().unwrap_or(1));
                self.now += Duration::from_millis(d * d * 10);
                self.timeouts();
            }
            Some((7, rest)) => {
                let text = self.seal(&String::from_utf8_lossy(rest));
                self.text(text);
            }
            Some(_) => {
                let text = String::from_utf8_lossy(step)
                    .replace("$ME", self.room.own_id())
                    .replace("$ROOM", &self.room.secrets().room_wire);
                self.text(text);
            }
        }
    }

    fn text(&mut self, text: String) {
        let _ = datachannel::decode(self.room.secrets().cipher.as_ref(), &text);
        let _ = datachannel::decode(None, &text);
        self.input(RoomInput::SignalingText(text));
    }

    /// A handle for a report: one the room started (by index), or a made-up one.
    fn handle(&self, rest: &[u8]) -> (ConnectionHandle, String) {
        let (k, text) = rest.split_first().map_or((0, &[][..]), |(k, t)| (*k, t));
        let handle = match self.handles.len() {
            0 => ConnectionHandle(u64::from(k)),
            n => self.handles[usize::from(k) % n],
        };
        (handle, String::from_utf8_lossy(text).into_owned())
    }

    /// Encrypts `description` / `candidates` like a publisher with the room's password would.
    fn seal(&self, json: &str) -> String {
        let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(json) else {
            return json.to_string();
        };
        let Some(cipher) = self.room.secrets().cipher.clone() else {
            return json.to_string();
        };
        let iv = [0x42; 16];
        let mut vector = None;
        for field in ["description", "candidates"] {
            if let Some(value) = obj.get_mut(field) {
                let plain = match &*value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let (ct, v) = cipher.encrypt(&plain, iv);
                *value = Value::String(ct);
                vector = Some(v);
            }
        }
        if let Some(v) = vector {
            obj.entry("vector").or_insert(Value::String(v));
        }
        Value::Object(obj).to_string()
    }

    fn input(&mut self, input: RoomInput) {
        match &input {
            RoomInput::SignalingUp => self.signaling_up = true,
            RoomInput::SignalingDown => self.signaling_up = false,
            RoomInput::Shutdown => self.shut_down = true,
            _ => {}
        }
        self.room.handle_input(self.now, input);
        self.drain();
        if self.room.poll_timeout().is_some_and(|t| t <= self.now) {
            self.timeouts();
        }
    }

    fn timeouts(&mut self) {
        self.room.handle_input(self.now, RoomInput::Timeout);
        self.drain();
        if let Some(t) = self.room.poll_timeout() {
            assert!(
                t > self.now,
                "poll_timeout {t:?} not after the timeout just handled ({:?})",
                self.now
            );
        }
    }

    /// Takes every output and checks it against the mirror.
    fn drain(&mut self) {
        while let Some(out) = self.room.poll_output() {
            match out {
                RoomOutput::SendSignaling(text) => {
                    assert!(self.signaling_up, "sent while signaling is down: {text}");
                    let value: Value =
                        serde_json::from_str(&text).expect("outgoing signaling is JSON");
                    assert!(value.is_object(), "outgoing signaling is an object: {text}");
                }
                RoomOutput::StartConnection(start) => {
                    assert!(!self.shut_down, "connection started after shutdown");
                    if let Some(filter) = &self.filter {
                        assert!(
                            filter.contains(&start.stream_id),
                            "unwanted stream {:?} started",
                            start.stream_id
                        );
                    }
                    assert!(
                        !self.handles.contains(&start.handle),
                        "handle {} handed out twice",
                        start.handle
                    );
                    assert!(
                        !self.live.values().any(|k| *k == start.key),
                        "second StartConnection for live {}",
                        start.key
                    );
                    self.live.insert(start.handle, start.key);
                    self.handles.push(start.handle);
                }
                RoomOutput::ToConnection(handle, ConnectionCommand::Close) => {
                    let closed = self.live.remove(&handle);
                    assert!(closed.is_some(), "Close for {handle}, which is not live");
                }
                RoomOutput::ToConnection(handle, ConnectionCommand::RemoteCandidates(list)) => {
                    assert!(
                        self.live.contains_key(&handle),
                        "candidates for {handle}, which is not live"
                    );
                    assert!(!list.is_empty(), "empty candidate list routed to {handle}");
                }
            }
        }
        let room_keys: BTreeSet<&SessionKey> = self.room.connection_keys().collect();
        let live: BTreeSet<&SessionKey> = self.live.values().collect();
        assert_eq!(
            room_keys, live,
            "room connections differ from what it announced"
        );
    }
}

/// One process-wide time origin: only differences matter to the core.
pub(crate) fn base_instant() -> Instant {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(Instant::now)
}
