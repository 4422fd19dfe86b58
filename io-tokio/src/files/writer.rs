//! The writer side: a few threads shared by every file, each file an actor (its queue is worked
//! by at most one thread at a time, so its bytes land in order). The connection side hands over
//! batches (tens of KB, or a flush), not single frames, so a thread is woken a few times a second
//! per file instead of once per frame. Finalizing (patches, fsync) runs on a thread of its own
//! per file, so shutting down with many files finalizes them in parallel.

use std::fs::File;
#[cfg(feature = "test-hooks")]
use std::fs::OpenOptions;
use std::io::{self, IoSlice, Seek, SeekFrom, Write};
use std::mem;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, MutexGuard};

use roomrec_core::media::{FileId, Patch};

use super::{create_unique, FileEvent, Shared};

/// Writer threads per output directory. Writes go to the page cache (tens of µs per batch); more
/// than one so a write stuck on a slow disk does not hold up every other file.
pub(super) const WRITER_THREADS: usize = 4;

pub(super) enum Op {
    Open(Target),
    Write(Vec<u8>),
    /// Apply the patches, fsync, report `Closed { finalized: true }`.
    Finalize(Vec<Patch>),
    /// The handle went away without finalizing: fsync what there is, report not finalized.
    Close,
}

pub(super) enum Target {
    /// Create `{base}.{ext}` (or `{base}_N.{ext}`) in the output dir.
    New { base: String, ext: String },
    /// Open an existing path for writing as is (tests: `/dev/full`).
    #[cfg(feature = "test-hooks")]
    Exact(PathBuf),
}

/// One file: the queue the connection fills and the state only the scheduled writer touches.
pub(super) struct FileCell {
    pub file: FileId,
    shared: Arc<Shared>,
    pending: Mutex<Pending>,
    /// Bytes handed over and not yet written.
    pub queued: AtomicU64,
    pub failed: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct Pending {
    ops: Vec<Op>,
    /// In the run queue or being worked on.
    scheduled: bool,
}

enum State {
    Unopened,
    Open {
        f: File,
        path: PathBuf,
        written: u64,
    },
    Done,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Start the writer threads; they end when the run queue's sender (in `Shared`) is dropped.
pub(super) fn start_writers() -> io::Result<std_mpsc::Sender<Arc<FileCell>>> {
    let (tx, rx) = std_mpsc::channel::<Arc<FileCell>>();
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..WRITER_THREADS {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("roomrec-writer-{i}"))
            .spawn(move || loop {
                let next = lock(&rx).recv();
                match next {
                    Ok(cell) => cell.run(),
                    Err(_) => return,
                }
            })?;
    }
    Ok(tx)
}

impl FileCell {
    pub(super) fn new(file: FileId, shared: Arc<Shared>) -> FileCell {
        FileCell {
            file,
            shared,
            pending: Mutex::new(Pending::default()),
            queued: AtomicU64::new(0),
            failed: AtomicBool::new(false),
            state: Mutex::new(State::Unopened),
        }
    }

    /// Queue an operation; schedules the file if no writer has it yet.
    pub(super) fn send(self: &Arc<Self>, op: Op) {
        let mut p = lock(&self.pending);
        p.ops.push(op);
        if !p.scheduled {
            p.scheduled = true;
            drop(p);
            self.shared.schedule(self.clone());
        }
    }

    /// One batch of queued operations; requeues itself if more arrived meanwhile (fairness).
    fn run(self: Arc<Self>) {
        let ops = mem::take(&mut lock(&self.pending).ops);
        self.process(ops);
        let mut p = lock(&self.pending);
        if p.ops.is_empty() {
            p.scheduled = false;
        } else {
            drop(p);
            self.shared.schedule(self.clone());
        }
    }

    fn process(&self, ops: Vec<Op>) {
        let mut state = lock(&self.state);
        let mut writes: Vec<Vec<u8>> = Vec::new();
        for op in ops {
            match op {
                Op::Write(bytes) => writes.push(bytes),
                other => {
                    self.write_batch(&mut state, mem::take(&mut writes));
                    match other {
                        Op::Open(target) => self.open(&mut state, target),
                        Op::Finalize(patches) => self.close(&mut state, Some(patches)),
                        Op::Close => self.close(&mut state, None),
                        Op::Write(_) => unreachable!("handled above"),
                    }
                }
            }
        }
        self.write_batch(&mut state, writes);
    }

    fn open(&self, state: &mut State, target: Target) {
        let (opened, requested, name) = match &target {
            Target::New { base, ext } => (
                create_unique(&self.shared.dir, base, ext),
                format!("{base}.{ext}"),
                self.shared.dir.join(format!("{base}.{ext}")),
            ),
            #[cfg(feature = "test-hooks")]
            Target::Exact(path) => (
                OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map(|f| (f, path.clone())),
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                path.clone(),
            ),
        };
        let file = self.file;
        match opened {
            Ok((f, path)) => {
                tracing::debug!(file = file.0, path = %path.display(), "file opened");
                self.shared.emit(FileEvent::Opened {
                    file,
                    requested,
                    path: path.clone(),
                });
                *state = State::Open {
                    f,
                    path,
                    written: 0,
                };
            }
            Err(e) => {
                let error = format!("cannot create {}: {e}", name.display());
                tracing::error!(file = file.0, "{error}");
                self.failed.store(true, Ordering::Relaxed);
                self.shared.emit(FileEvent::Failed {
                    file,
                    path: Some(name),
                    error,
                });
                *state = State::Done;
                self.shared.file_done();
            }
        }
    }

    fn write_batch(&self, state: &mut State, batch: Vec<Vec<u8>>) {
        if batch.is_empty() {
            return;
        }
        let total: u64 = batch.iter().map(|b| b.len() as u64).sum();
        self.queued.fetch_sub(total, Ordering::Relaxed);
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        let State::Open { f, path, written } = state else {
            return;
        };
        match write_all_vectored(f, &batch) {
            Ok(()) => *written += total,
            Err(e) => self.fail(e, "writing", path),
        }
    }

    fn fail(&self, e: io::Error, what: &str, path: &Path) {
        let error = format!(
            "{what} {} failed: {e}; nothing more is written to this file",
            path.display()
        );
        tracing::error!(file = self.file.0, "{error}");
        self.failed.store(true, Ordering::Relaxed);
        self.shared.emit(FileEvent::Failed {
            file: self.file,
            path: Some(path.to_path_buf()),
            error,
        });
    }

    /// Finalize (`Some(patches)`) or just keep what there is (`None`), on a thread of its own.
    fn close(&self, state: &mut State, patches: Option<Vec<Patch>>) {
        let State::Open { f, path, written } = mem::replace(state, State::Done) else {
            return;
        };
        let failed = self.failed.load(Ordering::Relaxed);
        let job = CloseJob {
            file: self.file,
            shared: self.shared.clone(),
            failed,
            f,
            path,
            written,
            patches,
        };
        if failed {
            job.run();
            return;
        }
        // The slot lets us run the job here if no thread can be started.
        let slot = Arc::new(Mutex::new(Some(job)));
        let theirs = slot.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("roomrec-close-{}", self.file.0))
            .spawn(move || {
                if let Some(job) = lock(&theirs).take() {
                    job.run()
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(
                file = self.file.0,
                "cannot start a thread to finalize ({e}); finalizing here"
            );
            if let Some(job) = lock(&slot).take() {
                job.run()
            }
        }
    }
}

struct CloseJob {
    file: FileId,
    shared: Arc<Shared>,
    failed: bool,
    f: File,
    path: PathBuf,
    written: u64,
    patches: Option<Vec<Patch>>,
}

impl CloseJob {
    fn run(self) {
        let CloseJob {
            mut f,
            path,
            written,
            patches,
            ..
        } = self;
        let mut finalized = false;
        if !self.failed {
            let (result, what) = match &patches {
                Some(patches) => (finish(&mut f, written, patches, &path), "finalizing"),
                None => (f.sync_data(), "flushing"),
            };
            match result {
                Ok(()) => finalized = patches.is_some(),
                Err(e) => {
                    let error = format!(
                        "{what} {} failed: {e}; nothing more is written to this file",
                        path.display()
                    );
                    tracing::error!(file = self.file.0, "{error}");
                    self.shared.emit(FileEvent::Failed {
                        file: self.file,
                        path: Some(path.clone()),
                        error,
                    });
                }
            }
        }
        tracing::debug!(file = self.file.0, path = %path.display(), bytes = written, finalized, "file closed");
        self.shared.emit(FileEvent::Closed {
            file: self.file,
            path,
            bytes: written,
            finalized,
        });
        self.shared.file_done();
    }
}

/// Every byte of every buffer, in as few `writev` calls as the kernel allows.
fn write_all_vectored(f: &mut File, batch: &[Vec<u8>]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
    let mut rest = &mut slices[..];
    IoSlice::advance_slices(&mut rest, 0);
    while !rest.is_empty() {
        match f.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Apply patches in place, fsync.
fn finish(f: &mut File, written: u64, patches: &[Patch], path: &Path) -> io::Result<()> {
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
