//! A recorder runs for days while guests come and go: every structure of the room stays bounded
//! across many join/leave cycles, whether publishers hang up (bye) or just rejoin under a new
//! peer id (a reload; the relay dialect announces nobody leaving).

use std::time::{Duration, Instant};

use super::*;
use crate::signaling::password::DEFAULT_SALT;

fn room() -> Room {
    Room::new(
        RoomConfig {
            room: "churn".into(),
            password: Password::Disabled,
            salt: DEFAULT_SALT.into(),
            dialect: Dialect::Relay,
            record_streams: None,
            view: None,
            seed: 11,
            connection: Default::default(),
        },
        Instant::now(),
    )
}

fn feed(room: &mut Room, now: Instant, input: RoomInput) -> Vec<RoomOutput> {
    room.handle_input(now, input);
    std::iter::from_fn(|| room.poll_output()).collect()
}

fn text(s: String) -> RoomInput {
    RoomInput::SignalingText(s)
}

/// One publisher session: announce, offer, connection up, then it ends (`reason`).
fn cycle(room: &mut Room, now: Instant, peer: &str, stream: &str, reason: Option<CloseReason>) {
    feed(
        room,
        now,
        text(format!(
            r#"{{"request":"joinroom","from":"{peer}","streamID":"{stream}"}}"#
        )),
    );
    let offer = format!(
        r#"{{"description":{{"type":"offer","sdp":"v=0\r\n"}},"session":"s-{peer}","from":"{peer}","streamID":"{stream}"}}"#
    );
    let handle = feed(room, now, text(offer))
        .into_iter()
        .find_map(|o| match o {
            RoomOutput::StartConnection(start) => Some(start.handle),
            _ => None,
        })
        .expect("the offer starts a connection");
    // A viewer that never publishes comes and goes too.
    let viewer = format!(r#"{{"request":"joinroom","from":"viewer-{peer}"}}"#);
    feed(room, now, text(viewer));
    if let Some(reason) = reason {
        let report = ConnectionReport::Closed(reason);
        feed(room, now, RoomInput::FromConnection(handle, report));
    }
}

fn assert_bounded(room: &Room, streams: usize) {
    assert!(
        room.members.len() <= streams,
        "{} members",
        room.members.len()
    );
    assert!(room.connections.len() <= streams);
    assert!(room.ended.len() <= MAX_ENDED);
    assert!(room.plays.len() <= streams, "{} plays", room.plays.len());
}

#[test]
fn hang_ups_and_rejoins_under_new_ids_leave_nothing_behind() {
    let t0 = Instant::now();
    let mut room = room();
    feed(&mut room, t0, RoomInput::SignalingUp);
    let streams = ["alice", "bob", "carol"];
    for i in 0..5_000u32 {
        let now = t0 + Duration::from_millis(u64::from(i) * 50);
        let stream = streams[i as usize % streams.len()];
        // Alternate: a clean hang-up (data-channel bye), a reload (no word at all: the next
        // session of that stream replaces this one), and ICE losing the publisher.
        let reason = match i % 3 {
            0 => Some(CloseReason::PublisherBye),
            1 => None,
            _ => Some(CloseReason::IceDisconnected),
        };
        cycle(&mut room, now, &format!("peer{i}"), stream, reason);
        feed(&mut room, now, RoomInput::Timeout);
        assert_bounded(&room, streams.len());
    }
}

/// Before the fix, every session under a new peer id stayed a member forever.
#[test]
fn a_rejoin_replaces_the_member_of_its_stream() {
    let t0 = Instant::now();
    let mut room = room();
    feed(&mut room, t0, RoomInput::SignalingUp);
    cycle(&mut room, t0, "old", "cam", None);
    cycle(&mut room, t0, "new", "cam", None);
    assert_eq!(
        room.members.keys().collect::<Vec<_>>(),
        vec!["new"],
        "the old peer id is gone"
    );
    // A bye means the publisher left: no `play` is retried for it.
    let handle = room.connections.values().next().unwrap().handle;
    let report = ConnectionReport::Closed(CloseReason::PublisherBye);
    feed(&mut room, t0, RoomInput::FromConnection(handle, report));
    assert!(room.members.is_empty());
    assert_eq!(room.plays.len(), 0);
}
