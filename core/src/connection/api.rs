//! What goes into and comes out of a [`Connection`](super::Connection), and what the room hands
//! out to build one.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::ice::TurnServer;
use crate::media::recorder::{FileOp, WrittenFrame};
use crate::media::{Codec, FileId};
use crate::signaling::{Cipher, IceCandidate};

/// Identifies one connection for as long as the room lives (never reused), like quinn-proto's
/// `ConnectionHandle`. Reports carry it, so a replaced connection's late report is recognised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionHandle(pub u64);

impl fmt::Display for ConnectionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A connection is identified on the wire by the publisher's peer id and its `session`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    /// The publisher's peer id (UUID).
    pub peer: String,
    /// The publisher's session id for this connection.
    pub session: String,
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.peer, self.session)
    }
}

/// How every connection of a room records; set once by the caller of [`crate::room::Room`].
#[derive(Clone, Debug)]
pub struct ConnectionSettings {
    /// `--record` prefix of file names.
    pub prefix: String,
    /// Video codec preference; empty = the publisher's order.
    pub video_codecs: Vec<Codec>,
    /// Record audio.
    pub audio: bool,
    /// Record video.
    pub video: bool,
    /// Our display label in the data-channel request.
    pub label: String,
    /// str0m has no failed state: give up if not connected by then.
    pub connect_timeout: Duration,
    /// 1:1 NAT (a cloud VM whose public address forwards every port): public addresses that forward to
    /// ours port for port. Each is announced with every local port of its IP family, as a
    /// server-reflexive candidate whose base is the local socket.
    pub public_ips: Vec<IpAddr>,
    /// STUN servers (resolved): each local socket asks each for its mapped address, announced
    /// as a server-reflexive candidate.
    pub stun_servers: Vec<SocketAddr>,
    /// TURN servers (resolved): an allocation on each, announced as a relay candidate.
    pub turn_servers: Vec<TurnServer>,
    /// Announce only relay candidates (the web app's `&relay`): media goes through TURN.
    pub relay_only: bool,
    /// Emit [`ConnectionEvent::FrameReceived`] and [`ConnectionEvent::FrameWritten`] for every
    /// frame (tests, live status); off, a frame costs no event.
    pub observe_frames: bool,
    /// Emit [`ConnectionEvent::Keyframe`] (a copy of a video keyframe, at most every
    /// [`PREVIEW_KEYFRAME_INTERVAL`] per track) for thumbnails; off, recording copies nothing.
    pub preview_keyframes: bool,
}

/// Least time between two [`ConnectionEvent::Keyframe`]s of one track.
pub const PREVIEW_KEYFRAME_INTERVAL: Duration = Duration::from_secs(2);
/// Least time between two [`ConnectionEvent::AudioLevel`]s of one track.
pub const AUDIO_LEVEL_INTERVAL: Duration = Duration::from_millis(100);

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            prefix: "roomrec".into(),
            video_codecs: Vec::new(),
            audio: true,
            video: true,
            label: "roomrec".into(),
            connect_timeout: Duration::from_secs(10),
            public_ips: Vec::new(),
            stun_servers: Vec::new(),
            turn_servers: Vec::new(),
            relay_only: false,
            observe_frames: false,
            preview_keyframes: false,
        }
    }
}

/// Everything needed to build one [`Connection`](super::Connection), handed out by the room.
#[derive(Clone, Debug)]
pub struct ConnectionStart {
    /// The room's name for this connection; its reports must carry it.
    pub handle: ConnectionHandle,
    /// Who offered.
    pub key: SessionKey,
    /// Stream id without the password suffix (filters, file names); may be hostile text.
    pub stream_id: String,
    /// The publisher's offer.
    pub offer_sdp: String,
    /// The room's cipher, for encrypted data-channel answers.
    pub cipher: Option<Cipher>,
    /// First file id this connection may use; the room gives disjoint ranges.
    pub first_file_id: u64,
    /// Seeds our IVs.
    pub seed: u64,
    /// How to record.
    pub settings: ConnectionSettings,
}

/// What the room tells a connection.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnectionCommand {
    /// Trickled ICE candidates from the publisher.
    RemoteCandidates(Vec<IceCandidate>),
    /// End the connection (peer left, replaced by a newer one, or shutdown).
    Close,
}

/// Input to [`Connection::handle_input`](super::Connection::handle_input).
#[derive(Clone, Debug)]
pub enum ConnectionInput {
    /// A UDP datagram arrived on one of the connection's local addresses.
    Datagram {
        /// Who sent it.
        source: SocketAddr,
        /// The local address it arrived on.
        destination: SocketAddr,
        /// Its payload.
        contents: Vec<u8>,
    },
    /// From the room.
    Command(ConnectionCommand),
    /// The TCP connection asked for by `StreamOp::Open` is up.
    StreamOpened {
        /// The server it goes to.
        remote: SocketAddr,
        /// Its local address.
        local: SocketAddr,
    },
    /// Bytes arrived on the stream to `remote`.
    StreamData {
        /// The server.
        remote: SocketAddr,
        /// The bytes, in order.
        contents: Vec<u8>,
    },
    /// The stream to `remote` could not be opened or has ended.
    StreamClosed {
        /// The server.
        remote: SocketAddr,
        /// Why, for the user.
        error: String,
    },
    /// The time from `poll_timeout` has come (early calls are harmless).
    Timeout,
}

/// Output of [`Connection::poll_output`](super::Connection::poll_output): only what the caller
/// must carry out or may want to show.
#[derive(Clone, Debug)]
pub enum ConnectionOutput {
    /// Send a UDP datagram from one of our local addresses.
    Transmit {
        /// Our local address to send from.
        source: SocketAddr,
        /// Where to.
        destination: SocketAddr,
        /// The payload.
        contents: Vec<u8>,
    },
    /// A TCP stream operation (TURN over TCP or TLS).
    Stream(StreamOp),
    /// Carry out a file operation.
    File(FileOp),
    /// Pass to the room as `RoomInput::FromConnection(handle, report)`.
    Report(ConnectionReport),
    /// Something happened that a log, a status display or a test may want to see; nothing to do.
    Event(ConnectionEvent),
}

/// TCP streams to TURN servers: at most one per server address per connection. The caller
/// closes them when the connection has closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamOp {
    /// Connect to `remote`; answer with `StreamOpened` or `StreamClosed`.
    Open {
        /// The server.
        remote: SocketAddr,
    },
    /// Write bytes on the stream to `remote` (dropped if it is not open).
    Send {
        /// The server.
        remote: SocketAddr,
        /// The bytes, in order.
        contents: Vec<u8>,
    },
}

/// What a connection tells the room.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnectionReport {
    /// Our answer to the offer that started the connection (sent over the signaling socket).
    Answer {
        /// The answer SDP.
        sdp: String,
    },
    /// Our candidates found after the answer (STUN, TURN): trickle them to the publisher.
    LocalCandidates(Vec<IceCandidate>),
    /// The connection ended and every file it opened is finalized; the room may ask again.
    Closed(CloseReason),
}

/// Why a connection ended, in words a user can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The publisher's offer could not be accepted.
    OfferRejected(String),
    /// The caller had no local address to offer (see `--ice-ip`).
    NoLocalAddress,
    /// ICE/DTLS did not complete in time: no candidate pair worked.
    NotConnected {
        /// The connect timeout.
        after: Duration,
        /// What each side offered, to tell the user why.
        candidates: CandidateSummary,
    },
    /// ICE lost the publisher for longer than the grace period.
    IceDisconnected,
    /// The publisher said bye on the data channel.
    PublisherBye,
    /// DTLS or SCTP was closed by the publisher.
    RemoteClosed,
    /// The room closed it (peer left, replaced, shutdown).
    ClosedByRoom,
    /// str0m reported an error.
    Rtc(String),
    /// The caller's task for this connection failed.
    Internal(String),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::OfferRejected(e) => write!(f, "offer rejected: {e}"),
            CloseReason::NoLocalAddress => {
                f.write_str("no local address to receive on (see --ice-ip)")
            }
            CloseReason::NotConnected { after, candidates } => {
                write!(f, "not connected after {after:?}: {candidates}")
            }
            CloseReason::IceDisconnected => f.write_str("ICE disconnected"),
            CloseReason::PublisherBye => f.write_str("publisher said bye"),
            CloseReason::RemoteClosed => f.write_str("the connection was closed (DTLS/SCTP)"),
            CloseReason::ClosedByRoom => f.write_str("closed by the room"),
            CloseReason::Rtc(e) => write!(f, "rtc error: {e}"),
            CloseReason::Internal(e) => write!(f, "internal error: {e}"),
        }
    }
}

/// The ICE candidates both sides offered, as `kind address` (e.g. `srflx 203.0.113.10:40000`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CandidateSummary {
    /// Ours.
    pub local: Vec<String>,
    /// The publisher's, from its offer and trickled (UDP ones we could use).
    pub remote: Vec<String>,
    /// What went wrong getting more candidates (a STUN server that did not answer, a TURN
    /// allocation refused), in words.
    pub problems: Vec<String>,
}

impl CandidateSummary {
    /// Most candidates kept per side: a hostile offer must not grow this.
    pub const MAX: usize = 16;

    pub(crate) fn push(list: &mut Vec<String>, kind: impl fmt::Display, addr: SocketAddr) {
        let entry = format!("{kind} {addr}");
        Self::note(list, entry);
    }

    pub(crate) fn note(list: &mut Vec<String>, entry: String) {
        if list.len() < Self::MAX && !list.contains(&entry) {
            list.push(entry);
        }
    }
}

impl fmt::Display for CandidateSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |l: &[String]| match l.is_empty() {
            true => "nothing usable".to_string(),
            false => l.join(", "),
        };
        write!(
            f,
            "no candidate pair succeeded (we offered {}; the publisher offered {})",
            list(&self.local),
            list(&self.remote)
        )?;
        for problem in &self.problems {
            write!(f, "; {problem}")?;
        }
        let ours_beyond_host = self
            .local
            .iter()
            .any(|c| c.starts_with("srflx") || c.starts_with("relay"));
        if self.remote.is_empty() {
            f.write_str("; mDNS (.local) and TCP candidates are not supported")
        } else if !ours_beyond_host {
            f.write_str(
                "; you are probably behind NAT: a 1:1 NAT needs --public-ip, others --stun or --turn",
            )
        } else if !self.local.iter().any(|c| c.starts_with("relay")) {
            f.write_str("; both sides may be behind NATs that need a relay: try --turn")
        } else {
            Ok(())
        }
    }
}

/// Observable facts (nothing for the caller to do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// ICE and DTLS are up.
    Connected,
    /// Nothing has arrived from the publisher for 5 s, or ICE lost it. The files stay open; the
    /// connection ends (`Closed(IceDisconnected)`) only once ICE gives up (its checks unanswered
    /// for about 25 s) and a grace period of 5 s more has passed without it coming back.
    Disconnected,
    /// Datagrams are arriving again (and ICE is up) after `Disconnected`.
    Reconnected,
    /// Receive statistics, about once a second ([`super::STATS_INTERVAL`]) while open.
    Stats(super::ConnectionStats),
    /// The publisher's display name (`info.label`).
    Label(String),
    /// The recorder asked the publisher for a keyframe (PLI) on this track.
    KeyframeRequested {
        /// The track's mid.
        track: String,
    },
    /// A frame arrived from str0m (only with `observe_frames`).
    FrameReceived(ReceivedFrame),
    /// A frame went into a file (only with `observe_frames`).
    FrameWritten {
        /// The file.
        file: FileId,
        /// The frame.
        frame: WrittenFrame,
    },
    /// The loudest RTP audio level (RFC 6464 header extension) the publisher sent on an audio
    /// track since the previous one; at most every [`AUDIO_LEVEL_INTERVAL`].
    AudioLevel {
        /// The track's mid.
        track: String,
        /// 0 dBov is the loudest, -127 silence.
        dbov: i8,
    },
    /// A copy of a video keyframe as the recorder got it (only with `preview_keyframes`).
    Keyframe(KeyframePreview),
}

/// A decodable video keyframe: H.264 Annex B with SPS/PPS, a VP8/VP9 key frame, or an AV1
/// temporal unit with its sequence header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyframePreview {
    /// The track's mid.
    pub track: String,
    /// Its codec.
    pub codec: Codec,
    /// Coded size from the bitstream, if it says.
    pub width: Option<u16>,
    /// Coded height.
    pub height: Option<u16>,
    /// The frame.
    pub data: std::sync::Arc<[u8]>,
}

/// A frame as str0m delivered it, without its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedFrame {
    /// The track's mid.
    pub track: String,
    /// Its codec.
    pub codec: Codec,
    /// A keyframe, by bitstream inspection.
    pub keyframe: bool,
    /// str0m saw no loss since the previous frame of this track.
    pub contiguous: bool,
    /// RTP time (extended).
    pub rtp_time: u64,
    /// Payload length.
    pub bytes: usize,
    /// FNV-1a of the payload (for determinism checks).
    pub digest: u64,
}
