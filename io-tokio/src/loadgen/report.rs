//! What the load generator prints, one JSON object per line on stdout: a `session` line when a
//! publisher session ends, a `progress` line every second, a `summary` line at the end.

use serde_json::{json, Value};

use super::session::SessionSpec;

/// One publisher session: who it was and what it handed to the network.
#[derive(Clone, Debug, Default)]
pub struct SessionReport {
    pub stream: String,
    pub codec: String,
    /// The publisher's index (0..publishers) and its session number (rejoins count up).
    pub index: u32,
    pub session: u32,
    /// Peer id (relay dialect `from`).
    pub peer: String,
    /// When it started to connect.
    pub join_unix_ms: i64,
    /// When its first video frame (audio-only: first frame) was sent.
    pub first_video_unix_ms: Option<i64>,
    pub end_unix_ms: i64,
    pub video_frames: u64,
    pub audio_frames: u64,
    /// Audio sent before the first video frame (a recording starts at the keyframe).
    pub audio_before_video: u64,
    pub datagrams: u64,
    pub bytes: u64,
    /// Datagrams dropped on purpose (`--loss`).
    pub dropped: u64,
    pub error: Option<String>,
}

impl SessionReport {
    pub fn new(spec: &SessionSpec, join_unix_ms: i64) -> SessionReport {
        SessionReport {
            stream: spec.config.stream_id.clone(),
            codec: spec
                .config
                .video
                .as_ref()
                .map_or("none", |t| t.codec.name())
                .to_string(),
            index: spec.index,
            join_unix_ms,
            end_unix_ms: join_unix_ms,
            ..SessionReport::default()
        }
    }

    pub fn failed(mut self, error: String) -> SessionReport {
        self.error = Some(error);
        self
    }

    pub fn to_json(&self) -> Value {
        json!({
            "type": "session",
            "stream": self.stream,
            "codec": self.codec,
            "index": self.index,
            "session": self.session,
            "peer": self.peer,
            "join_unix_ms": self.join_unix_ms,
            "first_video_unix_ms": self.first_video_unix_ms,
            "end_unix_ms": self.end_unix_ms,
            "video_frames": self.video_frames,
            "audio_frames": self.audio_frames,
            "audio_before_video": self.audio_before_video,
            "datagrams": self.datagrams,
            "bytes": self.bytes,
            "dropped": self.dropped,
            "error": self.error,
        })
    }
}

/// Totals over every session, and the load generator's own CPU time.
pub fn summary(sessions: &[SessionReport], elapsed_s: f64, cpu_s: Option<f64>) -> Value {
    let sum = |f: fn(&SessionReport) -> u64| sessions.iter().map(f).sum::<u64>();
    json!({
        "type": "summary",
        "sessions": sessions.len(),
        "sessions_without_media": sessions.iter().filter(|s| s.first_video_unix_ms.is_none()).count(),
        "video_frames": sum(|s| s.video_frames),
        "audio_frames": sum(|s| s.audio_frames),
        "datagrams": sum(|s| s.datagrams),
        "bytes": sum(|s| s.bytes),
        "dropped": sum(|s| s.dropped),
        "elapsed_s": elapsed_s,
        "cpu_s": cpu_s,
    })
}

/// This process's user + system CPU seconds (Linux `/proc/self/stat`).
pub fn own_cpu_seconds() -> Option<f64> {
    cpu_seconds_of("self")
}

/// utime + stime of `/proc/{pid}/stat` in seconds (Linux; None elsewhere).
pub fn cpu_seconds_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

/// USER_HZ; 100 on every Linux this runs on (sysconf would need libc).
fn clock_ticks() -> f64 {
    100.0
}
