//! Signaling WebSocket client: connects, reconnects with exponential backoff, and moves text frames.
//!
//! Every connection gets a generation number. Outgoing text is tagged with the generation its
//! sender saw come up, and text meant for an older connection is dropped: after a reconnect the room
//! starts over (joinroom) instead of replaying stale messages on the new socket.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Clone, Debug)]
pub struct BackoffConfig {
    /// First delay after a failure.
    pub initial: Duration,
    /// Delays double up to this.
    pub max: Duration,
    /// A connection that lasted this long resets the delay to `initial`.
    pub stable_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(10),
            stable_after: Duration::from_secs(10),
        }
    }
}

#[derive(Clone, Debug)]
pub struct WsConfig {
    pub url: String,
    pub backoff: BackoffConfig,
    /// TCP + TLS + WebSocket handshake must finish within this.
    pub handshake_timeout: Duration,
    /// We send a ping this often...
    pub keepalive: Duration,
    /// ...and give the connection up when nothing at all arrived for this long.
    pub idle_timeout: Duration,
    pub max_message_size: usize,
    /// TLS client config; None = rustls with the webpki roots (certificates verified).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl WsConfig {
    pub fn new(url: impl Into<String>) -> WsConfig {
        WsConfig {
            url: url.into(),
            backoff: BackoffConfig::default(),
            handshake_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            max_message_size: 4 << 20,
            tls: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsEvent {
    Up { generation: u64 },
    Down { generation: u64, reason: String },
    Text { generation: u64, text: String },
}

/// Handle to the connection task. Dropping it (or `close`) ends the task.
pub struct WsClient {
    out: mpsc::UnboundedSender<(u64, String)>,
    task: JoinHandle<()>,
}

impl WsClient {
    pub fn spawn(config: WsConfig) -> (WsClient, mpsc::UnboundedReceiver<WsEvent>) {
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(config, out_rx, ev_tx));
        (WsClient { out: out_tx, task }, ev_rx)
    }

    /// Queue `text` for the connection of `generation`; dropped if that connection is gone.
    pub fn send(&self, generation: u64, text: String) {
        let _ = self.out.send((generation, text));
    }

    /// Flush what is queued, send a Close frame and wait (bounded) for the task to end.
    pub async fn close(self, within: Duration) {
        let WsClient { out, mut task } = self;
        drop(out);
        if timeout(within, &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// rustls with the Mozilla roots shipped in webpki-roots; verification stays on.
pub(crate) fn default_tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    client_tls_config(Vec::new())
}

/// [`default_tls_config`] that also trusts `extra` (a private CA, e.g. `--turn-ca`).
pub(crate) fn client_tls_config(
    extra: Vec<rustls::pki_types::CertificateDer<'static>>,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra {
        roots
            .add(cert)
            .map_err(|e| format!("untrusted CA certificate: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

enum Ended {
    /// The connection is gone; reconnect.
    Dropped(String),
    /// Our owner is gone; stop.
    Quit,
}

async fn run(
    config: WsConfig,
    mut out: mpsc::UnboundedReceiver<(u64, String)>,
    events: mpsc::UnboundedSender<WsEvent>,
) {
    let tls = match config
        .tls
        .clone()
        .map(Ok)
        .unwrap_or_else(default_tls_config)
    {
        Ok(tls) => tls,
        Err(e) => {
            tracing::error!("signaling: {e}");
            return;
        }
    };
    let mut delay = config.backoff.initial;
    let mut generation = 0u64;
    loop {
        let why = match timeout(config.handshake_timeout, connect(&config, tls.clone())).await {
            Ok(Ok(mut ws)) => {
                generation += 1;
                // Whatever was queued while we were down belongs to an older connection.
                loop {
                    match out.try_recv() {
                        Ok(_) => {}
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => return,
                    }
                }
                tracing::info!(url = %config.url, "signaling connected");
                if events.send(WsEvent::Up { generation }).is_err() {
                    return;
                }
                let started = Instant::now();
                let reason = match serve(&config, &mut ws, generation, &mut out, &events).await {
                    Ended::Quit => return,
                    Ended::Dropped(reason) => reason,
                };
                if events
                    .send(WsEvent::Down {
                        generation,
                        reason: reason.clone(),
                    })
                    .is_err()
                {
                    return;
                }
                if started.elapsed() >= config.backoff.stable_after {
                    delay = config.backoff.initial;
                }
                format!("connection lost: {reason}")
            }
            Ok(Err(e)) => format!("connect failed: {e}"),
            Err(_) => "connect timed out".to_string(),
        };
        tracing::warn!(url = %config.url, "signaling {why}; reconnecting in {delay:?}");
        let wake = Instant::now() + delay;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => break,
                msg = out.recv() => if msg.is_none() { return },
            }
        }
        delay = (delay * 2).min(config.backoff.max);
    }
}

async fn connect(
    config: &WsConfig,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(config.max_message_size))
        .max_frame_size(Some(config.max_message_size));
    let connector = tokio_tungstenite::Connector::Rustls(tls);
    let (ws, _response) = tokio_tungstenite::connect_async_tls_with_config(
        config.url.as_str(),
        Some(ws_config),
        true,
        Some(connector),
    )
    .await?;
    Ok(ws)
}

async fn serve(
    config: &WsConfig,
    ws: &mut Socket,
    generation: u64,
    out: &mut mpsc::UnboundedReceiver<(u64, String)>,
    events: &mpsc::UnboundedSender<WsEvent>,
) -> Ended {
    let send_timeout = config.handshake_timeout;
    let mut keepalive =
        tokio::time::interval_at(Instant::now() + config.keepalive, config.keepalive);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            msg = ws.next() => {
                let text = match msg {
                    None => return Ended::Dropped("closed".into()),
                    Some(Err(e)) => return Ended::Dropped(e.to_string()),
                    Some(Ok(msg)) => {
                        last_heard = Instant::now();
                        match msg {
                            Message::Text(t) => t.as_str().to_owned(),
                            Message::Binary(b) => match String::from_utf8(b.to_vec()) {
                                Ok(t) => t,
                                Err(_) => {
                                    tracing::warn!(len = b.len(), "signaling: ignoring non-UTF-8 binary frame");
                                    continue;
                                }
                            },
                            // tungstenite answers pings itself (flushed on the next read).
                            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                            Message::Close(frame) => {
                                let why = frame.map(|f| format!("{} {}", f.code, f.reason)).unwrap_or_default();
                                return Ended::Dropped(format!("closed by server {why}").trim_end().to_string());
                            }
                        }
                    }
                };
                if events.send(WsEvent::Text { generation, text }).is_err() {
                    return Ended::Quit;
                }
            }
            msg = out.recv() => match msg {
                None => {
                    let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
                    return Ended::Quit;
                }
                Some((g, text)) if g == generation => {
                    match timeout(send_timeout, ws.send(Message::text(text))).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Ended::Dropped(format!("send failed: {e}")),
                        Err(_) => return Ended::Dropped("send timed out".into()),
                    }
                }
                Some((g, _)) => tracing::debug!(g, generation, "signaling: dropping text for an older connection"),
            },
            _ = keepalive.tick() => {
                if last_heard.elapsed() >= config.idle_timeout {
                    return Ended::Dropped(format!("nothing received for {:?}", config.idle_timeout));
                }
                match timeout(send_timeout, ws.send(Message::Ping(Vec::new().into()))).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Ended::Dropped(format!("ping failed: {e}")),
                    Err(_) => return Ended::Dropped("ping timed out".into()),
                }
            }
        }
    }
}
