//! The unit the session hands to the media layer: one depacketized frame of one track.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Codecs roomrec records without transcoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    /// H.264 / AVC, recorded to MPEG-TS.
    H264,
    /// VP8, recorded to WebM.
    Vp8,
    /// VP9, recorded to WebM.
    Vp9,
    /// AV1, recorded to WebM.
    Av1,
    /// Opus audio, in either container.
    Opus,
}

impl Codec {
    /// Audio for Opus, video for the rest.
    pub fn kind(self) -> TrackKind {
        match self {
            Codec::Opus => TrackKind::Audio,
            _ => TrackKind::Video,
        }
    }

    /// Lowercase name as used on the CLI (`--codec h264,vp8`) and in `preferVideoCodec`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::Vp8 => "vp8",
            Codec::Vp9 => "vp9",
            Codec::Av1 => "av1",
            Codec::Opus => "opus",
        }
    }

    /// Inverse of [`name`](Codec::name): case-insensitive, surrounding whitespace ignored,
    /// `avc` accepted for H.264.
    pub fn from_name(name: &str) -> Option<Codec> {
        match name.trim().to_ascii_lowercase().as_str() {
            "h264" | "avc" => Some(Codec::H264),
            "vp8" => Some(Codec::Vp8),
            "vp9" => Some(Codec::Vp9),
            "av1" => Some(Codec::Av1),
            "opus" => Some(Codec::Opus),
            _ => None,
        }
    }
}

/// Audio or video: decides keyframe gating, file grouping and the container.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// Opus.
    Audio,
    /// H.264, VP8, VP9 or AV1.
    Video,
}

/// Mapping of the sender's RTP clock to its wall clock, from the latest RTCP sender report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderClock {
    /// NTP time of the report, as wall-clock time.
    pub ntp_time: SystemTime,
    /// RTP time (same unwrapped timeline and clock rate as `MediaFrame::rtp_time`) of that instant.
    pub rtp_time: u64,
}

/// One depacketized frame (video access unit / temporal unit, or one Opus packet).
#[derive(Clone, Debug)]
pub struct MediaFrame {
    /// The m-line (`mid`) the frame came in on. Unique within a connection.
    pub track: String,
    /// Codec of `data`, from the payload type negotiated for the track.
    pub codec: Codec,
    /// RTP media time, unwrapped to 64 bits, in units of `clock_rate`.
    pub rtp_time: u64,
    /// 90000 for video, 48000 for Opus.
    pub clock_rate: u32,
    /// The frame can be decoded without any earlier frame (IDR / VP8-VP9 key frame / AV1 key frame
    /// with sequence header). Always true for audio.
    pub keyframe: bool,
    /// False when RTP packets were lost since the previous frame of this track.
    pub contiguous: bool,
    /// H.264: Annex-B with 4-byte start codes. VP8/VP9: raw frame. AV1: OBUs (low-overhead format).
    /// Opus: one packet.
    pub data: Arc<[u8]>,
    /// When the first packet of the frame was received (the caller's clock).
    pub received_at: Instant,
    /// Latest sender report of this track's RTP stream, if any arrived yet.
    pub sender_clock: Option<SenderClock>,
}
