//! Per-connection recording pipeline: keyframe gating, timing, muxing and file lifecycle.
//! One `StreamRecorder` per session; it may produce several files (screen share, rejoin).
//!
//! Behaviour in short (details in the submodules):
//! - The first video track and the first audio track form the main file; the n-th video/audio
//!   track forms file group n (`_screen`, `_screen2`, ...). A file opens only once a track of its
//!   group delivers media.
//! - A file with video starts on a keyframe. Until then (and after loss) video is dropped and
//!   keyframes are requested at once, then about once a second.
//! - Opening waits up to `OPEN_WAIT` for a video keyframe while audio is kept; without one an
//!   audio-only WebM opens. Once a keyframe is there, audio that has not shown up yet gets
//!   `AUDIO_GRACE`. A track that appears later (video for an audio-only file, audio for a
//!   video-only file) or a video codec change finalizes the file and starts a new one at the next
//!   keyframe, with the recent audio from one frame before that keyframe.
//! - pts come from RTP time through one clock per file (`rtcp-sr` when every track has a sender
//!   report at open, else `arrival`), fixed per track when the file opens; gaps stay gaps.
//!
//! # Call contract
//!
//! [`StreamRecorder`] has the shape of [`Connection`](crate::connection::Connection), which owns
//! one and drives it like this:
//!
//! 1. Build it with [`StreamRecorder::new`] (or [`with_factory`](StreamRecorder::with_factory));
//!    `now` becomes the origin of its local timeline.
//! 2. Feed it with [`handle_frame`](StreamRecorder::handle_frame) per depacketized frame,
//!    [`set_label`](StreamRecorder::set_label) when the guest's name arrives, and
//!    [`handle_timeout`](StreamRecorder::handle_timeout) when
//!    [`poll_timeout`](StreamRecorder::poll_timeout) is due (early calls are harmless).
//! 3. After each of those calls, call [`poll_output`](StreamRecorder::poll_output) until it
//!    returns `None` ("drained") and carry out every output in order: [`FileOp`]s on the files,
//!    keyframe requests to the sender.
//! 4. When the connection ends, call [`finish`](StreamRecorder::finish) and drain once more:
//!    each open file's last operations are `Finalize` and its closing `Record`. Afterwards
//!    `poll_timeout` is `None` and input is ignored.
//!
//! Time is only what the caller passes: `now` (never decreasing) drives holds, timers and the
//! arrival clock; `wall_now` only dates new files (their names; their start time under
//! the `arrival` clock).

mod clock;
mod factory;
mod file;
mod gate;
mod group;
mod interleave;
mod manifest;
pub mod naming;

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use super::frame::{Codec, MediaFrame, TrackKind};
use super::mux::Patch;
use clock::TrackClock;
use gate::KeyframeGate;
use group::{Group, Held};

pub use factory::{Container, DefaultMuxers, FileMeta, MuxerFactory};
pub use file::{WrittenFrame, FLUSH_INTERVAL, TICK_INTERVAL};
pub use gate::KEYFRAME_RETRY;
pub use group::{AUDIO_GRACE, OPEN_WAIT};
pub use interleave::HOLD as INTERLEAVE_HOLD;
pub use manifest::{rfc3339_ms, FileRecord, FrameCounts, Resolution};

/// File groups per connection (camera + screen shares); tracks beyond are ignored.
pub const MAX_GROUPS: usize = 4;
/// Refused mids remembered (to warn once each).
const MAX_REFUSED: usize = 64;
/// Frames whose duration estimate exceeds this are gaps, not frame lengths.
const MAX_FRAME_NS: u64 = 200_000_000;

/// Identifies one output file within the process (unique across recorders: seeded by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u64);

/// What one recorder records and how it names its files.
#[derive(Clone, Debug)]
pub struct StreamRecorderConfig {
    /// `--record` prefix.
    pub prefix: String,
    /// Stream id without password suffix; sanitized inside before it becomes a file name.
    pub stream_id: String,
    /// Record audio tracks (else their frames are dropped on entry).
    pub audio: bool,
    /// Record video tracks (else their frames are dropped on entry).
    pub video: bool,
    /// First FileId this recorder may use (caller gives disjoint ranges).
    pub first_file_id: u64,
    /// Emit `RecorderOutput::FrameWritten` for every frame handed to a muxer.
    pub observe_frames: bool,
}

/// File operations, in the order they must happen. File ids are unique in the process.
#[derive(Clone, Debug)]
pub enum FileOp {
    /// Create `{base_name}.{extension}` in the output directory, never overwriting an existing
    /// file (the writer appends a counter if the name exists).
    Open {
        /// The new file.
        file: FileId,
        /// Sanitized base name.
        base_name: String,
        /// `ts` or `webm`.
        extension: &'static str,
    },
    /// Append bytes.
    Write {
        /// Which file.
        file: FileId,
        /// What to append.
        bytes: Vec<u8>,
    },
    /// Push buffered bytes to the OS (at keyframes and at least once a second).
    Flush {
        /// Which file.
        file: FileId,
    },
    /// Clean end: apply the patches (absolute offsets), sync, close.
    Finalize {
        /// Which file.
        file: FileId,
        /// Bytes to overwrite in place.
        patches: Vec<Patch>,
    },
    /// The manifest's record of this file changed (open, resolution, label, close).
    Record(Box<FileRecord>),
}

/// Output of [`StreamRecorder::poll_output`], to be carried out in order.
#[derive(Clone, Debug)]
pub enum RecorderOutput {
    /// Carry out a file operation.
    File(FileOp),
    /// Ask the WebRTC side for a keyframe on this track (mid).
    RequestKeyframe {
        /// The track's mid.
        track: String,
    },
    /// A frame went into a file (only with `observe_frames`).
    FrameWritten {
        /// The file it went into.
        file: FileId,
        /// What was written.
        frame: WrittenFrame,
    },
}

/// One incoming track (mid) of the connection.
struct Track {
    mid: String,
    kind: TrackKind,
    codec: Codec,
    group: usize,
    clock: TrackClock,
    gate: KeyframeGate,
    last_seen: Instant,
    last_rtp: u64,
    /// Frame duration estimate from RTP time deltas.
    frame_ns: u64,
}

/// One connection's recorder: frames in, file operations out. See the module docs for the
/// call contract.
pub struct StreamRecorder {
    config: StreamRecorderConfig,
    factory: Box<dyn MuxerFactory>,
    /// Local timeline origin: local ns are measured from here.
    epoch: Instant,
    label: String,
    tracks: Vec<Track>,
    groups: Vec<Group>,
    next_file: u64,
    out: VecDeque<RecorderOutput>,
    /// Mids we refuse (too many tracks, kind changed); warned once.
    refused: Vec<String>,
    finished: bool,
}

impl StreamRecorder {
    /// A recorder writing MPEG-TS (H.264) and WebM (everything else).
    pub fn new(config: StreamRecorderConfig, now: Instant) -> StreamRecorder {
        StreamRecorder::with_factory(config, now, Box::new(DefaultMuxers))
    }

    /// Same, with the muxers and keyframe inspection supplied by `factory`.
    pub fn with_factory(
        config: StreamRecorderConfig,
        now: Instant,
        factory: Box<dyn MuxerFactory>,
    ) -> StreamRecorder {
        StreamRecorder {
            next_file: config.first_file_id,
            config,
            factory,
            epoch: now,
            label: String::new(),
            tracks: Vec::new(),
            groups: Vec::new(),
            out: VecDeque::new(),
            refused: Vec::new(),
            finished: false,
        }
    }

    /// Guest display name, recorded in the manifest (open files get an updated record).
    pub fn set_label(&mut self, label: &str) {
        if self.label == label {
            return;
        }
        self.label = label.to_string();
        for g in 0..self.groups.len() {
            self.send_info(g, manifest::Event::Label);
        }
    }

    /// Takes one frame of any track. `now` is when it is handled (its arrival time is
    /// `frame.received_at`); `wall_now` dates a file that this frame opens.
    pub fn handle_frame(&mut self, now: Instant, wall_now: SystemTime, frame: MediaFrame) {
        if self.finished {
            tracing::debug!(track = %frame.track, "frame after finish ignored");
            return;
        }
        self.ingest(now, wall_now, frame);
        self.service(now);
    }

    /// Runs what is due at `now`: keyframe re-requests, file opening after a wait, interleaving
    /// holds, ticks and flushes.
    pub fn handle_timeout(&mut self, now: Instant, wall_now: SystemTime) {
        if self.finished {
            return;
        }
        for t in &mut self.tracks {
            if t.kind == TrackKind::Video && t.gate.on_timeout(now, t.last_seen) {
                self.out.push_back(RecorderOutput::RequestKeyframe {
                    track: t.mid.clone(),
                });
            }
        }
        for g in 0..self.groups.len() {
            self.evaluate(g, now, wall_now);
        }
        self.service(now);
    }

    /// The connection ended or we shut down: finalize every open file. Media still waiting for
    /// a file (a keyframe waiting for audio, audio waiting for video) is written out first.
    /// Later input is ignored.
    pub fn finish(&mut self, now: Instant, wall_now: SystemTime) {
        if self.finished {
            return;
        }
        for g in 0..self.groups.len() {
            self.open_leftovers(g, now, wall_now);
            self.close_file(g, now);
        }
        self.finished = true;
    }

    /// The next output, or `None` when drained.
    pub fn poll_output(&mut self) -> Option<RecorderOutput> {
        self.out.pop_front()
    }

    /// File time recorded so far in the longest open file (zero when none is open).
    pub fn recorded(&self) -> Duration {
        let ns = self.groups.iter().filter_map(|g| g.file.as_ref());
        Duration::from_nanos(ns.map(|f| f.end_ns).max().unwrap_or(0))
    }

    /// When to call [`handle_timeout`](StreamRecorder::handle_timeout) next; `None` while
    /// nothing is pending (before the first frame) and after [`finish`](StreamRecorder::finish).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        let tracks = self
            .tracks
            .iter()
            .filter(|t| t.kind == TrackKind::Video)
            .filter_map(|t| t.gate.retry_at(t.last_seen));
        let groups = self.groups.iter().filter_map(|g| g.next_timeout());
        tracks.chain(groups).min()
    }

    /// Validates a frame, updates its track and routes it to its group.
    fn ingest(&mut self, now: Instant, wall_now: SystemTime, frame: MediaFrame) {
        let kind = frame.codec.kind();
        let enabled = match kind {
            TrackKind::Audio => self.config.audio,
            TrackKind::Video => self.config.video,
        };
        if !enabled {
            return;
        }
        if frame.data.is_empty() {
            tracing::debug!(track = %frame.track, "empty frame dropped");
            return;
        }
        let rate = match frame.clock_rate {
            0 => match kind {
                TrackKind::Audio => 48_000,
                TrackKind::Video => 90_000,
            },
            r => r,
        };
        let arrival_ns = self.local_ns(frame.received_at);
        let Some(ti) = self.track_for(&frame, rate, now, arrival_ns) else {
            return;
        };
        let track = &mut self.tracks[ti];
        track
            .clock
            .observe(frame.rtp_time, arrival_ns, frame.sender_clock);
        if let Some(d) = frame.rtp_time.checked_sub(track.last_rtp) {
            let ns = u128::from(d) * 1_000_000_000 / u128::from(rate);
            if ns > 0 && ns <= u128::from(MAX_FRAME_NS) {
                track.frame_ns = ns as u64;
            }
        }
        track.last_rtp = frame.rtp_time;
        track.last_seen = now;
        let held = Held {
            rtp: frame.rtp_time,
            arrival_ns,
            keyframe: frame.keyframe,
            data: frame.data,
        };
        match kind {
            TrackKind::Audio => self.audio_to_group(now, wall_now, ti, held),
            TrackKind::Video => {
                if track.codec != frame.codec {
                    tracing::info!(track = %track.mid, from = ?track.codec, to = ?frame.codec, "video codec changed");
                    track.codec = frame.codec;
                    track.gate.reset();
                }
                let verdict = track.gate.on_frame(now, frame.keyframe, frame.contiguous);
                if verdict.request {
                    self.out.push_back(RecorderOutput::RequestKeyframe {
                        track: track.mid.clone(),
                    });
                }
                if verdict.pass {
                    self.video_to_group(now, wall_now, ti, held);
                }
            }
        }
    }

    /// The track of this frame's mid, registered on first sight (None: refused).
    fn track_for(
        &mut self,
        frame: &MediaFrame,
        rate: u32,
        now: Instant,
        arrival_ns: i128,
    ) -> Option<usize> {
        let kind = frame.codec.kind();
        if let Some(i) = self.tracks.iter().position(|t| t.mid == frame.track) {
            let t = &self.tracks[i];
            if t.kind != kind || t.clock.rate() != rate {
                self.refuse(
                    &frame.track,
                    "frame kind or clock rate differs from the track's first frame",
                );
                return None;
            }
            return Some(i);
        }
        if self.refused.contains(&frame.track) {
            return None;
        }
        let group = self.tracks.iter().filter(|t| t.kind == kind).count();
        if group >= MAX_GROUPS {
            self.refuse(&frame.track, "too many tracks of this kind");
            return None;
        }
        if self.groups.len() <= group {
            self.groups.resize_with(group + 1, Group::default);
        }
        let i = self.tracks.len();
        match kind {
            TrackKind::Audio => self.groups[group].audio = Some(i),
            TrackKind::Video => self.groups[group].video = Some(i),
        }
        self.tracks.push(Track {
            mid: frame.track.clone(),
            kind,
            codec: frame.codec,
            group,
            clock: TrackClock::new(rate, frame.rtp_time, arrival_ns, frame.sender_clock),
            gate: KeyframeGate::default(),
            last_seen: now,
            last_rtp: frame.rtp_time,
            frame_ns: file::default_frame_ns(kind),
        });
        Some(i)
    }

    fn refuse(&mut self, mid: &str, why: &str) {
        if self.refused.iter().any(|m| m == mid) {
            return;
        }
        tracing::warn!(track = mid, "ignoring track: {why}");
        // Bounded: mids come from SDP, but a hostile peer should not grow this forever.
        if self.refused.len() < MAX_REFUSED {
            self.refused.push(mid.to_string());
        }
    }

    /// Moves queued frames into the muxers, ticks them, emits writes/flushes/manifest updates.
    fn service(&mut self, now: Instant) {
        let now_local = self.local_ns(now);
        for g in 0..self.groups.len() {
            let Some(file) = self.groups[g].file.as_mut() else {
                continue;
            };
            file.service(now, now_local, &*self.factory, &mut self.out);
            if std::mem::take(&mut file.info_due) {
                self.send_info(g, manifest::Event::Resolution);
            }
        }
    }

    fn send_info(&mut self, g: usize, event: manifest::Event) {
        let Some(file) = self.groups[g].file.as_ref() else {
            return;
        };
        let ctx = manifest::Context {
            stream_id: &self.config.stream_id,
            label: &self.label,
        };
        let record = manifest::record(file, event, &ctx);
        if event == manifest::Event::Open {
            group::log_record("started", &record);
        }
        self.out
            .push_back(RecorderOutput::File(FileOp::Record(Box::new(record))));
    }

    /// Nanoseconds of `t` on the local timeline (negative before the epoch).
    fn local_ns(&self, t: Instant) -> i128 {
        match t.checked_duration_since(self.epoch) {
            Some(d) => d.as_nanos() as i128,
            None => -(self.epoch.saturating_duration_since(t).as_nanos() as i128),
        }
    }
}

/// Wall-clock time of a unix ns count, if representable.
fn system_time(unix_ns: i128) -> Option<SystemTime> {
    let abs = Duration::from_nanos(u64::try_from(unix_ns.unsigned_abs()).ok()?);
    if unix_ns >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(abs)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(abs)
    }
}
