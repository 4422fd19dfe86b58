//! The test's own reading of signaling texts, independent of the core's codec, so that the checks
//! do not trust the code they check. Only what the checks need is read.

use roomrec_core::signaling::{Cipher, Dialect};
use serde_json::{Map, Value};

/// One signaling message as the observer understands it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    Offer {
        peer: String,
        session: String,
        stream: Option<String>,
        encrypted: bool,
        sdp: String,
    },
    Candidates {
        peer: String,
        session: Option<String>,
        candidates: Vec<String>,
    },
    Answer {
        peer: String,
        session: String,
        encrypted: bool,
        sdp: String,
    },
    Play {
        stream: String,
    },
    JoinRoom {
        peer: Option<String>,
        stream: Option<String>,
    },
    /// Valid JSON the checks do not care about (or not addressed to us).
    Other(String),
    /// Not JSON, or a payload that does not decrypt.
    Unreadable,
}

#[derive(Clone, Debug)]
pub struct WireView {
    pub dialect: Dialect,
    pub own_id: String,
    /// The room as it appears on the wire (relay dialect messages carry it).
    pub room_wire: String,
    pub cipher: Option<Cipher>,
}

impl WireView {
    /// A text delivered to the recorder.
    pub fn incoming(&self, text: &str) -> Seen {
        let Some(obj) = parse(text) else {
            return Seen::Unreadable;
        };
        let Ok(uuid) = opt(&obj, "UUID") else {
            return Seen::Unreadable;
        };
        let peer = match self.dialect {
            Dialect::Relay => {
                // Only the relay dialect names the sender in `from`.
                let Ok(from) = opt(&obj, "from") else {
                    return Seen::Unreadable;
                };
                if uuid.is_some_and(|u| u != self.own_id) {
                    return Seen::Other("addressed to someone else".into());
                }
                match obj.get("roomid") {
                    None | Some(Value::Null) => {}
                    Some(Value::String(r)) if *r == self.room_wire => {}
                    Some(Value::Number(n)) if n.to_string() == self.room_wire => {}
                    Some(Value::String(_) | Value::Number(_)) => {
                        return Seen::Other("another room".into())
                    }
                    Some(_) => return Seen::Unreadable,
                }
                if from.as_deref() == Some(self.own_id.as_str()) {
                    return Seen::Other("our own message".into());
                }
                from
            }
            Dialect::Official => uuid,
        };
        self.read(&obj, peer)
    }

    /// A text the recorder sends: the peer is the addressee (`UUID`).
    pub fn outgoing(&self, text: &str) -> Seen {
        let Some(obj) = parse(text) else {
            return Seen::Unreadable;
        };
        match opt(&obj, "UUID") {
            Ok(peer) => self.read(&obj, peer),
            Err(()) => Seen::Unreadable,
        }
    }

    /// Reads a message the way the protocol defines it; anything with a field of the wrong type
    /// is `Unreadable` (a receiver must ignore it as a whole).
    fn read(&self, obj: &Map<String, Value>, peer: Option<String>) -> Seen {
        // Fields are only judged where the message kind uses them.
        let stream = || opt(obj, "streamID");
        match obj.get("request") {
            Some(Value::String(r)) if r == "joinroom" => {
                let from = opt(obj, "from").ok().flatten();
                return match stream() {
                    Ok(stream) => Seen::JoinRoom {
                        peer: peer.or(from),
                        stream,
                    },
                    Err(()) => Seen::Unreadable,
                };
            }
            Some(Value::String(r)) if r == "play" => {
                return match stream() {
                    Ok(Some(stream)) => Seen::Play { stream },
                    _ => Seen::Other("play without streamID".into()),
                };
            }
            Some(Value::String(other)) => return Seen::Other(format!("request {other}")),
            Some(_) => return Seen::Unreadable,
            None => {}
        }
        let Ok(session) = opt(obj, "session") else {
            return Seen::Unreadable;
        };
        if obj.contains_key("description") {
            let Some((desc, encrypted)) = self.open(obj, "description") else {
                return Seen::Unreadable;
            };
            let (Some(kind), Some(sdp)) = (
                desc.get("type").and_then(Value::as_str),
                desc.get("sdp").and_then(Value::as_str),
            ) else {
                return Seen::Unreadable;
            };
            let (Some(peer), Some(session)) = (peer, session) else {
                return Seen::Other(format!("{kind} without peer or session"));
            };
            let sdp = sdp.to_string();
            return match kind {
                "offer" => match stream() {
                    Ok(stream) => Seen::Offer {
                        peer,
                        session,
                        stream,
                        encrypted,
                        sdp,
                    },
                    Err(()) => Seen::Unreadable,
                },
                "answer" => Seen::Answer {
                    peer,
                    session,
                    encrypted,
                    sdp,
                },
                _ => Seen::Other(format!("description {kind}")),
            };
        }
        let field = if obj.contains_key("candidates") {
            "candidates"
        } else {
            "candidate"
        };
        if obj.contains_key(field) {
            let Some((value, _)) = self.open(obj, field) else {
                return Seen::Unreadable;
            };
            let Some(candidates) = candidate_lines(&value) else {
                return Seen::Unreadable;
            };
            let Some(peer) = peer else {
                return Seen::Other("candidates without peer".into());
            };
            if candidates.is_empty() {
                return Seen::Other("no candidates".into());
            }
            return Seen::Candidates {
                peer,
                session,
                candidates,
            };
        }
        Seen::Other(Value::Object(obj.clone()).to_string())
    }

    /// The field's value, decrypted when it is ciphertext (a string with a `vector`); and
    /// whether it was.
    fn open(&self, obj: &Map<String, Value>, field: &str) -> Option<(Value, bool)> {
        match (obj.get(field)?, obj.get("vector")) {
            (Value::String(hex), Some(Value::String(iv))) => {
                let plain = self.cipher.as_ref()?.decrypt(hex, iv).ok()?;
                Some((serde_json::from_str(&plain).ok()?, true))
            }
            (Value::String(_), _) => None,
            (value, _) => Some((value.clone(), false)),
        }
    }
}

fn parse(text: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(obj)) => Some(obj),
        _ => None,
    }
}

/// An optional string field: absent or null is None, another type is an error.
fn opt(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, ()> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(()),
    }
}

/// The candidate lines of an RTCIceCandidateInit or an array of them (entries with an empty line
/// end gathering and carry none); None when an entry is malformed.
pub fn candidate_lines(value: &Value) -> Option<Vec<String>> {
    let list = match value {
        Value::Array(items) => items.as_slice(),
        Value::Object(_) => std::slice::from_ref(value),
        _ => return None,
    };
    let mut lines = Vec::new();
    for item in list {
        let obj = item.as_object()?;
        opt(obj, "sdpMid").ok()?;
        opt(obj, "usernameFragment").ok()?;
        match obj.get("sdpMLineIndex") {
            None | Some(Value::Null) => {}
            Some(n) => {
                u32::try_from(n.as_u64()?).ok()?;
            }
        }
        let line = opt(obj, "candidate").ok()?.unwrap_or_default();
        let line = line.trim();
        if !line.is_empty() {
            lines.push(line.strip_prefix("a=").unwrap_or(line).to_string());
        }
    }
    Some(lines)
}

/// SDP without what differs between identical runs (DTLS fingerprints come from fresh
/// certificates, session ids from the clock or OS randomness).
pub fn normalize_sdp(sdp: &str) -> String {
    sdp.lines()
        .filter(|l| !l.starts_with("a=fingerprint") && !l.starts_with("o="))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Ports of the host candidates (`a=candidate` lines) in an SDP.
pub fn candidate_ports(sdp: &str) -> Vec<u16> {
    sdp.lines()
        .filter_map(|l| l.trim().strip_prefix("a=candidate:"))
        .filter_map(|c| c.split_whitespace().nth(5)?.parse().ok())
        .collect()
}
