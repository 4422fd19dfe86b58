//! `roomrec relay`: the self-hosted signaling relay.

use std::net::SocketAddr;

use roomrec_core::signaling::Dialect;
use roomrec_io_tokio::relay;

/// Serve the relay on `listen` until interrupted.
pub async fn relay_main(listen: SocketAddr, dialect: Dialect) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!("relay ({dialect}) listening on ws://{local}");
    eprintln!("roomrec relay ({dialect}) listening on ws://{local}");
    tokio::select! {
        result = relay::serve(listener, dialect) => result.map_err(|e| format!("relay failed: {e}")),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
