//! `--port-range`: every connection's UDP socket is bound inside the range (so one firewall rule
//! covers the recorder), recordings through it decode, and garbage sent to those ports disturbs
//! nobody. Real sockets on 127.0.0.1, in-process relay, synthetic str0m publishers.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_io_tokio::demo::{publisher_config, recorder_options, spawn_publisher};
use roomrec_io_tokio::options::PortRange;
use roomrec_io_tokio::relay::spawn_relay;
use roomrec_io_tokio::run_until;
use roomrec_test_support::recordings::check_one_recording;
use roomrec_tests::loopback::{finish, free_udp_block, send_garbage, udp_in_use, LOOPBACK};

const WIDTH: u16 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_bind_inside_the_range_and_ignore_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let (dialect, password) = (Dialect::Relay, Password::Default);
    let (addr, relay) = spawn_relay(SocketAddr::new(LOOPBACK, 0), dialect)
        .await
        .unwrap();
    let server = format!("ws://{addr}");

    let base = free_udp_block(WIDTH);
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
    let taken: Vec<u16> = (base + 1..base + WIDTH)
        .filter(|&p| udp_in_use(p))
        .collect();
    assert_eq!(taken.len(), 2, "ports of {range} in use: {taken:?}");

    // Garbage to every port of the range while recording.
    send_garbage(base..base + WIDTH, Vec::new).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    finish(stop, recorder, publishers, relay).await;
    drop(squatter);

    // ~4 s of 30 fps video and 50 packets/s of audio in each, decoding cleanly.
    for (stream, codec) in [("alice", "h264"), ("bob", "vp8")] {
        check_one_recording(dir.path(), &format!("demo_{stream}_"), codec, 90, 150);
    }
}
