//! Track specs both muxers' tests use; `ts_support` includes this file too.

use roomrec_core::media::{Codec, TrackSpec};

/// Stereo 48 kHz Opus, as WebRTC sends it.
pub fn opus_spec() -> TrackSpec {
    TrackSpec {
        codec: Codec::Opus,
        width: 0,
        height: 0,
        channels: 2,
        sample_rate: 48_000,
        codec_private: None,
    }
}
