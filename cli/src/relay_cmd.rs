//! `roomrec relay`: the self-hosted signaling relay, every abuse limit a flag.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Args;
use roomrec_core::signaling::Dialect;
use roomrec_io_tokio::relay::{self, ServerOptions};

use crate::args::dialect_parser;

fn defaults() -> ServerOptions {
    ServerOptions::new(Dialect::Relay)
}

/// Flags of `roomrec relay`; the defaults are [`ServerOptions::new`]'s.
#[derive(Args, Debug)]
pub struct RelayArgs {
    /// Address to listen on, e.g. 0.0.0.0:8443
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    #[arg(long, value_parser = dialect_parser(), default_value = "relay")]
    pub dialect: Dialect,
    /// Larger WebSocket messages close the connection
    #[arg(long, value_name = "BYTES", value_parser = positive::<usize>, default_value_t = defaults().max_message_bytes)]
    max_message_bytes: usize,
    /// Messages one client may send per second, sustained
    #[arg(long, value_name = "N", value_parser = positive::<f64>, default_value_t = defaults().msg_rate)]
    msg_rate: f64,
    /// Messages one client may send in a burst
    #[arg(long, value_name = "N", value_parser = positive::<f64>, default_value_t = defaults().msg_burst)]
    msg_burst: f64,
    /// Bytes one client may have relayed per second, counted once per recipient
    #[arg(long, value_name = "BYTES", value_parser = positive::<f64>, default_value_t = defaults().byte_rate)]
    byte_rate: f64,
    /// Bytes one client may have relayed in a burst, counted once per recipient
    #[arg(long, value_name = "BYTES", value_parser = positive::<f64>, default_value_t = defaults().byte_burst)]
    byte_burst: f64,
    /// Messages over the rate limits (dropped) tolerated before the client is disconnected
    #[arg(long, value_name = "N", value_parser = positive::<f64>, default_value_t = defaults().max_dropped)]
    max_dropped: f64,
    /// Bytes queued for one client before it counts as not reading and is disconnected
    #[arg(long, value_name = "BYTES", value_parser = positive::<usize>, default_value_t = defaults().max_queued_bytes_per_client)]
    max_queued_bytes_per_client: usize,
    /// Bytes queued for all clients together; past it, new messages are dropped
    #[arg(long, value_name = "BYTES", value_parser = positive::<usize>, default_value_t = defaults().max_queued_bytes)]
    max_queued_bytes: usize,
    /// Open connections, all addresses together
    #[arg(long, value_name = "N", value_parser = positive::<usize>, default_value_t = defaults().max_connections)]
    max_connections: usize,
    /// Open connections per client address
    #[arg(long, value_name = "N", value_parser = positive::<usize>, default_value_t = defaults().max_connections_per_ip)]
    max_connections_per_ip: usize,
    /// Members per room
    #[arg(long, value_name = "N", value_parser = positive::<usize>, default_value_t = defaults().limits.max_room_members)]
    max_room_members: usize,
    /// Longest peer id or stream id, in bytes
    #[arg(long, value_name = "BYTES", value_parser = positive::<usize>, default_value_t = defaults().limits.max_id_len)]
    max_id_len: usize,
    /// Longest room name, in bytes
    #[arg(long, value_name = "BYTES", value_parser = positive::<usize>, default_value_t = defaults().limits.max_room_len)]
    max_room_len: usize,
    /// Close connections that have not joined a room within this many seconds
    #[arg(long, value_name = "SECS", value_parser = positive::<u64>, default_value_t = defaults().join_timeout.as_secs())]
    join_timeout: u64,
    /// Close connections silent (not even answering pings) for this many seconds
    #[arg(long, value_name = "SECS", value_parser = positive::<u64>, default_value_t = defaults().idle_timeout.as_secs())]
    idle_timeout: u64,
    /// A reverse proxy (repeatable): for connections from it, the client address (for
    /// --max-connections-per-ip) is the last X-Forwarded-For entry. Never set this for an
    /// address clients can connect from directly
    #[arg(long, value_name = "IP")]
    trusted_proxy: Vec<IpAddr>,
}

impl RelayArgs {
    pub fn server_options(&self) -> ServerOptions {
        let mut o = ServerOptions::new(self.dialect);
        o.max_message_bytes = self.max_message_bytes;
        o.msg_rate = self.msg_rate;
        o.msg_burst = self.msg_burst;
        o.byte_rate = self.byte_rate;
        o.byte_burst = self.byte_burst;
        o.max_dropped = self.max_dropped;
        o.max_queued_bytes_per_client = self.max_queued_bytes_per_client;
        o.max_queued_bytes = self.max_queued_bytes;
        o.max_connections = self.max_connections;
        o.max_connections_per_ip = self.max_connections_per_ip;
        o.limits.max_room_members = self.max_room_members;
        o.limits.max_id_len = self.max_id_len;
        o.limits.max_room_len = self.max_room_len;
        o.join_timeout = Duration::from_secs(self.join_timeout);
        o.idle_timeout = Duration::from_secs(self.idle_timeout);
        o.trusted_proxies = self.trusted_proxy.clone();
        o
    }
}

/// Serve the relay until interrupted.
pub async fn relay_main(args: RelayArgs) -> Result<(), String> {
    let listen = args.listen;
    let dialect = args.dialect;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!("relay ({dialect}) listening on ws://{local}");
    eprintln!("roomrec relay ({dialect}) listening on ws://{local}");
    tokio::select! {
        result = relay::serve_with(listener, args.server_options()) => result.map_err(|e| format!("relay failed: {e}")),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// A limit of zero would refuse everything (or never time out): limits must be positive.
fn positive<T>(s: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + Default,
    T::Err: std::fmt::Display,
{
    let value: T = s.parse().map_err(|e| format!("{e}"))?;
    if value > T::default() {
        Ok(value)
    } else {
        Err("must be greater than 0".into())
    }
}
