//! A synthetic VDO.Ninja publisher built on str0m, and readers for the encoded media it sends.
//!
//! [`Publisher`] speaks the publisher side of both signaling dialects the way the web app does
//! (data channel first, tracks in a re-offer on the data channel, trickled candidate bundles,
//! `bye` on hang-up). The simulation, the loopback tests and `roomrec demo` use it; the recorder
//! never does. Sans-io like the core: no sockets, no clock, outputs are polled.
//!
//! A driver (see [`Publisher`] for the contract) looks like this:
//!
//! ```no_run
//! # use std::time::Instant;
//! # use roomrec_testpeer::{Publisher, PublisherConfig, PublisherInput, PublisherOutput};
//! # fn recv_text() -> Option<String> { None }
//! # fn send_text(_: String) {}
//! # fn send_udp(_: std::net::SocketAddr, _: Vec<u8>) {}
//! # fn sleep_until(_: Option<Instant>) {}
//! # fn run(config: PublisherConfig) {
//! let mut publisher = Publisher::new(config);
//! publisher.handle_input(Instant::now(), PublisherInput::SignalingUp);
//! loop {
//!     while let Some(output) = publisher.poll_output() {
//!         match output {
//!             PublisherOutput::SendSignaling(text) => send_text(text),
//!             PublisherOutput::Transmit { destination, contents, .. } => {
//!                 send_udp(destination, contents)
//!             }
//!         }
//!     }
//!     // Wait for a WebSocket text, a datagram or the timeout, whichever comes first.
//!     sleep_until(publisher.poll_timeout());
//!     match recv_text() {
//!         Some(text) => publisher.handle_input(Instant::now(), PublisherInput::SignalingText(&text)),
//!         None => publisher.handle_input(Instant::now(), PublisherInput::Timeout),
//!     }
//! }
//! # }
//! ```
//!
//! [`source`] reads IVF, H.264 Annex-B and Ogg Opus files into frames; [`Track`] loops them.

#![warn(missing_docs)]

mod conn;
mod publisher;
pub mod source;
mod track;
mod wire;

pub use conn::SentCounts;
pub use publisher::{Publisher, PublisherConfig, PublisherInput, PublisherOutput};
pub use track::{SourceFrame, Track};
