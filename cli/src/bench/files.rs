//! What the recorder wrote, checked against what the load generator sent: packets per file
//! counted by ffprobe (independent of the recorder), files matched to publisher sessions through
//! the manifest, join → file creation latency, ffmpeg decode checks.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use serde_json::Value;

/// One publisher session as loadgen reported it (a `session` line).
#[derive(Clone, Debug)]
pub struct Sent {
    pub stream: String,
    pub join_unix_ms: i64,
    pub video: u64,
    /// Audio sent from the first video frame on.
    pub audio_after_video: u64,
}

impl Sent {
    pub fn from_line(v: &Value) -> Option<Sent> {
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        v.get("first_video_unix_ms")?.as_i64()?;
        Some(Sent {
            stream: v.get("stream")?.as_str()?.to_string(),
            join_unix_ms: v.get("join_unix_ms")?.as_i64()?,
            video: n("video_frames"),
            audio_after_video: n("audio_frames").saturating_sub(n("audio_before_video")),
        })
    }
}

/// One recorded file.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: PathBuf,
    pub stream: String,
    pub start_unix_ms: i64,
    /// ffprobe's packet counts.
    pub video: u64,
    pub audio: u64,
    /// When the file came into being (birth time; the manifest's start where the filesystem
    /// keeps none).
    pub created_unix_ms: i64,
}

/// The files listed in the manifest `{prefix}_manifest.json` of `dir`, probed.
pub fn recorded(dir: &Path, prefix: &str) -> Result<Vec<Recorded>, String> {
    let manifest = dir.join(format!("{prefix}_manifest.json"));
    let text =
        std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| format!("manifest: {e}"))?;
    let files = doc.get("files").and_then(Value::as_array).cloned();
    let mut out = Vec::new();
    for f in files.unwrap_or_default() {
        let (Some(name), Some(stream), Some(start)) = (
            f.get("file").and_then(Value::as_str),
            f.get("stream_id").and_then(Value::as_str),
            f.get("start_unix_ms").and_then(Value::as_i64),
        ) else {
            continue;
        };
        let path = dir.join(name);
        let (video, audio) = count_packets(&path)?;
        let created_unix_ms = std::fs::metadata(&path)
            .and_then(|m| m.created())
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(start, |d| d.as_millis() as i64);
        out.push(Recorded {
            path,
            stream: stream.to_string(),
            start_unix_ms: start,
            video,
            audio,
            created_unix_ms,
        });
    }
    Ok(out)
}

/// (video, audio) packets in a file, counted by ffprobe.
pub fn count_packets(path: &Path) -> Result<(u64, u64), String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_packets", "-show_entries"])
        .args(["stream=codec_type,nb_read_packets", "-of", "json"])
        .arg(path)
        .output()
        .map_err(|e| format!("cannot run ffprobe: {e}"))?;
    let doc: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("ffprobe {}: {e}", path.display()))?;
    let (mut video, mut audio) = (0, 0);
    for s in doc["streams"].as_array().cloned().unwrap_or_default() {
        let n = s["nb_read_packets"]
            .as_str()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        match s["codec_type"].as_str() {
            Some("video") => video += n,
            Some("audio") => audio += n,
            _ => {}
        }
    }
    Ok((video, audio))
}

/// ffmpeg's decode errors for a file (empty: it decodes cleanly).
pub fn decode_errors(path: &Path) -> Result<String, String> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .map_err(|e| format!("cannot run ffmpeg: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stderr).trim().to_string())
}

/// Frames sent vs frames in files, over sessions matched to the files that recorded them.
#[derive(Clone, Debug, Default)]
pub struct Accounting {
    pub sessions: usize,
    /// Sessions with no file, files with no session.
    pub unrecorded: usize,
    pub unmatched_files: usize,
    pub video_sent: u64,
    pub video_in_files: u64,
    pub audio_sent: u64,
    pub audio_in_files: u64,
    /// Sessions whose video packets equal the frames sent.
    pub video_exact: usize,
    /// Join → file creation, milliseconds, one per recorded session.
    pub latencies_ms: Vec<i64>,
}

/// Each file belongs to the latest session of its stream that joined before the file started.
pub fn account(sent: &[Sent], files: &[Recorded]) -> Accounting {
    let mut a = Accounting {
        sessions: sent.len(),
        ..Accounting::default()
    };
    let mut per_session: Vec<Vec<&Recorded>> = vec![Vec::new(); sent.len()];
    for f in files {
        let owner = sent
            .iter()
            .enumerate()
            .filter(|(_, s)| s.stream == f.stream && s.join_unix_ms <= f.start_unix_ms)
            .max_by_key(|(_, s)| s.join_unix_ms);
        match owner {
            Some((i, _)) => per_session[i].push(f),
            None => a.unmatched_files += 1,
        }
    }
    for (s, files) in sent.iter().zip(&per_session) {
        a.video_sent += s.video;
        a.audio_sent += s.audio_after_video;
        if files.is_empty() {
            a.unrecorded += 1;
            continue;
        }
        let video: u64 = files.iter().map(|f| f.video).sum();
        a.video_in_files += video;
        a.audio_in_files += files.iter().map(|f| f.audio).sum::<u64>();
        a.video_exact += usize::from(video == s.video);
        if let Some(first) = files.iter().map(|f| f.created_unix_ms).min() {
            a.latencies_ms.push(first - s.join_unix_ms);
        }
    }
    a.latencies_ms.sort_unstable();
    a
}

/// The `p`-th percentile (0..=100) of sorted values, nearest rank.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_go_to_the_session_that_joined_last_before_them() {
        let s = |join, video| Sent {
            stream: "a".into(),
            join_unix_ms: join,
            video,
            audio_after_video: 10,
        };
        let f = |start, video| Recorded {
            path: PathBuf::new(),
            stream: "a".into(),
            start_unix_ms: start,
            video,
            audio: 10,
            created_unix_ms: start + 5,
        };
        let a = account(&[s(0, 3), s(100, 4)], &[f(150, 4), f(50, 3), f(-5, 1)]);
        assert_eq!((a.video_exact, a.unrecorded, a.unmatched_files), (2, 0, 1));
        assert_eq!(a.latencies_ms, vec![55, 55]);
        assert_eq!(percentile(&[1, 2, 3, 4], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4], 99.0), Some(4));
    }
}
