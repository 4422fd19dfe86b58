//! `{prefix}_manifest.json`: the connections' file records, one entry per file id, rewritten
//! atomically (temp file + rename) at most once a second and once at shutdown.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use roomrec_core::media::recorder::FileRecord;
use roomrec_core::media::FileId;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use roomrec_core::media::recorder::naming::sanitize_component;

use crate::files::{self, FileEvent};

enum Msg {
    Record(Box<FileRecord>),
    Finish(oneshot::Sender<()>),
}

/// Cheap handle the connection tasks use.
#[derive(Clone)]
pub struct ManifestSender {
    tx: mpsc::UnboundedSender<Msg>,
}

impl ManifestSender {
    /// The latest record of one file (replaces the earlier one with the same file id).
    pub fn file_record(&self, record: Box<FileRecord>) {
        let _ = self.tx.send(Msg::Record(record));
    }
}

pub struct Manifest {
    tx: mpsc::UnboundedSender<Msg>,
    task: JoinHandle<()>,
}

impl Manifest {
    /// `file_events` supplies the names files actually got (a counter appended on conflict).
    pub fn spawn(
        dir: PathBuf,
        prefix: &str,
        room: &str,
        file_events: mpsc::UnboundedReceiver<FileEvent>,
        min_interval: Duration,
    ) -> Manifest {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = State {
            dir,
            stem: manifest_stem(prefix),
            path: None,
            room: room.to_string(),
            order: Vec::new(),
            entries: HashMap::new(),
            renames: HashMap::new(),
        };
        let task = tokio::spawn(run(state, rx, file_events, min_interval));
        Manifest { tx, task }
    }

    pub fn sender(&self) -> ManifestSender {
        ManifestSender {
            tx: self.tx.clone(),
        }
    }

    /// Write what is pending and stop.
    pub async fn finish(self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Finish(ack)).is_ok() {
            let _ = done.await;
        }
        let _ = self.task.await;
    }
}

struct State {
    dir: PathBuf,
    stem: String,
    /// Reserved at the first write so an older run's manifest is never replaced.
    path: Option<PathBuf>,
    room: String,
    /// File ids in the order their first record came.
    order: Vec<FileId>,
    entries: HashMap<FileId, Entry>,
    /// Name on disk, where the writer had to append a counter.
    renames: HashMap<FileId, String>,
}

/// A file's latest record. A closed file's is kept as its JSON text, in one allocation: records
/// of ended connections live as long as the recorder, and as a dozen small strings each,
/// scattered among the memory the connections freed, they kept whole heap pages resident
/// (RSS grew with every ended connection of a churning room).
enum Entry {
    Open(Box<FileRecord>),
    Closed(Box<str>),
}

impl State {
    fn add(&mut self, record: Box<FileRecord>) -> bool {
        let id = FileId(record.file_id);
        let entry = if record.event == "close" {
            Entry::Closed(self.render(&record).into_boxed_str())
        } else {
            Entry::Open(record)
        };
        if self.entries.insert(id, entry).is_none() {
            self.order.push(id);
        }
        true
    }

    /// One record as JSON, with the name the file got on disk.
    fn render(&self, record: &FileRecord) -> String {
        let mut value = json!(record);
        if let Some(actual) = self.renames.get(&FileId(record.file_id)) {
            value["file"] = json!(actual);
        }
        value.to_string()
    }

    /// A file got another name on disk after its closing record was rendered (rare: a file
    /// that ended within moments of opening).
    fn rename_closed(&mut self, file: FileId, actual: &str) {
        if let Some(Entry::Closed(text)) = self.entries.get_mut(&file) {
            if let Ok(mut value) = serde_json::from_str::<Value>(text) {
                value["file"] = json!(actual);
                *text = value.to_string().into_boxed_str();
            }
        }
    }

    /// `{"room": .., "files": [..]}`, one file per line.
    fn document(&self) -> String {
        let mut out = format!("{{\n  \"room\": {},\n  \"files\": [", json!(self.room));
        let mut first = true;
        for id in &self.order {
            let text = match self.entries.get(id) {
                Some(Entry::Open(record)) => self.render(record),
                Some(Entry::Closed(text)) => text.to_string(),
                None => continue,
            };
            out.push_str(if first { "\n    " } else { ",\n    " });
            out.push_str(&text);
            first = false;
        }
        out.push_str("\n  ]\n}");
        out
    }
}

async fn run(
    mut state: State,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    mut file_events: mpsc::UnboundedReceiver<FileEvent>,
    min_interval: Duration,
) {
    let mut dirty = false;
    let mut next_write = Instant::now();
    let mut events_open = true;
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Record(record)) => dirty |= state.add(record),
                Some(Msg::Finish(ack)) => {
                    // Renames of files opened just before shutdown.
                    while let Ok(ev) = file_events.try_recv() {
                        dirty |= apply_event(&mut state, ev);
                    }
                    if dirty {
                        write(&mut state).await;
                    }
                    let _ = ack.send(());
                    return;
                }
                None => return,
            },
            ev = file_events.recv(), if events_open => match ev {
                Some(ev) => dirty |= apply_event(&mut state, ev),
                None => events_open = false,
            },
            _ = tokio::time::sleep_until(next_write), if dirty => {
                write(&mut state).await;
                dirty = false;
                next_write = Instant::now() + min_interval;
            }
        }
    }
}

fn apply_event(state: &mut State, ev: FileEvent) -> bool {
    if let FileEvent::Opened {
        file,
        requested,
        path,
    } = ev
    {
        let actual = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if actual != requested {
            state.rename_closed(file, &actual);
            state.renames.insert(file, actual);
            return state.entries.contains_key(&file);
        }
    }
    false
}

async fn write(state: &mut State) {
    let doc = state.document();
    let dir = state.dir.clone();
    let stem = state.stem.clone();
    let chosen = state.path.clone();
    let result = tokio::task::spawn_blocking(move || {
        let (path, reserved) = match chosen {
            Some(p) => (p, false),
            None => match files::create_unique(&dir, &stem, "json") {
                Ok((_, p)) => (p, true),
                Err(e) => return Err((dir.join(format!("{stem}.json")), e)),
            },
        };
        let bytes = doc.into_bytes();
        match write_atomic(&path, &bytes) {
            Ok(()) => Ok(path),
            Err(e) => {
                // Free the name again so the next attempt does not move on to `_1`.
                if reserved {
                    let _ = std::fs::remove_file(&path);
                }
                Err((path, e))
            }
        }
    })
    .await;
    match result {
        Ok(Ok(path)) => state.path = Some(path),
        Ok(Err((path, e))) => {
            tracing::error!(path = %path.display(), "cannot write the manifest: {e}")
        }
        Err(e) => tracing::error!("manifest writer failed: {e}"),
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Named like the media files (`roomrec` standing in for an empty prefix), so always a plain
/// file name whatever the prefix holds.
fn manifest_stem(prefix: &str) -> String {
    let prefix = if prefix.trim().is_empty() {
        "roomrec"
    } else {
        prefix
    };
    format!("{}_manifest", sanitize_component(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use roomrec_core::media::recorder::FrameCounts;

    fn record(id: u64, event: &'static str) -> Box<FileRecord> {
        Box::new(FileRecord {
            event,
            file_id: id,
            file: format!("r_s{id}_1.webm"),
            stream_id: format!("s{id}"),
            stream_name: format!("s{id}"),
            role: "main".into(),
            label: "\"quoted\" guest".into(),
            container: "webm",
            video_codec: Some("vp8"),
            audio_codec: Some("opus"),
            resolutions: Vec::new(),
            start_wall: "2026-01-01T00:00:00.000Z".into(),
            start_unix_ms: 1,
            end_wall: (event == "close").then(|| "2026-01-01T00:00:01.000Z".into()),
            end_unix_ms: (event == "close").then_some(1001),
            frames: FrameCounts {
                video: 30,
                audio: 50,
            },
            duration_ms: 1000,
            clock: "arrival",
            complete: event == "close",
        })
    }

    #[test]
    fn closed_records_are_kept_as_text_and_the_document_is_json() {
        let mut state = State {
            dir: PathBuf::new(),
            stem: "r_manifest".into(),
            path: None,
            room: "room \"1\"".into(),
            order: Vec::new(),
            entries: HashMap::new(),
            renames: HashMap::new(),
        };
        let empty: Value = serde_json::from_str(&state.document()).unwrap();
        assert_eq!(empty["files"], json!([]));
        state.add(record(1, "open"));
        state.add(record(2, "open"));
        state.add(record(1, "close"));
        assert!(matches!(state.entries[&FileId(1)], Entry::Closed(_)));
        // A counter appended on disk after the closing record was rendered.
        let renamed = FileEvent::Opened {
            file: FileId(1),
            requested: "r_s1_1.webm".into(),
            path: PathBuf::from("/d/r_s1_1_1.webm"),
        };
        assert!(apply_event(&mut state, renamed));
        let doc: Value = serde_json::from_str(&state.document()).unwrap();
        assert_eq!(doc["room"], "room \"1\"");
        let files = doc["files"].as_array().unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0]["file"], "r_s1_1_1.webm");
        assert_eq!(files[0]["complete"], true);
        assert_eq!(files[0]["label"], "\"quoted\" guest");
        assert_eq!(files[1]["event"], "open");
        assert_eq!(files[1]["frames"]["video"], 30);
    }

    #[test]
    fn prefix_becomes_a_plain_name() {
        assert_eq!(manifest_stem("room1"), "room1_manifest");
        assert_eq!(manifest_stem("../x/y"), "x_y_manifest");
        assert_eq!(manifest_stem(""), "roomrec_manifest");
    }
}
