//! Bad input is logged and ignored, and one bad peer never disturbs the others: malformed JSON,
//! unknown message kinds, broken SDP, undecryptable payloads, hostile stream ids and garbage
//! datagrams thrown at a recorder that is recording two publishers.

use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::room::RoomInput;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_tests::sim::net::Datagram;
use roomrec_tests::sim::{PublisherSpec, Sim, SimConfig};
use roomrec_tests::synthetic::{audio_track, video_track};

fn spec(stream: &str) -> PublisherSpec {
    PublisherSpec::new(
        stream,
        Some(video_track(Codec::Vp8, 4, 30)),
        Some(audio_track(4)),
    )
}

/// Mallory claims alice's stream: must not end alice's live recording.
fn hijack(dialect: Dialect, own_id: &str, room: &str, alice_wire: &str) -> String {
    let offer =
        r#""description":{"type":"offer","sdp":"v=0\r\n"},"session":"hijack","isScene":false"#;
    match dialect {
        Dialect::Relay => format!(
            r#"{{"UUID":"{own_id}","from":"mallory","roomid":"{room}","streamID":"{alice_wire}",{offer}}}"#
        ),
        Dialect::Official => format!(r#"{{"UUID":"mallory","streamID":"{alice_wire}",{offer}}}"#),
    }
}

fn hostile_signaling(own_id: &str, room: &str) -> Vec<String> {
    let addressed =
        |body: &str| format!(r#"{{"UUID":"{own_id}","from":"mallory","roomid":"{room}",{body}}}"#);
    vec![
        "{not json".into(),
        "[1,2,3]".into(),
        "\"just a string\"".into(),
        "null".into(),
        String::from_utf8_lossy(&[0xff, 0xfe, 0x00, 0x41]).into_owned(),
        addressed(r#""request":"somethingnew","x":1"#),
        addressed(r#""request":"joinroom","streamID":{"nested":true}"#),
        addressed(
            r#""description":{"type":"offer","sdp":"this is not sdp"},"session":"s1","streamID":"mallory""#,
        ),
        addressed(r#""description":{"type":"offer","sdp":42},"session":"s2","streamID":"mallory""#),
        addressed(
            r#""description":"00112233","vector":"0011","session":"s3","streamID":"mallory""#,
        ),
        addressed(
            r#""description":"zz-not-hex","vector":"00112233445566778899aabbccddeeff","session":"s4""#,
        ),
        addressed(
            r#""candidates":"deadbeef","vector":"00112233445566778899aabbccddeeff","session":"s5""#,
        ),
        addressed(r#""candidates":[{"candidate":"candidate:garbage"}],"session":"s6""#),
        addressed(r#""candidate":{"candidate":12},"session":7"#),
        addressed(
            r#""description":{"type":"offer","sdp":"v=0\r\n"},"session":"s8","streamID":"../../etc/passwd""#,
        ),
        addressed(r#""bye":"maybe""#),
        format!(r#"{{"UUID":"someone-else","from":"mallory","roomid":"{room}","bye":true}}"#),
        format!(
            r#"{{"from":"mallory","roomid":"other-room","request":"joinroom","streamID":"x"}}"#
        ),
        "x".repeat(100_000),
    ]
}

fn garbage_datagrams(sim: &Sim) -> Vec<Datagram> {
    let source = "127.0.0.9:9999".parse().unwrap();
    let mut rng = fastrand::Rng::with_seed(99);
    let mut list = Vec::new();
    for s in sim.recorder.connections.values() {
        for len in [0usize, 1, 2, 12, 20, 100, 1200, 1500] {
            let contents: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
            list.push(Datagram {
                source,
                destination: s.addr,
                contents,
            });
        }
        // STUN-, DTLS- and RTP-looking prefixes with junk after them.
        for first in [0x00u8, 0x01, 0x16, 0x17, 0x80, 0x90] {
            let mut contents = vec![first; 64];
            contents[1..].iter_mut().for_each(|b| *b = rng.u8(..));
            list.push(Datagram {
                source,
                destination: s.addr,
                contents,
            });
        }
    }
    list
}

fn recorder_survives(dialect: Dialect, password: Password, seed: u64) {
    let mut sim = Sim::new(SimConfig::new(dialect, password, seed));
    let a = sim.add_publisher(spec("alice"));
    let b = sim.add_publisher(spec("bob"));
    sim.recorder_connect();
    sim.publisher_join(a);
    sim.publisher_join(b);
    sim.run_for(Duration::from_secs(2));
    let live_before: Vec<_> = sim.recorder.connections.keys().cloned().collect();
    assert_eq!(live_before.len(), 2);
    let before = (sim.frame_counts("alice"), sim.frame_counts("bob"));

    let own_id = sim.recorder.room.own_id().to_string();
    let room = sim.recorder.room.secrets().room_wire.clone();
    for _ in 0..3 {
        let alice_wire = sim.recorder.room.secrets().wire_stream_id("alice");
        let mut texts = hostile_signaling(&own_id, &room);
        texts.push(hijack(dialect, &own_id, &room, &alice_wire));
        for text in texts {
            let now = sim.now;
            sim.recorder.room_input(now, RoomInput::SignalingText(text));
        }
        for d in garbage_datagrams(&sim) {
            let now = sim.now;
            sim.recorder.receive(now, d);
        }
        sim.run_for(Duration::from_millis(500));
    }
    sim.run_for(Duration::from_secs(1));

    // The good connections are the same ones, still delivering.
    let live_after: Vec<_> = sim.recorder.connections.keys().cloned().collect();
    assert_eq!(
        live_after, live_before,
        "no good connection was replaced or closed"
    );
    let after = (sim.frame_counts("alice"), sim.frame_counts("bob"));
    assert!(
        after.0 .0 > before.0 .0 + 60 && after.1 .0 > before.1 .0 + 60,
        "{before:?} -> {after:?}"
    );
    assert!(
        after.0 .1 > before.0 .1 + 100 && after.1 .1 > before.1 .1 + 100,
        "{before:?} -> {after:?}"
    );
    // Nothing from mallory was ever recorded.
    assert!(sim
        .recorder
        .frames
        .iter()
        .all(|f| f.stream_id == "alice" || f.stream_id == "bob"));
}

#[test]
fn relay_dialect_with_password_survives_hostile_input() {
    recorder_survives(Dialect::Relay, Password::Default, 21);
}

#[test]
fn official_dialect_without_password_survives_hostile_input() {
    recorder_survives(Dialect::Official, Password::Disabled, 22);
}
