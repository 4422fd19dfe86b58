//! What each synthetic publisher sends: the bundled 320x240 media, optionally padded to a bitrate
//! (filler a decoder skips) so the datagram rate of a 720p camera can be emulated without encoding.

use std::sync::Arc;

use roomrec_core::media::Codec;
use roomrec_testpeer::{SourceFrame, Track};

use crate::demo::media;

/// A named media profile; `bitrate` overrides its video bitrate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// The bundled 320x240@30 media as encoded (~300 kbit/s, ~40 video datagrams/s).
    Small,
    /// The same frames padded to 2.5 Mbit/s, the rate (~250 datagrams/s) of a 720p camera.
    Hd720,
}

impl Profile {
    /// Target video bitrate in bit/s, None = as encoded.
    pub fn video_bitrate(self) -> Option<u64> {
        match self {
            Profile::Small => None,
            Profile::Hd720 => Some(2_500_000),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::Small => "320x240",
            Profile::Hd720 => "720p",
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Profile, String> {
        match s {
            "320x240" | "small" => Ok(Profile::Small),
            "720p" | "hd" => Ok(Profile::Hd720),
            _ => Err(format!("unknown profile {s:?} (expected 320x240 or 720p)")),
        }
    }
}

/// The looping video track of `codec`, every frame padded to `bitrate` (bit/s) on average
/// where it is smaller (keyframes stay larger).
pub fn video_track(codec: Codec, bitrate: Option<u64>) -> Track {
    let track = media::video(codec);
    match bitrate {
        Some(rate) => pad(track, rate),
        None => track,
    }
}

fn pad(track: Track, bitrate: u64) -> Track {
    let frames = track.frames.len().max(1) as u64;
    let seconds = track.period as f64 / track.clock_rate as f64;
    let target = (bitrate as f64 / 8.0 * seconds / frames as f64) as usize;
    let padded: Vec<SourceFrame> = track
        .frames
        .iter()
        .map(|f| {
            let mut frame = f.clone();
            if f.data.len() < target {
                frame.data = Arc::from(padded_frame(track.codec, &f.data, target));
            }
            frame
        })
        .collect();
    Track {
        frames: Arc::from(padded),
        ..track
    }
}

/// `data` grown to `target` bytes with filler its decoder ignores: an H.264 filler-data NAL unit
/// (type 12, 0xFF bytes and a stop bit); for VP8/VP9/AV1 zero bytes after the frame, which their
/// decoders never read (the frame's own headers give its partition sizes).
fn padded_frame(codec: Codec, data: &[u8], target: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(target);
    out.extend_from_slice(data);
    let fill = target.saturating_sub(data.len());
    match codec {
        Codec::H264 if fill > 6 => {
            out.extend_from_slice(&[0, 0, 0, 1, 0x0C]);
            out.resize(target - 1, 0xFF);
            out.push(0x80);
        }
        Codec::H264 => {}
        _ => out.resize(target, 0),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_reaches_the_bitrate() {
        for codec in [Codec::H264, Codec::Vp8] {
            let track = video_track(codec, Some(2_500_000));
            let bytes: usize = track.frames.iter().map(|f| f.data.len()).sum();
            let seconds = track.period as f64 / 90_000.0;
            let rate = bytes as f64 * 8.0 / seconds;
            assert!(rate >= 2_400_000.0, "{codec:?}: {rate}");
            assert!(track.frames[0].keyframe);
        }
        let h264 = padded_frame(Codec::H264, &[0, 0, 0, 1, 0x65, 1], 20);
        assert_eq!(h264.len(), 20);
        assert_eq!(&h264[6..11], &[0, 0, 0, 1, 0x0C]);
        assert_eq!(h264.last(), Some(&0x80));
    }
}
