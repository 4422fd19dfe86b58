//! Single-stream links (`?push=ID` / `?view=ID`, no `&room`) in both dialects: `seed` and `play`
//! work between sockets outside every room and never reach into a room.

use serde_json::{json, Value};

use super::{ClientId, Dialect, Relay};

fn drain(r: &mut Relay) -> Vec<(ClientId, Value)> {
    std::iter::from_fn(|| r.poll_output())
        .map(|(to, text)| (to, serde_json::from_str(&text).expect("relay emits JSON")))
        .collect()
}

#[test]
fn relay_dialect_push_and_view_outside_rooms() {
    let mut r = Relay::new(Dialect::Relay, 1);
    let member = r.connect();
    r.receive(
        member,
        r#"{"request":"joinroom","roomid":"r1","streamID":"inroom","from":"M"}"#,
    );
    let viewer = r.connect();
    r.receive(viewer, r#"{"request":"play","streamID":"cam1","from":"V"}"#);
    drain(&mut r);
    // The publisher's seed is the only announcement: it reaches the viewer, not the room.
    let publisher = r.connect();
    let seed = json!({"request": "seed", "streamID": "cam1", "from": "P"});
    r.receive(publisher, &seed.to_string());
    assert_eq!(drain(&mut r), vec![(viewer, seed)]);
    // The viewer's play reaches the owner only.
    let play = json!({"request": "play", "streamID": "cam1", "from": "V"});
    r.receive(viewer, &play.to_string());
    assert_eq!(drain(&mut r), vec![(publisher, play)]);
    // The offer is addressed to the viewer and delivered unchanged.
    let offer = json!({"UUID": "V", "from": "P", "streamID": "cam1", "session": "s",
                       "description": {"type": "offer", "sdp": "v=0"}});
    r.receive(publisher, &offer.to_string());
    assert_eq!(drain(&mut r), vec![(viewer, offer)]);
    // Neither page joins a room, yet both are settled (servers close sockets that never settle).
    assert!(r.is_settled(viewer) && r.is_settled(publisher));
    let idle = r.connect();
    assert!(!r.is_settled(idle));
    // A stream published inside a room cannot be played from outside it.
    r.receive(
        viewer,
        r#"{"request":"play","streamID":"inroom","from":"V"}"#,
    );
    assert_eq!(drain(&mut r), vec![]);
}

#[test]
fn official_dialect_push_and_view_outside_rooms() {
    let mut r = Relay::new(Dialect::Official, 1);
    let member = r.connect();
    r.receive(
        member,
        r#"{"request":"joinroom","roomid":"r1","streamID":"inroom"}"#,
    );
    let viewer = r.connect();
    drain(&mut r);
    let publisher = r.connect();
    r.receive(publisher, r#"{"request":"seed","streamID":"cam1"}"#);
    assert_eq!(
        drain(&mut r),
        vec![],
        "nobody is told of a seed outside rooms"
    );
    let (viewer_id, publisher_id) = (r.peer_id(viewer).unwrap(), r.peer_id(publisher).unwrap());
    r.receive(viewer, r#"{"request":"play","streamID":"cam1"}"#);
    assert_eq!(
        drain(&mut r),
        vec![(publisher, json!({"request": "offerSDP", "UUID": viewer_id}))]
    );
    let offer = json!({"UUID": viewer_id, "streamID": "cam1", "session": "s",
                       "description": {"type": "offer", "sdp": "v=0"}});
    r.receive(publisher, &offer.to_string());
    let mut delivered = offer.clone();
    delivered["UUID"] = json!(publisher_id);
    assert_eq!(drain(&mut r), vec![(viewer, delivered)]);
    assert!(r.is_settled(viewer) && r.is_settled(publisher));
    r.receive(viewer, r#"{"request":"play","streamID":"inroom"}"#);
    assert_eq!(
        drain(&mut r),
        vec![(
            viewer,
            json!({"request": "alert", "message": "stream not found"})
        )]
    );
}
