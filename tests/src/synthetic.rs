//! Tiny synthetic tracks for tests that only care that frames flow (real encoded media is used
//! where files are checked).

use std::sync::Arc;

use roomrec_core::media::Codec;
use roomrec_testpeer::{SourceFrame, Track};

/// 30 fps video with a keyframe every `gop` frames; payload bytes follow the VP8 keyframe bit
/// convention (`data[0] & 1 == 0` on keyframes), so depacketizers flag them.
pub fn video_track(codec: Codec, seconds: u32, gop: usize) -> Track {
    video_track_sized(codec, seconds, gop, 3000, 600)
}

/// 20 ms Opus-shaped packets (TOC byte of a 20 ms SILK/CELT frame, then filler).
pub fn audio_track(seconds: u32) -> Track {
    let count = seconds as usize * 50;
    let frames: Vec<SourceFrame> = (0..count)
        .map(|i| {
            let mut data = vec![(i % 256) as u8; 80];
            data[0] = 0xfc;
            SourceFrame {
                data: data.into(),
                time: i as u64 * 960,
                keyframe: true,
            }
        })
        .collect();
    Track {
        codec: Codec::Opus,
        clock_rate: 48_000,
        frames: Arc::from(frames),
        period: count as u64 * 960,
    }
}

/// Like [`video_track`] with other frame sizes: a stand-in for a resolution change when the
/// payload is not real video.
pub fn video_track_sized(
    codec: Codec,
    seconds: u32,
    gop: usize,
    key_size: usize,
    delta_size: usize,
) -> Track {
    let count = seconds as usize * 30;
    let frames: Vec<SourceFrame> = (0..count)
        .map(|i| {
            let keyframe = i % gop == 0;
            let mut data = vec![(i % 251) as u8; if keyframe { key_size } else { delta_size }];
            data[0] = if keyframe { 0x10 } else { 0x11 };
            SourceFrame {
                data: data.into(),
                time: i as u64 * 3000,
                keyframe,
            }
        })
        .collect();
    Track {
        codec,
        clock_rate: 90_000,
        frames: Arc::from(frames),
        period: count as u64 * 3000,
    }
}

const VP8_SMALL: &[u8] = include_bytes!("../../core/fixtures/vp8-320x240-30fps.ivf");
const H264_SMALL: &[u8] = include_bytes!("../../core/fixtures/h264-320x240-30fps.h264");
const VP8_LARGE: &[u8] = include_bytes!("../fixtures/media/vp8-640x480-30fps.ivf");
const H264_LARGE: &[u8] = include_bytes!("../fixtures/media/h264-640x480-30fps.h264");
const OPUS: &[u8] = include_bytes!("../../core/fixtures/opus-48k-stereo-20ms.ogg");

/// Real encoded video from the fixtures: 320x240, or 640x480 when `large` (VP8 and H.264 only).
pub fn fixture_video(codec: Codec, large: bool) -> Option<Track> {
    let track = match (codec, large) {
        (Codec::Vp8, false) => Track::from_ivf(VP8_SMALL),
        (Codec::Vp8, true) => Track::from_ivf(VP8_LARGE),
        (Codec::H264, false) => Track::from_h264(H264_SMALL, 30),
        (Codec::H264, true) => Track::from_h264(H264_LARGE, 30),
        _ => return None,
    };
    Some(track.expect("fixture parses"))
}

/// Real Opus from the fixtures.
pub fn fixture_audio() -> Track {
    Track::from_ogg_opus(OPUS).expect("fixture parses")
}
