//! Codec bitstream inspection (contract stub; the real implementation lands from the `ts` branch).

use super::frame::Codec;

pub fn is_keyframe(codec: Codec, data: &[u8]) -> bool {
    todo!("{codec:?}{data:?}")
}

pub fn video_resolution(codec: Codec, data: &[u8]) -> Option<(u16, u16)> {
    todo!("{codec:?}{data:?}")
}

pub fn av1_codec_private(data: &[u8]) -> Option<Vec<u8>> {
    todo!("{data:?}")
}
