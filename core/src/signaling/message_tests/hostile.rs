use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::signaling::payload::testgen;

const KEYS: &[&str] = &[
    "UUID",
    "from",
    "roomid",
    "request",
    "streamID",
    "description",
    "session",
    "vector",
    "candidates",
    "candidate",
    "isScene",
    "bye",
    "error",
    "list",
    "message",
    "type",
];

proptest! {
    #[test]
    fn decode_never_panics_on_strings(s in ".{0,200}") {
        for c in [relay(), official(), ctx(Dialect::Relay, None)] {
            let _ = decode(&c, &s);
        }
    }

    #[test]
    fn decode_never_panics_on_wrong_types(text in testgen::object_with_keys(KEYS)) {
        for c in [relay(), official(), ctx(Dialect::Official, None)] {
            let _ = decode(&c, &text);
        }
        // Also as if addressed to us from a peer, so the deeper branches run.
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["from"] = json!(PUB);
        v["roomid"] = json!(ROOM);
        v.as_object_mut().unwrap().remove("UUID");
        let _ = dec(&relay(), v);
    }

    #[test]
    fn decode_never_panics_on_garbled_ciphertext(
        ct in "[0-9a-f]{0,96}", iv in "[0-9a-fA-F]{0,40}", field in prop::sample::select(vec!["description", "candidates", "candidate"])
    ) {
        let m = json!({"UUID": PUB, field: ct, "vector": iv, "session": "s"});
        let _ = dec(&official(), m);
    }
}
