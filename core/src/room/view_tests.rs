//! Single-stream mode (`RoomConfig::view`): what goes on the wire in both dialects, with and
//! without a password, and how the one stream is asked for again.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;
use crate::signaling::password::DEFAULT_SALT;

fn view_room(dialect: Dialect, password: Password, stream: &str) -> Room {
    Room::new(
        RoomConfig {
            room: String::new(),
            password,
            salt: DEFAULT_SALT.into(),
            dialect,
            record_streams: None,
            view: Some(stream.into()),
            seed: 5,
            connection: Default::default(),
        },
        Instant::now(),
    )
}

fn feed(room: &mut Room, now: Instant, input: RoomInput) -> Vec<RoomOutput> {
    room.handle_input(now, input);
    std::iter::from_fn(|| room.poll_output()).collect()
}

fn sent(outputs: &[RoomOutput]) -> Vec<Value> {
    outputs
        .iter()
        .filter_map(|o| match o {
            RoomOutput::SendSignaling(t) => Some(serde_json::from_str(t).unwrap()),
            _ => None,
        })
        .collect()
}

fn started(outputs: &[RoomOutput]) -> Vec<&ConnectionStart> {
    outputs
        .iter()
        .filter_map(|o| match o {
            RoomOutput::StartConnection(s) => Some(&**s),
            _ => None,
        })
        .collect()
}

/// A relay-dialect offer from `peer` for `wire_stream` (no room, no password).
fn offer(peer: &str, session: &str, wire_stream: &str) -> RoomInput {
    RoomInput::SignalingText(
        json!({"from": peer, "streamID": wire_stream, "session": session, "isScene": false,
               "description": {"type": "offer", "sdp": "v=0\r\n"}})
        .to_string(),
    )
}

#[test]
fn no_joinroom_only_play_in_each_dialect() {
    let t0 = Instant::now();
    let cases = [
        (Dialect::Relay, Password::Default, "cam1808d64", true),
        (Dialect::Relay, Password::Disabled, "cam1", true),
        (Dialect::Official, Password::Default, "cam1808d64", false),
        (Dialect::Official, Password::Disabled, "cam1", false),
    ];
    for (dialect, password, wire, with_from) in cases {
        let mut room = view_room(dialect, password.clone(), "cam1");
        let msgs = sent(&feed(&mut room, t0, RoomInput::SignalingUp));
        let mut expected = json!({"request": "play", "streamID": wire});
        if with_from {
            expected["from"] = json!(room.own_id());
        }
        assert_eq!(msgs, vec![expected], "{dialect} {password:?}");
    }
}

#[test]
fn the_stream_id_is_sanitized_like_the_app_does() {
    let mut room = view_room(Dialect::Official, Password::Disabled, " my stream! ");
    let msgs = sent(&feed(&mut room, Instant::now(), RoomInput::SignalingUp));
    assert_eq!(msgs[0]["streamID"], "my_stream_");
}

#[test]
fn encrypted_offer_for_our_stream_is_answered_sealed_without_roomid() {
    let t0 = Instant::now();
    let mut room = view_room(Dialect::Relay, Password::Default, "cam1");
    feed(&mut room, t0, RoomInput::SignalingUp);
    let cipher = room.secrets().cipher.clone().unwrap();
    let (sealed, iv) = crate::signaling::payload::seal(
        Some(&cipher),
        crate::signaling::payload::description_json("offer", "v=0\r\n"),
        [3; 16],
    );
    let text = format!(
        r#"{{"UUID":"{me}","from":"pub1","streamID":"cam1808d64","session":"sess1","description":{sealed},"vector":"{iv}"}}"#,
        me = room.own_id(),
        iv = iv.unwrap()
    );
    let outputs = feed(&mut room, t0, RoomInput::SignalingText(text));
    let starts = started(&outputs);
    assert_eq!(starts.len(), 1);
    assert_eq!(
        starts[0].stream_id, "cam1",
        "files are named without the suffix"
    );
    let handle = starts[0].handle;
    let answer = ConnectionReport::Answer {
        sdp: "v=0\r\n".into(),
    };
    let msgs = sent(&feed(
        &mut room,
        t0,
        RoomInput::FromConnection(handle, answer),
    ));
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(
        (m["UUID"].as_str(), m["session"].as_str()),
        (Some("pub1"), Some("sess1"))
    );
    assert!(m.get("roomid").is_none(), "no room: {m}");
    assert!(
        m["description"].is_string() && m["vector"].is_string(),
        "sealed: {m}"
    );
}

#[test]
fn other_streams_are_neither_asked_for_nor_recorded() {
    let t0 = Instant::now();
    let mut room = view_room(Dialect::Relay, Password::Disabled, "cam1");
    feed(&mut room, t0, RoomInput::SignalingUp);
    let seed = json!({"request": "seed", "streamID": "other", "from": "pub2"}).to_string();
    let outputs = feed(&mut room, t0, RoomInput::SignalingText(seed));
    assert!(outputs.is_empty(), "{outputs:?}");
    assert!(
        room.members.is_empty(),
        "unwanted publishers are not remembered"
    );
    assert!(started(&feed(&mut room, t0, offer("pub2", "s2", "other"))).is_empty());
    // A room member's joinroom with our stream id cannot reach a socket outside rooms on a real
    // relay; its offer would carry our id, so the filter is the stream id alone.
    assert_eq!(
        started(&feed(&mut room, t0, offer("pub1", "s1", "cam1"))).len(),
        1
    );
}

#[test]
fn keeps_asking_at_most_every_cap_until_an_offer_comes() {
    let t0 = Instant::now();
    let mut room = view_room(Dialect::Official, Password::Disabled, "cam1");
    feed(&mut room, t0, RoomInput::SignalingUp);
    let mut now = t0;
    let mut gaps = Vec::new();
    for _ in 0..5 {
        let due = room.poll_timeout().expect("a retry is scheduled");
        assert!(due - now <= VIEW_RETRY_CAP);
        gaps.push((due - now).as_secs());
        now = due;
        let msgs = sent(&feed(&mut room, now, RoomInput::Timeout));
        assert_eq!(msgs, vec![json!({"request": "play", "streamID": "cam1"})]);
    }
    assert_eq!(gaps, vec![10, 15, 15, 15, 15]);
    let outputs = feed(&mut room, now, offer_official("pubA", "s1"));
    assert_eq!(started(&outputs).len(), 1);
    assert_eq!(room.poll_timeout(), None, "connected: no more plays");
}

fn offer_official(peer: &str, session: &str) -> RoomInput {
    RoomInput::SignalingText(
        json!({"UUID": peer, "streamID": "cam1", "session": session,
               "description": {"type": "offer", "sdp": "v=0\r\n"}})
        .to_string(),
    )
}

#[test]
fn after_a_hang_up_it_asks_again_and_records_the_comeback_separately() {
    let t0 = Instant::now();
    let mut room = view_room(Dialect::Official, Password::Disabled, "cam1");
    feed(&mut room, t0, RoomInput::SignalingUp);
    let first = started(&feed(&mut room, t0, offer_official("pubA", "s1")))[0].handle;
    let bye = ConnectionReport::Closed(CloseReason::PublisherBye);
    let t1 = t0 + Duration::from_secs(30);
    assert!(sent(&feed(&mut room, t1, RoomInput::FromConnection(first, bye))).is_empty());
    let due = room.poll_timeout().expect("asks again after the hang-up");
    assert!(due - t1 <= Duration::from_secs(2));
    let msgs = sent(&feed(&mut room, due, RoomInput::Timeout));
    assert_eq!(msgs, vec![json!({"request": "play", "streamID": "cam1"})]);
    // The publisher is back under a new peer id: a new connection (and so a new file).
    let second = started(&feed(&mut room, due, offer_official("pubB", "s2")))[0].handle;
    assert_ne!(first, second);
}

#[test]
fn relay_seed_of_our_publisher_triggers_play_and_a_republish_replaces_the_old_connection() {
    let t0 = Instant::now();
    let mut room = view_room(Dialect::Relay, Password::Default, "cam1");
    feed(&mut room, t0, RoomInput::SignalingUp);
    let seed = |peer: &str| {
        RoomInput::SignalingText(
            json!({"request": "seed", "streamID": "cam1808d64", "from": peer}).to_string(),
        )
    };
    // The publisher goes live long after our first `play` found nobody.
    let t1 = t0 + Duration::from_secs(7);
    let msgs = sent(&feed(&mut room, t1, seed("pubA")));
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        (msgs[0]["request"].as_str(), msgs[0]["streamID"].as_str()),
        (Some("play"), Some("cam1808d64"))
    );
    let old = started(&feed(&mut room, t1, offer("pubA", "s1", "cam1808d64")))[0].handle;
    // It reloads (new peer id, no bye): ask the newcomer at once, its offer replaces the old one.
    let t2 = t1 + Duration::from_secs(20);
    let msgs = sent(&feed(&mut room, t2, seed("pubB")));
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let outputs = feed(&mut room, t2, offer("pubB", "s2", "cam1808d64"));
    assert!(outputs
        .iter()
        .any(|o| matches!(o, RoomOutput::ToConnection(h, ConnectionCommand::Close) if *h == old)));
    assert_eq!(started(&outputs).len(), 1);
    assert_eq!(room.connection_keys().count(), 1);
}

#[test]
fn signaling_reconnect_asks_again_only_when_not_connected() {
    let t0 = Instant::now();
    let mut room = view_room(Dialect::Official, Password::Disabled, "cam1");
    feed(&mut room, t0, RoomInput::SignalingUp);
    started(&feed(&mut room, t0, offer_official("pubA", "s1")));
    feed(&mut room, t0, RoomInput::SignalingDown);
    assert!(sent(&feed(&mut room, t0, RoomInput::SignalingUp)).is_empty());
}
