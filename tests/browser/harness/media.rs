//! Media checks for Chromium's files on top of `roomrec_test_support`: a decode check that tells
//! variable frame rate from damage, and the sequence of decoded frame sizes.

use std::path::Path;

use roomrec_test_support::ffmpeg::{decode_errors, decode_errors_with};
use roomrec_test_support::ffprobe;

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
    let pts = ffprobe::packet_times(file, "v");
    if let Some(w) = pts.windows(2).find(|w| w[1] <= w[0]) {
        return Err(format!("{literal} (video pts {} then {})", w[0], w[1]));
    }
    let own_base = decode_errors_with(file, &[], &["-enc_time_base", "-1"]);
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

/// Sizes of the decoded video frames, consecutive repeats collapsed.
pub fn frame_sizes(file: &Path) -> Vec<(u64, u64)> {
    let mut sizes = ffprobe::frame_sizes(file);
    sizes.dedup();
    sizes
}
