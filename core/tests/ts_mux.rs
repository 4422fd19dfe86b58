//! TsMuxer output checked with ffprobe / ffmpeg and an independent packet walker.

mod ts_support;

use roomrec_core::media::codec::h264;
use roomrec_core::media::ts::TsMuxer;
use roomrec_core::media::TrackSpec;
use roomrec_test_support::ffmpeg::decode_errors;
use roomrec_test_support::ts::{self, Packet};
use roomrec_test_support::{ffmpeg, ffprobe, scratch_path};
use roomrec_testpeer::source::{read_ogg_opus, EncodedFrame};
use std::path::PathBuf;
use ts_support::*;

fn opus_frames() -> Vec<EncodedFrame> {
    read_ogg_opus(&fixture("opus-48k-stereo-20ms.ogg")).unwrap()
}

/// Muxes `events` for `tracks`, writes the file, and checks the packet layer.
fn mux_to_file(
    name: &str,
    tracks: &[TrackSpec],
    events: Vec<Event>,
) -> (PathBuf, Vec<u8>, Vec<usize>) {
    let mut out = Vec::new();
    let mut mux = TsMuxer::new(tracks, &mut out);
    assert!(!out.is_empty(), "PAT/PMT written at creation");
    let (bytes, ends) = run_muxer(&mut mux, out, events);
    let path = scratch_path!(name);
    std::fs::write(&path, &bytes).unwrap();
    let pkts = ts::packets(&bytes).expect("every packet well-formed");
    ts::check_continuity(&pkts).expect("continuity counters");
    assert_strict_reader_accepts(&bytes);
    (path, bytes, ends)
}

/// mpeg2ts's own reader is strict about PSI, PES headers and adaptation fields.
fn assert_strict_reader_accepts(bytes: &[u8]) {
    use mpeg2ts::ts::{ReadTsPacket, TsPacketReader};
    let mut reader = TsPacketReader::new(bytes);
    let mut n = 0;
    while reader
        .read_ts_packet()
        .expect("mpeg2ts reads every packet")
        .is_some()
    {
        n += 1;
    }
    assert_eq!(n, bytes.len() / 188);
}

fn assert_clean_decode(path: &std::path::Path) {
    let errors = decode_errors(path);
    assert!(
        errors.is_empty(),
        "ffmpeg decode errors for {}:\n{errors}",
        path.display()
    );
}

fn approx(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} not within {tolerance} of {expected}"
    );
}

#[test]
fn h264_alone() {
    let frames = h264_frames();
    let (path, bytes, _) = mux_to_file(
        "h264.ts",
        &[h264_spec()],
        frame_events(0, 90_000, 0, &frames),
    );
    let probe = ffprobe::probe(&path);
    let v = probe.codec("h264");
    assert_eq!((v.width, v.height), (Some(320), Some(240)));
    assert_eq!(v.frames, frames.len() as u64);
    approx(
        probe.duration.expect("format duration"),
        3.0,
        1.0 / 30.0,
        "duration",
    );
    assert_clean_decode(&path);

    // PAT + PMT right before every IDR, which carries random_access_indicator.
    let pkts = ts::packets(&bytes).unwrap();
    let idr_starts: Vec<&Packet> = pkts
        .iter()
        .filter(|p| p.pid == 0x100 && p.random_access)
        .collect();
    assert_eq!(idr_starts.len(), 3);
    for p in idr_starts {
        assert!(p.unit_start && p.pcr.is_some());
        assert_eq!((pkts[p.index - 2].pid, pkts[p.index - 1].pid), (0, 0x1000));
    }
}

#[test]
fn h264_and_opus_interleaved() {
    let (video, audio) = (h264_frames(), opus_frames());
    let mut events = frame_events(0, 90_000, 0, &video);
    events.extend(frame_events(1, 48_000, 0, &audio));
    let (path, _, _) = mux_to_file(
        "h264-opus.ts",
        &[h264_spec(), TrackSpec::webrtc_opus()],
        events,
    );
    let probe = ffprobe::probe(&path);
    let v = probe.codec("h264");
    assert_eq!((v.width, v.height), (Some(320), Some(240)));
    assert_eq!(v.frames, video.len() as u64);
    let a = probe.codec("opus");
    assert_eq!(a.frames, audio.len() as u64);
    assert_eq!(a.channels, Some(2));
    let audio_end = (audio.len() * 960) as f64 / 48000.0;
    approx(
        probe.duration.expect("format duration"),
        audio_end,
        0.021,
        "duration",
    );
    assert_clean_decode(&path);
}

#[test]
fn opus_alone() {
    let audio = opus_frames();
    let (path, bytes, _) = mux_to_file(
        "opus.ts",
        &[TrackSpec::webrtc_opus()],
        frame_events(0, 48_000, 0, &audio),
    );
    let probe = ffprobe::probe(&path);
    let a = probe.codec("opus");
    assert_eq!(a.frames, audio.len() as u64);
    approx(
        probe.duration.expect("format duration"),
        (audio.len() * 960) as f64 / 48000.0,
        0.021,
        "duration",
    );
    assert_clean_decode(&path);
    // Audio-only: PCR travels on the audio PID.
    assert!(ts::packets(&bytes)
        .unwrap()
        .iter()
        .filter(|p| p.pcr.is_some())
        .all(|p| p.pid == 0x101));
}

#[test]
fn opus_mono() {
    let ogg = ffmpeg::generate(
        "-f lavfi -i sine=frequency=300:sample_rate=48000 -t 1 -ac 1 -c:a libopus -frame_duration 20 -f ogg",
        &scratch_path!("mono.ogg"),
    );
    let audio = read_ogg_opus(&ogg).unwrap();
    let spec = TrackSpec {
        channels: 1,
        ..TrackSpec::webrtc_opus()
    };
    let (path, _, _) = mux_to_file("mono.ts", &[spec], frame_events(0, 48_000, 0, &audio));
    let probe = ffprobe::probe(&path);
    let a = probe.codec("opus");
    assert_eq!(a.channels, Some(1));
    assert_eq!(a.frames, audio.len() as u64);
    assert_clean_decode(&path);
}

/// Rebuilds an access unit without the NAL unit types in `drop`.
fn strip_nals(au: &[u8], drop: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for nal in h264::nal_units(au).filter(|n| !drop.contains(&h264::nal_type(n))) {
        out.extend_from_slice(&[0, 0, 1]);
        out.extend_from_slice(nal);
    }
    out
}

/// Access units without AUD and with SPS/PPS only on the first IDR (and 3-byte start codes): the
/// muxer adds an AUD to every PES and repeats the parameter sets before every IDR, so a reader
/// joining at any later IDR (seek, or a file whose head is lost) decodes cleanly.
#[test]
fn aud_added_and_parameter_sets_repeated() {
    let mut frames = h264_frames();
    for (i, f) in frames.iter_mut().enumerate() {
        let drop: &[u8] = if i == 0 {
            &[h264::NAL_AUD]
        } else {
            &[h264::NAL_AUD, h264::NAL_SPS, h264::NAL_PPS]
        };
        f.data = strip_nals(&f.data, drop);
    }
    assert!(!frames[30].data.windows(4).any(|w| w == [0, 0, 1, 0x67]));
    let (path, bytes, _) = mux_to_file(
        "stripped.ts",
        &[h264_spec()],
        frame_events(0, 90_000, 0, &frames),
    );
    assert_clean_decode(&path);

    let pkts = ts::packets(&bytes).unwrap();
    let starts: Vec<&Packet> = pkts
        .iter()
        .filter(|p| p.pid == 0x100 && p.unit_start)
        .collect();
    assert_eq!(starts.len(), frames.len());
    for (i, p) in starts.iter().enumerate() {
        let es = &p.payload[9 + p.payload[8] as usize..];
        assert!(
            es.starts_with(&[0, 0, 0, 1, 0x09]),
            "PES {i} starts with an AUD"
        );
        let types: Vec<u8> = h264::nal_units(es).map(h264::nal_type).take(3).collect();
        if i % 30 == 0 {
            assert_eq!(
                types,
                [h264::NAL_AUD, h264::NAL_SPS, h264::NAL_PPS],
                "PES {i}"
            );
        } else {
            assert_ne!(types[1], h264::NAL_SPS, "PES {i}");
        }
    }

    // The file from the PAT before the second IDR on.
    let second_idr = pkts
        .iter()
        .filter(|p| p.random_access)
        .nth(1)
        .unwrap()
        .index;
    let tail = scratch_path!("stripped-tail.ts");
    std::fs::write(&tail, &bytes[(second_idr - 2) * 188..]).unwrap();
    assert_clean_decode(&tail);
    assert_eq!(ffprobe::probe(&tail).codec("h264").frames, 60);
}

/// Timestamps: PTS = 1 s + file time on the 90 kHz clock, PCR never ahead of the PTS it precedes.
#[test]
fn pts_offset_and_pcr_lead() {
    let (video, audio) = (h264_frames(), opus_frames());
    let mut events = frame_events(0, 90_000, 0, &video);
    events.extend(frame_events(1, 48_000, 0, &audio));
    let (_, bytes, _) = mux_to_file(
        "timing.ts",
        &[h264_spec(), TrackSpec::webrtc_opus()],
        events,
    );
    let pkts = ts::packets(&bytes).unwrap();
    let video_pts: Vec<u64> = pkts
        .iter()
        .filter(|p| p.pid == 0x100)
        .filter_map(ts::pes_pts)
        .collect();
    let expected: Vec<u64> = video.iter().map(|f| 90_000 + f.time).collect();
    assert_eq!(video_pts, expected);
    let audio_pts: Vec<u64> = pkts
        .iter()
        .filter(|p| p.pid == 0x101)
        .filter_map(ts::pes_pts)
        .collect();
    let expected: Vec<u64> = audio
        .iter()
        .map(|f| 90_000 + f.time * 90_000 / 48_000)
        .collect();
    assert_eq!(audio_pts, expected);
    let mut pcr = None;
    for p in &pkts {
        pcr = p.pcr.or(pcr);
        if let Some(pts) = ts::pes_pts(p) {
            let pcr = pcr.expect("a PCR precedes the first PES") / 300;
            assert!(pcr <= pts && pts - pcr <= 90_000, "PTS {pts} vs PCR {pcr}");
        }
    }
}
