//! Test-only helpers for the WebM tests: tiny IVF / Ogg Opus readers (to get real encoded frames)
//! and a driver that runs a muxer and remembers where each block ends. The files are checked with
//! `roomrec_test_support` (ffprobe, ffmpeg, mkvtoolnix, its strict WebM reader).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use roomrec_core::media::webm::{WebmConfig, WebmMuxer};
use roomrec_core::media::{Codec, Muxer, Patch, TrackSpec};
use roomrec_test_support::{ffmpeg, scratch_path};

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

#[derive(Clone, Debug)]
pub struct VideoFrame {
    pub pts_ns: u64,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

pub struct Ivf {
    pub codec: Codec,
    pub width: u16,
    pub height: u16,
    pub frames: Vec<VideoFrame>,
}

/// IVF: 32-byte header (fourcc at 8, size at 12, timebase den/num at 16/20), then per frame a
/// 4-byte LE size, an 8-byte LE pts and the frame.
pub fn read_ivf(path: &Path) -> Ivf {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"DKIF");
    let codec = match &bytes[8..12] {
        b"VP80" => Codec::Vp8,
        b"VP90" => Codec::Vp9,
        b"AV01" => Codec::Av1,
        other => panic!("unknown IVF fourcc {other:?}"),
    };
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
    let (den, num) = (u64::from(u32_at(16)), u64::from(u32_at(20)));
    let header_len = usize::from(u16_at(6));
    let mut frames = Vec::new();
    let mut i = header_len;
    while i + 12 <= bytes.len() {
        let size = u32_at(i) as usize;
        let pts = u64::from_le_bytes(bytes[i + 4..i + 12].try_into().unwrap());
        let mut data = bytes[i + 12..i + 12 + size].to_vec();
        if codec == Codec::Av1 {
            data = strip_temporal_delimiters(&data);
        }
        let keyframe = is_keyframe(codec, &data);
        frames.push(VideoFrame {
            pts_ns: pts * num * 1_000_000_000 / den,
            keyframe,
            data,
        });
        i += 12 + size;
    }
    Ivf {
        codec,
        width: u16_at(12),
        height: u16_at(14),
        frames,
    }
}

fn is_keyframe(codec: Codec, data: &[u8]) -> bool {
    match codec {
        Codec::Vp8 => data[0] & 1 == 0,
        // frame_marker(2) profile_low(1) profile_high(1) [reserved(1) if profile 3]
        // show_existing_frame(1) frame_type(1): 0 = key frame.
        Codec::Vp9 => {
            let b = data[0];
            let profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1);
            let shift = if profile == 3 { 2 } else { 3 };
            let show_existing = (b >> shift) & 1;
            show_existing == 0 && (b >> (shift - 1)) & 1 == 0
        }
        // libaom sends a sequence header with every key frame.
        Codec::Av1 => obus(data).iter().any(|&(ty, _)| ty == 1),
        _ => true,
    }
}

/// (obu_type, whole OBU bytes) of a low-overhead AV1 bitstream with size fields.
fn obus(data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let header = data[i];
        let ext = usize::from(header & 4 != 0);
        assert!(header & 2 != 0, "OBU without size field");
        let mut size = 0usize;
        let mut j = i + 1 + ext;
        for k in 0..8 {
            let b = data[j];
            j += 1;
            size |= usize::from(b & 0x7F) << (7 * k);
            if b & 0x80 == 0 {
                break;
            }
        }
        out.push(((header >> 3) & 0xF, &data[i..j + size]));
        i = j + size;
    }
    out
}

/// Matroska's AV1 mapping drops Temporal Delimiter OBUs from blocks (as RTP does too).
fn strip_temporal_delimiters(data: &[u8]) -> Vec<u8> {
    obus(data)
        .into_iter()
        .filter(|&(ty, _)| ty != 2)
        .flat_map(|(_, b)| b.to_vec())
        .collect()
}

/// av1C for an 8-bit 4:2:0 stream (what ffmpeg/libaom produce here): 4 header bytes from the
/// sequence header's profile and first level, then the sequence header OBU itself.
pub fn av1c(ivf: &Ivf) -> Vec<u8> {
    let key = &ivf.frames[0].data;
    let (_, seq) = obus(key)
        .into_iter()
        .find(|&(ty, _)| ty == 1)
        .expect("sequence header");
    let payload_at = seq.iter().skip(1).position(|b| b & 0x80 == 0).unwrap() + 2;
    let p = &seq[payload_at..];
    let bit = |n: usize| (p[n / 8] >> (7 - n % 8)) & 1;
    let bits = |from: usize, len: usize| (from..from + len).fold(0u8, |acc, n| (acc << 1) | bit(n));
    let profile = bits(0, 3);
    let reduced = bit(4) == 1;
    let level = if reduced {
        bits(5, 5)
    } else {
        assert_eq!(bit(5), 0, "timing info not supported by this test helper");
        // initial_display_delay_present(1) operating_points_cnt_minus_1(5) idc[0](12) level[0](5)
        bits(6 + 1 + 5 + 12, 5)
    };
    let mut out = vec![0x81, (profile << 5) | level, 0x0C, 0x00];
    out.extend_from_slice(seq);
    out
}

/// Opus packets of an Ogg Opus file (OpusHead and OpusTags dropped).
pub fn read_ogg_opus(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut packets = Vec::new();
    let mut current = Vec::new();
    let mut i = 0;
    while i + 27 <= bytes.len() {
        assert_eq!(&bytes[i..i + 4], b"OggS");
        let segments = usize::from(bytes[i + 26]);
        let lacing = &bytes[i + 27..i + 27 + segments];
        let mut at = i + 27 + segments;
        for &len in lacing {
            current.extend_from_slice(&bytes[at..at + usize::from(len)]);
            at += usize::from(len);
            if len < 255 {
                packets.push(std::mem::take(&mut current));
            }
        }
        i = at;
    }
    assert!(packets[0].starts_with(b"OpusHead") && packets[1].starts_with(b"OpusTags"));
    packets.drain(..2);
    packets
}

pub fn video_spec(ivf: &Ivf) -> TrackSpec {
    TrackSpec {
        codec: ivf.codec,
        width: ivf.width,
        height: ivf.height,
        channels: 0,
        sample_rate: 0,
        codec_private: (ivf.codec == Codec::Av1).then(|| av1c(ivf)),
    }
}

/// One frame handed to the muxer.
#[derive(Clone, Debug)]
pub struct Input {
    pub track: usize,
    pub pts_ns: u64,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

/// Audio frames, 20 ms each, starting at `start_ns`, cycling through `packets`.
pub fn audio_inputs(track: usize, packets: &[Vec<u8>], start_ns: u64, count: usize) -> Vec<Input> {
    (0..count)
        .map(|i| Input {
            track,
            pts_ns: start_ns + i as u64 * 20_000_000,
            keyframe: true,
            data: packets[i % packets.len()].clone(),
        })
        .collect()
}

pub fn video_inputs(track: usize, frames: &[VideoFrame], offset_ns: u64) -> Vec<Input> {
    frames
        .iter()
        .map(|f| Input {
            track,
            pts_ns: f.pts_ns + offset_ns,
            keyframe: f.keyframe,
            data: f.data.clone(),
        })
        .collect()
}

/// Merges inputs by pts, then delays every frame of `late_track` by `late_ns` in arrival order
/// (RTP audio typically reaches the muxer a little behind video).
pub fn interleave(mut inputs: Vec<Input>, late_track: Option<(usize, u64)>) -> Vec<Input> {
    let arrival = |i: &Input| match late_track {
        Some((track, late)) if i.track == track => i.pts_ns + late,
        _ => i.pts_ns,
    };
    inputs.sort_by_key(|i| (arrival(i), i.track));
    inputs
}

pub struct Muxed {
    pub bytes: Vec<u8>,
    /// Length of what `new` wrote (EBML header .. Tracks).
    pub header_len: usize,
    /// Byte offset where each written block ends, with its track (in write order).
    pub block_ends: Vec<(usize, usize)>,
    pub patches: Vec<Patch>,
}

impl Muxed {
    /// The file as it is after a clean finish (patches applied).
    pub fn finished(&self) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        for p in &self.patches {
            let at = p.offset as usize;
            bytes[at..at + p.bytes.len()].copy_from_slice(&p.bytes);
        }
        bytes
    }
}

/// Runs a muxer over `inputs`, calling `tick` whenever a second of file time passes.
pub fn mux(specs: &[TrackSpec], inputs: &[Input], config: WebmConfig) -> Muxed {
    let mut bytes = Vec::new();
    let mut muxer = WebmMuxer::with_config(specs, config, &mut bytes);
    let header_len = bytes.len();
    let mut block_ends = Vec::new();
    let mut next_tick = 1_000_000_000;
    for input in inputs {
        while input.pts_ns >= next_tick {
            muxer.tick(next_tick, &mut bytes);
            next_tick += 1_000_000_000;
        }
        let before = bytes.len();
        muxer.write_frame(
            input.track,
            input.pts_ns,
            input.keyframe,
            &input.data,
            &mut bytes,
        );
        assert!(bytes.len() > before, "every frame is written immediately");
        block_ends.push((input.track, bytes.len()));
    }
    let patches = muxer.finish(&mut bytes);
    Muxed {
        bytes,
        header_len,
        block_ends,
        patches,
    }
}

pub fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch_path!(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Generates a VP8 IVF of testsrc2 at the given size with ffmpeg.
pub fn generate_vp8(name: &str, width: u32, height: u32, seconds: u32) -> Ivf {
    let path = scratch_path!(name);
    ffmpeg::vp8_test_pattern(&path, width, height, seconds);
    read_ivf(&path)
}
