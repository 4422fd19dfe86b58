use serde_json::json;

use super::*;

// ---- relay addressing ----

#[test]
fn relay_drops_other_targets_rooms_and_echoes() {
    let c = relay();
    let base = json!({"bye": true, "from": PUB, "roomid": ROOM});
    assert_eq!(
        dec(&c, base.clone()),
        Ok(Incoming::PeerLeft { peer: PUB.into() })
    );
    let mut m = base.clone();
    m["UUID"] = json!("someoneElse");
    assert!(ignored(dec(&c, m)));
    let mut m = base.clone();
    m["UUID"] = json!(ME);
    assert_eq!(dec(&c, m), Ok(Incoming::PeerLeft { peer: PUB.into() }));
    let mut m = base.clone();
    m["roomid"] = json!("otherroom");
    assert!(ignored(dec(&c, m)));
    let mut m = base.clone();
    m.as_object_mut().unwrap().remove("roomid");
    assert_eq!(dec(&c, m), Ok(Incoming::PeerLeft { peer: PUB.into() }));
    let mut m = base.clone();
    m.as_object_mut().unwrap().remove("from");
    assert!(ignored(dec(&c, m)));
    let mut m = base.clone();
    m["from"] = json!(ME);
    assert!(ignored(dec(&c, m)));
}

#[test]
fn relay_numeric_room_matches_its_text() {
    let c = CodecContext {
        room_wire: "1234".into(),
        ..relay()
    };
    assert_eq!(
        dec(&c, json!({"bye": true, "from": PUB, "roomid": 1234})),
        Ok(Incoming::PeerLeft { peer: PUB.into() })
    );
    assert!(ignored(dec(
        &c,
        json!({"bye": true, "from": PUB, "roomid": 99})
    )));
}

#[test]
fn relay_joinroom_and_publisher_requests() {
    let c = relay();
    assert_eq!(
        dec(
            &c,
            json!({"request": "joinroom", "streamID": "cam1808d64", "roomid": ROOM, "from": PUB})
        ),
        Ok(Incoming::PeerJoined {
            peer: PUB.into(),
            stream_id: Some("cam1808d64".into())
        })
    );
    assert_eq!(
        dec(
            &c,
            json!({"request": "joinroom", "roomid": ROOM, "from": PUB})
        ),
        Ok(Incoming::PeerJoined {
            peer: PUB.into(),
            stream_id: None
        })
    );
    // A publisher outside any room only says `seed`; the relay forwards it like a joinroom.
    assert_eq!(
        dec(
            &c,
            json!({"request": "seed", "streamID": "cam1808d64", "roomid": ROOM, "from": PUB})
        ),
        Ok(Incoming::PeerJoined {
            peer: PUB.into(),
            stream_id: Some("cam1808d64".into())
        })
    );
    for r in ["play", "somethingNew"] {
        assert!(
            ignored(dec(
                &c,
                json!({"request": r, "streamID": "x", "roomid": ROOM, "from": PUB})
            )),
            "{r}"
        );
    }
}

#[test]
fn relay_errors_are_notices() {
    assert_eq!(
        dec(&relay(), json!({"error": "uuid already in use"})),
        Ok(Incoming::Notice {
            kind: "error".into(),
            message: "uuid already in use".into()
        })
    );
}

// ---- official dialect ----

#[test]
fn official_room_messages() {
    let c = official();
    assert_eq!(
        dec(
            &c,
            json!({"request": "listing", "list": [{"UUID": "a", "streamID": "s1"}, {"UUID": "b"}, {"x": 1}]})
        ),
        Ok(Incoming::Listing {
            members: vec![
                Member {
                    peer: "a".into(),
                    stream_id: Some("s1".into())
                },
                Member {
                    peer: "b".into(),
                    stream_id: None
                },
            ]
        })
    );
    for r in ["videoaddedtoroom", "someonejoined"] {
        assert_eq!(
            dec(&c, json!({"request": r, "UUID": PUB, "streamID": "s"})),
            Ok(Incoming::PeerJoined {
                peer: PUB.into(),
                stream_id: Some("s".into())
            })
        );
    }
    assert_eq!(
        dec(&c, json!({"request": "cleanup", "UUID": PUB})),
        Ok(Incoming::PeerLeft { peer: PUB.into() })
    );
    assert_eq!(
        dec(&c, json!({"bye": true, "UUID": PUB})),
        Ok(Incoming::PeerLeft { peer: PUB.into() })
    );
    for r in ["alert", "warn", "transferred", "roomclaimed"] {
        assert_eq!(
            dec(&c, json!({"request": r, "message": "hi"})),
            Ok(Incoming::Notice {
                kind: r.into(),
                message: "hi".into()
            })
        );
    }
    assert_eq!(
        dec(&c, json!({"error": {"code": 1}})),
        Ok(Incoming::Notice {
            kind: "error".into(),
            message: "{\"code\":1}".into()
        })
    );
    assert!(ignored(dec(
        &c,
        json!({"request": "offerSDP", "UUID": PUB})
    )));
    assert!(ignored(dec(
        &c,
        json!({"request": "joinroom", "UUID": PUB})
    )));
    // No `from` filtering in the official dialect.
    assert!(matches!(
        dec(&c, json!({"request": "cleanup", "UUID": PUB, "from": ME})),
        Ok(Incoming::PeerLeft { .. })
    ));
}

#[test]
fn official_needs_uuid_for_peer_messages() {
    let c = official();
    assert_eq!(
        dec(&c, json!({"request": "cleanup"})),
        Err(DecodeError::BadField("UUID"))
    );
    assert_eq!(
        dec(
            &c,
            json!({"description": {"type": "offer", "sdp": "v=0"}, "session": "s"})
        ),
        Err(DecodeError::BadField("UUID"))
    );
}
