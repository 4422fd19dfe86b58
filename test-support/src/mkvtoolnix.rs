//! mkvtoolnix's view of a WebM file: a second, stricter Matroska reader next to ffmpeg's.

use std::path::Path;

use serde_json::Value;

use crate::tool::{arg, run, text};

/// `mkvmerge -J`: tracks, container properties, and the errors and warnings mkvmerge found.
pub fn identify(path: &Path) -> Value {
    let out = run("mkvmerge", &["-J", arg(path)]);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("mkvmerge -J: {e}: {}", text(&out.stderr)))
}

/// Everything `mkvmerge -J` complains about (errors, then warnings): empty for a clean file.
pub fn problems(path: &Path) -> Vec<Value> {
    let v = identify(path);
    let mut problems = v["errors"].as_array().cloned().unwrap_or_default();
    problems.extend(v["warnings"].as_array().cloned().unwrap_or_default());
    problems
}

/// Cue points `mkvinfo -a` lists; a file without Cues fails the test.
pub fn cue_points(path: &Path) -> usize {
    let out = run("mkvinfo", &["-a", arg(path)]);
    let listing = text(&out.stdout);
    assert!(
        listing.contains("Cues"),
        "mkvinfo finds no Cues in {}",
        path.display()
    );
    listing.lines().filter(|l| l.contains("Cue point")).count()
}
