//! AV1 low-overhead bitstream (AV1 spec 5.3-5.9): OBU walking, sequence header, start of the frame
//! header, and the `av1C` record of AV1-ISOBMFF 2.3 (used as Matroska/WebM CodecPrivate).

use super::bits::BitReader;

const OBU_SEQUENCE_HEADER: u8 = 1;
const OBU_FRAME_HEADER: u8 = 3;
const OBU_FRAME: u8 = 6;

/// One OBU of a temporal unit.
pub struct Obu<'a> {
    pub obu_type: u8,
    /// The header bytes (1, or 2 with the extension byte), without the size field.
    pub header: &'a [u8],
    pub payload: &'a [u8],
}

/// Walks the OBUs of a temporal unit; stops at the first malformed one. An OBU without a size
/// field extends to the end of the data (allowed for the last OBU).
pub fn obus(data: &[u8]) -> impl Iterator<Item = Obu<'_>> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let first = *rest.first()?;
        if first & 0x80 != 0 {
            rest = &[]; // obu_forbidden_bit
            return None;
        }
        let has_extension = first & 0x04 != 0;
        let has_size = first & 0x02 != 0;
        let header_len = if has_extension { 2 } else { 1 };
        let Some(header) = rest.get(..header_len) else {
            rest = &[];
            return None;
        };
        let after_header = &rest[header_len..];
        let (size, size_len) = if has_size {
            match leb128(after_header) {
                Some(v) => v,
                None => {
                    rest = &[];
                    return None;
                }
            }
        } else {
            (after_header.len() as u64, 0)
        };
        let start = size_len;
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| start.checked_add(s));
        let Some(payload) = end.and_then(|end| after_header.get(start..end)) else {
            rest = &[];
            return None;
        };
        let consumed = header_len + start + payload.len();
        rest = &rest[consumed..];
        Some(Obu {
            obu_type: (first >> 3) & 0x0F,
            header,
            payload,
        })
    })
}

/// leb128(): value and number of bytes used (at most 8).
fn leb128(data: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for i in 0..8 {
        let b = *data.get(i)?;
        value |= u64::from(b & 0x7F) << (i * 7);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

fn write_leb128(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let b = (value & 0x7F) as u8;
        value >>= 7;
        if value == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// The fields of a sequence header OBU that roomrec needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceHeader {
    pub seq_profile: u8,
    pub reduced_still_picture_header: bool,
    pub seq_level_idx_0: u8,
    pub seq_tier_0: bool,
    pub max_width: u32,
    pub max_height: u32,
    pub high_bitdepth: bool,
    pub twelve_bit: bool,
    pub mono_chrome: bool,
    pub subsampling_x: bool,
    pub subsampling_y: bool,
    pub chroma_sample_position: u8,
}

/// Parses `sequence_header_obu()` (spec 5.5) through `color_config()`.
pub fn parse_sequence_header(payload: &[u8]) -> Option<SequenceHeader> {
    let mut r = BitReader::new(payload);
    let seq_profile = r.bits(3)? as u8;
    if seq_profile > 2 {
        return None;
    }
    r.skip(1)?; // still_picture
    let reduced = r.flag()?;
    let (seq_level_idx_0, seq_tier_0);
    if reduced {
        seq_level_idx_0 = r.bits(5)? as u8;
        seq_tier_0 = false;
    } else {
        let mut decoder_model_info_present = false;
        let mut buffer_delay_length = 0;
        if r.flag()? {
            // timing_info()
            r.skip(64)?; // num_units_in_display_tick, time_scale
            if r.flag()? {
                r.uvlc()?; // num_ticks_per_picture_minus_1
            }
            decoder_model_info_present = r.flag()?;
            if decoder_model_info_present {
                buffer_delay_length = r.bits(5)? as usize + 1;
                r.skip(32 + 5 + 5)?;
            }
        }
        let initial_display_delay_present = r.flag()?;
        let operating_points = r.bits(5)? + 1;
        let (mut level0, mut tier0) = (0, false);
        for i in 0..operating_points {
            r.skip(12)?; // operating_point_idc
            let level = r.bits(5)? as u8;
            let tier = level > 7 && r.flag()?;
            if i == 0 {
                (level0, tier0) = (level, tier);
            }
            if decoder_model_info_present && r.flag()? {
                r.skip(2 * buffer_delay_length + 1)?;
            }
            if initial_display_delay_present && r.flag()? {
                r.skip(4)?;
            }
        }
        (seq_level_idx_0, seq_tier_0) = (level0, tier0);
    }
    let width_bits = r.bits(4)? + 1;
    let height_bits = r.bits(4)? + 1;
    let max_width = r.bits(width_bits)? + 1;
    let max_height = r.bits(height_bits)? + 1;
    if !reduced && r.flag()? {
        r.skip(4 + 3)?; // delta_frame_id_length_minus_2, additional_frame_id_length_minus_1
    }
    r.skip(3)?; // use_128x128_superblock, enable_filter_intra, enable_intra_edge_filter
    if !reduced {
        r.skip(4)?; // interintra_compound, masked_compound, warped_motion, dual_filter
        let enable_order_hint = r.flag()?;
        if enable_order_hint {
            r.skip(2)?; // enable_jnt_comp, enable_ref_frame_mvs
        }
        let force_screen_content_tools = if r.flag()? { 2 } else { r.bit()? };
        if force_screen_content_tools > 0 && !r.flag()? {
            r.skip(1)?; // seq_force_integer_mv
        }
        if enable_order_hint {
            r.skip(3)?; // order_hint_bits_minus_1
        }
    }
    r.skip(3)?; // enable_superres, enable_cdef, enable_restoration
                // color_config()
    let high_bitdepth = r.flag()?;
    let twelve_bit = seq_profile == 2 && high_bitdepth && r.flag()?;
    let mono_chrome = seq_profile != 1 && r.flag()?;
    let (mut primaries, mut transfer, mut matrix) = (2, 2, 2);
    if r.flag()? {
        (primaries, transfer, matrix) = (r.bits(8)?, r.bits(8)?, r.bits(8)?);
    }
    let (subsampling_x, subsampling_y, mut chroma_sample_position) = if mono_chrome {
        r.skip(1)?; // color_range
        (true, true, 0)
    } else if primaries == 1 && transfer == 13 && matrix == 0 {
        (false, false, 0) // sRGB: 4:4:4
    } else {
        r.skip(1)?; // color_range
        match seq_profile {
            0 => (true, true, 0),
            1 => (false, false, 0),
            _ if twelve_bit => {
                let x = r.flag()?;
                (x, x && r.flag()?, 0)
            }
            _ => (true, false, 0),
        }
    };
    if !mono_chrome && subsampling_x && subsampling_y {
        chroma_sample_position = r.bits(2)? as u8;
    }
    Some(SequenceHeader {
        seq_profile,
        reduced_still_picture_header: reduced,
        seq_level_idx_0,
        seq_tier_0,
        max_width,
        max_height,
        high_bitdepth,
        twelve_bit,
        mono_chrome,
        subsampling_x,
        subsampling_y,
        chroma_sample_position,
    })
}

fn sequence_header_obu(data: &[u8]) -> Option<Obu<'_>> {
    obus(data).find(|o| o.obu_type == OBU_SEQUENCE_HEADER)
}

/// Key frame = the temporal unit carries a sequence header and its first frame (header) OBU has
/// show_existing_frame = 0 and frame_type = KEY_FRAME. Requiring the sequence header makes the
/// frame a real entry point (a decoder cannot start without one); Chrome sends one with every key
/// frame. Only the first bits of the frame header are read, which needs nothing from the sequence
/// header but reduced_still_picture_header.
pub fn is_keyframe(data: &[u8]) -> bool {
    let Some(seq) = sequence_header_obu(data).and_then(|o| parse_sequence_header(o.payload)) else {
        return false;
    };
    let Some(frame) =
        obus(data).find(|o| o.obu_type == OBU_FRAME || o.obu_type == OBU_FRAME_HEADER)
    else {
        return false;
    };
    if seq.reduced_still_picture_header {
        return true; // always a key frame (spec 5.9.2)
    }
    let mut r = BitReader::new(frame.payload);
    matches!((r.bit(), r.bits(2)), (Some(0), Some(0)))
}

pub fn resolution(data: &[u8]) -> Option<(u16, u16)> {
    let seq = parse_sequence_header(sequence_header_obu(data)?.payload)?;
    Some((
        u16::try_from(seq.max_width).ok()?,
        u16::try_from(seq.max_height).ok()?,
    ))
}

/// `AV1CodecConfigurationRecord` (4 bytes) followed by the sequence header OBU, rewritten with
/// obu_has_size_field = 1 as the record requires.
pub fn codec_private(data: &[u8]) -> Option<Vec<u8>> {
    let obu = sequence_header_obu(data)?;
    let seq = parse_sequence_header(obu.payload)?;
    let mut out = vec![
        0x81, // marker, version 1
        (seq.seq_profile << 5) | (seq.seq_level_idx_0 & 0x1F),
        (u8::from(seq.seq_tier_0) << 7)
            | (u8::from(seq.high_bitdepth) << 6)
            | (u8::from(seq.twelve_bit) << 5)
            | (u8::from(seq.mono_chrome) << 4)
            | (u8::from(seq.subsampling_x) << 3)
            | (u8::from(seq.subsampling_y) << 2)
            | (seq.chroma_sample_position & 3),
        0, // no initial_presentation_delay
    ];
    out.push(obu.header[0] | 0x02);
    out.extend_from_slice(&obu.header[1..]);
    write_leb128(obu.payload.len() as u64, &mut out);
    out.extend_from_slice(obu.payload);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_round_trip() {
        for v in [0u64, 1, 127, 128, 300, 1 << 20, u32::MAX as u64] {
            let mut buf = Vec::new();
            write_leb128(v, &mut buf);
            assert_eq!(leb128(&buf), Some((v, buf.len())));
        }
        assert_eq!(leb128(&[0x80; 9]), None);
    }

    #[test]
    fn obu_without_size_runs_to_end() {
        // temporal delimiter with size 0, then a padding OBU without size field.
        let data = [0x12, 0x00, 0x78, 1, 2, 3];
        let list: Vec<_> = obus(&data)
            .map(|o| (o.obu_type, o.payload.to_vec()))
            .collect();
        assert_eq!(list, vec![(2, vec![]), (15, vec![1, 2, 3])]);
    }
}
