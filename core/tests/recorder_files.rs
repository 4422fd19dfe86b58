//! End to end: real encoded media (core/fixtures) through `StreamRecorder` with the real TS and
//! WebM muxers, written to disk the way the shell does, then checked with ffprobe and ffmpeg.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use roomrec_core::media::{
    Codec, FileId, FileOp, MediaFrame, RecorderOutput, SenderClock, StreamRecorder,
    StreamRecorderConfig,
};
use roomrec_test_support::ffmpeg::{self, decode_errors};
use roomrec_test_support::ffprobe::{self, probe, Probe};
use roomrec_test_support::{mkvtoolnix, scratch_path};
use roomrec_testpeer::source::{read_h264_annexb, read_ivf, read_ogg_opus, EncodedFrame};
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name),
    )
    .unwrap()
}

fn video_fixture(codec: Codec) -> Vec<EncodedFrame> {
    match codec {
        Codec::H264 => read_h264_annexb(&fixture("h264-320x240-30fps.h264"), 30),
        Codec::Vp8 => read_ivf(&fixture("vp8-320x240-30fps.ivf")).unwrap().2,
        Codec::Vp9 => read_ivf(&fixture("vp9-320x240-30fps.ivf")).unwrap().2,
        Codec::Av1 => read_ivf(&fixture("av1-320x240-30fps.ivf")).unwrap().2,
        Codec::Opus => read_ogg_opus(&fixture("opus-48k-stereo-20ms.ogg")).unwrap(),
    }
}

fn ivf_fixture(path: &Path) -> Vec<EncodedFrame> {
    read_ivf(&std::fs::read(path).unwrap()).unwrap().2
}

/// A sender track: encoded frames placed on a capture timeline, sent over a fixed delay.
struct Track {
    mid: &'static str,
    codec: Codec,
    frames: Vec<EncodedFrame>,
    /// Capture time (ms) of the first frame.
    start_ms: f64,
    delay_ms: f64,
    rtp0: u64,
    /// Sender reports with this sender clock offset (ms), if any.
    sr: Option<f64>,
}

impl Track {
    fn new(mid: &'static str, codec: Codec, frames: Vec<EncodedFrame>) -> Track {
        let rtp0 = if codec == Codec::Opus {
            777_000
        } else {
            4_000_000_000
        };
        Track {
            mid,
            codec,
            frames,
            start_ms: 0.0,
            delay_ms: 30.0,
            rtp0,
            sr: None,
        }
    }
    fn rate(&self) -> u64 {
        if self.codec == Codec::Opus {
            48_000
        } else {
            90_000
        }
    }
}

/// (arrival ms, frame) for every frame of `t`; `drop` removes frames by index (loss).
fn events(t: &Track, drop: &[usize], clock: &Clock) -> Vec<(f64, MediaFrame)> {
    let rate = t.rate();
    let start_ticks = (t.start_ms * rate as f64 / 1000.0).round() as u64;
    let mut out = Vec::new();
    let mut lost = false;
    for (i, f) in t.frames.iter().enumerate() {
        if drop.contains(&i) {
            lost = true;
            continue;
        }
        let ticks = start_ticks + f.time;
        let capture_ms = ticks as f64 * 1000.0 / rate as f64;
        let arrival = capture_ms + t.delay_ms;
        let rtp = t.rtp0 + ticks;
        let sender_clock = t.sr.map(|ahead| SenderClock {
            ntp_time: clock.wall(capture_ms + ahead),
            rtp_time: rtp & 0xFFFF_FFFF,
        });
        out.push((
            arrival,
            MediaFrame {
                track: t.mid.to_string(),
                codec: t.codec,
                rtp_time: rtp,
                clock_rate: rate as u32,
                keyframe: f.keyframe,
                contiguous: !std::mem::take(&mut lost),
                data: Arc::from(f.data.clone()),
                received_at: clock.at(arrival),
                sender_clock,
            },
        ));
    }
    out
}

struct Clock {
    base: Instant,
    wall0: SystemTime,
}

impl Clock {
    fn at(&self, ms: f64) -> Instant {
        self.base + Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }
    fn wall(&self, ms: f64) -> SystemTime {
        self.wall0 + Duration::from_secs_f64(ms.max(0.0) / 1000.0)
    }
}

/// The shell's file writer in miniature: never overwrites, applies patches on Finalize.
struct Writer {
    dir: PathBuf,
    open: HashMap<FileId, (PathBuf, File)>,
    done: Vec<PathBuf>,
    infos: Vec<Value>,
}

impl Writer {
    fn new(test: &str) -> Writer {
        let dir =
            std::env::temp_dir().join(format!("roomrec-recorder-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Writer {
            dir,
            open: HashMap::new(),
            done: Vec::new(),
            infos: Vec::new(),
        }
    }

    fn apply(&mut self, o: RecorderOutput) {
        match o {
            RecorderOutput::File(FileOp::Open {
                file,
                base_name,
                extension,
            }) => {
                let mut path = self.dir.join(format!("{base_name}.{extension}"));
                let mut n = 1;
                while path.exists() {
                    path = self.dir.join(format!("{base_name}-{n}.{extension}"));
                    n += 1;
                }
                let f = OpenOptions::new()
                    .create_new(true)
                    .write(true)
                    .open(&path)
                    .unwrap();
                self.open.insert(file, (path, f));
            }
            RecorderOutput::File(FileOp::Write { file, bytes }) => self
                .open
                .get_mut(&file)
                .unwrap()
                .1
                .write_all(&bytes)
                .unwrap(),
            RecorderOutput::File(FileOp::Flush { file }) => {
                self.open.get_mut(&file).unwrap().1.flush().unwrap()
            }
            RecorderOutput::File(FileOp::Finalize { file, patches }) => {
                let (path, mut f) = self.open.remove(&file).unwrap();
                for p in patches {
                    f.seek(SeekFrom::Start(p.offset)).unwrap();
                    f.write_all(&p.bytes).unwrap();
                }
                f.sync_all().unwrap();
                self.done.push(path);
            }
            RecorderOutput::RequestKeyframe { .. } | RecorderOutput::FrameWritten { .. } => {}
            RecorderOutput::File(FileOp::Record(v)) => self
                .infos
                .push(serde_json::to_value(v).expect("records serialize")),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Keep the files of a failing test for inspection.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Runs the tracks through a real recorder; returns the finished files in open order.
fn record(
    test: &str,
    cfg: StreamRecorderConfig,
    mut ev: Vec<(f64, MediaFrame)>,
    clock: &Clock,
) -> Writer {
    let mut w = Writer::new(test);
    let mut rec = StreamRecorder::new(cfg, clock.base);
    ev.sort_by(|a, b| a.0.total_cmp(&b.0));
    let end = ev.last().map_or(0.0, |e| e.0) + 100.0;
    let drain = |rec: &mut StreamRecorder, w: &mut Writer| {
        while let Some(o) = rec.poll_output() {
            w.apply(o);
        }
    };
    for (t, f) in ev {
        while let Some(due) = rec.poll_timeout().filter(|&d| d <= clock.at(t)) {
            let ms = due.duration_since(clock.base).as_secs_f64() * 1000.0;
            rec.handle_timeout(due, clock.wall(ms));
            drain(&mut rec, &mut w);
        }
        rec.handle_frame(clock.at(t), clock.wall(t), f);
        drain(&mut rec, &mut w);
    }
    rec.finish(clock.at(end), clock.wall(end));
    drain(&mut rec, &mut w);
    assert!(w.open.is_empty(), "every file finalized");
    w
}

fn clock() -> Clock {
    Clock {
        base: Instant::now(),
        wall0: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    }
}

fn cfg(stream: &str) -> StreamRecorderConfig {
    StreamRecorderConfig {
        prefix: "rec".into(),
        stream_id: stream.into(),
        audio: true,
        video: true,
        first_file_id: 1,
        observe_frames: false,
    }
}

/// When the first stream of `kind` starts, in seconds of file time.
fn start_time(p: &Probe, kind: &str) -> f64 {
    p.stream(kind)
        .and_then(|s| s.start_time)
        .unwrap_or(f64::NAN)
}

/// Clean decode, and for WebM a clean mkvmerge parse.
fn assert_playable(path: &Path) {
    assert_eq!(decode_errors(path), "", "{path:?}");
    if ext(path) == "webm" {
        assert_eq!(mkvtoolnix::problems(path), Vec::<Value>::new(), "{path:?}");
    }
}

fn ext(p: &Path) -> &str {
    p.extension().unwrap().to_str().unwrap()
}

fn av_case(test: &str, video: Codec, expect_ext: &str, expect_codec: &str) {
    let clock = clock();
    let v = Track::new("0", video, video_fixture(video));
    let a = Track::new("1", Codec::Opus, video_fixture(Codec::Opus));
    let mut ev = events(&v, &[], &clock);
    ev.extend(events(&a, &[], &clock));
    let w = record(test, cfg("cam"), ev, &clock);
    assert_eq!(w.done.len(), 1);
    let path = &w.done[0];
    assert_eq!(ext(path), expect_ext);
    let p = probe(path);
    let vs = p.stream("video").expect("video stream");
    assert_eq!(vs.codec, expect_codec);
    assert_eq!((vs.width, vs.height), (Some(320), Some(240)));
    assert_eq!(p.stream("audio").unwrap().codec, "opus");
    assert_eq!(p.frames("video"), v.frames.len() as u64);
    assert_eq!(p.frames("audio"), a.frames.len() as u64);
    let duration = p.duration.unwrap_or(0.0);
    assert!((duration - 3.0).abs() < 0.1, "duration {duration}");
    assert!((start_time(&p, "audio") - start_time(&p, "video")).abs() < 0.034);
    assert_playable(path);
    let close = w.infos.last().unwrap();
    assert_eq!(close["frames"]["video"], v.frames.len() as u64);
    assert_eq!(close["resolutions"][0]["width"], 320);
}

#[test]
fn h264_opus_to_ts() {
    av_case("h264", Codec::H264, "ts", "h264");
}

#[test]
fn vp8_opus_to_webm() {
    av_case("vp8", Codec::Vp8, "webm", "vp8");
}

#[test]
fn vp9_opus_to_webm() {
    av_case("vp9", Codec::Vp9, "webm", "vp9");
}

#[test]
fn av1_opus_to_webm() {
    av_case("av1", Codec::Av1, "webm", "av1");
}

#[test]
fn late_mic_keeps_the_senders_offset() {
    // Camera from 0, microphone 700 ms later; unequal network delays, sender reports on both.
    let clock = clock();
    let mut v = Track::new("0", Codec::Vp8, video_fixture(Codec::Vp8));
    let mut a = Track::new("1", Codec::Opus, video_fixture(Codec::Opus));
    a.start_ms = 700.0;
    (v.delay_ms, a.delay_ms, v.sr, a.sr) = (120.0, 25.0, Some(3000.0), Some(3000.0));
    let mut ev = events(&v, &[], &clock);
    ev.extend(events(&a, &[], &clock));
    let w = record("late-mic", cfg("cam"), ev, &clock);
    let p = probe(&w.done[0]);
    let offset = start_time(&p, "audio") - start_time(&p, "video");
    assert!(
        (offset - 0.7).abs() < 0.034,
        "audio starts {offset} s after video"
    );
    assert_eq!(w.infos.last().unwrap()["clock"], "rtcp-sr");
    // WebM DateUTC carries the file start on the sender's clock (3 s ahead of ours here).
    assert_eq!(
        ffprobe::creation_time(&w.done[0]).as_deref(),
        Some("2023-11-14T22:13:23.000000Z")
    );
    assert_playable(&w.done[0]);
}

#[test]
fn loss_mid_gop_still_decodes_cleanly() {
    let clock = clock();
    for codec in [Codec::H264, Codec::Vp8, Codec::Vp9, Codec::Av1] {
        let v = Track::new("0", codec, video_fixture(codec));
        let a = Track::new("1", Codec::Opus, video_fixture(Codec::Opus));
        // Frames 40..43 lost: 43..59 cannot be decoded and must not reach the file.
        let mut ev = events(&v, &[40, 41, 42], &clock);
        ev.extend(events(&a, &[], &clock));
        let w = record(&format!("loss-{}", codec.name()), cfg("cam"), ev, &clock);
        let path = &w.done[0];
        assert_playable(path);
        let p = probe(path);
        assert_eq!(p.frames("video"), 90 - 20, "{codec:?}");
        assert_eq!(p.frames("audio"), a.frames.len() as u64);
    }
}

#[test]
fn audio_only_then_camera_gives_two_playable_files() {
    let clock = clock();
    let mut a = Track::new("1", Codec::Opus, video_fixture(Codec::Opus));
    // 6 s of audio (the fixture twice), the camera joins at 3.5 s.
    let mut second = a.frames.clone();
    for f in &mut second {
        f.time += 144_000;
    }
    a.frames.extend(second);
    let mut v = Track::new("0", Codec::H264, video_fixture(Codec::H264));
    v.start_ms = 3500.0;
    let mut ev = events(&a, &[], &clock);
    ev.extend(events(&v, &[], &clock));
    let w = record("audio-then-video", cfg("guest"), ev, &clock);
    assert_eq!(w.done.len(), 2);
    assert_eq!(ext(&w.done[0]), "webm");
    assert_eq!(ext(&w.done[1]), "ts");
    let first = probe(&w.done[0]);
    assert!(first.stream("video").is_none());
    let first_duration = first.duration.unwrap_or(0.0);
    assert!((first_duration - 3.5).abs() < 0.15, "{first_duration}");
    let second = probe(&w.done[1]);
    assert_eq!(second.frames("video"), 90);
    assert!(
        (second.frames("audio") as i64 - 126).abs() <= 2,
        "{}",
        second.frames("audio")
    );
    for p in &w.done {
        assert_playable(p);
    }
}

#[test]
fn screen_share_and_muted_camera() {
    let clock = clock();
    let mut cam = Track::new("0", Codec::Vp9, video_fixture(Codec::Vp9));
    cam.frames.truncate(45); // camera muted after 1.5 s
    let mic = Track::new("1", Codec::Opus, video_fixture(Codec::Opus));
    let mut screen = Track::new("2", Codec::H264, video_fixture(Codec::H264));
    screen.start_ms = 500.0;
    let mut ev = events(&cam, &[], &clock);
    ev.extend(events(&mic, &[], &clock));
    ev.extend(events(&screen, &[], &clock));
    let w = record("screen", cfg("host"), ev, &clock);
    assert_eq!(w.done.len(), 2);
    let main = probe(&w.done[0]);
    assert_eq!(main.frames("video"), 45);
    assert_eq!(main.frames("audio"), mic.frames.len() as u64);
    let main_duration = main.duration.unwrap_or(0.0);
    assert!((main_duration - 3.0).abs() < 0.1, "{main_duration}");
    assert!(w.done[1]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .ends_with("_screen.ts"));
    let screen_probe = probe(&w.done[1]);
    assert_eq!(screen_probe.frames("video"), 90);
    assert!(screen_probe.stream("audio").is_none());
    for p in &w.done {
        assert_playable(p);
    }
}

#[test]
fn resolution_change_stays_in_one_file() {
    let big = scratch_path!("vp8-640x360.ivf");
    ffmpeg::vp8_test_pattern(&big, 640, 360, 1);
    let clock = clock();
    let mut frames = video_fixture(Codec::Vp8);
    let more = ivf_fixture(&big);
    let offset = frames.last().unwrap().time + 3000;
    frames.extend(more.into_iter().map(|mut f| {
        f.time += offset;
        f
    }));
    let v = Track::new("0", Codec::Vp8, frames);
    let mut c = cfg("cam");
    c.audio = false;
    let w = record("resolution", c, events(&v, &[], &clock), &clock);
    assert_eq!(w.done.len(), 1);
    assert_playable(&w.done[0]);
    assert_eq!(probe(&w.done[0]).frames("video"), 120);
    let close = w.infos.last().unwrap();
    let res: Vec<(u64, u64)> = close["resolutions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["width"].as_u64().unwrap(), r["height"].as_u64().unwrap()))
        .collect();
    assert_eq!(res, vec![(320, 240), (640, 360)]);
    assert_eq!(close["resolutions"][1]["at_ms"], 3000);
}
