//! The shared-socket router: STUN checks bind paths to the connection they name, responses go
//! to the connection that asked, everything else follows the bound path or is dropped.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use roomrec_core::connection::ConnectionHandle;
use roomrec_core::demux::{Demux, TRANSACTION_LIFETIME};

const A: ConnectionHandle = ConnectionHandle(1);
const B: ConnectionHandle = ConnectionHandle(2);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A STUN message: `class_bits` 0x0000 request, 0x0100 success; optional USERNAME.
fn stun(class_bits: u16, transaction: u8, username: Option<&str>) -> Vec<u8> {
    let mut attrs = Vec::new();
    // A PRIORITY-like attribute first, so the USERNAME is not at the start.
    attrs.extend_from_slice(&[0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4]);
    if let Some(u) = username {
        attrs.extend_from_slice(&0x0006u16.to_be_bytes());
        attrs.extend_from_slice(&(u.len() as u16).to_be_bytes());
        attrs.extend_from_slice(u.as_bytes());
        while attrs.len() % 4 != 0 {
            attrs.push(0);
        }
    }
    let mut m = Vec::new();
    m.extend_from_slice(&(0x0001 | class_bits).to_be_bytes());
    m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
    m.extend_from_slice(&[transaction; 12]);
    m.extend_from_slice(&attrs);
    m
}

const DTLS: &[u8] = &[22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3];

#[test]
fn a_check_naming_our_ufrag_binds_its_path() {
    let now = Instant::now();
    let local = addr("127.0.0.1:40000");
    let (peer_a, peer_b) = (addr("127.0.0.1:5001"), addr("127.0.0.1:5002"));
    let mut demux = Demux::new();
    assert!(demux.add(A, "ufragA"));
    assert!(demux.add(B, "ufragB"));
    // Before any check, media from the peer belongs to nobody.
    assert_eq!(demux.route(now, peer_a, local, DTLS), None);
    let check = stun(0, 1, Some("ufragA:theirs"));
    assert_eq!(demux.route(now, peer_a, local, &check), Some(A));
    assert_eq!(
        demux.route(now, peer_b, local, &stun(0, 2, Some("ufragB:x"))),
        Some(B)
    );
    assert_eq!(demux.route(now, peer_a, local, DTLS), Some(A));
    assert_eq!(demux.route(now, peer_b, local, DTLS), Some(B));
    // The same remote on another local address is another path.
    assert_eq!(demux.route(now, peer_a, addr("10.0.0.1:40000"), DTLS), None);
    // A check naming an unknown ufrag claims nothing.
    assert_eq!(
        demux.route(
            now,
            addr("127.0.0.1:6000"),
            local,
            &stun(0, 3, Some("nobody:x"))
        ),
        None
    );
}

#[test]
fn responses_go_to_the_connection_that_asked_even_from_one_server() {
    let now = Instant::now();
    let local = addr("127.0.0.1:40000");
    let server = addr("127.0.0.1:3478");
    let mut demux = Demux::new();
    demux.add(A, "a");
    demux.add(B, "b");
    demux.outgoing(now, A, &stun(0, 7, None));
    demux.outgoing(now, B, &stun(0, 8, None));
    assert_eq!(
        demux.route(now, server, local, &stun(0x0100, 8, None)),
        Some(B)
    );
    assert_eq!(
        demux.route(now, server, local, &stun(0x0100, 7, None)),
        Some(A)
    );
    // Answered once: a replay goes nowhere (answers bind no path: the server answers both).
    assert_eq!(
        demux.route(now, server, local, &stun(0x0100, 8, None)),
        None
    );
    assert_eq!(demux.route(now, server, local, DTLS), None);
    // An answer to a transaction nobody sent.
    assert_eq!(
        demux.route(now, addr("127.0.0.1:9"), local, &stun(0x0100, 9, None)),
        None
    );
}

#[test]
fn transactions_expire() {
    let now = Instant::now();
    let local = addr("127.0.0.1:40000");
    let server = addr("127.0.0.1:3478");
    let mut demux = Demux::new();
    demux.add(A, "a");
    demux.outgoing(now, A, &stun(0, 7, None));
    let late = now + TRANSACTION_LIFETIME + Duration::from_millis(1);
    assert_eq!(
        demux.route(late, server, local, &stun(0x0100, 7, None)),
        None
    );
}

#[test]
fn removing_a_connection_frees_its_ufrag_paths_and_transactions() {
    let now = Instant::now();
    let local = addr("127.0.0.1:40000");
    let peer = addr("127.0.0.1:5001");
    let mut demux = Demux::new();
    demux.add(A, "a");
    assert!(!demux.add(B, "a"), "a ufrag in use is refused");
    demux.route(now, peer, local, &stun(0, 1, Some("a:x")));
    demux.outgoing(now, A, &stun(0, 2, None));
    demux.remove(A);
    assert!(demux.is_empty());
    assert_eq!(demux.route(now, peer, local, DTLS), None);
    assert_eq!(demux.route(now, peer, local, &stun(0x0100, 2, None)), None);
    // The ufrag and the path can be used again.
    assert!(demux.add(B, "a"));
    assert_eq!(
        demux.route(now, peer, local, &stun(0, 3, Some("a:y"))),
        Some(B)
    );
    assert_eq!(demux.route(now, peer, local, DTLS), Some(B));
}

#[test]
fn a_bound_path_is_not_taken_over_by_a_check_for_another_connection() {
    let now = Instant::now();
    let local = addr("127.0.0.1:40000");
    let peer = addr("127.0.0.1:5001");
    let mut demux = Demux::new();
    demux.add(A, "a");
    demux.add(B, "b");
    demux.route(now, peer, local, &stun(0, 1, Some("a:x")));
    // The check itself goes where it says; the path stays with A.
    assert_eq!(
        demux.route(now, peer, local, &stun(0, 2, Some("b:x"))),
        Some(B)
    );
    assert_eq!(demux.route(now, peer, local, DTLS), Some(A));
}

proptest! {
    /// Garbage never panics and is never routed anywhere no check has bound.
    #[test]
    fn garbage_is_dropped(datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..120), 1..50)) {
        let now = Instant::now();
        let local = addr("127.0.0.1:40000");
        let mut demux = Demux::new();
        demux.add(A, "a");
        for (i, d) in datagrams.iter().enumerate() {
            let source = SocketAddr::new([127, 0, 0, 1].into(), 1000 + i as u16);
            demux.outgoing(now, A, d);
            prop_assert_eq!(demux.route(now, source, local, d), None);
        }
    }

    /// Truncated STUN (USERNAME cut anywhere) never panics.
    #[test]
    fn truncated_checks_do_not_panic(cut in 0usize..60) {
        let check = stun(0, 1, Some("ufragA:theirs"));
        let mut demux = Demux::new();
        demux.add(A, "ufragA");
        let _ = demux.route(Instant::now(), addr("127.0.0.1:1"), addr("127.0.0.1:2"), &check[..cut.min(check.len())]);
    }
}
