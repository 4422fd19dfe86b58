use serde_json::{json, Value};

use super::*;

// ---- offers ----

#[test]
fn offers_plain_and_encrypted_both_dialects() {
    for dialect in [Dialect::Relay, Dialect::Official] {
        let plain = offer_msg(dialect, json!({"type": "offer", "sdp": OFFER_SDP}), None);
        let expect = |encrypted| Incoming::Offer {
            peer: PUB.into(),
            session: "sess123456".into(),
            stream_id: Some("cam1808d64".into()),
            sdp: OFFER_SDP.into(),
            encrypted,
            is_scene: Some(false),
        };
        assert_eq!(dec(&ctx(dialect, None), plain.clone()), Ok(expect(false)));
        assert_eq!(dec(&ctx(dialect, Some(cipher())), plain), Ok(expect(false)));
        let (ct, iv) = sealed_offer();
        let sealed = offer_msg(dialect, json!(ct), Some(&iv));
        assert_eq!(
            dec(&ctx(dialect, Some(cipher())), sealed.clone()),
            Ok(expect(true))
        );
        assert_eq!(dec(&ctx(dialect, None), sealed), Err(DecodeError::NoKey));
    }
}

#[test]
fn answers_and_other_descriptions_are_ignored() {
    let c = relay();
    assert!(ignored(dec(
        &c,
        offer_msg(
            Dialect::Relay,
            json!({"type": "answer", "sdp": "v=0"}),
            None
        )
    )));
    assert!(ignored(dec(
        &c,
        offer_msg(Dialect::Relay, json!({"type": "rollback", "sdp": ""}), None)
    )));
}

#[test]
fn decryption_failures_are_errors() {
    let c = relay();
    let (ct, iv) = sealed_offer();
    let truncated = offer_msg(Dialect::Relay, json!(&ct[..ct.len() - 32]), Some(&iv));
    assert!(matches!(dec(&c, truncated), Err(DecodeError::Decrypt(_))));
    let odd = offer_msg(Dialect::Relay, json!(&ct[..ct.len() - 1]), Some(&iv));
    assert!(matches!(dec(&c, odd), Err(DecodeError::Decrypt(_))));
    let short_iv = offer_msg(Dialect::Relay, json!(ct), Some("0011"));
    assert!(matches!(dec(&c, short_iv), Err(DecodeError::Decrypt(_))));
    // A wrong vector garbles the first block: `{"type":"of` is lost, so it is no longer JSON.
    let wrong_iv = offer_msg(
        Dialect::Relay,
        json!(ct),
        Some("ffffffffffffffffffffffffffffffff"),
    );
    assert!(matches!(dec(&c, wrong_iv), Err(DecodeError::Decrypt(_))));
    let no_vector = offer_msg(Dialect::Relay, json!(ct), None);
    assert_eq!(dec(&c, no_vector), Err(DecodeError::BadField("vector")));
    let other_pw = CodecContext {
        cipher: Some(Cipher::new("hunter2", "vdo.ninja")),
        ..relay()
    };
    assert!(matches!(
        dec(&other_pw, offer_msg(Dialect::Relay, json!(ct), Some(&iv))),
        Err(DecodeError::Decrypt(_))
    ));
}

#[test]
fn is_scene_forms() {
    let cases = [
        (json!(true), Some(true)),
        (json!(1), Some(true)),
        (json!("1"), Some(true)),
        (json!("true"), Some(true)),
        (json!("scene2"), Some(true)),
        (json!(false), Some(false)),
        (json!(0), Some(false)),
        (json!("0"), Some(false)),
        (json!("false"), Some(false)),
        (Value::Null, None),
    ];
    for (v, want) in cases {
        let mut m = offer_msg(Dialect::Relay, json!({"type": "offer", "sdp": "v=0"}), None);
        m["isScene"] = v.clone();
        match dec(&relay(), m) {
            Ok(Incoming::Offer { is_scene, .. }) => assert_eq!(is_scene, want, "{v}"),
            other => panic!("{other:?}"),
        }
    }
    let mut m = offer_msg(Dialect::Relay, json!({"type": "offer", "sdp": "v=0"}), None);
    m.as_object_mut().unwrap().remove("isScene");
    assert!(matches!(
        dec(&relay(), m),
        Ok(Incoming::Offer { is_scene: None, .. })
    ));
}

// ---- candidates ----

#[test]
fn candidate_forms() {
    let c = relay();
    let want = |n: usize| {
        Ok(Incoming::Candidates {
            peer: PUB.into(),
            session: Some("sess123456".into()),
            candidates: vec![
                IceCandidate {
                    candidate: LINE.into(),
                    sdp_mid: Some("0".into()),
                    sdp_mline_index: Some(0),
                    username_fragment: Some("abcd".into()),
                };
                n
            ],
        })
    };
    assert_eq!(
        dec(
            &c,
            cand_msg("candidates", json!([cand(LINE), cand(LINE)]), None)
        ),
        want(2)
    );
    assert_eq!(dec(&c, cand_msg("candidate", cand(LINE), None)), want(1));
    let (ct, iv) = cipher().encrypt(&json!([cand(LINE), cand("")]).to_string(), IV);
    assert_eq!(
        dec(&c, cand_msg("candidates", json!(ct), Some(&iv))),
        want(1)
    );
    let (ct, iv) = cipher().encrypt(&cand(LINE).to_string(), IV);
    assert_eq!(
        dec(&c, cand_msg("candidate", json!(ct), Some(&iv))),
        want(1)
    );
    assert_eq!(
        dec(
            &ctx(Dialect::Relay, None),
            cand_msg("candidate", json!(ct), Some(&iv))
        ),
        Err(DecodeError::NoKey)
    );
}

#[test]
fn candidate_filtering_and_optional_fields() {
    let c = relay();
    // Empty and null candidate lines are skipped; mDNS ones are kept for the session to judge.
    let local = "candidate:2 1 udp 1 abcd.local 5000 typ host";
    let m = cand_msg(
        "candidates",
        json!([{"candidate": ""}, {"candidate": null}, {"candidate": local}]),
        None,
    );
    match dec(&c, m) {
        Ok(Incoming::Candidates { candidates, .. }) => {
            assert_eq!(candidates.len(), 1);
            assert_eq!(candidates[0].candidate, local);
            assert_eq!(candidates[0].sdp_mid, None);
            assert_eq!(candidates[0].sdp_mline_index, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(ignored(dec(
        &c,
        cand_msg("candidates", json!([{"candidate": ""}]), None)
    )));
    let mut m = cand_msg("candidates", json!([cand(LINE)]), None);
    m.as_object_mut().unwrap().remove("session");
    assert!(matches!(
        dec(&c, m),
        Ok(Incoming::Candidates { session: None, .. })
    ));
}

// ---- wrong types ----

#[test]
fn wrong_types_are_bad_fields() {
    let c = relay();
    let o = |d: Value| offer_msg(Dialect::Relay, d, None);
    assert!(matches!(decode(&c, "{nope"), Err(DecodeError::NotJson(_))));
    assert_eq!(decode(&c, "[1,2]"), Err(DecodeError::NotAnObject));
    assert_eq!(decode(&c, "\"x\""), Err(DecodeError::NotAnObject));
    assert_eq!(
        dec(&c, o(json!(5))),
        Err(DecodeError::BadField("description"))
    );
    assert_eq!(
        dec(&c, o(json!({"sdp": "v=0"}))),
        Err(DecodeError::BadField("description.type"))
    );
    assert_eq!(
        dec(&c, o(json!({"type": "offer", "sdp": 3}))),
        Err(DecodeError::BadField("description.sdp"))
    );
    let mut m = o(json!({"type": "offer", "sdp": "v=0"}));
    m["session"] = json!(12);
    assert_eq!(dec(&c, m.clone()), Err(DecodeError::BadField("session")));
    m.as_object_mut().unwrap().remove("session");
    assert_eq!(dec(&c, m), Err(DecodeError::BadField("session")));
    let mut m = o(json!({"type": "offer", "sdp": "v=0"}));
    m["streamID"] = json!([1]);
    assert_eq!(dec(&c, m), Err(DecodeError::BadField("streamID")));
    assert_eq!(
        dec(&c, cand_msg("candidates", json!(7), None)),
        Err(DecodeError::BadField("candidates"))
    );
    assert_eq!(
        dec(&c, cand_msg("candidates", json!([1]), None)),
        Err(DecodeError::BadField("candidate"))
    );
    assert_eq!(
        dec(
            &c,
            cand_msg(
                "candidates",
                json!([{"candidate": LINE, "sdpMLineIndex": -1}]),
                None
            )
        ),
        Err(DecodeError::BadField("sdpMLineIndex"))
    );
    assert_eq!(
        dec(&c, json!({"bye": true, "from": 5})),
        Err(DecodeError::BadField("from"))
    );
    assert_eq!(
        dec(&c, json!({"bye": true, "from": PUB, "UUID": 5})),
        Err(DecodeError::BadField("UUID"))
    );
    assert_eq!(
        dec(&c, json!({"bye": true, "from": PUB, "roomid": []})),
        Err(DecodeError::BadField("roomid"))
    );
    assert_eq!(
        dec(&c, json!({"request": 1, "from": PUB})),
        Err(DecodeError::BadField("request"))
    );
    assert_eq!(
        dec(&official(), json!({"request": "listing", "list": {}})),
        Err(DecodeError::BadField("list"))
    );
    assert_eq!(
        dec(&official(), json!({"request": "listing", "list": [3]})),
        Err(DecodeError::BadField("list"))
    );
}
