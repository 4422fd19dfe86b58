//! Every captured trace (real web app, `tests/fixtures/traces`, the same files as the shared
//! trace directory) replayed through the relay at full speed with the default limits: every
//! message arrives unchanged and nothing is throttled.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use roomrec_core::signaling::Dialect;
use roomrec_io_tokio::relay::spawn_relay;
use serde_json::Value;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// (sender, text) of every WebSocket line of every trace.
fn traces() -> Vec<(String, Vec<(String, String)>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/traces");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 5, "{files:?}");
    files
        .iter()
        .map(|path| {
            let lines = std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .filter(|l| l["channel"] == "ws")
                .map(|l| {
                    (
                        l["sender"].as_str().unwrap().to_owned(),
                        l["msg"].to_string(),
                    )
                })
                .collect();
            (path.display().to_string(), lines)
        })
        .collect()
}

async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        match timeout(Duration::from_millis(300), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(t.as_str().to_owned()),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            Ok(other) => panic!("connection ended: {other:?}"),
            Err(_) => return None,
        }
    }
}

/// Publisher and viewer replay their lines back to back, `rounds` times over the same sockets
/// (each round the web app's whole session again), without waiting for anything.
async fn replay(addr: SocketAddr, lines: &[(String, String)], rounds: usize) -> Vec<String> {
    let mut publisher = connect_async(format!("ws://{addr}")).await.unwrap().0;
    let mut viewer = connect_async(format!("ws://{addr}")).await.unwrap().0;
    let mut expected = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for (i, (sender, text)) in lines.iter().enumerate() {
            let (from, to_list) = match sender.as_str() {
                "publisher" => (&mut publisher, &mut expected.1),
                _ => (&mut viewer, &mut expected.0),
            };
            from.send(Message::text(text.clone())).await.unwrap();
            // The very first joinroom finds an empty room.
            if round > 0 || i > 0 {
                to_list.push(text.clone());
            }
            if round == 0 && i == 0 {
                // Let it be in the room before the other side joins.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let mut problems = Vec::new();
    for (ws, want) in [(&mut publisher, expected.0), (&mut viewer, expected.1)] {
        for text in want {
            match next_text(ws).await {
                Some(got) if got == text => {}
                got => problems.push(format!("expected {:.80}, got {got:.80?}", text)),
            }
        }
        if let Some(extra) = next_text(ws).await {
            problems.push(format!("unexpected {extra:.120}"));
        }
    }
    problems
}

#[tokio::test]
async fn every_trace_at_full_speed_trips_no_limit() {
    for (name, lines) in traces() {
        let (addr, relay) = spawn_relay("127.0.0.1:0".parse().unwrap(), Dialect::Relay)
            .await
            .unwrap();
        // Ten sessions back to back: far above the web app's own pace.
        let problems = replay(addr, &lines, 10).await;
        assert!(problems.is_empty(), "{name}: {problems:#?}");
        relay.abort();
    }
}
