//! Candidates beyond our interface addresses, for publishers that cannot reach those: STUN
//! binding requests for server-reflexive candidates ([`stun`]) and TURN allocations for relay
//! candidates ([`turn`]), plus the server URLs users write ([`url`]). All sans-io: the caller
//! resolves host names, binds sockets and opens TCP streams.

pub mod stun;
pub mod turn;
pub mod url;

pub use stun::{BindingClient, BindingEvent, StunTransmit};
pub use turn::{RelayOutput, TurnRelays, TurnServer};
pub use url::{parse_stun, parse_turn, StunUrl, TurnTransport, TurnUrl};
