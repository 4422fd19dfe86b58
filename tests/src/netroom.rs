//! A room on real networks (`roomrec_test_support::netns`): the relay and the demo publishers run
//! as threads of the test inside namespaces (a tokio runtime each), the recorder as the `roomrec`
//! binary inside another, so end-to-end tests over NATs, STUN and TURN share one setup.
//!
//! ```text
//!  inet 203.0.113.1:8443  relay_in(&topology, Role::Inet)
//!  pub  10.1.0.2          publish_in(&topology, Role::Pub, PUB, …)  (behind NAT A)
//!  rec  10.2.0.2          recorder_in(&topology, Role::Rec, …)      (behind NAT B)
//! ```
//!
//! The demo publishers have no STUN or TURN: they offer only their host address. Which topology
//! shows what (the recorder always behind NAT B):
//!
//! | NAT A (publishers)                          | NAT B (recorder) | connects with             |
//! |---------------------------------------------|------------------|---------------------------|
//! | `Cone` (10.1.0.2 unreachable)                | `OneToOne`       | `--public-ip` only        |
//! | `Open` + `udp_replies_only(Role::Pub)`       | `Cone`           | STUN (srflx = the port it |
//! |                                              |                  | uses toward 10.1.0.2)     |
//! | `Open` + `udp_replies_only(Role::Pub)`       | `Symmetric`      | TURN only (coturn relays  |
//! |                                              |                  | to 10.1.0.2)              |
//!
//! With `Open` and no host firewall the recorder's own checks reach the publishers and anything
//! connects (peer-reflexive), so it proves nothing about STUN or TURN.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_io_tokio::demo::{publisher_config, spawn_publisher, spawn_publisher_with_stun};
use roomrec_io_tokio::relay::spawn_relay;
use roomrec_test_support::binary::roomrec_bin;
use roomrec_test_support::child::Child;
use roomrec_test_support::netns::{Role, Topology, SERVER_1};

/// The relay's port on [`SERVER_1`].
pub const RELAY_PORT: u16 = 8443;
/// The room the demo publishers join (`--room` for the recorder).
pub const ROOM: &str = "roomrec-demo";
/// The two demo streams: H.264 and VP8, each with Opus.
pub const STREAMS: [(&str, Codec); 2] = [("alice", Codec::H264), ("bob", Codec::Vp8)];

/// `ws://203.0.113.1:8443`, the relay's URL (`--server`).
pub fn relay_url() -> String {
    format!("ws://{SERVER_1}:{RELAY_PORT}")
}

/// The relay (plain `relay` dialect, no password) in a thread inside a namespace; stopped when
/// dropped (also when the test panics).
pub struct Relay {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the relay at `ip:RELAY_PORT` inside `role` (usually `Role::Inet`, [`SERVER_1`]) and
/// waits until it listens.
pub fn relay_in(topology: &Topology, role: Role, ip: Ipv4Addr) -> Relay {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (ready, relay_ready) = mpsc::channel();
    let thread = topology.spawn_in(role, move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let addr = SocketAddr::new(ip.into(), RELAY_PORT);
            let (_, relay) = spawn_relay(addr, Dialect::Relay)
                .await
                .expect("relay listens");
            ready.send(()).unwrap();
            let _ = stopped.await;
            relay.abort();
        });
    });
    relay_ready
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("the relay in {role} did not start"));
    Relay {
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The demo publishers `streams` (video codec, with audio) in a thread inside `role`, bound to and
/// offering `ip` as their host candidate, publishing to [`relay_url`] for `duration` and then
/// hanging up. Join the handle to wait for them (it re-raises their panics).
pub fn publish_in(
    topology: &Topology,
    role: Role,
    ip: Ipv4Addr,
    streams: &[(&str, Codec)],
    duration: Duration,
) -> JoinHandle<()> {
    publish_with_stun_in(topology, role, ip, streams, duration, None)
}

/// [`publish_in`], each publisher first asking `stun` for its mapped address and offering it as
/// a server-reflexive candidate (as a browser behind NAT does).
pub fn publish_with_stun_in(
    topology: &Topology,
    role: Role,
    ip: Ipv4Addr,
    streams: &[(&str, Codec)],
    duration: Duration,
    stun: Option<SocketAddr>,
) -> JoinHandle<()> {
    let streams: Vec<(String, Codec)> = streams.iter().map(|(s, c)| (s.to_string(), *c)).collect();
    topology.spawn_in(role, move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let server = relay_url();
            let mut running = Vec::new();
            for (stream, codec) in &streams {
                let config = publisher_config(
                    stream,
                    Some(*codec),
                    true,
                    Dialect::Relay,
                    &Password::Disabled,
                );
                let publisher = match stun {
                    Some(stun) => {
                        spawn_publisher_with_stun(&server, IpAddr::V4(ip), config, stun).await
                    }
                    None => spawn_publisher(&server, IpAddr::V4(ip), config).await,
                };
                running.push(publisher.expect("publisher"));
            }
            tokio::time::sleep(duration).await;
            for p in running {
                p.hang_up().await;
            }
        });
    })
}

/// The `roomrec` binary inside `role`, recording [`ROOM`] from [`relay_url`] into `dir` with the
/// file prefix `prefix`, plus `extra` arguments (`--ice-ip`, `--public-ip`, `--stun`, `--turn`,
/// …); its stderr (the log) goes to `dir/recorder.log`. Stop it with [`Child::terminate`].
pub fn recorder_in(
    topology: &Topology,
    role: Role,
    dir: &Path,
    prefix: &str,
    extra: &[String],
) -> Child {
    let log = std::fs::File::create(dir.join("recorder.log")).unwrap();
    Child::spawn(
        topology
            .exec(role, roomrec_bin())
            .args(["--room", ROOM, "--record", prefix, "--server"])
            .arg(relay_url())
            .args(["--dialect", "relay", "--password", "false", "--output-dir"])
            .arg(dir)
            .args(extra)
            .stdin(Stdio::null())
            .stderr(log),
        &format!("roomrec in {role}"),
    )
}

/// The recorder's log so far (`dir/recorder.log`).
pub fn recorder_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("recorder.log")).unwrap_or_default()
}
