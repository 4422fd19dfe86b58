//! ffmpeg as the independent decoder of the files under test, and as the source of encoded media
//! the fixtures do not have.

use std::path::Path;

use crate::tool::{self, arg, text};

/// What a full decode (`ffmpeg -v error -i FILE -f null -`) complains about: empty means a clean
/// decode.
pub fn decode_errors(path: &Path) -> String {
    decode_errors_with(path, &[], &[])
}

/// [`decode_errors`] for WebRTC recordings, which are variable frame rate: frames keep their own
/// timestamps (millisecond time base) instead of ffmpeg's guessed constant rate, whose rounding
/// would report jitter as "non monotonically increasing dts".
pub fn decode_errors_vfr(path: &Path) -> String {
    decode_errors_with(
        path,
        &[],
        &["-fps_mode", "passthrough", "-enc_time_base", "1/1000"],
    )
}

/// [`decode_errors`] with options before the input (`-ss 2` to seek first) and after it
/// (`-frames:v 1`, `-enc_time_base -1`). A run that fails says so in the result too, so an empty
/// result always means ffmpeg decoded without a complaint.
pub fn decode_errors_with(path: &Path, input_options: &[&str], output_options: &[&str]) -> String {
    let mut args = vec!["-nostdin", "-v", "error"];
    args.extend_from_slice(input_options);
    args.extend(["-i", arg(path)]);
    args.extend_from_slice(output_options);
    args.extend(["-f", "null", "-"]);
    let out = tool::run("ffmpeg", &args);
    let mut errors = text(&out.stderr);
    if !out.status.success() {
        errors.push_str(&format!(
            "ffmpeg failed on {}: {}\n",
            path.display(),
            out.status
        ));
    }
    errors
}

/// MD5 of every decoded frame of the streams `select` picks ("v", "a"), in order: compares the
/// decodes of two files frame by frame.
pub fn frame_md5s(path: &Path, select: &str) -> Vec<String> {
    let map = format!("0:{select}");
    let out = tool::run(
        "ffmpeg",
        &[
            "-nostdin",
            "-v",
            "quiet",
            "-i",
            arg(path),
            "-map",
            &map,
            "-f",
            "framemd5",
            "-",
        ],
    );
    text(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_string()))
        .collect()
}

/// Runs `ffmpeg -nostdin -v error -y ARGS`; a failure fails the test with ffmpeg's complaint.
pub fn run(args: &[&str]) {
    let mut all = vec!["-nostdin", "-v", "error", "-y"];
    all.extend_from_slice(args);
    let out = tool::run("ffmpeg", &all);
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        text(&out.stderr)
    );
}

/// Encodes with `options` (whitespace-separated, input through output format) into `out` and
/// returns the file's bytes.
pub fn generate(options: &str, out: &Path) -> Vec<u8> {
    let mut args: Vec<&str> = options.split_whitespace().collect();
    args.push(arg(out));
    run(&args);
    std::fs::read(out).unwrap_or_else(|e| panic!("{}: {e}", out.display()))
}

/// `seconds` of ffmpeg's testsrc2 pattern as a VP8 IVF at `width`x`height`, 30 fps, a keyframe
/// every second: real video at a size the fixtures do not have.
pub fn vp8_test_pattern(out: &Path, width: u32, height: u32, seconds: u32) {
    generate(
        &format!(
            "-f lavfi -i testsrc2=size={width}x{height}:rate=30 -t {seconds} -c:v libvpx \
             -deadline realtime -g 30 -b:v 300k -f ivf"
        ),
        out,
    );
}
