//! Looping publisher tracks, and turning encoded media (fixture files) into them.

use std::sync::Arc;

use roomrec_core::media::Codec;

use crate::source::{self, EncodedFrame, SourceError};

/// One encoded frame of a source, with its time in the track's clock.
#[derive(Clone, Debug)]
pub struct SourceFrame {
    /// The encoded frame as str0m's writer takes it (H.264 with 4-byte start codes).
    pub data: Arc<[u8]>,
    /// Time of the frame in clock units from the start of the loop.
    pub time: u64,
    /// Whether a decoder can start here (video waits for one after (re)starting).
    pub keyframe: bool,
}

/// A looping media source.
#[derive(Clone, Debug)]
pub struct Track {
    /// The codec the frames are in.
    pub codec: Codec,
    /// 90000 for video, 48000 for Opus.
    pub clock_rate: u32,
    /// The frames of one loop, in time order.
    pub frames: Arc<[SourceFrame]>,
    /// Length of one loop in clock units (the time of the frame after the last).
    pub period: u64,
}

impl Track {
    /// A looping track from frames in clock units (`clock_rate`).
    pub fn from_frames(
        codec: Codec,
        clock_rate: u32,
        frames: Vec<EncodedFrame>,
    ) -> Result<Track, SourceError> {
        let last = frames.last().ok_or(SourceError::Invalid("no frames"))?;
        let period = last.time + last.duration.max(1);
        let frames: Vec<SourceFrame> = frames
            .into_iter()
            .map(|f| SourceFrame {
                data: f.data.into(),
                time: f.time,
                keyframe: f.keyframe,
            })
            .collect();
        Ok(Track {
            codec,
            clock_rate,
            frames: Arc::from(frames),
            period,
        })
    }

    /// VP8/VP9/AV1 from an IVF file.
    pub fn from_ivf(bytes: &[u8]) -> Result<Track, SourceError> {
        let (codec, _rate, frames) = source::read_ivf(bytes)?;
        Track::from_frames(codec, 90_000, frames)
    }

    /// H.264 from an Annex-B elementary stream at `fps`.
    pub fn from_h264(bytes: &[u8], fps: u32) -> Result<Track, SourceError> {
        Track::from_frames(Codec::H264, 90_000, source::read_h264_annexb(bytes, fps))
    }

    /// Opus from an Ogg file.
    pub fn from_ogg_opus(bytes: &[u8]) -> Result<Track, SourceError> {
        Track::from_frames(Codec::Opus, 48_000, source::read_ogg_opus(bytes)?)
    }
}
