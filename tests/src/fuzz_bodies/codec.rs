//! `codec_parse`: bitstream inspection and the media source readers on arbitrary bytes.

use roomrec_core::media::codec::{
    av1_codec_private, is_keyframe, opus_packet_samples, video_resolution,
};
use roomrec_core::media::Codec;
use roomrec_testpeer::source::{read_h264_annexb, read_ivf, read_ogg_opus};

const CODECS: [Codec; 5] = [Codec::H264, Codec::Vp8, Codec::Vp9, Codec::Av1, Codec::Opus];

/// The whole input is one frame for every codec, and one file for every reader.
pub fn codec_parse(data: &[u8]) {
    for codec in CODECS {
        let key = is_keyframe(codec, data);
        let size = video_resolution(codec, data);
        if codec == Codec::Opus {
            assert!(key, "every Opus packet is a keyframe");
            assert!(size.is_none(), "audio has no resolution");
        }
        if let Some((w, h)) = size {
            assert!(
                w > 0 && h > 0,
                "{codec:?}: resolution {w}x{h} must not be zero"
            );
        }
    }
    if let Some(av1c) = av1_codec_private(data) {
        // av1C: marker bit + version 1, then the sequence header OBU.
        assert!(av1c.len() > 4, "av1C too short: {av1c:?}");
        assert_eq!(av1c[0], 0x81, "av1C marker/version");
    }
    if let Some(samples) = opus_packet_samples(data) {
        assert!(
            samples > 0 && samples <= 5760,
            "Opus packet of {samples} samples"
        );
    }
    let _ = read_ivf(data);
    let _ = read_ogg_opus(data);
    for fps in [0, 30] {
        let _ = read_h264_annexb(data, fps);
    }
}
