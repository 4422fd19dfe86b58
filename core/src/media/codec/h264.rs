//! H.264 Annex-B: NAL unit splitting, IDR detection and SPS parsing (ITU-T H.264 7.3.2.1.1).

use super::bits::BitReader;

/// NAL unit type: coded slice of a non-IDR picture (types 1..=5 are the picture's slices).
pub const NAL_SLICE: u8 = 1;
/// NAL unit type: coded slice of an IDR picture (a decoder can start here).
pub const NAL_IDR: u8 = 5;
/// NAL unit type: supplemental enhancement information.
pub const NAL_SEI: u8 = 6;
/// NAL unit type: sequence parameter set (carries the resolution).
pub const NAL_SPS: u8 = 7;
/// NAL unit type: picture parameter set.
pub const NAL_PPS: u8 = 8;
/// NAL unit type: access unit delimiter (MPEG-TS wants one first in every access unit).
pub const NAL_AUD: u8 = 9;

/// NAL unit type (low 5 bits of the NAL header byte).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1F)
}

/// Iterates the NAL units of an Annex-B byte stream (3- or 4-byte start codes), without the start
/// codes and without trailing zero bytes. Bytes before the first start code are ignored.
pub fn nal_units(data: &[u8]) -> NalUnits<'_> {
    NalUnits {
        data,
        pos: find_start_code(data, 0).map_or(data.len(), |(_, end)| end),
    }
}

/// Iterator from [`nal_units`].
pub struct NalUnits<'a> {
    data: &'a [u8],
    /// Start of the next NAL unit's payload.
    pos: usize,
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while self.pos < self.data.len() {
            let start = self.pos;
            let (end, next) =
                find_start_code(self.data, start).unwrap_or((self.data.len(), self.data.len()));
            self.pos = next;
            let mut nal = &self.data[start..end];
            while let [rest @ .., 0] = nal {
                nal = rest;
            }
            if !nal.is_empty() {
                return Some(nal);
            }
        }
        None
    }
}

/// Finds the next `00 00 01` at or after `from`: returns (its offset, offset just after it).
fn find_start_code(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i + 3 <= data.len() {
        if data[i + 2] > 1 {
            i += 3;
        } else if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            return Some((i, i + 3));
        } else {
            i += 1;
        }
    }
    None
}

/// True when the access unit contains an IDR slice.
pub fn is_idr(data: &[u8]) -> bool {
    nal_units(data).any(|nal| nal_type(nal) == NAL_IDR)
}

/// An IDR a decoder can start from: it carries its SPS and PPS (WebRTC senders put them before
/// every IDR; when loss took them, the IDR alone is undecodable).
pub fn is_decodable_idr(data: &[u8]) -> bool {
    let (mut idr, mut sps, mut pps) = (false, false, false);
    for nal in nal_units(data) {
        match nal_type(nal) {
            NAL_IDR => idr = true,
            NAL_SPS => sps = true,
            NAL_PPS => pps = true,
            _ => {}
        }
    }
    idr && sps && pps
}

/// Whether a VCL NAL unit's slice starts a new picture (first_mb_in_slice == 0).
pub fn is_first_slice(nal: &[u8]) -> bool {
    // first_mb_in_slice is ue(v) right after the 1-byte header: value 0 is the single bit '1'.
    nal.get(1).is_some_and(|b| b & 0x80 != 0)
}

/// Removes emulation-prevention bytes (`00 00 03` -> `00 00`).
pub fn unescape_rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Display size from the first SPS in the access unit.
pub fn resolution(data: &[u8]) -> Option<(u16, u16)> {
    let sps = nal_units(data).find(|nal| nal_type(nal) == NAL_SPS)?;
    sps_resolution(&unescape_rbsp(sps))
}

/// Parses an SPS RBSP (NAL header byte included) up to frame cropping.
fn sps_resolution(rbsp: &[u8]) -> Option<(u16, u16)> {
    let mut r = BitReader::new(rbsp.get(1..)?);
    let profile_idc = r.bits(8)?;
    r.skip(16)?; // constraint flags + level_idc
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    let mut separate_colour_plane = false;
    if matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc > 3 {
            return None;
        }
        if chroma_format_idc == 3 {
            separate_colour_plane = r.flag()?;
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.skip(1)?; // qpprime_y_zero_transform_bypass_flag
        if r.flag()? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.flag()? {
                    skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    match r.ue()? {
        0 => {
            r.ue()?; // log2_max_pic_order_cnt_lsb_minus4
        }
        1 => {
            r.skip(1)?; // delta_pic_order_always_zero_flag
            r.se()?; // offset_for_non_ref_pic
            r.se()?; // offset_for_top_to_bottom_field
            let cycle = r.ue()?;
            if cycle > 255 {
                return None;
            }
            for _ in 0..cycle {
                r.se()?;
            }
        }
        2 => {}
        _ => return None,
    }
    r.ue()?; // max_num_ref_frames
    r.skip(1)?; // gaps_in_frame_num_value_allowed_flag
    let width_mbs = u64::from(r.ue()?) + 1;
    let height_map_units = u64::from(r.ue()?) + 1;
    let frame_mbs_only = r.flag()?;
    if !frame_mbs_only {
        r.skip(1)?; // mb_adaptive_frame_field_flag
    }
    r.skip(1)?; // direct_8x8_inference_flag
    let field_factor = if frame_mbs_only { 1 } else { 2 };
    let mut width = width_mbs * 16;
    let mut height = height_map_units * 16 * field_factor;
    if r.flag()? {
        let (left, right, top, bottom) = (r.ue()?, r.ue()?, r.ue()?, r.ue()?);
        let (crop_x, crop_y) = if separate_colour_plane || chroma_format_idc == 0 {
            (1, field_factor)
        } else {
            let sub_width = if chroma_format_idc == 3 { 1 } else { 2 };
            let sub_height = if chroma_format_idc == 1 { 2 } else { 1 };
            (sub_width, sub_height * field_factor)
        };
        width = width.checked_sub(crop_x * (u64::from(left) + u64::from(right)))?;
        height = height.checked_sub(crop_y * (u64::from(top) + u64::from(bottom)))?;
    }
    if width == 0 || height == 0 {
        return None;
    }
    Some((u16::try_from(width).ok()?, u16::try_from(height).ok()?))
}

fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i32, 8i32);
    for _ in 0..size {
        if next != 0 {
            let delta = r.se()?;
            // i64: a hostile delta_scale near 2^31 overflowed i32 (fuzz finding).
            next = (i64::from(last) + i64::from(delta)).rem_euclid(256) as i32;
        }
        if next != 0 {
            last = next;
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_mixed_start_codes() {
        let data = [
            0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x65, 0x88,
        ];
        let nals: Vec<&[u8]> = nal_units(&data).collect();
        assert_eq!(
            nals,
            vec![&[0x09, 0xF0][..], &[0x67, 1, 2][..], &[0x65, 0x88][..]]
        );
        assert!(is_idr(&data));
        assert!(!is_idr(&data[..14]));
    }

    /// Fuzz finding (`codec_parse`): a huge `delta_scale` in the SPS scaling list overflowed.
    #[test]
    fn hostile_scaling_list_does_not_overflow() {
        let sps = [
            0, 0, 1, 0x67, 0x76, 0, 0xff, 0xff, 0x5d, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfa,
        ];
        let _ = crate::media::codec::video_resolution(crate::media::Codec::H264, &sps);
    }

    #[test]
    fn unescapes() {
        assert_eq!(
            unescape_rbsp(&[0x67, 0, 0, 3, 1, 0, 0, 3]),
            vec![0x67, 0, 0, 1, 0, 0]
        );
    }
}

#[cfg(test)]
mod decodable_idr_tests {
    use super::*;

    #[test]
    fn idr_without_parameter_sets_is_not_a_starting_point() {
        let nal = |t: u8| [0u8, 0, 0, 1, t, 0x88, 0x84].to_vec();
        let full: Vec<u8> = [nal(7), nal(8), nal(5)].concat();
        let bare = nal(5);
        assert!(is_decodable_idr(&full));
        assert!(is_idr(&bare) && !is_decodable_idr(&bare));
        assert!(!is_decodable_idr(&[nal(7), nal(8), nal(1)].concat()));
    }
}
