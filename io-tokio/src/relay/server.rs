//! WebSocket front end of the relay: one task per client, one shared [`Relay`] behind a mutex
//! (signaling volume is tiny and the lock is never held across an await).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tracing::{debug, info, warn};

use roomrec_relay::{ClientId, Dialect, Relay};

/// Tunables of [`serve_with`]; [`ServerOptions::new`] gives the defaults used by [`serve`].
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub dialect: Dialect,
    /// Seed of the routing RNG (official ids).
    pub seed: u64,
    /// Larger messages or frames close the connection (1009).
    pub max_message_bytes: usize,
    /// Frames queued for one client before it is considered stuck and dropped.
    pub max_queued_frames: usize,
    /// How often an idle connection is pinged.
    pub ping_interval: Duration,
    /// A connection that sends nothing (not even a pong) this long is closed.
    pub idle_timeout: Duration,
    /// Time allowed for the HTTP upgrade.
    pub handshake_timeout: Duration,
}

impl ServerOptions {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            seed: fastrand::u64(..),
            max_message_bytes: 1 << 20,
            max_queued_frames: 1024,
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// Serve WebSocket clients (plain `ws://`, any path) from `listener` until the future is dropped.
/// Dropping it (or aborting its task) also closes every client connection.
pub async fn serve(listener: TcpListener, dialect: Dialect) -> std::io::Result<()> {
    serve_with(listener, ServerOptions::new(dialect)).await
}

pub async fn serve_with(listener: TcpListener, opts: ServerOptions) -> std::io::Result<()> {
    let hub = Arc::new(Hub {
        state: Mutex::new(HubState {
            relay: Relay::new(opts.dialect, opts.seed),
            queues: HashMap::new(),
        }),
        max_queued: opts.max_queued_frames,
    });
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, dialect = %opts.dialect, "relay listening");
    }
    // Owning the client tasks here ties their lifetime to this future.
    let mut clients = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    clients.spawn(handle_client(hub.clone(), stream, peer, opts.clone()));
                }
                Err(e) => {
                    // Per-connection failures and fd exhaustion: back off, keep serving.
                    warn!(error = %e, "relay: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(done) = clients.join_next() => {
                if let Err(e) = done {
                    warn!(error = %e, "relay: client task failed");
                }
            }
        }
    }
}

/// Bind `addr` (port 0 allowed) and serve in a background task; returns the bound address.
pub async fn spawn_relay(
    addr: SocketAddr,
    dialect: Dialect,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    spawn_relay_with(addr, ServerOptions::new(dialect)).await
}

pub async fn spawn_relay_with(
    addr: SocketAddr,
    opts: ServerOptions,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        if let Err(e) = serve_with(listener, opts).await {
            warn!(error = %e, "relay stopped");
        }
    });
    Ok((bound, task))
}

struct Hub {
    state: Mutex<HubState>,
    max_queued: usize,
}

struct HubState {
    relay: Relay,
    /// Outgoing text frames per connected client.
    queues: HashMap<ClientId, mpsc::Sender<String>>,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A poisoned lock only means another task panicked mid-update; routing state stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn connect(&self) -> (ClientId, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel(self.max_queued);
        let mut st = self.lock();
        let id = st.relay.connect();
        st.queues.insert(id, tx);
        (id, rx)
    }

    fn receive(&self, from: ClientId, text: &str) {
        let mut st = self.lock();
        st.relay.receive(from, text);
        st.deliver();
    }

    fn disconnect(&self, client: ClientId) {
        let mut st = self.lock();
        st.queues.remove(&client);
        st.relay.disconnect(client);
        st.deliver();
    }
}

impl HubState {
    /// Hand every routed frame to its client's queue. A client whose queue is full is not
    /// reading: drop it (its task sees the closed queue and closes the socket).
    fn deliver(&mut self) {
        loop {
            let mut stuck = Vec::new();
            while let Some((to, text)) = self.relay.poll_output() {
                let Some(queue) = self.queues.get(&to) else {
                    continue;
                };
                if queue.try_send(text).is_err() {
                    warn!(client = %to, "relay: client not reading, dropping it");
                    stuck.push(to);
                }
            }
            if stuck.is_empty() {
                return;
            }
            for client in stuck {
                self.queues.remove(&client);
                self.relay.disconnect(client);
            }
        }
    }
}

async fn handle_client(hub: Arc<Hub>, stream: TcpStream, peer: SocketAddr, opts: ServerOptions) {
    let _ = stream.set_nodelay(true);
    let config = WebSocketConfig::default()
        .max_message_size(Some(opts.max_message_bytes))
        .max_frame_size(Some(opts.max_message_bytes));
    let handshake = tokio_tungstenite::accept_async_with_config(stream, Some(config));
    let mut ws = match tokio::time::timeout(opts.handshake_timeout, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            warn!(%peer, error = %e, "relay: WebSocket handshake failed");
            return;
        }
        Err(_) => {
            warn!(%peer, "relay: WebSocket handshake timed out");
            return;
        }
    };
    let (id, mut outgoing) = hub.connect();
    debug!(%peer, client = %id, "relay: client connected");

    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval(opts.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await; // The first tick is immediate.
    let close_reason = loop {
        tokio::select! {
            frame = ws.next() => {
                let Some(frame) = frame else { break None };
                last_heard = Instant::now();
                match frame {
                    Ok(Message::Text(text)) => hub.receive(id, text.as_str()),
                    // vdoninja.js parses binary frames as text too.
                    Ok(Message::Binary(bytes)) => match std::str::from_utf8(&bytes) {
                        Ok(text) => hub.receive(id, text),
                        Err(_) => warn!(client = %id, "relay: non-UTF-8 binary frame dropped"),
                    },
                    // tungstenite answers pings itself.
                    Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                    Ok(Message::Close(_)) => break None,
                    Err(WsError::Capacity(e)) => {
                        warn!(client = %id, error = %e, "relay: oversized frame, closing");
                        break Some((CloseCode::Size, "message too big"));
                    }
                    Err(e) => {
                        debug!(client = %id, error = %e, "relay: connection error");
                        break None;
                    }
                }
            }
            queued = outgoing.recv() => {
                let Some(text) = queued else {
                    break Some((CloseCode::Policy, "not reading"));
                };
                // Bounded, so a peer that stops reading cannot pin this task forever.
                match tokio::time::timeout(opts.idle_timeout, ws.send(Message::text(text))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        debug!(client = %id, error = %e, "relay: send failed");
                        break None;
                    }
                    Err(_) => break Some((CloseCode::Policy, "not reading")),
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= opts.idle_timeout {
                    info!(client = %id, "relay: client idle, closing");
                    break Some((CloseCode::Away, "idle"));
                }
                let ping = ws.send(Message::Ping(Default::default()));
                if !matches!(tokio::time::timeout(opts.idle_timeout, ping).await, Ok(Ok(()))) {
                    break None;
                }
            }
        }
    };
    hub.disconnect(id);
    if let Some((code, reason)) = close_reason {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        // Best effort close handshake: wait (briefly) for the peer's reply so it can read our
        // close frame before the socket goes away; the peer may already be gone.
        let handshake = async {
            if ws.close(Some(frame)).await.is_ok() {
                while let Some(Ok(_)) = ws.next().await {}
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), handshake).await;
    }
    debug!(%peer, client = %id, "relay: client disconnected");
}
