//! Replays the WebSocket lines of real captured traffic (unmodified `vdoninja.js`, VDO.Ninja web
//! app) through the pure relay-dialect routing and checks every message lands where it did.

use roomrec_relay::{ClientId, Dialect, Relay};
use serde_json::Value;

const TRACES: [&str; 5] = [
    "single-recorder-first-nopass",
    "single-recorder-first-defaultpw",
    "single-recorder-after-nopass",
    "single-recorder-after-defaultpw",
    "single-recorder-after-nopass-h264",
];

/// (sender, text) of every WebSocket line, in order.
fn ws_lines(trace: &str) -> Vec<(String, String)> {
    let path = format!(
        "{}/../tests/fixtures/traces/{trace}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("trace line is JSON"))
        .filter(|l| l["channel"] == "ws")
        .map(|l| {
            (
                l["sender"].as_str().unwrap().to_owned(),
                l["msg"].to_string(),
            )
        })
        .collect()
}

fn drain(r: &mut Relay) -> Vec<(ClientId, String)> {
    std::iter::from_fn(|| r.poll_output()).collect()
}

#[test]
fn first_nopass_each_message_reaches_exactly_its_recipients() {
    let lines = ws_lines("single-recorder-first-nopass");
    assert_eq!(
        lines.len(),
        6,
        "joinroom, joinroom, play, offer, answer, candidates"
    );
    let mut r = Relay::new(Dialect::Relay, 1);
    // A guest already in the room and a client of another room, both idle.
    let guest = r.connect();
    r.receive(
        guest,
        r#"{"request":"joinroom","roomid":"e2eroom","from":"guestguestguestguest"}"#,
    );
    let stranger = r.connect();
    r.receive(
        stranger,
        r#"{"request":"joinroom","roomid":"other","from":"strangerstrangerstra"}"#,
    );
    assert!(drain(&mut r).is_empty());
    let publisher = r.connect();
    let viewer = r.connect();

    // Who gets each line, from the trace's story: the viewer joins (only the guest is in the
    // room), the publisher joins (broadcast), play goes to the stream owner, then offer,
    // answer and candidates are addressed with UUID.
    let expected: [&[ClientId]; 6] = [
        &[guest],
        &[guest, viewer],
        &[publisher],
        &[viewer],
        &[publisher],
        &[viewer],
    ];
    for ((sender, text), want) in lines.iter().zip(expected) {
        let from = if sender == "publisher" {
            publisher
        } else {
            viewer
        };
        r.receive(from, text);
        let out = drain(&mut r);
        let got: Vec<ClientId> = out.iter().map(|(to, _)| *to).collect();
        assert_eq!(got, want, "{sender}: {}", &text[..text.len().min(120)]);
        assert!(out.iter().all(|(_, t)| t == text), "forwarded unchanged");
    }
    assert_eq!(r.peer_id(viewer).as_deref(), Some("kDsdTipZpTAFDnJnvYXY"));
    assert_eq!(
        r.peer_id(publisher).as_deref(),
        Some("kxFk8skgX9FZEGpmSAjG")
    );
}

#[test]
fn every_trace_replays_message_for_message() {
    for trace in TRACES {
        let lines = ws_lines(trace);
        assert!(lines.len() >= 4, "{trace}");
        let mut r = Relay::new(Dialect::Relay, 1);
        let publisher = r.connect();
        let viewer = r.connect();
        for (i, (sender, text)) in lines.iter().enumerate() {
            let (from, to) = match sender.as_str() {
                "publisher" => (publisher, viewer),
                "viewer" => (viewer, publisher),
                other => panic!("{trace}: unknown sender {other}"),
            };
            r.receive(from, text);
            let out = drain(&mut r);
            if i == 0 {
                // The first joinroom finds nobody in the room yet.
                assert!(out.is_empty(), "{trace}: {out:?}");
            } else {
                assert_eq!(out, vec![(to, text.clone())], "{trace} line {i}");
            }
        }
    }
}
