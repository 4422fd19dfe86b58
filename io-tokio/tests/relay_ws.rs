//! Real WebSocket clients (tokio-tungstenite) talking through `spawn_relay` on 127.0.0.1.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use roomrec_core::signaling::Dialect;
use roomrec_io_tokio::relay::{spawn_relay, spawn_relay_with, ServerOptions};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(300);

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn client(addr: SocketAddr, path: &str) -> Ws {
    let (ws, _) = connect_async(format!("ws://{addr}{path}"))
        .await
        .expect("connect");
    ws
}

async fn send(ws: &mut Ws, msg: &Value) {
    ws.send(Message::text(msg.to_string())).await.expect("send");
}

/// The next text frame (pings and pongs skipped).
async fn recv_text(ws: &mut Ws) -> String {
    loop {
        match timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for a frame")
        {
            Some(Ok(Message::Text(t))) => return t.as_str().to_owned(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

async fn recv_json(ws: &mut Ws) -> Value {
    serde_json::from_str(&recv_text(ws).await).expect("JSON")
}

async fn assert_quiet(ws: &mut Ws) {
    if let Ok(frame) = timeout(QUIET, ws.next()).await {
        panic!("expected silence, got {frame:?}");
    }
}

#[tokio::test]
async fn relay_dialect_three_clients() {
    let (addr, relay) = spawn_relay(loopback(), Dialect::Relay).await.unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0);
    let mut a = client(addr, "/").await;
    let mut b = client(addr, "/any/path?x=1").await;
    let mut c = client(addr, "").await;

    send(
        &mut a,
        &json!({"request":"joinroom","roomid":"r1","from":"AAAA"}),
    )
    .await;
    let b_join = json!({"request":"joinroom","roomid":"r1","streamID":"camB","from":"BBBB"});
    send(&mut b, &b_join).await;
    assert_eq!(
        recv_text(&mut a).await,
        b_join.to_string(),
        "raw joinroom to members present"
    );
    send(
        &mut c,
        &json!({"request":"joinroom","roomid":"r2","from":"CCCC"}),
    )
    .await;

    // Text goes through untouched, key order and spacing included.
    let odd = r#"{ "request" : "play", "streamID":"camB",  "from":"AAAA", "roomid":"r1" }"#;
    a.send(Message::text(odd)).await.unwrap();
    assert_eq!(recv_text(&mut b).await, odd);
    let offer = json!({"UUID":"AAAA","description":{"type":"offer","sdp":"v=0\r\n"},
                       "session":"s1","from":"BBBB","roomid":"r1"});
    send(&mut b, &offer).await;
    assert_eq!(recv_json(&mut a).await, offer);

    // Garbage changes nothing for anyone.
    a.send(Message::text("not json")).await.unwrap();
    a.send(Message::text(r#"{"no":"from"}"#)).await.unwrap();
    a.send(Message::binary(vec![0xff, 0xfe])).await.unwrap();
    // Binary frames holding JSON are read as text, like vdoninja.js does.
    a.send(Message::binary(br#"{"from":"AAAA","n":1}"#.to_vec()))
        .await
        .unwrap();
    assert_eq!(recv_json(&mut b).await, json!({"from":"AAAA","n":1}));

    // A fourth socket cannot take a used id.
    let mut d = client(addr, "/").await;
    send(
        &mut d,
        &json!({"request":"joinroom","roomid":"r1","from":"AAAA"}),
    )
    .await;
    assert_eq!(
        recv_json(&mut d).await,
        json!({"error":"uuid already in use"})
    );

    // Nothing crossed into r2; no leave notices in this dialect.
    b.close(None).await.unwrap();
    assert_quiet(&mut c).await;
    assert_quiet(&mut a).await;
    relay.abort();
}

#[tokio::test]
async fn official_dialect_three_clients() {
    let (addr, relay) = spawn_relay(loopback(), Dialect::Official).await.unwrap();
    let mut a = client(addr, "/").await;
    let mut b = client(addr, "/").await;
    let mut c = client(addr, "/").await;

    send(&mut a, &json!({"request":"joinroom","roomid":"r1"})).await;
    assert_eq!(
        recv_json(&mut a).await,
        json!({"request":"listing","list":[]})
    );
    send(
        &mut b,
        &json!({"request":"joinroom","roomid":"r1","streamID":"camB"}),
    )
    .await;
    let listing = recv_json(&mut b).await;
    let id_a = listing["list"][0]["UUID"]
        .as_str()
        .expect("a in listing")
        .to_owned();
    assert_eq!(
        listing,
        json!({"request":"listing","list":[{"UUID": id_a}]})
    );
    let joined = recv_json(&mut a).await;
    let id_b = joined["UUID"].as_str().unwrap().to_owned();
    assert_eq!(
        joined,
        json!({"request":"someonejoined","UUID": id_b,"streamID":"camB"})
    );
    assert_eq!(
        recv_json(&mut a).await,
        json!({"request":"videoaddedtoroom","UUID": id_b,"streamID":"camB"})
    );
    assert_ne!(id_a, id_b);
    send(&mut c, &json!({"request":"joinroom","roomid":"r2"})).await;
    assert_eq!(
        recv_json(&mut c).await,
        json!({"request":"listing","list":[]})
    );

    send(&mut a, &json!({"request":"play","streamID":"camB"})).await;
    assert_eq!(
        recv_json(&mut b).await,
        json!({"request":"offerSDP","UUID": id_a})
    );
    let offer =
        json!({"UUID": id_a, "description":{"type":"offer","sdp":"v=0\r\n"}, "session":"s1"});
    send(&mut b, &offer).await;
    let mut rewritten = offer.clone();
    rewritten["UUID"] = json!(id_b);
    assert_eq!(recv_json(&mut a).await, rewritten);

    // Another room cannot see or reach the stream.
    send(&mut c, &json!({"request":"play","streamID":"camB"})).await;
    assert_eq!(
        recv_json(&mut c).await,
        json!({"request":"alert","message":"stream not found"})
    );
    send(&mut c, &json!({"UUID": id_a, "x": 1})).await;

    drop(b); // abrupt TCP close
    assert_eq!(
        recv_json(&mut a).await,
        json!({"request":"cleanup","UUID": id_b})
    );
    assert_quiet(&mut c).await;
    relay.abort();
}

#[tokio::test]
async fn oversized_frames_close_only_that_connection() {
    let (addr, relay) = spawn_relay(loopback(), Dialect::Relay).await.unwrap();
    let mut a = client(addr, "/").await;
    let mut b = client(addr, "/").await;
    send(
        &mut a,
        &json!({"request":"joinroom","roomid":"r","from":"A"}),
    )
    .await;
    send(
        &mut b,
        &json!({"request":"joinroom","roomid":"r","from":"B"}),
    )
    .await;
    recv_text(&mut a).await;

    let big = format!(r#"{{"from":"A","pad":"{}"}}"#, "x".repeat(256 * 1024));
    // The server may reset before the whole frame is written: a send error is fine.
    let _ = a.send(Message::text(big)).await;
    let closed = timeout(WAIT, async {
        loop {
            match a.next().await {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("connection closed");
    if let Some(code) = closed {
        assert_eq!(code, CloseCode::Size);
    }
    assert_quiet(&mut b).await;

    // Just under the limit still passes.
    let mut c = client(addr, "/").await;
    let fits = format!(
        r#"{{"from":"C","roomid":"r","pad":"{}"}}"#,
        "y".repeat(256 * 1024 - 100)
    );
    send(
        &mut c,
        &json!({"request":"joinroom","roomid":"r","from":"C"}),
    )
    .await;
    assert_eq!(recv_json(&mut b).await["from"], "C");
    c.send(Message::text(fits.clone())).await.unwrap();
    assert_eq!(recv_text(&mut b).await, fits);
    relay.abort();
}

#[tokio::test]
async fn pings_are_answered_and_bad_handshakes_ignored() {
    let (addr, relay) = spawn_relay(loopback(), Dialect::Relay).await.unwrap();
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = timeout(WAIT, raw.read_to_end(&mut buf))
        .await
        .expect("refused and closed");

    let mut a = client(addr, "/").await;
    a.send(Message::Ping(b"hi".to_vec().into())).await.unwrap();
    match timeout(WAIT, a.next()).await.unwrap() {
        Some(Ok(Message::Pong(p))) => assert_eq!(&p[..], b"hi"),
        other => panic!("expected pong, got {other:?}"),
    }
    relay.abort();
}

#[tokio::test]
async fn silent_clients_time_out_and_abort_closes_everyone() {
    let opts = ServerOptions {
        ping_interval: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(300),
        ..ServerOptions::new(Dialect::Official)
    };
    let (addr, relay) = spawn_relay_with(loopback(), opts).await.unwrap();
    let mut mute = client(addr, "/").await; // never reads, so never answers pings
    let mut alive = client(addr, "/").await;
    send(&mut alive, &json!({"request":"joinroom","roomid":"r"})).await;
    let started = tokio::time::Instant::now();
    let mut pings = 0;
    while started.elapsed() < Duration::from_millis(700) {
        match timeout(Duration::from_millis(50), alive.next()).await {
            Ok(Some(Ok(Message::Ping(_)))) => pings += 1,
            Ok(Some(Ok(Message::Text(_)))) => {}
            Ok(other) => panic!("alive client lost: {other:?}"),
            Err(_) => {}
        }
    }
    assert!(pings >= 3, "server pings idle clients ({pings})");
    let ended = timeout(WAIT, async {
        loop {
            match mute.next().await {
                Some(Ok(Message::Close(f))) => return f.map(|f| f.code),
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .expect("mute client closed");
    assert_eq!(ended, Some(CloseCode::Away));

    relay.abort();
    let end = timeout(WAIT, async {
        loop {
            match alive.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "aborting the relay closes its connections");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped() {
    let opts = ServerOptions {
        max_queued_bytes_per_client: 256 * 1024,
        byte_burst: 1e9,
        msg_burst: 1e6,
        idle_timeout: Duration::from_millis(300),
        ..ServerOptions::new(Dialect::Official)
    };
    let (addr, relay) = spawn_relay_with(loopback(), opts).await.unwrap();
    let mut stuck = client(addr, "/").await;
    send(&mut stuck, &json!({"request":"joinroom","roomid":"r"})).await;
    recv_json(&mut stuck).await; // listing; from now on it reads nothing
    let mut talker = client(addr, "/").await;
    send(&mut talker, &json!({"request":"joinroom","roomid":"r"})).await;
    let id_stuck = recv_json(&mut talker).await["list"][0]["UUID"].clone();

    // Broadcast until the socket buffers and its 256 KiB queue are full.
    let pad = "z".repeat(64 * 1024);
    let mut sent = 0;
    let cleanup = loop {
        send(&mut talker, &json!({"pad": pad})).await;
        sent += 1;
        assert!(sent < 8000, "stuck client never dropped");
        if let Ok(Some(Ok(Message::Text(t)))) =
            timeout(Duration::from_millis(1), talker.next()).await
        {
            break serde_json::from_str::<Value>(t.as_str()).unwrap();
        }
    };
    assert_eq!(cleanup, json!({"request":"cleanup","UUID": id_stuck}));
    // Its socket is closed too (not left pinned by a blocked send).
    let closed = timeout(WAIT, async {
        loop {
            match stuck.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "stuck connection closed");
    relay.abort();
}
