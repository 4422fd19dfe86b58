//! Media checks with ffmpeg/ffprobe beyond `roomrec_tests::probe`: a decode check that tells
//! variable frame rate from damage, packet times, decoded frame sizes.

use std::path::Path;

use roomrec_tests::probe::decode_errors;

/// `ffmpeg -v error -i F -f null -` must print nothing, with one exception that is not the
/// file's fault: Chromium's frames come at uneven intervals (capture time stamps, e.g. 100/50/50 ms
/// for 15 fps from a 20 fps source, plus jitter), and ffmpeg's null output rounds them to slots of
/// 1/nominal frame rate, where two frames can land in one slot; it then reports non-monotonic DTS
/// for output stream 0 (video). That is tolerated (as a note) only when the file's video
/// timestamps strictly increase and a decode in the file's own time base (`-enc_time_base -1`)
/// prints nothing.
pub fn decode_check(file: &Path, has_video: bool) -> Result<Option<String>, String> {
    let literal = decode_errors(file);
    if literal.is_empty() {
        return Ok(None);
    }
    let collision = |l: &str| l.contains("non monotonically increasing dts to muxer in stream 0:");
    if !has_video || !literal.lines().all(collision) {
        return Err(literal);
    }
    let pts = packet_times(file, "v");
    if let Some(w) = pts.windows(2).find(|w| w[1] <= w[0]) {
        return Err(format!("{literal} (video pts {} then {})", w[0], w[1]));
    }
    let own_base = ffmpeg_stderr(&["-enc_time_base", "-1"], file);
    if !own_base.is_empty() {
        return Err(format!(
            "{literal}\nand in the file's time base: {own_base}"
        ));
    }
    let closest = pts
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    Ok(Some(format!(
        "ffmpeg's null output (time base 1/nominal frame rate) rounds two video frames into one \
         slot (variable frame rate from capture, gaps down to {:.0} ms); clean in the file's time base",
        closest * 1000.0
    )))
}

/// `ffmpeg -v error -i FILE <extra> -f null -` stderr.
pub fn ffmpeg_stderr(extra: &[&str], file: &Path) -> String {
    std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(extra)
        .args(["-f", "null", "-"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_else(|e| e.to_string())
}

/// Packet presentation times (s) of the first stream of `kind` (v, a), in file order.
pub fn packet_times(file: &Path, kind: &str) -> Vec<f64> {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            kind,
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect()
}

/// Sizes of the decoded video frames, consecutive repeats collapsed.
pub fn frame_sizes(file: &Path) -> Vec<(u64, u64)> {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "frame=width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(file)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut sizes: Vec<(u64, u64)> = Vec::new();
    for line in out.lines() {
        let mut parts = line
            .split(',')
            .map(|p| p.trim().parse::<u64>().unwrap_or(0));
        let size = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        if sizes.last() != Some(&size) {
            sizes.push(size);
        }
    }
    sizes
}
