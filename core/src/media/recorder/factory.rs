//! The seam between the recorder and the container writers / bitstream inspection, so the
//! recorder's logic can be tested with a mock muxer.

use std::time::SystemTime;

use crate::media::codec;
use crate::media::frame::Codec;
use crate::media::mux::{Muxer, TrackSpec};
use crate::media::ts::TsMuxer;
use crate::media::webm::{WebmConfig, WebmMuxer};

/// The file format of one output file, chosen by its video codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Container {
    /// MPEG-TS: H.264 (+ Opus).
    Ts,
    /// WebM: VP8 / VP9 / AV1 (+ Opus), or Opus alone.
    Webm,
}

impl Container {
    /// The container for a file with this video codec (None: audio only).
    pub fn for_video(video: Option<Codec>) -> Container {
        match video {
            Some(Codec::H264) => Container::Ts,
            _ => Container::Webm,
        }
    }

    /// File name extension without the dot: `ts` or `webm`.
    pub fn extension(self) -> &'static str {
        match self {
            Container::Ts => "ts",
            Container::Webm => "webm",
        }
    }
}

/// Facts about a file being opened, for writers that record them (DateUTC).
#[derive(Clone, Debug)]
pub struct FileMeta {
    /// Wall-clock time of pts 0.
    pub start_wall: SystemTime,
}

/// Creates muxers and inspects keyframes. Implementations must not panic on any input.
pub trait MuxerFactory: Send {
    /// New muxer; its header bytes go to `out`. `tracks[0]` is the video track when there is one.
    fn create(
        &mut self,
        container: Container,
        tracks: &[TrackSpec],
        meta: &FileMeta,
        out: &mut Vec<u8>,
    ) -> Box<dyn Muxer>;
    /// Coded size of a video keyframe, if it carries one.
    fn video_resolution(&self, codec: Codec, data: &[u8]) -> Option<(u16, u16)>;
    /// Container codec header taken from the first keyframe (AV1: av1C).
    fn codec_private(&self, codec: Codec, keyframe: &[u8]) -> Option<Vec<u8>>;
}

/// The real writers: `TsMuxer` for H.264, `WebmMuxer` otherwise.
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultMuxers;

impl MuxerFactory for DefaultMuxers {
    fn create(
        &mut self,
        container: Container,
        tracks: &[TrackSpec],
        meta: &FileMeta,
        out: &mut Vec<u8>,
    ) -> Box<dyn Muxer> {
        match container {
            Container::Ts => Box::new(TsMuxer::new(tracks, out)),
            Container::Webm => {
                let config = WebmConfig {
                    date_utc: Some(meta.start_wall),
                    ..WebmConfig::default()
                };
                Box::new(WebmMuxer::with_config(tracks, config, out))
            }
        }
    }

    fn video_resolution(&self, codec: Codec, data: &[u8]) -> Option<(u16, u16)> {
        codec::video_resolution(codec, data)
    }

    fn codec_private(&self, codec: Codec, keyframe: &[u8]) -> Option<Vec<u8>> {
        match codec {
            Codec::Av1 => codec::av1_codec_private(keyframe),
            _ => None,
        }
    }
}
