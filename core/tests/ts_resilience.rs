//! TsMuxer under recorder conditions: resolution switches, muted camera, crashes mid-file.

mod ts_support;

use roomrec_core::media::ts::TsMuxer;
use roomrec_core::media::TrackSpec;
use roomrec_test_support::ffmpeg::{self, decode_errors};
use roomrec_test_support::{ffprobe, scratch_path, ts};
use roomrec_testpeer::source::{read_h264_annexb, read_ogg_opus, EncodedFrame};
use std::path::PathBuf;
use ts_support::*;

const SEC: u64 = 1_000_000_000;

/// `seconds` of Opus: the fixture's packets looped, times continued.
fn opus_frames(seconds: u64) -> Vec<EncodedFrame> {
    let packets = read_ogg_opus(&fixture("opus-48k-stereo-20ms.ogg")).unwrap();
    (0..seconds * 50)
        .map(|i| EncodedFrame {
            time: i * 960,
            ..packets[i as usize % packets.len()].clone()
        })
        .collect()
}

fn mux(tracks: &[TrackSpec], events: Vec<Event>) -> (Vec<u8>, Vec<usize>) {
    let mut out = Vec::new();
    let mut mux = TsMuxer::new(tracks, &mut out);
    let (bytes, ends) = run_muxer(&mut mux, out, events);
    let packets = ts::packets(&bytes).expect("every packet well-formed");
    ts::check_continuity(&packets).expect("continuity counters");
    (bytes, ends)
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch_path!(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn resolution_change_mid_file() {
    let small = h264_frames();
    let big_bytes = ffmpeg::generate(
        "-f lavfi -i testsrc2=size=640x480:rate=30 -t 1 -c:v libx264 -profile:v baseline -tune zerolatency \
         -g 30 -bf 0 -x264-params aud=1:repeat-headers=1 -pix_fmt yuv420p -f h264",
        &scratch_path!("640x480.h264"),
    );
    let big = read_h264_annexb(&big_bytes, 30);
    assert!(big[0].keyframe);
    let mut events = frame_events(0, 90_000, 0, &small);
    events.extend(frame_events(0, 90_000, 3 * SEC, &big));
    let (bytes, _) = mux(&[h264_spec()], events);
    let path = write("res-change.ts", &bytes);
    let errors = decode_errors(&path);
    assert!(errors.is_empty(), "{errors}");
    let widths: Vec<u64> = ffprobe::frame_sizes(&path)
        .into_iter()
        .map(|(width, _)| width)
        .collect();
    assert_eq!(widths.len(), small.len() + big.len());
    assert!(widths[..small.len()].iter().all(|&w| w == 320));
    assert!(widths[small.len()..].iter().all(|&w| w == 640));
}

/// Largest gap between consecutive PCRs, in seconds of PCR time (also checks they never go back).
fn max_pcr_gap(bytes: &[u8]) -> f64 {
    let pcrs: Vec<u64> = ts::packets(bytes)
        .unwrap()
        .iter()
        .filter_map(|p| p.pcr)
        .collect();
    assert!(pcrs.len() > 2);
    pcrs.windows(2)
        .map(|w| {
            assert!(w[1] >= w[0], "PCR went backwards");
            (w[1] - w[0]) as f64 / 27e6
        })
        .fold(0.0, f64::max)
}

/// Camera muted for 5 s while audio continues: PCR keeps flowing, audio stays complete.
#[test]
fn muted_camera_keeps_pcr_flowing() {
    let video = h264_frames();
    let audio = opus_frames(7);
    let mut events = frame_events(0, 90_000, 0, &video[..30]);
    events.extend(frame_events(0, 90_000, 5 * SEC, &video[30..60])); // frame 30 is an IDR
    events.extend(frame_events(1, 48_000, 0, &audio));
    events.extend((0..14).map(|i| Event::Tick {
        now_ns: i * SEC / 2,
    }));
    let (bytes, _) = mux(&[h264_spec(), TrackSpec::webrtc_opus()], events);
    let path = write("muted-camera.ts", &bytes);
    let errors = decode_errors(&path);
    assert!(errors.is_empty(), "{errors}");
    assert!(
        max_pcr_gap(&bytes) <= 0.1,
        "PCR gap {}",
        max_pcr_gap(&bytes)
    );
    let probe = ffprobe::probe(&path);
    let a = probe.codec("opus");
    assert_eq!(a.frames, audio.len() as u64);
    // ffprobe's stream duration runs from the first to the last packet start.
    let written = (audio.len() - 1) as f64 * 0.02;
    let duration = a.duration.expect("audio stream duration");
    assert!(
        (duration - written).abs() <= 0.021,
        "audio duration {duration}"
    );
    assert_eq!(probe.codec("h264").frames, 60);
}

/// Nothing at all flows (video-only file, camera muted): ticks alone carry the PCR.
#[test]
fn ticks_carry_pcr_without_frames() {
    let video = h264_frames();
    let mut events = frame_events(0, 90_000, 0, &video[..30]);
    events.extend(frame_events(0, 90_000, 6 * SEC, &video[30..60]));
    events.extend((0..14).map(|i| Event::Tick {
        now_ns: i * SEC / 2,
    }));
    let (bytes, _) = mux(&[h264_spec()], events.clone());
    // Ticks every 0.5 s emit a PCR once the last one is older than the PCR interval.
    assert!(
        max_pcr_gap(&bytes) <= 0.5 + 0.08 + 1e-6,
        "PCR gap {}",
        max_pcr_gap(&bytes)
    );
    let path = write("video-gap.ts", &bytes);
    let errors = decode_errors(&path);
    assert!(errors.is_empty(), "{errors}");
    // Without ticks the gap is the full 5 s: the ticks are what keeps the clock alive.
    let no_ticks: Vec<Event> = events
        .into_iter()
        .filter(|e| matches!(e, Event::Frame { .. }))
        .collect();
    let (bytes, _) = mux(&[h264_spec()], no_ticks);
    assert!(max_pcr_gap(&bytes) > 4.9);
}

/// Frames of `track` whose bytes were completely written before `cut`.
fn complete_before(ends: &[usize], tracks: &[usize], track: usize, cut: usize) -> usize {
    ends.iter()
        .zip(tracks)
        .filter(|(&end, &t)| t == track && end <= cut)
        .count()
}

/// A crash leaves a file cut anywhere. Every frame written completely before the cut must decode
/// exactly as in the complete file; only the frame being written at the cut may come out damaged.
/// Cuts at frame boundaries decode with no error at all.
#[test]
fn truncated_file_decodes_up_to_the_cut() {
    let video = h264_frames();
    let audio = opus_frames(3);
    let mut events = frame_events(0, 90_000, 0, &video);
    events.extend(frame_events(1, 48_000, 0, &audio));
    events.sort_by_key(Event::time);
    let tracks: Vec<usize> = events
        .iter()
        .map(|e| match e {
            Event::Frame { track, .. } => *track,
            Event::Tick { .. } => unreachable!(),
        })
        .collect();
    let (bytes, ends) = mux(&[h264_spec(), TrackSpec::webrtc_opus()], events);
    let full = write("uncut.ts", &bytes);
    let (full_v, full_a) = (
        ffmpeg::frame_md5s(&full, "v"),
        ffmpeg::frame_md5s(&full, "a"),
    );
    assert_eq!((full_v.len(), full_a.len()), (video.len(), audio.len()));

    let mut rng = fastrand::Rng::with_seed(7);
    let mut cuts: Vec<(usize, &str)> = (0..3)
        .map(|_| (ends[rng.usize(10..ends.len())], "frame end"))
        .collect();
    cuts.extend((0..3).map(|_| (rng.usize(1000..bytes.len()) / 188 * 188, "packet end")));
    cuts.extend((0..3).map(|_| (rng.usize(1000..bytes.len()), "any byte")));
    for (i, (cut, kind)) in cuts.into_iter().enumerate() {
        let path = write(&format!("cut{i}.ts"), &bytes[..cut]);
        let errors = decode_errors(&path);
        for (stream, track, full) in [("v", 0, &full_v), ("a", 1, &full_a)] {
            let complete = complete_before(&ends, &tracks, track, cut);
            let got = ffmpeg::frame_md5s(&path, stream);
            assert!(
                got.len() >= complete && got.len() <= complete + 1,
                "{kind} cut at {cut}: {} {stream} frames decoded, {complete} complete",
                got.len()
            );
            assert_eq!(
                got[..complete],
                full[..complete],
                "{kind} cut at {cut}: {stream} frames differ"
            );
        }
        if kind == "frame end" {
            assert!(errors.is_empty(), "{kind} cut at {cut}: {errors}");
        } else {
            // Complaints about the one damaged frame only.
            assert!(errors.lines().count() <= 4, "{kind} cut at {cut}: {errors}");
        }
    }
}
