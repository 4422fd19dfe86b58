//! WebSocket signaling messages of both dialects.

use super::crypto::Cipher;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// wss.vdo.ninja: server-assigned ids, `UUID` rewritten to the sender.
    Official,
    /// Self-hosted relay: own id in `from`, `roomid` on every message.
    Relay,
}

/// What encoding and decoding depend on.
#[derive(Clone, Debug)]
pub struct CodecContext {
    pub dialect: Dialect,
    /// Our own peer id (relay dialect); ignored for the official dialect.
    pub own_id: String,
    pub room_wire: String,
    pub cipher: Option<Cipher>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub peer: String,
    /// Wire stream id (with password suffix); None = not publishing.
    pub stream_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceCandidate {
    pub candidate: String,
    pub sdp_mid: Option<String>,
    pub sdp_mline_index: Option<u32>,
    pub username_fragment: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// Official: the member list on join.
    Listing { members: Vec<Member> },
    /// Someone arrived: official `videoaddedtoroom`/`someonejoined`, relay raw `joinroom`.
    PeerJoined { peer: String, stream_id: Option<String> },
    /// An SDP offer (already decrypted).
    Offer {
        peer: String,
        session: String,
        stream_id: Option<String>,
        sdp: String,
        encrypted: bool,
        /// `isScene`; None when absent.
        is_scene: Option<bool>,
    },
    /// One or more remote candidates (already decrypted); `session` None when absent.
    Candidates {
        peer: String,
        session: Option<String>,
        candidates: Vec<IceCandidate>,
    },
    /// `cleanup` or `bye` for a peer.
    PeerLeft { peer: String },
    /// alert / warn / error / transferred / roomclaimed and other server notices.
    Notice { kind: String, message: String },
    /// Valid JSON we do not act on: addressed to someone else, another room, our own echo, an
    /// unknown request kind, an answer, `play`...
    Ignored { reason: &'static str },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    NotJson(String),
    NotAnObject,
    /// A field has the wrong type or a required field is missing.
    BadField(&'static str),
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

#[derive(Clone, Debug)]
pub enum Outgoing<'a> {
    /// Join without a streamID.
    JoinRoom,
    Play { stream_id: &'a str },
    Answer { peer: &'a str, session: &'a str, sdp: &'a str, encrypt: bool },
    Candidates { peer: &'a str, session: &'a str, candidates: &'a [IceCandidate], encrypt: bool },
}

/// Decode one WebSocket text frame.
pub fn decode(ctx: &CodecContext, text: &str) -> Result<Incoming, DecodeError> {
    todo!("{ctx:?}{text}")
}

/// Encode one WebSocket text frame. `iv` is used when the message gets encrypted.
pub fn encode(ctx: &CodecContext, msg: &Outgoing<'_>, iv: [u8; 16]) -> String {
    todo!("{ctx:?}{msg:?}{iv:?}")
}
