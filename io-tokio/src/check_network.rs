//! `roomrec check-network`: what the network looks like from here, before a recording depends on
//! it. Each local socket asks every STUN server for its mapped address (the same socket to two
//! servers shows whether the NAT keeps one mapping for all destinations), and every TURN server
//! is asked for an allocation, which is then released. Core's STUN and TURN clients do the
//! protocol; this moves their bytes.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use roomrec_core::ice::{BindingClient, BindingEvent, RelayOutput, TurnRelays};
use tokio::net::UdpSocket;

use crate::ice_servers::IceServers;
use crate::netif;
use crate::streams::{StreamEvent, Streams};
use crate::wake::wake_at;

/// Longest the check takes (a STUN server gives up after ~5.5 s, TCP connects after 5 s).
const DEADLINE: Duration = Duration::from_secs(8);

/// A STUN server and what it answered: the mapped address, or why not.
pub type StunAnswer = (SocketAddr, Result<SocketAddr, String>);

/// What was found.
#[derive(Debug, Default)]
pub struct NetworkReport {
    /// Per local socket: what each STUN server answered.
    pub sockets: BTreeMap<SocketAddr, Vec<StunAnswer>>,
    /// Per TURN server (as shown): the relayed address or why not.
    pub turn: Vec<(String, Result<SocketAddr, String>)>,
}

/// How a NAT maps one socket, judged from what the STUN servers saw.
#[derive(Debug, PartialEq, Eq)]
pub enum Mapping {
    /// Every server saw the local address itself.
    NoNat,
    /// One mapping for all destinations: STUN is enough.
    EndpointIndependent,
    /// A different mapping per destination (symmetric NAT): guests need TURN.
    AddressDependent,
    /// Fewer than two answers: cannot tell.
    Unknown,
}

impl NetworkReport {
    /// The mapping behaviour of `local`.
    pub fn mapping(&self, local: SocketAddr) -> Mapping {
        let mapped: Vec<SocketAddr> = self
            .sockets
            .get(&local)
            .into_iter()
            .flatten()
            .filter_map(|(_, r)| r.as_ref().ok().copied())
            .collect();
        if mapped.is_empty() {
            return Mapping::Unknown;
        }
        if mapped.iter().all(|m| *m == local) {
            return Mapping::NoNat;
        }
        if mapped.len() < 2 {
            return Mapping::Unknown;
        }
        if mapped.iter().all(|m| *m == mapped[0]) {
            Mapping::EndpointIndependent
        } else {
            Mapping::AddressDependent
        }
    }
}

impl fmt::Display for NetworkReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sockets.is_empty() {
            writeln!(f, "no local address to test from (see --ice-ip)")?;
        }
        for (local, answers) in &self.sockets {
            writeln!(f, "local {local}")?;
            if answers.is_empty() {
                writeln!(f, "  no STUN server to ask (--stun)")?;
            }
            for (server, answer) in answers {
                match answer {
                    Ok(mapped) => writeln!(f, "  STUN {server} sees {mapped}")?,
                    Err(e) => writeln!(f, "  STUN {server}: {e}")?,
                }
            }
            let verdict = match self.mapping(*local) {
                Mapping::NoNat => "no NAT: guests can reach this address directly",
                Mapping::EndpointIndependent => {
                    "NAT with one mapping for all destinations: STUN is enough (--stun)"
                }
                Mapping::AddressDependent => {
                    "NAT with a new mapping per destination (symmetric): guests behind NAT need --turn"
                }
                Mapping::Unknown => {
                    "mapping behaviour unknown (it takes answers from two STUN servers)"
                }
            };
            writeln!(f, "  -> {verdict}")?;
        }
        for (server, result) in &self.turn {
            match result {
                Ok(relayed) => writeln!(f, "TURN {server}: allocated {relayed}")?,
                Err(e) => writeln!(f, "TURN {server}: {e}")?,
            }
        }
        Ok(())
    }
}

/// Runs the check. `servers.stun` empty means none given: the web app's servers are asked.
pub async fn check_network(servers: &IceServers, ice_ips: &[IpAddr]) -> NetworkReport {
    let (stun, turn) = servers.resolve().await;
    let mut sockets = Vec::new();
    for ip in netif::ice_addresses(ice_ips) {
        match UdpSocket::bind(SocketAddr::new(ip, 0)).await {
            Ok(socket) => match socket.local_addr() {
                Ok(addr) => sockets.push((addr, socket)),
                Err(e) => tracing::warn!("socket on {ip}: {e}"),
            },
            Err(e) => tracing::warn!("cannot bind a UDP socket on {ip}: {e}"),
        }
    }
    let locals: Vec<SocketAddr> = sockets.iter().map(|(a, _)| *a).collect();
    let mut report = NetworkReport::default();
    for local in &locals {
        report.sockets.insert(*local, Vec::new());
    }
    let start = Instant::now();
    let mut rng = fastrand::Rng::new();
    let pairs = locals
        .iter()
        .flat_map(|l| stun.iter().map(move |s| (*l, *s)));
    let mut binding = BindingClient::new(start, pairs, &mut rng);
    let mut relays = TurnRelays::new(start, &turn, &locals);
    let mut streams = Streams::new();
    let mut buf = vec![0u8; 4096];
    let deadline = start + DEADLINE;
    loop {
        while let Some(t) = binding.poll_transmit() {
            send(&sockets, t.source, t.destination, &t.contents);
        }
        while let Some(event) = binding.poll_event() {
            let (local, server, answer) = match event {
                BindingEvent::Mapped {
                    local,
                    server,
                    mapped,
                } => (local, server, Ok(mapped)),
                BindingEvent::Failed {
                    local,
                    server,
                    reason,
                } => (local, server, Err(reason)),
            };
            report
                .sockets
                .entry(local)
                .or_default()
                .push((server, answer));
        }
        carry_relay_outputs(&mut relays, &sockets, &mut streams, &mut report);
        let now = Instant::now();
        if (binding.is_done() && report.turn.len() == turn.len()) || now >= deadline {
            break;
        }
        let next = [
            binding.poll_timeout(),
            relays.poll_timeout(),
            Some(deadline),
        ]
        .into_iter()
        .flatten()
        .min();
        let wake = wake_at(now, next);
        tokio::select! {
            (local, received) = recv_any(&sockets, &mut buf) => {
                if let Ok((n, source)) = received {
                    let data = buf[..n].to_vec();
                    if !binding.handle_datagram(source, local, &data) {
                        relays.handle_datagram(Instant::now(), source, local, data);
                    }
                }
            }
            event = streams.next() => {
                let now = Instant::now();
                match event {
                    StreamEvent::Opened { remote, local } => relays.stream_opened(now, remote, local),
                    StreamEvent::Data { remote, contents } => relays.stream_data(now, remote, &contents),
                    StreamEvent::Closed { remote, error } => relays.stream_closed(now, remote, &error),
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                binding.handle_timeout(now);
                relays.handle_timeout(now);
            }
        }
    }
    // Release the allocations (best effort: the server expires them anyway).
    relays.close(Instant::now());
    carry_relay_outputs(&mut relays, &sockets, &mut streams, &mut report);
    tokio::time::sleep(Duration::from_millis(100)).await;
    report
}

/// Sends what the relays ask for and records each server's outcome (once).
fn carry_relay_outputs(
    relays: &mut TurnRelays,
    sockets: &[(SocketAddr, UdpSocket)],
    streams: &mut Streams,
    report: &mut NetworkReport,
) {
    while let Some(output) = relays.poll_output() {
        match output {
            RelayOutput::Transmit {
                source,
                destination,
                contents,
            } => send(sockets, source, destination, &contents),
            RelayOutput::OpenStream { remote } => streams.open(remote),
            RelayOutput::StreamSend { remote, contents } => streams.send(remote, contents),
            RelayOutput::Allocated {
                server, relayed, ..
            } => report.turn.push((server, Ok(relayed))),
            RelayOutput::Failed { server, reason } => {
                if !report.turn.iter().any(|(s, _)| *s == server) {
                    report.turn.push((server, Err(reason)));
                }
            }
            RelayOutput::PeerData { .. } => {}
        }
    }
}

fn send(sockets: &[(SocketAddr, UdpSocket)], source: SocketAddr, to: SocketAddr, data: &[u8]) {
    if let Some((_, socket)) = sockets.iter().find(|(a, _)| *a == source) {
        let _ = socket.try_send_to(data, to);
    }
}

async fn recv_any(
    sockets: &[(SocketAddr, UdpSocket)],
    buf: &mut [u8],
) -> (SocketAddr, std::io::Result<(usize, SocketAddr)>) {
    std::future::poll_fn(|cx| {
        for (local, socket) in sockets {
            let mut rb = tokio::io::ReadBuf::new(&mut *buf);
            if let std::task::Poll::Ready(res) = socket.poll_recv_from(cx, &mut rb) {
                return std::task::Poll::Ready((*local, res.map(|src| (rb.filled().len(), src))));
            }
        }
        std::task::Poll::Pending
    })
    .await
}
