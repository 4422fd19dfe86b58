//! Shared helpers for the codec and TS tests: fixtures, the H.264 track spec, a muxer driver. The files
//! are checked with `roomrec_test_support` (ffprobe, ffmpeg, its TS reader).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use roomrec_core::media::{Codec, TrackSpec};
use roomrec_testpeer::source::{read_h264_annexb, EncodedFrame};

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The 320x240 H.264 fixture's track.
pub fn h264_spec() -> TrackSpec {
    TrackSpec {
        codec: Codec::H264,
        width: 320,
        height: 240,
        channels: 0,
        sample_rate: 0,
        codec_private: None,
    }
}

/// The 320x240 30 fps H.264 fixture, one frame per access unit.
pub fn h264_frames() -> Vec<EncodedFrame> {
    read_h264_annexb(&fixture("h264-320x240-30fps.h264"), 30)
}

/// One input to a muxer in a test timeline.
#[derive(Clone, Debug)]
pub enum Event {
    Frame {
        track: usize,
        pts_ns: u64,
        keyframe: bool,
        data: Vec<u8>,
    },
    Tick {
        now_ns: u64,
    },
}

impl Event {
    pub fn time(&self) -> u64 {
        match self {
            Event::Frame { pts_ns, .. } => *pts_ns,
            Event::Tick { now_ns } => *now_ns,
        }
    }
}

/// Frames of a reader (clock `rate`) as events of `track`, shifted by `offset_ns`.
pub fn frame_events(
    track: usize,
    rate: u64,
    offset_ns: u64,
    frames: &[roomrec_testpeer::source::EncodedFrame],
) -> Vec<Event> {
    frames
        .iter()
        .map(|f| Event::Frame {
            track,
            pts_ns: offset_ns + f.time * 1_000_000_000 / rate,
            keyframe: f.keyframe,
            data: f.data.clone(),
        })
        .collect()
}

/// Feeds events (stable-sorted by time) to a muxer; returns the bytes and, per frame event, the
/// file length right after it was written.
pub fn run_muxer(
    mux: &mut dyn roomrec_core::media::Muxer,
    mut out: Vec<u8>,
    mut events: Vec<Event>,
) -> (Vec<u8>, Vec<usize>) {
    events.sort_by_key(Event::time);
    let mut ends = Vec::new();
    for ev in events {
        match ev {
            Event::Frame {
                track,
                pts_ns,
                keyframe,
                data,
            } => {
                mux.write_frame(track, pts_ns, keyframe, &data, &mut out);
                ends.push(out.len());
            }
            Event::Tick { now_ns } => mux.tick(now_ns, &mut out),
        }
    }
    let patches = mux.finish(&mut out);
    assert!(patches.is_empty());
    (out, ends)
}
