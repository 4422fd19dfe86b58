//! Tiny synthetic tracks for tests that only care that frames flow (real encoded media is used
//! where files are checked).

use std::sync::Arc;

use roomrec_core::media::Codec;
use roomrec_core::publisher::{SourceFrame, Track};

/// 30 fps video with a keyframe every `gop` frames; payload bytes follow the VP8 keyframe bit
/// convention (`data[0] & 1 == 0` on keyframes), so depacketizers flag them.
pub fn video_track(codec: Codec, seconds: u32, gop: usize) -> Track {
    let count = seconds as usize * 30;
    let frames: Vec<SourceFrame> = (0..count)
        .map(|i| {
            let keyframe = i % gop == 0;
            let mut data = vec![(i % 251) as u8; if keyframe { 3000 } else { 600 }];
            data[0] = if keyframe { 0x10 } else { 0x11 };
            SourceFrame { data: data.into(), time: i as u64 * 3000, keyframe }
        })
        .collect();
    Track { codec, clock_rate: 90_000, frames: Arc::from(frames), period: count as u64 * 3000 }
}

/// 20 ms Opus-shaped packets (TOC byte of a 20 ms SILK/CELT frame, then filler).
pub fn audio_track(seconds: u32) -> Track {
    let count = seconds as usize * 50;
    let frames: Vec<SourceFrame> = (0..count)
        .map(|i| {
            let mut data = vec![(i % 256) as u8; 80];
            data[0] = 0xfc;
            SourceFrame { data: data.into(), time: i as u64 * 960, keyframe: true }
        })
        .collect();
    Track { codec: Codec::Opus, clock_rate: 48_000, frames: Arc::from(frames), period: count as u64 * 960 }
}
