//! `roomrec bench` end to end on a small room (relay, loadgen and recorder as separate processes
//! on 127.0.0.1): every publisher's file holds every frame it sent from its first keyframe on,
//! counted by ffprobe independently of the recorder, and every file decodes.

use std::path::Path;
use std::process::Command;

use roomrec_test_support::binary::roomrec_bin;
use roomrec_test_support::ffmpeg::decode_errors;
use roomrec_test_support::ffprobe::probe;
use roomrec_test_support::recordings::media_files;
use serde_json::Value;

const STREAMS: usize = 20;

fn sessions(run: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(run.join("loadgen.jsonl")).expect("loadgen report");
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "session")
        .collect()
}

#[test]
fn a_small_bench_finds_every_sent_frame_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(roomrec_bin())
        .args(["bench", "--streams", &STREAMS.to_string(), "--seconds", "4"])
        .args(["--decode-sample", "0", "--output-dir"])
        .arg(dir.path())
        .output()
        .expect("roomrec bench runs");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        table.contains(&format!("{STREAMS} of {STREAMS} sessions exact")),
        "{table}"
    );

    let run = dir.path().join(format!("n{STREAMS}-r1"));
    let sessions = sessions(&run);
    assert_eq!(sessions.len(), STREAMS, "one session per publisher");
    for s in &sessions {
        let stream = s["stream"].as_str().unwrap();
        assert!(s["error"].is_null(), "{stream}: {s}");
        let files = media_files(&run, &format!("bench_{stream}_"));
        assert_eq!(files.len(), 1, "{stream}: {files:?}");
        let info = probe(&files[0]);
        let n = |k: &str| s[k].as_u64().unwrap();
        assert!(n("video_frames") > 0, "{stream} sent video");
        assert_eq!(info.codec(s["codec"].as_str().unwrap()).kind, "video");
        assert_eq!(info.frames("video"), n("video_frames"), "{stream}: {s}");
        // The file starts at the first keyframe, with the audio from one frame before it.
        let audio = n("audio_frames") - n("audio_before_video");
        let in_file = info.frames("audio");
        assert!(
            in_file == audio || in_file == audio + 1,
            "{stream}: {in_file} audio frames in the file, {audio} sent from the keyframe on"
        );
        let errors = decode_errors(&files[0]);
        assert!(errors.is_empty(), "{stream}: {errors}");
    }
}
