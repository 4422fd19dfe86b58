//! The binary end to end: `roomrec demo` records real media offline, and a recorder killed with
//! SIGKILL leaves files that play up to the cut.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use roomrec_test_support::ffmpeg::decode_errors;
use roomrec_test_support::ffprobe::probe;
use roomrec_test_support::recordings::media_files;

fn demo(dir: &Path, seconds: u64) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roomrec"));
    cmd.args(["demo", "--seconds", &seconds.to_string()])
        .arg("--output-dir")
        .arg(dir);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

const EXPECTED: [(&str, &str); 4] = [
    ("alice", "h264"),
    ("bob", "vp8"),
    ("carol", "vp9"),
    ("dave", "av1"),
];

#[test]
fn demo_records_four_codecs_into_playable_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(dir.path(), 5).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed: {stderr}");
    for (stream, codec) in EXPECTED {
        let files = media_files(dir.path(), &format!("demo_{stream}_"));
        assert_eq!(files.len(), 1, "{stream}: {files:?}\n{stderr}");
        let info = probe(&files[0]);
        let video = info.stream("video").expect("video track");
        assert_eq!(video.codec, codec);
        assert_eq!((video.width, video.height), (Some(320), Some(240)));
        assert_eq!(
            info.stream("audio").expect("audio in the same file").codec,
            "opus"
        );
        assert!(video.frames >= 90, "{stream}: {} frames", video.frames);
        let duration = info.duration.expect("finalized file has a duration");
        assert!(
            (3.0..=5.5).contains(&duration),
            "{stream}: duration {duration}"
        );
        assert_eq!(decode_errors(&files[0]), "", "{stream} decodes cleanly");
    }
    let manifest =
        std::fs::read_to_string(dir.path().join("demo_manifest.json")).expect("manifest written");
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(
        manifest["files"].as_array().map(Vec::len),
        Some(4),
        "{manifest}"
    );
}

#[test]
fn sigkill_leaves_files_playable_up_to_the_cut() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = demo(dir.path(), 120).spawn().unwrap();
    // Wait until every stream has a file, then record a few more seconds.
    let start = Instant::now();
    while EXPECTED
        .iter()
        .any(|(s, _)| media_files(dir.path(), &format!("demo_{s}_")).is_empty())
    {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "files never appeared"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let opened = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let recorded = opened.elapsed().as_secs_f64();
    Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();

    for (stream, codec) in EXPECTED {
        let file = &media_files(dir.path(), &format!("demo_{stream}_"))[0];
        let info = probe(file);
        let video = info.stream("video").expect("video survives the crash");
        assert_eq!(video.codec, codec);
        assert!(info.stream("audio").is_some(), "audio survives the crash");
        // At most about one second is lost: 30 fps for what was recorded, minus ~1.5 s of slack.
        let expected = ((recorded - 1.5) * 30.0) as u64;
        assert!(
            video.frames >= expected,
            "{stream}: {} frames after {recorded:.1}s",
            video.frames
        );
        // Only the last, cut-off frame may be reported.
        let errors = decode_errors(file);
        assert!(
            errors.lines().count() <= 4,
            "{stream} decodes up to the cut:\n{errors}"
        );
    }
}
