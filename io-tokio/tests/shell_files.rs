//! The file writer: never overwrites, refuses hostile names, applies patches at their offsets, and
//! isolates a write error to the one file that hit it.

use std::path::PathBuf;
use std::time::Duration;

use roomrec_core::media::{FileId, Patch};
use roomrec_io_tokio::files::{FileEvent, FileSink, RecorderFiles};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::timeout;

async fn next_event(rx: &mut UnboundedReceiver<FileEvent>) -> FileEvent {
    timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no file event within 10 s")
        .expect("sink gone")
}

/// Events until `file` is closed (or failed to open).
async fn events_of(rx: &mut UnboundedReceiver<FileEvent>, file: FileId) -> Vec<FileEvent> {
    let mut out = Vec::new();
    loop {
        let ev = next_event(rx).await;
        let (id, last) = match &ev {
            FileEvent::Opened { file, .. } => (*file, false),
            FileEvent::Failed { file, path, .. } => (*file, path.is_none()),
            FileEvent::Closed { file, .. } => (*file, true),
        };
        if id == file {
            out.push(ev);
            if last {
                return out;
            }
        }
    }
}

async fn idle(sink: &FileSink) {
    timeout(Duration::from_secs(10), sink.wait_idle())
        .await
        .expect("writers did not finish");
}

#[tokio::test]
async fn never_overwrites_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rec_alice.ts"), b"older recording").unwrap();
    std::fs::write(dir.path().join("rec_alice_1.ts"), b"older recording 1").unwrap();
    let sink = FileSink::new(dir.path());
    let mut events = sink.subscribe();

    let mut h = sink.open(FileId(1), "rec_alice", "ts");
    h.write(b"new data".to_vec());
    h.finalize(Vec::new());
    let evs = events_of(&mut events, FileId(1)).await;
    let expected = dir.path().join("rec_alice_2.ts");
    assert_eq!(
        evs[0],
        FileEvent::Opened {
            file: FileId(1),
            requested: "rec_alice.ts".into(),
            path: expected.clone()
        }
    );
    assert_eq!(
        evs.last().unwrap(),
        &FileEvent::Closed {
            file: FileId(1),
            path: expected.clone(),
            bytes: 8,
            finalized: true
        }
    );
    idle(&sink).await;
    assert_eq!(
        std::fs::read(dir.path().join("rec_alice.ts")).unwrap(),
        b"older recording"
    );
    assert_eq!(
        std::fs::read(dir.path().join("rec_alice_1.ts")).unwrap(),
        b"older recording 1"
    );
    assert_eq!(std::fs::read(&expected).unwrap(), b"new data");
}

#[tokio::test]
async fn hostile_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("out");
    std::fs::create_dir(&inner).unwrap();
    let sink = FileSink::new(&inner);
    let mut events = sink.subscribe();
    let hostile = [
        "../escape",
        "a/b",
        "a\\b",
        "nul\0byte",
        ".hidden",
        "..",
        "",
        "x..y",
    ];
    for (i, name) in hostile.iter().enumerate() {
        let id = FileId(100 + i as u64);
        let mut h = sink.open(id, name, "ts");
        assert!(h.failed(), "{name:?} was accepted");
        h.write(b"should go nowhere".to_vec());
        h.finalize(vec![Patch {
            offset: 0,
            bytes: vec![1],
        }]);
        match next_event(&mut events).await {
            FileEvent::Failed {
                file,
                path: None,
                error,
            } => {
                assert_eq!(file, id);
                assert!(error.contains("refusing"), "{error}");
            }
            other => panic!("{name:?}: unexpected {other:?}"),
        }
    }
    // A bad extension is refused too.
    assert!(sink.open(FileId(200), "fine", "t/s").failed());
    idle(&sink).await;
    assert_eq!(std::fs::read_dir(&inner).unwrap().count(), 0);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "something escaped the output dir"
    );
}

#[tokio::test]
async fn patches_are_applied_at_their_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::new(dir.path());
    let mut events = sink.subscribe();
    let mut files = RecorderFiles::new(sink.clone());
    files.open(FileId(7), "patched", "webm");
    let first: Vec<u8> = (0..100u8).collect();
    let second: Vec<u8> = (100..200u8).collect();
    files.write(FileId(7), first);
    files.flush(FileId(7));
    files.write(FileId(7), second);
    files.finalize(
        FileId(7),
        vec![
            Patch {
                offset: 0,
                bytes: vec![0xAA, 0xBB],
            },
            Patch {
                offset: 150,
                bytes: vec![0xCC; 4],
            },
            // Reaches past the end: must be ignored, not extend the file.
            Patch {
                offset: 199,
                bytes: vec![0xDD; 2],
            },
        ],
    );
    assert!(files.is_empty());
    let evs = events_of(&mut events, FileId(7)).await;
    let path = dir.path().join("patched.webm");
    assert_eq!(
        evs.last().unwrap(),
        &FileEvent::Closed {
            file: FileId(7),
            path: path.clone(),
            bytes: 200,
            finalized: true
        }
    );
    let mut expected: Vec<u8> = (0..200u8).collect();
    expected[0..2].copy_from_slice(&[0xAA, 0xBB]);
    expected[150..154].copy_from_slice(&[0xCC; 4]);
    assert_eq!(std::fs::read(&path).unwrap(), expected);
}

#[tokio::test]
async fn a_full_device_stops_only_its_own_file() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("no /dev/full here; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::new(dir.path());
    let mut events = sink.subscribe();
    let mut full = sink.open_exact_path_for_test(FileId(1), "/dev/full");
    let mut good = sink.open(FileId(2), "good", "ts");
    let chunk = vec![0x47u8; 188 * 100];
    let mut sent = 0u64;
    for _ in 0..50 {
        full.write(chunk.clone());
        full.flush();
        good.write(chunk.clone());
        good.flush();
        sent += chunk.len() as u64;
    }
    // The failing file reports one clear error naming the device.
    let mut errors = Vec::new();
    let mut good_closed = None;
    good.finalize(vec![Patch {
        offset: 0,
        bytes: vec![0x48],
    }]);
    full.finalize(Vec::new());
    while good_closed.is_none() || errors.is_empty() {
        match next_event(&mut events).await {
            FileEvent::Failed { file, path, error } => {
                assert_eq!(file, FileId(1));
                assert_eq!(path, Some(PathBuf::from("/dev/full")));
                assert!(error.contains("/dev/full"), "{error}");
                errors.push(error);
            }
            FileEvent::Closed {
                file: FileId(2),
                bytes,
                finalized,
                path,
            } => good_closed = Some((bytes, finalized, path)),
            _ => {}
        }
    }
    idle(&sink).await;
    while let Ok(ev) = events.try_recv() {
        assert!(
            !matches!(ev, FileEvent::Failed { .. }),
            "second error reported: {ev:?}"
        );
    }
    assert_eq!(errors.len(), 1);
    let (bytes, finalized, path) = good_closed.unwrap();
    assert_eq!((bytes, finalized), (sent, true));
    let data = std::fs::read(path).unwrap();
    assert_eq!(data.len() as u64, sent);
    assert_eq!(data[0], 0x48);
    assert!(data[1..].iter().all(|&b| b == 0x47));
}

#[tokio::test]
async fn dropped_handle_keeps_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::new(dir.path());
    let mut events = sink.subscribe();
    let mut h = sink.open(FileId(3), "crash", "ts");
    h.write(vec![1, 2, 3]);
    drop(h);
    let evs = events_of(&mut events, FileId(3)).await;
    let path = dir.path().join("crash.ts");
    assert_eq!(
        evs.last().unwrap(),
        &FileEvent::Closed {
            file: FileId(3),
            path: path.clone(),
            bytes: 3,
            finalized: false
        }
    );
    idle(&sink).await;
    assert_eq!(sink.open_files(), 0);
    assert_eq!(std::fs::read(path).unwrap(), vec![1, 2, 3]);
}

#[tokio::test]
async fn missing_directory_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::new(dir.path().join("does-not-exist"));
    let mut events = sink.subscribe();
    let mut h = sink.open(FileId(4), "x", "ts");
    h.write(vec![0; 10]);
    match next_event(&mut events).await {
        FileEvent::Failed {
            file,
            path: Some(p),
            error,
        } => {
            assert_eq!(file, FileId(4));
            assert!(error.contains("cannot create"), "{error}");
            assert!(p.ends_with("does-not-exist/x.ts"));
        }
        other => panic!("unexpected {other:?}"),
    }
    idle(&sink).await;
}
