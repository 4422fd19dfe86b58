//! Replays captured signaling into the core: the real VDO.Ninja web app's messages (traces in
//! tests/fixtures/traces/) and a trace that `roomrec --trace-signaling` itself wrote during a
//! loopback recording. The publisher's WebSocket messages go into a `Room`, a `Connection` is
//! built for every StartConnection with the captured (Chrome) offer, and what the core sends back
//! is checked against what the trace's viewer did and against the protocol.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use roomrec_core::connection::{
    CloseReason, Connection, ConnectionCommand, ConnectionEvent, ConnectionHandle, ConnectionInput,
    ConnectionOutput, ConnectionReport, ConnectionSettings, SessionKey,
};
use roomrec_core::media::Codec;
use roomrec_core::room::{Room, RoomConfig, RoomInput, RoomOutput};
use roomrec_core::signaling::{Cipher, Dialect, Password, RoomSecrets};
use serde_json::{Map, Value};

/// One line of a trace.
#[derive(Clone, Debug)]
struct Line {
    t_ms: u64,
    sender: String,
    channel: String,
    peer: Option<String>,
    msg: Value,
}

fn parse_trace(text: &str) -> Vec<Line> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("trace line is JSON ({e}): {l}"));
            Line {
                t_ms: v["t_ms"].as_u64().expect("t_ms"),
                sender: v["sender"].as_str().expect("sender").to_string(),
                channel: v["channel"].as_str().expect("channel").to_string(),
                peer: v.get("peer").and_then(Value::as_str).map(str::to_string),
                msg: v["msg"].clone(),
            }
        })
        .collect()
}

fn fixture(name: &str) -> Vec<Line> {
    let path = format!(
        "{}/fixtures/traces/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    parse_trace(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// What the replay observed.
#[derive(Default)]
struct Replayed {
    /// Everything the room sent on the WebSocket, parsed.
    sent: Vec<Value>,
    /// Connections the room started, in order.
    started: Vec<SessionKey>,
    candidates: Vec<(SessionKey, Vec<String>)>,
    labels: Vec<String>,
    /// Data-channel answers to re-offers: (key, text sent back on the data channel).
    dc_answers: Vec<(SessionKey, String)>,
    reoffers: usize,
}

const LOCAL: &str = "127.0.0.1:40000";

/// The video codec the trace's viewer asked for in its data-channel request (`--codec`).
fn preferred_codecs(lines: &[Line]) -> Vec<Codec> {
    lines
        .iter()
        .filter(|l| l.channel == "dc" && l.sender == "viewer")
        .filter_map(|l| s(&l.msg, "preferVideoCodec").and_then(Codec::from_name))
        .take(1)
        .collect()
}

/// Feeds the trace's incoming WebSocket messages (and the publisher's data-channel messages) to
/// a fresh core; the capturing viewer's peer id is replaced by the core's own. Sessions get the
/// codec preference the trace's viewer expressed.
fn replay(lines: &[Line], dialect: Dialect, room: &str, password: Password) -> (Replayed, Room) {
    let video_codecs = preferred_codecs(lines);
    let viewer_join = lines
        .iter()
        .find(|l| {
            l.channel == "ws" && l.sender == "viewer" && s(&l.msg, "request") == Some("joinroom")
        })
        .expect("the trace's viewer joins");
    let viewer_id = s(&viewer_join.msg, "from").map(str::to_string);
    let t0 = Instant::now();
    let config = RoomConfig {
        room: room.into(),
        password,
        salt: "vdo.ninja".into(),
        dialect,
        record_streams: None,
        view: None,
        seed: 7,
        connection: ConnectionSettings {
            video_codecs,
            connect_timeout: Duration::from_secs(15),
            ..Default::default()
        },
    };
    let mut room = Room::new(config, t0);
    let mut connections: Connections = BTreeMap::new();
    let mut out = Replayed::default();
    let at = |l: &Line| t0 + Duration::from_millis(l.t_ms.saturating_sub(viewer_join.t_ms));

    room.handle_input(t0, RoomInput::SignalingUp);
    drain(&mut room, &mut connections, &mut out, t0);
    for line in lines.iter().filter(|l| l.t_ms >= viewer_join.t_ms) {
        let now = at(line);
        if room.poll_timeout().is_some_and(|t| t <= now) {
            room.handle_input(now, RoomInput::Timeout);
            drain(&mut room, &mut connections, &mut out, now);
        }
        let incoming = line.sender == "publisher" || line.peer.is_some() && line.sender != "viewer";
        match line.channel.as_str() {
            "ws" if incoming => {
                let mut msg = line.msg.clone();
                // The relay addresses us by the id we joined with: ours, not the capturing viewer's.
                if let (Some(obj), Some(viewer)) = (msg.as_object_mut(), &viewer_id) {
                    if obj.get("UUID").and_then(Value::as_str) == Some(viewer.as_str()) {
                        obj.insert("UUID".into(), Value::String(room.own_id().to_string()));
                    }
                }
                room.handle_input(now, RoomInput::SignalingText(msg.to_string()));
                drain(&mut room, &mut connections, &mut out, now);
            }
            "dc" if line.sender == "publisher" => {
                let peer = line
                    .peer
                    .as_deref()
                    .expect("data-channel lines name the peer");
                let Some((&handle, connection)) =
                    connections.iter_mut().find(|(_, c)| c.key().peer == peer)
                else {
                    panic!("data-channel message from {peer} without a connection")
                };
                if line.msg.get("description").is_some() {
                    out.reoffers += 1;
                }
                let wall = SystemTime::now();
                let key = connection.key().clone();
                for text in connection.handle_control_text(now, wall, &line.msg.to_string()) {
                    if serde_json::from_str::<Value>(&text)
                        .is_ok_and(|v| v.get("description").is_some())
                    {
                        out.dc_answers.push((key.clone(), text));
                    }
                }
                drain_connection(handle, &mut connections, &mut room, &mut out, now);
                drain(&mut room, &mut connections, &mut out, now);
            }
            _ => {}
        }
    }
    (out, room)
}

type Connections = BTreeMap<ConnectionHandle, Connection>;

fn drain(room: &mut Room, connections: &mut Connections, out: &mut Replayed, now: Instant) {
    while let Some(output) = room.poll_output() {
        match output {
            RoomOutput::SendSignaling(text) => out
                .sent
                .push(serde_json::from_str(&text).expect("the core sends JSON")),
            RoomOutput::StartConnection(start) => {
                out.started.push(start.key.clone());
                let handle = start.handle;
                let local = [LOCAL.parse::<SocketAddr>().unwrap()];
                let connection = Connection::new(now, SystemTime::now(), *start, &local);
                connections.insert(handle, connection);
                drain_connection(handle, connections, room, out, now);
            }
            RoomOutput::ToConnection(handle, ConnectionCommand::RemoteCandidates(list)) => {
                let key = connections[&handle].key().clone();
                out.candidates
                    .push((key, list.iter().map(|c| c.candidate.clone()).collect()));
                if let Some(connection) = connections.get_mut(&handle) {
                    let candidates = ConnectionCommand::RemoteCandidates(list);
                    let input = ConnectionInput::Command(candidates);
                    connection.handle_input(now, SystemTime::now(), input);
                }
            }
            RoomOutput::ToConnection(handle, ConnectionCommand::Close) => {
                connections.remove(&handle);
            }
        }
    }
}

fn drain_connection(
    handle: ConnectionHandle,
    connections: &mut Connections,
    room: &mut Room,
    out: &mut Replayed,
    now: Instant,
) {
    let mut reports = Vec::new();
    if let Some(connection) = connections.get_mut(&handle) {
        while let Some(output) = connection.poll_output() {
            match output {
                ConnectionOutput::Report(report) => reports.push(report),
                ConnectionOutput::Event(ConnectionEvent::Label(label)) => out.labels.push(label),
                _ => {}
            }
        }
    }
    for report in reports {
        if let ConnectionReport::Closed(CloseReason::OfferRejected(why)) = &report {
            panic!("the core refused a real Chrome offer: {why}");
        }
        room.handle_input(now, RoomInput::FromConnection(handle, report));
    }
}

/// The plaintext of a possibly sealed field.
fn open(msg: &Value, field: &str, cipher: Option<&Cipher>) -> (Value, bool) {
    match (&msg[field], s(msg, "vector")) {
        (Value::String(hex), Some(iv)) => {
            let plain = cipher
                .expect("sealed payload needs the room key")
                .decrypt(hex, iv)
                .expect("decrypts with the room key");
            (
                serde_json::from_str(&plain).expect("plaintext is JSON"),
                true,
            )
        }
        (v, _) => (v.clone(), false),
    }
}

/// Media sections of an answer are receive-only; our host candidate is inside.
fn check_answer_sdp(sdp: &str, what: &str) {
    let sections: Vec<&str> = sdp.split("\r\nm=").skip(1).collect();
    assert!(!sections.is_empty(), "{what}: no m= section in {sdp}");
    for section in &sections {
        if section.starts_with("application") {
            continue;
        }
        assert!(
            section.contains("a=recvonly"),
            "{what}: media section not recvonly: m={section}"
        );
        assert!(
            !section.contains("a=sendrecv") && !section.contains("a=sendonly"),
            "{what}: m={section}"
        );
    }
    let port = LOCAL.rsplit(':').next().unwrap();
    assert!(
        sdp.lines().any(|l| l.starts_with("a=candidate")
            && l.contains(" 127.0.0.1 ")
            && l.contains(&format!(" {port} "))),
        "{what}: our host candidate {LOCAL} not in {sdp}"
    );
}

/// Everything a replay must show, for a trace whose publishing peer is `publisher`.
fn check(lines: &[Line], dialect: Dialect, room: &str, password: Password) -> Replayed {
    let secrets = RoomSecrets::new(room, &password, "vdo.ninja");
    let viewer_lines: Vec<&Line> = lines
        .iter()
        .filter(|l| l.channel == "ws" && l.sender == "viewer")
        .collect();
    let trace_room = s(&viewer_lines[0].msg, "roomid").expect("viewer joinroom has roomid");
    assert_eq!(
        secrets.room_wire, trace_room,
        "room and password reproduce the trace's roomid"
    );
    let (out, core) = replay(lines, dialect, room, password);
    let cipher = core.secrets().cipher.clone();

    // joinroom first, without streamID (a recorder never announces a stream).
    let join = &out.sent[0];
    assert_eq!(s(join, "request"), Some("joinroom"));
    assert_eq!(s(join, "roomid"), Some(trace_room));
    assert!(join.get("streamID").is_none(), "{join}");
    if dialect == Dialect::Relay {
        assert_eq!(s(join, "from"), Some(core.own_id()));
    }

    // play exactly when the trace's viewer sent one, for the same stream.
    let plays = |msgs: Vec<&Value>| -> Vec<String> {
        msgs.into_iter()
            .filter(|m| s(m, "request") == Some("play"))
            .map(|m| s(m, "streamID").unwrap().to_string())
            .collect()
    };
    let ours = plays(out.sent.iter().collect());
    let theirs = plays(viewer_lines.iter().map(|l| &l.msg).collect());
    assert_eq!(ours, theirs, "play messages");

    // One answer per offer, for its peer and session, sealed iff the offer was, decryptable.
    let offers: Vec<(String, String, bool)> = lines
        .iter()
        .filter(|l| {
            l.channel == "ws" && l.sender == "publisher" && l.msg.get("description").is_some()
        })
        .map(|l| {
            let peer = s(&l.msg, "from").or(l.peer.as_deref()).unwrap().to_string();
            (
                peer,
                s(&l.msg, "session").unwrap().to_string(),
                s(&l.msg, "vector").is_some(),
            )
        })
        .collect();
    assert!(!offers.is_empty(), "the trace has an offer");
    let answers: Vec<&Value> = out
        .sent
        .iter()
        .filter(|m| m.get("description").is_some())
        .collect();
    assert_eq!(answers.len(), offers.len(), "one answer per offer");
    for ((peer, session, encrypted), answer) in offers.iter().zip(&answers) {
        assert_eq!(s(answer, "UUID"), Some(peer.as_str()));
        assert_eq!(s(answer, "session"), Some(session.as_str()));
        let (desc, sealed) = open(answer, "description", cipher.as_ref());
        assert_eq!(sealed, *encrypted, "answer sealed iff the offer was");
        assert_eq!(s(&desc, "type"), Some("answer"));
        check_answer_sdp(s(&desc, "sdp").unwrap(), "WebSocket answer");
        let key = SessionKey {
            peer: peer.clone(),
            session: session.clone(),
        };
        assert!(out.started.contains(&key), "a connection for {key}");
    }

    // Trickled candidates reach the connection of their (peer, session), unchanged.
    for l in lines.iter().filter(|l| {
        l.channel == "ws" && l.sender == "publisher" && l.msg.get("candidates").is_some()
    }) {
        let (list, _) = open(&l.msg, "candidates", cipher.as_ref());
        let lines: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| s(c, "candidate"))
            .map(str::to_string)
            .collect();
        let peer = s(&l.msg, "from").or(l.peer.as_deref()).unwrap();
        let key = SessionKey {
            peer: peer.into(),
            session: s(&l.msg, "session").unwrap().into(),
        };
        assert!(
            out.candidates.contains(&(key.clone(), lines.clone())),
            "{key}: {lines:?} not in {:?}",
            out.candidates
        );
    }
    assert!(out.candidates.iter().all(|(k, _)| out.started.contains(k)));
    out
}

/// The data-channel re-offer is accepted by the session's re-offer path and answered on the
/// data channel: same session, sealed iff the re-offer was, receive-only audio and video.
fn check_reoffer(out: &Replayed, lines: &[Line], password: &Password, room: &str) -> String {
    let cipher = RoomSecrets::new(room, password, "vdo.ninja").cipher;
    let reoffer = lines
        .iter()
        .find(|l| {
            l.channel == "dc" && l.sender == "publisher" && l.msg.get("description").is_some()
        })
        .unwrap();
    assert_eq!(out.reoffers, 1);
    assert_eq!(
        out.dc_answers.len(),
        1,
        "one data-channel answer to the re-offer"
    );
    let (key, text) = &out.dc_answers[0];
    let answer: Value = serde_json::from_str(text).unwrap();
    assert_eq!(s(&answer, "session"), s(&reoffer.msg, "session"));
    assert_eq!(Some(key.session.as_str()), s(&reoffer.msg, "session"));
    let (desc, sealed) = open(&answer, "description", cipher.as_ref());
    assert_eq!(
        sealed,
        s(&reoffer.msg, "vector").is_some(),
        "sealed iff the re-offer was"
    );
    assert_eq!(s(&desc, "type"), Some("answer"));
    let sdp = s(&desc, "sdp").unwrap().to_string();
    check_answer_sdp(&sdp, "data-channel answer");
    assert!(
        sdp.contains("\r\nm=video ") && sdp.contains("\r\nm=audio "),
        "{sdp}"
    );
    assert_eq!(out.labels, ["cam1"], "info.label from the data channel");
    sdp
}

fn first_video_codec(sdp: &str) -> String {
    let section = sdp.split("\r\nm=video ").nth(1).unwrap();
    let pt = section.split_whitespace().nth(2).unwrap();
    let rtpmap = format!("a=rtpmap:{pt} ");
    let line = section.lines().find(|l| l.starts_with(&rtpmap)).unwrap();
    line[rtpmap.len()..].split('/').next().unwrap().to_string()
}

fn fixture_case(name: &str, password: Password) -> (Replayed, String) {
    let lines = fixture(name);
    let out = check(&lines, Dialect::Relay, "e2eroom", password.clone());
    let sdp = check_reoffer(&out, &lines, &password, "e2eroom");
    (out, sdp)
}

#[test]
fn recorder_joins_first_no_password() {
    let (out, sdp) = fixture_case("single-recorder-first-nopass", Password::Disabled);
    assert_eq!(
        out.sent
            .iter()
            .filter(|m| s(m, "request") == Some("play"))
            .count(),
        1
    );
    assert_eq!(first_video_codec(&sdp), "VP8");
}

#[test]
fn recorder_joins_first_default_password() {
    let (out, _) = fixture_case("single-recorder-first-defaultpw", Password::Default);
    let play = out
        .sent
        .iter()
        .find(|m| s(m, "request") == Some("play"))
        .unwrap();
    assert_eq!(
        s(play, "streamID"),
        Some("cam1808d64"),
        "the hashed stream id"
    );
}

#[test]
fn recorder_joins_after_no_password() {
    let (out, _) = fixture_case("single-recorder-after-nopass", Password::Disabled);
    assert!(
        out.sent.iter().all(|m| s(m, "request") != Some("play")),
        "the publisher offers by itself"
    );
}

#[test]
fn recorder_joins_after_default_password() {
    fixture_case("single-recorder-after-defaultpw", Password::Default);
}

/// The trace's viewer asked for H.264 (`preferVideoCodec`); replayed with the same preference
/// (`--codec h264`) the answer to the H.264-first re-offer accepts H.264.
#[test]
fn recorder_joins_after_h264_preferred() {
    let lines = fixture("single-recorder-after-nopass-h264");
    assert_eq!(preferred_codecs(&lines), [Codec::H264]);
    let (_, sdp) = fixture_case("single-recorder-after-nopass-h264", Password::Disabled);
    assert_eq!(first_video_codec(&sdp), "H264");
}

/// Runs a real loopback recording (bundled relay, one synthetic publisher, the recorder with
/// `--trace-signaling`) and returns the trace lines it wrote.
fn capture(redact: bool, password: Password) -> Vec<Line> {
    use roomrec_io_tokio::demo::{publisher_config, recorder_options, spawn_publisher};
    use roomrec_io_tokio::relay::spawn_relay;
    let dir = tempfile_dir();
    let trace = dir.join("trace.jsonl");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let localhost = "127.0.0.1".parse().unwrap();
        let (addr, relay) = spawn_relay(SocketAddr::new(localhost, 0), Dialect::Relay)
            .await
            .unwrap();
        let server = format!("ws://{addr}");
        let mut options = recorder_options(&server, dir.clone(), Dialect::Relay, password.clone());
        options.signaling_trace = Some(trace.clone());
        options.signaling_trace_redact = redact;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let recorder = tokio::spawn(roomrec_io_tokio::run_until(options, async move {
            let _ = stopped.await;
        }));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let config = publisher_config(
            "cam1",
            Some(roomrec_core::media::Codec::Vp8),
            true,
            Dialect::Relay,
            &password,
        );
        let publisher = spawn_publisher(&server, localhost, config).await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let _ = stop.send(());
        recorder.await.unwrap().unwrap();
        publisher.hang_up().await;
        relay.abort();
    });
    // The trace thread flushes each line; give it a moment after shutdown.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut text = String::new();
    while Instant::now() < deadline {
        text = std::fs::read_to_string(&trace).unwrap_or_default();
        if text.lines().any(|l| l.contains("candidates")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&dir);
    parse_trace(&text)
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "roomrec-trace-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    assert!(Path::new(&dir).is_dir());
    dir
}

/// The trace `roomrec --trace-signaling` writes has the fixtures' format and replays through the
/// same checks.
#[test]
fn cli_captured_trace_replays() {
    let lines = capture(false, Password::Default);
    assert!(
        lines.len() >= 5,
        "joinroom, joinroom, play, offer, answer, candidates: {lines:#?}"
    );
    for l in &lines {
        assert_eq!(l.channel, "ws");
        assert!(l.sender == "viewer" || l.sender == "publisher", "{l:?}");
        assert!(l.msg.is_object(), "{l:?}");
        assert_eq!(
            l.peer.is_some(),
            l.sender == "publisher",
            "incoming lines name the sender: {l:?}"
        );
    }
    assert!(lines.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
    let out = check(&lines, Dialect::Relay, "roomrec-demo", Password::Default);
    assert_eq!(out.started.len(), 1);
}

/// With `--trace-redact`, SDPs, candidates and IVs never reach the file.
#[test]
fn cli_captured_trace_redacted() {
    let lines = capture(true, Password::Disabled);
    let mut redacted = 0;
    for l in &lines {
        let obj: &Map<String, Value> = l.msg.as_object().unwrap();
        for key in ["description", "candidates", "candidate", "vector"] {
            if let Some(v) = obj.get(key) {
                assert_eq!(v, "<redacted>", "{l:?}");
                redacted += 1;
            }
        }
        let text = l.msg.to_string();
        assert!(
            !text.contains("v=0") && !text.contains("typ host"),
            "{text}"
        );
    }
    assert!(redacted >= 3, "offer, answer and candidates were redacted");
}
