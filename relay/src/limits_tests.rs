//! Room size and id/room-name caps, both dialects.

use serde_json::{json, Value};

use super::{ClientId, Dialect, Limits, Relay};

fn drain(r: &mut Relay) -> Vec<(ClientId, Value)> {
    std::iter::from_fn(|| r.poll_output())
        .map(|(to, t)| (to, serde_json::from_str(&t).unwrap()))
        .collect()
}

fn relay(dialect: Dialect) -> Relay {
    let mut r = Relay::new(dialect, 1);
    r.set_limits(Limits {
        max_room_members: 2,
        max_id_len: 8,
        max_room_len: 4,
    });
    r
}

#[test]
fn relay_dialect_refuses_full_rooms_and_long_names() {
    let mut r = relay(Dialect::Relay);
    let join = |r: &mut Relay, msg: Value| {
        let c = r.connect();
        r.receive(c, &msg.to_string());
        (c, drain(r))
    };
    let (a, _) = join(
        &mut r,
        json!({"request":"joinroom","roomid":"r","from":"A"}),
    );
    let (b, out) = join(
        &mut r,
        json!({"request":"joinroom","roomid":"r","from":"B"}),
    );
    assert_eq!(out.len(), 1, "second member announced");
    let (c, out) = join(
        &mut r,
        json!({"request":"joinroom","roomid":"r","from":"C"}),
    );
    assert_eq!(out, vec![(c, json!({"error":"room full"}))]);
    assert_eq!(r.room(c), None);
    // Re-joining its own room is not a new member.
    r.receive(b, r#"{"request":"joinroom","roomid":"r","from":"B"}"#);
    assert_eq!(drain(&mut r).len(), 1);
    let (d, out) = join(
        &mut r,
        json!({"request":"joinroom","roomid":"long","from":"D"}),
    );
    assert!(out.is_empty(), "four bytes are allowed");
    assert_eq!(r.room(d), Some("long"));
    let (e, out) = join(
        &mut r,
        json!({"request":"joinroom","roomid":"longer","from":"E"}),
    );
    assert_eq!(out, vec![(e, json!({"error":"roomid too long"}))]);
    let (f, out) = join(
        &mut r,
        json!({"request":"joinroom","roomid":"x","from":"123456789"}),
    );
    assert_eq!(out, vec![(f, json!({"error":"uuid too long"}))]);
    assert_eq!(r.peer_id(f), None);
    r.receive(a, r#"{"request":"seed","streamID":"123456789","from":"A"}"#);
    assert_eq!(
        drain(&mut r),
        vec![(a, json!({"error":"streamID too long"}))]
    );
}

#[test]
fn official_dialect_refuses_full_rooms_and_long_names() {
    let mut r = relay(Dialect::Official);
    let clients: Vec<ClientId> = (0..3).map(|_| r.connect()).collect();
    for c in &clients {
        r.receive(*c, r#"{"request":"joinroom","roomid":"r"}"#);
    }
    let out = drain(&mut r);
    let alert = json!({"request":"alert","message":"room full"});
    assert!(out.contains(&(clients[2], alert)), "{out:?}");
    assert_eq!(r.room(clients[2]), None);
    let c = r.connect();
    r.receive(c, r#"{"request":"joinroom","roomid":"longer"}"#);
    r.receive(c, r#"{"request":"seed","streamID":"123456789"}"#);
    let msgs: Vec<Value> = drain(&mut r)
        .into_iter()
        .map(|(_, m)| m["message"].clone())
        .collect();
    assert_eq!(
        msgs,
        vec![json!("roomid too long"), json!("streamID too long")]
    );
}
