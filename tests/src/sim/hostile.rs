//! Hostile or malformed input injected into a running simulation: WebSocket texts to the recorder,
//! data-channel texts from a publisher's connections, and raw datagrams to the recorder's
//! connections. Templates name live values so the input reaches deep code paths.

use std::fmt;

use roomrec_core::signaling::RoomSecrets;
use serde_json::Value;

use super::Sim;

/// Placeholders in signaling templates, filled in when the input is injected.
pub const OWN: &str = "{own}";
pub const PEER: &str = "{peer}";
pub const ROOM: &str = "{room}";
pub const SESSION: &str = "{session}";
pub const STREAM: &str = "{stream}";

#[derive(Clone, PartialEq, Eq)]
pub enum HostileInput {
    /// A WebSocket text for the recorder. With `seal`, `description`, `candidates` and `candidate`
    /// are encrypted with the room key (anyone with the default password can).
    Signaling { template: String, seal: bool },
    /// A text on the data channel of every connection of the `publisher`th participant.
    DataChannel { publisher: usize, text: String },
    /// A datagram to the `connection`th connection the recorder started.
    Datagram { connection: usize, bytes: Vec<u8> },
}

impl fmt::Debug for HostileInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostileInput::Signaling { template, seal } => {
                write!(
                    f,
                    "ws{} {}",
                    if *seal { "(sealed)" } else { "" },
                    abbreviate(template)
                )
            }
            HostileInput::DataChannel { publisher, text } => {
                write!(f, "dc of participant {publisher}: {}", abbreviate(text))
            }
            HostileInput::Datagram { connection, bytes } => {
                write!(f, "udp to connection {connection}: {bytes:02x?}")
            }
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Hostile {
    pub at_ms: u64,
    pub input: HostileInput,
}

impl fmt::Debug for Hostile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms {:?}", self.at_ms, self.input)
    }
}

impl HostileInput {
    /// `nodes`: the simulation publisher of each participant, while present.
    pub fn apply(&self, sim: &mut Sim, nodes: &[Option<usize>]) {
        match self {
            HostileInput::Signaling { template, seal } => {
                let text = fill(sim, nodes, template);
                let text = if *seal { seal_fields(sim, &text) } else { text };
                sim.inject_signaling(text);
            }
            HostileInput::DataChannel { publisher, text } => {
                let Some(Some(node)) = nodes.get(*publisher) else {
                    return;
                };
                let now = sim.now;
                sim.publishers[*node].publisher.send_data_channel(now, text);
                sim.flush();
            }
            HostileInput::Datagram { connection, bytes } => {
                sim.inject_datagram(*connection, bytes.clone())
            }
        }
    }
}

/// Long strings (SDPs) shortened so a shrunk counterexample stays readable.
fn abbreviate(text: &str) -> String {
    fn walk(v: &mut Value) {
        match v {
            Value::String(s) if s.len() > 80 => {
                let head: String = s.chars().take(40).collect();
                *s = format!(
                    "<{} chars, {} lines: {head:?}...>",
                    s.len(),
                    s.lines().count()
                );
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            Value::Object(obj) => obj.values_mut().for_each(walk),
            _ => {}
        }
    }
    match serde_json::from_str::<Value>(text) {
        Ok(mut v) => {
            walk(&mut v);
            v.to_string()
        }
        Err(_) => text.to_string(),
    }
}

fn fill(sim: &Sim, nodes: &[Option<usize>], template: &str) -> String {
    let secrets = RoomSecrets::new(&sim.config.room, &sim.config.password, super::SALT);
    let peer = nodes
        .iter()
        .flatten()
        .filter_map(|&n| sim.publishers[n].peer_id.clone())
        .next_back()
        .unwrap_or_default();
    let session = sim
        .recorder
        .observer
        .sessions
        .last()
        .map(|s| s.key.session.clone())
        .unwrap_or_default();
    template
        .replace(OWN, sim.recorder.room.own_id())
        .replace(PEER, &peer)
        .replace(ROOM, &secrets.room_wire)
        .replace(SESSION, &session)
        .replace(STREAM, &secrets.wire_stream_id("p0"))
}

fn seal_fields(sim: &Sim, text: &str) -> String {
    let Some(cipher) = sim.recorder.room.secrets().cipher.clone() else {
        return text.to_string();
    };
    let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(text) else {
        return text.to_string();
    };
    for field in ["description", "candidates", "candidate"] {
        if let Some(value) = obj.get(field) {
            let (ciphertext, vector) = cipher.encrypt(&value.to_string(), [7; 16]);
            obj.insert(field.into(), Value::String(ciphertext));
            obj.insert("vector".into(), Value::String(vector));
        }
    }
    Value::Object(obj).to_string()
}
