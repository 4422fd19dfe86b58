//! The recorder behind a 1:1 NAT (a cloud VM or a container with published ports), in the
//! simulation: its own address 10.0.0.2 is unreachable from outside, 203.0.113.10 forwards to it
//! port for port. With `--public-ip 203.0.113.10` the publisher learns the public address from the
//! answer and is recorded through it; without, it is not.

use std::net::IpAddr;
use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_tests::sim::net::{Firewall, Nat1to1};
use roomrec_tests::sim::{PublisherSpec, Sim, SimConfig};
use roomrec_tests::synthetic::{fixture_audio, fixture_video};

const PRIVATE: &str = "10.0.0.2";
const PUBLIC: &str = "203.0.113.10";
/// Where the simulation puts publishers.
const PUBLISHER: &str = "127.0.0.2";

/// Runs one publisher for 6 s against a recorder behind the NAT; the publisher sits behind a
/// firewall that lets in only answers to what it sent (a home router), and offers only its host
/// address (no STUN), so only a path it opens itself can work. Returns the simulation.
fn behind_nat(public_ips: Vec<IpAddr>) -> Sim {
    let mut config = SimConfig::new(Dialect::Relay, Password::Default, 71);
    config.recorder_ip = PRIVATE.parse().unwrap();
    config.public_ips = public_ips;
    let mut sim = Sim::new(config);
    sim.net.nat = Some(Nat1to1 {
        private: PRIVATE.parse().unwrap(),
        public: PUBLIC.parse().unwrap(),
    });
    sim.net.firewall = Some(Firewall::new(PUBLISHER.parse().unwrap()));
    sim.net.trace = Some(Vec::new());
    let video = fixture_video(Codec::Vp8, false).unwrap();
    let alice = sim.add_publisher(PublisherSpec::new(
        "alice",
        Some(video),
        Some(fixture_audio()),
    ));
    sim.recorder_connect();
    sim.publisher_join(alice);
    sim.run_for(Duration::from_secs(6));
    sim
}

/// Datagrams the publisher addressed to `ip`.
fn sent_to(sim: &Sim, ip: &str) -> usize {
    let (from, to) = (format!(" {PUBLISHER}:"), format!("->{ip}:"));
    let lines = sim.net.trace.as_ref().unwrap();
    lines
        .iter()
        .filter(|l| l.contains(&from) && l.contains(&to))
        .count()
}

#[test]
fn public_ip_is_announced_and_recorded_through() {
    let mut sim = behind_nat(vec![PUBLIC.parse().unwrap()]);
    let violations = sim.finish();
    assert!(violations.is_empty(), "{violations:#?}");
    let (video, audio) = sim.frame_counts("alice");
    assert!(
        video > 100 && audio > 200,
        "{video} video, {audio} audio frames"
    );
    assert!(sim.recorder.observer.media.frames_written > 300);
    assert!(
        sent_to(&sim, PUBLIC) > 100,
        "the publisher sends to the public address"
    );
}

/// The same without `--public-ip`: the publisher only knows 10.0.0.2, which the NAT hides, and its
/// firewall drops the recorder's checks: nothing connects (proves the test above can fail).
#[test]
fn without_public_ip_nothing_connects() {
    let mut sim = behind_nat(Vec::new());
    let violations = sim.finish();
    assert!(violations.is_empty(), "{violations:#?}");
    assert_eq!(sim.frame_counts("alice"), (0, 0));
    assert_eq!(sent_to(&sim, PUBLIC), 0);
    assert!(
        sent_to(&sim, PRIVATE) > 0,
        "the publisher tried the host candidate"
    );
}
