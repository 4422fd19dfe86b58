//! The file writer. A connection task buffers each file's bytes and hands them over in batches
//! (every `HANDOFF_BYTES`, or when the buffer is `HANDOFF_AGE` old, or on the recorder's flush) to
//! a few writer threads shared by all files (files/writer.rs), so a slow disk never blocks a
//! packet path and no thread is woken per frame. Files are created with `create_new` (never
//! overwritten); a write error stops that file only.

mod writer;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::mem;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use roomrec_core::media::{FileId, Patch};
use tokio::sync::{mpsc, Notify};

use writer::{FileCell, Op, Target};

/// Warn once when this many bytes wait for one file's writer.
const QUEUE_WARN_BYTES: u64 = 64 << 20;
/// Hand a file's buffer to the writers at this size...
const HANDOFF_BYTES: usize = 64 << 10;
/// ...or when its oldest byte is this old (the recorder's own flush comes every second), so a
/// crash loses well under a second of a busy stream.
const HANDOFF_AGE: Duration = Duration::from_millis(250);
/// `name_1`, `name_2`... up to this before giving up.
const MAX_NAME_COUNTER: u32 = 100_000;

/// What happened to a file (for the manifest, tests and progress logs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileEvent {
    /// `requested` is `base_name.ext`; `path` the file actually created.
    Opened {
        file: FileId,
        requested: String,
        path: PathBuf,
    },
    /// Opening or writing failed; nothing more goes to this file.
    Failed {
        file: FileId,
        path: Option<PathBuf>,
        error: String,
    },
    /// The writer is done. `finalized`: patches applied and fsynced.
    Closed {
        file: FileId,
        path: PathBuf,
        bytes: u64,
        finalized: bool,
    },
}

struct Shared {
    dir: PathBuf,
    live: AtomicUsize,
    idle: Notify,
    subscribers: Mutex<Vec<mpsc::UnboundedSender<FileEvent>>>,
    /// The writers' run queue, started with the first file.
    writers: OnceLock<Result<std_mpsc::Sender<Arc<FileCell>>, String>>,
}

impl Shared {
    fn emit(&self, event: FileEvent) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.retain(|s| s.send(event.clone()).is_ok());
    }

    fn writers(&self) -> Result<&std_mpsc::Sender<Arc<FileCell>>, &str> {
        self.writers
            .get_or_init(|| writer::start_writers().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| e.as_str())
    }

    /// Give a file with queued operations to a writer thread.
    fn schedule(&self, cell: Arc<FileCell>) {
        if let Ok(tx) = self.writers() {
            // The receiver lives as long as the writer threads, which never stop while we exist.
            let _ = tx.send(cell);
        }
    }

    /// A file reached its end (closed, or failed to open).
    fn file_done(&self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
        self.idle.notify_waiters();
    }
}

/// Creates writers for files in one output directory. Cheap to clone.
#[derive(Clone)]
pub struct FileSink {
    shared: Arc<Shared>,
}

impl FileSink {
    pub fn new(dir: impl Into<PathBuf>) -> FileSink {
        FileSink {
            shared: Arc::new(Shared {
                dir: dir.into(),
                live: AtomicUsize::new(0),
                idle: Notify::new(),
                subscribers: Mutex::new(Vec::new()),
                writers: OnceLock::new(),
            }),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Receive every later `FileEvent`.
    pub fn subscribe(&self) -> mpsc::UnboundedReceiver<FileEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.shared
            .subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        rx
    }

    /// A file that could not be started: logged, reported, and a handle that swallows writes.
    fn failed(&self, file: FileId, error: String) -> FileHandle {
        tracing::error!(file = file.0, "{error}");
        self.shared.emit(FileEvent::Failed {
            file,
            path: None,
            error,
        });
        FileHandle::dead(file)
    }

    /// Start a writer for `{base_name}.{extension}`. Hostile names are refused (logged, and the
    /// handle swallows everything).
    pub fn open(&self, file: FileId, base_name: &str, extension: &str) -> FileHandle {
        if let Err(why) = check_name(base_name, extension) {
            return self.failed(
                file,
                format!("refusing file name {base_name:?}.{extension:?}: {why}"),
            );
        }
        let target = Target::New {
            base: base_name.to_string(),
            ext: extension.to_string(),
        };
        self.start(file, target)
    }

    /// Test hook: write to an existing path (e.g. `/dev/full`) without the naming rules. Only
    /// with the `test-hooks` feature, which io-tokio's own tests turn on.
    #[cfg(feature = "test-hooks")]
    pub fn open_exact_path_for_test(&self, file: FileId, path: impl Into<PathBuf>) -> FileHandle {
        self.start(file, Target::Exact(path.into()))
    }

    /// Writers still running.
    pub fn open_files(&self) -> usize {
        self.shared.live.load(Ordering::SeqCst)
    }

    /// Resolves when no writer is running.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.shared.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.open_files() == 0 {
                return;
            }
            notified.await;
        }
    }

    fn start(&self, file: FileId, target: Target) -> FileHandle {
        if let Err(e) = self.shared.writers() {
            return self.failed(file, format!("cannot start the writer threads: {e}"));
        }
        self.shared.live.fetch_add(1, Ordering::SeqCst);
        let cell = Arc::new(FileCell::new(file, self.shared.clone()));
        cell.send(Op::Open(target));
        FileHandle {
            file,
            cell: Some(cell),
            buf: Vec::new(),
            oldest: None,
            warned: false,
            closed: false,
        }
    }
}

/// Sending side of one file. Dropping it without `finalize` keeps (fsyncs) what was written.
pub struct FileHandle {
    file: FileId,
    /// `None`: a file that never started (bad name); everything is swallowed.
    cell: Option<Arc<FileCell>>,
    /// Bytes not yet handed to the writers.
    buf: Vec<u8>,
    /// When the oldest byte in `buf` arrived.
    oldest: Option<Instant>,
    warned: bool,
    closed: bool,
}

impl FileHandle {
    fn dead(file: FileId) -> FileHandle {
        FileHandle {
            file,
            cell: None,
            buf: Vec::new(),
            oldest: None,
            warned: true,
            closed: true,
        }
    }

    pub fn id(&self) -> FileId {
        self.file
    }

    /// The writer gave up on this file (bad name, open or write error).
    pub fn failed(&self) -> bool {
        self.cell
            .as_ref()
            .is_none_or(|c| c.failed.load(Ordering::Relaxed))
    }

    pub fn write(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() || self.failed() {
            return;
        }
        let now = Instant::now();
        let oldest = *self.oldest.get_or_insert(now);
        if self.buf.is_empty() && bytes.len() >= HANDOFF_BYTES {
            self.buf = bytes;
        } else {
            if self.buf.capacity() == 0 {
                self.buf.reserve(HANDOFF_BYTES + (HANDOFF_BYTES >> 2));
            }
            self.buf.extend_from_slice(&bytes);
        }
        if self.buf.len() >= HANDOFF_BYTES || now.duration_since(oldest) >= HANDOFF_AGE {
            self.hand_off();
        }
    }

    /// Hand everything buffered to the writers now.
    pub fn flush(&mut self) {
        self.hand_off();
    }

    pub fn finalize(mut self, patches: Vec<Patch>) {
        self.hand_off();
        self.closed = true;
        self.send(Op::Finalize(patches));
    }

    fn hand_off(&mut self) {
        self.oldest = None;
        if self.buf.is_empty() {
            return;
        }
        let bytes = mem::take(&mut self.buf);
        let Some(cell) = &self.cell else {
            return;
        };
        let len = bytes.len() as u64;
        let queued = cell.queued.fetch_add(len, Ordering::Relaxed) + len;
        if queued > QUEUE_WARN_BYTES && !self.warned {
            self.warned = true;
            tracing::warn!(
                file = self.file.0,
                queued,
                "disk is not keeping up: data is queuing in memory"
            );
        } else if queued < QUEUE_WARN_BYTES / 2 {
            self.warned = false;
        }
        self.send(Op::Write(bytes));
    }

    fn send(&self, op: Op) {
        if let Some(cell) = &self.cell {
            cell.send(op);
        }
    }
}

impl Drop for FileHandle {
    fn drop(&mut self) {
        if !self.closed {
            self.hand_off();
            self.send(Op::Close);
        }
    }
}

fn check_name(base: &str, ext: &str) -> Result<(), &'static str> {
    if base.is_empty() {
        return Err("empty name");
    }
    if base.contains(['/', '\\', '\0']) {
        return Err("contains a path separator or NUL");
    }
    if base.contains("..") {
        return Err("contains ..");
    }
    if base.starts_with('.') {
        return Err("starts with a dot");
    }
    if base.len() > 200 {
        return Err("longer than 200 bytes");
    }
    if ext.is_empty() || ext.len() > 8 || !ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("bad extension");
    }
    Ok(())
}

/// Create `dir/base.ext`, or `dir/base_1.ext`, ... whichever does not exist yet: the one
/// never-overwrite rule for recordings and the manifest.
pub(crate) fn create_unique(dir: &Path, base: &str, ext: &str) -> io::Result<(File, PathBuf)> {
    for n in 0..=MAX_NAME_COUNTER {
        let name = if n == 0 {
            format!("{base}.{ext}")
        } else {
            format!("{base}_{n}.{ext}")
        };
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "every numbered variant of the name exists",
    ))
}

/// The files of one recorder, by id.
pub struct RecorderFiles {
    sink: FileSink,
    files: HashMap<FileId, FileHandle>,
}

impl RecorderFiles {
    pub fn new(sink: FileSink) -> RecorderFiles {
        RecorderFiles {
            sink,
            files: HashMap::new(),
        }
    }

    pub fn open(&mut self, file: FileId, base_name: &str, extension: &str) {
        let handle = self.sink.open(file, base_name, extension);
        if self.files.insert(file, handle).is_some() {
            tracing::warn!(
                file = file.0,
                "file id opened twice; the earlier file is closed"
            );
        }
    }

    pub fn write(&mut self, file: FileId, bytes: Vec<u8>) {
        match self.files.get_mut(&file) {
            Some(h) => h.write(bytes),
            None => tracing::warn!(file = file.0, "write to a file that is not open"),
        }
    }

    pub fn flush(&mut self, file: FileId) {
        if let Some(h) = self.files.get_mut(&file) {
            h.flush();
        }
    }

    pub fn finalize(&mut self, file: FileId, patches: Vec<Patch>) {
        match self.files.remove(&file) {
            Some(h) => h.finalize(patches),
            None => tracing::warn!(file = file.0, "finalize of a file that is not open"),
        }
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn names() {
        assert!(check_name("room_alice_20240101", "ts").is_ok());
        for bad in ["", "a/b", "a\\b", "a\0b", "..", "a..b", ".hidden", "/abs"] {
            assert!(check_name(bad, "ts").is_err(), "{bad:?}");
        }
        assert!(check_name("x", "t/s").is_err());
        assert!(check_name("x", "").is_err());
    }
}
