//! The room: one signaling connection, the members we know, and which connections exist.
//!
//! The room decides *what* to do with signaling (join, play, route candidates, replace or end
//! connections); each connection is a [`crate::session::Session`] that the caller creates when the
//! room emits [`RoomOutput::StartSession`] and whose reports it feeds back.

use std::time::Instant;

use crate::signaling::{Dialect, IceCandidate, Password};

#[derive(Clone, Debug)]
pub struct RoomConfig {
    /// Room name as the user typed it.
    pub room: String,
    pub password: Password,
    pub salt: String,
    pub dialect: Dialect,
    /// Only record these stream ids (without password suffix); None = all.
    pub record_streams: Option<Vec<String>>,
    /// Seeds our peer id and the IVs of encrypted messages.
    pub seed: u64,
}

/// A connection is identified by the publisher's peer id and its `session`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    pub peer: String,
    pub session: String,
}

impl std::fmt::Display for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.peer, self.session)
    }
}

/// What the room needs to create a session.
#[derive(Clone, Debug)]
pub struct SessionStart {
    pub key: SessionKey,
    /// Stream id without the password suffix (for filters and file names); may be hostile text.
    pub stream_id: String,
    pub offer_sdp: String,
    /// The offer came encrypted: encrypt what we send back.
    pub encrypted: bool,
}

/// Commands from the room to one session.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionCommand {
    RemoteCandidates(Vec<IceCandidate>),
    /// End the connection (peer left, replaced by a newer session, or shutdown).
    Close,
}

/// What a session tells the room.
#[derive(Clone, Debug, PartialEq)]
pub enum SessionReport {
    /// Our answer to the offer that started the session (sent over the WebSocket).
    Answer { sdp: String },
    /// The connection ended; the room may ask for the stream again.
    Closed { reason: String },
}

#[derive(Clone, Debug)]
pub enum RoomInput {
    /// The signaling socket is (again) connected.
    SignalingUp,
    SignalingDown,
    SignalingText(String),
    FromSession(SessionKey, SessionReport),
    /// Orderly shutdown: close every session.
    Shutdown,
}

#[derive(Clone, Debug)]
pub enum RoomOutput {
    SendSignaling(String),
    StartSession(SessionStart),
    ToSession(SessionKey, SessionCommand),
}

pub struct Room {
    _config: RoomConfig,
}

impl Room {
    pub fn new(config: RoomConfig, now: Instant) -> Room {
        let _ = now;
        Room { _config: config }
    }

    pub fn handle_input(&mut self, now: Instant, input: RoomInput) {
        todo!("{now:?}{input:?}")
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        todo!("{now:?}")
    }

    pub fn poll_output(&mut self) -> Option<RoomOutput> {
        todo!()
    }

    /// When `handle_timeout` wants to be called next, if at all.
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }

    /// Our peer id (relay dialect).
    pub fn own_id(&self) -> &str {
        todo!()
    }
}
