//! A recording's own end and its per-file hook, end to end with real processes: `roomrec relay`,
//! synthetic publishers (`roomrec loadgen`) and the recorder. `--stop-when-empty` and
//! `--max-duration` end it with exit 0 and finalized files; `--on-file-closed` runs once per
//! file with its path and manifest record, and a failing command loses nothing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use roomrec_test_support::child::Child;
use roomrec_test_support::recordings::{check_one_recording, media_files};

const ROOM: &str = "lifecycle";

fn roomrec() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roomrec"));
    cmd.env_remove("RUST_LOG").stdin(Stdio::null());
    cmd
}

/// `roomrec relay` on a free port; returns it with its ws:// URL.
fn relay() -> (Child, String) {
    let mut cmd = roomrec();
    cmd.args(["relay", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut relay = Child::spawn(&mut cmd, "relay");
    let stderr = relay.std_mut().stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split("listening on ").nth(1).map(str::to_string))
        .expect("relay address");
    // Keep reading so the relay never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (relay, url)
}

/// The recorder with `extra` flags; its log goes to `dir/recorder.log`.
fn recorder(server: &str, dir: &Path, extra: &[&str]) -> Child {
    let log = std::fs::File::create(dir.join("recorder.log")).unwrap();
    let out = dir.join("rec");
    std::fs::create_dir_all(&out).unwrap();
    let mut cmd = roomrec();
    cmd.args(["--room", ROOM, "--server", server, "--password", "false"])
        .args(["--ice-ip", "127.0.0.1", "--record", "lc", "--output-dir"])
        .arg(&out)
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(log);
    Child::spawn(&mut cmd, "recorder")
}

/// Two publishers (H.264 and VP8, with Opus) for `seconds`.
fn publishers(server: &str, seconds: f64) -> Child {
    let mut cmd = roomrec();
    cmd.args([
        "loadgen",
        "--server",
        server,
        "--room",
        ROOM,
        "--password",
        "false",
    ])
    .args([
        "--publishers",
        "2",
        "--codecs",
        "h264,vp8",
        "--stream-prefix",
        "lg",
    ])
    .args(["--duration", &seconds.to_string()])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    Child::spawn(&mut cmd, "loadgen")
}

/// Waits for the recorder to end by itself; the bound only proves that it stops.
fn exits_by_itself(recorder: &mut Child, dir: &Path, limit: Duration) {
    let start = Instant::now();
    let log = || std::fs::read_to_string(dir.join("recorder.log")).unwrap_or_default();
    while start.elapsed() < limit {
        if let Some(status) = recorder.try_wait() {
            assert!(status.success(), "recorder failed: {status:?}\n{}", log());
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("recorder still running after {limit:?}\n{}", log());
}

fn check_files(dir: &Path, min_video: u64) -> Vec<PathBuf> {
    check_one_recording(dir, "lc_lg0000_", "h264", min_video, min_video);
    check_one_recording(dir, "lc_lg0001_", "vp8", min_video, min_video);
    let mut files = media_files(dir, "lc_lg");
    files.sort();
    files
}

fn lines(path: &Path) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

#[test]
fn stop_when_empty_ends_after_the_last_publisher_and_each_file_gets_its_hook() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, server) = relay();
    let hook =
        "printf '%s|%s|%s\\n' \"$ROOMREC_FILE\" \"$ROOMREC_STREAM_ID\" \"$ROOMREC_FINALIZED\" \
                >> closed.txt; printf '%s\\n' \"$ROOMREC_RECORD\" >> records.jsonl";
    let mut rec = recorder(
        &server,
        dir.path(),
        &["--stop-when-empty", "1", "--on-file-closed", hook],
    );
    // The recorder waits for its first guest, however long that takes.
    std::thread::sleep(Duration::from_secs(2));
    assert!(rec.try_wait().is_none(), "stopped before anyone came");
    let mut lg = publishers(&server, 4.0);
    assert!(lg.wait().success(), "loadgen failed");
    exits_by_itself(&mut rec, dir.path(), Duration::from_secs(30));
    let log = std::fs::read_to_string(dir.path().join("recorder.log")).unwrap();
    assert!(log.contains("--stop-when-empty"), "{log}");

    let files = check_files(&dir.path().join("rec"), 60);
    let expected: Vec<String> = files
        .iter()
        .zip(["lg0000", "lg0001"])
        .map(|(f, s)| format!("{}|{s}|true", f.display()))
        .collect();
    assert_eq!(lines(&dir.path().join("closed.txt")), expected, "{log}");
    for record in lines(&dir.path().join("records.jsonl")) {
        let record: serde_json::Value = serde_json::from_str(&record).unwrap();
        let file = record["file"].as_str().expect("record names its file");
        assert!(files.iter().any(|f| f.ends_with(file)), "{record}");
        assert_eq!(record["event"], "close", "{record}");
    }
}

#[test]
fn max_duration_ends_with_exit_0_and_a_failing_hook_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_relay, server) = relay();
    let hook = "echo \"$ROOMREC_FILE\" >> closed.txt; no-such-command-roomrec; exit 3";
    let mut rec = recorder(
        &server,
        dir.path(),
        &["--max-duration", "5s", "--on-file-closed", hook],
    );
    let _lg = publishers(&server, 60.0);
    exits_by_itself(&mut rec, dir.path(), Duration::from_secs(30));
    let log = std::fs::read_to_string(dir.path().join("recorder.log")).unwrap();
    assert!(log.contains("--max-duration"), "{log}");
    assert!(log.contains("--on-file-closed failed"), "{log}");

    let files = check_files(&dir.path().join("rec"), 45);
    let expected: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    assert_eq!(lines(&dir.path().join("closed.txt")), expected, "{log}");
}
