//! Timing behaviour checked with ffprobe/ffmpeg/mkvmerge: muted camera, late and repeated
//! timestamps, resolution change, size learned after the header.

mod common;

use common::*;
use roomrec_core::media::webm::{WebmConfig, WebmMuxer};
use roomrec_core::media::{Muxer, TrackSpec};
use roomrec_test_support::{ffmpeg, ffprobe, mkvtoolnix, webm};

fn assert_clean(path: &std::path::Path) {
    let errors = ffmpeg::decode_errors(path);
    assert!(errors.is_empty(), "{}: {errors}", path.display());
    let mkv = mkvtoolnix::identify(path);
    assert_eq!(mkv["errors"].as_array().unwrap().len(), 0, "{mkv}");
    assert_eq!(mkv["warnings"].as_array().unwrap().len(), 0, "{mkv}");
}

fn assert_steps(times: &[f64], step: f64, what: &str) {
    for pair in times.windows(2) {
        let d = pair[1] - pair[0];
        assert!(
            (d - step).abs() < 0.0015,
            "{what}: step {d} between {} and {}",
            pair[0],
            pair[1]
        );
    }
}

#[test]
fn muted_camera_keeps_audio_flowing() {
    let ivf = read_ivf(&fixture("vp8-320x240-30fps.ivf"));
    let packets = read_ogg_opus(&fixture("opus-48k-stereo-20ms.ogg"));
    // Video 0..2 s, camera muted 2..7 s, video back at 7 s with a keyframe; audio 0..8 s.
    let mut inputs = video_inputs(0, &ivf.frames[..60], 0);
    inputs.extend(video_inputs(0, &ivf.frames[..30], 7_000_000_000));
    inputs.extend(audio_inputs(1, &packets, 0, 400));
    let inputs = interleave(inputs, Some((1, 20_000_000)));
    let muxed = mux(
        &[video_spec(&ivf), TrackSpec::webrtc_opus()],
        &inputs,
        WebmConfig::default(),
    );

    // A crash at 5 s (mid-mute, no finish): every audio frame so far is already in the file.
    let cut_index = inputs
        .iter()
        .position(|i| i.pts_ns >= 5_000_000_000)
        .unwrap();
    let cut = muxed.block_ends[cut_index].1;
    let audio_so_far = inputs[..=cut_index].iter().filter(|i| i.track == 1).count() as u64;
    let path = write("muted-crash.webm", &muxed.bytes[..cut]);
    let probe = ffprobe::probe(&path);
    assert_eq!(
        probe.codec_frames_and_size(),
        [("vp8", 60, 320, 240), ("opus", audio_so_far, 0, 0)]
    );
    assert!(audio_so_far > 240, "audio at 5 s: {audio_so_far}");
    assert!(
        probe.duration.is_none(),
        "a crashed file claims no duration"
    );
    assert!(ffmpeg::decode_errors(&path).is_empty());

    // The finished file: all audio, in order, 20 ms apart; video jumps from 2 s to 7 s.
    let path = write("muted.webm", &muxed.finished());
    assert_clean(&path);
    let probe = ffprobe::probe(&path);
    assert_eq!(
        probe.codec_frames_and_size(),
        [("vp8", 90, 320, 240), ("opus", 400, 0, 0)]
    );
    let duration = probe.duration.unwrap();
    assert!((duration - 8.0).abs() <= 0.05, "duration {duration}");
    let audio = ffprobe::packet_times(&path, "1");
    assert_eq!(audio.len(), 400);
    assert_steps(&audio, 0.020, "audio");
    let video = ffprobe::packet_times(&path, "0");
    assert_eq!(video.len(), 90);
    assert!(
        (video[59] - 1.967).abs() < 0.002 && (video[60] - 7.0).abs() < 0.002,
        "{video:?}"
    );

    // Clusters keep coming through the mute (at most 5 s apart) and seeking works past it.
    let parsed = webm::parse(&muxed.finished()).expect("the finished file parses");
    let timecodes: Vec<u64> = parsed.clusters.iter().map(|c| c.timecode).collect();
    assert!(
        timecodes.windows(2).all(|w| w[1] - w[0] <= 5000),
        "{timecodes:?}"
    );
    assert!(
        timecodes.iter().any(|&t| t > 2000 && t < 7000),
        "{timecodes:?}"
    );
    assert!(ffmpeg::decode_errors_with(&path, &["-ss", "7.2"], &["-frames:v", "1"]).is_empty());
}

#[test]
fn late_and_repeated_timestamps_decode_in_place() {
    let ivf = read_ivf(&fixture("vp9-320x240-30fps.ivf"));
    let packets = read_ogg_opus(&fixture("opus-48k-stereo-20ms.ogg"));
    let mut inputs = video_inputs(0, &ivf.frames, 0);
    let mut audio = audio_inputs(1, &packets, 0, packets.len());
    // Every 10th audio packet repeats its predecessor's timestamp (clamped to +1 ms).
    for i in (10..audio.len()).step_by(10) {
        audio[i].pts_ns = audio[i - 1].pts_ns;
    }
    let written_audio: Vec<u64> = audio.iter().map(|a| a.pts_ns).collect();
    inputs.extend(audio);
    // Audio reaches the muxer 150 ms behind video: blocks before their cluster's timecode.
    let inputs = interleave(inputs, Some((1, 150_000_000)));
    let muxed = mux(
        &[video_spec(&ivf), TrackSpec::webrtc_opus()],
        &inputs,
        WebmConfig::default(),
    );
    let parsed = webm::parse(&muxed.finished()).expect("the finished file parses");
    let negative = parsed
        .clusters
        .iter()
        .flat_map(|c| c.blocks.iter().map(move |b| b.time_ms < c.timecode as i64));
    assert!(
        negative.filter(|&n| n).count() > 0,
        "the test must exercise negative offsets"
    );

    let path = write("late-audio.webm", &muxed.finished());
    assert_clean(&path);
    let probe = ffprobe::probe(&path);
    assert_eq!(
        probe.codec_frames_and_size()[1],
        ("opus", packets.len() as u64, 0, 0)
    );
    // ffmpeg shows Opus shifted by the codec delay; compare against the written times.
    let times = ffprobe::packet_times(&path, "1");
    let shift = times[0];
    let mut last = -1.0;
    for (t, written) in times.iter().zip(&written_audio) {
        let expected = *written as f64 / 1e9;
        assert!(
            (t - shift - expected).abs() <= 0.0015,
            "audio packet at {t}, written {expected}"
        );
        assert!(*t > last, "audio out of order");
        last = *t;
    }
}

#[test]
fn resolution_change_decodes_cleanly() {
    let small = read_ivf(&fixture("vp8-320x240-30fps.ivf"));
    let big = generate_vp8("vp8-640x480.ivf", 640, 480, 2);
    let packets = read_ogg_opus(&fixture("opus-48k-stereo-20ms.ogg"));
    let mut inputs = video_inputs(0, &small.frames[..60], 0);
    inputs.extend(video_inputs(0, &big.frames, 2_000_000_000));
    inputs.extend(audio_inputs(1, &packets, 0, 200));
    let inputs = interleave(inputs, Some((1, 20_000_000)));
    let muxed = mux(
        &[video_spec(&small), TrackSpec::webrtc_opus()],
        &inputs,
        WebmConfig::default(),
    );
    let path = write("resolution-change.webm", &muxed.finished());
    assert_clean(&path);
    let probe = ffprobe::probe(&path);
    assert_eq!(probe.streams[0].frames, 60 + big.frames.len() as u64);

    let sizes = ffprobe::frame_sizes(&path);
    assert_eq!(sizes.len(), 60 + big.frames.len());
    assert!(sizes[..60].iter().all(|&s| s == (320, 240)), "{sizes:?}");
    assert!(sizes[60..].iter().all(|&s| s == (640, 480)), "{sizes:?}");
}

#[test]
fn video_size_learned_after_the_header_is_patched_in_and_date_is_written() {
    let ivf = read_ivf(&fixture("vp8-320x240-30fps.ivf"));
    let mut spec = video_spec(&ivf);
    spec.width = 0;
    spec.height = 0;
    let mut bytes = Vec::new();
    // 2024-01-02T03:04:05Z
    let date = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_704_164_645);
    let config = WebmConfig {
        date_utc: Some(date),
        ..WebmConfig::default()
    };
    let mut muxer = WebmMuxer::with_config(&[spec], config, &mut bytes);
    for frame in &ivf.frames {
        muxer.write_frame(0, frame.pts_ns, frame.keyframe, &frame.data, &mut bytes);
    }
    muxer.set_video_size(0, 320, 240);
    let unfinished = bytes.clone();
    let patches = muxer.finish(&mut bytes);
    let muxed = Muxed {
        bytes,
        header_len: 0,
        block_ends: Vec::new(),
        patches,
    };

    // Before finish the header says 0x0: mkvmerge refuses it, ffmpeg still decodes everything.
    let path = write("size-unknown-crash.webm", &unfinished);
    assert!(ffmpeg::decode_errors(&path).is_empty());
    assert_eq!(
        ffprobe::probe(&path).codec_frames_and_size(),
        [("vp8", 90, 320, 240)]
    );

    let path = write("size-learned.webm", &muxed.finished());
    assert_clean(&path);
    let mkv = mkvtoolnix::identify(&path);
    assert_eq!(
        mkv["tracks"][0]["properties"]["pixel_dimensions"],
        "320x240"
    );
}
