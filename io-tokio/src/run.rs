//! `run`: everything tied together, from options to finished files.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use roomrec_core::connection::ConnectionSettings;
use roomrec_core::room::{Room, RoomConfig};
use tokio::sync::mpsc;

use crate::connection_task::ShellContext;
use crate::connection_task::UdpPorts;
use crate::driver::{Driver, Stop};
use crate::files::FileSink;
use crate::manifest::Manifest;
use crate::options::{OptionsError, ValidOptions};
use crate::status::{feed, Event, FileWatch, StatusHub};
use crate::trace::SignalingTrace;
use crate::ws::{WsClient, WsConfig};

#[derive(Debug)]
pub enum RunError {
    Options(OptionsError),
    Trace {
        path: PathBuf,
        error: String,
    },
    /// The signaling task ended by itself (e.g. TLS could not be set up).
    SignalingGone,
    /// `roomrec demo` could not set itself up.
    Demo(String),
    /// `--udp-port` could not be bound.
    UdpPort(String),
    /// Orderly shutdown ran out of time; files are still playable up to their last write.
    ShutdownTimeout {
        sessions: usize,
        files: usize,
    },
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Options(e) => write!(f, "{e}"),
            RunError::Trace { path, error } => {
                write!(f, "signaling trace {}: {error}", path.display())
            }
            RunError::SignalingGone => f.write_str("the signaling connection task stopped"),
            RunError::Demo(e) => write!(f, "demo: {e}"),
            RunError::UdpPort(e) => write!(f, "--udp-port: {e}"),
            RunError::ShutdownTimeout { sessions, files } => write!(
                f,
                "shutdown took too long ({sessions} sessions and {files} files not finished); \
                 unfinished files are playable up to their last write"
            ),
        }
    }
}
impl std::error::Error for RunError {}

impl From<OptionsError> for RunError {
    fn from(e: OptionsError) -> Self {
        RunError::Options(e)
    }
}

/// Lets `run_until` take `ValidOptions` as they are.
impl From<Infallible> for RunError {
    fn from(e: Infallible) -> Self {
        match e {}
    }
}

/// Record until SIGINT/SIGTERM.
pub async fn run(options: ValidOptions) -> Result<(), RunError> {
    run_until(options, crate::signals::shutdown_signal()).await
}

/// Record until `shutdown` resolves, then finish every file within `options.shutdown_timeout`.
/// Takes [`ValidOptions`], or [`RecorderOptions`](crate::RecorderOptions), which are validated first.
pub async fn run_until<O>(options: O, shutdown: impl Future<Output = ()>) -> Result<(), RunError>
where
    O: TryInto<ValidOptions>,
    RunError: From<O::Error>,
{
    let options: ValidOptions = options.try_into()?;
    let status = StatusHub::new(&options.room);
    run_with_status(options, status, shutdown).await
}

/// [`run_until`], reporting into `status` (the live views read it); `status.request_stop` stops
/// the recording like `shutdown` does.
pub async fn run_with_status(
    options: ValidOptions,
    status: StatusHub,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let salt = options.salt.clone();
    let dialect = options.dialect;
    let trace = match &options.signaling_trace {
        Some(path) => Some(
            SignalingTrace::open(path, options.signaling_trace_redact).map_err(|e| {
                RunError::Trace {
                    path: path.clone(),
                    error: e.to_string(),
                }
            })?,
        ),
        None => None,
    };
    match &options.view {
        Some(stream) => {
            tracing::info!(%stream, server = %options.server, ?dialect, dir = %options.output_dir.display(), "recording one stream (no room)")
        }
        None => {
            tracing::info!(room = %options.room, server = %options.server, ?dialect, dir = %options.output_dir.display(), "recording room")
        }
    }

    // Bound first: a port in use stops us before anything else starts.
    let shared_ports = match options.shared_udp_ports {
        Some(ports) => {
            crate::shared_udp::bind(ports, &crate::netif::ice_addresses(&options.ice_ips))
                .map_err(|e| RunError::UdpPort(e.to_string()))?
        }
        None => Vec::new(),
    };
    let files = FileSink::new(options.output_dir.clone());
    let manifest = Manifest::spawn(
        options.output_dir.clone(),
        options.prefix(),
        &options.room,
        files.subscribe(),
        Duration::from_secs(1),
    );
    let file_watch = FileWatch::spawn(status.clone(), files.subscribe());
    let (stun_servers, turn_servers) = options.ice_servers.resolve().await;
    if !stun_servers.is_empty() || !turn_servers.is_empty() {
        tracing::info!(stun = ?stun_servers, turn = ?turn_servers, relay_only = options.ice_servers.relay_only, "ICE servers");
    }
    let (reports_tx, mut reports) = mpsc::unbounded_channel();
    let ctx = Arc::new(ShellContext {
        ice_ips: options.ice_ips.clone(),
        files: files.clone(),
        manifest: manifest.sender(),
        reports: reports_tx,
        status: status.clone(),
        udp_ports: UdpPorts::new(options.udp_ports),
    });
    let room = Room::new(
        RoomConfig {
            room: options.room.clone(),
            password: options.password.clone(),
            salt,
            dialect,
            record_streams: options.record_streams.clone(),
            view: options.view.clone(),
            seed: fastrand::u64(..),
            connection: ConnectionSettings {
                prefix: options.prefix().to_string(),
                video_codecs: options.video_codecs.clone(),
                audio: options.audio,
                video: options.video,
                label: options.label.clone(),
                connect_timeout: options.connect_timeout,
                public_ips: options.public_ips.clone(),
                stun_servers,
                turn_servers,
                relay_only: options.ice_servers.relay_only,
                observe_frames: false,
                preview_keyframes: options.preview_keyframes,
            },
        },
        Instant::now(),
    );
    let (ws, mut ws_events) = WsClient::spawn(WsConfig::new(options.server.clone()));
    let mut driver = Driver::new(room, ws, ctx, trace, shared_ports);

    let lifecycle = crate::lifecycle::spawn(&options.lifecycle, &status);
    status.emit(Event::RecorderStarted {
        room: options.room.clone(),
        server: options.server.clone(),
        output_dir: options.output_dir.display().to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    });
    let stop_asked = status.clone();
    let shutdown = async move {
        tokio::select! {
            () = shutdown => {}
            why = stop_asked.stop_requested() => tracing::info!("stopping: {why}"),
        }
    };
    let stop = driver.run(&mut ws_events, &mut reports, shutdown).await;
    let deadline = tokio::time::Instant::now() + options.shutdown_timeout;
    let sessions_left = driver.shutdown(&mut reports, deadline).await;
    // Connection tasks are gone: every file record has been sent.
    let _ = tokio::time::timeout_at(deadline, manifest.finish()).await;
    let _ = tokio::time::timeout_at(deadline, files.wait_idle()).await;
    let files_left = files.open_files();
    // Every closed file's `file_closed` and every `guest_left` before `stopped`.
    file_watch.finish().await;
    feed::finish(&status);
    let Driver { ws, .. } = driver;
    let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
    ws.close(remaining.max(Duration::from_millis(100))).await;

    let reason = match (&stop, sessions_left + files_left) {
        (_, 1..) => "shutdown timed out",
        (Stop::Shutdown, _) => "shutdown",
        (Stop::SignalingGone, _) => "signaling task stopped",
    };
    status.emit(Event::Stopped {
        reason: reason.to_string(),
    });
    lifecycle.finish().await;
    if sessions_left > 0 || files_left > 0 {
        return Err(RunError::ShutdownTimeout {
            sessions: sessions_left,
            files: files_left,
        });
    }
    match stop {
        Stop::Shutdown => {
            tracing::info!("all files closed");
            Ok(())
        }
        Stop::SignalingGone => Err(RunError::SignalingGone),
    }
}
