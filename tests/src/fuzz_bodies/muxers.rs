//! `muxer_ts` and `muxer_webm`: arbitrary frame sequences into each muxer; the output must parse
//! with the independent checkers and carry exactly the frames that went in.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use roomrec_core::media::codec::{h264, video_resolution};
use roomrec_core::media::ts::TsMuxer;
use roomrec_core::media::webm::{WebmConfig, WebmMuxer};
use roomrec_core::media::{Codec, Muxer, Patch, TrackSpec};

use roomrec_test_support::{ts, webm};

use super::Bytes;

/// One frame as decoded from the fuzz input.
struct Op<'a> {
    track: usize,
    pts_ns: u64,
    keyframe: bool,
    /// Call `tick(pts)` before the frame.
    tick: bool,
    /// Bit 3 of the op byte, muxer-specific (TS: prepend a start code; WebM: a temporal delimiter).
    extra: bool,
    data: &'a [u8],
}

/// Frames after the header bytes: op byte (bits 0-1 track, 2 keyframe, 3 extra, 4 tick, 5-7 time
/// step unit), `u16` signed time step, `u16` length & 0xFFF, data. Time never goes below 0.
fn ops<'a>(b: &mut Bytes<'a>) -> Vec<Op<'a>> {
    let mut ops = Vec::new();
    let mut pts: u64 = 0;
    while !b.is_empty() {
        let op = b.u8();
        let step = i64::from(b.u16() as i16);
        pts = match op >> 5 {
            0 => pts.saturating_add_signed(step * 1_000_000),
            1 => pts.saturating_add_signed(step * 10_000),
            2 => pts.saturating_add_signed(step * 100_000_000),
            3 => pts.saturating_add_signed(step * 3_600_000_000_000),
            4 => (step.unsigned_abs()) << 40,
            _ => pts.saturating_add_signed(step.clamp(0, 100) * 1_000_000),
        };
        let len = usize::from(b.u16() & 0xFFF);
        ops.push(Op {
            track: usize::from(op & 3),
            pts_ns: pts,
            keyframe: op & 4 != 0,
            extra: op & 8 != 0,
            tick: op & 16 != 0,
            data: b.take(len),
        });
    }
    ops
}

/// A track of `codec` without a video size, 48 kHz with `channels` if it is audio.
pub(super) fn spec(codec: Codec, channels: u8) -> TrackSpec {
    TrackSpec {
        codec,
        width: 0,
        height: 0,
        channels,
        sample_rate: 48_000,
        codec_private: None,
    }
}

/// Layout: byte 0 picks the tracks (bit 0 H.264, bit 1 Opus, bit 2 a VP8 track the muxer must
/// ignore, bit 3 Opus before H.264, bits 4-7 Opus channels), then frames (see [`ops`]; the extra
/// bit prepends an Annex-B start code).
pub fn muxer_ts(data: &[u8]) {
    let mut b = Bytes::new(data);
    let flags = b.u8();
    let mut specs = Vec::new();
    if flags & 4 != 0 {
        specs.push(spec(Codec::Vp8, 0));
    }
    let (h264_spec, opus_spec) = (spec(Codec::H264, 0), spec(Codec::Opus, flags >> 4));
    match (flags & 1 != 0, flags & 2 != 0, flags & 8 != 0) {
        (true, true, false) => specs.extend([h264_spec, opus_spec]),
        (true, true, true) => specs.extend([opus_spec, h264_spec]),
        (true, false, _) => specs.push(h264_spec),
        (false, true, _) => specs.push(opus_spec),
        (false, false, _) => {}
    }
    let video = specs.iter().position(|s| s.codec == Codec::H264);
    let audio = specs.iter().position(|s| s.codec == Codec::Opus);
    let ops = ops(&mut b);

    let mut out = Vec::new();
    let mut mux = TsMuxer::new(&specs, &mut out);
    let (mut video_frames, mut audio_frames) = (Vec::new(), Vec::new());
    for op in &ops {
        let mut frame = Vec::with_capacity(op.data.len() + 4);
        if op.extra {
            frame.extend_from_slice(&[0, 0, 0, 1]);
        }
        frame.extend_from_slice(op.data);
        if op.tick {
            mux.tick(op.pts_ns, &mut out);
        }
        mux.write_frame(op.track, op.pts_ns, op.keyframe, &frame, &mut out);
        assert_eq!(out.len() % 188, 0, "a write left a partial packet");
        if frame.is_empty() {
            continue;
        }
        if Some(op.track) == video && h264::nal_units(&frame).next().is_some() {
            video_frames.push(frame);
        } else if Some(op.track) == audio {
            audio_frames.push(frame);
        }
    }
    let patches = mux.finish(&mut out);
    assert!(patches.is_empty(), "TS needs no patches");

    let ts = ts::check(&out).unwrap_or_else(|e| panic!("TS output does not parse: {e}"));
    let mut expected = BTreeMap::new();
    if video.is_some() {
        expected.insert(0x100, 0x1B);
    }
    if audio.is_some() {
        expected.insert(0x101, 0x06);
    }
    assert_eq!(ts.streams, expected, "PMT streams");
    let pcr_pid = if video.is_some() {
        Some(0x100)
    } else {
        audio.map(|_| 0x101)
    };
    assert_eq!(ts.pcr_pid, pcr_pid, "PCR PID");
    let empty = Vec::new();
    let video_pes = ts.pes.get(&0x100).unwrap_or(&empty);
    assert_eq!(
        video_pes.len(),
        video_frames.len(),
        "one PES per H.264 frame with NAL units"
    );
    for ((stream_id, pts, es), frame) in video_pes.iter().zip(&video_frames) {
        assert_eq!(*stream_id, 0xE0, "video stream id");
        assert!(pts.is_some(), "video PES without PTS");
        assert!(
            es.starts_with(&[0, 0, 0, 1]),
            "video access unit must start with a start code"
        );
        let out_nals: Vec<&[u8]> = h264::nal_units(es).collect();
        let mut in_nals: Vec<&[u8]> = h264::nal_units(frame).collect();
        assert_eq!(
            h264::nal_type(out_nals[0]),
            h264::NAL_AUD,
            "access unit must start with an AUD"
        );
        if h264::nal_type(in_nals[0]) == h264::NAL_AUD {
            assert_eq!(
                out_nals[0],
                in_nals.remove(0),
                "the frame's own AUD is kept"
            );
        }
        assert!(
            out_nals[1..].ends_with(&in_nals),
            "the frame's NAL units are carried unchanged"
        );
    }
    let audio_pes = ts.pes.get(&0x101).unwrap_or(&empty);
    assert_eq!(
        audio_pes.len(),
        audio_frames.len(),
        "one PES per Opus packet"
    );
    for ((stream_id, pts, es), frame) in audio_pes.iter().zip(&audio_frames) {
        assert_eq!(*stream_id, 0xBD, "Opus stream id");
        assert!(pts.is_some(), "audio PES without PTS");
        assert_eq!(
            opus_payload(es),
            Some(&frame[..]),
            "Opus packet changed in the PES"
        );
    }
}

/// The Opus packet inside an Opus-in-TS access unit: 0x7FE0 control header, size as a 0xFF run
/// plus remainder, then the packet.
fn opus_payload(es: &[u8]) -> Option<&[u8]> {
    let rest = es.strip_prefix(&[0x7F, 0xE0])?;
    let run = rest.iter().take_while(|&&b| b == 0xFF).count();
    let size = run * 255 + usize::from(*rest.get(run)?);
    let packet = &rest[run + 1..];
    (packet.len() == size).then_some(packet)
}

/// Layout: byte 0 picks the tracks (bits 0-1 video none/VP8/VP9/AV1, bit 2 Opus, bit 3 Opus
/// first, bit 4 video size known up front, bit 5 patch sizes on finish, bit 6 DateUTC, bit 7 an
/// 8-byte CodecPrivate follows), byte 1 × 100 ms is the cluster limit, then frames (see [`ops`];
/// the extra bit prepends an AV1 temporal delimiter). Video keyframes report their resolution
/// like the recorder does.
pub fn muxer_webm(data: &[u8]) {
    let mut b = Bytes::new(data);
    let flags = b.u8();
    let max_cluster_ms = u64::from(b.u8()) * 100;
    let codec_private = (flags & 0x80 != 0).then(|| b.take(8).to_vec());
    let mut specs = Vec::new();
    let video_codec =
        [None, Some(Codec::Vp8), Some(Codec::Vp9), Some(Codec::Av1)][usize::from(flags & 3)];
    if let Some(codec) = video_codec {
        let (width, height) = if flags & 0x10 != 0 {
            (320, 240)
        } else {
            (0, 0)
        };
        specs.push(TrackSpec {
            codec,
            width,
            height,
            channels: 0,
            sample_rate: 0,
            codec_private,
        });
    }
    if flags & 4 != 0 {
        let opus = spec(Codec::Opus, 2);
        if flags & 8 != 0 {
            specs.insert(0, opus);
        } else {
            specs.push(opus);
        }
    }
    let config = WebmConfig {
        date_utc: (flags & 0x40 != 0)
            .then(|| SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
        max_cluster_ms,
        patch_sizes: flags & 0x20 != 0,
    };
    if specs.is_empty() {
        return; // Matroska requires a TrackEntry; callers never make a file without tracks.
    }
    let ops = ops(&mut b);

    let mut out = Vec::new();
    let mut mux = WebmMuxer::with_config(&specs, config, &mut out);
    let header_len = out.len();
    // Per track, the payloads that must come out as blocks, in order.
    let mut expected: BTreeMap<u64, Vec<(Vec<u8>, bool)>> = BTreeMap::new();
    for op in &ops {
        let mut frame = Vec::with_capacity(op.data.len() + 2);
        if op.extra {
            frame.extend_from_slice(&[0x12, 0x00]);
        }
        frame.extend_from_slice(op.data);
        if op.tick {
            mux.tick(op.pts_ns, &mut out);
        }
        let spec = specs.get(op.track);
        if let Some(spec) = spec.filter(|s| op.keyframe && s.codec != Codec::Opus) {
            if let Some((w, h)) = video_resolution(spec.codec, &frame) {
                mux.set_video_size(op.track, w, h);
            }
        }
        let before = out.len();
        mux.write_frame(op.track, op.pts_ns, op.keyframe, &frame, &mut out);
        let Some(spec) = spec else {
            assert_eq!(out.len(), before, "frame for a missing track was written");
            continue;
        };
        let payload = match (spec.codec, &frame[..]) {
            (Codec::Av1, [0x12, 0x00, rest @ ..]) => rest,
            (_, all) => all,
        };
        if payload.is_empty() {
            assert_eq!(out.len(), before, "empty frame was written");
            continue;
        }
        let key = op.keyframe || spec.codec == Codec::Opus;
        expected
            .entry(op.track as u64 + 1)
            .or_default()
            .push((payload.to_vec(), key));
    }
    // As the file is before finish (what a crash leaves).
    let cut = webm::parse(&out).unwrap_or_else(|e| panic!("unfinished WebM does not parse: {e}"));
    check_blocks(&cut, &out, &expected);

    let patches = mux.finish(&mut out);
    apply(&mut out, &patches, header_len);
    let done = webm::parse(&out).unwrap_or_else(|e| panic!("finished WebM does not parse: {e}"));
    check_blocks(&done, &out, &expected);
    assert_eq!(
        done.segment_known_size,
        flags & 0x20 != 0,
        "Segment size patched iff asked"
    );
    let ids: Vec<u32> = done.seeks.iter().map(|s| s.0).collect();
    assert!(
        ids.contains(&0x1549_A966) && ids.contains(&0x1654_AE6B),
        "SeekHead lists Info and Tracks: {ids:x?}"
    );
    if let (Some(duration), Some(last)) = (done.duration_ms, done.blocks().map(|b| b.time_ms).max())
    {
        assert!(
            duration >= last as f64,
            "Duration {duration} before the last block at {last}"
        );
    }
    for (number, track) in &done.tracks {
        let spec = &specs[*number as usize - 1];
        if let (Some((w, h)), true) = (track.size, spec.width > 0) {
            assert_eq!(
                (w, h),
                (u64::from(spec.width), u64::from(spec.height)),
                "known size kept"
            );
        }
    }
}

fn apply(out: &mut [u8], patches: &[Patch], header_len: usize) {
    for p in patches {
        let at = usize::try_from(p.offset).expect("offset fits");
        assert!(
            at + p.bytes.len() <= out.len(),
            "patch at {at} past the end of {}",
            out.len()
        );
        assert!(
            at < header_len || p.bytes.len() <= 12,
            "patch at {at} rewrites frame data"
        );
        out[at..at + p.bytes.len()].copy_from_slice(&p.bytes);
    }
}

/// Blocks appear in the order written with the same bytes, strictly increasing time per track,
/// never before 0, and video keyframe flags as given.
fn check_blocks(
    p: &webm::WebmSummary,
    file: &[u8],
    expected: &BTreeMap<u64, Vec<(Vec<u8>, bool)>>,
) {
    let mut got: BTreeMap<u64, Vec<(&[u8], bool)>> = BTreeMap::new();
    let mut last: BTreeMap<u64, i64> = BTreeMap::new();
    for block in p.blocks() {
        assert!(block.time_ms >= 0, "block at {} ms", block.time_ms);
        if let Some(prev) = last.insert(block.track, block.time_ms) {
            assert!(
                block.time_ms > prev,
                "track {} time {} after {prev}",
                block.track,
                block.time_ms
            );
        }
        got.entry(block.track)
            .or_default()
            .push((&file[block.payload.clone()], block.keyframe));
    }
    let want: BTreeMap<u64, Vec<(&[u8], bool)>> = expected
        .iter()
        .map(|(t, v)| (*t, v.iter().map(|(d, k)| (&d[..], *k)).collect()))
        .collect();
    assert!(got == want, "blocks differ from the frames written");
}
