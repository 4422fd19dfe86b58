//! The little SDP text surgery the answering side needs before handing an offer to str0m.

use std::collections::HashMap;

use crate::media::Codec;

/// str0m answers with the inverse of the offered direction; a recorder never sends, so present
/// every sendrecv section as sendonly to get a recvonly answer.
pub fn as_recvonly_offer(offer: &str) -> String {
    offer.replace("a=sendrecv", "a=sendonly")
}

/// Longest remote ICE ufrag we accept. Real ones are 4-32 characters; str0m panics building a
/// STUN USERNAME (`remote:local`, 128 bytes at most) from a much longer one (fuzz finding).
pub const MAX_ICE_UFRAG_LEN: usize = 64;

/// Rejects offers str0m would accept but cannot run safely (each rule is a fuzz finding).
pub fn check_offer_limits(offer: &str) -> Result<(), String> {
    for line in offer.lines().map(str::trim) {
        if let Some(ufrag) = line.strip_prefix("a=ice-ufrag:") {
            if ufrag.len() > MAX_ICE_UFRAG_LEN {
                return Err(format!(
                    "ice-ufrag of {} bytes (at most {MAX_ICE_UFRAG_LEN})",
                    ufrag.len()
                ));
            }
        }
    }
    check_payload_types(offer)
}

/// A payload type must mean the same codec and parameters in every m-section that maps it (BUNDLE
/// shares one PT space): str0m panics ("Pt locked multiple times") when two sections disagree.
fn check_payload_types(offer: &str) -> Result<(), String> {
    // PT -> (rtpmap, fmtp) of every section that has an rtpmap for it.
    let mut seen: HashMap<&str, (&str, Option<&str>)> = HashMap::new();
    for section in offer.split("\nm=").skip(1) {
        let mut rtpmaps: HashMap<&str, &str> = HashMap::new();
        let mut fmtps: HashMap<&str, &str> = HashMap::new();
        for line in section.lines().map(str::trim) {
            for (prefix, map) in [("a=rtpmap:", &mut rtpmaps), ("a=fmtp:", &mut fmtps)] {
                let Some(rest) = line.strip_prefix(prefix) else {
                    continue;
                };
                let (pt, value) = rest.split_once(' ').unwrap_or((rest, ""));
                if map.insert(pt, value).is_some_and(|old| old != value) {
                    return Err(format!("payload type {pt} described twice in one section"));
                }
            }
        }
        for (pt, rtpmap) in rtpmaps {
            let here = (rtpmap, fmtps.get(pt).copied());
            if seen.insert(pt, here).is_some_and(|other| other != here) {
                return Err(format!(
                    "payload type {pt} means different codecs in two sections"
                ));
            }
        }
    }
    Ok(())
}

/// Video codecs to enable, in answer order: the user's preference if given, otherwise the order
/// of the offer's first video section (falling back to a sensible default).
pub fn video_codec_order(preference: &[Codec], offer: &str) -> Vec<Codec> {
    if !preference.is_empty() {
        return preference
            .iter()
            .copied()
            .filter(|c| *c != Codec::Opus)
            .collect();
    }
    let mut order = offered_video_codecs(offer);
    for codec in [Codec::Vp8, Codec::H264, Codec::Vp9, Codec::Av1] {
        if !order.contains(&codec) {
            order.push(codec);
        }
    }
    order
}

fn offered_video_codecs(offer: &str) -> Vec<Codec> {
    let mut in_video = false;
    let mut payload_order: Vec<&str> = Vec::new();
    let mut names: Vec<(&str, Codec)> = Vec::new();
    for line in offer.lines().map(str::trim) {
        if let Some(media) = line.strip_prefix("m=") {
            if in_video {
                break;
            }
            in_video = media.starts_with("video");
            if in_video {
                payload_order = media.split_whitespace().skip(3).collect();
            }
        } else if in_video {
            if let Some(rtpmap) = line.strip_prefix("a=rtpmap:") {
                let mut parts = rtpmap.splitn(2, ' ');
                let (Some(pt), Some(encoding)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let name = encoding.split('/').next().unwrap_or("");
                if let Some(codec) = Codec::from_name(name) {
                    names.push((pt, codec));
                }
            }
        }
    }
    let mut order = Vec::new();
    for pt in payload_order {
        if let Some((_, codec)) = names.iter().find(|(p, _)| *p == pt) {
            if !order.contains(codec) {
                order.push(*codec);
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    const REOFFER: &str =
        include_str!("../../../tests/fixtures/traces/sdp/chrome-reoffer-audio-video.sdp");
    const H264_FIRST: &str =
        include_str!("../../../tests/fixtures/traces/sdp/chrome-reoffer-h264-preferred.sdp");

    #[test]
    fn follows_the_publishers_order_by_default() {
        assert_eq!(
            video_codec_order(&[], REOFFER)[..2],
            [Codec::Vp8, Codec::H264]
        );
        assert_eq!(video_codec_order(&[], H264_FIRST)[0], Codec::H264);
    }

    #[test]
    fn user_preference_wins() {
        assert_eq!(
            video_codec_order(&[Codec::Vp9, Codec::H264], REOFFER),
            [Codec::Vp9, Codec::H264]
        );
    }

    #[test]
    fn overlong_ice_ufrag_is_rejected() {
        let with_ufrag = |len: usize| REOFFER.replace("q4IR", &"u".repeat(len));
        assert!(check_offer_limits(&with_ufrag(MAX_ICE_UFRAG_LEN)).is_ok());
        assert!(check_offer_limits(&with_ufrag(MAX_ICE_UFRAG_LEN + 1)).is_err());
    }

    #[test]
    fn a_payload_type_must_mean_one_codec() {
        assert!(check_payload_types(REOFFER).is_ok());
        assert!(check_payload_types(H264_FIRST).is_ok());
        let video = "m=video 9 RTP/SAVPF 96\r\na=rtpmap:96 VP8/90000\r\n";
        let h264 = "a=rtpmap:96 H264/90000\r\na=fmtp:96 profile-level-id=42e01f\r\n";
        let offer = |sections: &[&str]| format!("v=0\r\n{}", sections.concat());
        // Camera and screen share: same PTs, same meaning (what Chrome sends).
        assert!(check_payload_types(&offer(&[video, video])).is_ok());
        assert!(check_payload_types(&offer(&[video, "m=video 9 RTP/SAVPF 96\r\n", h264])).is_err());
        let twice = format!("{video}a=rtpmap:96 VP9/90000\r\n");
        assert!(check_payload_types(&offer(&[&twice])).is_err());
    }

    #[test]
    fn recvonly_rewrite_touches_only_direction() {
        let rewritten = as_recvonly_offer(REOFFER);
        assert!(!rewritten.contains("a=sendrecv"));
        assert_eq!(rewritten.len(), REOFFER.len());
    }
}
