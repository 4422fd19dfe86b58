//! Per-connection recording pipeline: keyframe gating, timing, muxing and file lifecycle.
//! One `StreamRecorder` per session; it may produce several files (screen share, rejoin).

use std::time::{Instant, SystemTime};

use super::frame::MediaFrame;
use super::mux::Patch;

/// Identifies one output file within the process (unique across recorders: seeded by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u64);

#[derive(Clone, Debug)]
pub struct StreamRecorderConfig {
    /// `--record` prefix.
    pub prefix: String,
    /// Stream id without password suffix; sanitized inside before it becomes a file name.
    pub stream_id: String,
    pub audio: bool,
    pub video: bool,
    /// First FileId this recorder may use (caller gives disjoint ranges).
    pub first_file_id: u64,
}

#[derive(Clone, Debug)]
pub enum RecorderOutput {
    /// Create a new file `{base_name}.{extension}` in the output dir; never overwrite (the writer
    /// appends a counter if the name exists).
    OpenFile { file: FileId, base_name: String, extension: &'static str },
    Write { file: FileId, bytes: Vec<u8> },
    /// Push buffered bytes to the OS (at keyframes and at least once a second).
    Flush { file: FileId },
    /// Clean end: apply patches, then close.
    Finalize { file: FileId, patches: Vec<Patch> },
    /// Ask the session for a keyframe on this track (mid).
    RequestKeyframe { track: String },
    /// Updated manifest record for one file (sent when a file opens, changes resolution, and closes).
    FileInfo(serde_json::Value),
}

pub struct StreamRecorder {
    _config: StreamRecorderConfig,
}

impl StreamRecorder {
    pub fn new(config: StreamRecorderConfig, now: Instant, wall_now: SystemTime) -> StreamRecorder {
        let _ = (now, wall_now);
        StreamRecorder { _config: config }
    }
    pub fn set_label(&mut self, label: &str) {
        todo!("{label}")
    }
    pub fn handle_frame(&mut self, now: Instant, wall_now: SystemTime, frame: MediaFrame) {
        todo!("{now:?}{wall_now:?}{frame:?}")
    }
    pub fn handle_timeout(&mut self, now: Instant, wall_now: SystemTime) {
        todo!("{now:?}{wall_now:?}")
    }
    /// The connection ended or we shut down: finalize every open file.
    pub fn finish(&mut self, now: Instant, wall_now: SystemTime) {
        todo!("{now:?}{wall_now:?}")
    }
    pub fn poll_output(&mut self) -> Option<RecorderOutput> {
        todo!()
    }
    pub fn poll_timeout(&self) -> Option<Instant> {
        todo!()
    }
}
