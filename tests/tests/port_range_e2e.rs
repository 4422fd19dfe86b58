//! `--port-range`: every connection's UDP socket is bound inside the range (so one firewall rule
//! covers the recorder), recordings through it decode, and garbage sent to those ports disturbs
//! nobody. Real sockets on 127.0.0.1, in-process relay, synthetic str0m publishers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_io_tokio::demo::{publisher_config, recorder_options, spawn_publisher};
use roomrec_io_tokio::options::PortRange;
use roomrec_io_tokio::relay::spawn_relay;
use roomrec_io_tokio::run_until;
use roomrec_test_support::recordings::check_one_recording;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WIDTH: u16 = 4;

fn in_use(port: u16) -> bool {
    UdpSocket::bind(SocketAddr::new(LOOPBACK, port)).is_err()
}

/// A free block of `WIDTH` ports below the ephemeral range (so no publisher lands in it by chance).
fn free_block() -> u16 {
    for _ in 0..200 {
        let base = fastrand::u16(20_000..30_000);
        if (base..base + WIDTH).all(|p| !in_use(p)) {
            return base;
        }
    }
    panic!("no free block of {WIDTH} UDP ports in 20000-30000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_bind_inside_the_range_and_ignore_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let (dialect, password) = (Dialect::Relay, Password::Default);
    let (addr, relay) = spawn_relay(SocketAddr::new(LOOPBACK, 0), dialect)
        .await
        .unwrap();
    let server = format!("ws://{addr}");

    let base = free_block();
    // The first port of the range is taken by someone else: the recorder must skip it.
    let squatter = UdpSocket::bind(SocketAddr::new(LOOPBACK, base)).unwrap();
    let range = PortRange::new(base, base + WIDTH - 1).unwrap();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut options =
        recorder_options(&server, dir.path().to_path_buf(), dialect, password.clone());
    options.udp_ports = Some(range);
    let recorder = tokio::spawn(run_until(options, async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut publishers = Vec::new();
    for (stream, codec) in [("alice", Codec::H264), ("bob", Codec::Vp8)] {
        let config = publisher_config(stream, Some(codec), true, dialect, &password);
        publishers.push(spawn_publisher(&server, LOOPBACK, config).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Both connections hold a port of the range (not the squatter's).
    let taken: Vec<u16> = (base + 1..base + WIDTH).filter(|&p| in_use(p)).collect();
    assert_eq!(taken.len(), 2, "ports of {range} in use: {taken:?}");

    // Garbage to every port of the range while recording: short, long, STUN-looking, RTP-looking.
    let noise = UdpSocket::bind(SocketAddr::new(LOOPBACK, 0)).unwrap();
    let mut garbage: Vec<Vec<u8>> = vec![vec![], vec![0], vec![0xff; 1400]];
    garbage.push(
        [
            &[0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42][..],
            &[7; 12],
        ]
        .concat(),
    );
    garbage.push([&[0x80, 0x60][..], &[1; 200]].concat());
    for round in 0..30 {
        for port in base..base + WIDTH {
            for g in &garbage {
                let _ = noise.send_to(g, SocketAddr::new(LOOPBACK, port));
            }
            let random: Vec<u8> = (0..fastrand::usize(1..1200))
                .map(|_| fastrand::u8(..))
                .collect();
            let _ = noise.send_to(&random, SocketAddr::new(LOOPBACK, port));
        }
        if round % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop.send(());
    recorder
        .await
        .unwrap()
        .expect("recorder shuts down cleanly");
    for p in publishers {
        p.hang_up().await;
    }
    relay.abort();
    drop(squatter);

    // ~4 s of 30 fps video and 50 packets/s of audio in each, decoding cleanly.
    for (stream, codec) in [("alice", "h264"), ("bob", "vp8")] {
        check_one_recording(dir.path(), &format!("demo_{stream}_"), codec, 90, 150);
    }
}
