//! Single-stream mode (`--view STREAMID`) end to end over real sockets on 127.0.0.1: the bundled
//! relay, synthetic publishers that publish without a room (`seed` only), and the recorder (io-tokio
//! API). Only the viewed stream is recorded, one file per visit of its publisher, and the files
//! decode cleanly with ffprobe/ffmpeg.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_io_tokio::demo::{publisher_config, spawn_publisher, PublisherHandle};
use roomrec_io_tokio::relay::spawn_relay;
use roomrec_io_tokio::{run_until, RecorderOptions};
use roomrec_test_support::ffmpeg::decode_errors_vfr;
use roomrec_test_support::ffprobe::probe;
use roomrec_test_support::recordings::media_files;
use roomrec_testpeer::PublisherConfig;
use roomrec_tests::loopback::finish;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const STREAM: &str = "cam1";
/// Files of the viewed stream: the prefix defaults to the stream id, then the stream id.
const FILES: &str = "cam1_cam1_";

struct Case {
    dialect: Dialect,
    password: Password,
    codec: Codec,
    /// Start the recorder before the publisher is live (else the other way round).
    recorder_first: bool,
}

/// A publisher of `stream` outside any room (a `?push=` link without `&room`).
fn pushed(stream: &str, codec: Codec, case: &Case) -> PublisherConfig {
    PublisherConfig {
        room: String::new(),
        ..publisher_config(stream, Some(codec), true, case.dialect, &case.password)
    }
}

async fn publish(server: &str, config: PublisherConfig) -> PublisherHandle {
    spawn_publisher(server, LOOPBACK, config).await.unwrap()
}

/// Waits (at most `limit`) until `n` files of the viewed stream exist.
async fn wait_for_files(dir: &Path, n: usize, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    while media_files(dir, FILES).len() < n && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn view_one_stream(case: Case, video_codec: &str) {
    // RUST_LOG=info shows the recorder's side when a run fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let (addr, relay) = spawn_relay(SocketAddr::new(LOOPBACK, 0), case.dialect)
        .await
        .unwrap();
    let server = format!("ws://{addr}");
    // Neither a room member nor another stream outside rooms may be recorded.
    let mut others = vec![
        publish(
            &server,
            publisher_config(
                "inroom",
                Some(Codec::Vp8),
                true,
                case.dialect,
                &case.password,
            ),
        )
        .await,
        publish(&server, pushed("other", Codec::Vp8, &case)).await,
    ];
    let target = pushed(STREAM, case.codec, &case);
    let mut first = None;
    if !case.recorder_first {
        first = Some(publish(&server, target.clone()).await);
    }

    let mut options = RecorderOptions::view(STREAM);
    options.server = server.clone();
    options.dialect = Some(case.dialect);
    options.password = case.password.clone();
    options.ice_ips = vec![LOOPBACK];
    options.output_dir = dir.path().to_path_buf();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let recorder = tokio::spawn(run_until(options, async move {
        let _ = stopped.await;
    }));
    if case.recorder_first {
        tokio::time::sleep(Duration::from_millis(500)).await;
        first = Some(publish(&server, target.clone()).await);
    }
    // Generous limits: waiting is not what is tested (official-dialect retries take up to 15 s).
    wait_for_files(dir.path(), 1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The publisher hangs up and comes back (new peer id, same stream id): a second file.
    first.unwrap().hang_up().await;
    // The relay frees the stream id once it has seen the old socket close.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    others.push(publish(&server, target).await);
    wait_for_files(dir.path(), 2, Duration::from_secs(40)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    finish(stop, recorder, others, relay).await;

    let files = media_files(dir.path(), FILES);
    assert_eq!(files.len(), 2, "one file per visit: {files:?}");
    for file in &files {
        let info = probe(file);
        let video = info.stream("video").expect("video");
        assert_eq!(video.codec, video_codec, "{}", file.display());
        assert_eq!(info.stream("audio").expect("audio").codec, "opus");
        // ~3 s of 30 fps video reached each file.
        assert!(
            video.frames >= 45,
            "{}: {} frames",
            file.display(),
            video.frames
        );
        assert_eq!(decode_errors_vfr(file), "", "{}", file.display());
    }
    let ext = if video_codec == "h264" { "ts" } else { "webm" };
    assert!(
        files.iter().all(|f| f.extension().unwrap() == ext),
        "{files:?}"
    );
    // Nothing but the viewed stream was recorded.
    assert_eq!(media_files(dir.path(), ""), files);
    let manifest = std::fs::read_to_string(dir.path().join("cam1_manifest.json")).unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(
        manifest["files"].as_array().map(Vec::len),
        Some(2),
        "{manifest}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_relay_dialect_default_password_recorder_first() {
    let case = Case {
        dialect: Dialect::Relay,
        password: Password::Default,
        codec: Codec::Vp8,
        recorder_first: true,
    };
    view_one_stream(case, "vp8").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_official_dialect_without_password_h264_publisher_first() {
    let case = Case {
        dialect: Dialect::Official,
        password: Password::Disabled,
        codec: Codec::H264,
        recorder_first: false,
    };
    view_one_stream(case, "h264").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_official_dialect_default_password_vp9() {
    let case = Case {
        dialect: Dialect::Official,
        password: Password::Default,
        codec: Codec::Vp9,
        recorder_first: true,
    };
    view_one_stream(case, "vp9").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn view_relay_dialect_without_password_av1() {
    let case = Case {
        dialect: Dialect::Relay,
        password: Password::Disabled,
        codec: Codec::Av1,
        recorder_first: false,
    };
    view_one_stream(case, "av1").await;
}
