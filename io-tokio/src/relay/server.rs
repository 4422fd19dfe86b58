//! WebSocket front end of the relay: one task per client, one shared [`Hub`] behind a mutex
//! (signaling volume is tiny and the lock is never held across an await).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;
use tracing::{debug, info, warn};

use roomrec_relay::Dialect;

use super::conns::{forwarded_for, Conns, Slot};
use super::hub::{Hub, Verdict};
use super::ServerOptions;

/// Frames written per flush, so one busy client cannot hog its task's loop.
const WRITE_BATCH: usize = 64;

/// Serve WebSocket clients (plain `ws://`, any path) from `listener` until the future is dropped.
/// Dropping it (or aborting its task) also closes every client connection.
pub async fn serve(listener: TcpListener, dialect: Dialect) -> std::io::Result<()> {
    serve_with(listener, ServerOptions::new(dialect)).await
}

pub async fn serve_with(listener: TcpListener, opts: ServerOptions) -> std::io::Result<()> {
    let hub = Arc::new(Hub::new(opts.clone()));
    let conns = Conns::new(opts.max_connections, opts.max_connections_per_ip);
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, dialect = %opts.dialect, "relay listening");
    }
    // Owning the client tasks here ties their lifetime to this future.
    let mut clients = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Refused sockets are closed at once: no task, no buffers.
                    let Some(mut slot) = conns.open() else { continue };
                    let behind_proxy = opts.trusted_proxies.contains(&peer.ip());
                    if !behind_proxy && !slot.claim_ip(peer.ip()) {
                        continue;
                    }
                    let client = handle_client(hub.clone(), stream, peer, slot, behind_proxy, opts.clone());
                    clients.spawn(client);
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

type Ws = WebSocketStream<TcpStream>;

/// The HTTP upgrade; with `behind_proxy`, also the client address from `X-Forwarded-For`.
async fn upgrade(
    stream: TcpStream,
    peer: SocketAddr,
    behind_proxy: bool,
    opts: &ServerOptions,
) -> Option<(Ws, IpAddr)> {
    let _ = stream.set_nodelay(true);
    // Small read buffers: idle sockets should cost little memory.
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(opts.max_message_bytes * 4)
        .max_message_size(Some(opts.max_message_bytes))
        .max_frame_size(Some(opts.max_message_bytes));
    let mut client_ip = peer.ip();
    // The error type is tungstenite's (a whole HTTP response); this callback never fails.
    #[allow(clippy::result_large_err)]
    let read_header = |req: &Request, resp: Response| {
        if behind_proxy {
            let header = req.headers().get("x-forwarded-for");
            if let Some(ip) = header.and_then(|v| v.to_str().ok()).and_then(forwarded_for) {
                client_ip = ip;
            }
        }
        Ok(resp)
    };
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, read_header, Some(config));
    match tokio::time::timeout(opts.handshake_timeout, handshake).await {
        Ok(Ok(ws)) => Some((ws, client_ip)),
        Ok(Err(e)) => {
            debug!(%peer, error = %e, "relay: WebSocket handshake failed");
            None
        }
        Err(_) => {
            debug!(%peer, "relay: WebSocket handshake timed out");
            None
        }
    }
}

async fn handle_client(
    hub: Arc<Hub>,
    stream: TcpStream,
    peer: SocketAddr,
    mut slot: Slot,
    behind_proxy: bool,
    opts: ServerOptions,
) {
    let Some((mut ws, client_ip)) = upgrade(stream, peer, behind_proxy, &opts).await else {
        return;
    };
    if behind_proxy && !slot.claim_ip(client_ip) {
        close(&mut ws, CloseCode::Policy, "too many connections").await;
        return;
    }
    let (id, outbox) = hub.connect();
    debug!(%peer, %client_ip, client = %id, "relay: client connected");

    let mut last_heard = Instant::now();
    let join_deadline = Instant::now() + opts.join_timeout;
    let mut joined = false;
    let mut ping = tokio::time::interval(opts.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await; // The first tick is immediate.
    let close_reason = loop {
        tokio::select! {
            frame = ws.next() => {
                let Some(frame) = frame else { break None };
                last_heard = Instant::now();
                let verdict = match frame {
                    Ok(Message::Text(text)) => hub.receive(id, text.as_str()),
                    // vdoninja.js parses binary frames as text too; garbage is charged all the same.
                    Ok(Message::Binary(bytes)) => hub.receive(id, &String::from_utf8_lossy(&bytes)),
                    // tungstenite answers pings itself.
                    Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => Verdict::Keep,
                    Ok(Message::Close(_)) => break None,
                    Err(WsError::Capacity(e)) => {
                        warn!(client = %id, error = %e, "relay: oversized frame, closing");
                        break Some((CloseCode::Size, "message too big"));
                    }
                    Err(e) => {
                        debug!(client = %id, error = %e, "relay: connection error");
                        break None;
                    }
                };
                if verdict == Verdict::CutOff {
                    break Some((CloseCode::Policy, "rate limit"));
                }
            }
            queued = outbox.pop() => {
                let Some(first) = queued else {
                    break Some((CloseCode::Policy, "not reading"));
                };
                let batch = async {
                    ws.feed(Message::text(first)).await?;
                    for _ in 1..WRITE_BATCH {
                        let Some(text) = outbox.try_pop() else { break };
                        ws.feed(Message::text(text)).await?;
                    }
                    ws.flush().await
                };
                // Bounded, so a peer that stops reading cannot pin this task forever.
                match tokio::time::timeout(opts.idle_timeout, batch).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        debug!(client = %id, error = %e, "relay: send failed");
                        break None;
                    }
                    Err(_) => break Some((CloseCode::Policy, "not reading")),
                }
            }
            _ = tokio::time::sleep_until(join_deadline), if !joined => {
                joined = hub.in_room(id);
                if !joined {
                    info!(client = %id, %client_ip, "relay: no joinroom in time, closing");
                    break Some((CloseCode::Policy, "join timeout"));
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
        close(&mut ws, code, reason).await;
    }
    debug!(%peer, client = %id, "relay: client disconnected");
}

/// Best effort close handshake: wait (briefly) for the peer's reply so it can read our close
/// frame before the socket goes away; the peer may already be gone.
async fn close(ws: &mut Ws, code: CloseCode, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let handshake = async {
        if ws.close(Some(frame)).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), handshake).await;
}
