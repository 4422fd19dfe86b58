//! Minimal EBML element writer (the binary format under Matroska/WebM).
//!
//! Elements are `ID | size | payload`. IDs are written as their canonical bytes (marker bits
//! included); sizes are variable-length integers (vints). Masters are either built in a buffer so
//! their size is known, or opened with the unknown-size marker and streamed: a reader ends them at
//! the first element that cannot be their child.

/// Element IDs used by the WebM writer.
pub mod id {
    /// `EBML`: the header master every file starts with.
    pub const EBML: u32 = 0x1A45_DFA3;
    /// `EBMLVersion`.
    pub const EBML_VERSION: u32 = 0x4286;
    /// `EBMLReadVersion`: the reader version needed.
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    /// `EBMLMaxIDLength` (4 for Matroska).
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    /// `EBMLMaxSizeLength` (8 for Matroska).
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    /// `DocType`: `webm`.
    pub const DOC_TYPE: u32 = 0x4282;
    /// `DocTypeVersion`.
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    /// `DocTypeReadVersion`: the reader version needed.
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    /// `Void`: filler a reader skips (space reserved for a later patch).
    pub const VOID: u32 = 0xEC;

    /// `Segment`: the master holding everything after the header.
    pub const SEGMENT: u32 = 0x1853_8067;
    /// `SeekHead`: index of the top-level elements.
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    /// `Seek`: one SeekHead entry.
    pub const SEEK: u32 = 0x4DBB;
    /// `SeekID`: the ID of the element a Seek points to.
    pub const SEEK_ID: u32 = 0x53AB;
    /// `SeekPosition`: its offset from the start of the Segment's data.
    pub const SEEK_POSITION: u32 = 0x53AC;

    /// `Info`: segment information.
    pub const INFO: u32 = 0x1549_A966;
    /// `TimestampScale` (formerly TimecodeScale): ns per timestamp tick.
    pub const TIMECODE_SCALE: u32 = 0x2A_D7B1;
    /// `Duration`: float, in timestamp ticks.
    pub const DURATION: u32 = 0x4489;
    /// `DateUTC`: ns since 2001-01-01T00:00:00 UTC.
    pub const DATE_UTC: u32 = 0x4461;
    /// `MuxingApp`.
    pub const MUXING_APP: u32 = 0x4D80;
    /// `WritingApp`.
    pub const WRITING_APP: u32 = 0x5741;

    /// `Tracks`: the track entries.
    pub const TRACKS: u32 = 0x1654_AE6B;
    /// `TrackEntry`: one track.
    pub const TRACK_ENTRY: u32 = 0xAE;
    /// `TrackNumber`: the number blocks refer to (1-based).
    pub const TRACK_NUMBER: u32 = 0xD7;
    /// `TrackUID`.
    pub const TRACK_UID: u32 = 0x73C5;
    /// `TrackType`: 1 video, 2 audio.
    pub const TRACK_TYPE: u32 = 0x83;
    /// `FlagLacing`: whether blocks may use lacing.
    pub const FLAG_LACING: u32 = 0x9C;
    /// `CodecID`: e.g. `V_VP8`, `A_OPUS`.
    pub const CODEC_ID: u32 = 0x86;
    /// `CodecPrivate`: codec header (Opus: OpusHead, AV1: av1C).
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    /// `CodecDelay`: ns the decoder drops at the start (Opus pre-skip).
    pub const CODEC_DELAY: u32 = 0x56AA;
    /// `SeekPreRoll`: ns to decode before a seek target (Opus: 80 ms).
    pub const SEEK_PRE_ROLL: u32 = 0x56BB;
    /// `Video`: video settings of a track.
    pub const VIDEO: u32 = 0xE0;
    /// `PixelWidth`.
    pub const PIXEL_WIDTH: u32 = 0xB0;
    /// `PixelHeight`.
    pub const PIXEL_HEIGHT: u32 = 0xBA;
    /// `Audio`: audio settings of a track.
    pub const AUDIO: u32 = 0xE1;
    /// `SamplingFrequency`: float, Hz.
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    /// `Channels`.
    pub const CHANNELS: u32 = 0x9F;

    /// `Cluster`: a run of blocks with one base timestamp.
    pub const CLUSTER: u32 = 0x1F43_B675;
    /// `Timestamp` (formerly Timecode): the cluster's base, in ticks.
    pub const TIMECODE: u32 = 0xE7;
    /// `SimpleBlock`: one frame, timed relative to its cluster (int16 ticks).
    pub const SIMPLE_BLOCK: u32 = 0xA3;

    /// `Cues`: the seek index, written on finish.
    pub const CUES: u32 = 0x1C53_BB6B;
    /// `CuePoint`: one seek target.
    pub const CUE_POINT: u32 = 0xBB;
    /// `CueTime`: its time, in ticks.
    pub const CUE_TIME: u32 = 0xB3;
    /// `CueTrackPositions`: where that time is for one track.
    pub const CUE_TRACK_POSITIONS: u32 = 0xB7;
    /// `CueTrack`: the track number.
    pub const CUE_TRACK: u32 = 0xF7;
    /// `CueClusterPosition`: the cluster's offset from the Segment's data.
    pub const CUE_CLUSTER_POSITION: u32 = 0xF1;
}

/// The 8-byte "unknown size" vint: all value bits set.
pub const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

/// Largest size an 8-byte vint can carry (all-ones is reserved for "unknown").
pub const MAX_SIZE: u64 = (1 << 56) - 2;

/// Writes an element ID. IDs carry their own length marker, so leading zero bytes are dropped.
pub fn write_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = (id.leading_zeros() / 8).min(3) as usize;
    out.extend_from_slice(&bytes[skip..]);
}

/// Bytes a vint needs for `value` (1..=8). All-ones patterns are avoided: they mean "unknown".
pub fn vint_len(value: u64) -> usize {
    (1..=8)
        .find(|&len| value < (1u64 << (7 * len)) - 1)
        .unwrap_or(8)
}

/// Writes `value` as a vint of exactly `len` bytes (for fields patched later).
pub fn write_vint_fixed(out: &mut Vec<u8>, value: u64, len: usize) {
    debug_assert!((1..=8).contains(&len) && value < (1u64 << (7 * len)) - 1);
    let marked = value | (1u64 << (7 * len));
    out.extend_from_slice(&marked.to_be_bytes()[8 - len..]);
}

/// Writes a size (or a track number in a block header) as a minimal vint.
pub fn write_vint(out: &mut Vec<u8>, value: u64) {
    write_vint_fixed(out, value.min(MAX_SIZE), vint_len(value));
}

/// Starts a master whose size is unknown (Segment, Cluster): its children follow as a stream.
pub fn start_unknown_master(out: &mut Vec<u8>, id: u32) {
    write_id(out, id);
    out.extend_from_slice(&UNKNOWN_SIZE);
}

/// Writes a master element whose children are produced by `body` into a buffer first.
pub fn master(out: &mut Vec<u8>, id: u32, body: impl FnOnce(&mut Vec<u8>)) {
    let mut buf = Vec::new();
    body(&mut buf);
    binary(out, id, &buf);
}

/// Unsigned integer element, minimal width (zero is one byte).
pub fn uint(out: &mut Vec<u8>, id: u32, value: u64) {
    let len = (8 - value.leading_zeros() as usize / 8).max(1);
    binary(out, id, &value.to_be_bytes()[8 - len..]);
}

/// Unsigned integer element with a fixed payload width (1..=8 bytes, for values patched later).
pub fn uint_fixed(out: &mut Vec<u8>, id: u32, value: u64, len: usize) {
    let len = len.clamp(1, 8);
    binary(out, id, &value.to_be_bytes()[8 - len..]);
}

/// Signed integer element, minimal two's-complement width.
pub fn int(out: &mut Vec<u8>, id: u32, value: i64) {
    let bytes = value.to_be_bytes();
    // Drop leading bytes that only repeat the sign of the next byte.
    let mut skip = 0;
    while skip < 7 {
        let (b, next) = (bytes[skip], bytes[skip + 1]);
        if (b == 0x00 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0) {
            skip += 1;
        } else {
            break;
        }
    }
    binary(out, id, &bytes[skip..]);
}

/// 8-byte IEEE float element.
pub fn float(out: &mut Vec<u8>, id: u32, value: f64) {
    binary(out, id, &value.to_be_bytes());
}

/// Total bytes of an 8-byte float element with a 1- or 2-byte ID (for placeholders).
pub fn float_element_len(id: u32) -> usize {
    let mut v = Vec::new();
    float(&mut v, id, 0.0);
    v.len()
}

/// UTF-8 string element (no terminator).
pub fn string(out: &mut Vec<u8>, id: u32, value: &str) {
    binary(out, id, value.as_bytes());
}

/// Date element: nanoseconds since 2001-01-01T00:00:00 UTC, always 8 bytes.
pub fn date(out: &mut Vec<u8>, id: u32, ns_since_2001: i64) {
    binary(out, id, &ns_since_2001.to_be_bytes());
}

/// Binary element.
pub fn binary(out: &mut Vec<u8>, id: u32, payload: &[u8]) {
    write_id(out, id);
    write_vint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// A Void element occupying exactly `total_len` bytes (at least 2), header included.
pub fn void(out: &mut Vec<u8>, total_len: usize) {
    assert!(total_len >= 2, "a Void element needs at least 2 bytes");
    write_id(out, id::VOID);
    // A 1-byte size covers payloads up to 126 bytes; beyond that use a fixed 8-byte size.
    let size_len = if total_len - 2 <= 126 { 1 } else { 8 };
    let payload = total_len - 1 - size_len;
    write_vint_fixed(out, payload as u64, size_len);
    out.resize(out.len() + payload, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut v = Vec::new();
        f(&mut v);
        v
    }

    #[test]
    fn vints_are_minimal_and_avoid_all_ones() {
        assert_eq!(bytes(|o| write_vint(o, 0)), [0x80]);
        assert_eq!(bytes(|o| write_vint(o, 126)), [0xFE]);
        // 127 in one byte would be 0xFF = unknown, so it takes two.
        assert_eq!(bytes(|o| write_vint(o, 127)), [0x40, 0x7F]);
        assert_eq!(bytes(|o| write_vint(o, 0x3FFE)), [0x7F, 0xFE]);
        assert_eq!(bytes(|o| write_vint(o, 0x3FFF)), [0x20, 0x3F, 0xFF]);
        assert_eq!(
            bytes(|o| write_vint_fixed(o, 5, 8)),
            [1, 0, 0, 0, 0, 0, 0, 5]
        );
    }

    #[test]
    fn ids_keep_their_marker_bytes() {
        assert_eq!(bytes(|o| write_id(o, id::SIMPLE_BLOCK)), [0xA3]);
        assert_eq!(bytes(|o| write_id(o, id::DURATION)), [0x44, 0x89]);
        assert_eq!(
            bytes(|o| write_id(o, id::TIMECODE_SCALE)),
            [0x2A, 0xD7, 0xB1]
        );
        assert_eq!(
            bytes(|o| write_id(o, id::CLUSTER)),
            [0x1F, 0x43, 0xB6, 0x75]
        );
    }

    #[test]
    fn integers_use_minimal_width() {
        assert_eq!(bytes(|o| uint(o, 0xE7, 0)), [0xE7, 0x81, 0]);
        assert_eq!(bytes(|o| uint(o, 0xE7, 0x1234)), [0xE7, 0x82, 0x12, 0x34]);
        assert_eq!(bytes(|o| int(o, 0xE7, -1)), [0xE7, 0x81, 0xFF]);
        assert_eq!(bytes(|o| int(o, 0xE7, 128)), [0xE7, 0x82, 0x00, 0x80]);
        assert_eq!(bytes(|o| int(o, 0xE7, -129)), [0xE7, 0x82, 0xFF, 0x7F]);
    }

    #[test]
    fn masters_and_voids() {
        let m = bytes(|o| master(o, id::VIDEO, |b| uint(b, id::PIXEL_WIDTH, 320)));
        assert_eq!(m, [0xE0, 0x84, 0xB0, 0x82, 0x01, 0x40]);
        let u = bytes(|o| start_unknown_master(o, id::CLUSTER));
        assert_eq!(&u[4..], &UNKNOWN_SIZE);
        for len in [2, 3, 11, 128, 129, 130, 300] {
            let v = bytes(|o| void(o, len));
            assert_eq!(v.len(), len, "void of {len}");
            assert_eq!(v[0], 0xEC);
        }
        assert_eq!(float_element_len(id::DURATION), 11);
    }
}
