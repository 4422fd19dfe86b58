//! Keyframe discipline: files start on keyframes, PLI cadence while waiting, loss handling.

mod recorder_support;

use recorder_support::*;
use roomrec_core::media::recorder::KEYFRAME_RETRY;
use roomrec_core::media::{Codec, FileOp, RecorderOutput};

#[test]
fn waits_for_keyframe_and_requests_about_once_a_second() {
    let mut cfg = config("cam");
    cfg.audio = false;
    let mut sim = Sim::new(cfg);
    let v = Src::video("0", Codec::Vp8);
    // Deltas from 0 ms, the sender's first keyframe only at 3.5 s.
    let mut frames = v.video_run(&sim, 0.0, 3500.0, false, 0.0);
    frames.extend(v.video_run(&sim, 3500.0, 4500.0, true, 0.0));
    sim.run(frames);
    let reqs = sim.requests("0");
    // First request on the first (non-key) frame's arrival, then one per second while waiting.
    assert_eq!(reqs.first().copied(), Some(40.0));
    let retry_ms = KEYFRAME_RETRY.as_secs_f64() * 1000.0;
    for w in reqs.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            gap >= retry_ms - 1e-6 && gap <= retry_ms + 40.0,
            "request gap {gap} ms"
        );
    }
    assert_eq!(reqs.len(), 4, "requests at {reqs:?}");
    assert!(
        reqs.iter().all(|&t| t < 3540.0),
        "no requests once the keyframe arrived: {reqs:?}"
    );
    sim.finish(5000.0);

    let files = sim.files();
    assert_eq!(files.len(), 1);
    let f = &files[0];
    let first = &f.frames[0];
    assert!(first.keyframe && first.pts_ns == 0);
    assert_eq!(capture_us(&first.data), Some(3_500_000));
    // Nothing from before the keyframe, everything after it.
    assert!(f
        .frames
        .iter()
        .all(|w| capture_us(&w.data).unwrap() >= 3_500_000));
    assert_eq!(f.frames.len(), 30);
}

#[test]
fn no_request_when_first_frame_is_a_keyframe() {
    let mut cfg = config("cam");
    cfg.audio = false;
    let mut sim = Sim::new(cfg);
    let v = Src::video("0", Codec::H264);
    sim.run(v.video_run(&sim, 0.0, 3000.0, true, 0.0));
    sim.finish(3100.0);
    assert!(sim.requests("0").is_empty());
    assert_eq!(sim.files()[0].frames.len(), 90);
}

#[test]
fn loss_drops_video_until_next_keyframe_and_throttles_requests() {
    let mut cfg = config("cam");
    cfg.audio = false;
    let mut sim = Sim::new(cfg);
    let v = Src::video("0", Codec::Vp9);
    let mut events = Vec::new();
    // 0..1 s fine; at 1 s loss; losses repeat at 1.2 s and 1.4 s; keyframe at 1.83 s; loss of a
    // keyframe-bearing frame at 3 s does not drop it.
    for (i, t) in steps(0.0, 4000.0, 1000.0 / 30.0).enumerate() {
        let key = i == 0 || i == 55 || i == 90;
        let lost_before = [30, 36, 42, 90].contains(&i);
        events.push(v.frame(&sim, t, key, !lost_before));
    }
    sim.run(events);
    sim.finish(4100.0);
    let reqs = sim.requests("0");
    assert_eq!(
        reqs.len(),
        1,
        "throttled to one request before the keyframe: {reqs:?}"
    );
    assert!((reqs[0] - (1000.0 + 40.0)).abs() < 1.0);

    let files = sim.files();
    let caps: Vec<i64> = files[0]
        .frames
        .iter()
        .map(|w| capture_us(&w.data).unwrap() / 1000)
        .collect();
    // frames 0..30 and 55..120 (index 90 is a keyframe after loss: kept)
    assert_eq!(caps.len(), 30 + 65);
    assert!(
        caps.iter().all(|&c| !(1000..1833).contains(&c)),
        "no video between loss and keyframe"
    );
    // The file keeps the gap: pts jump by ~1 s around the hole.
    let pts: Vec<u64> = files[0].frames.iter().map(|w| w.pts_ns).collect();
    assert!((pts[30] as i64 - 1_833_333_333).abs() < 1_000_000);
}

#[test]
fn audio_is_never_gated_by_loss() {
    let mut sim = Sim::new(config("cam"));
    let a = Src::audio("1");
    let v = Src::video("0", Codec::Vp8);
    let mut events = v.video_run(&sim, 0.0, 2000.0, true, 0.0);
    for (i, t) in steps(0.0, 2000.0, 20.0).enumerate() {
        events.push(a.frame(&sim, t, true, i % 7 != 3));
    }
    sim.run(events);
    sim.finish(2100.0);
    let f = &sim.files()[0];
    let audio = f.track_frames(f.audio().unwrap());
    assert_eq!(audio.len(), 100);
    assert!(sim.requests("1").is_empty());
}

#[test]
fn keyframe_requests_stop_for_a_silent_track_and_resume_when_it_sends() {
    let mut cfg = config("cam");
    cfg.audio = false;
    let mut sim = Sim::new(cfg);
    let v = Src::video("0", Codec::Vp8);
    // Two delta frames, then silence for 10 s, then deltas again.
    let mut events = v.video_run(&sim, 0.0, 60.0, false, 0.0);
    events.extend(v.video_run(&sim, 10_000.0, 10_100.0, false, 0.0));
    sim.run(events);
    let reqs = sim.requests("0");
    let during_silence = reqs.iter().filter(|&&t| t > 3100.0 && t < 10_000.0).count();
    assert_eq!(during_silence, 0, "{reqs:?}");
    assert!(
        reqs.iter().any(|&t| (t - 10_040.0).abs() < 1.0),
        "asks again at once: {reqs:?}"
    );
    sim.finish(11_000.0);
    assert!(sim.opened().is_empty(), "no keyframe, no file");
    assert!(!sim
        .outs
        .iter()
        .any(|(_, o)| matches!(o, RecorderOutput::File(FileOp::Finalize { .. }))));
}
