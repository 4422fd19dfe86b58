//! `--http ADDR`: the live status over HTTP. `/` a page (guest cards, level meters, keyframe
//! thumbnails), `/status` the snapshot as JSON, `/events` Server-Sent Events, `/metrics`
//! Prometheus text, `/thumbnail/{connection}` the latest keyframe, `POST /stop` to finish the
//! recording. Everything is read from the [`StatusHub`]; the server decides nothing about the
//! recording except asking it to stop.
//!
//! Off by default. A non-loopback address needs a token, and then every request must carry it
//! (`Authorization: Bearer TOKEN`, or `?token=TOKEN` where a browser cannot set headers).

mod auth;
mod events;
mod metrics;
mod page;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::status::StatusHub;
use metrics::FileAccounts;

/// Where to serve and who may ask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpOptions {
    pub addr: SocketAddr,
    /// Required of every request when set.
    pub token: Option<String>,
}

/// A non-loopback address without a token would show the room to anyone who can reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpOptionsError {
    NeedsToken(SocketAddr),
    EmptyToken,
}

impl fmt::Display for HttpOptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpOptionsError::NeedsToken(addr) => write!(
                f,
                "--http {addr} is not a loopback address: set --http-token TOKEN as well \
                 (every request must then carry it), or use 127.0.0.1"
            ),
            HttpOptionsError::EmptyToken => f.write_str("--http-token must not be empty"),
        }
    }
}
impl std::error::Error for HttpOptionsError {}

impl HttpOptions {
    pub fn new(addr: SocketAddr, token: Option<String>) -> Result<HttpOptions, HttpOptionsError> {
        match &token {
            Some(t) if t.trim().is_empty() => return Err(HttpOptionsError::EmptyToken),
            None if !addr.ip().is_loopback() => return Err(HttpOptionsError::NeedsToken(addr)),
            _ => {}
        }
        Ok(HttpOptions { addr, token })
    }
}

/// Shared by every handler.
#[derive(Clone)]
struct AppState {
    hub: StatusHub,
    files: Arc<FileAccounts>,
    /// `/events` streams open now.
    watchers: Arc<std::sync::atomic::AtomicUsize>,
}

/// A running server; [`HttpServer::finish`] ends it.
pub struct HttpServer {
    addr: SocketAddr,
    watchers: Arc<std::sync::atomic::AtomicUsize>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl HttpServer {
    /// Binds `options.addr` and serves until [`finish`](Self::finish).
    pub async fn start(options: HttpOptions, hub: StatusHub) -> io::Result<HttpServer> {
        let listener = TcpListener::bind(options.addr).await?;
        let addr = listener.local_addr()?;
        let files = FileAccounts::spawn(&hub);
        let watchers = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let state = AppState {
            hub,
            files,
            watchers: watchers.clone(),
        };
        let app = router(state, options.token);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(HttpServer {
            addr,
            watchers,
            stop,
            task,
        })
    }

    /// The bound address (the port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, then lets open requests finish for at most `linger`: a watcher holding
    /// `/events` open can still take a last `/metrics` after the recording has stopped.
    pub async fn finish(self, linger: Duration) {
        // Still accepting while an `/events` watcher is connected (its last scrape must not
        // meet a closed port); a watcher that left is noticed at the next keep-alive.
        let deadline = tokio::time::Instant::now() + linger;
        while self.watchers.load(std::sync::atomic::Ordering::SeqCst) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.stop.send(());
        let linger = deadline
            .saturating_duration_since(tokio::time::Instant::now())
            .max(Duration::from_millis(500));
        let mut task = self.task;
        match tokio::time::timeout(linger, &mut task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!("HTTP server: {e}"),
            Ok(Err(e)) => tracing::warn!("HTTP server task: {e}"),
            Err(_) => task.abort(),
        }
    }
}

/// How long a stopped recorder keeps answering requests already open (an `/events` watcher's last
/// `/metrics` scrape) before it exits.
pub const LINGER: Duration = Duration::from_secs(5);

/// Starts the server for a recording that reports into `hub`, and says where it is.
pub async fn start_for(options: HttpOptions, hub: &StatusHub) -> Result<HttpServer, String> {
    let server = HttpServer::start(options.clone(), hub.clone())
        .await
        .map_err(|e| format!("--http {}: {e}", options.addr))?;
    let addr = server.local_addr();
    tracing::info!("live status on http://{addr}/ (metrics: /metrics, events: /events)");
    Ok(server)
}

fn router(state: AppState, token: Option<String>) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/status", get(page::status))
        .route("/thumbnail/{connection}", get(page::thumbnail))
        .route("/events", get(events::events))
        .route("/metrics", get(metrics::metrics))
        .route("/stop", post(page::stop))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(token),
            auth::require_token,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_goes_without_a_token() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(HttpOptions::new(addr("127.0.0.1:0"), None).is_ok());
        assert!(HttpOptions::new(addr("[::1]:9000"), None).is_ok());
        assert_eq!(
            HttpOptions::new(addr("0.0.0.0:9000"), None),
            Err(HttpOptionsError::NeedsToken(addr("0.0.0.0:9000")))
        );
        assert!(HttpOptions::new(addr("0.0.0.0:9000"), Some("s3cret".into())).is_ok());
        assert_eq!(
            HttpOptions::new(addr("127.0.0.1:0"), Some(" ".into())),
            Err(HttpOptionsError::EmptyToken)
        );
    }
}
