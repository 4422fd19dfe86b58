//! The file writer: one thread per open file, fed by an unbounded queue, so a slow disk never
//! blocks a packet path. Files are created with `create_new` (never overwritten); a write error
//! stops that file only.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};

use roomrec_core::media::{FileId, Patch};
use tokio::sync::{mpsc, Notify};

/// Warn once when this many bytes wait for one file's writer.
const QUEUE_WARN_BYTES: u64 = 64 << 20;
const BUFFER_BYTES: usize = 256 << 10;
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

enum Op {
    Write(Vec<u8>),
    Flush,
    Finalize(Vec<Patch>),
}

enum Target {
    /// Create `{base}.{ext}` (or `{base}_N.{ext}`) in the output dir.
    New { base: String, ext: String },
    /// Open an existing path for writing as is (tests: `/dev/full`).
    #[cfg(feature = "test-hooks")]
    Exact(PathBuf),
}

struct Shared {
    dir: PathBuf,
    live: AtomicUsize,
    idle: Notify,
    subscribers: Mutex<Vec<mpsc::UnboundedSender<FileEvent>>>,
}

impl Shared {
    fn emit(&self, event: FileEvent) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        subs.retain(|s| s.send(event.clone()).is_ok());
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
        let (tx, rx) = std_mpsc::channel();
        let state = Arc::new(FileState {
            queued: AtomicU64::new(0),
            failed: AtomicBool::new(false),
        });
        let shared = self.shared.clone();
        let thread_state = state.clone();
        shared.live.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name(format!("roomrec-file-{}", file.0))
            .spawn(move || {
                let _live = LiveGuard(shared.clone());
                writer_thread(&shared, file, target, rx, &thread_state);
            });
        if let Err(e) = spawned {
            self.shared.live.fetch_sub(1, Ordering::SeqCst);
            self.shared.idle.notify_waiters();
            return self.failed(file, format!("cannot start a writer thread: {e}"));
        }
        FileHandle {
            file,
            tx: Some(tx),
            state,
            warned: false,
        }
    }
}

struct LiveGuard(Arc<Shared>);
impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
        self.0.idle.notify_waiters();
    }
}

struct FileState {
    queued: AtomicU64,
    failed: AtomicBool,
}

/// Sending side of one file's writer. Dropping it without `finalize` flushes and closes the file.
pub struct FileHandle {
    file: FileId,
    tx: Option<std_mpsc::Sender<Op>>,
    state: Arc<FileState>,
    warned: bool,
}

impl FileHandle {
    fn dead(file: FileId) -> FileHandle {
        let state = Arc::new(FileState {
            queued: AtomicU64::new(0),
            failed: AtomicBool::new(true),
        });
        FileHandle {
            file,
            tx: None,
            state,
            warned: true,
        }
    }

    pub fn id(&self) -> FileId {
        self.file
    }

    /// The writer gave up on this file (bad name, open or write error).
    pub fn failed(&self) -> bool {
        self.state.failed.load(Ordering::Relaxed)
    }

    pub fn write(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() || self.failed() {
            return;
        }
        let len = bytes.len() as u64;
        let queued = self.state.queued.fetch_add(len, Ordering::Relaxed) + len;
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

    pub fn flush(&mut self) {
        self.send(Op::Flush);
    }

    pub fn finalize(mut self, patches: Vec<Patch>) {
        self.send(Op::Finalize(patches));
    }

    fn send(&mut self, op: Op) {
        if let Some(tx) = &self.tx {
            if tx.send(op).is_err() {
                self.tx = None;
            }
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

fn writer_thread(
    shared: &Shared,
    file: FileId,
    target: Target,
    rx: std_mpsc::Receiver<Op>,
    state: &FileState,
) {
    let opened = match &target {
        Target::New { base, ext } => create_unique(&shared.dir, base, ext),
        #[cfg(feature = "test-hooks")]
        Target::Exact(path) => OpenOptions::new()
            .write(true)
            .open(path)
            .map(|f| (f, path.clone())),
    };
    let (f, path) = match opened {
        Ok(x) => x,
        Err(e) => {
            let name = match &target {
                Target::New { base, ext } => shared.dir.join(format!("{base}.{ext}")),
                #[cfg(feature = "test-hooks")]
                Target::Exact(p) => p.clone(),
            };
            let error = format!("cannot create {}: {e}", name.display());
            tracing::error!(file = file.0, "{error}");
            state.failed.store(true, Ordering::Relaxed);
            shared.emit(FileEvent::Failed {
                file,
                path: Some(name),
                error,
            });
            return;
        }
    };
    let requested = match &target {
        Target::New { base, ext } => format!("{base}.{ext}"),
        #[cfg(feature = "test-hooks")]
        Target::Exact(p) => p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    tracing::debug!(file = file.0, path = %path.display(), "file opened");
    shared.emit(FileEvent::Opened {
        file,
        requested,
        path: path.clone(),
    });

    let mut w = BufWriter::with_capacity(BUFFER_BYTES, f);
    let mut written = 0u64;
    let mut finalized = false;
    let fail = |e: io::Error, what: &str| {
        let error = format!(
            "{what} {} failed: {e}; nothing more is written to this file",
            path.display()
        );
        tracing::error!(file = file.0, "{error}");
        state.failed.store(true, Ordering::Relaxed);
        shared.emit(FileEvent::Failed {
            file,
            path: Some(path.clone()),
            error,
        });
    };
    for op in rx.iter() {
        if let Op::Write(bytes) = &op {
            state
                .queued
                .fetch_sub(bytes.len() as u64, Ordering::Relaxed);
        }
        if state.failed.load(Ordering::Relaxed) {
            continue;
        }
        let result = match op {
            Op::Write(bytes) => w.write_all(&bytes).map(|()| written += bytes.len() as u64),
            Op::Flush => w.flush(),
            Op::Finalize(patches) => {
                let r = finish(&mut w, written, &patches, &path);
                finalized = r.is_ok();
                if let Err(e) = r {
                    fail(e, "finalizing");
                }
                break;
            }
        };
        if let Err(e) = result {
            fail(e, "writing");
        }
    }
    if !finalized && !state.failed.load(Ordering::Relaxed) {
        // The recorder went away without a clean finish: keep what we have.
        if let Err(e) = w.flush().and_then(|()| w.get_ref().sync_data()) {
            fail(e, "flushing");
        }
    }
    tracing::debug!(file = file.0, path = %path.display(), bytes = written, finalized, "file closed");
    shared.emit(FileEvent::Closed {
        file,
        path,
        bytes: written,
        finalized,
    });
}

/// Flush, apply patches in place, fsync.
fn finish(w: &mut BufWriter<File>, written: u64, patches: &[Patch], path: &Path) -> io::Result<()> {
    w.flush()?;
    let f = w.get_mut();
    for p in patches {
        let end = p.offset.checked_add(p.bytes.len() as u64);
        if end.is_none_or(|end| end > written) {
            tracing::warn!(path = %path.display(), offset = p.offset, len = p.bytes.len(), written,
                "ignoring a patch beyond the end of the file");
            continue;
        }
        f.seek(SeekFrom::Start(p.offset))?;
        f.write_all(&p.bytes)?;
    }
    f.sync_all()
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
