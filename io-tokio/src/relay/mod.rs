//! A VDO.Ninja-compatible signaling server, for tests and self-hosting (`roomrec relay`).
//!
//! [`routing`] is the pure, deterministic routing state machine (no tokio, no sockets), so an
//! in-memory simulation can drive it directly; [`server`] puts it behind WebSocket connections.
//! Two dialects: [`RelayDialect::Relay`] behaves exactly like the self-hosted `vdoninja.js`,
//! [`RelayDialect::Official`] emulates the public `wss.vdo.ninja` server (server-assigned ids,
//! listings, `UUID` rewriting, cleanup notices).

mod js;
mod official;
pub mod routing;
pub mod server;

pub use routing::{ClientId, Relay};
pub use server::{serve, serve_with, spawn_relay, spawn_relay_with, ServerOptions};

/// Which signaling server the relay behaves like. Named apart from core's `signaling::Dialect`
/// (the client side) on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RelayDialect {
    /// The self-hosted `vdoninja.js`: clients choose their id (`from`), text forwarded unchanged.
    Relay,
    /// The public server: ids assigned here, `UUID` rewritten to the sender, listings.
    Official,
}

impl std::str::FromStr for RelayDialect {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "relay" => Ok(Self::Relay),
            "official" => Ok(Self::Official),
            other => Err(format!(
                "unknown relay dialect {other:?} (expected relay or official)"
            )),
        }
    }
}

impl std::fmt::Display for RelayDialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Relay => "relay",
            Self::Official => "official",
        })
    }
}

#[cfg(test)]
mod official_tests;
#[cfg(test)]
mod routing_tests;
