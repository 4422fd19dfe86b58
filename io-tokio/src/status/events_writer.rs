//! `--events FILE|-`: the event stream as JSON lines, one [`EventLine`] per line, flushed per
//! line so a reader (`tail -f`, a pipe) sees each event as it happens.
//!
//! A thread, not a task: it reads the hub's [`sink`](StatusHub::sink), which never drops a line
//! (a broadcast subscriber that lags loses lines), and a slow disk or a stalled pipe blocks only
//! this thread, never the recorder.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::schema::{Event, EventLine};
use super::StatusHub;

/// Where the lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventsTarget {
    Stdout,
    File(PathBuf),
}

impl EventsTarget {
    /// `--events FILE|-` if given; otherwise stdout when it is not a terminal (a pipe or a file:
    /// someone is reading it) unless `--quiet`. Logs go to stderr either way.
    pub fn choose(events: Option<&str>, quiet: bool, stdout_is_terminal: bool) -> Option<Self> {
        match events {
            Some("-") => Some(EventsTarget::Stdout),
            Some(path) => Some(EventsTarget::File(PathBuf::from(path))),
            None if quiet || stdout_is_terminal => None,
            None => Some(EventsTarget::Stdout),
        }
    }
}

/// The writer thread; [`finish`](EventsWriter::finish) waits for it.
pub struct EventsWriter {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl EventsWriter {
    /// Opens the target (a file is created or truncated) and writes every later event of `hub`.
    pub fn start(hub: &StatusHub, target: &EventsTarget) -> io::Result<EventsWriter> {
        let out: Box<dyn Write + Send> = match target {
            EventsTarget::Stdout => Box::new(io::stdout()),
            EventsTarget::File(path) => Box::new(File::create(path).map_err(|e| {
                io::Error::new(e.kind(), format!("--events {}: {e}", path.display()))
            })?),
        };
        let lines = hub.sink();
        let done = Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        let thread = std::thread::Builder::new()
            .name("roomrec-events".into())
            .spawn(move || {
                let mut out = BufWriter::new(out);
                loop {
                    let line = match lines.recv_timeout(Duration::from_millis(100)) {
                        Ok(line) => line,
                        Err(RecvTimeoutError::Timeout) if !stop.load(Ordering::Acquire) => continue,
                        // Asked to finish: what was emitted before is queued already.
                        Err(RecvTimeoutError::Timeout) => match lines.try_recv() {
                            Ok(line) => line,
                            Err(_) => return Ok(()),
                        },
                        Err(RecvTimeoutError::Disconnected) => return Ok(()),
                    };
                    write_line(&mut out, &line)?;
                    if matches!(line.event, Event::Stopped { .. }) {
                        return Ok(());
                    }
                }
            })?;
        Ok(EventsWriter {
            done,
            thread: Some(thread),
        })
    }

    /// Writes what was emitted so far and stops.
    pub fn finish(mut self) -> io::Result<()> {
        self.done.store(true, Ordering::Release);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the events writer panicked")),
            None => Ok(()),
        }
    }
}

fn write_line(out: &mut impl Write, line: &EventLine) -> io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_choice() {
        use EventsTarget::*;
        let file = Some(File(PathBuf::from("ev.jsonl")));
        assert_eq!(EventsTarget::choose(Some("-"), true, true), Some(Stdout));
        assert_eq!(EventsTarget::choose(Some("ev.jsonl"), false, false), file);
        assert_eq!(EventsTarget::choose(None, false, false), Some(Stdout));
        assert_eq!(EventsTarget::choose(None, true, false), None);
        assert_eq!(EventsTarget::choose(None, false, true), None);
    }

    #[test]
    fn every_line_reaches_the_file_in_order() {
        let dir = std::env::temp_dir().join(format!("roomrec-events-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        let hub = StatusHub::new("room");
        let writer = EventsWriter::start(&hub, &EventsTarget::File(path.clone())).unwrap();
        // Far more than the broadcast channel holds: a sink must not lag.
        let n = 10_000u64;
        for i in 0..n {
            hub.emit(Event::Error {
                connection: Some(i),
                message: "x".into(),
                path: None,
            });
        }
        hub.emit(Event::Stopped {
            reason: "done".into(),
        });
        writer.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let seqs: Vec<u64> = text
            .lines()
            .map(|l| serde_json::from_str::<EventLine>(l).unwrap().seq)
            .collect();
        assert_eq!(seqs, (1..=n + 1).collect::<Vec<_>>());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
