//! What a connection answers: offers str0m accepts but cannot run are refused (not a panic
//! later), and the candidates it announces.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use roomrec_core::connection::{
    CloseReason, Connection, ConnectionCommand, ConnectionHandle, ConnectionInput,
    ConnectionOutput, ConnectionReport, ConnectionSettings, ConnectionStart, SessionKey,
};
use roomrec_core::signaling::IceCandidate;

const REOFFER: &str =
    include_str!("../../tests/fixtures/traces/sdp/chrome-reoffer-audio-video.sdp");

fn connect(offer: &str) -> Connection {
    let local = [SocketAddr::from(([127, 0, 0, 1], 40_000))];
    connect_with(offer, ConnectionSettings::default(), &local)
}

fn connect_with(offer: &str, settings: ConnectionSettings, local: &[SocketAddr]) -> Connection {
    let start = ConnectionStart {
        handle: ConnectionHandle(1),
        key: SessionKey {
            peer: "publisher".into(),
            session: "session".into(),
        },
        stream_id: "cam1".into(),
        offer_sdp: offer.into(),
        cipher: None,
        first_file_id: 0,
        seed: 1,
        settings,
    };
    Connection::new(Instant::now(), SystemTime::now(), start, local)
}

/// The connection's first report: its answer, or why the offer was refused.
fn first_report(connection: &mut Connection) -> ConnectionReport {
    while let Some(out) = connection.poll_output() {
        if let ConnectionOutput::Report(report) = out {
            return report;
        }
    }
    panic!("a new connection reports an answer or a refusal")
}

/// Why the offer was refused, or None if it was answered.
fn refusal(offer: &str) -> Option<String> {
    match first_report(&mut connect(offer)) {
        ConnectionReport::Answer { .. } => None,
        ConnectionReport::Closed(CloseReason::OfferRejected(why)) => Some(why),
        other => panic!("unexpected first report {other:?}"),
    }
}

/// Runs the connection's timers for a few seconds (ICE checks against the offer's candidate).
fn run_timers(connection: &mut Connection, start: Instant) {
    let end = start + Duration::from_secs(3);
    let mut now = start;
    while now < end {
        while connection.poll_output().is_some() {}
        let next = connection
            .poll_timeout()
            .expect("a live connection has a timeout");
        now = next.max(now + Duration::from_millis(1));
        connection.handle_input(now, SystemTime::now(), ConnectionInput::Timeout);
    }
}

/// Fuzz finding (`session_offer`): a ufrag of ~111+ bytes made str0m's STUN writer panic at the
/// first connectivity check, so one publisher could crash the recorder.
#[test]
fn overlong_remote_ufrag_is_rejected_and_normal_ones_run() {
    let now = Instant::now();
    let long = REOFFER.replace("q4IR", &"u".repeat(128));
    let err = refusal(&long).expect("overlong ufrag rejected");
    assert!(err.contains("ice-ufrag"), "{err}");

    for len in [4, 32, 64] {
        let offer = REOFFER.replace("q4IR", &"u".repeat(len));
        let mut connection = connect(&offer);
        assert!(matches!(
            first_report(&mut connection),
            ConnectionReport::Answer { .. }
        ));
        run_timers(&mut connection, now);
    }
}

#[test]
fn the_fuzz_reproducer_is_refused() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fuzz/regressions/session_offer/long-ice-ufrag-stun-panic"
    );
    let offer = String::from_utf8_lossy(&std::fs::read(path).expect("reproducer")).into_owned();
    assert!(refusal(&offer).is_some());
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
    let err = refusal(&offer).expect("refused");
    assert!(err.contains("payload type 116"), "{err}");

    // The video section's H.264 PT redefined (without its fmtp) in the audio section: refused.
    let audio_too = REOFFER.replacen(
        "a=rtpmap:111 opus/48000/2",
        "a=rtpmap:111 opus/48000/2\r\na=rtpmap:116 H264/90000",
        1,
    );
    assert!(refusal(&audio_too).is_some());
    assert!(refusal(REOFFER).is_none());
}

/// `--public-ip` (1:1 NAT): the public address is announced with each local port of its family, as
/// a server-reflexive candidate based on the local socket; the host candidates stay.
#[test]
fn public_ips_are_announced_with_the_local_ports() {
    let settings = ConnectionSettings {
        public_ips: vec![
            "203.0.113.10".parse().unwrap(),
            "2001:db8::10".parse().unwrap(),
        ],
        ..ConnectionSettings::default()
    };
    let local = [
        SocketAddr::from(([10, 0, 0, 2], 40_000)),
        SocketAddr::from(([10, 0, 0, 2], 40_001)),
    ];
    let ConnectionReport::Answer { sdp } =
        first_report(&mut connect_with(REOFFER, settings, &local))
    else {
        panic!("the offer is answered");
    };
    let candidates: Vec<&str> = sdp
        .lines()
        .filter(|l| l.starts_with("a=candidate"))
        .collect();
    for port in [40_000, 40_001] {
        let host = format!(" 10.0.0.2 {port} typ host");
        // str0m hides the base (raddr 0.0.0.0), as browsers do.
        let srflx = format!(" 203.0.113.10 {port} typ srflx");
        assert!(
            candidates.iter().any(|c| c.contains(&host)),
            "{candidates:#?}"
        );
        assert!(
            candidates.iter().any(|c| c.contains(&srflx)),
            "{candidates:#?}"
        );
    }
    // No IPv6 socket, so the IPv6 public address has no port to go with.
    assert!(
        !candidates.iter().any(|c| c.contains("2001:db8::10")),
        "{candidates:#?}"
    );
    assert_eq!(candidates.len(), 4, "{candidates:#?}");
}

/// Nothing answers our checks: the connection gives up after its connect timeout and says what
/// each side offered (the offer's candidate and a trickled one), so a user can act on it.
#[test]
fn a_connection_that_never_connects_says_what_was_offered() {
    let settings = ConnectionSettings {
        connect_timeout: Duration::from_secs(2),
        public_ips: vec!["203.0.113.10".parse().unwrap()],
        ..ConnectionSettings::default()
    };
    let local = [SocketAddr::from(([10, 0, 0, 2], 40_000))];
    let mut connection = connect_with(REOFFER, settings, &local);
    let start = Instant::now();
    let trickled = IceCandidate {
        candidate:
            "candidate:1 1 udp 1686052607 198.51.100.7 61000 typ srflx raddr 0.0.0.0 rport 0".into(),
        sdp_mid: None,
        sdp_mline_index: None,
        username_fragment: None,
    };
    let input = ConnectionInput::Command(ConnectionCommand::RemoteCandidates(vec![trickled]));
    connection.handle_input(start, SystemTime::now(), input);
    let mut now = start;
    let reason = loop {
        let closed = std::iter::from_fn(|| connection.poll_output()).find_map(|o| match o {
            ConnectionOutput::Report(ConnectionReport::Closed(reason)) => Some(reason),
            _ => None,
        });
        if let Some(reason) = closed {
            break reason;
        }
        now = connection
            .poll_timeout()
            .expect("open connections have a timeout")
            .max(now);
        assert!(now < start + Duration::from_secs(5), "still open after 5 s");
        connection.handle_input(now, SystemTime::now(), ConnectionInput::Timeout);
    };
    let CloseReason::NotConnected { after, candidates } = &reason else {
        panic!("closed for another reason: {reason}");
    };
    assert_eq!(*after, Duration::from_secs(2));
    assert_eq!(
        candidates.local,
        ["host 10.0.0.2:40000", "srflx 203.0.113.10:40000"]
    );
    assert_eq!(
        candidates.remote,
        ["host 127.0.0.1:53829", "srflx 198.51.100.7:61000"]
    );
    let text = reason.to_string();
    assert!(text.contains("no candidate pair succeeded"), "{text}");
    // We did announce a public address: what is left to try is a relay.
    assert!(text.contains("try --turn"), "{text}");
}
