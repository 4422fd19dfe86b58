use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::signaling::payload::testgen;

const IV: [u8; 16] = [9; 16];

fn cipher() -> Cipher {
    Cipher::new("someEncryptionKey123", "vdo.ninja")
}

fn dec(c: Option<&Cipher>, v: Value) -> Result<Vec<DcIncoming>, DecodeError> {
    decode(c, &v.to_string())
}

#[test]
fn several_items_in_one_message() {
    assert_eq!(
        dec(None, json!({"videoMuted": true, "bye": true})),
        Ok(vec![DcIncoming::VideoMuted(true), DcIncoming::Bye])
    );
    assert_eq!(dec(None, json!({"bye": true})), Ok(vec![DcIncoming::Bye]));
    assert_eq!(
        dec(None, json!({"videoMuted": false})),
        Ok(vec![DcIncoming::VideoMuted(false)])
    );
    assert_eq!(
        dec(None, json!({"ping": 12345})),
        Ok(vec![DcIncoming::Ping(json!(12345))])
    );
    assert_eq!(
        dec(None, json!({"ping": {"t": "x"}})),
        Ok(vec![DcIncoming::Ping(json!({"t": "x"}))])
    );
    assert_eq!(
        dec(None, json!({"miniInfo": {"out": {"c": 1}}, "muteState": 3})),
        Ok(vec![])
    );
}

#[test]
fn info_label() {
    assert_eq!(
        dec(
            None,
            json!({"info": {"label": "cam1", "muted": false}, "miniInfo": {}})
        ),
        Ok(vec![DcIncoming::Info {
            label: Some("cam1".into())
        }])
    );
    assert_eq!(
        dec(None, json!({"info": {"label": false}})),
        Ok(vec![DcIncoming::Info { label: None }])
    );
    assert_eq!(
        dec(None, json!({"info": {}})),
        Ok(vec![DcIncoming::Info { label: None }])
    );
    assert_eq!(
        dec(None, json!({"info": "x"})),
        Err(DecodeError::BadField("info"))
    );
}

#[test]
fn description_plain_and_encrypted() {
    let desc = json!({"type": "offer", "sdp": "v=0\r\nm=video\r\n"});
    let want = |encrypted| {
        Ok(vec![DcIncoming::Description {
            kind: "offer".into(),
            sdp: "v=0\r\nm=video\r\n".into(),
            session: Some("s1".into()),
            encrypted,
        }])
    };
    assert_eq!(
        dec(
            None,
            json!({"description": desc, "session": "s1", "UUID": "x"})
        ),
        want(false)
    );
    let (ct, iv) = cipher().encrypt(&desc.to_string(), IV);
    let sealed = json!({"description": ct, "session": "s1", "vector": iv});
    assert_eq!(dec(Some(&cipher()), sealed.clone()), want(true));
    assert_eq!(dec(None, sealed), Err(DecodeError::NoKey));
    let wrong = Cipher::new("other", "vdo.ninja");
    let sealed = json!({"description": ct, "session": "s1", "vector": iv});
    assert!(matches!(
        dec(Some(&wrong), sealed),
        Err(DecodeError::Decrypt(_))
    ));
    let truncated = json!({"description": &ct[..32], "session": "s1", "vector": iv});
    assert!(matches!(
        dec(Some(&cipher()), truncated),
        Err(DecodeError::Decrypt(_))
    ));
}

#[test]
fn candidates_plain_and_encrypted() {
    let list = json!([{"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "1", "sdpMLineIndex": 1}]);
    let want = Ok(vec![DcIncoming::Candidates {
        session: Some("s".into()),
        candidates: vec![IceCandidate {
            candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
            sdp_mid: Some("1".into()),
            sdp_mline_index: Some(1),
            username_fragment: None,
        }],
    }]);
    assert_eq!(dec(None, json!({"candidates": list, "session": "s"})), want);
    assert_eq!(
        dec(None, json!({"candidate": list[0], "session": "s"})),
        want
    );
    let (ct, iv) = cipher().encrypt(&list.to_string(), IV);
    assert_eq!(
        dec(
            Some(&cipher()),
            json!({"candidates": ct, "vector": iv, "session": "s"})
        ),
        want
    );
    assert_eq!(
        dec(
            None,
            json!({"candidates": [{"candidate": ""}], "session": "s"})
        ),
        Ok(vec![])
    );
}

#[test]
fn bad_input_is_an_error() {
    assert!(matches!(
        decode(None, "not json"),
        Err(DecodeError::NotJson(_))
    ));
    assert_eq!(decode(None, "[]"), Err(DecodeError::NotAnObject));
    assert_eq!(decode(None, "true"), Err(DecodeError::NotAnObject));
    assert_eq!(
        dec(None, json!({"videoMuted": "yes"})),
        Err(DecodeError::BadField("videoMuted"))
    );
    assert_eq!(
        dec(None, json!({"description": 1})),
        Err(DecodeError::BadField("description"))
    );
    assert_eq!(
        dec(None, json!({"candidates": {"candidate": 3}})),
        Err(DecodeError::BadField("candidate"))
    );
}

#[test]
fn request_exact() {
    let req = ViewerRequest {
        audio: true,
        video: false,
        label: "rec \"1\"".into(),
        prefer_video_codec: Some("h264".into()),
    };
    assert_eq!(
        encode_request(&req),
        concat!(
            r#"{"audio":true,"video":false,"allowchunked":false,"allowwebp":false,"allowscreenvideo":true,"#,
            r#""allowscreenaudio":true,"guest":false,"scene":false,"director":false,"downloads":false,"#,
            r#""iframe":false,"widget":false,"allowmidi":false,"allowdrawing":false,"broadcast":false,"#,
            r#""info":{"label":"rec \"1\""},"preferVideoCodec":"h264"}"#
        )
    );
    let v: Value = serde_json::from_str(&encode_request(&ViewerRequest {
        prefer_video_codec: None,
        ..req
    }))
    .unwrap();
    assert!(v.get("preferVideoCodec").is_none());
    assert_eq!(v["info"]["label"], "rec \"1\"");
}

#[test]
fn answer_pong_bye() {
    assert_eq!(
        encode_answer(None, "s1", "v=0\r\n", IV),
        r#"{"description":{"type":"answer","sdp":"v=0\r\n"},"session":"s1"}"#
    );
    let sealed: Value =
        serde_json::from_str(&encode_answer(Some(&cipher()), "s1", "v=0\r\n", IV)).unwrap();
    assert_eq!(sealed["session"], "s1");
    assert_eq!(sealed["vector"], hex::encode(IV));
    let plain = cipher()
        .decrypt(
            sealed["description"].as_str().unwrap(),
            sealed["vector"].as_str().unwrap(),
        )
        .unwrap();
    assert_eq!(plain, r#"{"type":"answer","sdp":"v=0\r\n"}"#);
    // Our own decoder reads it back.
    assert_eq!(
        decode(Some(&cipher()), &sealed.to_string()),
        Ok(vec![DcIncoming::Description {
            kind: "answer".into(),
            sdp: "v=0\r\n".into(),
            session: Some("s1".into()),
            encrypted: true
        }])
    );
    assert_eq!(
        encode_pong(&json!(1712345678901u64)),
        r#"{"pong":1712345678901}"#
    );
    assert_eq!(encode_pong(&json!("x")), r#"{"pong":"x"}"#);
    assert_eq!(encode_bye(), r#"{"bye":true}"#);
    assert_eq!(decode(None, &encode_bye()), Ok(vec![DcIncoming::Bye]));
}

const KEYS: &[&str] = &[
    "description",
    "session",
    "vector",
    "candidates",
    "candidate",
    "ping",
    "bye",
    "info",
    "videoMuted",
    "miniInfo",
    "UUID",
];

proptest! {
    #[test]
    fn never_panics_on_strings(s in ".{0,200}") {
        let _ = decode(None, &s);
        let _ = decode(Some(&cipher()), &s);
    }

    #[test]
    fn never_panics_on_wrong_types(text in testgen::object_with_keys(KEYS)) {
        let _ = decode(None, &text);
        let _ = decode(Some(&cipher()), &text);
    }
}
