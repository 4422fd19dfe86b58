//! Real networks, in network namespaces this test creates and connects only to each other
//! (`roomrec_test_support::netns`): the recorder behind a 1:1 NAT (a cloud VM: its public address
//! DNATs to its private one), the publishers behind a home router.
//!
//! ```text
//!                     inet 203.0.113.1: relay
//!                  ┌──────────┴──────────┐
//!   nat_a 198.51.100.10               nat_b 192.0.2.10
//!   cone NAT (masquerade):            1:1 NAT: DNAT 192.0.2.10 → 10.2.0.2,
//!   only replies get in                        SNAT 10.2.0.2 → 192.0.2.10
//!        │                                     │
//!   pub 10.1.0.2: publishers          rec 10.2.0.2: roomrec --public-ip 192.0.2.10
//! ```
//!
//! The publishers' router only lets in UDP that answers what they sent (port-restricted), and
//! nobody routes to 10.x, so the recorder is reachable only at an address the publishers send to
//! first: with `--public-ip` they learn 192.0.2.10 from the answer and are recorded; without it
//! nothing connects. The relay runs in a thread of this test inside `inet`, the publishers in one
//! inside `pub` (a tokio runtime each), the `roomrec` binary inside `rec`.

use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_io_tokio::demo::{publisher_config, spawn_publisher};
use roomrec_io_tokio::relay::spawn_relay;
use roomrec_test_support::binary::roomrec_bin;
use roomrec_test_support::child::Child;
use roomrec_test_support::netns::{Nat, Role, Topology, NAT_B_PUBLIC, PUB, REC, SERVER_1};
use roomrec_test_support::recordings::{check_one_recording, media_files};

const RELAY_PORT: u16 = 8443;
/// How long the publishers publish.
const PUBLISH: Duration = Duration::from_secs(8);

#[test]
fn recorder_behind_one_to_one_nat() {
    let Some(topology) = Topology::create(Nat::Cone, Nat::OneToOne) else {
        return;
    };
    let (recorded, _) = record(&topology, true);
    let streams = [("alice", "h264"), ("bob", "vp8")];
    for (stream, codec) in streams {
        check_one_recording(recorded.path(), &format!("nat_{stream}_"), codec, 90, 150);
    }
    // The same without --public-ip: the publishers only learn 10.2.0.2, which the NAT hides. The
    // log says why, in words a user can act on.
    let (unrecorded, log) = record(&topology, false);
    let files = media_files(unrecorded.path(), "nat_");
    assert!(files.is_empty(), "recorded without --public-ip: {files:?}");
    let diagnosis =
        format!("not connected after 4s: no candidate pair succeeded (we offered host {REC}:");
    assert!(log.contains(&diagnosis), "no diagnosis in the log:\n{log}");
    assert!(log.contains("--public-ip"), "no hint in the log:\n{log}");
    for line in log.lines().filter(|l| l.contains("not connected")) {
        eprintln!("diagnosis: {line}");
    }
}

/// One run: the relay in `inet`, the publishers in `pub`, the recorder in `rec`; returns its
/// output directory and its log.
fn record(topology: &Topology, public_ip: bool) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    // Dropping `stop` (also when this test panics) ends the relay.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready, relay_ready) = mpsc::channel();
    let relay = topology.spawn_in(Role::Inet, move || relay(ready, stopped));
    relay_ready
        .recv_timeout(Duration::from_secs(10))
        .expect("the relay in the inet namespace did not start");
    let publishers = topology.spawn_in(Role::Pub, publishers);
    let mut args = vec![
        "--room".to_string(),
        "roomrec-demo".into(),
        "--record".into(),
        "nat".into(),
        "--server".into(),
        format!("ws://{SERVER_1}:{RELAY_PORT}"),
        "--dialect".into(),
        "relay".into(),
        "--password".into(),
        "false".into(),
        "--ice-ip".into(),
        REC.to_string(),
        "--output-dir".into(),
        dir.path().display().to_string(),
    ];
    if public_ip {
        args.extend(["--public-ip".into(), NAT_B_PUBLIC.to_string()]);
    } else {
        // Give up within the run, so the diagnosis is logged.
        args.extend(["--connect-timeout".into(), "4".into()]);
    }
    let log_path = dir.path().join("recorder.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut recorder = Child::spawn(
        topology
            .exec(Role::Rec, roomrec_bin())
            .args(&args)
            .stdin(Stdio::null())
            .stderr(log),
        "roomrec in the rec namespace",
    );
    let published = publishers.join();
    recorder.terminate();
    drop(stop);
    let _ = relay.join();
    if let Err(panic) = published {
        std::panic::resume_unwind(panic);
    }
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    (dir, log)
}

/// Inside `inet`: the relay, until `stop` is sent or dropped.
fn relay(ready: mpsc::Sender<()>, stop: tokio::sync::oneshot::Receiver<()>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (_, relay) = spawn_relay(SocketAddr::new(SERVER_1.into(), RELAY_PORT), Dialect::Relay)
            .await
            .expect("relay listens");
        ready.send(()).unwrap();
        let _ = stop.await;
        relay.abort();
    });
}

/// Inside `pub`: two publishers, for `PUBLISH`.
fn publishers() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = format!("ws://{SERVER_1}:{RELAY_PORT}");
        let mut running = Vec::new();
        for (stream, codec) in [("alice", Codec::H264), ("bob", Codec::Vp8)] {
            let config = publisher_config(
                stream,
                Some(codec),
                true,
                Dialect::Relay,
                &Password::Disabled,
            );
            running.push(
                spawn_publisher(&server, IpAddr::V4(PUB), config)
                    .await
                    .expect("publisher"),
            );
        }
        tokio::time::sleep(PUBLISH).await;
        for p in running {
            p.hang_up().await;
        }
    });
}
