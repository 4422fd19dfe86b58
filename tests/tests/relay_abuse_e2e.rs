//! The recorder keeps recording while a guest in the same room attacks the bundled relay
//! (default limits): oversized frame, garbage, broadcast floods from fresh connections, idle
//! sockets. Real sockets on 127.0.0.1; the attacker comes from 127.0.0.2 (also loopback).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_io_tokio::demo::{publisher_config, recorder_options, spawn_publisher};
use roomrec_io_tokio::relay::spawn_relay;
use roomrec_io_tokio::run_until;
use roomrec_test_support::ffmpeg::decode_errors;
use roomrec_test_support::ffprobe::probe;
use roomrec_test_support::recordings::media_files;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const ATTACKER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
/// The demo room's id on the wire (no password: not hashed).
const ROOM: &str = "roomrec-demo";

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn attacker_socket(relay: SocketAddr) -> Option<Ws> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind(SocketAddr::new(ATTACKER, 0)).ok()?;
    let stream = socket.connect(relay).await.ok()?;
    let url = format!("ws://{relay}/");
    Some(tokio_tungstenite::client_async(url, stream).await.ok()?.0)
}

/// One connection's worth of abuse: join, garbage, then broadcasts until cut off. Returns
/// whether the relay cut the connection.
async fn attack_once(relay: SocketAddr, round: usize, oversized: bool) -> bool {
    let Some(mut ws) = attacker_socket(relay).await else {
        return false;
    };
    let me = format!("attacker{round}");
    let join = format!(r#"{{"request":"joinroom","roomid":"{ROOM}","from":"{me}"}}"#);
    let _ = ws.send(Message::text(join)).await;
    if oversized {
        let _ = ws.send(Message::binary(vec![b'x'; 20 << 20])).await;
        return true;
    }
    let _ = ws.feed(Message::binary(vec![0xff; 64])).await;
    let _ = ws.feed(Message::text(r#"{"from":"#)).await;
    let pad = "p".repeat(200);
    for n in 0..20_000 {
        let msg = format!(r#"{{"from":"{me}","n":{n},"pad":"{pad}"}}"#);
        if ws.feed(Message::text(msg)).await.is_err() || (n % 100 == 0 && ws.flush().await.is_err())
        {
            return true;
        }
    }
    // Everything is written: the relay must now cut it off, reading nothing else.
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(_)) = ws.next().await {}
    });
    end.await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recorder_keeps_recording_through_an_attack_on_the_relay() {
    let dir = tempfile::tempdir().unwrap();
    let (dialect, password) = (Dialect::Relay, Password::Disabled);
    let (addr, relay) = spawn_relay(SocketAddr::new(LOOPBACK, 0), dialect)
        .await
        .unwrap();
    let server = format!("ws://{addr}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = recorder_options(&server, dir.path().to_path_buf(), dialect, password.clone());
    let recorder = tokio::spawn(run_until(options, async move {
        let _ = stopped.await;
    }));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut publishers = Vec::new();
    for (stream, codec) in [("alice", Codec::H264), ("bob", Codec::Vp8)] {
        let config = publisher_config(stream, Some(codec), true, dialect, &password);
        publishers.push(spawn_publisher(&server, LOOPBACK, config).await.unwrap());
    }

    // A member that reads normally: never dropped, and it sees the flood (same room).
    let (mut spy, _) = tokio_tungstenite::connect_async(&server).await.unwrap();
    let join = format!(r#"{{"request":"joinroom","roomid":"{ROOM}","from":"spy"}}"#);
    spy.send(Message::text(join)).await.unwrap();
    let spy = tokio::spawn(async move {
        let mut flood = 0;
        while let Some(Ok(frame)) = spy.next().await {
            flood += usize::from(frame.to_text().is_ok_and(|t| t.contains(r#""pad""#)));
            if frame.is_close() {
                break;
            }
        }
        flood
    });
    let attack = tokio::spawn(async move {
        let mut rounds = vec![attack_once(addr, 0, true).await];
        for round in 1..4 {
            rounds.push(attack_once(addr, round, false).await);
        }
        let idle: Vec<_> =
            futures_util::future::join_all((0..300).map(|_| attacker_socket(addr))).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        (rounds, idle.into_iter().flatten().count())
    });
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (rounds, idle_accepted) = attack.await.unwrap();
    assert_eq!(rounds, vec![true; 4], "the flooder is cut off every time");
    assert!(
        !spy.is_finished(),
        "a member reading normally is never dropped"
    );
    assert!(idle_accepted <= 64, "per-address cap: {idle_accepted}");
    let _ = stop.send(());
    let recorded = recorder.await.unwrap();
    relay.abort();
    assert!(spy.await.unwrap() > 0, "the flood reached the room");
    recorded.expect("recorder shuts down cleanly");
    for p in publishers {
        p.hang_up().await;
    }

    for (stream, codec) in [("alice", "h264"), ("bob", "vp8")] {
        let files = media_files(dir.path(), &format!("demo_{stream}_"));
        let [file] = files.as_slice() else {
            panic!("{stream}: one file, got {files:?}")
        };
        let info = probe(file);
        // ~5 s of 30 fps video and 50 audio packets/s reached the file.
        let frames = (info.codec(codec).frames, info.codec("opus").frames);
        assert!(frames.0 >= 100 && frames.1 >= 150, "{stream}: {frames:?}");
        assert_eq!(decode_errors(file), "", "{stream}: decode errors");
    }
}
