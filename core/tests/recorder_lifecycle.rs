//! File lifecycle: write/flush/tick cadence, bounded holding, finish, manifest, names.

mod recorder_support;

use std::time::Duration;

use recorder_support::*;
use roomrec_core::media::recorder::FLUSH_INTERVAL;
use roomrec_core::media::{Codec, FileId, FileOp, RecorderOutput};

fn write_times(sim: &Sim, file: FileId, byte: u8) -> Vec<f64> {
    sim.times_of(
        file,
        |o| matches!(o, RecorderOutput::File(FileOp::Write { bytes, .. }) if bytes.contains(&byte)),
    )
}

#[test]
fn muted_camera_keeps_audio_flushes_and_ticks_flowing() {
    let mut sim = Sim::new(config("cam"));
    let v = Src::video("0", Codec::H264);
    let a = Src::audio("1");
    // Camera for 2 s (keyframe every second), then muted; audio for 12 s.
    let mut ev = v.video_run(&sim, 0.0, 2000.0, true, 1000.0);
    ev.extend(a.audio_run(&sim, 0.0, 12_000.0));
    ev.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut fed_audio = 0;
    for (t, f) in ev {
        let is_audio = f.codec == Codec::Opus;
        sim.feed(t, f);
        fed_audio += usize::from(is_audio);
        // poll_timeout never lets a flush/tick slip past a second.
        let next = sim
            .rec
            .poll_timeout()
            .expect("an open file always has a timer");
        assert!(next <= sim.at(sim.now_ms) + FLUSH_INTERVAL);
        if let Some(f) = sim.files().first() {
            let written = f.track_frames(1).len();
            // Audio from 480 ms before the file start is dropped; the rest is never held > ~1 s.
            let held = fed_audio.saturating_sub(written);
            assert!(held <= 3 + 1000 / 20, "{held} audio frames held at {t} ms");
        }
    }
    sim.finish(12_100.0);
    let file = sim.opened()[0].0;
    let f = &sim.files()[0];
    assert_eq!(f.track_frames(1).len(), 600);
    assert!(f.track_frames(1).iter().all(|w| w.pts_ns <= 12_000_000_000));

    // A flush right after every write that carried a video keyframe.
    let outs: Vec<&RecorderOutput> = sim.outs.iter().map(|(_, o)| o).collect();
    let mut keyframe_writes = 0;
    for (i, o) in outs.iter().enumerate() {
        if let RecorderOutput::File(FileOp::Write { bytes, .. }) = o {
            if bytes.windows(2).any(|w| w == [b'K', 0]) {
                keyframe_writes += 1;
                assert!(
                    matches!(outs[i + 1], RecorderOutput::File(FileOp::Flush { .. })),
                    "no flush after keyframe: {:?}",
                    &outs[i..i + 2]
                );
            }
        }
    }
    assert_eq!(keyframe_writes, 2);
    // Flushes and muxer ticks at least once a second over the whole file, muted part included.
    let open_at = sim.times_of(file, |o| {
        matches!(o, RecorderOutput::File(FileOp::Open { .. }))
    })[0];
    let mut flushes = sim.times_of(file, |o| {
        matches!(o, RecorderOutput::File(FileOp::Flush { .. }))
    });
    flushes.insert(0, open_at);
    let mut ticks = write_times(&sim, file, b'T');
    ticks.insert(0, open_at);
    for series in [&flushes, &ticks] {
        for w in series.windows(2) {
            assert!(w[1] - w[0] <= 1000.0 + 1e-6, "gap {:?}", w);
        }
        assert!(*series.last().unwrap() >= 11_000.0);
    }
    // Tick time follows the file timeline while the camera is muted.
    let t = &f.ticks;
    assert!(t.windows(2).all(|w| w[1] >= w[0]));
    assert!(*t.last().unwrap() > 10_000_000_000, "{:?}", t.last());
}

#[test]
fn finish_finalizes_every_open_file_with_trailer_first() {
    let mut sim = Sim::new(config("host"));
    let cam = Src::video("0", Codec::Vp8);
    let mic = Src::audio("1");
    let screen = Src::video("2", Codec::H264);
    let mut ev = cam.video_run(&sim, 0.0, 3000.0, true, 0.0);
    ev.extend(mic.audio_run(&sim, 0.0, 3000.0));
    ev.extend(screen.video_run(&sim, 0.0, 3000.0, true, 0.0));
    sim.run(ev);
    let before = sim.outs.len();
    sim.finish(3000.0);
    let tail: Vec<&RecorderOutput> = sim.outs[before..].iter().map(|(_, o)| o).collect();
    let opened = sim.opened();
    assert_eq!(opened.len(), 2);
    for (file, _, _) in &opened {
        let idx: Vec<usize> = tail
            .iter()
            .enumerate()
            .filter(|(_, o)| output_file(o) == Some(*file))
            .map(|(i, _)| i)
            .collect();
        let last = *idx.last().unwrap();
        match tail[last] {
            RecorderOutput::File(FileOp::Finalize { patches, .. }) => {
                assert_eq!(patches[0].bytes, b"h")
            }
            o => panic!("last output for {file:?} is {o:?}"),
        }
        match tail[idx[idx.len() - 2]] {
            RecorderOutput::File(FileOp::Write { bytes, .. }) => assert!(bytes.ends_with(b"END")),
            o => panic!("trailer missing: {o:?}"),
        }
    }
    assert_eq!(
        tail.iter()
            .filter(|o| matches!(o, RecorderOutput::File(FileOp::Record(v)) if v.event == "close"))
            .count(),
        2
    );
    assert!(sim.files().iter().all(|f| f.finished == 1));
    // Every queued frame made it into the files before the trailer.
    assert_eq!(sim.files()[0].frames.len(), 90 + 150);
    // Finished: no timers, later input ignored, finishing twice is harmless.
    assert_eq!(sim.rec.poll_timeout(), None);
    let (_, late) = mic.frame(&sim, 3000.0, true, true);
    let n = sim.outs.len();
    sim.feed(3050.0, late);
    sim.finish(3100.0);
    assert_eq!(sim.outs.len(), n);

    let mut disk = Disk::default();
    for (_, o) in &sim.outs {
        disk.apply(o).unwrap();
    }
    assert!(disk
        .files
        .values()
        .all(|f| f.finalized == 1 && f.bytes.starts_with(b"hDR")));
}

#[test]
fn manifest_records_describe_each_file() {
    let mut cfg = config("Alice/../x");
    cfg.first_file_id = 7;
    let mut sim = Sim::new(cfg);
    sim.rec.set_label("Alice 🎤");
    let v = Src::video("0", Codec::Vp8);
    let a = Src::audio("1");
    let mut ev = v.video_run(&sim, 0.0, 2000.0, true, 0.0);
    ev.extend(a.audio_run(&sim, 0.0, 2000.0));
    sim.run(ev);
    sim.rec.set_label("Alice B");
    sim.finish(2100.0);
    let infos = sim.infos();
    let events: Vec<&str> = infos.iter().map(|i| i["event"].as_str().unwrap()).collect();
    assert_eq!(events, vec!["open", "label", "close"]);
    let open = &infos[0];
    assert_eq!(open["file_id"], 7);
    assert_eq!(open["file"], "rec_Alice_x_1700000000.webm");
    assert_eq!(open["stream_id"], "Alice/../x");
    assert_eq!(open["stream_name"], "Alice_x");
    assert_eq!(open["label"], "Alice 🎤");
    assert_eq!(open["role"], "main");
    assert_eq!(open["video_codec"], "vp8");
    assert_eq!(open["audio_codec"], "opus");
    assert_eq!(open["clock"], "arrival");
    assert!(open["end_wall"].is_null());
    assert_eq!(open["complete"], false);
    let close = &infos[2];
    assert_eq!(close["label"], "Alice B");
    assert_eq!(close["complete"], true);
    assert_eq!(
        close["frames"],
        serde_json::json!({"video": 60, "audio": 100})
    );
    assert_eq!(close["duration_ms"], 2000);
    assert_eq!(close["start_wall"], "2023-11-14T22:13:20.040Z");
    assert_eq!(close["end_wall"], "2023-11-14T22:13:22.040Z");
    assert_eq!(
        close["end_unix_ms"].as_i64().unwrap() - close["start_unix_ms"].as_i64().unwrap(),
        2000
    );
    assert_eq!(
        sim.files()[0].start_wall,
        Some(sim.wall0 + Duration::from_millis(40))
    );
}

#[test]
fn file_ids_count_up_from_the_first_id() {
    let mut cfg = config("s");
    cfg.first_file_id = 5000;
    let mut sim = Sim::new(cfg);
    let a = Src::audio("1");
    let v = Src::video("0", Codec::Vp8);
    let s = Src::video("2", Codec::Vp8);
    let mut ev = a.audio_run(&sim, 0.0, 6000.0);
    ev.extend(v.video_run(&sim, 3000.0, 6000.0, true, 0.0));
    ev.extend(s.video_run(&sim, 3500.0, 6000.0, true, 0.0));
    sim.run(ev);
    sim.finish(6100.0);
    let ids: Vec<u64> = sim.opened().iter().map(|o| o.0 .0).collect();
    assert_eq!(ids, vec![5000, 5001, 5002]);
}

#[test]
fn hostile_stream_ids_never_escape_the_output_dir() {
    let long = "x".repeat(1000);
    let ids = [
        "../../etc/x",
        "/etc/passwd",
        "a\\..\\..\\windows",
        "nul\0byte",
        "ünïcødé 🎥 name",
        long.as_str(),
        "",
        "..",
        "...///\\\\",
        "-rf",
        "$(rm -rf ~)",
        "a\nb\rc\td",
    ];
    for id in ids {
        let mut cfg = config(id);
        cfg.video = false;
        let mut sim = Sim::new(cfg);
        let a = Src::audio("1");
        sim.run(a.audio_run(&sim, 0.0, 100.0));
        sim.finish(200.0);
        let (_, base, ext) = sim.opened().remove(0);
        let stream = base
            .strip_prefix("rec_")
            .unwrap()
            .rsplit_once('_')
            .unwrap()
            .0;
        assert!(!stream.is_empty() && stream.len() <= 64, "{id:?} -> {base}");
        assert!(
            base.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "{id:?} -> {base}"
        );
        assert!(!base.contains("__"), "runs collapse: {base}");
        let path = std::path::Path::new("/out").join(format!("{base}.{ext}"));
        assert_eq!(path.parent(), Some(std::path::Path::new("/out")));
        assert_eq!(sim.infos()[0]["stream_id"], id);
    }
}
