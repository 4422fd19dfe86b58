//! One publisher session: a WebSocket, a UDP socket and a `Publisher`, driven until it hangs up
//! (stop, or time to rejoin) or the server goes away; returns what it sent.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use roomrec_testpeer::{Publisher, PublisherConfig, PublisherInput, PublisherOutput, SentCounts};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use super::report::SessionReport;

/// Counters every session adds to, read by the progress line.
#[derive(Default)]
pub struct Totals {
    pub datagrams: AtomicU64,
    pub bytes: AtomicU64,
    /// Sessions whose first video frame (or, without video, first frame) has gone out.
    pub sending: AtomicU64,
}

pub struct SessionSpec {
    pub server: String,
    pub config: PublisherConfig,
    pub index: u32,
    /// Hang up after this long (`--rejoin-every`).
    pub hang_up_after: Option<Duration>,
    pub loss: f64,
    pub tls: Arc<rustls::ClientConfig>,
}

/// Runs one session to its end; a failure to connect is a report with `error` set.
pub async fn run_session(
    spec: SessionSpec,
    totals: Arc<Totals>,
    mut stop: watch::Receiver<bool>,
) -> SessionReport {
    let mut report = SessionReport::new(&spec, unix_ms(SystemTime::now()));
    let socket = match UdpSocket::bind(spec.config.local_addr).await {
        Ok(s) => s,
        Err(e) => return report.failed(format!("cannot bind UDP: {e}")),
    };
    let connector = tokio_tungstenite::Connector::Rustls(spec.tls.clone());
    let ws = tokio_tungstenite::connect_async_tls_with_config(
        spec.server.as_str(),
        None,
        false,
        Some(connector),
    );
    let ws = tokio::select! {
        ws = ws => match ws {
            Ok((ws, _)) => ws,
            Err(e) => return report.failed(format!("cannot connect to {}: {e}", spec.server)),
        },
        _ = stop.wait_for(|s| *s) => return report.failed("stopped before connecting".into()),
    };
    let mut config = spec.config.clone();
    let Ok(local) = socket.local_addr() else {
        return report.failed("UDP socket has no address".into());
    };
    config.local_addr = local;
    let mut p = Publisher::new(config);
    report.peer = p.own_id().to_string();
    let (mut ws_tx, mut ws_rx) = ws.split();
    let mut rng = fastrand::Rng::with_seed(spec.config.seed ^ 0x5eed);
    let mut buf = vec![0u8; 2048];
    let mut hang_up_at = spec.hang_up_after.map(|d| Instant::now() + d);
    let mut quiet = false;
    let mut counted_sending = false;
    p.handle_input(Instant::now(), PublisherInput::SignalingUp);
    let mut stopping = false;
    loop {
        while let Some(output) = p.poll_output() {
            match output {
                PublisherOutput::SendSignaling(text) => {
                    let _ = ws_tx.send(Message::text(text)).await;
                }
                PublisherOutput::Transmit {
                    destination,
                    contents,
                    ..
                } => {
                    if spec.loss > 0.0 && rng.f64() < spec.loss {
                        report.dropped += 1;
                        continue;
                    }
                    if socket.send_to(&contents, destination).await.is_ok() {
                        report.datagrams += 1;
                        report.bytes += contents.len() as u64;
                        totals.datagrams.fetch_add(1, Ordering::Relaxed);
                        totals
                            .bytes
                            .fetch_add(contents.len() as u64, Ordering::Relaxed);
                    }
                }
            }
        }
        if !counted_sending {
            let sent = p.sent_counts();
            if sent.video > 0 || (spec.config.video.is_none() && sent.audio > 0) {
                counted_sending = true;
                report.first_video_unix_ms = Some(unix_ms(SystemTime::now()));
                totals.sending.fetch_add(1, Ordering::Relaxed);
            }
        }
        if stopping {
            let _ = ws_tx.close().await;
            break;
        }
        let wake = p
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_millis(100));
        let wake = hang_up_at.map_or(wake, |h| wake.min(h));
        tokio::select! {
            msg = ws_rx.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    p.handle_input(Instant::now(), PublisherInput::SignalingText(&text))
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    p.handle_input(Instant::now(), PublisherInput::SignalingDown);
                    p.hang_up(Instant::now());
                    report.error = Some("the server closed the WebSocket".into());
                    stopping = true;
                }
            },
            received = socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = received {
                    let input = PublisherInput::Datagram { source, destination: local, contents: &buf[..n] };
                    p.handle_input(Instant::now(), input);
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                if hang_up_at.is_some_and(|h| h <= now) {
                    if quiet {
                        p.hang_up(now);
                        stopping = true;
                    } else {
                        hang_up_at = Some(quiesce(&mut p, &mut quiet, now));
                    }
                } else {
                    p.handle_input(now, PublisherInput::Timeout);
                }
            }
            _ = stop.wait_for(|s| *s), if !quiet => {
                hang_up_at = Some(quiesce(&mut p, &mut quiet, Instant::now()));
            }
        }
    }
    if counted_sending {
        totals.sending.fetch_sub(1, Ordering::Relaxed);
    }
    report.finish(p.sent_counts(), unix_ms(SystemTime::now()));
    report
}

/// Stops handing frames to str0m and returns when to hang up: every frame counted as sent
/// leaves before the hang-up closes the connection (str0m paces video out over a few ms).
fn quiesce(p: &mut Publisher, quiet: &mut bool, now: Instant) -> Instant {
    p.set_video_muted(true);
    p.set_audio_muted(true);
    *quiet = true;
    now + QUIESCE
}

const QUIESCE: Duration = Duration::from_millis(300);

pub fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl SessionReport {
    fn finish(&mut self, sent: SentCounts, end_unix_ms: i64) {
        self.video_frames = sent.video;
        self.audio_frames = sent.audio;
        self.audio_before_video = sent.audio_before_video;
        self.end_unix_ms = end_unix_ms;
    }
}
