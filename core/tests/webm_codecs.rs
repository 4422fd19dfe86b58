//! Finished WebM files for every codec and track layout, checked with ffprobe, ffmpeg and mkvmerge.

mod common;

use common::*;
use roomrec_core::media::webm::WebmConfig;
use roomrec_core::media::TrackSpec;
use roomrec_test_support::{ffmpeg, ffprobe, mkvtoolnix};

struct Layout {
    name: &'static str,
    video: bool,
    audio: bool,
}

const LAYOUTS: [Layout; 3] = [
    Layout {
        name: "av",
        video: true,
        audio: true,
    },
    Layout {
        name: "audio",
        video: false,
        audio: true,
    },
    Layout {
        name: "video",
        video: true,
        audio: false,
    },
];

fn check_codec(ivf_name: &str, codec_name: &str) {
    let ivf = read_ivf(&fixture(ivf_name));
    let packets = read_ogg_opus(&fixture("opus-48k-stereo-20ms.ogg"));
    for layout in LAYOUTS {
        let mut specs: Vec<TrackSpec> = Vec::new();
        let mut inputs = Vec::new();
        if layout.video {
            inputs.extend(video_inputs(specs.len(), &ivf.frames, 0));
            specs.push(video_spec(&ivf));
        }
        if layout.audio {
            inputs.extend(audio_inputs(specs.len(), &packets, 0, packets.len()));
            specs.push(TrackSpec::webrtc_opus());
        }
        // Audio arrives 20 ms behind video, as it does from RTP.
        let audio_track = layout.video.then_some((1, 20_000_000));
        let inputs = interleave(inputs, audio_track);
        let muxed = mux(&specs, &inputs, WebmConfig::default());
        let path = write(
            &format!("{codec_name}-{}.webm", layout.name),
            &muxed.finished(),
        );
        let what = path.display().to_string();

        let probe = ffprobe::probe(&path);
        assert!(probe.stderr.is_empty(), "{what}: {}", probe.stderr);
        let mut expected_ms = 0f64;
        let mut expected_streams = Vec::new();
        if layout.video {
            expected_streams.push((codec_name, ivf.frames.len() as u64, 320, 240));
            let last = ivf.frames.last().unwrap().pts_ns as f64 / 1e6;
            expected_ms = expected_ms.max(last + 1000.0 / 30.0);
        }
        if layout.audio {
            expected_streams.push(("opus", packets.len() as u64, 0, 0));
            expected_ms = expected_ms.max(packets.len() as f64 * 20.0);
        }
        assert_eq!(probe.codec_frames_and_size(), expected_streams, "{what}");
        let duration = probe.duration.expect("finished file has a duration") * 1000.0;
        let frame_ms = if layout.video { 1000.0 / 30.0 } else { 20.0 };
        assert!(
            (duration - expected_ms).abs() <= frame_ms,
            "{what}: duration {duration} vs {expected_ms}"
        );

        let errors = ffmpeg::decode_errors(&path);
        assert!(errors.is_empty(), "{what}: decode errors: {errors}");

        let mkv = mkvtoolnix::identify(&path);
        assert_eq!(mkv["errors"].as_array().unwrap().len(), 0, "{what}: {mkv}");
        assert_eq!(
            mkv["warnings"].as_array().unwrap().len(),
            0,
            "{what}: {mkv}"
        );
        let mkv_ms = mkv["container"]["properties"]["duration"].as_f64().unwrap() / 1e6;
        assert!(
            (mkv_ms - expected_ms).abs() <= frame_ms,
            "{what}: mkvmerge duration {mkv_ms}"
        );
        let codec_ids: Vec<&str> = mkv["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["properties"]["codec_id"].as_str().unwrap())
            .collect();
        let mut expected_ids = Vec::new();
        if layout.video {
            expected_ids.push(match codec_name {
                "vp8" => "V_VP8",
                "vp9" => "V_VP9",
                _ => "V_AV1",
            });
        }
        if layout.audio {
            expected_ids.push("A_OPUS");
        }
        assert_eq!(codec_ids, expected_ids, "{what}");
        if layout.audio {
            let audio = mkv["tracks"].as_array().unwrap().last().unwrap();
            assert_eq!(audio["properties"]["codec_delay"], 6_500_000, "{what}");
            assert_eq!(audio["properties"]["audio_channels"], 2, "{what}");
        }

        check_seekable(&path, layout.video);
    }
}

/// Seeking to 2 s lands on the 2 s keyframe (video) or near 2 s (audio), and decodes cleanly.
fn check_seekable(path: &std::path::Path, video: bool) {
    let what = path.display().to_string();
    let errors = ffmpeg::decode_errors_with(path, &["-ss", "2"], &["-frames:v", "1"]);
    assert!(errors.is_empty(), "{what}: seek decode errors: {errors}");
    let cues = mkvtoolnix::cue_points(path);
    let expected_cues = if video { 3 } else { 1 };
    assert!(cues >= expected_cues, "{what}: {cues} cue points");
    let first = ffprobe::first_packet_after_seek(path, "0", 2.0).unwrap_or(-1.0);
    if video {
        assert!(
            (first - 2.0).abs() < 0.01,
            "{what}: seek to 2 s landed on {first}"
        );
    } else {
        assert!(
            (0.0..=2.0).contains(&first),
            "{what}: seek to 2 s landed on {first}"
        );
    }
}

#[test]
fn vp8_files_are_valid() {
    check_codec("vp8-320x240-30fps.ivf", "vp8");
}

#[test]
fn vp9_files_are_valid() {
    check_codec("vp9-320x240-30fps.ivf", "vp9");
}

#[test]
fn av1_files_are_valid() {
    check_codec("av1-320x240-30fps.ivf", "av1");
}

#[test]
fn av1_without_codec_private_still_plays() {
    // The sequence header travels in-band with every keyframe; the file stays usable.
    let ivf = read_ivf(&fixture("av1-320x240-30fps.ivf"));
    let mut spec = video_spec(&ivf);
    spec.codec_private = None;
    let muxed = mux(
        &[spec],
        &video_inputs(0, &ivf.frames, 0),
        WebmConfig::default(),
    );
    let path = write("av1-no-private.webm", &muxed.finished());
    let errors = ffmpeg::decode_errors(&path);
    assert!(errors.is_empty(), "{errors}");
    assert_eq!(
        ffprobe::probe(&path).codec_frames_and_size(),
        [("av1", ivf.frames.len() as u64, 320, 240)]
    );
    let mkv = mkvtoolnix::identify(&path);
    assert_eq!(mkv["errors"].as_array().unwrap().len(), 0, "{mkv}");
}
