//! The attack of issue 13 against `roomrec relay` run as its own process (so its RSS is its own),
//! over real sockets on 127.0.0.1. Honest clients come from 127.0.0.1, the attacker from
//! 127.0.0.2 (also loopback), so the per-address limit can be seen to hit only the attacker.

mod peers;
mod proc;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use peers::{connect_from, join, open_idle, Honest, Ws, ATTACKER, HONEST};
use proc::RelayProc;

/// Waits for the end of `ws`: the close frame's code and reason, or None if it just ended.
async fn closed(ws: &mut Ws) -> Option<(u16, String)> {
    let end = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(f))) => {
                    return f.map(|f| (f.code.into(), f.reason.to_string()))
                }
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), end)
        .await
        .expect("the relay closes the connection")
}

/// A 20 MB frame, binary garbage, broken JSON, then 20,000 room broadcasts of ~250 bytes as fast
/// as the socket takes them. Returns how many broadcasts went out and whether the relay told the
/// flooder it is over its limits, and how the connection ended.
async fn flood(relay: std::net::SocketAddr) -> (usize, bool, Option<(u16, String)>) {
    let mut big = connect_from(ATTACKER, relay).await.unwrap();
    join(&mut big, "r", "flooder").await;
    let frame = Message::binary(vec![b'x'; 20 << 20]);
    let _ = tokio::time::timeout(Duration::from_secs(10), big.send(frame)).await;
    let end = closed(&mut big).await;
    assert!(
        matches!(end, None | Some((1009, _))),
        "oversized frame: {end:?}"
    );

    let mut ws = connect_from(ATTACKER, relay).await.unwrap();
    join(&mut ws, "r", "flooder2").await;
    for i in 0..50u8 {
        let _ = ws.feed(Message::binary(vec![0xff, 0xfe, i, 0x80])).await;
        let _ = ws
            .feed(Message::text(r#"{"from":"flooder2","request":"#))
            .await;
    }
    let pad = "p".repeat(200);
    let mut sent = 0;
    for n in 0..20_000 {
        let msg = format!(r#"{{"from":"flooder2","roomid":"r","n":{n},"pad":"{pad}"}}"#);
        if ws.feed(Message::text(msg)).await.is_err() {
            break;
        }
        sent += 1;
        if n % 100 == 99 && ws.flush().await.is_err() {
            break;
        }
    }
    let _ = ws.flush().await;
    // Whatever the relay said to it: a rate-limit notice, then (likely) a close.
    let mut warned = false;
    let end = loop {
        match tokio::time::timeout(Duration::from_secs(15), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => warned |= t.as_str().contains("rate limit"),
            Ok(Some(Ok(Message::Close(f)))) => {
                break f.map(|f| (f.code.into(), f.reason.to_string()))
            }
            Ok(Some(Ok(_))) => {}
            Ok(None | Some(Err(_))) => break None,
            Err(_) => break Some((0, "still open".into())),
        }
    };
    (sent, warned, end)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_pair_survives_the_attack_and_memory_returns() {
    let relay = RelayProc::start(&["--join-timeout", "3"]);
    let a = Honest::start(relay.addr, "r", "alice", "bob").await;
    let b = Honest::start(relay.addr, "r", "bob", "alice").await;
    a.receives(5, "before").await;
    b.receives(5, "before").await;
    let rss_start = relay.status_kib("VmRSS");

    let started = Instant::now();
    let before = (a.count(), b.count());
    let flooder = tokio::spawn(flood(relay.addr));
    // Honest messages keep flowing while the flood runs.
    a.receives(5, "during the flood").await;
    b.receives(5, "during the flood").await;
    let (sent, warned, end) = flooder.await.unwrap();
    let flood_secs = started.elapsed().as_secs_f64();
    let during = (a.count() - before.0, b.count() - before.1);
    assert!(warned, "the flooder is told it is over its limits");
    // The close frame itself may be lost to the reset of a socket still being written to.
    assert!(
        matches!(&end, None | Some((1008, _))),
        "the persistent flooder is disconnected: {end:?}"
    );
    assert_eq!(relay.log_lines("kept flooding, disconnecting it").len(), 1);
    assert!(
        relay.log_lines("client not reading").is_empty(),
        "nobody dropped as a slow reader"
    );

    let mut idle = open_idle(ATTACKER, relay.addr, 1000).await;
    assert!(
        idle.len() <= 64 + 8,
        "per-address cap: {} sockets accepted",
        idle.len()
    );
    assert!(!relay
        .log_lines("per-address connection limit reached")
        .is_empty());
    a.receives(5, "with the idle sockets").await;
    b.receives(5, "with the idle sockets").await;
    // Sockets that never join are closed by the join timeout.
    for ws in idle.iter_mut().take(5) {
        assert_eq!(closed(ws).await, Some((1008, "join timeout".into())));
    }
    drop(idle);

    // A new pair can join afterwards, from the attacker's address too.
    let c = Honest::start(relay.addr, "r", "carol", "dave").await;
    let d = Honest::start(relay.addr, "r", "dave", "carol").await;
    c.receives(5, "new pair").await;
    d.receives(5, "new pair").await;
    a.receives(5, "after").await;
    for peer in [a, b, c, d] {
        peer.stop().await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_end = relay.status_kib("VmRSS");
    let peak = relay.status_kib("VmHWM");
    eprintln!(
        "relay RSS: start {rss_start} KiB, peak {peak} KiB, end {rss_end} KiB; flood: {sent} \
         broadcasts sent in {flood_secs:.2} s, honest messages received meanwhile {during:?}, \
         flooder ended with {end:?}"
    );
    assert!(
        rss_end <= rss_start + 20 * 1024,
        "RSS {rss_start} KiB -> {rss_end} KiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_from_one_address_hit_its_limit() {
    let relay = RelayProc::start(&[]);
    let a = Honest::start(relay.addr, "r", "alice", "bob").await;
    let b = Honest::start(relay.addr, "r", "bob", "alice").await;
    a.receives(3, "before").await;
    // The same address as the honest pair, which already holds two of its 64 places.
    let idle = open_idle(HONEST, relay.addr, 1000).await;
    assert_eq!(idle.len(), 62, "64 per address, two taken by the pair");
    let lines = relay.log_lines("per-address connection limit reached");
    assert_eq!(lines.len(), 1, "logged once, not per socket: {lines:?}");
    assert!(lines[0].contains("127.0.0.1"), "{}", lines[0]);
    a.receives(10, "with the idle sockets").await;
    b.receives(10, "with the idle sockets").await;
    drop(idle);
    a.stop().await;
    b.stop().await;
}
