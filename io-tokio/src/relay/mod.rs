//! The WebSocket server of the signaling relay (`roomrec relay`, tests, the demo): sockets,
//! timers, queues and abuse limits around the pure routing of [`roomrec_relay`].

mod bucket;
mod conns;
mod hub;
mod options;
mod outbox;
pub mod server;

pub use options::ServerOptions;
pub use server::{serve, serve_with, spawn_relay, spawn_relay_with};
