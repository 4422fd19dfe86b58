//! Tokio shell of roomrec: WebSocket, UDP sockets, timers, files and signals around the sans-io
//! core. It makes no protocol decisions; it only moves bytes, times and files.

pub mod check_network;
mod connection_task;
pub mod demo;
mod driver;
pub mod files;
pub mod http;
pub mod ice_servers;
mod lifecycle;
pub mod loadgen;
pub mod manifest;
pub mod netif;
pub mod options;
pub mod relay;
mod run;
mod shared_udp;
pub mod signals;
pub mod status;
mod streams;
mod trace;
mod wake;
pub mod ws;

pub use options::RecorderOptions;
pub use run::{run, run_until, run_with_status, RunError};
