//! The event stream (docs/EVENTS.md) of real runs of the binary: a demo recording with
//! `--events FILE`, checked against the documented schema, its order guarantees and the files on
//! disk (sizes, and codecs as ffprobe sees them); and events on stdout when it is not a terminal.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use roomrec_io_tokio::status::{Event, EventLine, EVENTS_VERSION};
use roomrec_test_support::ffprobe::probe;
use roomrec_test_support::recordings::media_files;
use serde_json::Value;

/// Fields every event of a type must have, as docs/EVENTS.md lists them (besides v/seq/time/type).
const REQUIRED: [(&str, &[&str]); 11] = [
    (
        "recorder_started",
        &["room", "server", "output_dir", "version"],
    ),
    ("guest_joined", &["connection", "stream_id", "label"]),
    (
        "recording_started",
        &[
            "connection",
            "stream_id",
            "file",
            "video_codec",
            "audio_codec",
        ],
    ),
    (
        "resolution_changed",
        &["connection", "stream_id", "width", "height"],
    ),
    ("keyframe_wait", &["connection", "stream_id", "track"]),
    ("connection_lost", &["connection", "stream_id", "reason"]),
    ("connection_restored", &["connection", "stream_id"]),
    (
        "file_closed",
        &["connection", "path", "bytes", "finalized", "record"],
    ),
    ("guest_left", &["connection", "stream_id", "reason"]),
    ("error", &["connection", "message", "path"]),
    ("stopped", &["reason"]),
];

/// Parses every line both ways: into the schema types, and as JSON checked for the documented
/// fields (so a renamed field fails even if serde would accept it).
fn parse(text: &str) -> Vec<(EventLine, Value)> {
    text.lines()
        .map(|line| {
            let typed: EventLine =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let value: Value = serde_json::from_str(line).unwrap();
            assert_eq!(value["v"], EVENTS_VERSION, "{line}");
            assert!(value["seq"].is_u64() && value["time"].is_string(), "{line}");
            let kind = value["type"].as_str().expect("type");
            let fields = REQUIRED.iter().find(|(t, _)| *t == kind);
            let (_, fields) = fields.unwrap_or_else(|| panic!("undocumented type: {line}"));
            for f in *fields {
                assert!(value.get(f).is_some(), "{kind} without {f}: {line}");
            }
            (typed, value)
        })
        .collect()
}

fn check_seq(lines: &[(EventLine, Value)]) {
    let seqs: Vec<u64> = lines.iter().map(|l| l.0.seq).collect();
    assert_eq!(seqs, (1..=lines.len() as u64).collect::<Vec<_>>());
    assert!(matches!(
        lines.first().map(|l| &l.0.event),
        Some(Event::RecorderStarted { .. })
    ));
    assert!(matches!(
        lines.last().map(|l| &l.0.event),
        Some(Event::Stopped { .. })
    ));
}

#[test]
fn demo_events_follow_the_schema_the_order_and_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let rec = dir.path().join("rec");
    let out = Command::new(env!("CARGO_BIN_EXE_roomrec"))
        .args(["demo", "--seconds", "4", "--events"])
        .arg(&events)
        .arg("--output-dir")
        .arg(&rec)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed: {stderr}");
    assert!(out.stdout.is_empty(), "events went to the file only");
    let text = std::fs::read_to_string(&events).unwrap();
    let lines = parse(&text);
    check_seq(&lines);

    // Per connection, the index of each event type (first occurrence; file_closed: all).
    let mut seen: HashMap<u64, HashMap<&str, Vec<usize>>> = HashMap::new();
    for (i, (_, value)) in lines.iter().enumerate() {
        if let Some(c) = value["connection"].as_u64() {
            let kind = value["type"].as_str().unwrap();
            seen.entry(c).or_default().entry(kind).or_default().push(i);
        }
    }
    let recorded: Vec<u64> = seen
        .iter()
        .filter(|(_, kinds)| kinds.contains_key("recording_started"))
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(recorded.len(), 4, "four guests recorded:\n{text}");
    for c in &recorded {
        let kinds = &seen[c];
        let at = |k: &str| {
            kinds
                .get(k)
                .unwrap_or_else(|| panic!("#{c} has no {k}:\n{text}"))
        };
        let joined = at("guest_joined")[0];
        let started = at("recording_started");
        let closed = at("file_closed");
        let left = at("guest_left");
        assert_eq!((started.len(), closed.len(), left.len()), (1, 1, 1));
        assert!(joined < started[0] && started[0] < closed[0] && closed[0] < left[0]);
    }

    // One file_closed per media file on disk, with its path and size.
    let files = media_files(&rec, "demo_");
    assert_eq!(files.len(), 4, "{files:?}");
    let closed: HashMap<String, (u64, bool, Option<u64>)> = lines
        .iter()
        .filter_map(|(l, _)| match &l.event {
            Event::FileClosed {
                path,
                bytes,
                finalized,
                connection,
                ..
            } => Some((path.clone(), (*bytes, *finalized, *connection))),
            _ => None,
        })
        .collect();
    assert_eq!(closed.len(), files.len());
    for file in &files {
        let key = file.display().to_string();
        let (bytes, finalized, connection) = closed
            .get(&key)
            .unwrap_or_else(|| panic!("no file_closed for {key}:\n{text}"));
        assert_eq!(*bytes, std::fs::metadata(file).unwrap().len(), "{key}");
        assert!(finalized);
        // recording_started of the same connection names the codecs ffprobe finds.
        let (video, audio) = lines
            .iter()
            .find_map(|(l, _)| match &l.event {
                Event::RecordingStarted {
                    connection: c,
                    file: name,
                    video_codec,
                    audio_codec,
                    ..
                } if Some(*c) == *connection => {
                    assert!(Path::new(&key).ends_with(name), "{key} vs {name}");
                    Some((video_codec.clone(), audio_codec.clone()))
                }
                _ => None,
            })
            .expect("recording_started for the file's connection");
        let info = probe(file);
        assert_eq!(
            video.as_deref(),
            info.stream("video").map(|s| s.codec.as_str())
        );
        assert_eq!(
            audio.as_deref(),
            info.stream("audio").map(|s| s.codec.as_str())
        );
    }
}

fn recorder(server: &str, dir: &Path, extra: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_roomrec"))
        .args([
            "--room",
            "evtest",
            "--password",
            "false",
            "--server",
            server,
        ])
        .arg("--output-dir")
        .arg(dir)
        .args(extra)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start roomrec")
}

/// Reads stdout until the first line, then stops the recorder with SIGINT and returns the rest.
fn first_line_then_stop(mut child: std::process::Child) -> (String, String) {
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{status:?}\n{stderr}");
    (first + &rest, stderr)
}

#[test]
fn events_go_to_stdout_when_it_is_not_a_terminal() {
    // A server that accepts TCP but never answers the WebSocket handshake.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = format!("ws://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = first_line_then_stop(recorder(&server, dir.path(), &[]));
    let lines = parse(&stdout);
    check_seq(&lines);
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        stderr.contains("recording room"),
        "logs stay on stderr: {stderr}"
    );

    // --quiet: nothing on stdout (the recorder still runs and stops cleanly).
    let child = recorder(&server, dir.path(), &["--quiet"]);
    std::thread::sleep(Duration::from_millis(800));
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    drop(listener);
}
