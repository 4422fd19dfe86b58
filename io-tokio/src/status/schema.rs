//! The one schema every live view shares: JSON-lines events (`--events`, `/events`), the guest
//! rows of the table, `/status` and the page. `docs/EVENTS.md` documents it; bump
//! [`EVENTS_VERSION`] on any change a reader could notice.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `v` field of every event line and of `/status`.
pub const EVENTS_VERSION: u32 = 1;

/// One line of the event stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventLine {
    /// [`EVENTS_VERSION`].
    pub v: u32,
    /// 1, 2, 3... in emission order within one run.
    pub seq: u64,
    /// Wall clock, RFC 3339 UTC with ms.
    pub time: String,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened. `connection` is the recorder's number for one publisher connection (a guest
/// who rejoins gets a new one); `stream_id` the publisher's stream id.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    RecorderStarted {
        room: String,
        server: String,
        output_dir: String,
        version: String,
    },
    /// A publisher offered a connection.
    GuestJoined {
        connection: u64,
        stream_id: String,
        label: Option<String>,
    },
    /// A file was opened for the guest.
    RecordingStarted {
        connection: u64,
        stream_id: String,
        file: String,
        video_codec: Option<String>,
        audio_codec: Option<String>,
    },
    ResolutionChanged {
        connection: u64,
        stream_id: String,
        width: u32,
        height: u32,
    },
    /// Video is held back until a keyframe; the recorder asked the publisher for one.
    KeyframeWait {
        connection: u64,
        stream_id: String,
        track: String,
    },
    /// ICE lost the publisher (files stay open for a grace period).
    ConnectionLost {
        connection: u64,
        stream_id: String,
        reason: String,
    },
    /// ICE is back after `connection_lost`, within the grace period.
    ConnectionRestored { connection: u64, stream_id: String },
    /// The connection ended; its files are finalized.
    GuestLeft {
        connection: u64,
        stream_id: String,
        reason: String,
    },
    /// A file is complete. `path` is the file on disk, `bytes` its size, `finalized` whether its
    /// end was written cleanly (headers patched, synced); `record` is its manifest record.
    FileClosed {
        connection: Option<u64>,
        path: String,
        bytes: u64,
        finalized: bool,
        record: Value,
    },
    /// Something failed that the user should know about (a file that could not be created or
    /// written); the recording goes on.
    Error {
        connection: Option<u64>,
        message: String,
        /// The file concerned, if any.
        #[serde(default)]
        path: Option<String>,
    },
    /// The last event of a run.
    Stopped { reason: String },
}

/// Where a guest's connection is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuestState {
    /// Offer received, ICE/DTLS not up yet.
    #[default]
    Connecting,
    /// Connected, no file yet (waiting for media or a keyframe).
    Waiting,
    Recording,
    /// ICE lost the publisher; may come back.
    Lost,
    /// Ended; kept a while so the views show who left.
    Left,
}

/// One guest as the live views show it. Rates are over the last stats interval (about 1 s).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GuestStatus {
    pub connection: u64,
    pub stream_id: String,
    pub label: Option<String>,
    pub state: GuestState,
    pub video_codec: Option<String>,
    pub audio_codec: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub frame_rate: Option<f64>,
    /// Media bits per second received.
    pub bitrate_bps: u64,
    /// RTP packets received and lost (cumulative, all tracks).
    pub packets_received: u64,
    pub packets_lost: u64,
    /// Loss over the last interval, 0..=100.
    pub loss_percent: f64,
    pub rtt_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
    /// Latest RTP audio level (RFC 6464): 0 dBov loudest, -127 silence.
    pub audio_level_dbov: Option<i8>,
    /// Media bytes received (cumulative).
    pub bytes_received: u64,
    /// Frames written to the file (video + audio).
    pub frames_written: u64,
    pub keyframe_requests: u64,
    /// Video keyframes received (cumulative).
    #[serde(default)]
    pub keyframes_received: u64,
    /// Video is held back until a keyframe arrives (see the `keyframe_wait` event).
    #[serde(default)]
    pub waiting_for_keyframe: bool,
    /// Current file path (as created on disk) and its size so far.
    pub file: Option<String>,
    pub file_bytes: u64,
    /// File time recorded so far.
    pub recorded_seconds: f64,
    /// Why it ended (state `left`).
    pub reason: Option<String>,
}

/// The whole recorder at one moment (`/status`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusSnapshot {
    pub v: u32,
    pub room: String,
    pub started: String,
    pub uptime_seconds: f64,
    /// Guests, ordered by connection number; those that left stay listed for a while.
    pub guests: Vec<GuestStatus>,
    pub files_closed: u64,
}

/// The latest keyframe of a guest's video, for a thumbnail decoded by the viewer (WebCodecs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thumbnail {
    /// `h264` (Annex B with SPS/PPS), `vp8`, `vp9` or `av1` (a temporal unit).
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}
