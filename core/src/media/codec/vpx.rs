//! VP8 (RFC 6386 9.1) and VP9 (VP9 bitstream spec 6.2, uncompressed header) frame headers.

use super::bits::BitReader;

/// VP8: the frame tag's low bit is 0 on key frames.
pub fn vp8_is_keyframe(data: &[u8]) -> bool {
    data.first().is_some_and(|b| b & 1 == 0)
}

/// VP8 key frame: 3-byte frame tag, start code `9d 01 2a`, then 14-bit width and height (LE, the
/// top 2 bits are the scaling mode).
pub fn vp8_resolution(data: &[u8]) -> Option<(u16, u16)> {
    if !vp8_is_keyframe(data) || data.get(3..6)? != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let w = u16::from_le_bytes([*data.get(6)?, *data.get(7)?]) & 0x3FFF;
    let h = u16::from_le_bytes([*data.get(8)?, *data.get(9)?]) & 0x3FFF;
    (w > 0 && h > 0).then_some((w, h))
}

/// What the start of a VP9 uncompressed header says.
struct Vp9Header {
    keyframe: bool,
    size: Option<(u16, u16)>,
}

/// Parses the first frame of `data`. Several frames may follow it (a superframe with an index at
/// the end, or spatial layers concatenated by an RTP depacketizer); the first one decides.
fn vp9_header(data: &[u8]) -> Option<Vp9Header> {
    let mut r = BitReader::new(data);
    if r.bits(2)? != 2 {
        return None; // frame_marker
    }
    let low = r.bit()?;
    let high = r.bit()?;
    let profile = (high << 1) | low;
    if profile == 3 && r.bit()? != 0 {
        return None; // reserved_zero
    }
    if r.flag()? {
        // show_existing_frame: re-shows a decoded frame, never a key frame for our purposes.
        return Some(Vp9Header {
            keyframe: false,
            size: None,
        });
    }
    let frame_type = r.bit()?;
    r.skip(2)?; // show_frame, error_resilient_mode
    if frame_type != 0 {
        return Some(Vp9Header {
            keyframe: false,
            size: None,
        });
    }
    if r.bits(24)? != 0x49_83_42 {
        return None; // frame_sync_code
    }
    // color_config()
    if profile >= 2 {
        r.skip(1)?; // ten_or_twelve_bit
    }
    let color_space = r.bits(3)?;
    if color_space != 7 {
        r.skip(1)?; // color_range
        if profile == 1 || profile == 3 {
            r.skip(3)?; // subsampling_x, subsampling_y, reserved_zero
        }
    } else if profile == 1 || profile == 3 {
        r.skip(1)?; // reserved_zero
    }
    let w = r.bits(16)? + 1;
    let h = r.bits(16)? + 1;
    let size = u16::try_from(w).ok().zip(u16::try_from(h).ok());
    Some(Vp9Header {
        keyframe: true,
        size,
    })
}

pub fn vp9_is_keyframe(data: &[u8]) -> bool {
    vp9_header(data).is_some_and(|h| h.keyframe)
}

pub fn vp9_resolution(data: &[u8]) -> Option<(u16, u16)> {
    vp9_header(data)?.size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vp9_profile3_reserved_bit() {
        // frame_marker 10, profile bits (low=1, high=1) -> profile 3, reserved bit set -> invalid.
        assert!(vp9_header(&[0b1011_1000, 0, 0, 0]).is_none());
        // Same with reserved 0, show_existing_frame = 1.
        assert!(!vp9_is_keyframe(&[0b1011_0100, 0, 0, 0]));
        assert!(vp9_header(&[0b1011_0100, 0]).is_some());
    }
}
