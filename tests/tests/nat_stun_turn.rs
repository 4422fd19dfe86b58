//! Guests and recorder behind real NATs (network namespaces this test creates, nftables NAT,
//! Debian's coturn as STUN and TURN server), recorded through STUN or TURN:
//!
//! ```text
//!                 inet 203.0.113.1/.2: relay, coturn (STUN + TURN udp/tcp/tls)
//!                  ┌──────────┴──────────┐
//!   nat_a 198.51.100.10                nat_b 192.0.2.10
//!        │                                  │
//!   pub 10.1.0.2: publishers           rec 10.2.0.2: roomrec
//!   (ask STUN for their mapping)
//! ```
//!
//! - cone/cone: both sides learn their mapping from STUN and punch through (srflx pairs), also
//!   with every guest on one shared `--udp-port`; with `--stun false` the same setup records
//!   nothing and the log says why.
//! - symmetric/symmetric: a new mapping per destination defeats STUN; only TURN connects — over
//!   UDP, TCP and TLS (coturn's self-signed certificate trusted with `--turn-ca`).
//! - The TURN server going away mid-recording finalizes the file; refused credentials are
//!   reported in words.
//!
//! The relay and publishers run as threads of this test inside their namespaces, the recorder as
//! the `roomrec` binary (`roomrec_tests::netroom`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use roomrec_test_support::coturn::{stun_url, turn_url, turns_url, Coturn, PORT};
use roomrec_test_support::ffmpeg::decode_errors;
use roomrec_test_support::netns::{Nat, Role, Topology, PUB, REC, SERVER_1, SERVER_2};
use roomrec_test_support::recordings::{check_one_recording, media_files};
use roomrec_tests::netroom::{publish_with_stun_in, recorder_in, recorder_log, relay_in, STREAMS};

const PUBLISH: Duration = Duration::from_secs(8);

/// coturn as deployed on the internet: it relays to public addresses only. (Relaying to the
/// publishers' unroutable 10.1.0.2 makes coturn 4.6 drop the whole relay socket after the first
/// send error, which would hide what this test is about.)
fn public_turn_server(topology: &Topology) -> Coturn {
    Coturn::start_with(
        topology,
        &[
            "198.51.100.0-198.51.100.255",
            "192.0.2.0-192.0.2.255",
            "203.0.113.0-203.0.113.255",
        ],
        &["--denied-peer-ip=10.0.0.0-10.255.255.255"],
    )
}

/// One recording: relay in `inet`, publishers (with STUN) in `pub`, the recorder in `rec` with
/// `args`. Returns the output directory and the recorder's log.
fn record(topology: &Topology, args: &[String], publish: Duration) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let _relay = relay_in(topology, Role::Inet, SERVER_1);
    let stun = SocketAddr::new(SERVER_1.into(), PORT);
    let publishers = publish_with_stun_in(topology, Role::Pub, PUB, &STREAMS, publish, Some(stun));
    let mut all = vec!["--ice-ip".to_string(), REC.to_string()];
    all.extend(args.iter().cloned());
    let mut recorder = recorder_in(topology, Role::Rec, dir.path(), "nat", &all);
    let published = publishers.join();
    recorder.terminate();
    if let Err(panic) = published {
        std::panic::resume_unwind(panic);
    }
    let log = recorder_log(dir.path());
    for line in log.lines().filter(|l| l.contains("candidate pair")) {
        eprintln!("{line}");
    }
    for (stream, _) in STREAMS {
        if let Some(ms) = offer_to_file_ms(&log, stream) {
            eprintln!("{stream}: offer -> file with its first frame: {ms:.0} ms");
        }
    }
    (dir, log)
}

/// From the log's timestamps: the first offer of `stream` to its first recording (the file is
/// opened with the first keyframe, so its first frame is on disk then).
fn offer_to_file_ms(log: &str, stream: &str) -> Option<f64> {
    let seconds = |line: &str| -> Option<f64> {
        let time = line.split_whitespace().next()?.split('T').nth(1)?;
        let mut parts = time.trim_end_matches('Z').split(':');
        let h: f64 = parts.next()?.parse().ok()?;
        let m: f64 = parts.next()?.parse().ok()?;
        let s: f64 = parts.next()?.parse().ok()?;
        Some((h * 60.0 + m) * 60.0 + s)
    };
    let first = |needle: &str| log.lines().find(|l| l.contains(needle)).and_then(seconds);
    let stream_field = format!("stream={stream}");
    let offer = log
        .lines()
        .find(|l| l.contains("offer received") && l.contains(&stream_field))
        .and_then(seconds)?;
    let file = first(&format!("recording started file=nat_{stream}_"))?;
    Some((file - offer) * 1000.0)
}

fn check_both_recorded(dir: &std::path::Path, how: &str, log: &str) {
    let files = media_files(dir, "nat_");
    eprintln!("{how}: {files:?}");
    if files.len() != 2 {
        eprintln!("{how}: the recorder's log:\n{log}");
    }
    for (stream, codec) in [("alice", "h264"), ("bob", "vp8")] {
        check_one_recording(dir, &format!("nat_{stream}_"), codec, 90, 150);
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// `roomrec check-network` run in `rec` against both STUN servers (and the TURN server).
fn check_network(topology: &Topology, turn: &str) -> String {
    let out = topology
        .exec(Role::Rec, roomrec_test_support::binary::roomrec_bin())
        .args(["check-network", "--ice-ip", &REC.to_string()])
        .args(["--stun", &stun_url(SERVER_1), "--stun", &stun_url(SERVER_2)])
        .args(["--turn", turn])
        .output()
        .expect("run roomrec check-network");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "check-network failed: {text}");
    eprintln!("check-network:\n{text}");
    text
}

#[test]
fn cone_nats_are_crossed_with_stun() {
    let Some(topology) = Topology::create(Nat::Cone, Nat::Cone) else {
        return;
    };
    let _coturn = Coturn::start(&topology);
    let report = check_network(&topology, &turn_url("udp"));
    assert!(report.contains("sees 192.0.2.10:"), "{report}");
    assert!(report.contains("STUN is enough"), "{report}");
    assert!(report.contains("allocated 203.0.113.1:"), "{report}");
    let stun = stun_url(SERVER_1);
    let (dir, log) = record(&topology, &args(&["--stun", &stun]), PUBLISH);
    check_both_recorded(dir.path(), "cone/cone with --stun", &log);
    // The pair that carried the media is the publisher's server-reflexive address (its NAT).
    assert!(
        log.contains("the publisher's srflx 198.51.100.10:"),
        "no srflx pair:\n{log}"
    );

    // The same with every guest on one shared UDP port: each connection's STUN answers come
    // back on that port and reach the connection that asked (core's Demux).
    let shared = args(&["--stun", &stun, "--udp-port", "40000"]);
    let (dir, log) = record(&topology, &shared, PUBLISH);
    check_both_recorded(dir.path(), "cone/cone with --stun --udp-port", &log);
    assert!(
        log.contains("the publisher's srflx 198.51.100.10:"),
        "no srflx pair:\n{log}"
    );

    // Without STUN the recorder only offers 10.2.0.2: nothing connects, and the log says why.
    let quick = args(&["--stun", "false", "--connect-timeout", "4"]);
    let (dir, log) = record(&topology, &quick, Duration::from_secs(7));
    let files = media_files(dir.path(), "nat_");
    assert!(files.is_empty(), "recorded without STUN: {files:?}");
    assert!(
        log.contains("you are probably behind NAT") && log.contains("--stun or --turn"),
        "no diagnosis in the log:\n{log}"
    );
}

#[test]
fn symmetric_nats_are_crossed_only_with_turn() {
    let Some(topology) = Topology::create(Nat::Symmetric, Nat::Symmetric) else {
        return;
    };
    let coturn = public_turn_server(&topology);
    let ca = coturn.ca_path().display().to_string();
    let report = check_network(&topology, &turn_url("tcp"));
    assert!(
        report.contains("symmetric): guests behind NAT need --turn"),
        "{report}"
    );
    assert!(report.contains("allocated 203.0.113.1:"), "{report}");
    let stun = stun_url(SERVER_1);
    // STUN alone does not help: each destination sees another mapping.
    let quick = args(&["--stun", &stun, "--connect-timeout", "4"]);
    let (dir, log) = record(&topology, &quick, Duration::from_secs(7));
    assert!(
        media_files(dir.path(), "nat_").is_empty(),
        "recorded via STUN"
    );
    assert!(log.contains("try --turn"), "no hint in the log:\n{log}");

    for (how, url) in [
        ("TURN over UDP", turn_url("udp")),
        ("TURN over TCP", turn_url("tcp")),
        ("TURN over TLS", turns_url()),
    ] {
        let flags = args(&["--stun", &stun, "--turn", &url, "--turn-ca", &ca]);
        let (dir, log) = record(&topology, &flags, PUBLISH);
        check_both_recorded(dir.path(), how, &log);
        assert!(
            log.contains("candidate pair: ours relay 203.0.113.1:"),
            "{how}: media did not go through the relay:\n{log}"
        );
    }
}

#[test]
fn turn_going_away_and_refused_credentials() {
    let Some(topology) = Topology::create(Nat::Symmetric, Nat::Symmetric) else {
        return;
    };
    let mut coturn = public_turn_server(&topology);
    // Wrong password: the allocation is refused, and the log says so.
    let wrong = turn_url("udp").replace(":secret@", ":wrong@");
    let quick = args(&["--turn", &wrong, "--connect-timeout", "4"]);
    let (dir, log) = record(&topology, &quick, Duration::from_secs(7));
    assert!(media_files(dir.path(), "nat_").is_empty());
    assert!(
        log.contains("allocation refused: 401"),
        "no TURN error in the log:\n{log}"
    );

    // The TURN server stops mid-recording: ICE notices (str0m's checks go unanswered), and the
    // files are finalized with what came before.
    let dir = tempfile::tempdir().unwrap();
    let _relay = relay_in(&topology, Role::Inet, SERVER_1);
    let stun = SocketAddr::new(SERVER_2.into(), PORT);
    let publishers = publish_with_stun_in(
        &topology,
        Role::Pub,
        PUB,
        &STREAMS,
        Duration::from_secs(8),
        Some(stun),
    );
    let flags = args(&[
        "--ice-ip",
        REC.to_string().as_str(),
        "--turn",
        &turn_url("udp"),
    ]);
    let mut recorder = recorder_in(&topology, Role::Rec, dir.path(), "nat", &flags);
    std::thread::sleep(Duration::from_secs(5));
    coturn.stop();
    let published = publishers.join();
    let deadline = Instant::now() + Duration::from_secs(60);
    let ended = |log: &str| log.matches("connection closed: ICE disconnected").count() >= 2;
    while !ended(&recorder_log(dir.path())) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    let log = recorder_log(dir.path());
    assert!(
        ended(&log),
        "the connections did not end when TURN went away:\n{log}"
    );
    assert!(
        recorder.try_wait().is_none(),
        "the recorder exited when TURN went away"
    );
    recorder.terminate();
    if let Err(panic) = published {
        std::panic::resume_unwind(panic);
    }
    for stream in ["alice", "bob"] {
        let files = media_files(dir.path(), &format!("nat_{stream}_"));
        assert!(
            !files.is_empty(),
            "{stream}: nothing recorded before TURN went away"
        );
        for file in files {
            assert_eq!(decode_errors(&file), "", "{stream}: {}", file.display());
        }
    }
}
