//! Pieces of the in-process recordings on 127.0.0.1 (bundled relay, `run_until`, synthetic
//! publishers): the orderly end they share, and UDP noise for the port tests.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use roomrec_io_tokio::demo::PublisherHandle;
use roomrec_io_tokio::RunError;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Stops the recorder (which must shut down cleanly), then hangs up the publishers and stops
/// the relay.
pub async fn finish(
    stop: oneshot::Sender<()>,
    recorder: JoinHandle<Result<(), RunError>>,
    publishers: Vec<PublisherHandle>,
    relay: JoinHandle<()>,
) {
    let _ = stop.send(());
    recorder
        .await
        .unwrap()
        .expect("recorder shuts down cleanly");
    for p in publishers {
        p.hang_up().await;
    }
    relay.abort();
}

/// Whether someone holds UDP `port` on 127.0.0.1.
pub fn udp_in_use(port: u16) -> bool {
    UdpSocket::bind(SocketAddr::new(LOOPBACK, port)).is_err()
}

/// A free block of `width` UDP ports below the ephemeral range (so no publisher lands in it by
/// chance).
pub fn free_udp_block(width: u16) -> u16 {
    for _ in 0..200 {
        let base = fastrand::u16(20_000..30_000);
        if (base..base + width).all(|p| !udp_in_use(p)) {
            return base;
        }
    }
    panic!("no free block of {width} UDP ports in 20000-30000");
}

/// Garbage to each of `ports` on 127.0.0.1, 30 rounds over about a second: empty, 1-byte,
/// 1400-byte, STUN-, RTP- and DTLS-looking, random, and whatever `extra` makes per round.
pub async fn send_garbage(ports: std::ops::Range<u16>, extra: impl Fn() -> Vec<u8>) {
    let noise = UdpSocket::bind(SocketAddr::new(LOOPBACK, 0)).unwrap();
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![0xff; 1400],
        [
            &[0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42][..],
            &[7; 12],
        ]
        .concat(),
        [
            &[0x01, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42][..],
            &[7; 12],
        ]
        .concat(),
        [&[0x80, 0x60][..], &[1; 200]].concat(),
        [&[22, 254, 253][..], &[3; 100]].concat(),
    ];
    for round in 0..30 {
        for port in ports.clone() {
            let to = SocketAddr::new(LOOPBACK, port);
            for g in &garbage {
                let _ = noise.send_to(g, to);
            }
            let random: Vec<u8> = (0..fastrand::usize(1..1200))
                .map(|_| fastrand::u8(..))
                .collect();
            let _ = noise.send_to(&random, to);
            let _ = noise.send_to(&extra(), to);
        }
        if round % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}
