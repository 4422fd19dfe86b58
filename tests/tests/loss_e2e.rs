//! 5% random packet loss on the publishers' uplinks: keyframe gating and PLI keep every file
//! decodable without errors.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_io_tokio::demo::{publisher_config, recorder_options, spawn_lossy_publisher};
use roomrec_io_tokio::relay::spawn_relay;
use roomrec_io_tokio::run_until;
use roomrec_test_support::ffmpeg::decode_errors;
use roomrec_test_support::ffprobe::probe;
use roomrec_test_support::recordings::media_files;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_percent_loss_files_decode_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, relay) = spawn_relay(SocketAddr::new(LOOPBACK, 0), Dialect::Relay)
        .await
        .unwrap();
    let server = format!("ws://{addr}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = recorder_options(
        &server,
        dir.path().to_path_buf(),
        Dialect::Relay,
        Password::Default,
    );
    let recorder = tokio::spawn(run_until(options, async move {
        let _ = stopped.await;
    }));
    let mut publishers = Vec::new();
    for (stream, codec) in [
        ("lossy264", Codec::H264),
        ("lossyvp8", Codec::Vp8),
        ("lossyvp9", Codec::Vp9),
    ] {
        let config = publisher_config(
            stream,
            Some(codec),
            true,
            Dialect::Relay,
            &Password::Default,
        );
        publishers.push(
            spawn_lossy_publisher(&server, LOOPBACK, config, 0.05)
                .await
                .unwrap(),
        );
    }
    // Setup itself crosses the lossy links (ICE, DTLS and SCTP retransmit after 1-3 s), so a
    // stream may start late; the file checks below are what this test is about.
    let streams = ["lossy264", "lossyvp8", "lossyvp9"];
    let started = tokio::time::Instant::now();
    let all_recording = async {
        while !streams
            .iter()
            .all(|s| !media_files(dir.path(), &format!("demo_{s}_")).is_empty())
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), all_recording).await;
    eprintln!("all streams on disk after {:?}", started.elapsed());
    tokio::time::sleep(Duration::from_secs(6)).await;
    let _ = stop.send(());
    recorder.await.unwrap().expect("clean shutdown");
    for p in publishers {
        p.hang_up().await;
    }
    relay.abort();
    for stream in streams {
        let files = media_files(dir.path(), &format!("demo_{stream}_"));
        assert!(!files.is_empty(), "{stream} recorded within 30 s");
        for file in files {
            if let Some(keep) = std::env::var_os("ROOMREC_KEEP_FILES") {
                let _ = std::fs::copy(
                    &file,
                    std::path::Path::new(&keep).join(file.file_name().unwrap()),
                );
            }
            let info = probe(&file);
            assert!(
                info.stream("video").map_or(0, |v| v.frames) > 30,
                "{stream}: {info:?}"
            );
            assert_eq!(
                decode_errors(&file),
                "",
                "{} decodes cleanly despite loss",
                file.display()
            );
        }
    }
}
