//! Drives one synthetic publisher (`roomrec_testpeer::Publisher`) over a real WebSocket and UDP socket.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use roomrec_testpeer::{Publisher, PublisherConfig, PublisherInput, PublisherOutput};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublisherCommand {
    /// Data-channel bye, then close the WebSocket and stop.
    HangUp,
    SetVideoMuted(bool),
}

pub struct PublisherHandle {
    pub stream_id: String,
    pub local_addr: SocketAddr,
    commands: mpsc::UnboundedSender<PublisherCommand>,
    pub task: JoinHandle<u64>,
}

impl PublisherHandle {
    pub fn send(&self, command: PublisherCommand) {
        let _ = self.commands.send(command);
    }

    /// Hang up and wait for the task; returns the number of frames it sent.
    pub async fn hang_up(self) -> u64 {
        self.send(PublisherCommand::HangUp);
        self.task.await.unwrap_or(0)
    }
}

/// Binds a UDP socket on `ip`, connects to `server` and runs the publisher until hung up or the
/// WebSocket closes.
pub async fn spawn_publisher(
    server: &str,
    ip: IpAddr,
    config: PublisherConfig,
) -> std::io::Result<PublisherHandle> {
    spawn_lossy_publisher(server, ip, config, 0.0).await
}

/// Like [`spawn_publisher`], dropping each outgoing datagram with probability `loss` (seeded from
/// the config) to emulate a lossy uplink.
pub async fn spawn_lossy_publisher(
    server: &str,
    ip: IpAddr,
    mut config: PublisherConfig,
    loss: f64,
) -> std::io::Result<PublisherHandle> {
    let socket = UdpSocket::bind((ip, 0)).await?;
    let local_addr = socket.local_addr()?;
    config.local_addr = local_addr;
    start(server, socket, config, loss).await
}

/// Like [`spawn_publisher`] behind a NAT: first asks `stun` what its socket maps to and announces
/// that too (a server-reflexive candidate, as a browser would).
pub async fn spawn_publisher_with_stun(
    server: &str,
    ip: IpAddr,
    mut config: PublisherConfig,
    stun: SocketAddr,
) -> std::io::Result<PublisherHandle> {
    let socket = UdpSocket::bind((ip, 0)).await?;
    let local_addr = socket.local_addr()?;
    config.local_addr = local_addr;
    config.reflexive_addr = Some(reflexive_address(&socket, stun, config.seed).await?);
    start(server, socket, config, 0.0).await
}

/// One STUN binding transaction on `socket` (core's client; the socket is ours until it ends).
async fn reflexive_address(
    socket: &UdpSocket,
    stun: SocketAddr,
    seed: u64,
) -> std::io::Result<SocketAddr> {
    use roomrec_core::ice::{BindingClient, BindingEvent};
    let local = socket.local_addr()?;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut client = BindingClient::new(Instant::now(), [(local, stun)], &mut rng);
    let mut buf = vec![0u8; 2048];
    loop {
        while let Some(t) = client.poll_transmit() {
            socket.send_to(&t.contents, t.destination).await?;
        }
        match client.poll_event() {
            Some(BindingEvent::Mapped { mapped, .. }) => return Ok(mapped),
            Some(BindingEvent::Failed { reason, .. }) => {
                return Err(std::io::Error::other(format!("STUN {stun}: {reason}")))
            }
            None => {}
        }
        let wake = client
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let (n, source) = received?;
                client.handle_datagram(source, local, &buf[..n]);
            }
            _ = tokio::time::sleep_until(wake.into()) => client.handle_timeout(Instant::now()),
        }
    }
}

async fn start(
    server: &str,
    socket: UdpSocket,
    config: PublisherConfig,
    loss: f64,
) -> std::io::Result<PublisherHandle> {
    let local_addr = config.local_addr;
    let (ws, _) = tokio_tungstenite::connect_async(server)
        .await
        .map_err(std::io::Error::other)?;
    let (commands, rx) = mpsc::unbounded_channel();
    let stream_id = config.stream_id.clone();
    let loss = Loss {
        rate: loss,
        rng: fastrand::Rng::with_seed(config.seed),
    };
    let publisher = Publisher::new(config);
    let task = tokio::spawn(drive(publisher, socket, ws, rx, loss));
    Ok(PublisherHandle {
        stream_id,
        local_addr,
        commands,
        task,
    })
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Loss {
    rate: f64,
    rng: fastrand::Rng,
}

async fn drive(
    mut p: Publisher,
    socket: UdpSocket,
    ws: Ws,
    mut commands: mpsc::UnboundedReceiver<PublisherCommand>,
    mut loss: Loss,
) -> u64 {
    let (mut ws_tx, mut ws_rx) = ws.split();
    let local = socket.local_addr().expect("bound socket has an address");
    let mut buf = vec![0u8; 2048];
    p.handle_input(Instant::now(), PublisherInput::SignalingUp);
    let mut stopping = false;
    loop {
        while let Some(output) = p.poll_output() {
            match output {
                PublisherOutput::SendSignaling(text) => {
                    let _ = ws_tx.send(Message::text(text)).await;
                }
                PublisherOutput::Transmit {
                    destination,
                    contents,
                    ..
                } => {
                    if loss.rate == 0.0 || loss.rng.f64() >= loss.rate {
                        let _ = socket.send_to(&contents, destination).await;
                    }
                }
            }
        }
        if stopping {
            let _ = ws_tx.close().await;
            return p.frames_sent();
        }
        let wake = p
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_millis(100));
        tokio::select! {
            msg = ws_rx.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    p.handle_input(Instant::now(), PublisherInput::SignalingText(&text))
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    p.handle_input(Instant::now(), PublisherInput::SignalingDown);
                    p.hang_up(Instant::now());
                    stopping = true;
                }
            },
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = received {
                    let input = PublisherInput::Datagram {
                        source,
                        destination: local,
                        contents: &buf[..n],
                    };
                    p.handle_input(Instant::now(), input);
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                p.handle_input(Instant::now(), PublisherInput::Timeout)
            }
            command = commands.recv() => match command {
                Some(PublisherCommand::SetVideoMuted(muted)) => p.set_video_muted(muted),
                Some(PublisherCommand::HangUp) | None => {
                    p.hang_up(Instant::now());
                    stopping = true;
                }
            },
        }
    }
}
