//! Turning encoded media (fixture files) into looping publisher tracks.

use std::sync::Arc;

use super::{SourceFrame, Track};
use crate::media::source::{self, EncodedFrame, SourceError};
use crate::media::Codec;

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
