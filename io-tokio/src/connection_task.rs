//! One tokio task per connection: its own UDP sockets and its core `Connection`. The task moves
//! datagrams, time and file operations; every decision is the connection's. Nothing on this
//! packet path is shared with other connections.

use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Instant, SystemTime};

use roomrec_core::connection::{
    Connection, ConnectionCommand, ConnectionHandle, ConnectionInput, ConnectionOutput,
    ConnectionReport, ConnectionStart, FileOp, StreamOp,
};
use tokio::io::ReadBuf;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::files::{FileSink, RecorderFiles};
use crate::manifest::ManifestSender;
use crate::netif;
use crate::options::PortRange;
use crate::status::{feed, StatusHub};
use crate::streams::{StreamEvent, Streams};
use crate::wake::wake_at;

const RECV_BUFFER: usize = 4096;

/// What every connection task shares (read-only).
pub(crate) struct ShellContext {
    pub ice_ips: Vec<IpAddr>,
    pub files: FileSink,
    pub manifest: ManifestSender,
    pub reports: mpsc::UnboundedSender<(ConnectionHandle, ConnectionReport)>,
    pub status: StatusHub,
    pub udp_ports: UdpPorts,
}

/// Where connections bind their UDP sockets: any free port, or the first free one in a range,
/// starting after the last one handed out (so a port just released is not reused at once).
pub(crate) struct UdpPorts {
    range: Option<PortRange>,
    next: AtomicUsize,
}

impl UdpPorts {
    pub fn new(range: Option<PortRange>) -> UdpPorts {
        UdpPorts {
            range,
            next: AtomicUsize::new(0),
        }
    }

    fn bind(&self, ip: IpAddr) -> io::Result<LocalSocket> {
        let Some(range) = self.range else {
            return bind_one(SocketAddr::new(ip, 0));
        };
        let start = self.next.load(Ordering::Relaxed);
        for i in 0..range.len() {
            let port = range.nth(start + i);
            match bind_one(SocketAddr::new(ip, port)) {
                Ok(socket) => {
                    self.next.store(start + i + 1, Ordering::Relaxed);
                    return Ok(socket);
                }
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("every port of --port-range {range} is in use"),
        ))
    }
}

/// Binds the sockets, builds the connection and runs it until it reports `Closed`.
pub(crate) async fn run_connection(
    ctx: Arc<ShellContext>,
    start: Box<ConnectionStart>,
    commands: mpsc::UnboundedReceiver<ConnectionCommand>,
) {
    let sockets = bind_sockets(&ctx.udp_ports, &netif::ice_addresses(&ctx.ice_ips));
    let local_addrs: Vec<SocketAddr> = sockets.iter().map(|s| s.local).collect();
    let handle = start.handle;
    let connection = Connection::new(Instant::now(), SystemTime::now(), *start, &local_addrs);
    let mut task = ConnectionLoop {
        files: RecorderFiles::new(ctx.files.clone()),
        ctx,
        handle,
        connection,
        sockets,
        streams: Streams::new(),
    };
    task.drain();
    task.run(commands).await;
    if !task.files.is_empty() {
        tracing::error!(%handle, open = task.files.len(), "a closed connection left files open; closing them");
    }
}

/// One UDP socket per address: tokio's for receiving, a clone of it for sending (a plain
/// non-blocking send: tokio's `try_send_to` refuses until the reactor has seen the socket writable,
/// which loses a fresh connection's first STUN and TURN requests).
fn bind_sockets(ports: &UdpPorts, ips: &[IpAddr]) -> Vec<LocalSocket> {
    let mut out = Vec::new();
    for ip in ips {
        match ports.bind(*ip) {
            Ok(socket) => out.push(socket),
            Err(e) => tracing::warn!("cannot bind a UDP socket on {ip}: {e}"),
        }
    }
    out
}

fn bind_one(addr: SocketAddr) -> io::Result<LocalSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    let sender = socket.try_clone()?;
    let local = socket.local_addr()?;
    Ok(LocalSocket {
        local,
        receiver: UdpSocket::from_std(socket)?,
        sender,
    })
}

struct LocalSocket {
    local: SocketAddr,
    receiver: UdpSocket,
    sender: std::net::UdpSocket,
}

struct ConnectionLoop {
    ctx: Arc<ShellContext>,
    handle: ConnectionHandle,
    connection: Connection,
    sockets: Vec<LocalSocket>,
    /// TCP streams to TURN servers.
    streams: Streams,
    files: RecorderFiles,
}

impl ConnectionLoop {
    /// Runs until the connection has closed.
    async fn run(&mut self, mut commands: mpsc::UnboundedReceiver<ConnectionCommand>) {
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut next_socket = 0usize;
        let mut commands_open = true;
        while !self.connection.is_closed() {
            let wake = wake_at(Instant::now(), self.connection.poll_timeout());
            let input = tokio::select! {
                (idx, res) = recv_any(&self.sockets, &mut buf, &mut next_socket) => match res {
                    Ok((len, source)) => ConnectionInput::Datagram {
                        source,
                        destination: self.sockets[idx].local,
                        contents: buf[..len].to_vec(),
                    },
                    Err(e) => {
                        tracing::debug!(handle = %self.handle, "UDP receive error: {e}");
                        continue;
                    }
                },
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(cmd) => ConnectionInput::Command(cmd),
                    // The room task going away means close, like an explicit Close.
                    None => {
                        commands_open = false;
                        ConnectionInput::Command(ConnectionCommand::Close)
                    }
                },
                event = self.streams.next() => match event {
                    StreamEvent::Opened { remote, local } => ConnectionInput::StreamOpened { remote, local },
                    StreamEvent::Data { remote, contents } => ConnectionInput::StreamData { remote, contents },
                    StreamEvent::Closed { remote, error } => ConnectionInput::StreamClosed { remote, error },
                },
                _ = tokio::time::sleep_until(wake.into()) => ConnectionInput::Timeout,
            };
            self.connection
                .handle_input(Instant::now(), SystemTime::now(), input);
            self.drain();
        }
    }

    fn drain(&mut self) {
        while let Some(output) = self.connection.poll_output() {
            match carry_out(&self.ctx, self.handle, &mut self.files, output) {
                Some(ConnectionOutput::Transmit {
                    source,
                    destination,
                    contents,
                }) => self.transmit(source, destination, &contents),
                Some(ConnectionOutput::Stream(StreamOp::Open { remote })) => {
                    self.streams.open(remote)
                }
                Some(ConnectionOutput::Stream(StreamOp::Send { remote, contents })) => {
                    self.streams.send(remote, contents)
                }
                _ => {}
            }
        }
    }

    fn transmit(&self, source: SocketAddr, destination: SocketAddr, contents: &[u8]) {
        let Some(socket) = self.sockets.iter().find(|s| s.local == source) else {
            tracing::debug!(handle = %self.handle, %source, "transmit from an address we have no socket for");
            return;
        };
        // UDP may drop: a full send buffer loses this datagram rather than stalling the task.
        if let Err(e) = socket.sender.send_to(contents, destination) {
            tracing::debug!(handle = %self.handle, %destination, "UDP send failed: {e}");
        }
    }
}

/// Carries out the outputs every shell handles alike (files, reports, events); returns the
/// network ones (`Transmit`, `Stream`) for the caller's sockets.
pub(crate) fn carry_out(
    ctx: &ShellContext,
    handle: ConnectionHandle,
    files: &mut RecorderFiles,
    output: ConnectionOutput,
) -> Option<ConnectionOutput> {
    match output {
        ConnectionOutput::File(op) => match op {
            FileOp::Open {
                file,
                base_name,
                extension,
            } => files.open(file, &base_name, extension),
            FileOp::Write { file, bytes } => files.write(file, bytes),
            FileOp::Flush { file } => files.flush(file),
            FileOp::Finalize { file, patches } => files.finalize(file, patches),
            FileOp::Record(record) => {
                feed::file_record(&ctx.status, handle, &record);
                ctx.manifest.file_record(record)
            }
        },
        ConnectionOutput::Report(report) => {
            let _ = ctx.reports.send((handle, report));
        }
        ConnectionOutput::Event(event) => {
            tracing::trace!(%handle, ?event, "connection event");
            feed::connection_event(&ctx.status, handle, &event);
        }
        network => return Some(network),
    }
    None
}

/// Next datagram from any socket (round-robin so one busy socket cannot starve the others).
/// Without sockets it never completes (the connection closes by itself then).
async fn recv_any(
    sockets: &[LocalSocket],
    buf: &mut [u8],
    next: &mut usize,
) -> (usize, io::Result<(usize, SocketAddr)>) {
    poll_fn(|cx| {
        let n = sockets.len();
        for i in 0..n {
            let idx = (*next + i) % n;
            let mut rb = ReadBuf::new(&mut *buf);
            match sockets[idx].receiver.poll_recv_from(cx, &mut rb) {
                Poll::Ready(res) => {
                    *next = (idx + 1) % n;
                    return Poll::Ready((idx, res.map(|src| (rb.filled().len(), src))));
                }
                Poll::Pending => {}
            }
        }
        Poll::Pending
    })
    .await
}
