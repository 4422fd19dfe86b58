//! The routing of a VDO.Ninja-compatible signaling server, for tests and self-hosting
//! (`roomrec relay`). Pure and deterministic: no sockets, no tokio, no clock; randomness only from
//! the seed. The WebSocket server around it lives in `roomrec-io-tokio` (`relay::server`), and the
//! simulation drives [`Relay`] directly.
//!
//! Two dialects: [`RelayDialect::Relay`] behaves exactly like the self-hosted `vdoninja.js`,
//! [`RelayDialect::Official`] emulates the public `wss.vdo.ninja` server (server-assigned ids,
//! listings, `UUID` rewriting, cleanup notices).
//!
//! A driver owns one [`Relay`] and, for every socket event, calls the matching method and then
//! drains [`Relay::poll_output`]:
//!
//! ```
//! use roomrec_relay::{Relay, RelayDialect};
//!
//! let mut relay = Relay::new(RelayDialect::Relay, 7);
//! let a = relay.connect();
//! let b = relay.connect();
//! relay.receive(a, r#"{"request":"joinroom","roomid":"r","from":"A"}"#);
//! relay.receive(b, r#"{"request":"joinroom","roomid":"r","from":"B"}"#);
//! while let Some((to, text)) = relay.poll_output() {
//!     // Write `text` to the socket of `to`.
//!     assert_eq!(to, a);
//!     assert!(text.contains(r#""from":"B""#));
//! }
//! ```

#![warn(missing_docs)]

mod js;
mod official;
mod routing;

pub use routing::{ClientId, Relay};

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
