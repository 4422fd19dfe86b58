//! SIGINT / SIGTERM: the first one starts an orderly shutdown, a second one exits at once (files are
//! playable after a crash, so that loses at most the last moments).

use std::future::Future;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::oneshot;

/// Resolves at the first SIGINT or SIGTERM. Installs a handler that exits the process on the second.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    shutdown_signal_with(|| {})
}

/// [`shutdown_signal`], calling `before_exit` before the second signal exits (the live table
/// restores the terminal).
pub fn shutdown_signal_with(
    before_exit: impl FnOnce() + Send + 'static,
) -> impl Future<Output = ()> {
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut int, mut term) = match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(i), Ok(t)) => (i, t),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!("cannot install signal handlers: {e}");
                let _keep = tx;
                return std::future::pending::<()>().await;
            }
        };
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        tracing::info!("shutting down: finishing files (signal again to exit at once)");
        let _ = tx.send(());
        tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        tracing::warn!("second signal: exiting now");
        before_exit();
        std::process::exit(130);
    });
    async move {
        let _ = rx.await;
    }
}
