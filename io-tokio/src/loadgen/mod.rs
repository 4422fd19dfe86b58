//! `roomrec loadgen`: many synthetic publishers (no recorder) against any relay or server, to
//! load-test a deployment. Every publisher is a task on the caller's runtime, not a thread.
//!
//! Publishers join at `join_rate` per second, send bundled media (optionally padded to a bitrate),
//! optionally hang up and rejoin under a new peer id (`rejoin_every`), and are all hung up after
//! `duration`. What was sent is reported as JSON lines (see [`report`]) so a recording can be
//! checked against it.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use roomrec_core::media::Codec;
use roomrec_core::signaling::{Dialect, Password};
use roomrec_testpeer::PublisherConfig;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

pub mod media;
pub mod report;
mod session;

pub use media::Profile;
use report::SessionReport;
use session::{run_session, SessionSpec, Totals};

#[derive(Clone, Debug)]
pub struct LoadgenOptions {
    pub server: String,
    pub room: String,
    /// None: official for vdo.ninja hosts, relay otherwise (like the recorder).
    pub dialect: Option<Dialect>,
    pub password: Password,
    /// None: derived from the server host (like the recorder).
    pub salt: Option<String>,
    pub publishers: u32,
    /// Publishers started per second.
    pub join_rate: f64,
    /// Video codecs, assigned round robin; empty: audio only.
    pub codecs: Vec<Codec>,
    pub audio: bool,
    pub profile: Profile,
    /// Video bitrate in bit/s, overriding the profile's.
    pub bitrate: Option<u64>,
    /// None: until interrupted.
    pub duration: Option<Duration>,
    /// Hang up and rejoin under a new peer id this often.
    pub rejoin_every: Option<Duration>,
    /// Probability of dropping each outgoing datagram.
    pub loss: f64,
    /// Address the publishers' UDP sockets bind to and announce.
    pub local_ip: IpAddr,
    /// Stream ids are `{stream_prefix}{index}`.
    pub stream_prefix: String,
}

/// Runs the publishers; `emit` gets every JSON line (sessions, progress, the final summary).
pub async fn run_loadgen(
    options: LoadgenOptions,
    interrupted: impl std::future::Future<Output = ()>,
    mut emit: impl FnMut(Value),
) -> Result<(), String> {
    let (dialect, salt) = dialect_and_salt(&options)?;
    let tls = crate::ws::default_tls_config()?;
    let tracks = Tracks::new(&options);
    let totals = Arc::new(Totals::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<SessionReport>();
    let started = Instant::now();
    let end = options.duration.map(|d| started + d);
    let mut streams = Vec::new();
    for index in 0..options.publishers {
        let start_at = started + Duration::from_secs_f64(index as f64 / options.join_rate);
        let base = PublisherConfig {
            room: options.room.clone(),
            password: options.password.clone(),
            salt: salt.clone(),
            dialect,
            stream_id: format!("{}{index:04}", options.stream_prefix),
            label: format!("loadgen {index}"),
            local_addr: SocketAddr::new(options.local_ip, 0),
            reflexive_addr: None,
            video: tracks.video_for(index),
            audio: tracks.audio.clone(),
            candidates_first: false,
            scene: false,
            seed: fastrand::u64(..),
        };
        let stream = Stream {
            server: options.server.clone(),
            base,
            index,
            rejoin_every: options.rejoin_every,
            loss: options.loss,
            tls: tls.clone(),
        };
        streams.push(tokio::spawn(stream.run(
            start_at,
            totals.clone(),
            stop_rx.clone(),
            done_tx.clone(),
        )));
    }
    drop(done_tx);
    tokio::pin!(interrupted);
    let mut sessions = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut stopped = false;
    loop {
        let until_end = end.map_or(Duration::MAX, |e| {
            e.saturating_duration_since(Instant::now())
        });
        tokio::select! {
            report = done_rx.recv() => match report {
                Some(report) => {
                    emit(report.to_json());
                    sessions.push(report);
                }
                None => break,
            },
            _ = tick.tick() => emit(progress(started, &totals)),
            _ = tokio::time::sleep(until_end), if !stopped => {
                stopped = true;
                let _ = stop_tx.send(true);
            }
            _ = &mut interrupted, if !stopped => {
                stopped = true;
                let _ = stop_tx.send(true);
            }
        }
    }
    for s in streams {
        let _ = s.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    emit(report::summary(
        &sessions,
        elapsed,
        report::own_cpu_seconds(),
    ));
    Ok(())
}

fn progress(started: Instant, totals: &Totals) -> Value {
    json!({
        "type": "progress",
        "elapsed_ms": started.elapsed().as_millis() as u64,
        "sending": totals.sending.load(Ordering::Relaxed),
        "datagrams": totals.datagrams.load(Ordering::Relaxed),
        "bytes": totals.bytes.load(Ordering::Relaxed),
        "cpu_s": report::own_cpu_seconds(),
    })
}

/// Dialect and salt the way the recorder derives them from its server URL.
fn dialect_and_salt(options: &LoadgenOptions) -> Result<(Dialect, String), String> {
    let mut probe = crate::RecorderOptions::new(options.room.clone());
    probe.server = options.server.clone();
    probe.dialect = options.dialect;
    probe.salt = options.salt.clone();
    probe.output_dir = std::env::temp_dir();
    let valid = probe.validate().map_err(|e| e.to_string())?;
    Ok((valid.dialect, valid.salt))
}

/// Tracks are built once and shared (their frames are reference counted).
struct Tracks {
    video: Vec<roomrec_testpeer::Track>,
    audio: Option<roomrec_testpeer::Track>,
}

impl Tracks {
    fn new(options: &LoadgenOptions) -> Tracks {
        let bitrate = options.bitrate.or(options.profile.video_bitrate());
        Tracks {
            video: options
                .codecs
                .iter()
                .map(|c| media::video_track(*c, bitrate))
                .collect(),
            audio: options.audio.then(crate::demo::media::audio),
        }
    }

    fn video_for(&self, index: u32) -> Option<roomrec_testpeer::Track> {
        if self.video.is_empty() {
            return None;
        }
        Some(self.video[index as usize % self.video.len()].clone())
    }
}

/// One publisher over its sessions (one, or one per rejoin).
struct Stream {
    server: String,
    base: PublisherConfig,
    index: u32,
    rejoin_every: Option<Duration>,
    loss: f64,
    tls: Arc<rustls::ClientConfig>,
}

impl Stream {
    async fn run(
        self,
        start_at: Instant,
        totals: Arc<Totals>,
        stop: watch::Receiver<bool>,
        done: mpsc::UnboundedSender<SessionReport>,
    ) {
        let mut stop_wait = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep_until(start_at.into()) => {}
            _ = stop_wait.wait_for(|s| *s) => return,
        }
        let mut rng = fastrand::Rng::with_seed(self.base.seed);
        for session in 0u32.. {
            let mut config = self.base.clone();
            // A new seed is a new peer id: a rejoin looks like a reloaded page.
            config.seed = rng.u64(..);
            let spec = SessionSpec {
                server: self.server.clone(),
                config,
                index: self.index,
                hang_up_after: self.rejoin_every,
                loss: self.loss,
                tls: self.tls.clone(),
            };
            let mut report = run_session(spec, totals.clone(), stop.clone()).await;
            report.session = session;
            let failed = report.error.is_some();
            let _ = done.send(report);
            if *stop.borrow() {
                return;
            }
            if failed {
                // The server refused or dropped us: do not hammer it.
                let mut stop_wait = stop.clone();
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop_wait.wait_for(|s| *s) => return,
                }
            }
        }
    }
}
