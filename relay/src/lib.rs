//! The routing of a VDO.Ninja-compatible signaling server, for tests and self-hosting
//! (`roomrec relay`). Pure and deterministic: no sockets, no tokio, no clock; randomness only from
//! the seed. The WebSocket server around it lives in `roomrec-io-tokio` (`relay::server`), and the
//! simulation drives [`Relay`] directly.
//!
//! Two dialects: [`Dialect::Relay`] behaves exactly like the self-hosted `vdoninja.js`,
//! [`Dialect::Official`] emulates the public `wss.vdo.ninja` server (server-assigned ids,
//! listings, `UUID` rewriting, cleanup notices).
//!
//! A driver owns one [`Relay`] and, for every socket event, calls the matching method and then
//! drains [`Relay::poll_output`]:
//!
//! ```
//! use roomrec_relay::{Dialect, Relay};
//!
//! let mut relay = Relay::new(Dialect::Relay, 7);
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
mod limits;
mod official;
mod routing;

pub use limits::Limits;
pub use routing::{ClientId, Relay};

/// Which signaling server the relay behaves like: the same [`Dialect`] a client speaks.
/// `Relay` is the self-hosted `vdoninja.js` (clients choose their id, text forwarded unchanged);
/// `Official` emulates the public server (ids assigned here, `UUID` rewritten, listings).
pub use roomrec_core::signaling::Dialect;

#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod no_room_tests;
#[cfg(test)]
mod official_tests;
#[cfg(test)]
mod routing_tests;
