//! The WebSocket server of the signaling relay (`roomrec relay`, tests, the demo): sockets,
//! timers and queues around the pure routing of [`roomrec_relay`].

pub mod server;

pub use server::{serve, serve_with, spawn_relay, spawn_relay_with, ServerOptions};
