//! In-memory end-to-end of the signaling + WebRTC core: fake str0m publishers, the relay routing in
//! both dialects, with and without password, on virtual time.

use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_tests::sim::{PublisherSpec, Sim, SimConfig};
use roomrec_tests::synthetic::{audio_track, video_track};

fn spec(stream: &str, codec: Codec) -> PublisherSpec {
    PublisherSpec::new(
        stream,
        Some(video_track(codec, 4, 30)),
        Some(audio_track(4)),
    )
}

/// Everything issue "Foundation" asks of a room: publishers present before the recorder, one that
/// arrives later, a leave (`bye`) and rejoin under a new peer id, and a scene peer with no tracks.
fn room_scenario(dialect: Dialect, password: Password, seed: u64) {
    let mut sim = Sim::new(SimConfig::new(dialect, password, seed));
    let alice = sim.add_publisher(spec("alice", Codec::Vp8));
    let mut bob_spec = spec("bob", Codec::H264);
    bob_spec.candidates_first = true;
    let bob = sim.add_publisher(bob_spec);
    let scene = sim.add_scene();
    sim.publisher_join(alice);
    sim.publisher_join(bob);
    sim.publisher_join(scene);
    sim.run_for(Duration::from_millis(500));

    sim.recorder_connect();
    sim.run_for(Duration::from_secs(2));
    let carol = sim.add_publisher(spec("carol", Codec::Vp9));
    sim.publisher_join(carol);
    sim.run_for(Duration::from_secs(4));

    for stream in ["alice", "bob", "carol"] {
        let (video, audio) = sim.frame_counts(stream);
        assert!(video > 30, "{dialect:?}: {stream} video frames {video}");
        assert!(audio > 50, "{dialect:?}: {stream} audio frames {audio}");
    }
    let codecs: Vec<Codec> = ["alice", "bob", "carol"]
        .iter()
        .map(|s| {
            sim.recorder
                .frames
                .iter()
                .find(|f| f.stream_id == *s && f.frame.codec != Codec::Opus)
                .unwrap()
                .frame
                .codec
        })
        .collect();
    assert_eq!(codecs, [Codec::Vp8, Codec::H264, Codec::Vp9]);
    // The scene costs nothing: never a session, never a frame.
    assert!(sim
        .recorder
        .started
        .iter()
        .all(|(_, stream)| stream == "alice" || stream == "bob" || stream == "carol"));

    // Alice hangs up and comes back with a new peer id: a second connection records her again.
    sim.publisher_leave(alice);
    sim.run_for(Duration::from_secs(1));
    assert!(
        sim.recorder
            .connections
            .values()
            .all(|s| s.stream_id != "alice"),
        "alice's connection must end on bye"
    );
    let (before, _) = sim.frame_counts("alice");
    let alice2 = sim.add_publisher(spec("alice", Codec::Vp8));
    sim.publisher_join(alice2);
    sim.run_for(Duration::from_secs(4));
    let (after, _) = sim.frame_counts("alice");
    assert!(
        after > before + 30,
        "rejoined alice recorded again ({before} -> {after})"
    );
    let sessions = sim.sessions_with_frames("alice");
    assert_eq!(sessions.len(), 2, "two connections for alice: {sessions:?}");
    assert_ne!(sessions[0].peer, sessions[1].peer);
    assert_eq!(
        sim.recorder
            .labels
            .values()
            .filter(|l| *l == "alice")
            .count(),
        2
    );
}

#[test]
fn relay_dialect_default_password() {
    room_scenario(Dialect::Relay, Password::Default, 1);
}

#[test]
fn relay_dialect_without_password() {
    room_scenario(Dialect::Relay, Password::Disabled, 2);
}

#[test]
fn official_dialect_default_password() {
    room_scenario(Dialect::Official, Password::Default, 3);
}

#[test]
fn official_dialect_without_password() {
    room_scenario(Dialect::Official, Password::Disabled, 4);
}

#[test]
fn custom_password_and_stream_filter() {
    let mut config = SimConfig::new(Dialect::Relay, Password::parse(Some("hunter2")), 5);
    config.record_streams = Some(vec!["wanted".into()]);
    let mut sim = Sim::new(config);
    let wanted = sim.add_publisher(spec("wanted", Codec::Vp8));
    let other = sim.add_publisher(spec("other", Codec::Vp8));
    sim.recorder_connect();
    sim.publisher_join(wanted);
    sim.publisher_join(other);
    sim.run_for(Duration::from_secs(3));
    assert!(sim.frame_counts("wanted").0 > 30);
    assert_eq!(sim.frame_counts("other"), (0, 0));
    assert!(sim.recorder.started.iter().all(|(_, s)| s == "wanted"));
}

#[test]
fn signaling_drop_keeps_media_flowing_and_rejoins() {
    let mut sim = Sim::new(SimConfig::new(Dialect::Relay, Password::Default, 6));
    let a = sim.add_publisher(spec("alice", Codec::Vp8));
    sim.publisher_join(a);
    sim.recorder_connect();
    sim.run_for(Duration::from_secs(2));
    sim.recorder_disconnect();
    let (before, _) = sim.frame_counts("alice");
    sim.run_for(Duration::from_secs(2));
    let (during, _) = sim.frame_counts("alice");
    assert!(
        during > before + 30,
        "media keeps flowing while signaling is down"
    );
    sim.recorder_connect();
    sim.run_for(Duration::from_secs(2));
    let b = sim.add_publisher(spec("bob", Codec::Vp8));
    sim.publisher_join(b);
    sim.run_for(Duration::from_secs(3));
    assert!(
        sim.frame_counts("bob").0 > 30,
        "publisher arriving after the re-join is recorded"
    );
    assert!(sim.frame_counts("alice").0 > during + 30);
}
