//! Crash safety: a file cut at any byte (no `finish`) stays readable and decodes every frame that
//! was completely written before the cut.

mod common;

use common::*;
use roomrec_core::media::webm::WebmConfig;
use roomrec_core::media::TrackSpec;
use roomrec_test_support::{ffmpeg, ffprobe};

/// ffmpeg's only complaint about a cut file is the truncated element at its end.
fn only_truncation_errors(stderr: &str) -> bool {
    stderr.lines().all(|l| l.contains("File ended prematurely"))
}

fn check_cuts(ivf_name: &str, tag: &str) {
    let ivf = read_ivf(&fixture(ivf_name));
    let packets = read_ogg_opus(&fixture("opus-48k-stereo-20ms.ogg"));
    let mut inputs = video_inputs(0, &ivf.frames, 0);
    inputs.extend(audio_inputs(1, &packets, 0, packets.len()));
    let inputs = interleave(inputs, Some((1, 20_000_000)));
    let muxed = mux(
        &[video_spec(&ivf), TrackSpec::webrtc_opus()],
        &inputs,
        WebmConfig::default(),
    );
    let ends = &muxed.block_ends;
    let unfinished_len = ends.last().unwrap().1;

    // Cut points: inside blocks at several places (a few bytes into a block header, middle of the
    // payload, last byte), exactly at block boundaries, and the whole unfinished file. A file cut
    // before its first complete frame has nothing to play (ffmpeg refuses to open it), so cuts
    // start after the first block.
    let mut cuts = vec![ends[0].1, ends[0].1 + 2];
    for frac in [10, 50, 90] {
        let i = ends.len() * frac / 100;
        let (prev_end, end) = (ends[i - 1].1, ends[i].1);
        cuts.extend([
            prev_end,
            prev_end + 1,
            prev_end + 3,
            (prev_end + end) / 2,
            end - 1,
        ]);
    }
    cuts.push(unfinished_len);

    for cut in cuts {
        let path = write(&format!("cut-{tag}.webm"), &muxed.bytes[..cut]);
        let complete = |track: usize| {
            ends.iter()
                .filter(|&&(t, end)| t == track && end <= cut)
                .count() as u64
        };
        let probe = ffprobe::probe(&path);
        assert!(
            only_truncation_errors(&probe.stderr),
            "{tag} cut {cut}: ffprobe: {}",
            probe.stderr
        );
        let counts: Vec<(&str, u64)> = probe
            .streams
            .iter()
            .map(|s| (s.codec.as_str(), s.frames))
            .collect();
        let codec = match tag {
            "vp8" | "vp9" | "av1" => tag,
            _ => unreachable!(),
        };
        assert_eq!(
            counts,
            [(codec, complete(0)), ("opus", complete(1))],
            "{tag} cut {cut} of {unfinished_len}"
        );
        let errors = ffmpeg::decode_errors(&path);
        assert!(
            only_truncation_errors(&errors),
            "{tag} cut {cut}: ffmpeg: {errors}"
        );
        let at_boundary = ends.iter().any(|&(_, end)| end == cut);
        if at_boundary {
            assert!(
                errors.is_empty(),
                "{tag} cut {cut} at a block boundary: {errors}"
            );
        }
    }
}

#[test]
fn vp8_cut_anywhere_plays_up_to_the_cut() {
    check_cuts("vp8-320x240-30fps.ivf", "vp8");
}

#[test]
fn vp9_cut_anywhere_plays_up_to_the_cut() {
    check_cuts("vp9-320x240-30fps.ivf", "vp9");
}

#[test]
fn av1_cut_anywhere_plays_up_to_the_cut() {
    check_cuts("av1-320x240-30fps.ivf", "av1");
}
