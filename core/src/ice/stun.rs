//! STUN binding requests (RFC 5389) from our own sockets: what address a NAT maps each socket to
//! (a server-reflexive candidate), and for `check-network` whether the mapping depends on the
//! destination.
//!
//! # Call contract
//!
//! [`BindingClient::new`] starts one transaction per (local socket, server) pair. Then, like the
//! connection: send every [`BindingClient::poll_transmit`] from its `source`; offer each datagram
//! that arrives on those sockets to [`BindingClient::handle_datagram`] (it returns whether the
//! datagram was a response to us — if not, it belongs to someone else); call
//! [`BindingClient::handle_timeout`] at [`BindingClient::poll_timeout`] for retransmissions; read
//! results from [`BindingClient::poll_event`]. Transaction ids come from the rng the caller
//! gives, so runs are reproducible.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun_types::attribute::{ErrorCode, XorMappedAddress};
use stun_types::message::{
    Message, MessageClass, MessageType, MessageWrite, MessageWriteVec, TransactionId, BINDING,
};

/// When each retransmission goes out, after the first request (RFC 5389's doubling, cut short:
/// a server that has not answered within ~4 s will not help this connection).
const RETRANSMITS: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_millis(1500),
    Duration::from_millis(3500),
];
/// Give up this long after the first request.
const GIVE_UP: Duration = Duration::from_millis(5500);

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StunTransmit {
    /// Our socket.
    pub source: SocketAddr,
    /// The STUN server.
    pub destination: SocketAddr,
    /// The binding request.
    pub contents: Vec<u8>,
}

/// The outcome of one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindingEvent {
    /// The server saw `local` as `mapped`.
    Mapped {
        /// Our socket.
        local: SocketAddr,
        /// The STUN server.
        server: SocketAddr,
        /// Our address as the server saw it.
        mapped: SocketAddr,
    },
    /// No usable answer (timeout or an error response).
    Failed {
        /// Our socket.
        local: SocketAddr,
        /// The STUN server.
        server: SocketAddr,
        /// What went wrong, for the user.
        reason: String,
    },
}

struct Transaction {
    local: SocketAddr,
    server: SocketAddr,
    id: u128,
    started: Instant,
    retransmits_sent: usize,
    done: bool,
}

/// Binding transactions for a set of (local socket, server) pairs. See the module docs.
pub struct BindingClient {
    transactions: Vec<Transaction>,
    transmits: VecDeque<StunTransmit>,
    events: VecDeque<BindingEvent>,
}

impl BindingClient {
    /// Sends the first request of every pair (read them from `poll_transmit`).
    pub fn new(
        now: Instant,
        pairs: impl IntoIterator<Item = (SocketAddr, SocketAddr)>,
        rng: &mut fastrand::Rng,
    ) -> BindingClient {
        let mut client = BindingClient {
            transactions: Vec::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        for (local, server) in pairs {
            // Families must match: an IPv4 socket cannot reach an IPv6 server.
            if local.is_ipv4() != server.is_ipv4() {
                continue;
            }
            let transaction = Transaction {
                local,
                server,
                id: rng.u128(..) & ((1u128 << 96) - 1),
                started: now,
                retransmits_sent: 0,
                done: false,
            };
            client.send(&transaction);
            client.transactions.push(transaction);
        }
        client
    }

    /// Whether `contents` was a response to one of our requests (then it is consumed).
    pub fn handle_datagram(
        &mut self,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) -> bool {
        // Cheap filter first: a STUN response starts with 0b01 or 0b11 class bits and the cookie.
        if contents.len() < 20 || contents[0] & 0xc0 != 0 || contents[4..8] != MAGIC_COOKIE {
            return false;
        }
        let Ok(message) = Message::from_bytes(contents) else {
            return false;
        };
        let id: u128 = message.transaction_id().into();
        let Some(index) = self
            .transactions
            .iter()
            .position(|t| !t.done && t.id == id && t.server == source && t.local == destination)
        else {
            return false;
        };
        if !message.is_response() || !message.has_method(BINDING) {
            return false;
        }
        let transaction = &mut self.transactions[index];
        transaction.done = true;
        let (local, server) = (transaction.local, transaction.server);
        let event = if message.has_class(MessageClass::Success) {
            let mapped = message
                .attribute::<XorMappedAddress>()
                .map(|a| a.addr(message.transaction_id()));
            match mapped {
                Ok(mapped) => BindingEvent::Mapped {
                    local,
                    server,
                    mapped,
                },
                Err(_) => BindingEvent::Failed {
                    local,
                    server,
                    reason: "the answer carried no mapped address".into(),
                },
            }
        } else {
            let reason = match message.attribute::<ErrorCode>() {
                Ok(e) => format!("error {} {}", e.code(), e.reason()),
                Err(_) => "an error answer".into(),
            };
            BindingEvent::Failed {
                local,
                server,
                reason,
            }
        };
        self.events.push_back(event);
        true
    }

    /// Retransmits and gives up on time.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut resend = Vec::new();
        for (i, t) in self.transactions.iter_mut().enumerate() {
            if t.done {
                continue;
            }
            if now >= t.started + GIVE_UP {
                t.done = true;
                self.events.push_back(BindingEvent::Failed {
                    local: t.local,
                    server: t.server,
                    reason: format!("no answer within {GIVE_UP:?}"),
                });
            } else if RETRANSMITS
                .get(t.retransmits_sent)
                .is_some_and(|after| now >= t.started + *after)
            {
                t.retransmits_sent += 1;
                resend.push(i);
            }
        }
        for i in resend {
            let transaction = &self.transactions[i];
            let transmit = request(transaction);
            self.transmits.push_back(transmit);
        }
    }

    /// The next retransmission or give-up; `None` once every transaction is done.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.transactions
            .iter()
            .filter(|t| !t.done)
            .map(|t| match RETRANSMITS.get(t.retransmits_sent) {
                Some(after) => t.started + *after,
                None => t.started + GIVE_UP,
            })
            .min()
    }

    /// The next request to send.
    pub fn poll_transmit(&mut self) -> Option<StunTransmit> {
        self.transmits.pop_front()
    }

    /// The next result.
    pub fn poll_event(&mut self) -> Option<BindingEvent> {
        self.events.pop_front()
    }

    /// Every transaction has an answer or has given up.
    pub fn is_done(&self) -> bool {
        self.transactions.iter().all(|t| t.done)
    }

    /// Whether `server` is one we ask (its datagrams may be for us).
    pub fn asks(&self, server: SocketAddr) -> bool {
        self.transactions.iter().any(|t| t.server == server)
    }

    fn send(&mut self, transaction: &Transaction) {
        self.transmits.push_back(request(transaction));
    }
}

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

fn request(transaction: &Transaction) -> StunTransmit {
    let mtype = MessageType::from_class_method(MessageClass::Request, BINDING);
    let id = TransactionId::from(transaction.id);
    let contents = Message::builder(mtype, id, MessageWriteVec::new()).finish();
    StunTransmit {
        source: transaction.local,
        destination: transaction.server,
        contents,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun_types::message::{MessageWrite, MessageWriteExt};

    fn answer(request: &[u8], mapped: SocketAddr) -> Vec<u8> {
        let request = Message::from_bytes(request).unwrap();
        let mut reply = Message::builder_success(&request, MessageWriteVec::new());
        reply
            .add_attribute(&XorMappedAddress::new(mapped, request.transaction_id()))
            .unwrap();
        reply.finish()
    }

    #[test]
    fn maps_each_socket_and_ignores_strangers() {
        let now = Instant::now();
        let local: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let server: SocketAddr = "203.0.113.1:3478".parse().unwrap();
        let mut rng = fastrand::Rng::with_seed(1);
        let mut client = BindingClient::new(now, [(local, server)], &mut rng);
        let sent = client.poll_transmit().unwrap();
        assert_eq!((sent.source, sent.destination), (local, server));
        let mapped: SocketAddr = "192.0.2.10:6000".parse().unwrap();
        let reply = answer(&sent.contents, mapped);
        // From another address: not ours (an attacker cannot inject a mapping).
        let other: SocketAddr = "203.0.113.9:3478".parse().unwrap();
        assert!(!client.handle_datagram(other, local, &reply));
        assert!(!client.handle_datagram(server, local, b"garbage that is not stun"));
        assert!(client.handle_datagram(server, local, &reply));
        assert_eq!(
            client.poll_event(),
            Some(BindingEvent::Mapped {
                local,
                server,
                mapped
            })
        );
        assert!(client.is_done());
        // A duplicate answer is no longer ours.
        assert!(!client.handle_datagram(server, local, &reply));
    }

    #[test]
    fn retransmits_then_gives_up() {
        let now = Instant::now();
        let local: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let server: SocketAddr = "203.0.113.1:3478".parse().unwrap();
        let mut client = BindingClient::new(now, [(local, server)], &mut fastrand::Rng::new());
        let first = client.poll_transmit().unwrap();
        let mut sends = 1;
        while let Some(at) = client.poll_timeout() {
            client.handle_timeout(at);
            while let Some(again) = client.poll_transmit() {
                assert_eq!(again.contents, first.contents, "same transaction");
                sends += 1;
            }
        }
        assert_eq!(sends, 4);
        assert!(matches!(
            client.poll_event(),
            Some(BindingEvent::Failed { .. })
        ));
    }
}
