//! Which connection a datagram on a shared UDP socket belongs to, without asking every
//! connection (str0m's `Rtc::accepts` is a scan; at a thousand connections that is the cost).
//!
//! ICE makes this possible: before DTLS or SRTP flows on a path, the publisher (a full ICE agent)
//! sends STUN checks on it, and each names our ICE ufrag (USERNAME `ours:theirs`).
//! - A STUN request naming a connection's ufrag goes to it and binds its path (remote, local).
//! - A STUN response answers a request one of our connections sent (its transaction id).
//! - Anything else follows the bound path.
//!
//! # Call contract
//!
//! - [`Demux::add`] when a connection has its ICE ufrag, [`Demux::remove`] when it closes.
//! - [`Demux::outgoing`] with every datagram a connection sends on the shared socket (it learns
//!   STUN transaction ids from them).
//! - [`Demux::route`] with every datagram received; `None` means no connection claims it: drop it.
//!
//! Parsing is bounds-checked; nothing a remote sends can panic it or grow it without bound
//! (paths are bound only by checks naming a live connection, transactions expire).

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::connection::ConnectionHandle;

/// A STUN transaction is answered well within this (RFC 8489 retransmits for 39.5 s at most).
pub const TRANSACTION_LIFETIME: Duration = Duration::from_secs(40);
/// Open transactions kept per connection; the oldest are forgotten beyond it.
const MAX_TRANSACTIONS_PER_CONNECTION: usize = 256;

const STUN_MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const STUN_HEADER: usize = 20;
const ATTR_USERNAME: u16 = 0x0006;

type TransactionId = [u8; 12];
/// (remote, local)
type Path = (SocketAddr, SocketAddr);

/// Routes datagrams on shared sockets to connections. See the module docs for the contract.
#[derive(Default)]
pub struct Demux {
    by_ufrag: HashMap<Box<str>, ConnectionHandle>,
    by_path: HashMap<Path, ConnectionHandle>,
    by_transaction: HashMap<TransactionId, ConnectionHandle>,
    /// Transactions in the order they were sent, to expire them.
    sent: VecDeque<(Instant, TransactionId)>,
    connections: HashMap<ConnectionHandle, Bindings>,
}

#[derive(Default)]
struct Bindings {
    ufrag: Option<Box<str>>,
    paths: Vec<Path>,
    open_transactions: usize,
}

/// What a datagram is, as far as routing cares.
enum Kind<'a> {
    StunRequest { local_ufrag: Option<&'a [u8]> },
    StunResponse { transaction: TransactionId },
    Other,
}

impl Demux {
    /// An empty router.
    pub fn new() -> Demux {
        Demux::default()
    }

    /// Routes STUN requests naming `local_ufrag` to `handle`. A ufrag already taken is refused
    /// (false): two connections with one ufrag could not be told apart.
    pub fn add(&mut self, handle: ConnectionHandle, local_ufrag: &str) -> bool {
        if self.by_ufrag.contains_key(local_ufrag) {
            return false;
        }
        let ufrag: Box<str> = local_ufrag.into();
        self.by_ufrag.insert(ufrag.clone(), handle);
        self.connections.entry(handle).or_default().ufrag = Some(ufrag);
        true
    }

    /// Forgets everything that routes to `handle`.
    pub fn remove(&mut self, handle: ConnectionHandle) {
        let Some(bindings) = self.connections.remove(&handle) else {
            return;
        };
        if let Some(ufrag) = bindings.ufrag {
            self.by_ufrag.remove(&ufrag);
        }
        for path in bindings.paths {
            if self.by_path.get(&path) == Some(&handle) {
                self.by_path.remove(&path);
            }
        }
        if bindings.open_transactions > 0 {
            self.by_transaction.retain(|_, h| *h != handle);
        }
    }

    /// Notes a datagram `handle` sends: its STUN requests' answers will be routed back to it.
    pub fn outgoing(&mut self, now: Instant, handle: ConnectionHandle, contents: &[u8]) {
        self.expire(now);
        let Some(bindings) = self.connections.get_mut(&handle) else {
            return;
        };
        if !matches!(kind(contents), Kind::StunRequest { .. }) {
            return;
        }
        if bindings.open_transactions >= MAX_TRANSACTIONS_PER_CONNECTION {
            return;
        }
        let transaction = transaction_id(contents);
        if self.by_transaction.insert(transaction, handle).is_none() {
            bindings.open_transactions += 1;
        }
        self.sent.push_back((now, transaction));
    }

    /// The connection `contents` (from `source` to our `destination`) belongs to.
    pub fn route(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        contents: &[u8],
    ) -> Option<ConnectionHandle> {
        let path = (source, destination);
        match kind(contents) {
            Kind::StunRequest {
                local_ufrag: Some(ufrag),
            } => {
                let named = std::str::from_utf8(ufrag)
                    .ok()
                    .and_then(|u| self.by_ufrag.get(u))
                    .copied();
                match named {
                    Some(handle) => {
                        self.bind(path, handle);
                        Some(handle)
                    }
                    None => self.by_path.get(&path).copied(),
                }
            }
            // Not bound by answers: one STUN server answers many connections on one path.
            Kind::StunResponse { transaction } => {
                self.expire(now);
                match self.by_transaction.remove(&transaction) {
                    Some(handle) => {
                        if let Some(b) = self.connections.get_mut(&handle) {
                            b.open_transactions = b.open_transactions.saturating_sub(1);
                        }
                        Some(handle)
                    }
                    None => self.by_path.get(&path).copied(),
                }
            }
            Kind::StunRequest { local_ufrag: None } | Kind::Other => {
                self.by_path.get(&path).copied()
            }
        }
    }

    /// No connection is routed to.
    pub fn is_empty(&self) -> bool {
        self.connections.is_empty()
    }

    /// The first connection a check on a path named keeps the path while it lives.
    fn bind(&mut self, path: Path, handle: ConnectionHandle) {
        if self.by_path.contains_key(&path) {
            return;
        }
        if let Some(bindings) = self.connections.get_mut(&handle) {
            self.by_path.insert(path, handle);
            bindings.paths.push(path);
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(sent, transaction)) = self.sent.front() {
            if now.saturating_duration_since(sent) < TRANSACTION_LIFETIME {
                break;
            }
            self.sent.pop_front();
            if let Some(handle) = self.by_transaction.remove(&transaction) {
                if let Some(b) = self.connections.get_mut(&handle) {
                    b.open_transactions = b.open_transactions.saturating_sub(1);
                }
            }
        }
    }
}

fn kind(contents: &[u8]) -> Kind<'_> {
    // RFC 7983: STUN starts with 0..=3; RFC 8489: cookie at 4..8, length a multiple of 4.
    if contents.len() < STUN_HEADER || contents[0] > 3 || contents[4..8] != STUN_MAGIC_COOKIE {
        return Kind::Other;
    }
    let message_type = u16::from_be_bytes([contents[0], contents[1]]);
    // Class bits C1 (0x100) and C0 (0x010): 00 request, 01 indication, 10 success, 11 error.
    match message_type & 0x0110 {
        0x0000 => Kind::StunRequest {
            local_ufrag: username(contents).map(|u| u.split(|&b| b == b':').next().unwrap_or(u)),
        },
        0x0100 | 0x0110 => Kind::StunResponse {
            transaction: transaction_id(contents),
        },
        _ => Kind::Other,
    }
}

fn transaction_id(contents: &[u8]) -> TransactionId {
    let mut id = [0u8; 12];
    id.copy_from_slice(&contents[8..20]);
    id
}

/// The USERNAME attribute's value, if the message has one.
fn username(contents: &[u8]) -> Option<&[u8]> {
    let declared = usize::from(u16::from_be_bytes([contents[2], contents[3]]));
    let end = (STUN_HEADER + declared).min(contents.len());
    let mut at = STUN_HEADER;
    while at + 4 <= end {
        let attr = u16::from_be_bytes([contents[at], contents[at + 1]]);
        let len = usize::from(u16::from_be_bytes([contents[at + 2], contents[at + 3]]));
        let value = contents.get(at + 4..at + 4 + len)?;
        if attr == ATTR_USERNAME {
            return Some(value);
        }
        at += 4 + len.next_multiple_of(4);
    }
    None
}
