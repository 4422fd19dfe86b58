//! Codec bitstream inspection on frame bytes: key frames, resolution, AV1 `av1C`, Opus durations.
//! Pure functions that never panic: garbage in gives `false` / `None`.

mod av1;
mod bits;
pub mod h264;
mod vpx;

use super::frame::Codec;

/// Whether the frame can start decoding on its own.
///
/// - H.264: the Annex-B access unit contains an IDR slice (NAL type 5).
/// - VP8: frame tag key-frame bit. VP9: the first frame's uncompressed header says KEY_FRAME
///   (superframes and concatenated spatial layers are judged by their first frame).
/// - AV1: the temporal unit has a sequence header OBU and its first frame / frame header OBU has
///   show_existing_frame = 0 and frame_type = KEY_FRAME (see `av1::is_keyframe`).
/// - Opus: every packet.
pub fn is_keyframe(codec: Codec, data: &[u8]) -> bool {
    match codec {
        Codec::H264 => h264::is_decodable_idr(data),
        Codec::Vp8 => vpx::vp8_is_keyframe(data),
        Codec::Vp9 => vpx::vp9_is_keyframe(data),
        Codec::Av1 => av1::is_keyframe(data),
        Codec::Opus => true,
    }
}

/// Coded display size carried by a key frame: H.264 SPS (after cropping), VP8/VP9 key frame
/// header, AV1 sequence header (max frame size). `None` for other frames, audio, or garbage.
pub fn video_resolution(codec: Codec, data: &[u8]) -> Option<(u16, u16)> {
    match codec {
        Codec::H264 => h264::resolution(data),
        Codec::Vp8 => vpx::vp8_resolution(data),
        Codec::Vp9 => vpx::vp9_resolution(data),
        Codec::Av1 => av1::resolution(data),
        Codec::Opus => None,
    }
}

/// The `av1C` record (AV1-ISOBMFF: 4 bytes + the sequence header OBU) from a temporal unit that
/// carries a sequence header. WebM uses it as the AV1 CodecPrivate.
pub fn av1_codec_private(data: &[u8]) -> Option<Vec<u8>> {
    av1::codec_private(data)
}

/// Duration of an Opus packet in 48 kHz samples, from its TOC byte (RFC 6716 3.1-3.2).
pub fn opus_packet_samples(data: &[u8]) -> Option<u32> {
    let toc = *data.first()?;
    let config = toc >> 3;
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames = match toc & 3 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*data.get(1)? & 0x3F),
    };
    let samples = frame * frames;
    // A packet holds at most 120 ms.
    (samples > 0 && samples <= 5760).then_some(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_durations() {
        assert_eq!(opus_packet_samples(&[0xFC]), Some(960)); // CELT FB 20 ms, 1 frame
        assert_eq!(opus_packet_samples(&[0xF8 | 1]), Some(1920)); // 2 frames of 20 ms
        assert_eq!(opus_packet_samples(&[(3 << 3) | 3, 2]), Some(5760)); // 2 x 60 ms SILK
        assert_eq!(opus_packet_samples(&[(3 << 3) | 3, 3]), None); // 180 ms is not allowed
        assert_eq!(opus_packet_samples(&[0x03, 0x03]), Some(1440)); // 3 x 10 ms SILK NB
        assert_eq!(opus_packet_samples(&[0x03]), None);
        assert_eq!(opus_packet_samples(&[]), None);
    }
}
