//! Timing: pts from RTP time on one clock per file, A/V offsets as the sender had them, gaps,
//! clock oddities.

mod recorder_support;

use recorder_support::*;
use roomrec_core::media::{Codec, MediaFrame};

const VIDEO_FRAME_MS: f64 = 1000.0 / 30.0;

/// (track, pts ms, sender capture ms relative to the capture of the frame at pts 0).
fn timeline(f: &MockFile) -> Vec<(usize, f64, f64)> {
    let base = capture_us(&f.frames[0].data).unwrap() as f64 / 1000.0;
    assert_eq!(f.frames[0].pts_ns, 0);
    f.frames
        .iter()
        .map(|w| {
            (
                w.track,
                w.pts_ns as f64 / 1e6,
                capture_us(&w.data).unwrap() as f64 / 1000.0 - base,
            )
        })
        .collect()
}

fn max_sync_error(f: &MockFile) -> f64 {
    timeline(f)
        .iter()
        .map(|(_, pts, cap)| (pts - cap).abs())
        .fold(0.0, f64::max)
}

/// pts of the first audio frame minus pts of the first video frame.
fn first_offset(f: &MockFile) -> f64 {
    let first = |t: usize| f.track_frames(t)[0].pts_ns as f64 / 1e6;
    first(f.audio().unwrap()) - first(f.video().unwrap())
}

fn camera_with_late_mic(sim: &Sim, v: &Src, a: &Src) -> Vec<(f64, MediaFrame)> {
    let mut ev = v.video_run(sim, 0.0, 4000.0, true, 1000.0);
    ev.extend(a.audio_run(sim, 300.0, 4000.0));
    ev
}

#[test]
fn av_offset_matches_sender_with_arrival_clock() {
    let mut sim = Sim::new(config("cam"));
    let mut v = Src::video("0", Codec::Vp8);
    let mut a = Src::audio("1");
    (v.delay_ms, v.jitter_ms, a.delay_ms, a.jitter_ms) = (45.0, 15.0, 40.0, 10.0);
    sim.run(camera_with_late_mic(&sim, &v, &a));
    sim.finish(4100.0);
    let f = &sim.files()[0];
    let off = first_offset(f);
    assert!(
        (off - 300.0).abs() <= VIDEO_FRAME_MS,
        "offset {off} ms, sender had 300 ms"
    );
    let err = max_sync_error(f);
    assert!(err <= VIDEO_FRAME_MS, "max sync error {err} ms");
    let info = sim.infos().into_iter().last().unwrap();
    assert_eq!(info["clock"], "arrival");
    // Arrival clock: the file starts at the keyframe's (least delayed) arrival wall time.
    // (45 ms delay plus the least jitter seen before the file opened)
    let start = info["start_unix_ms"].as_i64().unwrap() - 1_700_000_000_000;
    assert!((45..=60).contains(&start), "{start}");
    assert_eq!(
        info["start_wall"],
        format!("2023-11-14T22:13:20.{start:03}Z")
    );
}

#[test]
fn av_offset_is_exact_with_sender_reports_despite_unequal_delays() {
    let run = |sr: Option<f64>| {
        let mut sim = Sim::new(config("cam"));
        let mut v = Src::video("0", Codec::H264);
        let mut a = Src::audio("1");
        (v.delay_ms, a.delay_ms, v.sr, a.sr) = (150.0, 20.0, sr, sr);
        sim.run(camera_with_late_mic(&sim, &v, &a));
        sim.finish(4300.0);
        let f = sim.files()[0].clone();
        (f, sim.infos().into_iter().last().unwrap())
    };
    // Sender's NTP clock 5 s ahead of ours: irrelevant for sync, shows in start_wall.
    let (f, info) = run(Some(5000.0));
    assert_eq!(info["clock"], "rtcp-sr");
    assert!((first_offset(&f) - 300.0).abs() < 1.0);
    assert!(max_sync_error(&f) < 1.0, "{}", max_sync_error(&f));
    assert_eq!(info["start_wall"], "2023-11-14T22:13:25.000Z");

    // The same path without reports is off by the delay difference (130 ms): what SR fixes.
    let (f, info) = run(None);
    assert_eq!(info["clock"], "arrival");
    assert!((first_offset(&f) - 170.0).abs() < 1.0);
}

#[test]
fn sender_report_arriving_later_does_not_move_pts() {
    let mut sim = Sim::new(config("cam"));
    let mut v = Src::video("0", Codec::Vp8);
    let mut a = Src::audio("1");
    // Reports (from a sender clock 700 ms off ours) only start 2 s into the call.
    (v.sr, a.sr) = (Some(700.0), Some(700.0));
    let mut ev = camera_with_late_mic(&sim, &v, &a);
    for (t, f) in ev.iter_mut() {
        if *t < 2000.0 {
            f.sender_clock = None;
        }
    }
    sim.run(ev);
    sim.finish(4100.0);
    let f = &sim.files()[0];
    let video = f.track_frames(0);
    for w in video.windows(2) {
        let d = (w[1].pts_ns - w[0].pts_ns) as f64 / 1e6;
        assert!((d - VIDEO_FRAME_MS).abs() < 0.5, "video pts step {d} ms");
    }
    assert!(max_sync_error(f) <= VIDEO_FRAME_MS);
}

#[test]
fn gaps_stay_gaps() {
    let mut sim = Sim::new(config("cam"));
    let v = Src::video("0", Codec::Vp8);
    let a = Src::audio("1");
    // Camera muted 2..7 s (resumes on a keyframe), audio DTX silence 3..4 s.
    let mut ev = v.video_run(&sim, 0.0, 2000.0, true, 0.0);
    ev.extend(v.video_run(&sim, 7000.0, 8000.0, true, 0.0));
    ev.extend(a.audio_run(&sim, 0.0, 3000.0));
    ev.extend(a.audio_run(&sim, 4000.0, 8000.0));
    sim.run(ev);
    sim.finish(8100.0);
    let files = sim.files();
    assert_eq!(files.len(), 1);
    let f = &files[0];
    assert!(max_sync_error(f) < 1.0);
    let video = f.track_frames(0);
    let resume = video.iter().find(|w| w.pts_ns > 2_000_000_000).unwrap();
    assert!((resume.pts_ns as f64 / 1e6 - 7000.0).abs() < 1.0);
    let audio = f.track_frames(1);
    let after_dtx = audio.iter().find(|w| w.pts_ns > 2_990_000_000).unwrap();
    assert!((after_dtx.pts_ns as f64 / 1e6 - 4000.0).abs() < 1.0);
    let info = sim.infos().into_iter().last().unwrap();
    assert_eq!(info["duration_ms"], 8000);
}

#[test]
fn rtp_wrap_with_32_bit_sender_reports() {
    let mut sim = Sim::new(config("cam"));
    let mut v = Src::video("0", Codec::Vp8);
    let mut a = Src::audio("1");
    // Both RTP clocks cross 2^32 during the call; reports carry the wrapped 32-bit value.
    v.rtp0 = (1 << 32) - 90_000;
    a.rtp0 = (1 << 32) - 48_000 * 2;
    (v.sr, a.sr) = (Some(0.0), Some(0.0));
    sim.run(camera_with_late_mic(&sim, &v, &a));
    sim.finish(4100.0);
    let f = &sim.files()[0];
    assert!(max_sync_error(f) < 1.0, "{}", max_sync_error(f));
    assert_eq!(sim.infos().last().unwrap()["clock"], "rtcp-sr");
}

#[test]
fn small_step_back_never_decreases_pts_and_big_jumps_reanchor() {
    let mut cfg = config("cam");
    cfg.video = false;
    let mut sim = Sim::new(cfg);
    let a = Src::audio("1");
    let mut ev = a.audio_run(&sim, 0.0, 2000.0);
    // frame at 1000 ms claims 30 ms earlier media time
    ev[50].1.rtp_time -= 48 * 30;
    // from 1500 ms on the RTP clock restarts near zero, later an absurd leap
    for (i, (_, f)) in ev.iter_mut().enumerate().skip(75) {
        f.rtp_time = (i as u64) * 960;
        if i >= 90 {
            f.rtp_time += 1 << 50;
        }
    }
    sim.run(ev);
    sim.finish(2100.0);
    let f = &sim.files()[0];
    let pts: Vec<f64> = f.frames.iter().map(|w| w.pts_ns as f64 / 1e6).collect();
    // The packet that stepped 30 ms back would overlap its predecessor: it is dropped.
    assert_eq!(pts.len(), 99);
    assert!(
        pts.windows(2).all(|w| w[1] > w[0]),
        "audio pts strictly increase"
    );
    // After each jump the track continues on its arrival time: no hours-long hole, no pile-up.
    assert!((pts[74] - 1500.0).abs() < 1.0, "{}", pts[74]);
    assert!((pts[89] - 1800.0).abs() < 1.0, "{}", pts[89]);
    assert!((pts[98] - 1980.0).abs() < 1.0);
}

#[test]
fn resolution_change_continues_the_file_and_is_recorded() {
    let mut cfg = config("cam");
    cfg.audio = false;
    let mut sim = Sim::new(cfg);
    let v = Src::video("0", Codec::Vp9);
    let mut big = v.clone();
    big.res = (640, 360);
    let mut ev = v.video_run(&sim, 0.0, 1000.0, true, 0.0);
    ev.extend(big.video_run(&sim, 1000.0, 2000.0, true, 0.0));
    sim.run(ev);
    sim.finish(2100.0);
    assert_eq!(sim.opened().len(), 1);
    let infos = sim.infos();
    let change: Vec<_> = infos
        .iter()
        .filter(|i| i["event"] == "resolution")
        .collect();
    assert_eq!(change.len(), 1);
    let last = infos.last().unwrap();
    assert_eq!(last["event"], "close");
    assert_eq!(
        last["resolutions"],
        serde_json::json!([{"at_ms": 0, "width": 320, "height": 240}, {"at_ms": 1000, "width": 640, "height": 360}])
    );
    assert_eq!(last["frames"]["video"], 60);
}

/// Audio that starts just before the keyframe must not be pulled onto pts 0 on top of the next
/// packet: overlapping Opus packets make decoders emit non-monotonic timestamps.
#[test]
fn audio_just_before_the_keyframe_never_overlaps_the_next_packet() {
    for lead_ms in [1.0, 7.0, 13.0, 19.0] {
        let mut sim = Sim::new(config("cam"));
        let v = Src::video("0", Codec::Vp8);
        let a = Src::audio("1");
        let mut ev = v.video_run(&sim, lead_ms, 3000.0, true, 1000.0);
        ev.extend(a.audio_run(&sim, 0.0, 3000.0));
        sim.run(ev);
        sim.finish(3100.0);
        let f = &sim.files()[0];
        let audio: Vec<f64> = f
            .track_frames(f.audio().unwrap())
            .iter()
            .map(|w| w.pts_ns as f64 / 1e6)
            .collect();
        for pair in audio.windows(2) {
            assert!(
                pair[1] - pair[0] >= 19.5,
                "lead {lead_ms} ms: audio packets at {pair:?} overlap"
            );
        }
        assert!(max_sync_error(f) <= VIDEO_FRAME_MS, "lead {lead_ms} ms");
    }
}
