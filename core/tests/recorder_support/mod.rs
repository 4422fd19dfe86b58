//! Shared test harness for the recorder: a recording mock muxer, synthetic media sources with
//! known capture times, and a virtual-time driver that runs the recorder's timers honestly.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use roomrec_core::media::mux::{Muxer, Patch, TrackSpec};
use roomrec_core::media::recorder::{Container, FileMeta, MuxerFactory};
use roomrec_core::media::{
    Codec, FileId, FileOp, MediaFrame, RecorderOutput, SenderClock, StreamRecorder,
    StreamRecorderConfig,
};

/// Test frames carry their capture time so pts can be checked against the sender's timeline.
pub const KEY: u8 = 0xAA;
pub const DELTA: u8 = 0xBB;
pub const AUDIO: u8 = 0xCC;

pub fn payload(marker: u8, capture_us: i64, res: (u16, u16)) -> Arc<[u8]> {
    let mut v = vec![marker];
    v.extend_from_slice(&res.0.to_be_bytes());
    v.extend_from_slice(&res.1.to_be_bytes());
    v.extend_from_slice(&capture_us.to_be_bytes());
    Arc::from(v)
}

pub fn capture_us(data: &[u8]) -> Option<i64> {
    let b: [u8; 8] = data.get(5..13)?.try_into().ok()?;
    Some(i64::from_be_bytes(b))
}

#[derive(Clone, Debug)]
pub struct Written {
    pub track: usize,
    pub pts_ns: u64,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
pub struct MockFile {
    pub container: Option<Container>,
    pub tracks: Vec<TrackSpec>,
    pub start_wall: Option<SystemTime>,
    pub frames: Vec<Written>,
    pub ticks: Vec<u64>,
    pub finished: u32,
}

impl MockFile {
    pub fn track_frames(&self, track: usize) -> Vec<&Written> {
        self.frames.iter().filter(|w| w.track == track).collect()
    }
    pub fn video(&self) -> Option<usize> {
        self.tracks.iter().position(|t| t.codec != Codec::Opus)
    }
    pub fn audio(&self) -> Option<usize> {
        self.tracks.iter().position(|t| t.codec == Codec::Opus)
    }
}

pub type Log = Arc<Mutex<Vec<MockFile>>>;

pub struct MockFactory {
    pub log: Log,
}

struct MockMuxer {
    log: Log,
    index: usize,
}

impl Muxer for MockMuxer {
    fn write_frame(
        &mut self,
        track: usize,
        pts_ns: u64,
        keyframe: bool,
        data: &[u8],
        out: &mut Vec<u8>,
    ) {
        let mut log = self.log.lock().unwrap();
        let f = &mut log[self.index];
        assert!(f.finished == 0, "write after finish");
        assert!(track < f.tracks.len(), "track index out of range");
        f.frames.push(Written {
            track,
            pts_ns,
            keyframe,
            data: data.to_vec(),
        });
        out.extend_from_slice(&[if keyframe { b'K' } else { b'F' }, track as u8]);
    }
    fn tick(&mut self, now_ns: u64, out: &mut Vec<u8>) {
        let mut log = self.log.lock().unwrap();
        log[self.index].ticks.push(now_ns);
        out.push(b'T');
    }
    fn finish(&mut self, out: &mut Vec<u8>) -> Vec<Patch> {
        let mut log = self.log.lock().unwrap();
        log[self.index].finished += 1;
        out.extend_from_slice(b"END");
        vec![Patch {
            offset: 0,
            bytes: b"h".to_vec(),
        }]
    }
}

impl MuxerFactory for MockFactory {
    fn create(
        &mut self,
        container: Container,
        tracks: &[TrackSpec],
        meta: &FileMeta,
        out: &mut Vec<u8>,
    ) -> Box<dyn Muxer> {
        let mut log = self.log.lock().unwrap();
        log.push(MockFile {
            container: Some(container),
            tracks: tracks.to_vec(),
            start_wall: Some(meta.start_wall),
            ..MockFile::default()
        });
        out.extend_from_slice(b"HDR");
        Box::new(MockMuxer {
            log: self.log.clone(),
            index: log.len() - 1,
        })
    }
    fn video_resolution(&self, _codec: Codec, data: &[u8]) -> Option<(u16, u16)> {
        if data.len() >= 5 && data[0] == KEY {
            Some((
                u16::from_be_bytes([data[1], data[2]]),
                u16::from_be_bytes([data[3], data[4]]),
            ))
        } else {
            None
        }
    }
    fn codec_private(&self, codec: Codec, _keyframe: &[u8]) -> Option<Vec<u8>> {
        (codec == Codec::Av1).then(|| vec![0x81, 0, 0, 0])
    }
}

pub fn config(stream_id: &str) -> StreamRecorderConfig {
    StreamRecorderConfig {
        prefix: "rec".into(),
        stream_id: stream_id.into(),
        audio: true,
        video: true,
        first_file_id: 100,
        observe_frames: false,
    }
}

/// One simulated outgoing track with a known capture timeline (ms since the test start).
#[derive(Clone, Debug)]
pub struct Src {
    pub mid: String,
    pub codec: Codec,
    pub rtp0: u64,
    /// Network delay and max extra jitter (ms).
    pub delay_ms: f64,
    pub jitter_ms: f64,
    /// Attach sender reports; the sender's NTP clock runs this far ahead of our wall clock (ms).
    pub sr: Option<f64>,
    pub res: (u16, u16),
    pub rng_seed: u64,
}

impl Src {
    pub fn video(mid: &str, codec: Codec) -> Src {
        Src {
            mid: mid.into(),
            codec,
            rtp0: 3_000_000_000,
            delay_ms: 40.0,
            jitter_ms: 0.0,
            sr: None,
            res: (320, 240),
            rng_seed: 1,
        }
    }
    pub fn audio(mid: &str) -> Src {
        Src {
            mid: mid.into(),
            codec: Codec::Opus,
            rtp0: 123_456,
            delay_ms: 40.0,
            jitter_ms: 0.0,
            sr: None,
            res: (0, 0),
            rng_seed: 2,
        }
    }
    pub fn rate(&self) -> u32 {
        if self.codec == Codec::Opus {
            48_000
        } else {
            90_000
        }
    }
    pub fn rtp_at(&self, capture_ms: f64) -> u64 {
        (self.rtp0 as i128 + (capture_ms * f64::from(self.rate()) / 1000.0).round() as i128) as u64
    }

    /// A frame captured at `capture_ms`; returns its arrival time too.
    pub fn frame(
        &self,
        sim: &Sim,
        capture_ms: f64,
        keyframe: bool,
        contiguous: bool,
    ) -> (f64, MediaFrame) {
        let n = (capture_ms * 1000.0) as u64 ^ self.rng_seed;
        let jitter = if self.jitter_ms > 0.0 {
            fastrand::Rng::with_seed(n).f64() * self.jitter_ms
        } else {
            0.0
        };
        let arrival = capture_ms + self.delay_ms + jitter;
        let marker = if self.codec == Codec::Opus {
            AUDIO
        } else if keyframe {
            KEY
        } else {
            DELTA
        };
        let sender_clock = self.sr.map(|ahead| {
            // Periodic sender reports, one per second of capture, 32-bit RTP time on the wire.
            let sr_ms = (capture_ms / 1000.0).floor() * 1000.0;
            SenderClock {
                ntp_time: sim.wall_f(sr_ms + ahead),
                rtp_time: self.rtp_at(sr_ms) & 0xFFFF_FFFF,
            }
        });
        let frame = MediaFrame {
            track: self.mid.clone(),
            codec: self.codec,
            rtp_time: self.rtp_at(capture_ms),
            clock_rate: self.rate(),
            keyframe: keyframe || self.codec == Codec::Opus,
            contiguous,
            data: payload(marker, (capture_ms * 1000.0).round() as i64, self.res),
            received_at: sim.at(arrival),
            sender_clock,
        };
        (arrival, frame)
    }

    /// Audio frames every 20 ms over [from, to).
    pub fn audio_run(&self, sim: &Sim, from_ms: f64, to_ms: f64) -> Vec<(f64, MediaFrame)> {
        steps(from_ms, to_ms, 20.0)
            .map(|t| self.frame(sim, t, true, true))
            .collect()
    }

    /// Video at 30 fps over [from, to), a keyframe at `from` and every `gop_ms` (0: only first).
    pub fn video_run(
        &self,
        sim: &Sim,
        from_ms: f64,
        to_ms: f64,
        first_key: bool,
        gop_ms: f64,
    ) -> Vec<(f64, MediaFrame)> {
        let mut next_key = if first_key {
            from_ms
        } else if gop_ms > 0.0 {
            from_ms + gop_ms
        } else {
            f64::INFINITY
        };
        steps(from_ms, to_ms, 1000.0 / 30.0)
            .map(|t| {
                let key = t + 1e-6 >= next_key;
                if key {
                    next_key = if gop_ms > 0.0 {
                        next_key + gop_ms
                    } else {
                        f64::INFINITY
                    };
                }
                self.frame(sim, t, key, true)
            })
            .collect()
    }
}

pub fn steps(from: f64, to: f64, step: f64) -> impl Iterator<Item = f64> {
    (0..)
        .map(move |i| from + f64::from(i) * step)
        .take_while(move |&t| t < to - 1e-9)
}

/// Drives a recorder in virtual time and keeps everything it emitted.
pub struct Sim {
    pub base: Instant,
    pub wall0: SystemTime,
    pub rec: StreamRecorder,
    pub log: Log,
    /// (virtual ms, output)
    pub outs: Vec<(f64, RecorderOutput)>,
    pub now_ms: f64,
    last_timeout: Option<Instant>,
}

impl Sim {
    pub fn new(cfg: StreamRecorderConfig) -> Sim {
        let base = Instant::now();
        let wall0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let log: Log = Arc::default();
        let rec =
            StreamRecorder::with_factory(cfg, base, Box::new(MockFactory { log: log.clone() }));
        Sim {
            base,
            wall0,
            rec,
            log,
            outs: Vec::new(),
            now_ms: 0.0,
            last_timeout: None,
        }
    }

    pub fn at(&self, ms: f64) -> Instant {
        self.base + Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }
    pub fn wall_f(&self, ms: f64) -> SystemTime {
        if ms >= 0.0 {
            self.wall0 + Duration::from_secs_f64(ms / 1000.0)
        } else {
            self.wall0 - Duration::from_secs_f64(-ms / 1000.0)
        }
    }
    fn ms_of(&self, t: Instant) -> f64 {
        t.duration_since(self.base).as_secs_f64() * 1000.0
    }

    fn drain(&mut self) {
        while let Some(o) = self.rec.poll_output() {
            self.outs.push((self.now_ms, o));
        }
    }

    /// Runs every timer due up to `ms`, checking that each timeout moves time forward.
    pub fn advance(&mut self, ms: f64) {
        let until = self.at(ms);
        while let Some(t) = self.rec.poll_timeout() {
            if t > until {
                break;
            }
            let t = t.max(self.at(self.now_ms));
            assert!(
                self.last_timeout != Some(t),
                "poll_timeout returned the same instant twice ({} ms)",
                self.ms_of(t)
            );
            self.last_timeout = Some(t);
            self.now_ms = self.ms_of(t);
            self.rec.handle_timeout(t, self.wall_f(self.now_ms));
            self.drain();
        }
        self.now_ms = self.now_ms.max(ms);
    }

    pub fn feed(&mut self, arrival_ms: f64, frame: MediaFrame) {
        self.advance(arrival_ms);
        let now = self.at(self.now_ms);
        self.rec.handle_frame(now, self.wall_f(self.now_ms), frame);
        self.drain();
    }

    /// Feeds frames in arrival order (stable for equal arrivals).
    pub fn run(&mut self, mut events: Vec<(f64, MediaFrame)>) {
        events.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (t, f) in events {
            self.feed(t, f);
        }
    }

    pub fn finish(&mut self, ms: f64) {
        self.advance(ms);
        let now = self.at(self.now_ms);
        self.rec.finish(now, self.wall_f(self.now_ms));
        self.drain();
    }

    pub fn files(&self) -> Vec<MockFile> {
        self.log.lock().unwrap().clone()
    }

    /// (file, base_name, extension) in open order.
    pub fn opened(&self) -> Vec<(FileId, String, &'static str)> {
        self.outs
            .iter()
            .filter_map(|(_, o)| match o {
                RecorderOutput::File(FileOp::Open {
                    file,
                    base_name,
                    extension,
                }) => Some((*file, base_name.clone(), *extension)),
                _ => None,
            })
            .collect()
    }

    pub fn requests(&self, mid: &str) -> Vec<f64> {
        self.outs
            .iter()
            .filter_map(|(t, o)| match o {
                RecorderOutput::RequestKeyframe { track } if track == mid => Some(*t),
                _ => None,
            })
            .collect()
    }

    pub fn infos(&self) -> Vec<serde_json::Value> {
        self.outs
            .iter()
            .filter_map(|(_, o)| match o {
                RecorderOutput::File(FileOp::Record(v)) => {
                    Some(serde_json::to_value(v).expect("records serialize"))
                }
                _ => None,
            })
            .collect()
    }

    pub fn times_of(&self, file: FileId, pred: impl Fn(&RecorderOutput) -> bool) -> Vec<f64> {
        self.outs
            .iter()
            .filter(|(_, o)| output_file(o) == Some(file) && pred(o))
            .map(|(t, _)| *t)
            .collect()
    }
}

pub fn output_file(o: &RecorderOutput) -> Option<FileId> {
    match o {
        RecorderOutput::File(FileOp::Open { file, .. })
        | RecorderOutput::File(FileOp::Write { file, .. })
        | RecorderOutput::File(FileOp::Flush { file })
        | RecorderOutput::File(FileOp::Finalize { file, .. }) => Some(*file),
        _ => None,
    }
}

/// Applies outputs like the shell's file writer would and checks the lifecycle rules: every
/// write goes to an open file, nothing follows Finalize, ids are unique.
#[derive(Debug, Default)]
pub struct Disk {
    pub files: BTreeMap<FileId, DiskFile>,
}

#[derive(Debug, Default)]
pub struct DiskFile {
    pub name: String,
    pub bytes: Vec<u8>,
    pub finalized: u32,
    pub flushes: u32,
}

impl Disk {
    pub fn apply(&mut self, o: &RecorderOutput) -> Result<(), String> {
        match o {
            RecorderOutput::File(FileOp::Open {
                file,
                base_name,
                extension,
            }) => {
                if self.files.contains_key(file) {
                    return Err(format!("{file:?} opened twice"));
                }
                self.files.insert(
                    *file,
                    DiskFile {
                        name: format!("{base_name}.{extension}"),
                        ..DiskFile::default()
                    },
                );
            }
            RecorderOutput::File(FileOp::Write { file, bytes }) => {
                let f = self.open_file(*file)?;
                f.bytes.extend_from_slice(bytes);
            }
            RecorderOutput::File(FileOp::Flush { file }) => self.open_file(*file)?.flushes += 1,
            RecorderOutput::File(FileOp::Finalize { file, patches }) => {
                let f = self.open_file(*file)?;
                for p in patches {
                    let end = p.offset as usize + p.bytes.len();
                    if end > f.bytes.len() {
                        return Err(format!("patch past the end of {file:?}"));
                    }
                    f.bytes[p.offset as usize..end].copy_from_slice(&p.bytes);
                }
                f.finalized += 1;
            }
            RecorderOutput::RequestKeyframe { .. }
            | RecorderOutput::FrameWritten { .. }
            | RecorderOutput::File(FileOp::Record(_)) => {}
        }
        Ok(())
    }

    fn open_file(&mut self, file: FileId) -> Result<&mut DiskFile, String> {
        match self.files.get_mut(&file) {
            None => Err(format!("{file:?} used before OpenFile")),
            Some(f) if f.finalized > 0 => Err(format!("{file:?} used after Finalize")),
            Some(f) => Ok(f),
        }
    }
}
