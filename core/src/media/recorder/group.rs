//! File groups: which tracks go into which file, when a file opens, and when it is replaced.
//! Group n holds the n-th video and the n-th audio track of the connection.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::clock::{self, ClockMode, SR_CONSISTENCY};
use super::factory::{Container, FileMeta};
use super::file::{FileSetup, FileTrack, RecFile};
use super::{manifest, naming, system_time, FileId, FileOp, RecorderOutput, StreamRecorder};
use crate::media::mux::TrackSpec;

/// How long audio waits for a first video keyframe before an audio-only file opens.
pub const OPEN_WAIT: Duration = Duration::from_millis(2500);
/// How long a first keyframe waits for audio that has not shown up yet.
pub const AUDIO_GRACE: Duration = Duration::from_millis(1000);
/// Recent audio kept for the start of the next file (bounded by time, count and bytes).
const RING_SPAN_NS: i128 = (OPEN_WAIT.as_nanos() + 500_000_000) as i128;
const RING_MAX_FRAMES: usize = 400;
const RING_MAX_BYTES: usize = 1 << 20;
/// Video held while a first keyframe waits for audio.
const PENDING_MAX_FRAMES: usize = 120;
const PENDING_MAX_BYTES: usize = 8 << 20;

/// A frame kept before it has a file.
#[derive(Clone, Debug)]
pub(crate) struct Held {
    pub rtp: u64,
    pub arrival_ns: i128,
    pub keyframe: bool,
    pub data: Arc<[u8]>,
}

#[derive(Default)]
pub(crate) struct Group {
    pub video: Option<usize>,
    pub audio: Option<usize>,
    first_media: Option<Instant>,
    ring: VecDeque<Held>,
    ring_bytes: usize,
    /// Video from the first keyframe on, while no file exists yet.
    pending: Vec<Held>,
    pending_bytes: usize,
    pending_since: Option<Instant>,
    pub file: Option<RecFile>,
}

impl Group {
    pub fn next_timeout(&self) -> Option<Instant> {
        if let Some(f) = &self.file {
            return f.next_timeout();
        }
        if let Some(since) = self.pending_since {
            return Some(since + AUDIO_GRACE);
        }
        match (self.audio, self.first_media) {
            (Some(_), Some(first)) if !self.ring.is_empty() => Some(first + OPEN_WAIT),
            _ => None,
        }
    }

    fn keep_audio(&mut self, held: Held) {
        let newest = held.arrival_ns;
        self.ring_bytes += held.data.len();
        self.ring.push_back(held);
        while let Some(old) = self.ring.front() {
            let stale = newest - old.arrival_ns > RING_SPAN_NS;
            if !(stale || self.ring.len() > RING_MAX_FRAMES || self.ring_bytes > RING_MAX_BYTES) {
                break;
            }
            self.ring_bytes -= old.data.len();
            self.ring.pop_front();
        }
    }
}

impl StreamRecorder {
    pub(super) fn video_to_group(&mut self, now: Instant, wall: SystemTime, ti: usize, held: Held) {
        let g = self.tracks[ti].group;
        let codec = self.tracks[ti].codec;
        let group = &mut self.groups[g];
        group.first_media.get_or_insert(now);
        if let Some(file) = group.file.as_mut() {
            let pos = file
                .position_of(ti)
                .filter(|_| file.video_codec() == Some(codec));
            let audio_missing = group.audio.is_some() && !file.has_audio();
            if held.keyframe && (pos.is_none() || audio_missing) {
                // The file lacks this video (audio-only, codec change) or the audio that has
                // appeared since: start the next file at this keyframe.
                self.close_file(g, now);
                let group = &mut self.groups[g];
                group.pending = vec![held];
                self.open_file(g, now, wall, true);
                return;
            }
            if let Some(pos) = pos {
                file.push(pos, &held, now);
            }
            if audio_missing && self.tracks[ti].gate.want(now) {
                self.out.push_back(RecorderOutput::RequestKeyframe {
                    track: self.tracks[ti].mid.clone(),
                });
            }
            return;
        }
        if held.keyframe || !group.pending.is_empty() {
            group.pending_since.get_or_insert(now);
            group.pending_bytes += held.data.len();
            group.pending.push(held);
        }
        self.evaluate(g, now, wall);
    }

    pub(super) fn audio_to_group(&mut self, now: Instant, wall: SystemTime, ti: usize, held: Held) {
        let g = self.tracks[ti].group;
        let group = &mut self.groups[g];
        group.first_media.get_or_insert(now);
        group.keep_audio(held.clone());
        let Some(file) = group.file.as_mut() else {
            self.evaluate(g, now, wall);
            return;
        };
        if let Some(pos) = file.position_of(ti) {
            file.push(pos, &held, now);
        } else if let Some(v) = group.video {
            // Video-only file: the next keyframe starts a file with this audio.
            if self.tracks[v].gate.want(now) {
                self.out.push_back(RecorderOutput::RequestKeyframe {
                    track: self.tracks[v].mid.clone(),
                });
            }
        }
    }

    /// Opens the group's first file once its wait is over.
    pub(super) fn evaluate(&mut self, g: usize, now: Instant, wall: SystemTime) {
        let group = &self.groups[g];
        if group.file.is_some() {
            return;
        }
        if let Some(since) = group.pending_since {
            let audio_ready = group.audio.is_some() || !self.config.audio;
            let full = group.pending.len() >= PENDING_MAX_FRAMES
                || group.pending_bytes >= PENDING_MAX_BYTES;
            if audio_ready || full || now >= since + AUDIO_GRACE {
                self.open_file(g, now, wall, true);
            }
        } else if let (Some(_), Some(first)) = (group.audio, group.first_media) {
            if !group.ring.is_empty() && (!self.config.video || now >= first + OPEN_WAIT) {
                self.open_file(g, now, wall, false);
            }
        }
    }

    /// At finish: media still waiting for a file gets one.
    pub(super) fn open_leftovers(&mut self, g: usize, now: Instant, wall: SystemTime) {
        let group = &self.groups[g];
        if group.file.is_some() {
            return;
        }
        if !group.pending.is_empty() {
            self.open_file(g, now, wall, true);
        } else if group.audio.is_some() && !group.ring.is_empty() {
            self.open_file(g, now, wall, false);
        }
    }

    /// Opens a file starting at the pending keyframe (`with_video`) or at the oldest kept audio.
    fn open_file(&mut self, g: usize, now: Instant, wall: SystemTime, with_video: bool) {
        let group = &mut self.groups[g];
        let pending = std::mem::take(&mut group.pending);
        group.pending_bytes = 0;
        group.pending_since = None;
        let video = group.video.filter(|_| with_video && !pending.is_empty());
        let audio = group.audio;
        let Some(first) = (if video.is_some() {
            pending.first()
        } else {
            group.ring.front()
        })
        .cloned() else {
            return;
        };
        let members: Vec<usize> = video.into_iter().chain(audio).collect();
        let mode = self.clock_mode(&members);

        let mut tracks = Vec::new();
        let mut specs = Vec::new();
        let mut resolution = None;
        if let Some(v) = video {
            let t = &self.tracks[v];
            resolution = self
                .factory
                .video_resolution(t.codec, &first.data)
                .filter(|&(w, h)| w > 0 && h > 0);
            let (width, height) = resolution.unwrap_or((0, 0));
            specs.push(TrackSpec {
                codec: t.codec,
                width,
                height,
                channels: 0,
                sample_rate: 0,
                codec_private: self.factory.codec_private(t.codec, &first.data),
            });
            tracks.push(FileTrack::new(
                v,
                t.mid.clone(),
                t.codec,
                t.clock.mapping(mode),
                t.frame_ns,
            ));
        }
        if let Some(a) = audio {
            let t = &self.tracks[a];
            specs.push(TrackSpec::webrtc_opus());
            tracks.push(FileTrack::new(
                a,
                t.mid.clone(),
                t.codec,
                t.clock.mapping(mode),
                t.frame_ns,
            ));
        }
        let keyframe_t = tracks[0].mapping.clone().map(first.rtp, first.arrival_ns);
        // Audio from one packet before the keyframe belongs in the file (it covers the keyframe
        // instant): start the timeline at it, so it is neither lost nor overlaps the next packet.
        // Held audio in timeline order, so the packet the timeline starts at is pushed first.
        let mut held_audio: Vec<(i128, usize)> = match audio.zip(tracks.last()) {
            Some((_, track)) => self.groups[g]
                .ring
                .iter()
                .enumerate()
                .map(|(i, h)| (track.mapping.clone().map(h.rtp, h.arrival_ns), i))
                .collect(),
            None => Vec::new(),
        };
        held_audio.sort();
        let covering_audio = audio.and_then(|a| {
            let frame_ns = i128::from(self.tracks[a].frame_ns);
            held_audio
                .iter()
                .map(|(t, _)| *t)
                .find(|t| *t <= keyframe_t && *t >= keyframe_t - frame_ns)
        });
        let t0 = covering_audio.unwrap_or(keyframe_t).min(keyframe_t);
        let now_wall = clock::unix_ns(wall);
        let start_wall_ns = match mode {
            ClockMode::SenderReport => t0,
            ClockMode::Arrival => now_wall + (t0 - self.local_ns(now)),
        };
        let container = Container::for_video(video.map(|v| self.tracks[v].codec));
        let id = FileId(self.next_file);
        self.next_file += 1;
        let base_name = naming::base_name(
            &self.config.prefix,
            &self.config.stream_id,
            wall,
            &naming::group_suffix(g),
        );
        self.out.push_back(RecorderOutput::File(FileOp::Open {
            file: id,
            base_name: base_name.clone(),
            extension: container.extension(),
        }));
        let meta = FileMeta {
            start_wall: system_time(start_wall_ns).unwrap_or(wall),
        };
        let mut header = Vec::new();
        let muxer = self.factory.create(container, &specs, &meta, &mut header);
        let setup = FileSetup {
            id,
            base_name,
            container,
            role: g,
            tracks,
            mode,
            t0,
            origin_local: first.arrival_ns,
            start_wall_ns,
            resolution,
        };
        let mut file = RecFile::new(setup, muxer, header, now, self.config.observe_frames);
        for h in &pending {
            file.push(0, h, now);
        }
        if let Some(pos) = audio.and_then(|a| file.position_of(a)) {
            // Earlier held audio stays out entirely (not even mapped: mapping has state).
            for &(_, i) in held_audio.iter().filter(|(t, _)| *t >= t0) {
                let h = &self.groups[g].ring[i];
                file.push(pos, h, now);
            }
        }
        tracing::debug!(file = id.0, ?container, clock = mode.name(), "file set up");
        self.groups[g].file = Some(file);
        self.send_info(g, manifest::Event::Open);
    }

    /// Sender reports only when every track has one and they agree with arrival timing.
    fn clock_mode(&self, members: &[usize]) -> ClockMode {
        let skews: Option<Vec<i128>> = members
            .iter()
            .map(|&t| self.tracks[t].clock.sr_skew())
            .collect();
        match skews {
            Some(s) if !s.is_empty() => {
                let (lo, hi) = (
                    s.iter().min().copied().unwrap_or(0),
                    s.iter().max().copied().unwrap_or(0),
                );
                if hi - lo <= SR_CONSISTENCY {
                    ClockMode::SenderReport
                } else {
                    tracing::warn!(
                        "sender reports disagree with arrival timing; using arrival clock"
                    );
                    ClockMode::Arrival
                }
            }
            _ => ClockMode::Arrival,
        }
    }

    /// Finalizes the group's file, if any.
    pub(super) fn close_file(&mut self, g: usize, now: Instant) {
        let Some(mut file) = self.groups[g].file.take() else {
            return;
        };
        file.finalize(now, &*self.factory, &mut self.out);
        let ctx = manifest::Context {
            stream_id: &self.config.stream_id,
            label: &self.label,
        };
        let record = manifest::record(&file, manifest::Event::Close, &ctx);
        log_record("finished", &record);
        self.out
            .push_back(RecorderOutput::File(FileOp::Record(Box::new(record))));
    }
}

/// One line per file event a user wants to see: which file, whose stream, what is in it.
pub(super) fn log_record(what: &str, record: &manifest::FileRecord) {
    tracing::info!(
        file = %record.file,
        stream = %record.stream_id,
        video = record.video_codec.unwrap_or("-"),
        audio = record.audio_codec.unwrap_or("-"),
        clock = record.clock,
        video_frames = record.frames.video,
        audio_frames = record.frames.audio,
        duration_ms = record.duration_ms,
        "recording {what}"
    );
}
