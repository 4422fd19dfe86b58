//! `--udp-port`: many connections on one UDP port. One thread per port owns the port's sockets
//! (one per ICE address) and every connection placed on it; core's [`Demux`] says which
//! connection each datagram belongs to. Per datagram that is one `recvfrom` and no task wake-up,
//! channel or allocation, where a task per connection needs all three.
//!
//! Connections with TURN servers keep a task and sockets of their own (`connection_task`): a
//! TURN allocation belongs to its client's address and port, so they cannot share one.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use roomrec_core::connection::{
    CloseReason, Connection, ConnectionCommand, ConnectionHandle, ConnectionInput,
    ConnectionOutput, ConnectionReport, ConnectionStart,
};
use roomrec_core::demux::Demux;
use tokio::sync::mpsc;

use crate::connection_task::{carry_out, ShellContext};
use crate::files::RecorderFiles;
use crate::options::PortRange;

const RECV_BUFFER: usize = 4096;
/// Datagrams read in a row before timers and commands get a turn.
const RECV_BURST: usize = 256;
/// After reading, the loop lets datagrams gather this long before it reads again, so one
/// wake-up serves many of them (waking a thread costs more than handling a datagram; a
/// recording does not mind a millisecond or two). Timers due meanwhile wait as long.
const GATHER: Duration = Duration::from_millis(2);
/// When idle, the loop looks at the room's inputs at least this often.
const IDLE_CHECK: Duration = Duration::from_millis(10);
/// Kernel receive buffer asked for per shared socket: what arrives while the loop gathers or
/// works. Capped by `net.core.rmem_max` unless we may force it.
const SOCKET_RECV_BUFFER: libc::c_int = 8 << 20;

/// What the room task asks of a port's loop.
pub(crate) enum LoopInput {
    Start(Box<ConnectionStart>),
    Command(ConnectionHandle, ConnectionCommand),
}

/// The sockets of one shared port, one per ICE address (non-blocking).
pub(crate) struct PortSockets(Vec<std::net::UdpSocket>);

/// Binds every port of `ports` on every address of `ips`. A port in use is an error: the user
/// asked for exactly these.
pub(crate) fn bind(ports: PortRange, ips: &[IpAddr]) -> io::Result<Vec<PortSockets>> {
    if ips.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::AddrNotAvailable,
            "no address to bind (see --ice-ip)",
        ));
    }
    (0..ports.len())
        .map(|i| {
            let port = ports.nth(i);
            ips.iter()
                .map(|ip| {
                    let socket = std::net::UdpSocket::bind(SocketAddr::new(*ip, port));
                    socket
                        .and_then(|s| s.set_nonblocking(true).map(|()| s))
                        .map_err(|e| io::Error::new(e.kind(), format!("UDP {ip} port {port}: {e}")))
                })
                .collect::<io::Result<Vec<_>>>()
                .map(PortSockets)
        })
        .collect()
}

/// Runs the connections of one port on a thread of its own (one event loop per port, nothing
/// shared with other loops or woken across threads) until `inputs` is closed and every
/// connection has closed. The returned future ends with the thread; it panics if the loop did.
pub(crate) fn spawn_port(
    n: usize,
    ctx: Arc<ShellContext>,
    sockets: PortSockets,
    inputs: mpsc::UnboundedReceiver<LoopInput>,
) -> impl std::future::Future<Output = ()> {
    let (done_tx, done) = tokio::sync::oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name(format!("udp-port-{n}"))
        .spawn(move || {
            run_port(ctx, sockets, inputs);
            let _ = done_tx.send(());
        });
    async move {
        if let Err(e) = spawned {
            panic!("cannot start the thread of UDP port {n}: {e}");
        }
        // Dropped without a word: the thread panicked.
        done.await.expect("the loop thread of a UDP port panicked");
    }
}

/// The loop: take the room's inputs, read every socket dry, fire due timers, then wait. After a
/// round that read datagrams it sleeps [`GATHER`] (no readiness events: with edge-triggered
/// epoll every arriving datagram would wake the thread again); after a quiet round it blocks
/// in `poll(2)` until a datagram, the next timer or [`IDLE_CHECK`].
fn run_port(
    ctx: Arc<ShellContext>,
    sockets: PortSockets,
    mut inputs: mpsc::UnboundedReceiver<LoopInput>,
) {
    let mut port = PortLoop {
        ctx,
        sockets: sockets.0.into_iter().filter_map(local_socket).collect(),
        demux: Demux::new(),
        slots: HashMap::new(),
        timers: BinaryHeap::new(),
    };
    for socket in &port.sockets {
        grow_receive_buffer(socket);
    }
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut inputs_open = true;
    while inputs_open || !port.slots.is_empty() {
        while inputs_open {
            match inputs.try_recv() {
                Ok(LoopInput::Start(start)) => port.start(*start),
                Ok(LoopInput::Command(handle, cmd)) => {
                    port.input(handle, ConnectionInput::Command(cmd))
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    inputs_open = false;
                    let handles: Vec<_> = port.slots.keys().copied().collect();
                    for handle in handles {
                        port.input(handle, ConnectionInput::Command(ConnectionCommand::Close));
                    }
                }
            }
        }
        let mut received = 0;
        let mut behind = false;
        for idx in 0..port.sockets.len() {
            let count = port.receive(idx, &mut buf);
            received += count;
            behind |= count == RECV_BURST;
        }
        port.fire_timers();
        if behind {
            // More is waiting than a burst: no pause until the sockets are read dry.
            continue;
        } else if received > 0 {
            std::thread::sleep(GATHER);
        } else {
            let now = Instant::now();
            let next_timer = port.timers.peek().map(|Reverse((t, _))| *t);
            let wait = next_timer.map_or(IDLE_CHECK, |t| t.saturating_duration_since(now));
            wait_readable(&port.sockets, wait.min(IDLE_CHECK));
        }
    }
}

struct PortLoop {
    ctx: Arc<ShellContext>,
    sockets: Vec<PortSocket>,
    demux: Demux,
    slots: HashMap<ConnectionHandle, Slot>,
    /// Each connection's `poll_timeout`; entries that no longer match the slot's are skipped.
    timers: BinaryHeap<Reverse<(Instant, ConnectionHandle)>>,
}

struct Slot {
    connection: Connection,
    files: RecorderFiles,
    /// The timer entry that counts.
    deadline: Option<Instant>,
}

impl PortLoop {
    fn start(&mut self, start: ConnectionStart) {
        let handle = start.handle;
        let locals: Vec<SocketAddr> = self.sockets.iter().map(|s| s.local).collect();
        let now = Instant::now();
        let built = catch_unwind(AssertUnwindSafe(|| {
            Connection::new(now, SystemTime::now(), start, &locals)
        }));
        let Ok(connection) = built else {
            self.failed(handle);
            return;
        };
        let ufrag_taken = connection
            .local_ufrag()
            .is_some_and(|ufrag| !self.demux.add(handle, ufrag));
        self.slots.insert(
            handle,
            Slot {
                connection,
                files: RecorderFiles::new(self.ctx.files.clone()),
                deadline: None,
            },
        );
        self.after_input(handle, now);
        if ufrag_taken {
            tracing::error!(%handle, "ICE ufrag already used by another connection on this port; closing");
            self.input(handle, ConnectionInput::Command(ConnectionCommand::Close));
        }
    }

    fn input(&mut self, handle: ConnectionHandle, input: ConnectionInput) {
        let now = Instant::now();
        self.step(handle, now, |c| {
            c.handle_input(now, SystemTime::now(), input)
        });
    }

    /// Runs `step` on the connection (a panic in it drops only that connection), then carries
    /// out what it produced.
    fn step(&mut self, handle: ConnectionHandle, now: Instant, step: impl FnOnce(&mut Connection)) {
        let Some(slot) = self.slots.get_mut(&handle) else {
            return;
        };
        match catch_unwind(AssertUnwindSafe(|| step(&mut slot.connection))) {
            Ok(()) => self.after_input(handle, now),
            Err(_) => self.failed(handle),
        }
    }

    /// Reads what the socket has (up to a burst) and hands each datagram to its connection;
    /// returns how many it read.
    fn receive(&mut self, idx: usize, buf: &mut [u8]) -> usize {
        for count in 0..RECV_BURST {
            let socket = &self.sockets[idx];
            let (len, source) = match socket.socket.recv_from(buf) {
                Ok(received) => received,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return count,
                Err(e) => {
                    // ICMP errors (a guest gone) surface here; the next round reads on.
                    tracing::debug!("UDP receive error on {}: {e}", socket.local);
                    return count + 1;
                }
            };
            let local = socket.local;
            let contents = &buf[..len];
            let now = Instant::now();
            let Some(handle) = self.demux.route(now, source, local, contents) else {
                tracing::trace!(%source, %local, len, "datagram for no connection");
                continue;
            };
            self.step(handle, now, |c| {
                c.handle_receive(now, SystemTime::now(), source, local, contents)
            });
        }
        RECV_BURST
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((at, handle))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let due = self
                .slots
                .get_mut(&handle)
                .is_some_and(|slot| slot.deadline == Some(at) && slot.deadline.take().is_some());
            if due {
                self.input(handle, ConnectionInput::Timeout);
            }
        }
        // Stale entries pile up when deadlines move often; start over once they dominate.
        if self.timers.len() > 4 * self.slots.len() + 64 {
            self.timers = self
                .slots
                .iter()
                .filter_map(|(h, s)| s.deadline.map(|t| Reverse((t, *h))))
                .collect();
        }
    }

    /// Carries out the connection's outputs, re-arms its timer, forgets it once closed.
    fn after_input(&mut self, handle: ConnectionHandle, now: Instant) {
        let Some(slot) = self.slots.get_mut(&handle) else {
            return;
        };
        while let Some(output) = slot.connection.poll_output() {
            match carry_out(&self.ctx, handle, &mut slot.files, output) {
                Some(ConnectionOutput::Transmit {
                    source,
                    destination,
                    contents,
                }) => {
                    self.demux.outgoing(now, handle, &contents);
                    transmit(&self.sockets, source, destination, &contents);
                }
                Some(ConnectionOutput::Stream(_)) => {
                    tracing::warn!(%handle, "a connection on a shared port asked for a TCP stream; ignored");
                }
                _ => {}
            }
        }
        if slot.connection.is_closed() {
            if !slot.files.is_empty() {
                tracing::error!(%handle, open = slot.files.len(), "a closed connection left files open; closing them");
            }
            self.slots.remove(&handle);
            self.demux.remove(handle);
            return;
        }
        let deadline = slot.connection.poll_timeout();
        if deadline != slot.deadline {
            slot.deadline = deadline;
            if let Some(at) = deadline {
                self.timers.push(Reverse((at, handle)));
            }
        }
    }

    /// A connection that panicked is dropped; only it is lost, its files keep what was written.
    fn failed(&mut self, handle: ConnectionHandle) {
        tracing::error!(%handle, "connection panicked; dropping it");
        self.slots.remove(&handle);
        self.demux.remove(handle);
        let reason = CloseReason::Internal("connection panicked".to_string());
        let _ = self
            .ctx
            .reports
            .send((handle, ConnectionReport::Closed(reason)));
    }
}

/// One shared socket (non-blocking).
struct PortSocket {
    local: SocketAddr,
    socket: std::net::UdpSocket,
}

fn local_socket(socket: std::net::UdpSocket) -> Option<PortSocket> {
    match socket.local_addr() {
        Ok(local) => Some(PortSocket { local, socket }),
        Err(e) => {
            tracing::error!("a shared UDP socket has no address: {e}");
            None
        }
    }
}

/// Blocks until some socket is readable or `timeout` has passed.
fn wait_readable(sockets: &[PortSocket], timeout: Duration) {
    let mut fds: Vec<libc::pollfd> = sockets
        .iter()
        .map(|s| libc::pollfd {
            fd: s.socket.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // Rounded up: a timer due in 0.3 ms must not turn into a busy loop of zero-timeout polls.
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `fds` is a valid array of `fds.len()` pollfd structs for the duration of the call.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
}

/// Asks for a large kernel receive buffer (forced when privileged, else up to rmem_max).
fn grow_receive_buffer(socket: &PortSocket) {
    let fd = socket.socket.as_raw_fd();
    let size = SOCKET_RECV_BUFFER;
    let set = |option| {
        // SAFETY: a valid socket descriptor and a c_int option value of the right length.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            ) == 0
        }
    };
    if !set(libc::SO_RCVBUFFORCE) && !set(libc::SO_RCVBUF) {
        tracing::debug!(local = %socket.local, "cannot grow the UDP receive buffer: {}", io::Error::last_os_error());
    }
}

fn transmit(sockets: &[PortSocket], source: SocketAddr, destination: SocketAddr, contents: &[u8]) {
    let Some(socket) = sockets.iter().find(|s| s.local == source) else {
        tracing::debug!(%source, "transmit from an address we have no socket for");
        return;
    };
    // UDP may drop: a full send buffer loses this datagram rather than stalling every connection.
    if let Err(e) = socket.socket.send_to(contents, destination) {
        tracing::debug!(%destination, "UDP send failed: {e}");
    }
}
