//! Connection limits over real sockets: X-Forwarded-For from a trusted proxy only, join timeout.

use std::time::Duration;

use futures_util::StreamExt;
use roomrec_core::signaling::Dialect;
use roomrec_io_tokio::relay::{spawn_relay_with, ServerOptions};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A client whose request claims `X-Forwarded-For: forwarded`; None if the relay refused it.
async fn via_proxy(addr: std::net::SocketAddr, forwarded: &str) -> Option<Ws> {
    let mut req = format!("ws://{addr}/").into_client_request().unwrap();
    req.headers_mut()
        .insert("x-forwarded-for", forwarded.parse().unwrap());
    let (mut ws, _) = connect_async(req).await.ok()?;
    // A refused client is closed right after the upgrade.
    match tokio::time::timeout(Duration::from_millis(300), ws.next()).await {
        Err(_) => Some(ws),
        Ok(Some(Ok(Message::Close(f)))) => {
            assert_eq!(f.unwrap().reason.as_str(), "too many connections");
            None
        }
        Ok(other) => panic!("unexpected {other:?}"),
    }
}

fn one_per_address() -> ServerOptions {
    ServerOptions {
        max_connections_per_ip: 1,
        ..ServerOptions::new(Dialect::Relay)
    }
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let opts = ServerOptions {
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..one_per_address()
    };
    let (addr, relay) = spawn_relay_with("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let a = via_proxy(addr, "198.51.100.1").await;
    // The client's own entries come first; the proxy's (last) one counts.
    let b = via_proxy(addr, "198.51.100.1, 198.51.100.2").await;
    assert!(a.is_some() && b.is_some(), "two client addresses");
    assert!(via_proxy(addr, "198.51.100.1").await.is_none(), "its limit");
    drop(a);
    relay.abort();

    // Not trusted: the header is ignored and the socket's address counts.
    let (addr, relay) = spawn_relay_with("127.0.0.1:0".parse().unwrap(), one_per_address())
        .await
        .unwrap();
    let _a = via_proxy(addr, "198.51.100.1").await.unwrap();
    let refused = connect_async(format!("ws://{addr}/")).await;
    assert!(refused.is_err(), "second socket from 127.0.0.1 refused");
    relay.abort();
}

#[tokio::test]
async fn sockets_that_never_join_are_closed() {
    let opts = ServerOptions {
        join_timeout: Duration::from_millis(200),
        ..ServerOptions::new(Dialect::Relay)
    };
    let (addr, relay) = spawn_relay_with("127.0.0.1:0".parse().unwrap(), opts)
        .await
        .unwrap();
    let (mut lurker, _) = connect_async(format!("ws://{addr}/")).await.unwrap();
    let (mut member, _) = connect_async(format!("ws://{addr}/")).await.unwrap();
    let join = r#"{"request":"joinroom","roomid":"r","from":"M"}"#;
    futures_util::SinkExt::send(&mut member, Message::text(join))
        .await
        .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), lurker.next()).await;
    match end {
        Ok(Some(Ok(Message::Close(Some(f))))) => assert_eq!(f.reason.as_str(), "join timeout"),
        other => panic!("lurker not closed: {other:?}"),
    }
    let quiet = tokio::time::timeout(Duration::from_millis(500), member.next()).await;
    assert!(quiet.is_err(), "the member stays: {quiet:?}");
    relay.abort();
}
