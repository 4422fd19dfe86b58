//! What the live views preview of a connection: each audio track's level (from the RFC 6464
//! header extension, no decoding) and, when asked for, a copy of a video keyframe now and then.
//! Both are throttled here, on the caller's clock, so a busy stream costs a few events a second.
//!
//! Call contract: feed every audio level with [`Preview::audio_level`] and every frame the
//! recorder gets with [`Preview::frame`]; each returns the event to emit, if one is due.

use std::collections::HashMap;
use std::time::Instant;

use super::api::{
    ConnectionEvent, KeyframePreview, AUDIO_LEVEL_INTERVAL, PREVIEW_KEYFRAME_INTERVAL,
};
use crate::media::codec::video_resolution;
use crate::media::{MediaFrame, TrackKind};

/// Tracks per connection are bounded by the offer's m-lines (see `sdp::check_offer_limits`).
pub(crate) struct Preview {
    keyframes: bool,
    levels: HashMap<String, Level>,
    last_keyframe: HashMap<String, Instant>,
}

struct Level {
    /// The loudest level since the last event (closest to 0).
    loudest: i8,
    last_sent: Option<Instant>,
}

impl Preview {
    pub fn new(keyframes: bool) -> Preview {
        Preview {
            keyframes,
            levels: HashMap::new(),
            last_keyframe: HashMap::new(),
        }
    }

    /// `dbov` as the extension carries it: 0 loudest, -127 silence (clamped to that range).
    pub fn audio_level(&mut self, now: Instant, track: &str, dbov: i8) -> Option<ConnectionEvent> {
        let dbov = dbov.clamp(-127, 0);
        let level = match self.levels.get_mut(track) {
            Some(level) => level,
            None => self.levels.entry(track.to_string()).or_insert(Level {
                loudest: i8::MIN,
                last_sent: None,
            }),
        };
        level.loudest = level.loudest.max(dbov);
        if level
            .last_sent
            .is_some_and(|t| now.saturating_duration_since(t) < AUDIO_LEVEL_INTERVAL)
        {
            return None;
        }
        let dbov = std::mem::replace(&mut level.loudest, i8::MIN);
        level.last_sent = Some(now);
        Some(ConnectionEvent::AudioLevel {
            track: track.to_string(),
            dbov,
        })
    }

    /// A copy of `frame` if it is a video keyframe, previews are on, and this track's last one
    /// was long enough ago.
    pub fn frame(&mut self, now: Instant, frame: &MediaFrame) -> Option<ConnectionEvent> {
        if !self.keyframes || !frame.keyframe || frame.codec.kind() != TrackKind::Video {
            return None;
        }
        if let Some(last) = self.last_keyframe.get(&frame.track) {
            if now.saturating_duration_since(*last) < PREVIEW_KEYFRAME_INTERVAL {
                return None;
            }
        }
        self.last_keyframe.insert(frame.track.clone(), now);
        let size = video_resolution(frame.codec, &frame.data);
        Some(ConnectionEvent::Keyframe(KeyframePreview {
            track: frame.track.clone(),
            codec: frame.codec,
            width: size.map(|s| s.0),
            height: size.map(|s| s.1),
            data: frame.data.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::media::Codec;

    /// A VP8 key frame header for 320x240 (frame tag, start code, sizes).
    const VP8_KEY: [u8; 10] = [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00];

    fn frame(codec: Codec, data: &[u8], keyframe: bool, at: Instant) -> MediaFrame {
        MediaFrame {
            track: "1".into(),
            codec,
            rtp_time: 0,
            clock_rate: 90_000,
            keyframe,
            contiguous: true,
            data: data.into(),
            received_at: at,
            sender_clock: None,
        }
    }

    #[test]
    fn levels_are_throttled_and_report_the_loudest_in_between() {
        let t0 = Instant::now();
        let mut p = Preview::new(false);
        let ev = |track: &str, dbov| ConnectionEvent::AudioLevel {
            track: track.into(),
            dbov,
        };
        assert_eq!(p.audio_level(t0, "0", -40), Some(ev("0", -40)));
        let ms = |n| t0 + Duration::from_millis(n);
        assert_eq!(p.audio_level(ms(20), "0", -10), None);
        assert_eq!(p.audio_level(ms(40), "0", -90), None);
        // Another track has its own pace.
        assert_eq!(p.audio_level(ms(40), "2", -127), Some(ev("2", -127)));
        assert_eq!(p.audio_level(ms(100), "0", -60), Some(ev("0", -10)));
        // Out-of-range values from the wire are clamped.
        assert_eq!(p.audio_level(ms(200), "0", 5), Some(ev("0", 0)));
    }

    #[test]
    fn keyframes_only_when_asked_and_at_most_every_interval() {
        let t0 = Instant::now();
        let mut off = Preview::new(false);
        assert_eq!(off.frame(t0, &frame(Codec::Vp8, &VP8_KEY, true, t0)), None);

        let mut p = Preview::new(true);
        let Some(ConnectionEvent::Keyframe(k)) =
            p.frame(t0, &frame(Codec::Vp8, &VP8_KEY, true, t0))
        else {
            panic!("no keyframe preview");
        };
        assert_eq!(
            (k.codec, k.width, k.height),
            (Codec::Vp8, Some(320), Some(240))
        );
        assert_eq!(&*k.data, &VP8_KEY);
        let soon = t0 + PREVIEW_KEYFRAME_INTERVAL / 2;
        assert_eq!(
            p.frame(soon, &frame(Codec::Vp8, &VP8_KEY, true, soon)),
            None
        );
        let later = t0 + PREVIEW_KEYFRAME_INTERVAL;
        assert_eq!(
            p.frame(later, &frame(Codec::Vp8, &[0x11, 0, 0], false, later)),
            None
        );
        assert_eq!(
            p.frame(later, &frame(Codec::Opus, &[0xfc], true, later)),
            None
        );
        assert!(p
            .frame(later, &frame(Codec::Vp8, &VP8_KEY, true, later))
            .is_some());
    }
}
