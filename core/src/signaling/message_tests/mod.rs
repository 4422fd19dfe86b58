//! Tests of the WebSocket codec, split by topic; shared fixtures here.

use serde_json::{json, Value};

use super::*;

const ME: &str = "viewerViewerViewer01";
const PUB: &str = "publisherPublisher01";
const ROOM: &str = "3213057560d1c04a";
const IV: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const OFFER_SDP: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n";

fn cipher() -> Cipher {
    Cipher::new("someEncryptionKey123", "vdo.ninja")
}

fn ctx(dialect: Dialect, cipher: Option<Cipher>) -> CodecContext {
    CodecContext {
        dialect,
        own_id: ME.into(),
        room_wire: ROOM.into(),
        cipher,
    }
}

fn relay() -> CodecContext {
    ctx(Dialect::Relay, Some(cipher()))
}

fn official() -> CodecContext {
    ctx(Dialect::Official, Some(cipher()))
}

fn dec(c: &CodecContext, v: Value) -> Result<Incoming, DecodeError> {
    decode(c, &v.to_string())
}

fn cand(line: &str) -> Value {
    json!({"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd"})
}

const LINE: &str = "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host";

fn ignored(r: Result<Incoming, DecodeError>) -> bool {
    matches!(r, Ok(Incoming::Ignored { .. }))
}

fn offer_msg(dialect: Dialect, description: Value, vector: Option<&str>) -> Value {
    let mut m = json!({"UUID": ME, "streamID": "cam1808d64", "description": description,
                       "session": "sess123456", "isScene": false});
    if let Some(v) = vector {
        m["vector"] = json!(v);
    }
    if dialect == Dialect::Relay {
        m["from"] = json!(PUB);
        m["roomid"] = json!(ROOM);
    } else {
        m["UUID"] = json!(PUB);
    }
    m
}

fn sealed_offer() -> (String, String) {
    cipher().encrypt(&json!({"type": "offer", "sdp": OFFER_SDP}).to_string(), IV)
}

fn cand_msg(field: &str, value: Value, vector: Option<&str>) -> Value {
    let mut m = json!({"UUID": ME, "type": "local", field: value, "session": "sess123456",
                       "from": PUB, "roomid": ROOM});
    if let Some(v) = vector {
        m["vector"] = json!(v);
    }
    m
}

#[test]
fn dialect_names_round_trip() {
    for d in Dialect::ALL {
        assert_eq!(d.name().parse::<Dialect>(), Ok(d));
    }
    assert_eq!("OFFICIAL".parse::<Dialect>(), Ok(Dialect::Official));
    assert!("klingon".parse::<Dialect>().is_err());
}

mod encode;
mod hostile;
mod payloads;
mod rooms;
mod view;
