//! WebSocket clients for the abuse tests: an honest pair that keeps talking, idle sockets.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;

pub const HONEST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
/// Also loopback on Linux: a second client address without any setup.
pub const ATTACKER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

/// A WebSocket to `relay` from source address `src`.
pub async fn connect_from(src: IpAddr, relay: SocketAddr) -> Option<Ws> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::new(src, 0)).ok()?;
    let stream = socket.connect(relay).await.ok()?;
    let handshake = tokio_tungstenite::client_async(format!("ws://{relay}/"), stream);
    let (ws, _) = tokio::time::timeout(Duration::from_secs(10), handshake)
        .await
        .ok()?
        .ok()?;
    Some(ws)
}

pub async fn join(ws: &mut Ws, room: &str, me: &str) {
    let msg = json!({"request": "joinroom", "roomid": room, "from": me});
    ws.send(Message::text(msg.to_string())).await.unwrap();
}

/// One member of an honest pair: sends its peer a numbered message every 50 ms (20/s) and reads
/// everything, counting what its peer sent. Ends with an error if the relay drops it.
pub struct Honest {
    pub got: Arc<AtomicUsize>,
    task: JoinHandle<Result<(), String>>,
}

impl Honest {
    pub async fn start(relay: SocketAddr, room: &str, me: &str, peer: &str) -> Self {
        let mut ws = connect_from(HONEST, relay)
            .await
            .expect("honest peer connects");
        join(&mut ws, room, me).await;
        let got = Arc::new(AtomicUsize::new(0));
        let count = got.clone();
        let (me, peer) = (me.to_owned(), peer.to_owned());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            for n in 0u64.. {
                tokio::select! {
                    _ = tick.tick() => {
                        let msg = json!({"UUID": peer, "from": me, "n": n});
                        ws.send(Message::text(msg.to_string())).await.map_err(|e| e.to_string())?;
                    }
                    frame = ws.next() => match frame {
                        Some(Ok(Message::Text(t))) => {
                            let v: Value = serde_json::from_str(t.as_str()).unwrap_or_default();
                            if v["from"] == peer.as_str() && v["n"].is_u64() {
                                count.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Some(Ok(Message::Close(f))) => return Err(format!("{me} closed: {f:?}")),
                        None | Some(Err(_)) => return Err(format!("{me} lost its connection")),
                        Some(Ok(_)) => {}
                    }
                }
            }
            Ok(())
        });
        Self { got, task }
    }

    pub fn count(&self) -> usize {
        self.got.load(Ordering::Relaxed)
    }

    /// Waits until `n` more messages from the peer arrived; panics if that takes over 10 s
    /// or this member was dropped.
    pub async fn receives(&self, n: usize, what: &str) {
        let target = self.count() + n;
        for _ in 0..200 {
            assert!(!self.task.is_finished(), "{what}: honest peer dropped");
            if self.count() >= target {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{what}: honest messages stopped flowing");
    }

    pub async fn stop(self) {
        assert!(!self.task.is_finished(), "honest peer dropped");
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Open `n` WebSockets from `src` that never join, 100 at a time; returns the accepted ones.
pub async fn open_idle(src: IpAddr, relay: SocketAddr, n: usize) -> Vec<Ws> {
    let mut open = Vec::new();
    for chunk in 0..n.div_ceil(100) {
        let batch = (chunk * 100..n.min(chunk * 100 + 100)).map(|_| connect_from(src, relay));
        open.extend(
            futures_util::future::join_all(batch)
                .await
                .into_iter()
                .flatten(),
        );
    }
    open
}
