//! Shared helpers for the codec and TS tests: fixtures, ffmpeg-generated media, ffprobe.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use roomrec_core::media::source::{read_h264_annexb, EncodedFrame};
use roomrec_core::media::{Codec, TrackSpec};

pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
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

/// Stereo 48 kHz Opus, as WebRTC sends it.
pub fn opus_spec() -> TrackSpec {
    TrackSpec {
        codec: Codec::Opus,
        width: 0,
        height: 0,
        channels: 2,
        sample_rate: 48000,
        codec_private: None,
    }
}

/// The 320x240 30 fps H.264 fixture, one frame per access unit.
pub fn h264_frames() -> Vec<EncodedFrame> {
    read_h264_annexb(&fixture("h264-320x240-30fps.h264"), 30)
}

/// A fresh path in cargo's per-target temp dir.
pub fn tmp_path(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("roomrec-ts-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// Runs `ffmpeg -v error -y ARGS OUT` and returns the bytes of OUT.
pub fn ffmpeg_generate(args: &str, out_name: &str) -> Vec<u8> {
    let out = tmp_path(out_name);
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args.split_whitespace())
        .arg(&out)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg {args} failed");
    std::fs::read(&out).unwrap()
}

pub fn ffprobe(path: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .arg("stream=codec_name,nb_read_frames,width,height,channels,duration:format=duration")
        .args(["-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    assert!(
        out.status.success(),
        "ffprobe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Stream entry of `codec` in ffprobe output.
pub fn stream<'a>(probe: &'a serde_json::Value, codec: &str) -> &'a serde_json::Value {
    probe["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["codec_name"] == codec)
        .unwrap_or_else(|| panic!("no {codec} stream in {probe}"))
}

pub fn num(v: &serde_json::Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_f64())
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

/// stderr of a full decode (`ffmpeg -v error -i FILE -f null -`); empty means a clean decode.
pub fn decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Keyframe flags per packet as ffprobe sees them.
pub fn ffprobe_keyframes(path: &Path) -> Vec<bool> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "packet=flags",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.contains('K'))
        .collect()
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
    frames: &[roomrec_core::media::source::EncodedFrame],
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
pub mod tsparse;
