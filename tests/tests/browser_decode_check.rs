//! The browser test's decode check on ffmpeg-made files (no browser needed).

#[path = "../browser/harness/mod.rs"]
mod harness;

use harness::media::decode_check;
use roomrec_test_support::ffmpeg;

/// The decode check tolerates capture jitter (frames closer than the nominal frame interval,
/// timestamps still increasing) and nothing else.
#[test]
fn decode_check_tells_capture_jitter_from_damage() {
    let dir = tempfile::tempdir().expect("temp dir");
    let encode = |name: &str, filter: &str| {
        let path = dir.path().join(name);
        ffmpeg::run(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=s=160x120:r=20",
            "-t",
            "2",
            "-vf",
            filter,
            "-fps_mode",
            "passthrough",
            "-c:v",
            "libx264",
            "-bf",
            "0",
            "-g",
            "10",
            "-f",
            "mpegts",
            path.to_str().expect("UTF-8 temp path"),
        ]);
        path
    };
    let clean = encode("clean.ts", "settb=1/90000,setpts=N*4500");
    // Frame 10 captured 26 ms late: 24 ms before frame 11 at a nominal 50 ms.
    let jitter = encode(
        "jitter.ts",
        "settb=1/90000,setpts=N*4500+if(eq(N\\,10)\\,2340\\,0)",
    );
    assert_eq!(decode_check(&clean, true), Ok(None));
    assert!(matches!(decode_check(&jitter, true), Ok(Some(_))));
    // The same complaint without video to blame it on is an error.
    assert!(decode_check(&jitter, false).is_err());
    // Damaged bytes in the middle of the file.
    let mut bytes = std::fs::read(&clean).expect("clean file");
    let mid = bytes.len() / 2;
    for (i, b) in bytes[mid..mid + 3000].iter_mut().enumerate() {
        if (mid + i) % 188 > 4 {
            *b = (i * 37) as u8;
        }
    }
    let damaged = dir.path().join("damaged.ts");
    std::fs::write(&damaged, bytes).expect("write");
    assert!(decode_check(&damaged, true).is_err());
}
