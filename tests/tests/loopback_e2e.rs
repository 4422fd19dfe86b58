//! End to end over real sockets on 127.0.0.1: `roomrec relay` routing (in-process server), the
//! recorder shell + core, and synthetic str0m publishers sending real encoded media over UDP.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_io_tokio::demo::{publisher_config, recorder_options, spawn_publisher};
use roomrec_io_tokio::relay::spawn_relay;
use roomrec_io_tokio::run_until;
use roomrec_test_support::ffmpeg::decode_errors;
use roomrec_test_support::ffprobe::probe;
use roomrec_test_support::recordings::{check_one_recording, media_files};
use roomrec_tests::loopback::finish;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

async fn record_three(dialect: Dialect, password: Password) {
    let dir = tempfile::tempdir().unwrap();
    let (addr, relay) = spawn_relay(SocketAddr::new(LOOPBACK, 0), dialect)
        .await
        .unwrap();
    let server = format!("ws://{addr}");

    // One publisher is there before the recorder, two arrive after it.
    let early = spawn_publisher(
        &server,
        LOOPBACK,
        publisher_config("alice", Some(Codec::H264), true, dialect, &password),
    )
    .await
    .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = recorder_options(&server, dir.path().to_path_buf(), dialect, password.clone());
    let recorder = tokio::spawn(run_until(options, async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut publishers = vec![early];
    for (stream, codec) in [("bob", Codec::Vp8), ("carol", Codec::Vp9)] {
        let config = publisher_config(stream, Some(codec), true, dialect, &password);
        publishers.push(spawn_publisher(&server, LOOPBACK, config).await.unwrap());
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    finish(stop, recorder, publishers, relay).await;

    for (stream, codec) in [("alice", "h264"), ("bob", "vp8"), ("carol", "vp9")] {
        // ~4 s of 30 fps video and 50 packets/s of audio reached the file.
        let info = check_one_recording(dir.path(), &format!("demo_{stream}_"), codec, 90, 150);
        let video = info.stream("video").unwrap();
        assert_eq!((video.width, video.height), (Some(320), Some(240)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_dialect_default_password_over_udp() {
    record_three(Dialect::Relay, Password::Default).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_dialect_without_password_over_udp() {
    record_three(Dialect::Official, Password::Disabled).await;
}

/// A guest who hangs up and comes back (new peer id, same stream id) gets a second file, and a
/// hostile stream id never writes outside the output directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejoin_gets_a_new_file_and_hostile_ids_stay_inside() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    let (dialect, password) = (Dialect::Relay, Password::Default);
    let (addr, relay) = spawn_relay(SocketAddr::new(LOOPBACK, 0), Dialect::Relay)
        .await
        .unwrap();
    let server = format!("ws://{addr}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = recorder_options(&server, dir.clone(), dialect, password.clone());
    let recorder = tokio::spawn(run_until(options, async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let guest = |stream: &str| publisher_config(stream, Some(Codec::Vp8), true, dialect, &password);
    let hostile = spawn_publisher(&server, LOOPBACK, guest("../../etc/x"))
        .await
        .unwrap();
    let first = spawn_publisher(&server, LOOPBACK, guest("erin"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    first.hang_up().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = spawn_publisher(&server, LOOPBACK, guest("erin"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = stop.send(());
    recorder.await.unwrap().expect("clean shutdown");
    second.hang_up().await;
    hostile.hang_up().await;
    relay.abort();

    let erin = media_files(&dir, "demo_erin_");
    assert_eq!(erin.len(), 2, "one file per visit: {erin:?}");
    for file in &erin {
        assert!(
            probe(file).stream("video").map_or(0, |v| v.frames) >= 45,
            "{}",
            file.display()
        );
        assert_eq!(decode_errors(file), "");
    }
    // Everything the recorder wrote is directly inside `out`, and nothing appeared next to it.
    let outside: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, vec![std::ffi::OsString::from("out")]);
    let hostile_files = media_files(&dir, "demo_etc_x_");
    assert_eq!(
        hostile_files.len(),
        1,
        "hostile id sanitized to etc_x: {:?}",
        std::fs::read_dir(&dir).unwrap().collect::<Vec<_>>()
    );
    assert_eq!(decode_errors(&hostile_files[0]), "");
}
