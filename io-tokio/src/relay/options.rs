//! Tunables of the relay server. The defaults are meant for the internet: generous for a real
//! room (the web app's bursts of candidates and re-offers are a handful of messages of a few KB),
//! tight enough that one client cannot starve the others or the host.

use std::net::IpAddr;
use std::time::Duration;

use roomrec_relay::{Dialect, Limits};

/// Tunables of [`serve_with`](super::serve_with); [`ServerOptions::new`] gives the defaults used by
/// [`serve`](super::serve).
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub dialect: Dialect,
    /// Seed of the routing RNG (official ids).
    pub seed: u64,
    /// Larger messages or frames close the connection (1009).
    pub max_message_bytes: usize,
    /// Bytes queued for one client before it is considered stuck and dropped.
    pub max_queued_bytes_per_client: usize,
    /// Bytes queued for all clients together; past it, senders' messages are dropped.
    pub max_queued_bytes: usize,
    /// Messages a client may send per second, sustained.
    pub msg_rate: f64,
    /// Messages a client may send in a burst.
    pub msg_burst: f64,
    /// Bytes a client may make the relay queue per second (size x recipients), sustained.
    pub byte_rate: f64,
    /// Bytes a client may make the relay queue in a burst (size x recipients).
    pub byte_burst: f64,
    /// Dropped messages tolerated (forgiven at a tenth of `msg_rate`) before a client is cut off.
    pub max_dropped: f64,
    /// Open sockets, all addresses together.
    pub max_connections: usize,
    /// Open sockets per client address.
    pub max_connections_per_ip: usize,
    /// Room size, id and room-name caps of the routing.
    pub limits: Limits,
    /// A socket that has not joined a room, published or asked to play this long after connecting
    /// is closed.
    pub join_timeout: Duration,
    /// How often an idle connection is pinged.
    pub ping_interval: Duration,
    /// A connection that sends nothing (not even a pong) this long is closed.
    pub idle_timeout: Duration,
    /// Time allowed for the HTTP upgrade.
    pub handshake_timeout: Duration,
    /// Reverse proxies whose `X-Forwarded-For` names the client address; nobody else's is read.
    pub trusted_proxies: Vec<IpAddr>,
}

impl ServerOptions {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            seed: fastrand::u64(..),
            max_message_bytes: 256 * 1024,
            max_queued_bytes_per_client: 4 << 20,
            max_queued_bytes: 64 << 20,
            msg_rate: 50.0,
            msg_burst: 500.0,
            byte_rate: 256.0 * 1024.0,
            byte_burst: 4.0 * 1024.0 * 1024.0,
            max_dropped: 500.0,
            max_connections: 4096,
            max_connections_per_ip: 64,
            limits: Limits {
                max_room_members: 200,
                max_id_len: 256,
                max_room_len: 256,
            },
            join_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            trusted_proxies: Vec::new(),
        }
    }
}
