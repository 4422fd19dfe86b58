//! `roomrec relay`: the self-hosted signaling relay.

use std::net::SocketAddr;

use roomrec_core::signaling::Dialect;

/// Serve the relay on `listen` until interrupted.
pub async fn relay_main(listen: SocketAddr, dialect: Dialect) -> Result<(), String> {
    // To be connected to roomrec_io_tokio::relay::serve.
    let _ = (listen, dialect);
    Err("the relay server is not yet wired into this build".into())
}
