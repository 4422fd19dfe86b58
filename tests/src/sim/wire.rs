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
    pub cipher: Option<Cipher>,
}

impl WireView {
    /// A text delivered to the recorder.
    pub fn incoming(&self, text: &str) -> Seen {
        let Some(obj) = parse(text) else {
            return Seen::Unreadable;
        };
        let peer = match self.dialect {
            Dialect::Relay => {
                if str_field(&obj, "UUID").is_some_and(|u| u != self.own_id) {
                    return Seen::Other("addressed to someone else".into());
                }
                str_field(&obj, "from")
            }
            Dialect::Official => str_field(&obj, "UUID"),
        };
        self.read(&obj, peer)
    }

    /// A text the recorder sends: the peer is the addressee (`UUID`).
    pub fn outgoing(&self, text: &str) -> Seen {
        let Some(obj) = parse(text) else {
            return Seen::Unreadable;
        };
        let peer = str_field(&obj, "UUID");
        self.read(&obj, peer)
    }

    fn read(&self, obj: &Map<String, Value>, peer: Option<String>) -> Seen {
        let session = str_field(obj, "session");
        match obj.get("request").and_then(Value::as_str) {
            Some("joinroom") => {
                let peer = peer.or_else(|| str_field(obj, "from"));
                return Seen::JoinRoom {
                    peer,
                    stream: str_field(obj, "streamID"),
                };
            }
            Some("play") => match str_field(obj, "streamID") {
                Some(stream) => return Seen::Play { stream },
                None => return Seen::Other("play without streamID".into()),
            },
            Some(other) => return Seen::Other(format!("request {other}")),
            None => {}
        }
        if obj.contains_key("description") {
            let Some((desc, encrypted)) = self.open(obj, "description") else {
                return Seen::Unreadable;
            };
            let kind = desc
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let sdp = desc
                .get("sdp")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let (Some(peer), Some(session)) = (peer, session) else {
                return Seen::Other(format!("{kind} without peer or session"));
            };
            return match kind.as_str() {
                "offer" => Seen::Offer {
                    peer,
                    session,
                    stream: str_field(obj, "streamID"),
                    encrypted,
                    sdp,
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
            let list = match value {
                Value::Array(list) => list,
                single => vec![single],
            };
            let candidates = list.iter().filter_map(candidate_text).collect();
            let Some(peer) = peer else {
                return Seen::Other("candidates without peer".into());
            };
            return Seen::Candidates {
                peer,
                session,
                candidates,
            };
        }
        Seen::Other(Value::Object(obj.clone()).to_string())
    }

    /// The field's value, decrypted when it is ciphertext; and whether it was.
    fn open(&self, obj: &Map<String, Value>, field: &str) -> Option<(Value, bool)> {
        match (obj.get(field)?, obj.get("vector").and_then(Value::as_str)) {
            (Value::String(hex), Some(iv)) => {
                let plain = self.cipher.as_ref()?.decrypt(hex, iv).ok()?;
                Some((serde_json::from_str(&plain).ok()?, true))
            }
            (Value::String(_), None) => None,
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

fn str_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_string)
}

/// The candidate line of an RTCIceCandidate JSON (or a bare string), without `a=`.
pub fn candidate_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o.get("candidate")?.as_str()?,
        _ => return None,
    };
    let text = text.trim();
    Some(text.strip_prefix("a=").unwrap_or(text).to_string())
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
