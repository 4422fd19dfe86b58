//! Receive statistics of one connection, reported about once a second as
//! [`ConnectionEvent::Stats`](super::ConnectionEvent::Stats).
//!
//! Cheap by design: a frame costs a lookup among the connection's few tracks and some additions;
//! everything else happens once per interval. Loss is counted from the RTP sequence numbers of
//! the frames str0m delivered: a packet that never made it into a frame (lost, or part of a frame
//! str0m could not complete) counts as lost, retransmissions that arrived in time do not.

use std::time::{Duration, Instant};

use str0m::stats::MediaIngressStats;

use crate::media::recorder::FileOp;
use crate::media::{Codec, FileId, MediaFrame};

/// How often [`ConnectionStats`] are reported.
pub const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// A sequence number jump larger than this is a new stream (re-offer, new SSRC), not loss.
const MAX_SEQ_GAP: u64 = 3000;

/// One report: cumulative counters and what changed over `interval`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Time since the previous report (or since the connection started).
    pub interval: Duration,
    /// Every track that delivered a frame, in order of appearance.
    pub tracks: Vec<TrackStats>,
    /// Bytes handed to the files that are open now (`FileOp::Write`), from their start.
    pub file_bytes: u64,
    /// Bytes handed to every file of this connection.
    pub total_file_bytes: u64,
    /// File time recorded in the longest open file.
    pub recorded: Duration,
    /// Keyframe requests (PLI) the recorder made.
    pub keyframe_requests: u64,
}

/// Counters of one received track; `*_interval` fields count the last interval only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackStats {
    /// The track's mid.
    pub track: String,
    /// Codec of its latest frame.
    pub codec: Option<Codec>,
    /// Frames delivered (and in the last interval).
    pub frames: u64,
    #[allow(missing_docs)]
    pub frames_interval: u64,
    /// Keyframes among them.
    pub keyframes: u64,
    /// Media payload bytes (frames as str0m delivered them).
    pub bytes: u64,
    #[allow(missing_docs)]
    pub bytes_interval: u64,
    /// RTP packets that arrived in delivered frames.
    pub packets: u64,
    #[allow(missing_docs)]
    pub packets_interval: u64,
    /// RTP packets that never arrived in a delivered frame.
    pub packets_lost: u64,
    #[allow(missing_docs)]
    pub packets_lost_interval: u64,
    /// Interarrival jitter (RFC 3550) of our latest receiver report.
    pub jitter: Option<Duration>,
    /// Round trip time, when the sender gave one (RTCP XR).
    pub rtt: Option<Duration>,
    /// NACKs we sent (str0m's count).
    pub nacks: u64,
}

/// Per-track counters kept by the WebRTC half, as frames arrive.
#[derive(Default)]
pub(crate) struct IngressCounters {
    tracks: Vec<Track>,
}

#[derive(Default)]
struct Track {
    stats: TrackStats,
    clock_rate: u32,
    /// Highest sequence number delivered, and where counting (re)started.
    last_seq: Option<u64>,
}

impl IngressCounters {
    /// A frame str0m delivered, with its packets' (extended) sequence numbers.
    pub fn frame(&mut self, frame: &MediaFrame, first_seq: u64, last_seq: u64) {
        let t = self.track(&frame.track);
        let s = &mut t.stats;
        s.codec = Some(frame.codec);
        s.frames += 1;
        s.keyframes += u64::from(frame.keyframe);
        s.bytes += frame.data.len() as u64;
        s.packets += last_seq.saturating_sub(first_seq) + 1;
        if let Some(prev) = t.last_seq {
            let gap = first_seq.saturating_sub(prev + 1);
            if first_seq > prev && gap <= MAX_SEQ_GAP {
                s.packets_lost += gap;
            }
        }
        t.last_seq = Some(t.last_seq.map_or(last_seq, |p| p.max(last_seq)));
        t.clock_rate = frame.clock_rate;
    }

    /// str0m's periodic report of one received stream.
    pub fn ingress(&mut self, stats: &MediaIngressStats) {
        let mid = stats.mid.to_string();
        let Some(t) = self.tracks.iter_mut().find(|t| t.stats.track == mid) else {
            return; // no frame yet
        };
        t.stats.rtt = stats.rtt;
        t.stats.nacks = stats.nacks;
        if t.clock_rate > 0 {
            let ns = u64::from(stats.jitter) * 1_000_000_000 / u64::from(t.clock_rate);
            t.stats.jitter = Some(Duration::from_nanos(ns));
        }
    }

    fn track(&mut self, mid: &str) -> &mut Track {
        match self.tracks.iter().position(|t| t.stats.track == mid) {
            Some(i) => &mut self.tracks[i],
            None => {
                self.tracks.push(Track {
                    stats: TrackStats {
                        track: mid.to_string(),
                        ..TrackStats::default()
                    },
                    ..Track::default()
                });
                self.tracks.last_mut().expect("just pushed")
            }
        }
    }

    fn snapshot(&self) -> impl Iterator<Item = &TrackStats> {
        self.tracks.iter().map(|t| &t.stats)
    }
}

/// The connection's side: the interval clock, file bytes and the previous report.
pub(crate) struct StatsClock {
    due: Instant,
    last: Instant,
    previous: Vec<TrackStats>,
    open_files: Vec<(FileId, u64)>,
    total_file_bytes: u64,
    keyframe_requests: u64,
}

impl StatsClock {
    pub fn new(now: Instant) -> StatsClock {
        StatsClock {
            due: now + STATS_INTERVAL,
            last: now,
            previous: Vec::new(),
            open_files: Vec::new(),
            total_file_bytes: 0,
            keyframe_requests: 0,
        }
    }

    pub fn poll_timeout(&self) -> Instant {
        self.due
    }

    pub fn is_due(&self, now: Instant) -> bool {
        now >= self.due
    }

    pub fn keyframe_requested(&mut self) {
        self.keyframe_requests += 1;
    }

    /// Counts what goes to the files.
    pub fn file_op(&mut self, op: &FileOp) {
        match op {
            FileOp::Open { file, .. } => self.open_files.push((*file, 0)),
            FileOp::Write { file, bytes } => {
                let n = bytes.len() as u64;
                self.total_file_bytes += n;
                if let Some(f) = self.open_files.iter_mut().find(|f| f.0 == *file) {
                    f.1 += n;
                }
            }
            FileOp::Finalize { file, .. } => self.open_files.retain(|f| f.0 != *file),
            FileOp::Flush { .. } | FileOp::Record(_) => {}
        }
    }

    /// The report for the interval ending at `now`; the next one is due a second later.
    pub fn report(
        &mut self,
        now: Instant,
        ingress: &IngressCounters,
        recorded: Duration,
    ) -> ConnectionStats {
        let tracks: Vec<TrackStats> = ingress
            .snapshot()
            .map(|t| {
                let prev = self.previous.iter().find(|p| p.track == t.track);
                let since = |f: fn(&TrackStats) -> u64| f(t) - prev.map_or(0, f);
                TrackStats {
                    frames_interval: since(|s| s.frames),
                    bytes_interval: since(|s| s.bytes),
                    packets_interval: since(|s| s.packets),
                    packets_lost_interval: since(|s| s.packets_lost),
                    ..t.clone()
                }
            })
            .collect();
        let stats = ConnectionStats {
            interval: now.saturating_duration_since(self.last),
            tracks: tracks.clone(),
            file_bytes: self.open_files.iter().map(|f| f.1).sum(),
            total_file_bytes: self.total_file_bytes,
            recorded,
            keyframe_requests: self.keyframe_requests,
        };
        self.previous = tracks;
        self.last = now;
        // Steady cadence; a late timer does not make the next report come twice.
        self.due = (self.due + STATS_INTERVAL).max(now + STATS_INTERVAL / 2);
        stats
    }
}

impl ConnectionStats {
    /// Packets lost over the interval as a percentage of those expected (0 when none were).
    pub fn loss_percent(&self) -> f64 {
        let lost: u64 = self.tracks.iter().map(|t| t.packets_lost_interval).sum();
        let got: u64 = self.tracks.iter().map(|t| t.packets_interval).sum();
        match lost + got {
            0 => 0.0,
            expected => lost as f64 * 100.0 / expected as f64,
        }
    }

    /// Media bits per second over the interval.
    pub fn bitrate_bps(&self) -> u64 {
        let bytes: u64 = self.tracks.iter().map(|t| t.bytes_interval).sum();
        let ms = self.interval.as_millis().max(1) as u64;
        bytes * 8 * 1000 / ms
    }
}

impl TrackStats {
    /// Frames per second over `interval`.
    pub fn frame_rate(&self, interval: Duration) -> f64 {
        match interval.as_secs_f64() {
            s if s > 0.0 => self.frames_interval as f64 / s,
            _ => 0.0,
        }
    }
}
