//! Single-stream mode: no room, so no `roomid` goes out and none is checked.

use serde_json::json;

use super::*;

fn no_room(dialect: Dialect, cipher: Option<Cipher>) -> CodecContext {
    CodecContext {
        room_wire: String::new(),
        ..ctx(dialect, cipher)
    }
}

#[test]
fn play_without_a_room_exact() {
    let play = Outgoing::Play {
        stream_id: "cam1808d64",
    };
    assert_eq!(
        encode(&no_room(Dialect::Relay, Some(cipher())), &play, IV),
        format!(r#"{{"request":"play","streamID":"cam1808d64","from":"{ME}"}}"#)
    );
    assert_eq!(
        encode(&no_room(Dialect::Official, None), &play, IV),
        r#"{"request":"play","streamID":"cam1808d64"}"#
    );
}

#[test]
fn answer_without_a_room_has_no_roomid_and_is_sealed() {
    let c = no_room(Dialect::Relay, Some(cipher()));
    let text = encode(
        &c,
        &Outgoing::Answer {
            peer: PUB,
            session: "sess123456",
            sdp: "v=0\r\n",
            encrypt: true,
        },
        IV,
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v.get("roomid"), None);
    assert_eq!(v["from"], ME);
    assert_eq!(v["UUID"], PUB);
    // The protocol notes' test vector: this exact answer under the default key and IV 0..15.
    assert_eq!(
        v["description"],
        "e3cbc3ad10ee89125690f59776c972d770723acec02df276fe7c02a800d34f83bfa792e1450b421fd51f9f101d21c8d0"
    );
    assert_eq!(v["vector"], "000102030405060708090a0b0c0d0e0f");
}

#[test]
fn relay_without_a_room_takes_seed_and_offers_whatever_roomid_says() {
    let c = no_room(Dialect::Relay, None);
    assert_eq!(
        dec(
            &c,
            json!({"request": "seed", "streamID": "cam1", "from": PUB})
        ),
        Ok(Incoming::PeerJoined {
            peer: PUB.into(),
            stream_id: Some("cam1".into())
        })
    );
    // The relay delivers only what comes from sockets outside every room, so a page that adds
    // `roomid: false` (or anything) to its messages is still heard.
    for roomid in [json!(null), json!(false), json!(""), json!("x")] {
        let mut m = offer_msg(
            Dialect::Relay,
            json!({"type": "offer", "sdp": OFFER_SDP}),
            None,
        );
        m["roomid"] = roomid.clone();
        m["streamID"] = json!("cam1");
        assert!(
            matches!(dec(&c, m), Ok(Incoming::Offer { .. })),
            "roomid {roomid}"
        );
    }
}
