//! Finding what a recorder run wrote.

use std::path::{Path, PathBuf};

use crate::ffmpeg::decode_errors_vfr;
use crate::ffprobe::{probe, Probe};

/// Recorded media files in `dir` whose name starts with `prefix`, sorted by name.
pub fn media_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.starts_with(prefix) && (name.ends_with(".ts") || name.ends_with(".webm"))
    });
    files.sort();
    files
}

/// The one recording whose name starts with `prefix` in `dir`, checked by independent tools: ffprobe
/// finds `video_codec` video with at least `min_video` frames and Opus audio with at least
/// `min_audio` in the same file, and ffmpeg decodes it without an error. Returns the probe for the
/// caller's own checks.
pub fn check_one_recording(
    dir: &Path,
    prefix: &str,
    video_codec: &str,
    min_video: u64,
    min_audio: u64,
) -> Probe {
    let files = media_files(dir, prefix);
    assert_eq!(files.len(), 1, "{prefix}: one file, got {files:?}");
    let info = probe(&files[0]);
    let video = info
        .stream("video")
        .unwrap_or_else(|| panic!("{prefix}: no video in {info:?}"));
    let audio = info
        .stream("audio")
        .unwrap_or_else(|| panic!("{prefix}: no audio in {info:?}"));
    assert_eq!(video.codec, video_codec, "{prefix}");
    assert_eq!(audio.codec, "opus", "{prefix}");
    assert!(
        video.frames >= min_video,
        "{prefix}: {} video frames",
        video.frames
    );
    assert!(
        audio.frames >= min_audio,
        "{prefix}: {} audio frames",
        audio.frames
    );
    let errors = decode_errors_vfr(&files[0]);
    assert!(errors.is_empty(), "{prefix}: decode errors: {errors}");
    info
}
