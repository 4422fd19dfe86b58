//! WebSocket signaling messages of both dialects.

use serde_json::Value;

use super::crypto::Cipher;
use super::payload::{self, json, object, opt_str, Obj};

/// The two flavours of the signaling protocol (client and relay speak the same one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// wss.vdo.ninja: server-assigned ids, `UUID` rewritten to the sender.
    Official,
    /// Self-hosted relay: own id in `from`, `roomid` on every message.
    Relay,
}

impl Dialect {
    /// Every dialect, for listing and parsing names.
    pub const ALL: [Dialect; 2] = [Dialect::Official, Dialect::Relay];

    /// Lowercase name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Official => "official",
            Dialect::Relay => "relay",
        }
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Dialect {
    type Err = String;

    /// A [`Dialect::name`], in any case.
    fn from_str(s: &str) -> Result<Self, String> {
        Dialect::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown dialect {s:?} (expected official or relay)"))
    }
}

/// What encoding and decoding depend on.
#[derive(Clone, Debug)]
pub struct CodecContext {
    /// Which protocol flavour to speak.
    pub dialect: Dialect,
    /// Our own peer id (relay dialect); ignored for the official dialect.
    pub own_id: String,
    /// Room id as sent on the wire ([`RoomSecrets::room_wire`](super::RoomSecrets::room_wire)).
    /// Empty = no room (single-stream mode): no `roomid` is sent and none is checked, as the relay
    /// only delivers to us what comes from sockets outside every room.
    pub room_wire: String,
    /// Opens and seals SDP and candidates; `None` without a password.
    pub cipher: Option<Cipher>,
}

/// A room member from a listing or an arrival.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its peer id (`UUID` / `from`).
    pub peer: String,
    /// Wire stream id (with password suffix); None = not publishing.
    pub stream_id: Option<String>,
}

/// A remote ICE candidate as the browser's `RTCIceCandidateInit` carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceCandidate {
    /// The SDP `candidate:` attribute value.
    pub candidate: String,
    /// `sdpMid`: the m-line it belongs to.
    pub sdp_mid: Option<String>,
    /// `sdpMLineIndex`: the same by position.
    pub sdp_mline_index: Option<u32>,
    /// `usernameFragment`: the ICE ufrag it goes with.
    pub username_fragment: Option<String>,
}

/// One decoded signaling message, as far as the recorder cares.
#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// Official: the member list on join.
    Listing {
        /// Everyone in the room with an id.
        members: Vec<Member>,
    },
    /// Someone arrived: official `videoaddedtoroom`/`someonejoined`, relay raw `joinroom`.
    PeerJoined {
        /// Its peer id.
        peer: String,
        /// Wire stream id (with password suffix), if it publishes.
        stream_id: Option<String>,
    },
    /// An SDP offer (already decrypted).
    Offer {
        /// The publisher's peer id.
        peer: String,
        /// Its session id: one per WebRTC connection attempt.
        session: String,
        /// Wire stream id, when the message names it.
        stream_id: Option<String>,
        /// The offer SDP.
        sdp: String,
        /// It came encrypted (so our answer goes encrypted too).
        encrypted: bool,
        /// `isScene`; None when absent.
        is_scene: Option<bool>,
    },
    /// One or more remote candidates (already decrypted); `session` None when absent.
    Candidates {
        /// The sender's peer id.
        peer: String,
        /// The session they belong to.
        session: Option<String>,
        /// Never empty.
        candidates: Vec<IceCandidate>,
    },
    /// `cleanup` or `bye` for a peer.
    PeerLeft {
        /// Who left.
        peer: String,
    },
    /// alert / warn / error / transferred / roomclaimed and other server notices.
    Notice {
        /// The request or key it came as (`alert`, `error`, ...).
        kind: String,
        /// Its text (empty when none).
        message: String,
    },
    /// Valid JSON we do not act on: addressed to someone else, another room, our own echo, an
    /// unknown request kind, an answer, `play`...
    Ignored {
        /// Why, for trace logs.
        reason: &'static str,
    },
}

/// Why a signaling or data-channel message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not valid JSON (the parser's message).
    NotJson(String),
    /// Valid JSON, but not an object.
    NotAnObject,
    /// A field has the wrong type or a required field is missing.
    BadField(&'static str),
    /// An encrypted field did not decrypt to JSON (which field, and why).
    Decrypt(String),
    /// Encrypted payload but we have no password.
    NoKey,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for DecodeError {}

/// A signaling message we send; [`encode`] turns it into text.
#[derive(Clone, Debug)]
pub enum Outgoing<'a> {
    /// Join without a streamID.
    JoinRoom,
    /// Ask the publisher of a stream to send us an offer.
    Play {
        /// Wire stream id (with password suffix).
        stream_id: &'a str,
    },
    /// Our SDP answer to an offer.
    Answer {
        /// The publisher's peer id.
        peer: &'a str,
        /// The offer's session id.
        session: &'a str,
        /// The answer SDP.
        sdp: &'a str,
        /// Seal it with the context's cipher (when there is one).
        encrypt: bool,
    },
    /// Our local ICE candidates.
    Candidates {
        /// The publisher's peer id.
        peer: &'a str,
        /// The offer's session id.
        session: &'a str,
        /// The candidates to send.
        candidates: &'a [IceCandidate],
        /// Seal them with the context's cipher (when there is one).
        encrypt: bool,
    },
}

/// Decode one WebSocket text frame.
pub fn decode(ctx: &CodecContext, text: &str) -> Result<Incoming, DecodeError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    let obj = value.as_object().ok_or(DecodeError::NotAnObject)?;
    let peer = match ctx.dialect {
        Dialect::Relay => match relay_peer(ctx, obj)? {
            Ok(peer) => Some(peer),
            Err(ignored) => return Ok(ignored),
        },
        Dialect::Official => {
            if obj.contains_key("error") {
                return Ok(notice("error", obj.get("error")));
            }
            opt_str(obj, "UUID")?
        }
    };
    // Every message the official server relays from a peer has the sender in `UUID`.
    let need_peer = || peer.clone().ok_or(DecodeError::BadField("UUID"));

    if let Some(request) = obj.get("request") {
        let request = request.as_str().ok_or(DecodeError::BadField("request"))?;
        return match (ctx.dialect, request) {
            // vdoninja.js broadcasts a publisher's `seed` to the sockets in its room (or outside
            // every room when it is in none): outside a room it is the only word of an arrival.
            (Dialect::Relay, "joinroom" | "seed") => Ok(Incoming::PeerJoined {
                peer: need_peer()?,
                stream_id: opt_str(obj, "streamID")?,
            }),
            (Dialect::Official, "listing") => listing(obj),
            (Dialect::Official, "videoaddedtoroom" | "someonejoined") => Ok(Incoming::PeerJoined {
                peer: need_peer()?,
                stream_id: opt_str(obj, "streamID")?,
            }),
            (Dialect::Official, "cleanup") => Ok(Incoming::PeerLeft { peer: need_peer()? }),
            (Dialect::Official, "alert" | "warn" | "transferred" | "roomclaimed") => {
                Ok(notice(request, obj.get("message")))
            }
            (_, "play" | "seed" | "offerSDP") => Ok(Incoming::Ignored {
                reason: "request for a publisher",
            }),
            _ => Ok(Incoming::Ignored {
                reason: "unknown request",
            }),
        };
    }

    if obj.contains_key("description") {
        let (plain, encrypted) = payload::open(ctx.cipher.as_ref(), obj, "description")?;
        let (kind, sdp) = payload::description(&plain)?;
        if kind != "offer" {
            return Ok(Incoming::Ignored {
                reason: "description is not an offer",
            });
        }
        let session = opt_str(obj, "session")?.ok_or(DecodeError::BadField("session"))?;
        return Ok(Incoming::Offer {
            peer: need_peer()?,
            session,
            stream_id: opt_str(obj, "streamID")?,
            sdp,
            encrypted,
            is_scene: is_scene(obj.get("isScene")),
        });
    }

    if let Some(candidates) = payload::open_candidates(ctx.cipher.as_ref(), obj)? {
        let session = opt_str(obj, "session")?;
        if candidates.is_empty() {
            return Ok(Incoming::Ignored {
                reason: "no candidates",
            });
        }
        return Ok(Incoming::Candidates {
            peer: need_peer()?,
            session,
            candidates,
        });
    }

    if obj.contains_key("bye") {
        return Ok(Incoming::PeerLeft { peer: need_peer()? });
    }
    Ok(Incoming::Ignored {
        reason: "nothing to act on",
    })
}

/// Relay dialect addressing: the peer (`from`), or the Incoming to return instead.
fn relay_peer(ctx: &CodecContext, obj: &Obj) -> Result<Result<String, Incoming>, DecodeError> {
    let ignore = |reason| Ok(Err(Incoming::Ignored { reason }));
    if let Some(uuid) = opt_str(obj, "UUID")? {
        if uuid != ctx.own_id {
            return ignore("addressed to another peer");
        }
    }
    match obj.get("roomid") {
        _ if ctx.room_wire.is_empty() => {}
        None | Some(Value::Null) => {}
        // The relay compares `String(roomid)`, so a numeric room is the same room.
        Some(Value::String(r)) if *r == ctx.room_wire => {}
        Some(Value::Number(n)) if n.to_string() == ctx.room_wire => {}
        Some(Value::String(_) | Value::Number(_)) => return ignore("another room"),
        Some(_) => return Err(DecodeError::BadField("roomid")),
    }
    let Some(from) = opt_str(obj, "from")? else {
        // The relay's own replies are the only frames without `from`.
        if obj.contains_key("error") {
            return Ok(Err(notice("error", obj.get("error"))));
        }
        return ignore("no from");
    };
    if from == ctx.own_id {
        return ignore("our own message");
    }
    Ok(Ok(from))
}

fn listing(obj: &Obj) -> Result<Incoming, DecodeError> {
    let list = obj
        .get("list")
        .and_then(Value::as_array)
        .ok_or(DecodeError::BadField("list"))?;
    let mut members = Vec::with_capacity(list.len());
    for item in list {
        let item = item.as_object().ok_or(DecodeError::BadField("list"))?;
        // A member without an id cannot be addressed; skip it.
        let Some(peer) = opt_str(item, "UUID")? else {
            continue;
        };
        members.push(Member {
            peer,
            stream_id: opt_str(item, "streamID")?,
        });
    }
    Ok(Incoming::Listing { members })
}

fn notice(kind: &str, message: Option<&Value>) -> Incoming {
    let message = match message {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    Incoming::Notice {
        kind: kind.to_string(),
        message,
    }
}

/// `isScene` comes as bool, number or string; JS truthiness, except that "0"/"false" mean no.
fn is_scene(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_f64() != Some(0.0)),
        Value::String(s) => Some(!(s.is_empty() || s == "0" || s.eq_ignore_ascii_case("false"))),
        Value::Array(_) | Value::Object(_) => Some(true),
    }
}

/// Encode one WebSocket text frame. `iv` is used when the message gets encrypted.
pub fn encode(ctx: &CodecContext, msg: &Outgoing<'_>, iv: [u8; 16]) -> String {
    let relay = ctx.dialect == Dialect::Relay;
    let mut fields: Vec<(&str, String)> = Vec::with_capacity(8);
    let cipher = |encrypt: bool| if encrypt { ctx.cipher.as_ref() } else { None };
    let mut vector = None;
    match *msg {
        Outgoing::JoinRoom => {
            debug_assert!(!ctx.room_wire.is_empty(), "joinroom needs a room");
            fields.push(("request", json("joinroom")));
            fields.push(("roomid", json(ctx.room_wire.as_str())));
            if relay {
                fields.push(("from", json(ctx.own_id.as_str())));
            }
            return object(&fields);
        }
        Outgoing::Play { stream_id } => {
            fields.push(("request", json("play")));
            fields.push(("streamID", json(stream_id)));
        }
        Outgoing::Answer {
            peer,
            session,
            sdp,
            encrypt,
        } => {
            let (desc, v) = payload::seal(
                cipher(encrypt),
                payload::description_json("answer", sdp),
                iv,
            );
            vector = v;
            fields.push(("UUID", json(peer)));
            fields.push(("description", desc));
            fields.push(("session", json(session)));
        }
        Outgoing::Candidates {
            peer,
            session,
            candidates,
            encrypt,
        } => {
            let (list, v) =
                payload::seal(cipher(encrypt), payload::candidates_json(candidates), iv);
            vector = v;
            fields.push(("UUID", json(peer)));
            fields.push(("type", json("remote")));
            fields.push(("candidates", list));
            fields.push(("session", json(session)));
        }
    }
    if let Some(v) = vector {
        fields.push(("vector", json(v)));
    }
    if relay {
        fields.push(("from", json(ctx.own_id.as_str())));
        if !ctx.room_wire.is_empty() {
            fields.push(("roomid", json(ctx.room_wire.as_str())));
        }
    }
    object(&fields)
}

#[cfg(test)]
#[path = "message_tests/mod.rs"]
mod tests;
