//! When files open, what they contain, and when a file is replaced by the next one.

mod recorder_support;

use recorder_support::*;
use roomrec_core::media::recorder::Container;
use roomrec_core::media::{Codec, FileOp, RecorderOutput};

fn audio_caps(f: &MockFile) -> Vec<f64> {
    f.audio().map_or(Vec::new(), |a| {
        f.track_frames(a)
            .iter()
            .map(|w| capture_us(&w.data).unwrap() as f64 / 1000.0)
            .collect()
    })
}

fn video_caps(f: &MockFile) -> Vec<f64> {
    f.video().map_or(Vec::new(), |v| {
        f.track_frames(v)
            .iter()
            .map(|w| capture_us(&w.data).unwrap() as f64 / 1000.0)
            .collect()
    })
}

#[test]
fn av_file_starts_at_keyframe_with_audio_from_one_frame_before() {
    let mut sim = Sim::new(config("cam"));
    let a = Src::audio("1");
    let v = Src::video("0", Codec::Vp8);
    let mut ev = a.audio_run(&sim, 0.0, 3000.0);
    ev.extend(v.video_run(&sim, 0.0, 500.0, false, 0.0));
    ev.extend(v.video_run(&sim, 500.0, 3000.0, true, 0.0));
    sim.run(ev);
    sim.finish(3100.0);
    let files = sim.files();
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert_eq!(f.container, Some(Container::Webm));
    assert_eq!(f.tracks.len(), 2);
    assert_eq!(
        (f.tracks[0].codec, f.tracks[0].width, f.tracks[0].height),
        (Codec::Vp8, 320, 240)
    );
    assert_eq!(
        (
            f.tracks[1].codec,
            f.tracks[1].channels,
            f.tracks[1].sample_rate
        ),
        (Codec::Opus, 2, 48_000)
    );
    // The timeline starts at the audio packet covering the keyframe instant (480 ms); the first
    // video frame is the keyframe, 20 ms later, as the sender captured them.
    assert_eq!(f.frames[0].pts_ns, 0);
    let first_video = f.track_frames(0)[0];
    assert!(first_video.keyframe);
    assert_eq!(first_video.pts_ns, 20_000_000);
    let ac = audio_caps(f);
    assert_eq!(
        ac[0], 480.0,
        "the audio frame covering the keyframe instant goes in, earlier ones do not"
    );
    assert_eq!(ac.len(), (3000 - 480) / 20);
    assert_eq!(video_caps(f)[0], 500.0);
    assert_eq!(sim.opened()[0].2, "webm");
}

#[test]
fn audio_only_fallback_then_video_starts_a_new_file() {
    let mut sim = Sim::new(config("guest"));
    let a = Src::audio("1");
    let v = Src::video("0", Codec::H264);
    let mut ev = a.audio_run(&sim, 0.0, 6000.0);
    ev.extend(v.video_run(&sim, 4000.0, 6000.0, true, 0.0));
    sim.run(ev);
    sim.finish(6100.0);

    let opened = sim.opened();
    assert_eq!(opened.len(), 2);
    assert_eq!(opened[0].2, "webm");
    assert_eq!(opened[1].2, "ts");
    // The audio-only file opened once the keyframe wait was over (first audio at 40 ms + 2.5 s).
    let open_times: Vec<f64> = sim
        .outs
        .iter()
        .filter(|(_, o)| matches!(o, RecorderOutput::File(FileOp::Open { .. })))
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(open_times[0], 2540.0);
    assert_eq!(open_times[1], 4040.0);
    // ...and was finalized before the A+V file opened.
    let fin1 = sim.times_of(opened[0].0, |o| {
        matches!(o, RecorderOutput::File(FileOp::Finalize { .. }))
    });
    assert_eq!(fin1, vec![4040.0]);
    let pos_fin = sim.outs.iter().position(
        |(_, o)| matches!(o, RecorderOutput::File(FileOp::Finalize { file, .. }) if *file == opened[0].0),
    );
    let pos_open = sim.outs.iter().position(
        |(_, o)| matches!(o, RecorderOutput::File(FileOp::Open { file, .. }) if *file == opened[1].0),
    );
    assert!(pos_fin < pos_open);

    let files = sim.files();
    assert_eq!(files[0].tracks.len(), 1);
    assert_eq!(files[0].tracks[0].codec, Codec::Opus);
    let a1 = audio_caps(&files[0]);
    assert_eq!(a1[0], 0.0, "audio-only file keeps the audio from the start");
    assert!(a1.windows(2).all(|w| w[1] - w[0] == 20.0));
    assert!(*a1.last().unwrap() >= 3980.0);
    assert_eq!(files[0].frames[0].pts_ns, 0);

    assert_eq!(files[1].container, Some(Container::Ts));
    assert_eq!(video_caps(&files[1])[0], 4000.0);
    assert_eq!(audio_caps(&files[1])[0], 3980.0);
    let infos = sim.infos();
    let close1 = infos
        .iter()
        .find(|i| i["event"] == "close" && i["file_id"] == opened[0].0 .0)
        .unwrap();
    assert!(close1["video_codec"].is_null());
    assert_eq!(close1["audio_codec"], "opus");
}

#[test]
fn video_only_file_restarts_when_audio_appears_late() {
    let mut sim = Sim::new(config("cam"));
    let a = Src::audio("1");
    let v = Src::video("0", Codec::Vp9);
    let mut ev = v.video_run(&sim, 0.0, 4000.0, true, 2000.0);
    ev.extend(a.audio_run(&sim, 1500.0, 4000.0));
    sim.run(ev);
    sim.finish(4100.0);
    let opened = sim.opened();
    assert_eq!(opened.len(), 2);
    let files = sim.files();
    // Video-only after the audio grace, then A+V at the next keyframe (2 s).
    assert_eq!(files[0].tracks.len(), 1);
    assert_eq!(video_caps(&files[0])[0], 0.0);
    assert!(*video_caps(&files[0]).last().unwrap() < 2000.0);
    assert_eq!(files[1].tracks.len(), 2);
    assert_eq!(video_caps(&files[1])[0], 2000.0);
    assert_eq!(audio_caps(&files[1])[0], 1980.0);
    // A keyframe was asked for as soon as the audio showed up.
    assert_eq!(sim.requests("0").first().copied(), Some(1540.0));
}

#[test]
fn audio_within_grace_joins_the_first_file() {
    let mut sim = Sim::new(config("cam"));
    let a = Src::audio("1");
    let v = Src::video("0", Codec::Vp8);
    let mut ev = v.video_run(&sim, 0.0, 3000.0, true, 0.0);
    ev.extend(a.audio_run(&sim, 700.0, 3000.0));
    sim.run(ev);
    sim.finish(3100.0);
    let files = sim.files();
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert_eq!(video_caps(f).len(), 90);
    let audio = f.track_frames(f.audio().unwrap());
    assert_eq!(audio.len(), 115);
    assert_eq!(audio[0].pts_ns, 700_000_000);
}

#[test]
fn screen_share_goes_to_its_own_file() {
    let mut sim = Sim::new(config("host"));
    let cam = Src::video("0", Codec::Vp8);
    let mic = Src::audio("1");
    let mut screen = Src::video("2", Codec::Vp9);
    screen.res = (1920, 1080);
    let mut ev = cam.video_run(&sim, 0.0, 3000.0, true, 0.0);
    ev.extend(mic.audio_run(&sim, 0.0, 3000.0));
    ev.extend(screen.video_run(&sim, 1000.0, 3000.0, true, 0.0));
    sim.run(ev);
    sim.finish(3100.0);
    let opened = sim.opened();
    assert_eq!(opened.len(), 2);
    assert_eq!(opened[0].1, "rec_host_1700000000");
    assert_eq!(opened[1].1, "rec_host_1700000002_screen");
    let files = sim.files();
    assert_eq!(files[0].tracks.len(), 2);
    assert!(files[0]
        .frames
        .iter()
        .all(|w| w.data[0] == AUDIO || (w.data[1], w.data[2]) == (1, 64)));
    assert_eq!(files[1].tracks.len(), 1);
    assert_eq!(
        (files[1].tracks[0].codec, files[1].tracks[0].width),
        (Codec::Vp9, 1920)
    );
    assert_eq!(video_caps(&files[1]).len(), 60);
    let infos = sim.infos();
    assert!(infos
        .iter()
        .any(|i| i["role"] == "screen" && i["file"] == "rec_host_1700000002_screen.webm"));
}

#[test]
fn second_audio_track_joins_the_screen_file() {
    let mut sim = Sim::new(config("host"));
    let cam = Src::video("0", Codec::H264);
    let mic = Src::audio("1");
    let screen = Src::video("2", Codec::H264);
    let screen_audio = Src::audio("3");
    let mut ev = cam.video_run(&sim, 0.0, 2000.0, true, 0.0);
    ev.extend(mic.audio_run(&sim, 0.0, 2000.0));
    ev.extend(screen.video_run(&sim, 0.0, 2000.0, true, 0.0));
    ev.extend(screen_audio.audio_run(&sim, 0.0, 2000.0));
    sim.run(ev);
    sim.finish(2100.0);
    let files = sim.files();
    assert_eq!(files.len(), 2);
    assert!(files
        .iter()
        .all(|f| f.tracks.len() == 2 && f.container == Some(Container::Ts)));
    assert_eq!(audio_caps(&files[1]).len(), 100);
}

#[test]
fn no_media_no_files() {
    let mut sim = Sim::new(config("idle"));
    sim.advance(10_000.0);
    sim.finish(10_000.0);
    assert!(sim.outs.is_empty());
    assert_eq!(sim.rec.poll_timeout(), None);
}

#[test]
fn noaudio_drops_audio_and_opens_video_at_once() {
    let mut cfg = config("cam");
    cfg.audio = false;
    let mut sim = Sim::new(cfg);
    let a = Src::audio("1");
    let v = Src::video("0", Codec::Av1);
    let mut ev = v.video_run(&sim, 0.0, 1000.0, true, 0.0);
    ev.extend(a.audio_run(&sim, 0.0, 1000.0));
    sim.run(ev);
    let first_open = sim
        .outs
        .iter()
        .find(|(_, o)| matches!(o, RecorderOutput::File(FileOp::Open { .. })))
        .unwrap()
        .0;
    assert_eq!(first_open, 40.0);
    sim.finish(1100.0);
    let files = sim.files();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].tracks.len(), 1);
    assert_eq!(files[0].tracks[0].codec_private, Some(vec![0x81, 0, 0, 0]));
    assert!(files[0].frames.iter().all(|w| w.data[0] != AUDIO));
}

#[test]
fn novideo_records_audio_only_at_once_and_never_asks_for_keyframes() {
    let mut cfg = config("cam");
    cfg.video = false;
    let mut sim = Sim::new(cfg);
    let a = Src::audio("1");
    let v = Src::video("0", Codec::Vp8);
    let mut ev = v.video_run(&sim, 0.0, 1000.0, false, 0.0);
    ev.extend(a.audio_run(&sim, 0.0, 1000.0));
    sim.run(ev);
    assert_eq!(sim.opened()[0].2, "webm");
    sim.finish(1100.0);
    assert!(sim.requests("0").is_empty());
    let files = sim.files();
    assert_eq!(files.len(), 1);
    assert_eq!(audio_caps(&files[0]).len(), 50);
}

#[test]
fn codec_change_starts_a_new_file_at_the_new_codecs_keyframe() {
    let mut cfg = config("cam");
    cfg.audio = false;
    let mut sim = Sim::new(cfg);
    let vp8 = Src::video("0", Codec::Vp8);
    let h264 = Src {
        codec: Codec::H264,
        ..Src::video("0", Codec::Vp8)
    };
    let mut ev = vp8.video_run(&sim, 0.0, 1000.0, true, 0.0);
    ev.extend(h264.video_run(&sim, 1000.0, 1200.0, false, 0.0));
    ev.extend(h264.video_run(&sim, 1200.0, 2000.0, true, 0.0));
    sim.run(ev);
    sim.finish(2100.0);
    let opened = sim.opened();
    assert_eq!(
        opened.iter().map(|o| o.2).collect::<Vec<_>>(),
        vec!["webm", "ts"]
    );
    let files = sim.files();
    assert!(files[0].tracks[0].codec == Codec::Vp8 && files[0].frames.len() == 30);
    assert_eq!(video_caps(&files[1])[0], 1200.0);
    assert_eq!(sim.requests("0").first().copied(), Some(1040.0));
}

#[test]
fn finish_writes_media_still_waiting_for_a_file() {
    let mut sim = Sim::new(config("short"));
    let a = Src::audio("1");
    sim.run(a.audio_run(&sim, 0.0, 1000.0));
    assert!(sim.opened().is_empty(), "still waiting for video");
    sim.finish(1100.0);
    let files = sim.files();
    assert_eq!(files.len(), 1);
    assert_eq!(audio_caps(&files[0]).len(), 50);
    assert_eq!(files[0].finished, 1);
}
