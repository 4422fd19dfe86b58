//! `ConnectionEvent::Stats` in the simulation: about once a second, with counters that match
//! what the publisher sent, what str0m delivered and what went into the files.

use std::time::Duration;

use roomrec_core::connection::STATS_INTERVAL;
use roomrec_core::media::{Codec, TrackKind};
use roomrec_core::signaling::{Dialect, Password};
use roomrec_tests::sim::{PublisherSpec, Sim, SimConfig};
use roomrec_tests::synthetic::{audio_track, video_track};

fn recording(seed: u64) -> (Sim, usize) {
    let mut sim = Sim::new(SimConfig::new(Dialect::Relay, Password::Default, seed));
    let spec = PublisherSpec::new(
        "alice",
        Some(video_track(Codec::Vp8, 4, 60)),
        Some(audio_track(4)),
    );
    let alice = sim.add_publisher(spec);
    sim.recorder_connect();
    sim.publisher_join(alice);
    (sim, alice)
}

#[test]
fn stats_come_once_a_second_and_count_what_was_sent() {
    let (mut sim, alice) = recording(7);
    sim.run_for(Duration::from_secs(6));
    // Silence both tracks, then let everything in flight arrive and one more report go out.
    sim.publishers[alice].publisher.set_video_muted(true);
    sim.publishers[alice].publisher.set_audio_muted(true);
    sim.run_for(Duration::from_millis(2500));
    let sent = sim.publishers[alice].publisher.sent_counts();
    assert!(sent.video > 100 && sent.audio > 200, "{sent:?}");

    let stats = &sim.recorder.stats;
    let handles: Vec<_> = stats.iter().map(|s| s.1).collect();
    assert!(handles.windows(2).all(|w| w[0] == w[1]), "one connection");
    // About once a second from the connection's start: 8.5 s of simulation.
    assert!((7..=9).contains(&stats.len()), "{} reports", stats.len());
    for w in stats.windows(2) {
        let gap = w[1].0 - w[0].0;
        assert!(
            gap >= STATS_INTERVAL && gap < STATS_INTERVAL + Duration::from_millis(50),
            "{gap:?}"
        );
        assert_eq!(w[1].2.interval, gap, "interval is the time between reports");
    }

    let (_, _, last, open_file_bytes) = stats.last().unwrap();
    let track = |kind| {
        let t = last
            .tracks
            .iter()
            .find(|t| t.codec.map(Codec::kind) == Some(kind));
        t.expect("track reported")
    };
    let (video, audio) = (track(TrackKind::Video), track(TrackKind::Audio));
    // Everything sent arrived (no loss on this network), frame for frame and byte for byte as
    // str0m delivered it.
    // (str0m hands out a video frame once the next one begins: the last one sent stays inside.)
    assert!(
        (sent.video - 1..=sent.video).contains(&video.frames),
        "{sent:?} {video:?}"
    );
    assert_eq!(audio.frames, sent.audio);
    let received = |mid: &str| -> (u64, u64) {
        let frames = sim.recorder.frames.iter().filter(|f| f.frame.track == mid);
        frames.fold((0, 0), |(n, b), f| (n + 1, b + f.frame.bytes as u64))
    };
    assert_eq!(received(&video.track), (video.frames, video.bytes));
    assert_eq!(received(&audio.track), (audio.frames, audio.bytes));
    let keyframes = sim
        .recorder
        .frames
        .iter()
        .filter(|f| f.frame.track == video.track);
    assert_eq!(
        keyframes.filter(|f| f.frame.keyframe).count() as u64,
        video.keyframes
    );
    // One RTP packet per Opus frame; the 600/3000-byte video frames take one or more each.
    assert_eq!(audio.packets, audio.frames);
    assert!(video.packets > video.frames, "{video:?}");
    assert_eq!(video.packets_lost + audio.packets_lost, 0);
    assert_eq!(last.loss_percent(), 0.0);
    // The interval counts add up to the totals.
    for t in [video, audio] {
        let per_interval = |f: fn(&roomrec_core::connection::TrackStats) -> u64| -> u64 {
            stats
                .iter()
                .filter_map(|s| s.2.tracks.iter().find(|x| x.track == t.track))
                .map(f)
                .sum()
        };
        assert_eq!(per_interval(|x| x.frames_interval), t.frames);
        assert_eq!(per_interval(|x| x.bytes_interval), t.bytes);
        assert_eq!(per_interval(|x| x.packets_interval), t.packets);
    }
    // Muted for the last interval: nothing came in.
    assert_eq!(last.bitrate_bps(), 0);
    // The file bytes are exactly what the in-memory file held at each report.
    for (_, _, s, mem) in stats {
        assert_eq!(s.file_bytes, *mem);
    }
    assert!(*open_file_bytes > 0);
    assert_eq!(last.total_file_bytes, last.file_bytes, "one file so far");
    let recorded = last.recorded.as_secs_f64();
    // 6 s of media, minus the connection setup and the wait for a keyframe (every 2 s).
    assert!((3.0..=6.0).contains(&recorded), "recorded {recorded}");
    // A busy interval: ~30 fps and ~50 audio frames a second, at a bitrate above zero.
    let busy = &stats[4].2;
    let fps = busy
        .tracks
        .iter()
        .find(|t| t.track == video.track)
        .map(|t| t.frame_rate(busy.interval))
        .unwrap();
    assert!((25.0..=35.0).contains(&fps), "{fps} fps");
    assert!(busy.bitrate_bps() > 100_000, "{} bps", busy.bitrate_bps());
}

#[test]
fn loss_is_counted_from_the_sequence_numbers() {
    let (mut sim, _) = recording(11);
    sim.run_for(Duration::from_secs(2));
    sim.net.impairment.loss = 0.1;
    sim.run_for(Duration::from_secs(4));
    sim.net.impairment.loss = 0.0;
    sim.run_for(Duration::from_secs(2));
    let stats = &sim.recorder.stats;
    let last = &stats.last().unwrap().2;
    let lost: u64 = last.tracks.iter().map(|t| t.packets_lost).sum();
    let got: u64 = last.tracks.iter().map(|t| t.packets).sum();
    assert!(lost > 0, "10% loss for 4 s lost nothing? {last:?}");
    // NACK recovers some video; audio (no NACK) loses about a tenth.
    assert!(
        lost * 100 < (lost + got) * 20,
        "lost {lost} of {}",
        lost + got
    );
    let lossy = stats.iter().filter(|s| s.2.loss_percent() > 0.0).count();
    assert!(lossy >= 2, "{lossy} intervals with loss");
    let interval_sum: u64 = stats
        .iter()
        .flat_map(|s| s.2.tracks.iter().map(|t| t.packets_lost_interval))
        .sum();
    assert_eq!(interval_sum, lost);
}
