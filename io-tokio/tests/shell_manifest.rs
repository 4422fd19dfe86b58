//! The manifest: records keyed by file, real on-disk names, throttled atomic rewrites, and an older
//! run's manifest left alone.

use std::path::Path;
use std::time::Duration;

use roomrec_core::media::recorder::{FileRecord, FrameCounts};
use roomrec_core::media::FileId;
use roomrec_io_tokio::files::{FileEvent, FileSink};
use roomrec_io_tokio::manifest::Manifest;
use serde_json::Value;

/// A record as a connection would send it for file `id`, requested as `file`.
fn record(id: u64, file: &str, stream: &str, video_frames: u64, complete: bool) -> FileRecord {
    FileRecord {
        event: if complete { "close" } else { "open" },
        file_id: id,
        file: file.into(),
        stream_id: stream.into(),
        stream_name: stream.into(),
        role: "main".into(),
        label: String::new(),
        container: if file.ends_with(".ts") { "ts" } else { "webm" },
        video_codec: Some("vp8"),
        audio_codec: None,
        resolutions: Vec::new(),
        start_wall: "2026-01-01T00:00:00.000Z".into(),
        start_unix_ms: 0,
        end_wall: None,
        end_unix_ms: None,
        frames: FrameCounts {
            video: video_frames,
            audio: 0,
        },
        duration_ms: 0,
        clock: "arrival",
        complete,
    }
}

fn read(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).expect("manifest is not valid JSON"))
}

async fn wait_for(path: &Path, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..200 {
        if let Some(v) = read(path) {
            if pred(&v) {
                return v;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "manifest {} never matched; last: {:?}",
        path.display(),
        read(path)
    );
}

#[tokio::test]
async fn records_are_keyed_by_file_and_use_real_names() {
    let dir = tempfile::tempdir().unwrap();
    // An older run left both a recording and a manifest with the same names.
    std::fs::write(dir.path().join("rec_bob.ts"), b"old").unwrap();
    std::fs::write(dir.path().join("rec_manifest.json"), b"{\"old\":true}").unwrap();

    let sink = FileSink::new(dir.path());
    let manifest = Manifest::spawn(
        dir.path().to_path_buf(),
        "rec",
        "myroom",
        sink.subscribe(),
        // Rewrites at most every 3 s here (1 s in production), so "not yet rewritten 300 ms after
        // an update" holds even when a loaded machine notices the first write late.
        Duration::from_secs(3),
    );
    let mut events = sink.subscribe();
    let tx = manifest.sender();

    let mut h = sink.open(FileId(1), "rec_bob", "ts");
    h.write(vec![1]);
    h.finalize(Vec::new());
    loop {
        if let FileEvent::Closed { .. } = events.recv().await.unwrap() {
            break;
        }
    }
    tx.file_record(Box::new(record(1, "rec_bob.ts", "bob", 0, false)));
    tx.file_record(Box::new(record(2, "rec_carol.webm", "carol", 0, false)));

    let path = dir.path().join("rec_manifest_1.json");
    let v = wait_for(&path, |v| {
        v["files"].as_array().is_some_and(|f| f.len() == 2)
    })
    .await;
    assert_eq!(v["room"], "myroom");
    assert_eq!(
        v["files"][0]["file"], "rec_bob_1.ts",
        "manifest must name the file actually written"
    );
    assert_eq!(v["files"][0]["stream_id"], "bob");
    assert_eq!(v["files"][0]["file_id"], 1);
    assert_eq!(v["files"][1]["file"], "rec_carol.webm");

    // An update replaces the record for that file; the first write was less than 3 s ago,
    // so it must not be on disk yet.
    tx.file_record(Box::new(record(1, "rec_bob.ts", "bob", 250, false)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        read(&path).unwrap()["files"][0]["frames"]["video"],
        0,
        "rewritten sooner than the minimum interval"
    );
    let v = wait_for(&path, |v| v["files"][0]["frames"]["video"] == 250).await;
    assert_eq!(v["files"].as_array().unwrap().len(), 2);

    // At shutdown the last state is written at once.
    tx.file_record(Box::new(record(2, "rec_carol.webm", "carol", 0, true)));
    tokio::time::timeout(Duration::from_secs(2), manifest.finish())
        .await
        .unwrap();
    let v = read(&path).unwrap();
    assert_eq!(v["files"][1]["complete"], true);

    assert_eq!(
        std::fs::read(dir.path().join("rec_manifest.json")).unwrap(),
        b"{\"old\":true}"
    );
    // No temp files are left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
}

#[tokio::test]
async fn nothing_recorded_means_no_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let sink = FileSink::new(dir.path());
    let manifest = Manifest::spawn(
        dir.path().to_path_buf(),
        "empty",
        "r",
        sink.subscribe(),
        Duration::from_secs(1),
    );
    manifest.finish().await;
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
