//! Test support for roomrec: the deterministic in-memory simulation (fake publishers, relay and
//! recorder core on virtual time), a room on real networks in namespaces (`netroom`) and helpers
//! shared by the integration tests.

pub mod fuzz_bodies;
pub mod loopback;
pub mod netroom;
pub mod sim;
pub mod status_http;
pub mod synthetic;
