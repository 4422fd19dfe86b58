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
