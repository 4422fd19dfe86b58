//! The network harness proven on itself: the NATs in `netns` map and filter as their names say (seen
//! by the independent STUN probe through coturn's two addresses, and by plain UDP sockets), coturn
//! allocates relays for coturn's own client over UDP, TCP and TLS and refuses a wrong password,
//! and namespaces and processes go away with their guards.
//!
//! ```text
//!  inet 203.0.113.1/.2 (coturn, UDP test servers)
//!    ├── nat_a 198.51.100.10 ── pub 10.1.0.2   (NAT kind under test: the STUN probe, UDP client)
//!    └── nat_b 192.0.2.10    ── rec 10.2.0.2   (cone: coturn's turnutils_uclient)
//! ```
//!
//! Skips without root/iproute2 (or with ROOMREC_SKIP_NETNS=1); needs nftables and coturn.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use roomrec_test_support::child::Child;
use roomrec_test_support::coturn::{self, Coturn};
use roomrec_test_support::netns::{
    Nat, Role, Topology, NAT_A_PUBLIC, PUB, REC, SERVER_1, SERVER_2,
};
use roomrec_test_support::stun::{mapping_behaviour, Mapping, MappingReport};

fn stun_servers() -> (SocketAddr, SocketAddr) {
    (
        SocketAddr::from((SERVER_1, coturn::PORT)),
        SocketAddr::from((SERVER_2, coturn::PORT)),
    )
}

/// The STUN probe from `pub` behind NAT A of kind `nat`, through coturn's two addresses.
fn probe_behind(nat: Nat) -> Option<MappingReport> {
    let topology = Topology::create(nat, Nat::Cone)?;
    let _coturn = Coturn::start(&topology);
    let (s1, s2) = stun_servers();
    let found = mapping_behaviour(&topology, Role::Pub, s1, s2);
    eprintln!("{nat:?}: {found:?}");
    Some(found)
}

/// One mapping for every destination, and (the port being free) the socket's own port.
#[test]
fn cone_nat_maps_endpoint_independently() {
    let Some(found) = probe_behind(Nat::Cone) else {
        return;
    };
    let [a, b] = found.mapped;
    assert_eq!(a.ip(), IpAddr::V4(NAT_A_PUBLIC));
    assert_eq!(found.mapping, Mapping::EndpointIndependent, "{a} vs {b}");
    assert_eq!(a.port(), found.local.port(), "masquerade kept the port");
}

#[test]
fn symmetric_nat_maps_per_destination() {
    let Some(found) = probe_behind(Nat::Symmetric) else {
        return;
    };
    let [a, b] = found.mapped;
    assert_eq!(a.ip(), IpAddr::V4(NAT_A_PUBLIC));
    assert_eq!(b.ip(), IpAddr::V4(NAT_A_PUBLIC));
    assert_eq!(found.mapping, Mapping::AddressDependent);
    assert_ne!(a.port(), b.port());
}

#[test]
fn one_to_one_nat_keeps_ports_and_open_routing_translates_nothing() {
    for (nat, ip) in [(Nat::OneToOne, NAT_A_PUBLIC), (Nat::Open, PUB)] {
        let Some(found) = probe_behind(nat) else {
            return;
        };
        let [a, _] = found.mapped;
        assert_eq!(a.ip(), IpAddr::V4(ip), "{nat:?}");
        assert_eq!(found.mapping, Mapping::EndpointIndependent, "{nat:?}");
        assert_eq!(a.port(), found.local.port(), "{nat:?}");
    }
}

/// What a socket in `pub` receives after it sent one datagram to 203.0.113.1:4000, when `inet`
/// answers from there and also sends to the mapped address from 203.0.113.2:4000 and
/// 203.0.113.1:4001. Returns the mapped address and the senders heard.
fn unsolicited(nat: Nat) -> Option<(SocketAddr, Vec<String>)> {
    let topology = Topology::create(nat, Nat::Cone)?;
    unsolicited_in(&topology)
}

fn unsolicited_in(topology: &Topology) -> Option<(SocketAddr, Vec<String>)> {
    let nat = topology.nat_a();
    let server = SocketAddr::from((SERVER_1, 4000));
    let (bound_tx, bound_rx) = mpsc::channel();
    let inet = topology.spawn_in(Role::Inet, move || {
        let bind = |ip: Ipv4Addr, port| UdpSocket::bind((ip, port)).expect("bind in inet");
        let (s1, s2, s1b) = (
            bind(SERVER_1, 4000),
            bind(SERVER_2, 4000),
            bind(SERVER_1, 4001),
        );
        bound_tx.send(()).unwrap();
        s1.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 64];
        let (_, mapped) = s1.recv_from(&mut buf).expect("the host's datagram");
        // The strangers first: if they were let in, they arrive before the answer.
        s2.send_to(b"203.0.113.2:4000", mapped).unwrap();
        s1b.send_to(b"203.0.113.1:4001", mapped).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        s1.send_to(b"203.0.113.1:4000", mapped).unwrap();
        mapped
    });
    bound_rx.recv().expect("inet's sockets");
    let heard = topology.run_in(Role::Pub, move || {
        let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
        socket.send_to(b"hello", server).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let (mut heard, mut buf) = (Vec::new(), [0u8; 64]);
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok((n, _)) = socket.recv_from(&mut buf) {
                heard.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                if heard.last().is_some_and(|h| h == "203.0.113.1:4000") {
                    // Give late strangers a moment, then stop.
                    std::thread::sleep(Duration::from_millis(200));
                    while let Ok((n, _)) = socket.recv_from(&mut buf) {
                        heard.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                    }
                    break;
                }
            }
        }
        heard
    });
    let mapped = inet.join().expect("inet side");
    eprintln!("{nat:?}: mapped {mapped}, heard {heard:?}");
    Some((mapped, heard))
}

#[test]
fn cone_and_symmetric_nats_let_in_only_replies() {
    for nat in [Nat::Cone, Nat::Symmetric] {
        let Some((mapped, heard)) = unsolicited(nat) else {
            return;
        };
        assert_eq!(mapped.ip(), IpAddr::V4(NAT_A_PUBLIC), "{nat:?}");
        assert_eq!(heard, ["203.0.113.1:4000"], "{nat:?}: port-restricted");
    }
}

/// An open NAT routes the host's own address; the host's firewall then lets in only replies.
#[test]
fn open_nat_with_a_host_firewall_lets_in_only_replies() {
    let Some(topology) = Topology::create(Nat::Open, Nat::Cone) else {
        return;
    };
    topology.udp_replies_only(Role::Pub);
    let (mapped, heard) = unsolicited_in(&topology).unwrap();
    assert_eq!(mapped.ip(), IpAddr::V4(PUB));
    assert_eq!(heard, ["203.0.113.1:4000"], "port-restricted");
}

#[test]
fn one_to_one_nat_lets_everything_in() {
    let Some((mapped, mut heard)) = unsolicited(Nat::OneToOne) else {
        return;
    };
    assert_eq!(mapped.ip(), IpAddr::V4(NAT_A_PUBLIC));
    heard.sort();
    assert_eq!(
        heard,
        ["203.0.113.1:4000", "203.0.113.1:4001", "203.0.113.2:4000"]
    );
}

/// coturn's own client from `rec` against 203.0.113.1 with `flags`: with `-y` two clients allocate
/// relays and send each other a few messages through them, with `-e PEER` one client relays to
/// an echo peer. Returns whether it succeeded and its output.
fn uclient(topology: &Topology, coturn: &Coturn, flags: &[&str], password: &str) -> (bool, String) {
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut child = Child::spawn(
        topology
            .exec(Role::Rec, "turnutils_uclient")
            .args(flags)
            .args(["-c", "-n", "3", "-u", coturn::USER, "-w", password])
            .arg("-E")
            .arg(coturn.ca_path())
            .arg(SERVER_1.to_string())
            .stdin(Stdio::null())
            .stdout(out.reopen().unwrap())
            .stderr(out.reopen().unwrap()),
        "turnutils_uclient",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait() {
            break status;
        }
        assert!(Instant::now() < deadline, "turnutils_uclient hangs");
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(out.path()).unwrap();
    (status.success(), text)
}

/// Allocation successes for our user in coturn's log.
fn allocations(coturn: &Coturn) -> usize {
    coturn
        .log()
        .lines()
        .filter(|l| l.contains("user <roomrec>: incoming packet ALLOCATE processed, success"))
        .count()
}

fn coturn_allocates_over(flags: &[&str]) {
    let Some(topology) = Topology::create(Nat::Cone, Nat::Cone) else {
        return;
    };
    let coturn = Coturn::start(&topology);
    let started = Instant::now();
    let client_to_client = [&["-y"], flags].concat();
    let (ok, out) = uclient(&topology, &coturn, &client_to_client, coturn::PASSWORD);
    eprintln!("uclient {flags:?}: {:?}", started.elapsed());
    assert!(ok, "uclient {flags:?} failed:\n{out}");
    assert!(
        out.contains("Total lost packets"),
        "uclient {flags:?} sent nothing:\n{out}"
    );
    let log = coturn.log();
    assert!(
        allocations(&coturn) >= 2,
        "no allocations in coturn's log:\n{log}"
    );
    // The client came through NAT B: coturn saw its public address (logged for TCP and TLS).
    if flags.contains(&"-t") {
        assert!(
            log.contains("tcp or tls connected to: 192.0.2.10:"),
            "NAT B's address not in coturn's log:\n{log}"
        );
    }
}

#[test]
fn coturn_allocates_over_udp() {
    coturn_allocates_over(&[]);
}

#[test]
fn coturn_allocates_over_tcp() {
    coturn_allocates_over(&["-t"]);
}

#[test]
fn coturn_allocates_over_tls() {
    coturn_allocates_over(&["-t", "-S"]);
}

/// The certificate verifies for IP 203.0.113.1 and for the name turn.test in an independent TLS
/// client (OpenSSL's s_client, where installed), and coturn speaks at most TLS 1.2.
#[test]
fn coturn_certificate_verifies_for_its_ip_and_name() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipping: no openssl command");
        return;
    }
    let Some(topology) = Topology::create(Nat::Cone, Nat::Cone) else {
        return;
    };
    let coturn = Coturn::start(&topology);
    let target = format!("{SERVER_1}:{}", coturn::TLS_PORT);
    let ip = SERVER_1.to_string();
    let s_client = |check: &[&str]| {
        let out = topology
            .exec(Role::Rec, "openssl")
            .args([
                "s_client",
                "-brief",
                "-verify_return_error",
                "-connect",
                &target,
            ])
            .arg("-CAfile")
            .arg(coturn.ca_path())
            .args(check)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), text)
    };
    for check in [
        &["-verify_ip", &ip][..],
        &[
            "-servername",
            coturn::DNS_NAME,
            "-verify_hostname",
            coturn::DNS_NAME,
        ],
    ] {
        let (ok, text) = s_client(check);
        assert!(ok, "{check:?}:\n{text}");
        assert!(text.contains("Protocol version: TLSv1.2"), "{text}");
    }
    let (ok, text) = s_client(&["-verify_hostname", "other.test"]);
    assert!(!ok, "verified for another name:\n{text}");
}

#[test]
fn coturn_refuses_a_wrong_password_and_stops() {
    let Some(topology) = Topology::create(Nat::Cone, Nat::Cone) else {
        return;
    };
    let mut coturn = Coturn::start(&topology);
    let (ok, out) = uclient(&topology, &coturn, &["-y"], "wrong");
    assert!(!ok, "allocated with a wrong password:\n{out}");
    assert!(out.contains("Cannot complete Allocation"), "{out}");
    assert_eq!(allocations(&coturn), 0);
    assert!(
        coturn
            .log()
            .contains("check_stun_auth: user roomrec credentials are incorrect"),
        "{}",
        coturn.log()
    );
    // Stopped mid-test, it answers nothing any more.
    let (s1, _) = stun_servers();
    coturn.stop();
    assert!(!coturn.is_running());
    let answer = topology.run_in(Role::Rec, move || {
        let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
        roomrec_test_support::stun::query(&socket, s1, Duration::from_secs(1))
    });
    assert!(answer.is_err(), "a stopped coturn answered: {answer:?}");
}

/// Threads run inside the namespace (and so do threads they start); the test's own thread does
/// not; everything is gone after the drop.
#[test]
fn namespaces_hold_their_threads_and_go_away() {
    let Some(topology) = Topology::create(Nat::Cone, Nat::OneToOne) else {
        return;
    };
    assert!(
        UdpSocket::bind((REC, 0)).is_err(),
        "the host has the recorder's address"
    );
    let bound = topology.run_in(Role::Rec, || {
        let inner = std::thread::spawn(|| UdpSocket::bind((REC, 0)).map(|_| ()));
        (UdpSocket::bind((REC, 0)).map(|_| ()), inner.join().unwrap())
    });
    assert!(bound.0.is_ok() && bound.1.is_ok(), "not in rec: {bound:?}");
    let names: Vec<String> = Role::ALL.iter().map(|r| topology.name(*r)).collect();
    let listed = netns_list();
    for name in &names {
        assert!(listed.contains(name), "{name} missing from {listed}");
    }
    // A process in a namespace dies with its guard.
    let mut sleeper = Child::spawn(topology.exec(Role::Inet, "sleep").arg("600"), "sleep");
    let pid = sleeper.id();
    drop(topology);
    let listed = netns_list();
    for name in &names {
        assert!(!listed.contains(name), "{name} left behind: {listed}");
    }
    assert!(sleeper.try_wait().is_none());
    drop(sleeper);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "sleep {pid} left running"
    );
}

fn netns_list() -> String {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// coturn relays into a private network behind an open NAT (allowed peer 10.x): coturn's own
/// client in `rec` relays to coturn's own echo peer (`turnutils_peer`) in `pub` at 10.1.0.2.
#[test]
fn coturn_relays_to_a_peer_behind_an_open_nat() {
    let Some(topology) = Topology::create(Nat::Open, Nat::Symmetric) else {
        return;
    };
    let coturn = Coturn::start(&topology);
    let _peer = Child::spawn(
        topology
            .exec(Role::Pub, "turnutils_peer")
            .args(["-L", &PUB.to_string(), "-p", "3480"])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "turnutils_peer",
    );
    std::thread::sleep(Duration::from_millis(200));
    let peer = ["-e", "10.1.0.2", "-r", "3480"];
    let (ok, out) = uclient(&topology, &coturn, &peer, coturn::PASSWORD);
    assert!(ok, "uclient failed:\n{out}");
    let log = coturn.log();
    assert!(
        log.contains("peer 10.1.0.2:") && log.contains("CREATE_PERMISSION processed, success"),
        "no permission for 10.1.0.2 in coturn's log:\n{log}"
    );
    assert!(
        out.contains("tot_recv_msgs=3"),
        "the peer's echoes did not come back:\n{out}"
    );
}

/// With the peer denied (and not allowed), coturn refuses the permission: 403 Forbidden IP.
#[test]
fn coturn_refuses_a_denied_peer() {
    let Some(topology) = Topology::create(Nat::Open, Nat::Symmetric) else {
        return;
    };
    let coturn = Coturn::start_with(&topology, &[], &["--denied-peer-ip=10.1.0.2"]);
    let _client = Child::spawn(
        topology
            .exec(Role::Rec, "turnutils_uclient")
            .args(["-c", "-n", "1", "-e", "10.1.0.2", "-u", coturn::USER])
            .args(["-w", coturn::PASSWORD, &SERVER_1.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
        "turnutils_uclient",
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !coturn.log().contains("403: Forbidden IP") {
        assert!(
            Instant::now() < deadline,
            "no 403 for the denied peer:\n{}",
            coturn.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!coturn.log().contains("PERMISSION processed, success"));
}
