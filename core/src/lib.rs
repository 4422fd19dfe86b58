//! Sans-io core of roomrec.
//!
//! Everything here is a pure state machine: inputs carry explicit `Instant`s, randomness comes from
//! seeds the caller provides, and outputs are polled. No sockets, files, clocks or threads.

#![warn(missing_docs)]

pub mod connection;
pub mod demux;
pub mod ice;
pub mod media;
pub mod room;
pub mod signaling;
