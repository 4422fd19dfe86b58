//! Official dialect (wss.vdo.ninja emulation) routing.

use serde_json::{json, Value};

use super::{ClientId, Dialect, Relay};

/// Drain outputs as parsed JSON.
fn drain(r: &mut Relay) -> Vec<(ClientId, Value)> {
    std::iter::from_fn(|| r.poll_output())
        .map(|(to, text)| (to, serde_json::from_str(&text).expect("relay emits JSON")))
        .collect()
}

fn id(r: &Relay, c: ClientId) -> String {
    r.peer_id(c).expect("connected")
}

fn join(r: &mut Relay, room: &str, sid: Option<&str>) -> ClientId {
    let c = r.connect();
    let mut msg = json!({"request": "joinroom", "roomid": room});
    if let Some(sid) = sid {
        msg["streamID"] = json!(sid);
    }
    r.receive(c, &msg.to_string());
    drain(r);
    c
}

#[test]
fn ids_are_random_alphanumerics_from_the_seed() {
    let ids = |seed| {
        let mut r = Relay::new(Dialect::Official, seed);
        let clients: Vec<ClientId> = (0..5).map(|_| r.connect()).collect();
        clients.into_iter().map(|c| id(&r, c)).collect::<Vec<_>>()
    };
    let first = ids(7);
    assert_eq!(first, ids(7), "deterministic for a seed");
    assert_ne!(first, ids(8));
    for i in &first {
        assert_eq!(i.len(), 20);
        assert!(i.chars().all(|c| c.is_ascii_alphanumeric()), "{i}");
    }
    let mut unique = first.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), first.len());
}

#[test]
fn join_gets_listing_and_members_are_told() {
    let mut r = Relay::new(Dialect::Official, 1);
    let a = r.connect();
    r.receive(a, r#"{"request":"joinroom","roomid":"r1"}"#);
    assert_eq!(
        drain(&mut r),
        vec![(a, json!({"request":"listing","list":[]}))]
    );

    let b = r.connect();
    r.receive(b, r#"{"request":"joinroom","roomid":"r1","streamID":"s1"}"#);
    let (ia, ib) = (id(&r, a), id(&r, b));
    assert_eq!(
        drain(&mut r),
        vec![
            (b, json!({"request":"listing","list":[{"UUID": ia}]})),
            (
                a,
                json!({"request":"someonejoined","UUID": ib,"streamID":"s1"})
            ),
            (
                a,
                json!({"request":"videoaddedtoroom","UUID": ib,"streamID":"s1"})
            ),
        ]
    );

    let c = r.connect();
    r.receive(c, r#"{"request":"joinroom","roomid":"r1"}"#);
    let ic = id(&r, c);
    assert_eq!(
        drain(&mut r),
        vec![
            (
                c,
                json!({"request":"listing","list":[{"UUID": ia},{"UUID": ib,"streamID":"s1"}]})
            ),
            (a, json!({"request":"someonejoined","UUID": ic})),
            (b, json!({"request":"someonejoined","UUID": ic})),
        ]
    );

    let d = r.connect();
    r.receive(d, r#"{"request":"joinroom","roomid":"r2"}"#);
    assert_eq!(
        drain(&mut r),
        vec![(d, json!({"request":"listing","list":[]}))]
    );
}

#[test]
fn uuid_is_rewritten_to_the_sender_and_delivered_to_the_target_only() {
    let mut r = Relay::new(Dialect::Official, 1);
    let a = join(&mut r, "r1", None);
    let b = join(&mut r, "r1", Some("s1"));
    let _c = join(&mut r, "r1", None);
    let d = join(&mut r, "r2", None);
    drain(&mut r);
    let (ia, ib) = (id(&r, a), id(&r, b));
    let answer = json!({"UUID": ib, "description": {"type":"answer","sdp":"v=0\r\n"},
                        "session":"abc", "vector": "00"});
    r.receive(a, &answer.to_string());
    let mut expected = answer.clone();
    expected["UUID"] = json!(ia);
    assert_eq!(drain(&mut r), vec![(b, expected)]);
    // Never across rooms, never to unknown ids.
    r.receive(d, &json!({"UUID": ia, "x": 1}).to_string());
    r.receive(a, &json!({"UUID": "unknown", "x": 1}).to_string());
    r.receive(a, &json!({"UUID": 5, "x": 1}).to_string());
    assert_eq!(drain(&mut r), vec![]);
}

#[test]
fn play_becomes_offer_sdp_for_the_owner() {
    let mut r = Relay::new(Dialect::Official, 1);
    let p = join(&mut r, "r1", Some("s1"));
    let _q = join(&mut r, "r1", Some("s2"));
    let v = join(&mut r, "r1", None);
    let w = join(&mut r, "r2", None);
    drain(&mut r);
    r.receive(v, r#"{"request":"play","streamID":"s1"}"#);
    let iv = id(&r, v);
    assert_eq!(
        drain(&mut r),
        vec![(p, json!({"request":"offerSDP","UUID": iv}))]
    );
    r.receive(w, r#"{"request":"play","streamID":"s1"}"#);
    r.receive(v, r#"{"request":"play","streamID":"nope"}"#);
    let alert = json!({"request":"alert","message":"stream not found"});
    assert_eq!(drain(&mut r), vec![(w, alert.clone()), (v, alert)]);
}

#[test]
fn untargeted_messages_go_to_the_room_with_the_sender_as_uuid() {
    let mut r = Relay::new(Dialect::Official, 1);
    let a = join(&mut r, "r1", None);
    let b = join(&mut r, "r1", None);
    let c = join(&mut r, "r1", None);
    let _d = join(&mut r, "r2", None);
    let loner = r.connect();
    drain(&mut r);
    r.receive(a, r#"{"request":"bye","extra":[1,2]}"#);
    let want = json!({"request":"bye","extra":[1,2],"UUID": id(&r, a)});
    assert_eq!(drain(&mut r), vec![(b, want.clone()), (c, want)]);
    r.receive(loner, r#"{"hello":1}"#);
    assert_eq!(drain(&mut r), vec![]);
}

#[test]
fn seed_announces_and_claims_are_exclusive() {
    let mut r = Relay::new(Dialect::Official, 1);
    let a = join(&mut r, "r1", None);
    let b = join(&mut r, "r1", Some("s1"));
    let _d = join(&mut r, "r2", None);
    drain(&mut r);
    r.receive(a, r#"{"request":"seed","streamID":"s2"}"#);
    let ia = id(&r, a);
    assert_eq!(
        drain(&mut r),
        vec![(
            b,
            json!({"request":"videoaddedtoroom","UUID": ia,"streamID":"s2"})
        )]
    );
    r.receive(a, r#"{"request":"seed","streamID":"s2"}"#);
    assert_eq!(drain(&mut r), vec![], "re-seeding the same id is silent");
    r.receive(a, r#"{"request":"seed","streamID":"s1"}"#);
    let e = r.connect();
    r.receive(e, r#"{"request":"joinroom","roomid":"r1","streamID":"s1"}"#);
    let in_use = json!({"request":"alert","message":"sid already in use"});
    assert_eq!(drain(&mut r), vec![(a, in_use.clone()), (e, in_use)]);
    assert_eq!(r.room(e), None);
}

#[test]
fn leaving_sends_cleanup_to_the_room_and_frees_the_stream() {
    let mut r = Relay::new(Dialect::Official, 1);
    let a = join(&mut r, "r1", None);
    let b = join(&mut r, "r1", Some("s1"));
    let c = join(&mut r, "r1", None);
    let _d = join(&mut r, "r2", None);
    drain(&mut r);
    let ib = id(&r, b);
    r.disconnect(b);
    let cleanup = json!({"request":"cleanup","UUID": ib});
    assert_eq!(drain(&mut r), vec![(a, cleanup.clone()), (c, cleanup)]);
    r.receive(c, r#"{"request":"seed","streamID":"s1"}"#);
    assert_eq!(
        drain(&mut r).len(),
        1,
        "s1 is free: a hears videoaddedtoroom"
    );
    // Joining another room is leaving this one.
    r.receive(a, r#"{"request":"joinroom","roomid":"r2"}"#);
    let out = drain(&mut r);
    assert_eq!(out[0], (c, json!({"request":"cleanup","UUID": id(&r, a)})));
    assert_eq!(out.len(), 3, "cleanup, listing, someonejoined: {out:?}");
}

#[test]
fn garbage_is_dropped_without_affecting_others() {
    let mut r = Relay::new(Dialect::Official, 1);
    let a = join(&mut r, "r1", None);
    let b = join(&mut r, "r1", Some("s1"));
    drain(&mut r);
    for g in [
        "",
        "nope",
        "[]",
        "42",
        "\"x\"",
        "{\"a\":",
        r#"{"request":"play"}"#,
    ] {
        r.receive(a, g);
        assert!(drain(&mut r).iter().all(|(to, _)| *to == a), "{g:?}");
    }
    r.receive(a, r#"{"request":"joinroom"}"#);
    r.receive(a, r#"{"request":"joinroom","roomid":"r1","streamID":7}"#);
    let out = drain(&mut r);
    assert_eq!(out.len(), 2);
    assert!(
        out.iter()
            .all(|(to, m)| *to == a && m["request"] == "alert"),
        "{out:?}"
    );
    assert_eq!(
        r.room(a),
        Some("r1"),
        "a bad joinroom does not move the client"
    );
    r.receive(a, r#"{"request":"play","streamID":"s1"}"#);
    assert_eq!(
        drain(&mut r),
        vec![(b, json!({"request":"offerSDP","UUID": id(&r, a)}))]
    );
}
