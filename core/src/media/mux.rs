//! The contract every container writer meets: frames in, bytes out, patches on a clean finish.

use super::frame::Codec;

/// One track of a file. Track indexes are positions in the slice given to a muxer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackSpec {
    /// What the track carries.
    pub codec: Codec,
    /// Video: initial width in pixels (0 when unknown).
    pub width: u16,
    /// Video: initial height in pixels (0 when unknown).
    pub height: u16,
    /// Audio: channel count (Opus from WebRTC: 2).
    pub channels: u8,
    /// Audio: sample rate in Hz (Opus: 48000).
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
    /// Byte offset from the first byte the muxer wrote (its header).
    pub offset: u64,
    /// Replacement bytes; same length as what they overwrite.
    pub bytes: Vec<u8>,
}

/// A streaming container writer. Everything written to `out` is final and appended to the file in
/// order; nothing is held back longer than the muxer's own bounded buffering (see each impl).
///
/// # Call contract
///
/// The implementation's constructor ([`TsMuxer::new`](super::ts::TsMuxer::new),
/// [`WebmMuxer::with_config`](super::webm::WebmMuxer::with_config)) takes the tracks and writes the
/// file header to its `out`. Then, as the [`StreamRecorder`](super::StreamRecorder) drives it:
///
/// 1. [`write_frame`](Muxer::write_frame) for every frame. Within a track pts never decrease;
///    across tracks frames come close to pts order (the recorder interleaves them for up to
///    [`INTERLEAVE_HOLD`](super::recorder::INTERLEAVE_HOLD)) but may step back, which the
///    muxer must accept.
/// 2. [`tick`](Muxer::tick) at least once a second, frames or not.
/// 3. [`finish`](Muxer::finish) once, on a clean stop; nothing is called after it. A file that
///    never sees `finish` (crash, kill) must still play up to its last complete write.
///
/// Each call's `out` is appended to the file right after the previous one's, so the file is the
/// concatenation of all `out`s from the header on, and [`Patch`] offsets count from the header's
/// first byte. There is no clock: time is only the `pts_ns` and `now_ns` the caller passes. No
/// call may panic on any input: frame bytes come from the network.
pub trait Muxer: Send {
    /// Appends one frame of track `track` (an index into the constructor's `TrackSpec` slice; an
    /// unknown index is dropped). `pts_ns`: presentation time in ns on the file's timeline
    /// (0 = file start). `keyframe`: decodable on its own (always true for audio).
    fn write_frame(
        &mut self,
        track: usize,
        pts_ns: u64,
        keyframe: bool,
        data: &[u8],
        out: &mut Vec<u8>,
    );
    /// Called at least once a second with the current file time, so time-based output (PCR,
    /// cluster boundaries) keeps flowing while no frames arrive. `now_ns` never decreases and is
    /// never below a pts already written.
    fn tick(&mut self, now_ns: u64, out: &mut Vec<u8>);
    /// Clean stop: trailing bytes (Cues...) go to `out`, in-place fixes come back as patches,
    /// to be applied after `out` was appended.
    fn finish(&mut self, out: &mut Vec<u8>) -> Vec<Patch>;
}
