//! Network blackouts in the simulation. A short one (10 s) is ridden out: the same connection
//! and file go on once datagrams flow again. A long one is noticed by ICE (`Disconnected`, which
//! feeds the `connection_lost` event) when its checks have gone unanswered for long enough, and
//! the connection ends after the grace period with its file finalized.

use std::time::{Duration, Instant};

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_tests::sim::{PublisherSpec, Sim, SimConfig};
use roomrec_tests::synthetic::{audio_track, video_track};

fn recording(seed: u64) -> Sim {
    let mut sim = Sim::new(SimConfig::new(Dialect::Relay, Password::Default, seed));
    let spec = PublisherSpec::new(
        "alice",
        Some(video_track(Codec::Vp8, 90, 60)),
        Some(audio_track(90)),
    );
    let alice = sim.add_publisher(spec);
    sim.recorder_connect();
    sim.publisher_join(alice);
    sim.run_for(Duration::from_secs(4));
    assert!(
        !sim.recorder.frames.is_empty(),
        "recording before the blackout"
    );
    sim
}

fn frames_after(sim: &Sim, t: Instant) -> usize {
    sim.recorder.frames.iter().filter(|f| f.at > t).count()
}

#[test]
fn a_short_blackout_is_ridden_out_in_the_same_file() {
    let mut sim = recording(21);
    sim.net.impairment.loss = 1.0;
    sim.run_for(Duration::from_secs(10));
    let back = sim.now;
    sim.net.impairment.loss = 0.0;
    sim.run_for(Duration::from_secs(5));
    assert!(sim.recorder.closed.is_empty(), "{:?}", sim.recorder.closed);
    // 5 s of 30 fps video and 50 packets/s of audio after the blackout, less a keyframe wait.
    let after = frames_after(&sim, back);
    assert!(after > 150, "{after} frames after the blackout");
    let files: Vec<_> = sim.recorder.files.values().collect();
    assert_eq!(files.len(), 1, "one file across the blackout");
    assert!(!files[0].finalized);
}

#[test]
fn a_long_blackout_is_reported_then_ends_the_connection_with_the_file_finalized() {
    let mut sim = recording(22);
    sim.net.impairment.loss = 1.0;
    let dark = sim.now;
    while sim.recorder.closed.is_empty() && sim.now - dark < Duration::from_secs(60) {
        sim.run_for(Duration::from_millis(100));
    }
    let changes = &sim.recorder.ice_changes;
    let [(lost_at, _, false)] = changes[..] else {
        panic!("one Disconnected and nothing after it: {changes:?}");
    };
    let silent = lost_at - dark;
    assert!(
        silent < Duration::from_secs(6),
        "reported after 5 s of silence: {silent:?}"
    );
    let closed = &sim.recorder.closed;
    assert_eq!(closed.len(), 1, "ended within a minute: {closed:?}");
    assert!(closed[0].1.contains("ICE"), "{closed:?}");
    let files: Vec<_> = sim.recorder.files.values().collect();
    assert_eq!(files.len(), 1);
    assert!(
        files[0].finalized,
        "the file is finalized when the connection ends"
    );
    assert_eq!(frames_after(&sim, lost_at), 0);
}
