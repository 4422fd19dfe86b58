//! Garbage and mutated real frames never panic the bitstream parsers or the readers.

mod ts_support;

use proptest::prelude::*;
use roomrec_core::media::codec::{
    av1_codec_private, is_keyframe, opus_packet_samples, video_resolution,
};
use roomrec_core::media::Codec;
use roomrec_testpeer::source::{read_h264_annexb, read_ivf, read_ogg_opus};
use std::sync::OnceLock;

const CODECS: [Codec; 5] = [Codec::H264, Codec::Vp8, Codec::Vp9, Codec::Av1, Codec::Opus];

fn inspect_all(data: &[u8]) {
    for codec in CODECS {
        let _ = is_keyframe(codec, data);
        let _ = video_resolution(codec, data);
    }
    let _ = av1_codec_private(data);
    let _ = opus_packet_samples(data);
}

/// First key frame of each video fixture: mutating real headers reaches deep parser paths.
fn seeds() -> &'static Vec<Vec<u8>> {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut v = Vec::new();
        for name in [
            "vp8-320x240-30fps.ivf",
            "vp9-320x240-30fps.ivf",
            "av1-320x240-30fps.ivf",
        ] {
            let (_, _, frames) = read_ivf(&ts_support::fixture(name)).unwrap();
            v.push(frames[0].data[..frames[0].data.len().min(256)].to_vec());
        }
        let h264 = read_h264_annexb(&ts_support::fixture("h264-320x240-30fps.h264"), 30);
        v.push(h264[0].data[..h264[0].data.len().min(256)].to_vec());
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        inspect_all(&data);
        let _ = read_h264_annexb(&data, 30);
        let _ = read_ivf(&data);
        let _ = read_ogg_opus(&data);
    }

    #[test]
    fn mutated_headers_never_panic(
        seed in 0usize..4,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut data = seeds()[seed].clone();
        for (at, xor) in flips {
            let i = at % data.len();
            data[i] ^= xor;
        }
        data.truncate(cut % (data.len() + 1));
        inspect_all(&data);
    }

    #[test]
    fn structured_prefixes_never_panic(
        prefix in prop_oneof![
            Just(b"DKIF\0\0\x20\0VP80".to_vec()),
            Just(b"OggS\0\x02".to_vec()),
            Just(vec![0, 0, 0, 1, 0x67]),
            Just(vec![0x0a, 0x0b]),
        ],
        tail in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut data = prefix;
        data.extend(tail);
        inspect_all(&data);
        let _ = read_ivf(&data);
        let _ = read_ogg_opus(&data);
        let _ = read_h264_annexb(&data, 0);
    }
}
