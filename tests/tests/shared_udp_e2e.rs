//! `--udp-port`: every guest on a couple of shared UDP ports, each port with its own event
//! loop, guests told apart by their ICE credentials. Recordings through them decode, the
//! recorder opens no other UDP socket, and garbage (including STUN checks with forged
//! credentials) disturbs nobody. Real sockets on 127.0.0.1, in-process relay,
//! synthetic str0m publishers.

use std::net::SocketAddr;
use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_io_tokio::demo::{publisher_config, recorder_options, spawn_publisher};
use roomrec_io_tokio::options::PortRange;
use roomrec_io_tokio::relay::spawn_relay;
use roomrec_io_tokio::run_until;
use roomrec_test_support::recordings::check_one_recording;
use roomrec_tests::loopback::{finish, free_udp_block, send_garbage, udp_in_use, LOOPBACK};

const PORTS: u16 = 2;
const GUESTS: [(&str, Codec, &str); 4] = [
    ("alice", Codec::H264, "h264"),
    ("bob", Codec::Vp8, "vp8"),
    ("carol", Codec::H264, "h264"),
    ("dave", Codec::Vp8, "vp8"),
];

/// UDP sockets of this process bound to 127.0.0.1 (its IPv4 table lists the namespace's; this
/// test binary runs alone in its process, so only ours are on loopback ports we did not pick).
fn loopback_udp_sockets() -> usize {
    std::fs::read_to_string("/proc/self/net/udp")
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| a.starts_with("0100007F:"))
        })
        .count()
}

/// A STUN binding request with USERNAME `ufrag:x` and no valid integrity.
fn forged_check(ufrag: &str) -> Vec<u8> {
    let user = format!("{ufrag}:x");
    let mut attrs = vec![0x00, 0x06];
    attrs.extend_from_slice(&(user.len() as u16).to_be_bytes());
    attrs.extend_from_slice(user.as_bytes());
    while attrs.len() % 4 != 0 {
        attrs.push(0);
    }
    attrs.extend_from_slice(&[0x00, 0x08, 0x00, 0x14]);
    attrs.extend_from_slice(&[0xab; 20]);
    let mut m = vec![0x00, 0x01];
    m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
    m.extend((0..12).map(|_| fastrand::u8(..)));
    m.extend_from_slice(&attrs);
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_share_the_ports_and_garbage_disturbs_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let (dialect, password) = (Dialect::Relay, Password::Default);
    let (addr, relay) = spawn_relay(SocketAddr::new(LOOPBACK, 0), dialect)
        .await
        .unwrap();
    let server = format!("ws://{addr}");
    let base = free_udp_block(PORTS);
    let range = PortRange::new(base, base + PORTS - 1).unwrap();
    let before = loopback_udp_sockets();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut options =
        recorder_options(&server, dir.path().to_path_buf(), dialect, password.clone());
    options.shared_udp_ports = Some(range);
    let recorder = tokio::spawn(run_until(options, async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        (base..base + PORTS).all(udp_in_use),
        "the recorder binds every port of {range}"
    );
    let mut publishers = Vec::new();
    for (stream, codec, _) in GUESTS {
        let config = publisher_config(stream, Some(codec), true, dialect, &password);
        publishers.push(spawn_publisher(&server, LOOPBACK, config).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The recorder's two ports and one socket per publisher: no socket per connection.
    assert_eq!(
        loopback_udp_sockets() - before,
        usize::from(PORTS) + GUESTS.len(),
        "UDP sockets on 127.0.0.1 while recording"
    );

    // Garbage to both ports while recording, with checks naming ufrags a guest could have.
    send_garbage(base..base + PORTS, || {
        let ufrag: String = (0..4).map(|_| fastrand::alphanumeric()).collect();
        forged_check(&ufrag)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    finish(stop, recorder, publishers, relay).await;
    assert!(
        (base..base + PORTS).all(|p| !udp_in_use(p)),
        "ports released at exit"
    );

    // ~4 s of 30 fps video and 50 packets/s of audio in each, decoding cleanly.
    for (stream, _, codec) in GUESTS {
        check_one_recording(dir.path(), &format!("demo_{stream}_"), codec, 90, 150);
    }
}
