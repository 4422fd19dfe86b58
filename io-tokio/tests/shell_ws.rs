//! The signaling WebSocket client against tiny local servers on 127.0.0.1.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use roomrec_io_tokio::ws::{BackoffConfig, WsClient, WsConfig, WsEvent};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{self, UnboundedReceiver};
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::Message;

async fn next(rx: &mut UnboundedReceiver<WsEvent>) -> WsEvent {
    timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no ws event within 10 s")
        .expect("ws task gone")
}

fn config(url: String, initial_ms: u64, max_ms: u64) -> WsConfig {
    let mut c = WsConfig::new(url);
    c.backoff = BackoffConfig {
        initial: Duration::from_millis(initial_ms),
        max: Duration::from_millis(max_ms),
        stable_after: Duration::from_secs(30),
    };
    c
}

async fn next_text<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("server: nothing received")
        {
            Some(Ok(Message::Text(t))) => return t.as_str().to_owned(),
            Some(Ok(_)) => continue,
            other => panic!("server: connection ended: {other:?}"),
        }
    }
}

#[tokio::test]
async fn reconnects_after_a_drop_and_never_replays_stale_text() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (seen_tx, mut seen) = mpsc::unbounded_channel::<(usize, String, Instant)>();
    tokio::spawn(async move {
        for n in 1..=2 {
            let (tcp, _) = listener.accept().await.unwrap();
            let accepted = Instant::now();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let first = next_text(&mut ws).await;
            seen_tx.send((n, first, accepted)).unwrap();
            ws.send(Message::text(format!("welcome-{n}")))
                .await
                .unwrap();
            if n == 1 {
                // Drop the TCP connection without a close handshake.
                drop(ws);
            } else {
                // Keep the second connection open until the client goes.
                while let Some(Ok(_)) = ws.next().await {}
            }
        }
    });

    let (client, mut events) = WsClient::spawn(config(url, 300, 5000));
    assert_eq!(next(&mut events).await, WsEvent::Up { generation: 1 });
    client.send(1, "hello-1".into());
    assert_eq!(
        next(&mut events).await,
        WsEvent::Text {
            generation: 1,
            text: "welcome-1".into()
        }
    );
    match next(&mut events).await {
        WsEvent::Down { generation: 1, .. } => {}
        other => panic!("expected Down, got {other:?}"),
    }
    let down_at = Instant::now();
    // Sent while down, for the old connection: must not reach the new one.
    client.send(1, "stale".into());
    assert_eq!(next(&mut events).await, WsEvent::Up { generation: 2 });
    let waited = down_at.elapsed();
    assert!(
        waited >= Duration::from_millis(250),
        "reconnected after {waited:?}, before the backoff delay"
    );
    client.send(2, "hello-2".into());
    assert_eq!(
        next(&mut events).await,
        WsEvent::Text {
            generation: 2,
            text: "welcome-2".into()
        }
    );

    let (n1, m1, _) = seen.recv().await.unwrap();
    let (n2, m2, _) = seen.recv().await.unwrap();
    assert_eq!((n1, m1.as_str()), (1, "hello-1"));
    assert_eq!((n2, m2.as_str()), (2, "hello-2"));
    client.close(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn backoff_doubles_up_to_the_maximum() {
    // A server that accepts TCP and hangs up at once: every handshake fails.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (tx, mut attempts) = mpsc::unbounded_channel::<Instant>();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = tx.send(Instant::now());
            drop(tcp);
        }
    });
    let (client, mut events) = WsClient::spawn(config(url, 100, 400));
    let mut times = Vec::new();
    for _ in 0..6 {
        times.push(
            timeout(Duration::from_secs(10), attempts.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let expected = [100u64, 200, 400, 400, 400];
    for (gap, exp) in gaps.iter().zip(expected) {
        assert!(*gap >= Duration::from_millis(exp - 10), "gaps {gaps:?}");
    }
    // Capped: not 800 ms after 400.
    assert!(gaps[3] < Duration::from_millis(790), "gaps {gaps:?}");
    assert!(
        events.try_recv().is_err(),
        "a failed handshake must not report Up"
    );
    client.close(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn answers_pings_and_survives_garbage() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let (pong_tx, mut pong_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        ws.send(Message::Ping(b"are you there".to_vec().into()))
            .await
            .unwrap();
        ws.send(Message::Binary(vec![0xff, 0xfe, 0x00].into()))
            .await
            .unwrap();
        ws.send(Message::text("not json at all {{{")).await.unwrap();
        ws.send(Message::Binary(b"{\"request\":\"x\"}".to_vec().into()))
            .await
            .unwrap();
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Pong(p) = msg {
                let _ = pong_tx.send(p.to_vec());
            }
        }
    });
    let (client, mut events) = WsClient::spawn(config(url, 100, 400));
    assert_eq!(next(&mut events).await, WsEvent::Up { generation: 1 });
    // Invalid UTF-8 binary is dropped; text passes through untouched (the core judges JSON).
    assert_eq!(
        next(&mut events).await,
        WsEvent::Text {
            generation: 1,
            text: "not json at all {{{".into()
        }
    );
    assert_eq!(
        next(&mut events).await,
        WsEvent::Text {
            generation: 1,
            text: "{\"request\":\"x\"}".into()
        }
    );
    let pong = timeout(Duration::from_secs(10), pong_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pong, b"are you there");
    client.close(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn idle_connection_is_given_up() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        // Completes the handshake, then never reads or writes again (a dead peer).
        let ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(ws);
    });
    let mut c = config(url, 100, 400);
    c.keepalive = Duration::from_millis(100);
    c.idle_timeout = Duration::from_millis(500);
    let (client, mut events) = WsClient::spawn(c);
    assert_eq!(next(&mut events).await, WsEvent::Up { generation: 1 });
    let up = Instant::now();
    match next(&mut events).await {
        WsEvent::Down {
            generation: 1,
            reason,
        } => assert!(reason.contains("nothing received"), "{reason}"),
        other => panic!("expected Down, got {other:?}"),
    }
    assert!(up.elapsed() >= Duration::from_millis(450));
    client.close(Duration::from_secs(2)).await;
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

#[tokio::test]
async fn wss_verifies_certificates() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_der = cert.cert.der().clone();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let server_cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key_der)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_cfg));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, mut handshakes) = mpsc::unbounded_channel::<Result<(), String>>();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match acceptor.accept(tcp).await {
                    Ok(tls) => {
                        let mut ws = tokio_tungstenite::accept_async(tls).await.unwrap();
                        let _ = tx.send(Ok(()));
                        while let Some(Ok(_)) = ws.next().await {}
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                    }
                }
            });
        }
    });
    let url = format!("wss://localhost:{port}");

    // Default config: the self-signed certificate is rejected, so no connection comes up.
    let (client, mut events) = WsClient::spawn(config(url.clone(), 100, 400));
    let first = timeout(Duration::from_secs(10), handshakes.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        first.is_err(),
        "TLS handshake with an untrusted certificate succeeded"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        events.try_recv().is_err(),
        "connected despite an untrusted certificate"
    );
    client.close(Duration::from_secs(2)).await;
    while handshakes.try_recv().is_ok() {}

    // Trusting that certificate explicitly: the same server works.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let client_cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut c = config(url, 100, 400);
    c.tls = Some(Arc::new(client_cfg));
    let (client, mut events) = WsClient::spawn(c);
    assert_eq!(next(&mut events).await, WsEvent::Up { generation: 1 });
    client.close(Duration::from_secs(2)).await;
}
