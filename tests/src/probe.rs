//! Independent checks of recorded files with ffprobe / ffmpeg (never by file size).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct StreamInfo {
    pub codec: String,
    pub kind: String,
    pub frames: u64,
    pub width: Option<u64>,
    pub height: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct ProbeInfo {
    pub streams: Vec<StreamInfo>,
    pub duration: Option<f64>,
}

impl ProbeInfo {
    pub fn stream(&self, kind: &str) -> Option<&StreamInfo> {
        self.streams.iter().find(|s| s.kind == kind)
    }
}

/// `ffprobe -count_frames`: codecs, decoded frame counts, resolution and duration.
pub fn probe(path: &Path) -> ProbeInfo {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-show_entries"])
        .arg("stream=codec_name,codec_type,nb_read_frames,width,height:format=duration")
        .args(["-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe must be installed (apt-get install ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("ffprobe prints JSON");
    let num = |v: &Value| {
        v.as_str()
            .and_then(|s| s.parse::<f64>().ok())
            .or_else(|| v.as_f64())
    };
    let streams = json["streams"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|s| StreamInfo {
                    codec: s["codec_name"].as_str().unwrap_or("").to_string(),
                    kind: s["codec_type"].as_str().unwrap_or("").to_string(),
                    frames: num(&s["nb_read_frames"]).unwrap_or(0.0) as u64,
                    width: s["width"].as_u64(),
                    height: s["height"].as_u64(),
                })
                .collect()
        })
        .unwrap_or_default();
    ProbeInfo {
        streams,
        duration: num(&json["format"]["duration"]),
    }
}

/// What `ffmpeg -v error -i FILE -f null -` prints (empty = clean decode).
pub fn decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg must be installed (apt-get install ffmpeg)");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Recorded media files in `dir` whose name starts with `prefix`, sorted by name.
pub fn media_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.starts_with(prefix) && (name.ends_with(".ts") || name.ends_with(".webm"))
    });
    files.sort();
    files
}
