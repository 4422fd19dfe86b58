//! The `roomrec` binary's argument handling: clear errors for bad arguments, every flag in --help.
//! (Nothing here reaches the network: every case fails before connecting.)

use std::process::{Command, Output};

fn roomrec(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_roomrec"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("cannot run roomrec")
}

/// Exits with 2 (usage error) and says `needle` on stderr.
fn fails_with(args: &[&str], needle: &str) {
    let out = roomrec(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}:\n{stderr}");
    assert!(
        stderr.contains(needle),
        "{args:?}: stderr does not mention {needle:?}:\n{stderr}"
    );
}

#[test]
fn help_lists_every_flag() {
    let out = roomrec(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--room",
        "--record ",
        "--record-room",
        "--server",
        "--password",
        "--salt",
        "--record-streams",
        "--noaudio",
        "--novideo",
        "--codec",
        "--output-dir",
        "--ice-ip",
        "--dialect",
        "--verbose",
        "relay",
    ] {
        assert!(
            help.contains(flag),
            "--help does not mention {flag}:\n{help}"
        );
    }
    assert!(
        help.contains("wss://wss.vdo.ninja:443"),
        "default server not shown"
    );
    assert!(!help.contains("--streamid"));
    let out = roomrec(&["relay", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && help.contains("--listen") && help.contains("--dialect"),
        "{help}"
    );
}

#[test]
fn unknown_codec_is_a_clear_error() {
    fails_with(
        &["--room", "r", "--codec", "h264,bogus"],
        "unknown codec \"bogus\"",
    );
    fails_with(&["--room", "r", "--codec", "opus"], "audio codec");
    fails_with(&["--room", "r", "--codec", "opus"], "--codec");
}

#[test]
fn room_is_required_and_not_empty() {
    fails_with(&[], "--room");
    fails_with(&["--room", "  "], "must not be empty");
    fails_with(&["--room", "  "], "--room");
}

#[test]
fn server_url_scheme_is_checked() {
    fails_with(
        &["--room", "r", "--server", "https://vdo.ninja"],
        "not ws or wss",
    );
    fails_with(&["--room", "r", "--server", "wss.vdo.ninja"], "--server");
}

#[test]
fn output_dir_must_exist_and_be_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    fails_with(
        &["--room", "r", "--output-dir", missing.to_str().unwrap()],
        "does not exist",
    );
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    fails_with(
        &["--room", "r", "--output-dir", file.to_str().unwrap()],
        "not a directory",
    );
    // Nothing was left behind by the writability probe.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn output_dir_must_be_writable() {
    // Root ignores permission bits, so use a directory nobody can create files in.
    let probe = std::path::Path::new("/proc/self");
    if std::fs::File::create(probe.join("roomrec-probe")).is_ok() {
        eprintln!("/proc/self is writable here; skipping");
        return;
    }
    fails_with(
        &["--room", "r", "--output-dir", "/proc/self"],
        "not writable",
    );
}

#[test]
fn other_bad_arguments() {
    fails_with(
        &["--room", "r", "--ice-ip", "0.0.0.0"],
        "--ice-ip: 0.0.0.0 is not a concrete unicast address",
    );
    fails_with(&["--room", "r", "--ice-ip", "nope"], "not an IP address");
    fails_with(
        &["--room", "r", "--public-ip", "127.0.0.1"],
        "--public-ip: 127.0.0.1 cannot be a public address",
    );
    fails_with(&["--room", "r", "--public-ip", "nope"], "not an IP address");
    fails_with(
        &["--room", "r", "--noaudio", "--novideo"],
        "nothing to record",
    );
    fails_with(&["--room", "r", "--dialect", "klingon"], "--dialect");
    fails_with(
        &["--room", "r", "--record-streams", " , "],
        "--record-streams: the stream list names no stream id",
    );
    fails_with(&["--room", "r", "--streamid", "x"], "--streamid");
    fails_with(
        &["--room", "r", "relay", "--listen", "127.0.0.1:1"],
        "relay",
    );
}

#[test]
fn compatibility_flags_are_accepted() {
    // Parsing reaches the codec check, so --record-room and a bare --password were accepted.
    fails_with(
        &[
            "--room",
            "r",
            "--record-room",
            "--password",
            "--codec",
            "bogus",
        ],
        "unknown codec",
    );
}

#[test]
fn relay_subcommand_rejects_bad_listen_addresses() {
    fails_with(&["relay", "--listen", "nowhere"], "--listen");
}

#[test]
fn relay_limits_must_be_positive() {
    for flag in [
        "--msg-rate",
        "--max-connections",
        "--join-timeout",
        "--max-queued-bytes",
    ] {
        fails_with(
            &["relay", "--listen", "127.0.0.1:0", flag, "0"],
            "must be greater than 0",
        );
    }
}

#[test]
fn relay_subcommand_serves_websocket_clients() {
    // Pick a free port, then let the relay bind it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_roomrec"))
        .args(["relay", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut connected = None;
    for _ in 0..100 {
        if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            connected = Some(stream);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut stream = connected.expect("relay accepts TCP connections");
    use std::io::{Read, Write};
    let request = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = [0u8; 256];
    let n = stream.read(&mut reply).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(
        reply.starts_with("HTTP/1.1 101"),
        "WebSocket upgrade answered: {reply}"
    );
}

#[test]
fn errors_after_parsing_are_reported_by_main_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("missing/trace.jsonl");
    let out = roomrec(&[
        "--room",
        "r",
        "--output-dir",
        dir.path().to_str().unwrap(),
        "--trace-signaling",
        trace.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("roomrec: error: signaling trace"),
        "{stderr}"
    );
}

#[test]
fn view_is_a_room_alternative_and_conflicts_with_room() {
    fails_with(&["--view", "s", "--room", "r"], "cannot be used with");
    fails_with(&["--view", "s", "--room", "r"], "--view");
    fails_with(&["--view", "s", "--record-streams", "a"], "--view");
    fails_with(&["--view", " "], "the stream id must not be empty");
    let out = roomrec(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--view <STREAMID>"), "{help}");
}
