//! The contract every container writer meets: frames in, bytes out, patches on a clean finish.

use super::frame::Codec;

/// One track of a file. Track indexes are positions in the slice given to a muxer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackSpec {
    pub codec: Codec,
    /// Video: initial resolution (0 when unknown).
    pub width: u16,
    pub height: u16,
    /// Audio: channels and sample rate (Opus: 2 / 48000).
    pub channels: u8,
    pub sample_rate: u32,
    /// Codec-specific header (AV1: av1C record) when the container needs one.
    pub codec_private: Option<Vec<u8>>,
}

impl TrackSpec {
    /// Opus as WebRTC sends it: stereo, 48 kHz.
    pub fn webrtc_opus() -> TrackSpec {
        TrackSpec {
            codec: Codec::Opus,
            width: 0,
            height: 0,
            channels: 2,
            sample_rate: 48_000,
            codec_private: None,
        }
    }
}

/// Bytes to overwrite at an absolute file offset after everything was written (Duration, sizes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patch {
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// A streaming container writer. Everything written to `out` is final and appended to the file in
/// order; nothing is held back longer than the muxer's own bounded buffering (see each impl).
pub trait Muxer: Send {
    /// `pts_ns`: presentation time in ns on the file's timeline (0 = file start), never negative.
    fn write_frame(
        &mut self,
        track: usize,
        pts_ns: u64,
        keyframe: bool,
        data: &[u8],
        out: &mut Vec<u8>,
    );
    /// Called at least once a second with the current file time, so time-based output (PCR,
    /// cluster boundaries) keeps flowing while no frames arrive.
    fn tick(&mut self, now_ns: u64, out: &mut Vec<u8>);
    /// Clean stop: trailing bytes (Cues...) go to `out`, in-place fixes come back as patches.
    fn finish(&mut self, out: &mut Vec<u8>) -> Vec<Patch>;
}
