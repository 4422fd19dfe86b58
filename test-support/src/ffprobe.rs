//! ffprobe's view of a file: streams, decoded frame counts, packet times and frame sizes as an
//! independent demuxer and decoder sees them.

use std::path::Path;

use serde_json::Value;

use crate::tool::{arg, run, text};

/// One stream as `ffprobe -count_frames` reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// `codec_name`: h264, vp8, opus...
    pub codec: String,
    /// `codec_type`: video or audio.
    pub kind: String,
    /// Frames ffprobe decoded (`nb_read_frames`); 0 when it reports none.
    pub frames: u64,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub channels: Option<u64>,
    /// Seconds from the first to the last packet start.
    pub duration: Option<f64>,
    pub start_time: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Probe {
    pub streams: Vec<Stream>,
    /// The container's duration in seconds; none in a file cut before its end was written.
    pub duration: Option<f64>,
    /// ffprobe's complaints at `-v error`: empty for a clean file.
    pub stderr: String,
}

impl Probe {
    /// The first stream of `kind` (video, audio).
    pub fn stream(&self, kind: &str) -> Option<&Stream> {
        self.streams.iter().find(|s| s.kind == kind)
    }

    /// Decoded frames of the first stream of `kind`; 0 without one.
    pub fn frames(&self, kind: &str) -> u64 {
        self.stream(kind).map_or(0, |s| s.frames)
    }

    /// The stream of `codec` (h264, opus...); a test fails without one.
    pub fn codec(&self, codec: &str) -> &Stream {
        self.streams
            .iter()
            .find(|s| s.codec == codec)
            .unwrap_or_else(|| panic!("no {codec} stream in {self:?}"))
    }

    /// (codec, decoded frames, width, height) per stream in file order, 0 for a size that does not
    /// apply: the whole file in one value to compare.
    pub fn codec_frames_and_size(&self) -> Vec<(&str, u64, u64, u64)> {
        self.streams
            .iter()
            .map(|s| {
                (
                    s.codec.as_str(),
                    s.frames,
                    s.width.unwrap_or(0),
                    s.height.unwrap_or(0),
                )
            })
            .collect()
    }
}

/// Streams, decoded frame counts and durations (`ffprobe -count_frames`); ffprobe must succeed.
pub fn probe(path: &Path) -> Probe {
    let (json, stderr) = ffprobe_json(
        path,
        &[
            "-count_frames",
            "-show_entries",
            "stream=codec_name,codec_type,nb_read_frames,width,height,channels,duration,start_time\
             :format=duration",
        ],
    );
    let streams = json["streams"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|s| Stream {
                    codec: s["codec_name"].as_str().unwrap_or("").to_string(),
                    kind: s["codec_type"].as_str().unwrap_or("").to_string(),
                    frames: count(&s["nb_read_frames"]),
                    width: s["width"].as_u64(),
                    height: s["height"].as_u64(),
                    channels: s["channels"].as_u64(),
                    duration: seconds_in(&s["duration"]),
                    start_time: seconds_in(&s["start_time"]),
                })
                .collect()
        })
        .unwrap_or_default();
    Probe {
        streams,
        duration: seconds_in(&json["format"]["duration"]),
        stderr,
    }
}

/// ffprobe writes counts as strings; absent is 0, anything else not a count is a failure.
fn count(v: &Value) -> u64 {
    if v.is_null() {
        return 0;
    }
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("ffprobe count {v} is not a number"))
}

/// ffprobe writes times as strings, "N/A" when unknown.
fn seconds_in(v: &Value) -> Option<f64> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_f64())
}

/// Keyframe flag of every packet in file order (what the demuxer marks K).
pub fn keyframe_flags(path: &Path) -> Vec<bool> {
    entries(path, None, &[], "packet=flags")
        .iter()
        .map(|p| p["flags"].as_str().is_some_and(|f| f.contains('K')))
        .collect()
}

/// Packet times (s) of the streams `select` picks ("0", "v", "a"), in file order; no decoding.
pub fn packet_times(path: &Path, select: &str) -> Vec<f64> {
    entries(path, Some(select), &[], "packet=pts_time")
        .iter()
        .filter_map(|p| seconds_in(&p["pts_time"]))
        .collect()
}

/// Time (s) of the first packet read after seeking the streams `select` picks to `seconds`:
/// where a player's seek lands.
pub fn first_packet_after_seek(path: &Path, select: &str, seconds: f64) -> Option<f64> {
    let interval = format!("{seconds}%+#1");
    let packets = entries(
        path,
        Some(select),
        &["-read_intervals", &interval],
        "packet=pts_time",
    );
    packets.first().and_then(|p| seconds_in(&p["pts_time"]))
}

/// (width, height) of every decoded video frame, in order.
pub fn frame_sizes(path: &Path) -> Vec<(u64, u64)> {
    entries(path, Some("v"), &[], "frame=width,height")
        .iter()
        .map(|f| match (f["width"].as_u64(), f["height"].as_u64()) {
            (Some(w), Some(h)) => (w, h),
            _ => panic!("ffprobe frame without a size: {f}"),
        })
        .collect()
}

/// The container's `creation_time` tag (WebM DateUTC), if any.
pub fn creation_time(path: &Path) -> Option<String> {
    let (json, _) = ffprobe_json(path, &["-show_entries", "format_tags=creation_time"]);
    json["format"]["tags"]["creation_time"]
        .as_str()
        .map(str::to_string)
}

/// Every packet or frame (`section=fields`) of the streams `select` picks, in order. JSON, not
/// CSV: in CSV side data adds lines of its own.
fn entries(path: &Path, select: Option<&str>, options: &[&str], section: &str) -> Vec<Value> {
    let mut args = Vec::new();
    if let Some(select) = select {
        args.extend(["-select_streams", select]);
    }
    args.extend_from_slice(options);
    args.extend(["-show_entries", section]);
    let (json, _) = ffprobe_json(path, &args);
    let list = if section.starts_with("frame=") {
        "frames"
    } else {
        "packets"
    };
    json[list].as_array().cloned().unwrap_or_default()
}

/// `ffprobe -v error OPTIONS -of json FILE`, which must succeed: its output and its complaints.
fn ffprobe_json(path: &Path, options: &[&str]) -> (Value, String) {
    let mut args = vec!["-v", "error"];
    args.extend_from_slice(options);
    args.extend(["-of", "json", arg(path)]);
    let out = run("ffprobe", &args);
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "ffprobe {options:?} failed on {}: {stderr}",
        path.display()
    );
    let json = serde_json::from_slice(&out.stdout).expect("ffprobe prints JSON");
    (json, stderr)
}
