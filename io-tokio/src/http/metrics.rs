//! `/metrics`: Prometheus text (OpenMetrics) built at each scrape from the hub's snapshot, the
//! files each connection closed, and this process's CPU time and resident memory.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use tokio::sync::broadcast::error::RecvError;

use super::AppState;
use crate::status::{Event, GuestState, StatusHub};

/// Connections that left whose counters are kept (the hub keeps fewer rows than this).
const ACCOUNTS_KEPT: usize = 1024;

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabels {
    stream_id: String,
    connection: String,
}

/// Per connection: files opened and closed, and the closed files' bytes on disk. Fed from the
/// hub's `recording_started` and `file_closed` events, so it counts across file splits.
#[derive(Default)]
pub(super) struct FileAccounts {
    accounts: Mutex<BTreeMap<u64, Account>>,
}

#[derive(Clone, Default)]
struct Account {
    stream_id: String,
    opened: u64,
    closed: u64,
    closed_bytes: u64,
}

impl FileAccounts {
    pub fn spawn(hub: &StatusHub) -> Arc<FileAccounts> {
        let accounts = Arc::new(FileAccounts::default());
        let (history, mut rx) = hub.subscribe_with_history();
        for line in history {
            accounts.apply(&line.event);
        }
        let weak = Arc::downgrade(&accounts);
        tokio::spawn(async move {
            loop {
                let line = match rx.recv().await {
                    Ok(line) => line,
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(
                            "metrics missed {n} status events: file counters may be low"
                        );
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                };
                let Some(accounts) = weak.upgrade() else {
                    return;
                };
                accounts.apply(&line.event);
            }
        });
        accounts
    }

    fn apply(&self, event: &Event) {
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::GuestJoined {
                connection,
                stream_id,
                ..
            } => {
                accounts.entry(*connection).or_default().stream_id = stream_id.clone();
                while accounts.len() > ACCOUNTS_KEPT {
                    accounts.pop_first();
                }
            }
            Event::RecordingStarted { connection, .. } => {
                if let Some(a) = accounts.get_mut(connection) {
                    a.opened += 1;
                }
            }
            Event::FileClosed {
                connection: Some(connection),
                bytes,
                ..
            } => {
                if let Some(a) = accounts.get_mut(connection) {
                    a.closed += 1;
                    a.closed_bytes += bytes;
                }
            }
            _ => {}
        }
    }

    fn get(&self) -> BTreeMap<u64, Account> {
        self.accounts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

pub(super) async fn metrics(State(state): State<AppState>) -> Response {
    let mut registry = Registry::default();
    let family = |registry: &mut Registry, name: &str, help: &str| {
        let f = Family::<StreamLabels, Counter>::default();
        registry.register(name, help, f.clone());
        f
    };
    let received = family(
        &mut registry,
        "roomrec_stream_received_bytes",
        "Media bytes received",
    );
    let written = family(
        &mut registry,
        "roomrec_stream_written_bytes",
        "Bytes written to files",
    );
    let frames = family(
        &mut registry,
        "roomrec_stream_frames",
        "Frames written to the current file",
    );
    let lost = family(
        &mut registry,
        "roomrec_stream_packets_lost",
        "RTP packets lost",
    );
    let keyframes = family(
        &mut registry,
        "roomrec_stream_keyframe_requests",
        "Keyframe requests sent",
    );
    let files = family(&mut registry, "roomrec_stream_files", "Files opened");
    let open = Gauge::<i64>::default();
    registry.register(
        "roomrec_open_connections",
        "Guests not yet left",
        open.clone(),
    );

    let snapshot = state.hub.snapshot();
    let accounts = state.files.get();
    for guest in &snapshot.guests {
        let labels = StreamLabels {
            stream_id: guest.stream_id.clone(),
            connection: guest.connection.to_string(),
        };
        let account = accounts.get(&guest.connection).cloned().unwrap_or_default();
        // The current file's bytes count while it is open; once closed, its size on disk does.
        let live = match guest.state {
            GuestState::Recording | GuestState::Lost if account.opened > account.closed => {
                guest.file_bytes
            }
            _ => 0,
        };
        received.get_or_create(&labels).inc_by(guest.bytes_received);
        written
            .get_or_create(&labels)
            .inc_by(account.closed_bytes + live);
        frames.get_or_create(&labels).inc_by(guest.frames_written);
        lost.get_or_create(&labels).inc_by(guest.packets_lost);
        keyframes
            .get_or_create(&labels)
            .inc_by(guest.keyframe_requests);
        files.get_or_create(&labels).inc_by(account.opened);
    }
    open.set(i64::try_from(state.hub.active_guests()).unwrap_or(i64::MAX));
    register_process(&mut registry);

    let mut text = String::new();
    if let Err(e) = encode(&mut text, &registry) {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

/// `process_cpu_seconds_total` and `process_resident_memory_bytes`, the names Prometheus's own
/// clients use, from getrusage and /proc/self/status.
fn register_process(registry: &mut Registry) {
    if let Some(cpu) = cpu_seconds() {
        let counter = Counter::<f64, AtomicU64>::default();
        counter.inc_by(cpu);
        registry.register("process_cpu_seconds", "User and system CPU time", counter);
    }
    if let Some(rss) = resident_bytes() {
        let gauge = Gauge::<i64>::default();
        gauge.set(i64::try_from(rss).unwrap_or(i64::MAX));
        registry.register("process_resident_memory_bytes", "Resident memory", gauge);
    }
}

fn cpu_seconds() -> Option<f64> {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        (libc::getrusage(libc::RUSAGE_SELF, &mut usage) == 0).then_some(usage)
    }?;
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(secs(usage.ru_utime) + secs(usage.ru_stime))
}

fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
