//! Whatever frames arrive (garbage, any track, any time), the muxer emits whole, well-formed packets.

mod ts_support;

use proptest::prelude::*;
use roomrec_core::media::ts::TsMuxer;
use roomrec_core::media::{Codec, Muxer, TrackSpec};
use roomrec_test_support::ts;

fn spec(codec: Codec) -> TrackSpec {
    TrackSpec {
        codec,
        width: 0,
        height: 0,
        channels: 0,
        sample_rate: 0,
        codec_private: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn garbage_frames_make_valid_packets(
        with_video in any::<bool>(),
        ops in proptest::collection::vec(
            (0usize..3, any::<u64>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..600), any::<bool>()),
            0..40,
        ),
    ) {
        let tracks = if with_video { vec![spec(Codec::H264), spec(Codec::Opus)] } else { vec![spec(Codec::Opus), spec(Codec::Vp8)] };
        let mut out = Vec::new();
        let mut mux = TsMuxer::new(&tracks, &mut out);
        for (track, pts, key, mut data, annexb) in ops {
            if annexb {
                data.splice(0..0, [0, 0, 0, 1]);
            }
            mux.write_frame(track, pts, key, &data, &mut out);
            mux.tick(pts, &mut out);
            prop_assert_eq!(out.len() % 188, 0);
        }
        prop_assert!(mux.finish(&mut out).is_empty());
        let packets = ts::packets(&out).map_err(TestCaseError::fail)?;
        ts::check_continuity(&packets).map_err(TestCaseError::fail)?;
    }
}
