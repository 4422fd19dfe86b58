//! `roomrec demo`: the bundled relay, a few synthetic publishers sending real encoded media, and
//! the recorder, all on 127.0.0.1 — a real recording with no network and no camera.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_testpeer::PublisherConfig;

use crate::options::ValidOptions;
use crate::relay::spawn_relay;
use crate::status::StatusHub;
use crate::{run_with_status, RecorderOptions, RunError};

pub mod media;
pub mod publisher_task;

pub use publisher_task::{
    spawn_lossy_publisher, spawn_publisher, spawn_publisher_with_stun, PublisherCommand,
    PublisherHandle,
};

#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub output_dir: PathBuf,
    pub duration: Duration,
    pub dialect: Dialect,
    pub password: Password,
    /// Serve the live status (`--http`).
    pub http: Option<crate::http::HttpOptions>,
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The demo's room name.
pub const ROOM: &str = "roomrec-demo";

/// The publishers of the demo: one per codec roomrec records.
pub const DEMO_STREAMS: [(&str, Codec); 4] = [
    ("alice", Codec::H264),
    ("bob", Codec::Vp8),
    ("carol", Codec::Vp9),
    ("dave", Codec::Av1),
];

pub fn publisher_config(
    stream_id: &str,
    video: Option<Codec>,
    audio: bool,
    dialect: Dialect,
    password: &Password,
) -> PublisherConfig {
    PublisherConfig {
        room: ROOM.into(),
        password: password.clone(),
        salt: "vdo.ninja".into(),
        dialect,
        stream_id: stream_id.into(),
        label: format!("{stream_id} (synthetic)"),
        local_addr: SocketAddr::new(LOOPBACK, 0),
        reflexive_addr: None,
        video: video.map(media::video),
        audio: audio.then(media::audio),
        candidates_first: false,
        scene: false,
        seed: fastrand::u64(..),
    }
}

/// Recorder options for a room on a local relay.
pub fn recorder_options(
    server: &str,
    output_dir: PathBuf,
    dialect: Dialect,
    password: Password,
) -> RecorderOptions {
    let mut options = RecorderOptions::new(ROOM);
    options.server = server.to_string();
    options.dialect = Some(dialect);
    options.password = password;
    options.ice_ips = vec![LOOPBACK];
    options.output_dir = output_dir;
    options.record_prefix = Some("demo".into());
    options
}

/// Runs the whole demo and returns when the recorder has finished its files.
pub async fn run_demo(
    options: DemoOptions,
    interrupted: impl std::future::Future<Output = ()>,
) -> Result<(), RunError> {
    run_demo_with_status(options, StatusHub::new(ROOM), interrupted).await
}

/// [`run_demo`], the recorder reporting into `status`.
pub async fn run_demo_with_status(
    options: DemoOptions,
    status: StatusHub,
    interrupted: impl std::future::Future<Output = ()>,
) -> Result<(), RunError> {
    let (relay_addr, relay) = spawn_relay(SocketAddr::new(LOOPBACK, 0), options.dialect)
        .await
        .map_err(|e| RunError::Demo(format!("cannot start the relay: {e}")))?;
    let server = format!("ws://{relay_addr}");
    tracing::info!("demo relay on {server}");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let recorder_options = recorder_options(
        &server,
        options.output_dir.clone(),
        options.dialect,
        options.password.clone(),
    );
    let mut recorder_options = recorder_options;
    recorder_options.preview_keyframes = options.http.is_some();
    let recorder_options: ValidOptions = recorder_options.try_into()?;
    let hub = status;
    let status_server = match options.http.clone() {
        Some(http) => Some(
            crate::http::start_for(http, &hub)
                .await
                .map_err(RunError::Demo)?,
        ),
        None => None,
    };
    let recorder = tokio::spawn(run_with_status(recorder_options, hub.clone(), async move {
        let _ = stop_rx.await;
    }));
    // Publishers arrive after the recorder, like guests joining a room being recorded.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut publishers = Vec::new();
    for (stream, codec) in DEMO_STREAMS {
        let config = publisher_config(
            stream,
            Some(codec),
            true,
            options.dialect,
            &options.password,
        );
        match spawn_publisher(&server, LOOPBACK, config).await {
            Ok(handle) => publishers.push(handle),
            Err(e) => tracing::warn!("demo publisher {stream} failed to start: {e}"),
        }
    }
    tokio::select! {
        _ = tokio::time::sleep(options.duration) => {}
        _ = interrupted => tracing::info!("interrupted"),
        // `POST /stop`: the recorder stops by itself; the publishers hang up after it.
        _ = hub.stop_requested() => {}
    }
    let _ = stop_tx.send(());
    let result = recorder
        .await
        .map_err(|e| RunError::Demo(format!("recorder task failed: {e}")))?;
    for p in publishers {
        p.hang_up().await;
    }
    relay.abort();
    if let Some(status_server) = status_server {
        status_server.finish(crate::http::LINGER).await;
    }
    result
}
