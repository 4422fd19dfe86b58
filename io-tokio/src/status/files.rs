//! Files in the event stream: joins what the connections say about a file (its manifest records)
//! with what the file writer says (`FileEvent`: created as which path, failed, closed with how
//! many bytes), so `file_closed` carries both, and holds a guest's `guest_left` back until its
//! files are closed. The two sources run on different tasks; whichever comes second completes.

use std::collections::HashMap;
use std::path::Path;

use roomrec_core::connection::ConnectionHandle;
use roomrec_core::media::recorder::FileRecord;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::schema::Event;
use super::StatusHub;
use crate::files::FileEvent;

/// Files and departures not reported yet.
#[derive(Default)]
pub(crate) struct FileJoin {
    files: HashMap<u64, Tracked>,
    /// `guest_left` of connections whose files are still being closed.
    left: HashMap<u64, Event>,
}

#[derive(Default)]
struct Tracked {
    connection: Option<u64>,
    record: Option<Box<FileRecord>>,
    /// The connection sent the file's last record (`close`).
    ended: bool,
    writer: Writer,
}

#[derive(Default)]
enum Writer {
    #[default]
    Pending,
    Opened,
    /// Could not be created: there is no file and nothing more comes.
    NeverOpened,
    Closed {
        path: String,
        bytes: u64,
        finalized: bool,
    },
}

/// A connection's manifest record of one of its files.
pub(crate) fn record(hub: &StatusHub, handle: ConnectionHandle, record: &FileRecord) {
    let mut join = hub.file_join();
    let file = join.files.entry(record.file_id).or_default();
    file.connection = Some(handle.0);
    file.ended |= record.event == "close";
    file.record = Some(Box::new(record.clone()));
    join.complete(hub, record.file_id);
}

/// What the file writer reports.
pub(crate) fn file_event(hub: &StatusHub, event: FileEvent) {
    let mut join = hub.file_join();
    match event {
        FileEvent::Opened { file, path, .. } => {
            let tracked = join.files.entry(file.0).or_default();
            tracked.writer = Writer::Opened;
            if let Some(c) = tracked.connection {
                let path = path.display().to_string();
                hub.update_guest(c, |g| g.file = Some(path));
            }
        }
        FileEvent::Failed { file, path, error } => {
            let tracked = join.files.entry(file.0).or_default();
            let connection = tracked.connection;
            if matches!(tracked.writer, Writer::Pending) {
                tracked.writer = Writer::NeverOpened;
            }
            hub.emit(Event::Error {
                connection,
                message: error,
                path: path.map(|p| p.display().to_string()),
            });
            join.complete(hub, file.0);
        }
        FileEvent::Closed {
            file,
            path,
            bytes,
            finalized,
        } => {
            join.files.entry(file.0).or_default().writer = Writer::Closed {
                path: path.display().to_string(),
                bytes,
                finalized,
            };
            join.complete(hub, file.0);
        }
    }
}

/// The connection ended: `guest_left` goes out once every file it opened is closed.
pub(crate) fn guest_left(hub: &StatusHub, event: Event) {
    let Event::GuestLeft { connection, .. } = &event else {
        return hub.emit(event);
    };
    let connection = *connection;
    let mut join = hub.file_join();
    let ids: Vec<u64> = join
        .files
        .iter()
        .filter(|(_, f)| f.connection == Some(connection))
        .map(|(id, _)| *id)
        .collect();
    // A connection that ended without a closing record (its task failed) sends none later.
    for id in ids {
        if let Some(file) = join.files.get_mut(&id) {
            file.ended = true;
        }
        join.complete(hub, id);
    }
    join.left.insert(connection, event);
    join.release(hub, connection);
}

/// Shutdown is over: report the departures still held back (files that never closed).
pub(crate) fn finish(hub: &StatusHub) {
    let mut join = hub.file_join();
    let mut left: Vec<(u64, Event)> = join.left.drain().collect();
    left.sort_by_key(|(c, _)| *c);
    for (_, event) in left {
        hub.emit(event);
    }
}

impl FileJoin {
    /// Reports the file once both sides are done with it.
    fn complete(&mut self, hub: &StatusHub, id: u64) {
        let Some(file) = self.files.get(&id) else {
            return;
        };
        if !file.ended {
            return;
        }
        match &file.writer {
            Writer::Pending | Writer::Opened => return,
            Writer::NeverOpened => {}
            Writer::Closed {
                path,
                bytes,
                finalized,
            } => hub.emit(Event::FileClosed {
                connection: file.connection,
                path: path.clone(),
                bytes: *bytes,
                finalized: *finalized,
                record: manifest_record(file.record.as_deref(), path),
            }),
        }
        let connection = file.connection;
        self.files.remove(&id);
        if let Some(c) = connection {
            self.release(hub, c);
        }
    }

    /// Emits a held-back `guest_left` once none of the guest's files is open.
    fn release(&mut self, hub: &StatusHub, connection: u64) {
        if self
            .files
            .values()
            .any(|f| f.connection == Some(connection))
        {
            return;
        }
        if let Some(event) = self.left.remove(&connection) {
            hub.emit(event);
        }
    }
}

/// The record as the manifest has it: with the name the file got on disk.
fn manifest_record(record: Option<&FileRecord>, path: &str) -> Value {
    let Some(record) = record else {
        return Value::Null;
    };
    let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
    if let Some(name) = Path::new(path).file_name() {
        value["file"] = Value::String(name.to_string_lossy().into_owned());
    }
    value
}

/// Feeds the file writer's events into the hub until [`FileWatch::finish`].
pub struct FileWatch {
    finish: Option<oneshot::Sender<oneshot::Sender<()>>>,
}

impl FileWatch {
    pub fn spawn(hub: StatusHub, mut events: mpsc::UnboundedReceiver<FileEvent>) -> FileWatch {
        let (finish, mut finish_rx) = oneshot::channel::<oneshot::Sender<()>>();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    ev = events.recv() => match ev {
                        Some(ev) => file_event(&hub, ev),
                        None => return,
                    },
                    ack = &mut finish_rx => {
                        while let Ok(ev) = events.try_recv() {
                            file_event(&hub, ev);
                        }
                        if let Ok(ack) = ack {
                            let _ = ack.send(());
                        }
                        return;
                    }
                }
            }
        });
        FileWatch {
            finish: Some(finish),
        }
    }

    /// Handles every event the writers have sent so far, then stops.
    pub async fn finish(mut self) {
        let (ack, done) = oneshot::channel();
        if let Some(finish) = self.finish.take() {
            if finish.send(ack).is_ok() {
                let _ = done.await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use roomrec_core::media::recorder::FrameCounts;
    use roomrec_core::media::FileId;

    use super::*;
    use crate::status::EventLine;

    fn record(file_id: u64, event: &'static str) -> FileRecord {
        FileRecord {
            event,
            file_id,
            file: format!("f{file_id}.webm"),
            stream_id: "s".into(),
            stream_name: "s".into(),
            role: "main".into(),
            label: String::new(),
            container: "webm",
            video_codec: Some("vp8"),
            audio_codec: None,
            resolutions: Vec::new(),
            start_wall: String::new(),
            start_unix_ms: 0,
            end_wall: None,
            end_unix_ms: None,
            frames: FrameCounts::default(),
            duration_ms: 0,
            clock: "arrival",
            complete: event == "close",
        }
    }

    fn closed(file: u64, bytes: u64) -> FileEvent {
        FileEvent::Closed {
            file: FileId(file),
            path: PathBuf::from(format!("/rec/f{file}_1.webm")),
            bytes,
            finalized: true,
        }
    }

    fn left(connection: u64) -> Event {
        Event::GuestLeft {
            connection,
            stream_id: "s".into(),
            reason: "bye".into(),
        }
    }

    fn types(rx: &std::sync::mpsc::Receiver<std::sync::Arc<EventLine>>) -> Vec<String> {
        rx.try_iter()
            .map(|l| {
                let v = serde_json::to_value(&l.event).unwrap();
                v["type"].as_str().unwrap().to_string()
            })
            .collect()
    }

    #[test]
    fn guest_left_waits_for_the_writer_and_file_closed_joins_both_sides() {
        let hub = StatusHub::new("room");
        let rx = hub.sink();
        let c = ConnectionHandle(4);
        record_of(&hub, c, record(9, "open"));
        record_of(&hub, c, record(9, "close"));
        guest_left(&hub, left(4));
        assert_eq!(
            types(&rx),
            Vec::<String>::new(),
            "the writer is still at it"
        );
        file_event(&hub, closed(9, 1234));
        let lines: Vec<_> = rx.try_iter().collect();
        match &lines[0].event {
            Event::FileClosed {
                connection,
                path,
                bytes,
                record,
                ..
            } => {
                assert_eq!((*connection, *bytes), (Some(4), 1234));
                assert_eq!(path, "/rec/f9_1.webm");
                assert_eq!(record["file"], "f9_1.webm", "the name on disk");
                assert_eq!(record["event"], "close");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            lines[1].event,
            Event::GuestLeft { connection: 4, .. }
        ));
        assert_eq!(lines.len(), 2);
    }

    #[test]
    fn a_writer_done_first_waits_for_the_closing_record() {
        let hub = StatusHub::new("room");
        let rx = hub.sink();
        let c = ConnectionHandle(1);
        record_of(&hub, c, record(2, "open"));
        file_event(&hub, closed(2, 10));
        assert!(types(&rx).is_empty());
        record_of(&hub, c, record(2, "close"));
        guest_left(&hub, left(1));
        assert_eq!(types(&rx), ["file_closed", "guest_left"]);
    }

    #[test]
    fn failures_are_errors_and_a_file_never_created_does_not_hold_the_guest() {
        let hub = StatusHub::new("room");
        let rx = hub.sink();
        let c = ConnectionHandle(3);
        record_of(&hub, c, record(5, "open"));
        file_event(
            &hub,
            FileEvent::Failed {
                file: FileId(5),
                path: Some(PathBuf::from("/rec/f5.webm")),
                error: "cannot create".into(),
            },
        );
        guest_left(&hub, left(3));
        assert_eq!(types(&rx), ["error", "guest_left"]);
    }

    #[test]
    fn finish_reports_departures_whose_files_never_closed() {
        let hub = StatusHub::new("room");
        let rx = hub.sink();
        record_of(&hub, ConnectionHandle(1), record(1, "open"));
        file_event(
            &hub,
            FileEvent::Opened {
                file: FileId(1),
                requested: "f1.webm".into(),
                path: PathBuf::from("/rec/f1.webm"),
            },
        );
        guest_left(&hub, left(1));
        assert!(types(&rx).is_empty());
        finish(&hub);
        assert_eq!(types(&rx), ["guest_left"]);
    }

    fn record_of(hub: &StatusHub, c: ConnectionHandle, r: FileRecord) {
        super::record(hub, c, &r);
    }
}
