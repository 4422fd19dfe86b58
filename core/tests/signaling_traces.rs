//! Every message of the captured VDO.Ninja traces through the signaling codecs, from the
//! recorder's (viewer's) point of view.

use std::path::{Path, PathBuf};

use roomrec_core::signaling::message::{self, Outgoing};
use roomrec_core::signaling::password::DEFAULT_SALT;
use roomrec_core::signaling::{
    datachannel, Cipher, CodecContext, DcIncoming, Dialect, Incoming, Password, RoomSecrets,
};
use serde_json::Value;

struct Line {
    sender: String,
    channel: String,
    msg: Value,
}

fn traces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/traces")
}

fn trace_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(traces_dir())
        .expect("traces directory")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 5,
        "expected the five captured traces, found {files:?}"
    );
    files
}

fn read(path: &Path) -> Vec<Line> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Line {
                sender: v["sender"].as_str().unwrap().to_string(),
                channel: v["channel"].as_str().unwrap().to_string(),
                msg: v["msg"].clone(),
            }
        })
        .collect()
}

/// Everything a test needs to know about one trace file.
struct Setup {
    lines: Vec<Line>,
    encrypted: bool,
    secrets: RoomSecrets,
    ctx: CodecContext,
    publisher: String,
}

fn setup(path: &Path) -> Setup {
    let name = path.file_name().unwrap().to_str().unwrap();
    let encrypted = name.contains("defaultpw");
    assert!(
        encrypted || name.contains("nopass"),
        "{name}: unknown password mode"
    );
    let lines = read(path);
    let password = if encrypted {
        Password::Default
    } else {
        Password::parse(Some("false"))
    };
    let secrets = RoomSecrets::new("e2eroom", &password, DEFAULT_SALT);
    let viewer_join = lines
        .iter()
        .find(|l| l.sender == "viewer" && l.channel == "ws" && l.msg["request"] == "joinroom")
        .expect("viewer joinroom");
    let own_id = viewer_join.msg["from"].as_str().unwrap().to_string();
    let room_wire = viewer_join.msg["roomid"].as_str().unwrap().to_string();
    // Our derivation reproduces the room id the real app computed.
    assert_eq!(room_wire, secrets.room_wire, "{name}");
    let publisher = lines
        .iter()
        .find(|l| l.sender == "publisher" && l.channel == "ws")
        .and_then(|l| l.msg["from"].as_str())
        .unwrap()
        .to_string();
    let ctx = CodecContext {
        dialect: Dialect::Relay,
        own_id,
        room_wire,
        cipher: secrets.cipher.clone(),
    };
    Setup {
        lines,
        encrypted,
        secrets,
        ctx,
        publisher,
    }
}

fn has_loopback(cands: &[roomrec_core::signaling::IceCandidate]) -> bool {
    !cands.is_empty() && cands.iter().any(|c| c.candidate.contains("127.0.0.1"))
}

#[test]
fn signaling_trace_publisher_websocket_messages() {
    for path in trace_files() {
        let s = setup(&path);
        let wire_sid = s.secrets.wire_stream_id("cam1");
        let (mut joins, mut offers, mut cands) = (0, 0, 0);
        for line in s
            .lines
            .iter()
            .filter(|l| l.sender == "publisher" && l.channel == "ws")
        {
            let got = message::decode(&s.ctx, &line.msg.to_string());
            let m = &line.msg;
            if m["request"] == "joinroom" {
                joins += 1;
                assert_eq!(
                    got,
                    Ok(Incoming::PeerJoined {
                        peer: s.publisher.clone(),
                        stream_id: Some(wire_sid.clone())
                    }),
                    "{path:?}"
                );
            } else if m.get("description").is_some() {
                offers += 1;
                match got {
                    Ok(Incoming::Offer {
                        peer,
                        session,
                        stream_id,
                        sdp,
                        encrypted,
                        is_scene,
                    }) => {
                        assert_eq!(peer, s.publisher);
                        assert_eq!(session, m["session"].as_str().unwrap());
                        assert_eq!(stream_id.as_deref(), Some(wire_sid.as_str()));
                        assert_eq!(s.secrets.strip_stream_id(&wire_sid), "cam1");
                        assert!(sdp.starts_with("v=0\r\n"), "{sdp}");
                        assert_eq!(encrypted, s.encrypted);
                        assert_eq!(is_scene, Some(false));
                    }
                    other => panic!("{path:?}: expected an offer, got {other:?}"),
                }
            } else if m.get("candidates").is_some() || m.get("candidate").is_some() {
                cands += 1;
                match got {
                    Ok(Incoming::Candidates {
                        peer,
                        session,
                        candidates,
                    }) => {
                        assert_eq!(peer, s.publisher);
                        assert_eq!(session.as_deref(), m["session"].as_str());
                        assert!(has_loopback(&candidates), "{candidates:?}");
                    }
                    other => panic!("{path:?}: expected candidates, got {other:?}"),
                }
            } else {
                panic!("{path:?}: unexpected publisher message {m}");
            }
        }
        assert_eq!((joins, offers), (1, 1), "{path:?}");
        assert!(cands >= 1, "{path:?}");
    }
}

#[test]
fn signaling_trace_first_offer_sdp_is_byte_exact() {
    let s = setup(&traces_dir().join("single-recorder-after-nopass.jsonl"));
    let expected =
        std::fs::read_to_string(traces_dir().join("sdp/chrome-first-offer-datachannel-only.sdp"))
            .unwrap();
    let offer = s
        .lines
        .iter()
        .find(|l| l.sender == "publisher" && l.msg.get("description").is_some())
        .unwrap();
    match message::decode(&s.ctx, &offer.msg.to_string()) {
        Ok(Incoming::Offer { sdp, .. }) => assert_eq!(sdp, expected),
        other => panic!("{other:?}"),
    }
}

#[test]
fn signaling_trace_publisher_datachannel_messages() {
    for path in trace_files() {
        let s = setup(&path);
        let ws_session = s
            .lines
            .iter()
            .find(|l| {
                l.sender == "publisher" && l.channel == "ws" && l.msg.get("session").is_some()
            })
            .map(|l| l.msg["session"].as_str().unwrap().to_string())
            .unwrap();
        let (mut infos, mut reoffers) = (0, 0);
        for line in s
            .lines
            .iter()
            .filter(|l| l.sender == "publisher" && l.channel == "dc")
        {
            let items = datachannel::decode(s.ctx.cipher.as_ref(), &line.msg.to_string())
                .unwrap_or_else(|e| panic!("{path:?}: {e} for {}", line.msg));
            let m = &line.msg;
            if m.get("info").is_some() {
                infos += 1;
                assert_eq!(
                    items,
                    vec![DcIncoming::Info {
                        label: Some("cam1".into())
                    }]
                );
            } else if m.get("description").is_some() {
                reoffers += 1;
                match items.as_slice() {
                    [DcIncoming::Description {
                        kind,
                        sdp,
                        session,
                        encrypted,
                    }] => {
                        assert_eq!(kind, "offer");
                        assert!(sdp.contains("m=video") && sdp.contains("m=audio"), "{sdp}");
                        assert_eq!(session.as_deref(), Some(ws_session.as_str()));
                        assert_eq!(*encrypted, s.encrypted);
                    }
                    other => panic!("{path:?}: {other:?}"),
                }
            } else {
                // miniInfo alone: informational only.
                assert!(m.get("miniInfo").is_some(), "{m}");
                assert_eq!(items, vec![]);
            }
        }
        assert_eq!((infos, reoffers), (1, 1), "{path:?}");
    }
}

#[test]
fn signaling_trace_h264_reoffer_lists_h264_first() {
    let s = setup(&traces_dir().join("single-recorder-after-nopass-h264.jsonl"));
    let line = s
        .lines
        .iter()
        .find(|l| l.channel == "dc" && l.msg.get("description").is_some())
        .unwrap();
    let items = datachannel::decode(None, &line.msg.to_string()).unwrap();
    let [DcIncoming::Description { sdp, .. }] = items.as_slice() else {
        panic!("{items:?}")
    };
    let mline = sdp.lines().find(|l| l.starts_with("m=video")).unwrap();
    assert_eq!(mline.split(' ').nth(3), Some("102"), "{mline}");
}

#[test]
fn signaling_trace_viewer_answers_decrypt() {
    let mut answers = 0;
    for path in trace_files()
        .into_iter()
        .filter(|p| p.to_str().unwrap().contains("defaultpw"))
    {
        let s = setup(&path);
        let cipher: &Cipher = s.ctx.cipher.as_ref().unwrap();
        for line in s
            .lines
            .iter()
            .filter(|l| l.sender == "viewer" && l.msg.get("description").is_some())
        {
            let ct = line.msg["description"].as_str().expect("encrypted answer");
            let iv = line.msg["vector"].as_str().unwrap();
            let plain: Value = serde_json::from_str(&cipher.decrypt(ct, iv).unwrap()).unwrap();
            assert_eq!(plain["type"], "answer");
            assert!(plain["sdp"].as_str().unwrap().starts_with("v=0"));
            answers += 1;
            // On the data channel our decoder reads the same answer.
            if line.channel == "dc" {
                let items = datachannel::decode(Some(cipher), &line.msg.to_string()).unwrap();
                assert!(
                    matches!(&items[..], [DcIncoming::Description { kind, encrypted: true, .. }] if kind == "answer")
                );
            }
        }
    }
    assert_eq!(
        answers, 4,
        "one WebSocket and one data-channel answer per defaultpw file"
    );
}

#[test]
fn signaling_trace_viewer_messages_match_our_encoding_and_echoes_are_ignored() {
    for path in trace_files() {
        let s = setup(&path);
        for line in s
            .lines
            .iter()
            .filter(|l| l.sender == "viewer" && l.channel == "ws")
        {
            // The relay would never echo, but if it did, a viewer drops its own messages.
            let got = message::decode(&s.ctx, &line.msg.to_string());
            assert!(matches!(got, Ok(Incoming::Ignored { .. })), "{got:?}");
            let ours = match line.msg["request"].as_str() {
                Some("joinroom") => message::encode(&s.ctx, &Outgoing::JoinRoom, [0; 16]),
                Some("play") => {
                    let sid = line.msg["streamID"].as_str().unwrap();
                    assert_eq!(sid, s.secrets.wire_stream_id("cam1"));
                    message::encode(&s.ctx, &Outgoing::Play { stream_id: sid }, [0; 16])
                }
                _ => continue,
            };
            assert_eq!(
                serde_json::from_str::<Value>(&ours).unwrap(),
                line.msg,
                "{path:?}"
            );
        }
    }
}
