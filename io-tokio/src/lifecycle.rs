//! A recording's own end and its per-file hook, driven by the status hub: `--max-duration` and
//! `--stop-when-empty` ask the hub to stop (the same orderly stop as SIGTERM), and
//! `--on-file-closed` runs a shell command for every `file_closed` event.
//!
//! Contract: [`spawn`] before the first event is emitted (it subscribes at once, so nothing is
//! missed); [`LifecycleTasks::finish`] after `stopped` was emitted: it waits for the hook commands
//! of every file closed before that, at most `hook_timeout`, and leaves later ones running.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::options::Lifecycle;
use crate::status::{Event, EventLine, StatusHub};

/// Hook commands running at once; later files wait their turn.
const HOOKS_AT_ONCE: usize = 8;
/// Command output kept in the log, per stream.
const OUTPUT_LOGGED: usize = 2000;

pub(crate) struct LifecycleTasks {
    timers: Vec<JoinHandle<()>>,
    hooks: Option<JoinHandle<()>>,
}

pub(crate) fn spawn(lifecycle: &Lifecycle, hub: &StatusHub) -> LifecycleTasks {
    let mut timers = Vec::new();
    if let Some(after) = lifecycle.max_duration {
        let hub = hub.clone();
        timers.push(tokio::spawn(async move {
            tokio::time::sleep(after).await;
            hub.request_stop(&format!("--max-duration {} reached", secs(after)));
        }));
    }
    if let Some(after) = lifecycle.stop_when_empty {
        timers.push(tokio::spawn(stop_when_empty(
            hub.clone(),
            hub.subscribe(),
            after,
        )));
    }
    let hooks = lifecycle.on_file_closed.clone().map(|command| {
        tokio::spawn(run_hooks(
            hub.snapshot().room,
            command,
            hub.subscribe(),
            lifecycle.hook_timeout,
        ))
    });
    LifecycleTasks { timers, hooks }
}

impl LifecycleTasks {
    pub(crate) async fn finish(self) {
        for t in self.timers {
            t.abort();
        }
        if let Some(hooks) = self.hooks {
            let _ = hooks.await;
        }
    }
}

/// Stops once the room has had no guest for `after`. The clock starts when the last guest leaves,
/// so a recorder started before its guests arrive waits for them.
async fn stop_when_empty(
    hub: StatusHub,
    mut events: broadcast::Receiver<Arc<EventLine>>,
    after: Duration,
) {
    let mut seen = false;
    let mut empty_since: Option<Instant> = None;
    loop {
        let deadline = empty_since.map(|t| t + after);
        tokio::select! {
            event = events.recv() => match event {
                Ok(line) => seen |= matches!(line.event, Event::GuestJoined { .. }),
                Err(RecvError::Lagged(_)) => seen |= !hub.snapshot().guests.is_empty(),
                Err(RecvError::Closed) => return,
            },
            () = sleep_until(deadline) => {
                hub.request_stop(&format!("no guest for {} (--stop-when-empty)", secs(after)));
                return;
            }
        }
        let empty = seen && hub.active_guests() == 0;
        empty_since = match (empty, empty_since) {
            (true, None) => Some(Instant::now()),
            (true, since) => since,
            (false, _) => None,
        };
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Runs `command` for each `file_closed` event until `stopped`, then waits for those still
/// running, at most `timeout`.
async fn run_hooks(
    room: String,
    command: String,
    mut events: broadcast::Receiver<Arc<EventLine>>,
    timeout: Duration,
) {
    let limit = Arc::new(Semaphore::new(HOOKS_AT_ONCE));
    let mut running = JoinSet::new();
    loop {
        let line = match events.recv().await {
            Ok(line) => line,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!("--on-file-closed: {n} status events missed; some files may have had no hook run");
                continue;
            }
            Err(RecvError::Closed) => break,
        };
        match &line.event {
            Event::FileClosed {
                path,
                bytes,
                finalized,
                record,
                ..
            } => {
                let env = hook_env(&room, path, *bytes, *finalized, record);
                let (command, limit, path) = (command.clone(), limit.clone(), path.clone());
                running.spawn(async move {
                    let _turn = limit.acquire_owned().await;
                    run_hook(&command, env, &path).await;
                });
            }
            Event::Stopped { .. } => break,
            _ => {}
        }
        // Reap the finished ones as we go.
        while running.try_join_next().is_some() {}
    }
    if running.is_empty() {
        return;
    }
    let waiting = running.len();
    tracing::info!(
        "waiting up to {} for {waiting} --on-file-closed command(s)",
        secs(timeout)
    );
    let all = async { while running.join_next().await.is_some() {} };
    if tokio::time::timeout(timeout, all).await.is_err() {
        // Dropping the set aborts the waits, not the processes: they go on by themselves.
        tracing::warn!(
            "{} --on-file-closed command(s) still running after {}; not waiting for them",
            running.len(),
            secs(timeout)
        );
    }
}

/// What the command gets to know about the file, in its environment.
fn hook_env(
    room: &str,
    path: &str,
    bytes: u64,
    finalized: bool,
    record: &serde_json::Value,
) -> Vec<(&'static str, String)> {
    let field = |name: &str| {
        record
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    };
    vec![
        ("ROOMREC_FILE", path.to_string()),
        ("ROOMREC_RECORD", record.to_string()),
        ("ROOMREC_STREAM_ID", field("stream_id").to_string()),
        ("ROOMREC_LABEL", field("label").to_string()),
        ("ROOMREC_ROOM", room.to_string()),
        ("ROOMREC_FILE_BYTES", bytes.to_string()),
        ("ROOMREC_FINALIZED", finalized.to_string()),
    ]
}

/// One command; whatever happens to it is logged and nothing else (the file stays as it is).
async fn run_hook(command: &str, env: Vec<(&'static str, String)>, path: &str) {
    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .envs(env)
        .stdin(Stdio::null())
        // Its own process group: Ctrl-C in the terminal stops the recorder, not an upload.
        .process_group(0)
        .output()
        .await;
    match output {
        Ok(out) => {
            let stdout = clip(&out.stdout);
            let stderr = clip(&out.stderr);
            if out.status.success() {
                tracing::info!(file = path, stdout, stderr, "--on-file-closed done");
            } else {
                tracing::warn!(file = path, status = %out.status, stdout, stderr, "--on-file-closed failed (the file is kept)");
            }
        }
        Err(e) => tracing::warn!(file = path, "--on-file-closed: cannot run sh: {e}"),
    }
}

fn clip(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    match text.char_indices().nth(OUTPUT_LOGGED) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

fn secs(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(connection: u64) -> Event {
        Event::GuestJoined {
            connection,
            stream_id: format!("s{connection}"),
            label: None,
        }
    }

    fn left(connection: u64) -> Event {
        Event::GuestLeft {
            connection,
            stream_id: format!("s{connection}"),
            reason: "hung up".into(),
        }
    }

    fn options() -> Lifecycle {
        Lifecycle {
            hook_timeout: Duration::from_secs(5),
            ..Lifecycle::default()
        }
    }

    async fn stopped_within(hub: &StatusHub, limit: Duration) -> Option<String> {
        tokio::time::timeout(limit, hub.stop_requested()).await.ok()
    }

    #[tokio::test(start_paused = true)]
    async fn empty_room_stops_only_after_a_guest_came_and_left() {
        let hub = StatusHub::new("r");
        let tasks = spawn(
            &Lifecycle {
                stop_when_empty: Some(Duration::from_secs(5)),
                ..options()
            },
            &hub,
        );
        // Nobody has come yet: no stop, however long.
        assert_eq!(stopped_within(&hub, Duration::from_secs(60)).await, None);
        hub.emit(joined(1));
        hub.emit(joined(2));
        hub.emit(left(1));
        assert_eq!(stopped_within(&hub, Duration::from_secs(60)).await, None);
        hub.emit(left(2));
        tokio::time::sleep(Duration::from_secs(3)).await;
        // A guest back within the grace period resets the clock.
        hub.emit(joined(3));
        assert_eq!(stopped_within(&hub, Duration::from_secs(60)).await, None);
        hub.emit(left(3));
        let start = Instant::now();
        let why = stopped_within(&hub, Duration::from_secs(60)).await.unwrap();
        assert!(why.contains("--stop-when-empty"), "{why}");
        assert_eq!(start.elapsed().as_secs(), 5);
        tasks.finish().await;
    }

    #[tokio::test(start_paused = true)]
    async fn max_duration_stops() {
        let hub = StatusHub::new("r");
        let tasks = spawn(
            &Lifecycle {
                max_duration: Some(Duration::from_secs(90 * 60)),
                ..options()
            },
            &hub,
        );
        let start = Instant::now();
        let why = stopped_within(&hub, Duration::from_secs(3 * 3600))
            .await
            .unwrap();
        assert!(why.contains("--max-duration"), "{why}");
        assert_eq!(start.elapsed().as_secs(), 90 * 60);
        tasks.finish().await;
    }

    #[tokio::test]
    async fn hook_runs_once_per_closed_file_and_failures_are_only_logged() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("list");
        let hub = StatusHub::new("room7");
        let command = format!(
            "printf '%s|%s|%s|%s\\n' \"$ROOMREC_FILE\" \"$ROOMREC_STREAM_ID\" \"$ROOMREC_ROOM\" \
             \"$(printf %s \"$ROOMREC_RECORD\" | wc -c)\" >> {}; test \"$ROOMREC_STREAM_ID\" != bad",
            list.display()
        );
        let tasks = spawn(
            &Lifecycle {
                on_file_closed: Some(command),
                ..options()
            },
            &hub,
        );
        for (i, stream) in ["alice", "bad", "carol"].iter().enumerate() {
            hub.emit(Event::FileClosed {
                connection: Some(i as u64),
                path: format!("/rec/{stream}.mkv"),
                bytes: 100,
                finalized: true,
                record: serde_json::json!({"stream_id": stream, "event": "close"}),
            });
        }
        hub.emit(Event::Stopped {
            reason: "shutdown".into(),
        });
        tasks.finish().await;
        let mut lines: Vec<String> = std::fs::read_to_string(&list)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        lines.sort();
        let record_len = |s: &str| {
            serde_json::json!({"stream_id": s, "event": "close"})
                .to_string()
                .len()
        };
        assert_eq!(
            lines,
            ["alice", "bad", "carol"].map(|s| format!("/rec/{s}.mkv|{s}|room7|{}", record_len(s)))
        );
    }

    #[tokio::test]
    async fn shutdown_waits_for_hooks_a_bounded_time() {
        let hub = StatusHub::new("r");
        let tasks = spawn(
            &Lifecycle {
                on_file_closed: Some("sleep 10".into()),
                hook_timeout: Duration::from_millis(300),
                ..options()
            },
            &hub,
        );
        hub.emit(Event::FileClosed {
            connection: None,
            path: "x.mkv".into(),
            bytes: 1,
            finalized: true,
            record: serde_json::json!({}),
        });
        hub.emit(Event::Stopped {
            reason: "shutdown".into(),
        });
        let start = std::time::Instant::now();
        tasks.finish().await;
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "{:?}",
            start.elapsed()
        );
    }
}
