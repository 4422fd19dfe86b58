//! Offers str0m accepts but cannot run: the session must refuse them, not panic later.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use roomrec_core::room::SessionKey;
use roomrec_core::session::{Session, SessionConfig};

const REOFFER: &str =
    include_str!("../../tests/fixtures/traces/sdp/chrome-reoffer-audio-video.sdp");

fn config() -> SessionConfig {
    SessionConfig {
        key: SessionKey {
            peer: "publisher".into(),
            session: "session".into(),
        },
        stream_id: "cam1".into(),
        cipher: None,
        local_addrs: vec![SocketAddr::from(([127, 0, 0, 1], 40_000))],
        video_codecs: Vec::new(),
        audio: true,
        video: true,
        label: "test".into(),
        connect_timeout: Duration::from_secs(10),
        seed: 1,
    }
}

/// Runs the session's timers for a few seconds (ICE checks against the offer's candidate).
fn run_timers(session: &mut Session, start: Instant) {
    let end = start + Duration::from_secs(3);
    let mut now = start;
    while now < end {
        while session.poll_output().is_some() {}
        now = session.poll_timeout().max(now + Duration::from_millis(1));
        session.handle_timeout(now);
    }
}

/// Fuzz finding (`session_offer`): a ufrag of ~111+ bytes made str0m's STUN writer panic at the
/// first connectivity check, so one publisher could crash the recorder.
#[test]
fn overlong_remote_ufrag_is_rejected_and_normal_ones_run() {
    let now = Instant::now();
    let long = REOFFER.replace("q4IR", &"u".repeat(128));
    let err = Session::new(now, config(), &long)
        .err()
        .expect("overlong ufrag rejected");
    assert!(err.to_string().contains("ice-ufrag"), "{err}");

    for len in [4, 32, 64] {
        let offer = REOFFER.replace("q4IR", &"u".repeat(len));
        let mut session = Session::new(now, config(), &offer).expect("offer accepted");
        run_timers(&mut session, now);
    }
}

#[test]
fn the_fuzz_reproducer_is_refused() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/regressions/session_offer/long-ice-ufrag-stun-panic"
    );
    let offer = String::from_utf8_lossy(&std::fs::read(path).expect("reproducer")).into_owned();
    assert!(Session::new(Instant::now(), config(), &offer).is_err());
}

/// Fuzz finding (`session_offer`): PT 116 mapped to H.264 in two m-sections with different fmtp made
/// str0m claim the PT twice and panic ("Pt locked multiple times").
#[test]
fn a_payload_type_with_two_meanings_is_refused() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/regressions/session_offer/payload-type-two-meanings"
    );
    let offer = std::fs::read_to_string(path).expect("reproducer");
    let err = Session::new(Instant::now(), config(), &offer)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("payload type 116"), "{err}");

    // The video section's H.264 PT redefined (without its fmtp) in the audio section: refused.
    let audio_too = REOFFER.replacen(
        "a=rtpmap:111 opus/48000/2",
        "a=rtpmap:111 opus/48000/2\r\na=rtpmap:116 H264/90000",
        1,
    );
    assert!(Session::new(Instant::now(), config(), &audio_too).is_err());
    assert!(Session::new(Instant::now(), config(), REOFFER).is_ok());
}
