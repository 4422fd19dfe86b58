//! What the browser test asserts about one publisher: its files (ffprobe / ffmpeg), their
//! manifest entries, the recorder's log, and its messages next to the real web app's.

use std::path::Path;

use roomrec_core::signaling::Cipher;
use roomrec_test_support::ffprobe::{probe, Stream};
use roomrec_test_support::recordings::media_files;
use serde_json::Value;

use crate::harness::media::{decode_check, frame_sizes};
use crate::media_starts;
use crate::scenarios::{Guest, Scenario};
use crate::wire::{check_data_channel, check_wire};

/// A file's duration may differ this much from the time the page was sending.
const DURATION_SLACK_S: f64 = 1.0;

pub struct Facts<'a> {
    pub s: &'a Scenario,
    pub g: &'a Guest,
    /// Page state just before SIGINT (sending statistics) and after the recorder left.
    pub before: &'a Value,
    pub after: &'a Value,
    /// Unix ms of the SIGINT.
    pub stop_ms: f64,
    pub out: &'a Path,
    pub manifest: &'a [Value],
    /// The recorder's `--trace-signaling` lines.
    pub trace: &'a [Value],
    pub log: &'a str,
}

pub fn read_trace(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The `files` of `{room}_manifest.json`.
pub fn read_manifest(out: &Path, room: &str) -> Vec<Value> {
    let path = out.join(format!("{room}_manifest.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    json["files"].as_array().cloned().unwrap_or_default()
}

pub fn guest(
    f: &Facts,
    cipher: Option<&Cipher>,
    errors: &mut Vec<String>,
    report: &mut Vec<String>,
) {
    let who = f.g.stream;
    let mut errs = Vec::new();
    if f.after["errors"].as_array().is_none_or(|e| !e.is_empty()) {
        errs.push(format!("page errors: {}", f.after["errors"]));
    }
    if f.g.video() {
        // Chromium's fake device delivers exactly the size and rate the page asks for.
        let cam = &f.after["camera"];
        let got = (
            cam["width"].as_u64(),
            cam["height"].as_u64(),
            cam["fps"].as_u64(),
        );
        let (w, h, fps) = f.g.camera;
        if got != (Some(w), Some(h), Some(fps)) {
            errs.push(format!(
                "fake camera gave {got:?}, asked for {:?}",
                f.g.camera
            ));
        }
    }
    let visits = if f.g.rejoin { 2 } else { 1 };
    let starts = media_starts(f.after);
    let mut recorded_sizes = Vec::new();
    let files = media_files(f.out, &format!("{}_{}_", f.s.room, f.g.stream));
    if files.len() != visits || starts.len() != visits {
        errs.push(format!(
            "{visits} visit(s): {} media start(s) on the page, files {files:?}",
            starts.len()
        ));
    } else {
        for (i, file) in files.iter().enumerate() {
            let end = if i + 1 < visits {
                f.after["hungUpAt"].as_f64().unwrap_or(f64::NAN)
            } else {
                f.stop_ms
            };
            let sent_s = (end - starts[i]) / 1000.0;
            recorded_sizes.extend(check_file(f, file, sent_s, &mut errs, report));
        }
    }
    check_log(f, visits, &mut errs);
    check_wire(f, cipher, visits, &mut errs);
    check_data_channel(f, cipher, visits, &mut errs);
    let peer = f.before["peers"]
        .as_object()
        .and_then(|p| p.values().next());
    if let Some(video) = peer.map(|p| &p["video"]).filter(|v| v.is_object()) {
        // What a settled Chromium (no quality limitation: not in the middle of a ramp-up step)
        // was sending just before the stop must be in the file.
        let sent = (video["width"].as_u64(), video["height"].as_u64());
        if let (Some(w), Some(h), true) = (sent.0, sent.1, video["limitation"] == "none") {
            if !recorded_sizes.contains(&(w, h)) {
                errs.push(format!(
                    "Chromium sent {w}x{h}, the files hold {recorded_sizes:?}"
                ));
            }
        }
        report.push(format!(
            "{who}: Chromium sent {} {}x{} at {} fps ({}, quality limitation: {})",
            video["codec"],
            video["width"],
            video["height"],
            video["fps"],
            video["encoder"],
            video["limitation"]
        ));
    }
    errors.extend(errs.into_iter().map(|e| format!("{who}: {e}")));
}

fn check_file(
    f: &Facts,
    file: &Path,
    sent_s: f64,
    errs: &mut Vec<String>,
    report: &mut Vec<String>,
) -> Vec<(u64, u64)> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_string();
    let info = probe(file);
    let (video, audio) = (info.stream("video"), info.stream("audio"));
    let wanted = usize::from(f.g.video()) + usize::from(f.g.audio);
    if info.streams.len() != wanted {
        errs.push(format!(
            "{name}: {} streams, expected {wanted}: {:?}",
            info.streams.len(),
            info.streams
        ));
    }
    if video.map(|v| v.codec.as_str()) != f.g.vcodec {
        errs.push(format!(
            "{name}: video {:?}, expected {:?}",
            video.map(|v| &v.codec),
            f.g.vcodec
        ));
    }
    if audio.map(|a| a.codec.as_str()) != f.g.audio.then_some("opus") {
        errs.push(format!(
            "{name}: audio {:?}, expected opus: {}",
            audio.map(|a| &a.codec),
            f.g.audio
        ));
    }
    let duration = info.duration.unwrap_or(0.0);
    if (duration - sent_s).abs() > DURATION_SLACK_S {
        errs.push(format!(
            "{name}: {duration:.2} s long, the page sent for {sent_s:.2} s"
        ));
    }
    match decode_check(file, video.is_some()) {
        Ok(None) => {}
        Ok(Some(note)) => report.push(format!("{name}: note: {note}")),
        Err(e) => errs.push(format!("{name}: ffmpeg decode errors: {e}")),
    }
    let Some(entry) = f.manifest.iter().find(|e| e["file"] == name.as_str()) else {
        errs.push(format!("{name}: not in the manifest"));
        return Vec::new();
    };
    if entry["complete"] != true
        || entry["stream_id"] != f.g.stream
        || entry["label"] != f.g.label().as_str()
    {
        errs.push(format!("{name}: manifest entry {entry}"));
    }
    let mut counted = |kind: &str, s: Option<&Stream>| {
        let frames = s.map_or(0, |s| s.frames);
        if entry["frames"][kind].as_u64() != Some(frames) {
            errs.push(format!(
                "{name}: manifest says {} {kind} frames, ffprobe decodes {frames}",
                entry["frames"][kind]
            ));
        }
    };
    counted("video", video);
    counted("audio", audio);
    if (entry["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0 - duration).abs() > 0.25 {
        errs.push(format!(
            "{name}: manifest duration {} ms, ffprobe {duration:.3} s",
            entry["duration_ms"]
        ));
    }
    let mut size = String::new();
    let mut sizes = Vec::new();
    if video.is_some() {
        sizes = check_resolutions(&name, file, entry, f.g.camera, errs);
        let shown: Vec<String> = sizes.iter().map(|(w, h)| format!("{w}x{h}")).collect();
        size = format!(" {}", shown.join("→"));
    }
    let rate = |s: Option<&Stream>| s.map_or(0.0, |s| s.frames as f64 / duration.max(0.001));
    if video.is_some() && rate(video) < 8.0 {
        errs.push(format!(
            "{name}: only {:.1} video frames/s (camera: 15)",
            rate(video)
        ));
    }
    if audio.is_some() && rate(audio) < 40.0 {
        errs.push(format!(
            "{name}: only {:.1} audio frames/s (Opus: 50)",
            rate(audio)
        ));
    }
    report.push(format!(
        "{name}: {}{size}, {} video frames ({:.1}/s), {} audio frames ({:.1}/s), {duration:.2} s (page sent {sent_s:.2} s)",
        [video.map(|v| v.codec.clone()), audio.map(|a| a.codec.clone())].into_iter().flatten().collect::<Vec<_>>().join("+"),
        video.map_or(0, |v| v.frames),
        rate(video),
        audio.map_or(0, |a| a.frames),
        rate(audio)
    ));
    sizes
}

/// The encoder may scale the camera down (CPU, bandwidth ramp-up), never up and never off its
/// aspect ratio; the manifest's list of sizes is the sequence of sizes of the decoded frames.
fn check_resolutions(
    name: &str,
    file: &Path,
    entry: &Value,
    camera: (u64, u64, u64),
    errs: &mut Vec<String>,
) -> Vec<(u64, u64)> {
    let manifest: Vec<(u64, u64)> = entry["resolutions"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|r| {
                    (
                        r["width"].as_u64().unwrap_or(0),
                        r["height"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let decoded = frame_sizes(file);
    if manifest != decoded {
        errs.push(format!(
            "{name}: manifest resolutions {manifest:?}, decoded frames {decoded:?}"
        ));
    }
    let (cw, ch, _) = camera;
    for &(w, h) in &decoded {
        let off = (w as f64 / h.max(1) as f64 - cw as f64 / ch as f64).abs();
        if w > cw || h > ch || off > 0.05 {
            errs.push(format!(
                "{name}: frames of {w}x{h} cannot come from a {cw}x{ch} camera"
            ));
        }
    }
    decoded
}

/// The recorder (core) logged the offer and the connection for every visit.
fn check_log(f: &Facts, visits: usize, errs: &mut Vec<String>) {
    let stream = format!("stream={}", f.g.stream);
    let count = |what: &str| {
        f.log
            .lines()
            .filter(|l| l.contains(what) && l.split_whitespace().any(|w| w == stream))
            .count()
    };
    for what in ["offer received", "connected session="] {
        if count(what) < visits {
            errs.push(format!(
                "recorder logged {} \"{what}\" for {stream}, expected {visits}",
                count(what)
            ));
        }
    }
}
