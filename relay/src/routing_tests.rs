//! Relay dialect (`vdoninja.js`) routing.

use serde_json::json;

use super::{ClientId, Dialect, Relay};

fn drain(r: &mut Relay) -> Vec<(ClientId, String)> {
    std::iter::from_fn(|| r.poll_output()).collect()
}

fn recipients(r: &mut Relay) -> Vec<ClientId> {
    drain(r).into_iter().map(|(to, _)| to).collect()
}

/// Connect a client and send its joinroom (with an optional stream id); returns its ClientId.
fn join(r: &mut Relay, uuid: &str, room: &str, sid: Option<&str>) -> ClientId {
    let c = r.connect();
    let mut msg = json!({"request": "joinroom", "roomid": room, "from": uuid});
    if let Some(sid) = sid {
        msg["streamID"] = json!(sid);
    }
    r.receive(c, &msg.to_string());
    drain(r);
    c
}

#[test]
fn text_is_forwarded_byte_for_byte_within_the_room_only() {
    let mut r = Relay::new(Dialect::Relay, 1);
    let a = join(&mut r, "A", "r1", None);
    let b = join(&mut r, "B", "r1", None);
    let c = join(&mut r, "C", "r2", None);
    let odd = r#"{ "z":1,  "from":"A", "a":[ 1.50 ] }"#;
    r.receive(a, odd);
    assert_eq!(drain(&mut r), vec![(b, odd.to_owned())]);
    r.receive(c, r#"{"from":"C","x":1}"#);
    assert_eq!(drain(&mut r), vec![]);
    assert_eq!(r.peer_id(a).as_deref(), Some("A"));
    assert_eq!(r.room(c), Some("r2"));
}

#[test]
fn joinroom_is_forwarded_to_members_already_present() {
    let mut r = Relay::new(Dialect::Relay, 1);
    let a = join(&mut r, "A", "r1", None);
    let b = r.connect();
    let text = r#"{"request":"joinroom","roomid":"r1","streamID":"s","from":"B"}"#;
    r.receive(b, text);
    assert_eq!(drain(&mut r), vec![(a, text.to_owned())]);
}

#[test]
fn sockets_without_a_room_only_talk_to_each_other() {
    let mut r = Relay::new(Dialect::Relay, 1);
    let a = join(&mut r, "A", "r1", None);
    let d = r.connect();
    let e = r.connect();
    r.receive(d, r#"{"from":"D"}"#);
    assert_eq!(recipients(&mut r), vec![e]);
    r.receive(a, r#"{"from":"A"}"#);
    assert_eq!(recipients(&mut r), vec![]);
}

#[test]
fn roomid_is_compared_as_javascript_string() {
    let mut r = Relay::new(Dialect::Relay, 1);
    let a = r.connect();
    r.receive(a, r#"{"request":"joinroom","roomid":123,"from":"A"}"#);
    let b = r.connect();
    r.receive(b, r#"{"request":"joinroom","roomid":"123","from":"B"}"#);
    assert_eq!(recipients(&mut r), vec![a]);
    assert_eq!(r.room(a), Some("123"));
}

#[test]
fn uuid_targets_one_socket() {
    let mut r = Relay::new(Dialect::Relay, 1);
    let a = join(&mut r, "A", "r1", None);
    let b = join(&mut r, "B", "r1", None);
    let _c = join(&mut r, "C", "r1", None);
    let _idle = r.connect(); // never sent anything: has no id, is never a target
    r.receive(a, r#"{"UUID":"B","from":"A","session":"x"}"#);
    assert_eq!(recipients(&mut r), vec![b]);
    r.receive(a, r#"{"UUID":"nobody","from":"A"}"#);
    assert_eq!(recipients(&mut r), vec![]);
    // A falsy UUID counts as absent: broadcast.
    r.receive(a, r#"{"UUID":"","from":"A"}"#);
    assert_eq!(recipients(&mut r).len(), 2);
}

#[test]
fn uuid_target_in_another_room_is_not_reached() {
    let mut r = Relay::new(Dialect::Relay, 1);
    let a = join(&mut r, "A", "r1", None);
    let _b = join(&mut r, "B", "r2", None);
    r.receive(a, r#"{"UUID":"B","from":"A"}"#);
    assert_eq!(recipients(&mut r), vec![]);
}

#[test]
fn play_goes_to_the_stream_owner_only() {
    let mut r = Relay::new(Dialect::Relay, 1);
    let p = join(&mut r, "P", "r1", Some("s1"));
    let q = join(&mut r, "Q", "r1", Some("s2"));
    let v = join(&mut r, "V", "r1", None);
    let _other_room_owner = join(&mut r, "O", "r2", Some("s3"));
    r.receive(
        v,
        r#"{"request":"play","streamID":"s1","from":"V","roomid":"r1"}"#,
    );
    assert_eq!(recipients(&mut r), vec![p]);
    r.receive(v, r#"{"request":"play","streamID":"s2","from":"V"}"#);
    assert_eq!(recipients(&mut r), vec![q]);
    r.receive(v, r#"{"request":"play","streamID":"s3","from":"V"}"#);
    assert_eq!(recipients(&mut r), vec![]);
    r.receive(v, r#"{"request":"play","streamID":"nope","from":"V"}"#);
    assert_eq!(recipients(&mut r), vec![]);
    // Without a streamID, play is an ordinary broadcast.
    r.receive(v, r#"{"request":"play","from":"V"}"#);
    assert_eq!(recipients(&mut r), vec![p, q]);
}

#[test]
fn duplicate_uuid_is_refused_and_not_forwarded() {
    let mut r = Relay::new(Dialect::Relay, 1);
    let a = join(&mut r, "A", "r1", None);
    let x = r.connect();
    r.receive(x, r#"{"request":"joinroom","roomid":"r1","from":"A"}"#);
    assert_eq!(
        drain(&mut r),
        vec![(x, r#"{"error":"uuid already in use"}"#.to_owned())]
    );
    assert_eq!(r.peer_id(x), None);
    assert_eq!(r.room(x), None);
    // The refused socket may pick another id.
    r.receive(x, r#"{"request":"joinroom","roomid":"r1","from":"X"}"#);
    assert_eq!(recipients(&mut r), vec![a]);
    // The first `from` sticks: a later different `from` does not change the socket's id.
    r.receive(a, r#"{"from":"A2"}"#);
    drain(&mut r);
    r.receive(x, r#"{"UUID":"A","from":"X"}"#);
    assert_eq!(recipients(&mut r), vec![a]);
    // An id is free again once its socket is gone.
    r.disconnect(a);
    let y = r.connect();
    r.receive(y, r#"{"from":"A"}"#);
    assert_eq!(r.peer_id(y).as_deref(), Some("A"));
}

#[test]
fn stream_id_claims() {
    let mut r = Relay::new(Dialect::Relay, 1);
    let p = join(&mut r, "P", "r1", Some("s1"));
    let v = join(&mut r, "V", "r1", None);
    let q = r.connect();
    r.receive(
        q,
        r#"{"request":"joinroom","roomid":"r1","streamID":"s1","from":"Q"}"#,
    );
    assert_eq!(
        drain(&mut r),
        vec![(q, r#"{"error":"sid already in use"}"#.to_owned())]
    );
    assert_eq!(r.room(q), None, "a refused joinroom does not join");
    r.receive(p, r#"{"request":"seed","streamID":"s9","from":"P"}"#);
    assert_eq!(
        drain(&mut r),
        vec![(p, r#"{"error":"can't change sid"}"#.to_owned())]
    );
    // Re-claiming one's own sid is fine and forwarded.
    r.receive(p, r#"{"request":"seed","streamID":"s1","from":"P"}"#);
    assert_eq!(recipients(&mut r), vec![v]);
    // Once the owner leaves, the sid can be claimed and play reaches the new owner.
    r.disconnect(p);
    assert_eq!(
        drain(&mut r),
        vec![],
        "no leave notice in the relay dialect"
    );
    r.receive(
        q,
        r#"{"request":"joinroom","roomid":"r1","streamID":"s1","from":"Q"}"#,
    );
    assert_eq!(recipients(&mut r), vec![v]);
    r.receive(v, r#"{"request":"play","streamID":"s1","from":"V"}"#);
    assert_eq!(recipients(&mut r), vec![q]);
}

#[test]
fn garbage_is_dropped_without_affecting_others() {
    let mut r = Relay::new(Dialect::Relay, 1);
    let a = join(&mut r, "A", "r1", None);
    let b = join(&mut r, "B", "r1", None);
    let garbage = [
        "",
        "not json",
        "{\"from\":",
        "[1,2,3]",
        "\"from\"",
        "null",
        r#"{"request":"joinroom","roomid":"r1"}"#,
        r#"{"from":""}"#,
        r#"{"from":0}"#,
        r#"{"from":null,"UUID":"B"}"#,
    ];
    for g in garbage {
        r.receive(a, g);
        assert_eq!(drain(&mut r), vec![], "{g:?}");
    }
    let fresh = r.connect();
    r.receive(fresh, "{{{{");
    assert_eq!(r.peer_id(fresh), None);
    // A frame from a client that is not connected is ignored too.
    r.disconnect(fresh);
    r.receive(fresh, r#"{"from":"F"}"#);
    assert_eq!(drain(&mut r), vec![]);
    r.receive(a, r#"{"UUID":"B","from":"A"}"#);
    assert_eq!(recipients(&mut r), vec![b]);
}

#[test]
fn frames_queued_for_a_disconnected_client_are_discarded() {
    let mut r = Relay::new(Dialect::Relay, 1);
    let a = join(&mut r, "A", "r1", None);
    let b = join(&mut r, "B", "r1", None);
    let c = join(&mut r, "C", "r1", None);
    r.receive(a, r#"{"from":"A"}"#);
    r.disconnect(b);
    r.disconnect(b); // idempotent
    assert_eq!(recipients(&mut r), vec![c]);
    assert_eq!(r.client_count(), 2);
}
