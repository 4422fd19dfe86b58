//! TURN relays (RFC 8656) for one connection: an allocation on each configured server, reached
//! over UDP from one of the connection's sockets or over a TCP/TLS stream the caller opens.
//! Built on `turn-client-proto`; for `turns:` its TCP client runs inside a rustls connection kept
//! in memory here (the caller only moves stream bytes). turn-client-rustls 0.1 is not used: it
//! drops TLS bytes beyond one read and panics on some server input.
//!
//! # Call contract
//!
//! [`TurnRelays::new`] starts the UDP allocations and asks for streams (`RelayOutput::OpenStream`).
//! Then: feed datagrams from a TURN server to [`TurnRelays::handle_datagram`] and stream events to
//! `stream_opened` / `stream_data` / `stream_closed`; send through a relay with
//! [`TurnRelays::send`]; call [`TurnRelays::handle_timeout`] at [`TurnRelays::poll_timeout`]; after
//! each call read [`TurnRelays::poll_output`] until `None`. [`TurnRelays::close`] deallocates.
//! Transaction ids are drawn by `turn-client-proto` from the OS generator (they must be
//! unpredictable to an off-path attacker anyway); nothing else here is random.

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::io::{Read, Write};
use stun_types::attribute::ErrorCode;
use stun_types::message::Message;
use turn_client_proto::api::{TurnClientApi, TurnConfig, TurnEvent, TurnPollRet, TurnRecvRet};
use turn_client_proto::stun::agent::Transmit as TurnTransmit;
use turn_client_proto::tcp::TurnClientTcp;
use turn_client_proto::types::{TransportType, TurnCredentials};
use turn_client_proto::udp::TurnClientUdp;

use super::url::{TurnTransport, TurnUrl};

turn_client_proto::impl_client!(Client, (Udp, TurnClientUdp), (Tcp, TurnClientTcp));

/// One TURN server, resolved by the caller.
#[derive(Clone)]
pub struct TurnServer {
    /// The URL it came from (shown without the password).
    pub url: TurnUrl,
    /// Its resolved address.
    pub address: SocketAddr,
    /// For `turns:`: the TLS configuration (trusted roots) to verify it with.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl fmt::Debug for TurnServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TurnServer({} at {})", self.url, self.address)
    }
}

impl fmt::Display for TurnServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.url.host == self.address.ip().to_string() {
            write!(f, "{}", self.url)
        } else {
            write!(f, "{} ({})", self.url, self.address)
        }
    }
}

/// What the relays ask of their connection.
#[derive(Debug)]
pub enum RelayOutput {
    /// Send a UDP datagram to a TURN server from one of our sockets.
    Transmit {
        /// Our socket.
        source: SocketAddr,
        /// The TURN server.
        destination: SocketAddr,
        /// The payload.
        contents: Vec<u8>,
    },
    /// Open a TCP connection to `remote` (a TURN server) and report it with `stream_opened`.
    OpenStream {
        /// The TURN server.
        remote: SocketAddr,
    },
    /// Write bytes on the stream to `remote`.
    StreamSend {
        /// The TURN server.
        remote: SocketAddr,
        /// Bytes to write, in order.
        contents: Vec<u8>,
    },
    /// An allocation exists: announce `relayed` (base `local`) as a relay candidate.
    Allocated {
        /// The server, for logs.
        server: String,
        /// Our side of the client-server connection.
        local: SocketAddr,
        /// The address the server relays for us.
        relayed: SocketAddr,
    },
    /// This server gives us no relay; why, in words for the user.
    Failed {
        /// The server, for logs.
        server: String,
        /// Why.
        reason: String,
    },
    /// A datagram from `peer` arrived through the relay at `relayed`.
    PeerData {
        /// The peer (publisher) address.
        peer: SocketAddr,
        /// Our relayed address it was sent to.
        relayed: SocketAddr,
        /// The payload.
        contents: Vec<u8>,
    },
}

enum State {
    /// Waiting for the caller's TCP connection.
    Connecting,
    Allocating,
    Allocated(SocketAddr),
    Failed,
}

struct Relay {
    server: TurnServer,
    client: Option<Client>,
    /// For `turns:`: the TLS session the TCP client's bytes go through.
    tls: Option<rustls::ClientConnection>,
    state: State,
    /// The last error the server answered an allocation with (its 401 challenge included).
    last_error: Option<String>,
    permissions: Vec<IpAddr>,
    channels: Vec<SocketAddr>,
    next_wake: Option<Instant>,
}

/// The relays of one connection. See the module docs.
pub struct TurnRelays {
    relays: Vec<Relay>,
    /// turn-client-proto counts time from an epoch of its own: ours is when we were made.
    epoch: Instant,
    out: VecDeque<RelayOutput>,
}

/// Most permissions one allocation holds: a hostile offer's candidate list must not grow it.
const MAX_PERMISSIONS: usize = 16;
/// Channels are cheaper per packet than Send indications; bind one per peer we talk to.
const MAX_CHANNELS: usize = 8;
/// How long a TCP connection to a server may take before the relay counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl TurnRelays {
    /// `udp_sockets`: the connection's UDP sockets (UDP allocations use the first of the
    /// server's family).
    pub fn new(now: Instant, servers: &[TurnServer], udp_sockets: &[SocketAddr]) -> TurnRelays {
        let mut relays = TurnRelays {
            relays: Vec::new(),
            epoch: now,
            out: VecDeque::new(),
        };
        for server in servers {
            let mut relay = Relay {
                server: server.clone(),
                client: None,
                tls: None,
                state: State::Connecting,
                last_error: None,
                permissions: Vec::new(),
                channels: Vec::new(),
                next_wake: Some(now + CONNECT_TIMEOUT),
            };
            match server.url.transport {
                TurnTransport::Udp => {
                    let local = udp_sockets
                        .iter()
                        .find(|a| a.is_ipv4() == server.address.is_ipv4());
                    match local {
                        Some(local) => {
                            let client = TurnClientUdp::allocate(
                                *local,
                                server.address,
                                config(&server.url),
                            );
                            relay.client = Some(Client::Udp(client));
                            relay.state = State::Allocating;
                            relay.next_wake = Some(now);
                        }
                        None => {
                            relay.state = State::Failed;
                            relays.out.push_back(RelayOutput::Failed {
                                server: server.to_string(),
                                reason: "no local UDP socket of its address family".into(),
                            });
                        }
                    }
                }
                TurnTransport::Tcp | TurnTransport::Tls => {
                    relays.out.push_back(RelayOutput::OpenStream {
                        remote: server.address,
                    })
                }
            }
            relays.relays.push(relay);
        }
        relays.pump(now);
        relays
    }

    /// Whether a datagram from `source` may be a TURN server's.
    pub fn is_server(&self, source: SocketAddr) -> bool {
        self.relays
            .iter()
            .any(|r| r.server.address == source && r.server.url.transport == TurnTransport::Udp)
    }

    /// Offers a UDP datagram; returns it back if no relay wanted it.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: Vec<u8>,
    ) -> Option<Vec<u8>> {
        let at = self.at(now);
        let Some(index) = self.relays.iter().position(|r| {
            r.server.address == source
                && r.client.as_ref().is_some_and(|c| {
                    c.transport() == TransportType::Udp && c.local_addr() == destination
                })
        }) else {
            return Some(contents);
        };
        note_error(&mut self.relays[index], &contents);
        let relay = &mut self.relays[index];
        let client = relay.client.as_mut().expect("found by its client");
        let transmit = TurnTransmit::new(&contents[..], TransportType::Udp, source, destination);
        let ignored = match client.recv(transmit, at) {
            TurnRecvRet::Handled => false,
            TurnRecvRet::Ignored(_) => true,
            TurnRecvRet::PeerData(data) => {
                let peer = data.peer;
                let payload = data.data().to_vec();
                self.peer_data(index, peer, payload);
                false
            }
            TurnRecvRet::PeerIcmp { .. } => false,
        };
        self.pump(now);
        ignored.then_some(contents)
    }

    /// The caller's TCP connection to `remote` is up; `local` is its local address.
    pub fn stream_opened(&mut self, now: Instant, remote: SocketAddr, local: SocketAddr) {
        for index in 0..self.relays.len() {
            let relay = &mut self.relays[index];
            if relay.server.address != remote || !matches!(relay.state, State::Connecting) {
                continue;
            }
            if relay.server.url.transport == TurnTransport::Tls {
                match start_tls(&relay.server) {
                    Ok(tls) => relay.tls = Some(tls),
                    Err(reason) => {
                        self.fail(index, reason);
                        continue;
                    }
                }
            }
            let relay = &mut self.relays[index];
            let config = config(&relay.server.url);
            relay.client = Some(Client::Tcp(TurnClientTcp::allocate(local, remote, config)));
            relay.state = State::Allocating;
            relay.next_wake = Some(now);
            self.flush_tls(index);
        }
        self.pump(now);
    }

    /// Bytes arrived on the stream from `remote`.
    pub fn stream_data(&mut self, now: Instant, remote: SocketAddr, contents: &[u8]) {
        let at = self.at(now);
        let Some(index) = self.relays.iter().position(|r| {
            r.server.address == remote
                && r.client
                    .as_ref()
                    .is_some_and(|c| c.transport() == TransportType::Tcp)
        }) else {
            return;
        };
        let plain = match self.relays[index].tls.as_mut() {
            Some(tls) => match decrypt(tls, contents) {
                Ok(plain) => plain,
                Err(reason) => {
                    self.fail(index, reason);
                    self.pump(now);
                    return;
                }
            },
            None => contents.to_vec(),
        };
        let relay = &mut self.relays[index];
        // Messages usually arrive whole, so an allocation error is readable here too.
        note_error(relay, &plain);
        let client = relay.client.as_mut().expect("found by its client");
        let local = client.local_addr();
        let mut received = Vec::new();
        if !plain.is_empty() {
            let transmit = TurnTransmit::new(&plain[..], TransportType::Tcp, remote, local);
            if let TurnRecvRet::PeerData(data) = client.recv(transmit, at) {
                received.push((data.peer, data.data().to_vec()));
            }
            while let Some(data) = client.poll_recv(at) {
                received.push((data.peer, data.data().to_vec()));
            }
        }
        for (peer, payload) in received {
            self.peer_data(index, peer, payload);
        }
        // Handshake replies, alerts.
        self.flush_tls(index);
        self.pump(now);
    }

    /// The stream to `remote` failed to open or ended.
    pub fn stream_closed(&mut self, now: Instant, remote: SocketAddr, error: &str) {
        for relay in &mut self.relays {
            if relay.server.address != remote
                || relay.server.url.transport == TurnTransport::Udp
                || matches!(relay.state, State::Failed)
            {
                continue;
            }
            let was_allocated = matches!(relay.state, State::Allocated(_));
            relay.state = State::Failed;
            if let Some(client) = &mut relay.client {
                client.protocol_error();
            }
            relay.client = None;
            relay.next_wake = None;
            let reason = if was_allocated {
                format!("the connection to it ended ({error})")
            } else {
                format!("cannot connect ({error})")
            };
            self.out.push_back(RelayOutput::Failed {
                server: relay.server.to_string(),
                reason,
            });
        }
        self.pump(now);
    }

    /// Servers that have given no relay yet, and what they last answered: for the diagnosis of a
    /// connection that never came up (a refused allocation may be retried rather than failed).
    pub fn pending_problems(&self) -> Vec<String> {
        self.relays
            .iter()
            .filter(|r| matches!(r.state, State::Connecting | State::Allocating))
            .map(|r| match &r.last_error {
                Some(error) => format!("TURN {}: allocation refused: {error}", r.server),
                None => format!("TURN {}: no allocation yet (no answer)", r.server),
            })
            .collect()
    }

    /// Whether `addr` is one of our relayed addresses.
    pub fn is_relayed(&self, addr: SocketAddr) -> bool {
        self.relays
            .iter()
            .any(|r| matches!(r.state, State::Allocated(a) if a == addr))
    }

    /// Lets `peer` talk to us through every relay (TURN permissions are per IP).
    pub fn permit(&mut self, now: Instant, peer: IpAddr) {
        let at = self.at(now);
        for relay in &mut self.relays {
            if relay.permissions.contains(&peer) || relay.permissions.len() >= MAX_PERMISSIONS {
                continue;
            }
            if relay.server.address.is_ipv4() != peer.is_ipv4() {
                continue;
            }
            relay.permissions.push(peer);
            if let (State::Allocated(_), Some(client)) = (&relay.state, relay.client.as_mut()) {
                if let Err(e) = client.create_permission(TransportType::Udp, peer, at) {
                    tracing::debug!(server = %relay.server, %peer, "permission: {e:?}");
                }
            }
        }
        self.pump(now);
    }

    /// Sends `contents` to `peer` from our relayed address `relayed`.
    pub fn send(&mut self, now: Instant, relayed: SocketAddr, peer: SocketAddr, contents: &[u8]) {
        let at = self.at(now);
        let Some(relay) = self
            .relays
            .iter_mut()
            .find(|r| matches!(r.state, State::Allocated(a) if a == relayed))
        else {
            return;
        };
        let Some(client) = relay.client.as_mut() else {
            return;
        };
        if !relay.permissions.contains(&peer.ip()) && relay.permissions.len() < MAX_PERMISSIONS {
            relay.permissions.push(peer.ip());
            let _ = client.create_permission(TransportType::Udp, peer.ip(), at);
        }
        // Over TCP/TLS no channels: coturn pads ChannelData to 4 bytes there (RFC 8656 §12.5)
        // and turn-types 0.7 reads it unpadded, losing the stream's framing. Send/Data
        // indications are always aligned.
        let udp = relay.server.url.transport == TurnTransport::Udp;
        if udp && !relay.channels.contains(&peer) && relay.channels.len() < MAX_CHANNELS {
            relay.channels.push(peer);
            if let Err(e) = client.bind_channel(TransportType::Udp, peer, at) {
                tracing::debug!(server = %relay.server, %peer, "channel bind: {e:?}");
            }
        }
        match client.send_to(TransportType::Udp, peer, contents, at) {
            Ok(Some(transmit)) => {
                let to = transmit.to;
                let from = transmit.from;
                let bytes = turn_client_proto::prelude::DelayedTransmitBuild::build(transmit.data);
                if client.transport() == TransportType::Udp {
                    self.out.push_back(RelayOutput::Transmit {
                        source: from,
                        destination: to,
                        contents: bytes,
                    });
                } else {
                    let index = self
                        .relays
                        .iter()
                        .position(|r| matches!(r.state, State::Allocated(a) if a == relayed))
                        .expect("found above");
                    self.stream_out(index, to, bytes);
                }
            }
            Ok(None) => {}
            Err(e) => tracing::trace!(server = %relay.server, %peer, "relay send: {e:?}"),
        }
        self.pump(now);
    }

    /// Refreshes, retransmissions, connect timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        for relay in &mut self.relays {
            if matches!(relay.state, State::Connecting) && relay.next_wake.is_some_and(|t| now >= t)
            {
                relay.state = State::Failed;
                relay.next_wake = None;
                self.out.push_back(RelayOutput::Failed {
                    server: relay.server.to_string(),
                    reason: format!("cannot connect within {CONNECT_TIMEOUT:?}"),
                });
            }
        }
        self.pump(now);
    }

    /// The next time `handle_timeout` has work.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.relays.iter().filter_map(|r| r.next_wake).min()
    }

    /// The next output.
    pub fn poll_output(&mut self) -> Option<RelayOutput> {
        self.out.pop_front()
    }

    /// Deletes every allocation (the requests go out through `poll_output`); nothing is relayed
    /// afterwards.
    pub fn close(&mut self, now: Instant) {
        let at = self.at(now);
        for relay in &mut self.relays {
            if let (State::Allocated(_), Some(client)) = (&relay.state, relay.client.as_mut()) {
                let _ = client.delete(at);
            }
        }
        self.pump(now);
        for relay in &mut self.relays {
            relay.state = State::Failed;
            relay.client = None;
            relay.next_wake = None;
        }
    }

    fn at(&self, now: Instant) -> turn_client_proto::stun::Instant {
        let since = now.saturating_duration_since(self.epoch);
        turn_client_proto::stun::Instant::from_nanos(since.as_nanos().min(i64::MAX as u128) as i64)
    }

    /// Bytes for the stream to `remote`, through TLS when the relay has it.
    fn stream_out(&mut self, index: usize, remote: SocketAddr, contents: Vec<u8>) {
        match self.relays[index].tls.as_mut() {
            Some(tls) => {
                if let Err(e) = tls.writer().write_all(&contents) {
                    tracing::debug!("TLS write: {e}");
                }
                self.flush_tls(index);
            }
            None => self
                .out
                .push_back(RelayOutput::StreamSend { remote, contents }),
        }
    }

    /// Whatever TLS has to send (records, handshake, alerts) onto the stream.
    fn flush_tls(&mut self, index: usize) {
        let relay = &mut self.relays[index];
        let Some(tls) = relay.tls.as_mut() else {
            return;
        };
        let mut bytes = Vec::new();
        while tls.wants_write() {
            if tls.write_tls(&mut bytes).is_err() {
                break;
            }
        }
        if !bytes.is_empty() {
            self.out.push_back(RelayOutput::StreamSend {
                remote: relay.server.address,
                contents: bytes,
            });
        }
    }

    /// This relay is done for; tells the user why.
    fn fail(&mut self, index: usize, reason: String) {
        let relay = &mut self.relays[index];
        if matches!(relay.state, State::Failed) {
            return;
        }
        relay.state = State::Failed;
        relay.client = None;
        relay.tls = None;
        relay.next_wake = None;
        self.out.push_back(RelayOutput::Failed {
            server: relay.server.to_string(),
            reason,
        });
    }

    fn peer_data(&mut self, index: usize, peer: SocketAddr, contents: Vec<u8>) {
        if let State::Allocated(relayed) = self.relays[index].state {
            self.out.push_back(RelayOutput::PeerData {
                peer,
                relayed,
                contents,
            });
        }
    }

    /// Moves every client's transmits and events into our outputs and learns its next wake-up.
    fn pump(&mut self, now: Instant) {
        let at = self.at(now);
        for index in 0..self.relays.len() {
            let Some(client) = self.relays[index].client.as_mut() else {
                continue;
            };
            let wake = match client.poll(at) {
                TurnPollRet::WaitUntil(t) => Some(t),
                TurnPollRet::Closed => None,
                TurnPollRet::AllocateTcpSocket { .. } | TurnPollRet::TcpClose { .. } => Some(at),
            };
            let mut transmits = Vec::new();
            while let Some(t) = client.poll_transmit(at) {
                transmits.push((t.transport, t.from, t.to, t.data.as_ref().to_vec()));
            }
            let mut events = Vec::new();
            while let Some(event) = client.poll_event() {
                events.push(event);
            }
            let local = client.local_addr();
            let relay = &mut self.relays[index];
            relay.next_wake = match &relay.state {
                State::Failed => None,
                _ => wake.map(|t| t.to_std(self.epoch).max(now)),
            };
            for (transport, from, to, contents) in transmits {
                match transport {
                    TransportType::Udp => self.out.push_back(RelayOutput::Transmit {
                        source: from,
                        destination: to,
                        contents,
                    }),
                    TransportType::Tcp => self.stream_out(index, to, contents),
                }
            }
            for event in events {
                self.on_event(index, local, event, at);
            }
        }
    }

    fn on_event(
        &mut self,
        index: usize,
        local: SocketAddr,
        event: TurnEvent,
        at: turn_client_proto::stun::Instant,
    ) {
        let relay = &mut self.relays[index];
        match event {
            TurnEvent::AllocationCreated(TransportType::Udp, relayed) => {
                if matches!(relay.state, State::Allocated(_)) {
                    return;
                }
                relay.state = State::Allocated(relayed);
                tracing::info!(server = %relay.server, %relayed, "TURN allocation created");
                if let Some(client) = relay.client.as_mut() {
                    for peer in &relay.permissions {
                        let _ = client.create_permission(TransportType::Udp, *peer, at);
                    }
                }
                self.out.push_back(RelayOutput::Allocated {
                    server: relay.server.to_string(),
                    local,
                    relayed,
                });
            }
            TurnEvent::AllocationCreateFailed(_) => {
                if matches!(relay.state, State::Failed) {
                    return;
                }
                relay.state = State::Failed;
                relay.next_wake = None;
                let reason = match relay.last_error.take() {
                    Some(error) => format!("allocation refused: {error}"),
                    None => {
                        "allocation failed (refused, e.g. wrong credentials, or no answer)".into()
                    }
                };
                self.out.push_back(RelayOutput::Failed {
                    server: relay.server.to_string(),
                    reason,
                });
            }
            TurnEvent::PermissionCreateFailed(_, peer) => {
                tracing::debug!(server = %relay.server, %peer, "TURN permission refused")
            }
            TurnEvent::ChannelCreateFailed(_, peer) => {
                tracing::debug!(server = %relay.server, %peer, "TURN channel refused")
            }
            _ => {}
        }
    }
}

/// Remembers the error a server answered an Allocate with (the client only says "failed").
fn note_error(relay: &mut Relay, contents: &[u8]) {
    if contents.len() < 20 || contents[0] & 0xc0 != 0 {
        return;
    }
    let Ok(message) = Message::from_bytes(contents) else {
        return;
    };
    if message.has_method(turn_client_proto::types::message::ALLOCATE)
        && message.has_class(stun_types::message::MessageClass::Error)
    {
        if let Ok(code) = message.attribute::<ErrorCode>() {
            relay.last_error = Some(format!("{} {}", code.code(), code.reason()));
        }
    }
}

/// A TLS client session for `server`, verifying its certificate against the configured roots.
fn start_tls(server: &TurnServer) -> Result<rustls::ClientConnection, String> {
    let config = server
        .tls
        .clone()
        .ok_or("no TLS configuration was given for it")?;
    let name = rustls::pki_types::ServerName::try_from(server.url.host.clone())
        .map_err(|_| "its host is not a valid TLS server name".to_string())?;
    rustls::ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))
}

/// Feeds stream bytes to TLS and returns the plaintext they complete.
fn decrypt(tls: &mut rustls::ClientConnection, contents: &[u8]) -> Result<Vec<u8>, String> {
    let mut input = contents;
    let mut plain = Vec::new();
    while !input.is_empty() {
        tls.read_tls(&mut input).map_err(|e| format!("TLS: {e}"))?;
        let state = tls.process_new_packets().map_err(|e| format!("TLS: {e}"))?;
        let mut chunk = vec![0; state.plaintext_bytes_to_read()];
        tls.reader()
            .read_exact(&mut chunk)
            .map_err(|e| format!("TLS: {e}"))?;
        plain.extend_from_slice(&chunk);
    }
    Ok(plain)
}

fn config(url: &TurnUrl) -> TurnConfig {
    TurnConfig::new(TurnCredentials::new(&url.username, &url.password))
}
