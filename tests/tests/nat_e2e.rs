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
//! inside `pub` (a tokio runtime each, `roomrec_tests::netroom`), the `roomrec` binary inside
//! `rec`.

use std::time::Duration;

use roomrec_test_support::netns::{Nat, Role, Topology, NAT_B_PUBLIC, PUB, REC, SERVER_1};
use roomrec_test_support::recordings::{check_one_recording, media_files};
use roomrec_tests::netroom::{publish_in, recorder_in, recorder_log, relay_in, STREAMS};

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
    let _relay = relay_in(topology, Role::Inet, SERVER_1);
    let publishers = publish_in(topology, Role::Pub, PUB, &STREAMS, PUBLISH);
    let mut args = vec!["--ice-ip".to_string(), REC.to_string()];
    if public_ip {
        args.extend(["--public-ip".into(), NAT_B_PUBLIC.to_string()]);
    } else {
        // Give up within the run, so the diagnosis is logged.
        args.extend(["--connect-timeout".into(), "4".into()]);
    }
    let mut recorder = recorder_in(topology, Role::Rec, dir.path(), "nat", &args);
    let published = publishers.join();
    recorder.terminate();
    if let Err(panic) = published {
        std::panic::resume_unwind(panic);
    }
    let log = recorder_log(dir.path());
    (dir, log)
}
