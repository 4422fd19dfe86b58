//! One output file: its muxer, the tracks' frozen clock mappings, pts discipline, interleaving,
//! write/flush/tick cadence and the facts the manifest reports.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::clock::{ClockMode, Mapping};
use super::factory::{Container, MuxerFactory};
use super::group::Held;
use super::interleave::{Interleaver, Queued, HOLD};
use super::{FileId, FileOp, RecorderOutput};
use crate::media::frame::{Codec, TrackKind};
use crate::media::mux::Muxer;

/// Bytes reach the OS at least this often (and at every video keyframe).
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// `Muxer::tick` cadence, so PCR / cluster output continues without frames.
pub const TICK_INTERVAL: Duration = Duration::from_millis(500);
/// Longest gap between two frames still taken as a frame duration.
const MAX_FRAME_NS: u64 = 200_000_000;

pub(crate) fn default_frame_ns(kind: TrackKind) -> u64 {
    match kind {
        TrackKind::Audio => 20_000_000,
        TrackKind::Video => 33_333_333,
    }
}

pub(crate) struct FileTrack {
    /// Index of the recorder track feeding this one.
    pub source: usize,
    /// The track's mid (for observers).
    pub mid: String,
    pub kind: TrackKind,
    pub codec: Codec,
    pub mapping: Mapping,
    last_pts: Option<u64>,
    /// Duration estimate of one frame (for the first-audio rule and the file duration).
    pub frame_ns: u64,
    /// Frames handed to the muxer.
    pub frames: u64,
}

impl FileTrack {
    pub fn new(
        source: usize,
        mid: String,
        codec: Codec,
        mapping: Mapping,
        frame_ns: u64,
    ) -> FileTrack {
        FileTrack {
            source,
            mid,
            kind: codec.kind(),
            codec,
            mapping,
            last_pts: None,
            frame_ns,
            frames: 0,
        }
    }
}

/// Everything fixed when a file opens.
pub(crate) struct FileSetup {
    pub id: FileId,
    pub base_name: String,
    pub container: Container,
    pub role: usize,
    pub tracks: Vec<FileTrack>,
    pub mode: ClockMode,
    /// Timeline position (in `mode`'s domain) of pts 0.
    pub t0: i128,
    /// Local ns (recorder epoch) at which pts 0 arrived.
    pub origin_local: i128,
    /// Wall clock of pts 0, unix ns.
    pub start_wall_ns: i128,
    pub resolution: Option<(u16, u16)>,
}

pub(crate) struct RecFile {
    pub setup: FileSetup,
    muxer: Box<dyn Muxer>,
    buf: Vec<u8>,
    il: Interleaver,
    pub resolutions: Vec<(u64, u16, u16)>,
    /// A manifest update is due (resolution change).
    pub info_due: bool,
    last_flush: Instant,
    dirty: bool,
    flush_now: bool,
    last_tick: Instant,
    tick_ns: u64,
    released_pts: u64,
    /// End of the last frame, file time.
    pub end_ns: u64,
    /// Report each frame handed to the muxer (`RecorderOutput::FrameWritten`).
    observe_frames: bool,
    written: Vec<WrittenFrame>,
}

/// A frame handed to the muxer, for observers (tests, status).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenFrame {
    /// Mid of the track it came from.
    pub track: String,
    /// Whether it went in as a keyframe.
    pub keyframe: bool,
    /// Its RTP time (extended), as in `MediaFrame::rtp_time`.
    pub rtp_time: u64,
    /// Its presentation time in the file, ns.
    pub pts_ns: u64,
}

impl RecFile {
    pub fn new(
        setup: FileSetup,
        muxer: Box<dyn Muxer>,
        header: Vec<u8>,
        now: Instant,
        observe_frames: bool,
    ) -> RecFile {
        let resolutions = setup
            .resolution
            .map(|(w, h)| vec![(0, w, h)])
            .unwrap_or_default();
        RecFile {
            il: Interleaver::new(setup.tracks.len()),
            setup,
            muxer,
            buf: header,
            resolutions,
            info_due: false,
            last_flush: now,
            dirty: false,
            flush_now: false,
            last_tick: now,
            tick_ns: 0,
            released_pts: 0,
            end_ns: 0,
            observe_frames,
            written: Vec::new(),
        }
    }

    pub fn video_codec(&self) -> Option<Codec> {
        self.setup
            .tracks
            .iter()
            .find(|t| t.kind == TrackKind::Video)
            .map(|t| t.codec)
    }

    pub fn has_audio(&self) -> bool {
        self.setup.tracks.iter().any(|t| t.kind == TrackKind::Audio)
    }

    pub fn position_of(&self, source: usize) -> Option<usize> {
        self.setup.tracks.iter().position(|t| t.source == source)
    }

    pub fn frames(&self, kind: TrackKind) -> u64 {
        self.setup
            .tracks
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.frames)
            .sum()
    }

    /// Places one frame on the file timeline and queues it. False: it lies before the file start.
    pub fn push(&mut self, pos: usize, frame: &Held, now: Instant) -> bool {
        let Some(track) = self.setup.tracks.get_mut(pos) else {
            return false;
        };
        let raw = track.mapping.map(frame.rtp, frame.arrival_ns) - self.setup.t0;
        let pts = match track.last_pts {
            // The timeline starts at the earliest frame that belongs in the file; anything before
            // it would overlap what follows (decoders then emit non-monotonic timestamps).
            None if raw < 0 => return false,
            None => raw,
            // An audio packet at or before the previous one is a duplicate or arrived out of
            // order: writing it would overlap its neighbour, so it is dropped.
            Some(last) if track.kind == TrackKind::Audio && raw <= i128::from(last) => {
                return false
            }
            // Small steps back of video (sender clock slew) never make pts decrease.
            Some(last) => raw.max(i128::from(last)),
        };
        let Ok(pts) = u64::try_from(pts) else {
            tracing::warn!("pts out of range; frame dropped");
            return false;
        };
        if let Some(last) = track.last_pts {
            let delta = pts - last;
            if delta > 0 && delta <= MAX_FRAME_NS {
                track.frame_ns = delta;
            }
        }
        track.last_pts = Some(pts);
        self.il.push(Queued {
            track: pos,
            pts,
            keyframe: frame.keyframe,
            rtp: frame.rtp,
            data: frame.data.clone(),
            at: now,
        });
        true
    }

    /// Hands ready frames to the muxer, ticks it, and emits writes and flushes.
    pub fn service(
        &mut self,
        now: Instant,
        now_local: i128,
        factory: &dyn MuxerFactory,
        out: &mut VecDeque<RecorderOutput>,
    ) {
        self.release(now, false, factory);
        if now >= self.last_tick + TICK_INTERVAL {
            let hold = HOLD.as_nanos() as i128;
            let local = (now_local - self.setup.origin_local - hold).clamp(0, i128::from(u64::MAX));
            self.tick_ns = self.tick_ns.max(self.released_pts).max(local as u64);
            self.muxer.tick(self.tick_ns, &mut self.buf);
            self.last_tick = now;
        }
        self.emit(now, out);
    }

    fn release(&mut self, now: Instant, all: bool, factory: &dyn MuxerFactory) {
        while let Some(q) = self.il.pop(now, all) {
            let track = &mut self.setup.tracks[q.track];
            self.muxer
                .write_frame(q.track, q.pts, q.keyframe, &q.data, &mut self.buf);
            track.frames += 1;
            if self.observe_frames {
                self.written.push(WrittenFrame {
                    track: track.mid.clone(),
                    keyframe: q.keyframe,
                    rtp_time: q.rtp,
                    pts_ns: q.pts,
                });
            }
            self.end_ns = self.end_ns.max(q.pts.saturating_add(track.frame_ns));
            self.released_pts = self.released_pts.max(q.pts);
            if track.kind == TrackKind::Video && q.keyframe {
                self.flush_now = true;
                let res = factory.video_resolution(track.codec, &q.data);
                if let Some((w, h)) = res.filter(|&(w, h)| w > 0 && h > 0) {
                    if self
                        .resolutions
                        .last()
                        .is_none_or(|&(_, lw, lh)| (lw, lh) != (w, h))
                    {
                        self.resolutions.push((q.pts / 1_000_000, w, h));
                        self.info_due = true;
                    }
                }
            }
        }
    }

    fn emit(&mut self, now: Instant, out: &mut VecDeque<RecorderOutput>) {
        let file = self.setup.id;
        self.dirty |= self.emit_bytes(out);
        if self.dirty && (self.flush_now || now >= self.last_flush + FLUSH_INTERVAL) {
            out.push_back(RecorderOutput::File(FileOp::Flush { file }));
            self.dirty = false;
            self.flush_now = false;
            self.last_flush = now;
        }
    }

    /// Reports the frames written since the last call, then writes the buffered bytes.
    /// True if there were bytes.
    fn emit_bytes(&mut self, out: &mut VecDeque<RecorderOutput>) -> bool {
        let file = self.setup.id;
        out.extend(
            self.written
                .drain(..)
                .map(|frame| RecorderOutput::FrameWritten { file, frame }),
        );
        if self.buf.is_empty() {
            return false;
        }
        let bytes = std::mem::take(&mut self.buf);
        out.push_back(RecorderOutput::File(FileOp::Write { file, bytes }));
        true
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        let mut t = self.last_tick + TICK_INTERVAL;
        if self.dirty {
            t = t.min(self.last_flush + FLUSH_INTERVAL);
        }
        Some(self.il.deadline().map_or(t, |d| d.min(t)))
    }

    /// Clean stop: everything queued goes out, then the muxer's trailer and patches.
    pub fn finalize(
        &mut self,
        now: Instant,
        factory: &dyn MuxerFactory,
        out: &mut VecDeque<RecorderOutput>,
    ) {
        self.release(now, true, factory);
        let patches = self.muxer.finish(&mut self.buf);
        self.emit_bytes(out);
        let file = self.setup.id;
        out.push_back(RecorderOutput::File(FileOp::Finalize { file, patches }));
    }
}
