//! Single-stream mode against the real web app's signaling: the publisher's WebSocket messages of
//! the captured traces (encrypted and plain), fed to a `Room` in view mode. The traces were taken
//! in a room; a publisher outside rooms sends the same offer and candidates, and view mode ignores
//! `roomid`, so its decryption, stream matching and replies are what is checked here.

use std::time::{Duration, Instant};

use roomrec_core::connection::{ConnectionCommand, ConnectionReport};
use roomrec_core::room::{Room, RoomConfig, RoomInput, RoomOutput};
use roomrec_core::signaling::{Cipher, Dialect, Password};
use serde_json::Value;

fn lines(name: &str) -> Vec<Value> {
    let path = format!(
        "{}/fixtures/traces/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn drain(room: &mut Room) -> Vec<RoomOutput> {
    std::iter::from_fn(|| room.poll_output()).collect()
}

fn sent(outputs: &[RoomOutput]) -> Vec<Value> {
    outputs
        .iter()
        .filter_map(|o| match o {
            RoomOutput::SendSignaling(t) => Some(serde_json::from_str(t).unwrap()),
            _ => None,
        })
        .collect()
}

fn replay(name: &str, password: Password) {
    let trace = lines(name);
    let viewer_id = trace
        .iter()
        .find(|l| l["sender"] == "viewer" && l["msg"]["request"] == "joinroom")
        .and_then(|l| l["msg"]["from"].as_str())
        .expect("the trace's viewer")
        .to_string();
    let t0 = Instant::now();
    let config = RoomConfig {
        room: String::new(),
        password: password.clone(),
        salt: "vdo.ninja".into(),
        dialect: Dialect::Relay,
        record_streams: None,
        view: Some("cam1".into()),
        seed: 3,
        connection: Default::default(),
    };
    let mut room = Room::new(config, t0);
    room.handle_input(t0, RoomInput::SignalingUp);
    let hello = sent(&drain(&mut room));
    let wire = if password == Password::Disabled {
        "cam1"
    } else {
        "cam1808d64"
    };
    assert_eq!(hello.len(), 1, "{hello:?}");
    assert_eq!(hello[0]["request"], "play");
    assert_eq!(hello[0]["streamID"], wire, "the trace's wire stream id");
    assert!(hello[0].get("roomid").is_none());

    let mut outputs = Vec::new();
    for (i, line) in trace.iter().enumerate() {
        if line["sender"] != "publisher" || line["channel"] != "ws" {
            continue;
        }
        let mut msg = line["msg"].clone();
        // The relay addresses us by our own id, not the capturing viewer's.
        if msg["UUID"].as_str() == Some(viewer_id.as_str()) {
            msg["UUID"] = Value::String(room.own_id().to_string());
        }
        let now = t0 + Duration::from_millis(i as u64);
        room.handle_input(now, RoomInput::SignalingText(msg.to_string()));
        outputs.extend(drain(&mut room));
    }
    let start = outputs
        .iter()
        .find_map(|o| match o {
            RoomOutput::StartConnection(s) => Some(s.clone()),
            _ => None,
        })
        .expect("the web app's offer starts a connection");
    assert_eq!(start.stream_id, "cam1");
    assert!(
        start.offer_sdp.contains("m=application"),
        "decrypted offer SDP"
    );
    let routed: Vec<String> = outputs
        .iter()
        .filter_map(|o| match o {
            RoomOutput::ToConnection(h, ConnectionCommand::RemoteCandidates(c))
                if *h == start.handle =>
            {
                Some(c.iter().map(|c| c.candidate.clone()))
            }
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        !routed.is_empty() && routed.iter().all(|c| c.contains("127.0.0.1")),
        "the trickled candidates reach the connection: {routed:?}"
    );

    let answer = ConnectionReport::Answer {
        sdp: "v=0\r\n".into(),
    };
    room.handle_input(t0, RoomInput::FromConnection(start.handle, answer));
    let reply = sent(&drain(&mut room));
    assert_eq!(reply.len(), 1);
    let reply = &reply[0];
    assert_eq!(reply["UUID"], start.key.peer.as_str());
    assert_eq!(reply["session"], start.key.session.as_str());
    assert!(reply.get("roomid").is_none(), "{reply}");
    match password {
        Password::Disabled => assert_eq!(reply["description"]["type"], "answer"),
        _ => {
            let cipher = Cipher::new("someEncryptionKey123", "vdo.ninja");
            let plain = cipher
                .decrypt(
                    reply["description"].as_str().unwrap(),
                    reply["vector"].as_str().unwrap(),
                )
                .expect("sealed with the web app's key");
            assert_eq!(plain, r#"{"type":"answer","sdp":"v=0\r\n"}"#);
        }
    }
}

#[test]
fn view_mode_answers_the_web_apps_encrypted_offer() {
    replay("single-recorder-after-defaultpw", Password::Default);
}

#[test]
fn view_mode_answers_the_web_apps_plain_offer() {
    replay("single-recorder-after-nopass", Password::Disabled);
}
