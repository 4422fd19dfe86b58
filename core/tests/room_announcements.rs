//! How the room reacts to publishers being announced, at the wire level.

use std::time::{Duration, Instant};

use roomrec_core::room::{Room, RoomConfig, RoomInput, RoomOutput};
use roomrec_core::signaling::password::DEFAULT_SALT;
use roomrec_core::signaling::{Dialect, Password};

fn room(dialect: Dialect) -> Room {
    Room::new(
        RoomConfig {
            room: "testroom".into(),
            password: Password::Disabled,
            salt: DEFAULT_SALT.into(),
            dialect,
            record_streams: None,
            view: None,
            seed: 7,
            connection: Default::default(),
        },
        Instant::now(),
    )
}

/// Feeds one signaling text and returns how many `play` requests went out.
fn plays_after(room: &mut Room, now: Instant, text: &str) -> usize {
    room.handle_input(now, RoomInput::SignalingText(text.into()));
    let mut plays = 0;
    while let Some(out) = room.poll_output() {
        if let RoomOutput::SendSignaling(sent) = out {
            plays += usize::from(sent.contains("\"play\""));
        }
    }
    plays
}

/// The official server announces one arrival as both `someonejoined` and `videoaddedtoroom`: the
/// publisher must get one `play`, since a second one tears down the connection it is setting up.
#[test]
fn one_play_for_an_arrival_announced_twice() {
    let t0 = Instant::now();
    let mut room = room(Dialect::Official);
    room.handle_input(t0, RoomInput::SignalingUp);
    assert_eq!(
        plays_after(&mut room, t0, r#"{"request":"listing","list":[]}"#),
        0
    );
    let joined = r#"{"request":"someonejoined","UUID":"p1","streamID":"cam"}"#;
    let added = r#"{"request":"videoaddedtoroom","UUID":"p1","streamID":"cam"}"#;
    assert_eq!(plays_after(&mut room, t0, joined), 1);
    assert_eq!(
        plays_after(&mut room, t0 + Duration::from_millis(30), added),
        0
    );
    // Another peer with the same stream id is a different arrival (a reload): it is asked.
    let other = r#"{"request":"videoaddedtoroom","UUID":"p2","streamID":"cam"}"#;
    assert_eq!(
        plays_after(&mut room, t0 + Duration::from_millis(60), other),
        1
    );
}

/// Much later, with still no offer, the same announcement is worth a new `play`.
#[test]
fn a_late_repeat_is_asked_again() {
    let t0 = Instant::now();
    let mut room = room(Dialect::Relay);
    room.handle_input(t0, RoomInput::SignalingUp);
    let joined = r#"{"request":"joinroom","from":"p1","roomid":"testroom","streamID":"cam"}"#;
    assert_eq!(plays_after(&mut room, t0, joined), 1);
    assert_eq!(
        plays_after(&mut room, t0 + Duration::from_secs(1), joined),
        0
    );
    assert_eq!(
        plays_after(&mut room, t0 + Duration::from_secs(6), joined),
        1
    );
}
