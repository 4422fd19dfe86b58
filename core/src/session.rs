//! One WebRTC connection to one publisher: a str0m `Rtc` as the answering, receive-only side, plus
//! the VDO.Ninja data-channel protocol on top (request, re-offers, ping, bye).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::media::{Codec, MediaFrame};
use crate::room::{SessionCommand, SessionKey, SessionReport};
use crate::signaling::Cipher;

#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub key: SessionKey,
    /// Stream id without the password suffix.
    pub stream_id: String,
    pub cipher: Option<Cipher>,
    /// Our host candidates: addresses of the UDP socket(s) the caller bound for this session.
    pub local_addrs: Vec<SocketAddr>,
    /// Video codec preference; empty = the publisher's order.
    pub video_codecs: Vec<Codec>,
    pub audio: bool,
    pub video: bool,
    /// Our display label in the data-channel request.
    pub label: String,
    /// str0m has no failed state: give up if not connected by then.
    pub connect_timeout: Duration,
    /// Seeds str0m's ids and our IVs.
    pub seed: u64,
}

#[derive(Clone, Debug)]
pub enum SessionInput {
    Datagram { source: SocketAddr, destination: SocketAddr, contents: Vec<u8> },
    Command(SessionCommand),
    /// The media layer wants a keyframe on this track (mid).
    RequestKeyframe { track: String },
}

#[derive(Clone, Debug)]
pub enum SessionOutput {
    Transmit { source: SocketAddr, destination: SocketAddr, contents: Vec<u8> },
    Report(SessionReport),
    Frame(MediaFrame),
    /// The publisher's display name (`info.label`).
    Label(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionError(pub String);

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for SessionError {}

pub struct Session {
    _config: SessionConfig,
}

impl Session {
    /// Accepts the offer that opened the connection; the answer comes out as
    /// `SessionOutput::Report(SessionReport::Answer)`.
    pub fn new(now: Instant, config: SessionConfig, offer_sdp: &str) -> Result<Session, SessionError> {
        todo!("{now:?}{config:?}{offer_sdp}")
    }

    pub fn handle_input(&mut self, now: Instant, input: SessionInput) {
        todo!("{now:?}{input:?}")
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        todo!("{now:?}")
    }

    pub fn poll_output(&mut self) -> Option<SessionOutput> {
        todo!()
    }

    pub fn poll_timeout(&self) -> Instant {
        todo!()
    }

    pub fn is_closed(&self) -> bool {
        todo!()
    }

    /// Whether this datagram belongs to this session (for callers that share a socket).
    pub fn accepts(&self, source: SocketAddr, destination: SocketAddr, contents: &[u8]) -> bool {
        todo!("{source}{destination}{contents:?}")
    }
}
