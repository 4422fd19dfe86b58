//! The connection's media path under loss, in the simulation: str0m, the keyframe gate, the
//! muxers and the file lifecycle together. The observer checks properties (f) gating after a
//! broken reference chain and throttled keyframe requests, (g) every opened file finalized when
//! the connection ends, (h) every file reads back whole; the counters prove they were exercised.

use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::room::RoomInput;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_tests::sim::{PublisherSpec, Sim, SimConfig};
use roomrec_tests::synthetic::{audio_track, fixture_audio, fixture_video, video_track};

/// How the recording ends.
#[derive(Clone, Copy, Debug)]
enum End {
    PublisherLeaves,
    RecorderShutsDown,
}

/// What the publisher sends: real encoded media from the fixtures, or synthetic VP8 frames
/// (whose first byte marks keyframes) with a keyframe every 2 s, so after a break the gate waits
/// up to that long, asking every second (the test publisher does not answer PLI).
fn publisher(codec: Codec, real: bool) -> PublisherSpec {
    if real {
        let video = fixture_video(codec, false).expect("fixture for this codec");
        PublisherSpec::new("alice", Some(video), Some(fixture_audio()))
    } else {
        PublisherSpec::new(
            "alice",
            Some(video_track(codec, 4, 60)),
            Some(audio_track(4)),
        )
    }
}

fn lossy_recording(spec: PublisherSpec, end: End, seed: u64) -> Sim {
    let mut sim = Sim::new(SimConfig::new(Dialect::Relay, Password::Default, seed));
    let alice = sim.add_publisher(spec);
    sim.recorder_connect();
    sim.publisher_join(alice);
    sim.run_for(Duration::from_secs(3));
    sim.net.impairment.loss = 0.2;
    sim.run_for(Duration::from_secs(8));
    sim.net.impairment.loss = 0.0;
    sim.run_for(Duration::from_secs(3));
    match end {
        End::PublisherLeaves => sim.publisher_leave(alice),
        End::RecorderShutsDown => {
            let now = sim.now;
            sim.recorder.room_input(now, RoomInput::Shutdown);
        }
    }
    sim.run_for(Duration::from_secs(1));
    sim
}

#[test]
fn loss_breaks_the_chain_and_the_gate_holds() {
    for (codec, real, end, seed) in [
        (Codec::Vp8, false, End::PublisherLeaves, 61),
        (Codec::H264, true, End::RecorderShutsDown, 62),
        (Codec::Vp8, true, End::PublisherLeaves, 63),
    ] {
        let mut sim = lossy_recording(publisher(codec, real), end, seed);
        let violations = sim.finish();
        assert!(violations.is_empty(), "{codec:?} {end:?}: {violations:#?}");
        let media = &sim.recorder.observer.media;
        let what = format!(
            "{codec:?} {end:?}: {} chain breaks, {} keyframe requests, {} frames written, {} files finalized",
            media.chain_breaks, media.keyframe_requests, media.frames_written, media.files_finalized
        );
        eprintln!("{what}");
        assert!(media.chain_breaks >= 2, "{what}");
        assert!(media.keyframe_requests >= 2, "{what}");
        assert!(media.frames_written > 300, "{what}");
        let files = &sim.recorder.files;
        assert!(!files.is_empty(), "{what}");
        assert!(
            files.values().all(|f| f.finalized),
            "{what}: a file left open"
        );
        assert_eq!(media.files_finalized as usize, files.len(), "{what}");
    }
}
