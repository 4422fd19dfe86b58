use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

// ---- encoding ----

#[test]
fn encode_relay_exact() {
    let c = ctx(Dialect::Relay, None);
    assert_eq!(
        encode(&c, &Outgoing::JoinRoom, IV),
        format!(r#"{{"request":"joinroom","roomid":"{ROOM}","from":"{ME}"}}"#)
    );
    assert_eq!(
        encode(
            &c,
            &Outgoing::Play {
                stream_id: "cam1808d64"
            },
            IV
        ),
        format!(r#"{{"request":"play","streamID":"cam1808d64","from":"{ME}","roomid":"{ROOM}"}}"#)
    );
    let answer = Outgoing::Answer {
        peer: PUB,
        session: "s1",
        sdp: "v=0\r\n",
        encrypt: true,
    };
    assert_eq!(
        encode(&c, &answer, IV),
        format!(
            r#"{{"UUID":"{PUB}","description":{{"type":"answer","sdp":"v=0\r\n"}},"session":"s1","from":"{ME}","roomid":"{ROOM}"}}"#
        )
    );
}

#[test]
fn encode_official_exact() {
    let c = ctx(Dialect::Official, Some(cipher()));
    assert_eq!(
        encode(&c, &Outgoing::JoinRoom, IV),
        format!(r#"{{"request":"joinroom","roomid":"{ROOM}"}}"#)
    );
    assert_eq!(
        encode(&c, &Outgoing::Play { stream_id: "s" }, IV),
        r#"{"request":"play","streamID":"s"}"#
    );
    let plain = Outgoing::Answer {
        peer: PUB,
        session: "s1",
        sdp: "v=0\r\n",
        encrypt: false,
    };
    assert_eq!(
        encode(&c, &plain, IV),
        format!(
            r#"{{"UUID":"{PUB}","description":{{"type":"answer","sdp":"v=0\r\n"}},"session":"s1"}}"#
        )
    );
    // The protocol doc's vector: the encrypted description is exactly its ciphertext.
    let sealed = Outgoing::Answer {
        peer: PUB,
        session: "s1",
        sdp: "v=0\r\n",
        encrypt: true,
    };
    let v: Value = serde_json::from_str(&encode(&c, &sealed, IV)).unwrap();
    assert_eq!(
        v["description"],
        "e3cbc3ad10ee89125690f59776c972d770723acec02df276fe7c02a800d34f83bfa792e1450b421fd51f9f101d21c8d0"
    );
    assert_eq!(v["vector"], "000102030405060708090a0b0c0d0e0f");
    assert_eq!(v["UUID"], PUB);
    assert_eq!(v["session"], "s1");
    assert!(v.get("from").is_none() && v.get("roomid").is_none());
}

fn candidates_list() -> Vec<IceCandidate> {
    vec![
        IceCandidate {
            candidate: LINE.into(),
            sdp_mid: Some("0".into()),
            sdp_mline_index: Some(0),
            username_fragment: Some("uf".into()),
        },
        IceCandidate {
            candidate: "candidate:x".into(),
            sdp_mid: None,
            sdp_mline_index: Some(2),
            username_fragment: None,
        },
    ]
}

#[test]
fn candidates_round_trip_both_dialects() {
    let list = candidates_list();
    for dialect in [Dialect::Relay, Dialect::Official] {
        for (cipher, encrypt) in [
            (None, false),
            (Some(cipher()), false),
            (Some(cipher()), true),
        ] {
            let viewer = ctx(dialect, cipher.clone());
            let msg = Outgoing::Candidates {
                peer: PUB,
                session: "s1",
                candidates: &list,
                encrypt,
            };
            let text = encode(&viewer, &msg, IV);
            let mut v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["type"], "remote");
            assert_eq!(v["candidates"].is_string(), encrypt, "{text}");
            assert_eq!(v.get("vector").is_some(), encrypt);
            assert_eq!(v.get("from").is_some(), dialect == Dialect::Relay);
            // The publisher decodes it with the same codec: it is the addressee and we the sender.
            let publisher = CodecContext {
                own_id: PUB.into(),
                ..viewer.clone()
            };
            if dialect == Dialect::Official {
                v["UUID"] = json!(ME); // the server rewrites UUID to the sender
            }
            assert_eq!(
                dec(&publisher, v),
                Ok(Incoming::Candidates {
                    peer: ME.into(),
                    session: Some("s1".into()),
                    candidates: list.clone()
                })
            );
        }
    }
}

#[test]
fn answer_round_trip_both_dialects() {
    let sdp = "v=0\r\na=x:\"quoted\" \\ é\r\n";
    for dialect in [Dialect::Relay, Dialect::Official] {
        for encrypt in [false, true] {
            let viewer = ctx(dialect, Some(cipher()));
            let text = encode(
                &viewer,
                &Outgoing::Answer {
                    peer: PUB,
                    session: "s9",
                    sdp,
                    encrypt,
                },
                IV,
            );
            let v: Value = serde_json::from_str(&text).unwrap();
            let desc_text = match &v["description"] {
                Value::String(ct) => {
                    assert!(encrypt);
                    cipher().decrypt(ct, v["vector"].as_str().unwrap()).unwrap()
                }
                other => {
                    assert!(!encrypt);
                    other.to_string()
                }
            };
            let desc: Value = serde_json::from_str(&desc_text).unwrap();
            assert_eq!(desc, json!({"type": "answer", "sdp": sdp}));
            if encrypt {
                assert!(
                    desc_text.starts_with(r#"{"type":"answer","sdp":"#),
                    "{desc_text}"
                );
            }
            assert_eq!(v["UUID"], PUB);
            assert_eq!(v["session"], "s9");
            // The publisher's side sees an answer, which a viewer codec ignores.
            let publisher = CodecContext {
                own_id: PUB.into(),
                ..viewer.clone()
            };
            let mut v = v;
            v["UUID"] = json!(if dialect == Dialect::Official {
                ME
            } else {
                PUB
            });
            assert!(ignored(dec(&publisher, v)));
        }
    }
}

#[test]
fn encrypt_needs_a_cipher() {
    let c = ctx(Dialect::Relay, None);
    let text = encode(
        &c,
        &Outgoing::Answer {
            peer: PUB,
            session: "s",
            sdp: "v=0",
            encrypt: true,
        },
        IV,
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v["description"].is_object());
    assert!(v.get("vector").is_none());
}

fn arb_candidate() -> impl Strategy<Value = IceCandidate> {
    (
        ".{1,40}",
        proptest::option::of(".{0,4}"),
        proptest::option::of(any::<u32>()),
        proptest::option::of(".{0,8}"),
    )
        .prop_map(
            |(candidate, sdp_mid, sdp_mline_index, username_fragment)| IceCandidate {
                candidate,
                sdp_mid,
                sdp_mline_index,
                username_fragment,
            },
        )
}

proptest! {
    #[test]
    fn any_candidates_round_trip(
        list in prop::collection::vec(arb_candidate(), 1..4),
        encrypt in any::<bool>(),
        official_dialect in any::<bool>(),
        iv in any::<[u8; 16]>(),
    ) {
        let dialect = if official_dialect { Dialect::Official } else { Dialect::Relay };
        let viewer = ctx(dialect, Some(cipher()));
        let msg = Outgoing::Candidates { peer: PUB, session: "s", candidates: &list, encrypt };
        let mut v: Value = serde_json::from_str(&encode(&viewer, &msg, iv)).unwrap();
        if official_dialect {
            v["UUID"] = json!(ME); // the server rewrites UUID to the sender
        }
        let publisher = CodecContext { own_id: PUB.into(), ..viewer };
        prop_assert_eq!(
            dec(&publisher, v),
            Ok(Incoming::Candidates { peer: ME.into(), session: Some("s".into()), candidates: list })
        );
    }

    #[test]
    fn any_answer_sdp_survives_sealing(sdp in ".{0,300}", iv in any::<[u8; 16]>()) {
        let c = ctx(Dialect::Official, Some(cipher()));
        let v: Value = serde_json::from_str(
            &encode(&c, &Outgoing::Answer { peer: PUB, session: "s", sdp: &sdp, encrypt: true }, iv),
        )
        .unwrap();
        let plain = cipher().decrypt(v["description"].as_str().unwrap(), v["vector"].as_str().unwrap()).unwrap();
        let desc: Value = serde_json::from_str(&plain).unwrap();
        prop_assert_eq!(desc, json!({"type": "answer", "sdp": sdp}));
    }
}
