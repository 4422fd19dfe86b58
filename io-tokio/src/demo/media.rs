//! Real encoded media bundled into the binary (generated with ffmpeg, see core/fixtures/README.md),
//! so `roomrec demo` records real H.264/VP8/VP9/AV1 + Opus on a machine without any media tools.

use roomrec_core::media::Codec;
use roomrec_testpeer::Track;

const H264: &[u8] = include_bytes!("../../../core/fixtures/h264-320x240-30fps.h264");
const VP8: &[u8] = include_bytes!("../../../core/fixtures/vp8-320x240-30fps.ivf");
const VP9: &[u8] = include_bytes!("../../../core/fixtures/vp9-320x240-30fps.ivf");
const AV1: &[u8] = include_bytes!("../../../core/fixtures/av1-320x240-30fps.ivf");
const OPUS: &[u8] = include_bytes!("../../../core/fixtures/opus-48k-stereo-20ms.ogg");

/// A looping 320x240@30 video track of `codec`.
pub fn video(codec: Codec) -> Track {
    let track = match codec {
        Codec::H264 => Track::from_h264(H264, 30),
        Codec::Vp8 => Track::from_ivf(VP8),
        Codec::Vp9 => Track::from_ivf(VP9),
        Codec::Av1 => Track::from_ivf(AV1),
        Codec::Opus => return audio(),
    };
    track.expect("bundled fixtures parse")
}

/// A looping 48 kHz stereo Opus track (440 Hz tone).
pub fn audio() -> Track {
    Track::from_ogg_opus(OPUS).expect("bundled fixture parses")
}
