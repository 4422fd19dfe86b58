//! `--http` end to end: `roomrec demo --http` as a process, asked over real TCP on 127.0.0.1.
//! The token is enforced, `/metrics` parses as Prometheus text with an independent parser, each
//! stream's bytes-written counter equals its file's size on disk once the recording stopped,
//! `/thumbnail` serves a decodable keyframe, and `POST /stop` finalizes the files and exits 0.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use roomrec_test_support::binary::roomrec_bin;
use roomrec_test_support::recordings::check_one_recording;
use roomrec_tests::status_http::{request, subscribe_events, Demo};
use serde_json::Value;

const TOKEN: &str = "s3cret+token";
const BEARER: &str = "Bearer s3cret+token";
const STREAMS: [(&str, &str); 4] = [
    ("alice", "h264"),
    ("bob", "vp8"),
    ("carol", "vp9"),
    ("dave", "av1"),
];

fn status(demo: &Demo) -> Value {
    let r = request(demo.addr, "GET", "/status", &[("Authorization", BEARER)]);
    assert_eq!(r.status, 200, "{}", r.text());
    serde_json::from_slice(&r.body).expect("/status is JSON")
}

/// Samples of one metric family by `(stream_id, connection)`.
fn samples(text: &str, name: &str) -> BTreeMap<(String, u64), f64> {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape =
        prometheus_parse::Scrape::parse(lines).expect("/metrics parses as Prometheus text");
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .map(|s| {
            let value = match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                ref other => panic!("{name}: unexpected {other:?}"),
            };
            let stream = s.labels.get("stream_id").unwrap_or("").to_string();
            let connection = s.labels.get("connection").unwrap_or("0").parse().unwrap();
            ((stream, connection), value)
        })
        .collect()
}

fn metrics(demo: &Demo) -> String {
    let r = request(demo.addr, "GET", "/metrics", &[("Authorization", BEARER)]);
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

#[test]
fn status_metrics_token_thumbnail_and_stop() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Long enough that only POST /stop ends it.
    let demo = Demo::start(dir.path(), 120, &["--http-token", TOKEN]);

    // The token: nothing without it, a wrong one, or a misspelt header; both ways with it.
    for (path, headers) in [
        ("/status", vec![]),
        ("/metrics", vec![("Authorization", "Bearer wrong")]),
        ("/", vec![("Authorization", "s3cret+token")]),
        ("/status?token=wrong", vec![]),
    ] {
        let r = request(demo.addr, "GET", path, &headers);
        assert_eq!(r.status, 401, "{path} {headers:?}: {}", r.text());
    }
    let r = request(demo.addr, "POST", "/stop", &[]);
    assert_eq!(r.status, 401, "POST /stop without the token");
    let page = request(demo.addr, "GET", "/?token=s3cret%2Btoken", &[]);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("VideoDecoder"), "the page");

    // Every guest recording, with bytes in its file and a keyframe for its thumbnail.
    let deadline = Instant::now() + Duration::from_secs(30);
    let guests = loop {
        let snap = status(&demo);
        let guests = snap["guests"].as_array().cloned().unwrap_or_default();
        let ready = guests.len() == 4
            && guests.iter().all(|g| {
                g["state"] == "recording"
                    && g["audio_level_dbov"].is_i64()
                    && request(
                        demo.addr,
                        "GET",
                        &format!("/thumbnail/{}", g["connection"]),
                        &[("Authorization", BEARER)],
                    )
                    .status
                        == 200
            });
        if ready {
            break guests;
        }
        assert!(
            Instant::now() < deadline,
            "guests never all recorded: {snap}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let connection_of: BTreeMap<String, u64> = guests
        .iter()
        .map(|g| {
            let id = g["stream_id"].as_str().unwrap().to_string();
            (id, g["connection"].as_u64().unwrap())
        })
        .collect();

    // Thumbnails are the codec's keyframe as recorded.
    for (stream, codec) in STREAMS {
        let c = connection_of[stream];
        let r = request(
            demo.addr,
            "GET",
            &format!("/thumbnail/{c}?token={TOKEN}").replace('+', "%2B"),
            &[],
        );
        assert_eq!(r.status, 200, "{stream}");
        assert_eq!(r.header("x-codec"), Some(codec), "{stream}");
        assert!(r.body.len() > 100, "{stream}: {} bytes", r.body.len());
        let width: u16 = r.header("x-width").unwrap().parse().unwrap();
        let height: u16 = r.header("x-height").unwrap().parse().unwrap();
        assert!(width > 0 && height > 0, "{stream}: {width}x{height}");
        let thumb = dir.path().join(format!("thumb-{stream}"));
        std::fs::write(&thumb, &r.body).unwrap();
        assert_decodes(&thumb, codec, stream, (width, height));
    }

    // Live: parses, names every stream with its connection, one file each so far.
    let live = metrics(&demo);
    let files = samples(&live, "roomrec_stream_files_total");
    let written = samples(&live, "roomrec_stream_written_bytes_total");
    for (stream, _) in STREAMS {
        let key = (stream.to_string(), connection_of[stream]);
        assert_eq!(files.get(&key), Some(&1.0), "{key:?} in {live}");
        assert!(written.contains_key(&key), "{key:?} in {live}");
    }
    let open = samples(&live, "roomrec_open_connections");
    assert_eq!(
        open.values().copied().collect::<Vec<_>>(),
        vec![4.0],
        "{live}"
    );
    assert!(
        samples(&live, "process_cpu_seconds_total")
            .values()
            .all(|v| *v > 0.0),
        "{live}"
    );
    assert!(!samples(&live, "process_resident_memory_bytes").is_empty());

    // Stop over HTTP while watching the events; the server answers until we let go.
    let (events_socket, events) = subscribe_events(
        demo.addr,
        &format!("/events?token={TOKEN}").replace('+', "%2B"),
    );
    let r = request(demo.addr, "POST", "/stop", &[("Authorization", BEARER)]);
    assert_eq!(r.status, 202, "{}", r.text());
    let mut closed: BTreeMap<u64, (PathBuf, u64)> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = events
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("a `stopped` event after POST /stop");
        let event: Value = serde_json::from_str(&line).expect("event JSON");
        match event["type"].as_str() {
            Some("file_closed") => {
                let c = event["connection"]
                    .as_u64()
                    .expect("file_closed has a connection");
                let path = PathBuf::from(event["path"].as_str().unwrap());
                closed.insert(c, (path, event["bytes"].as_u64().unwrap()));
            }
            Some("stopped") => {
                assert_eq!(event["reason"], "shutdown", "{event}");
                break;
            }
            _ => {}
        }
    }
    let last = metrics(&demo);
    drop(events_socket);

    // The counter is the file's size on disk, read independently.
    let written = samples(&last, "roomrec_stream_written_bytes_total");
    let files = samples(&last, "roomrec_stream_files_total");
    for (stream, _) in STREAMS {
        let c = connection_of[stream];
        let (path, bytes) = closed
            .get(&c)
            .unwrap_or_else(|| panic!("{stream}: no file_closed"));
        let on_disk = std::fs::metadata(path).expect("the closed file").len();
        assert_eq!(*bytes, on_disk, "{stream}: file_closed bytes");
        let counter = written[&(stream.to_string(), c)];
        assert_eq!(
            counter, on_disk as f64,
            "{stream}: bytes-written counter vs {path:?}"
        );
        assert_eq!(files[&(stream.to_string(), c)], 1.0, "{stream}: files");
    }

    let (exit, log) = demo.wait(Duration::from_secs(20));
    assert!(exit.success(), "exit {exit}:\n{}", log.join("\n"));
    for (stream, codec) in STREAMS {
        check_one_recording(dir.path(), &format!("demo_{stream}_"), codec, 10, 20);
    }
}

/// ffmpeg decodes the keyframe on its own (no earlier frame): it is a real keyframe.
fn assert_decodes(path: &std::path::Path, codec: &str, stream: &str, size: (u16, u16)) {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-nostdin"]);
    match codec {
        "h264" => cmd.args(["-f", "h264"]),
        // VP8/VP9/AV1 keyframes are raw frames: wrap them in IVF through the matching parser.
        "vp8" | "vp9" | "av1" => return assert_ivf_decodes(path, codec, stream, size),
        _ => unreachable!(),
    };
    let out = cmd
        .arg("-i")
        .arg(path)
        .args(["-frames:v", "1", "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{stream}: ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A one-frame IVF file around the raw keyframe, decoded by ffmpeg.
fn assert_ivf_decodes(path: &std::path::Path, codec: &str, stream: &str, size: (u16, u16)) {
    let frame = std::fs::read(path).unwrap();
    let fourcc: &[u8; 4] = match codec {
        "vp8" => b"VP80",
        "vp9" => b"VP90",
        _ => b"AV01",
    };
    let mut ivf = Vec::new();
    ivf.extend_from_slice(b"DKIF");
    ivf.extend_from_slice(&0u16.to_le_bytes());
    ivf.extend_from_slice(&32u16.to_le_bytes());
    ivf.extend_from_slice(fourcc);
    ivf.extend_from_slice(&size.0.to_le_bytes());
    ivf.extend_from_slice(&size.1.to_le_bytes());
    ivf.extend_from_slice(&30u32.to_le_bytes());
    ivf.extend_from_slice(&1u32.to_le_bytes());
    ivf.extend_from_slice(&1u32.to_le_bytes());
    ivf.extend_from_slice(&0u32.to_le_bytes());
    ivf.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    ivf.extend_from_slice(&0u64.to_le_bytes());
    ivf.extend_from_slice(&frame);
    let ivf_path = path.with_extension("ivf");
    std::fs::write(&ivf_path, ivf).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(&ivf_path)
        .args(["-frames:v", "1", "-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{stream}: ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A non-loopback `--http` without a token is a usage error that says what to do.
#[test]
fn non_loopback_http_needs_a_token() {
    let out = Command::new(roomrec_bin())
        .args(["--room", "r", "--http", "0.0.0.0:0"])
        .output()
        .expect("run roomrec");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--http-token"), "{err}");
    let out = Command::new(roomrec_bin())
        .args(["demo", "--http", "0.0.0.0:0"])
        .output()
        .expect("run roomrec demo");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = Command::new(roomrec_bin())
        .args(["--room", "r", "--http-token", "x"])
        .output()
        .expect("run roomrec");
    assert_eq!(
        out.status.code(),
        Some(2),
        "--http-token without --http: {out:?}"
    );
}
