//! The fixed front of a WebM file: EBML header, Info and Tracks.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::media::ebml::{self, id};
use crate::media::frame::{Codec, TrackKind};
use crate::media::mux::TrackSpec;

pub const TIMECODE_SCALE_NS: u64 = 1_000_000;
const APP: &str = "roomrec";
/// Opus encoder lookahead at 48 kHz (6.5 ms): the standard pre-skip / CodecDelay.
pub const OPUS_PRE_SKIP: u16 = 312;
const OPUS_CODEC_DELAY_NS: u64 = 6_500_000;
/// 80 ms: what an Opus decoder needs to converge after a seek.
const OPUS_SEEK_PRE_ROLL_NS: u64 = 80_000_000;
/// 2001-01-01T00:00:00Z, the Matroska date epoch, in Unix seconds.
const MATROSKA_EPOCH_UNIX_S: u64 = 978_307_200;

pub fn ebml_header(out: &mut Vec<u8>) {
    ebml::master(out, id::EBML, |b| {
        ebml::uint(b, id::EBML_VERSION, 1);
        ebml::uint(b, id::EBML_READ_VERSION, 1);
        ebml::uint(b, id::EBML_MAX_ID_LENGTH, 4);
        ebml::uint(b, id::EBML_MAX_SIZE_LENGTH, 8);
        ebml::string(b, id::DOC_TYPE, "webm");
        ebml::uint(b, id::DOC_TYPE_VERSION, 4);
        ebml::uint(b, id::DOC_TYPE_READ_VERSION, 2);
    });
}

/// Writes Info with a Void where Duration goes at finish. Returns the Void's offset within `out`.
///
/// A Void (not a Duration of 0 or 1 ms) keeps a crashed file honest: no Duration means "unknown"
/// to players, while a placeholder value would be believed.
pub fn info(out: &mut Vec<u8>, date_utc: Option<SystemTime>) -> usize {
    let mut body = Vec::new();
    ebml::uint(&mut body, id::TIMECODE_SCALE, TIMECODE_SCALE_NS);
    let duration_at = body.len();
    ebml::void(&mut body, ebml::float_element_len(id::DURATION));
    if let Some(date) = date_utc {
        ebml::date(&mut body, id::DATE_UTC, matroska_date_ns(date));
    }
    ebml::string(&mut body, id::MUXING_APP, APP);
    ebml::string(&mut body, id::WRITING_APP, APP);
    ebml::binary(out, id::INFO, &body);
    out.len() - body.len() + duration_at
}

fn matroska_date_ns(date: SystemTime) -> i64 {
    let epoch = UNIX_EPOCH + Duration::from_secs(MATROSKA_EPOCH_UNIX_S);
    match date.duration_since(epoch) {
        Ok(after) => i64::try_from(after.as_nanos()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

/// Bytes of the PixelWidth + PixelHeight pair (2-byte values), patched when the size was unknown.
pub const VIDEO_SIZE_LEN: usize = 8;

pub fn video_size(out: &mut Vec<u8>, width: u16, height: u16) {
    ebml::uint_fixed(out, id::PIXEL_WIDTH, u64::from(width), 2);
    ebml::uint_fixed(out, id::PIXEL_HEIGHT, u64::from(height), 2);
}

/// Writes Tracks. Returns, per track, the offset within `out` of a video track's PixelWidth.
pub fn tracks(out: &mut Vec<u8>, specs: &[TrackSpec]) -> Vec<Option<usize>> {
    let mut entries = Vec::new();
    let mut size_at = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let mut entry = Vec::new();
        let at = track_entry(&mut entry, index as u64 + 1, spec);
        // The entry goes behind its own 1-byte ID and a size of vint_len(len) bytes.
        let header = 1 + ebml::vint_len(entry.len() as u64);
        size_at.push(at.map(|at| entries.len() + header + at));
        ebml::binary(&mut entries, id::TRACK_ENTRY, &entry);
    }
    ebml::binary(out, id::TRACKS, &entries);
    let entries_start = out.len() - entries.len();
    size_at
        .into_iter()
        .map(|at| at.map(|at| entries_start + at))
        .collect()
}

fn track_entry(t: &mut Vec<u8>, number: u64, spec: &TrackSpec) -> Option<usize> {
    ebml::uint(t, id::TRACK_NUMBER, number);
    ebml::uint(t, id::TRACK_UID, number);
    ebml::uint(t, id::FLAG_LACING, 0);
    match spec.codec.kind() {
        TrackKind::Video => {
            ebml::uint(t, id::TRACK_TYPE, 1);
            ebml::string(t, id::CODEC_ID, video_codec_id(spec.codec));
            if let Some(private) = spec.codec_private.as_deref().filter(|p| !p.is_empty()) {
                ebml::binary(t, id::CODEC_PRIVATE, private);
            } else if spec.codec == Codec::Av1 {
                // Decoders still find the sequence header in-band at every keyframe.
                tracing::warn!("AV1 track without av1C CodecPrivate; writing the track without it");
            }
            if spec.width == 0 || spec.height == 0 {
                tracing::debug!(
                    "video size unknown when the file starts; patched at finish if learned"
                );
            }
            let mut video = Vec::new();
            video_size(&mut video, spec.width, spec.height);
            ebml::binary(t, id::VIDEO, &video);
            Some(t.len() - video.len())
        }
        TrackKind::Audio => {
            let channels = opus_channels(spec.channels);
            ebml::uint(t, id::TRACK_TYPE, 2);
            ebml::string(t, id::CODEC_ID, "A_OPUS");
            ebml::binary(t, id::CODEC_PRIVATE, &opus_head(channels));
            ebml::uint(t, id::CODEC_DELAY, OPUS_CODEC_DELAY_NS);
            ebml::uint(t, id::SEEK_PRE_ROLL, OPUS_SEEK_PRE_ROLL_NS);
            ebml::master(t, id::AUDIO, |a| {
                ebml::float(a, id::SAMPLING_FREQUENCY, 48_000.0);
                ebml::uint(a, id::CHANNELS, u64::from(channels));
            });
            None
        }
    }
}

fn video_codec_id(codec: Codec) -> &'static str {
    match codec {
        Codec::Vp8 => "V_VP8",
        Codec::Vp9 => "V_VP9",
        Codec::Av1 => "V_AV1",
        // WebM has no H.264; the caller picks the TS muxer for it. Written as Matroska's ID so the
        // file is at least readable by Matroska tools.
        Codec::H264 | Codec::Opus => {
            tracing::warn!(codec = codec.name(), "codec is not a WebM video codec");
            "V_MPEG4/ISO/AVC"
        }
    }
}

/// Mapping family 0 only describes mono and stereo.
fn opus_channels(requested: u8) -> u8 {
    match requested {
        1 | 2 => requested,
        0 => 2,
        other => {
            tracing::warn!(
                channels = other,
                "Opus mapping family 0 supports 1-2 channels; using 2"
            );
            2
        }
    }
}

/// The 19-byte OpusHead identification header (RFC 7845, section 5.1), mapping family 0.
pub fn opus_head(channels: u8) -> Vec<u8> {
    let mut head = Vec::with_capacity(19);
    head.extend_from_slice(b"OpusHead");
    head.push(1); // version
    head.push(channels);
    head.extend_from_slice(&OPUS_PRE_SKIP.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes()); // input sample rate (informational)
    head.extend_from_slice(&0i16.to_le_bytes()); // output gain
    head.push(0); // mapping family
    head
}
